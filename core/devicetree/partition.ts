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
import { getProp, node, removeProp, setProp, walk } from "./tree.ts";
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

/** Lists whose entries naming removed nodes are dropped (the property stays). */
const ENTRY_LISTS = new Set(["interrupts-extended", "cpus", "interrupt-affinity"]);

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
  const original = boardTree.root;
  const rootCells = cellCounts(original);

  // One walk indexes the board's tree: paths, parents, phandles.
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
  const nodeOf = (phandle: number) => phandles.get(phandle);

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

  // 1. A verdict for every node, top down. Kept nodes go on a work list.
  const verdict = new Map<FdtNode, Verdict>();
  const work: FdtNode[] = [];
  // Nodes that must not come back: other partitions' devices, cores not ours.
  const gone = new Set<FdtNode>();
  // Removed cores: references to them are fixed afterwards, not followed.
  const removedCores = new Set<FdtNode>();
  const walkCore = (n: FdtNode): void => {
    removedCores.add(n);
    n.children.forEach(walkCore);
  };
  const keepSubtree = (node: FdtNode) => {
    if (verdict.get(node) === "keep" || gone.has(node)) return;
    verdict.set(node, "keep");
    work.push(node);
    for (const child of node.children) keepSubtree(child);
  };
  const dropSubtree = (node: FdtNode, forGood = false) => {
    verdict.set(node, "drop");
    if (forGood) gone.add(node);
    for (const child of node.children) dropSubtree(child, forGood);
  };
  const judge = (node: FdtNode, path: string): void => {
    const name = node.name.split("@")[0];
    if (foreign.has(path)) return dropSubtree(node, true);
    if (owned.has(path) || keepPaths.has(path)) return keepSubtree(node);
    if (path === "/cpus") {
      verdict.set(node, "structural");
      for (const child of node.children) {
        const isCpu = readStringProp(child, "device_type") === "cpu";
        if (isCpu && !hwids.has(cpuId(child, node))) {
          dropSubtree(child, true);
          walkCore(child);
        } else keepSubtree(child);
      }
      return;
    }
    if (readStringProp(node, "device_type") === "memory" || name === "memory") {
      return dropSubtree(node);
    }
    if (getProp(node, "interrupt-controller") || path === "/chosen" || path === "/aliases") {
      return keepSubtree(node);
    }
    const hasReg = getProp(node, "reg") !== undefined;
    if (!hasReg && !node.children.some((c) => getProp(c, "reg"))) return keepSubtree(node);
    if (!hasReg || getProp(node, "ranges")) {
      verdict.set(node, "structural");
      for (const child of node.children) judge(child, `${path}/${child.name}`);
      return;
    }
    dropSubtree(node); // a device nobody was given: kept only if referenced (below)
  };
  verdict.set(original, "structural");
  work.push(original); // the root's own references (interrupt-parent) count
  for (const child of original.children) judge(child, `/${child.name}`);

  // 2. Kept nodes pull in what they refer to (interrupt parents, clocks, pinctrl…)
  //    and the buses on the way. A node without registers that needs a node that
  //    is gone goes itself, with the top-level system node it belongs to (e.g.
  //    gpio-keys whose key uses another partition's GPIO).
  while (work.length > 0) {
    const node = work.pop()!;
    const v = verdict.get(node);
    if (v === "drop" || (v === "structural" && node !== original)) continue;
    for (const prop of node.props) {
      if (referenceKind(prop.name) === undefined) continue;
      for (const ref of referencesOf(prop, nodeOf)) {
        const target = nodeOf(ref.phandle);
        if (!target || verdict.get(target) === "keep") continue;
        if (removedCores.has(target)) continue;
        if (gone.has(target)) {
          const path = pathOf.get(node)!;
          if (!getProp(node, "reg") && !path.startsWith("/cpus") && node !== original) {
            // Climb through the kept system nodes without registers it belongs to,
            // stopping below a bus or the root.
            let top = node;
            for (
              let p = parentOf.get(top);
              p && verdict.get(p) === "keep" && !getProp(p, "reg");
              p = parentOf.get(p)
            ) {
              top = p;
            }
            dropSubtree(top);
          }
          continue;
        }
        // A referenced device comes with its subtree; a referenced bus only as a bus.
        if (verdict.get(target) === "structural") continue;
        keepSubtree(target);
        for (let p = parentOf.get(target); p && verdict.get(p) === "drop"; p = parentOf.get(p)) {
          verdict.set(p, "structural");
        }
      }
    }
  }

  // 3. The partition's tree: copies of the kept nodes and their properties (the
  //    value bytes are shared, never changed in place), without empty buses.
  const remaining = new Set<FdtNode>();
  const copy = (node: FdtNode): FdtNode | undefined => {
    const v = verdict.get(node);
    if (v === "drop") return undefined;
    const children = node.children.map(copy).filter((c): c is FdtNode => c !== undefined);
    if (
      v === "structural" && node !== original && children.length === 0 &&
      pathOf.get(node) !== "/cpus"
    ) {
      return undefined;
    }
    remaining.add(node);
    return {
      name: node.name,
      props: node.props.map(({ name, value }) => ({ name, value })),
      children,
    };
  };
  const root = copy(original)!;
  const tree: FdtTree = {
    root,
    reservations: boardTree.reservations.map(({ address, size }) => ({ address, size })),
    bootCpuidPhys: boardTree.bootCpuidPhys,
  };

  // 4. References to removed nodes: entries of lists naming them are dropped.
  const removed = (phandle: number) => {
    const target = nodeOf(phandle);
    return target !== undefined && !remaining.has(target);
  };
  walk(tree, (node) => {
    for (const prop of [...node.props]) {
      if (referenceKind(prop.name) === undefined) continue;
      const refs = referencesOf(prop, nodeOf);
      if (!refs.some((r) => removed(r.phandle))) continue;
      if (ENTRY_LISTS.has(prop.name)) {
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
      if (prop.value.length === 0 || prop.value[prop.value.length - 1] !== 0) return true;
      const target = byPath.get(readString(prop.value));
      return target === undefined || remaining.has(target);
    });
  }
}
