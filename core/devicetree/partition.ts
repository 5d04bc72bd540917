/**
 * A partition's device tree: the board's real device tree pruned to what the
 * partition owns, with every reference to a removed node fixed, a new `/memory`
 * and `/chosen`. Works from any board DT; nothing here knows a board or an
 * architecture. Features (PSCI, SBI) add their parts afterwards.
 *
 * What stays:
 * - the root, `/chosen` (rewritten), `/aliases` (entries to removed nodes dropped);
 * - `/cpus` with only the partition's cores (matched by `reg` = hardware id);
 * - the partition's devices and the board's `keep` nodes, with their subtrees;
 * - interrupt controllers and the nodes without `reg` (timers, PMUs, PSCI, fixed
 *   clocks) unless they refer to a removed device or serve only removed cores;
 * - every node a kept node refers to (its interrupt parent, clocks, pinctrl…),
 *   and the buses on the way to kept nodes.
 * What goes: other partitions' devices, memory nodes (one new one is made), devices
 * no kept node needs. References to removed nodes are then fixed
 * ({@linkcode ./fix_references.ts}): positional lists such as `interrupts-extended`
 * keep every position, `cpu-map` entries of removed cores go.
 *
 * One function per step, sharing a small `Pruning` state instead of closures: the
 * board's tree is read as a flat index ({@linkcode FdtIndex}: a verdict is one byte
 * per node, no object or path string is made per node), every node is judged
 * (`judgeTree`), the kept nodes' references followed (`followReferences`), only the
 * kept nodes made as objects (`copyKept`), the references to removed nodes fixed
 * (`fixRemovedReferences`), the cell counts and unit addresses that only the
 * removed children needed dropped (`tidyPrunedNodes`), then `/memory` and
 * `/chosen` added (`addMemoryAndChosen`).
 *
 * @module
 */
import type { Allocation, Board, Range } from "../model.ts";
import { InputError } from "../errors.ts";
import type { FdtNode, FdtTree } from "./tree.ts";
import { getProp, node, removeProp, setProp } from "./tree.ts";
import { cells, readCells, readU32s, str } from "./values.ts";
import { fixRemovedReferences, type Removal } from "./fix_references.ts";
import { type FdtIndex, indexTree } from "./fdt_index.ts";
import { BoardIndex } from "./board_index.ts";
import { tidyPrunedNodes } from "./tidy.ts";

/** What a partition DT is made from, beyond the board's tree. */
export interface PartitionTreeOptions {
  /** The board (device paths, `keep` list, cores). */
  board: Board;
  /** The partition's allocation. */
  allocation: Allocation;
  /** Kernel command line for `/chosen/bootargs`. */
  bootargs?: string;
  /** Where the initrd is, for `/chosen/linux,initrd-start|end`. */
  initrd?: Range;
  /**
   * Random bytes for `/chosen/rng-seed`, which seed the kernel's random number
   * generator at once (as QEMU's and U-Boot's loaders give one): without it a
   * kernel spends its boot gathering entropy.
   */
  rngSeed?: Uint8Array;
}

/** A node's verdict (0 until judged): kept with its subtree, dropped, or kept as a bus. */
const KEEP = 1, DROP = 2, STRUCTURAL = 3;
/**
 * Why a node must not come back: gone for good (another partition's device, a core
 * not ours, their PMUs: a node that needs one goes too), or removed
 * {@linkcode NEEDY_DROPS} times because it needs a gone node — another reference
 * brought it back each time, only for it to be removed again (on some boards, such
 * as TI's J721E, for ever).
 */
const GONE = 1, NEEDY = 2;
/** Removals for needing a gone node after which a node is not brought back any more. */
const NEEDY_DROPS = 64;
/** A node's place in the board's description: another partition's device, or kept by it. */
const FOREIGN = 1, OWNED = 2;

const SEED_PROPS = ["rng-seed", "kaslr-seed"];
const CHOSEN_PROPS = [
  "bootargs",
  "stdout-path",
  "linux,stdout-path",
  "linux,initrd-start",
  "linux,initrd-end",
];

