/**
 * `vmanctl daemon`, the command the libvirt plugin adds: serves the libvirt remote
 * protocol on a read-write and a read-only UNIX socket until SIGINT or SIGTERM.
 * This module is light (types only): the server, the driver and the lifecycle are
 * imported when the command runs, so `vmanctl --help` does not load them.
 *
 * @example
 * ```ts
 * import { daemonCommand } from "./command.ts";
 * const command = daemonCommand({ socket: "/tmp/libvirt-sock" });
 * command.name; // "daemon"
 * ```
 * @module
 */
import type { CliContext, CommandSpec, ParsedCommand } from "../../core/registry/mod.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import type { Driver, LibvirtServer } from "./mod.ts";

/** Options of the `daemon` command. */
export interface DaemonOptions {
  /** The read-write socket when `--socket` is not given. */
  socket: string;
  /** The read-only socket when `--ro-socket` is not given (default: the socket's path + `-ro`). */
  roSocket?: string;
}

async function hostUuid(fallback: string): Promise<string> {
  try {
    const id = (await Deno.readTextFile("/etc/machine-id")).trim();
    if (/^[0-9a-f]{32}$/.test(id)) {
      return `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${
        id.slice(20)
      }`;
    }
  } catch {
    // no machine id: derived from the board
  }
  return fallback;
}

/** `daemon [--socket PATH] [--ro-socket PATH]`, with the plugin's default sockets. */
export function daemonCommand(defaults: DaemonOptions): CommandSpec<CliContext> {
  return {
    name: "daemon",
    summary: "Serve the libvirt remote protocol, so virsh and libvirt clients drive partitions.",
    args: [],
    options: [
      { name: "socket", value: "PATH", help: `read-write socket (default ${defaults.socket})` },
      {
        name: "ro-socket",
        value: "PATH",
        help: defaults.roSocket === undefined
          ? "read-only socket (default: the socket's path + '-ro')"
          : `read-only socket (default ${defaults.roSocket})`,
      },
    ],
    run: (ctx, input) => runDaemon(ctx, input, defaults),
  };
}

/** Serves until SIGINT or SIGTERM; returns the exit code. */
async function runDaemon(
  ctx: CliContext,
  input: ParsedCommand<CliContext>,
  defaults: DaemonOptions,
): Promise<number> {
  const { Driver, LibvirtServer } = await import("./mod.ts");
  const { uuidOf } = await import("../../core/partition/lifecycle.ts");
  const { VERSION } = await import("../../core/cli/app.ts");
  const lc = await ctx.lifecycle();
  const given = input.options.socket as string | undefined;
  const socket = given ?? defaults.socket;
  const roSocket = (input.options["ro-socket"] as string | undefined) ??
    (given === undefined ? defaults.roSocket : undefined) ?? `${socket}-ro`;
  const driver = new Driver(lc, {
    // Consoles (DOMAIN_OPEN_CONSOLE) are opened through the backend's monitor plugin.
    monitorPlugin: async (backend) => {
      const registry = await ctx.registry({ boards: false });
      return registry.has("monitor", backend) ? registry.get("monitor", backend) : undefined;
    },
  });
  // The board is known before clients come: the state dir's, or --board's for a new one.
  const board = await driver.board();
  const server = new LibvirtServer({
    driver,
    socket,
    roSocket,
    version: VERSION,
    hostUuid: await hostUuid(uuidOf({ name: board.name, created: "host" })),
    log: (line) => ctx.io.err(`vmanctl daemon: ${line}`),
  });
  // A client can never stop the daemon: anything that escapes is logged.
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    ctx.io.err(`vmanctl daemon: unexpected error: ${String(event.reason)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const signals = stopSignals();
  try {
    await server.listen();
    await autostart(ctx, lc, driver, server);
    // Said once autostart is done, so that whoever waits for it sees those partitions running.
    ctx.io.err(`vmanctl daemon: listening on ${socket} (read-only: ${roSocket})`);
    const signal = await signals.stopped;
    ctx.io.err(`vmanctl daemon: ${signal}: stopping`);
    await server.close();
  } finally {
    signals.remove();
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  return 0;
}

/** Starts the partitions marked autostart that are not running; a failure is logged. */
async function autostart(
  ctx: CliContext,
  lc: LifecycleContext,
  driver: Driver,
  server: LibvirtServer,
): Promise<void> {
  const { startPartition } = await import("../../core/partition/lifecycle.ts");
  for (const record of await driver.records()) {
    if (!record.autostart || record.state === "running") continue;
    try {
      await startPartition(lc, record.name);
      await server.refresh();
    } catch (error) {
      ctx.io.err(`vmanctl daemon: autostart of ${record.name}: ${(error as Error).message}`);
    }
  }
}

/** A promise of the first SIGINT or SIGTERM, and the removal of its listeners. */
function stopSignals(): { stopped: Promise<string>; remove(): void } {
  const { promise: stopped, resolve } = Promise.withResolvers<string>();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  return {
    stopped,
    remove: () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h)),
  };
}
