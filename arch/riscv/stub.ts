/**
 * The RV64 monitor stub: a few instructions one hart runs (in S-mode, under
 * OpenSBI) to start another through the SBI HSM extension — `hart_start(hartid,
 * start_addr, opaque)`, which starts the target with a0 = hartid, a1 = opaque —
 * and then stop itself with `hart_stop`. Which hart runs it is known only at run
 * time (OpenSBI picks its boot hart by lottery and enters its payload with a0 =
 * that hartid), so the stub compares a0 with the target: when the running hart is
 * the target it jumps straight to the entry with a0 = hartid, a1 = context (the
 * DTB), as the RISC-V boot protocol wants.
 *
 * The code is position independent: `auipc t0, 0` takes the stub's own address
 * and every value is an `ld` from an 8-byte aligned literal pool after the code
 * (padded with `nop`). {@linkcode riscvStubListing} prints the instructions as
 * GNU objdump does.
 *
 * @module
 */
import type { StubOptions } from "../../core/registry/plugin.ts";
import { assemble, hex, type Line, type PoolLayout } from "../assemble.ts";

/** SBI Hart State Management extension ID ("HSM"). */
export const SBI_EXT_HSM = 0x48534d;
/** HSM function `hart_start(hartid, start_addr, opaque)`. */
export const SBI_HSM_HART_START = 0;
/** HSM function `hart_stop()`. */
export const SBI_HSM_HART_STOP = 1;

/** Size of one literal pool entry (`.dword`). */
const LITERAL = 8;
/** Where the `auipc t0, 0` is, so t0 holds the stub's address plus this. */
const AUIPC_AT = 0;

/** Integer registers used, by ABI name. */
const T0 = 5, T1 = 6, A0 = 10, A1 = 11, A2 = 12, A6 = 16, A7 = 17;
/** ABI names of the registers above, as objdump prints them. */
const NAMES: Readonly<Record<number, string>> = {
  [T0]: "t0",
  [T1]: "t1",
  [A0]: "a0",
  [A1]: "a1",
  [A2]: "a2",
  [A6]: "a6",
  [A7]: "a7",
};

/** The ABI name of register `r`. */
function reg(r: number): string {
  const name = NAMES[r];
  if (name === undefined) throw new Error(`register x${r} has no name here`);
  return name;
}

/** `auipc rd, 0`: rd = the address of this instruction. */
function auipc(rd: number): Line {
  return () => ({ word: (rd << 7) | 0x17, text: `auipc ${reg(rd)},0x0` });
}

/** `ld rd, off(t0)`: loads literal `literal`, addressed from the `auipc` in t0. */
function ldLiteral(rd: number, literal: number): Line {
  return (_at, pool) => {
    const offset = pool + literal * LITERAL - AUIPC_AT;
    if (offset < -2048 || offset > 2047) throw new Error(`ld offset ${offset} out of range`);
    const word = ((offset & 0xfff) << 20) | (T0 << 15) | (0b011 << 12) | (rd << 7) | 0x03;
    return { word: word >>> 0, text: `ld ${reg(rd)},${offset}(${reg(T0)})` };
  };
}

/** `li rd, imm` for a 12-bit signed imm: the alias of `addi rd, zero, imm`. */
function li(rd: number, imm: number): Line {
  return () => ({
    word: (((imm & 0xfff) << 20) | (rd << 7) | 0x13) >>> 0,
    text: `li ${reg(rd)},${imm}`,
  });
}

/** `ecall`: the SBI call. */
function ecall(): Line {
  return () => ({ word: 0x00000073, text: "ecall" });
}

/** `j .`: jal zero, 0. */
function jumpSelf(): Line {
  return (at) => ({ word: 0x0000006f, text: `j ${hex(at)}` });
}

/** `jr rs`: jalr zero, 0(rs). */
function jr(rs: number): Line {
  return () => ({ word: (rs << 15) | 0x67, text: `jr ${reg(rs)}` });
}

