/**
 * The board import survey: what `vmanctl board import` makes of every board DTB of
 * Debian's arm64 and armhf kernel packages (fetched by scripts/fetch-fixtures.sh)
 * that has at least two cores of ARMv7 or later, and whether each imported board
 * hosts a partition of two cores (one on a 2-core board, where the management
 * partition keeps the other) whose DTB dtc accepts with no warning the board's own
 * DTB does not have. scripts/import_survey_one.ts surveys one DTB (and says how a
 * DTB without RAM gets its `--memory`); this script runs it in workers over every
 * DTB, ends a DTB that takes more than a minute, and counts the outcomes.
 *
 * Out of scope, counted apart: DTBs with fewer than two cpu nodes (the management
 * partition keeps one core) and cores older than ARMv7 (import refuses them).
 *
 * ```sh
 * deno run -A scripts/import_survey.ts [--json] [--verbose] [--limit N] [--jobs N]
 *   [--match TEXT…] [DIR…]
 * ```
 * DIR: where to look for .dtb files (default: the fixtures' arm64 and armmp
 * kernel packages; an armmp .deb not yet unpacked is unpacked into a temporary
 * directory). `--match TEXT` (repeatable) keeps the DTBs whose name in the report
 * (`arm64/amlogic/meson-g12a-radxa-zero.dtb`) contains one of the TEXTs. Exit 0
 * when at least 99% of the DTBs in scope import, else 1.
 *
 * @module
 */
import type { Outcome, Step, SurveyJob, SurveyMessage } from "./import_survey_one.ts";
import { fixturesDir } from "./cache.ts";

/** How long one DTB may take before its worker is ended: 60 s. */
const DTB_TIMEOUT_MS = 60_000;

/** The `.dtb` files under `dir`, sorted. */
async function findDtbs(dir: string, out: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await findDtbs(path, out);
    else if (entry.name.endsWith(".dtb")) out.push(path);
  }
  return out.sort();
}

/** The DTB directories of the fixtures' arm64 and armmp kernel packages. */
async function packageDirs(work: string): Promise<string[]> {
  const cache = fixturesDir();
  const dirs: string[] = [];
  for (const flavour of ["arm64", "armmp"]) {
    let root = await firstMatch(
      `${cache}/pkgs`,
      (n) => n.startsWith("linux-image-") && n.endsWith(`-${flavour}`),
    );
    if (!root) {
      const deb = await firstMatch(
        `${cache}/debs`,
        (n) => n.includes(`-${flavour}_`) && n.endsWith(".deb"),
      );
      if (!deb) {
        throw new Error(`no ${flavour} kernel package in ${cache}: run scripts/fetch-fixtures.sh`);
      }
      root = `${work}/${flavour}`;
      const r = await new Deno.Command("dpkg-deb", { args: ["-x", deb, root] }).output();
      if (r.code !== 0) throw new Error(`dpkg-deb -x ${deb} failed`);
    }
    const lib = await firstMatch(`${root}/usr/lib`, (n) => n.startsWith("linux-image-"));
    if (!lib) throw new Error(`${root} has no usr/lib/linux-image-*`);
    dirs.push(lib);
  }
  return dirs;
}

async function firstMatch(
  dir: string,
  test: (name: string) => boolean,
): Promise<string | undefined> {
  try {
    for await (const e of Deno.readDir(dir)) if (test(e.name)) return `${dir}/${e.name}`;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return undefined;
}

/** One worker: surveys the DTBs it is given one at a time, ended when one hangs. */
class SurveyWorker {
  #worker = SurveyWorker.#spawn();

  static #spawn(): Worker {
    return new Worker(new URL("./import_survey_one.ts", import.meta.url), { type: "module" });
  }

  /** The outcome of `job`; a hang after {@linkcode DTB_TIMEOUT_MS} names its step. */
  run(job: SurveyJob): Promise<Outcome> {
    let step: Step = "read";
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#worker.terminate();
        this.#worker = SurveyWorker.#spawn();
        resolve({ file: job.name, stage: stageOf(step), reason: `no answer within 60 s` });
      }, DTB_TIMEOUT_MS);
      this.#worker.onmessage = ({ data }: MessageEvent<SurveyMessage>) => {
        if ("step" in data) step = data.step;
        else {
          clearTimeout(timer);
          resolve(data.outcome);
        }
      };
      this.#worker.postMessage(job);
    });
  }

  /** Ends the worker. */
  close(): void {
    this.#worker.terminate();
  }
}

