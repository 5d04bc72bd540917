/**
 * The armv8 (AArch64) arch plugin: cores identified by MPIDR with up to four
 * affinity levels; partitions start their secondary cores with PSCI.
 *
 * @example
 * ```ts
 * import { armv8 } from "./mod.ts";
 * armv8().validateCoreId(0x100); // undefined: Aff1 1, Aff0 0 is fine
 * ```
 * @module
 */
import type { ArchPlugin } from "../../core/registry/mod.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/mod.ts";
import { describeMpidr, mpidrProblem } from "../arm/mpidr.ts";
import { ARM_CONDUITS, psciConduit } from "../arm/conduit.ts";
import { detectArmv8 } from "../arm/cpus.ts";
import { elfKernel } from "../elf.ts";
import { readArm64Image } from "./image.ts";
import { planArm64 } from "./plan.ts";
import { armv8MonitorStub } from "./stub.ts";

const EM_AARCH64 = 183;

/** Makes the armv8 arch plugin. */
export function armv8(): ArchPlugin {
  return {
    kind: "arch",
    name: "armv8",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "AArch64: MPIDR core ids, arm64 Image (and .gz) and ELF kernels, PSCI CPU_ON stub",
    bits: 64,
    coreIdName: "MPIDR",
    powerInterface: "psci",
    conduits: ARM_CONDUITS,
    unameMachine: "aarch64",
    validateCoreId: (hwid) => mpidrProblem(hwid, true),
    describeCoreId: describeMpidr,
    detectCpu: detectArmv8,
    importConduit: psciConduit,
    readKernel: (bytes, file) =>
      readArm64Image(bytes, file) ?? elfKernel(bytes, file, "armv8", EM_AARCH64),
    planBoot: planArm64,
    monitorStub: armv8MonitorStub,
    qemu: { stubLoad: "loader" },
  };
}
