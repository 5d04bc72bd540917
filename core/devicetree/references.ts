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
  /** Target phandle. */
  phandle: number;
  /** Index of the entry's first cell in the property. */
  first: number;
  /** Number of cells of the entry, the phandle included. */
  count: number;
}

/** The cells property naming a property's argument count, "" for bare phandles, undefined when not a reference. */
export function referenceKind(name: string): string | undefined {
  if (name in WITH_ARGS) return WITH_ARGS[name];
  if (name.endsWith("-gpios") || name.endsWith("-gpio")) return "#gpio-cells";
  if (BARE.has(name) || /^pinctrl-\d+$/.test(name) || name.endsWith("-supply")) return "";
  return undefined;
}

/**
 * The references of one property. Entries are parsed with the targets' cells
 * properties; parsing stops at a phandle that resolves to no node (the rest of
 * the value cannot be split safely).
 */
export function referencesOf(
  prop: FdtProperty,
  nodeOf: (phandle: number) => FdtNode | undefined,
): Reference[] {
  const cellsName = referenceKind(prop.name);
  if (cellsName === undefined || prop.value.length % 4 !== 0) return [];
  const cells = readU32s(prop.value);
  const refs: Reference[] = [];
  for (let i = 0; i < cells.length;) {
    const phandle = cells[i];
    const target = nodeOf(phandle);
    if (!target) {
      refs.push({ phandle, first: i, count: cells.length - i });
      break;
    }
    const argsProp = cellsName === "" ? undefined : getProp(target, cellsName);
    const args = argsProp && argsProp.value.length === 4 ? readU32s(argsProp.value)[0] : 0;
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
