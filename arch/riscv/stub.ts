/**
 * The RV64 monitor stub: a few instructions one hart runs (in S-mode, under
 * OpenSBI) to start another through the SBI HSM extension — `hart_start(hartid,
 * start_addr, opaque)`, which starts the target with a0 = hartid, a1 = opaque —
 * and then stop itself with `hart_stop`. When the hart running the stub is itself
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
  if (o.selfHwid === o.targetHwid) {
    return {
      lines: [
        auipc(T0), //         auipc t0, 0          (t0 = address of the stub)
        ldLiteral(A0, 0), //  ld a0, =hartid       (a0 = hartid)
        ldLiteral(A1, 1), //  ld a1, =context      (a1 = DTB)
        ldLiteral(T1, 2), //  ld t1, =entry
        jr(T1), //            jr t1                (jump to the entry, never returns)
      ],
      literals: [o.targetHwid, o.context, o.entry],
    };
  }
  return {
    lines: [
      auipc(T0), //                     auipc t0, 0      (t0 = address of the stub)
      ldLiteral(A7, 0), //              ld a7, =0x48534d (EID: HSM)
      li(A6, SBI_HSM_HART_START), //    li a6, 0         (FID: hart_start)
      ldLiteral(A0, 1), //              ld a0, =hartid   (target hart)
      ldLiteral(A1, 2), //              ld a1, =entry    (start_addr)
      ldLiteral(A2, 3), //              ld a2, =context  (opaque: the target's a1)
      ecall(), //                       ecall            (a0 = SBI error, ignored)
      li(A6, SBI_HSM_HART_STOP), //     li a6, 1         (FID: hart_stop; a7 is preserved)
      ecall(), //                       ecall            (does not return on success)
      jumpSelf(), //                    j .              (park if hart_stop failed)
    ],
    literals: [SBI_EXT_HSM, o.targetHwid, o.entry, o.context],
  };
}

/**
 * The RV64 monitor stub for `o` (little-endian, position independent). When
 * `selfHwid !== targetHwid` it calls SBI HSM hart_start(targetHwid, entry,
 * context), then hart_stop, then spins; otherwise it sets a0 = hartid, a1 =
 * context and jumps to `entry`. Throws an `Error` when a value is not an integer
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
