/**
 * The DTB writer: {@linkcode writeFdt} turns an {@linkcode FdtTree} into a version 17
 * blob laid out as dtc lays it out — header, memory reservation block at offset 40,
 * structure block, strings block — with exact sizes and no padding. Sizes are
 * computed first, then the blob is filled in one pass into one buffer.
 *
 * @example
 * ```ts
 * import { writeFdt } from "./write.ts";
 * import { node } from "../../core/devicetree/tree.ts";
 * const blob = writeFdt({ root: node(""), reservations: [], bootCpuidPhys: 0 });
 * ```
 * @module
 */
import { FdtError } from "../../core/devicetree/errors.ts";
import {
  align4,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_VERSION,
  HEADER,
  HEADER_SIZE,
  RSVMAP_ENTRY_SIZE,
} from "./format.ts";
import type { FdtNode, FdtReservation, FdtTree } from "../../core/devicetree/tree.ts";

const encoder = new TextEncoder();
const U64_MAX = (1n << 64n) - 1n;

/** What the measuring pass found: sizes, the strings, and per-property name offsets. */
interface Layout {
  structSize: number;
  /** UTF-8 bytes of the non-ASCII node names; ASCII names are copied from the string. */
  wideNames: Map<FdtNode, Uint8Array>;
  /** Strings-block offset of each property's name, in document order. */
  nameOffsets: Int32Array;
  strings: Uint8Array[];
  stringsSize: number;
}

/** Reused between calls (writeFdt is synchronous) so that big trees do not regrow it. */
let offsetScratch = new Int32Array(1024);

/** The path of the node being measured, for error messages only. */
function pathOf(names: string[]): string {
  return names.length <= 1 ? "/" : names.join("/");
}

/** Checks a node name; returns its UTF-8 bytes when it is not ASCII, else `undefined`. */
function checkNodeName(name: string, names: string[]): Uint8Array | undefined {
  if (names.length === 0) {
    if (name !== "") throw new FdtError("bad-value", `root node name must be "", not "${name}"`);
    return undefined;
  }
  let ascii = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c === 0x2f) {
      throw new FdtError(
        "bad-value",
        `node name "${name}" under ${pathOf(names)} contains NUL or "/"`,
      );
    }
    if (c > 0x7f) ascii = false;
  }
  if (name === "") {
    throw new FdtError("bad-value", `a node under ${pathOf(names)} has an empty name`);
  }
  return ascii ? undefined : encoder.encode(name);
}

/** Measures the tree: struct size, node names and name offsets in document order. */
function measure(root: FdtNode): Layout {
  const offsets = new Map<string, number>();
  const layout: Layout = {
    structSize: 4, // FDT_END
    wideNames: new Map(),
    nameOffsets: offsetScratch,
    strings: [],
    stringsSize: 0,
  };
  let propCount = 0;
  const names: string[] = [];
  const visit = (current: FdtNode): void => {
    const wide = checkNodeName(current.name, names);
    if (wide) layout.wideNames.set(current, wide);
    names.push(current.name);
    // BEGIN_NODE + name + END_NODE
    let size = 8 + align4((wide ? wide.length : current.name.length) + 1);
    const props = current.props;
    for (let p = 0; p < props.length; p++) {
      const prop = props[p];
      let offset = offsets.get(prop.name);
      if (offset === undefined) {
        if (prop.name.includes("\0")) {
          throw new FdtError("bad-value", `property name under ${pathOf(names)} contains NUL`);
        }
        const bytes = encoder.encode(prop.name);
        offset = layout.stringsSize;
        offsets.set(prop.name, offset);
        layout.strings.push(bytes);
        layout.stringsSize += bytes.length + 1;
      }
      if (propCount === layout.nameOffsets.length) {
        const grown = new Int32Array(propCount * 2);
        grown.set(layout.nameOffsets);
        layout.nameOffsets = offsetScratch = grown;
      }
      layout.nameOffsets[propCount++] = offset;
      size += 12 + align4(prop.value.length);
    }
    layout.structSize += size;
    const children = current.children;
    for (let c = 0; c < children.length; c++) visit(children[c]);
    names.pop();
  };
  visit(root);
  return layout;
}

/** Writes a big-endian u32 at `pos`. */
function put32(out: Uint8Array, pos: number, value: number): void {
  out[pos] = value >>> 24;
  out[pos + 1] = value >>> 16;
  out[pos + 2] = value >>> 8;
  out[pos + 3] = value;
}

