/**
 * The `fdt` feature plugin: the device tree codec the device tree stage uses to
 * read boards' DTBs and write partitions' DTBs and DTS.
 *
 * @module
 */
import type { FeaturePlugin } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import type { ReadLimits } from "./scan.ts";
import { readFdt } from "./read.ts";
import { scanFdt } from "./scan.ts";
import { writeFdt } from "./write.ts";
import { printDts } from "./dts.ts";

/** Options of the fdt plugin. */
export interface FdtOptions {
  /** Limits the reader applies to every blob (defaults: 16 MiB, depth 64, 1 000 000 nodes). */
  limits?: ReadLimits;
}

/**
 * Makes the fdt feature plugin.
 *
 * @example
 * ```ts
 * import { fdt } from "./plugin.ts";
 * const tree = fdt().devicetree!.read(await Deno.readFile("board.dtb"));
 * ```
 */
export function fdt(options: FdtOptions = {}): FeaturePlugin {
  return {
    kind: "feature",
    name: "fdt",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "device trees: FDT v17 reader and writer, DTS printer",
    devicetree: {
      read: (blob) => readFdt(blob, options.limits),
      index: (blob) => scanFdt(blob, options.limits),
      write: writeFdt,
      dts: printDts,
    },
  };
}
