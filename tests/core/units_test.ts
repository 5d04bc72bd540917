import assert from "node:assert/strict";
import fc from "fast-check";
import { EXIT_USAGE, InputError } from "../../core/errors.ts";
import {
  alignUp,
  formatHex,
  formatSize,
  GiB,
  isAligned,
  KiB,
  MiB,
  parseAddress,
  parseSize,
} from "../../core/units.ts";

const TiB = 1024 * GiB;

/** Asserts that `run` throws an InputError with exit code 2 and a one-line message. */
function assertInputError(run: () => unknown, where?: string): InputError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  assert.equal(caught.exitCode, EXIT_USAGE);
  assert.equal(caught.exitCode, 2);
  assert.ok(!caught.message.includes("\n"), "the message is one line");
  if (where !== undefined) assert.equal(caught.where, where);
  return caught;
}

Deno.test("unit constants are binary", () => {
  assert.equal(KiB, 1024);
  assert.equal(MiB, 1024 * 1024);
  assert.equal(GiB, 1024 * 1024 * 1024);
});

Deno.test("parseSize reads the documented forms: 512M, 512MiB, 1G, 0x20000000, decimal", () => {
  const cases: [string, number][] = [
    ["512M", 512 * MiB],
    ["512MiB", 512 * MiB],
    ["512mib", 512 * MiB],
    ["512MB", 512 * MiB],
    ["512 MiB", 512 * MiB],
    ["1G", GiB],
    ["1GiB", GiB],
    ["1gb", GiB],
    ["4K", 4 * KiB],
    ["4KiB", 4 * KiB],
    ["2T", 2 * TiB],
    ["2TiB", 2 * TiB],
    ["512B", 512],
    ["512b", 512],
    ["0x20000000", 0x20000000],
    ["0X20000000", 0x20000000],
    ["0xdeadBEEF", 0xdeadbeef],
    ["268435456", 268435456],
    ["0", 0],
    ["0x0", 0],
    ["  1G  ", GiB],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseSize(text), expected, `parseSize(${JSON.stringify(text)})`);
  }
});

Deno.test("parseSize accepts non-negative safe integers given as numbers", () => {
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
});

Deno.test("parseSize refuses malformed sizes with InputError, exit code 2", () => {
  const bad = [
    "12Q",
    "-1",
    "",
    "   ",
    "0x",
    "1.5G",
    "1.5",
    "G",
    "M512",
    "0x1G",
    "0xZZ",
    "1e3",
    "1 G B",
    "abc",
    "0b101",
    "+5",
    "12 Q",
    "5KiBs",
  ];
  for (const text of bad) {
    const error = assertInputError(() => parseSize(text), "size");
    assert.ok(
      error.message.includes(`'${text}'`),
      `the message names the input ${JSON.stringify(text)}: ${error.message}`,
    );
  }
});

Deno.test("parseSize refuses numbers that are negative, fractional or not finite", () => {
  for (const value of [-1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assertInputError(() => parseSize(value));
  }
});

Deno.test("parseSize refuses values beyond 2^53-1 instead of rounding them", () => {
  assertInputError(() => parseSize("9007199254740992"));
  assertInputError(() => parseSize("0x20000000000000"));
  assertInputError(() => parseSize("99999999T"));
  assertInputError(() => parseSize("99999999999999999999"));
  assert.equal(parseSize("9007199254740991"), Number.MAX_SAFE_INTEGER);
});

Deno.test("parseSize names the option it was given in `where` and in line()", () => {
  const error = assertInputError(() => parseSize("12Q", "--memory"), "--memory");
  assert.match(error.message, /unknown unit 'Q'/);
  assert.equal(error.line(), `${error.message} (--memory)`);
});

Deno.test("parseAddress reads hex and decimal addresses", () => {
  assert.equal(parseAddress("0x60000000"), 0x60000000);
  assert.equal(parseAddress("0X60000000"), 0x60000000);
  assert.equal(parseAddress("0x1_0000_0000".replaceAll("_", "")), 2 ** 32);
  assert.equal(parseAddress("1610612736"), 0x60000000);
  assert.equal(parseAddress(" 0x10 "), 16);
  assert.equal(parseAddress("0"), 0);
  assert.equal(parseAddress(0x80000000), 0x80000000);
});

Deno.test("parseAddress refuses units, signs, fractions and empty input", () => {
  for (const text of ["", "0x", "-1", "1M", "1.5", "0xg", "0x-1", "address", "1e9", "0x1p3"]) {
    const error = assertInputError(() => parseAddress(text, "--memory-base"), "--memory-base");
    assert.ok(error.message.includes(`'${text}'`), error.message);
  }
  for (const value of [-4096, 0.5, NaN, 2 ** 53]) assertInputError(() => parseAddress(value));
  assertInputError(() => parseAddress("0x20000000000000"), "address");
});

Deno.test("property: decimal and hex spellings of a safe integer parse back to it", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      assert.equal(parseSize(String(n)), n);
      assert.equal(parseSize(`0x${n.toString(16)}`), n);
      assert.equal(parseAddress(String(n)), n);
      assert.equal(parseAddress(formatHex(n)), n);
      assert.equal(parseAddress(formatHex(n, 16).toUpperCase().replace("0X", "0x")), n);
    }),
    { seed: 42, numRuns: 500 },
  );
});

