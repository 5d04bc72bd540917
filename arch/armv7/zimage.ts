/**
 * The arm32 zImage header (Linux arch/arm/boot/compressed/head.S and
 * Documentation/arch/arm/booting.rst): the magic 0x016F2818 u32 @0x24, the
 * absolute load address (`start`, 0 for a position-independent zImage) u32 @0x28
 * and the end address u32 @0x2C, all in the kernel's byte order.
 *
 * @example
 * ```ts
 * import { readZImage } from "./zimage.ts";
 * const image = readZImage(await Deno.readFile("zImage"), "zImage");
 * console.log(image?.imageSize); // end - start
 * ```
 * @module
 */
import type { KernelImage } from "../../core/boot/types.ts";
import { KernelImageError } from "../../core/boot/types.ts";
import { formatHex } from "../../core/units.ts";

/** The zImage magic, read little-endian at {@linkcode ZIMAGE_MAGIC_OFFSET}. */
export const ZIMAGE_MAGIC = 0x016f2818;
/** The magic of a big-endian zImage read little-endian. */
export const ZIMAGE_MAGIC_BE = 0x18286f01;
/** Where the magic is. */
export const ZIMAGE_MAGIC_OFFSET = 0x24;
/** Bytes up to and including `end`. */
export const ZIMAGE_HEADER_SIZE = 0x30;

/**
 * Reads a zImage header.
 *
 * Returns undefined when the bytes do not carry the zImage magic at 0x24. Throws
 * {@linkcode KernelImageError} (`where` = `file`) for a big-endian zImage (vmanager
 * boots little-endian kernels only), a header cut short, `end` <= `start`, or a
 * file shorter than `end - start`. Bytes after `end - start` (an appended DTB, a
 * signature) stay in `bytes` but are not part of `imageSize`.
 *
 * @param bytes The (decompressed) file.
 * @param file The file's name, for messages.
 */
export function readZImage(bytes: Uint8Array, file: string): KernelImage | undefined {
  if (bytes.length < ZIMAGE_MAGIC_OFFSET + 4) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(ZIMAGE_MAGIC_OFFSET, true);
  if (magic === ZIMAGE_MAGIC_BE) {
    throw new KernelImageError(
      "big-endian zImage (magic 0x016f2818 stored big-endian at 0x24): " +
        "vmanager boots little-endian arm kernels only",
      file,
    );
  }
  if (magic !== ZIMAGE_MAGIC) return undefined;
  if (bytes.length < ZIMAGE_HEADER_SIZE) {
    throw new KernelImageError(
      `truncated zImage: ${bytes.length} bytes, the header needs ${ZIMAGE_HEADER_SIZE}`,
      file,
    );
  }
  const start = view.getUint32(0x28, true);
  const end = view.getUint32(0x2c, true);
  if (end <= start) {
    throw new KernelImageError(
      `zImage header is inconsistent: end ${formatHex(end, 1)} is not above start ${
        formatHex(start, 1)
      }`,
      file,
    );
  }
  const imageSize = end - start;
  if (bytes.length < imageSize) {
    throw new KernelImageError(
      `truncated zImage: the header says ${imageSize} bytes (end - start) but the file has ${bytes.length}`,
      file,
    );
  }
  return {
    file,
    format: "arm-zimage",
    label: "zImage",
    arch: "armv7",
    archLabel: "arm (32-bit)",
    bytes,
    imageSize,
    entryOffset: 0,
    details: {
      start: formatHex(start, 1),
      end: formatHex(end, 1),
      endianness: "little",
      ...(bytes.length > imageSize ? { trailing_bytes: bytes.length - imageSize } : {}),
    },
  };
}
