/**
 * The FDT (flattened device tree, DTB) codec: read and write version 17 blobs,
 * build and edit trees, encode and decode property values, print DTS. It knows no
 * architecture; board, arch and power-management code build their trees with it.
 *
 * The fuzzing tools next to it (`arbitrary.ts`, `fuzz.ts`) are development aids and
 * deliberately not re-exported here, so the codec pulls no test library into the
 * compiled binary.
 *
 * @example
 * ```ts
 * import { findNode, readFdt, readCells, getProp, writeFdt } from "./mod.ts";
 * const tree = readFdt(await Deno.readFile("board.dtb"));
 * const reg = readCells(getProp(findNode(tree, "/memory")!, "reg")!.value, [2, 2]);
 * await Deno.writeFile("partition.dtb", writeFdt(tree));
 * ```
 * @module
 */
export { FdtError, type FdtErrorCode } from "../../core/devicetree/errors.ts";
export {
  childNamed,
  cloneTree,
  type FdtNode,
  type FdtProperty,
  type FdtReservation,
  type FdtTree,
  findNode,
  getProp,
  node,
  phandleMap,
  removeProp,
  setProp,
  walk,
} from "../../core/devicetree/tree.ts";
export {
  cells,
  empty,
  MAX_CELLS_PER_VALUE,
  readCells,
  readString,
  readStrings,
  readU32s,
  str,
  strs,
  u32,
  u64,
} from "../../core/devicetree/values.ts";
export { writeFdt } from "./write.ts";
export { DEFAULT_READ_LIMITS, readFdt, type ReadLimits } from "./read.ts";
export { scanFdt } from "./scan.ts";
export { FdtIndex } from "../../core/devicetree/fdt_index.ts";
export { formatProperty, printDts } from "./dts.ts";
export { fdt, type FdtOptions } from "./plugin.ts";
export {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
} from "./format.ts";
