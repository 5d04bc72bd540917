/**
 * After the pruning, what the removed children leave behind in the nodes that
 * lost some: cell counts nothing uses any more, as dtc's checks would call them
 * (its `checks.c`). Only nodes that lost children are touched, so a board's own
 * style is left as it is.
 *
 * - A graph node (dtc's: a `port` with an `endpoint` child, or its `ports`
 *   parent) left with one child whose `reg` is 0 or missing
 *   (`graph_child_address`): the node loses `#address-cells` and `#size-cells`,
 *   the child its `reg` and unit address (`port@0` becomes `port`, which Linux's
 *   of_graph reads as port 0), and `/aliases` and `/__symbols__` follow the
 *   rename. A child so renamed is taken the same way (a `port@0` with one
 *   `endpoint@0` becomes `port` with `endpoint`).
 * - A node with `#address-cells` and `#size-cells` but no `ranges` whose children
 *   left have no `reg` (`avoid_unnecessary_addr_size`): it loses both, unless its
 *   `dma-ranges`, `interrupt-map` or `interrupt-controller` may read them or a
 *   child has `ranges`.
 *
 * @module
 */
import type { FdtNode, FdtTree } from "./tree.ts";
import { getProp, removeProp, u32Prop } from "./tree.ts";
import { readString, readU32s, str, stringsOf } from "./values.ts";

/** A node renamed, by its full path before and after. */
interface Rename {
  from: string;
  to: string;
}

/**
 * Tidies every node of `tree` for which `lostChildren` says the pruning removed
 * some of its children, children before parents.
 */
export function tidyPrunedNodes(tree: FdtTree, lostChildren: (node: FdtNode) => boolean): void {
  const renames: Rename[] = [];
  const visit = (node: FdtNode, path: string): void => {
    for (const child of node.children) visit(child, joinPath(path, child.name));
    if (node === tree.root || !lostChildren(node)) return;
    collapseGraph(node, path, renames);
    dropUnneededCells(node);
  };
  visit(tree.root, "/");
  if (renames.length > 0) followRenames(tree, renames);
}

/**
 * {@linkcode collapseGraphNode} on `node` (at `path`), noting the rename; then on
 * the child it renamed, whose path changed (a `port@0` that has a single
 * `endpoint@0` of its own becomes `port` with `endpoint`, so that a warning the
 * board's tree had there does not come back under a new path).
 */
function collapseGraph(node: FdtNode, path: string, renames: Rename[]): void {
  const renamed = collapseGraphNode(node);
  if (!renamed) return;
  const to = joinPath(path, renamed.to);
  renames.push({ from: joinPath(path, renamed.from), to });
  collapseGraph(node.children[0], to, renames);
}

function joinPath(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** A node name before its `@`. */
function baseName(name: string): string {
  const at = name.indexOf("@");
  return at < 0 ? name : name.slice(0, at);
}

/** The first cell of a node's `reg`, undefined without one (or one shorter than a cell). */
function firstRegCell(node: FdtNode): number | undefined {
  const reg = getProp(node, "reg");
  return reg && reg.value.length >= 4 ? readU32s(reg.value.subarray(0, 4))[0] : undefined;
}

/** dtc's graph port: a node with an `endpoint` child or a child with `remote-endpoint`. */
function isGraphPort(node: FdtNode): boolean {
  return node.children.some((c) =>
    baseName(c.name) === "endpoint" || getProp(c, "remote-endpoint") !== undefined
  );
}

/**
 * Whether dtc takes the node for another kind of bus before a graph (its
 * pci_bridge, simple_bus_bridge, i2c_bus_bridge and spi_bus_bridge checks run
 * first, and a graph `ports` bus is only set on a node without one).
 */
function isOtherBus(node: FdtNode): boolean {
  const base = baseName(node.name);
  if (["i2c", "i2c-bus", "i2c-arb", "spi"].includes(base)) return true;
  if (stringsOf(getProp(node, "compatible")?.value).includes("simple-bus")) return true;
  if (stringsOf(getProp(node, "device_type")?.value).includes("pci")) return true;
  if (u32Prop(node, "#address-cells") !== 1 || u32Prop(node, "#size-cells") !== 0) return false;
  return node.children.some((c) => c.props.some((p) => p.name.startsWith("spi-")));
}

/** dtc's graph node kinds: a port, or the `ports` node (or device) holding ports. */
function isGraphNode(node: FdtNode): boolean {
  if (isGraphPort(node)) return true;
  if (isOtherBus(node)) return false;
  return node.children.some((c) =>
    isGraphPort(c) && (node.name === "ports" || getProp(c, "reg") !== undefined)
  );
}

/**
 * dtc's `graph_child_address`: a graph node with `#address-cells` and a single
 * child whose `reg` is 0 or missing needs no cells, and the child then needs no
 * `reg` or unit address. Returns the child's rename, if it had a unit address.
 */
function collapseGraphNode(node: FdtNode): { from: string; to: string } | undefined {
  if (node.children.length !== 1 || !getProp(node, "#address-cells")) return undefined;
  const [child] = node.children;
  if ((firstRegCell(child) ?? 0) !== 0 || !isGraphNode(node)) return undefined;
  removeProp(node, "#address-cells");
  removeProp(node, "#size-cells");
  removeProp(child, "reg");
  const from = child.name;
  child.name = baseName(from);
  return from === child.name ? undefined : { from, to: child.name };
}

/**
 * dtc's `avoid_unnecessary_addr_size`: `#address-cells` and `#size-cells` on a
 * node without `ranges` none of whose children has `reg` go, unless the node's
 * own `dma-ranges`, `interrupt-map` or interrupt controller, or a child's
 * `ranges`, may read them.
 */
function dropUnneededCells(node: FdtNode): void {
  if (!getProp(node, "#address-cells") || !getProp(node, "#size-cells")) return;
  if (node.children.length === 0) return;
  const readers = ["ranges", "dma-ranges", "interrupt-map", "interrupt-controller"];
  if (readers.some((name) => getProp(node, name))) return;
  if (node.children.some((c) => getProp(c, "reg") || getProp(c, "ranges"))) return;
  removeProp(node, "#address-cells");
  removeProp(node, "#size-cells");
}

/**
 * `/aliases` and `/__symbols__` entries naming a renamed node or a node under it
 * follow it; `renames` are in the order the walk made them, children first.
 */
function followRenames(tree: FdtTree, renames: readonly Rename[]): void {
  for (const table of ["aliases", "__symbols__"]) {
    const node = tree.root.children.find((c) => c.name === table);
    for (const prop of node?.props ?? []) {
      if (prop.value.length === 0 || prop.value.at(-1) !== 0) continue;
      const before = readString(prop.value);
      // Deeper renames come first, each under its ancestors' old paths.
      let path = before;
      for (const { from, to } of renames) {
        if (path === from || path.startsWith(`${from}/`)) path = to + path.slice(from.length);
      }
      if (path !== before) prop.value = str(path);
    }
  }
}
