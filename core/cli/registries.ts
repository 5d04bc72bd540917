/**
 * The plugin registries of one command run, built when first asked for: the full
 * one (every built-in, the boards, the plugin directories), the one without
 * boards, the one of the plugins' commands, and the one of a few built-ins that a
 * {@linkcode PluginSelection} names (`dtb`, `start`). A selection loads only its
 * built-ins when the host describes them one by one ({@linkcode CliHost.builtinTable})
 * and no plugin directory holds plugins (they may need any built-in): else it gets
 * the registry without boards.
 *
 * @module
 */
import type { VmanConfig } from "../config.ts";
import type { Plugin } from "../registry/plugin.ts";
import type { Registry, ReservedNames } from "../registry/registry.ts";
import {
  type BuiltinLoader,
  type PluginSelection,
  selectBuiltins,
  selects,
} from "../registry/selection.ts";
import type { CliHost, GlobalOptions } from "./context.ts";

/** What the registries are built from, besides the host. */
export interface RegistrySetting {
  /** The global options (`--plugin-dir`). */
  globals: GlobalOptions;
  /** The configuration (its plugin dirs). */
  config(): Promise<VmanConfig>;
  /** What plugins' commands may not take. */
  reserved?: ReservedNames;
  /** Receives each warning line about a plugin directory's plugin. */
  warn(line: string): void;
}

/** Which registry a command asks for: with boards or not, or a selection of built-ins. */
export interface RegistryRequest extends PluginSelection {
  /** Load the board descriptions too (default true; a selection loads none). */
  boards?: boolean;
}

/** A registry of some built-ins, and which (`kind/name`). */
interface Partial {
  ids: Set<string>;
  registry: Promise<Registry>;
}

/** The registries of one command run. */
export class Registries {
  private full?: Promise<Registry>;
  private light?: Promise<Registry>;
  private forCommands?: Promise<Registry>;
  private partial?: Partial;
  private readonly loaded = new Map<string, Promise<Plugin>>();
  private external?: Promise<boolean>;

  /** Registries of `host`'s plugins, for a run with `setting`. */
  constructor(private readonly host: CliHost, private readonly setting: RegistrySetting) {}

  /** The registry `request` asks for. */
  get(request: RegistryRequest): Promise<Registry> {
    return selects(request) ? this.selected(request) : this.all(request.boards !== false);
  }

  /** Every plugin, with the boards or without. */
  all(boards: boolean): Promise<Registry> {
    if (boards) return this.full ??= this.build(true);
    return this.full ?? (this.light ??= this.build(false));
  }

  /**
   * The registry of the built-ins `selection` names, without boards; a registry
   * built already when it holds them. Each new selection adds to the previous
   * ones, so a command's registry only grows.
   */
  async selected(selection: PluginSelection): Promise<Registry> {
    const table = this.host.builtinTable;
    if (this.full || this.light || !table || await this.hasExternal()) return this.all(false);
    const chosen = selectBuiltins(table, selection);
    const ids = new Set([...this.partial?.ids ?? [], ...chosen.map(id)]);
    if (this.partial && ids.size === this.partial.ids.size) return this.partial.registry;
    const entries = table.filter((entry) => ids.has(id(entry)));
    const builtins = Promise.all(entries.map((entry) => this.load(entry)));
    this.partial = { ids, registry: this.build(false, { builtins, dirs: false }) };
    return this.partial.registry;
  }

  /**
   * A registry for the plugins' commands only: the built-ins that add commands
   * ({@linkcode CliHost.commandPlugins}) and the plugin directories' plugins. Its
   * warnings are not shown: a plugin directory's plugin may need a built-in this
   * registry lacks (the full registry, which any other command builds, says what is
   * wrong). A registry of every plugin when a command built one already.
   */
  commands(): Promise<Registry> {
    const built = this.full ?? this.light;
    if (built || !this.host.commandPlugins) return built ?? this.all(false);
    return this.forCommands ??= this.build(false, {
      builtins: this.host.commandPlugins(),
      warn: () => {},
    });
  }

  /** One built-in, made once per run. */
  private load(entry: BuiltinLoader): Promise<Plugin> {
    const key = id(entry);
    const plugin = this.loaded.get(key) ?? entry.load();
    this.loaded.set(key, plugin);
    return plugin;
  }

  /** True when the plugin directories are named, or the default one exists. */
  private hasExternal(): Promise<boolean> {
    return this.external ??= (async () => {
      const { dirs, isDefault } = await this.pluginDirs();
      if (!isDefault) return true;
      try {
        Deno.statSync(dirs[0]); // one status call: cheaper synchronous in a fresh process
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return false;
        return true; // the full registry's warning says what is wrong with it
      }
    })();
  }

  /** `--plugin-dir`, `VMAN_PLUGIN_PATH`, the configuration's, or the default. */
  private async pluginDirs(): Promise<{ dirs: string[]; isDefault: boolean }> {
    const { pluginDirs } = await import("../registry/discover.ts");
    const found = pluginDirs(this.setting.globals.pluginDirs, this.host.env("VMAN_PLUGIN_PATH"));
    const config = await this.setting.config();
    if (found.isDefault && config.pluginDirs) return { dirs: config.pluginDirs, isDefault: false };
    return found;
  }

  private async build(
    boards: boolean,
    only?: { builtins: Promise<readonly Plugin[]>; warn?(line: string): void; dirs?: false },
  ): Promise<Registry> {
    const { buildRegistry } = await import("../registry/discover.ts");
    const { dirs, isDefault } = only?.dirs === false
      ? { dirs: [], isDefault: true }
      : await this.pluginDirs();
    return await buildRegistry({
      builtins: await (only?.builtins ?? this.host.builtins()),
      boardFiles: boards ? await this.host.boardFiles() : [],
      pluginDirs: dirs,
      defaultDirs: isDefault,
      boards,
      reserved: this.setting.reserved,
      warn: only?.warn ?? this.setting.warn,
    });
  }
}

/** A built-in's key: `kind/name`. */
function id(entry: BuiltinLoader): string {
  return `${entry.kind}/${entry.name}`;
}
