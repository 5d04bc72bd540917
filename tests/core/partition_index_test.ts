/**
 * The pruning from the codec's flat index (what `vmanctl dtb` runs) against the
 * pruning from a tree of objects, on the built-in boards and the synthetic board;
 * and a board whose references made the pruning loop for ever before.
 */
import assert from "node:assert/strict";
import { findNode, node } from "../../core/devicetree/tree.ts";
import { cells, empty, str, u32 } from "../../core/devicetree/values.ts";
import { partitionTree, partitionTreeOf } from "../../core/devicetree/partition.ts";
import { BoardIndex } from "../../core/devicetree/board_index.ts";
import { readFdt, scanFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import { syntheticBoard } from "../../scripts/synthetic_board.ts";
import { loadBoardYaml } from "../../core/board/load.ts";
import { pathDevice, twoCoreBoard } from "./partition_helpers.ts";

Deno.test("pruning from the scanned index writes the same DTB as from the tree", () => {
  const synthetic = syntheticBoard("synthetic-256", 256, 2000);
  const { board } = loadBoardYaml(synthetic.yaml, "synthetic-256.yaml");
  const cases = [
    { cores: [8, 9, 10, 11, 12, 13, 14, 15], devices: ["uart0", "uart5"] },
    { cores: [1], devices: [] },
    { cores: [200, 255], devices: ["uart98"] },
  ];
  for (const { cores, devices } of cases) {
    const options = {
      board,
      allocation: {
        cores,
        bootCore: cores[0],
        devices,
        memory: { base: 0x90000000, size: 0x10000000 },
      },
      bootargs: "console=ttyS0",
    };
    const fromIndex = writeFdt(partitionTreeOf(new BoardIndex(scanFdt(synthetic.dtb)), options));
    const fromTree = writeFdt(partitionTree(readFdt(synthetic.dtb), options));
    assert.deepEqual(fromIndex, fromTree, `cores ${cores}, devices ${devices}`);
  }
});

Deno.test("the scanned index reads as the tree: names, paths, phandles, whole tree", async () => {
  for (const name of ["qemu-virt-arm64", "qemu-virt-arm", "qemu-virt-riscv64"]) {
    const blob = await Deno.readFile(new URL(`../../boards/${name}.dtb`, import.meta.url));
    const index = scanFdt(blob);
    const tree = readFdt(blob);
    assert.deepEqual(index.toTree(), tree, name);
    const cpus = index.findPath("/cpus");
    assert.equal(index.nameOf(cpus), "cpus");
    assert.equal(index.pathOf(cpus), "/cpus");
    assert.equal(index.findPath("/cpus/"), -1);
    assert.equal(index.findPath("cpus"), -1);
    assert.equal(index.findPath("/"), 0);
    // The scanner's phandle notes give what a pass over every node gives.
    const { phandleProps: _, ...rest } = index.data;
    const { FdtIndex } = await import("../../core/devicetree/fdt_index.ts");
    assert.deepEqual(index.phandles(), new FdtIndex(rest).phandles(), name);
    assert.ok(index.phandles().size > 0);
  }
});

Deno.test("a node removed because it needs a gone node is not brought back for ever", () => {
  const G = 1, MUX = 2;
  // /mux has no reg and needs another partition's /soc/g@1000 (clocks), so it goes;
  // its assigned-clocks names itself, which brought it back, and so on: the
  // pruning never ended (TI J721E's wiz refclk-dig is such a node).
  const tree = {
    root: node("", [{ name: "#address-cells", value: u32(2) }, {
      name: "#size-cells",
      value: u32(2),
    }], [
      node("cpus", [{ name: "#address-cells", value: u32(1) }, {
        name: "#size-cells",
        value: u32(0),
      }], [
        node("cpu@0", [{ name: "device_type", value: str("cpu") }, { name: "reg", value: u32(0) }]),
        node("cpu@1", [{ name: "device_type", value: str("cpu") }, { name: "reg", value: u32(1) }]),
      ]),
      node("mux", [
        { name: "#clock-cells", value: u32(1) },
        { name: "clocks", value: u32(G) },
        { name: "assigned-clocks", value: u32(MUX, 0) },
        { name: "phandle", value: u32(MUX) },
      ]),
      node("soc", [
        { name: "#address-cells", value: u32(2) },
        { name: "#size-cells", value: u32(2) },
        { name: "ranges", value: empty() },
      ], [
        node("g@1000", [{ name: "reg", value: cells([0x1000, 0x100], [2, 2]) }, {
          name: "phandle",
          value: u32(G),
        }]),
      ]),
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
  const board = twoCoreBoard([pathDevice("g0", "/soc/g@1000")]);
  const result = partitionTree(tree, {
    board,
    allocation: {
      cores: [1],
      bootCore: 1,
      devices: [],
      memory: { base: 0x40000000, size: 2 ** 28 },
    },
  });
  assert.equal(findNode(result, "/mux"), undefined);
  assert.equal(findNode(result, "/soc"), undefined);
  assert.ok(findNode(result, "/cpus/cpu@1"));
});
