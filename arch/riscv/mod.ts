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
import { elfKernel } from "../elf.ts";
import { readRiscvImage } from "./image.ts";
import { planRiscv } from "./plan.ts";
import { riscvMonitorStub } from "./stub.ts";
import { detectRiscv } from "./detect.ts";

const EM_RISCV = 243;

/** Makes the riscv arch plugin. */
export function riscv(): ArchPlugin {
  return {
    kind: "arch",
    name: "riscv",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "RV64: hartid core ids, RISC-V Image and ELF kernels, SBI HSM hart_start stub",
    bits: 64,
    coreIdName: "hartid",
    powerInterface: "sbi",
    conduits: ["ecall"],
    unameMachine: "riscv64",
    validateCoreId: (hwid) =>
      Number.isSafeInteger(hwid) && hwid >= 0
        ? undefined
        : `hartid ${hwid} is not a non-negative integer`,
    describeCoreId: (hwid) => `hartid ${hwid}`,
    detectCpu: detectRiscv,
    readKernel: (bytes, file) =>
      readRiscvImage(bytes, file) ?? elfKernel(bytes, file, "riscv", EM_RISCV),
    planBoot: planRiscv,
    monitorStub: riscvMonitorStub,
    qemu: {
      stubLoad: "kernel",
      oneAtATime: "one RISC-V partition at a time: each partition's QEMU runs its own OpenSBI " +
        "in the same 2 MiB of the shared memory file",
    },
  };
}
