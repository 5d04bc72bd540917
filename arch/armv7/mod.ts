/**
 * The armv7 (32-bit Arm) arch plugin: cores identified by MPIDR Aff2..Aff0 (one
 * DT address cell); partitions start their secondary cores with PSCI.
 *
 * @example
 * ```ts
 * import { armv7 } from "./mod.ts";
 * armv7().validateCoreId(2 ** 32); // "MPIDR 0x100000000 has bits above 23; …"
 * ```
 * @module
 */
import type { ArchPlugin } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import { describeMpidr, mpidrProblem } from "../arm/mpidr.ts";

/** Makes the armv7 arch plugin. */
export function armv7(): ArchPlugin {
  return {
    kind: "arch",
    name: "armv7",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "32-bit Arm: MPIDR core ids (Aff2..Aff0), PSCI",
    bits: 32,
    coreIdName: "MPIDR",
    powerInterface: "psci",
    validateCoreId: (hwid) => mpidrProblem(hwid, false),
    describeCoreId: describeMpidr,
  };
}