/** Writes `current` and its subtree at `pos`; returns the position after it. */
function emit(
  current: FdtNode,
  out: Uint8Array,
  pos: number,
  layout: Layout,
  cursor: { prop: number },
): number {
  put32(out, pos, FDT_BEGIN_NODE);
  pos += 4;
  const wide = layout.wideNames.size > 0 ? layout.wideNames.get(current) : undefined;
  if (wide === undefined) {
    const name = current.name;
    for (let i = 0; i < name.length; i++) out[pos + i] = name.charCodeAt(i);
    pos += align4(name.length + 1);
  } else {
    out.set(wide, pos);
    pos += align4(wide.length + 1);
  }
  const props = current.props;
  for (let p = 0; p < props.length; p++) {
    const value = props[p].value;
    const length = value.length;
    put32(out, pos, FDT_PROP);
    put32(out, pos + 4, length);
    put32(out, pos + 8, layout.nameOffsets[cursor.prop++]);
    pos += 12;
    if (length <= 16) {
      for (let i = 0; i < length; i++) out[pos + i] = value[i];
    } else {
      out.set(value, pos);
    }
    pos += align4(length);
  }
  const children = current.children;
  for (let c = 0; c < children.length; c++) pos = emit(children[c], out, pos, layout, cursor);
  put32(out, pos, FDT_END_NODE);
  return pos + 4;
}

function checkReservation(entry: FdtReservation, index: number): void {
  const { address, size } = entry;
  if (typeof address !== "bigint" || typeof size !== "bigint") {
    throw new FdtError("bad-value", `reservation ${index}: address and size must be bigints`);
  }
  if (address < 0n || address > U64_MAX || size < 0n || size > U64_MAX) {
    throw new FdtError("bad-value", `reservation ${index}: address or size is not a u64`);
  }
  if (address === 0n && size === 0n) {
    throw new FdtError("bad-value", `reservation ${index}: 0,0 would end the reservation map`);
  }
}

/**
 * Encodes `tree` as an FDT version 17 blob (last_comp_version 16): reservation map
 * at offset 40 ending in 0,0, properties before subnodes, exactly one END, property
 * names stored once each in the strings block, totalsize exact, no padding.
 *
 * Throws {@linkcode FdtError} `bad-value` for what a blob cannot carry: a root name
 * other than `""`, an empty child name or one containing NUL or `/`, a property name
 * containing NUL, a reservation outside u64 or equal to 0,0, a boot_cpuid_phys that
 * is not a u32. The tree must be acyclic.
 */
export function writeFdt(tree: FdtTree): Uint8Array {
  const boot = tree.bootCpuidPhys;
  if (!Number.isInteger(boot) || boot < 0 || boot > 0xffffffff) {
    throw new FdtError("bad-value", `bootCpuidPhys ${boot} is not a u32`);
  }
  tree.reservations.forEach(checkReservation);
  const layout = measure(tree.root);

  const offRsvmap = HEADER_SIZE; // 40: already 8-aligned
  const offStruct = offRsvmap + (tree.reservations.length + 1) * RSVMAP_ENTRY_SIZE;
  const offStrings = offStruct + layout.structSize;
  const total = offStrings + layout.stringsSize;

  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(HEADER.magic, FDT_MAGIC);
  view.setUint32(HEADER.totalsize, total);
  view.setUint32(HEADER.offDtStruct, offStruct);
  view.setUint32(HEADER.offDtStrings, offStrings);
  view.setUint32(HEADER.offMemRsvmap, offRsvmap);
  view.setUint32(HEADER.version, FDT_VERSION);
  view.setUint32(HEADER.lastCompVersion, FDT_LAST_COMP_VERSION);
  view.setUint32(HEADER.bootCpuidPhys, boot);
  view.setUint32(HEADER.sizeDtStrings, layout.stringsSize);
  view.setUint32(HEADER.sizeDtStruct, layout.structSize);

  let pos = offRsvmap;
  for (const { address, size } of tree.reservations) {
    view.setBigUint64(pos, address);
    view.setBigUint64(pos + 8, size);
    pos += RSVMAP_ENTRY_SIZE;
  }
  pos += RSVMAP_ENTRY_SIZE; // the 0,0 terminator: the buffer is zero-filled

  const cursor = { prop: 0 };
  pos = emit(tree.root, out, pos, layout, cursor);
  view.setUint32(pos, FDT_END);

  pos = offStrings;
  for (const bytes of layout.strings) {
    out.set(bytes, pos);
    pos += bytes.length + 1;
  }
  return out;
}
