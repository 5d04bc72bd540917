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
import type { CommandSpec, OptionSpec } from "./args.ts";
import { commandHelp, optionLines, parseArgs, requireArgs } from "./args.ts";
import type { CliHost, GlobalOptions } from "./context.ts";
import { CliContext } from "./context.ts";
import { causeChain, errorLine, exitCodeOf, InputError } from "../errors.ts";
import { createCommand, destroyCommand, startCommand, stopCommand } from "./commands/lifecycle.ts";
import { convergeCommand, rebootCommand, resetCommand, shutdownCommand } from "./commands/power.ts";
import { listCommand, planCommand, showCommand } from "./commands/query.ts";
import { boardCheckCommand, boardListCommand, boardShowCommand } from "./commands/board.ts";
import { pluginsCommand } from "./commands/plugins.ts";
import { completionCommand } from "./commands/completion.ts";
import { dtbCommand } from "./commands/dtb.ts";
import { boardImportCommand } from "./commands/board_import.ts";
import { daemonCommand } from "./commands/daemon.ts";
import { consoleCommand } from "./commands/console.ts";
import { statsCommand } from "./commands/stats.ts";

/** vmanager's version. */
export const VERSION = "0.1.0";

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

/** Every command, in help order. */
export const COMMANDS: readonly CommandSpec<CliContext>[] = [
  boardListCommand,
  boardShowCommand,
  boardCheckCommand,
  boardImportCommand,
  pluginsCommand,
  createCommand,
  startCommand,
  stopCommand,
  destroyCommand,
  shutdownCommand,
  rebootCommand,
  resetCommand,
  listCommand,
  showCommand,
  statsCommand,
  planCommand,
  consoleCommand,
  dtbCommand,
  daemonCommand,
  completionCommand(() => COMMANDS.filter((c) => !c.hidden), GLOBAL_OPTIONS),
  convergeCommand,
];

function mainHelp(): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
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
    const parsed = parseArgs(argv, COMMANDS, GLOBAL_OPTIONS);
    if (parsed.globals.version) {
      host.io.out(`vmanctl ${VERSION}`);
      return 0;
    }
    if (!parsed.command) {
      if (parsed.help) {
        host.io.out(mainHelp());
        return 0;
      }
      throw new InputError("no command given", "vmanctl --help lists the commands");
    }
    if (parsed.help) {
      host.io.out(commandHelp(parsed.command));
      return 0;
    }
    requireArgs(parsed);
    const g = parsed.globals;
    const globals: GlobalOptions = {
      stateDir: g["state-dir"] as string | undefined,
      config: g.config as string | undefined,
      board: g.board as string | undefined,
      backend: g.backend as string | undefined,
      pluginDirs: (g["plugin-dir"] as string[] | undefined) ?? [],
      json: g.json === true,
      verbose,
      invocation: `vmanctl ${argv.join(" ")}`.slice(0, 200),
    };
    return await parsed.command.run(new CliContext(host, globals), parsed);
  } catch (error) {
    host.io.err(`vmanctl: ${errorLine(error)}`);
    if (verbose) {
      for (const line of causeChain(error)) host.io.err(`  ${line}`);
      if (error instanceof Error && error.stack) host.io.err(error.stack);
    }
    return exitCodeOf(error);
  }
}
