/**
 * The DTB reader: {@linkcode readFdt} parses a version 16 or 17 blob into an
 * {@linkcode FdtTree}, checking everything it relies on, so any malformed or hostile
 * input ends in an {@linkcode FdtError} — never another exception, never a hang (every
 * loop advances through a bounded block), never an out-of-range DataView read.
 *
 * @example
 * ```ts
 * import { readFdt } from "./read.ts";
 * const tree = readFdt(await Deno.readFile("/sys/firmware/fdt"));
 * ```
 * @module
 */
import { FdtError } from "../../core/devicetree/errors.ts";
import { MAX_DTB_BYTES } from "../../core/files.ts";
import {
  align4,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_MAGIC,
  FDT_MIN_READ_VERSION,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  HEADER,
  HEADER_SIZE,
  HEADER_SIZE_V16,
  RSVMAP_ALIGN,
  RSVMAP_ENTRY_SIZE,
  TOKEN_ALIGN,
} from "./format.ts";
import type { FdtNode, FdtProperty, FdtReservation, FdtTree } from "../../core/devicetree/tree.ts";

/** Limits that bound the work and memory a blob can make the reader spend. */
export interface ReadLimits {
  /** Largest totalsize accepted, in bytes; default 16 MiB (core's `MAX_DTB_BYTES`). */
  maxSize?: number;
  /** Deepest nesting accepted, the root counting as 1; default 64. */
  maxDepth?: number;
  /** Most nodes accepted; default 1 000 000. */
  maxNodes?: number;
}

/** The limits {@linkcode readFdt} applies when none are given. */
export const DEFAULT_READ_LIMITS: Readonly<Required<ReadLimits>> = {
  maxSize: MAX_DTB_BYTES,
  maxDepth: 64,
  maxNodes: 1_000_000,
};

const decoder = new TextDecoder();

/** Decoded property-name bytes allowed per strings-block byte (suffix sharing reuses bytes). */
const NAME_BUDGET_FACTOR = 4;
/** Decoded property-name bytes allowed on top of {@linkcode NAME_BUDGET_FACTOR}. */
const NAME_BUDGET_SLACK = 64 * 1024;
/** Slots of the reader's property-name cache; a power of two. */
const NAME_CACHE_SIZE = 256;

/** Decodes UTF-8 bytes [start, end) of `bytes`; short ASCII without TextDecoder. */
function decodeText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let text = "";
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c > 0x7f) return decoder.decode(bytes.subarray(start, end));
      text += String.fromCharCode(c);
    }
    return text;
  }
  return decoder.decode(bytes.subarray(start, end));
}

/** The header fields the reader uses, already checked against each other and the blob. */
interface Header {
  version: number;
  totalsize: number;
  offRsvmap: number;
  offStruct: number;
  structEnd: number;
  offStrings: number;
  stringsEnd: number;
  bootCpuidPhys: number;
}

