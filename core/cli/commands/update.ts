/**
 * `update NAME -f SPEC.yaml` and `edit NAME`: a partition's definition replaced
 * (core/partition/update.ts) — in place when it does not run, at its next start
 * when it does.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { partitionView } from "../output.ts";
import { InputError } from "../../errors.ts";
import type { PartitionSpec } from "../../model.ts";
import type { UpdateResult } from "../../partition/update.ts";

/** Reads the spec of partition `name` from a spec file; a file naming another partition is refused. */
export async function specOfFile(name: string, path: string): Promise<PartitionSpec> {
  const { readSpecFile, resolveImages, specFromText } = await import("../../partition/spec.ts");
  const file = await readSpecFile(path);
  if (file.name !== undefined && file.name !== name) {
    throw new InputError(
      `the spec file names partition '${file.name}', not '${name}' (a partition cannot be renamed)`,
      path,
    );
  }
  return await resolveImages(specFromText(name, file.values));
}

/** Applies `spec` to partition `name` and reports what changed. */
export async function applyUpdate(
  ctx: CliContext,
  name: string,
  spec: PartitionSpec,
): Promise<number> {
  const { updatePartition } = await import("../../partition/update.ts");
  const result = await updatePartition(await ctx.lifecycle(), name, spec);
  if (ctx.globals.json) {
    ctx.json({
      ...partitionView(result.record),
      changed: result.changed,
      deferred: result.deferred,
    });
  } else ctx.io.out(updateText(result));
  return 0;
}

/** What an update did, in words. */
function updateText({ record, changed, deferred }: UpdateResult): string {
  if (!changed) return `Partition ${record.name} unchanged`;
  if (deferred) {
    return `Partition ${record.name} updated: it keeps running as it is; its next start uses the new definition`;
  }
  const { cores, memory } = record.allocation;
  return `Partition ${record.name} updated: cores ${cores.join(",")}, ` +
    `memory 0x${memory.base.toString(16)}+0x${memory.size.toString(16)}`;
}

/** `update NAME -f SPEC.yaml` */
export const updateCommand: CommandSpec<CliContext> = {
  name: "update",
  summary: "Replace a partition's definition from a spec file (a running one: at its next start).",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [{
    name: "file",
    short: "f",
    value: "SPEC.yaml",
    help: "the new spec (the format of create -f)",
  }],
  async run(ctx, input) {
    const path = input.options.file as string | undefined;
    if (path === undefined) throw new InputError("update needs the new spec: -f SPEC.yaml", "-f");
    const name = input.args.NAME!;
    return await applyUpdate(ctx, name, await specOfFile(name, path));
  },
};

/** `edit NAME` */
export const editCommand: CommandSpec<CliContext> = {
  name: "edit",
  summary: "Edit a partition's spec in $VISUAL or $EDITOR (default vi), then apply it as update.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const { editSpec } = await import("./edit_spec.ts");
    return await editSpec(ctx, input.args.NAME!);
  },
};
