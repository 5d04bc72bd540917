/**
 * Which modules a command loads, and what each costs, for startup.ts.
 *
 * - {@linkcode loadedModules}: the modules a `deno run` loads, from Deno's module
 *   loader log (`DENO_LOG=deno::module_loader=debug`), in load order.
 * - {@linkcode moduleCosts}: imports them one by one in a fresh process
 *   (module_cost.ts), npm packages and Node built-ins first, then vmanager's
 *   modules dependencies first (from `deno info --json`), so that each import costs
 *   that module's own loading and evaluation; the median of a few rounds.
 *
 * @module
 */
import { summarize } from "./measure.ts";

const ROUNDS = 5;
const TOP = 8;

/** The modules (specifiers) a `deno` command line loads, in load order. */
export async function loadedModules(
  args: string[],
  env: Record<string, string>,
): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env: { ...env, DENO_LOG: "deno::module_loader=debug" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const log = new TextDecoder().decode(out.stderr);
  const found = [...log.matchAll(/code cache (?:hit|miss) for ES module: ([^,\s]+)/g)];
  return [...new Set(found.map((m) => m[1]))];
}

/** A command's modules: one summary line and the heaviest modules' lines. */
export interface ModuleCosts {
  /** `40 modules: 40 vmanager; their imports 4.2 ms (an empty module's 0.05 ms each)`. */
  summary: string;
  /** `   1.20 ms  core/cli/context.ts`, heaviest first. */
  heaviest: string[];
}

/**
 * Times the import of each of `modules` (as {@linkcode loadedModules} lists them)
 * in a process run with `flags`; `root` is the checkout (main.ts's directory).
 */
export async function moduleCosts(
  modules: readonly string[],
  flags: readonly string[],
  root: string,
): Promise<ModuleCosts> {
  const npm = unique(modules.flatMap((m) => npmPackage(m) ?? []));
  const node = modules.filter((m) => m.startsWith("node:"));
  const files = modules.filter((m) => m.startsWith("file:") && !npmPackage(m));
  const order = [...npm, ...node, ...dependenciesFirst(files, await staticImports(root))];
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const calibration = `file://${empty}`;
  let samples: Map<string, number[]>;
  try {
    samples = await timeImports([calibration, ...order], flags, root);
  } finally {
    await Deno.remove(empty);
  }
  const median = (m: string) => summarize(samples.get(m) ?? [0]).median;
  const rows = order.map((m) => ({ module: m, ms: median(m) }));
  const total = rows.reduce((sum, r) => sum + r.ms, 0);
  const inNpm = modules.filter((m) => npmPackage(m)).length;
  const nodeCompat = modules.length - files.length - inNpm;
  const parts = [
    `${files.length} vmanager`,
    inNpm > 0 ? `${inNpm} npm (${npm.map((p) => p.slice(4)).join(", ")})` : "",
    nodeCompat > 0 ? `${nodeCompat} Node compatibility (${node.join(", ")})` : "",
  ].filter(Boolean);
  return {
    summary: `${modules.length} modules: ${parts.join(", ")}; their imports ${
      total.toFixed(1)
    } ms (an empty module's ${median(calibration).toFixed(2)} ms each)`,
    heaviest: rows.sort((a, b) => b.ms - a.ms).slice(0, TOP).map((r) =>
      `${r.ms.toFixed(2).padStart(6)} ms  ${shortName(r.module, root)}`
    ),
  };
}

/** `npm:zod@4.6.7` for a module in Deno's npm cache, else undefined. */
function npmPackage(specifier: string): string | undefined {
  const m = /\/npm\/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\/([^/]+)\//.exec(specifier);
  return m ? `npm:${m[1]}@${m[2]}` : undefined;
}

function shortName(specifier: string, root: string): string {
  return specifier.replace(`file://${root}/`, "");
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

let graph: Promise<Map<string, string[]>> | undefined;

/** Each module of main.ts's graph and its static imports (`deno info --json`, once). */
function staticImports(root: string): Promise<Map<string, string[]>> {
  return graph ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `${root}/main.ts`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
      }[];
    };
    return new Map(info.modules.map((m) => [
      m.specifier,
      (m.dependencies ?? []).filter((d) => d.code && !d.isDynamic).map((d) => d.code!.specifier),
    ]));
  })();
}

/** `modules` ordered so that each comes after the ones it imports. */
function dependenciesFirst(modules: readonly string[], imports: Map<string, string[]>): string[] {
  const wanted = new Set(modules);
  const done = new Set<string>();
  const order: string[] = [];
  const visit = (m: string) => {
    if (done.has(m) || !wanted.has(m)) return;
    done.add(m);
    for (const d of imports.get(m) ?? []) visit(d);
    order.push(m);
  };
  modules.forEach(visit);
  return order;
}

/** Each module's import times over {@linkcode ROUNDS} fresh processes. */
async function timeImports(
  order: readonly string[],
  flags: readonly string[],
  root: string,
): Promise<Map<string, number[]>> {
  const list = await Deno.makeTempFile({ suffix: ".json" });
  const samples = new Map<string, number[]>();
  try {
    await Deno.writeTextFile(list, JSON.stringify(order));
    for (let round = 0; round < ROUNDS; round++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags, `${root}/scripts/bench/module_cost.ts`, list],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr).trim());
      const costs = JSON.parse(new TextDecoder().decode(out.stdout)) as [string, number][];
      for (const [m, ms] of costs) samples.set(m, [...(samples.get(m) ?? []), ms]);
    }
  } finally {
    await Deno.remove(list);
  }
  return samples;
}
