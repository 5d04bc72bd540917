/**
 * The last pruning step of a partition's device tree: references to nodes that
 * the partition's tree left out are fixed, keeping the positions of the lists
 * whose consumers count positions.
 *
 * - `interrupts-extended` is positional (entry i is interrupt i; for a RISC-V PLIC
 *   entry i is context i, for a CLINT or ACLINT entry i is the i-th hart's
 *   registers): an entry naming a removed controller keeps its place, pointed at a
 *   kept controller with the same `#interrupt-cells` and every specifier cell
 *   0xffffffff ("not connected", as SiFive's DTs write it).
 * - `interrupt-affinity` (Arm PMU) pairs entry i with interrupt i: a pair whose cpu
 *   was removed goes as a pair. With one interrupt (a PPI) it is a set of cpus.
 * - `cpus` is a set: entries naming removed cpus go.
 * - GPIO lists (`gpios`, `*-gpios`) are positional: an entry naming a removed
 *   controller becomes the empty entry `<0>`; the list goes when no entry names a
 *   node any more.
 * - Any other reference property naming a removed node goes whole.
 * - `interrupts` whose interrupt parent (own or inherited) was removed go, with
 *   their `interrupt-names`.
 *
 * @module
 */
import type { FdtNode, FdtProperty, FdtTree } from "./tree.ts";
import { getProp, removeProp, setProp, u32Prop } from "./tree.ts";
import { readString, readU32s, stringsOf, strs, u32 } from "./values.ts";
import type { Reference } from "./references.ts";
import {
  holdsReferences,
  isHole,
  referenceKind,
  referencesWith,
  withoutEntries,
} from "./references.ts";

/** The specifier cell of a "not connected" interrupts-extended entry. */
const NOT_CONNECTED = 0xffffffff;

/** What the fixing needs to know of the board's tree and of the copy made from it. */
export interface Removal {
  /**
   * The argument cells that follow `phandle` in a list whose targets give them in
   * `cellsName` ("" for bare phandles: 0); undefined when no board node has it.
   */
  argsOf: (phandle: number, cellsName: string) => number | undefined;
  /** Whether `phandle` names a board node that is not in the partition's tree. */
  isRemoved: (phandle: number) => boolean;
  /** Whether `path` is a board node's full path, and that node is not in the partition's tree. */
  isRemovedPath: (path: string) => boolean;
  /** The board's node with a phandle (its properties; no children). */
  nodeOf: (phandle: number) => FdtNode | undefined;
  /** The parent of a board node that `nodeOf` or `originalOf` gave. */
  parentOf: (node: FdtNode) => FdtNode | undefined;
  /** The board node a node of the partition's tree was copied from. */
  originalOf: (copy: FdtNode) => FdtNode | undefined;
}

/** A kept interrupt controller that a "not connected" entry can name. */
interface Controller {
  phandle: number;
  cells: number;
}

/** Fixes every reference of `tree` (a copy) to a node the copy left out. */
export function fixRemovedReferences(tree: FdtTree, removal: Removal): void {
  const controllers = keptControllers(tree, removal);
  eachNode(tree.root, (node) => {
    for (const prop of [...node.props]) fixProperty(node, prop, removal, controllers);
  });
  eachNode(tree.root, (node) => dropOrphanInterrupts(node, removal));
  pruneCpuMap(tree);
  fixPathTables(tree, removal);
}

/**
 * A node whose `interrupts` go to a removed interrupt parent (its own
 * `interrupt-parent`, or one it inherits) loses them and their `interrupt-names`:
 * no controller of the partition can take them, and with its `interrupt-parent`
 * dropped they would fall to another controller with other `#interrupt-cells`.
 */
function dropOrphanInterrupts(node: FdtNode, removal: Removal): void {
  if (!getProp(node, "interrupts")) return;
  const original = removal.originalOf(node);
  if (!original || !parentRemoved(original, removal)) return;
  removeProp(node, "interrupts");
  if (!getProp(node, "interrupts-extended")) removeProp(node, "interrupt-names");
}

/**
 * Whether the way from a board node to its interrupt parent (as Linux's
 * of_irq_find_parent takes it: `interrupt-parent`, else the parent node, until a
 * node with `#interrupt-cells`) goes through an `interrupt-parent` that names a
 * removed node.
 */
