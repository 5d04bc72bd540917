/**
 * Reading frames off a connection through one buffer: a frame that arrived whole
 * is copied out once; a longer one is gathered as its bytes arrive, so a length
 * alone never allocates the frame.
 *
 * @module
 */

/** A connection broke the framing: it is closed. */
export class FrameError extends Error {}

/** Reads whole frames (length word included) from a connection. */
export class FrameReader {
  private readonly buf = new Uint8Array(65536);
  private readonly view = new DataView(this.buf.buffer);
  private start = 0;
  private end = 0;

  /** Reads from `conn`. */
  constructor(private readonly conn: Deno.Conn) {}

  /** Reads more bytes after the buffered ones; false at EOF. */
  private async fill(): Promise<boolean> {
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      [this.start, this.end] = [0, this.end - this.start];
    }
    const got = await this.conn.read(this.buf.subarray(this.end));
    if (got === null) return false;
    this.end += got;
    return true;
  }

  /**
   * The next frame, or undefined at EOF between frames. `admit` sees the length
   * first and throws to refuse it; EOF inside a frame is a {@linkcode FrameError}.
   */
  async frame(admit: (length: number) => void): Promise<Uint8Array | undefined> {
    while (this.end - this.start < 4) {
      if (!(await this.fill())) {
        if (this.end > this.start) throw new FrameError("connection closed in a frame's length");
        return undefined;
      }
    }
    const length = this.view.getUint32(this.start);
    admit(length);
    if (this.end - this.start >= length) {
      const out = this.buf.slice(this.start, this.start + length);
      this.start += length;
      return out;
    }
    const chunks = [this.buf.slice(this.start, this.end)];
    let have = this.end - this.start;
    this.start = this.end = 0;
    while (have < length) {
      const got = await this.conn.read(this.buf);
      if (got === null) throw new FrameError("connection closed in the middle of a frame");
      const take = Math.min(got, length - have);
      chunks.push(this.buf.slice(0, take));
      have += take;
      [this.start, this.end] = [take, got];
    }
    const out = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