function readHeader(blob: Uint8Array, view: DataView, maxSize: number): Header {
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

function hex(n: number): string {
  return n.toString(16);
}

function readReservations(view: DataView, header: Header): FdtReservation[] {
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

function readStructure(
  blob: Uint8Array,
  view: DataView,
  header: Header,
  maxDepth: number,
  maxNodes: number,
): FdtNode {
  const { structEnd, offStrings, stringsEnd } = header;
  // NUL searches run on views that end with their block, so none scans past it.
  const structBytes = blob.subarray(0, structEnd);
  const stringBytes = blob.subarray(0, stringsEnd);
  const names = new Map<number, string>();
  // Distinct name offsets may point into one long string (dtc shares suffixes), so
  // decoding is capped in total to keep hostile blobs linear in time and memory.
  let nameBudget = NAME_BUDGET_FACTOR * (stringsEnd - offStrings) + NAME_BUDGET_SLACK;
  const propName = (nameoff: number, at: number): string => {
    const cached = names.get(nameoff);
    if (cached !== undefined) return cached;
    if (nameoff >= stringsEnd - offStrings) {
      throw new FdtError("bad-offset", `property nameoff 0x${hex(nameoff)} is outside strings`, at);
    }
    const start = offStrings + nameoff;
    const end = stringBytes.indexOf(0, start);
    if (end < 0) {
      throw new FdtError("unterminated-string", "property name runs past the strings block", start);
    }
    nameBudget -= end - start + 1;
    if (nameBudget < 0) {
      throw new FdtError("too-large", "property names overlap beyond any real blob", at);
    }
    const name = decodeText(blob, start, end);
    names.set(nameoff, name);
    return name;
  };
  // A direct-mapped cache in front of `names`: most blobs use a few dozen names.
  const cacheKeys = new Int32Array(NAME_CACHE_SIZE).fill(-1);
  const cacheNames = new Array<string>(NAME_CACHE_SIZE).fill("");

  // One copy of the structure block; property values are views into it, which is
  // an order of magnitude cheaper than one ArrayBuffer per value.
  const values = blob.slice(header.offStruct, structEnd).buffer;
  const base = header.offStruct;
  // Node names are gathered NUL-separated and decoded with one TextDecoder call at the
  // end: far cheaper than building thousands of short strings one by one.
  const named: FdtNode[] = [];
  let nameBytes = new Uint8Array(4096);
  let nameLength = 0;
  const stack: FdtNode[] = [];
  let current: FdtNode | undefined; // top of `stack`
  let root: FdtNode | undefined;
  let nodes = 0;
  let pos = header.offStruct;
  for (;;) {
    if (pos + 4 > structEnd) {
      throw new FdtError("bad-structure", "structure block ends without END", pos);
    }
    const at = pos;
    const token = view.getUint32(pos);
    pos += 4;
    if (token === FDT_PROP) {
      if (current === undefined) {
        throw new FdtError("bad-structure", "property outside a node", at);
      }
      if (pos + 8 > structEnd) {
        throw new FdtError("bad-structure", "property header runs past the structure block", at);
      }
      const length = view.getUint32(pos);
      const nameoff = view.getUint32(pos + 4);
      const slot = nameoff & (NAME_CACHE_SIZE - 1);
      let name = cacheNames[slot];
      if (cacheKeys[slot] !== nameoff) {
        name = propName(nameoff, at + 8);
        cacheKeys[slot] = nameoff;
        cacheNames[slot] = name;
      }
      pos += 8;
      if (length > structEnd - pos) {
        throw new FdtError(
          "bad-offset",
          `property value of ${length} bytes runs past the block`,
          at,
        );
      }
      const prop: FdtProperty = { name, value: new Uint8Array(values, pos - base, length) };
      current.props.push(prop);
      pos = align4(pos + length);
    } else if (token === FDT_BEGIN_NODE) {
      if (root !== undefined && stack.length === 0) {
        throw new FdtError("bad-structure", "a second node after the root", at);
      }
      const end = structBytes.indexOf(0, pos);
      if (end < 0) {
        throw new FdtError("unterminated-name", "node name runs past the structure block", pos);
      }
      if (++nodes > maxNodes) {
        throw new FdtError("too-large", `more than ${maxNodes} nodes`, at);
      }
      if (stack.length >= maxDepth) {
        throw new FdtError("too-deep", `nodes nested deeper than ${maxDepth}`, at);
      }
      const length = end - pos;
      if (nameLength + length + 1 > nameBytes.length) {
        const grown = new Uint8Array(Math.max(nameBytes.length * 2, nameLength + length + 1));
        grown.set(nameBytes.subarray(0, nameLength));
        nameBytes = grown;
      }
      if (length > 64) nameBytes.set(blob.subarray(pos, end), nameLength);
      else for (let i = 0; i < length; i++) nameBytes[nameLength + i] = blob[pos + i];
      nameLength += length + 1; // the NUL separator: the buffer is zero-filled
      const child: FdtNode = { name: "", props: [], children: [] };
      named.push(child);
      if (current === undefined) root = child;
      else current.children.push(child);
      stack.push(child);
      current = child;
      pos = align4(end + 1);
    } else if (token === FDT_END_NODE) {
      if (stack.pop() === undefined) {
        throw new FdtError("bad-structure", "END_NODE without a matching BEGIN_NODE", at);
      }
      current = stack[stack.length - 1];
    } else if (token === FDT_NOP) {
      // nothing
    } else if (token === FDT_END) {
      if (stack.length > 0) {
        throw new FdtError("bad-structure", `END inside ${stack.length} unclosed node(s)`, at);
      }
      if (root === undefined) throw new FdtError("bad-structure", "no root node", at);
      if (header.version >= FDT_VERSION && pos !== structEnd) {
        throw new FdtError("bad-structure", "END is not the last token of the block", at);
      }
      const names = decoder.decode(nameBytes.subarray(0, nameLength - 1)).split("\0");
      for (let i = 0; i < named.length; i++) named[i].name = names[i];
      return root;
    } else {
      throw new FdtError("bad-token", `unknown token 0x${hex(token)}`, at);
    }
  }
}

/**
 * Parses a DTB. Accepts version 16 and 17 blobs (version >= 16, last_comp_version
 * <= 17), honours the header's block offsets and sizes, skips NOP tokens, and
 * validates: magic; totalsize within the blob and `limits.maxSize`; every block
 * inside totalsize and past the header; reservation map 8-aligned and terminated;
 * structure block 4-aligned; node names NUL-terminated inside the structure block;
 * property name offsets inside the strings block and their strings terminated there;
 * property values inside the structure block; BEGIN_NODE/END_NODE balanced, a single
 * root, exactly one END and (version 17) nothing after it; depth and node count
 * within `limits`. Names are decoded as UTF-8. Property values are views into one
 * private copy of the structure block, so they never alias `blob` (mind
 * `value.byteOffset` when wrapping `value.buffer`).
 *
 * @throws {FdtError} for every malformed blob, with the offset of the problem.
 */
export function readFdt(blob: Uint8Array, limits: ReadLimits = {}): FdtTree {
  const maxSize = limits.maxSize ?? DEFAULT_READ_LIMITS.maxSize;
  const maxDepth = limits.maxDepth ?? DEFAULT_READ_LIMITS.maxDepth;
  const maxNodes = limits.maxNodes ?? DEFAULT_READ_LIMITS.maxNodes;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const header = readHeader(blob, view, maxSize);
  const reservations = readReservations(view, header);
  const root = readStructure(blob, view, header, maxDepth, maxNodes);
  return { root, reservations, bootCpuidPhys: header.bootCpuidPhys };
}
