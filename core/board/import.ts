/**
 * `board import`: a first board description derived from any device tree — the
 * architecture, the cores with their ids, the RAM, the MMIO devices with their
 * registers and interrupts, the console — with default reservations for the
 * management partition and the monitor that are marked as defaults to review.
 * What it cannot handle it names instead of guessing.
 *
 * @module
 */
import type { Board, BoardDevice, MemoryRange, Range, Reservation } from "../model.ts";
import { mergeRanges, overlaps, subtractRanges } from "../ranges.ts";
import { alignUp, formatSize, MiB } from "../units.ts";
import type { FdtNode, FdtTree } from "../devicetree/tree.ts";
import { getProp } from "../devicetree/tree.ts";
import { readCells, readString, readStrings, readU32s } from "../devicetree/values.ts";
import { cellCounts } from "../devicetree/partition.ts";

/** What the management partition keeps by default on an imported board. */
export const DEFAULT_MANAGEMENT_MEMORY = 256 * MiB;
/**
 * The least it keeps when no {@linkcode DEFAULT_MANAGEMENT_MEMORY} is free in one
 * piece (a 512 MiB board whose firmware keeps a few pieces): 128 MiB.
 */
const MIN_MANAGEMENT_MEMORY = 128 * MiB;

import { BoardImportError } from "./import_error.ts";
import { detectArch } from "./detect_arch.ts";
import type { ArchPlugin } from "../registry/plugin.ts";
import { boardMemory, type GivenMemory } from "./memory.ts";

export { BoardImportError } from "./import_error.ts";
export type { GivenMemory } from "./memory.ts";

/** The imported board and what was left out. */
export interface ImportedBoard {
  /** The board description. */
  board: Board;
  /** One line per thing left out or assumed, for the YAML's comments. */
  notes: string[];
}

/**
 * Derives a board description from a device tree. `arch` is the arch plugin to
 * use (`--arch`), or the registered ones, whose `detectCpu` tells which the cpus
 * are (core/board/detect_arch.ts). `memory`, when given, is the board's RAM in
 * place of the tree's memory nodes (core/board/memory.ts).
 */
export function importBoard(
  tree: FdtTree,
  name: string,
  arch: ArchPlugin | readonly ArchPlugin[],
  memory?: GivenMemory,
): ImportedBoard {
  const notes: string[] = [];
  const root = tree.root;
  const [ac, sc] = cellCounts(root);
  const cpus = child(root, "cpus");
  if (!cpus) throw new BoardImportError("the device tree has no /cpus node", "/cpus");
  const cpuNodes = cpus.children.filter((c) => stringProp(c, "device_type") === "cpu");
  if (cpuNodes.length === 0) throw new BoardImportError("/cpus has no cpu nodes", "/cpus");
  const plugin = "kind" in arch ? arch : detectArch(cpuNodes, arch);
  const [cpuAc] = cellCounts(cpus);
  const cores = cpuNodes.map((cpu, id) => {
    const reg = getProp(cpu, "reg");
    if (!reg) throw new BoardImportError(`cpu node ${cpu.name} has no reg`, `/cpus/${cpu.name}`);
    const ids = cellsOf(reg.value, [cpuAc], `/cpus/${cpu.name}`, "reg");
    if (ids.length === 0) {
      throw new BoardImportError(`cpu node ${cpu.name} has an empty reg`, `/cpus/${cpu.name}`);
    }
    return { id, hwid: Number(ids[0][0]) };
  });

  const ram = boardMemory(tree, memory, notes);

  const monitorKept = firmwareMemory(tree, ac, sc, ram, notes);
  const devices = collectDevices(tree, ram, notes);
  markConsole(tree, devices, notes);

  if (cores.length < 2) {
    throw new BoardImportError(
      "the board has one core, which the management partition keeps: no core is left for partitions",
      "/cpus",
    );
  }
  const management = managementWindow(ram, monitorKept, notes);
  if (!management) {
    throw new BoardImportError(
      "no 128 MiB of RAM in one piece is left for the management partition (it keeps 256 MiB " +
        "where it can)",
      "/memory",
    );
  }
  const reserved: Reservation[] = [
    { owner: "management", cores: [cores[0].id], memory: [management], devices: [] },
  ];
  if (monitorKept.length > 0) {
    reserved.push({ owner: "monitor", cores: [], memory: monitorKept, devices: [] });
  }

  const { conduit, note } = plugin.importConduit?.(tree) ?? { conduit: plugin.conduits[0] };
  if (note) notes.push(note);
  return {
    board: {
      name,
      description: stringProp(root, "model") ?? stringProp(root, "compatible") ?? name,
      arch: plugin.name,
      monitor: { conduit, interface: plugin.powerInterface },
      cores,
      memory: ram,
      devices,
      reserved,
    },
    notes,
  };
}

function child(node: FdtNode | undefined, name: string): FdtNode | undefined {
  return node?.children.find((c) => c.name === name || c.name.split("@")[0] === name);
}

function stringProp(node: FdtNode | undefined, name: string): string | undefined {
  const prop = node && getProp(node, name);
  return prop && prop.value.length > 0 && prop.value[prop.value.length - 1] === 0
    ? readString(prop.value)
    : undefined;
}

