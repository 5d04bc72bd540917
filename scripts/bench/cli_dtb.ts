/**
 * Benchmarks, `deno task bench`. Each target is printed as numbers and as a
 * ratio against a peer measured in the same run.
 *
 * - `vmanctl list --json` with 32 partitions, whole process (`deno run main.ts`),
 *   against `virsh -c test:///default list --all` (libvirt's built-in test
 *   driver; target ≤ 1.3×).
 * - Device trees: in-process DTB generation for a partition of a synthetic
 *   256-core, 2000-node board (target ≤ 2 ms); FDT read and write; whole-process
 *   `vmanctl dtb` against `dtc -I dts -O dtb` of the same tree (target ≤ 1.5×).
 *
 * Usage: deno task bench [--runs N]
 */
import { runCli } from "../../core/cli/app.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";
import { buildPartitionDevicetree } from "../../core/devicetree/build.ts";
import { buildRegistry } from "../../core/registry/discover.ts";
import { printDts, readFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { syntheticBoard } from "../synthetic_board.ts";
import { VMANCTL_PERMISSIONS } from "../permissions.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
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

const commands: Record<string, [string, string[]]> = {
  "vmanctl list --json (32 partitions)": [
    Deno.execPath(),
    ["run", ...VMANCTL_PERMISSIONS, `${ROOT}/main.ts`, "--state-dir", stateDir, "list", "--json"],
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

// --- device trees ---------------------------------------------------------------------

/** Mean time of `fn` in milliseconds over `runs` calls after a warm-up. */
function timeInProcess(fn: () => unknown, runs = 200): { mean: number; median: number } {
  for (let i = 0; i < 20; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  const s = stats(samples);
  return { mean: s.mean, median: s.median };
}

const dtDir = await Deno.makeTempDir({ prefix: "vman-bench-dt-" });
const synthetic = syntheticBoard("synthetic-256", 256, 2000);
await Deno.writeTextFile(`${dtDir}/synthetic-256.yaml`, synthetic.yaml);
await Deno.writeFile(`${dtDir}/synthetic-256.dtb`, synthetic.dtb);
const dtState = `${dtDir}/state`;
const created = await runCli(
  [
    "--state-dir",
    dtState,
    "--board",
    `${dtDir}/synthetic-256.yaml`,
    "--plugin-dir",
    dtDir,
    "create",
    "p",
    "--cpu-ids",
    "8-15",
    "--memory",
    "1G",
    "--device",
    "uart0",
    "--device",
    "uart5",
    "--cmdline",
    "console=ttyS0",
  ],
  quiet,
);
if (created !== 0) throw new Error("creating the partition on the synthetic board failed");
const doc = JSON.parse(await Deno.readTextFile(`${dtState}/state.json`)) as StateDocument;
const registry = await buildRegistry({
  builtins: await builtinPlugins(),
  boardFiles: [],
  pluginDirs: [],
  warn: (line) => console.error(line),
});
const record = doc.partitions[0];
const generate = () => buildPartitionDevicetree(registry, doc.board, synthetic.dtb, record);
const partition = generate();
const gen = timeInProcess(generate);
const boardTree = readFdt(synthetic.dtb);
const read = timeInProcess(() => readFdt(synthetic.dtb));
const write = timeInProcess(() => writeFdt(boardTree));

console.log(
  `\nDevice trees (synthetic board: 256 cores, ${synthetic.nodes} nodes, ${synthetic.dtb.length} bytes)`,
);
console.log(
  `  partition DTB generation (8 cores, 2 devices), in process: mean ${gen.mean.toFixed(3)} ms, ` +
    `median ${gen.median.toFixed(3)} ms  (target <= 2 ms)`,
);
console.log(
  `  FDT read of the board: mean ${read.mean.toFixed(3)} ms; write: mean ${
    write.mean.toFixed(3)
  } ms`,
);

// The same tree through dtc: our partition DTS compiled by dtc, next to `vmanctl dtb`.
await Deno.writeTextFile(`${dtDir}/p.dts`, printDts(partition.tree));
const dtCommands: Record<string, [string, string[]]> = {
  "vmanctl dtb p -o p.dtb": [
    Deno.execPath(),
    [
      "run",
      ...VMANCTL_PERMISSIONS,
      `${ROOT}/main.ts`,
      "--state-dir",
      dtState,
      "dtb",
      "p",
      "-o",
      `${dtDir}/ours.dtb`,
    ],
  ],
};
const dtcPeer = "dtc -I dts -O dtb p.dts";
if (hasCommand("dtc")) {
  dtCommands[dtcPeer] = ["dtc", [
    "-q",
    "-I",
    "dts",
    "-O",
    "dtb",
    "-o",
    `${dtDir}/dtc.dtb`,
    `${dtDir}/p.dts`,
  ]];
} else console.log("  dtc not found (install device-tree-compiler): the peer is skipped");
const dtResult = await compare(dtCommands);
for (const [name, s] of Object.entries(dtResult)) {
  console.log(
    `  ${name.padEnd(40)} median ${fmt(s.median)}  mean ${fmt(s.mean)}  min ${fmt(s.min)}`,
  );
}
if (dtResult[dtcPeer]) {
  const ratio = dtResult["vmanctl dtb p -o p.dtb"].median / dtResult[dtcPeer].median;
  console.log(`  ratio vmanctl dtb / dtc (medians): ${ratio.toFixed(2)}x  (target <= 1.5x)`);
}
await Deno.remove(dtDir, { recursive: true });
