/**
 * One client connection of the daemon: whole frames in (a bad length, a truncated
 * frame or an unknown program closes it), keepalive pings answered at once, calls
 * run one after another, stream packets handed to their stream (by serial) at once,
 * each reply, event or stream packet written as one whole frame.
 *
 * @module
 */
import type { ConsoleSession } from "../../core/monitor/console.ts";
import type { DomainEvent } from "./events.ts";
import { domainOf, errorBody, errorOf, RpcError } from "./errors.ts";
import { FrameError, FrameReader } from "./frames.ts";
import type { CallContext, Session } from "./procedures.ts";
import { PROCEDURES, writeDomain } from "./procedures.ts";
import {
  decodeHeader,
  ErrorCode,
  EventId,
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
import { XdrReader } from "./xdr.ts";
import { ConsoleStream, STREAM_BACKLOG, type StreamLink } from "./stream.ts";

const MAX_QUEUED_CALLS = 64;
const MAX_QUEUED_WRITES = 4096;
/** Most streams open on one connection at once. */
const MAX_STREAMS = 64;
/** Serials of ended streams a connection remembers (to confirm a late finish or abort). */
const ENDED_STREAMS = 64;
/** Largest frame on the read-only socket. */
const MAX_READ_ONLY_MESSAGE = 1024 * 1024;
/** Most bytes of calls being received or waiting to run, over the read-write socket's connections. */
export const MAX_BUFFERED = 256 * 1024 * 1024;
/** Most bytes of calls being received or waiting to run, over the read-only socket's connections. */
export const MAX_READ_ONLY_BUFFERED = 64 * 1024 * 1024;
/** Time a new connection has to complete its first call before it is closed, in ms. */
export const HANDSHAKE_MS = 10_000;

/** Bytes of calls held (being received or waiting to run) by the connections of one socket. */
export class Budget {
  private used = 0;

  /** A budget of `limit` bytes. */
  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get held(): number {
    return this.used;
  }

  /** Counts `bytes`; false (and nothing counted) when they would go over the limit. */
  reserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  /** Releases bytes counted by {@linkcode reserve}. */
  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** What the connections of one socket share. */
export interface SocketLimits {
  /** The byte budget of the socket's connections. */
  budget: Budget;
  /** Time a new connection has to complete its first call, in ms. */
  handshakeMs: number;
}

/** What a connection needs from the daemon. */
export interface ConnectionHost {
  /** Writes a log line. */
  log(line: string): void;
  /** The context of a call on `session`. */
  context(session: Session): CallContext;
  /** Forgets a closed connection. */
  forget(connection: Connection): void;
}

/** One client connection. */
export class Connection {
  /** What the connection knows about itself. */
  readonly session: Session = { open: false, readOnly: false, callbacks: new Map() };
  private readonly outbox: Uint8Array[] = [];
  private writing?: Promise<void>;
  private readonly pending: { header: Header; payload: Uint8Array; release: () => void }[] = [];
  /** Bytes queued or being written to the socket. */
  private unwritten = 0;
  /** Streams waiting for the socket to take more. */
  private waiters: (() => void)[] = [];
  /** The open streams, by the serial of the call that opened each. */
  private readonly streams = new Map<number, ConsoleStream>();
  /** Serials of streams that ended, newest last. */
  private readonly endedStreams = new Set<number>();
  /** What this connection's streams use of it. */
  private readonly link: StreamLink = {
    send: (frame) => this.send(frame),
    writable: () => this.writable(),
    log: (line) => this.server.log(`client ${this.number}: ${line}`),
    forget: (stream) => {
      if (this.streams.get(stream.serial) !== stream) return;
      this.streams.delete(stream.serial);
      this.endedStreams.delete(stream.serial);
      this.endedStreams.add(stream.serial);
      if (this.endedStreams.size > ENDED_STREAMS) {
        this.endedStreams.delete(this.endedStreams.values().next().value!);
      }
    },
  };
  private running?: Promise<void>;
  /** Closed: nothing more is read or written. */
  closed = false;
  /** Closes the connection if its first call has not completed in time. */
  private handshake?: ReturnType<typeof setTimeout>;

  /** Serves `conn`; `roSocket` when it came on the read-only socket. */
  constructor(
    private readonly server: ConnectionHost,
    private readonly conn: Deno.Conn,
    private readonly roSocket: boolean,
    readonly number: number,
    private readonly limits: SocketLimits,
  ) {
    this.session.readOnly = roSocket;
  }

  /** Serves the connection until EOF or a protocol error. */
  async serve(): Promise<void> {
    const reader = new FrameReader(this.conn);
    // A client that never completes a call holds a connection for nothing: it gets a few seconds.
    this.handshake = setTimeout(() => {
      this.handshake = undefined;
      if (this.closed || this.running) return; // a first call that runs long completes
      this.server.log(
        `client ${this.number}: no call completed in ${this.limits.handshakeMs} ms; closing it`,
      );
      this.close();
    }, this.limits.handshakeMs);
    try {
      // Read-only connections never send more than names and flags.
      const max = this.roSocket ? MAX_READ_ONLY_MESSAGE : MAX_MESSAGE;
      let reserved = 0;
      const admit = (length: number) => {
        if (length < HEADER_SIZE || length > max) {
          throw new FrameError(`frame length ${length} is out of range (${HEADER_SIZE}–${max})`);
        }
        if (!this.limits.budget.reserve(length)) {
          throw new FrameError(
            `the daemon holds ${this.limits.budget.limit} bytes of calls on this socket already`,
          );
        }
        reserved = length;
      };
      while (!this.closed) {
        let frame: Uint8Array | undefined;
        try {
          frame = await reader.frame(admit);
        } finally {
          if (!frame && reserved) this.limits.budget.release(reserved);
        }
        if (!frame) break;
        reserved = 0; // handed over with the frame
        // A stream holding too much of the client's input: nothing more is read until it
        // has passed some on to its console.
        const full = this.frame(frame, frame.length);
        if (full) await full;
      }
    } catch (error) {
      if (error instanceof FrameError) {
        this.server.log(`client ${this.number}: ${error.message}; closing it`);
      } else if (
        !this.closed && !(error instanceof Deno.errors.BadResource) &&
        !(error instanceof Deno.errors.ConnectionReset) &&
        !(error instanceof Deno.errors.BrokenPipe)
      ) {
        // A client that hangs up (reset, broken pipe) is not worth a line.
        this.server.log(`client ${this.number}: ${(error as Error).message}; closing it`);
      }
    } finally {
      this.close();
    }
  }

  /**
   * Handles a whole frame; the `reserved` bytes are released once it is done with.
   * Returns a promise when reading should wait for it.
   */
  private frame(frame: Uint8Array, reserved: number): Promise<void> | undefined {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.limits.budget.release(reserved);
    };
    try {
      return this.dispatch(frame, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Runs, queues or routes a frame; `release` is called once its bytes are not held. */
  private dispatch(frame: Uint8Array, release: () => void): Promise<void> | undefined {
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
      release();
      return undefined;
    }
    if (header.prog !== REMOTE_PROGRAM) {
      throw new FrameError(`unknown program 0x${header.prog.toString(16)}`);
    }
    if (header.type === MessageType.STREAM) return this.streamPacket(header, frame, release);
    if (header.type !== MessageType.CALL || header.status !== Status.OK) {
      throw new FrameError(`message type ${header.type} status ${header.status} is not a call`);
    }
    if (this.pending.length + 1 > MAX_QUEUED_CALLS) {
      throw new FrameError(`more than ${MAX_QUEUED_CALLS} calls in flight`);
    }
    this.pending.push({ header, payload: frame.subarray(HEADER_SIZE), release });
    if (!this.running) this.running = this.pump();
    return undefined;
  }

  /**
   * A packet of a stream, matched by serial and procedure. As libvirtd, packets of a
   * stream the connection does not have are dropped; a finish or abort of one that
   * ended here is confirmed, so that a client waiting for the confirmation goes on.
   */
  private streamPacket(
    header: Header,
    frame: Uint8Array,
    release: () => void,
  ): Promise<void> | undefined {
    const stream = this.streams.get(header.serial);
    if (!stream || stream.call.proc !== header.proc) {
      release();
      if (header.status !== Status.CONTINUE && this.endedStreams.has(header.serial)) {
        this.send(finishFrame(frameWriter(), { ...header, status: Status.OK }));
      }
      return undefined;
    }
    return stream.packet(header, frame.subarray(HEADER_SIZE), release);
  }

  /** Runs the queued calls one after another, until none is left. */
  private async pump(): Promise<void> {
    // Started from dispatch: the first call runs at once, without a trip through the queue.
    for (let next = this.pending.shift(); next; next = this.pending.shift()) {
      try {
        await this.call(next.header, next.payload);
      } catch (error) {
        this.server.log(`client ${this.number}: ${(error as Error).message}`);
      } finally {
        next.release();
      }
    }
    this.running = undefined;
  }

  private async call(header: Header, payload: Uint8Array): Promise<void> {
    if (this.closed) return;
    const procedure = PROCEDURES.get(header.proc);
    const w = frameWriter();
    // A console the call opens becomes its stream once the reply is queued.
    let opened: ConsoleStream | undefined;
    const context: CallContext = {
      ...this.server.context(this.session),
      client: `libvirt client ${this.number} of vmanctl daemon (pid ${Deno.pid})`,
      stream: (session: ConsoleSession) => {
        if (opened || this.closed || this.streams.size >= MAX_STREAMS) {
          session.close();
          throw new RpcError(
            ErrorCode.OPERATION_FAILED,
            `operation failed: ${MAX_STREAMS} streams are open on this connection`,
          );
        }
        opened = new ConsoleStream(this.link, header, session);
      },
    };
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
      await procedure.run(context, new XdrReader(payload), w);
      if (opened) {
        if (this.closed) {
          opened.close();
          return;
        }
        this.streams.get(header.serial)?.close();
        this.streams.set(header.serial, opened);
      }
      this.send(finishFrame(w, { ...header, type: MessageType.REPLY, status: Status.OK }));
      opened?.start();
    } catch (error) {
      opened?.close();
      const e = frameWriter();
      const { code, message } = errorOf(error);
      errorBody(e, code, domainOf(code), message);
      this.send(finishFrame(e, { ...header, type: MessageType.REPLY, status: Status.ERROR }));
    }
    this.handshook();
    if (header.proc === Proc.CONNECT_CLOSE) {
      await this.written();
      this.close();
    }
  }

  /** Queues one whole frame; the writes of a connection go out in order. */
  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.outbox.length >= MAX_QUEUED_WRITES) {
      this.server.log(`client ${this.number}: does not read its replies; closing it`);
      this.close();
      return;
    }
    this.outbox.push(bytes);
    this.unwritten += bytes.length;
    if (!this.writing) this.writing = this.flush();
  }

  /** Undefined while streams may queue more data, else a promise of when they may. */
  private writable(): Promise<void> | undefined {
    if (this.closed || this.roomy()) return undefined;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push(resolve);
    return promise;
  }

  /** True while the socket's backlog leaves room for stream data. */
  private roomy(): boolean {
    return this.unwritten <= STREAM_BACKLOG && this.outbox.length < MAX_QUEUED_WRITES / 2;
  }

  /** Lets waiting streams go on once there is room (or the connection is closed). */
  private wakeWriters(): void {
    if (this.waiters.length === 0 || (!this.closed && !this.roomy())) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Writes the queued frames in order (those queued together in one write) until none is left. */
  private async flush(): Promise<void> {
    try {
      while (this.outbox.length > 0 && !this.closed) {
        const frames = this.outbox.splice(0, this.outbox.length);
        const bytes = frames.length === 1 ? frames[0] : concat(frames);
        let done = 0;
        while (done < bytes.length && !this.closed) {
          const n = await this.conn.write(bytes.subarray(done));
          done += n;
          this.unwritten -= n;
          this.wakeWriters();
        }
      }
    } catch {
      this.close();
    } finally {
      this.writing = undefined;
    }
  }

  /** Settles when the frames queued so far are written (or the connection is closed). */
  private async written(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Settles when the call running now (if any) has finished; queued ones are dropped once closed. */
  async drained(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Sends a domain event to the callbacks that want it: a lifecycle event as
   * `remote_domain_event_callback_lifecycle_msg` (318: callbackID, dom, event,
   * detail), a reboot event as `remote_domain_event_callback_reboot_msg` (319:
   * callbackID, dom).
   */
  event(event: DomainEvent): void {
    for (const [id, callback] of this.session.callbacks) {
      if (callback.eventID !== event.eventID) continue;
      if (callback.uuid !== undefined && callback.uuid !== event.dom.uuid) continue;
      const w = frameWriter();
      w.int(id);
      writeDomain(w, event.dom);
      const lifecycle = event.eventID === EventId.LIFECYCLE;
      if (lifecycle) w.int(event.event).int(event.detail);
      this.send(finishFrame(w, {
        prog: REMOTE_PROGRAM,
        vers: PROTOCOL_VERSION,
        proc: lifecycle ? Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE : Proc.DOMAIN_EVENT_CALLBACK_REBOOT,
        type: MessageType.MESSAGE,
        serial: 0,
        status: Status.OK,
      }));
    }
  }

  /** The first call completed: the connection may stay as long as its client wants. */
  private handshook(): void {
    if (this.handshake === undefined) return;
    clearTimeout(this.handshake);
    this.handshake = undefined;
  }

  /** Closes the connection (calls queued on it are dropped). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handshook();
    // A stream ends with its connection: its console session is closed.
    for (const stream of [...this.streams.values()]) stream.close();
    this.wakeWriters();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    this.server.forget(this);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