/** What the partition owns, as the pruning matches it: node roles and hardware ids. */
interface Scope {
  /** Per node: {@linkcode FOREIGN} (a board device it was not given), {@linkcode OWNED} (its device, or `keep`), 0. */
  role: Uint8Array;
  /** Hardware ids (`reg`) of the partition's cores. */
  hwids: Set<number>;
}

/** The judging's state, one byte per node of the board's tree. */
interface Pruning {
  /** The board's tree. */
  board: BoardIndex;
  /** The verdict of every node. */
  verdict: Uint8Array;
  /** {@linkcode GONE} or {@linkcode NEEDY} for nodes that must not come back, else 0. */
  gone: Uint8Array;
  /** 1 for removed cores and their subtrees: references to them are fixed afterwards, not followed. */
  removedCore: Uint8Array;
  /** Kept nodes whose references are not followed yet. */
  work: number[];
  /** How many times each node was removed for needing a gone node. */
  needyDrops: Uint8Array;
}

/** Makes the partition's tree from the board's tree (which is not changed). */
export function partitionTree(boardTree: FdtTree, options: PartitionTreeOptions): FdtTree {
  return partitionTreeOf(new BoardIndex(indexTree(boardTree)), options);
}

/**
 * {@linkcode partitionTree} from the board's tree as a flat index (the codec's scan
 * of its DTB). The tree's property values may be views of the index's bytes (the
 * board's blob): replace a value, never change one in place.
 */
export function partitionTreeOf(board: BoardIndex, options: PartitionTreeOptions): FdtTree {
  const boardIndex = board.index;
  const count = boardIndex.nodeCount;
  const pruning: Pruning = {
    board,
    verdict: new Uint8Array(count),
    gone: new Uint8Array(count),
    removedCore: new Uint8Array(count),
    work: [],
    needyDrops: new Uint8Array(count),
  };
  judgeTree(pruning, scopeOf(options.board, options.allocation, board));
  followReferences(pruning);
  dropCpuMapEntries(pruning);
  const { root, remaining, originalOf } = copyKept(pruning);
  const { allocation } = options;
  const tree: FdtTree = {
    root,
    reservations: boardIndex.data.reservations.map(({ address, size }) => ({ address, size })),
    bootCpuidPhys: options.board.cores.find((c) => c.id === allocation.bootCore)!.hwid,
  };
  fixRemovedReferences(tree, removalOf(board, remaining, originalOf));
  tidyPrunedNodes(tree, (copy) => lostChildren(boardIndex, originalOf, copy));
  const rootCells: [number, number] = [
    boardIndex.u32(boardIndex.prop(0, board.ids.addressCells)) ?? 2,
    boardIndex.u32(boardIndex.prop(0, boardIndex.nameId("#size-cells"))) ?? 1,
  ];
  addMemoryAndChosen(tree, options, rootCells);
  return tree;
}

/** Whether a copied node has fewer children than the board node it was copied from. */
function lostChildren(index: FdtIndex, originalOf: Map<FdtNode, number>, copy: FdtNode): boolean {
  const i = originalOf.get(copy);
  if (i === undefined) return false;
  let count = 0;
  for (let c = index.firstChild(i); c >= 0; c = index.nextSibling(c)) count++;
  return count > copy.children.length;
}

/** `#address-cells` and `#size-cells` of a node (defaults 2 and 1). */
export function cellCounts(node: FdtNode): [number, number] {
  const read = (name: string, fallback: number) => {
    const prop = getProp(node, name);
    return prop && prop.value.length === 4 ? readU32s(prop.value)[0] : fallback;
  };
  return [read("#address-cells", 2), read("#size-cells", 1)];
}

/**
 * The roles of the partition's devices, of the board's other devices and of `keep`
 * nodes, and its cores' hardware ids; refuses a given device without a DT path.
 */
