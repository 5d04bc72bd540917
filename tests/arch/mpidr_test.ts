import assert from "node:assert/strict";
import fc from "fast-check";
import { affinityOf, describeMpidr, mpidrProblem } from "../../arch/arm/mpidr.ts";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { checkPlugin, PLUGIN_API_VERSION } from "../../core/registry/mod.ts";

const byte = fc.integer({ min: 0, max: 0xff });

/** Builds an MPIDR value from its affinity levels. */
function mpidrOf(aff3: number, aff2: number, aff1: number, aff0: number): number {
  return aff3 * 2 ** 32 + ((aff2 << 16) | (aff1 << 8) | aff0);
}

Deno.test("affinityOf splits Aff3..Aff0", () => {
  assert.deepEqual(affinityOf(0), { aff3: 0, aff2: 0, aff1: 0, aff0: 0 });
  assert.deepEqual(affinityOf(0x102), { aff3: 0, aff2: 0, aff1: 1, aff0: 2 });
  assert.deepEqual(affinityOf(0x30201), { aff3: 0, aff2: 3, aff1: 2, aff0: 1 });
  assert.deepEqual(affinityOf(0x7f_00ff0102), { aff3: 0x7f, aff2: 0xff, aff1: 1, aff0: 2 });
});

Deno.test("property: affinityOf inverts the composition of four affinity bytes", () => {
  fc.assert(
    fc.property(byte, byte, byte, byte, (a3, a2, a1, a0) => {
      const mpidr = mpidrOf(a3, a2, a1, a0);
      assert.deepEqual(affinityOf(mpidr), { aff3: a3, aff2: a2, aff1: a1, aff0: a0 });
      assert.equal(mpidrProblem(mpidr, true), undefined, "every affinity value is valid AArch64");
      assert.equal(mpidrProblem(mpidr, false) === undefined, a3 === 0, "armv7 needs Aff3 = 0");
    }),
    { seed: 42, numRuns: 500 },
  );
});

Deno.test("mpidrProblem refuses values that are not non-negative integers", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    for (const withAff3 of [true, false]) {
      const problem = mpidrProblem(bad, withAff3);
      assert.ok(problem, `${bad} is refused`);
      assert.match(problem, /not a non-negative integer/);
    }
  }
});

Deno.test("mpidrProblem refuses bits 31:24 on both Arm profiles", () => {
  for (const value of [0x01000000, 0x80000000, 0xff000000, 0x81000001]) {
    for (const withAff3 of [true, false]) {
      const problem = mpidrProblem(value, withAff3);
      assert.ok(problem, `0x${value.toString(16)} refused (withAff3 ${withAff3})`);
      assert.match(problem, /bits 31:24/);
      assert.ok(problem.includes(`0x${value.toString(16)}`), problem);
    }
  }
});

Deno.test("mpidrProblem: 32-bit Arm refuses Aff3, AArch64 refuses bits above 39", () => {
  assert.match(mpidrProblem(2 ** 32, false)!, /above 23/);
  assert.equal(mpidrProblem(2 ** 32, true), undefined);
  assert.equal(mpidrProblem(0xff * 2 ** 32 + 0xffffff, true), undefined);
  assert.match(mpidrProblem(2 ** 40, true)!, /above 39/);
  assert.match(mpidrProblem(2 ** 40, false)!, /above 23/);
  assert.equal(mpidrProblem(0xffffff, false), undefined);
  assert.equal(mpidrProblem(0, false), undefined);
});

Deno.test("property: validity of any safe integer matches the bit layout", () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 42 }), fc.maxSafeNat()), (n) => {
      const high = Math.floor(n / 2 ** 32);
      const low = n % 2 ** 32;
      const v8ok = high <= 0xff && low < 2 ** 24;
      const v7ok = n < 2 ** 24;
      assert.equal(mpidrProblem(n, true) === undefined, v8ok, `armv8 0x${n.toString(16)}`);
      assert.equal(mpidrProblem(n, false) === undefined, v7ok, `armv7 0x${n.toString(16)}`);
      assert.equal(armv8().validateCoreId(n) === undefined, v8ok);
      assert.equal(armv7().validateCoreId(n) === undefined, v7ok);
      assert.equal(riscv().validateCoreId(n), undefined, "any hartid is valid");
    }),
    { seed: 42, numRuns: 1000 },
  );
});

