/**
 * A small declarative command-line parser: commands (one or two words), their
 * positional arguments and options, global options that may stand anywhere,
 * `--opt value` and `--opt=value`, repeatable options and `--`. The same table
 * drives help and shell completion.
 *
 * vmanager parses its own command line instead of using an npm parser because an
 * npm package costs 35–55 ms of start-up per process here, and `vmanctl list`
 * has to answer scripts in the time `virsh list` does.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/** An option. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `memory`. */
  name: string;
  /** One-letter alias without the dash, e.g. `f`. */
  short?: string;
  /** Name of the value in help (`SIZE`); a flag when absent. */
  value?: string;
  /** May be given more than once; the values are collected. */
  repeat?: boolean;
  /** One line of help. */
  help: string;
}

/** A positional argument. */
export interface ArgSpec {
  /** Name in help, e.g. `NAME`. */
  name: string;
  /** Must be given. */
  required: boolean;
  /** What completes it: partition names, board names, files. */
  complete?: "partition" | "board" | "file";
}

/** Parsed option values: strings, string lists (repeatable) or booleans (flags). */
export type OptionValues = Record<string, string | string[] | boolean | undefined>;

/** A command of the table. */
export interface CommandSpec<C> {
  /** One or two words, e.g. `board list`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Positional arguments. */
  args: ArgSpec[];
  /** The command's own options. */
  options: OptionSpec[];
  /** Left out of help and completion: an internal command vmanager runs itself. */
  hidden?: boolean;
  /** Runs the command; returns the exit code. */
  run(context: C, input: ParsedCommand<C>): Promise<number>;
}

/** The result of parsing a command line. */
export interface ParsedCommand<C> {
  /** The command, or undefined when only global options were given. */
  command?: CommandSpec<C>;
  /** Global option values. */
  globals: OptionValues;
  /** The command's option values. */
  options: OptionValues;
  /** Positional arguments by name. */
  args: Record<string, string | undefined>;
  /** `--help` was given. */
  help: boolean;
}

/** Parses `argv` against the command table and the global options. */
export function parseArgs<C>(
  argv: readonly string[],
  commands: readonly CommandSpec<C>[],
  globals: readonly OptionSpec[],
): ParsedCommand<C> {
  const positional: string[] = [];
  const rawOptions: { token: string; name: string; value?: string }[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (token === "-h" || token === "--help") {
      help = true;
      continue;
    }
    if (token.startsWith("--") && token.length > 2) {
      const eq = token.indexOf("=");
      rawOptions.push(
        eq > 0 ? { token, name: token.slice(2, eq), value: token.slice(eq + 1) } : {
          token,
          name: token.slice(2),
        },
      );
    } else if (token.startsWith("-") && token.length === 2 && token !== "-") {
      rawOptions.push({ token, name: token.slice(1) });
    } else {
      positional.push(token);
      continue;
    }
    // Options that take a value take the next token when not given with '='.
    // The command named so far decides (`--name` is a flag of `list` but takes a
    // value in `board import`); before any command, only global options apply.
    const last = rawOptions[rawOptions.length - 1];
    const current = matchCommand(positional, commands);
    const spec = findOption(last.name, globals) ??
      (current ? findOption(last.name, current.options) : findOptionAnywhere(last.name, commands));
    if (spec?.value !== undefined && last.value === undefined) {
      if (i + 1 >= argv.length) {
        throw new InputError(`option ${token} needs a value (${spec.value})`, token);
      }
      last.value = argv[++i];
    }
  }

  const command = matchCommand(positional, commands);
  const words = command ? command.name.split(" ").length : 0;
  if (!command && positional.length > 0) {
    const tried = positional.slice(0, 2).join(" ");
    const prefix = commands.filter((c) => c.name.startsWith(positional[0] + " ")).map((c) =>
      c.name
    );
    throw new InputError(
      prefix.length > 0
        ? `'${tried}' is not a command; try ${prefix.join(", ")}`
        : `unknown command '${positional[0]}'`,
      "vmanctl --help lists the commands",
    );
  }
  const globalValues: OptionValues = {};
  const optionValues: OptionValues = {};
  for (const raw of rawOptions) {
    const g = findOption(raw.name, globals);
    const c = command ? findOption(raw.name, command.options) : undefined;
    const spec = c ?? g;
    if (!spec) {
      throw new InputError(
        `unknown option ${raw.token}`,
        command ? `vmanctl ${command.name}` : "vmanctl",
      );
    }
    const target = c ? optionValues : globalValues;
    if (spec.value === undefined) {
      if (raw.value !== undefined) {
        throw new InputError(`option --${spec.name} takes no value`, raw.token);
      }
      target[spec.name] = true;
    } else if (spec.repeat) {
      target[spec.name] = [...(target[spec.name] as string[] | undefined ?? []), raw.value!];
    } else {
      if (target[spec.name] !== undefined) {
        throw new InputError(`option --${spec.name} is given twice`, raw.token);
      }
      target[spec.name] = raw.value;
    }
  }
  const args: Record<string, string | undefined> = {};
  if (command) {
    const values = positional.slice(words);
    if (values.length > command.args.length && !help) {
      throw new InputError(
        `unexpected argument '${values[command.args.length]}'`,
        `vmanctl ${command.name}`,
      );
    }
    command.args.forEach((arg, i) => (args[arg.name] = values[i]));
  }
  return { command, globals: globalValues, options: optionValues, args, help };
}

