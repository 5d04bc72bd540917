/**
 * Which built-in plugins a command needs. The composition root describes each
 * built-in by kind and name with its own loader ({@linkcode BuiltinLoader}); a
 * command that needs some plugins only (`dtb`: the arch and feature plugins;
 * `start`: those and its state dir's backend) names them
 * ({@linkcode PluginSelection}) and the others are not imported.
 *
 * @example
 * ```ts
 * import { selectBuiltins } from "./selection.ts";
 * import { dryRunMonitor } from "../monitor/dry_run.ts";
 * const table = [{ kind: "monitor", name: "dry-run", load: async () => dryRunMonitor() }] as const;
 * selectBuiltins(table, { monitor: "dry-run" }); // [table[0]]
 * selectBuiltins(table, { kinds: ["arch"] }); // []
 * ```
 * @module
 */
import type { Plugin, PluginKind } from "./plugin.ts";

/** One built-in plugin: its kind and name, and how to make it (importing its module). */
export interface BuiltinLoader {
  /** Its kind. */
  readonly kind: PluginKind;
  /** Its name. */
  readonly name: string;
  /** Imports its module and makes the plugin. */
  load(): Promise<Plugin>;
}

/** The plugins a command needs: every plugin of some kinds, and named ones. */
export interface PluginSelection {
  /** The kinds every plugin of which it needs. */
  kinds?: readonly PluginKind[];
  /** One arch plugin by name (a board's). */
  arch?: string;
  /** One monitor plugin by name (a state dir's backend). */
  monitor?: string;
}

/** True when the selection names any plugin (an empty one asks for every plugin). */
export function selects(selection: PluginSelection): boolean {
  return selection.kinds !== undefined || selection.arch !== undefined ||
    selection.monitor !== undefined;
}

/**
 * The entries of `table` the selection names, in table order. A name no entry
 * has selects every entry of its kind, so that the registry's refusal lists every
 * known plugin of the kind.
 */
export function selectBuiltins(
  table: readonly BuiltinLoader[],
  selection: PluginSelection,
): BuiltinLoader[] {
  const kinds = new Set(selection.kinds);
  const named: [PluginKind, string | undefined][] = [
    ["arch", selection.arch],
    ["monitor", selection.monitor],
  ];
  for (const [kind, name] of named) {
    if (name !== undefined && !table.some((e) => e.kind === kind && e.name === name)) {
      kinds.add(kind);
    }
  }
  return table.filter((entry) =>
    kinds.has(entry.kind) || named.some(([k, n]) => k === entry.kind && n === entry.name)
  );
}