function parentRemoved(node: FdtNode, removal: Removal): boolean {
  let current: FdtNode | undefined = node;
  for (let depth = 0; current && depth < 64; depth++) {
    const phandle = u32Prop(current, "interrupt-parent");
    if (phandle !== undefined && removal.isRemoved(phandle)) return true;
    current = phandle !== undefined ? removal.nodeOf(phandle) : removal.parentOf(current);
    if (current && getProp(current, "#interrupt-cells")) return false;
  }
  return false;
}

/** Visits `node` and its subtree, depth first in document order. */
function eachNode(node: FdtNode, visit: (node: FdtNode) => void): void {
  visit(node);
  for (const child of node.children) eachNode(child, visit);
}

/** Fixes a reference property of `node` (a copy of a board node) that names a removed node. */
function fixProperty(
  node: FdtNode,
  prop: FdtProperty,
  removal: Removal,
  controllers: readonly Controller[],
): void {
  if (!holdsReferences(prop.name, getProp(node, "gpio-hog") !== undefined)) return;
  const refs = referencesWith(prop, removal.argsOf);
  const removed = (phandle: number) => removal.isRemoved(phandle);
  if (!refs.some((r) => removed(r.phandle))) return;
  if (prop.name === "interrupts-extended") {
    const value = notConnected(prop, refs, removal, controllers);
    if (value) setProp(node, prop.name, value);
    else removeProp(node, prop.name);
  } else if (prop.name === "interrupt-affinity") {
    dropAffinityPairs(node, removal.originalOf(node) ?? node, prop, refs, removal);
  } else if (prop.name === "cpus") {
    setOrRemove(node, prop.name, withoutEntries(prop, refs, removed));
  } else if (referenceKind(prop.name) === "#gpio-cells") {
    setOrRemove(node, prop.name, withHoles(prop, refs, removed));
  } else {
    removeProp(node, prop.name);
  }
}

/**
 * A GPIO list (`gpios`, `*-gpios`; positional: consumers ask for entry i, as
 * `cs-gpios` gives chip select i) with each entry that names a removed provider
 * made an empty entry, the one cell `<0>` (Linux skips it as an unused position,
 * dtc as an optional entry); empty when no entry names a node any more.
 */
function withHoles(
  prop: FdtProperty,
  refs: readonly Reference[],
  removed: (phandle: number) => boolean,
): Uint8Array {
  const cells = readU32s(prop.value);
  const out: number[] = [];
  for (const ref of refs) {
    if (removed(ref.phandle)) out.push(0);
    else out.push(...cells.slice(ref.first, ref.first + ref.count));
  }
  return refs.every((r) => isHole(r.phandle) || removed(r.phandle))
    ? new Uint8Array()
    : u32(...out);
}

/** Sets `name` to `value`, or removes it when `value` is empty. */
function setOrRemove(node: FdtNode, name: string, value: Uint8Array): void {
  if (value.length > 0) setProp(node, name, value);
  else removeProp(node, name);
}

/** The partition's interrupt controllers with a phandle and `#interrupt-cells`, in order. */
function keptControllers(tree: FdtTree, removal: Removal): Controller[] {
  const list: Controller[] = [];
  eachNode(tree.root, (node) => {
    if (!getProp(node, "interrupt-controller")) return;
    const phandle = u32Prop(node, "phandle") ?? u32Prop(node, "linux,phandle");
    const cells = u32Prop(node, "#interrupt-cells");
    if (phandle === undefined || cells === undefined || removal.argsOf(phandle, "") === undefined) {
      return;
    }
    list.push({ phandle, cells });
  });
  return list;
}

/**
 * `interrupts-extended` with every entry that names a removed node replaced by
 * `<&kept 0xffffffff…>`, the same number of cells: `kept` is the first controller
 * of the property's own kept entries with the same `#interrupt-cells` (on RISC-V,
 * another hart's `cpu-intc`), else the first such interrupt controller of the
 * partition's tree. Undefined when some entry has no such controller.
 */
function notConnected(
  prop: FdtProperty,
  refs: readonly Reference[],
  removal: Removal,
  controllers: readonly Controller[],
): Uint8Array | undefined {
  const cells = readU32s(prop.value);
  const own: Controller[] = refs
    .filter((r) => !removal.isRemoved(r.phandle) && removal.argsOf(r.phandle, "") !== undefined)
    .map((r) => ({ phandle: r.phandle, cells: r.count - 1 }));
  const out: number[] = [];
  for (const ref of refs) {
    if (!removal.isRemoved(ref.phandle)) {
      out.push(...cells.slice(ref.first, ref.first + ref.count));
      continue;
    }
    const args = ref.count - 1;
    const kept = own.find((c) => c.cells === args) ?? controllers.find((c) => c.cells === args);
    if (!kept) return undefined;
    out.push(kept.phandle, ...new Array<number>(args).fill(NOT_CONNECTED));
  }
  return u32(...out);
}

