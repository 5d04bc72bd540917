/**
 * Builds the registry of one run: the built-in plugins, the built-in board files,
 * then what the plugin directories hold — board YAML files and TypeScript or
 * JavaScript modules exporting `plugin` or `plugins`. A bad plugin file is
 * refused with one warning line naming the file and the problem; the others
 * still load.
 *
 * @module
 */
import { errorLine, escapeControl, PluginError, VmanError } from "../errors.ts";
import type { ArchPlugin, Plugin } from "./plugin.ts";
import { Registry, type ReservedNames } from "./registry.ts";

/** Where the default plugin directory is. */
export const DEFAULT_PLUGIN_DIR = "/etc/vmanager/plugins";

/** A board YAML shipped in the module graph. */
export interface BoardFile {
  /** Name for messages. */
  file: string;
  /** YAML text. */
  text: string;
  /** The board's device tree, when the YAML names one. */
  devicetree?: Uint8Array;
}

/** What the registry is built from. */
export interface RegistrySources {
  /** Built-in plugins (arch, feature, monitor). */
  builtins: readonly Plugin[];
  /** Built-in board files. */
  boardFiles: readonly BoardFile[];
  /** Plugin directories to scan, in order. */
  pluginDirs: readonly string[];
  /** True when `pluginDirs` is only the default (a missing default dir is not worth a warning). */
  defaultDirs?: boolean;
  /** Receives one line per refused plugin. */
  warn(line: string): void;
  /**
   * Whether to load board descriptions (default true). Commands that work on a
   * state dir's own board copy skip them, and with them the YAML parser.
   */
  boards?: boolean;
  /** Names plugins' commands may not take (the CLI's own commands and global options). */
  reserved?: ReservedNames;
}

/** The plugin directories: `--plugin-dir` values, then `VMAN_PLUGIN_PATH`, else the default. */
export function pluginDirs(flags: readonly string[], envPath: string | undefined): {
  dirs: string[];
  isDefault: boolean;
} {
  const fromEnv = (envPath ?? "").split(":").filter((d) => d !== "");
  const dirs = [...flags, ...fromEnv];
  return dirs.length > 0
    ? { dirs, isDefault: false }
    : { dirs: [DEFAULT_PLUGIN_DIR], isDefault: true };
}

/** A file of a plugin directory, with where its warning goes among the others. */
interface DirFile {
  /** The file's path. */
  path: string;
  /** A board YAML (else a module). */
  yaml: boolean;
  /** Its place in directory and name order, for the order of warnings. */
  order: number;
}

/**
 * Builds the registry. Built-in problems throw; external ones are warned about and
 * skipped. Every directory's modules load before any board YAML, so that a board
 * can name an arch plugin of a plugin directory; warnings still come in directory
 * and file name order.
 */
export async function buildRegistry(sources: RegistrySources): Promise<Registry> {
  const registry = new Registry({ reserved: sources.reserved });
  for (const plugin of sources.builtins) registry.register(plugin, "built-in");
  const boards = sources.boards !== false;
  const load = () => import("../board/load.ts");
  const archs = () => registry.list("arch").map((entry) => entry.plugin as ArchPlugin);
  if (boards && sources.boardFiles.length > 0) {
    const { boardPluginFromYaml } = await load();
    for (const { file, text, devicetree } of sources.boardFiles) {
      registry.register(boardPluginFromYaml(text, file, archs(), devicetree), "built-in");
    }
  }
  const warnings: { order: number; line: string }[] = [];
  const files = await listDirs(sources, (order, line) => warnings.push({ order, line }));
  const modules = files.filter((f) => !f.yaml);
  for (const file of [...modules, ...(boards ? files.filter((f) => f.yaml) : [])]) {
    try {
      if (file.yaml) {
        registry.register(await (await load()).boardPluginFromFile(file.path, archs()), file.path);
      } else {
        for (const plugin of await importPlugins(file.path)) registry.register(plugin, file.path);
      }
    } catch (error) {
      const line = `plugin refused: ${
        error instanceof VmanError
          ? error.line()
          : `${errorLine(error)} (${escapeControl(file.path)})`
      }`;
      warnings.push({ order: file.order, line });
    }
  }
  for (const { line } of warnings.sort((a, b) => a.order - b.order)) sources.warn(line);
  return registry;
}

/** The plugin files of every directory (YAML and modules), in directory and name order. */
async function listDirs(
  sources: RegistrySources,
  warn: (order: number, line: string) => void,
): Promise<DirFile[]> {
  const files: DirFile[] = [];
  let order = 0;
  for (const dir of sources.pluginDirs) {
    let names: string[];
    try {
      names = [];
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile || entry.isSymlink) names.push(entry.name);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound && sources.defaultDirs)) {
        warn(
          order++,
          `plugin dir skipped: ${escapeControl((error as Error).message)} (${escapeControl(dir)})`,
        );
      }
      continue;
    }
    for (const name of names.sort()) {
      const path = `${dir.replace(/\/+$/, "")}/${name}`;
      if (/\.ya?ml$/.test(name)) files.push({ path, yaml: true, order: order++ });
      else if (/\.(ts|js|mjs)$/.test(name)) files.push({ path, yaml: false, order: order++ });
    }
  }
  return files;
}

/** Imports a plugin module: its `plugins` array or its `plugin` export. */
async function importPlugins(path: string): Promise<unknown[]> {
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  let module: Record<string, unknown>;
  try {
    module = await import(new URL(`file://${absolute}`).href);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new PluginError(`cannot load module: ${message.split("\n")[0]}`, path);
  }
  const list = Array.isArray(module.plugins)
    ? module.plugins
    : module.plugin !== undefined
    ? [module.plugin]
    : [];
  if (list.length === 0) {
    throw new PluginError("the module exports neither 'plugin' nor 'plugins'", path);
  }
  const hasBoards = list.some((p) => (p as { kind?: unknown })?.kind === "board");
  const { parseBoard } = hasBoards ? await import("../board/schema.ts") : { parseBoard: undefined };
  return list.map((plugin) => {
    // A board from a module passes the same schema as a board YAML.
    const p = plugin as { kind?: unknown; board?: unknown };
    if (p?.kind === "board") {
      const parsed = parseBoard!(p.board);
      if ("problems" in parsed) {
        const first = parsed.problems[0];
        throw new PluginError(`board field ${first.path.join(".")}: ${first.message}`, path);
      }
      return { ...p, board: parsed.board };
    }
    return plugin;
  });
}
