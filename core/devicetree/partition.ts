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
 *   clocks) unless they refer to a removed device;
 * - every node a kept node refers to (its interrupt parent, clocks, pinctrl…),
 *   and the buses on the way to kept nodes.
 * What goes: other boards' devices, memory nodes (one new one is made), devices
 * no kept node needs. References to removed nodes are then fixed: entries of
 * `interrupts-extended` and `cpu-map` that name removed cores are dropped.
 *
 * @module
 */
import type { Allocation, Board, Range } from "../model.ts";
import { InputError } from "../errors.ts";
import type { FdtNode, FdtTree } from "./tree.ts";
import { cloneTree, getProp, phandleMap, removeProp, setProp, walk } from "./tree.ts";
import { cells, readCells, readString, readU32s, str } from "./values.ts";
import { referenceKind, referencesOf, withoutEntries } from "./references.ts";

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

/** Makes the partition's tree from the board's tree (which is not changed). */
export function partitionTree(boardTree: FdtTree, options: PartitionTreeOptions): FdtTree {
  const { board, allocation } = options;
  const tree = cloneTree(boardTree);
  const rootCells = cellCounts(tree.root);
  const byPath = new Map<string, FdtNode>();
  const parentOf = new Map<FdtNode, FdtNode>();
  walk(tree, (node, path, parent) => {
    byPath.set(path, node);
    if (parent) parentOf.set(node, parent);
  });
  const pathOf = new Map([...byPath].map(([path, node]) => [node, path]));
  const phandles = phandleMap(tree);
  const nodeOf = (phandle: number) => phandles.get(phandle)?.node;

  const devicePath = (name: string) => {
    const device = board.devices.find((d) => d.name === name);
    if (!device?.path) {
      throw new InputError(`board ${board.name} gives device '${name}' no DT path`, name);
    }
    if (!byPath.has(device.path)) {
      throw new InputError(
        `board ${board.name}: device '${name}' is at ${device.path}, which its DT lacks`,
        name,
      );
    }
    return device.path;
  };
  const owned = new Set(allocation.devices.map(devicePath));
  const foreign = new Set(
    board.devices.filter((d) => d.path && !allocation.devices.includes(d.name)).map((d) => d.path!),
  );
  const keepPaths = new Set(board.keep ?? []);
  const hwids = new Set(allocation.cores.map((id) => board.cores.find((c) => c.id === id)!.hwid));

  // 1. A verdict for every node, top down.
  const verdict = new Map<FdtNode, Verdict>();
  // Nodes that must not come back: other partitions' devices, cores not ours.
  const gone = new Set<FdtNode>();
  const removeForGood = (node: FdtNode) => {
    dropSubtree(node, verdict);
    walkNode(node, (n) => gone.add(n));
  };
  const keepSubtree = (node: FdtNode) => {
    verdict.set(node, "keep");
    for (const child of node.children) keepSubtree(child);
  };
  const judge = (node: FdtNode, path: string): void => {
    const name = path.split("/").pop()!.split("@")[0];
    if (foreign.has(path)) return removeForGood(node);
    if (owned.has(path) || keepPaths.has(path)) return keepSubtree(node);
    if (path === "/cpus") {
      verdict.set(node, "structural");
      for (const child of node.children) {
        const isCpu = readStringProp(child, "device_type") === "cpu";
        if (!isCpu) keepSubtree(child);
        else if (hwids.has(cpuId(child, node))) keepSubtree(child);
        else removeForGood(child);
      }
      return;
    }
    if (readStringProp(node, "device_type") === "memory" || name === "memory") {
      return dropSubtree(node, verdict);
    }
    if (getProp(node, "interrupt-controller") || path === "/chosen" || path === "/aliases") {
      return keepSubtree(node);
    }
    const hasReg = getProp(node, "reg") !== undefined;
    if (!hasReg && !node.children.some((c) => getProp(c, "reg"))) return keepSubtree(node);
    if (!hasReg || getProp(node, "ranges")) {
      verdict.set(node, "structural");
      for (const child of node.children) judge(child, `${path === "/" ? "" : path}/${child.name}`);
      return;
    }
    dropSubtree(node, verdict); // a device nobody was given: kept only if referenced (below)
  };
  verdict.set(tree.root, "structural");
  for (const child of tree.root.children) judge(child, `/${child.name}`);

  // 2. Until nothing changes: kept nodes pull in what they refer to, unless it is
  //    another partition's device or a removed core; a node without reg that refers
  //    to such a node goes itself (e.g. gpio-keys on another partition's GPIO).
  for (let changed = true; changed;) {
    changed = false;
    walk(tree, (node) => {
      if (!isKept(node, verdict, parentOf)) return;
      for (const prop of node.props) {
        for (const ref of referencesOf(prop, nodeOf)) {
          const target = nodeOf(ref.phandle);
          if (!target || isKept(target, verdict, parentOf)) continue;
          if (gone.has(target)) {
            // A node without registers that needs a removed node goes, with the
            // top-level system node it belongs to (e.g. gpio-keys whose key uses
            // another partition's GPIO).
            const path = pathOf.get(node)!;
            if (!getProp(node, "reg") && !path.startsWith("/cpus") && path !== "/") {
              const top = byPath.get(`/${path.split("/")[1]}`)!;
              dropSubtree(getProp(top, "reg") ? node : top, verdict);
              changed = true;
            }
            continue;
          }
          keepSubtree(target);
          for (let p = parentOf.get(target); p && verdict.get(p) === "drop"; p = parentOf.get(p)) {
            verdict.set(p, "structural");
          }
          changed = true;
        }
      }
    });
  }

  // 3. Remove dropped nodes and structural nodes left empty.
  const prune = (node: FdtNode): boolean => {
    node.children = node.children.filter(prune);
    const v = verdict.get(node);
    if (v === "drop") return false;
    if (
      v === "structural" && node !== tree.root && node.children.length === 0 &&
      pathOf.get(node) !== "/cpus"
    ) {
      return false;
    }
    return true;
  };
  prune(tree.root);
  const remaining = new Set<FdtNode>();
  walk(tree, (node) => remaining.add(node));

  // 4. Fix references to removed nodes.
  const removed = (phandle: number) => {
    const target = nodeOf(phandle);
    return target !== undefined && !remaining.has(target);
  };
  walk(tree, (node) => {
    for (const prop of [...node.props]) {
      if (referenceKind(prop.name) === undefined) continue;
      const refs = referencesOf(prop, nodeOf);
      if (!refs.some((r) => removed(r.phandle))) continue;
      if (prop.name === "interrupts-extended" || prop.name === "cpus") {
        const value = withoutEntries(prop, refs, removed);
        if (value.length > 0) setProp(node, prop.name, value);
        else removeProp(node, prop.name);
      } else {
        removeProp(node, prop.name);
      }
    }
  });
  pruneCpuMap(tree);
  fixPathTables(tree, remaining, byPath);

  // 5. Memory and chosen.
  const memory = {
    name: `memory@${allocation.memory.base.toString(16)}`,
    props: [
      { name: "device_type", value: str("memory") },
      { name: "reg", value: cells([allocation.memory.base, allocation.memory.size], rootCells) },
    ],
    children: [],
  };
  const chosenIndex = tree.root.children.findIndex((c) => c.name === "chosen");
  const chosen = chosenIndex >= 0
    ? tree.root.children[chosenIndex]
    : { name: "chosen", props: [], children: [] };
  if (chosenIndex < 0) tree.root.children.push(chosen);
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
  const insertAt = tree.root.children.findIndex((c) => c.name === "cpus");
  tree.root.children.splice(insertAt >= 0 ? insertAt : tree.root.children.length, 0, memory);

  tree.bootCpuidPhys = board.cores.find((c) => c.id === allocation.bootCore)!.hwid;
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

function cpuId(cpu: FdtNode, cpus: FdtNode): number {
  const reg = getProp(cpu, "reg");
  if (!reg) return -1;
  const [ac] = cellCounts(cpus);
  const [first] = readCells(reg.value, [ac]);
  return first ? Number(first[0]) : -1;
}

function readStringProp(node: FdtNode, name: string): string | undefined {
  const prop = getProp(node, name);
  return prop && prop.value.length > 0 ? readString(prop.value) : undefined;
}

function dropSubtree(node: FdtNode, verdict: Map<FdtNode, Verdict>): void {
  verdict.set(node, "drop");
  for (const child of node.children) dropSubtree(child, verdict);
}

/** Kept whole, or the root (whose properties, like `interrupt-parent`, always stay). */
function isKept(
  node: FdtNode,
  verdict: Map<FdtNode, Verdict>,
  parentOf: Map<FdtNode, FdtNode>,
): boolean {
  return verdict.get(node) === "keep" || !parentOf.has(node);
}

function walkNode(node: FdtNode, visit: (node: FdtNode) => void): void {
  visit(node);
  for (const child of node.children) walkNode(child, visit);
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
function fixPathTables(tree: FdtTree, remaining: Set<FdtNode>, byPath: Map<string, FdtNode>): void {
  for (const table of ["aliases", "__symbols__"]) {
    const node = tree.root.children.find((c) => c.name === table);
    if (!node) continue;
    node.props = node.props.filter((prop) => {
      const target = byPath.get(readString(prop.value));
      return target === undefined || remaining.has(target);
    });
  }
}
