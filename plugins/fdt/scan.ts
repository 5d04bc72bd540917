/**
 * The DTB scanner: {@linkcode scanFdt} walks a blob's structure block once and
 * fills an {@linkcode FdtIndex} — flat arrays, no object or string per node or
 * property — checking everything it relies on, so any malformed or hostile input
 * ends in an {@linkcode FdtError}: never another exception, never a hang (every
 * loop advances through a bounded block), never an out-of-range read. The reader
 * ({@linkcode ./read.ts}) makes its tree of objects from the index.
 *
 * @example
 * ```ts
 * import { scanFdt } from "./scan.ts";
 * const index = scanFdt(await Deno.readFile("/sys/firmware/fdt"));
 * console.log(index.nodeCount);
 * ```
 * @module
 */
import { FdtError } from "../../core/devicetree/errors.ts";
import { MAX_DTB_BYTES } from "../../core/files.ts";
import { decodeText, FdtIndex, growInt32 } from "../../core/devicetree/fdt_index.ts";
import {
  align4,
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
} from "./format.ts";
import { type Header, hex, readHeader, readReservations } from "./header.ts";

/** Limits that bound the work and memory a blob can make the reader spend. */
export interface ReadLimits {
  /** Largest totalsize accepted, in bytes; default 16 MiB (core's `MAX_DTB_BYTES`). */
  maxSize?: number;
  /** Deepest nesting accepted, the root counting as 1; default 64. */
  maxDepth?: number;
  /** Most nodes accepted; default 1 000 000. */
  maxNodes?: number;
}

/** The limits {@linkcode scanFdt} applies when none are given. */
export const DEFAULT_READ_LIMITS: Readonly<Required<ReadLimits>> = {
  maxSize: MAX_DTB_BYTES,
  maxDepth: 64,
  maxNodes: 1_000_000,
};

/** Decoded property-name bytes allowed per strings-block byte (suffix sharing reuses bytes). */
const NAME_BUDGET_FACTOR = 4;
/** Decoded property-name bytes allowed on top of {@linkcode NAME_BUDGET_FACTOR}. */
const NAME_BUDGET_SLACK = 64 * 1024;
/** Strings blocks up to this size map name offsets to ids through one array. */
const DENSE_NAMES = 64 * 1024;
/** Slots of the scanner's property-name cache (bigger strings blocks); a power of two. */
const NAME_CACHE_SIZE = 256;

/** Property names by strings-block offset: each distinct offset checked and decoded once. */
class PropNames {
  readonly names: string[] = [];
  /** The id of `phandle`, -1 until seen. */
  phandle = -1;
  /** The id of `linux,phandle`, -1 until seen. */
  linuxPhandle = -1;
  readonly #ids = new Map<number, number>();
  readonly #byName = new Map<string, number>();
  readonly #keys = new Int32Array(NAME_CACHE_SIZE).fill(-1);
  readonly #slots = new Int32Array(NAME_CACHE_SIZE);
  // Distinct name offsets may point into one long string (dtc shares suffixes), so
  // decoding is capped in total to keep hostile blobs linear in time and memory.
  #budget: number;

  /** The blob up to the end of the strings block, for NUL searches that stop there. */
  readonly strings: Uint8Array;

  /** Ids by name offset, for strings blocks of up to {@linkcode DENSE_NAMES} bytes (-1: not yet). */
  readonly dense: Int32Array;

  constructor(readonly blob: Uint8Array, readonly header: Header) {
    this.strings = blob.subarray(0, header.stringsEnd);
    const size = header.stringsEnd - header.offStrings;
    this.dense = new Int32Array(size <= DENSE_NAMES ? size : 0).fill(-1);
    this.#budget = NAME_BUDGET_FACTOR * (header.stringsEnd - header.offStrings) +
      NAME_BUDGET_SLACK;
  }

  /** The name id of `nameoff` (the property token at `at`, for errors). */
  id(nameoff: number, at: number): number {
    const dense = this.dense;
    if (nameoff < dense.length) {
      const known = dense[nameoff];
      if (known >= 0) return known;
      return dense[nameoff] = this.#decode(nameoff, at);
    }
    const slot = nameoff & (NAME_CACHE_SIZE - 1);
    if (this.#keys[slot] === nameoff) return this.#slots[slot];
    const id = this.#ids.get(nameoff) ?? this.#decode(nameoff, at);
    this.#keys[slot] = nameoff;
    this.#slots[slot] = id;
    return id;
  }

  #decode(nameoff: number, at: number): number {
    const { offStrings, stringsEnd } = this.header;
    if (nameoff >= stringsEnd - offStrings) {
      throw new FdtError("bad-offset", `property nameoff 0x${hex(nameoff)} is outside strings`, at);
    }
    const start = offStrings + nameoff;
    const end = this.strings.indexOf(0, start);
    if (end < 0) {
      throw new FdtError("unterminated-string", "property name runs past the strings block", start);
    }
    this.#budget -= end - start + 1;
    if (this.#budget < 0) {
      throw new FdtError("too-large", "property names overlap beyond any real blob", at);
    }
    const name = decodeText(this.blob, start, end);
    let id = this.#byName.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.#byName.set(name, id);
      if (name === "phandle") this.phandle = id;
      if (name === "linux,phandle") this.linuxPhandle = id;
    }
    this.#ids.set(nameoff, id);
    return id;
  }
}

