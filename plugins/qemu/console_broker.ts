/**
 * The console broker: one small process per running partition that serves the
 * partition's console, QEMU's serial character device (a UNIX socket QEMU listens
 * on), to vmanager's clients. It
 *
 * - keeps the capture (`console.log`, rotated at a limit: {@linkcode RotatingLog}),
 *   whether or not anyone is attached;
 * - serves `console.sock`: a client sends one JSON line — `{"mode":"write"|"read",
 *   "force":bool,"replay":bool,"who":"…"}` — and gets one back, `{"ok":true}` or
 *   `{"ok":false,"busy":bool,"error":"…"}`; then the connection is the raw console:
 *   what the partition prints goes to every client (after the capture so far, with
 *   `replay`), and what the one `write` client sends goes to the partition. A second
 *   writer is refused (`busy`) unless it forces, which ends the first one;
 * - listens on QEMU's second QMP socket for how the guest ends (powers off, reboots,
 *   panics) and watches the console for a kernel panic, after which it quits QEMU;
 *   what it saw goes to `ended.json` (`ending.ts`);
 * - ends when QEMU closes the serial socket (QEMU exited): it removes `console.sock`
 *   first, then closes every client, so a client that loses its connection and finds
 *   no socket knows the partition stopped; then, once QEMU's supervisor recorded the
 *   exit status, it starts the end hook (`vmanctl __converge`), which applies the
 *   partition's `on_poweroff`, `on_reboot` or `on_crash` policy.
 *
 * A client whose queue passes {@linkcode CLIENT_QUEUE_LIMIT} loses output (as a UART
 * overruns) rather than holding up the partition's console.
 *
 * Run as `vmanctl __console-broker CONFIG`, CONFIG a {@linkcode BrokerConfig} in
 * JSON (main.ts dispatches the hidden command to {@linkcode brokerMain}).
 *
 * @module
 */
import { RotatingLog } from "./console_log.ts";
import { PANIC_LINE, QemuEvents, recordEnd } from "./ending.ts";
import { whileQemuStarts } from "./starting.ts";

/** What a broker serves and where it writes. */
export interface BrokerConfig {
  /** QEMU's serial socket. */
  serial: string;
  /** The socket the broker serves sessions on. */
  socket: string;
  /** The capture. */
  log: string;
  /** The size of one capture file. */
  limit: number;
  /** QEMU's events QMP socket. */
  events: string;
  /** Where what ended the partition is recorded. */
  ended: string;
  /** QEMU's exit status file, written by its supervisor. */
  exit: string;
  /** The command started once QEMU has exited (applies the end policies), if any. */
  hook?: string[];
  /** Where the hook's messages go. */
  hookLog?: string;
}

/** What a client may have queued before output to it is dropped. */
export const CLIENT_QUEUE_LIMIT = 1024 * 1024;
/** The longest hello line a client may send. */
const HELLO_LIMIT = 4096;
/** How long a client has to send its hello. */
const HELLO_TIMEOUT = 5000;

/** What a client asks for in its hello line. */
export interface BrokerHello {
  /** `write` (the one interactive session) or `read`. */
  mode: "write" | "read";
  /** Take over from the current writer. */
  force?: boolean;
  /** Send the capture so far before live output. */
  replay?: boolean;
  /** Who the client is, for the refusal another writer gets. */
  who: string;
}

/** The broker's answer to a hello. */
export interface BrokerReply {
  /** Whether the session is open. */
  ok: boolean;
  /** Another session writes (with `ok: false`). */
  busy?: boolean;
  /** Why not (with `ok: false`). */
  error?: string;
}

const encoder = new TextEncoder();

/** One connected client with its bounded output queue. */
class Client {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private flushing = false;
  closed = false;

  constructor(readonly conn: Deno.UnixConn, readonly hello: BrokerHello) {}

