/**
 * The built-in commands: their names in help order, and the module each is in,
 * loaded when a command line needs it. A one-word command loads its own module
 * only (`vmanctl list` loads commands/list.ts, not the device tree code of
 * `board import`); help, completion, `board …` and what names no built-in command
 * load them all. tests/cli/startup_test.ts checks the names against the modules.
 *
 * @example
 * ```ts
 * import { commandWord, oneWordCommands } from "./builtins.ts";
 * const word = commandWord(["--state-dir", "/tmp/s", "list", "--json"], GLOBAL_OPTIONS); // "list"
 * const table = await oneWordCommands(word!, completion); // list
 * ```
 * @module
 */
import type { CommandSpec, OptionSpec } from "./args.ts";
import type { CliContext } from "./context.ts";

type Spec = CommandSpec<CliContext>;
type Loader = () => Promise<Spec[]>;

const board: Loader = async () => {
  const m = await import("./commands/board.ts");
  return [m.boardListCommand, m.boardShowCommand, m.boardCheckCommand];
};
const boardImport: Loader = async () => [
  (await import("./commands/board_import.ts")).boardImportCommand,
];
const plugins: Loader = async () => [(await import("./commands/plugins.ts")).pluginsCommand];
const lifecycle: Loader = async () => {
  const m = await import("./commands/lifecycle.ts");
  return [m.createCommand, m.startCommand, m.stopCommand, m.destroyCommand];
};
const update: Loader = async () => {
  const m = await import("./commands/update.ts");
  return [m.updateCommand, m.editCommand];
};
const power: Loader = async () => {
  const m = await import("./commands/power.ts");
  return [m.shutdownCommand, m.rebootCommand, m.resetCommand, m.convergeCommand];
};
const list: Loader = async () => [(await import("./commands/list.ts")).listCommand];
const query: Loader = async () => {
  const m = await import("./commands/query.ts");
  return [m.showCommand, m.planCommand];
};
const stats: Loader = async () => [(await import("./commands/stats.ts")).statsCommand];
const attach: Loader = async () => [(await import("./commands/console.ts")).consoleCommand];
const dtb: Loader = async () => [(await import("./commands/dtb.ts")).dtbCommand];

/** Each built-in command's name, in help order, and its module (none: the app's completion). */
const INDEX: readonly (readonly [string, Loader | undefined])[] = [
  ["board list", board],
  ["board show", board],
  ["board check", board],
  ["board import", boardImport],
  ["plugins", plugins],
  ["create", lifecycle],
  ["start", lifecycle],
  ["stop", lifecycle],
  ["destroy", lifecycle],
  ["update", update],
  ["edit", update],
  ["shutdown", power],
  ["reboot", power],
  ["reset", power],
  ["list", list],
  ["show", query],
  ["stats", stats],
  ["plan", query],
  ["console", attach],
  ["dtb", dtb],
  // Plugins' commands (`daemon`, from the libvirt plugin) come here, before completion.
  ["completion", undefined],
  ["__converge", power],
];

/** The built-in commands' names, in help order. */
export const BUILTIN_NAMES: readonly string[] = INDEX.map(([name]) => name);

/** Every built-in command, in help order; `completion` is the app's completion command. */
export function builtinCommands(completion: Spec): Promise<Spec[]> {
  return commandsNamed(BUILTIN_NAMES, completion);
}

/**
 * The built-in commands of the modules that hold `word`'s commands, when `word`
 * is a one-word built-in command; else undefined (`board`, whose commands take two
 * words, or no built-in command).
 */
export async function oneWordCommands(
  word: string,
  completion: Spec | (() => Promise<Spec>),
): Promise<Spec[] | undefined> {
  if (!BUILTIN_NAMES.includes(word)) return undefined;
  const loader = INDEX.find(([name]) => name === word)![1];
  const names = INDEX.filter(([, l]) => l === loader).map(([name]) => name);
  return await commandsNamed(names, completion);
}

async function commandsNamed(
  names: readonly string[],
  completion: Spec | (() => Promise<Spec>),
): Promise<Spec[]> {
  const loaders = [...new Set(INDEX.filter(([n]) => names.includes(n)).map(([, l]) => l))];
  const own = async () => [typeof completion === "function" ? await completion() : completion];
  const loaded = await Promise.all(loaders.map((load) => load ? load() : own()));
  const byName = new Map(loaded.flat().map((spec) => [spec.name, spec]));
  return names.map((name) => {
    const spec = byName.get(name);
    if (!spec) throw new Error(`built-in command '${name}' is not in its module`);
    return spec;
  });
}

/**
 * The command word of a command line when only global options (and `-h`) come
 * before it, as the parser would find it; undefined when there is none, or when a
 * command's option comes first (whether it takes the next word, the full command
 * table says).
 */
export function commandWord(
  argv: readonly string[],
  globals: readonly OptionSpec[],
): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") return argv[i + 1];
    if (token === "-h" || token === "--help") continue;
    const isOption = (token.startsWith("--") && token.length > 2) ||
      (token.startsWith("-") && token.length === 2 && token !== "-");
    if (!isOption) return token;
    const name = token.startsWith("--") ? token.slice(2).split("=")[0] : token.slice(1);
    const option = globals.find((o) => o.name === name || o.short === name);
    if (!option) return undefined;
    if (option.value !== undefined && !token.includes("=")) i++;
  }
  return undefined;
}