function scopeOf(board: Board, allocation: Allocation, index: BoardIndex): Scope {
  const role = new Uint8Array(index.index.nodeCount);
  for (const device of board.devices) {
    if (allocation.devices.includes(device.name)) continue;
    const at = device.path ? index.index.findPath(device.path) : -1;
    if (at >= 0) role[at] = FOREIGN;
  }
  for (const path of board.keep ?? []) {
    const at = index.index.findPath(path);
    if (at >= 0 && role[at] !== FOREIGN) role[at] = OWNED;
  }
  for (const name of allocation.devices) {
    const device = board.devices.find((d) => d.name === name);
    if (!device?.path) {
      throw new InputError(`board ${board.name} gives device '${name}' no DT path`, name);
    }
    const at = index.index.findPath(device.path);
    if (at < 0) {
      throw new InputError(
        `board ${board.name}: device '${name}' is at ${device.path}, which its DT lacks`,
        name,
      );
    }
    if (role[at] !== FOREIGN) role[at] = OWNED;
  }
  return {
    role,
    hwids: new Set(allocation.cores.map((id) => board.cores.find((c) => c.id === id)!.hwid)),
  };
}

/** Step 1: a verdict for every node, top down; kept nodes go on the work list (the root too). */
function judgeTree(pruning: Pruning, scope: Scope): void {
  const { index } = pruning.board;
  pruning.verdict[0] = STRUCTURAL;
  pruning.work.push(0); // the root's own references (interrupt-parent) count
  for (let c = index.firstChild(0); c >= 0; c = index.nextSibling(c)) judge(pruning, scope, c);
}

/** Judges one node by the first rule that applies (docs/devicetree.md, step 1). */
function judge(pruning: Pruning, scope: Scope, i: number): void {
  const { index, cpus } = pruning.board;
  if (scope.role[i] === FOREIGN) return dropSubtree(pruning, i, true);
  if (scope.role[i] === OWNED) return keepSubtree(pruning, i);
  if (i === cpus) return judgeCpus(pruning, scope, i);
  const facts = factsOf(pruning.board, i);
  if (index.stringIs(facts.deviceType, "memory") || index.baseNameIs(i, "memory")) {
    return dropSubtree(pruning, i);
  }
  if (facts.interruptController || isTopLevel(index, i, "chosen", "aliases")) {
    return keepSubtree(pruning, i);
  }
  if (!facts.reg && !childHas(index, i, pruning.board.ids.reg)) return keepSubtree(pruning, i);
  if (!facts.reg || facts.ranges) {
    pruning.verdict[i] = STRUCTURAL;
    for (let c = index.firstChild(i); c >= 0; c = index.nextSibling(c)) judge(pruning, scope, c);
    return;
  }
  dropSubtree(pruning, i); // a device nobody was given: kept only if referenced (step 2)
}

/** What the rules test of a node, from one pass over its properties. */
interface Facts {
  /** Its `device_type` property, -1 when it has none. */
  deviceType: number;
  /** It has `interrupt-controller`. */
  interruptController: boolean;
  /** It has `reg`. */
  reg: boolean;
  /** It has `ranges`. */
  ranges: boolean;
}

function factsOf(board: BoardIndex, i: number): Facts {
  const { ids } = board;
  const { propFirst, propNext, propName } = board.index.data;
  const facts = { deviceType: -1, interruptController: false, reg: false, ranges: false };
  for (let p = propFirst[i]; p >= 0; p = propNext[p]) {
    const id = propName[p];
    if (id === ids.deviceType) facts.deviceType = facts.deviceType < 0 ? p : facts.deviceType;
    else if (id === ids.interruptController) facts.interruptController = true;
    else if (id === ids.reg) facts.reg = true;
    else if (id === ids.ranges) facts.ranges = true;
  }
  return facts;
}

/** Whether node `i` is a child of the root named one of `names`. */
function isTopLevel(index: FdtIndex, i: number, ...names: string[]): boolean {
  return index.data.parent[i] === 0 && names.includes(index.nameOf(i));
}

