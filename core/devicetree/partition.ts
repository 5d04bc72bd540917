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
 * One function per step, sharing a small `Pruning` state instead of closures: index
 * the board's tree (`indexBoard`), judge every node (`judgeTree`), follow the kept
 * nodes' references (`followReferences`), copy the kept nodes (`copyKept`), fix the
 * references to removed nodes (`fixRemovedReferences`), then add `/memory` and
 * `/chosen` (`addMemoryAndChosen`).
 *
 * @module
 */
import type { Allocation, Board, Range } from "../model.ts";
import { InputError } from "../errors.ts";
import type { FdtNode, FdtTree } from "./tree.ts";
import { getProp, node, removeProp, setProp, walk } from "./tree.ts";
import { cells, readCells, readString, readU32s, str } from "./values.ts";
import { referenceKind, referencesOf } from "./references.ts";
import { fixRemovedReferences } from "./fix_references.ts";

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
}

type Verdict = "keep" | "drop" | "structural";

const SEED_PROPS = ["rng-seed", "kaslr-seed"];
const CHOSEN_PROPS = [
  "bootargs",
  "stdout-path",
  "linux,stdout-path",
  "linux,initrd-start",
  "linux,initrd-end",
];

/** The board's tree, indexed by one walk: paths, parents, phandles. */
interface BoardIndex {
  /** The board tree's root. */
  root: FdtNode;
  /** Every node by its full path. */
  byPath: Map<string, FdtNode>;
  /** Every node's full path. */
  pathOf: Map<FdtNode, string>;
  /** Every node's parent (the root has none). */
  parentOf: Map<FdtNode, FdtNode>;
  /** The node with a phandle (the first in document order when two claim it). */
  nodeOf: (phandle: number) => FdtNode | undefined;
}

/** What the partition owns, as the pruning matches it: device paths and hardware ids. */
interface Scope {
  /** Paths of the devices the partition was given. */
  owned: Set<string>;
  /** Paths of the board's devices it was not given: gone for good. */
  foreign: Set<string>;
  /** Paths of the board's `keep` nodes. */
  keep: Set<string>;
  /** Hardware ids (`reg`) of the partition's cores. */
  hwids: Set<number>;
}

/** The judging's state: a verdict per node, and kept nodes whose references are still to follow. */
interface Pruning {
  /** The board's tree. */
  index: BoardIndex;
  /** The verdict of every judged node. */
  verdict: Map<FdtNode, Verdict>;
  /** Kept nodes whose references are not followed yet. */
  work: FdtNode[];
  /** Nodes that must not come back: other partitions' devices, cores not ours, their PMUs. */
  gone: Set<FdtNode>;
  /** Removed cores and their subtrees: references to them are fixed afterwards, not followed. */
  removedCores: Set<FdtNode>;
}

/** Makes the partition's tree from the board's tree (which is not changed). */
export function partitionTree(boardTree: FdtTree, options: PartitionTreeOptions): FdtTree {
  const index = indexBoard(boardTree);
  const scope = scopeOf(options.board, options.allocation, index);
  const pruning: Pruning = {
    index,
    verdict: new Map(),
    work: [],
    gone: new Set(),
    removedCores: new Set(),
  };
  judgeTree(pruning, scope);
  followReferences(pruning);
  const { root, remaining, originalOf } = copyKept(pruning);
  const { board, allocation } = options;
  const tree: FdtTree = {
    root,
    reservations: boardTree.reservations.map(({ address, size }) => ({ address, size })),
    bootCpuidPhys: board.cores.find((c) => c.id === allocation.bootCore)!.hwid,
  };
  fixRemovedReferences(tree, { ...index, remaining, originalOf });
  addMemoryAndChosen(tree, options, cellCounts(boardTree.root));
  return tree;
}

/** `#address-cells` and `#size-cells` of a node (defaults 2 and 1). */
export function cellCounts(node: FdtNode): [number, number] {
  const read = (name: string, fallback: number) => {
    const prop = getProp(node, name);
    return prop && prop.value.length === 4 ? readU32s(prop.value)[0] : fallback;
  };
  return [read("#address-cells", 2), read("#size-cells", 1)];
}

/** Indexes the board's tree in one walk: paths, parents and phandles. */
function indexBoard(boardTree: FdtTree): BoardIndex {
  const byPath = new Map<string, FdtNode>();
  const pathOf = new Map<FdtNode, string>();
  const parentOf = new Map<FdtNode, FdtNode>();
  const phandles = new Map<number, FdtNode>();
  walk(boardTree, (node, path, parent) => {
    byPath.set(path, node);
    pathOf.set(node, path);
    if (parent) parentOf.set(node, parent);
    const ph = getProp(node, "phandle") ?? getProp(node, "linux,phandle");
    if (ph && ph.value.length === 4) {
      const value = readU32s(ph.value)[0];
      if (value !== 0 && value !== 0xffffffff && !phandles.has(value)) phandles.set(value, node);
    }
  });
  return { root: boardTree.root, byPath, pathOf, parentOf, nodeOf: (ph) => phandles.get(ph) };
}

