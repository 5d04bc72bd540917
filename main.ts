/**
 * vmanctl's entry point and vmanager's composition root: the only module that
 * imports the built-in plugins and boards. It hands them to the CLI, one by one,
 * which builds the registry (adding the plugin directories' plugins) of the
 * plugins a command needs when it needs them.
 *
 * @module
 */
import { VERSION } from "./core/cli/version.ts";
import type { CliHost } from "./core/cli/context.ts";
import type { Plugin } from "./core/registry/plugin.ts";
import type { BoardFile } from "./core/registry/discover.ts";
import type { BuiltinLoader } from "./core/registry/selection.ts";

/**
 * The built-in plugins one by one, in registration order (arch plugins before the
 * boards that need them), each imported when a command first needs it: a command
 * that only reads the state loads none, `dtb` the arch and feature plugins, `start`
 * those and its state dir's backend. The imports are static strings, so the bundle
 * and the compiled binary carry them.
 */
export const BUILTIN_TABLE: readonly BuiltinLoader[] = [
  { kind: "arch", name: "armv7", load: async () => (await import("./arch/armv7/mod.ts")).armv7() },
  { kind: "arch", name: "armv8", load: async () => (await import("./arch/armv8/mod.ts")).armv8() },
  { kind: "arch", name: "riscv", load: async () => (await import("./arch/riscv/mod.ts")).riscv() },
  {
    kind: "feature",
    name: "fdt",
    load: async () => (await import("./plugins/fdt/plugin.ts")).fdt(),
  },
  {
    kind: "feature",
    name: "psci",
    load: async () => (await import("./plugins/psci/mod.ts")).psci(),
  },
  { kind: "feature", name: "sbi", load: async () => (await import("./plugins/sbi/mod.ts")).sbi() },
  {
    kind: "feature",
    name: "libvirt",
    // plugin.ts, not mod.ts: the libvirt server loads when `vmanctl daemon` runs.
    load: async () => (await import("./plugins/libvirt/plugin.ts")).libvirt(),
  },
  {
    kind: "monitor",
    name: "dry-run",
    load: async () => (await import("./core/monitor/dry_run.ts")).dryRunMonitor(),
  },
  {
    kind: "monitor",
    name: "sim",
    load: async () => (await import("./core/monitor/sim.ts")).simMonitor(simOptions()),
  },
  {
    kind: "monitor",
    name: "device",
    load: async () => (await import("./core/monitor/device.ts")).deviceMonitor(),
  },
  { kind: "monitor", name: "qemu", load: qemuPlugin },
];

/** Every built-in plugin, in registration order ({@linkcode BUILTIN_TABLE}). */
export async function builtinPlugins(): Promise<Plugin[]> {
  return await Promise.all(BUILTIN_TABLE.map((entry) => entry.load()));
}

/** The qemu backend, which sends every monitor call to a sim on the same state dir. */
async function qemuPlugin(): Promise<Plugin> {
  const [{ simMonitor }, { qemuMonitor }, run] = await Promise.all([
    import("./core/monitor/sim.ts"),
    import("./plugins/qemu/mod.ts"),
    import("./scripts/permissions.ts"),
  ]);
  const sim = simMonitor(simOptions());
  const self = (first: string) =>
    selfCommand(first, [...run.VMANCTL_PERMISSIONS, ...run.VMANCTL_RUN_FLAGS]);
  return qemuMonitor({
    inner: (context) => sim.create(context),
    broker: self(CONSOLE_BROKER_COMMAND),
    // The watcher (the console broker) applies a partition's end policy at once.
    endHook: (stateDir) => [...self("--state-dir"), stateDir, "__converge"],
    consoleLogLimit: await consoleLogLimit(),
  });
}

/**
 * The sim's options from the environment: `VMAN_MEMORY_DIR`, where a state dir's
 * physical memory file is made (a RAM-backed directory such as `/dev/shm`).
 */
function simOptions(): { memoryDir?: string } {
  return { memoryDir: Deno.env.get("VMAN_MEMORY_DIR") || undefined };
}

/** `VMAN_CONSOLE_LOG_LIMIT` (a size, e.g. `256K`): one console capture file's size. */
async function consoleLogLimit(): Promise<number | undefined> {
  const text = Deno.env.get("VMAN_CONSOLE_LOG_LIMIT");
  if (!text) return undefined;
  const { parseSize } = await import("./core/units.ts");
  return parseSize(text, "VMAN_CONSOLE_LOG_LIMIT");
}

/** The hidden command that makes this process a console broker (plugins/qemu). */
const CONSOLE_BROKER_COMMAND = "__console-broker";

/**
 * How to run this program again with `first` as its first argument: the compiled
 * binary itself, else Deno on this module (main.ts, or the bundle that carries it)
 * with vmanctl's permissions and run flags (`flags`).
 */
function selfCommand(first: string, flags: readonly string[]): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), first];
  return [
    Deno.execPath(),
    "run",
    ...flags,
    "--no-prompt",
    import.meta.url,
    first,
  ];
}

/**
 * The built-in plugins that add commands (libvirt's `daemon`): what `--help` and
 * completion load instead of every plugin. tests/cli/startup_test.ts checks that
 * they add the same commands as {@linkcode builtinPlugins}.
 */
export async function commandPlugins(): Promise<Plugin[]> {
  const { libvirt } = await import("./plugins/libvirt/plugin.ts");
  return [libvirt()];
}

/** The built-in board files. */
export async function builtinBoards(): Promise<readonly BoardFile[]> {
  return (await import("./boards/mod.ts")).builtinBoardFiles;
}

const encoder = new TextEncoder();

/** The host of a real process: stdout, stderr, the environment. */
export const processHost: CliHost = {
  io: {
    out: (text) => writeAll(Deno.stdout, text + "\n"),
    err: (text) => writeAll(Deno.stderr, text + "\n"),
    terminal: {
      isTerminal: () => Deno.stdin.isTerminal(),
      setRaw: (on) => Deno.stdin.setRaw(on),
      get input() {
        return Deno.stdin.readable;
      },
      write: async (bytes) => {
        let done = 0;
        while (done < bytes.length) done += await Deno.stdout.write(bytes.subarray(done));
      },
    },
  },
  env: (name) => Deno.env.get(name),
  builtins: builtinPlugins,
  builtinTable: BUILTIN_TABLE,
  commandPlugins,
  boardFiles: builtinBoards,
};

function writeAll(stream: typeof Deno.stdout, text: string): void {
  const data = encoder.encode(text);
  let written = 0;
  while (written < data.length) {
    written += stream.writeSync(data.subarray(written));
  }
}

if (import.meta.main) {
  if (Deno.args[0] === CONSOLE_BROKER_COMMAND) {
    const { brokerMain } = await import("./plugins/qemu/console_broker.ts");
    Deno.exit(await brokerMain(Deno.args.slice(1)));
  }
  // `vmanctl --version` alone needs no command table: the CLI loads after it.
  if (Deno.args.length === 1 && Deno.args[0] === "--version") {
    processHost.io.out(`vmanctl ${VERSION}`);
    Deno.exit(0);
  }
  const { runCli } = await import("./core/cli/app.ts");
  Deno.exit(await runCli(Deno.args, processHost));
}
