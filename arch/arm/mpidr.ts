/**
 * MPIDR affinity: how Arm cores are identified (`reg` of DT cpu nodes, the
 * target of PSCI CPU_ON). Shared by the armv7 and armv8 plugins.
 *
 * @module
 */

/** The affinity fields of an MPIDR value. */
export interface Affinity {
  /** Aff3, bits 39:32 (AArch64 only). */
  aff3: number;
  /** Aff2, bits 23:16. */
  aff2: number;
  /** Aff1, bits 15:8. */
  aff1: number;
  /** Aff0, bits 7:0. */
  aff0: number;
}

const TWO_POW_32 = 2 ** 32;

/** Splits an MPIDR value into its affinity levels. */
export function affinityOf(mpidr: number): Affinity {
  const low = mpidr % TWO_POW_32;
  return {
    aff3: Math.floor(mpidr / TWO_POW_32) & 0xff,
    aff2: (low >>> 16) & 0xff,
    aff1: (low >>> 8) & 0xff,
    aff0: low & 0xff,
  };
}

/**
 * Why `mpidr` is not a valid affinity value, or undefined. `withAff3` allows
 * bits 39:32 (AArch64, two DT address cells).
 */
export function mpidrProblem(mpidr: number, withAff3: boolean): string | undefined {
  if (!Number.isSafeInteger(mpidr) || mpidr < 0) {
    return `MPIDR ${mpidr} is not a non-negative integer`;
  }
  const hex = `0x${mpidr.toString(16)}`;
  const high = Math.floor(mpidr / TWO_POW_32);
  const low = mpidr % TWO_POW_32;
  if (!withAff3 && high !== 0) {
    return `MPIDR ${hex} has bits above 23; 32-bit Arm has Aff2..Aff0 only`;
  }
  if (high > 0xff) return `MPIDR ${hex} has bits above 39 (Aff3 is bits 39:32)`;
  if (low >>> 24 !== 0) return `MPIDR ${hex} sets bits 31:24, which are not affinity bits`;
  return undefined;
}

/** `MPIDR 0x102 (Aff1 1, Aff0 2)`, naming only the non-zero upper levels. */
export function describeMpidr(mpidr: number): string {
  const a = affinityOf(mpidr);
  const parts = [
    a.aff3 ? `Aff3 ${a.aff3}` : "",
    a.aff2 || a.aff3 ? `Aff2 ${a.aff2}` : "",
    a.aff1 || a.aff2 || a.aff3 ? `Aff1 ${a.aff1}` : "",
    `Aff0 ${a.aff0}`,
  ].filter(Boolean);
  return `MPIDR 0x${mpidr.toString(16)} (${parts.join(", ")})`;
}
