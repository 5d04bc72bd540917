/**
 * `board import FILE.dtb [-o FILE] [--name NAME] [--arch ARCH]`.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError, VmanError } from "../../errors.ts";
import type { ArchName } from "../../model.ts";
import { ARCH_NAMES } from "../../model.ts";

/** `board import FILE.dtb [-o FILE] [--name NAME] [--arch ARCH]` */
export const boardImportCommand: CommandSpec<CliContext> = {
  name: "board import",
  summary:
    "Write a first board description from a DTB (a QEMU dump, a kernel's DTB, /sys/firmware/fdt).",
  args: [{ name: "FILE", required: true, complete: "file" }],
  options: [
    {
      name: "output",
      short: "o",
      value: "FILE",
      help: "write the YAML to FILE (and the DTB beside it)",
    },
    { name: "name", value: "NAME", help: "board name (default: from the file name)" },
    {
      name: "arch",
      value: "ARCH",
      help: `architecture when the cpus do not tell (${ARCH_NAMES.join(", ")})`,
    },
  ],
  async run(ctx, input) {
    const file = input.args.FILE!;
    const arch = input.options.arch as string | undefined;
    if (arch !== undefined && !(ARCH_NAMES as readonly string[]).includes(arch)) {
      throw new InputError(`unknown architecture '${arch}' (${ARCH_NAMES.join(", ")})`, "--arch");
    }
    const { MAX_DTB_BYTES, readRegularFile } = await import("../../files.ts");
    const blob = await readRegularFile(file, MAX_DTB_BYTES, "the DTB");
    const registry = await ctx.registry({ boards: false });
    const { codecOf } = await import("../../devicetree/build.ts");
    let tree;
    try {
      tree = codecOf(registry).read(blob);
    } catch (error) {
      throw new InputError(`not a device tree blob: ${(error as Error).message}`, file);
    }
    const base = file.split("/").pop()!.replace(/\.dtb$/, "");
    const name = (input.options.name as string | undefined) ??
      (base.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "board");
    const { importBoard } = await import("../../board/import.ts");
    const { board, notes } = importBoard(tree, name, arch as ArchName | undefined);
    const output = input.options.output as string | undefined;
    const dtbName = output
      ? `${name}.dtb`
      : (file.startsWith("/") ? file : `${Deno.cwd()}/${file}`);
    board.devicetree = dtbName;
    const { boardYaml } = await import("../../board/yaml_out.ts");
    const yaml = boardYaml(board, notes, [`Imported by vmanctl board import from ${base}.dtb.`]);
    // What is written must load as a board: the same checks as every board file.
    const { loadBoardYaml } = await import("../../board/load.ts");
    loadBoardYaml(
      yaml,
      output ?? `${name}.yaml`,
      (a) => registry.has("arch", a) ? registry.get("arch", a) : undefined,
    );
    if (output) {
      const dtbPath = `${output.replace(/[^/]*$/, "")}${dtbName}`;
      try {
        await Deno.writeTextFile(output, yaml);
        await Deno.writeFile(dtbPath, blob);
      } catch (error) {
        throw new VmanError(`cannot write the board: ${(error as Error).message}`, output);
      }
      if (ctx.globals.json) ctx.json({ file: output, board: board.name, notes });
      else {
        ctx.io.out(
          `Wrote board ${board.name} to ${output}: ${board.cores.length} cores, ${board.devices.length} devices` +
            (notes.length > 0 ? `; ${notes.length} left out or assumed (see its comments)` : ""),
        );
      }
    } else if (ctx.globals.json) ctx.json({ board, notes });
    else ctx.io.out(yaml.trimEnd());
    return 0;
  },
};
