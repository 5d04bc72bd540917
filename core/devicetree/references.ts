/**
 * Phandle references in a device tree: which properties hold them, how many
 * argument cells follow each phandle, and how to find and drop the references to
 * nodes that are gone.
 *
 * @module
 */
import type { FdtNode, FdtProperty } from "./tree.ts";
import { getProp } from "./tree.ts";
import { readU32s, u32 } from "./values.ts";

/** Properties holding `<&target arg…>` lists, with the target's cells property. */
const WITH_ARGS: Record<string, string> = {
  "interrupts-extended": "#interrupt-cells",
  clocks: "#clock-cells",
  "assigned-clocks": "#clock-cells",
  "assigned-clock-parents": "#clock-cells",
  resets: "#reset-cells",
  "power-domains": "#power-domain-cells",
  phys: "#phy-cells",
  dmas: "#dma-cells",
  iommus: "#iommu-cells",
  mboxes: "#mbox-cells",
  pwms: "#pwm-cells",
  "io-channels": "#io-channel-cells",
  interconnects: "#interconnect-cells",
  "thermal-sensors": "#thermal-sensor-cells",
  "sound-dai": "#sound-dai-cells",
  hwlocks: "#hwlock-cells",
  "nvmem-cells": "#nvmem-cell-cells",
  "msi-parent": "#msi-cells",
  "cooling-device": "#cooling-cells",
  gpios: "#gpio-cells",
  // The legacy singular form, as fixed regulators write it (dtc checks it too).
  gpio: "#gpio-cells",
};

/** Properties holding one phandle or a list of bare phandles. */
const BARE = new Set([
  "interrupt-parent",
  "cpu",
  "cpus",
  "phy-handle",
  "memory-region",
  "next-level-cache",
  "operating-points-v2",
  "cpu-idle-states",
  "remote-endpoint",
  "syscon",
  "regmap",
  "clock-parent",
  "trip",
  "interrupt-affinity",
]);

/** One reference: the property and the phandle+argument cells of one entry. */
export interface Reference {
  /** Target phandle (0 or 0xffffffff for an empty entry, which names nothing). */
  phandle: number;
  /** Index of the entry's first cell in the property. */
  first: number;
  /** Number of cells of the entry, the phandle included. */
  count: number;
}

/** {@linkcode referenceKind}'s answers so far (null: not a reference), up to a bound. */
const kinds = new Map<string, string | null>();
/** Most names {@linkcode kinds} remembers: real trees use a few hundred. */
const KINDS_MAX = 4096;

/** The cells property naming a property's argument count, "" for bare phandles, undefined when not a reference. */
export function referenceKind(name: string): string | undefined {
  const known = kinds.get(name);
  if (known !== undefined) return known ?? undefined;
  const kind = kindOf(name);
  if (kinds.size < KINDS_MAX) kinds.set(name, kind ?? null);
  return kind;
}

/**
 * Whether property `name` of a node holds references, `gpioHog` saying whether the
 * node is a GPIO hog (has `gpio-hog`): a hog's `gpios` are a line number and flags
 * of its parent controller, not phandles (dtc's gpios check skips hogs too).
 */
export function holdsReferences(name: string, gpioHog: boolean): boolean {
  const kind = referenceKind(name);
  return kind !== undefined && !(gpioHog && kind === "#gpio-cells");
}

/** Whether `name` is `pinctrl-N` (N decimal digits); no regex, which is slow to run first. */
export function isPinctrlN(name: string): boolean {
  if (!name.startsWith("pinctrl-") || name.length === 8) return false;
  for (let i = 8; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function kindOf(name: string): string | undefined {
  if (name in WITH_ARGS) return WITH_ARGS[name];
  // `snps,nr-gpios` is a count, not a reference (dtc skips it too).
  if (name.endsWith("nr-gpios")) return undefined;
  if (name.endsWith("-gpios") || name.endsWith("-gpio")) return "#gpio-cells";
  if (BARE.has(name) || isPinctrlN(name) || name.endsWith("-supply")) return "";
  return undefined;
}

/**
 * Whether a list's phandle cell is an empty entry: 0 (Linux's of_parse_phandle_with_args
 * skips it as one cell, as `cs-gpios = <&gpio 1 0>, <0>` writes an unused position)
 * or 0xffffffff (which dtc skips the same way). Neither names a node.
 */
export function isHole(phandle: number): boolean {
  return phandle === 0 || phandle === 0xffffffff;
}

/**
 * The references of one property. Entries are parsed with the targets' cells
 * properties; an empty entry ({@linkcode isHole}) is one cell; parsing stops at a
 * phandle that resolves to no node (the rest of the value cannot be split safely).
 */
export function referencesOf(
  prop: FdtProperty,
  nodeOf: (phandle: number) => FdtNode | undefined,
): Reference[] {
  return referencesWith(prop, (phandle, cellsName) => {
    const target = nodeOf(phandle);
    if (!target) return undefined;
    const argsProp = cellsName === "" ? undefined : getProp(target, cellsName);
    return argsProp && argsProp.value.length === 4 ? readU32s(argsProp.value)[0] : 0;
  });
}

/**
 * {@linkcode referencesOf} with the targets' argument counts from `argsOf(phandle,
 * cellsName)`: the `cellsName` property of the node with that phandle (0 for bare
 * phandles, `cellsName` ""), or undefined when no node has it.
 */
export function referencesWith(
  prop: FdtProperty,
  argsOf: (phandle: number, cellsName: string) => number | undefined,
): Reference[] {
  const cellsName = referenceKind(prop.name);
  if (cellsName === undefined || prop.value.length % 4 !== 0) return [];
  const cells = readU32s(prop.value);
  const refs: Reference[] = [];
  for (let i = 0; i < cells.length;) {
    const phandle = cells[i];
    if (isHole(phandle)) {
      refs.push({ phandle, first: i, count: 1 });
      i += 1;
      continue;
    }
    const args = argsOf(phandle, cellsName);
    if (args === undefined) {
      refs.push({ phandle, first: i, count: cells.length - i });
      break;
    }
    refs.push({ phandle, first: i, count: 1 + args });
    i += 1 + args;
  }
  return refs;
}

/** The value of `prop` without the entries whose phandle `drop` says to drop. */
export function withoutEntries(
  prop: FdtProperty,
  refs: readonly Reference[],
  drop: (phandle: number) => boolean,
): Uint8Array {
  const cells = readU32s(prop.value);
  const kept: number[] = [];
  for (const ref of refs) {
    if (!drop(ref.phandle)) kept.push(...cells.slice(ref.first, ref.first + ref.count));
  }
  return u32(...kept);
}
