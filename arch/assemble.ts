/**
 * The small assembler the monitor stubs share: a program of 4-byte instructions
 * that may refer to a literal pool placed after the code, encoded little-endian,
 * with an objdump-style listing.
 *
 * @module
 */

/** One encoded instruction and how objdump prints it. */
export interface Insn {
  /** The 32-bit encoding. */
  word: number;
  /** Mnemonic and operands, objdump style. */
  text: string;
}

/** An instruction that may refer to the literal pool: made once the pool's place is known. */
export type Line = (at: number, pool: number) => Insn;

/** A program: its instructions and its literal pool values. */
export interface Program {
  /** Instructions, in order. */
  lines: Line[];
  /** Literal pool values, in order. */
  literals: number[];
}

/** How one ISA lays out its pool. */
export interface PoolLayout {
  /** Bytes per literal: 4 (`.word`) or 8 (`.quad`, `.dword`). */
  size: 4 | 8;
  /** The listing's directive for a literal. */
  directive: string;
  /** An instruction to pad the code with up to the pool's alignment, when it needs one. */
  pad?: Line;
}

/** `0x…` as objdump prints values. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** Encodes a program: code (padded to the pool's alignment), then the literal pool. */
export function assemble(
  program: Program,
  layout: PoolLayout,
): { bytes: Uint8Array; listing: string[] } {
  const lines = [...program.lines];
  if (layout.pad && (lines.length * 4) % layout.size !== 0) lines.push(layout.pad);
  const pool = lines.length * 4;
  const bytes = new Uint8Array(pool + program.literals.length * layout.size);
  const view = new DataView(bytes.buffer);
  const listing: string[] = [];
  lines.forEach((line, i) => {
    const insn = line(i * 4, pool);
    view.setUint32(i * 4, insn.word, true);
    listing.push(insn.text);
  });
  program.literals.forEach((value, i) => {
    if (layout.size === 8) view.setBigUint64(pool + i * 8, BigInt(value), true);
    else view.setUint32(pool + i * 4, value, true);
    listing.push(`${layout.directive} ${hex(value)}`);
  });
  return { bytes, listing };
}
