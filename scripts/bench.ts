/**
 * Benchmarks, `deno task bench`. Each target is printed as numbers and as a
 * ratio against a peer measured in the same run.
 *
 * - `vmanctl list --json` with 32 partitions, whole process (`deno run main.ts`),
 *   against `virsh -c test:///default list --all` (libvirt's built-in test
 *   driver; target ≤ 1.3×).
 *
 * Usage: deno task bench [--runs N]
 */
import { runCli } from "../core/cli/app.ts";
import { builtinBoards, builtinPlugins } from "../main.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 40;
const WARMUP = 5;

/** Wall time of one whole process, in milliseconds. */
async function timeProcess(cmd: string, args: string[]): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  const elapsed = performance.now() - start;
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return elapsed;
}

interface Stats {
  mean: number;
  median: number;
  min: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    median: sorted[Math.floor(sorted.length / 2)],
    min: sorted[0],
  };
}

/** Times the commands interleaved (so drift hits all alike). */
async function compare(
  commands: Record<string, [string, string[]]>,
): Promise<Record<string, Stats>> {
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(commands).map((k) => [k, []]),
  );
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const t = await timeProcess(cmd, args);
      if (i >= WARMUP) samples[name].push(t);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
}

function hasCommand(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

console.log(
  `vmanager benchmarks (${RUNS} runs each after ${WARMUP} warm-up runs; Deno ${Deno.version.deno})\n`,
);

// --- list --json with 32 partitions -------------------------------------------------
const stateDir = await Deno.makeTempDir({ prefix: "vman-bench-" });
const quiet = {
  io: { out: () => {}, err: (t: string) => console.error(t) },
  env: () => undefined,
  builtins: builtinPlugins,
  boardFiles: builtinBoards,
};
const board = `${ROOT}/tests/fixtures/boards/test-big-arm64.yaml`;
for (let i = 0; i < 32; i++) {
  const code = await runCli(
    [
      "--state-dir",
      stateDir,
      "--board",
      board,
      "--plugin-dir",
      stateDir,
      "create",
      `p${i}`,
      "--cpus",
      "1",
      "--memory",
      "64M",
    ],
    quiet,
  );
  if (code !== 0) throw new Error(`creating p${i} failed`);
}
const perms = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
];
const commands: Record<string, [string, string[]]> = {
  "vmanctl list --json (32 partitions)": [
    Deno.execPath(),
    ["run", ...perms, `${ROOT}/main.ts`, "--state-dir", stateDir, "list", "--json"],
  ],
};
const peer = "virsh -c test:///default list --all";
if (hasCommand("virsh")) commands[peer] = ["virsh", ["-c", "test:///default", "list", "--all"]];
else console.log("virsh not found (install libvirt-clients): the peer is skipped\n");
const result = await compare(commands);
await Deno.remove(stateDir, { recursive: true });

console.log("Whole-process wall time");
for (const [name, s] of Object.entries(result)) {
  console.log(
    `  ${name.padEnd(40)} median ${fmt(s.median)}  mean ${fmt(s.mean)}  min ${fmt(s.min)}`,
  );
}
const ours = result["vmanctl list --json (32 partitions)"];
if (result[peer]) {
  const ratio = ours.median / result[peer].median;
  console.log(`  ratio vmanctl / virsh (medians): ${ratio.toFixed(2)}x  (target <= 1.3x)`);
}
