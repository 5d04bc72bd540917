/**
 * libvirt streams over a connection, as libvirtd runs them
 * (`src/remote/remote_daemon_stream.c`): the packets of a stream are messages of
 * type STREAM with the procedure and serial of the call that opened it.
 *
 * - Data goes both ways as status CONTINUE with the bytes as the whole body.
 * - The server's end of data (the partition stopped) is a CONTINUE with an empty
 *   body; the client then finishes the stream.
 * - The client's finish is status OK with an empty body, its abort status ERROR;
 *   the server confirms either with an empty OK packet of its own and drops the
 *   stream (libvirt's clients wait for that confirmation).
 * - A server-side failure is status ERROR with a `remote_error` body; the stream is
 *   gone after it.
 *
 * A stream here carries a partition's console (`core/monitor/console.ts`). What
 * the partition prints is read only while the connection's unwritten bytes stay
 * under {@linkcode STREAM_BACKLOG} (libvirtd reads a console again only once its
 * last packet went out), and what the client sends is queued up to
 * {@linkcode STREAM_INPUT} bytes per stream before the connection stops reading
 * from its socket until the console took them.
 *
 * @module
 */
import type { ConsoleSession } from "../../core/monitor/console.ts";
import { errorBody } from "./errors.ts";
import {
  ErrorCode,
  ErrorDomain,
  finishFrame,
  frameWriter,
  type Header,
  MessageType,
  Status,
} from "./protocol.ts";

/** Unwritten bytes of a connection above which its streams stop reading their consoles. */
export const STREAM_BACKLOG = 1024 * 1024;
/** Bytes a client may have sent to one stream that its console has not taken yet. */
export const STREAM_INPUT = 1024 * 1024;
/** Largest data packet the daemon sends (libvirt's `VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`). */
export const STREAM_CHUNK = 262120;

/** What a stream needs from its connection. */
export interface StreamLink {
  /** Queues one whole frame. */
  send(frame: Uint8Array): void;
  /** Settles when the connection may take more stream data (at once if it may now). */
  writable(): Promise<void> | undefined;
  /** Writes a log line. */
  log(line: string): void;
  /** The stream is over: the connection forgets it. */
  forget(stream: ConsoleStream): void;
}

/** Why a stream ended, as the connection reports it. */
type Phase = "open" | "eof" | "done";

/** One console session carried as a libvirt stream. */
export class ConsoleStream {
  private phase: Phase = "open";
  private readonly inbox: { bytes: Uint8Array; release: () => void }[] = [];
  private inboxBytes = 0;
  private writing?: Promise<void>;
  private room?: PromiseWithResolvers<void>;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  /** The console session has ended (writes to it fail without a word). */
  private over = false;

  /** Carries `session` on the stream of the call `call` (its procedure and serial). */
  constructor(
    private readonly link: StreamLink,
    readonly call: Header,
    private readonly session: ConsoleSession,
  ) {
    session.ended.then(() => this.over = true, () => this.over = true);
  }

  /** The serial of the call that opened the stream. */
  get serial(): number {
    return this.call.serial;
  }

  /** True until the stream is finished, aborted or failed. */
  get open(): boolean {
    return this.phase !== "done";
  }

  /** Starts sending what the partition prints (call once the call's reply is queued). */
  start(): void {
    this.pump().catch((error) => this.fail(`reading the console: ${(error as Error).message}`));
  }

  /**
   * Handles a packet the client sent on the stream; `release` is called once its
   * bytes are no longer held. Returns a promise while the stream holds more than
   * {@linkcode STREAM_INPUT} bytes of input: the connection reads nothing more
   * until it settles.
   */
  packet(header: Header, payload: Uint8Array, release: () => void): Promise<void> | undefined {
    if (header.status === Status.CONTINUE) {
      if (this.phase === "done" || payload.length === 0) {
        release();
        return undefined;
      }
      this.inbox.push({ bytes: payload, release });
      this.inboxBytes += payload.length;
      this.writing ??= this.write();
      if (this.inboxBytes <= STREAM_INPUT) return undefined;
      this.room ??= Promise.withResolvers<void>();
      return this.room.promise;
    }
    release();
    if (header.status === Status.OK) this.finish();
    else this.abort();
    return undefined;
  }

