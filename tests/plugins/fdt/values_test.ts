import assert from "node:assert/strict";
import fc from "fast-check";
import {
  cells,
  empty,
  FdtError,
  type FdtErrorCode,
  readCells,
  readString,
  readStrings,
  readU32s,
  str,
  strs,
  u32,
  u64,
} from "../../../plugins/fdt/mod.ts";

function throwsCode(run: () => unknown, code: FdtErrorCode): void {
  assert.throws(run, (error: unknown) => error instanceof FdtError && error.code === code);
}

const bytes = (...list: number[]) => new Uint8Array(list);

Deno.test("u32/u64 encode big-endian cells; negatives as two's complement", () => {
  assert.deepEqual(u32(1, 0x40000000), bytes(0, 0, 0, 1, 0x40, 0, 0, 0));
  assert.deepEqual(u32(), bytes());
  assert.deepEqual(u32(-1), bytes(0xff, 0xff, 0xff, 0xff));
  assert.deepEqual(u64(0x1_2345_6789), bytes(0, 0, 0, 1, 0x23, 0x45, 0x67, 0x89));
  assert.deepEqual(u64(0xffffffffffffffffn), new Uint8Array(8).fill(0xff));
  throwsCode(() => u32(0x1_0000_0000), "bad-value");
  throwsCode(() => u32(1.5), "bad-value");
  throwsCode(() => u64(2 ** 64), "bad-value");
  throwsCode(() => u64(1n << 64n), "bad-value");
});

Deno.test("cells encodes each value in its cell count, cycling sizes over entries", () => {
  assert.deepEqual(
    cells([0x40000000n, 0x20000000], [2, 1]),
    bytes(0, 0, 0, 0, 0x40, 0, 0, 0, 0x20, 0, 0, 0),
  );
  assert.deepEqual(cells([1, 2, 3, 4], [1, 1]), u32(1, 2, 3, 4));
  assert.deepEqual(cells([5, 0], [1, 0]), u32(5));
  throwsCode(() => cells([1, 2, 3], [2, 2]), "bad-value");
  throwsCode(() => cells([0x1_0000_0000], [1]), "bad-value");
  throwsCode(() => cells([1], [0]), "bad-value");
  throwsCode(() => cells([1], [5]), "bad-value");
});

Deno.test("readCells splits a value into entries of the given sizes", () => {
  const reg = cells([0x40000000n, 0x80000000n, 0x1_0000_0000n, 0x1000n], [2, 2]);
  assert.deepEqual(readCells(reg, [2, 2]), [[0x40000000n, 0x80000000n], [0x1_0000_0000n, 0x1000n]]);
  assert.deepEqual(readCells(u32(3), [1, 0]), [[3n, 0n]]);
  assert.deepEqual(readCells(empty(), [2, 2]), []);
  throwsCode(() => readCells(u32(1, 2, 3), [2, 2]), "bad-value");
  throwsCode(() => readCells(bytes(1, 2), [1]), "bad-value");
  throwsCode(() => readCells(u32(1), [0]), "bad-value");
});

Deno.test("cells and readCells are inverse for any sizes and values", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }).filter((s) =>
        s.some((n) => n > 0)
      ),
      fc.integer({ min: 0, max: 4 }),
      fc.infiniteStream(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n })),
      (sizes, groups, stream) => {
        const entries: bigint[][] = [];
        const iterator = stream[Symbol.iterator]();
        for (let g = 0; g < groups; g++) {
          entries.push(sizes.map((n) => BigInt.asUintN(n * 32, iterator.next().value)));
        }
        const value = cells(entries.flat(), sizes);
        assert.equal(value.length, groups * sizes.reduce((a, b) => a + b, 0) * 4);
        assert.deepEqual(readCells(value, sizes), entries);
      },
    ),
    { seed: 17, numRuns: 300 },
  );
});

Deno.test("str/strs make NUL-terminated strings; readString(s) read them back", () => {
  assert.deepEqual(str("ok"), bytes(0x6f, 0x6b, 0));
  assert.deepEqual(strs(["a", "", "bc"]), bytes(0x61, 0, 0, 0x62, 0x63, 0));
  assert.deepEqual(strs([]), bytes());
  assert.equal(readString(strs(["first", "second"])), "first");
  assert.deepEqual(readStrings(strs(["arm,psci-1.0", "arm,psci-0.2"])), [
    "arm,psci-1.0",
    "arm,psci-0.2",
  ]);
  assert.deepEqual(readStrings(empty()), []);
  assert.deepEqual(readStrings(strs(["µ", ""])), ["µ", ""]);
  throwsCode(() => str("a\0b"), "bad-value");
  throwsCode(() => readString(bytes(0x61)), "bad-value");
  throwsCode(() => readStrings(bytes(0x61, 0, 0x62)), "bad-value");
});

Deno.test("readU32s reads cells and refuses a length not a multiple of 4", () => {
  assert.deepEqual(readU32s(u32(1, 0xffffffff)), [1, 0xffffffff]);
  assert.deepEqual(readU32s(u32(7, 8).subarray(4)), [8], "honours byteOffset");
  throwsCode(() => readU32s(bytes(1, 2, 3)), "bad-value");
  assert.equal(empty().length, 0);
});
