/**
 * What pruning leaves behind, on small hand-made trees, one rule each: a graph
 * node left with one `port@0`, a container left without children with `reg`, GPIO
 * lists naming a removed controller, interrupts whose parent was removed. Each
 * partition tree is also given to dtc (when installed), which must not warn.
 */
import assert from "node:assert/strict";
import type { BoardDevice as Device } from "../../core/model.ts";
import { findNode, getProp, node } from "../../core/devicetree/tree.ts";
import type { FdtNode, FdtProperty, FdtTree } from "../../core/devicetree/tree.ts";
import { cells, empty, str, u32 } from "../../core/devicetree/values.ts";
import { partitionTree } from "../../core/devicetree/partition.ts";
import { writeFdt } from "../../plugins/fdt/mod.ts";
import { dtcWarnings as dtcVerdict } from "../../scripts/dtc.ts";
import { pathDevice, twoCoreBoard, u32sOf } from "./partition_helpers.ts";

const INTC = 1, GPIO_A = 2, GPIO_B = 3, EP_CONNECTOR = 4, EP_ENCODER = 5, EP_PANEL = 6;

const prop = (name: string, value: Uint8Array): FdtProperty => ({ name, value });
const reg = (base: number) => prop("reg", cells([base, 0x1000], [1, 1]));

/** A GPIO controller that is also an interrupt controller of 2 cells. */
function gpio(name: string, base: number, phandle: number, children: FdtNode[] = []): FdtNode {
  return node(`${name}@${base.toString(16)}`, [
    prop("compatible", str("test,gpio")),
    reg(base),
    prop("gpio-controller", empty()),
    prop("#gpio-cells", u32(2)),
    prop("interrupt-controller", empty()),
    prop("#interrupt-cells", u32(2)),
    prop("#address-cells", u32(0)),
    prop("phandle", u32(phandle)),
  ], children);
}

/** A hog of line `line` (a number, not a phandle, though it equals GPIO B's). */
function hog(line: number): FdtNode {
  return node("reset-hog", [
    prop("gpio-hog", empty()),
    prop("gpios", u32(line, 0)),
    prop("output-low", empty()),
  ]);
}

