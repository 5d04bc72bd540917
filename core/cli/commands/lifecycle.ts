/**
 * `create`, `start`, `stop`, `destroy`.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { reportPartition } from "../output.ts";
import type { PartitionRecord } from "../../model.ts";
import { specOptions } from "./spec_options.ts";
import { printWarnings, sharedView } from "../shared_resources.ts";
import { stage, stopTimingStages, timeStages } from "../../boot/stages.ts";

// Commands load what they run on demand, so that `vmanctl list` starts fast.
const loadLifecycle = () => import("../../partition/lifecycle.ts");

/** `create NAME [-f SPEC.yaml] [--cpus N | --cpu-ids 2,3] …` */
export const createCommand: CommandSpec<CliContext> = {
  name: "create",
  summary: "Define a partition: allocate its cores, memory window and devices.",
  args: [{ name: "NAME", required: false }],
  options: specOptions,
  async run(ctx, input) {
    const { specFromInput } = await import("./spec_input.ts");
    const spec = await specFromInput(input.args.NAME, input.options);
    const record = await (await loadLifecycle()).createPartition(await ctx.lifecycle(), spec);
    const m = record.allocation.memory;
    const doc = await (await ctx.store()).read();
    const shared = await sharedView(ctx, doc!.board, record, doc!.partitions);
    printWarnings(ctx, shared.warnings);
    return reportPartition(
      ctx,
      shared.record,
      `Partition ${record.name} defined: cores ${record.allocation.cores.join(",")}, ` +
        `memory 0x${m.base.toString(16)}+0x${m.size.toString(16)}`,
      shared.warnings,
    );
  },
};

/** `start NAME` */
export const startCommand: CommandSpec<CliContext> = {
  name: "start",
  summary: "Start a partition: describe it to the monitor and start its boot core.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    // -v: the time of each stage of the start, on stderr (core/boot/stages.ts).
    const clock = ctx.globals.verbose ? timeStages() : undefined;
    try {
      const lifecycle = await loadLifecycle();
      stage("load lifecycle");
      const record = await lifecycle.startPartition(await ctx.lifecycle(), input.args.NAME!);
      const code = reportPartition(ctx, record, `Partition ${record.name} started`);
      for (const line of clock?.lines() ?? []) ctx.io.err(line);
      return code;
    } finally {
      if (clock) stopTimingStages();
    }
  },
};

/** `stop NAME` */
export const stopCommand: CommandSpec<CliContext> = {
  name: "stop",
  summary: "Stop a running partition; it stays defined.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const record = await (await loadLifecycle()).stopPartition(
      await ctx.lifecycle(),
      input.args.NAME!,
    );
    return reportPartition(ctx, record, `Partition ${record.name} stopped`);
  },
};

/** `destroy NAME` */
export const destroyCommand: CommandSpec<CliContext> = {
  name: "destroy",
  summary: "Remove a partition (stopping it first) and free its resources.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const record = await (await loadLifecycle()).destroyPartition(
      await ctx.lifecycle(),
      input.args.NAME!,
    );
    return reportPartition(
      ctx,
      { ...record, state: "destroyed" as PartitionRecord["state"] },
      `Partition ${record.name} destroyed`,
    );
  },
};
