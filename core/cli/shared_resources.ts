/**
 * What `plan`, `create` and `show` say about a partition's shared SoC resources:
 * one warning per device and shared provider (on stderr, and in `--json` as
 * `warnings`), and the command line it boots with, protected when needed
 * (core/partition/shared_resources.ts, core/partition/cmdline_protection.ts).
 *
 * @module
 */
import type { CliContext } from "./context.ts";
import type { Board, PartitionRecord } from "../model.ts";
import type { FdtTree } from "../devicetree/tree.ts";
import { errorLine } from "../errors.ts";
import { BOARD_DTB } from "../state/store.ts";

/** A partition's shared providers as the CLI shows them. */
export interface SharedView {
  /** One line per device and shared provider. */
  warnings: string[];
  /** The record, its command line the one it boots with. */
  record: PartitionRecord;
}

/**
 * The board's device tree, parsed: `devicetree` or the state dir's copy; undefined
 * when there is none. An unreadable one is a {@linkcode DeviceTreeError}.
 */
export async function boardTreeOf(
  ctx: CliContext,
  board: Board,
  devicetree?: Uint8Array,
): Promise<FdtTree | undefined> {
  const blob = devicetree ?? (await ctx.store()).readFile(BOARD_DTB);
  if (!blob) return undefined;
  const { codecOf, DeviceTreeError } = await import("../devicetree/build.ts");
  const codec = codecOf(await ctx.registry({ kinds: ["feature"] }));
  try {
    return codec.read(blob);
  } catch (error) {
    throw new DeviceTreeError(
      `the device tree of board ${board.name} is unreadable: ${errorLine(error)}`,
    );
  }
}

/**
 * The warnings and final command line of `record` among `partitions` (the
 * others' devices name who shares a provider), with the board's `devicetree` or
 * the state dir's; `record` unchanged and no warnings when there is none.
 */
export async function sharedView(
  ctx: CliContext,
  board: Board,
  record: PartitionRecord,
  partitions: readonly PartitionRecord[],
  devicetree?: Uint8Array,
): Promise<SharedView> {
  // No device, no provider: the board's tree is not read (nor the codec's plugin loaded).
  if (record.allocation.devices.length === 0) return { warnings: [], record };
  const tree = await boardTreeOf(ctx, board, devicetree);
  if (!tree) return { warnings: [], record };
  const { sharedProviders, sharedWarning } = await import("../partition/shared_resources.ts");
  const { needsProtection, protectCmdline } = await import(
    "../partition/cmdline_protection.ts"
  );
  const others = partitions.filter((p) => p.name !== record.name);
  const shared = sharedProviders(tree, board, record.allocation, others);
  const warnings = shared.filter((s) => s.sharedWith.length > 0).map(sharedWarning);
  if (!needsProtection(shared)) return { warnings, record };
  const cmdline = protectCmdline(record.spec.cmdline, record.name);
  return { warnings, record: { ...record, spec: { ...record.spec, cmdline } } };
}

/** Prints the warnings on stderr, `vmanctl: warning: …` each. */
export function printWarnings(ctx: CliContext, warnings: readonly string[]): void {
  for (const line of warnings) ctx.io.err(`vmanctl: warning: ${line}`);
}
