/**
 * Reading frames off a connection: exact byte counts through one buffer, with
 * memory that grows with the bytes that arrive.
 *
 * @module
 */

/** Reads exact byte counts from a connection through one buffer. */
export class FrameReader {
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

/** A connection broke the framing: it is closed. */
export class FrameError extends Error {}