/**
 * The paths of the partition's devices, of the board's other devices and of `keep`
 * nodes, and its cores' hardware ids; refuses a given device without a DT path.
 */
function scopeOf(board: Board, allocation: Allocation, index: BoardIndex): Scope {
  const devicePath = (name: string) => {
    const device = board.devices.find((d) => d.name === name);
    if (!device?.path) {
      throw new InputError(`board ${board.name} gives device '${name}' no DT path`, name);
    }
    if (!index.byPath.has(device.path)) {
      throw new InputError(
        `board ${board.name}: device '${name}' is at ${device.path}, which its DT lacks`,
        name,
      );
    }
    return device.path;
  };
  const others = board.devices.filter((d) => !allocation.devices.includes(d.name));
  return {
    owned: new Set(allocation.devices.map(devicePath)),
    foreign: new Set(others.flatMap((d) => d.path ? [d.path] : [])),
    keep: new Set(board.keep ?? []),
    hwids: new Set(allocation.cores.map((id) => board.cores.find((c) => c.id === id)!.hwid)),
  };
}

/** Step 1: a verdict for every node, top down; kept nodes go on the work list (the root too). */
function judgeTree(pruning: Pruning, scope: Scope): void {
  const root = pruning.index.root;
  pruning.verdict.set(root, "structural");
  pruning.work.push(root); // the root's own references (interrupt-parent) count
  for (const child of root.children) judge(pruning, scope, child, `/${child.name}`);
}

/** Judges one node by the first rule that applies (docs/devicetree.md, step 1). */
function judge(pruning: Pruning, scope: Scope, node: FdtNode, path: string): void {
  if (scope.foreign.has(path)) return dropSubtree(pruning, node, true);
  if (scope.owned.has(path) || scope.keep.has(path)) return keepSubtree(pruning, node);
  if (path === "/cpus") return judgeCpus(pruning, scope, node);
  if (readStringProp(node, "device_type") === "memory" || node.name.split("@")[0] === "memory") {
    return dropSubtree(pruning, node);
  }
  if (getProp(node, "interrupt-controller") || path === "/chosen" || path === "/aliases") {
    return keepSubtree(pruning, node);
  }
  const hasReg = getProp(node, "reg") !== undefined;
  if (!hasReg && !node.children.some((c) => getProp(c, "reg"))) return keepSubtree(pruning, node);
  if (!hasReg || getProp(node, "ranges")) {
    pruning.verdict.set(node, "structural");
    for (const child of node.children) judge(pruning, scope, child, `${path}/${child.name}`);
    return;
  }
  dropSubtree(pruning, node); // a device nobody was given: kept only if referenced (step 2)
}

/**
 * `/cpus` stays as a container: the partition's cpu nodes and the other children
 * (`cpu-map`, idle states, caches) are kept; the other cpu nodes are gone.
 */
function judgeCpus(pruning: Pruning, scope: Scope, cpus: FdtNode): void {
  pruning.verdict.set(cpus, "structural");
  for (const child of cpus.children) {
    const isCpu = readStringProp(child, "device_type") === "cpu";
    if (isCpu && !scope.hwids.has(cpuId(child, cpus))) {
      dropSubtree(pruning, child, true);
      markRemovedCore(pruning, child);
    } else keepSubtree(pruning, child);
  }
}

/** Records a removed cpu node and its subtree (a RISC-V hart's interrupt controller). */
function markRemovedCore(pruning: Pruning, node: FdtNode): void {
  pruning.removedCores.add(node);
  for (const child of node.children) markRemovedCore(pruning, child);
}

/** Keeps a node and its subtree (unless kept already or gone) and queues them for step 2. */
function keepSubtree(pruning: Pruning, node: FdtNode): void {
  if (pruning.verdict.get(node) === "keep" || pruning.gone.has(node)) return;
  pruning.verdict.set(node, "keep");
  pruning.work.push(node);
  for (const child of node.children) keepSubtree(pruning, child);
}

/** Drops a node and its subtree; `forGood` makes them gone (never brought back). */
function dropSubtree(pruning: Pruning, node: FdtNode, forGood = false): void {
  pruning.verdict.set(node, "drop");
  if (forGood) pruning.gone.add(node);
  for (const child of node.children) dropSubtree(pruning, child, forGood);
}

/**
 * Step 2: kept nodes pull in what they refer to (interrupt parents, clocks,
 * pinctrl…) and the buses on the way. A node without registers that needs a node
 * that is gone goes itself, with the top-level system node it belongs to (e.g.
 * gpio-keys whose key uses another partition's GPIO); a node whose
 * `interrupt-affinity` names only removed cores (another cluster's PMU) is gone.
 */
