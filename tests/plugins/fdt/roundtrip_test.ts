import assert from "node:assert/strict";
import fc from "fast-check";
import { fdtTreeArbitrary } from "../../../plugins/fdt/arbitrary.ts";
import { type FdtTree, node, readFdt, str, u32, writeFdt } from "../../../plugins/fdt/mod.ts";
import { boardTree } from "./fixtures.ts";

Deno.test("round trip: a hand-made board tree reads back deep-equal", () => {
  const tree = boardTree();
  assert.deepStrictEqual(readFdt(writeFdt(tree)), tree);
});

Deno.test("round trip: the smallest tree (an empty root, no reservations)", () => {
  const tree: FdtTree = { root: node(""), reservations: [], bootCpuidPhys: 0 };
  const blob = writeFdt(tree);
  assert.equal(
    blob.length,
    40 + 16 + 4 + 4 + 4 + 4,
    "header, terminator, BEGIN, name, END_NODE, END",
  );
  assert.deepStrictEqual(readFdt(blob), tree);
});

Deno.test("round trip: deep nesting, long and non-ASCII names, large values", () => {
  let leaf = node("leaf@0", [{ name: "big", value: new Uint8Array(70_000).map((_, i) => i * 7) }]);
  for (let i = 0; i < 60; i++) leaf = node(`level-${i}@${i.toString(16)}`, [], [leaf]);
  const tree: FdtTree = {
    root: node("", [{ name: "x".repeat(300), value: u32(1) }], [
      leaf,
      node("n".repeat(200), [{ name: "ünïcode", value: str("ünïcode") }]),
    ]),
    reservations: [],
    bootCpuidPhys: 0xffffffff,
  };
  assert.deepStrictEqual(readFdt(writeFdt(tree)), tree);
});

Deno.test("round trip: random trees (fast-check, fixed seed) read back deep-equal", () => {
  let nodes = 0;
  fc.assert(
    fc.property(fdtTreeArbitrary(), (tree) => {
      const blob = writeFdt(tree);
      assert.deepStrictEqual(readFdt(blob), tree);
      assert.deepStrictEqual(writeFdt(readFdt(blob)), blob, "rewriting is byte-stable");
      nodes += countNodes(tree.root);
    }),
    { seed: 20251125, numRuns: 400 },
  );
  assert.ok(nodes > 2000, `the generator should make sizeable trees (made ${nodes} nodes)`);
});

function countNodes(n: FdtTree["root"]): number {
  return 1 + n.children.reduce((sum, child) => sum + countNodes(child), 0);
}
