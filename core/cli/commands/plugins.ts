/**
 * `plugins`: what is registered and where it came from; with `--json`, also the
 * commands each feature plugin adds.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { table } from "../output.ts";

/** `plugins` */
export const pluginsCommand: CommandSpec<CliContext> = {
  name: "plugins",
  summary: "List the registered plugins: kind, name, version and source.",
  args: [],
  options: [],
  async run(ctx) {
    const entries = (await ctx.registry()).list();
    const rows = entries.map(({ plugin, source, commands }) => ({
      kind: plugin.kind,
      name: plugin.name,
      version: plugin.version,
      apiVersion: plugin.apiVersion,
      description: plugin.description,
      source,
      ...(commands ? { commands: commands.map((c) => c.name) } : {}),
    }));
    if (ctx.globals.json) ctx.json(rows);
    else {
      ctx.io.out(table(
        ["Kind", "Name", "Version", "Source", "Description"],
        rows.map((r) => [r.kind, r.name, r.version, r.source, r.description]),
      ));
    }
    return 0;
  },
};
