/**
 * Checks of the commands a feature plugin adds (its `commands` hook): each must
 * be a well-formed command spec, must not take a built-in command's name or
 * first word, and its options must not hide a global option. A problem refuses
 * the plugin with one line naming plugin, command and problem.
 *
 * @example
 * ```ts
 * import { checkCommands } from "./commands.ts";
 * import type { FeaturePlugin } from "./plugin.ts";
 * declare const plugin: FeaturePlugin;
 * const commands = checkCommands(plugin, "x.ts", { commands: ["list"], options: ["json"] });
 * ```
 * @module
 */
import { PluginError } from "../errors.ts";
import type { FeaturePlugin, PluginCommand } from "./plugin.ts";

/** Names that plugins' commands may not take: the CLI's own. */
export interface ReservedNames {
  /** Built-in command names (`board list`); their first words are reserved too. */
  commands: readonly string[];
  /** Global option names and one-letter aliases (`json`, `v`). */
  options: readonly string[];
}

const COMMAND_NAME = /^[a-z][a-z0-9-]{0,31}( [a-z][a-z0-9-]{0,31})?$/;
const OPTION_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const COMPLETES = ["partition", "board", "file"];
/** Taken by the parser itself. */
const PARSER_OPTIONS = ["help", "h"];

/**
 * Asks a feature plugin for its commands and checks them; throws
 * {@linkcode PluginError} naming `source` at the first problem.
 */
export function checkCommands(
  plugin: FeaturePlugin,
  source: string,
  reserved?: ReservedNames,
): readonly PluginCommand[] {
  if (!plugin.commands) return [];
  const fail = (problem: string) =>
    new PluginError(`feature plugin '${plugin.name}': ${problem}`, source);
  let commands: unknown;
  try {
    commands = plugin.commands();
  } catch (error) {
    throw fail(`'commands' threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(commands)) throw fail("'commands' must return an array of commands");
  const names = new Set<string>();
  for (const [i, command] of commands.entries()) {
    const problem = commandProblem(command, reserved);
    const name = (command as { name?: unknown })?.name;
    const which = typeof name === "string" ? `command '${name}'` : `command ${i}`;
    if (problem) throw fail(`${which} ${problem}`);
    if (names.has(name as string)) throw fail(`${which} is given twice`);
    names.add(name as string);
  }
  return commands as PluginCommand[];
}

/** What is wrong with one command spec (`must have a string 'summary'`), or undefined. */
function commandProblem(value: unknown, reserved?: ReservedNames): string | undefined {
  if (typeof value !== "object" || value === null) return "must be an object";
  const c = value as Record<string, unknown>;
  if (typeof c.name !== "string" || !COMMAND_NAME.test(c.name)) {
    return "must be named by one or two words of lowercase letters, digits and dashes";
  }
  const first = c.name.split(" ")[0];
  const builtin = reserved?.commands.find((b) => b === c.name || b.split(" ")[0] === first);
  if (builtin !== undefined) return `is taken by the built-in command '${builtin}'`;
  if (typeof c.summary !== "string") return "must have a string 'summary'";
  if (typeof c.run !== "function") return "must have a function 'run'";
  if (c.hidden !== undefined && typeof c.hidden !== "boolean") return "'hidden' must be a boolean";
  if (!Array.isArray(c.args)) return "must have an array 'args'";
  if (!Array.isArray(c.options)) return "must have an array 'options'";
  for (const arg of c.args) {
    const problem = argProblem(arg);
    if (problem) return problem;
  }
  const taken = [...PARSER_OPTIONS, ...reserved?.options ?? []];
  for (const option of c.options) {
    const problem = optionProblem(option, taken);
    if (problem) return problem;
  }
  return undefined;
}

function argProblem(value: unknown): string | undefined {
  const a = value as Record<string, unknown> | null;
  if (typeof a !== "object" || a === null || typeof a.name !== "string") {
    return "has an argument without a string 'name'";
  }
  if (typeof a.required !== "boolean") return `argument ${a.name} needs a boolean 'required'`;
  if (a.complete !== undefined && !COMPLETES.includes(a.complete as string)) {
    return `argument ${a.name}: 'complete' must be ${COMPLETES.join(", ")} or absent`;
  }
  return undefined;
}

function optionProblem(value: unknown, taken: readonly string[]): string | undefined {
  const o = value as Record<string, unknown> | null;
  if (typeof o !== "object" || o === null || typeof o.name !== "string") {
    return "has an option without a string 'name'";
  }
  if (!OPTION_NAME.test(o.name)) {
    return `option '${o.name}' must be lowercase letters, digits, dashes`;
  }
  if (typeof o.help !== "string") return `option --${o.name} needs a string 'help'`;
  if (o.short !== undefined && (typeof o.short !== "string" || !/^[a-zA-Z]$/.test(o.short))) {
    return `option --${o.name}: 'short' must be one letter`;
  }
  if (o.value !== undefined && typeof o.value !== "string") {
    return `option --${o.name}: 'value' must be a string`;
  }
  if (o.repeat !== undefined && typeof o.repeat !== "boolean") {
    return `option --${o.name}: 'repeat' must be a boolean`;
  }
  const hidden = [o.name, o.short].find((n) => taken.includes(n as string));
  if (hidden !== undefined) {
    return `option --${o.name} hides the global option ${
      String(hidden).length === 1 ? "-" : "--"
    }${hidden}`;
  }
  return undefined;
}
