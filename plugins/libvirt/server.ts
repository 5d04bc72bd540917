/**
 * The libvirt daemon: the remote protocol on a read-write and a read-only UNIX
 * socket. Each connection reads whole frames (a bad length, a truncated frame or
 * an unknown program closes that connection only), answers keepalive pings at
 * once, runs its calls one after another and writes each reply or event as one
 * whole frame. Nothing a client sends can stop the daemon.
 *
 * @module
 */
import {
  ConflictError,
  InputError,
  MonitorError,
  StateError,
  VmanError,
} from "../../core/errors.ts";
import type { Driver } from "./driver.ts";
import { DomainExistsError, NoDomainError } from "./driver.ts";
import { DomainXmlError } from "./domain_xml.ts";
import type { DomainEvent, Snapshot } from "./events.ts";
import { diff, snapshotOf } from "./events.ts";
import type { CallContext, Session } from "./procedures.ts";
import { PROCEDURES, RpcError, writeDomain } from "./procedures.ts";
import {
  decodeHeader,
  ErrorCode,
  ErrorDomain,
  finishFrame,
  frameWriter,
  type Header,
  HEADER_SIZE,
  KEEPALIVE_PROGRAM,
  KeepaliveProc,
  MAX_MESSAGE,
  MessageType,
  Proc,
  PROTOCOL_VERSION,
  REMOTE_PROGRAM,
  Status,
} from "./protocol.ts";
import { XdrError, XdrReader } from "./xdr.ts";

/** Options of the daemon. */
export interface ServerOptions {
  /** The domains. */
  driver: Driver;
  /** Read-write socket path (mode 0600). */
  socket: string;
  /** Read-only socket path (mode 0666, as libvirt's), or undefined for none. */
  roSocket?: string;
  /** vmanager's version. */
  version: string;
  /** The host UUID of capabilities. */
  hostUuid: string;
  /** Log lines (errors, refused connections). */
  log?: (line: string) => void;
  /** How often `state.json` is checked for changes made by others, in ms (default 200). */
  pollMs?: number;
  /** Most connections at once (default 1024). */
  maxClients?: number;
}

/** The daemon's default read-write socket. */
export const DEFAULT_SOCKET = "/run/vmanager/libvirt-sock";
/** The daemon's default read-only socket. */
export const DEFAULT_RO_SOCKET = "/run/vmanager/libvirt-sock-ro";

const MAX_QUEUED_CALLS = 64;
/** Largest frame on the read-only socket. */
const MAX_READ_ONLY_MESSAGE = 1024 * 1024;
/** Most bytes of calls being received or waiting to run, over every connection. */
const MAX_BUFFERED = 256 * 1024 * 1024;
const MAX_QUEUED_WRITES = 4096;

/** Thrown when the daemon cannot listen. */
export class DaemonError extends VmanError {}

/** The error code and message a failure is reported with. */
export function errorOf(error: unknown): { code: number; message: string } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  if (error instanceof XdrError) {
    return { code: ErrorCode.RPC, message: `malformed arguments: ${error.message}` };
  }
  if (error instanceof DomainXmlError) {
    return { code: ErrorCode.XML_ERROR, message: `XML error: ${error.line()}` };
  }
  if (error instanceof NoDomainError) return { code: ErrorCode.NO_DOMAIN, message: error.message };
  if (error instanceof DomainExistsError) {
    return { code: ErrorCode.DOM_EXIST, message: `operation failed: ${error.message}` };
  }
  if (error instanceof StateError) {
    return {
      code: ErrorCode.OPERATION_INVALID,
      message: `Requested operation is not valid: ${error.line()}`,
    };
  }
  if (error instanceof ConflictError || error instanceof MonitorError) {
    return { code: ErrorCode.OPERATION_FAILED, message: `operation failed: ${error.line()}` };
  }
  if (error instanceof InputError) {
    return { code: ErrorCode.INVALID_ARG, message: `invalid argument: ${error.line()}` };
  }
  if (error instanceof VmanError) {
    return { code: ErrorCode.OPERATION_FAILED, message: `operation failed: ${error.line()}` };
  }
  return {
    code: ErrorCode.INTERNAL_ERROR,
    message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
  };
}

/** Reads exact byte counts from a connection through one buffer. */
class FrameReader {
  private buf = new Uint8Array(65536);
  private start = 0;
  private end = 0;

