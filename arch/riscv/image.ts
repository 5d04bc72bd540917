/**
 * The RISC-V Image header (Linux Documentation/arch/riscv/boot-image-header.rst):
 * 64 little-endian bytes — code0, code1, `text_offset` u64 @0x08 (0x200000 on rv64,
 * 0x400000 on rv32), `image_size` u64 @0x10 (mandatory), `flags` u64 @0x18 (bit 0
 * big-endian), `version` u32 @0x20 (major << 16 | minor), reserved, the deprecated
 * magic "RISCV\0\0\0" u64 @0x30, the magic2 "RSC\x05" u32 @0x38 and the PE header's
 * offset u32 @0x3C. Debian's `vmlinuz` is such an Image with an EFI stub.
 *
 * @example
 * ```ts
 * import { readRiscvImage } from "./image.ts";
 * const image = readRiscvImage(await Deno.readFile("Image"), "Image");
 * console.log(image?.details.version); // "0.2"
 * ```
 * @module
 */
import type { KernelImage } from "../../core/boot/types.ts";
import { KernelImageError } from "../../core/boot/types.ts";
import { checkPeComplete } from "../pe.ts";
import { formatHex } from "../../core/units.ts";

/** magic2 "RSC\x05" as a little-endian u32 at 0x38. */
export const RISCV_MAGIC2 = 0x05435352;
/** The deprecated magic "RISCV\0\0\0" at 0x30. */
export const RISCV_MAGIC = "RISCV\0\0\0";
/** Size of the header. */
export const RISCV_HEADER_SIZE = 64;

/** True when `bytes` hold `text` (one byte per character) at `offset`. */
function hasAscii(bytes: Uint8Array, offset: number, text: string): boolean {
  if (bytes.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (bytes[offset + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** A little-endian u64 of the header as a number; refuses values beyond 2^53. */
function u64(view: DataView, offset: number, field: string, file: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KernelImageError(
      `RISC-V Image ${field} ${formatHex(Number(value), 1)} is out of range`,
      file,
    );
  }
  return Number(value);
}

/**
 * Reads a RISC-V Image header.
 *
 * Returns undefined when the bytes carry neither magic2 "RSC\x05" at 0x38 nor the
 * deprecated magic "RISCV\0\0\0" at 0x30. Throws {@linkcode KernelImageError}
 * (`where` = `file`) for a file with a magic that is shorter than the 64-byte
 * header, with `image_size` 0 (the boot protocol makes it mandatory), with
 * `image_size` smaller than the file, or with fields out of range.
 *
 * @param bytes The (decompressed) file.
 * @param file The file's name, for messages.
 */
export function readRiscvImage(bytes: Uint8Array, file: string): KernelImage | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic2 = bytes.length >= 0x3c && view.getUint32(0x38, true) === RISCV_MAGIC2;
  if (!magic2 && !hasAscii(bytes, 0x30, RISCV_MAGIC)) return undefined;
  if (bytes.length < RISCV_HEADER_SIZE) {
    throw new KernelImageError(
      `truncated RISC-V Image: ${bytes.length} bytes, the header alone is ${RISCV_HEADER_SIZE}`,
      file,
    );
  }
  const textOffset = u64(view, 0x08, "text_offset", file);
  const imageSize = u64(view, 0x10, "image_size", file);
  const flags = u64(view, 0x18, "flags", file);
  const version = view.getUint32(0x20, true);
  if (imageSize === 0) {
    throw new KernelImageError(
      "RISC-V Image header has image_size 0; the boot protocol makes it mandatory",
      file,
    );
  }
  if (imageSize < bytes.length) {
    throw new KernelImageError(
      `RISC-V Image header is inconsistent: image_size ${formatHex(imageSize, 1)} ` +
        `(${imageSize} bytes) is smaller than the file (${bytes.length} bytes)`,
      file,
    );
  }
  checkPeComplete(bytes, "RISC-V Image", file);
  return {
    file,
    format: "riscv-image",
    label: "Image",
    arch: "riscv",
    archLabel: "riscv64",
    bytes,
    imageSize,
    textOffset,
    flags,
    entryOffset: 0,
    details: {
      text_offset: formatHex(textOffset, 1),
      image_size: formatHex(imageSize, 1),
      flags: formatHex(flags, 1),
      version: `${version >>> 16}.${version & 0xffff}`,
      endianness: flags & 1 ? "big" : "little",
      magic: magic2 ? "RSC\\x05" : "RISCV (deprecated)",
    },
  };
}
