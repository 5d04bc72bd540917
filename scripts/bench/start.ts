/**
 * `vmanctl start` of a partition with the 32 MiB arm64 Image and its initrd, a
 * whole process from exec to "boot core started", with its peak RSS
 * (`/usr/bin/time -f %M`) and the median of each `-v` stage:
 *
 * - sim backend: wall time (target ≤ 70 ms) against Deno's floor (an empty
 *   module) and against `cp` of the same two images into files (the copy a start
 *   makes); peak RSS (target ≤ 64 MiB) against the empty module's;
 * - qemu backend: the same, with QEMU's own start and the console broker's
 *   (from their launch to their sockets, measured apart by `-v`) reported apart;
 *   the target is on vmanctl's part — the wall time less the wait for QEMU and the
 *   broker, which start together.
 *
 * Every sample set is taken interleaved with its peers'. The qemu part is skipped
 * (and says so) without QEMU.
 *
 * Usage: deno task bench --only start [--runs N]   (default 20)
 */
import {
  interleave,
  loadAverage,
  mib,
  ms,
  runsFlag,
  summarize,
  targetLine,
  type Timer,
  vmanctlArgs,
} from "./measure.ts";
import { fixturesDir } from "../cache.ts";
import { existsSync } from "../../core/files.ts";

const RUNS = runsFlag(20);
const KERNEL = `${fixturesDir()}/kernels/arm64/Image`;
const INITRD = `${fixturesDir()}/initramfs/arm64.cpio.gz`;
const TIME = "/usr/bin/time";
/** The targets of issue 17. */
const TARGET_MS = 70;
const TARGET_RSS = 64 * 1048576;

const decoder = new TextDecoder();

/** One run: wall time, peak RSS, and what it said on stderr. */
interface Run {
  ms: number;
  rss: number;
  stderr: string;
}

