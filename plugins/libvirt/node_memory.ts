/**
 * The node's memory as libvirt clients ask for it — `virsh freecell`,
 * `virsh nodememstats`, python's `getFreeMemory()`, `getCellsFreeMemory()`,
 * `getMemoryStats()`, libvirt-dbus's `NodeGetMemoryStats` (Cockpit's host memory) —
 * from the board: its RAM is one NUMA cell; what is free is what partitions can
 * still be given, the board's RAM less the reserved ranges and every partition's
 * window (defined partitions hold theirs too), as `vmanctl board show` counts it.
 *
 * Layouts from libvirt's `remote_protocol.x`.
 *
 * @module
 */
import { assignable } from "../../core/board/assignable.ts";
import type { Board, PartitionRecord, Range } from "../../core/model.ts";
import { subtractRanges } from "../../core/ranges.ts";
import { holders } from "../../core/partition/update.ts";
import type { CallContext } from "./procedures.ts";
import { invalidArgument, unsupportedFlags } from "./stats.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";

/** `REMOTE_NODE_MEMORY_STATS_MAX`. */
const NODE_MEMORY_STATS_MAX = 16;
/** `REMOTE_NODE_MAX_CELLS`. */
const NODE_MAX_CELLS = 1024;
/** `VIR_NODE_MEMORY_STATS_ALL_CELLS`. */
const ALL_CELLS = -1;

/** The RAM ranges no reservation keeps and no partition holds (nor its next definition). */
function freeWindows(board: Board, records: readonly PartitionRecord[]): Range[] {
  const held = holders(records).map((h) => h.allocation.memory);
  return assignable(board).memory.flatMap((range) => subtractRanges(range, held));
}

/** Bytes of the board's RAM partitions can still be given. */
function freeBytes(board: Board, records: readonly PartitionRecord[]): number {
  return freeWindows(board, records).reduce((sum, r) => sum + r.size, 0);
}

/** Bytes of the board's RAM (what `nodeinfo` reports). */
function totalBytes(board: Board): number {
  return board.memory.reduce((sum, m) => sum + m.size, 0);
}

async function free(ctx: CallContext): Promise<number> {
  return freeBytes(await ctx.driver.board(), await ctx.driver.records());
}

/** NODE_GET_FREE_MEMORY (102): `→ { unsigned hyper freeMem }`, in bytes. */
export async function nodeGetFreeMemory(
  ctx: CallContext,
  _r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  w.uhyper(BigInt(await free(ctx)));
}

/**
 * NODE_GET_CELLS_FREE_MEMORY (101): `{ int startCell; int maxcells }` →
 * `{ unsigned hyper cells<> }`, bytes per cell from `startCell`: the board is cell 0.
 */
export async function nodeGetCellsFreeMemory(
  ctx: CallContext,
  r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  const start = r.int();
  const max = r.int();
  if (max <= 0 || max > NODE_MAX_CELLS) {
    throw invalidArgument(`maxCells ${max} must be between 1 and ${NODE_MAX_CELLS}`);
  }
  if (start !== 0) throw invalidArgument(`start cell ${start} out of range (0-0)`);
  w.uint(1).uhyper(BigInt(await free(ctx)));
}

/**
 * NODE_GET_MEMORY_STATS (228): `{ int nparams; int cellNum; unsigned flags }` →
 * `{ remote_node_get_memory_stats params<>; int nparams }`, each `{ string field;
 * unsigned hyper value }` in KiB: `total` (the board's RAM) and `free` (what
 * partitions can still be given), for cell 0 or all cells (-1). vmanager knows no
 * buffers or page cache of the board, so it reports neither. `nparams` 0 asks how
 * many there are.
 */
export async function nodeGetMemoryStats(
  ctx: CallContext,
  r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  const nparams = r.int();
  const cell = r.int();
  unsupportedFlags(r.uint(), 0, "virNodeGetMemoryStats");
  if (nparams < 0 || nparams > NODE_MEMORY_STATS_MAX) {
    throw invalidArgument(`nparams ${nparams} must be between 0 and ${NODE_MEMORY_STATS_MAX}`);
  }
  if (cell !== ALL_CELLS && cell !== 0) throw invalidArgument(`Invalid cell number ${cell}`);
  const board = await ctx.driver.board();
  const stats: [string, number][] = [
    ["total", totalBytes(board)],
    ["free", freeBytes(board, await ctx.driver.records())],
  ];
  const sent = nparams === 0 ? [] : stats.slice(0, nparams);
  w.uint(sent.length);
  for (const [field, bytes] of sent) w.string(field).uhyper(BigInt(Math.floor(bytes / 1024)));
  w.int(stats.length);
}
