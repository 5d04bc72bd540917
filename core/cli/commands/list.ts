/**
 * `list [--name]`: only what it needs loads (not show's and plan's views).
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { partitionTable, partitionView } from "../output.ts";
import { observeRecords } from "../../partition/observe.ts";

/** `list [--name]` */
export const listCommand: CommandSpec<CliContext> = {
  name: "list",
  summary: "List the partitions.",
  args: [],
  options: [{ name: "name", help: "print only the names, one per line" }],
  async run(ctx, input) {
    const doc = await ctx.converged();
    const records = await observeRecords(doc?.partitions ?? [], await ctx.observer(doc));
    if (ctx.globals.json) ctx.json(records.map(partitionView));
    else if (input.options.name) records.forEach((r) => ctx.io.out(r.name));
    else ctx.io.out(records.length > 0 ? partitionTable(records) : "No partitions.");
    return 0;
  },
};