/** /memreserve/ entries and static /reserved-memory regions inside RAM: the firmware's. */
function firmwareMemory(
  tree: FdtTree,
  ac: number,
  sc: number,
  memory: MemoryRange[],
  notes: string[],
): Range[] {
  const kept: Range[] = [];
  const add = (range: Range, what: string) => {
    if (range.size === 0) return;
    if (!memory.some((m) => overlaps(m, range))) return;
    const clipped = memory.flatMap((m) => {
      const base = Math.max(m.base, range.base);
      const end = Math.min(m.base + m.size, range.base + range.size);
      return end > base ? [{ base, size: end - base }] : [];
    });
    for (const piece of clipped) {
      if (!kept.some((k) => overlaps(k, piece))) kept.push(piece);
      else notes.push(`${what}: overlaps another reserved region, merged`);
    }
  };
  for (const r of tree.reservations) {
    add({ base: Number(r.address), size: Number(r.size) }, "/memreserve/");
  }
  const reservedMemory = child(tree.root, "reserved-memory");
  if (reservedMemory) {
    const [rac, rsc] = cellCounts(reservedMemory);
    for (const region of reservedMemory.children) {
      const reg = getProp(region, "reg");
      if (!reg) {
        notes.push(
          `/reserved-memory/${region.name}: a dynamic region (no reg) is left to the kernel`,
        );
        continue;
      }
      for (const [base, size] of readCells(reg.value, [rac || ac, rsc || sc])) {
        add({ base: Number(base), size: Number(size) }, `/reserved-memory/${region.name}`);
      }
    }
  }
  return kept.sort((a, b) => a.base - b.base);
}

/** The first 256 MiB of RAM (2 MiB aligned) that the firmware does not keep. */
function managementWindow(
  memory: MemoryRange[],
  monitor: Range[],
  notes: string[],
): Range | undefined {
  const free = memory.flatMap((ram) => subtractRanges(ram, monitor)).map((r) => {
    const base = alignUp(r.base, 2 * MiB);
    return { base, size: Math.floor((r.base + r.size - base) / (2 * MiB)) * 2 * MiB };
  });
  const first = free.find((r) => r.size >= DEFAULT_MANAGEMENT_MEMORY);
  if (first) return { base: first.base, size: DEFAULT_MANAGEMENT_MEMORY };
  const largest = free.reduce((a, b) => (b.size > a.size ? b : a), { base: 0, size: 0 });
  if (largest.size < MIN_MANAGEMENT_MEMORY) return undefined;
  notes.push(
    `no 256 MiB of RAM is free in one piece: the management partition keeps the largest, ${
      formatSize(largest.size)
    }`,
  );
  return largest;
}

/** MMIO devices: enabled nodes with compatible and reg, on the root or on buses with ranges. */
function collectDevices(tree: FdtTree, ram: readonly Range[], notes: string[]): BoardDevice[] {
  const devices: BoardDevice[] = [];
  const aliasOf = new Map<string, string>();
  const aliases = child(tree.root, "aliases");
  for (const prop of aliases?.props ?? []) {
    if (prop.value.length > 0 && prop.value[prop.value.length - 1] === 0) {
      const path = readString(prop.value);
      if (!aliasOf.has(path) && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prop.name)) {
        aliasOf.set(path, prop.name);
      }
    }
  }
  const used = new Set<string>();
  const counts = new Map<string, number>();
  const visit = (
    node: FdtNode,
    path: string,
    translate: (addr: number) => number | undefined,
    cells: [number, number],
  ) => {
    for (const c of node.children) {
      const childPath = `${path === "/" ? "" : path}/${c.name}`;
      const top = path === "/";
      if (
        top &&
        ["cpus", "chosen", "aliases", "memory", "reserved-memory", "psci"].includes(
          c.name.split("@")[0],
        )
      ) continue;
      if (stringProp(c, "device_type") === "memory") continue;
      const status = stringProp(c, "status");
      if (status !== undefined && status !== "okay" && status !== "ok") continue;
      const reg = getProp(c, "reg");
      const compatible = getProp(c, "compatible");
      const ranges = getProp(c, "ranges");
      // A bus: no registers, or a simple-bus with its own (i.MX's AIPS, whose reg
      // often spans its children's): its devices are listed, not it.
      const simpleBus = compatible !== undefined &&
        readStrings(compatible.value).includes("simple-bus");
      if (ranges && (!reg || simpleBus)) {
        if (reg) notes.push(`${childPath}: a bus with registers; its devices are listed, not it`);
        const inner = childTranslator(c, cells, translate, notes, childPath);
        if (inner) visit(c, childPath, inner, cellCounts(c));
        continue;
      }
      if (!reg || !compatible || getProp(c, "interrupt-controller")) continue;
      const provider = socProvider(c);
      if (provider) {
        notes.push(`${childPath}: a ${provider} provider, kept by the management partition`);
        continue;
      }
      let regs: Range[];
      try {
        regs = readCells(reg.value, cells).map(([b, s]) => ({
          base: translate(Number(b)) ?? -1,
          size: Number(s),
        }));
      } catch {
        notes.push(`${childPath}: reg does not match #address-cells/#size-cells, left out`);
        continue;
      }
      if (regs.some((r) => r.base < 0 || r.size === 0)) {
        notes.push(`${childPath}: registers outside the bus's ranges or of size 0, left out`);
        continue;
      }
      const base = c.name.split("@")[0].replace(/[^A-Za-z0-9_.-]/g, "-");
      let name = aliasOf.get(childPath);
      if (!name || used.has(name)) {
        let n = counts.get(base) ?? 0;
        while (used.has(`${base}${n}`)) n++;
        name = `${base}${n}`;
        counts.set(base, n + 1);
      }
      used.add(name);
      devices.push({
        name,
        compatible: readStrings(compatible.value),
        reg: regs,
        interrupts: interruptsOf(c),
        sharing: "exclusive",
        default: false,
        console: false,
        path: childPath,
      });
      if (ranges) {
        notes.push(`${childPath}: a device with child buses; its children are not listed`);
      }
    }
  };
  visit(tree.root, "/", (a) => a, cellCounts(tree.root));
  for (const d of devices) d.reg = mergeRanges(d.reg);
  // Two devices at the same registers (aliases of one block) cannot both be listed,
  // and registers inside RAM are not a device's to give.
  return devices.filter((d, i) => {
    if (d.reg.some((r) => ram.some((m) => overlaps(m, r)))) {
      notes.push(`${d.path}: registers inside RAM, left out`);
      return false;
    }
    const clash = devices.slice(0, i).find((o) =>
      o.reg.some((r) => d.reg.some((s) => overlaps(r, s)))
    );
    if (clash) notes.push(`${d.path}: registers overlap ${clash.path}, left out`);
    return !clash;
  });
}

