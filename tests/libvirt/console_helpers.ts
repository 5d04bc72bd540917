/**
 * Helpers for the console tests: a daemon in this process whose driver reaches the
 * registry's monitor plugins (as `vmanctl daemon` does once wired), a fake monitor
 * plugin whose consoles are a tiny scripted shell, a raw protocol client, and tmux
 * for the interactive `virsh console`.
 *
 * @module
 */
import { CliContext, type CliHost } from "../../core/cli/context.ts";
import { ConsoleBusyError, type ConsoleEnd } from "../../core/monitor/console.ts";
import type { ConsoleOpenOptions, ConsoleSession } from "../../core/monitor/console.ts";
import { StateError } from "../../core/errors.ts";
import { dryRunMonitor } from "../../core/monitor/dry_run.ts";
import type { MonitorPlugin, Plugin } from "../../core/registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/plugin.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";
import { Driver, LibvirtServer } from "../../plugins/libvirt/mod.ts";
import type { PowerOptions } from "../../plugins/libvirt/power.ts";
import {
  decodeHeader,
  finishFrame,
  frameWriter,
  type Header,
  HEADER_SIZE,
  MessageType,
  PROTOCOL_VERSION,
  REMOTE_PROGRAM,
  Status,
} from "../../plugins/libvirt/protocol.ts";
import type { DomainRef } from "../../plugins/libvirt/driver.ts";
import { readDomain, writeDomain } from "../../plugins/libvirt/procedures.ts";
import { XdrReader, type XdrWriter } from "../../plugins/libvirt/xdr.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The fake guest's shell prompt. */
export const FAKE_PROMPT = "fake-guest# ";

/** What `cat /proc/interrupts` answers in the fake guest. */
export const FAKE_INTERRUPTS = " 11:       4242     GICv3  27 Level     arch_timer\r\n";

/** A console session of the fake backend: a line shell that echoes what it is sent. */
export class FakeSession implements ConsoleSession {
  readonly output: ReadableStream<Uint8Array>;
  readonly ended: Promise<ConsoleEnd>;
  /** Bytes the session has sent to its reader. */
  produced = 0;
  /** Everything written to the session. */
  written = "";
  private readonly queue: Uint8Array[] = [];
  private flood = 0;
  private line = "";
  private signal?: () => void;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private finish!: (why: ConsoleEnd) => void;
  private over = false;

  /** A session of `owner`'s partition `id`, opened with `options`. */
  constructor(
    private readonly owner: FakeConsoles,
    readonly id: number,
    readonly options: ConsoleOpenOptions,
  ) {
    this.ended = new Promise((resolve) => this.finish = resolve);
    // Demand-driven: output is made only as fast as the reader takes it.
    this.output = new ReadableStream<Uint8Array>({
      start: (c) => void (this.controller = c),
      pull: async (c) => {
        while (!this.over && this.queue.length === 0 && this.flood === 0) {
          await new Promise<void>((resolve) => this.signal = resolve);
        }
        if (this.over) return;
        let chunk = this.queue.shift();
        if (!chunk) {
          const n = Math.min(this.flood, 65536);
          this.flood -= n;
          chunk = new Uint8Array(n).fill(0x78);
          if (this.flood === 0) this.say(`\r\nflood done\r\n${FAKE_PROMPT}`);
        }
        this.produced += chunk.length;
        c.enqueue(chunk);
      },
    }, { highWaterMark: 1 });
  }

  /** Queues text for the reader. */
  say(text: string): void {
    this.queue.push(encoder.encode(text));
    this.wake();
  }

  private wake(): void {
    const signal = this.signal;
    this.signal = undefined;
    signal?.();
  }

  /** Echoes like a tty; a CR or LF runs the line. */
  write(bytes: Uint8Array): Promise<void> {
    if (this.over) return Promise.reject(new StateError("the console session has ended"));
    const text = decoder.decode(bytes);
    this.written += text;
    const parts = text.split(/[\r\n]/);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) {
        this.say("\r\n");
        this.run(this.line.trim());
        this.line = "";
      }
      // Echoed as it comes, a line's text kept for when it ends (a long one only in part).
      if (parts[i]) this.say(parts[i]);
      this.line = (this.line + parts[i]).slice(-4096);
    }
    return Promise.resolve();
  }

  private run(command: string): void {
    if (command === "cat /proc/interrupts") {
      this.say(`           CPU0\r\n${FAKE_INTERRUPTS}${FAKE_PROMPT}`);
    } else if (command.startsWith("flood ")) {
      this.flood = Number(command.slice(6));
      this.wake();
    } else if (command === "") this.say(FAKE_PROMPT);
    else this.say(`sh: ${command}: not found\r\n${FAKE_PROMPT}`);
  }

  /** Ends the session with `why`. */
  end(why: ConsoleEnd): void {
    if (this.over) return;
    this.over = true;
    this.owner.forget(this);
    this.finish(why);
    this.wake();
    try {
      this.controller.close();
    } catch {
      // cancelled by its reader
    }
  }

  /** Ends the session (its opener closed it). */
  close(): void {
    this.end("closed");
  }
}

