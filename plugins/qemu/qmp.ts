/**
 * A minimal QMP client (QEMU Machine Protocol, JSON lines over a UNIX socket):
 * enough to negotiate capabilities and run a command such as `cont` or `quit`,
 * on a connection of its own ({@linkcode qmpCommand}) or on one kept open
 * ({@linkcode QmpSession}).
 *
 * @example
 * ```ts
 * import { qmpCommand } from "./qmp.ts";
 * await qmpCommand("/tmp/state/qemu/1/qmp.sock", "cont");
 * ```
 * @module
 */
import { MonitorError } from "../../core/errors.ts";
import { whileQemuStarts } from "./starting.ts";

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
 * One QMP connection, its capabilities negotiated: QEMU has answered a command, so
 * it has finished starting (QEMU serves its QMP socket, and greets, before its
 * main loop runs; it answers only from there). Events QEMU sends are skipped.
 */
export class QmpSession {
  private constructor(
    private readonly conn: Deno.Conn,
    private readonly lines: JsonLines,
    private readonly path: string,
  ) {}

  /**
   * Connects to the QMP socket at `path` and negotiates capabilities. A QEMU that
   * does not answer within `timeoutMs` is a `MonitorError` naming `purpose` (the
   * command the session is opened for, if not the negotiation itself). With
   * `exit` (the file QEMU's supervisor writes when it exits), QEMU is starting: a
   * socket not served yet is tried again until QEMU serves it or exits.
   */
  static async open(
    path: string,
    timeoutMs = 5000,
    purpose = "qmp_capabilities",
    exit?: string,
  ): Promise<QmpSession> {
    const connect = () => Deno.connect({ transport: "unix", path });
    let conn: Deno.Conn;
    try {
      conn = await (exit ? whileQemuStarts(connect, exit, timeoutMs) : connect());
    } catch (error) {
      throw new MonitorError(`cannot reach QEMU's QMP socket: ${(error as Error).message}`, path, {
        cause: error,
      });
    }
    const session = new QmpSession(conn, new JsonLines(conn), path);
    try {
      await session.within(purpose, timeoutMs, async () => {
        await session.lines.next(); // the greeting
        await session.exchange("qmp_capabilities");
      });
    } catch (error) {
      session.close();
      throw error;
    }
    return session;
  }

  /**
   * Runs `command` and returns its `return` value. A connection that closes after
   * `quit` counts as success. No answer within `timeoutMs` is a `MonitorError`
   * (the connection is closed), so a hung QEMU cannot hold the caller — and the
   * state lock — for ever.
   */
  async command(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = 5000,
  ): Promise<unknown> {
    return await this.within(command, timeoutMs, async () => {
      try {
        return await this.exchange(command, args);
      } catch (error) {
        // QEMU closes the connection as it quits.
        if (command === "quit" && !(error instanceof MonitorError)) return {};
        throw error;
      }
    });
  }

  /** Closes the connection (again is fine). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Runs `work`, closing the connection when it takes longer than `timeoutMs`. */
  private async within<T>(command: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    try {
      return await work();
    } catch (error) {
      if (timedOut) {
        throw new MonitorError(`QEMU did not answer ${command} within ${timeoutMs} ms`, this.path, {
          cause: error,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one command and reads until its answer. */
  private async exchange(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const message = args ? { execute, arguments: args } : { execute };
    await this.conn.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
    while (true) {
      const reply = await this.lines.next();
      if ("return" in reply) return reply.return;
      if ("error" in reply) {
        const error = reply.error as { desc?: string };
        throw new MonitorError(`QEMU refused ${execute}: ${error.desc ?? JSON.stringify(error)}`);
      }
      // An event ({"event": …}): not ours.
    }
  }
}

/**
 * Connects to the QMP socket at `path`, negotiates capabilities and runs
 * `command`, returning its `return` value ({@linkcode QmpSession}), all within
 * `timeoutMs`; then closes the connection.
 */
export async function qmpCommand(
  path: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 5000,
): Promise<unknown> {
  const begin = performance.now();
  const session = await QmpSession.open(path, timeoutMs, command);
  try {
    const left = Math.max(1, timeoutMs - (performance.now() - begin));
    return await session.command(command, args, left);
  } finally {
    session.close();
  }
}
