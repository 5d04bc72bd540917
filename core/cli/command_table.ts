/**
 * The command table of one run: the built-in commands, and the commands feature
 * plugins add (through the registry's `commands` hook). Plugins are loaded for
 * their commands only when the command line needs them — a first word that is no
 * built-in command, or `vmanctl --help` — so that built-in commands start as fast
 * as before.
 *
 * @example
 * ```ts
 * import { scanCommandLine } from "./command_table.ts";
 * import { GLOBAL_OPTIONS } from "./app.ts";
 * scanCommandLine(["--state-dir", "/tmp/s", "daemon"], builtins, GLOBAL_OPTIONS);
 * // { word: "daemon", help: false, globalArgs: ["--state-dir", "/tmp/s"] }
 * ```
 * @module
 */
import type { CommandSpec, OptionSpec } from "./args.ts";

/** What a command line says before the command table is known. */
export interface CommandLineScan {
  /** The first positional word: the command's (first) word, if any. */
  word?: string;
  /** `-h` or `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
  /** The global options' tokens (with their values), to parse on their own. */
  globalArgs: string[];
}

/**
 * Reads the command word and the global options of a command line as `parseArgs`
 * would, without needing the commands plugins add: options before the command
 * word take a value when a global option or a built-in command's option with that
 * name does.
 */
export function scanCommandLine<C>(
  argv: readonly string[],
  commands: readonly CommandSpec<C>[],
  globals: readonly OptionSpec[],
): CommandLineScan {
  const scan: CommandLineScan = { help: false, version: false, globalArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      scan.word ??= argv[i + 1];
      break;
    }
    if (token === "-h" || token === "--help") scan.help = true;
    else if (!isOption(token)) scan.word ??= token;
    else {
      const name = optionName(token);
      const global = findOption(name, globals);
      const spec = global ??
        (scan.word === undefined
          ? commands.flatMap((c) => c.options).find((o) => matches(o, name))
          : undefined);
      const takesNext = spec?.value !== undefined && !token.includes("=") && i + 1 < argv.length;
      if (global) {
        scan.globalArgs.push(token, ...(takesNext ? [argv[i + 1]] : []));
        if (global.name === "version") scan.version = true;
      }
      if (takesNext) i++;
    }
  }
  return scan;
}

/** True when the command line needs the plugins' commands: `--help` alone, or no built-in word. */
export function needsPluginCommands<C>(
  scan: CommandLineScan,
  commands: readonly CommandSpec<C>[],
): boolean {
  if (scan.word === undefined) return scan.help && !scan.version;
  return !commands.some((c) => c.name.split(" ")[0] === scan.word);
}

/** The built-in commands with the plugins' commands inserted before `before` (else at the end). */
export function withPluginCommands<C>(
  builtins: readonly CommandSpec<C>[],
  plugins: readonly CommandSpec<C>[],
  before?: CommandSpec<C>,
): CommandSpec<C>[] {
  const at = before ? builtins.indexOf(before) : -1;
  const cut = at < 0 ? builtins.length : at;
  return [...builtins.slice(0, cut), ...plugins, ...builtins.slice(cut)];
}

function isOption(token: string): boolean {
  return (token.startsWith("--") && token.length > 2) ||
    (token.startsWith("-") && token.length === 2 && token !== "-");
}

function optionName(token: string): string {
  if (!token.startsWith("--")) return token.slice(1);
  const eq = token.indexOf("=");
  return eq > 0 ? token.slice(2, eq) : token.slice(2);
}

function matches(option: OptionSpec, name: string): boolean {
  return option.name === name || (option.short !== undefined && option.short === name);
}

function findOption(name: string, options: readonly OptionSpec[]): OptionSpec | undefined {
  return options.find((o) => matches(o, name));
}