/** The fake backend's consoles: one writing session per partition, as the real broker. */
export class FakeConsoles {
  /** The writing session of each partition id. */
  readonly writers = new Map<number, FakeSession>();
  /** Every session opened, in order. */
  readonly sessions: FakeSession[] = [];

  /** Opens a session; refused when another writes (without force) or the partition is stopped. */
  open(id: number, options: ConsoleOpenOptions): Promise<ConsoleSession> {
    if (this.stopped.has(id)) {
      return Promise.reject(new StateError(`partition ${id} is not running`));
    }
    const holder = this.writers.get(id);
    if (holder && !options.force) {
      return Promise.reject(
        new ConsoleBusyError(`the console is used by ${holder.options.who}`, `partition ${id}`),
      );
    }
    holder?.end("taken-over");
    const session = new FakeSession(this, id, options);
    this.writers.set(id, session);
    this.sessions.push(session);
    session.say(FAKE_PROMPT);
    return Promise.resolve(session);
  }

  /** Ids whose consoles refuse to open (the backend sees them stopped). */
  readonly stopped = new Set<number>();

  /** The partition `id` stops: its session ends with `stopped`. */
  stop(id: number): void {
    this.writers.get(id)?.end("stopped");
  }

  /** Forgets an ended session. */
  forget(session: FakeSession): void {
    if (this.writers.get(session.id) === session) this.writers.delete(session.id);
  }

  /** The monitor plugin `fake-console`: dry-run's monitor with these consoles. */
  plugin(): MonitorPlugin {
    const dry = dryRunMonitor();
    return {
      kind: "monitor",
      name: "fake-console",
      version: "1.0.0",
      apiVersion: PLUGIN_API_VERSION,
      description: "dry-run with scripted consoles (tests)",
      create: (context) => dry.create(context),
      openConsole: (_context, id, options) => this.open(id, options),
    };
  }
}

/** A daemon running in this process. */
export interface InProcessDaemon {
  /** The state dir. */
  stateDir: string;
  /** The read-write socket. */
  socket: string;
  /** The read-only socket. */
  roSocket: string;
  /** The URI of the read-write socket. */
  uri: string;
  /** The URI of the read-only socket. */
  roUri: string;
  /** The server. */
  server: LibvirtServer;
  /** Its log lines. */
  logs: string[];
  /** Stops it. */
  stop(): Promise<void>;
}

/** More of an in-process daemon's set-up. */
export interface InProcessOptions {
  /** Its board (default qemu-virt-arm64). */
  board?: string;
  /** How shutdowns are awaited (default the driver's). */
  power?: PowerOptions;
  /** How often the server polls for changes (default the server's). */
  pollMs?: number;
}

/**
 * Starts the daemon in this process on `dir` with `backend` (board qemu-virt-arm64
 * unless `options` names another), its driver reaching the monitor plugins of the
 * registry (built-ins and `extra`).
 */
export async function startInProcessDaemon(
  dir: string,
  backend: string,
  extra: Plugin[] = [],
  options: InProcessOptions = {},
): Promise<InProcessDaemon> {
  const logs: string[] = [];
  const host: CliHost = {
    io: { out: (t) => logs.push(t), err: (t) => logs.push(t) },
    env: (name) => name === "VMAN_PLUGIN_PATH" ? "" : Deno.env.get(name),
    builtins: async () => [...await builtinPlugins(), ...extra],
    boardFiles: builtinBoards,
  };
  const stateDir = `${dir}/state`;
  const ctx = new CliContext(host, {
    stateDir,
    board: options.board ?? "qemu-virt-arm64",
    backend,
    pluginDirs: [],
    json: false,
    verbose: false,
  });
  const driver = new Driver(await ctx.lifecycle(), {
    monitorPlugin: async (name) => {
      const registry = await ctx.registry({ boards: false });
      return registry.has("monitor", name) ? registry.get("monitor", name) : undefined;
    },
    power: options.power,
  });
  const socket = `${dir}/sock`;
  const roSocket = `${dir}/sock-ro`;
  const server = new LibvirtServer({
    driver,
    socket,
    roSocket,
    version: "0.1.0",
    hostUuid: "00000000-0000-4000-8000-000000000001",
    log: (line) => logs.push(line),
    pollMs: options.pollMs,
  });
  await server.listen();
  const uri = (path: string) => `vmanager+unix:///system?socket=${path}`;
  return {
    stateDir,
    socket,
    roSocket,
    uri: uri(socket),
    roUri: uri(roSocket),
    server,
    logs,
    stop: () => server.close(),
  };
}