/** Whether a child of node `i` has a property with name id `id`. */
function childHas(index: FdtIndex, i: number, id: number): boolean {
  for (let c = index.firstChild(i); c >= 0; c = index.nextSibling(c)) {
    if (index.has(c, id)) return true;
  }
  return false;
}

/**
 * `/cpus` stays as a container: the partition's cpu nodes and the other children
 * (`cpu-map`, idle states, caches) are kept; the other cpu nodes are gone.
 */
function judgeCpus(pruning: Pruning, scope: Scope, cpus: number): void {
  const { index, ids } = pruning.board;
  pruning.verdict[cpus] = STRUCTURAL;
  const addressCells = index.u32(index.prop(cpus, ids.addressCells)) ?? 2;
  for (let c = index.firstChild(cpus); c >= 0; c = index.nextSibling(c)) {
    const isCpu = index.stringIs(index.prop(c, ids.deviceType), "cpu");
    if (isCpu && !scope.hwids.has(cpuId(index, c, ids.reg, addressCells))) {
      dropSubtree(pruning, c, true);
      pruning.removedCore.fill(1, c, index.data.end[c]);
    } else keepSubtree(pruning, c);
  }
}

/** The first cell of a cpu node's `reg` (`addressCells` per entry), or -1. */
function cpuId(index: FdtIndex, cpu: number, reg: number, addressCells: number): number {
  const p = index.prop(cpu, reg);
  if (p < 0) return -1;
  const length = index.data.valueLength[p];
  if (addressCells === 1 && length > 0 && length % 4 === 0) return index.cell(p, 0);
  const [first] = readCells(index.view(p), [addressCells]);
  return first ? Number(first[0]) : -1;
}

/** Keeps a node and its subtree (unless kept already or gone) and queues them for step 2. */
function keepSubtree(pruning: Pruning, i: number): void {
  if (pruning.verdict[i] === KEEP || pruning.gone[i]) return;
  pruning.verdict[i] = KEEP;
  pruning.work.push(i);
  const { index } = pruning.board;
  for (let c = index.firstChild(i); c >= 0; c = index.nextSibling(c)) keepSubtree(pruning, c);
}

/** Drops a node and its subtree; `forGood` makes them gone (never brought back). */
function dropSubtree(pruning: Pruning, i: number, forGood = false): void {
  const end = pruning.board.index.data.end[i];
  for (let n = i; n < end; n++) pruning.verdict[n] = DROP;
  if (forGood) { for (let n = i; n < end; n++) pruning.gone[n] = GONE; }
}

/**
 * Step 2: kept nodes pull in what they refer to (interrupt parents, clocks,
 * pinctrl…) and the buses on the way. A node without registers that needs a node
 * that is gone goes itself, with the top-level system node it belongs to (e.g.
 * gpio-keys whose key uses another partition's GPIO); a node whose
 * `interrupt-affinity` names only removed cores (another cluster's PMU) is gone.
 */
function followReferences(pruning: Pruning): void {
  const { verdict, board } = pruning;
  const { propFirst, propNext } = board.index.data;
  while (pruning.work.length > 0) {
    const i = pruning.work.pop()!;
    const v = verdict[i];
    if (v === DROP || (v === STRUCTURAL && i !== 0)) continue;
    if (servesOnlyRemovedCores(pruning, i)) {
      dropSubtree(pruning, i, true);
      continue;
    }
    for (let p = propFirst[i]; p >= 0; p = propNext[p]) {
      if (!board.refers(i, p)) continue;
      board.eachTarget(p, (target) => {
        if (verdict[target] === KEEP || pruning.removedCore[target]) return;
        if (pruning.gone[target] === GONE) dropNeedyNode(pruning, i);
        else if (!pruning.gone[target]) pullIn(pruning, target);
      });
    }
  }
}

/** Whether a node's `interrupt-affinity` names cpus, all of them removed. */
function servesOnlyRemovedCores(pruning: Pruning, i: number): boolean {
  const { board } = pruning;
  const p = board.index.prop(i, board.ids.interruptAffinity);
  if (p < 0 || i === 0) return false;
  const length = board.index.data.valueLength[p];
  if (length === 0 || length % 4 !== 0) return false;
  for (let k = 0; k < length / 4; k++) {
    const target = board.phandles.get(board.index.cell(p, k));
    if (target === undefined || !pruning.removedCore[target]) return false;
  }
  return true;
}

