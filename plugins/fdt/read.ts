/**
 * The DTB reader: {@linkcode readFdt} parses a version 16 or 17 blob into an
 * {@linkcode FdtTree}. The scanner ({@linkcode ./scan.ts}) checks everything, so any
 * malformed or hostile input ends in an {@linkcode FdtError} — never another
 * exception, never a hang; the tree is then made from its index.
 *
 * @example
 * ```ts
 * import { readFdt } from "./read.ts";
 * const tree = readFdt(await Deno.readFile("/sys/firmware/fdt"));
 * ```
 * @module
 */
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { type ReadLimits, scanFdt } from "./scan.ts";

export { DEFAULT_READ_LIMITS, type ReadLimits } from "./scan.ts";

/**
 * Parses a DTB. Accepts version 16 and 17 blobs (version >= 16, last_comp_version
 * <= 17), honours the header's block offsets and sizes, skips NOP tokens, and
 * validates: magic; totalsize within the blob and `limits.maxSize`; every block
 * inside totalsize and past the header; reservation map 8-aligned and terminated;
 * structure block 4-aligned; node names NUL-terminated inside the structure block;
 * property name offsets inside the strings block and their strings terminated there;
 * property values inside the structure block; BEGIN_NODE/END_NODE balanced, a single
 * root, exactly one END and (version 17) nothing after it; depth and node count
 * within `limits`. Names are decoded as UTF-8. Property values are views into one
 * private copy of the structure block, so they never alias `blob` (mind
 * `value.byteOffset` when wrapping `value.buffer`).
 *
 * @throws {FdtError} for every malformed blob, with the offset of the problem.
 */
export function readFdt(blob: Uint8Array, limits: ReadLimits = {}): FdtTree {
  return scanFdt(blob, limits).toTree();
}
