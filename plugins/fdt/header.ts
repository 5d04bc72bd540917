/**
 * The DTB header and memory reservation block: {@linkcode readHeader} checks every
 * field the reader relies on against the others and the blob, so the structure
 * block's scanner can trust its offsets; {@linkcode readReservations} reads the
 * reservation map.
 *
 * @module
 */
import { FdtError } from "../../core/devicetree/errors.ts";
import type { FdtReservation } from "../../core/devicetree/tree.ts";
import {
  FDT_MAGIC,
  FDT_MIN_READ_VERSION,
  FDT_VERSION,
  HEADER,
  HEADER_SIZE,
  HEADER_SIZE_V16,
  RSVMAP_ALIGN,
  RSVMAP_ENTRY_SIZE,
  TOKEN_ALIGN,
} from "./format.ts";

/** The header fields the reader uses, already checked against each other and the blob. */
export interface Header {
  /** The blob's version (16 or 17). */
  version: number;
  /** The blob's size by its header. */
  totalsize: number;
  /** Offset of the memory reservation block. */
  offRsvmap: number;
  /** Offset of the structure block. */
  offStruct: number;
  /** End of the structure block (totalsize for version 16). */
  structEnd: number;
  /** Offset of the strings block. */
  offStrings: number;
  /** End of the strings block. */
  stringsEnd: number;
  /** The boot CPU's physical id. */
  bootCpuidPhys: number;
}

/** Reads and checks the header against itself and the blob. */
export function readHeader(blob: Uint8Array, view: DataView, maxSize: number): Header {
  const length = blob.length;
  if (length < 4) throw new FdtError("truncated", `blob of ${length} bytes has no header`, 0);
  const magic = view.getUint32(HEADER.magic);
  if (magic !== FDT_MAGIC) {
    throw new FdtError("bad-magic", `magic 0x${magic.toString(16)} is not 0xd00dfeed`, 0);
  }
  if (length < HEADER.lastCompVersion + 4) {
    throw new FdtError("truncated", `blob of ${length} bytes is shorter than the header`, 0);
  }
  const version = view.getUint32(HEADER.version);
  const lastComp = view.getUint32(HEADER.lastCompVersion);
  if (version < FDT_MIN_READ_VERSION || lastComp > FDT_VERSION || version < lastComp) {
    throw new FdtError(
      "bad-version",
      `version ${version} / last_comp_version ${lastComp}: need version >= 16, ` +
        `last_comp_version <= 17 and last_comp_version <= version`,
      HEADER.version,
    );
  }
  const headerSize = version >= FDT_VERSION ? HEADER_SIZE : HEADER_SIZE_V16;
  if (length < headerSize) {
    throw new FdtError("truncated", `blob of ${length} bytes is shorter than the header`, 0);
  }
  const totalsize = view.getUint32(HEADER.totalsize);
  if (totalsize > maxSize) {
    throw new FdtError("too-large", `totalsize ${totalsize} exceeds the limit ${maxSize}`, 4);
  }
  if (totalsize > length) {
    throw new FdtError("truncated", `totalsize ${totalsize} exceeds the ${length}-byte blob`, 4);
  }
  if (totalsize < headerSize) {
    throw new FdtError("bad-offset", `totalsize ${totalsize} is smaller than the header`, 4);
  }

  const offRsvmap = view.getUint32(HEADER.offMemRsvmap);
  const offStruct = view.getUint32(HEADER.offDtStruct);
  const offStrings = view.getUint32(HEADER.offDtStrings);
  const sizeStrings = view.getUint32(HEADER.sizeDtStrings);
  const sizeStruct = version >= FDT_VERSION ? view.getUint32(HEADER.sizeDtStruct) : undefined;

  if (offRsvmap % RSVMAP_ALIGN !== 0) {
    throw new FdtError("bad-alignment", `off_mem_rsvmap 0x${hex(offRsvmap)} is not 8-aligned`, 16);
  }
  if (offStruct % TOKEN_ALIGN !== 0) {
    throw new FdtError("bad-alignment", `off_dt_struct 0x${hex(offStruct)} is not 4-aligned`, 8);
  }
  if (offRsvmap < headerSize || offRsvmap > totalsize) {
    throw new FdtError("bad-offset", `off_mem_rsvmap 0x${hex(offRsvmap)} is outside the blob`, 16);
  }
  if (offStruct < headerSize || offStruct > totalsize) {
    throw new FdtError("bad-offset", `off_dt_struct 0x${hex(offStruct)} is outside the blob`, 8);
  }
  if (sizeStruct !== undefined && offStruct + sizeStruct > totalsize) {
    throw new FdtError(
      "bad-offset",
      `structure block 0x${hex(offStruct)}+0x${hex(sizeStruct)} runs past totalsize`,
      36,
    );
  }
  if (offStrings < headerSize || offStrings + sizeStrings > totalsize) {
    throw new FdtError(
      "bad-offset",
      `strings block 0x${hex(offStrings)}+0x${hex(sizeStrings)} is outside the blob`,
      12,
    );
  }
  return {
    version,
    totalsize,
    offRsvmap,
    offStruct,
    structEnd: sizeStruct === undefined ? totalsize : offStruct + sizeStruct,
    offStrings,
    stringsEnd: offStrings + sizeStrings,
    bootCpuidPhys: view.getUint32(HEADER.bootCpuidPhys),
  };
}

/** `n` in hex, for messages. */
export function hex(n: number): string {
  return n.toString(16);
}

/** The memory reservation entries, up to the 0,0 terminator. */
export function readReservations(view: DataView, header: Header): FdtReservation[] {
  const out: FdtReservation[] = [];
  for (let pos = header.offRsvmap;; pos += RSVMAP_ENTRY_SIZE) {
    if (pos + RSVMAP_ENTRY_SIZE > header.totalsize) {
      throw new FdtError("bad-structure", "memory reservation map has no 0,0 terminator", pos);
    }
    const address = view.getBigUint64(pos);
    const size = view.getBigUint64(pos + 8);
    if (address === 0n && size === 0n) return out;
    out.push({ address, size });
  }
}