  /** Writes the client's bytes to the console, in order, one write at a time. */
  private async write(): Promise<void> {
    try {
      for (let next = this.inbox.shift(); next; next = this.inbox.shift()) {
        try {
          if (this.phase === "open" || this.phase === "eof") {
            await this.session.write(next.bytes);
          }
        } catch (error) {
          if (this.phase !== "done" && !this.over) {
            this.link.log(`console write: ${(error as Error).message}`);
          }
          this.dropInput();
          return;
        } finally {
          this.inboxBytes -= next.bytes.length;
          next.release();
          if (this.inboxBytes <= STREAM_INPUT) this.wake();
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Lets the connection read again. */
  private wake(): void {
    const room = this.room;
    this.room = undefined;
    room?.resolve();
  }

  /** Forgets the client's unwritten bytes. */
  private dropInput(): void {
    for (const { bytes, release } of this.inbox.splice(0)) {
      this.inboxBytes -= bytes.length;
      release();
    }
    this.wake();
  }

  /** Sends what the partition prints, while the connection takes it; then the end. */
  private async pump(): Promise<void> {
    const reader = this.session.output.getReader();
    this.reader = reader;
    while (this.phase === "open") {
      const wait = this.link.writable();
      if (wait) await wait;
      if (this.phase !== "open") break;
      const { value, done } = await reader.read();
      if (done || this.phase !== "open") break;
      for (let at = 0; at < value.length; at += STREAM_CHUNK) {
        this.data(value.subarray(at, at + STREAM_CHUNK));
      }
    }
    if (this.phase !== "open") return;
    const why = await this.session.ended;
    if (this.phase !== "open") return;
    if (why === "taken-over") {
      this.error(
        ErrorCode.RPC,
        ErrorDomain.STREAMS,
        "stream had I/O failure: another console session took the console over (force)",
      );
      return;
    }
    // The partition stopped (or the console went away): end of data. The client finishes.
    this.phase = "eof";
    this.data(new Uint8Array(0));
  }

  private header(status: number): Header {
    return { ...this.call, type: MessageType.STREAM, status };
  }

  /** Sends a data packet (an empty one is the end of data). */
  private data(bytes: Uint8Array): void {
    const w = frameWriter();
    w.raw(bytes);
    this.link.send(finishFrame(w, this.header(Status.CONTINUE)));
  }

  /** Ends the stream with an error packet. */
  private error(code: number, domain: number, message: string): void {
    this.end();
    const w = frameWriter();
    errorBody(w, code, domain, message);
    this.link.send(finishFrame(w, this.header(Status.ERROR)));
  }

  /** Something failed on the server's side: the client hears it on the stream. */
  private fail(message: string): void {
    if (this.phase === "done") return;
    this.link.log(message);
    this.error(ErrorCode.RPC, ErrorDomain.STREAMS, "stream had I/O failure");
  }

  /** The client finished: what it sent reaches the console first, then the confirmation. */
  private finish(): void {
    if (this.phase === "done") {
      this.confirm();
      return;
    }
    const pending = this.writing;
    this.phase = "eof"; // no more output; input already queued is still written
    const close = () => {
      this.end();
      this.confirm();
    };
    if (pending) pending.then(close, close);
    else close();
  }

  /** The client aborted: its unwritten bytes are dropped. */
  private abort(): void {
    this.dropInput();
    this.end();
    this.confirm();
  }

  /** The empty OK packet that confirms a finish or an abort. */
  private confirm(): void {
    this.link.send(finishFrame(frameWriter(), this.header(Status.OK)));
  }

  /** Closes the console session and forgets the stream (idempotent). */
  private end(): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.dropInput();
    this.session.close();
    this.reader?.cancel().catch(() => {});
    this.link.forget(this);
  }

  /** The connection closed: the console session ends with it. */
  close(): void {
    this.end();
  }
}
