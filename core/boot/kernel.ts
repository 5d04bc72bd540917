/**
 * Reading a kernel file: the bytes (gunzipped when the file is gzip data) handed
 * to each arch plugin's reader until one recognizes them, and the check that the
 * kernel is for the partition's architecture. The readers come from the arch
 * plugins, so nothing here knows a format's layout.
 *
 * @example
 * ```ts
 * import { checkKernelArch, readKernelFile } from "./kernel.ts";
 * const kernel = await readKernelFile("Image.gz", readers);
 * checkKernelArch(kernel, "armv8", "rt1");
 * ```
 * @module
 */
import {
  FileInputError,
  MAX_KERNEL_BYTES,
  openRegularFile,
  osReason,
  readHead,
  readRegularFile,
} from "../files.ts";
import { KiB } from "../units.ts";
import type { ArchName } from "../model.ts";
import type { KernelImage } from "./types.ts";
import { KernelImageError } from "./types.ts";

/** One arch plugin's kernel reader. */
export interface KernelReader {
  /** The plugin's architecture. */
  arch: ArchName;
  /** Returns the image, undefined when the bytes are not its format, or throws KernelImageError. */
  read(bytes: Uint8Array, file: string): KernelImage | undefined;
}

/** Largest kernel vmanager reads, before or after decompression: 512 MiB. */
export { MAX_KERNEL_BYTES };

/** Gunzips `bytes`, refusing corrupt or truncated data and output beyond `max` bytes. */
async function gunzip(
  bytes: Uint8Array<ArrayBuffer>,
  file: string,
  max: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel();
        throw new KernelImageError(
          `gzip data decompresses to more than ${max / (1024 * 1024)} MiB, ` +
            "more than vmanager reads for a kernel",
          file,
        );
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof KernelImageError) throw error;
    throw new KernelImageError(`corrupt gzip data: ${osReason(error)}`, file, { cause: error });
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * The message for bytes no reader took: it names the arch plugins asked (each
 * knows its own formats), and an ELF file's machine.
 */
function unreadable(bytes: Uint8Array, readers: readonly KernelReader[]): string {
  const arches = [...new Set(readers.map((r) => r.arch))].sort().join(", ") || "none";
  if (bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c) {
    const machine = bytes[18] | (bytes[19] << 8);
    return `not a kernel image vmanager can read: an ELF file for e_machine ${machine}, ` +
      `which no arch plugin here (${arches}) reads`;
  }
  const base = `not a kernel image vmanager can read (no arch plugin here takes it: ${arches})`;
  if (bytes.length < 64) return `${base}: only ${bytes.length} bytes`;
  return base;
}

/**
 * How much of an uncompressed kernel file is read to recognize and plan it: the
 * headers every format keeps at its start (an arm64 or RISC-V Image's and its
 * PE/COFF headers, a zImage's, an ELF file's program headers).
 */
export const KERNEL_HEAD_BYTES = 64 * KiB;

/** The file's first bytes are gzip data (1f 8b) or an ELF header (7f 'E' 'L' 'F'). */
function needsWholeFile(bytes: Uint8Array): boolean {
  const gzip = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  const elf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 &&
    bytes[2] === 0x4c && bytes[3] === 0x46;
  // gzip is decompressed here; an ELF file's program headers may be anywhere in it.
  return gzip || elf;
}

/**
 * The kernel file's head in a buffer of the file's length, whose rest stays zero:
 * memory the OS only backs once it is touched, and nothing touches it — the
 * monitor loads the kernel from the file. `head` is how many bytes were read.
 */
async function readKernelHead(
  path: string,
  maxBytes: number,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; head: number }> {
  const { file, size } = await openRegularFile(path, maxBytes, "the kernel");
  try {
    const bytes = new Uint8Array(size);
    const want = Math.min(size, KERNEL_HEAD_BYTES);
    const head = await readHead(file, bytes.subarray(0, want), "the kernel", path);
    if (head < want) {
      throw new FileInputError(
        "unreadable",
        `cannot read the kernel: it ended after ${head} of its ${size} bytes (it changed)`,
        path,
      );
    }
    return { bytes, head };
  } finally {
    file.close();
  }
}

/**
 * Reads a kernel file and hands it to each reader in turn; the first that returns
 * an image wins, and a reader's KernelImageError (a recognized but broken file)
 * ends the search. A file starting with the gzip magic (1f 8b) is decompressed
 * first and the image gets `compression: "gzip"`.
 *
 * An uncompressed kernel other than ELF is not read whole: the readers get a
 * buffer of the file's length of which only the first {@linkcode KERNEL_HEAD_BYTES}
 * are the file's, and the image says so in `head` — its bytes are loaded from the
 * file by the monitor (core/boot/prepare.ts), never through JavaScript.
 *
 * Throws {@linkcode KernelImageError} with `where` = `path` when the file cannot be
 * read, is not a regular file (a FIFO is refused before it is opened, so nothing
 * blocks), is larger than `maxBytes` (before or after decompression), holds corrupt
 * or truncated gzip data, or is no format any reader takes.
 *
 * @param path The kernel file.
 * @param readers The arch plugins' readers.
 * @param maxBytes Size limit (default {@linkcode MAX_KERNEL_BYTES}).
 * @param more More readers (other arch plugins'), asked for only when none of
 *   `readers` takes the file, so that a kernel of another architecture is named as
 *   such without loading every arch plugin for every start.
 */
export async function readKernelFile(
  path: string,
  readers: readonly KernelReader[],
  maxBytes: number = MAX_KERNEL_BYTES,
  more?: () => Promise<readonly KernelReader[]>,
): Promise<KernelImage> {
  let bytes: Uint8Array<ArrayBuffer>;
  let head: number | undefined;
  try {
    ({ bytes, head } = await readKernelHead(path, maxBytes));
    if (head === bytes.length) head = undefined; // all of it
    else if (needsWholeFile(bytes)) {
      [bytes, head] = [await readRegularFile(path, maxBytes, "the kernel"), undefined];
    }
  } catch (error) {
    if (!(error instanceof FileInputError)) throw error;
    throw new KernelImageError(error.message, path, { cause: error });
  }
  const gzip = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (gzip) bytes = await gunzip(bytes, path, maxBytes);
  let tried = readers;
  let image = firstTaker(bytes, path, readers);
  if (!image && more) {
    const others = await more();
    image = firstTaker(bytes, path, others);
    tried = [...readers, ...others];
  }
  if (!image) throw new KernelImageError(unreadable(bytes, tried), path);
  if (gzip) return { ...image, compression: "gzip" };
  return head === undefined ? image : { ...image, head };
}

/** The image the first of `readers` that takes `bytes` makes, if one does. */
function firstTaker(
  bytes: Uint8Array,
  path: string,
  readers: readonly KernelReader[],
): KernelImage | undefined {
  for (const reader of readers) {
    const image = reader.read(bytes, path);
    if (image) return image;
  }
  return undefined;
}

/**
 * Throws {@linkcode KernelImageError} (`where` = the kernel file) when the image is
 * not for the partition's architecture, e.g. "Image is arm64 but partition rt1 is
 * riscv".
 *
 * @param image The kernel as read.
 * @param arch The board's architecture.
 * @param partition The partition's name.
 */
export function checkKernelArch(image: KernelImage, arch: ArchName, partition: string): void {
  if (image.arch === arch) return;
  throw new KernelImageError(
    `${image.label} is ${image.archLabel} but partition ${partition} is ${arch}`,
    image.file,
  );
}
