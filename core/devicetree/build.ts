/**
 * The device tree stage of the flow: the board's DTB read by the codec feature,
 * pruned to the partition, completed by the features' hooks, written back.
 *
 * @module
 */
import { validateCmdline } from "../partition/cmdline.ts";
import { errorLine, VmanError } from "../errors.ts";
import type { PartitionRecord, Range } from "../model.ts";
import type { Board } from "../model.ts";
import type { DeviceTreeCodec } from "../registry/plugin.ts";
import type { Registry } from "../registry/registry.ts";
import type { FdtTree } from "./tree.ts";
import { type FdtIndex, indexTree } from "./fdt_index.ts";
import { partitionTreeOf } from "./partition.ts";
import { BoardIndex } from "./board_index.ts";
import { bootargsOf } from "./bootargs.ts";

/** A device tree that cannot be read or made. Exit code 1. */
export class DeviceTreeError extends VmanError {}

/** The registered device tree codec: the `fdt` feature's, or another feature's when it is absent. */
export function codecOf(registry: Registry): DeviceTreeCodec {
  // The built-in `fdt` feature when it is there, else the first feature with a codec.
  const features = registry.list("feature").map((e) => e.plugin);
  const codec = (features.find((p) => p.name === "fdt") ?? features.find((p) => p.devicetree))
    ?.devicetree;
  if (!codec) {
    throw new DeviceTreeError("no device tree codec is registered (the fdt feature plugin)");
  }
  return codec;
}

/** A partition's device tree and its blob. */
export interface PartitionDevicetree {
  /** The tree. */
  tree: FdtTree;
  /** The DTB. */
  blob: Uint8Array;
}

/** Makes a partition's device tree from the board's DTB. */
export function buildPartitionDevicetree(
  registry: Registry,
  board: Board,
  boardDtb: Uint8Array,
  record: PartitionRecord,
  initrd?: Range,
  rngSeed?: Uint8Array,
): PartitionDevicetree {
  // A record written before commands bounded the command line still meets the bound here.
  if (record.spec.cmdline !== undefined) validateCmdline(record.spec.cmdline, record.name);
  const codec = codecOf(registry);
  let boardIndex: FdtIndex;
  try {
    boardIndex = codec.index ? codec.index(boardDtb) : indexTree(codec.read(boardDtb));
  } catch (error) {
    throw new DeviceTreeError(
      `the device tree of board ${board.name} is unreadable: ${errorLine(error)}`,
    );
  }
  const indexed = new BoardIndex(boardIndex);
  const tree = partitionTreeOf(indexed, {
    board,
    allocation: record.allocation,
    bootargs: bootargsOf(indexed, board, record),
    initrd,
    rngSeed,
  });
  const context = { board, allocation: record.allocation, arch: registry.get("arch", board.arch) };
  for (const { plugin } of registry.list("feature")) plugin.partitionTree?.(tree, context);
  return { tree, blob: codec.write(tree) };
}
