/**
 * The built-in boards for the libvirt unit tests, without the helpers' client
 * probes (virsh, python3-libvirt) that helpers.ts runs on import.
 *
 * @module
 */
import type { Board } from "../../core/model.ts";
import { buildRegistry } from "../../core/registry/discover.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";

/** The built-in board `name`. */
export async function builtinBoard(name: string): Promise<Board> {
  const registry = await buildRegistry({
    builtins: await builtinPlugins(),
    boardFiles: await builtinBoards(),
    pluginDirs: [],
    defaultDirs: false,
    boards: true,
    warn: () => {},
  });
  return registry.get("board", name).board;
}
