/**
 * vmanctl's entry point and vmanager's composition root: the only module that
 * imports the built-in plugins and boards. It hands them to the CLI, which builds
 * the registry (adding the plugin directories' plugins) when a command needs it.
 *
 * @module
 */
import { runCli } from "./core/cli/app.ts";
import type { CliHost } from "./core/cli/context.ts";
import { dryRunMonitor } from "./core/monitor/dry_run.ts";
import type { Plugin } from "./core/registry/plugin.ts";
import { armv7 } from "./arch/armv7/mod.ts";
import { armv8 } from "./arch/armv8/mod.ts";
import { riscv } from "./arch/riscv/mod.ts";
import { builtinBoardFiles } from "./boards/mod.ts";

/** The built-in plugins, in registration order (arch plugins before the boards that need them). */
export function builtinPlugins(): Plugin[] {
  return [armv7(), armv8(), riscv(), dryRunMonitor()];
}

const encoder = new TextEncoder();

/** The host of a real process: stdout, stderr, the environment. */
export const processHost: CliHost = {
  io: {
    out: (text) => writeAll(Deno.stdout, text + "\n"),
    err: (text) => writeAll(Deno.stderr, text + "\n"),
  },
  env: (name) => Deno.env.get(name),
  builtins: builtinPlugins,
  boardFiles: () => builtinBoardFiles,
};

function writeAll(stream: typeof Deno.stdout, text: string): void {
  const data = encoder.encode(text);
  let written = 0;
  while (written < data.length) written += stream.writeSync(data.subarray(written));
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, processHost));
}