/** Checks the required arguments of a parsed command. */
export function requireArgs<C>(parsed: ParsedCommand<C>): void {
  for (const arg of parsed.command?.args ?? []) {
    if (arg.required && parsed.args[arg.name] === undefined) {
      throw new InputError(
        `missing ${arg.name}`,
        `vmanctl ${parsed.command!.name} ${usageOf(parsed.command!)}`,
      );
    }
  }
}

function findOption(name: string, options: readonly OptionSpec[]): OptionSpec | undefined {
  return options.find((o) => o.name === name || (o.short !== undefined && o.short === name));
}

function findOptionAnywhere<C>(
  name: string,
  commands: readonly CommandSpec<C>[],
): OptionSpec | undefined {
  for (const c of commands) {
    const o = findOption(name, c.options);
    if (o) return o;
  }
  return undefined;
}

function matchCommand<C>(
  positional: readonly string[],
  commands: readonly CommandSpec<C>[],
): CommandSpec<C> | undefined {
  const two = positional.slice(0, 2).join(" ");
  return commands.find((c) => c.name === two) ?? commands.find((c) => c.name === positional[0]);
}

/** `NAME [-f SPEC.yaml] [--cpus N]…` for a command. */
export function usageOf<C>(command: CommandSpec<C>): string {
  const args = command.args.map((a) => a.required ? a.name : `[${a.name}]`);
  const options = command.options.map((o) => {
    const flag = o.short ? `-${o.short}` : `--${o.name}`;
    return `[${flag}${o.value ? ` ${o.value}` : ""}]${o.repeat ? "..." : ""}`;
  });
  return [...args, ...options].join(" ");
}

/** The help text of one command. */
export function commandHelp<C>(command: CommandSpec<C>): string {
  const lines = [
    `Usage: vmanctl [global options] ${command.name} ${usageOf(command)}`,
    "",
    command.summary,
  ];
  if (command.options.length > 0) {
    lines.push("", "Options:", ...optionLines(command.options));
  }
  lines.push("", "Global options: see vmanctl --help");
  return lines.join("\n");
}

/** Help lines of options, aligned. */
export function optionLines(options: readonly OptionSpec[]): string[] {
  const left = options.map((o) =>
    `  ${o.short ? `-${o.short}, ` : ""}--${o.name}${o.value ? ` ${o.value}` : ""}${
      o.repeat ? " (repeatable)" : ""
    }`
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return left.map((l, i) => l.padEnd(width) + options[i].help);
}