/**
 * The structure block's walk: the index's columns, filled in place (typed arrays
 * grown by doubling), the stack of open nodes and the position.
 */
class Scan {
  readonly names: PropNames;
  readonly view: DataView;
  readonly stack: number[] = [];
  /** The `phandle` and `linux,phandle` properties, `[node, property, …]`. */
  readonly phandleProps: number[] = [];
  /** The last property of each open node, by depth (-1: none yet). */
  readonly last: number[] = [];
  nodes = 0;
  props = 0;
  pos: number;
  parent: Int32Array;
  end: Int32Array;
  nameStart: Int32Array;
  nameLength: Int32Array;
  propFirst: Int32Array;
  propNext: Int32Array;
  propName: Int32Array;
  valueStart: Int32Array;
  valueLength: Int32Array;

  constructor(
    readonly blob: Uint8Array,
    readonly header: Header,
    readonly maxDepth: number,
    readonly maxNodes: number,
  ) {
    this.names = new PropNames(blob, header);
    this.view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    this.pos = header.offStruct;
    const size = header.structEnd - header.offStruct;
    const nodes = (size >> 7) + 16, props = (size >> 4) + 16;
    this.parent = new Int32Array(nodes);
    this.end = new Int32Array(nodes);
    this.nameStart = new Int32Array(nodes);
    this.nameLength = new Int32Array(nodes);
    this.propFirst = new Int32Array(nodes);
    this.propNext = new Int32Array(props);
    this.propName = new Int32Array(props);
    this.valueStart = new Int32Array(props);
    this.valueLength = new Int32Array(props);
  }

  /** Makes room for property `p`. */
  roomForProp(p: number): void {
    if (p < this.propNext.length) return;
    this.propNext = growInt32(this.propNext, p + 1);
    this.propName = growInt32(this.propName, p + 1);
    this.valueStart = growInt32(this.valueStart, p + 1);
    this.valueLength = growInt32(this.valueLength, p + 1);
  }

  /** Makes room for node `i`. */
  roomForNode(i: number): void {
    if (i < this.parent.length) return;
    this.parent = growInt32(this.parent, i + 1);
    this.end = growInt32(this.end, i + 1);
    this.nameStart = growInt32(this.nameStart, i + 1);
    this.nameLength = growInt32(this.nameLength, i + 1);
    this.propFirst = growInt32(this.propFirst, i + 1);
  }

  /** A BEGIN_NODE token at `at`: a new node, its name recorded in place. */
  begin(at: number): void {
    const { header, stack } = this;
    if (this.nodes > 0 && stack.length === 0) {
      throw new FdtError("bad-structure", "a second node after the root", at);
    }
    const { blob, pos } = this, limit = header.structEnd;
    let end = pos;
    while (end < limit && blob[end] !== 0) end++;
    if (end === limit) {
      throw new FdtError("unterminated-name", "node name runs past the structure block", this.pos);
    }
    if (this.nodes + 1 > this.maxNodes) {
      throw new FdtError("too-large", `more than ${this.maxNodes} nodes`, at);
    }
    if (stack.length >= this.maxDepth) {
      throw new FdtError("too-deep", `nodes nested deeper than ${this.maxDepth}`, at);
    }
    const i = this.nodes++;
    this.roomForNode(i);
    this.parent[i] = stack.length > 0 ? stack[stack.length - 1] : -1;
    this.nameStart[i] = this.pos - header.offStruct;
    this.nameLength[i] = end - this.pos;
    this.propFirst[i] = -1;
    this.last[stack.length] = -1;
    stack.push(i);
    this.pos = align4(end + 1);
  }

  /** An END_NODE token at `at`. */
  endNode(at: number): void {
    const node = this.stack.pop();
    if (node === undefined) {
      throw new FdtError("bad-structure", "END_NODE without a matching BEGIN_NODE", at);
    }
    this.end[node] = this.nodes;
  }

