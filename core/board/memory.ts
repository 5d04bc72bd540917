/**
 * The RAM of an imported board. A board's device tree says where its RAM is in
 * its top-level memory nodes — but a kernel's board DTB often leaves them out or
 * gives them a size of 0, as the bootloader fills them in. So the RAM can also be
 * given in their place: by the user (`board import --memory BASE+SIZE,…`) or by the
 * running board (`board import --live`: `/proc/iomem`'s `System RAM`).
 *
 * @module
 */
import type { MemoryRange, Range } from "../model.ts";
import type { FdtTree } from "../devicetree/tree.ts";
import { getProp } from "../devicetree/tree.ts";
import { readCells, readString } from "../devicetree/values.ts";
import { cellCounts } from "../devicetree/partition.ts";
import { formatRange, mergeRanges } from "../ranges.ts";
import { MAX_RANGE_LIST_RANGES } from "../range_list.ts";
import { MiB } from "../units.ts";
import { BoardImportError } from "./import_error.ts";

/** Largest `/proc/iomem` read by `board import --live`: 1 MiB. */
export const MAX_IOMEM_BYTES = 1 * MiB;

/** RAM given in place of the device tree's memory nodes. */
export interface GivenMemory {
  /** The ranges, not overlapping. */
  ranges: readonly Range[];
  /** Where they come from, for the notes: `--memory`, `/proc/iomem`. */
  from: string;
}

/**
 * The board's RAM, named `ram`, `ram1`, …: `given` when there is one, else the
 * device tree's memory nodes (ranges of size 0 left out with a note). Throws
 * {@linkcode BoardImportError} when neither gives any, or a memory node's `reg`
 * is malformed.
 */
export function boardMemory(
  tree: FdtTree,
  given: GivenMemory | undefined,
  notes: string[],
): MemoryRange[] {
  if (given) {
    let own: Range[] = [];
    try {
      own = treeMemory(tree, []);
    } catch {
      // A malformed memory node does not matter when the RAM is given.
    }
    notes.push(
      `RAM from ${given.from}` +
        (own.length > 0
          ? `, in place of the device tree's ${own.map(formatRange).join(", ")}`
          : ""),
    );
    return named(given.ranges);
  }
  const ranges = treeMemory(tree, notes);
  if (ranges.length === 0) {
    throw new BoardImportError(
      "the device tree gives no RAM (its memory nodes are missing or of size 0, as the bootloader " +
        "fills them in): give it with --memory BASE+SIZE, or import the running board with --live",
      "/memory",
    );
  }
  return named(ranges);
}

/** The non-empty `reg` ranges of the tree's top-level memory nodes, in document order. */
export function treeMemory(tree: FdtTree, notes: string[]): Range[] {
  const [ac, sc] = cellCounts(tree.root);
  const ranges: Range[] = [];
  for (const node of tree.root.children) {
    const type = getProp(node, "device_type");
    if (!type || type.value.at(-1) !== 0 || readString(type.value) !== "memory") continue;
    const reg = getProp(node, "reg");
    let cells: bigint[][] = [];
    try {
      cells = reg ? readCells(reg.value, [ac, sc]) : [];
    } catch (error) {
      throw new BoardImportError(
        `reg of /${node.name}: ${(error as Error).message}`,
        `/${node.name}`,
      );
    }
    for (const [base, size] of cells) {
      if (size === 0n) {
        notes.push(
          `/${node.name}: a RAM range of size 0 (filled in by the bootloader) is left out`,
        );
      } else ranges.push({ base: Number(base), size: Number(size) });
    }
  }
  return ranges;
}

function named(ranges: readonly Range[]): MemoryRange[] {
  return [...ranges].sort((a, b) => a.base - b.base).map((r, i) => ({
    name: i === 0 ? "ram" : `ram${i}`,
    base: r.base,
    size: r.size,
  }));
}

const IOMEM_LINE = /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) : System RAM$/i;

/**
 * The `System RAM` ranges of a `/proc/iomem` text (its top-level lines, the
 * indented ones are parts of them), in address order, touching ranges merged.
 * Throws {@linkcode BoardImportError} naming `where` when there is none, when
 * every address reads 0 (the kernel hides them from users other than root), when
 * an address is past 2^53 or when there are more than
 * {@linkcode MAX_RANGE_LIST_RANGES} ranges.
 */
export function parseIomem(text: string, where: string): Range[] {
  const raw: Range[] = [];
  let hidden = false;
  for (const line of text.split("\n")) {
    const m = IOMEM_LINE.exec(line);
    if (!m) continue;
    const [base, last] = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)];
    if (base === 0n && last === 0n) hidden = true;
    else if (last < base || last >= BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new BoardImportError(
        `System RAM ${m[1]}-${m[2]} is not a range vmanager handles`,
        where,
      );
    } else raw.push({ base: Number(base), size: Number(last - base) + 1 });
  }
  const ranges = mergeRanges(raw);
  if (ranges.length > MAX_RANGE_LIST_RANGES) {
    throw new BoardImportError(`more than ${MAX_RANGE_LIST_RANGES} System RAM ranges`, where);
  }
  if (ranges.length > 0) return ranges;
  throw new BoardImportError(
    hidden
      ? "System RAM reads as 0-0 (the kernel hides addresses from users other than root): " +
        "run as root, or give --memory BASE+SIZE"
      : "no System RAM listed",
    where,
  );
}