  /** Queues bytes for the client; drops them when its queue is full. */
  send(bytes: Uint8Array): void {
    if (this.closed || this.queued + bytes.length > CLIENT_QUEUE_LIMIT) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.flushing) this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const chunk = this.queue.shift()!;
        this.queued -= chunk.length;
        await writeAll(this.conn, chunk);
      }
    } catch {
      this.close();
    } finally {
      this.flushing = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch { /* closed already */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

/** Reads the hello line (bounded, with a deadline); returns it and the bytes after it. */
async function readHello(conn: Deno.UnixConn): Promise<[BrokerHello, Uint8Array]> {
  const buffer = new Uint8Array(HELLO_LIMIT);
  let length = 0;
  const timer = setTimeout(() => conn.close(), HELLO_TIMEOUT);
  try {
    while (true) {
      const end = buffer.subarray(0, length).indexOf(0x0a);
      if (end >= 0) {
        const hello = parseHello(new TextDecoder().decode(buffer.subarray(0, end)));
        return [hello, buffer.slice(end + 1, length)];
      }
      if (length === HELLO_LIMIT) throw new Error("hello line too long");
      const n = await conn.read(buffer.subarray(length));
      if (n === null) throw new Error("closed before its hello");
      length += n;
    }
  } finally {
    clearTimeout(timer);
  }
}

function parseHello(line: string): BrokerHello {
  const value = JSON.parse(line) as Partial<BrokerHello>;
  if (value.mode !== "write" && value.mode !== "read") throw new Error("bad mode");
  return {
    mode: value.mode,
    force: value.force === true,
    replay: value.replay === true,
    who: typeof value.who === "string" ? value.who.slice(0, 200) : "another client",
  };
}

/** The broker of one console. */
export class ConsoleBroker {
  private readonly clients = new Set<Client>();
  private writer: Client | undefined;
  private input = Promise.resolve();

  private tail = "";
  private readonly decoder = new TextDecoder();
  private panicked = false;

  constructor(
    private readonly serial: Deno.UnixConn,
    private readonly log: RotatingLog,
    private readonly onPanic: () => void = () => {},
  ) {}

  /** Serves clients from `listener` until the serial socket closes. */
  async run(listener: Deno.Listener<Deno.UnixConn>, socketPath: string): Promise<void> {
    const accepting = this.accept(listener);
    await this.pumpOutput();
    await Deno.remove(socketPath).catch(() => {});
    listener.close();
    await accepting.catch(() => {});
    for (const client of this.clients) client.close();
    this.log.close();
  }

  private async pumpOutput(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await this.serial.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) return;
      const bytes = chunk.slice(0, n);
      try {
        this.log.write(bytes);
      } catch { /* a full disk loses capture, not the console */ }
      for (const client of this.clients) client.send(bytes);
      this.watchForPanic(bytes);
      // Read again at once, never after a pause: QEMU's UART writes a byte per
      // write, and each byte takes a whole buffer slot in the UNIX socket, so a few
      // hundred unread bytes fill it. A broker that waited 2 ms to batch a burst
      // stalled the guest's console, and with it the boot (riscv64: +0.1 s at the
      // switch to ttyS0; with 20 ms waits, +0.8 s).
    }
  }

  /**
   * Calls `onPanic` once when the kernel's panic line goes by (split across chunks
   * too: the last characters of a chunk that could begin it are kept for the next).
   */
  private watchForPanic(bytes: Uint8Array): void {
    if (this.panicked) return;
    const text = this.tail + this.decoder.decode(bytes, { stream: true });
    this.tail = text.slice(-(PANIC_LINE.length - 1));
    if (!text.includes(PANIC_LINE)) return;
    this.panicked = true;
    this.onPanic();
  }

  private async accept(listener: Deno.Listener<Deno.UnixConn>): Promise<void> {
    for await (const conn of listener) this.serve(conn).catch(() => conn.close());
  }

  private async serve(conn: Deno.UnixConn): Promise<void> {
    let hello: BrokerHello;
    let rest: Uint8Array;
    try {
      [hello, rest] = await readHello(conn);
    } catch {
      conn.close();
      return;
    }
    if (hello.mode === "write" && this.writer && !this.writer.closed && !hello.force) {
      await this.reply(conn, {
        ok: false,
        busy: true,
        error: `in use by ${this.writer.hello.who}`,
      });
      conn.close();
      return;
    }
    const client = new Client(conn, hello);
    if (hello.mode === "write") {
      this.writer?.close();
      this.writer = client;
    }
    await this.reply(conn, { ok: true });
    if (hello.replay) { for (const bytes of this.log.captured()) client.send(bytes); }
    this.clients.add(client);
    if (rest.length > 0 && hello.mode === "write") this.forward(rest);
    await this.pumpInput(client);
    this.clients.delete(client);
    if (this.writer === client) this.writer = undefined;
    client.close();
  }

  private async reply(conn: Deno.UnixConn, reply: BrokerReply): Promise<void> {
    await writeAll(conn, encoder.encode(JSON.stringify(reply) + "\n"));
  }

  /** Reads what the client sends until it hangs up; a writer's bytes go to the partition. */
  private async pumpInput(client: Client): Promise<void> {
    const chunk = new Uint8Array(16 * 1024);
    while (!client.closed) {
      let n: number | null;
      try {
        n = await client.conn.read(chunk);
      } catch {
        return;
      }
      if (n === null) return;
      if (this.writer === client) this.forward(chunk.slice(0, n));
    }
  }

  /** Sends bytes to the partition, in order. */
  private forward(bytes: Uint8Array): void {
    this.input = this.input.then(() => writeAll(this.serial, bytes)).catch(() => {});
  }
}

