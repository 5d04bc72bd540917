/**
 * Address range lists as users write them — `0x40000000+1G`,
 * `0x0+0x3b400000,0x40000000+0xbc000000` — for `board import --memory`: each part
 * `BASE+SIZE`, the base read by {@linkcode parseAddress} and the size by
 * {@linkcode parseSize}, so `0x80000000+2G` and `2147483648+0x80000000` mean the
 * same. (Core lists such as `1,3-5` have their own parser, core/cpu_list.ts.)
 *
 * Everything is bounded before it is converted: the text is read up to
 * {@linkcode MAX_RANGE_LIST_TEXT} characters and at most
 * {@linkcode MAX_RANGE_LIST_RANGES} parts; the first problem in the text is the
 * one reported, naming the part.
 *
 * @example
 * ```ts
 * import { parseRangeList } from "./range_list.ts";
 * parseRangeList("0x40000000+1G", "--memory"); // [{ base: 0x40000000, size: 0x40000000 }]
 * ```
 * @module
 */
import { clip, InputError } from "./errors.ts";
import type { Range } from "./model.ts";
import { formatRange, overlaps } from "./ranges.ts";
import { parseAddress, parseSize } from "./units.ts";

/** Most ranges a list may name. */
export const MAX_RANGE_LIST_RANGES = 256;
/** Longest list text read, in characters: 16 KiB (256 ranges of 64 characters). */
export const MAX_RANGE_LIST_TEXT = 16 * 1024;

/** A range list that cannot be read: names the part at fault. Exit 2. */
export class RangeListError extends InputError {}

/**
 * Reads `BASE+SIZE[,BASE+SIZE…]` into ranges, in the order given. Throws
 * {@linkcode RangeListError} (`where` as given) for text longer than
 * {@linkcode MAX_RANGE_LIST_TEXT}, more than {@linkcode MAX_RANGE_LIST_RANGES}
 * parts, a part that is not `BASE+SIZE`, a bad base or size, a size of 0, a range
 * past 2^53, or two ranges that overlap.
 *
 * @param text The list.
 * @param where Where the list came from, for the error line (`--memory`).
 */
export function parseRangeList(text: string, where?: string): Range[] {
  if (text.length > MAX_RANGE_LIST_TEXT) {
    throw new RangeListError(
      `the range list is longer than ${MAX_RANGE_LIST_TEXT} characters`,
      where,
    );
  }
  const parts = text.split(",", MAX_RANGE_LIST_RANGES + 1);
  if (parts.length > MAX_RANGE_LIST_RANGES) {
    throw new RangeListError(
      `the range list has more than ${MAX_RANGE_LIST_RANGES} ranges`,
      where,
    );
  }
  const ranges: Range[] = [];
  for (const raw of parts) {
    const range = parseRangePart(raw.trim(), where);
    const other = ranges.find((r) => overlaps(r, range));
    if (other) {
      throw new RangeListError(
        `range ${formatRange(range)} overlaps ${formatRange(other)} in the list`,
        where,
      );
    }
    ranges.push(range);
  }
  return ranges;
}

/** One `BASE+SIZE` part. */
function parseRangePart(part: string, where: string | undefined): Range {
  const plus = part.indexOf("+");
  if (plus <= 0 || plus === part.length - 1) {
    throw new RangeListError(
      `'${clip(part, 40)}' is not a range: give BASE+SIZE, e.g. 0x40000000+1G`,
      where,
    );
  }
  const what = `range '${clip(part, 40)}'`;
  const base = reword(() => parseAddress(part.slice(0, plus), "base"), what, where);
  const size = reword(() => parseSize(part.slice(plus + 1), "size"), what, where);
  if (size === 0) throw new RangeListError(`${what} has a size of 0`, where);
  if (!Number.isSafeInteger(base + size)) {
    throw new RangeListError(`${what} ends past 2^53, beyond what vmanager handles`, where);
  }
  return { base, size };
}

/** Runs a units parser, its one-line message prefixed with the part and placed at `where`. */
function reword(parse: () => number, what: string, where: string | undefined): number {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new RangeListError(`${what}: ${error.message}`, where);
  }
}
