/**
 * Device trees, `deno task bench --only cli_dtb`: the DTB of a partition (8 cores,
 * 2 devices) of the synthetic 256-core, ~2200-node board (scripts/synthetic_board.ts).
 *
 * - In process — read, prune, write (`buildPartitionDevicetree`), each sample the
 *   mean of {@linkcode ROUNDS} calls — against the libfdt peer (peers/fdt_prune.c,
 *   built with `cc … -lfdt`), which reads, prunes and writes the same blob
 *   {@linkcode ROUNDS} times by its own clock: target ≤ 1 ms, the ratio printed.
 *   Without cc or libfdt-dev the line says so and is not counted.
 * - The in-process phases (scan, prune, write), where the time goes; no target.
 * - Whole process: `vmanctl dtb NAME -o FILE` against `vmanctl list` on the same
 *   state dir, interleaved: target ≤ 1.3×.
 *
 * Usage: deno task bench --only cli_dtb [--runs N]
 * @module
 */
import {
  interleave,
  loadAverage,
  ms,
  processTimer,
  runsFlag,
  summarize,
  targetLine,
  type Timer,
  vmanctlArgs,
} from "./measure.ts";
import { runCli } from "../../core/cli/app.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";
import { buildPartitionDevicetree } from "../../core/devicetree/build.ts";
import { partitionTreeOf } from "../../core/devicetree/partition.ts";
import { BoardIndex } from "../../core/devicetree/board_index.ts";
import { buildRegistry } from "../../core/registry/discover.ts";
import { scanFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { syntheticBoard } from "../synthetic_board.ts";
import { buildFdtPeer, fdtPeerTimer } from "./peers/fdt_prune.ts";
import { dtcWarnings } from "../dtc.ts";

const RUNS = runsFlag(20);
/** Calls (and peer rounds) per in-process sample. */
const ROUNDS = 10;
/** The partition: its cores (ids) and devices. */
const CORES = "8-15";
const DEVICES = ["uart0", "uart5"];
/** In-process target, ms; whole-process target, × `vmanctl list`. */
const IN_PROCESS_MS = 1;
const WHOLE_RATIO = 1.3;

// `vmanctl list --json` with 32 partitions is the startup section's (startup.ts).
const quiet = {
  io: { out: () => {}, err: (t: string) => console.error(t) },
  env: () => undefined,
  builtins: builtinPlugins,
  boardFiles: builtinBoards,
};

// --- device trees ---------------------------------------------------------------------

/** A timer of `fn`: the mean milliseconds per call over {@linkcode ROUNDS} calls. */
function inProcess(fn: () => unknown): Timer {
  return () => {
    const start = performance.now();
    for (let i = 0; i < ROUNDS; i++) fn();
    return Promise.resolve((performance.now() - start) / ROUNDS);
  };
}

/** Makes the synthetic board and a partition on it in `dir`; returns its state dir. */
async function setUp(dir: string, board: ReturnType<typeof syntheticBoard>): Promise<string> {
  await Deno.writeTextFile(`${dir}/synthetic-256.yaml`, board.yaml);
  await Deno.writeFile(`${dir}/synthetic-256.dtb`, board.dtb);
  const state = `${dir}/state`;
  const created = await runCli([
    ...["--state-dir", state, "--board", `${dir}/synthetic-256.yaml`, "--plugin-dir", dir],
    ...["create", "p", "--cpu-ids", CORES, "--memory", "1G", "--cmdline", "console=ttyS0"],
    ...DEVICES.flatMap((d) => ["--device", d]),
  ], quiet);
  if (created !== 0) throw new Error("creating the partition on the synthetic board failed");
  return state;
}

/** The in-process line: ours against the libfdt peer, or why the peer is missing. */
async function inProcessLine(dir: string, doc: StateDocument, dtb: Uint8Array): Promise<string> {
  const registry = await buildRegistry({
    builtins: await builtinPlugins(),
    boardFiles: [],
    pluginDirs: [],
    warn: (line) => console.error(line),
  });
  const record = doc.partitions[0];
  const timers: Record<string, Timer> = {
    ours: inProcess(() => buildPartitionDevicetree(registry, doc.board, dtb, record)),
  };
  const peer = await buildFdtPeer();
  if ("path" in peer) {
    timers.peer = fdtPeerTimer(peer.path, {
      board: `${dir}/synthetic-256.dtb`,
      output: `${dir}/peer.dtb`,
      hwids: record.allocation.cores.map((id) => doc.board.cores.find((c) => c.id === id)!.hwid),
      devices: DEVICES.map((name) => doc.board.devices.find((d) => d.name === name)!.path!),
    }, ROUNDS);
  }
  const runs = await interleave(timers, { runs: RUNS, warmup: 3 });
  const label = `partition DTB in process (read, prune, write; mean of ${ROUNDS} per sample)`;
  if ("missing" in peer) {
    const line = targetLine(label, runs.ours, undefined, { atMost: IN_PROCESS_MS });
    return `${line.replace(/ (ok|missed)$/, "")} not counted: no libfdt peer (${peer.missing})`;
  }
  const peerLabel = "libfdt peer (fdt_prune.c: walk every node and property, decide, " +
    "sequential-write the kept nodes; no reference fixing)";
  return targetLine(label, runs.ours, { label: peerLabel, samples: runs.peer }, {
    atMost: IN_PROCESS_MS,
  });
}

/** Where the in-process time goes: the phases' medians. */
async function phasesLine(doc: StateDocument, dtb: Uint8Array): Promise<string> {
  const record = doc.partitions[0];
  const options = { board: doc.board, allocation: record.allocation, bootargs: "console=ttyS0" };
  const index = scanFdt(dtb);
  const tree = partitionTreeOf(new BoardIndex(index), options);
  const runs = await interleave({
    scan: inProcess(() => scanFdt(dtb)),
    prune: inProcess(() => partitionTreeOf(new BoardIndex(index), options)),
    write: inProcess(() => writeFdt(tree)),
  }, { runs: RUNS, warmup: 3 });
  const median = (samples: number[]) => ms(summarize(samples).median);
  return `  phases (medians): scan ${median(runs.scan)}, prune ${median(runs.prune)}, ` +
    `write ${median(runs.write)}`;
}

/** The whole-process line: `vmanctl dtb` against `vmanctl list` on the same state dir. */
async function wholeProcessLine(dir: string, state: string): Promise<string> {
  const env = { VMAN_PLUGIN_PATH: "", NO_COLOR: "1" };
  const vmanctl = (...args: string[]) =>
    processTimer(Deno.execPath(), vmanctlArgs(state, ...args), env);
  const runs = await interleave({
    dtb: vmanctl("dtb", "p", "-o", `${dir}/ours.dtb`),
    list: vmanctl("list"),
  }, { runs: RUNS, warmup: 3 });
  return targetLine("vmanctl dtb p -o FILE, whole process", runs.dtb, {
    label: "vmanctl list",
    samples: runs.list,
  }, { ratio: WHOLE_RATIO });
}

/** Whether dtc reads the partition's DTB back without a warning. */
async function dtcLine(file: string): Promise<string> {
  try {
    const { code, lines } = await dtcWarnings(file);
    const warnings = lines.join("; ");
    return code === 0
      ? `  dtc reads vmanctl's DTB: ${warnings ? `with warnings: ${warnings}` : "yes, no warning"}`
      : `  dtc refuses vmanctl's DTB: ${warnings}`;
  } catch {
    return "  dtc not found (install device-tree-compiler): the DTB is not checked";
  }
}

const dtDir = await Deno.makeTempDir({ prefix: "vman-bench-dt-" });
try {
  const synthetic = syntheticBoard("synthetic-256", 256, 2000);
  const state = await setUp(dtDir, synthetic);
  const doc = JSON.parse(await Deno.readTextFile(`${state}/state.json`)) as StateDocument;
  const load = loadAverage();
  console.log(
    `Device trees: synthetic board of 256 cores, ${synthetic.nodes} nodes, ` +
      `${synthetic.dtb.length} bytes; partition of cores ${CORES} and ${DEVICES.join(", ")} ` +
      `(${RUNS} samples, interleaved; load average ${load})`,
  );
  console.log(await inProcessLine(dtDir, doc, synthetic.dtb));
  console.log(await phasesLine(doc, synthetic.dtb));
  console.log(await wholeProcessLine(dtDir, state));
  console.log(await dtcLine(`${dtDir}/ours.dtb`));
} finally {
  await Deno.remove(dtDir, { recursive: true });
}