function stageOf(step: Step): Outcome["stage"] {
  return step === "read" ? "import" : step;
}

/** Surveys every DTB, `jobs` at a time, each in its own scratch directory. */
async function survey(
  files: { path: string; name: string }[],
  work: string,
  jobs: number,
  verbose = false,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(files.length);
  let next = 0;
  const run = async (k: number) => {
    const worker = new SurveyWorker();
    try {
      for (let i = next++; i < files.length; i = next++) {
        const dir = `${work}/w${k}`;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await Deno.mkdir(dir, { recursive: true });
        if (verbose) console.error(files[i].name);
        outcomes[i] = await worker.run({ ...files[i], dir });
      }
    } finally {
      worker.close();
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, k) => run(k)));
  return outcomes;
}

/** Counts by stage and by reason, as text. */
export function summary(outcomes: readonly Outcome[]): { text: string; passRatio: number } {
  const inScope = outcomes.filter((o) => o.stage !== "out-of-scope");
  const imported = inScope.filter((o) => o.stage !== "import");
  const ok = inScope.filter((o) => o.stage === "ok");
  const percent = (n: number) => `${(100 * n / Math.max(inScope.length, 1)).toFixed(1)}%`;
  const ram = (which: Outcome["ram"]) => imported.filter((o) => o.ram === which).length;
  const single = ok.filter((o) => o.cores === 1).length;
  const lines = [
    `${outcomes.length} DTBs; out of scope: ${outcomes.length - inScope.length}`,
    ...countBy(outcomes.filter((o) => o.stage === "out-of-scope"), (o) => o.reason!),
    `in scope (≥ 2 cores, ARMv7 or later): ${inScope.length}`,
    `  imported: ${imported.length} (${percent(imported.length)}): ${
      ram("enough")
    } with the DTB's ` +
    `RAM, ${ram("none")} with --memory (no RAM in the DTB), ${ram("small")} with --memory ` +
    `(less than 512 MiB in the DTB)`,
    `  refused by import: ${inScope.length - imported.length}`,
    ...countBy(inScope.filter((o) => o.stage === "import"), (o) => o.reason!),
    `  host a partition whose DTB dtc accepts with no new warning: ${ok.length} ` +
    `(${percent(ok.length)}; ${ok.length - single} of 2 cores, ${single} of 1 on 2-core boards)`,
    `  stopped after import: ${imported.length - ok.length}`,
    ...countBy(imported.filter((o) => o.stage !== "ok"), (o) => `${o.stage}: ${o.reason}`),
  ];
  return { text: lines.join("\n"), passRatio: imported.length / Math.max(inScope.length, 1) };
}

function countBy(items: readonly Outcome[], key: (o: Outcome) => string): string[] {
  const counts = new Map<string, Outcome[]>();
  for (const o of items) counts.set(key(o), [...counts.get(key(o)) ?? [], o]);
  return [...counts].sort((a, b) => b[1].length - a[1].length).map(([k, os]) =>
    `    ${String(os.length).padStart(4)} × ${k}  (e.g. ${os[0].file})`
  );
}

async function main(args: string[]): Promise<number> {
  const json = args.includes("--json");
  const limitAt = args.indexOf("--limit");
  const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : Infinity;
  const jobsAt = args.indexOf("--jobs");
  const jobs = jobsAt >= 0 ? Number(args[jobsAt + 1]) : 2;
  const valued = ["--limit", "--jobs", "--match"];
  const matches = args.filter((_, i) => args[i - 1] === "--match");
  const dirsGiven = args.filter((a, i) => !a.startsWith("--") && !valued.includes(args[i - 1]));
  const work = await Deno.makeTempDir({ prefix: "vman-survey-" });
  try {
    const dirs = dirsGiven.length > 0 ? dirsGiven : await packageDirs(work);
    const files = (await Promise.all(dirs.map(async (d) =>
      (await findDtbs(d)).map((path) => ({
        path,
        name: `${d.split("-").pop()}/${path.slice(d.length + 1)}`,
      }))
    ))).flat().filter((f) => matches.length === 0 || matches.some((m) => f.name.includes(m)))
      .slice(0, limit);
    const outcomes = await survey(files, work, jobs, args.includes("--verbose"));
    const { text, passRatio } = summary(outcomes);
    if (json) {
      console.log(JSON.stringify({ outcomes, passRatio }, null, 1));
    } else console.log(text);
    return passRatio >= 0.99 ? 0 : 1;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
