import assert from "node:assert/strict";
import {
  childNamed,
  cloneTree,
  type FdtTree,
  findNode,
  getProp,
  node,
  phandleMap,
  removeProp,
  setProp,
  str,
  u32,
  walk,
} from "../../../plugins/fdt/mod.ts";

function sample(): FdtTree {
  return {
    root: node("", [{ name: "#address-cells", value: u32(2) }], [
      node("cpus", [{ name: "#size-cells", value: u32(0) }], [
        node("cpu@0", [{ name: "reg", value: u32(0) }, { name: "phandle", value: u32(1) }]),
        node("cpu@1", [{ name: "reg", value: u32(1) }, { name: "linux,phandle", value: u32(2) }]),
      ]),
      node("memory@40000000", [{ name: "device_type", value: str("memory") }]),
      node("serial@9000000"),
      node("serial@9001000"),
      node("chosen"),
    ]),
    reservations: [{ address: 0x1000n, size: 0x2000n }],
    bootCpuidPhys: 0,
  };
}

Deno.test("node() defaults to no properties and no children", () => {
  assert.deepEqual(node("chosen"), { name: "chosen", props: [], children: [] });
});

Deno.test("setProp replaces a value in place, appends a new one; getProp/removeProp find by name", () => {
  const n = node("x", [{ name: "a", value: u32(1) }, { name: "b", value: u32(2) }]);
  setProp(n, "a", u32(9));
  setProp(n, "c", u32(3));
  assert.deepEqual(n.props.map((p) => p.name), ["a", "b", "c"]);
  assert.deepEqual(getProp(n, "a")?.value, u32(9));
  assert.equal(getProp(n, "missing"), undefined);
  assert.equal(removeProp(n, "b"), true);
  assert.equal(removeProp(n, "b"), false);
  assert.deepEqual(n.props.map((p) => p.name), ["a", "c"]);
});

Deno.test("findNode: absolute paths, root, unit-address-less names when unique", () => {
  const tree = sample();
  assert.equal(findNode(tree, "/"), tree.root);
  assert.equal(findNode(tree, "/cpus/cpu@1")?.name, "cpu@1");
  assert.equal(findNode(tree, "/memory")?.name, "memory@40000000");
  assert.equal(findNode(tree, "/memory@40000000")?.name, "memory@40000000");
  assert.equal(findNode(tree, "/serial"), undefined, "two serial@ nodes: ambiguous");
  assert.equal(findNode(tree, "/cpus/cpu"), undefined, "two cpu@ nodes: ambiguous");
  assert.equal(findNode(tree, "/cpus/cpu@2"), undefined);
  assert.equal(findNode(tree, "/nothing/cpu@0"), undefined);
  assert.equal(findNode(tree, "/memory@4"), undefined, "a unit address must match whole");
  const cpus = findNode(tree, "/cpus");
  assert.ok(cpus);
  assert.equal(findNode(cpus, "cpu@0")?.name, "cpu@0", "paths are relative to a given node");
});

Deno.test("childNamed prefers an exact name over a unit-address match", () => {
  const parent = node("", [], [node("memory@0"), node("memory")]);
  assert.equal(childNamed(parent, "memory"), parent.children[1]);
  assert.equal(childNamed(node("", [], [node("memory@0")]), "memory")?.name, "memory@0");
  assert.equal(childNamed(node("", [], [node("memoryx@0")]), "memory"), undefined);
});

Deno.test("walk visits depth first in document order with paths and parents", () => {
  const tree = sample();
  const seen: string[] = [];
  walk(tree, (n, path, parent) => {
    seen.push(`${path} <${parent?.name ?? "-"}>`);
    assert.equal(findNode(tree, path), n);
  });
  assert.deepEqual(seen, [
    "/ <->",
    "/cpus <>",
    "/cpus/cpu@0 <cpus>",
    "/cpus/cpu@1 <cpus>",
    "/memory@40000000 <>",
    "/serial@9000000 <>",
    "/serial@9001000 <>",
    "/chosen <>",
  ]);
});

Deno.test("cloneTree copies deeply: editing the copy leaves the original alone", () => {
  const tree = sample();
  const copy = cloneTree(tree);
  assert.deepEqual(copy, tree);
  const reg = getProp(findNode(copy, "/cpus/cpu@0")!, "reg")!;
  reg.value[3] = 7;
  findNode(copy, "/chosen")!.props.push({ name: "x", value: u32(1) });
  copy.reservations[0].size = 1n;
  assert.deepEqual(getProp(findNode(tree, "/cpus/cpu@0")!, "reg")!.value, u32(0));
  assert.equal(findNode(tree, "/chosen")!.props.length, 0);
  assert.equal(tree.reservations[0].size, 0x2000n);
});

Deno.test("phandleMap indexes phandle and legacy linux,phandle, first claim wins", () => {
  const tree = sample();
  findNode(tree, "/chosen")!.props.push({ name: "phandle", value: u32(1) });
  findNode(tree, "/serial@9000000")!.props.push({ name: "phandle", value: u32(0) });
  findNode(tree, "/serial@9001000")!.props.push({ name: "phandle", value: u32(0xffffffff) });
  const map = phandleMap(tree);
  assert.deepEqual([...map.keys()].sort(), [1, 2]);
  assert.equal(map.get(1)?.path, "/cpus/cpu@0");
  assert.equal(map.get(2)?.path, "/cpus/cpu@1");
  assert.equal(map.get(2)?.node, findNode(tree, "/cpus/cpu@1"));
});
