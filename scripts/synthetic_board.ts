/**
 * A synthetic AArch64 board for benchmarks: N cores in clusters of 8 (MPIDR
 * Aff1.Aff0), a GIC, a timer, a fixed clock, 16 GiB of RAM and simple buses of
 * UART-like devices up to a total node count; its YAML lists the devices of the
 * first bus as assignable.
 *
 * @module
 */
import type { FdtNode, FdtTree } from "../core/devicetree/tree.ts";
import { node } from "../core/devicetree/tree.ts";
import { cells, empty, str, strs, u32 } from "../core/devicetree/values.ts";
import { writeFdt } from "../plugins/fdt/mod.ts";

/** The board's YAML and DTB. */
export interface SyntheticBoard {
  /** Board YAML (its `devicetree:` names `<name>.dtb`). */
  yaml: string;
  /** The DTB. */
  dtb: Uint8Array;
  /** Nodes in the tree. */
  nodes: number;
}

/** Makes a board named `name` with `cores` cores and about `nodes` DT nodes. */
export function syntheticBoard(name: string, cores: number, nodes: number): SyntheticBoard {
  const mpidr = (i: number) => ((i >> 3) << 8) | (i & 7);
  const GIC = 1, CLK = 2, CPU0 = 16;
  const cpuNodes: FdtNode[] = [];
  for (let i = 0; i < cores; i++) {
    cpuNodes.push(node(`cpu@${mpidr(i).toString(16)}`, [
      { name: "device_type", value: str("cpu") },
      { name: "compatible", value: str("arm,cortex-a53") },
      { name: "reg", value: u32(mpidr(i)) },
      { name: "enable-method", value: str("psci") },
      { name: "phandle", value: u32(CPU0 + i) },
    ]));
  }
  const clusters: FdtNode[] = [];
  for (let c = 0; c * 8 < cores; c++) {
    clusters.push(node(
      `cluster${c}`,
      [],
      cpuNodes.slice(c * 8, c * 8 + 8).map((_, k) =>
        node(`core${k}`, [{ name: "cpu", value: u32(CPU0 + c * 8 + k) }])
      ),
    ));
  }
  const fixed = cores + clusters.length + cores / 8 + 12;
  let made = 0;
  const buses: FdtNode[] = [];
  const listed: { name: string; path: string; base: number; irq: number }[] = [];
  for (let b = 0; made < nodes - fixed; b++) {
    const devices: FdtNode[] = [];
    made++;
    for (let d = 0; d < 99 && made < nodes - fixed; d++, made++) {
      const base = 0x10000000 + b * 0x100000 + d * 0x1000;
      const irq = (b * 100 + d) % 900 + 32;
      devices.push(node(`serial@${base.toString(16)}`, [
        { name: "compatible", value: strs(["vendor,uart-v2", "vendor,uart"]) },
        { name: "reg", value: cells([base, 0x1000], [2, 2]) },
        { name: "interrupts", value: u32(0, irq, 4) },
        { name: "clocks", value: u32(CLK) },
        { name: "status", value: str("okay") },
      ]));
      if (b === 0) {
        listed.push({
          name: `uart${d}`,
          path: `/bus@10000000/serial@${base.toString(16)}`,
          base,
          irq,
        });
      }
    }
    // An identity window of the bus's 1 MiB, named by its address (dtc checks both).
    const window = 0x10000000 + b * 0x100000;
    buses.push(node(`bus@${window.toString(16)}`, [
      { name: "compatible", value: str("simple-bus") },
      { name: "#address-cells", value: u32(2) },
      { name: "#size-cells", value: u32(2) },
      { name: "ranges", value: cells([window, window, 0x100000], [2, 2, 2]) },
    ], devices));
  }
  const tree: FdtTree = {
    root: node("", [
      { name: "#address-cells", value: u32(2) },
      { name: "#size-cells", value: u32(2) },
      { name: "compatible", value: str("vendor,synthetic") },
      { name: "model", value: str("synthetic board") },
      { name: "interrupt-parent", value: u32(GIC) },
    ], [
      node("psci", [{ name: "compatible", value: strs(["arm,psci-1.0"]) }, {
        name: "method",
        value: str("smc"),
      }]),
      node("memory@80000000", [
        { name: "device_type", value: str("memory") },
        { name: "reg", value: cells([0x80000000, 16 * 2 ** 30], [2, 2]) },
      ]),
      node("cpus", [{ name: "#address-cells", value: u32(1) }, {
        name: "#size-cells",
        value: u32(0),
      }], [
        ...cpuNodes,
        node("cpu-map", [], clusters),
      ]),
      node("intc@8000000", [
        { name: "compatible", value: str("arm,cortex-a15-gic") },
        { name: "reg", value: cells([0x8000000, 0x10000, 0x8010000, 0x10000], [2, 2]) },
        { name: "interrupt-controller", value: empty() },
        { name: "#interrupt-cells", value: u32(3) },
        { name: "#address-cells", value: u32(0) },
        { name: "phandle", value: u32(GIC) },
      ]),
      node("timer", [
        { name: "compatible", value: str("arm,armv8-timer") },
        { name: "interrupts", value: u32(1, 13, 0xf04, 1, 14, 0xf04, 1, 11, 0xf04, 1, 10, 0xf04) },
      ]),
      node("clk", [
        { name: "compatible", value: str("fixed-clock") },
        { name: "#clock-cells", value: u32(0) },
        { name: "clock-frequency", value: u32(24000000) },
        { name: "phandle", value: u32(CLK) },
      ]),
      node("chosen", [{ name: "stdout-path", value: str(listed[0]?.path ?? "") }]),
      ...buses,
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
  let total = 0;
  const countNodes = (n: FdtNode) => {
    total++;
    n.children.forEach(countNodes);
  };
  countNodes(tree.root);
  const yaml = [
    `name: ${name}`,
    `description: synthetic ${cores}-core board with ${total} DT nodes (benchmarks)`,
    "arch: armv8",
    "monitor: { conduit: smc, interface: psci }",
    `devicetree: ${name}.dtb`,
    "cores:",
    ...Array.from(
      { length: cores },
      (_, i) => `  - { id: ${i}, hwid: 0x${mpidr(i).toString(16)} }`,
    ),
    "memory:",
    "  - { name: ram, base: 0x80000000, size: 16G }",
    "devices:",
    ...listed.flatMap((d, i) => [
      `  - name: ${d.name}`,
      `    path: ${d.path}`,
      `    reg: [{ base: 0x${d.base.toString(16)}, size: 0x1000 }]`,
      `    interrupts: [${d.irq}]`,
      ...(i === 0 ? ["    sharing: per-partition", "    default: true", "    console: true"] : []),
    ]),
    "reserved:",
    "  - owner: management",
    "    cores: [0]",
    "    memory: [{ base: 0x80000000, size: 256M }]",
  ].join("\n") + "\n";
  return { yaml, dtb: writeFdt(tree), nodes: total };
}
