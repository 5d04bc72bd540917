/**
 * A partition's `/chosen/bootargs` when its tree is made from the board's flat
 * index: the partition's command line, protected by {@linkcode finalCmdline} when
 * its devices depend on shared clock or power-domain providers. That check needs
 * the board's whole tree as objects, so it runs only when it can matter: the board
 * reserves providers, or a node of the partition's devices refers to a provider
 * that is not a fixed clock. Otherwise no provider is shared and the command line
 * is the partition's own, unchanged.
 *
 * @module
 */
import type { Board, PartitionRecord } from "../model.ts";
import { finalCmdline } from "../partition/cmdline_protection.ts";
import type { BoardIndex } from "./board_index.ts";
import { providerKind } from "./providers.ts";

/** The command line for `/chosen/bootargs` of `record`'s tree. */
export function bootargsOf(
  board: BoardIndex,
  description: Board,
  record: PartitionRecord,
): string | undefined {
  const { cmdline } = record.spec;
  const reserves = description.reserved.some((r) => (r.providers?.length ?? 0) > 0);
  if (!reserves && !usesSwitchableProvider(board, description, record.allocation.devices)) {
    return cmdline;
  }
  return finalCmdline(board.index.toTree(), description, record.allocation, cmdline, record.name);
}

/** Whether a node of the devices' subtrees refers to a provider other than a fixed clock. */
function usesSwitchableProvider(
  board: BoardIndex,
  description: Board,
  devices: readonly string[],
): boolean {
  const { index } = board;
  const { propFirst, propNext, propName, propNames, end } = index.data;
  const kinds = propNames.map((name) => providerKind(name) !== undefined);
  let found = false;
  for (const name of devices) {
    const path = description.devices.find((d) => d.name === name)?.path;
    const at = path === undefined ? -1 : index.findPath(path);
    for (let i = at; at >= 0 && i < end[at]; i++) {
      for (let p = propFirst[i]; p >= 0; p = propNext[p]) {
        if (!kinds[propName[p]]) continue;
        board.eachTarget(p, (target) => found ||= !isFixed(board, providerOf(board, target)));
        if (found) return true;
      }
    }
  }
  return false;
}

/** A referenced node's provider: it or its nearest ancestor (not the root) with `compatible`. */
function providerOf(board: BoardIndex, target: number): number {
  const compatible = board.index.nameId("compatible");
  for (let n = target; n > 0; n = board.index.data.parent[n]) {
    if (board.index.has(n, compatible)) return n;
  }
  return target;
}

/** Whether a provider's `compatible` lists `fixed-clock` (nothing can switch it off). */
function isFixed(board: BoardIndex, provider: number): boolean {
  const p = board.index.prop(provider, board.index.nameId("compatible"));
  if (p < 0) return false;
  const value = board.index.view(p);
  if (value.length === 0 || value[value.length - 1] !== 0) return false;
  return new TextDecoder().decode(value.subarray(0, value.length - 1)).split("\0")
    .includes("fixed-clock");
}