/**
 * A kept node that refers to a gone node: one without `reg` (not under `/cpus`, not
 * the root) goes, climbing through the kept system nodes without registers it
 * belongs to, stopping below a bus or the root.
 */
function dropNeedyNode(pruning: Pruning, i: number): void {
  const { board, verdict } = pruning;
  const { index, ids } = board;
  if (i === 0 || index.has(i, ids.reg) || board.underCpus(i)) return;
  const parent = index.data.parent;
  let top = i;
  for (
    let p = parent[top];
    p >= 0 && verdict[p] === KEEP && !index.has(p, ids.reg);
    p = parent[p]
  ) {
    top = p;
  }
  dropSubtree(pruning, top);
  const end = index.data.end[top];
  for (let n = top; n < end; n++) {
    if (++pruning.needyDrops[n] >= NEEDY_DROPS && !pruning.gone[n]) pruning.gone[n] = NEEDY;
  }
}

/**
 * A referenced device comes with its subtree, and the buses on its path as buses;
 * a referenced bus stays only as a bus.
 */
function pullIn(pruning: Pruning, target: number): void {
  const { verdict } = pruning;
  if (verdict[target] === STRUCTURAL) return;
  keepSubtree(pruning, target);
  const parent = pruning.board.index.data.parent;
  for (let p = parent[target]; p >= 0 && verdict[p] === DROP; p = parent[p]) {
    verdict[p] = STRUCTURAL;
  }
}

/**
 * Before the copy, the `cpu-map` entries that step 4 would drop anyway are
 * dropped (on a big board most of them, and copying them is most of the copy): a
 * leaf whose `cpu` names a dropped cpu node or that has no `cpu`, then clusters
 * left without entries, then `cpu-map` itself when nothing is left. What step 4
 * decides otherwise (a `cpu` naming a node that goes for another reason) it still
 * does; nodes with a phandle are left to it.
 */
function dropCpuMapEntries(pruning: Pruning): void {
  const { board, verdict } = pruning;
  const map = board.cpus < 0 ? -1 : board.index.child(board.cpus, "cpu-map");
  if (map < 0 || verdict[map] !== KEEP) return;
  const cpu = board.index.nameId("cpu");
  const hasPhandle = (n: number) =>
    board.index.has(n, board.index.nameId("phandle")) ||
    board.index.has(n, board.index.nameId("linux,phandle"));
  const keep = (n: number): boolean => {
    const { index } = board;
    if (verdict[n] !== KEEP || hasPhandle(n)) return verdict[n] !== DROP;
    if (index.firstChild(n) < 0) {
      const p = index.prop(n, cpu);
      if (p >= 0 && !namesDropped(pruning, p)) return true;
    } else {
      let kept = false;
      for (let c = index.firstChild(n); c >= 0; c = index.nextSibling(c)) kept = keep(c) || kept;
      if (kept) return true;
    }
    dropSubtree(pruning, n);
    return false;
  };
  keep(map);
}

/** Whether a bare phandle list (a `cpu`) names a dropped node before any it cannot resolve. */
function namesDropped(pruning: Pruning, p: number): boolean {
  const { board, verdict } = pruning;
  const length = board.index.data.valueLength[p];
  if (length % 4 !== 0) return false;
  for (let k = 0; k < length / 4; k++) {
    const target = board.phandles.get(board.index.cell(p, k));
    if (target === undefined) return false;
    if (verdict[target] === DROP) return true;
  }
  return false;
}

/**
 * Step 3: the kept nodes as objects, with their properties (values are views of
 * the board's blob, shared, never changed in place), without empty buses (`/cpus` always
 * stays). Returns which board nodes remain and the board node of each copy.
 */
