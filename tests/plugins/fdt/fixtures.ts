/**
 * Shared fixtures of the FDT tests.
 *
 * @module
 */
import { cells, empty, type FdtTree, node, str, strs, u32 } from "../../../plugins/fdt/mod.ts";

/** A small board-like tree with the kinds of value a real one has. */
export function boardTree(): FdtTree {
  return {
    root: node("", [
      { name: "#address-cells", value: u32(2) },
      { name: "#size-cells", value: u32(2) },
      { name: "compatible", value: strs(["vendor,board", "vendor,soc"]) },
      { name: "interrupt-parent", value: u32(0x8001) },
    ], [
      node("chosen", [
        { name: "bootargs", value: str("console=ttyAMA0 root=/dev/vda") },
        { name: "stdout-path", value: str("/pl011@9000000") },
        { name: "linux,initrd-start", value: cells([0x48000000n], [2]) },
      ]),
      node("cpus", [{ name: "#address-cells", value: u32(1) }, {
        name: "#size-cells",
        value: u32(0),
      }], [
        node("cpu@0", [
          { name: "device_type", value: str("cpu") },
          { name: "reg", value: u32(0) },
          { name: "enable-method", value: str("psci") },
        ]),
        node("cpu@100", [{ name: "device_type", value: str("cpu") }, {
          name: "reg",
          value: u32(0x100),
        }]),
      ]),
      node("memory@40000000", [
        { name: "device_type", value: str("memory") },
        { name: "reg", value: cells([0x40000000n, 0x80000000n], [2, 2]) },
      ]),
      node("intc@8000000", [
        { name: "interrupt-controller", value: empty() },
        { name: "phandle", value: u32(0x8001) },
        { name: "odd-bytes", value: new Uint8Array([1, 2, 3]) },
      ], [node("v2m@8020000", [{ name: "msi-controller", value: empty() }])]),
    ]),
    reservations: [{ address: 0x48000000n, size: 0x100000n }, {
      address: 0xffffffff_fffff000n,
      size: 0x1000n,
    }],
    bootCpuidPhys: 0x100,
  };
}

/**
 * A synthetic board of about `nodes` nodes: buses of 100 devices, each device with
 * `compatible` (two strings), `reg` (2+2 cells), `interrupts` (3 cells), `status`
 * and an empty `dma-coherent` — five properties per device, like real SoC nodes.
 */
export function syntheticTree(nodes: number): FdtTree {
  const buses: FdtTree["root"][] = [];
  let made = 1;
  for (let b = 0; made < nodes; b++) {
    const devices: FdtTree["root"][] = [];
    made++;
    for (let d = 0; d < 99 && made < nodes; d++, made++) {
      const address = 0x10000000 + b * 0x100000 + d * 0x1000;
      devices.push(node(`dev@${address.toString(16)}`, [
        { name: "compatible", value: strs(["vendor,dev-v2", "vendor,dev"]) },
        { name: "reg", value: cells([address, 0x1000], [2, 2]) },
        { name: "interrupts", value: u32(0, (b * 100 + d) % 988, 4) },
        { name: "status", value: str("okay") },
        { name: "dma-coherent", value: empty() },
      ]));
    }
    buses.push(node(`bus@${b.toString(16)}`, [
      { name: "compatible", value: str("simple-bus") },
      { name: "ranges", value: empty() },
    ], devices));
  }
  return {
    root: node("", [{ name: "#address-cells", value: u32(2) }, {
      name: "#size-cells",
      value: u32(2),
    }], buses),
    reservations: [],
    bootCpuidPhys: 0,
  };
}
