/**
 * The 32-bit Arm (A32) monitor stub: a few instructions one core runs to start
 * another through PSCI (Arm DEN 0022, SMC32 function IDs) over HVC, as QEMU's
 * `virt` board emulates it with `-cpu cortex-a15`, and then power itself off.
 *
 * Self-target: when the core running the stub is itself the target, the stub does
 * what CPU_ON would have done for it — `r0 = context`, then `ldr pc, =entry`, which
 * (like CPU_ON's entry address) selects Thumb state when bit 0 of the entry is set.
 * It does not set r1/r2 for a zImage itself: the entry of a zImage partition is the
 * boot shim (`armv7BootShim` in `shim.ts`), which expects r0 = DTB and
 * sets r0 = 0, r1 = ~0, r2 = DTB; so both paths reach the shim in the same state.
 *
 * The code is position independent: values come from a literal pool after the
 * code through PC-relative `ldr rX, [pc, #imm]`. {@linkcode armv7StubListing}
 * prints the instructions as GNU objdump does.
 *
 * @module
 */
import type { StubOptions } from "../../core/registry/plugin.ts";
import { assemble, hex, type Line, type PoolLayout } from "../assemble.ts";

/** PSCI CPU_ON, SMC32 calling convention: CPU_ON(target MPIDR, entry, context_id). */
export const PSCI_CPU_ON_32 = 0x84000003;
/** PSCI CPU_OFF. */
export const PSCI_CPU_OFF = 0x84000002;

/** Size of one literal pool entry (`.word`). */
const LITERAL = 4;

/** Register names as objdump prints them. */
function reg(r: number): string {
  return r === 15 ? "pc" : `r${r}`;
}

/** `ldr r<rt>, [pc, #imm12]`: LDR (literal), forward; the PC reads as the address + 8. */
function ldrLiteral(rt: number, literal: number): Line {
  return (at, pool) => {
    const imm = pool + literal * LITERAL - (at + 8);
    if (imm < 0 || imm > 0xfff) throw new Error(`ldr (literal) offset ${imm} out of range`);
    const text = imm === 0 ? `ldr ${reg(rt)}, [pc]` : `ldr ${reg(rt)}, [pc, #${imm}]`;
    return { word: (0xe59f0000 | (rt << 12) | imm) >>> 0, text };
  };
}

/** `hvc #imm16`: hypervisor call (imm16 split into bits 19:8 and 3:0). */
function hvc(imm16: number): Line {
  const word = 0xe1400070 | ((imm16 >> 4) << 8) | (imm16 & 0xf);
  return () => ({ word: word >>> 0, text: `hvc ${imm16}` });
}

/** `b .`: branch to itself (the target is PC + 8 - 8). */
function branchSelf(): Line {
  return (at) => ({ word: 0xeafffffe, text: `b ${hex(at)}` });
}

/** Throws unless every option is a 32-bit unsigned integer and the entry is ARM or Thumb code. */
function validate(o: StubOptions): void {
  for (const key of ["selfHwid", "targetHwid", "entry", "context"] as const) {
    const value = o[key];
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(`armv7 monitor stub: ${key} ${value} is not a 32-bit unsigned integer`);
    }
  }
  if (o.entry % 4 === 2) {
    throw new Error(
      `armv7 monitor stub: entry ${hex(o.entry)} is neither ARM code (4-byte aligned) ` +
        `nor Thumb code (bit 0 set)`,
    );
  }
}

/** The stub's code and literal pool, before encoding. */
const LAYOUT: PoolLayout = { size: 4, directive: ".word" };

function program(o: StubOptions): { lines: Line[]; literals: number[] } {
  validate(o);
  if (o.selfHwid === o.targetHwid) {
    return {
      lines: [
        ldrLiteral(0, 0), //  ldr r0, =context      (r0 = context, as CPU_ON would set it)
        ldrLiteral(15, 1), // ldr pc, =entry        (jump; bit 0 selects Thumb, as for CPU_ON)
      ],
      literals: [o.context, o.entry],
    };
  }
  return {
    lines: [
      ldrLiteral(0, 0), // ldr r0, =0x84000003    (PSCI CPU_ON, SMC32)
      ldrLiteral(1, 1), // ldr r1, =target MPIDR
      ldrLiteral(2, 2), // ldr r2, =entry
      ldrLiteral(3, 3), // ldr r3, =context       (the target starts with r0 = context)
      hvc(0), //           hvc #0                  (r0 = PSCI result, ignored)
      ldrLiteral(0, 4), // ldr r0, =0x84000002    (PSCI CPU_OFF)
      hvc(0), //           hvc #0                  (does not return on success)
      branchSelf(), //     b .                     (park if CPU_OFF failed)
    ],
    literals: [PSCI_CPU_ON_32, o.targetHwid, o.entry, o.context, PSCI_CPU_OFF],
  };
}

/**
 * The A32 monitor stub for `o` (little-endian, position independent). When
 * `selfHwid !== targetHwid` it calls PSCI CPU_ON(targetHwid, entry, context) with
 * `hvc #0`, then CPU_OFF, then spins; otherwise it sets r0 = context and loads
 * `entry` into the PC. Throws an `Error` when a value is not a 32-bit unsigned
 * integer or the entry is 2 mod 4.
 */
export function armv7MonitorStub(o: StubOptions): Uint8Array {
  return assemble(program(o), LAYOUT).bytes;
}

/**
 * The stub's listing, one line per instruction as `arm-linux-gnueabihf-objdump -D
 * -b binary -m arm` prints it (mnemonic, one space, operands; without objdump's
 * trailing `@ address` comment), followed by one `.word 0x…` line per literal.
 */
export function armv7StubListing(o: StubOptions): string[] {
  return assemble(program(o), LAYOUT).listing;
}
