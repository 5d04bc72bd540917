/**
 * The built-in boards by name, for the monitor tests.
 *
 * @module
 */
import { buildRegistry } from "../../core/registry/discover.ts";
import type { Board } from "../../core/model.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";

/** Every built-in board, by name. */
export async function loadBoards(): Promise<Record<string, Board>> {
  const registry = await buildRegistry({
    builtins: await builtinPlugins(),
    boardFiles: await builtinBoards(),
    pluginDirs: [],
    defaultDirs: true,
    warn: () => {},
  });
  return Object.fromEntries(registry.list("board").map((e) => [e.plugin.name, e.plugin.board]));
}
