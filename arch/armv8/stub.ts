/**
 * The AArch64 monitor stub: a few instructions one core runs to start another
 * through PSCI (Arm DEN 0022) over HVC, as QEMU's `virt` board emulates it, and
 * then power itself off. When the core running the stub is itself the target it
 * jumps straight to the entry with the registers the arm64 boot protocol wants
 * (x0 = DTB, x1 = x2 = x3 = 0).
 *
 * The code is position independent: every value comes from a literal pool after
 * the code through PC-relative `ldr (literal)`, so the blob runs wherever it is
 * loaded. Instructions are encoded here one per line; {@linkcode armv8StubListing}
 * prints them as GNU objdump does (addresses relative to the start of the blob).
 *
 * @module
 */
import type { StubOptions } from "../../core/registry/plugin.ts";
import { assemble, hex, type Line, type PoolLayout } from "../assemble.ts";

/** PSCI CPU_ON, SMC64 calling convention: CPU_ON(target MPIDR, entry, context_id). */
export const PSCI_CPU_ON_64 = 0xc4000003;
/** PSCI CPU_OFF (SMC32 and SMC64 share it). */
export const PSCI_CPU_OFF = 0x84000002;

/** Size of one literal pool entry (`.quad`). */
const LITERAL = 8;

/** `ldr x<rt>, <literal>`: LDR (literal), 64-bit, PC-relative, ±1 MiB. */
function ldrLiteralX(rt: number, literal: number): Line {
  return (at, pool) => {
    const target = pool + literal * LITERAL;
    const delta = target - at;
    if (delta % 4 !== 0 || delta < -(1 << 20) || delta >= 1 << 20) {
      throw new Error(`ldr (literal) cannot reach ${hex(target)} from ${hex(at)}`);
    }
    const imm19 = (delta / 4) & 0x7ffff;
    return { word: (0x58000000 | (imm19 << 5) | rt) >>> 0, text: `ldr x${rt}, ${hex(target)}` };
  };
}

/** `hvc #imm16`: hypervisor call. */
function hvc(imm16: number): Line {
  return () => ({ word: (0xd4000002 | (imm16 << 5)) >>> 0, text: `hvc #${hex(imm16)}` });
}

/** `b .`: branch to itself (B with imm26 = 0). */
function branchSelf(): Line {
  return (at) => ({ word: 0x14000000, text: `b ${hex(at)}` });
}

/** `mov x<rd>, xzr`: the alias of `orr x<rd>, xzr, xzr`. */
function movZero(rd: number): Line {
  return () => ({ word: (0xaa1f03e0 | rd) >>> 0, text: `mov x${rd}, xzr` });
}

/** `br x<rn>`: branch to the address in a register. */
function br(rn: number): Line {
  return () => ({ word: (0xd61f0000 | (rn << 5)) >>> 0, text: `br x${rn}` });
}

/** `nop`: pads the code up to the literal pool's alignment. */
function nop(): Line {
  return () => ({ word: 0xd503201f, text: "nop" });
}

/** Throws unless every option is a non-negative integer a JS number holds exactly. */
function validate(o: StubOptions): void {
  for (const key of ["selfHwid", "targetHwid", "entry", "context"] as const) {
    const value = o[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(
        `armv8 monitor stub: ${key} ${value} is not an integer in 0..2^53-1 ` +
          `(64-bit values are passed as JS numbers, which hold larger ones inexactly)`,
      );
    }
  }
  if (o.entry % 4 !== 0) {
    throw new Error(`armv8 monitor stub: entry ${hex(o.entry)} is not 4-byte aligned`);
  }
}

/** The stub's code and literal pool, before encoding. */
const LAYOUT: PoolLayout = { size: 8, directive: ".quad", pad: nop() };

function program(o: StubOptions): { lines: Line[]; literals: number[] } {
  validate(o);
  if (o.selfHwid === o.targetHwid) {
    return {
      lines: [
        ldrLiteralX(0, 0), // ldr x0, =context      (x0 = DTB)
        movZero(1), //        mov x1, xzr            (x1..x3 = 0, as arm64 booting requires)
        movZero(2), //        mov x2, xzr
        movZero(3), //        mov x3, xzr
        ldrLiteralX(4, 1), // ldr x4, =entry
        br(4), //             br x4                  (jump to the entry, never returns)
      ],
      literals: [o.context, o.entry],
    };
  }
  return {
    lines: [
      ldrLiteralX(0, 0), // ldr x0, =0xc4000003   (PSCI CPU_ON, SMC64)
      ldrLiteralX(1, 1), // ldr x1, =target MPIDR
      ldrLiteralX(2, 2), // ldr x2, =entry
      ldrLiteralX(3, 3), // ldr x3, =context      (the target starts with x0 = context)
      hvc(0), //            hvc #0                 (x0 = PSCI result, ignored)
      ldrLiteralX(0, 4), // ldr x0, =0x84000002   (PSCI CPU_OFF)
      hvc(0), //            hvc #0                 (does not return on success)
      branchSelf(), //      b .                    (park if CPU_OFF failed)
    ],
    literals: [PSCI_CPU_ON_64, o.targetHwid, o.entry, o.context, PSCI_CPU_OFF],
  };
}

/**
 * The AArch64 monitor stub for `o` (little-endian, position independent). When
 * `selfHwid !== targetHwid` it calls PSCI CPU_ON(targetHwid, entry, context) with
 * `hvc #0`, then CPU_OFF, then spins; otherwise it sets x0 = context, x1..x3 = 0
 * and branches to `entry`. Throws an `Error` when a value is not an integer in
 * 0..2^53-1 or the entry is not 4-byte aligned.
 */
export function armv8MonitorStub(o: StubOptions): Uint8Array {
  return assemble(program(o), LAYOUT).bytes;
}

/**
 * The stub's listing, one line per 4-byte instruction as `aarch64-linux-gnu-objdump
 * -D -b binary -m aarch64` prints it (mnemonic, one space, operands; literal
 * addresses relative to the blob's start), followed by one `.quad 0x…` line per
 * literal pool entry.
 */
export function armv8StubListing(o: StubOptions): string[] {
  return assemble(program(o), LAYOUT).listing;
}
