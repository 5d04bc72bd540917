/**
 * `board import`'s choice of architecture by the arch plugins' `detectCpu`, and
 * the conduit their `importConduit` reads: each architecture's knowledge is its
 * plugin's, core only compares their answers.
 */
import assert from "node:assert/strict";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { detectArch } from "../../core/board/detect_arch.ts";
import { BoardImportError } from "../../core/board/import_error.ts";
import { type FdtNode, type FdtTree, node } from "../../core/devicetree/tree.ts";
import { str, strs } from "../../core/devicetree/values.ts";
import type { ArchPlugin } from "../../core/registry/plugin.ts";

const ARCHS: ArchPlugin[] = [armv7(), armv8(), riscv()];

function cpu(compatible: string[], extra: Record<string, string> = {}): FdtNode {
  return node("cpu@0", [
    { name: "device_type", value: str("cpu") },
    { name: "compatible", value: strs(compatible) },
    ...Object.entries(extra).map(([name, value]) => ({ name, value: str(value) })),
  ]);
}

function refusal(nodes: FdtNode[], archs: ArchPlugin[] = ARCHS): string {
  try {
    detectArch(nodes, archs);
  } catch (error) {
    assert.ok(error instanceof BoardImportError, String(error));
    assert.equal(error.where, "/cpus");
    return error.message;
  }
  assert.fail("expected a refusal");
}

Deno.test("each built-in arch plugin takes its own cpus", () => {
  assert.equal(detectArch([cpu(["arm,cortex-a53"])], ARCHS).name, "armv8");
  assert.equal(detectArch([cpu(["arm,cortex-a15"])], ARCHS).name, "armv7");
  assert.equal(detectArch([cpu(["arm,cortex-r5"])], ARCHS).name, "armv7");
  assert.equal(detectArch([cpu(["sifive,u74-mc", "riscv"])], ARCHS).name, "riscv");
  assert.equal(
    detectArch([cpu(["thead,c906"], { "riscv,isa": "rv64imafdc" })], ARCHS).name,
    "riscv",
  );
  // big.LITTLE naming both: the surer (ARMv8) wins, whatever the plugin order.
  const mixed = [cpu(["arm,cortex-a7"]), cpu(["arm,cortex-a53"])];
  assert.equal(detectArch(mixed, [...ARCHS].reverse()).name, "armv8");
});

Deno.test("cpus no plugin takes are refused, with --arch's choices or the plugin's reason", () => {
  assert.equal(
    refusal([cpu(["mips,m14k"])]),
    `cannot tell the architecture from cpu compatible "mips,m14k"; give --arch (armv7, armv8, riscv)`,
  );
  assert.equal(
    refusal([cpu(["arm,arm926ej-s"])]),
    "cpu arm,arm926ej-s is older than ARMv7, which vmanager does not support",
  );
  assert.match(refusal([cpu(["arm,arm926ej-s"])], [armv8()]), /cannot tell the architecture/);
});

Deno.test("two plugins equally sure of the cpus are ambiguous", () => {
  const twin = { ...armv8(), name: "armv8-twin" };
  assert.match(
    refusal([cpu(["arm,cortex-a72"])], [...ARCHS, twin]),
    /^the cpus fit arch armv8 and armv8-twin alike; give --arch \(armv7, armv8, riscv, armv8-twin\)$/,
  );
});

Deno.test("the Arm plugins read the conduit from /psci; riscv has one", () => {
  const tree = (children: FdtNode[]): FdtTree => ({
    root: node("", [], children),
    reservations: [],
    bootCpuidPhys: 0,
  });
  const psci = (method?: string) =>
    node("psci", method === undefined ? [] : [{ name: "method", value: str(method) }]);
  const v8 = armv8();
  assert.deepEqual(v8.importConduit!(tree([psci("hvc")])), { conduit: "hvc" });
  assert.deepEqual(v8.importConduit!(tree([psci()])), { conduit: "smc" });
  assert.deepEqual(v8.importConduit!(tree([])), {
    conduit: "smc",
    note: "no /psci node: the monitor conduit defaults to smc",
  });
  assert.match(armv7().importConduit!(tree([psci("svc")])).note!, /'svc' is neither smc nor hvc/);
  assert.equal(riscv().importConduit, undefined);
  assert.deepEqual(riscv().conduits, ["ecall"]);
});