/** Runs `cmd` under `/usr/bin/time`; throws with its stderr when it fails. */
async function measured(cmd: string, args: string[]): Promise<Run> {
  const start = performance.now();
  const out = await new Deno.Command(TIME, {
    args: ["-f", "bench-maxrss-kib %M", cmd, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  const elapsed = performance.now() - start;
  const stderr = decoder.decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${stderr.trim()}`);
  const kib = /bench-maxrss-kib (\d+)\s*$/.exec(stderr);
  if (!kib) throw new Error(`no peak RSS from ${TIME}: ${stderr.trim()}`);
  return { ms: elapsed, rss: Number(kib[1]) * 1024, stderr };
}

async function vmanctl(state: string, ...args: string[]): Promise<void> {
  await measured(Deno.execPath(), vmanctlArgs(state, ...args));
}

/** Stage name → samples, from `-v`'s `stage NAME  12.3 ms` lines. */
type Stages = Map<string, number[]>;

function collectStages(stderr: string, into: Stages): void {
  for (const match of stderr.matchAll(/^stage (.+?)\s+(\d+\.\d) ms/gm)) {
    const name = match[1].trim();
    into.set(name, [...into.get(name) ?? [], Number(match[2])]);
  }
}

/** A timer of `run` that keeps each run's peak RSS and stage times too. */
function recording(run: () => Promise<Run>, rss: number[], stages?: Stages): Timer {
  return async () => {
    const r = await run();
    rss.push(r.rss);
    if (stages) collectStages(r.stderr, stages);
    return r.ms;
  };
}

/** Each stage's median over the measured runs (the warm-up runs' samples left out). */
function printStages(stages: Stages): void {
  for (const [name, samples] of stages) {
    const s = summarize(samples.slice(-RUNS));
    console.log(`    ${name.padEnd(32)} ${ms(s.median).padStart(9)}  (min ${ms(s.min)})`);
  }
}

/** A state dir with partition `p` (one core, 256 MiB, the Image and the initrd) on `backend`. */
async function stateDir(backend: string): Promise<string> {
  const state = await Deno.makeTempDir({ prefix: `vman-bench-start-${backend}-` });
  await vmanctl(
    state,
    ...["--board", "qemu-virt-arm64", "--backend", backend, "create", "p", "--cpu-ids", "1"],
    ...["--memory", "256M", "--kernel", KERNEL, "--initrd", INITRD],
    ...["--cmdline", "console=ttyAMA0 vmanager.stay"],
  );
  return state;
}

/** The peers: Deno's floor and `cp` of the same images. */
function peers(scratch: string, rss: { empty: number[]; cp: number[] }) {
  const empty = `${scratch}/empty.ts`;
  Deno.writeTextFileSync(empty, "");
  return {
    empty: recording(() => measured(Deno.execPath(), ["run", empty]), rss.empty),
    cp: recording(() => measured("cp", [KERNEL, INITRD, `${scratch}/`]), rss.cp),
  };
}

/** `vmanctl -v start p` then `stop p` on `state`, the start's run recorded. */
function startTimer(state: string, rss: number[], stages: Stages): Timer {
  return recording(
    async () => {
      const run = await measured(Deno.execPath(), vmanctlArgs(state, "-v", "start", "p"));
      await vmanctl(state, "stop", "p");
      return run;
    },
    rss,
    stages,
  );
}

/** The sim part: its timings, peak RSS and stages. */
async function simSection(scratch: string): Promise<void> {
  const state = await stateDir("sim");
  try {
    const rss = { ours: [] as number[], empty: [] as number[], cp: [] as number[] };
    const stages: Stages = new Map();
    const start = startTimer(state, rss.ours, stages);
    const samples = await interleave({ start, ...peers(scratch, rss) }, { runs: RUNS, warmup: 2 });
    const label = "start, sim, exec to boot core started";
    const empty = { label: "deno empty module", samples: samples.empty };
    console.log(targetLine(label, samples.start, empty, { atMost: TARGET_MS }));
    const cp = { label: "cp of the same images", samples: samples.cp };
    console.log(targetLine(label, samples.start, cp, { atMost: TARGET_MS }));
    const emptyRss = { label: "deno empty module", samples: rss.empty.slice(-RUNS) };
    console.log(
      targetLine("start, sim, peak RSS", rss.ours.slice(-RUNS), emptyRss, {
        atMost: TARGET_RSS,
      }, mib),
    );
    console.log("  stages (-v), medians:");
    printStages(stages);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
}

/** Why the qemu part cannot run here, or undefined. */
function qemuMissing(): string | undefined {
  try {
    new Deno.Command("qemu-system-aarch64", { args: ["--version"], stdout: "null" }).outputSync();
    return undefined;
  } catch {
    return "no qemu-system-aarch64";
  }
}

/** The qemu part: vmanctl's own part of the start, QEMU's and the broker's apart. */
async function qemuSection(scratch: string): Promise<void> {
  const missing = qemuMissing();
  if (missing) return console.log(`start, qemu: skipped (${missing})`);
  const state = await stateDir("qemu");
  try {
    const rss = { ours: [] as number[], empty: [] as number[], cp: [] as number[] };
    const stages: Stages = new Map();
    const start = startTimer(state, rss.ours, stages);
    const { empty } = peers(scratch, rss);
    const samples = await interleave({ start, empty }, { runs: RUNS, warmup: 2 });
    const qemu = stages.get("(QEMU start)")?.slice(-RUNS) ?? [];
    const broker = stages.get("(console broker start)")?.slice(-RUNS) ?? [];
    // vmanctl's part: the wall time less the wait for QEMU and the broker (together).
    const own = samples.start.map((t, i) => t - Math.max(qemu[i] ?? 0, broker[i] ?? 0));
    const floor = { label: "deno empty module", samples: samples.empty };
    console.log(targetLine("start, qemu, whole", samples.start, floor, {}));
    console.log(
      targetLine("start, qemu, vmanctl's part (less QEMU/broker)", own, floor, {
        atMost: TARGET_MS,
      }),
    );
    if (qemu.length) {
      console.log(
        targetLine("  QEMU's own start (launch to its first QMP answer)", qemu, undefined, {}),
      );
    }
    if (broker.length) {
      console.log(targetLine("  console broker start (launch to socket)", broker, undefined, {}));
    }
    const emptyRss = { label: "deno empty module", samples: rss.empty.slice(-RUNS) };
    console.log(
      targetLine("start, qemu, peak RSS (vmanctl)", rss.ours.slice(-RUNS), emptyRss, {
        atMost: TARGET_RSS,
      }, mib),
    );
    console.log("  stages (-v), medians:");
    printStages(stages);
  } finally {
    await vmanctl(state, "destroy", "p").catch(() => {});
    await Deno.remove(state, { recursive: true });
  }
}

async function main(): Promise<void> {
  for (const file of [KERNEL, INITRD, TIME]) {
    if (!existsSync(file)) {
      console.log(`start: skipped (no ${file}: bash scripts/setup.sh fetches it)`);
      return;
    }
  }
  const scratch = await Deno.makeTempDir({ prefix: "vman-bench-start-peer-" });
  try {
    console.log(`load average: ${loadAverage()}`);
    await simSection(scratch);
    await qemuSection(scratch);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

await main();
