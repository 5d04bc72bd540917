/**
 * Shared SoC resources: the clock, reset, power-domain and pin controllers a
 * partition's devices depend on that other devices — the management partition's
 * (every device not given to a partition) or another partition's — depend on too.
 * `plan` and `create` name them as warnings; one the board reserves to the
 * management partition (`reserved: [{ owner: management, providers: [PATH…] }]`)
 * refuses the partition. docs/boards.md tells why.
 *
 * @module
 */
import { BoardError, InputError } from "../errors.ts";
import type { Allocation, Board } from "../model.ts";
import type { FdtTree } from "../devicetree/tree.ts";
import type { FdtNode } from "../devicetree/tree.ts";
import { type ProviderKind, providerUses } from "../devicetree/providers.ts";

/** A partition's device depending on a provider that is shared or reserved. */
export interface SharedProvider {
  /** The board device's name. */
  device: string;
  /** What the provider provides. */
  kind: ProviderKind;
  /** The property that refers to it, e.g. `clocks`. */
  property: string;
  /** The provider's device tree path. */
  provider: string;
  /** Who else uses it: `the management partition`, `partition NAME`; empty when nobody. */
  sharedWith: string[];
  /** Whether the board reserves it to the management partition. */
  reserved: boolean;
  /**
   * Whether it lies in a board device the partition was not given: its device tree
   * then lacks it and the references to it (docs/devicetree.md), so the partition's
   * Linux can neither switch it off nor on.
   */
  dropped: boolean;
}

/** Another partition: its name and what it was given. */
export interface OtherPartition {
  /** Its name. */
  name: string;
  /** Its allocation. */
  allocation: Pick<Allocation, "devices">;
}

/** A device that depends on a provider the board reserves to the management partition. Exit code 2. */
export class ReservedProviderError extends InputError {}

const KIND_WORDS: Record<ProviderKind, string> = {
  clock: "clock controller",
  reset: "reset controller",
  "power-domain": "power controller",
  pinctrl: "pin controller",
};

const MANAGEMENT = "the management partition";

/**
 * The providers the partition's devices depend on that another user shares or the
 * board reserves, in document order. `others` names the other partitions (for
 * `sharedWith`); every other user is the management partition's.
 */
export function sharedProviders(
  tree: FdtTree,
  board: Board,
  allocation: Pick<Allocation, "devices">,
  others: readonly OtherPartition[] = [],
): SharedProvider[] {
  const owned = allocation.devices.flatMap((name) => {
    const path = board.devices.find((d) => d.name === name)?.path;
    return path === undefined ? [] : [path];
  });
  if (owned.length === 0) return []; // no device, no provider: the tree is not walked
  const reserved = reservedProviders(tree, board);
  const nameOf = new Map(board.devices.flatMap((d) => d.path ? [[d.path, d.name]] : []));
  return providerUses(tree, owned).flatMap((use) => {
    const isReserved = reserved.some((path) =>
      [use.provider, ...use.targets].some((p) => within(p, path))
    );
    const sharedWith = [...new Set(use.consumers.map((p) => userOf(p, board, others)))];
    if (!isReserved && sharedWith.length === 0) return [];
    return [{
      device: nameOf.get(use.device) ?? use.device,
      kind: use.kind,
      property: use.property,
      provider: use.provider,
      sharedWith,
      reserved: isReserved,
      dropped: board.devices.some((d) =>
        d.path !== undefined && !allocation.devices.includes(d.name) && within(use.provider, d.path)
      ),
    }];
  });
}

/**
 * Throws {@linkcode ReservedProviderError} when one of the allocation's devices
 * depends on a provider the board reserves to the management partition. The tree
 * is loaded only for a board that reserves providers; without one (a board without
 * a device tree) nothing is checked.
 */
export async function refuseReserved(
  board: Board,
  allocation: Pick<Allocation, "devices">,
  loadTree: () => Promise<FdtTree | undefined> | undefined,
): Promise<void> {
  if (!board.reserved.some((r) => r.providers?.length)) return;
  const tree = await loadTree();
  if (!tree) return;
  const use = sharedProviders(tree, board, allocation).find((s) => s.reserved);
  if (!use) return;
  throw new ReservedProviderError(
    `device ${use.device} needs ${KIND_WORDS[use.kind]} ${use.provider} (${use.property}), ` +
      `which board ${board.name} reserves to the management partition`,
    use.device,
  );
}

/** The warning line of a shared provider: device, provider kind and path, its users. */
export function sharedWarning(use: SharedProvider): string {
  const users = use.sharedWith.length > 0 ? use.sharedWith.join(", ") : MANAGEMENT;
  return `device ${use.device}: ${KIND_WORDS[use.kind]} ${use.provider} (${use.property}) ` +
    `is shared with ${users}${use.dropped ? " (not in the partition's device tree)" : ""}`;
}

/** Who uses the node at `path`: the other partition given the device it is in, else management. */
function userOf(path: string, board: Board, others: readonly OtherPartition[]): string {
  const device = board.devices.find((d) => d.path !== undefined && within(path, d.path));
  const holder = device && others.find((o) => o.allocation.devices.includes(device.name));
  return holder ? `partition ${holder.name}` : MANAGEMENT;
}

/**
 * The paths the board reserves to the management partition; throws
 * {@linkcode BoardError} for one its device tree lacks (a typo would protect nothing).
 */
function reservedProviders(tree: FdtTree, board: Board): string[] {
  const paths = board.reserved.flatMap((r) => r.owner === "management" ? r.providers ?? [] : []);
  for (const path of paths) {
    if (!exactNode(tree.root, path)) {
      throw new BoardError(
        `board ${board.name} reserves provider ${path}, which its device tree lacks`,
        path,
      );
    }
  }
  return paths;
}

/** The node at `path`, every component matched exactly (unit address included). */
function exactNode(root: FdtNode, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = root;
  for (const part of path.split("/").filter((p) => p !== "")) {
    node = node.children.find((c) => c.name === part);
    if (!node) return undefined;
  }
  return node;
}

/** Whether `path` is `root` or below it. */
function within(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}
