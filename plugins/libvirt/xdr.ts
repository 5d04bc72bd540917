/**
 * XDR (RFC 4506) as libvirt's remote protocol uses it: big-endian 4-byte units;
 * int, unsigned, enum, bool — and libvirt's char, unsigned char and unsigned
 * short — take 4 bytes; hyper 8; strings and variable opaques are a u32 length
 * and the bytes padded to 4; optional values are a u32 flag and the value.
 *
 * @example
 * ```ts
 * import { XdrReader, XdrWriter } from "./xdr.ts";
 * const w = new XdrWriter();
 * w.string("vmanager");
 * new XdrReader(w.bytes()).string(); // "vmanager"
 * ```
 * @module
 */

/** Raised when a payload is truncated, too long, or holds a value out of bounds. */
export class XdrError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "XdrError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

function pad(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Writes XDR values into a growing buffer. */
export class XdrWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos: number;

  /** Starts an empty buffer; `reserve` bytes at the front stay zero (for a frame header). */
  constructor(reserve = 0, capacity = 256) {
    this.buf = new Uint8Array(Math.max(capacity, reserve + 16));
    this.view = new DataView(this.buf.buffer);
    this.pos = reserve;
  }

  private grow(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A signed 32-bit int. */
  int(v: number): this {
    this.grow(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }

  /** An unsigned 32-bit int (also enum, bool, char, short). */
  uint(v: number): this {
    this.grow(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
    return this;
  }

  /** A signed 64-bit hyper. */
  hyper(v: bigint | number): this {
    this.grow(8);
    this.view.setBigInt64(this.pos, BigInt(v));
    this.pos += 8;
    return this;
  }

  /** An unsigned 64-bit hyper. */
  uhyper(v: bigint | number): this {
    this.grow(8);
    this.view.setBigUint64(this.pos, BigInt(v));
    this.pos += 8;
    return this;
  }

  /** Raw bytes, padded to 4. */
  fixedOpaque(bytes: Uint8Array): this {
    const n = bytes.length + pad(bytes.length);
    this.grow(n);
    this.buf.set(bytes, this.pos);
    this.buf.fill(0, this.pos + bytes.length, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Bytes as they are: no length, no padding (the body of a stream data packet). */
  raw(bytes: Uint8Array): this {
    this.grow(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** A variable-length opaque: length, bytes, padding. */
  opaque(bytes: Uint8Array): this {
    return this.uint(bytes.length).fixedOpaque(bytes);
  }

  /** A UTF-8 string. */
  string(s: string): this {
    return this.opaque(encoder.encode(s));
  }

  /** An optional value: flag 1 and the value, or flag 0. */
  optional<T>(value: T | undefined | null, write: (w: this, v: T) => void): this {
    if (value === undefined || value === null) return this.uint(0);
    this.uint(1);
    write(this, value);
    return this;
  }

  /** A fixed-size char array (`char model[32]`): every char takes 4 bytes. */
  chars(s: string, size: number): this {
    const bytes = encoder.encode(s).subarray(0, size - 1);
    for (let i = 0; i < size; i++) this.int(i < bytes.length ? bytes[i] : 0);
    return this;
  }

  /** Bytes written so far (including the reserved front). */
  get length(): number {
    return this.pos;
  }

  /** The written bytes (a view, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Overwrites a u32 at an earlier offset. */
  patchUint(offset: number, v: number): void {
    this.view.setUint32(offset, v >>> 0);
  }
}

/** Reads XDR values; every read checks bounds and throws {@linkcode XdrError}. */
export class XdrReader {
  private readonly view: DataView;
  private pos = 0;

  /** Reads `bytes`. */
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) {
      throw new XdrError(`payload truncated: needs ${n} more bytes at offset ${this.pos}`);
    }
  }

  /** A signed 32-bit int. */
  int(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  /** An unsigned 32-bit int. */
  uint(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A bool (any non-zero is true). */
  bool(): boolean {
    return this.uint() !== 0;
  }

  /** A signed 64-bit hyper. */
  hyper(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** An unsigned 64-bit hyper. */
  uhyper(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  /** `n` raw bytes and their padding. */
  fixedOpaque(n: number): Uint8Array {
    this.need(n + pad(n));
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n + pad(n);
    return out;
  }

  /** A variable-length opaque of at most `max` bytes. */
  opaque(max: number): Uint8Array {
    const n = this.uint();
    if (n > max) throw new XdrError(`opaque of ${n} bytes exceeds the limit of ${max}`);
    return this.fixedOpaque(n);
  }

  /** A UTF-8 string of at most `max` bytes. */
  string(max: number): string {
    return decoder.decode(this.opaque(max));
  }

  /** An optional value: undefined when the flag is 0. */
  optional<T>(read: (r: this) => T): T | undefined {
    return this.uint() !== 0 ? read(this) : undefined;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
}