/** A message the raw client received. */
export interface Received {
  /** Its header. */
  header: Header;
  /** Its body. */
  body: Uint8Array;
}

/** A `remote_error` body. */
export interface RemoteError {
  /** The code. */
  code: number;
  /** The domain. */
  domain: number;
  /** The message. */
  message?: string;
}

/** Reads a `remote_error`. */
export function readError(body: Uint8Array): RemoteError {
  const r = new XdrReader(body);
  const code = r.int();
  const domain = r.int();
  const message = r.optional((x) => x.string(1 << 20));
  return { code, domain, message };
}

/** A libvirt client speaking the wire protocol itself, to check each packet. */
export class RawClient {
  private serial = 0;
  private readonly replies = new Map<number, PromiseWithResolvers<Received>>();
  private readonly streams = new Map<number, Received[]>();
  private waiting?: () => void;
  private readonly reading: Promise<void>;
  /** The connection ended (EOF or error). */
  closed = false;
  /** Bytes of stream data received so far, by serial. */
  readonly streamBytes = new Map<number, number>();
  /** Stop reading the socket (to let its backlog grow) while set. */
  paused?: Promise<void>;

  private constructor(private readonly conn: Deno.UnixConn) {
    this.reading = this.read();
  }

  /** Connects to `path` and opens the connection (read-only when asked). */
  static async open(path: string, readOnly = false): Promise<RawClient> {
    const client = new RawClient(await Deno.connect({ transport: "unix", path }));
    await client.call(1, (w) => w.uint(0).uint(readOnly ? 1 : 0));
    return client;
  }