  constructor(private readonly conn: Deno.Conn) {}

  /**
   * `n` bytes, or undefined at EOF before the first byte; throws on EOF midway. The
   * result grows with what arrives, so a length alone does not allocate the frame.
   */
  async exact(n: number): Promise<Uint8Array | undefined> {
    if (this.end - this.start >= n) {
      const out = this.buf.slice(this.start, this.start + n);
      this.start += n;
      return out;
    }
    const chunks = [this.buf.slice(this.start, this.end)];
    let have = this.end - this.start;
    this.start = this.end = 0;
    while (have < n) {
      const got = await this.conn.read(this.buf);
      if (got === null) return this.eof(have);
      const take = Math.min(got, n - have);
      chunks.push(this.buf.slice(0, take));
      have += take;
      [this.start, this.end] = [take, got];
    }
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  private eof(have: number): undefined {
    if (have > 0) throw new FrameError(`connection closed in the middle of a frame`);
    return undefined;
  }
}

class FrameError extends Error {}

/** One client connection. */
class Connection {
  readonly session: Session = { open: false, readOnly: false, callbacks: new Map() };
  private writes: Promise<void> = Promise.resolve();
  private queuedWrites = 0;
  private calls: Promise<void> = Promise.resolve();
  private queuedCalls = 0;
  closed = false;

  constructor(
    private readonly server: LibvirtServer,
    private readonly conn: Deno.Conn,
    private readonly roSocket: boolean,
    readonly number: number,
  ) {
    this.session.readOnly = roSocket;
  }

  /** Serves the connection until EOF or a protocol error. */
  async serve(): Promise<void> {
    const reader = new FrameReader(this.conn);
    try {
      while (!this.closed) {
        const lenBytes = await reader.exact(4);
        if (!lenBytes) break;
        const length = new DataView(lenBytes.buffer).getUint32(0);
        // Read-only connections never send more than names and flags.
        const max = this.roSocket ? MAX_READ_ONLY_MESSAGE : MAX_MESSAGE;
        if (length < HEADER_SIZE || length > max) {
          throw new FrameError(`frame length ${length} is out of range (${HEADER_SIZE}–${max})`);
        }
        if (!this.server.reserve(length)) {
          throw new FrameError(`the daemon holds ${MAX_BUFFERED} bytes of calls already`);
        }
        let frame: Uint8Array | undefined;
        try {
          const rest = await reader.exact(length - 4);
          if (!rest) throw new FrameError("connection closed in the middle of a frame");
          frame = new Uint8Array(length);
          frame.set(lenBytes, 0);
          frame.set(rest, 4);
        } finally {
          if (!frame) this.server.release(length);
        }
        this.frame(frame, length);
      }
    } catch (error) {
      if (error instanceof FrameError) {
        this.server.log(`client ${this.number}: ${error.message}; closing it`);
      } else if (!this.closed && !(error instanceof Deno.errors.BadResource)) {
        this.server.log(`client ${this.number}: ${(error as Error).message}; closing it`);
      }
    } finally {
      this.close();
    }
  }

  /** Handles a whole frame; the `reserved` bytes are released once it is done with. */
  private frame(frame: Uint8Array, reserved: number): void {
    let queued = false;
    try {
      queued = this.dispatch(frame, reserved);
    } finally {
      if (!queued) this.server.release(reserved);
    }
  }

  /** True when the frame is a call queued to run (which releases its bytes). */
  private dispatch(frame: Uint8Array, reserved: number): boolean {
    const header = decodeHeader(frame);
    if (header.vers !== PROTOCOL_VERSION) {
      throw new FrameError(`program version ${header.vers} is not ${PROTOCOL_VERSION}`);
    }
    if (header.prog === KEEPALIVE_PROGRAM) {
      if (header.type !== MessageType.MESSAGE) {
        throw new FrameError("keepalive message of a wrong type");
      }
      if (header.proc === KeepaliveProc.PING) {
        this.send(finishFrame(frameWriter(), {
          ...header,
          proc: KeepaliveProc.PONG,
          type: MessageType.MESSAGE,
          serial: 0,
          status: Status.OK,
        }));
      }
      return false;
    }
    if (header.prog !== REMOTE_PROGRAM) {
      throw new FrameError(`unknown program 0x${header.prog.toString(16)}`);
    }
    if (header.type !== MessageType.CALL || header.status !== Status.OK) {
      throw new FrameError(`message type ${header.type} status ${header.status} is not a call`);
    }
    if (this.queuedCalls + 1 > MAX_QUEUED_CALLS) {
      throw new FrameError(`more than ${MAX_QUEUED_CALLS} calls in flight`);
    }
    this.queuedCalls++;
    const payload = frame.subarray(HEADER_SIZE);
    this.calls = this.calls.then(() => this.call(header, payload)).catch((error) => {
      this.server.log(`client ${this.number}: ${(error as Error).message}`);
    }).finally(() => {
      this.queuedCalls--;
      this.server.release(reserved);
    });
    return true;
  }

