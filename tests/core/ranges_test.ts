import assert from "node:assert/strict";
import fc from "fast-check";
import type { Range } from "../../core/model.ts";
import { contains, formatRange, overlaps, rangeEnd, subtractRanges } from "../../core/ranges.ts";
import { MiB } from "../../core/units.ts";

const r = (base: number, size: number): Range => ({ base, size });

Deno.test("rangeEnd is the first address past the range", () => {
  assert.equal(rangeEnd(r(0x40000000, 256 * MiB)), 0x50000000);
  assert.equal(rangeEnd(r(7, 0)), 7);
});

Deno.test("formatRange prints an inclusive end", () => {
  assert.equal(formatRange(r(0x40000000, 256 * MiB)), "0x40000000-0x4fffffff");
  assert.equal(formatRange(r(0x80000000, 2 * MiB)), "0x80000000-0x801fffff");
});

Deno.test("overlaps: sharing one byte overlaps, touching does not", () => {
  assert.equal(overlaps(r(0, 10), r(9, 10)), true);
  assert.equal(overlaps(r(0, 10), r(10, 10)), false);
  assert.equal(overlaps(r(10, 10), r(0, 10)), false);
  assert.equal(overlaps(r(0, 100), r(40, 10)), true, "containment overlaps");
  assert.equal(overlaps(r(40, 10), r(0, 100)), true);
  assert.equal(overlaps(r(0, 10), r(0, 10)), true);
  assert.equal(overlaps(r(0, 10), r(100, 10)), false);
  assert.equal(overlaps(r(2 ** 32, 4096), r(2 ** 32 + 4095, 1)), true);
});

Deno.test("contains: inner at either edge is inside, crossing an edge is not", () => {
  assert.equal(contains(r(0, 100), r(0, 100)), true);
  assert.equal(contains(r(0, 100), r(0, 1)), true);
  assert.equal(contains(r(0, 100), r(99, 1)), true);
  assert.equal(contains(r(0, 100), r(99, 2)), false);
  assert.equal(contains(r(10, 100), r(9, 2)), false);
  assert.equal(contains(r(10, 10), r(0, 100)), false);
});

Deno.test("subtractRanges: the documented example", () => {
  assert.deepEqual(subtractRanges(r(0, 100), [r(10, 10)]), [r(0, 10), r(20, 80)]);
});

Deno.test("subtractRanges: no cut, a disjoint cut, a covering cut", () => {
  assert.deepEqual(subtractRanges(r(0, 100), []), [r(0, 100)]);
  assert.deepEqual(subtractRanges(r(0, 100), [r(100, 5), r(200, 5)]), [r(0, 100)]);
  assert.deepEqual(subtractRanges(r(10, 100), [r(0, 1000)]), []);
  assert.deepEqual(subtractRanges(r(10, 100), [r(10, 100)]), []);
});

Deno.test("subtractRanges: cuts at the edges, overlapping and unordered cuts", () => {
  assert.deepEqual(subtractRanges(r(0, 100), [r(0, 10)]), [r(10, 90)]);
  assert.deepEqual(subtractRanges(r(0, 100), [r(90, 50)]), [r(0, 90)]);
  assert.deepEqual(
    subtractRanges(r(0, 100), [r(70, 10), r(10, 10), r(15, 10), r(40, 5)]),
    [r(0, 10), r(25, 15), r(45, 25), r(80, 20)],
  );
});

Deno.test("subtractRanges: RAM minus the riscv reservations", () => {
  const ram = r(0x80000000, 2048 * MiB);
  assert.deepEqual(
    subtractRanges(ram, [r(0x80000000, 2 * MiB), r(0x80200000, 254 * MiB)]),
    [r(0x90000000, 1792 * MiB)],
  );
});

Deno.test("subtractRanges does not modify its arguments", () => {
  const from = r(0, 100);
  const cuts = [r(50, 10), r(10, 10)];
  subtractRanges(from, cuts);
  assert.deepEqual(from, r(0, 100));
  assert.deepEqual(cuts, [r(50, 10), r(10, 10)]);
});

