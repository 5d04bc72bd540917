/**
 * The riscv (RV64) arch plugin: cores identified by hartid; partitions start
 * their secondary harts with SBI HSM.
 *
 * @example
 * ```ts
 * import { riscv } from "./mod.ts";
 * riscv().describeCoreId(3); // "hartid 3"
 * ```
 * @module
 */
import type { ArchPlugin } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";

/** Makes the riscv arch plugin. */
export function riscv(): ArchPlugin {
  return {
    kind: "arch",
    name: "riscv",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "RV64: hartid core ids, SBI HSM",
    bits: 64,
    coreIdName: "hartid",
    powerInterface: "sbi",
    validateCoreId: (hwid) =>
      Number.isSafeInteger(hwid) && hwid >= 0
        ? undefined
        : `hartid ${hwid} is not a non-negative integer`,
    describeCoreId: (hwid) => `hartid ${hwid}`,
  };
}
