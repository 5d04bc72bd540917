/**
 * `vmanctl edit NAME`, as `virsh edit`: the partition's definition (the next one,
 * when it was updated while running) is written as a spec file, opened in
 * `$VISUAL`, `$EDITOR` or `vi`, read again after the editor exits and applied as
 * `update`. An unchanged file changes nothing; a file that does not read is one
 * line, exit 2, and changes nothing.
 *
 * @module
 */
import type { CliContext } from "../context.ts";
import { InputError } from "../../errors.ts";
import { MAX_SPEC_BYTES, readRegularTextFile } from "../../files.ts";
import { partitionIn } from "../../state/lookup.ts";
import { specYaml } from "../../partition/spec_yaml.ts";
import { definitionOf } from "../../partition/update.ts";
import { applyUpdate, specOfFile } from "./update.ts";

/** Edits partition `name`'s spec and applies it; returns the exit code. */
export async function editSpec(ctx: CliContext, name: string): Promise<number> {
  const { record } = partitionIn(await ctx.converged(), name);
  const { spec, allocation } = definitionOf(record);
  const text = specYaml(spec, allocation);
  const path = await Deno.makeTempFile({ prefix: `vmanctl-edit-${name}-`, suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, text);
    await runEditor(ctx, path);
    const edited = await readRegularTextFile(path, MAX_SPEC_BYTES, "the edited spec");
    if (edited === text) {
      ctx.io.out(`Partition ${name}: spec not changed`);
      return 0;
    }
    return await applyUpdate(ctx, name, await specOfFile(name, path));
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/** The editor command: `$VISUAL`, else `$EDITOR`, else `vi`. */
function editorOf(ctx: CliContext): string {
  const named = [ctx.host.env("VISUAL"), ctx.host.env("EDITOR")].find((e) => e?.trim());
  return named ?? "vi";
}

/**
 * Runs the editor on `path` through `sh -c` (so `EDITOR` may carry arguments, as
 * for virsh and git), on this terminal; an editor that fails changes nothing.
 */
async function runEditor(ctx: CliContext, path: string): Promise<void> {
  const editor = editorOf(ctx);
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command("sh", {
      args: ["-c", `${editor} "$1"`, "sh", path],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
  } catch (error) {
    throw new InputError(`cannot run the editor: ${(error as Error).message}`, editor);
  }
  if (!status.success) {
    throw new InputError(
      `the editor exited with status ${status.code}; nothing was changed`,
      editor,
    );
  }
}
