/**
 * The `psci` feature plugin: on boards whose partitions use PSCI, a partition's
 * device tree gets a `/psci` node (method from the board's conduit) and every
 * core `enable-method = "psci"`, so the partition's kernel starts its other cores
 * with CPU_ON — which the monitor confines to the partition's own cores.
 *
 * @example
 * ```ts
 * import { psci } from "./mod.ts";
 * registry.register(psci(), "built-in");
 * ```
 * @module
 */
import type { FeaturePlugin, PartitionTreeContext } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { removeProp, setProp } from "../../core/devicetree/tree.ts";
import { str, strs } from "../../core/devicetree/values.ts";
import { cpuNodes } from "../../core/devicetree/cpus.ts";

export { PSCI_FN, PSCI_RET } from "./ids.ts";

/** Options of the psci plugin. */
export interface PsciOptions {
  /** `compatible` of the `/psci` node. */
  compatible?: string[];
}

/** PSCI 0.1 properties (function ids in the DT), which PSCI 0.2+ kernels ignore. */
const PSCI_01_PROPS = ["cpu_on", "cpu_off", "cpu_suspend", "migrate"];

/** Makes the psci feature plugin. */
export function psci(options: PsciOptions = {}): FeaturePlugin {
  const compatible = options.compatible ?? ["arm,psci-1.0", "arm,psci-0.2"];
  return {
    kind: "feature",
    name: "psci",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "PSCI: /psci node and enable-method on Arm partitions' cores",
    partitionTree(tree: FdtTree, context: PartitionTreeContext): void {
      if (context.board.monitor.interface !== "psci") return;
      let node = tree.root.children.find((c) => c.name === "psci");
      if (!node) {
        node = { name: "psci", props: [], children: [] };
        const cpus = tree.root.children.findIndex((c) => c.name === "cpus");
        tree.root.children.splice(cpus >= 0 ? cpus : tree.root.children.length, 0, node);
      }
      setProp(node, "compatible", strs(compatible));
      setProp(node, "method", str(context.board.monitor.conduit));
      for (const prop of PSCI_01_PROPS) removeProp(node, prop);
      for (const cpu of cpuNodes(tree)) {
        setProp(cpu, "enable-method", str("psci"));
        removeProp(cpu, "cpu-release-addr");
      }
    },
  };
}
