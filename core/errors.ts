/**
 * Error classes of vmanager. Every error a user can see is a {@linkcode VmanError}:
 * it carries the exit code the CLI returns and, optionally, where the problem is
 * (a file and line, a field, a partition).
 *
 * @example
 * ```ts
 * import { InputError } from "./errors.ts";
 * throw new InputError("size '12Q' has an unknown unit", "--memory");
 * ```
 * @module
 */

/** Exit code for a failed operation (resources busy, monitor refused). */
export const EXIT_FAILED = 1;
/** Exit code for bad input or usage. */
export const EXIT_USAGE = 2;

/** Base class of every error vmanager reports to a user. */
export class VmanError extends Error {
  /** Where the problem is: a file:line, an option, a partition name. */
  readonly where?: string;
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = EXIT_FAILED;

  /** Makes an error with a message and an optional location. */
  constructor(message: string, where?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.where = where;
  }

  /**
   * The one line the CLI prints: `<what went wrong> (<where>)`, with control
   * characters in both escaped ({@linkcode escapeControl}).
   */
  line(): string {
    const message = escapeControl(this.message);
    return this.where ? `${message} (${escapeControl(this.where)})` : message;
  }
}

/** Bad input: a malformed value, an unknown name, a wrong option. Exit code 2. */
export class InputError extends VmanError {
  override readonly exitCode = EXIT_USAGE;
}

/** A board description or plugin that does not validate. Exit code 2. */
export class BoardError extends InputError {}

/** A resource another partition or a reservation holds. Exit code 1. */
export class ConflictError extends VmanError {}

/** An operation that is not possible in the partition's current state. Exit code 1. */
export class StateError extends VmanError {}

/** The monitor (or its backend) refused or failed a call. Exit code 1. */
export class MonitorError extends VmanError {}

/** A plugin that cannot be loaded or registered. Exit code 2. */
export class PluginError extends InputError {}

/** Returns the exit code for any thrown value: a VmanError's own, else 1. */
export function exitCodeOf(error: unknown): number {
  return error instanceof VmanError ? error.exitCode : EXIT_FAILED;
}

/** One line describing any thrown value, as the CLI prints it (control characters escaped). */
export function errorLine(error: unknown): string {
  if (error instanceof VmanError) return error.line();
  if (error instanceof Error) return escapeControl(error.message);
  return escapeControl(String(error));
}

/** Escapes that read better than a code. */
const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * C0 and C1 controls, DEL, the Unicode line and paragraph separators and the
 * bidirectional overrides and isolates: what could end a line, move the cursor,
 * recolour a terminal or reorder what is shown.
 */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with its control characters written as escapes — `\n`, `\r`, `\t`,
 * `\x1b`, `\u2028` — so that a name or path holding them cannot break an error
 * line or drive the terminal. Backslashes are left as they are, so escaping is
 * idempotent.
 *
 * @example
 * ```ts
 * escapeControl("a\nb\x1b[31m"); // "a\\nb\\x1b[31m"
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED_ESCAPES[c] ??
      (code <= 0xff
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`);
  });
}

/** `text` cut to `max` characters with `…`, for echoing user input in a message. */
export function clip(text: string, max = 64): string {
  if (text.length <= max) return text;
  // Not between the two halves of a surrogate pair.
  const end = /[\ud800-\udbff]/.test(text[max - 1]) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

/** The chain of causes of an error, one line each, outermost first. */
export function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    lines.push(
      current instanceof Error ? `${current.name}: ${errorLine(current)}` : String(current),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines;
}
