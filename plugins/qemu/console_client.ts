/**
 * A session on a partition's console through its broker (`console_broker.ts`):
 * the qemu backend's `openConsole`.
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import { existsSync } from "../../core/files.ts";
import {
  ConsoleBusyError,
  type ConsoleEnd,
  type ConsoleOpenOptions,
  type ConsoleSession,
} from "../../core/monitor/console.ts";
import type { BrokerHello, BrokerReply } from "./console_broker.ts";

const REPLY_LIMIT = 4096;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

/** Reads the broker's reply line; returns it and the console bytes that came after it. */
async function readReply(conn: Deno.UnixConn): Promise<[BrokerReply, Uint8Array]> {
  const buffer = new Uint8Array(REPLY_LIMIT);
  let length = 0;
  while (true) {
    const end = buffer.subarray(0, length).indexOf(0x0a);
    if (end >= 0) {
      const reply = JSON.parse(new TextDecoder().decode(buffer.subarray(0, end))) as BrokerReply;
      return [reply, buffer.slice(end + 1, length)];
    }
    const n = length < REPLY_LIMIT ? await conn.read(buffer.subarray(length)) : null;
    if (n === null) throw new Error("the console broker hung up before answering");
    length += n;
  }
}

/**
 * Opens a session on the console served at `socket` (of partition `name`, for the
 * messages). Throws a `StateError` when nothing serves it (the partition does not
 * run) and a `ConsoleBusyError` when another session writes.
 */
export async function openBrokerConsole(
  socket: string,
  name: string,
  options: ConsoleOpenOptions,
): Promise<ConsoleSession> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch {
    throw new StateError(`partition ${name} has no console now: it is not running`, name);
  }
  let reply: BrokerReply;
  let first: Uint8Array;
  try {
    const hello: BrokerHello = { ...options, force: options.force === true };
    await writeAll(conn, new TextEncoder().encode(JSON.stringify(hello) + "\n"));
    [reply, first] = await readReply(conn);
  } catch (error) {
    conn.close();
    throw new StateError(
      `partition ${name}'s console did not answer: ${(error as Error).message}`,
      name,
    );
  }
  if (!reply.ok) {
    conn.close();
    if (reply.busy) {
      throw new ConsoleBusyError(
        `partition ${name}'s console is ${reply.error}; --force takes it over`,
        name,
      );
    }
    throw new StateError(`partition ${name}'s console refused the session: ${reply.error}`, name);
  }
  return brokerSession(conn, socket, first);
}

function brokerSession(conn: Deno.UnixConn, socket: string, first: Uint8Array): ConsoleSession {
  let closed = false;
  let finish!: (end: ConsoleEnd) => void;
  const ended = new Promise<ConsoleEnd>((resolve) => finish = resolve);
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* closed already */ }
  };
  const output = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.length > 0) controller.enqueue(first);
    },
    async pull(controller) {
      const chunk = new Uint8Array(64 * 1024);
      let n: number | null = null;
      try {
        if (!closed) n = await conn.read(chunk);
      } catch { /* closed */ }
      if (n !== null) return controller.enqueue(chunk.slice(0, n));
      controller.close();
      // The broker removes its socket before it hangs up when the partition stops.
      const why: ConsoleEnd = closed ? "closed" : existsSync(socket) ? "taken-over" : "stopped";
      close();
      finish(why);
    },
    cancel() {
      close();
      finish("closed");
    },
  }, { highWaterMark: 0 });
  return {
    output,
    ended,
    async write(bytes: Uint8Array) {
      if (closed) throw new StateError("the console session has ended");
      await writeAll(conn, bytes);
    },
    close() {
      close();
      output.cancel().catch(() => {});
    },
  };
}
