/**
 * A minimal QMP client (QEMU Machine Protocol, JSON lines over a UNIX socket):
 * enough to negotiate capabilities and run a command such as `cont` or `quit`.
 *
 * @example
 * ```ts
 * import { qmpCommand } from "./qmp.ts";
 * await qmpCommand("/tmp/state/qemu/1/qmp.sock", "cont");
 * ```
 * @module
 */
import { MonitorError } from "../../core/errors.ts";

/** Reads JSON objects, one per line, from a connection. */
export class JsonLines {
  private buffer = "";
  private readonly decoder = new TextDecoder();
  constructor(private readonly conn: Deno.Conn) {}

  /** The next object; throws when the connection closes. */
  async next(): Promise<Record<string, unknown>> {
    const chunk = new Uint8Array(4096);
    while (true) {
      const newline = this.buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (line) return JSON.parse(line);
        continue;
      }
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("QMP connection closed");
      this.buffer += this.decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  }
}

/**
 * Connects to the QMP socket at `path`, negotiates capabilities and runs
 * `command`, returning its `return` value. Events QEMU sends meanwhile are
 * skipped. A connection that closes after `quit` counts as success. A QEMU that
 * does not answer within `timeoutMs` is a `MonitorError` (the connection is
 * closed), so a hung QEMU cannot hold the caller — and the state lock — for ever.
 */
export async function qmpCommand(
  path: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<unknown> {
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  const close = () => {
    try {
      conn?.close();
    } catch {
      // already closed
    }
    conn = undefined;
  };
  const timer = setTimeout(() => {
    timedOut = true;
    close();
  }, timeoutMs);
  try {
    try {
      conn = await Deno.connect({ transport: "unix", path });
    } catch (error) {
      throw new MonitorError(
        `cannot reach QEMU's QMP socket: ${(error as Error).message}`,
        path,
        { cause: error },
      );
    }
    return await exchange(conn, command, args);
  } catch (error) {
    if (timedOut) {
      throw new MonitorError(`QEMU did not answer ${command} within ${timeoutMs} ms`, path, {
        cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    close();
  }
}

async function exchange(
  conn: Deno.Conn,
  command: string,
  args: Record<string, unknown> | undefined,
): Promise<unknown> {
  const encoder = new TextEncoder();
  const lines = new JsonLines(conn);
  const send = async (execute: string, arguments_?: Record<string, unknown>) => {
    const message = arguments_ ? { execute, arguments: arguments_ } : { execute };
    await conn.write(encoder.encode(JSON.stringify(message) + "\n"));
    while (true) {
      const reply = await lines.next();
      if ("return" in reply) return reply.return;
      if ("error" in reply) {
        const error = reply.error as { desc?: string };
        throw new MonitorError(`QEMU refused ${execute}: ${error.desc ?? JSON.stringify(error)}`);
      }
      // An event ({"event": …}): not ours.
    }
  };
  await lines.next(); // the greeting
  await send("qmp_capabilities");
  try {
    return await send(command, args);
  } catch (error) {
    // QEMU closes the connection as it quits.
    if (command === "quit" && !(error instanceof MonitorError)) return {};
    throw error;
  }
}