/**
 * The broker process (`CONFIG` is a {@linkcode BrokerConfig} in JSON). Connects to
 * QEMU's serial and events sockets, then listens on its own socket (its appearance
 * tells the launcher the broker is ready), and serves until QEMU closes the serial
 * socket; then starts the end hook. Returns the exit code.
 */
export async function brokerMain(args: string[]): Promise<number> {
  let config: BrokerConfig;
  try {
    config = JSON.parse(args[0] ?? "") as BrokerConfig;
    if (!config.serial || !config.socket || !config.log || !(config.limit > 0)) throw new Error();
  } catch {
    console.error("console broker: usage: CONFIG (JSON: serial, socket, log, limit, …)");
    return 2;
  }
  const connect = <T>(fn: () => Promise<T>) => whileQemuStarts(fn, config.exit, 15_000);
  const serial = await connect(() => Deno.connect({ transport: "unix", path: config.serial }));
  const events = await connect(() => QemuEvents.connect(config.events));
  const watching = events.watch(config.ended);
  const log = new RotatingLog(config.log, config.limit);
  await Deno.remove(config.socket).catch(() => {});
  const tmp = `${config.socket}.${Deno.pid}.tmp`;
  const listener = Deno.listen({ transport: "unix", path: tmp });
  await Deno.rename(tmp, config.socket); // appears whole, once the broker serves it
  const onPanic = async () => {
    await recordEnd(config.ended, { cause: "crash", detail: "kernel panic" }).catch(() => {});
    // Let the kernel finish its panic report on the console, then end the machine.
    setTimeout(() => events.send("quit").catch(() => {}), 1000);
  };
  await new ConsoleBroker(serial, log, onPanic).run(listener, config.socket);
  events.close();
  await watching;
  if (config.hook) await runHook(config);
  return 0;
}

/** Starts the end hook detached, once QEMU's exit status is recorded (at most 5 s). */
async function runHook(config: BrokerConfig): Promise<void> {
  for (let i = 0; i < 250; i++) {
    try {
      await Deno.lstat(config.exit);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const [program, ...args] = config.hook!;
  await new Deno.Command("setsid", {
    args: [
      "-f",
      "sh",
      "-c",
      'log=$1; shift; exec "$@" </dev/null >>"$log" 2>&1',
      "sh",
      config.hookLog ?? "/dev/null",
      program,
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch(() => {});
}
