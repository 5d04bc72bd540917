/**
 * The `vmanctl` command line: global options, the command table, help, and the
 * error contract — one line `vmanctl: <what> (<where>)` on stderr, exit code 0
 * (success), 1 (the operation failed) or 2 (bad input or usage); `-v` adds the
 * cause chain.
 *
 * @example
 * ```ts
 * import { runCli } from "./app.ts";
 * const code = await runCli(["list", "--json"], host);
 * ```
 * @module
 */
import type { CommandSpec, OptionSpec, OptionValues } from "./args.ts";
import { commandHelp, optionLines, parseArgs, requireArgs } from "./args.ts";
import type { CliHost, GlobalOptions } from "./context.ts";
import { CliContext } from "./context.ts";
import type { ReservedNames } from "../registry/registry.ts";
import { causeChain, errorLine, exitCodeOf, InputError } from "../errors.ts";
import { VERSION } from "./version.ts";
import { BUILTIN_NAMES, builtinCommands, commandWord, oneWordCommands } from "./builtins.ts";

export { VERSION };

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "state-dir",
    value: "DIR",
    help: "state directory (env VMAN_STATE_DIR; default /var/lib/vmanager)",
  },
  { name: "config", value: "FILE", help: "configuration file (default /etc/vmanager/config.yaml)" },
  {
    name: "board",
    value: "NAME|FILE",
    help: "board of a new state dir (a name or a board YAML file)",
  },
  { name: "backend", value: "NAME", help: "monitor backend of a new state dir (default dry-run)" },
  {
    name: "plugin-dir",
    value: "DIR",
    repeat: true,
    help: "plugin directory (env VMAN_PLUGIN_PATH)",
  },
  { name: "json", help: "print one JSON document on stdout" },
  { name: "verbose", short: "v", help: "on errors, print the cause chain" },
  { name: "version", help: "print the version" },
];

let completionSpec: Promise<CommandSpec<CliContext>> | undefined;

/**
 * `completion`, which completes the plugins' commands too; its module loads when
 * a command line needs it (help, completion, a word no one-word command has).
 */
function completion(): Promise<CommandSpec<CliContext>> {
  return completionSpec ??= import("./commands/completion.ts").then(({ completionCommand }) =>
    completionCommand(
      async (ctx) => (await commandTable(ctx)).filter((c) => !c.hidden),
      GLOBAL_OPTIONS,
    )
  );
}

/** The built-in commands and the registry's plugins' commands, in help order. */
async function commandTable(ctx: CliContext): Promise<CommandSpec<CliContext>[]> {
  const { withPluginCommands } = await import("./command_table.ts");
  const registry = await ctx.commandRegistry();
  const spec = await completion();
  return withPluginCommands(await builtinCommands(spec), registry.commands(), spec);
}

/**
 * The context and command table a command line needs: a one-word built-in
 * command's own module's commands (builtins.ts); else the built-in commands, and
 * the plugins' ones only when the command is none of those (or for `--help`), so
 * that built-in commands load no plugins for their parsing.
 */
async function prepare(argv: readonly string[], host: CliHost, verbose: boolean): Promise<{
  table: readonly CommandSpec<CliContext>[];
  context?: CliContext;
}> {
  const word = commandWord(argv, GLOBAL_OPTIONS);
  const own = word === undefined ? undefined : await oneWordCommands(word, completion);
  if (own) return { table: own };
  const [{ needsPluginCommands, scanCommandLine }, builtins] = await Promise.all([
    import("./command_table.ts"),
    completion().then(builtinCommands),
  ]);
  const scan = scanCommandLine(argv, builtins, GLOBAL_OPTIONS);
  if (!needsPluginCommands(scan, builtins)) return { table: builtins };
  const globals = parseArgs(scan.globalArgs, [], GLOBAL_OPTIONS).globals;
  const context = new CliContext(host, globalOptions(globals, argv, verbose), reserved());
  return { table: await commandTable(context), context };
}

/** What plugins' commands may not take: the built-in commands' names, the global options. */
function reserved(): ReservedNames {
  return {
    commands: BUILTIN_NAMES,
    options: GLOBAL_OPTIONS.flatMap((o) => [o.name, ...(o.short ? [o.short] : [])]),
  };
}

/** The global options of a command line. */
function globalOptions(g: OptionValues, argv: readonly string[], verbose: boolean): GlobalOptions {
  return {
    stateDir: g["state-dir"] as string | undefined,
    config: g.config as string | undefined,
    board: g.board as string | undefined,
    backend: g.backend as string | undefined,
    pluginDirs: (g["plugin-dir"] as string[] | undefined) ?? [],
    json: g.json === true,
    verbose,
    invocation: `vmanctl ${argv.join(" ")}`.slice(0, 200),
  };
}

function mainHelp(table: readonly CommandSpec<CliContext>[]): string {
  const shown = table.filter((c) => !c.hidden);
  const width = Math.max(...shown.map((c) => c.name.length)) + 2;
  return [
    "vmanctl — create, start, stop and destroy physical partitions",
    "",
    "Usage: vmanctl [global options] <command> [arguments]",
    "",
    "Commands:",
    ...shown.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Exit codes: 0 success, 1 the operation failed, 2 bad input or usage.",
    "vmanctl <command> --help shows a command's options.",
  ].join("\n");
}

/** Runs one vmanctl command line and returns its exit code. Never throws. */
export async function runCli(argv: readonly string[], host: CliHost): Promise<number> {
  const verbose = argv.includes("-v") || argv.includes("--verbose");
  try {
    const { table, context } = await prepare(argv, host, verbose);
    const parsed = parseArgs(argv, table, GLOBAL_OPTIONS);
    if (parsed.globals.version) {
      host.io.out(`vmanctl ${VERSION}`);
      return 0;
    }
    if (!parsed.command) {
      if (parsed.help) {
        host.io.out(mainHelp(table));
        return 0;
      }
      throw new InputError("no command given", "vmanctl --help lists the commands");
    }
    if (parsed.help) {
      host.io.out(commandHelp(parsed.command));
      return 0;
    }
    requireArgs(parsed);
    const globals = globalOptions(parsed.globals, argv, verbose);
    // The context that loaded the plugins' commands goes on, unless the globals differ.
    const reuse = context && JSON.stringify(context.globals) === JSON.stringify(globals);
    const ctx = reuse ? context : new CliContext(host, globals, reserved());
    return await parsed.command.run(ctx, parsed);
  } catch (error) {
    host.io.err(`vmanctl: ${errorLine(error)}`);
    if (verbose) {
      for (const line of causeChain(error)) host.io.err(`  ${line}`);
      if (error instanceof Error && error.stack) host.io.err(error.stack);
    }
    return exitCodeOf(error);
  }
}