Deno.test("property: k with a unit suffix is k times the unit", () => {
  const units: [string, number][] = [["K", KiB], ["M", MiB], ["G", GiB], ["T", TiB]];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4095 }), fc.constantFrom(...units), (k, [u, factor]) => {
      assert.equal(parseSize(`${k}${u}`), k * factor);
      assert.equal(parseSize(`${k}${u}iB`), k * factor);
      assert.equal(parseSize(`${k} ${u.toLowerCase()}ib`), k * factor);
    }),
    { seed: 42, numRuns: 300 },
  );
});

Deno.test("formatSize uses the largest binary unit", () => {
  assert.equal(formatSize(0), "0 B");
  assert.equal(formatSize(1), "1 B");
  assert.equal(formatSize(1023), "1023 B");
  assert.equal(formatSize(1024), "1 KiB");
  assert.equal(formatSize(1536), "1.5 KiB");
  assert.equal(formatSize(2 * MiB), "2 MiB");
  assert.equal(formatSize(256 * MiB), "256 MiB");
  assert.equal(formatSize(512 * MiB), "512 MiB");
  assert.equal(formatSize(GiB), "1 GiB");
  assert.equal(formatSize(1.5 * GiB), "1.5 GiB");
  assert.equal(formatSize(1.75 * GiB), "1.75 GiB");
  assert.equal(formatSize(2 * TiB), "2 TiB");
});

Deno.test("property: formatSize of k units (k < 1024) parses back with parseSize", () => {
  const units = [1, KiB, MiB, GiB];
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1023 }), fc.constantFrom(...units), (k, factor) => {
      const text = formatSize(k * factor);
      assert.match(text, /^\d+ (B|KiB|MiB|GiB)$/);
      assert.equal(parseSize(text), k * factor);
    }),
    { seed: 42, numRuns: 300 },
  );
});

Deno.test("formatHex pads to 8 digits (or the given count) in lowercase", () => {
  assert.equal(formatHex(0), "0x00000000");
  assert.equal(formatHex(0x1000), "0x00001000");
  assert.equal(formatHex(0x40000000), "0x40000000");
  assert.equal(formatHex(0xdeadbeef), "0xdeadbeef");
  assert.equal(formatHex(0x100000000), "0x100000000");
  assert.equal(formatHex(0x1f, 4), "0x001f");
  assert.equal(formatHex(0x1f, 0), "0x1f");
});

Deno.test("alignUp rounds up to the alignment and keeps aligned values", () => {
  assert.equal(alignUp(0, 2 * MiB), 0);
  assert.equal(alignUp(1, 4096), 4096);
  assert.equal(alignUp(4095, 4096), 4096);
  assert.equal(alignUp(4096, 4096), 4096);
  assert.equal(alignUp(4097, 4096), 8192);
  assert.equal(alignUp(0x40001000, 2 * MiB), 0x40200000);
  assert.equal(alignUp(0x90000000, 2 * MiB), 0x90000000);
  assert.equal(alignUp(2 ** 40 + 1, 2 * MiB), 2 ** 40 + 2 * MiB);
});

Deno.test("property: alignUp gives the least multiple of the alignment not below the value", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 44 }),
      fc.integer({ min: 0, max: 21 }),
      (value, shift) => {
        const alignment = 2 ** shift;
        const up = alignUp(value, alignment);
        assert.ok(up >= value);
        assert.ok(up - value < alignment);
        assert.ok(isAligned(up, alignment));
        assert.equal(isAligned(value, alignment), up === value);
      },
    ),
    { seed: 42, numRuns: 500 },
  );
});
