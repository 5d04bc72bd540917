/**
 * The SoC providers a set of device nodes depends on — the clock, reset,
 * power-domain and pin controllers their `clocks`, `assigned-clocks`, `resets`,
 * `power-domains` and `pinctrl-N` properties point at — and which other enabled
 * nodes of the tree depend on the same providers. A provider is the referenced
 * node, or its nearest ancestor with a `compatible` when it has none (a pin group
 * is its pin controller's, a power domain its power controller's). Fixed clocks
 * are no providers here: they have no gate to switch off. Knows no board.
 *
 * @example
 * ```ts
 * import { providerUses } from "./providers.ts";
 * declare const tree: import("./tree.ts").FdtTree;
 * for (const use of providerUses(tree, ["/soc/serial@30890000"])) {
 *   if (use.consumers.length > 0) console.log(`${use.device}: ${use.kind} ${use.provider}`);
 * }
 * ```
 * @module
 */
import type { FdtNode, FdtTree } from "./tree.ts";
import { getProp } from "./tree.ts";
import { readU32s, stringsOf } from "./values.ts";
import { isPinctrlN, referencesOf } from "./references.ts";

/** What a provider provides. */
export type ProviderKind = "clock" | "reset" | "power-domain" | "pinctrl";

/** Most consumer paths a {@linkcode ProviderUse} lists (the count is what matters). */
export const MAX_CONSUMERS = 8;

/** Compatibles of providers nothing can switch off (no gate, no registers). */
const FIXED = new Set(["fixed-clock"]);

/** The kind of provider a property refers to, or undefined for other properties. */
export function providerKind(property: string): ProviderKind | undefined {
  switch (property) {
    case "clocks":
    case "assigned-clocks":
    case "assigned-clock-parents":
      return "clock";
    case "resets":
      return "reset";
    case "power-domains":
      return "power-domain";
  }
  return isPinctrlN(property) ? "pinctrl" : undefined;
}

/** One provider one of the given devices depends on. */
export interface ProviderUse {
  /** Path of the given device (one of `owned`) whose node or subtree refers to it. */
  device: string;
  /** What it provides. */
  kind: ProviderKind;
  /** The first property that refers to it, e.g. `clocks`. */
  property: string;
  /** Path of the provider node. */
  provider: string;
  /** Paths of the referenced nodes (the provider or nodes below it: pin groups, domains). */
  targets: string[];
  /**
   * Enabled nodes outside the given devices and outside the provider that refer to
   * the same provider (any kind), at most {@linkcode MAX_CONSUMERS}: empty when the
   * devices are its only users.
   */
  consumers: string[];
}

/** One reference of the tree to a provider. */
interface ProviderRef {
  from: string;
  owner: string | undefined;
  enabled: boolean;
  kind: ProviderKind;
  property: string;
  provider: string;
  target: string;
}

/**
 * The providers the nodes at `owned` (with their subtrees) refer to, one entry per
 * device, provider and kind, in document order; providers inside an owned subtree
 * and fixed clocks are left out.
 */
export function providerUses(tree: FdtTree, owned: readonly string[]): ProviderUse[] {
  const refs = providerRefs(tree, new Set(owned));
  const consumers = new Map<string, string[]>();
  for (const ref of refs) {
    if (ref.owner !== undefined || !ref.enabled || within(ref.from, ref.provider)) continue;
    const list = consumers.get(ref.provider) ?? [];
    if (list.length < MAX_CONSUMERS && !list.includes(ref.from)) list.push(ref.from);
    consumers.set(ref.provider, list);
  }
  const uses = new Map<string, ProviderUse>();
  for (const ref of refs) {
    if (ref.owner === undefined || owned.some((path) => within(ref.provider, path))) continue;
    const key = `${ref.owner}\0${ref.provider}\0${ref.kind}`;
    const use = uses.get(key);
    if (use) {
      if (!use.targets.includes(ref.target)) use.targets.push(ref.target);
      continue;
    }
    uses.set(key, {
      device: ref.owner,
      kind: ref.kind,
      property: ref.property,
      provider: ref.provider,
      targets: [ref.target],
      consumers: consumers.get(ref.provider) ?? [],
    });
  }
  return [...uses.values()];
}

