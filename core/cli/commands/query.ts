/**
 * `show`, `plan` (`list` is list.ts's).
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { DEFAULT_BACKEND } from "../context.ts";
import { partitionView } from "../output.ts";
import { backingViews, partitionText } from "../detail_output.ts";
import { InputError } from "../../errors.ts";
import type { Board, MonitorCall } from "../../model.ts";
import { memoryMap } from "../../partition/memory_map.ts";
import { specOptions } from "./spec_options.ts";
import { type ObservedRecord, observeRecords } from "../../partition/observe.ts";
import type { RuntimeObservation } from "../../registry/plugin.ts";
import { printWarnings, sharedView } from "../shared_resources.ts";

// Commands load what they run on demand, so that `vmanctl list` starts fast.
const loadLifecycle = () => import("../../partition/lifecycle.ts");

function detail(
  ctx: CliContext,
  record: ObservedRecord,
  board: Board,
  backend: string,
  calls: MonitorCall[],
  callsTitle: string,
  warnings: readonly string[] = [],
): number {
  const regions = memoryMap(
    board,
    record.allocation,
    record.boot?.regions,
    record.spec.kernel !== undefined,
  );
  // How it ended: as the backend sees it now, or as recorded when its policy applied.
  const ended = record.runtime ?? record.ending;
  if (ctx.globals.json) {
    ctx.json({
      ...partitionView(record),
      board: board.name,
      arch: board.arch,
      backend,
      created: record.created,
      updated: record.updated,
      backings: backingViews(record, board),
      memoryMap: regions,
      boot: record.boot ?? null,
      monitorCalls: calls,
      ...(ended ? { runtime: ended } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    });
  } else {
    ctx.io.out(partitionText(record, board, backend, regions, calls, callsTitle));
    if (ended) ctx.io.out(runtimeText(ended));
  }
  return 0;
}

/** How a partition the state says is running ended, for `show`. */
function runtimeText(runtime: RuntimeObservation): string {
  const lines = [``, `Ended:    ${runtime.reason ?? runtime.state}`];
  if (runtime.console && runtime.console.length > 0) {
    lines.push(`Last console lines:`, ...runtime.console.map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

/** `show NAME` */
export const showCommand: CommandSpec<CliContext> = {
  name: "show",
  summary:
    "Show a partition: its resources, memory map and the monitor calls of its last start or stop.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const { partitionIn } = await import("../../state/lookup.ts");
    const { record: stored, board, backend, doc } = partitionIn(
      await ctx.converged(),
      input.args.NAME!,
    );
    const [record] = await observeRecords([stored], await ctx.observer(doc));
    // The command line it boots with: protected when it shares SoC providers.
    const { record: shown } = await sharedView(ctx, board, record, doc.partitions);
    return detail(
      ctx,
      { ...record, spec: shown.spec },
      board,
      backend,
      record.monitorCalls,
      "Monitor calls of the last start/stop",
    );
  },
};

/** `plan NAME | plan -f SPEC.yaml [options]` */
export const planCommand: CommandSpec<CliContext> = {
  name: "plan",
  summary:
    "Show what starting a partition would do (NAME), or what a spec would get (-f or options), changing nothing.",
  args: [{ name: "NAME", required: false, complete: "partition" }],
  options: specOptions,
  async run(ctx, input) {
    const name = input.args.NAME;
    const hasSpec = specOptions.some((o) => input.options[o.name] !== undefined);
    const store = await ctx.store();
    const [{ planSpec, planStart, prepare, summary }, { partitionIn }] = await Promise.all([
      loadLifecycle(),
      import("../../state/lookup.ts"),
    ]);
    if (name !== undefined && !hasSpec) {
      const doc = await store.read();
      if (doc?.partitions.some((p) => p.name === name)) {
        const { record, board, backend } = partitionIn(doc, name);
        const boot = await prepare(await ctx.lifecycle(), record, board);
        const shared = await sharedView(ctx, board, record, doc.partitions);
        printWarnings(ctx, shared.warnings);
        return detail(
          ctx,
          { ...shared.record, boot: summary(boot) },
          board,
          backend,
          await planStart(board, record, boot),
          "Monitor calls a start would make",
          shared.warnings,
        );
      }
      throw new InputError(
        `no partition named '${name}' (plan a new one with -f SPEC.yaml or options)`,
        "NAME",
      );
    }
    if (!hasSpec) {
      throw new InputError(
        "give a partition NAME or a spec (-f SPEC.yaml or options)",
        "vmanctl plan",
      );
    }
    const { specFromInput } = await import("./spec_input.ts");
    const spec = await specFromInput(name, input.options);
    const lifecycle = await ctx.lifecycle();
    const { record, board, calls, devicetree, stored: doc } = await planSpec(lifecycle, spec);
    const backend = doc?.backend ?? ctx.globals.backend ?? (await ctx.config()).backend ??
      DEFAULT_BACKEND;
    const shared = await sharedView(ctx, board, record, doc?.partitions ?? [], devicetree);
    printWarnings(ctx, shared.warnings);
    const title = "Monitor calls a start would make";
    return detail(ctx, shared.record, board, backend, calls, title, shared.warnings);
  },
};
