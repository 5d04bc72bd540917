/**
 * Arithmetic on physical address ranges.
 *
 * @module
 */
import type { Range } from "./model.ts";
import { formatHex } from "./units.ts";

/** The first address past the range. */
export function rangeEnd(range: Range): number {
  return range.base + range.size;
}

/** True when the two ranges share at least one byte. */
export function overlaps(a: Range, b: Range): boolean {
  return a.size > 0 && b.size > 0 && a.base < rangeEnd(b) && b.base < rangeEnd(a);
}

/** True when `inner` lies wholly inside `outer`. */
export function contains(outer: Range, inner: Range): boolean {
  return inner.base >= outer.base && rangeEnd(inner) <= rangeEnd(outer);
}

/** `0x40000000-0x4fffffff` (inclusive end, as people read ranges). */
export function formatRange(range: Range): string {
  return `${formatHex(range.base)}-${formatHex(rangeEnd(range) - 1)}`;
}

/**
 * The parts of `from` not covered by any of `minus`, in address order.
 *
 * @example
 * ```ts
 * subtractRanges({ base: 0, size: 100 }, [{ base: 10, size: 10 }]);
 * // [{ base: 0, size: 10 }, { base: 20, size: 80 }]
 * ```
 */
export function subtractRanges(from: Range, minus: readonly Range[]): Range[] {
  let pieces: Range[] = [from];
  for (const cut of minus) {
    pieces = pieces.flatMap((piece) => {
      if (!overlaps(piece, cut)) return [piece];
      const out: Range[] = [];
      if (cut.base > piece.base) out.push({ base: piece.base, size: cut.base - piece.base });
      if (rangeEnd(cut) < rangeEnd(piece)) {
        out.push({ base: rangeEnd(cut), size: rangeEnd(piece) - rangeEnd(cut) });
      }
      return out;
    });
  }
  return pieces.sort((a, b) => a.base - b.base);
}

/** The ranges in address order, those that overlap or touch merged (copies; the input is kept). */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const r of [...ranges].sort((a, b) => a.base - b.base)) {
    const last = out.at(-1);
    if (last && r.base <= last.base + last.size) {
      last.size = Math.max(last.size, r.base + r.size - last.base);
    } else out.push({ ...r });
  }
  return out;
}