  private async call(header: Header, payload: Uint8Array): Promise<void> {
    if (this.closed) return;
    const procedure = PROCEDURES.get(header.proc);
    const w = frameWriter();
    try {
      if (!procedure) {
        throw new RpcError(
          ErrorCode.NO_SUPPORT,
          `this function is not supported by vmanager: remote procedure ${header.proc}`,
        );
      }
      if (!this.session.open && !procedure.beforeOpen) {
        throw new RpcError(ErrorCode.OPERATION_INVALID, "the connection is not open");
      }
      if (procedure.mutates && this.session.readOnly) {
        throw new RpcError(
          ErrorCode.OPERATION_DENIED,
          `operation forbidden: read only access prevents ${procedure.name}`,
        );
      }
      await procedure.run(this.server.context(this.session), new XdrReader(payload), w);
      this.send(finishFrame(w, { ...header, type: MessageType.REPLY, status: Status.OK }));
    } catch (error) {
      const e = frameWriter();
      const { code, message } = errorOf(error);
      e.int(code).int(code === ErrorCode.RPC ? ErrorDomain.RPC : ErrorDomain.REMOTE)
        .optional(message, (x, m) => x.string(m)).int(2).uint(0).uint(0).uint(0).uint(0)
        .int(0).int(0).uint(0);
      this.send(finishFrame(e, { ...header, type: MessageType.REPLY, status: Status.ERROR }));
    }
    if (header.proc === Proc.CONNECT_CLOSE) {
      await this.writes;
      this.close();
    }
  }

  /** Queues one whole frame; the writes of a connection go out in order. */
  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (++this.queuedWrites > MAX_QUEUED_WRITES) {
      this.server.log(`client ${this.number}: does not read its replies; closing it`);
      this.close();
      return;
    }
    this.writes = this.writes.then(async () => {
      let done = 0;
      while (done < bytes.length && !this.closed) {
        done += await this.conn.write(bytes.subarray(done));
      }
    }).catch(() => this.close()).finally(() => this.queuedWrites--);
  }

  /** Settles when the call running now (if any) has finished; queued ones are dropped once closed. */
  drained(): Promise<void> {
    return this.calls;
  }

  /** Sends a lifecycle event to the callbacks that want it. */
  event(event: DomainEvent): void {
    for (const [id, callback] of this.session.callbacks) {
      if (callback.eventID !== 0) continue; // VIR_DOMAIN_EVENT_ID_LIFECYCLE
      if (callback.uuid !== undefined && callback.uuid !== event.dom.uuid) continue;
      const w = frameWriter();
      w.int(id);
      writeDomain(w, event.dom);
      w.int(event.event).int(event.detail);
      this.send(finishFrame(w, {
        prog: REMOTE_PROGRAM,
        vers: PROTOCOL_VERSION,
        proc: Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE,
        type: MessageType.MESSAGE,
        serial: 0,
        status: Status.OK,
      }));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.server.forget(this);
  }
}

/** The daemon. */
export class LibvirtServer {
  private readonly listeners: { listener: Deno.Listener; path: string }[] = [];
  private readonly connections = new Set<Connection>();
  private count = 0;
  private callbackIds = 0;
  private last?: Snapshot;
  private refreshing: Promise<void> = Promise.resolve();
  private pendingRefresh = false;
  private timer?: ReturnType<typeof setInterval>;
  private readonly done: Promise<void>[] = [];
  private stopping = false;

  /** Makes the daemon (call {@linkcode listen}). */
  constructor(private readonly options: ServerOptions) {}

  /** Writes a log line. */
  log(line: string): void {
    this.options.log?.(line);
  }