/** Common checks: pieces are non-empty, sorted, disjoint, inside `from`, clear of every cut. */
function checkPieces(from: Range, cuts: readonly Range[], pieces: readonly Range[]): void {
  pieces.forEach((piece, i) => {
    assert.ok(piece.size > 0, `piece ${i} is not empty`);
    assert.ok(contains(from, piece), `piece ${i} lies inside from`);
    for (const cut of cuts) {
      assert.ok(!overlaps(piece, cut), `piece ${formatRange(piece)} overlaps ${formatRange(cut)}`);
    }
    if (i > 0) {
      assert.ok(rangeEnd(pieces[i - 1]) <= piece.base, "pieces are sorted and disjoint");
    }
  });
}

Deno.test("property: pieces stay inside `from`, clear every cut, and with the cuts cover `from` (byte by byte)", () => {
  const small = fc.record({
    base: fc.integer({ min: 0, max: 120 }),
    size: fc.integer({ min: 1, max: 60 }),
  });
  fc.assert(
    fc.property(small, fc.array(small, { maxLength: 8 }), (from, cuts) => {
      const pieces = subtractRanges(from, cuts);
      checkPieces(from, cuts, pieces);
      const inside = (byte: number, range: Range) => byte >= range.base && byte < rangeEnd(range);
      for (let byte = from.base; byte < rangeEnd(from); byte++) {
        const inPiece = pieces.filter((p) => inside(byte, p)).length;
        const inCut = cuts.some((c) => inside(byte, c));
        assert.equal(inPiece, inCut ? 0 : 1, `byte ${byte}: in ${inPiece} pieces, cut: ${inCut}`);
      }
    }),
    { seed: 42, numRuns: 1000 },
  );
});

Deno.test("property: at large addresses, piece bytes plus cut bytes inside `from` add up to `from`", () => {
  const PAGE = 4096;
  const big = fc.record({
    base: fc.integer({ min: 0, max: 2 ** 28 }).map((p) => p * PAGE),
    size: fc.integer({ min: 1, max: 2 ** 20 }).map((p) => p * PAGE),
  });
  fc.assert(
    fc.property(big, fc.array(big, { maxLength: 10 }), (from, cuts) => {
      const pieces = subtractRanges(from, cuts);
      checkPieces(from, cuts, pieces);
      // Bytes of `from` covered by the union of the cuts, by a sweep over clipped cuts.
      const clipped = cuts
        .map((c) => ({
          start: Math.max(c.base, from.base),
          end: Math.min(rangeEnd(c), rangeEnd(from)),
        }))
        .filter((c) => c.start < c.end)
        .sort((a, b) => a.start - b.start);
      let covered = 0;
      let reach = from.base;
      for (const c of clipped) {
        const start = Math.max(c.start, reach);
        if (c.end > start) covered += c.end - start;
        reach = Math.max(reach, c.end);
      }
      const pieceBytes = pieces.reduce((sum, p) => sum + p.size, 0);
      assert.equal(pieceBytes + covered, from.size);
    }),
    { seed: 42, numRuns: 1000 },
  );
});

Deno.test("property: with non-empty cuts, no two pieces touch (pieces are maximal)", () => {
  const small = fc.record({
    base: fc.integer({ min: 0, max: 120 }),
    size: fc.integer({ min: 1, max: 60 }),
  });
  fc.assert(
    fc.property(small, fc.array(small, { maxLength: 8 }), (from, cuts) => {
      const pieces = subtractRanges(from, cuts);
      for (let i = 1; i < pieces.length; i++) {
        assert.ok(rangeEnd(pieces[i - 1]) < pieces[i].base, "a cut byte separates pieces");
      }
    }),
    { seed: 42, numRuns: 500 },
  );
});

Deno.test("property: overlaps is symmetric and agrees with a byte-level definition", () => {
  const small = fc.record({
    base: fc.integer({ min: 0, max: 50 }),
    size: fc.integer({ min: 1, max: 30 }),
  });
  fc.assert(
    fc.property(small, small, (a, b) => {
      assert.equal(overlaps(a, b), overlaps(b, a));
      let shared = false;
      for (let byte = a.base; byte < rangeEnd(a); byte++) {
        if (byte >= b.base && byte < rangeEnd(b)) shared = true;
      }
      assert.equal(overlaps(a, b), shared);
      const inner = contains(a, b);
      assert.equal(inner, b.base >= a.base && rangeEnd(b) <= rangeEnd(a));
      if (inner) assert.ok(overlaps(a, b));
    }),
    { seed: 42, numRuns: 500 },
  );
});
