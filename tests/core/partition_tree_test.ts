import assert from "node:assert/strict";
import type { Board } from "../../core/model.ts";
import { findNode, node } from "../../core/devicetree/tree.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { cells, empty, str, u32 } from "../../core/devicetree/values.ts";
import { partitionTree } from "../../core/devicetree/partition.ts";

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

const board: Board = {
  name: "t",
  description: "t",
  arch: "armv8",
  monitor: { conduit: "smc", interface: "psci" },
  cores: [{ id: 0, hwid: 0 }, { id: 1, hwid: 1 }],
  memory: [{ name: "ram", base: 0x40000000, size: 2 ** 30 }],
  devices: [
    {
      name: "uart0",
      compatible: [],
      reg: [],
      interrupts: [],
      sharing: "exclusive",
      default: false,
      console: true,
      path: "/soc/uart@9000000",
    },
    {
      name: "rtc0",
      compatible: [],
      reg: [],
      interrupts: [],
      sharing: "exclusive",
      default: false,
      console: false,
      path: "/soc/rtc@9010000",
    },
    {
      name: "gpio0",
      compatible: [],
      reg: [],
      interrupts: [],
      sharing: "exclusive",
      default: false,
      console: false,
      path: "/soc/gpio@9030000",
    },
  ],
  reserved: [],
};

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
  // The PMU's affinity named the removed cpu@1: the reference is dropped.
  assert.equal(findNode(tree, "/pmu")!.props.some((p) => p.name === "interrupt-affinity"), false);
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
