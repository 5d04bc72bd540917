import assert from "node:assert/strict";
import { riscv } from "../../arch/riscv/mod.ts";
import { loadBoardYaml } from "../../core/board/load.ts";
import type { Board } from "../../core/model.ts";
import { findNode, getProp, node, phandleMap } from "../../core/devicetree/tree.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { cells, empty, readStrings, str, strs, u32 } from "../../core/devicetree/values.ts";
import { partitionTree } from "../../core/devicetree/partition.ts";
import { readFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import { pathDevice, twoCoreBoard, u32sOf } from "./partition_helpers.ts";
import { dtcWarnings } from "../../scripts/dtc.ts";
import { TOOLS } from "../plugins/fdt/tools.ts";

const GPIO = 5, SOC = 6, CPU1 = 7, INTC = 8;

/** A small tree with a bus, devices, a key on a GPIO and a reference to the bus. */
function boardTree(): FdtTree {
  const dev = (name: string, base: number, extra: { name: string; value: Uint8Array }[] = []) =>
    node(`${name}@${base.toString(16)}`, [
      { name: "compatible", value: str(`test,${name}`) },
      { name: "reg", value: cells([base, 0x1000], [2, 2]) },
      ...extra,
    ]);
  return {
    root: node("", [
      { name: "#address-cells", value: u32(2) },
      { name: "#size-cells", value: u32(2) },
      { name: "interrupt-parent", value: u32(INTC) },
    ], [
      node("cpus", [{ name: "#address-cells", value: u32(1) }, {
        name: "#size-cells",
        value: u32(0),
      }], [
        node("cpu@0", [{ name: "device_type", value: str("cpu") }, { name: "reg", value: u32(0) }]),
        node("cpu@1", [
          { name: "device_type", value: str("cpu") },
          { name: "reg", value: u32(1) },
          { name: "phandle", value: u32(CPU1) },
        ]),
      ]),
      node("pmu", [{ name: "compatible", value: str("arm,pmu") }, {
        name: "interrupt-affinity",
        value: u32(CPU1),
      }]),
      node("intc@8000000", [
        { name: "reg", value: cells([0x8000000, 0x1000], [2, 2]) },
        { name: "interrupt-controller", value: empty() },
        { name: "#interrupt-cells", value: u32(3) },
        { name: "phandle", value: u32(INTC) },
      ]),
      node("poweroff", [{ name: "compatible", value: str("syscon-poweroff") }, {
        name: "regmap",
        value: u32(SOC),
      }]),
      node("soc", [
        { name: "compatible", value: str("simple-bus") },
        { name: "#address-cells", value: u32(2) },
        { name: "#size-cells", value: u32(2) },
        { name: "ranges", value: empty() },
        { name: "phandle", value: u32(SOC) },
      ], [
        dev("uart", 0x9000000),
        dev("rtc", 0x9010000),
        dev("gpio", 0x9030000, [{ name: "#gpio-cells", value: u32(2) }, {
          name: "phandle",
          value: u32(GPIO),
        }]),
        node("keys", [{ name: "compatible", value: str("gpio-keys") }], [
          node("power", [{ name: "gpios", value: u32(GPIO, 3, 0) }]),
        ]),
      ]),
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
}

const board: Board = twoCoreBoard([
  pathDevice("uart0", "/soc/uart@9000000", true),
  pathDevice("rtc0", "/soc/rtc@9010000"),
  pathDevice("gpio0", "/soc/gpio@9030000"),
]);

Deno.test("pruning: a key on another partition's GPIO goes alone; its bus and our UART stay", () => {
  const tree = partitionTree(boardTree(), {
    board,
    allocation: {
      cores: [0],
      bootCore: 0,
      memory: { base: 0x50000000, size: 2 ** 28 },
      devices: ["uart0"],
    },
  });
  assert.ok(findNode(tree, "/soc/uart@9000000"), "our UART");
  assert.equal(findNode(tree, "/soc/keys"), undefined, "the key on the other GPIO");
  assert.equal(findNode(tree, "/soc/gpio@9030000"), undefined);
  assert.equal(
    findNode(tree, "/soc/rtc@9010000"),
    undefined,
    "a reference to the bus pulls no device in",
  );
  assert.ok(findNode(tree, "/intc@8000000"), "the interrupt controller");
  // The PMU's affinity named only the removed cpu@1: the PMU serves no core of ours.
  assert.equal(findNode(tree, "/pmu"), undefined);
  assert.deepEqual(findNode(tree, "/cpus")!.children.map((c) => c.name), ["cpu@0"]);
});

Deno.test("pruning: with the GPIO given, the key stays", () => {
  const tree = partitionTree(boardTree(), {
    board,
    allocation: {
      cores: [0, 1],
      bootCore: 0,
      memory: { base: 0x50000000, size: 2 ** 28 },
      devices: ["gpio0"],
    },
  });
  assert.ok(findNode(tree, "/soc/keys/power"));
  assert.ok(findNode(tree, "/soc/gpio@9030000"));
  assert.equal(findNode(tree, "/soc/uart@9000000"), undefined);
  assert.ok(findNode(tree, "/pmu")!.props.some((p) => p.name === "interrupt-affinity"));
});

// --- Positional lists -------------------------------------------------------------------------

const NC = 0xffffffff;

const RISCV_BOARD = loadBoardYaml(
  await Deno.readTextFile(new URL("../../boards/qemu-virt-riscv64.yaml", import.meta.url)),
  "boards/qemu-virt-riscv64.yaml",
  (name) => name === "riscv" ? riscv() : undefined,
).board;
const RISCV_DTB = await Deno.readFile(
  new URL("../../boards/qemu-virt-riscv64.dtb", import.meta.url),
);

/** The `<&controller irq>` entries of a node's interrupts-extended, as [controller path, irq]. */
function hartEntries(tree: FdtTree, path: string): [string, number][] {
  const byPhandle = phandleMap(tree);
  const list = u32sOf(findNode(tree, path), "interrupts-extended");
  assert.ok(list, `${path} has interrupts-extended`);
  const entries: [string, number][] = [];
  for (let i = 0; i < list.length; i += 2) {
    const target = byPhandle.get(list[i]);
    assert.ok(target, `${path}: entry ${i / 2} names phandle ${list[i]}, which the tree lacks`);
    assert.equal(u32sOf(target.node, "#interrupt-cells")?.[0], 1, `${path}: one cell per entry`);
    entries.push([target.path, list[i + 1]]);
  }
  return entries;
}

for (const cores of [[1], [2, 3], [1, 2, 3]]) {
  Deno.test(`riscv64: harts ${cores} keep every PLIC and CLINT context in place`, () => {
    const boardTree = readFdt(RISCV_DTB);
    const tree = partitionTree(boardTree, {
      board: RISCV_BOARD,
      allocation: {
        cores,
        bootCore: cores[0],
        memory: { base: 0x90000000, size: 2 ** 28 },
        devices: ["uart0"],
      },
    });
    const keptIntcs = cores.map((c) => `/cpus/cpu@${c}/interrupt-controller`);
    for (const path of ["/soc/plic@c000000", "/soc/clint@2000000"]) {
      const before = hartEntries(boardTree, path);
      const after = hartEntries(tree, path);
      // Linux's PLIC driver takes entry i for context i: the list keeps its length.
      assert.equal(before.length, 8, `${path}: the board has an M and an S entry per hart`);
      assert.equal(after.length, before.length, `${path}: every position kept`);
      for (const [i, [intc, irq]] of before.entries()) {
        const hart = Number(/cpu@(\d+)/.exec(intc)![1]);
        if (cores.includes(hart)) {
          assert.deepEqual(after[i], [intc, irq], `${path} entry ${i}: hart ${hart} unchanged`);
        } else {
          assert.ok(keptIntcs.includes(after[i][0]), `${path} entry ${i}: ${after[i][0]}`);
          assert.equal(after[i][1], NC, `${path} entry ${i}: hart ${hart} not connected`);
        }
      }
    }
    // The S-mode context of hart h is still context 2h+1, where QEMU wires it.
    const plic = hartEntries(tree, "/soc/plic@c000000");
    for (const hart of cores) {
      assert.deepEqual(plic[2 * hart + 1], [`/cpus/cpu@${hart}/interrupt-controller`, 9]);
    }
    // Removed harts' interrupt controllers are gone.
    for (const hart of [0, 1, 2, 3].filter((h) => !cores.includes(h))) {
      assert.equal(findNode(tree, `/cpus/cpu@${hart}`), undefined);
    }
  });
}

/** dtc's warnings for a blob. */
async function blobWarnings(blob: Uint8Array): Promise<string[]> {
  const { code, lines } = await dtcWarnings(blob);
  assert.equal(code, 0, lines.join("\n"));
  return lines.filter((l) => l.includes("Warning"));
}

Deno.test({
  name: "riscv64: a partition DTB with not-connected entries gives dtc no new warning",
  ignore: !TOOLS.dtc,
  fn: async () => {
    const known = new Set(await blobWarnings(RISCV_DTB));
    for (const cores of [[1], [2, 3]]) {
      const tree = partitionTree(readFdt(RISCV_DTB), {
        board: RISCV_BOARD,
        allocation: {
          cores,
          bootCore: cores[0],
          memory: { base: 0x90000000, size: 2 ** 28 },
          devices: ["uart0"],
        },
      });
      const added = (await blobWarnings(writeFdt(tree))).filter((w) => !known.has(w));
      assert.deepEqual(added, [], `harts ${cores}`);
    }
  },
});

const CPU = [21, 22, 23, 24], GIC = 30;

/** Four cores, a GIC, and three PMUs: one SPI per core, a PPI, and a cluster of cores 0 and 2. */
function pmuTree(): FdtTree {
  const spi = (n: number) => [0, n, 4];
  return {
    root: node("", [
      { name: "#address-cells", value: u32(2) },
      { name: "#size-cells", value: u32(2) },
      { name: "interrupt-parent", value: u32(GIC) },
    ], [
      node(
        "cpus",
        [{ name: "#address-cells", value: u32(1) }, { name: "#size-cells", value: u32(0) }],
        CPU.map((phandle, i) =>
          node(`cpu@${i}`, [
            { name: "device_type", value: str("cpu") },
            { name: "reg", value: u32(i) },
            { name: "phandle", value: u32(phandle) },
          ])
        ),
      ),
      node("pmu-spi", [
        { name: "compatible", value: str("arm,cortex-a53-pmu") },
        { name: "interrupts", value: u32(...[40, 41, 42, 43].flatMap(spi)) },
        { name: "interrupt-names", value: strs(["c0", "c1", "c2", "c3"]) },
        { name: "interrupt-affinity", value: u32(...CPU) },
      ]),
      node("pmu-ppi", [
        { name: "compatible", value: str("arm,armv8-pmuv3") },
        { name: "interrupts", value: u32(1, 7, 0xf04) },
        { name: "interrupt-affinity", value: u32(...CPU) },
      ]),
      node("pmu-cluster", [
        { name: "compatible", value: str("arm,cortex-a72-pmu") },
        {
          name: "interrupts-extended",
          value: u32(GIC, ...spi(50), GIC, ...spi(52)),
        },
        { name: "interrupt-affinity", value: u32(CPU[0], CPU[2]) },
      ]),
      node("intc@8000000", [
        { name: "reg", value: cells([0x8000000, 0x1000], [2, 2]) },
        { name: "interrupt-controller", value: empty() },
        { name: "#interrupt-cells", value: u32(3) },
        { name: "phandle", value: u32(GIC) },
      ]),
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
}

const pmuBoard: Board = {
  ...board,
  cores: [0, 1, 2, 3].map((id) => ({ id, hwid: id })),
  devices: [],
};

function pmuPartition(cores: number[]): FdtTree {
  return partitionTree(pmuTree(), {
    board: pmuBoard,
    allocation: {
      cores,
      bootCore: cores[0],
      memory: { base: 0x50000000, size: 2 ** 28 },
      devices: [],
    },
  });
}

Deno.test("interrupt-affinity: an SPI per core goes with its core, as a pair", () => {
  const tree = pmuPartition([1, 3]);
  const pmu = findNode(tree, "/pmu-spi");
  // Linux's arm_pmu takes interrupts[i] for the cpu of interrupt-affinity[i].
  assert.deepEqual(u32sOf(pmu, "interrupt-affinity"), [CPU[1], CPU[3]]);
  assert.deepEqual(u32sOf(pmu, "interrupts"), [0, 41, 4, 0, 43, 4]);
  assert.deepEqual(readStrings(getProp(pmu!, "interrupt-names")!.value), ["c1", "c3"]);
});

Deno.test("interrupt-affinity: with one PPI it is a set of cores; the PPI stays", () => {
  const pmu = findNode(pmuPartition([1, 3]), "/pmu-ppi");
  assert.deepEqual(u32sOf(pmu, "interrupt-affinity"), [CPU[1], CPU[3]]);
  assert.deepEqual(u32sOf(pmu, "interrupts"), [1, 7, 0xf04]);
});

Deno.test("interrupt-affinity: a PMU of other cores only goes; of ours, it stays whole", () => {
  assert.equal(findNode(pmuPartition([1, 3]), "/pmu-cluster"), undefined);
  const pmu = findNode(pmuPartition([0, 2]), "/pmu-cluster");
  assert.deepEqual(u32sOf(pmu, "interrupt-affinity"), [CPU[0], CPU[2]]);
  assert.deepEqual(u32sOf(pmu, "interrupts-extended"), [GIC, 0, 50, 4, GIC, 0, 52, 4]);
  // Pairs with interrupts-extended: core 2 alone keeps the second pair.
  const one = findNode(pmuPartition([2]), "/pmu-cluster");
  assert.deepEqual(u32sOf(one, "interrupt-affinity"), [CPU[2]]);
  assert.deepEqual(u32sOf(one, "interrupts-extended"), [GIC, 0, 52, 4]);
  // With every core, nothing changes.
  const all = findNode(pmuPartition([0, 1, 2, 3]), "/pmu-spi");
  assert.deepEqual(u32sOf(all, "interrupt-affinity"), CPU);
  assert.equal(u32sOf(all, "interrupts")!.length, 12);
});