  /** The context of a call on `session`. */
  context(session: Session): CallContext {
    return {
      driver: this.options.driver,
      session,
      hostUuid: this.options.hostUuid,
      version: this.options.version,
      nextCallbackId: () => ++this.callbackIds,
    };
  }

  /** Number of open connections. */
  get clients(): number {
    return this.connections.size;
  }

  /** Binds the sockets, starts watching the state and accepting clients. */
  async listen(): Promise<void> {
    this.last = snapshotOf(await this.options.driver.records());
    this.options.driver.onChange = () => void this.refresh();
    const sockets: [string, boolean, number][] = [[this.options.socket, false, 0o600]];
    if (this.options.roSocket) sockets.push([this.options.roSocket, true, 0o666]);
    try {
      for (const [path, readOnly, mode] of sockets) {
        const listener = await bind(path, mode);
        this.listeners.push({ listener, path });
        this.done.push(this.accept(listener, readOnly));
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.timer = setInterval(() => this.refresh(), this.options.pollMs ?? 200);
  }

  private async accept(listener: Deno.Listener, readOnly: boolean): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.connections.size >= (this.options.maxClients ?? 1024)) {
          this.log(`refusing a client: ${this.connections.size} connections are open`);
          conn.close();
          continue;
        }
        const connection = new Connection(this, conn, readOnly, ++this.count);
        this.connections.add(connection);
        connection.serve().catch((error) => this.log(`client: ${(error as Error).message}`));
      }
    } catch (error) {
      if (!this.stopping) this.log(`accept: ${(error as Error).message}`);
    }
  }

  private buffered = 0;

  /** Counts `bytes` of a call being received; false when the daemon holds too many. */
  reserve(bytes: number): boolean {
    if (this.buffered + bytes > MAX_BUFFERED) return false;
    this.buffered += bytes;
    return true;
  }

  /** Releases bytes counted by {@linkcode reserve}. */
  release(bytes: number): void {
    this.buffered -= bytes;
  }

  /** Forgets a closed connection. */
  forget(connection: Connection): void {
    this.connections.delete(connection);
  }

  /** Looks at the state now and sends the events of what changed (in order, one look at a time). */
  refresh(): Promise<void> {
    if (this.pendingRefresh) return this.refreshing;
    this.pendingRefresh = true;
    this.refreshing = this.refreshing.then(async () => {
      this.pendingRefresh = false;
      const now = snapshotOf(await this.options.driver.records());
      const events = diff(this.last ?? new Map(), now);
      this.last = now;
      for (const event of events) for (const c of this.connections) c.event(event);
    }).catch((error) => this.log(`watching the state: ${(error as Error).message}`));
    return this.refreshing;
  }

  /** Stops listening, closes every connection and removes the sockets. */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const { listener, path } of this.listeners) {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await Deno.remove(path).catch(() => {});
    }
    // A change being made (a start, a define) completes: it is never cut off halfway.
    const open = [...this.connections];
    for (const c of open) c.close();
    await Promise.all(open.map((c) => c.drained()));
    await Promise.all(this.done);
    await this.refreshing;
  }
}

/**
 * Listens on `path` and gives the socket `mode` at once (the default umask leaves
 * it writable by its owner alone meanwhile). A stale socket is replaced; a live
 * one (another daemon) is an error.
 */
async function bind(path: string, mode: number): Promise<Deno.Listener> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new DaemonError(`cannot create the socket directory: ${(error as Error).message}`, dir);
  }
  try {
    const probe = await Deno.connect({ transport: "unix", path });
    probe.close();
    throw new DaemonError("another daemon is listening on this socket", path);
  } catch (error) {
    if (error instanceof DaemonError) throw error;
    if (error instanceof Deno.errors.NotCapable) throw notCapable(path);
  }
  // Only a stale socket is replaced, never another kind of file.
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isSocket) {
    throw new DaemonError("the socket path is taken by a file that is not a socket", path);
  }
  if (existing) await Deno.remove(path).catch(() => {});
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw notCapable(path);
    throw new DaemonError(`cannot bind the socket: ${(error as Error).message}`, path);
  }
  try {
    await Deno.chmod(path, mode);
  } catch (error) {
    listener.close();
    throw new DaemonError(`cannot set the socket's mode: ${(error as Error).message}`, path);
  }
  return listener;
}

function notCapable(path: string): DaemonError {
  return new DaemonError(
    `vmanctl may not use this socket: run it with --allow-net=unix:${path}`,
    path,
  );
}