  /** The END token at `at`: the walk must be complete. */
  finish(at: number): void {
    if (this.stack.length > 0) {
      throw new FdtError("bad-structure", `END inside ${this.stack.length} unclosed node(s)`, at);
    }
    if (this.nodes === 0) throw new FdtError("bad-structure", "no root node", at);
    if (this.header.version >= FDT_VERSION && this.pos !== this.header.structEnd) {
      throw new FdtError("bad-structure", "END is not the last token of the block", at);
    }
  }

  /**
   * Walks tokens up to END. PROP, most of the tokens, is handled in the loop
   * itself, with the columns in locals: a fresh process runs this once, before the
   * JIT has compiled anything, so fewer calls per token is what makes it fast.
   */
  run(): void {
    const { header, view, names, stack, last, phandleProps } = this;
    const { structEnd, offStruct } = header;
    const dense = names.dense;
    let { propNext, propName, valueStart, valueLength } = this;
    let pos = this.pos;
    for (;;) {
      if (pos + 4 > structEnd) {
        throw new FdtError("bad-structure", "structure block ends without END", pos);
      }
      const at = pos;
      const token = view.getUint32(at);
      pos += 4;
      if (token === FDT_PROP) {
        const depth = stack.length - 1;
        if (depth < 0) throw new FdtError("bad-structure", "property outside a node", at);
        if (pos + 8 > structEnd) {
          throw new FdtError("bad-structure", "property header runs past the structure block", at);
        }
        const length = view.getUint32(pos);
        const nameoff = view.getUint32(pos + 4);
        let id = nameoff < dense.length ? dense[nameoff] : -1;
        if (id < 0) id = names.id(nameoff, at + 8);
        pos += 8;
        if (length > structEnd - pos) {
          throw new FdtError(
            "bad-offset",
            `property value of ${length} bytes runs past the block`,
            at,
          );
        }
        const p = this.props++;
        if (p >= propNext.length) {
          this.roomForProp(p);
          ({ propNext, propName, valueStart, valueLength } = this);
        }
        const previous = last[depth];
        if (previous < 0) this.propFirst[stack[depth]] = p;
        else propNext[previous] = p;
        last[depth] = p;
        propNext[p] = -1;
        propName[p] = id;
        valueStart[p] = pos - offStruct;
        valueLength[p] = length;
        if (id === names.phandle || id === names.linuxPhandle) phandleProps.push(stack[depth], p);
        pos = align4(pos + length);
        continue;
      }
      this.pos = pos;
      if (token === FDT_BEGIN_NODE) this.begin(at);
      else if (token === FDT_END_NODE) this.endNode(at);
      else if (token === FDT_END) return this.finish(at);
      else if (token !== FDT_NOP) {
        throw new FdtError("bad-token", `unknown token 0x${hex(token)}`, at);
      }
      pos = this.pos;
    }
  }
}

/**
 * Scans a DTB into an {@linkcode FdtIndex}. Accepts version 16 and 17 blobs
 * (version >= 16, last_comp_version <= 17), honours the header's block offsets and
 * sizes, skips NOP tokens, and validates: magic; totalsize within the blob and
 * `limits.maxSize`; every block inside totalsize and past the header; reservation
 * map 8-aligned and terminated; structure block 4-aligned; node names
 * NUL-terminated inside the structure block; property name offsets inside the
 * strings block and their strings terminated there; property values inside the
 * structure block; BEGIN_NODE/END_NODE balanced, a single root, exactly one END and
 * (version 17) nothing after it; depth and node count within `limits`. The index
 * reads names and values in `blob` itself: do not change `blob` while it is used
 * (its {@linkcode FdtIndex.toTree} copies them).
 *
 * @throws {FdtError} for every malformed blob, with the offset of the problem.
 */
export function scanFdt(blob: Uint8Array, limits: ReadLimits = {}): FdtIndex {
  const maxSize = limits.maxSize ?? DEFAULT_READ_LIMITS.maxSize;
  const maxDepth = limits.maxDepth ?? DEFAULT_READ_LIMITS.maxDepth;
  const maxNodes = limits.maxNodes ?? DEFAULT_READ_LIMITS.maxNodes;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const header = readHeader(blob, view, maxSize);
  const reservations = readReservations(view, header);
  const scan = new Scan(blob, header, maxDepth, maxNodes);
  scan.run();
  return new FdtIndex({
    bytes: blob.subarray(header.offStruct, header.structEnd),
    nodeCount: scan.nodes,
    parent: scan.parent,
    end: scan.end,
    nameStart: scan.nameStart,
    nameLength: scan.nameLength,
    propFirst: scan.propFirst,
    propNext: scan.propNext,
    propName: scan.propName,
    valueStart: scan.valueStart,
    valueLength: scan.valueLength,
    phandleProps: scan.phandleProps,
    propNames: scan.names.names,
    reservations,
    bootCpuidPhys: header.bootCpuidPhys,
  });
}
