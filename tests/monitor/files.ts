/** Reading what the monitor backends write, for the tests. */

/** Whether `path` is a regular file (a fixture that was fetched). */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** `length` bytes of `file` from `offset` (fewer where it ends): a look into memory.img. */
export async function readAt(file: string, offset: number, length: number): Promise<Uint8Array> {
  using f = await Deno.open(file);
  await f.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await f.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return out.subarray(0, got);
}