/** The tree indexed in one pass: paths, parents, phandles, and the nodes that use providers. */
interface ProviderIndex {
  pathOf: Map<FdtNode, string>;
  parentOf: Map<FdtNode, FdtNode>;
  nodeOf: Map<number, FdtNode>;
  users: { node: FdtNode; path: string; owner: string | undefined; enabled: boolean }[];
}

/** Every reference to a provider in the tree, with the owned device it comes from. */
function providerRefs(tree: FdtTree, owned: ReadonlySet<string>): ProviderRef[] {
  const index = indexTree(tree, owned);
  const nodeOf = (phandle: number) => index.nodeOf.get(phandle);
  const refs: ProviderRef[] = [];
  for (const { node, path, owner, enabled } of index.users) {
    for (const prop of node.props) {
      const kind = providerKind(prop.name);
      if (kind === undefined) continue;
      for (const ref of referencesOf(prop, nodeOf)) {
        const target = nodeOf(ref.phandle);
        if (!target) continue;
        const provider = providerOf(target, index.parentOf);
        if (isFixed(provider)) continue;
        refs.push({
          from: path,
          owner,
          enabled,
          kind,
          property: prop.name,
          provider: index.pathOf.get(provider)!,
          target: index.pathOf.get(target)!,
        });
      }
    }
  }
  return refs;
}

/** One pass over the tree: every node's path and parent, the phandles, the provider users. */
function indexTree(tree: FdtTree, owned: ReadonlySet<string>): ProviderIndex {
  const index: ProviderIndex = {
    pathOf: new Map(),
    parentOf: new Map(),
    nodeOf: new Map(),
    users: [],
  };
  const visit = (
    node: FdtNode,
    path: string,
    owner: string | undefined,
    enabled: boolean,
  ): void => {
    index.pathOf.set(node, path);
    let phandle: number | undefined;
    let uses = false;
    for (const prop of node.props) {
      if (prop.name === "phandle" || (prop.name === "linux,phandle" && phandle === undefined)) {
        phandle = prop.value.length === 4 ? readU32s(prop.value)[0] : undefined;
      } else if (!uses && providerKind(prop.name) !== undefined) uses = true;
    }
    if (phandle !== undefined && phandle !== 0 && phandle !== 0xffffffff) {
      if (!index.nodeOf.has(phandle)) index.nodeOf.set(phandle, node);
    }
    const mine = owned.has(path) ? path : owner;
    const on = enabled && isEnabled(node);
    if (uses) index.users.push({ node, path, owner: mine, enabled: on });
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const child of node.children) {
      index.parentOf.set(child, node);
      visit(child, prefix + child.name, mine, on);
    }
  };
  visit(tree.root, "/", undefined, true);
  return index;
}

/** The referenced node, or its nearest ancestor with a `compatible` (not the root). */
function providerOf(target: FdtNode, parentOf: ReadonlyMap<FdtNode, FdtNode>): FdtNode {
  for (let n: FdtNode | undefined = target; n && parentOf.has(n); n = parentOf.get(n)) {
    if (getProp(n, "compatible")) return n;
  }
  return target;
}

/** Whether `path` is `root` or below it. */
function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root === "/" ? "/" : `${root}/`);
}

/** A node's `status` is absent, `okay` or `ok`. */
function isEnabled(node: FdtNode): boolean {
  const prop = getProp(node, "status");
  if (!prop || prop.value.length === 0) return true;
  const status = stringsOf(prop.value)[0];
  return status === "okay" || status === "ok";
}

/** Whether a provider is one nothing can switch off. */
function isFixed(node: FdtNode): boolean {
  const prop = getProp(node, "compatible");
  return prop !== undefined && stringsOf(prop.value).some((c) => FIXED.has(c));
}
