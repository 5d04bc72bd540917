/**
 * Which Arm cpus a device tree has, for `board import`: the `compatible` strings
 * of ARMv8 (AArch64) and ARMv7 cores, and of the older cores vmanager cannot run.
 * Shared by the armv7 and armv8 plugins' `detectCpu`.
 *
 * @example
 * ```ts
 * import { detectArmv8 } from "./cpus.ts";
 * detectArmv8({ compatibles: ["arm,cortex-a53"], nodes: [] }); // { confidence: 90 }
 * ```
 * @module
 */
import type { CpuDetection, CpuNodes } from "../../core/registry/plugin.ts";

/** ARMv8-A and later cores (AArch64 capable). */
const ARMV8_CPUS =
  /^(arm,kryo|nvidia,tegra132-denver|apm,strega|arm,cortex-a(3[45]|5[357]|6[05]|7[2-8]|7[0-9]ae|510|520|710|715|720)|arm,cortex-x\d|arm,neoverse|arm,armv8|apm,potenza|cavium,thunder|nvidia,(denver|carmel)|qcom,(kryo|falkor|oryon)|brcm,(brahma-b53|vulcan)|apple,|fujitsu,a64fx|hisilicon,|phytium,)/;

/** ARMv7-A and ARMv7-R cores. */
const ARMV7_CPUS =
  /^(arm,cortex-a(5|7|8|9|12|15|17|32)$|arm,cortex-r|marvell,(pj4|sheeva-v7)|qcom,(krait|scorpion)|brcm,brahma-b15|mrvl,pj4)/;

/** Cores older than ARMv7. */
const OLD_ARM_CPUS = /^arm,(arm[0-9]+|arm1[01][0-9a-z-]*|xscale|sa1100|fa526|mohawk|feroceon|pj1)/;

/** The confidence of an ARMv8 match: above ARMv7's, so a tree naming both is ARMv8. */
const ARMV8_CONFIDENCE = 90;
/** The confidence of an ARMv7 match. */
const ARMV7_CONFIDENCE = 80;

/** `detectCpu` of armv8: any ARMv8 core. */
export function detectArmv8(cpus: CpuNodes): CpuDetection | undefined {
  return cpus.compatibles.some((c) => ARMV8_CPUS.test(c))
    ? { confidence: ARMV8_CONFIDENCE }
    : undefined;
}

/** `detectCpu` of armv7: any ARMv7 core; a core older than ARMv7 is named as unsupported. */
export function detectArmv7(cpus: CpuNodes): CpuDetection | undefined {
  if (cpus.compatibles.some((c) => ARMV7_CPUS.test(c))) return { confidence: ARMV7_CONFIDENCE };
  const old = cpus.compatibles.find((c) => OLD_ARM_CPUS.test(c));
  return old
    ? { unsupported: `cpu ${old} is older than ARMv7, which vmanager does not support` }
    : undefined;
}
