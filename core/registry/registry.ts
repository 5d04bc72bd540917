/**
 * The typed plugin registry. Lookups are typed by kind:
 * `registry.get("arch", "armv8")` is an {@linkcode ArchPlugin}.
 *
 * @example
 * ```ts
 * import { Registry } from "./registry.ts";
 * import { dryRunMonitor } from "../monitor/dry_run.ts";
 * import type { MonitorContext } from "../monitor/monitor.ts";
 * declare const context: MonitorContext;
 * const registry = new Registry({ reserved: { commands: ["list"], options: ["json"] } });
 * registry.register(dryRunMonitor(), "built-in");
 * registry.get("monitor", "dry-run").create(context);
 * registry.commands(); // the commands feature plugins add
 * ```
 * @module
 */
import { InputError, PluginError } from "../errors.ts";
import type {
  ArchPlugin,
  BoardPlugin,
  Plugin,
  PluginCommand,
  PluginKind,
  PluginOf,
} from "./plugin.ts";
import { boardProblems, problemPath } from "../board/rules.ts";
import { PLUGIN_KINDS } from "./plugin.ts";
import { checkPlugin } from "./validate.ts";
import { checkCommands, type ReservedNames } from "./commands.ts";

export type { ReservedNames } from "./commands.ts";

/** A registered plugin and where it came from (`built-in` or a file path). */
export interface RegistryEntry<P extends Plugin = Plugin> {
  /** The plugin. */
  plugin: P;
  /** `built-in` or the file it was loaded from. */
  source: string;
  /** The commands it adds (a feature plugin's `commands` hook), when it adds any. */
  commands?: readonly PluginCommand[];
}

/** How a registry checks what is registered. */
export interface RegistryOptions {
  /** Names plugins' commands may not take (the CLI's own); unchecked when absent. */
  reserved?: ReservedNames;
}

/** Holds every plugin of one vmanager run. */
export class Registry {
  private readonly entries = new Map<PluginKind, Map<string, RegistryEntry>>(
    PLUGIN_KINDS.map((kind) => [kind, new Map()]),
  );
  /** Plugins' commands by name, with the entry that added each. */
  private readonly commandOwners = new Map<string, RegistryEntry>();

  /** Makes an empty registry; `options.reserved` names what plugins' commands may not take. */
  constructor(private readonly options: RegistryOptions = {}) {}

  /**
   * Checks and registers a plugin. Throws {@linkcode PluginError} naming `source`
   * when it is malformed, speaks another API version or repeats a name (its own
   * or a command's).
   */
  register(plugin: unknown, source: string): Plugin {
    const checked = checkPlugin(plugin, source);
    if (checked.kind === "board") this.checkBoard(checked, source);
    const kindMap = this.entries.get(checked.kind)!;
    const existing = kindMap.get(checked.name);
    if (existing) {
      throw new PluginError(
        `${checked.kind} plugin '${checked.name}' is already registered from ${existing.source}`,
        source,
      );
    }
    const commands = checked.kind === "feature"
      ? this.checkNewCommands(
        checked.name,
        checkCommands(checked, source, this.options.reserved),
        source,
      )
      : [];
    const entry: RegistryEntry = { plugin: checked, source };
    if (commands.length > 0) entry.commands = commands;
    kindMap.set(checked.name, entry);
    for (const command of commands) this.commandOwners.set(command.name, entry);
    return checked;
  }

  /** Refuses commands another plugin already added. */
  private checkNewCommands(
    name: string,
    commands: readonly PluginCommand[],
    source: string,
  ): readonly PluginCommand[] {
    for (const command of commands) {
      const owner = this.commandOwners.get(command.name);
      if (owner) {
        throw new PluginError(
          `feature plugin '${name}': command '${command.name}' is already added by ` +
            `feature plugin '${owner.plugin.name}' from ${owner.source}`,
          source,
        );
      }
    }
    return commands;
  }

  /** The commands plugins added, by plugin name, each plugin's in its own order. */
  commands(): PluginCommand[] {
    return this.list("feature").flatMap((entry) => [...entry.commands ?? []]);
  }

  private checkBoard(plugin: BoardPlugin, source: string): void {
    const board = plugin.board;
    if (board.name !== plugin.name) {
      throw new PluginError(
        `board plugin '${plugin.name}' describes board '${board.name}'`,
        source,
      );
    }
    const arch = this.entries.get("arch")!.get(board.arch)?.plugin as ArchPlugin | undefined;
    if (!arch) {
      throw new PluginError(
        `board '${board.name}' needs arch plugin '${board.arch}', which is not registered`,
        source,
      );
    }
    const problems = boardProblems(board, arch);
    if (problems.length > 0) {
      throw new PluginError(
        `board '${board.name}': ${problemPath(problems[0].path)}: ${problems[0].message}`,
        source,
      );
    }
  }

  /** True when a plugin of that kind and name is registered. */
  has(kind: PluginKind, name: string): boolean {
    return this.entries.get(kind)!.has(name);
  }

  /** The plugin of that kind and name; {@linkcode InputError} listing the known ones if absent. */
  get<K extends PluginKind>(kind: K, name: string): PluginOf<K> {
    const entry = this.entries.get(kind)!.get(name);
    if (!entry) {
      const known = [...this.entries.get(kind)!.keys()].sort().join(", ") || "none";
      throw new InputError(
        `no ${kind} plugin named '${name}' (known: ${known})`,
        "vmanctl plugins lists them",
      );
    }
    return entry.plugin as PluginOf<K>;
  }

  /** Every entry of one kind, sorted by name; or of every kind, grouped by kind. */
  list<K extends PluginKind>(kind?: K): RegistryEntry<PluginOf<K>>[] {
    const kinds = kind ? [kind] : PLUGIN_KINDS;
    return kinds.flatMap((k) =>
      // By code point: names are ASCII, and localeCompare's first call costs ~10 ms (ICU).
      [...this.entries.get(k)!.values()].sort((a, b) => byCodePoint(a.plugin.name, b.plugin.name))
    ) as RegistryEntry<PluginOf<K>>[];
  }
}

/** Orders two strings by code point (`sort`'s comparator). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
