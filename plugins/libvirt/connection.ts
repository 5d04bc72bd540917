/**
 * One client connection of the daemon: whole frames in (a bad length, a truncated
 * frame or an unknown program closes it), keepalive pings answered at once, calls
 * run one after another, each reply or event written as one whole frame.
 *
 * @module
 */
import type { DomainEvent } from "./events.ts";
import { errorOf, RpcError } from "./errors.ts";
import { FrameError, FrameReader } from "./frames.ts";
import type { CallContext, Session } from "./procedures.ts";
import { PROCEDURES, writeDomain } from "./procedures.ts";
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
import { XdrReader } from "./xdr.ts";

const MAX_QUEUED_CALLS = 64;
const MAX_QUEUED_WRITES = 4096;
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
  private readonly pending: { header: Header; payload: Uint8Array; reserved: number }[] = [];
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
        this.frame(frame, frame.length);
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

  /** Handles a whole frame; the `reserved` bytes are released once it is done with. */
  private frame(frame: Uint8Array, reserved: number): void {
    let queued = false;
    try {
      queued = this.dispatch(frame, reserved);
    } finally {
      if (!queued) this.limits.budget.release(reserved);
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
    if (this.pending.length + 1 > MAX_QUEUED_CALLS) {
      throw new FrameError(`more than ${MAX_QUEUED_CALLS} calls in flight`);
    }
    this.pending.push({ header, payload: frame.subarray(HEADER_SIZE), reserved });
    if (!this.running) this.running = this.pump();
    return true;
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
        this.limits.budget.release(next.reserved);
      }
    }
    this.running = undefined;
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
    if (!this.writing) this.writing = this.flush();
  }

  /** Writes the queued frames in order (those queued together in one write) until none is left. */
  private async flush(): Promise<void> {
    try {
      while (this.outbox.length > 0 && !this.closed) {
        const frames = this.outbox.splice(0, this.outbox.length);
        const bytes = frames.length === 1 ? frames[0] : concat(frames);
        let done = 0;
        while (done < bytes.length && !this.closed) {
          done += await this.conn.write(bytes.subarray(done));
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
