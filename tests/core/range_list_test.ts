import assert from "node:assert/strict";
import {
  MAX_RANGE_LIST_RANGES,
  MAX_RANGE_LIST_TEXT,
  parseRangeList,
  RangeListError,
} from "../../core/range_list.ts";
import { GiB, MiB } from "../../core/units.ts";

Deno.test("a range list reads BASE+SIZE parts with the project's address and size parsers", () => {
  assert.deepEqual(parseRangeList("0x40000000+1G", "--memory"), [{ base: 0x40000000, size: GiB }]);
  assert.deepEqual(parseRangeList("0x0+0x3b400000, 0x40000000+3008M"), [
    { base: 0, size: 0x3b400000 },
    { base: 0x40000000, size: 3008 * MiB },
  ]);
  assert.deepEqual(parseRangeList("1073741824+512MiB"), [{ base: GiB, size: 512 * MiB }]);
});

Deno.test("a bad range list is refused with one line naming the part and where", () => {
  const cases: [string, RegExp][] = [
    ["0x40000000", /'0x40000000' is not a range: give BASE\+SIZE/],
    ["+1G", /'\+1G' is not a range/],
    ["0x0+", /'0x0\+' is not a range/],
    ["x+1G", /range 'x\+1G': 'x' is not an address/],
    ["0x0+1Q", /range '0x0\+1Q': size '1Q' has an unknown unit 'Q'/],
    ["0x0+0", /range '0x0\+0' has a size of 0/],
    ["0x0+1G,", /'' is not a range/],
    ["0x1fffffffffffff+2", /ends past 2\^53/],
    ["0x0+1G,0x20000000+1G", /overlaps 0x00000000-0x3fffffff in the list/],
    [Array(MAX_RANGE_LIST_RANGES + 1).fill("0x0+1").join(","), /more than 256 ranges/],
    ["0".repeat(MAX_RANGE_LIST_TEXT + 1), /longer than 16384 characters/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseRangeList(text, "--memory"), (error: unknown) => {
      assert.ok(error instanceof RangeListError, text.slice(0, 40));
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n/);
      assert.equal(error.where, "--memory");
      return true;
    });
  }
});