/**
 * What a SoC-wide provider node provides (clocks, resets, power domains, pins), or
 * undefined: such a controller serves the management partition's devices too, so
 * it is not offered as a device; a partition's device that needs it is named by
 * `plan` (core/partition/shared_resources.ts).
 */
function socProvider(node: FdtNode): string | undefined {
  if (getProp(node, "#clock-cells")) return "clock";
  if (getProp(node, "#reset-cells")) return "reset";
  if (getProp(node, "#power-domain-cells")) return "power-domain";
  const compatible = readStrings(getProp(node, "compatible")?.value ?? new Uint8Array());
  if (node.name.startsWith("pinctrl") || compatible.some((c) => /pinctrl|iomuxc$/.test(c))) {
    return "pin";
  }
  return undefined;
}

function childTranslator(
  bus: FdtNode,
  parentCells: [number, number],
  parent: (addr: number) => number | undefined,
  notes: string[],
  path: string,
): ((addr: number) => number | undefined) | undefined {
  const ranges = getProp(bus, "ranges")!;
  if (ranges.value.length === 0) return parent;
  const [cac, csc] = cellCounts(bus);
  let entries: bigint[][];
  try {
    entries = readCells(ranges.value, [cac, parentCells[0], csc]);
  } catch {
    notes.push(`${path}: ranges do not match the cell counts, its devices are left out`);
    return undefined;
  }
  return (addr) => {
    for (const [child, parentAddr, size] of entries) {
      const offset = addr - Number(child);
      if (offset >= 0 && offset < Number(size)) return parent(Number(parentAddr) + offset);
    }
    return undefined;
  };
}

/** Interrupt numbers: the SPI number of 3-cell GIC specifiers, else the first cell. */
function interruptsOf(node: FdtNode): number[] {
  const prop = getProp(node, "interrupts");
  if (!prop || prop.value.length % 4 !== 0) return [];
  const cells = readU32s(prop.value);
  if (cells.length % 3 === 0 && cells.length >= 3) {
    const out: number[] = [];
    for (let i = 0; i < cells.length; i += 3) out.push(cells[i + 1]);
    return out;
  }
  return cells.length > 0 ? [cells[0]] : [];
}

/** The device /chosen/stdout-path names (a path or an alias, options after ':'). */
function markConsole(tree: FdtTree, devices: BoardDevice[], notes: string[]): void {
  const chosen = child(tree.root, "chosen");
  const stdout = stringProp(chosen, "stdout-path") ?? stringProp(chosen, "linux,stdout-path");
  if (!stdout) return;
  let path = stdout.split(":")[0];
  if (!path.startsWith("/")) {
    const alias = getProp(
      child(tree.root, "aliases") ?? { name: "", props: [], children: [] },
      path,
    );
    path = alias && alias.value[alias.value.length - 1] === 0 ? readString(alias.value) : path;
  }
  const device = devices.find((d) => d.path === path);
  if (device) device.console = true;
  else notes.push(`/chosen/stdout-path ${stdout} names no listed device`);
}

/** `readCells`, refusing a malformed value with the node and property named. */
function cellsOf(value: Uint8Array, sizes: number[], path: string, prop: string): bigint[][] {
  try {
    return readCells(value, sizes);
  } catch (error) {
    throw new BoardImportError(`${prop} of ${path}: ${(error as Error).message}`, path);
  }
}
