/**
 * `board list`, `board show NAME`, `board check FILE`.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { coreList, table } from "../output.ts";
import { assignable } from "../../board/assignable.ts";
import type { Board } from "../../model.ts";
import { formatRange } from "../../ranges.ts";
import { formatHex, formatSize } from "../../units.ts";
import { escapeControl, InputError } from "../../errors.ts";

/** `board list` */
export const boardListCommand: CommandSpec<CliContext> = {
  name: "board list",
  summary: "List the boards: built-in and from the plugin directories.",
  args: [],
  options: [],
  async run(ctx) {
    const entries = (await ctx.registry()).list("board");
    if (ctx.globals.json) {
      ctx.json(entries.map(({ plugin, source }) => ({
        name: plugin.name,
        arch: plugin.board.arch,
        cores: plugin.board.cores.length,
        memory: plugin.board.memory.reduce((sum, m) => sum + m.size, 0),
        description: plugin.description,
        source,
      })));
      return 0;
    }
    ctx.io.out(table(
      ["Name", "Arch", "Cores", "Memory", "Source", "Description"],
      entries.map(({ plugin, source }) => [
        plugin.name,
        plugin.board.arch,
        String(plugin.board.cores.length),
        formatSize(plugin.board.memory.reduce((sum, m) => sum + m.size, 0)),
        source,
        plugin.description,
      ]),
    ));
    return 0;
  },
};

function boardText(board: Board, source: string): string {
  const free = assignable(board);
  const lines = [
    `Name:         ${board.name}`,
    `Description:  ${board.description}`,
    `Arch:         ${board.arch}`,
    `Monitor:      ${board.monitor.interface} over ${board.monitor.conduit}`,
    `Source:       ${source}`,
    "",
    "Cores:",
    table(
      ["Id", "Hwid", "Kept by"],
      board.cores.map((c) => [
        String(c.id),
        formatHex(c.hwid, 1),
        board.reserved.find((r) => r.cores.includes(c.id))?.owner ?? "-",
      ]),
    ),
    "",
    "Memory:",
    table(
      ["Name", "Range", "Size"],
      board.memory.map((m) => [m.name, formatRange(m), formatSize(m.size)]),
    ),
    "",
    "Devices:",
    table(
      ["Name", "Compatible", "Reg", "Interrupts", "Sharing", "Default"],
      board.devices.map((d) => [
        d.name,
        d.compatible[0] ?? "-",
        d.reg.map(formatRange).join(" "),
        d.interrupts.join(",") || "-",
        d.sharing + (d.console ? ", console" : ""),
        d.default ? "yes" : "no",
      ]),
    ),
    "",
    "Reserved:",
    ...board.reserved.map((r) =>
      `  ${r.owner}: cores ${coreList(r.cores) || "none"}; memory ${
        r.memory.map((m) => `${formatRange(m)} (${formatSize(m.size)})`).join(", ") || "none"
      }; devices ${r.devices.join(",") || "none"}`
    ),
    "",
    "Assignable to partitions:",
    `  cores ${coreList(free.cores) || "none"}`,
    `  memory ${
      free.memory.map((m) => `${formatRange(m)} (${formatSize(m.size)})`).join(", ") || "none"
    }`,
    `  devices ${free.devices.join(", ") || "none"}`,
  ];
  return lines.join("\n");
}

/** `board show NAME` */
export const boardShowCommand: CommandSpec<CliContext> = {
  name: "board show",
  summary: "Show a board: cores, memory, devices, what is reserved and what partitions may use.",
  args: [{ name: "NAME", required: true, complete: "board" }],
  options: [],
  async run(ctx, input) {
    const registry = await ctx.registry();
    const name = input.args.NAME!;
    const entry = registry.list("board").find((e) => e.plugin.name === name);
    if (!entry) {
      const known = registry.list("board").map((e) => e.plugin.name).join(", ");
      throw new InputError(`no board named '${name}' (boards: ${known})`, "NAME");
    }
    const board = entry.plugin.board;
    if (ctx.globals.json) {
      ctx.json({ ...board, source: entry.source, assignable: assignable(board) });
    } else ctx.io.out(boardText(board, entry.source));
    return 0;
  },
};

/** `board check FILE` */
export const boardCheckCommand: CommandSpec<CliContext> = {
  name: "board check",
  summary: "Validate a board YAML file; print every problem with its line.",
  args: [{ name: "FILE", required: true, complete: "file" }],
  options: [],
  async run(ctx, input) {
    const file = input.args.FILE!;
    const { BoardFileError, loadBoardYaml, readBoardFile } = await import("../../board/load.ts");
    // Read (bounded, regular files only) before anything else is done.
    const text = await readBoardFile(file);
    const registry = await ctx.registry();
    try {
      const { board } = loadBoardYaml(
        text,
        file,
        registry.list("arch").map((entry) => entry.plugin),
      );
      if (ctx.globals.json) ctx.json({ file, valid: true, board: board.name, problems: [] });
      else ctx.io.out(`${file}: board ${board.name} is valid`);
      return 0;
    } catch (error) {
      if (!(error instanceof BoardFileError)) throw error;
      if (ctx.globals.json) ctx.json({ file, valid: false, problems: error.problems });
      else {
        for (const p of error.problems) {
          ctx.io.err(
            `vmanctl: ${
              escapeControl(`${p.field ? `board field ${p.field}: ` : ""}${p.message} (${p.where})`)
            }`,
          );
        }
      }
      return error.exitCode;
    }
  },
};
