/**
 * The in-memory device tree: nodes with named byte-string properties and ordered
 * children, plus the blob-level memory reservations and boot CPU. Plain data that
 * {@linkcode ./read.ts} produces and {@linkcode ./write.ts} consumes, with small helpers
 * to build, search and edit it.
 *
 * @example
 * ```ts
 * import { findNode, node, setProp } from "./tree.ts";
 * import { str, u32 } from "./values.ts";
 * const root = node("", [{ name: "#address-cells", value: u32(2) }], [node("chosen")]);
 * setProp(findNode(root, "/chosen")!, "bootargs", str("console=ttyAMA0"));
 * ```
 * @module
 */
import { readU32s } from "./values.ts";

/** One property: its name and its raw big-endian value bytes. */
export interface FdtProperty {
  /** Property name, e.g. `reg`, `#address-cells`, `linux,initrd-start`. */
  name: string;
  /** Raw value; empty for a boolean property. */
  value: Uint8Array;
}

/** One node: name (with unit address), properties and children, both in document order. */
export interface FdtNode {
  /** Node name including the unit address, e.g. `cpu@0`; the root's name is `""`. */
  name: string;
  /** Properties in document order. */
  props: FdtProperty[];
  /** Child nodes in document order. */
  children: FdtNode[];
}

/** One memory reservation entry of the blob (`/memreserve/` in DTS). */
export interface FdtReservation {
  /** Physical start address. */
  address: bigint;
  /** Size in bytes. */
  size: bigint;
}

/** A whole device tree blob's content. */
export interface FdtTree {
  /** The root node (name `""`). */
  root: FdtNode;
  /** Memory reservation block entries, in order, without the terminating 0,0. */
  reservations: FdtReservation[];
  /** The header's boot_cpuid_phys: the boot CPU node's `reg`. */
  bootCpuidPhys: number;
}

/** Makes a node; `props` and `children` default to empty lists. */
export function node(name: string, props: FdtProperty[] = [], children: FdtNode[] = []): FdtNode {
  return { name, props, children };
}

/** The property `name` of `node`, or `undefined`. */
export function getProp(node: FdtNode, name: string): FdtProperty | undefined {
  return node.props.find((prop) => prop.name === name);
}

/** The value of property `name` of `node` when it is 4 bytes long (one u32), else `undefined`. */
export function u32Prop(node: FdtNode, name: string): number | undefined {
  const prop = getProp(node, name);
  return prop && prop.value.length === 4 ? readU32s(prop.value)[0] : undefined;
}

/** Sets property `name` to `value`: replaces the value in place (same position) or appends. */
export function setProp(node: FdtNode, name: string, value: Uint8Array): void {
  const prop = getProp(node, name);
  if (prop) prop.value = value;
  else node.props.push({ name, value });
}

/** Removes property `name`; returns whether there was one. */
export function removeProp(node: FdtNode, name: string): boolean {
  const index = node.props.findIndex((prop) => prop.name === name);
  if (index < 0) return false;
  node.props.splice(index, 1);
  return true;
}

/**
 * The child of `parent` called `name`. An exact match wins; a name without a unit
 * address (`memory`) also matches the one child whose name before `@` is that name
 * (`memory@40000000`) — when exactly one such child exists.
 */
export function childNamed(parent: FdtNode, name: string): FdtNode | undefined {
  let base: FdtNode | undefined;
  let baseCount = 0;
  const bare = !name.includes("@");
  for (const child of parent.children) {
    if (child.name === name) return child;
    if (
      bare && child.name.length > name.length && child.name.startsWith(name) &&
      child.name.charCodeAt(name.length) === 0x40
    ) {
      base = child;
      baseCount++;
    }
  }
  return baseCount === 1 ? base : undefined;
}

/**
 * The node at `path` (`/cpus/cpu@0`; `/` is the root), each component matched as
 * {@linkcode childNamed} does, so `/memory` finds a unique `memory@40000000`. Given a
 * node instead of a tree, the path is taken from that node. Empty components (`//`)
 * are ignored.
 */
export function findNode(tree: FdtTree | FdtNode, path: string): FdtNode | undefined {
  let current: FdtNode | undefined = "root" in tree ? tree.root : tree;
  for (const part of path.split("/")) {
    if (part === "") continue;
    current = childNamed(current, part);
    if (!current) return undefined;
  }
  return current;
}

/**
 * Visits every node depth first in document order (a node before its children),
 * with its absolute path (`/`, `/cpus`, `/cpus/cpu@0`) and its parent (`undefined`
 * for the root).
 */
export function walk(
  tree: FdtTree,
  visit: (node: FdtNode, path: string, parent: FdtNode | undefined) => void,
): void {
  const step = (current: FdtNode, path: string, parent: FdtNode | undefined): void => {
    visit(current, path, parent);
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const child of current.children) step(child, prefix + child.name, current);
  };
  step(tree.root, "/", undefined);
}

/** A deep copy: no node, property list, value or reservation is shared with `tree`. */
export function cloneTree(tree: FdtTree): FdtTree {
  const copy = (source: FdtNode): FdtNode => ({
    name: source.name,
    props: source.props.map((prop) => ({ name: prop.name, value: prop.value.slice() })),
    children: source.children.map(copy),
  });
  return {
    root: copy(tree.root),
    reservations: tree.reservations.map(({ address, size }) => ({ address, size })),
    bootCpuidPhys: tree.bootCpuidPhys,
  };
}

/**
 * Every node that has a phandle, by phandle: from its 4-byte `phandle` property, or
 * the legacy `linux,phandle` when `phandle` is absent. Values 0 and 0xffffffff are not
 * phandles and are skipped; when two nodes claim the same phandle the first in
 * document order wins.
 */
export function phandleMap(tree: FdtTree): Map<number, { node: FdtNode; path: string }> {
  const map = new Map<number, { node: FdtNode; path: string }>();
  walk(tree, (current, path) => {
    const prop = getProp(current, "phandle") ?? getProp(current, "linux,phandle");
    if (!prop || prop.value.length !== 4) return;
    const v = prop.value;
    const phandle = ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0;
    if (phandle === 0 || phandle === 0xffffffff || map.has(phandle)) return;
    map.set(phandle, { node: current, path });
  });
  return map;
}
