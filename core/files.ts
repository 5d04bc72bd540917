/**
 * Reading a file a user names, bounded: only a regular file (never a FIFO, a
 * device, a directory or a socket, which could block or never end), at most a
 * limit of bytes, checked against the file's size before reading and again while
 * reading (a file that grows while it is read, or a `/proc` file whose size says
 * 0). Every refusal is a {@linkcode FileInputError} (exit 2) naming the file.
 *
 * The limits of the files vmanager reads are here, so that the CLI, the docs and
 * the tests name the same numbers.
 *
 * @example
 * ```ts
 * import { MAX_SPEC_BYTES, readRegularTextFile } from "./files.ts";
 * const text = await readRegularTextFile("rt1.yaml", MAX_SPEC_BYTES, "the spec file");
 * ```
 * @module
 */
import { InputError } from "./errors.ts";
import { formatSize, GiB, KiB, MiB } from "./units.ts";

/** Largest spec file (`-f SPEC.yaml`) read: 1 MiB. */
export const MAX_SPEC_BYTES = 1 * MiB;
/** Largest board YAML file read (`--board FILE`, `board check`, plugin dirs): 1 MiB. */
export const MAX_BOARD_BYTES = 1 * MiB;
/** Largest configuration file read (`--config`): 1 MiB. */
export const MAX_CONFIG_BYTES = 1 * MiB;
/**
 * Largest device tree blob read (`board import`, a board's `devicetree:`): 16 MiB,
 * also the FDT reader's default limit on `totalsize` (plugins/fdt).
 */
export const MAX_DTB_BYTES = 16 * MiB;
/**
 * Largest `state.json` read: 64 MiB. A record is a few KiB and a board has at most
 * 4096 cores, so a real state document stays far below it.
 */
export const MAX_STATE_BYTES = 64 * MiB;
/** Largest kernel image read, before or after decompression: 512 MiB. */
export const MAX_KERNEL_BYTES = 512 * MiB;
/** Largest initrd loaded: 1 GiB. */
export const MAX_INITRD_BYTES = 1 * GiB;

/** How long opening a file may take before it is taken for a FIFO swapped in: 1 s. */
export const OPEN_TIMEOUT_MS = 1000;

/** Why a file was refused. */
export type FileProblem = "missing" | "unreadable" | "not-regular" | "too-large";

/** A file that cannot be read as asked: missing, not a regular file, too large. Exit 2. */
export class FileInputError extends InputError {
  /** Why. */
  readonly problem: FileProblem;
  /** Makes the error; `where` is the file's path. */
  constructor(problem: FileProblem, message: string, where: string, options?: ErrorOptions) {
    super(message, where, options);
    this.problem = problem;
  }
}

/** An OS error's message without Deno's `(os error N): op 'path'` tail, lowercased. */
export function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
}

/** What a file that is not a regular file is, for messages: "a FIFO", "a directory"… */
export function fileKind(info: Deno.FileInfo): string | undefined {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return undefined;
}

function notRegular(what: string, path: string, info: Deno.FileInfo): FileInputError {
  const kind = fileKind(info);
  return new FileInputError(
    "not-regular",
    `cannot read ${what}: not a regular file${kind ? ` but ${kind}` : ""}`,
    path,
  );
}

function tooLarge(what: string, path: string, limit: number, size?: number): FileInputError {
  // In bytes when the rounded sizes would read the same ("1 MiB is more than 1 MiB").
  const [has, most] = size !== undefined && formatSize(size) === formatSize(limit)
    ? [`${size} bytes`, `${limit} bytes`]
    : [size === undefined ? "" : formatSize(size), formatSize(limit)];
  return new FileInputError(
    "too-large",
    size === undefined
      ? `cannot read ${what}: more than the limit of ${most}`
      : `cannot read ${what}: ${has} is more than the limit of ${most}`,
    path,
  );
}

function osError(what: string, path: string, error: unknown): FileInputError {
  return new FileInputError(
    error instanceof Deno.errors.NotFound ? "missing" : "unreadable",
    `cannot read ${what}: ${osReason(error)}`,
    path,
    { cause: error },
  );
}

/**
 * Checks that `path` is a regular file (following symbolic links) of at most
 * `limit` bytes without opening it, and returns its size. For files another
 * program opens by path (the initrd, which the monitor helper loads).
 *
 * @param path The file.
 * @param limit Largest size accepted, in bytes.
 * @param what The file as messages name it: "the initrd".
 */
export async function statRegularFile(path: string, limit: number, what: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw osError(what, path, error);
  }
  if (!info.isFile) throw notRegular(what, path, info);
  if (info.size > limit) throw tooLarge(what, path, limit, info.size);
  return info.size;
}

/**
 * Whether anything (a file, a directory, a link, a socket…) is at `path`: one
 * `lstat`, which never blocks, whatever is there. Only "nothing there" is false;
 * any other error is true, for the caller's next step on the path to say what is
 * wrong.
 */
export function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/**
 * Reads a file of vmanager's own state dir (mode 0700, its files written only by
 * vmanager and replaced by rename) synchronously: the same checks as
 * {@linkcode readRegularFile} on its status, then one read. No open timeout: only
 * a process of the state dir's owner could swap a FIFO in between. About 0.3 ms
 * against 2 ms for the asynchronous read in a fresh process, which every command
 * that reads the state pays.
 */
export function readOwnFileSync(path: string, limit: number, what: string): Uint8Array {
  return readOwn(path, limit, what, Deno.readFileSync);
}

/** {@linkcode readOwnFileSync} decoded as UTF-8 (by Deno, without a decoder in JS). */
export function readOwnTextFileSync(path: string, limit: number, what: string): string {
  return readOwn(path, limit, what, Deno.readTextFileSync);
}