/** `nop`: addi zero, zero, 0; pads the code to the pool's alignment. */
function nop(): Line {
  return () => ({ word: 0x00000013, text: "nop" });
}

/** `bne rs1, rs2, <forward>`: branches `skip` instructions ahead of this one. */
function bneForward(rs1: number, rs2: number, skip: number): Line {
  return (at) => {
    const offset = skip * 4;
    const imm = ((offset >> 12) & 1) << 31 | ((offset >> 5) & 0x3f) << 25 |
      ((offset >> 1) & 0xf) << 8 | ((offset >> 11) & 1) << 7;
    return {
      word: (imm | (rs2 << 20) | (rs1 << 15) | (0b001 << 12) | 0x63) >>> 0,
      text: `bne ${reg(rs1)},${reg(rs2)},${hex(at + offset)}`,
    };
  };
}

/** Throws unless every option is a non-negative integer a JS number holds exactly. */
function validate(o: StubOptions): void {
  for (const key of ["selfHwid", "targetHwid", "entry", "context"] as const) {
    const value = o[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(
        `riscv monitor stub: ${key} ${value} is not an integer in 0..2^53-1 ` +
          `(64-bit values are passed as JS numbers, which hold larger ones inexactly)`,
      );
    }
  }
  if (o.entry % 2 !== 0) {
    throw new Error(`riscv monitor stub: entry ${hex(o.entry)} is not 2-byte aligned`);
  }
}

/** The stub's code and literal pool, before encoding. */
const LAYOUT: PoolLayout = { size: 8, directive: ".dword", pad: nop() };

function program(o: StubOptions): { lines: Line[]; literals: number[] } {
  validate(o);
  return {
    lines: [
      auipc(T0), //                     auipc t0, 0      (t0 = address of the stub)
      ldLiteral(T1, 0), //              ld t1, =hartid   (the target)
      bneForward(A0, T1, 4), //         bne a0, t1, 1f   (a0 = the running hart)
      ldLiteral(A1, 1), //              ld a1, =context  (the running hart is the target:
      ldLiteral(T1, 2), //              ld t1, =entry     a0 = hartid already, a1 = DTB;
      jr(T1), //                        jr t1             enter the kernel)
      ldLiteral(A7, 3), //          1:  ld a7, =0x48534d (EID: HSM)
      li(A6, SBI_HSM_HART_START), //    li a6, 0         (FID: hart_start)
      ldLiteral(A0, 0), //              ld a0, =hartid   (target hart)
      ldLiteral(A1, 2), //              ld a1, =entry    (start_addr)
      ldLiteral(A2, 1), //              ld a2, =context  (opaque: the target's a1)
      ecall(), //                       ecall            (a0 = SBI error, ignored)
      li(A6, SBI_HSM_HART_STOP), //     li a6, 1         (FID: hart_stop; a7 is preserved)
      ecall(), //                       ecall            (does not return on success)
      jumpSelf(), //                    j .              (park if hart_stop failed)
    ],
    literals: [o.targetHwid, o.context, o.entry, SBI_EXT_HSM],
  };
}

/**
 * The RV64 monitor stub for `o` (little-endian, position independent). When the
 * hart running it (a0) is not `targetHwid` it calls SBI HSM hart_start(targetHwid,
 * entry, context), then hart_stop, then spins; otherwise it sets a1 = context and
 * jumps to `entry` (a0 = hartid already). `selfHwid` is not used: OpenSBI's boot
 * hart is known only at run time. Throws an `Error` when a value is not an integer
 * in 0..2^53-1 or the entry is odd.
 */
export function riscvMonitorStub(o: StubOptions): Uint8Array {
  return assemble(program(o), LAYOUT).bytes;
}

/**
 * The stub's listing, one line per instruction as `riscv64-linux-gnu-objdump -D
 * -b binary -m riscv:rv64` prints it (mnemonic, one space, operands; without
 * objdump's trailing `# address` comment), followed by one `.dword 0x…` line per
 * literal.
 */
export function riscvStubListing(o: StubOptions): string[] {
  return assemble(program(o), LAYOUT).listing;
}
