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
import { ARM_CONDUITS, psciConduit } from "../arm/conduit.ts";
import { detectArmv7 } from "../arm/cpus.ts";
import { elfKernel } from "../elf.ts";
import { readZImage } from "./zimage.ts";
import { planArm32, ZIMAGE_WINDOW_ALIGNMENT } from "./plan.ts";
import { armv7MonitorStub } from "./stub.ts";

const EM_ARM = 40;

/** Makes the armv7 arch plugin. */
export function armv7(): ArchPlugin {
  return {
    kind: "arch",
    name: "armv7",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "32-bit Arm: MPIDR core ids, zImage (boot shim) and ELF kernels, PSCI CPU_ON stub",
    bits: 32,
    coreIdName: "MPIDR",
    powerInterface: "psci",
    conduits: ARM_CONDUITS,
    unameMachine: "armv7l",
    validateCoreId: (hwid) => mpidrProblem(hwid, false),
    describeCoreId: describeMpidr,
    detectCpu: detectArmv7,
    importConduit: psciConduit,
    readKernel: (bytes, file) => readZImage(bytes, file) ?? elfKernel(bytes, file, "armv7", EM_ARM),
    planBoot: planArm32,
    windowAlignment: ZIMAGE_WINDOW_ALIGNMENT,
    monitorStub: armv7MonitorStub,
    qemu: { stubLoad: "loader" },
  };
}
