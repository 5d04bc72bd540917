/**
 * `daemon`: serves the libvirt remote protocol (plugins/libvirt) on a read-write
 * and a read-only UNIX socket until SIGINT or SIGTERM.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";

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

/** `daemon [--socket PATH] [--ro-socket PATH]` */
export const daemonCommand: CommandSpec<CliContext> = {
  name: "daemon",
  summary: "Serve the libvirt remote protocol, so virsh and libvirt clients drive partitions.",
  args: [],
  options: [
    {
      name: "socket",
      value: "PATH",
      help: "read-write socket (default /run/vmanager/libvirt-sock)",
    },
    {
      name: "ro-socket",
      value: "PATH",
      help: "read-only socket (default: the socket's path + '-ro')",
    },
  ],
  async run(ctx, input) {
    const { Driver, LibvirtServer, DEFAULT_SOCKET } = await import(
      "../../../plugins/libvirt/mod.ts"
    );
    const { uuidOf, startPartition } = await import("../../partition/lifecycle.ts");
    const { VERSION } = await import("../app.ts");
    const lc = await ctx.lifecycle();
    const socket = (input.options.socket as string | undefined) ?? DEFAULT_SOCKET;
    const roSocket = (input.options["ro-socket"] as string | undefined) ?? `${socket}-ro`;
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
    const { promise: stopped, resolve } = Promise.withResolvers<string>();
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((signal) => {
      const handler = () => resolve(signal);
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
    try {
      await server.listen();
      for (const record of await driver.records()) {
        if (record.autostart && record.state !== "running") {
          try {
            await startPartition(lc, record.name);
            await server.refresh();
          } catch (error) {
            ctx.io.err(`vmanctl daemon: autostart of ${record.name}: ${(error as Error).message}`);
          }
        }
      }
      // Said once autostart is done, so that whoever waits for it sees those partitions running.
      ctx.io.err(`vmanctl daemon: listening on ${socket} (read-only: ${roSocket})`);
      const signal = await stopped;
      ctx.io.err(`vmanctl daemon: ${signal}: stopping`);
      await server.close();
    } finally {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    }
    return 0;
  },
};
