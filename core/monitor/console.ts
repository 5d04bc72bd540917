/**
 * A partition's console as a backend serves it: a byte stream from the partition's
 * first UART and to it. One session at a time may write (a second is refused unless
 * it forces a take-over); any number may read. `vmanctl console` and the libvirt
 * daemon's `virsh console` open sessions through the monitor plugin's `openConsole`.
 *
 * @module
 */
import { StateError } from "../errors.ts";

/** How a session is opened. */
export interface ConsoleOpenOptions {
  /** `write`: the one interactive session (input and output); `read`: output only. */
  mode: "write" | "read";
  /** Take the console over from the session that writes now (that session ends). */
  force?: boolean;
  /** Start with what the console printed so far (the capture), then what comes. */
  replay?: boolean;
  /** Who opens it, for the refusal another session gets, e.g. `vmanctl console (pid 42)`. */
  who: string;
  /** The partition's name, for messages. */
  name?: string;
}

/** Why a session ended. */
export type ConsoleEnd = "closed" | "stopped" | "taken-over";

/** An open console session. */
export interface ConsoleSession {
  /** What the partition prints from now on; ends when the session ends. */
  readonly output: ReadableStream<Uint8Array>;
  /** Sends bytes to the partition (a `write` session only). */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the session; idempotent. */
  close(): void;
  /** Resolves once the session has ended, with why. */
  readonly ended: Promise<ConsoleEnd>;
}

/** A console another session writes to: refused without `force`. Exit code 1. */
export class ConsoleBusyError extends StateError {}
