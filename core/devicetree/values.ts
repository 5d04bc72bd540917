/**
 * Property value encoders and decoders. Device tree values are big-endian 32-bit
 * cells, NUL-terminated strings and string lists, raw bytes or nothing (a boolean
 * property). Encoders check their input and throw {@linkcode FdtError} `bad-value`
 * rather than silently truncating.
 *
 * @example
 * ```ts
 * import { cells, readCells, str } from "./values.ts";
 * const reg = cells([0x40000000n, 0x20000000n], [2, 2]); // <0x00 0x40000000 0x00 0x20000000>
 * readCells(reg, [2, 2]); // [[0x40000000n, 0x20000000n]]
 * str("okay"); // "okay\0"
 * ```
 * @module
 */
import { FdtError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest cell count per value that {@linkcode cells} and {@linkcode readCells} handle. */
export const MAX_CELLS_PER_VALUE = 4;

function checkU32(cell: number): number {
  if (!Number.isInteger(cell) || cell < -0x80000000 || cell > 0xffffffff) {
    throw new FdtError("bad-value", `cell ${cell} is not a 32-bit integer`);
  }
  return cell >>> 0;
}

function checkWide(value: number | bigint, count: number): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new FdtError("bad-value", `value ${value} is not a safe integer`);
  }
  const big = BigInt(value);
  const bits = BigInt(count * 32);
  if (big >= 1n << bits || big < -(1n << (bits - 1n)) || (count === 0 && big !== 0n)) {
    throw new FdtError("bad-value", `value ${value} does not fit in ${count} cell(s)`);
  }
  return BigInt.asUintN(count * 32, big);
}

function checkSizes(sizes: number[]): number {
  let total = 0;
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 0 || size > MAX_CELLS_PER_VALUE) {
      throw new FdtError("bad-value", `cell count ${size} is not 0..${MAX_CELLS_PER_VALUE}`);
    }
    total += size;
  }
  return total;
}

/**
 * Big-endian 32-bit cells: `u32(1, 2)` is `<0x01 0x02>`. Each cell is an integer in
 * [-2^31, 2^32); negatives are stored as two's complement (`u32(-1)` is 0xffffffff).
 */
export function u32(...cells: number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < cells.length; i++) view.setUint32(i * 4, checkU32(cells[i]));
  return out;
}

/** A 64-bit value as two big-endian cells (high first); negatives as two's complement. */
export function u64(value: number | bigint): Uint8Array {
  return cells([value], [2]);
}

/**
 * Values of several cells each, e.g. a `reg` with `#address-cells` 2 and
 * `#size-cells` 1: `cells([addr, size], [2, 1])`. Value `i` takes
 * `sizes[i % sizes.length]` cells (0 to 4; 0 cells only hold the value 0), so several
 * entries can be given at once: `cells([a0, s0, a1, s1], [2, 2])`. The number of values
 * must be a multiple of `sizes.length`.
 */
export function cells(values: (number | bigint)[], sizes: number[]): Uint8Array {
  const perGroup = checkSizes(sizes);
  if (sizes.length === 0 ? values.length > 0 : values.length % sizes.length !== 0) {
    throw new FdtError(
      "bad-value",
      `${values.length} value(s) do not fill groups of ${sizes.length} (sizes ${sizes.join(",")})`,
    );
  }
  const groups = sizes.length === 0 ? 0 : values.length / sizes.length;
  const out = new Uint8Array(groups * perGroup * 4);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (let i = 0; i < values.length; i++) {
    const count = sizes[i % sizes.length];
    const big = checkWide(values[i], count);
    for (let c = count - 1; c >= 0; c--) {
      view.setUint32(pos, Number((big >> BigInt(c * 32)) & 0xffffffffn));
      pos += 4;
    }
  }
  return out;
}

/** A NUL-terminated UTF-8 string; the text must not contain NUL. */
export function str(text: string): Uint8Array {
  return strs([text]);
}

/** A string list (`"a", "b"` in DTS): each string UTF-8 and NUL-terminated; none may contain NUL. */
export function strs(list: string[]): Uint8Array {
  const parts = list.map((text) => {
    if (text.includes("\0")) {
      throw new FdtError("bad-value", `string ${JSON.stringify(text)} contains NUL`);
    }
    return encoder.encode(text);
  });
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length + 1, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length + 1;
  }
  return out;
}

/** The value of a boolean (present, valueless) property. */
export function empty(): Uint8Array {
  return new Uint8Array(0);
}

/** The big-endian u32 cells of a value; its length must be a multiple of 4. */
export function readU32s(value: Uint8Array): number[] {
  if (value.length % 4 !== 0) {
    throw new FdtError("bad-value", `length ${value.length} is not a multiple of 4`);
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out = new Array<number>(value.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4);
  return out;
}

/** The first string of a value; the value must contain a NUL. */
export function readString(value: Uint8Array): string {
  const end = value.indexOf(0);
  if (end < 0) throw new FdtError("bad-value", "string value is not NUL-terminated");
  return decoder.decode(value.subarray(0, end));
}

/** Every string of a string-list value (`[]` for an empty value); it must end in NUL. */
export function readStrings(value: Uint8Array): string[] {
  if (value.length === 0) return [];
  if (value[value.length - 1] !== 0) {
    throw new FdtError("bad-value", "string list value is not NUL-terminated");
  }
  return decoder.decode(value.subarray(0, value.length - 1)).split("\0");
}

/**
 * Every string of a string-list value, without throwing: `[]` for no value or one
 * that is not a string list (no final NUL).
 */
export function stringsOf(value: Uint8Array | undefined): string[] {
  return value !== undefined && value[value.length - 1] === 0 ? readStrings(value) : [];
}

/**
 * Splits a value into entries of `sizes` cells each: `readCells(reg, [2, 2])` gives
 * `[[address, size], ...]`, one array per entry. A size of 0 cells reads as `0n`
 * (e.g. `[1, 0]` for a cpu `reg` under `#size-cells = <0>`). Throws `bad-value` when
 * the length is not a whole number of entries.
 */
export function readCells(value: Uint8Array, sizes: number[]): bigint[][] {
  const perGroup = checkSizes(sizes);
  if (value.length === 0) return [];
  if (perGroup === 0 || value.length % (perGroup * 4) !== 0) {
    throw new FdtError(
      "bad-value",
      `length ${value.length} is not a multiple of ${perGroup} cell(s) (sizes ${sizes.join(",")})`,
    );
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: bigint[][] = [];
  let pos = 0;
  while (pos < value.length) {
    const group: bigint[] = [];
    for (const count of sizes) {
      let big = 0n;
      for (let c = 0; c < count; c++) {
        big = (big << 32n) | BigInt(view.getUint32(pos));
        pos += 4;
      }
      group.push(big);
    }
    out.push(group);
  }
  return out;
}