/** A board tree: a GIC, two GPIO controllers, and `extra` top-level nodes. */
function boardTree(extra: FdtNode[]): FdtTree {
  return {
    root: node("", [
      prop("#address-cells", u32(1)),
      prop("#size-cells", u32(1)),
      prop("interrupt-parent", u32(INTC)),
    ], [
      node("cpus", [prop("#address-cells", u32(1)), prop("#size-cells", u32(0))], [
        node("cpu@0", [prop("device_type", str("cpu")), prop("reg", u32(0))]),
        node("cpu@1", [prop("device_type", str("cpu")), prop("reg", u32(1))]),
      ]),
      node("intc@1000", [
        prop("compatible", str("arm,gic-400")),
        reg(0x1000),
        prop("interrupt-controller", empty()),
        prop("#interrupt-cells", u32(3)),
        prop("#address-cells", u32(0)),
        prop("phandle", u32(INTC)),
      ]),
      gpio("gpio", 0x2000, GPIO_A, [hog(GPIO_B)]),
      gpio("gpio", 0x3000, GPIO_B),
      ...extra,
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
}

/** The board: GPIO B and the `extra` devices are board devices; `given` go to the partition. */
function prune(extra: FdtNode[], devices: Device[], given: string[]): FdtTree {
  const board = twoCoreBoard([pathDevice("gpiob", "/gpio@3000"), ...devices]);
  return partitionTree(boardTree(extra), {
    board,
    allocation: {
      cores: [1],
      bootCore: 1,
      memory: { base: 0x50000000, size: 2 ** 28 },
      devices: given,
    },
  });
}

/** dtc's messages on a tree (dtc must read it). */
async function dtcWarnings(tree: FdtTree): Promise<string[]> {
  const { code, lines } = await dtcVerdict(writeFdt(tree));
  assert.equal(code, 0, "dtc reads the tree");
  return lines;
}

// --- graph_child_address -------------------------------------------------------------------------

/**
 * An HDMI connector (no registers: kept) wired to port 0 of an encoder that no
 * board device lists (kept only as the way to what the connector names, as a
 * bus is), whose port 1 goes to a panel, a board device. Port 0 has cells for its
 * one `endpoint@0` (dtc warns of that on the board's tree too).
 */
function graphBoard(): FdtNode[] {
  const endpoint = (phandle: number, remote: number) =>
    node("endpoint", [prop("remote-endpoint", u32(remote)), prop("phandle", u32(phandle))]);
  return [
    node("connector", [prop("compatible", str("hdmi-connector"))], [
      node("port", [], [endpoint(EP_CONNECTOR, EP_ENCODER)]),
    ]),
    node("encoder@4800", [
      prop("compatible", str("test,encoder")),
      reg(0x4800),
      prop("#address-cells", u32(1)),
      prop("#size-cells", u32(0)),
    ], [
      node("port@0", [
        prop("reg", u32(0)),
        prop("#address-cells", u32(1)),
        prop("#size-cells", u32(0)),
      ], [
        node("endpoint@0", [
          prop("reg", u32(0)),
          prop("remote-endpoint", u32(EP_CONNECTOR)),
          prop("phandle", u32(EP_ENCODER)),
        ]),
      ]),
      node("port@1", [prop("reg", u32(1))], [endpoint(0x20, EP_PANEL)]),
    ]),
    node("panel@4000", [prop("compatible", str("test,panel")), reg(0x4000)], [
      node("port", [], [endpoint(EP_PANEL, 0x20)]),
    ]),
    node("aliases", [prop("hdmi0", str("/encoder@4800/port@0/endpoint@0"))]),
  ];
}

Deno.test("graph: a node left with port@0 alone loses its cells; port@0 becomes port", async () => {
  const tree = prune(graphBoard(), [pathDevice("panel", "/panel@4000")], []);
  const encoder = findNode(tree, "/encoder@4800");
  assert.ok(encoder, "the encoder stays, as the connector's endpoint names its port 0");
  assert.equal(getProp(encoder, "#address-cells"), undefined);
  assert.equal(getProp(encoder, "#size-cells"), undefined);
  assert.deepEqual(encoder.children.map((c) => c.name), ["port"]);
  const port = encoder.children[0];
  assert.deepEqual(port.props, [], "no reg, and no cells for its single endpoint@0 either");
  assert.deepEqual(port.children.map((c) => c.name), ["endpoint"]);
  assert.equal(getProp(port.children[0], "reg"), undefined);
  assert.equal(
    new TextDecoder().decode(getProp(findNode(tree, "/aliases")!, "hdmi0")!.value),
    "/encoder@4800/port/endpoint\0",
    "the alias follows the rename",
  );
  assert.deepEqual(await dtcWarnings(tree), []);
});

Deno.test("graph: a graph node the pruning left whole keeps its cells", () => {
  const tree = prune(graphBoard(), [pathDevice("panel", "/panel@4000")], ["panel"]);
  const encoder = findNode(tree, "/encoder@4800");
  assert.deepEqual(encoder?.children.map((c) => c.name), ["port@0", "port@1"]);
  assert.ok(getProp(encoder!, "#address-cells"));
});

// --- avoid_unnecessary_addr_size -----------------------------------------------------------------

/** `/clocks` with a fixed clock at reg 0 (nobody's) and one without reg (kept). */
function clocksBoard(extra: FdtProperty[] = []): FdtNode[] {
  const fixed = (name: string, props: FdtProperty[]) =>
    node(name, [
      prop("compatible", str("fixed-clock")),
      prop("#clock-cells", u32(0)),
      prop("clock-frequency", u32(24000000)),
      ...props,
    ]);
  return [
    node("clocks", [prop("#address-cells", u32(1)), prop("#size-cells", u32(0)), ...extra], [
      fixed("clock@0", [prop("reg", u32(0))]),
      fixed("osc", []),
    ]),
  ];
}

Deno.test("cells: /clocks without children with reg left loses #address-cells/#size-cells", async () => {
  const tree = prune(clocksBoard(), [], []);
  const clocks = findNode(tree, "/clocks");
  assert.deepEqual(clocks?.children.map((c) => c.name), ["osc"]);
  assert.equal(getProp(clocks!, "#address-cells"), undefined);
  assert.equal(getProp(clocks!, "#size-cells"), undefined);
  assert.deepEqual(await dtcWarnings(tree), []);
});

Deno.test("cells: kept where something may read them (interrupt-map, dma-ranges)", () => {
  for (const reader of ["interrupt-map", "dma-ranges"]) {
    const tree = prune(clocksBoard([prop(reader, empty())]), [], []);
    assert.ok(getProp(findNode(tree, "/clocks")!, "#address-cells"), reader);
  }
});

// --- gpios ---------------------------------------------------------------------------------------

/**
 * A device given to the partition with GPIO lists naming GPIO A (kept) and B
 * (another's); GPIO A has a hog (boardTree).
 */
function gpioBoard(): FdtNode[] {
  return [
    node("spi@5000", [
      prop("compatible", str("test,spi")),
      reg(0x5000),
      prop("cs-gpios", u32(GPIO_A, 1, 0, GPIO_B, 2, 0, 0, GPIO_A, 3, 0)),
      prop("gpios", u32(0, 0, GPIO_B, 12, 0)),
      prop("reset-gpios", u32(GPIO_B, 4, 1)),
      prop("enable-gpios", u32(GPIO_A, 5, 0)),
    ]),
  ];
}

Deno.test("gpios: entries naming a removed controller become <0>, in place", async () => {
  const tree = prune(gpioBoard(), [pathDevice("spi", "/spi@5000")], ["spi"]);
  const spi = findNode(tree, "/spi@5000");
  assert.ok(findNode(tree, "/gpio@2000"), "GPIO A is pulled in, past the empty entry");
  assert.equal(findNode(tree, "/gpio@3000"), undefined);
  assert.deepEqual(u32sOf(spi, "cs-gpios"), [GPIO_A, 1, 0, 0, 0, GPIO_A, 3, 0]);
  assert.equal(getProp(spi!, "gpios"), undefined, "only empty entries left: dropped");
  assert.equal(getProp(spi!, "reset-gpios"), undefined);
  assert.deepEqual(u32sOf(spi, "enable-gpios"), [GPIO_A, 5, 0]);
  const hogged = findNode(tree, "/gpio@2000/reset-hog");
  assert.deepEqual(u32sOf(hogged, "gpios"), [GPIO_B, 0], "a hog's line is no reference");
  assert.deepEqual(await dtcWarnings(tree), []);
});

// --- interrupts ----------------------------------------------------------------------------------

/** Devices whose interrupts go to GPIO B, directly and through their bus. */
function interruptBoard(): FdtNode[] {
  return [
    node("sensor@6000", [
      prop("compatible", str("test,sensor")),
      reg(0x6000),
      prop("interrupt-parent", u32(GPIO_B)),
      prop("interrupts", u32(7, 8)),
      prop("interrupt-names", str("alert")),
    ]),
    node("bus", [
      prop("compatible", str("simple-bus")),
      prop("#address-cells", u32(1)),
      prop("#size-cells", u32(1)),
      prop("ranges", empty()),
      prop("interrupt-parent", u32(GPIO_B)),
    ], [
      node("dev@7000", [
        prop("compatible", str("test,dev")),
        reg(0x7000),
        prop("interrupts", u32(3, 4)),
      ]),
    ]),
    node("uart@8000", [
      prop("compatible", str("test,uart")),
      reg(0x8000),
      prop("interrupts", u32(0, 5, 4)),
    ]),
  ];
}

Deno.test("interrupts: going to a removed interrupt parent, own or inherited, they go", async () => {
  const devices = [
    pathDevice("sensor", "/sensor@6000"),
    pathDevice("dev", "/bus/dev@7000"),
    pathDevice("uart", "/uart@8000"),
  ];
  const tree = prune(interruptBoard(), devices, ["sensor", "dev", "uart"]);
  const sensor = findNode(tree, "/sensor@6000")!;
  for (const name of ["interrupt-parent", "interrupts", "interrupt-names"]) {
    assert.equal(getProp(sensor, name), undefined, name);
  }
  assert.equal(getProp(findNode(tree, "/bus/dev@7000")!, "interrupts"), undefined);
  assert.deepEqual(u32sOf(findNode(tree, "/uart@8000"), "interrupts"), [0, 5, 4], "the GIC's stay");
  assert.deepEqual(await dtcWarnings(tree), []);
});
