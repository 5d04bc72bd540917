/**
 * The one error type of the FDT codec. Every malformed blob, out-of-range value or
 * unencodable tree ends in an {@linkcode FdtError} with a stable {@linkcode FdtErrorCode}
 * that callers (and tests) can switch on, and, for blob problems, the byte offset where
 * the problem was found.
 *
 * @example
 * ```ts
 * import { FdtError } from "./errors.ts";
 * throw new FdtError("bad-magic", "not a device tree blob (magic 0x00000000)", 0);
 * ```
 * @module
 */

/**
 * Why a blob was refused or a value could not be encoded:
 *
 * - `bad-magic`: the first word is not 0xd00dfeed.
 * - `bad-version`: version below 16, last_comp_version above 17, or version below
 *   last_comp_version.
 * - `truncated`: the blob is shorter than its header or its totalsize says.
 * - `bad-offset`: a block, a property value or a property name offset lies outside
 *   where it must be.
 * - `bad-alignment`: a block offset is not aligned as the format requires.
 * - `bad-token`: an unknown structure-block token.
 * - `unterminated-name`: a node name has no NUL inside the structure block.
 * - `unterminated-string`: a property name has no NUL inside the strings block.
 * - `too-deep`: nesting beyond the reader's depth limit.
 * - `too-large`: totalsize or node count beyond the reader's limits.
 * - `bad-structure`: unbalanced nodes, a missing or misplaced END, tokens outside
 *   the root node, a structure block that ends inside a token.
 * - `bad-value`: a value that cannot be encoded or decoded as asked (a cell out of
 *   range, a NUL inside a name, a property length that is not a multiple of its cells).
 */
export type FdtErrorCode =
  | "bad-magic"
  | "bad-version"
  | "truncated"
  | "bad-offset"
  | "bad-alignment"
  | "bad-token"
  | "unterminated-name"
  | "unterminated-string"
  | "too-deep"
  | "too-large"
  | "bad-structure"
  | "bad-value";

/** A malformed blob or an unencodable value; {@linkcode code} says which kind. */
export class FdtError extends Error {
  /** The kind of problem; stable, for programs to switch on. */
  readonly code: FdtErrorCode;
  /** Byte offset in the blob where the problem was found, when there is one. */
  readonly offset?: number;

  /** Makes an error of `code`; `offset` (a blob byte offset) is appended to the message. */
  constructor(code: FdtErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset 0x${offset.toString(16)})`);
    this.name = "FdtError";
    this.code = code;
    this.offset = offset;
  }
}
