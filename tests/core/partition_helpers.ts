/**
 * What the partition pruning tests build their boards of: a device of the board
 * description at a devicetree path, a two-core armv8 board around such devices,
 * and a property's u32 cells.
 */
import type { Board, BoardDevice } from "../../core/model.ts";
import { type FdtNode, getProp } from "../../core/devicetree/tree.ts";
import { readU32s } from "../../core/devicetree/values.ts";

/** A device of the board description at `path` (exclusive, not default). */
export function pathDevice(name: string, path: string, console = false): BoardDevice {
  return {
    name,
    compatible: [],
    reg: [],
    interrupts: [],
    sharing: "exclusive",
    default: false,
    console,
    path,
  };
}

/** Board `t`: armv8, PSCI over SMC, cores 0 and 1, 1 GiB of RAM at 0x40000000, `devices`. */
export function twoCoreBoard(devices: BoardDevice[]): Board {
  return {
    name: "t",
    description: "t",
    arch: "armv8",
    monitor: { conduit: "smc", interface: "psci" },
    cores: [{ id: 0, hwid: 0 }, { id: 1, hwid: 1 }],
    memory: [{ name: "ram", base: 0x40000000, size: 2 ** 30 }],
    devices,
    reserved: [],
  };
}

/** A property's u32 cells, or undefined when the node lacks it. */
export function u32sOf(n: FdtNode | undefined, name: string): number[] | undefined {
  const prop = n && getProp(n, name);
  return prop ? readU32s(prop.value) : undefined;
}
