/**
 * The `sbi` feature plugin: on boards whose partitions use SBI, a partition's
 * harts are marked available (`status = "okay"`) in its device tree; the
 * partition's kernel starts them with SBI HSM hart_start, which the monitor
 * confines to the partition's own harts. RISC-V device trees name no enable
 * method; the CLINT's and PLIC's `interrupts-extended` entries of other harts keep
 * their positions, marked not connected, in the generic device tree stage.
 *
 * @example
 * ```ts
 * import { sbi } from "./mod.ts";
 * registry.register(sbi(), "built-in");
 * ```
 * @module
 */
import type { FeaturePlugin, PartitionTreeContext } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { setProp } from "../../core/devicetree/tree.ts";
import { str } from "../../core/devicetree/values.ts";
import { cpuNodes } from "../../core/devicetree/cpus.ts";

export { SBI_ERR, SBI_EXT, SBI_HSM_FN, SBI_HSM_STATE } from "./ids.ts";

/** Makes the sbi feature plugin. */
export function sbi(): FeaturePlugin {
  return {
    kind: "feature",
    name: "sbi",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "SBI: RISC-V partitions' harts available for HSM hart_start",
    partitionTree(tree: FdtTree, context: PartitionTreeContext): void {
      if (context.board.monitor.interface !== "sbi") return;
      for (const hart of cpuNodes(tree)) setProp(hart, "status", str("okay"));
    },
  };
}
