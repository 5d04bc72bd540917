/**
 * The arm64 Image header (Linux Documentation/arch/arm64/booting.rst): 64
 * little-endian bytes at the start of the file — code0, code1, `text_offset` u64
 * @0x08, `image_size` u64 @0x10, `flags` u64 @0x18, reserved, the magic
 * "ARM\x64" u32 @0x38 and the PE header's offset u32 @0x3C.
 *
 * @example
 * ```ts
 * import { readArm64Image } from "./image.ts";
 * const image = readArm64Image(await Deno.readFile("Image"), "Image");
 * console.log(image?.details.page_size); // "4K"
 * ```
 * @module
 */
import type { KernelImage } from "../../core/boot/types.ts";
import { KernelImageError } from "../../core/boot/types.ts";
import { checkPeComplete } from "../pe.ts";
import { alignUp, formatHex, MiB } from "../../core/units.ts";

/** The magic "ARM\x64" as a little-endian u32 at {@linkcode ARM64_MAGIC_OFFSET}. */
export const ARM64_MAGIC = 0x644d5241;
/** Where the magic is. */
export const ARM64_MAGIC_OFFSET = 0x38;
/** Size of the header. */
export const ARM64_HEADER_SIZE = 64;
/** `text_offset` assumed for kernels before 3.17, whose header has `image_size` 0. */
export const ARM64_LEGACY_TEXT_OFFSET = 0x80000;

const PAGE_SIZES = ["unspecified", "4K", "16K", "64K"] as const;

/** A little-endian u64 of the header as a number; refuses values beyond 2^53. */
function u64(view: DataView, offset: number, field: string, file: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KernelImageError(
      `arm64 Image ${field} ${formatHex(Number(value), 1)} is out of range`,
      file,
    );
  }
  return Number(value);
}

/**
 * Reads an arm64 Image header.
 *
 * Returns undefined when the bytes do not carry the magic "ARM\x64" at 0x38.
 * Throws {@linkcode KernelImageError} (`where` = `file`) for a file with the magic
 * that is shorter than the 64-byte header, whose fields are out of range, or whose
 * `image_size` (when not 0) is smaller than the file.
 *
 * Kernels before 3.17 have `image_size` 0 and a `text_offset` of unspecified
 * endianness. For them the rule is: `textOffset` = 0x80000 (whatever the header
 * says), `imageSize` = the file's length rounded up to 2 MiB, `flags` = 0 (page
 * size "unspecified", little-endian, placement near the start of DRAM).
 *
 * @param bytes The (decompressed) file.
 * @param file The file's name, for messages.
 */
export function readArm64Image(bytes: Uint8Array, file: string): KernelImage | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < ARM64_MAGIC_OFFSET + 4) return undefined;
  if (view.getUint32(ARM64_MAGIC_OFFSET, true) !== ARM64_MAGIC) return undefined;
  if (bytes.length < ARM64_HEADER_SIZE) {
    throw new KernelImageError(
      `truncated arm64 Image: ${bytes.length} bytes, the header alone is ${ARM64_HEADER_SIZE}`,
      file,
    );
  }
  const headerTextOffset = u64(view, 0x08, "text_offset", file);
  const headerImageSize = u64(view, 0x10, "image_size", file);
  const headerFlags = u64(view, 0x18, "flags", file);
  const legacy = headerImageSize === 0;
  if (!legacy && headerImageSize < bytes.length) {
    throw new KernelImageError(
      `arm64 Image header is inconsistent: image_size ${formatHex(headerImageSize, 1)} ` +
        `(${headerImageSize} bytes) is smaller than the file (${bytes.length} bytes)`,
      file,
    );
  }
  checkPeComplete(bytes, "arm64 Image", file);
  const textOffset = legacy ? ARM64_LEGACY_TEXT_OFFSET : headerTextOffset;
  const imageSize = legacy ? alignUp(bytes.length, 2 * MiB) : headerImageSize;
  const flags = legacy ? 0 : headerFlags;
  return {
    file,
    format: "arm64-image",
    label: "Image",
    arch: "armv8",
    archLabel: "arm64",
    bytes,
    imageSize,
    textOffset,
    flags,
    entryOffset: 0,
    details: {
      text_offset: formatHex(headerTextOffset, 1),
      image_size: formatHex(headerImageSize, 1),
      flags: formatHex(headerFlags, 1),
      endianness: flags & 1 ? "big" : "little",
      page_size: PAGE_SIZES[(flags >> 1) & 3],
      physical_placement: flags & 8
        ? "2 MiB-aligned base anywhere in 48-bit physical memory"
        : "2 MiB-aligned base near the start of DRAM",
      ...(legacy ? { legacy: "image_size 0 (before 3.17): text_offset 0x80000 assumed" } : {}),
    },
  };
}