  private async read(): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    try {
      while (true) {
        if (this.paused) await this.paused;
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        while (buf.length >= 4) {
          const length = new DataView(buf.buffer, buf.byteOffset).getUint32(0);
          if (buf.length < length) break;
          const frame = buf.slice(0, length);
          buf = buf.slice(length);
          this.dispatch({ header: decodeHeader(frame), body: frame.subarray(HEADER_SIZE) });
        }
      }
    } catch {
      // closed under us
    } finally {
      this.closed = true;
      for (const [, reply] of this.replies) reply.reject(new Error("connection closed"));
      this.replies.clear();
      this.notify();
    }
  }

  private dispatch(message: Received): void {
    const { header } = message;
    if (header.type === MessageType.REPLY) {
      const waiting = this.replies.get(header.serial);
      this.replies.delete(header.serial);
      waiting?.resolve(message);
    } else if (header.type === MessageType.STREAM) {
      const list = this.streams.get(header.serial) ?? [];
      list.push(message);
      this.streams.set(header.serial, list);
      this.streamBytes.set(
        header.serial,
        (this.streamBytes.get(header.serial) ?? 0) + message.body.length,
      );
      this.notify();
    }
  }

  private notify(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  /** Sends a frame. */
  async sendFrame(
    header: Omit<Header, "prog" | "vers">,
    body?: (w: XdrWriter) => void,
  ): Promise<void> {
    const w = frameWriter();
    body?.(w);
    const bytes = finishFrame(w, { prog: REMOTE_PROGRAM, vers: PROTOCOL_VERSION, ...header });
    for (let done = 0; done < bytes.length;) done += await this.conn.write(bytes.subarray(done));
  }

  /** Sends a call and waits for its reply. */
  async call(proc: number, args?: (w: XdrWriter) => void): Promise<Received> {
    const serial = ++this.serial;
    const reply = Promise.withResolvers<Received>();
    this.replies.set(serial, reply);
    await this.sendFrame({ proc, type: MessageType.CALL, serial, status: Status.OK }, args);
    return await reply.promise;
  }

  /** Looks a domain up by name. */
  async lookup(name: string): Promise<DomainRef> {
    const reply = await this.call(23, (w) => w.string(name));
    if (reply.header.status !== Status.OK) {
      throw new Error(`lookup ${name}: ${readError(reply.body).message}`);
    }
    return readDomain(new XdrReader(reply.body));
  }

  /** Calls DOMAIN_OPEN_CONSOLE; its reply (the stream's serial is the reply's). */
  openConsole(dom: DomainRef, flags = 0, devName?: string): Promise<Received> {
    return this.call(201, (w) => {
      writeDomain(w, dom);
      w.optional(devName, (x, d) => x.string(d));
      w.uint(flags);
    });
  }

  /** Sends a stream packet on `serial`: data (CONTINUE), finish (OK) or abort (ERROR). */
  streamPacket(serial: number, status: number, data?: Uint8Array): Promise<void> {
    return this.sendFrame(
      { proc: 201, type: MessageType.STREAM, serial, status },
      data ? (w) => w.raw(data) : undefined,
    );
  }

  /** Sends text on the stream `serial`. */
  send(serial: number, text: string): Promise<void> {
    return this.streamPacket(serial, Status.CONTINUE, encoder.encode(text));
  }

  /** The next stream packet of `serial` (waits up to `ms`). */
  async next(serial: number, ms = 10_000): Promise<Received> {
    const deadline = Date.now() + ms;
    while (true) {
      const list = this.streams.get(serial);
      if (list && list.length > 0) return list.shift()!;
      if (this.closed) throw new Error(`connection closed waiting on stream ${serial}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet on stream ${serial} in ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Reads stream data of `serial` until `text` has come (or a non-data packet); returns it all. */
  async until(serial: number, text: string, ms = 10_000): Promise<string> {
    let seen = "";
    const deadline = Date.now() + ms;
    while (!seen.includes(text)) {
      const packet = await this.next(serial, Math.max(1, deadline - Date.now()));
      if (packet.header.status !== Status.CONTINUE || packet.body.length === 0) {
        throw new Error(`stream ${serial} ended (status ${packet.header.status}) after ${seen}`);
      }
      seen += decoder.decode(packet.body);
    }
    return seen;
  }

  /** Stream packets of `serial` received and not yet taken. */
  queued(serial: number): Received[] {
    return this.streams.get(serial) ?? [];
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.reading;
  }
}

/** Polls `check` every 50 ms until it is true or `ms` pass. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = "",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A tmux server of its own (socket in a test dir), for programs that need a terminal. */
export class Tmux {
  /** Uses the tmux socket `socket`. */
  constructor(private readonly socket: string) {}

  /** Runs tmux with `args`. */
  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
      env: { TERM: "xterm" },
    }).output();
    if (!out.success) {
      throw new Error(`tmux ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
    }
    return decoder.decode(out.stdout);
  }

  /**
   * Starts a window `name` running `command` in `sh`; the window stays after it
   * exits, and its exit status is written next to the tmux socket.
   */
  async start(name: string, command: string): Promise<void> {
    const has = await new Deno.Command("tmux", {
      args: ["-S", this.socket, "has-session"],
      stdout: "null",
      stderr: "null",
    }).output();
    // tmux 3.3 does not always record a dead pane's status: the shell writes it.
    const line = `${command}; echo $? > '${this.statusFile(name)}'`;
    if (!has.success) {
      await this.run("new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "-n", name, line);
    } else await this.run("new-window", "-d", "-t", "t:", "-n", name, line);
    await this.run("set-option", "-t", `t:${name}`, "remain-on-exit", "on");
  }

  private statusFile(name: string): string {
    return `${this.socket}.${name}.status`;
  }

  /** Types keys into the window `name` (`send-keys` syntax). */
  async keys(name: string, ...keys: string[]): Promise<void> {
    await this.run("send-keys", "-t", `t:${name}`, ...keys);
  }

  /** The window's screen and history as text. */
  async screen(name: string): Promise<string> {
    return await this.run("capture-pane", "-p", "-J", "-S", "-1000", "-t", `t:${name}`);
  }

  /** The exit status of the window's command, or undefined while it runs. */
  async exitStatus(name: string): Promise<number | undefined> {
    try {
      const text = (await Deno.readTextFile(this.statusFile(name))).trim();
      return text === "" ? undefined : Number(text);
    } catch {
      return undefined;
    }
  }

  /** Waits until the window's screen matches `pattern`. */
  async waitScreen(name: string, pattern: RegExp, ms = 20_000): Promise<string> {
    let text = "";
    await waitFor(async () => pattern.test(text = await this.screen(name)), ms, `${pattern}`)
      .catch((error) => {
        throw new Error(`${(error as Error).message}; screen:\n${text}`);
      });
    return text;
  }

  /** Ends the tmux server and what runs in it. */
  async kill(): Promise<void> {
    await new Deno.Command("tmux", {
      args: ["-S", this.socket, "kill-server"],
      stdout: "null",
      stderr: "null",
    }).output();
  }
}
