/**
 * RISC-V cpus in a device tree, for `board import`: a cpu node with a
 * `riscv,isa` (or `riscv,isa-base`) property or the `riscv` compatible.
 *
 * @example
 * ```ts
 * import { detectRiscv } from "./detect.ts";
 * detectRiscv({ compatibles: ["sifive,u74-mc", "riscv"], nodes: [] }); // { confidence: 100 }
 * ```
 * @module
 */
import { getProp } from "../../core/devicetree/tree.ts";
import type { CpuDetection, CpuNodes } from "../../core/registry/plugin.ts";

/** The confidence of a RISC-V match: certain (the ISA is named). */
const RISCV_CONFIDENCE = 100;

/** `detectCpu` of riscv. */
export function detectRiscv(cpus: CpuNodes): CpuDetection | undefined {
  const isa = cpus.nodes.some((n) => getProp(n, "riscv,isa") || getProp(n, "riscv,isa-base"));
  return isa || cpus.compatibles.includes("riscv") ? { confidence: RISCV_CONFIDENCE } : undefined;
}
