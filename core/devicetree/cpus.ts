/**
 * The cpu nodes of a device tree.
 *
 * @module
 */
import type { FdtNode, FdtTree } from "./tree.ts";
import { getProp } from "./tree.ts";
import { readString } from "./values.ts";

/** The nodes under `/cpus` with `device_type = "cpu"`, in document order. */
export function cpuNodes(tree: FdtTree): FdtNode[] {
  const cpus = tree.root.children.find((c) => c.name === "cpus");
  return (cpus?.children ?? []).filter((c) => {
    const type = getProp(c, "device_type");
    return type !== undefined && type.value.length > 0 && readString(type.value) === "cpu";
  });
}
