/**
 * `shutdown`, `reboot`, `reset`, and the hidden `__converge` a partition's watcher
 * runs when its emulator exits.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { reportPartition } from "../output.ts";
import { InputError } from "../../errors.ts";

const loadPower = () => import("../../partition/power.ts");

/** `--timeout S` in milliseconds (default: the power module's). */
function timeoutOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 86_400) {
    throw new InputError(`'${text}' is not a number of seconds (at most 86400)`, "--timeout");
  }
  return Number(text) * 1000;
}

const TIMEOUT = {
  name: "timeout",
  value: "S",
  help: "how long to wait for its OS to power off, in seconds (default 60)",
};

/** `shutdown NAME [--timeout S] [--force]` */
export const shutdownCommand: CommandSpec<CliContext> = {
  name: "shutdown",
  summary: "Ask a partition's OS to power off and wait for it (--force: then stop it hard).",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [TIMEOUT, { name: "force", help: "stop it hard when it does not power off in time" }],
  async run(ctx, input) {
    const timeoutMs = timeoutOf(input.options.timeout);
    const record = await (await loadPower()).shutdownPartition(
      await ctx.lifecycle(),
      input.args.NAME!,
      { timeoutMs, force: input.options.force === true },
    );
    const how = record.reason === "shutdown" ? "shut down" : "stopped (forced)";
    return reportPartition(ctx, record, `Partition ${record.name} ${how}`);
  },
};

/** `reboot NAME [--timeout S]` */
export const rebootCommand: CommandSpec<CliContext> = {
  name: "reboot",
  summary: "Restart a partition gracefully: shut its OS down, then start it again.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [TIMEOUT, { name: "force", help: "stop it hard when it does not power off in time" }],
  async run(ctx, input) {
    const record = await (await loadPower()).rebootPartition(
      await ctx.lifecycle(),
      input.args.NAME!,
      { timeoutMs: timeoutOf(input.options.timeout), force: input.options.force === true },
    );
    return reportPartition(ctx, record, `Partition ${record.name} rebooted`);
  },
};

/** `reset NAME` */
export const resetCommand: CommandSpec<CliContext> = {
  name: "reset",
  summary: "Restart a partition hard: stop it at once, then start it again.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const record = await (await loadPower()).resetPartition(
      await ctx.lifecycle(),
      input.args.NAME!,
    );
    return reportPartition(ctx, record, `Partition ${record.name} reset`);
  },
};

/**
 * `__converge`: converges the state dir — interrupted operations and the end
 * policies of partitions that ended on their own. A partition's watcher (the qemu
 * backend's console broker) runs it when the partition's emulator exits.
 */
export const convergeCommand: CommandSpec<CliContext> = {
  name: "__converge",
  summary: "Apply the end policies of partitions that ended (run by their watchers).",
  args: [],
  options: [],
  hidden: true,
  async run(ctx) {
    const { convergedState } = await import("../../partition/transaction.ts");
    await convergedState(await ctx.lifecycle(), true);
    return 0;
  },
};
