/**
 * The Arm monitor conduits: PSCI's `smc` (a secure monitor at EL3) or `hvc` (a
 * hypervisor at EL2), and how `board import` reads which one a board uses — the
 * `method` of its device tree's `/psci` node. Shared by the armv7 and armv8 plugins.
 *
 * @example
 * ```ts
 * import { psciConduit } from "./conduit.ts";
 * import type { FdtTree } from "../../core/devicetree/tree.ts";
 * declare const tree: FdtTree;
 * psciConduit(tree); // { conduit: "hvc" } for QEMU's virt
 * ```
 * @module
 */
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { getProp } from "../../core/devicetree/tree.ts";
import { readString } from "../../core/devicetree/values.ts";
import type { ConduitGuess } from "../../core/registry/plugin.ts";

/** The conduits of Arm monitors; `smc` first, the one assumed when the tree does not say. */
export const ARM_CONDUITS: readonly string[] = ["smc", "hvc"];

/** The conduit the tree's `/psci` node names (`method`), else `smc` (with a note when there is no `/psci`). */
export function psciConduit(tree: FdtTree): ConduitGuess {
  const psci = tree.root.children.find((c) => c.name === "psci" || c.name.split("@")[0] === "psci");
  if (!psci) return { conduit: "smc", note: "no /psci node: the monitor conduit defaults to smc" };
  const method = getProp(psci, "method");
  const value = method && method.value.length > 0 && method.value[method.value.length - 1] === 0
    ? readString(method.value)
    : undefined;
  if (value === undefined || ARM_CONDUITS.includes(value)) return { conduit: value ?? "smc" };
  return { conduit: "smc", note: `/psci method '${value}' is neither smc nor hvc: smc assumed` };
}