function copyKept(pruning: Pruning): {
  root: FdtNode;
  remaining: Uint8Array;
  originalOf: Map<FdtNode, number>;
} {
  const { verdict, board } = pruning;
  const { index } = board;
  const bytes = index.data.bytes;
  const remaining = new Uint8Array(index.nodeCount);
  const originalOf = new Map<FdtNode, number>();
  const copy = (i: number): FdtNode | undefined => {
    const v = verdict[i];
    if (v === DROP) return undefined;
    const children: FdtNode[] = [];
    for (let c = index.firstChild(i); c >= 0; c = index.nextSibling(c)) {
      const made = copy(c);
      if (made) children.push(made);
    }
    if (v === STRUCTURAL && i !== 0 && children.length === 0 && i !== board.cpus) return undefined;
    remaining[i] = 1;
    const made = { name: index.nameOf(i), props: index.props(i, bytes), children };
    originalOf.set(made, i);
    return made;
  };
  return { root: copy(0)!, remaining, originalOf };
}

/** What the reference fixing asks of the board's tree, answered from the index. */
function removalOf(
  board: BoardIndex,
  remaining: Uint8Array,
  originalOf: Map<FdtNode, number>,
): Removal {
  const { index } = board;
  const argsIds = new Map<string, number>();
  return {
    argsOf: (phandle, cellsName) => {
      const target = board.phandles.get(phandle);
      if (target === undefined) return undefined;
      if (cellsName === "") return 0;
      let id = argsIds.get(cellsName);
      if (id === undefined) argsIds.set(cellsName, id = index.nameId(cellsName));
      return index.u32(index.prop(target, id)) ?? 0;
    },
    isRemoved: (phandle) => {
      const target = board.phandles.get(phandle);
      return target !== undefined && !remaining[target];
    },
    isRemovedPath: (path) => {
      const at = index.findPath(path);
      return at >= 0 && !remaining[at];
    },
    nodeOf: (phandle) => {
      const target = board.phandles.get(phandle);
      return target === undefined ? undefined : board.shallow(target);
    },
    parentOf: (node) => {
      const at = board.indexOf(node);
      const up = at > 0 ? index.data.parent[at] : -1;
      return up >= 0 ? board.shallow(up) : undefined;
    },
    originalOf: (copy) => {
      const at = originalOf.get(copy);
      return at === undefined ? undefined : board.shallow(at);
    },
  };
}

/**
 * Step 6: one `memory@BASE` node for the partition's window (before `/cpus`), and
 * `/chosen` (made when missing) without the board's seeds, command line, console
 * and initrd, with the partition's (and its own seed, when it is given one).
 */
function addMemoryAndChosen(
  tree: FdtTree,
  options: PartitionTreeOptions,
  rootCells: [number, number],
): void {
  const { board, allocation } = options;
  const root = tree.root;
  const memory = node(`memory@${allocation.memory.base.toString(16)}`, [
    { name: "device_type", value: str("memory") },
    { name: "reg", value: cells([allocation.memory.base, allocation.memory.size], rootCells) },
  ]);
  let chosen = root.children.find((c) => c.name === "chosen");
  if (!chosen) root.children.push(chosen = node("chosen"));
  for (const name of [...SEED_PROPS, ...CHOSEN_PROPS]) removeProp(chosen, name);
  if (options.bootargs !== undefined) setProp(chosen, "bootargs", str(options.bootargs));
  if (options.rngSeed) setProp(chosen, "rng-seed", options.rngSeed);
  const console = board.devices.find((d) =>
    d.console && allocation.devices.includes(d.name) && d.path
  );
  if (console) setProp(chosen, "stdout-path", str(console.path!));
  if (options.initrd) {
    const addr = [rootCells[0]];
    setProp(chosen, "linux,initrd-start", cells([options.initrd.base], addr));
    setProp(chosen, "linux,initrd-end", cells([options.initrd.base + options.initrd.size], addr));
  }
  const insertAt = root.children.findIndex((c) => c.name === "cpus");
  root.children.splice(insertAt >= 0 ? insertAt : root.children.length, 0, memory);
}