function readOwn<T extends { length: number }>(
  path: string,
  limit: number,
  what: string,
  read: (path: string) => T,
): T {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    throw osError(what, path, error);
  }
  if (!info.isFile) throw notRegular(what, path, info);
  if (info.size > limit) throw tooLarge(what, path, limit, info.size);
  let data: T;
  try {
    data = read(path);
  } catch (error) {
    throw osError(what, path, error);
  }
  // A file that grew between the two calls (a text's characters are at most its bytes).
  if (data.length > limit) throw tooLarge(what, path, limit);
  return data;
}

/**
 * Opens `path` for reading, giving up after `timeoutMs`: opening a FIFO blocks
 * until a writer comes, so a file swapped for one between the check and the open
 * must not hang the caller (which may hold the state lock). A late open is closed
 * when it completes.
 */
export async function openWithin(
  path: string,
  timeoutMs: number,
  what: string,
): Promise<Deno.FsFile> {
  const opening = Deno.open(path, { read: true });
  const timer = after(timeoutMs);
  try {
    const file = await Promise.race([opening, timer.late]);
    if (file) return file;
  } catch (error) {
    throw osError(what, path, error);
  } finally {
    timer.cancel();
  }
  opening.then((file) => file.close(), () => {});
  throw new FileInputError(
    "not-regular",
    `cannot read ${what}: opening it did not finish within ${timeoutMs} ms ` +
      "(it became a FIFO or a device?)",
    path,
  );
}

/**
 * A promise of undefined `ms` from now, and its cancel. Not setTimeout: Deno's
 * setTimeout loads its Node timers on first use (about 7 ms of a command's
 * start-up); Atomics.waitAsync's timeout is V8's own, and keeps no process alive.
 */
function after(ms: number): { late: Promise<undefined>; cancel(): void } {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const wait = Atomics.waitAsync(cell, 0, 0, ms);
  const late = wait.async ? wait.value.then(() => undefined) : Promise.resolve(undefined);
  return { late, cancel: () => void Atomics.notify(cell, 0) };
}

/**
 * Reads a regular file of at most `limit` bytes. Refuses, with a
 * {@linkcode FileInputError} whose `where` is `path`: a missing or unreadable file;
 * anything but a regular file (checked before opening, so a FIFO never blocks, and
 * again on the open file); a file larger than `limit` (by its size, and while
 * reading, so a growing file or one whose size says 0 stops at the limit).
 *
 * @param path The file.
 * @param limit Largest size accepted, in bytes.
 * @param what The file as messages name it: "the spec file", "the DTB".
 */
export async function readRegularFile(
  path: string,
  limit: number,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const { file, size } = await openRegularFile(path, limit, what);
  try {
    return await readAtMost(file, size, limit, what, path);
  } finally {
    file.close();
  }
}

/**
 * Opens a regular file of at most `limit` bytes with {@linkcode readRegularFile}'s
 * checks (before opening and on the open file) and returns it with its size; the
 * caller closes it.
 */
export async function openRegularFile(
  path: string,
  limit: number,
  what: string,
): Promise<{ file: Deno.FsFile; size: number }> {
  await statRegularFile(path, limit, what);
  const file = await openWithin(path, OPEN_TIMEOUT_MS, what);
  let info: Deno.FileInfo;
  try {
    info = await file.stat();
  } catch (error) {
    file.close();
    throw osError(what, path, error);
  }
  if (!info.isFile || info.size > limit) file.close();
  if (!info.isFile) throw notRegular(what, path, info);
  if (info.size > limit) throw tooLarge(what, path, limit, info.size);
  return { file, size: info.size };
}

/**
 * Reads `buffer.length` bytes from the start of an open file (fewer when it ends
 * first); an error is a {@linkcode FileInputError} naming `path`. Returns how many.
 */
export async function readHead(
  file: Deno.FsFile,
  buffer: Uint8Array,
  what: string,
  path: string,
): Promise<number> {
  let length = 0;
  while (length < buffer.length) {
    let got: number | null;
    try {
      got = await file.read(buffer.subarray(length));
    } catch (error) {
      throw osError(what, path, error);
    }
    if (got === null) break;
    length += got;
  }
  return length;
}

/**
 * Reads `reader` to its end, refusing more than `limit` bytes: the buffer starts
 * at `sizeHint` (the file's size) plus one byte, which tells a file that grew past
 * its size (or the limit) from one that ends there, and grows up to the limit.
 */
export async function readAtMost(
  reader: { read(into: Uint8Array): Promise<number | null> },
  sizeHint: number,
  limit: number,
  what: string,
  path: string,
): Promise<Uint8Array<ArrayBuffer>> {
  let buffer = new Uint8Array(Math.min(Math.max(sizeHint, 0), limit) + 1);
  let length = 0;
  while (true) {
    if (length === buffer.length) {
      if (length > limit) throw tooLarge(what, path, limit);
      const grown = new Uint8Array(Math.min(limit + 1, Math.max(2 * length, 64 * KiB)));
      grown.set(buffer);
      buffer = grown;
    }
    let got: number | null;
    try {
      got = await reader.read(buffer.subarray(length));
    } catch (error) {
      throw osError(what, path, error);
    }
    if (got === null) break;
    length += got;
  }
  return buffer.subarray(0, length);
}

/**
 * {@linkcode readRegularFile} decoded as UTF-8 (a byte order mark is dropped,
 * malformed bytes become U+FFFD).
 */
export async function readRegularTextFile(
  path: string,
  limit: number,
  what: string,
): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(path, limit, what));
}
