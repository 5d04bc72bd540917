/**
 * Constants of the flattened device tree (DTB) format, version 17: the header
 * layout, the structure-block tokens and the alignment rules. Devicetree
 * specification, chapter 5.
 *
 * @module
 */

/** The first big-endian word of every blob. */
export const FDT_MAGIC = 0xd00dfeed;
/** The version this codec writes. */
export const FDT_VERSION = 17;
/** The last_comp_version this codec writes: readers of version 16 can read the blob. */
export const FDT_LAST_COMP_VERSION = 16;
/** The oldest version the reader accepts. */
export const FDT_MIN_READ_VERSION = 16;

/** Size of the version 17 header: ten big-endian u32 words. */
export const HEADER_SIZE = 40;
/** Size of the version 16 header, which lacks size_dt_struct. */
export const HEADER_SIZE_V16 = 36;

/** Byte offsets of the header fields. */
export const HEADER = {
  magic: 0,
  totalsize: 4,
  offDtStruct: 8,
  offDtStrings: 12,
  offMemRsvmap: 16,
  version: 20,
  lastCompVersion: 24,
  bootCpuidPhys: 28,
  sizeDtStrings: 32,
  sizeDtStruct: 36,
} as const;

/** Structure-block token: start of a node, followed by its NUL-terminated name. */
export const FDT_BEGIN_NODE = 0x1;
/** Structure-block token: end of a node. */
export const FDT_END_NODE = 0x2;
/** Structure-block token: a property, followed by u32 len, u32 nameoff, value. */
export const FDT_PROP = 0x3;
/** Structure-block token: nothing; readers skip it. */
export const FDT_NOP = 0x4;
/** Structure-block token: end of the structure block; exactly one, last. */
export const FDT_END = 0x9;

/** Alignment of structure-block tokens. */
export const TOKEN_ALIGN = 4;
/** Alignment of the memory reservation block. */
export const RSVMAP_ALIGN = 8;
/** Size of one memory reservation entry: u64 address, u64 size. */
export const RSVMAP_ENTRY_SIZE = 16;

/** Rounds `n` up to a multiple of 4 (token alignment). */
export function align4(n: number): number {
  const up = n + 3;
  return up - (up % 4);
}