function followReferences(pruning: Pruning): void {
  const { verdict, index } = pruning;
  while (pruning.work.length > 0) {
    const node = pruning.work.pop()!;
    const v = verdict.get(node);
    if (v === "drop" || (v === "structural" && node !== index.root)) continue;
    if (servesOnlyRemovedCores(pruning, node)) {
      dropSubtree(pruning, node, true);
      continue;
    }
    for (const prop of node.props) {
      if (referenceKind(prop.name) === undefined) continue;
      for (const ref of referencesOf(prop, index.nodeOf)) {
        const target = index.nodeOf(ref.phandle);
        if (!target || verdict.get(target) === "keep" || pruning.removedCores.has(target)) continue;
        if (pruning.gone.has(target)) dropNeedyNode(pruning, node);
        else pullIn(pruning, target);
      }
    }
  }
}

/** Whether a node's `interrupt-affinity` names cpus, all of them removed. */
function servesOnlyRemovedCores(pruning: Pruning, node: FdtNode): boolean {
  const prop = getProp(node, "interrupt-affinity");
  if (!prop || node === pruning.index.root) return false;
  const refs = referencesOf(prop, pruning.index.nodeOf);
  return refs.length > 0 && refs.every((r) => {
    const target = pruning.index.nodeOf(r.phandle);
    return target !== undefined && pruning.removedCores.has(target);
  });
}

/**
 * A kept node that refers to a gone node: one without `reg` (not under `/cpus`, not
 * the root) goes, climbing through the kept system nodes without registers it
 * belongs to, stopping below a bus or the root.
 */
function dropNeedyNode(pruning: Pruning, node: FdtNode): void {
  const { index, verdict } = pruning;
  const path = index.pathOf.get(node)!;
  if (getProp(node, "reg") || path.startsWith("/cpus") || node === index.root) return;
  let top = node;
  for (
    let p = index.parentOf.get(top);
    p && verdict.get(p) === "keep" && !getProp(p, "reg");
    p = index.parentOf.get(p)
  ) {
    top = p;
  }
  dropSubtree(pruning, top);
}

/**
 * A referenced device comes with its subtree, and the buses on its path as buses;
 * a referenced bus stays only as a bus.
 */
function pullIn(pruning: Pruning, target: FdtNode): void {
  const { verdict, index } = pruning;
  if (verdict.get(target) === "structural") return;
  keepSubtree(pruning, target);
  for (
    let p = index.parentOf.get(target);
    p && verdict.get(p) === "drop";
    p = index.parentOf.get(p)
  ) {
    verdict.set(p, "structural");
  }
}

/**
 * Step 3: copies of the kept nodes and their properties (the value bytes are
 * shared, never changed in place), without empty buses (`/cpus` always stays).
 * Returns the board nodes that remain and the board node of each copy.
 */
function copyKept(pruning: Pruning): {
  root: FdtNode;
  remaining: Set<FdtNode>;
  originalOf: Map<FdtNode, FdtNode>;
} {
  const { verdict, index } = pruning;
  const remaining = new Set<FdtNode>();
  const originalOf = new Map<FdtNode, FdtNode>();
  const copy = (node: FdtNode): FdtNode | undefined => {
    const v = verdict.get(node);
    if (v === "drop") return undefined;
    const children = node.children.map(copy).filter((c): c is FdtNode => c !== undefined);
    const emptyBus = v === "structural" && node !== index.root && children.length === 0;
    if (emptyBus && index.pathOf.get(node) !== "/cpus") return undefined;
    remaining.add(node);
    const made = {
      name: node.name,
      props: node.props.map(({ name, value }) => ({ name, value })),
      children,
    };
    originalOf.set(made, node);
    return made;
  };
  return { root: copy(index.root)!, remaining, originalOf };
}

/**
 * Step 5: one `memory@BASE` node for the partition's window (before `/cpus`), and
 * `/chosen` (made when missing) without the board's seeds, command line, console
 * and initrd, with the partition's.
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

/** The first cell of a cpu node's `reg` (with `/cpus`' `#address-cells`), or -1. */
function cpuId(cpu: FdtNode, cpus: FdtNode): number {
  const reg = getProp(cpu, "reg");
  if (!reg) return -1;
  const [ac] = cellCounts(cpus);
  const [first] = readCells(reg.value, [ac]);
  return first ? Number(first[0]) : -1;
}

/** The first string of a property, or undefined when absent or empty. */
function readStringProp(node: FdtNode, name: string): string | undefined {
  const prop = getProp(node, name);
  return prop && prop.value.length > 0 ? readString(prop.value) : undefined;
}
