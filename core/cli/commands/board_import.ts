/**
 * `board import FILE.dtb|--live [-o FILE] [--name NAME] [--arch ARCH] [--memory BASE+SIZE,…]`.
 *
 * @module
 */
import type { CommandSpec, ParsedCommand } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError, VmanError } from "../../errors.ts";
import type { ArchName } from "../../model.ts";
import type { Registry } from "../../registry/registry.ts";
import type { GivenMemory } from "../../board/memory.ts";
import { type FdtTree, getProp } from "../../devicetree/tree.ts";
import { readStrings } from "../../devicetree/values.ts";

/** What the command line asks for, checked before any file is read. */
interface ImportRequest {
  file?: string;
  live: boolean;
  root?: string;
  arch?: ArchName;
  memory?: GivenMemory;
  name?: string;
  output?: string;
}

/** The DTB to import and the RAM given in place of its memory nodes. */
interface ImportSource {
  file: string;
  live: boolean;
  blob: Uint8Array<ArrayBuffer>;
  memory?: GivenMemory;
}

/** `board import FILE.dtb|--live [-o FILE] [--name NAME] [--arch ARCH] [--memory RANGES]` */
export const boardImportCommand: CommandSpec<CliContext> = {
  name: "board import",
  summary:
    "Write a first board description from a DTB (a QEMU dump, a kernel's DTB, the running board's).",
  args: [{ name: "FILE", required: false, complete: "file" }],
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
      help: "architecture when the cpus do not tell: a registered arch plugin (vmanctl plugins)",
    },
    {
      name: "memory",
      value: "BASE+SIZE[,…]",
      help: "the board's RAM, in place of the DTB's memory nodes (e.g. 0x40000000+2G)",
    },
    {
      name: "live",
      help: "import the running board: /sys/firmware/fdt, RAM from /proc/iomem (as root)",
    },
    { name: "root", value: "DIR", help: "with --live, read sys/ and proc/ under DIR, not /" },
  ],
  async run(ctx, input) {
    const registry = await ctx.registry({ kinds: ["arch", "feature"] });
    const request = await importRequest(input, registry);
    const source = await importSource(request);
    const { codecOf } = await import("../../devicetree/build.ts");
    let tree: FdtTree;
    try {
      tree = codecOf(registry).read(source.blob);
    } catch (error) {
      throw new InputError(`not a device tree blob: ${(error as Error).message}`, source.file);
    }
    const base = source.file.split("/").pop()!.replace(/\.dtb$/, "");
    const name = request.name ?? (boardName(source.live ? rootCompatible(tree) : base) || "board");
    const { importBoard } = await import("../../board/import.ts");
    // --arch's plugin, else the registered ones, whose detectCpu hooks tell.
    const archs = request.arch !== undefined
      ? registry.get("arch", request.arch)
      : registry.list("arch").map((entry) => entry.plugin);
    const { board, notes } = importBoard(tree, name, archs, source.memory);
    const output = request.output;
    board.devicetree = output
      ? `${name}.dtb`
      : (source.file.startsWith("/") ? source.file : `${Deno.cwd()}/${source.file}`);
    const { boardYaml } = await import("../../board/yaml_out.ts");
    const yaml = boardYaml(board, notes, [
      `Imported by vmanctl board import from ${
        source.live ? `the running board (${source.file})` : `${base}.dtb`
      }.`,
    ]);
    // What is written must load as a board: the same checks as every board file.
    const { loadBoardYaml } = await import("../../board/load.ts");
    loadBoardYaml(
      yaml,
      output ?? `${name}.yaml`,
      registry.list("arch").map((entry) => entry.plugin),
    );
    if (!output) {
      if (ctx.globals.json) ctx.json({ board, notes });
      else ctx.io.out(yaml.trimEnd());
      return 0;
    }
    await writeBoard(output, yaml, `${output.replace(/[^/]*$/, "")}${name}.dtb`, source.blob);
    if (ctx.globals.json) ctx.json({ file: output, board: board.name, notes });
    else {
      ctx.io.out(
        `Wrote board ${board.name} to ${output}: ${board.cores.length} cores, ${board.devices.length} devices` +
          (notes.length > 0 ? `; ${notes.length} left out or assumed (see its comments)` : ""),
      );
    }
    return 0;
  },
};

/** The options, checked: one of FILE and `--live`, a known `--arch`, a readable `--memory`. */
async function importRequest(
  input: ParsedCommand<CliContext>,
  registry: Registry,
): Promise<ImportRequest> {
  const file = input.args.FILE;
  const live = input.options.live === true;
  const root = input.options.root as string | undefined;
  if (file === undefined && !live) {
    throw new InputError("give the DTB to import, or --live for the running board", "FILE");
  }
  if (file !== undefined && live) {
    throw new InputError(
      `--live imports the running board's device tree, not ${file}: give one of them`,
      "--live",
    );
  }
  if (root !== undefined && !live) throw new InputError("--root goes with --live", "--root");
  if (live && input.options.output === undefined) {
    throw new InputError(
      "--live copies the running board's device tree beside the YAML: give -o FILE",
      "--live",
    );
  }
  const arch = input.options.arch as string | undefined;
  if (arch !== undefined && !registry.has("arch", arch)) {
    const known = registry.list("arch").map((e) => e.plugin.name).join(", ");
    throw new InputError(`unknown architecture '${arch}' (${known})`, "--arch");
  }
  const text = input.options.memory as string | undefined;
  let memory: GivenMemory | undefined;
  if (text !== undefined) {
    const { parseRangeList } = await import("../../range_list.ts");
    memory = { ranges: parseRangeList(text, "--memory"), from: "--memory" };
  }
  return {
    file,
    live,
    root,
    arch,
    memory,
    name: input.options.name as string | undefined,
    output: input.options.output as string | undefined,
  };
}

/** Reads the DTB (FILE, or the running board's), with the RAM given in place of its own. */
async function importSource(request: ImportRequest): Promise<ImportSource> {
  if (request.live) {
    const { readLiveBoard } = await import("../../board/live.ts");
    const live = await readLiveBoard(request.root);
    return { file: live.file, live: true, blob: live.blob, memory: request.memory ?? live.memory };
  }
  const { MAX_DTB_BYTES, readRegularFile } = await import("../../files.ts");
  const blob = await readRegularFile(request.file!, MAX_DTB_BYTES, "the DTB");
  return { file: request.file!, live: false, blob, memory: request.memory };
}

/** A board name from a file name: lowercased, other characters than a-z, 0-9, - made -. */
function boardName(base: string): string {
  return base.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
}

/** The root's first `compatible` string (`raspberrypi,4-model-b`), or "". */
function rootCompatible(tree: FdtTree): string {
  const prop = getProp(tree.root, "compatible");
  return prop && prop.value.at(-1) === 0 ? readStrings(prop.value)[0] ?? "" : "";
}

/** Writes the YAML and, beside it, the DTB it names. */
async function writeBoard(
  output: string,
  yaml: string,
  dtbPath: string,
  blob: Uint8Array,
): Promise<void> {
  try {
    await Deno.writeTextFile(output, yaml);
    await Deno.writeFile(dtbPath, blob);
  } catch (error) {
    throw new VmanError(`cannot write the board: ${(error as Error).message}`, output);
  }
}