Deno.test("describeMpidr names Aff0 and only the levels from the highest non-zero one down", () => {
  assert.equal(describeMpidr(0), "MPIDR 0x0 (Aff0 0)");
  assert.equal(describeMpidr(3), "MPIDR 0x3 (Aff0 3)");
  assert.equal(describeMpidr(0x102), "MPIDR 0x102 (Aff1 1, Aff0 2)");
  assert.equal(describeMpidr(0x10000), "MPIDR 0x10000 (Aff2 1, Aff1 0, Aff0 0)");
  assert.equal(describeMpidr(0x100000000), "MPIDR 0x100000000 (Aff3 1, Aff2 0, Aff1 0, Aff0 0)");
  assert.equal(
    describeMpidr(0x7f_00ff0102),
    "MPIDR 0x7f00ff0102 (Aff3 127, Aff2 255, Aff1 1, Aff0 2)",
  );
});

Deno.test("the three arch plugins are well-formed and speak the current plugin API", () => {
  const expected = [
    { plugin: armv7(), name: "armv7", bits: 32, coreIdName: "MPIDR", powerInterface: "psci" },
    { plugin: armv8(), name: "armv8", bits: 64, coreIdName: "MPIDR", powerInterface: "psci" },
    { plugin: riscv(), name: "riscv", bits: 64, coreIdName: "hartid", powerInterface: "sbi" },
  ];
  for (const { plugin, name, bits, coreIdName, powerInterface } of expected) {
    assert.equal(checkPlugin(plugin, "built-in"), plugin);
    assert.equal(plugin.kind, "arch");
    assert.equal(plugin.name, name);
    assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
    assert.equal(plugin.bits, bits);
    assert.equal(plugin.coreIdName, coreIdName);
    assert.equal(plugin.powerInterface, powerInterface);
    assert.ok(plugin.description.length > 0);
  }
});

Deno.test("armv7 validateCoreId: Aff2..Aff0 only", () => {
  const v7 = armv7();
  for (const ok of [0, 1, 3, 0x100, 0x10203, 0xffffff]) {
    assert.equal(v7.validateCoreId(ok), undefined);
  }
  assert.match(v7.validateCoreId(0x1000000)!, /bits 31:24/);
  assert.match(v7.validateCoreId(2 ** 32)!, /above 23/);
  assert.match(v7.validateCoreId(-1)!, /not a non-negative integer/);
});

Deno.test("armv8 validateCoreId: Aff3..Aff0, bits 31:24 refused", () => {
  const v8 = armv8();
  for (const ok of [0, 3, 0x102, 0xffffff, 2 ** 32, 0xff00000000]) {
    assert.equal(v8.validateCoreId(ok), undefined, `0x${ok.toString(16)}`);
  }
  assert.match(v8.validateCoreId(0x1000000)!, /bits 31:24/);
  assert.match(v8.validateCoreId(0x80000000)!, /bits 31:24/);
  assert.match(v8.validateCoreId(2 ** 40)!, /above 39/);
  assert.match(v8.validateCoreId(0.5)!, /not a non-negative integer/);
});

Deno.test("riscv validateCoreId: any non-negative safe integer hartid", () => {
  const rv = riscv();
  for (const ok of [0, 1, 4095, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    assert.equal(rv.validateCoreId(ok), undefined);
  }
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    const problem = rv.validateCoreId(bad);
    assert.ok(problem, `${bad} refused`);
    assert.match(problem, /^hartid .* is not a non-negative integer$/);
  }
});

Deno.test("describeCoreId: MPIDR affinity on Arm, hartid on RISC-V", () => {
  assert.equal(armv7().describeCoreId(0x102), "MPIDR 0x102 (Aff1 1, Aff0 2)");
  assert.equal(armv8().describeCoreId(0x102), "MPIDR 0x102 (Aff1 1, Aff0 2)");
  assert.equal(
    armv8().describeCoreId(2 ** 32 + 1),
    "MPIDR 0x100000001 (Aff3 1, Aff2 0, Aff1 0, Aff0 1)",
  );
  assert.equal(riscv().describeCoreId(3), "hartid 3");
  assert.equal(riscv().describeCoreId(0), "hartid 0");
});
