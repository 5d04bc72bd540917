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
const T0 = 5, T1 = 6, T2 = 7, A0 = 10, A1 = 11, A2 = 12, A6 = 16, A7 = 17;
/** ABI names of the registers above, as objdump prints them. */
const NAMES: Readonly<Record<number, string>> = {
  [T0]: "t0",
  [T1]: "t1",
  [T2]: "t2",
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

/**
 * `addi rd, rs, imm` for a 12-bit signed imm; objdump prints it as `mv rd,rs` when
 * imm is 0, else as `add rd,rs,imm`.
 */
function addi(rd: number, rs: number, imm: () => number): Line {
  return () => {
    const value = imm();
    if (value < -2048 || value > 2047) throw new Error(`addi immediate ${value} out of range`);
    const word = (((value & 0xfff) << 20) | (rs << 15) | (rd << 7) | 0x13) >>> 0;
    const text = value === 0 ? `mv ${reg(rd)},${reg(rs)}` : `add ${reg(rd)},${reg(rs)},${value}`;
    return { word, text };
  };
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

/** The branches used: `bne` and `beq`, by their funct3. */
const BRANCHES = { bne: 0b001, beq: 0b000 } as const;

/** `bne`/`beq rs1, rs2, <forward>`: branches `skip` instructions ahead of this one. */
function branchForward(op: keyof typeof BRANCHES, rs1: number, rs2: number, skip: number): Line {
  return (at) => {
    const offset = skip * 4;
    const imm = ((offset >> 12) & 1) << 31 | ((offset >> 5) & 0x3f) << 25 |
      ((offset >> 1) & 0xf) << 8 | ((offset >> 11) & 1) << 7;
    return {
      word: (imm | (rs2 << 20) | (rs1 << 15) | (BRANCHES[op] << 12) | 0x63) >>> 0,
      text: `${op} ${reg(rs1)},${reg(rs2)},${hex(at + offset)}`,
    };
  };
}

/** Throws unless every option is a non-negative integer a JS number holds exactly. */
function validate(o: StubOptions): void {
  const values: [string, number][] = [
    ["selfHwid", o.selfHwid],
    ["targetHwid", o.targetHwid],
    ["entry", o.entry],
    ["context", o.context],
    ...(o.idleHwids ?? []).map((h): [string, number] => ["idleHwids", h]),
  ];
  for (const [key, value] of values) {
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
  if (o.idleHwids?.includes(o.targetHwid)) {
    throw new Error(`riscv monitor stub: the target hart ${o.targetHwid} cannot also be idle`);
  }
}

/** The stub's code and literal pool, before encoding. */
const LAYOUT: PoolLayout = { size: 8, directive: ".dword", pad: nop() };

/** Literal pool slots: the target, its context and entry, the HSM EID, then the idle harts. */
const TARGET = 0, CONTEXT = 1, ENTRY = 2, HSM = 3, IDLE = 4;

/** Enters the kernel when the running hart (a0) is the target; else goes on 4 instructions on. */
function enterIfTarget(): Line[] {
  return [
    ldLiteral(T1, TARGET), //         ld t1, =hartid   (the target)
    branchForward("bne", A0, T1, 4), // bne a0, t1, 1f  (a0 = the running hart)
    ldLiteral(A1, CONTEXT), //        ld a1, =context  (the running hart is the target:
    ldLiteral(T1, ENTRY), //          ld t1, =entry     a0 = hartid already, a1 = DTB;
    jr(T1), //                        jr t1             enter the kernel)
  ];
}

/**
 * Starts each idle hart (but the running one) at `park`, with a1 = the HSM EID:
 * a hart OpenSBI left waiting with a stale software interrupt pending (its
 * coldboot wake-up IPI can arrive after the hart cleared it) never sleeps in
 * OpenSBI's `wfi` loop and burns a host CPU for as long as the partition runs.
 * Started, it takes that interrupt on its way to S-mode, and `park` stops it again.
 */
function parkIdle(idle: readonly number[], park: () => number): Line[] {
  return [
    addi(T2, A0, () => 0), //         mv t2, a0        (the running hart)
    ldLiteral(A7, HSM), //            ld a7, =0x48534d (EID: HSM)
    li(A6, SBI_HSM_HART_START), //    li a6, 0         (FID: hart_start)
    ldLiteral(A2, HSM), //            ld a2, =0x48534d (opaque: the parked hart's a1)
    ...idle.flatMap((_, i) => [
      ldLiteral(A0, IDLE + i), //     ld a0, =idle hart
      branchForward("beq", A0, T2, 3), // beq a0, t2, 2f (not the running hart)
      addi(A1, T0, park), //          addi a1, t0, park (start_addr)
      ecall(), //                     ecall            2:
    ]),
    addi(A0, T2, () => 0), //         mv a0, t2        (the running hart again)
  ];
}

/** Starts the target, then stops the running hart. */
function startTarget(): Line[] {
  return [
    ldLiteral(A7, HSM), //            ld a7, =0x48534d (EID: HSM)
    li(A6, SBI_HSM_HART_START), //    li a6, 0         (FID: hart_start)
    ldLiteral(A0, TARGET), //         ld a0, =hartid   (target hart)
    ldLiteral(A1, ENTRY), //          ld a1, =entry    (start_addr)
    ldLiteral(A2, CONTEXT), //        ld a2, =context  (opaque: the target's a1)
    ecall(), //                       ecall            (a0 = SBI error, ignored)
    li(A6, SBI_HSM_HART_STOP), //     li a6, 1         (FID: hart_stop; a7 is preserved)
    ecall(), //                       ecall            (does not return on success)
    jumpSelf(), //                    j .              (park if hart_stop failed)
  ];
}

/** Where a parked hart starts (a1 = the HSM EID): it stops itself. */
function parked(): Line[] {
  return [
    addi(A7, A1, () => 0), //         mv a7, a1        (EID: HSM)
    li(A6, SBI_HSM_HART_STOP), //     li a6, 1         (FID: hart_stop)
    ecall(), //                       ecall
    jumpSelf(), //                    j .
  ];
}

function program(o: StubOptions): { lines: Line[]; literals: number[] } {
  validate(o);
  const idle = o.idleHwids ?? [];
  const literals = [o.targetHwid, o.context, o.entry, SBI_EXT_HSM, ...idle];
  const base = auipc(T0); //          auipc t0, 0      (t0 = address of the stub)
  if (idle.length === 0) return { lines: [base, ...enterIfTarget(), ...startTarget()], literals };
  let park = 0;
  const lines = [base, ...parkIdle(idle, () => park), ...enterIfTarget(), ...startTarget()];
  park = lines.length * 4;
  return { lines: [...lines, ...parked()], literals };
}

/**
 * The RV64 monitor stub for `o` (little-endian, position independent). When the
 * hart running it (a0) first starts each of `idleHwids` (but itself) at a few
 * instructions that stop it again. Then, when it is not `targetHwid`, it calls SBI
 * HSM hart_start(targetHwid, entry, context), then hart_stop, then spins;
 * otherwise it sets a1 = context and jumps to `entry` (a0 = hartid). `selfHwid` is not used: OpenSBI's boot
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
