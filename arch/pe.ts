/**
 * The PE/COFF header an EFI-stub kernel (arm64 and RISC-V Images) carries after
 * its boot header: where its sections' file data ends, which is how a truncated
 * Image shows itself (the Image header has no file size).
 *
 * @module
 */
import { KernelImageError } from "../core/boot/types.ts";

/** Size of a COFF section header. */
const SECTION_HEADER = 40;

/**
 * Where the file data of the PE/COFF sections ends, for bytes that start with
 * "MZ" and whose u32 at 0x3C points at a "PE\0\0" signature; undefined for a
 * kernel without an EFI stub. Returns `Infinity` when the headers themselves are
 * cut off.
 */
export function peDataEnd(bytes: Uint8Array): number | undefined {
  if (bytes.length < 0x40 || bytes[0] !== 0x4d || bytes[1] !== 0x5a) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pe = view.getUint32(0x3c, true);
  if (pe === 0) return undefined;
  if (bytes.length < pe + 24) return Infinity;
  if (view.getUint32(pe, true) !== 0x00004550) return undefined; // "PE\0\0"
  const sections = view.getUint16(pe + 6, true);
  const table = pe + 24 + view.getUint16(pe + 20, true);
  if (bytes.length < table + sections * SECTION_HEADER) return Infinity;
  let end = table + sections * SECTION_HEADER;
  for (let i = 0; i < sections; i++) {
    const at = table + i * SECTION_HEADER;
    const size = view.getUint32(at + 16, true);
    const pointer = view.getUint32(at + 20, true);
    if (size > 0) end = Math.max(end, pointer + size);
  }
  return end;
}

/**
 * Throws {@linkcode KernelImageError} when an EFI-stub kernel is shorter than its
 * PE/COFF sections say (`what` names the format, e.g. `arm64 Image`).
 */
export function checkPeComplete(bytes: Uint8Array, what: string, file: string): void {
  const end = peDataEnd(bytes);
  if (end === undefined || bytes.length >= end) return;
  throw new KernelImageError(
    `truncated ${what}: ${bytes.length} bytes, ` +
      (end === Infinity
        ? "its PE/COFF headers are cut off"
        : `its PE/COFF sections end at ${end} bytes`),
    file,
  );
}
