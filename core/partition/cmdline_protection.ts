/**
 * The kernel command line that keeps a partition's Linux from switching off what
 * it does not own. At the end of its boot Linux turns off every clock no driver of
 * its own enabled (`clk_disable_unused`) and every power domain none of its devices
 * uses (genpd): on a board whose clock or power controller the partition shares
 * with the management partition, those are the management partition's.
 * `clk_ignore_unused` and `pd_ignore_unused` skip both sweeps; they are added when
 * one of the partition's devices depends on a shared clock or power-domain
 * provider (core/partition/shared_resources.ts). docs/boards.md tells why per kind
 * of board.
 *
 * @module
 */
import type { Allocation, Board } from "../model.ts";
import type { FdtTree } from "../devicetree/tree.ts";
import { validateCmdline } from "./cmdline.ts";
import { type SharedProvider, sharedProviders } from "./shared_resources.ts";

/** The arguments added, in order. */
const PROTECTION_ARGS: readonly string[] = ["clk_ignore_unused", "pd_ignore_unused"];

/** Whether `shared` holds a clock or power-domain provider another user shares. */
export function needsProtection(shared: readonly SharedProvider[]): boolean {
  return shared.some((s) =>
    s.sharedWith.length > 0 && (s.kind === "clock" || s.kind === "power-domain")
  );
}

/**
 * `cmdline` with the {@linkcode PROTECTION_ARGS} it lacks, before a `--` (what
 * follows it is init's); an absent command line becomes just them. Throws
 * {@linkcode InputError} (from `validateCmdline`, at `where`) when the result is
 * longer than Linux reads.
 */
export function protectCmdline(cmdline: string | undefined, where: string): string {
  const words = (cmdline ?? "").split(/\s+/).filter((w) => w !== "");
  const end = words.indexOf("--");
  const kernel = end < 0 ? words : words.slice(0, end);
  const missing = PROTECTION_ARGS.filter((arg) => !kernel.includes(arg));
  if (missing.length === 0) return cmdline!;
  const text = (cmdline ?? "").trim();
  const result = end < 0
    ? [text, ...missing].filter((w) => w !== "").join(" ")
    : [...kernel, ...missing, ...words.slice(end)].join(" ");
  validateCmdline(result, where);
  return result;
}

/**
 * The command line a partition boots with: its own, protected when its devices
 * depend on a shared clock or power-domain provider of the board's tree.
 */
export function finalCmdline(
  tree: FdtTree,
  board: Board,
  allocation: Pick<Allocation, "devices">,
  cmdline: string | undefined,
  where: string,
): string | undefined {
  if (!needsProtection(sharedProviders(tree, board, allocation))) return cmdline;
  return protectCmdline(cmdline, where);
}