/**
 * `interrupt-affinity` without the entries naming removed cpus. When the node has
 * as many interrupts as affinity entries (one SPI per cpu), the interrupts (and
 * `interrupt-names`) at those positions go with them, as Linux's arm_pmu reads
 * entry i of both lists together; otherwise (one PPI) the list is a set of cpus.
 */
function dropAffinityPairs(
  node: FdtNode,
  original: FdtNode,
  prop: FdtProperty,
  refs: readonly Reference[],
  removal: Removal,
): void {
  const keep = refs.map((r) => !removal.isRemoved(r.phandle));
  const irqs = interruptEntries(original, removal);
  if (irqs && irqs.entries.length === refs.length) {
    const cells = readU32s(getProp(node, irqs.name)!.value);
    const kept = irqs.entries.filter((_, i) => keep[i]).flatMap(([first, count]) =>
      cells.slice(first, first + count)
    );
    setOrRemove(node, irqs.name, u32(...kept));
    const names = getProp(node, "interrupt-names");
    const list = stringsOf(names?.value);
    if (list.length === refs.length) {
      const left = list.filter((_, i) => keep[i]);
      if (left.length > 0) setProp(node, "interrupt-names", strs(left));
      else removeProp(node, "interrupt-names");
    }
  }
  setOrRemove(node, prop.name, withoutEntries(prop, refs, (ph) => removal.isRemoved(ph)));
}

/**
 * The entries of a board node's `interrupts-extended` or `interrupts`, as
 * [first cell, cell count]; undefined when they cannot be split (an unknown
 * phandle, no interrupt parent with `#interrupt-cells`, a length that does not fit).
 */
function interruptEntries(
  node: FdtNode,
  removal: Removal,
): { name: string; entries: [number, number][] } | undefined {
  const extended = getProp(node, "interrupts-extended");
  if (extended) {
    const refs = referencesWith(extended, removal.argsOf);
    if (refs.some((r) => removal.argsOf(r.phandle, "") === undefined)) return undefined;
    return { name: extended.name, entries: refs.map((r) => [r.first, r.count]) };
  }
  const interrupts = getProp(node, "interrupts");
  const parent = interruptParent(node, removal);
  const size = parent && u32Prop(parent, "#interrupt-cells");
  if (!interrupts || !size || interrupts.value.length % (size * 4) !== 0) return undefined;
  const count = interrupts.value.length / (size * 4);
  return {
    name: interrupts.name,
    entries: Array.from({ length: count }, (_, i) => [i * size, size]),
  };
}

/**
 * A board node's interrupt parent as Linux's of_irq_find_parent finds it: its
 * `interrupt-parent`, else its parent, up to the first node with `#interrupt-cells`.
 */
function interruptParent(node: FdtNode, removal: Removal): FdtNode | undefined {
  let current: FdtNode | undefined = node;
  for (let depth = 0; current && depth < 64; depth++) {
    const phandle = u32Prop(current, "interrupt-parent");
    current = phandle !== undefined ? removal.nodeOf(phandle) : removal.parentOf(current);
    if (current && getProp(current, "#interrupt-cells")) return current;
  }
  return undefined;
}

/** Drops `cpu-map` entries whose `cpu` was removed, then empty clusters. */
function pruneCpuMap(tree: FdtTree): void {
  const cpus = tree.root.children.find((c) => c.name === "cpus");
  const map = cpus?.children.find((c) => c.name === "cpu-map");
  if (!cpus || !map) return;
  const prune = (node: FdtNode): boolean => {
    if (node.children.length === 0) return getProp(node, "cpu") !== undefined;
    node.children = node.children.filter(prune);
    return node.children.length > 0;
  };
  if (!prune(map)) cpus.children = cpus.children.filter((c) => c !== map);
}

/** Drops `/aliases` and `/__symbols__` entries that point at removed nodes. */
function fixPathTables(tree: FdtTree, removal: Removal): void {
  for (const table of ["aliases", "__symbols__"]) {
    const node = tree.root.children.find((c) => c.name === table);
    if (!node) continue;
    node.props = node.props.filter((prop) => {
      if (prop.value.length === 0 || prop.value[prop.value.length - 1] !== 0) return true;
      return !removal.isRemovedPath(readString(prop.value));
    });
  }
}
