/**
 * A device tree as flat arrays instead of objects: nodes in document order, each
 * with its parent, the end of its subtree and a list of properties; property
 * names as small integer ids; names and values as spans of one byte buffer. The
 * codec fills one from a blob without making an object or a string per node or
 * property, so the pruning can judge a board's thousands of nodes cheaply and
 * make {@linkcode FdtNode}s only of what the partition keeps.
 *
 * Node `i`'s subtree is nodes `i` to `end[i] - 1`; its first child is `i + 1`
 * (when `i + 1 < end[i]`), and a child `c`'s next sibling is `end[c]`.
 *
 * @example
 * ```ts
 * import { indexTree } from "./fdt_index.ts";
 * import { node } from "./tree.ts";
 * import { u32 } from "./values.ts";
 * const index = indexTree({
 *   root: node("", [], [node("cpus", [{ name: "#address-cells", value: u32(1) }])]),
 *   reservations: [],
 *   bootCpuidPhys: 0,
 * });
 * const cpus = index.findPath("/cpus");
 * index.u32(index.prop(cpus, index.nameId("#address-cells"))); // 1
 * ```
 * @module
 */
import type { FdtNode, FdtProperty, FdtReservation, FdtTree } from "./tree.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The arrays an {@linkcode FdtIndex} is made of; spans are offsets into `bytes`. */
export interface FdtIndexData {
  /** Node names and property values live here. */
  bytes: Uint8Array;
  /** How many nodes; node 0 is the root. */
  nodeCount: number;
  /** Each node's parent; -1 for the root. */
  parent: Int32Array;
  /** One past the last node of each node's subtree. */
  end: Int32Array;
  /** Where each node's name starts in `bytes`. */
  nameStart: Int32Array;
  /** Each node's name length in bytes (without NUL). */
  nameLength: Int32Array;
  /** Each node's first property, -1 when it has none. */
  propFirst: Int32Array;
  /** Each property's next property of the same node, -1 after the last. */
  propNext: Int32Array;
  /** Each property's name id: an index into `propNames`. */
  propName: Int32Array;
  /** Where each property's value starts in `bytes`. */
  valueStart: Int32Array;
  /** Each property's value length in bytes. */
  valueLength: Int32Array;
  /** The distinct property names, by id. */
  propNames: readonly string[];
  /**
   * Optional: every `phandle` and `linux,phandle` property with its node, as
   * pairs `[node, property, …]` in document order (a scanner notes them on its way,
   * which saves a pass over every node).
   */
  phandleProps?: number[];
  /** Memory reservation entries. */
  reservations: FdtReservation[];
  /** The header's boot_cpuid_phys. */
  bootCpuidPhys: number;
}

/** Read access to a flat device tree, and the objects of the nodes asked for. */
export class FdtIndex {
  /** The arrays. */
  readonly data: FdtIndexData;
  #names: (string | undefined)[] = [];
  #ids: Map<string, number> | undefined;
  /** The paths `findPath` resolved. */
  #paths = new Map<string, number>();
  /** The children of the nodes `child` looked into, by name. */
  #children = new Map<number, Map<string, number>>();

  /** Wraps filled arrays (the codec's scanner or {@linkcode indexTree} makes them). */
  constructor(data: FdtIndexData) {
    this.data = data;
  }

  /** How many nodes. */
  get nodeCount(): number {
    return this.data.nodeCount;
  }

  /** The id of a property name, -1 when no property has it. */
  nameId(name: string): number {
    this.#ids ??= new Map(this.data.propNames.map((n, i) => [n, i]));
    return this.#ids.get(name) ?? -1;
  }

  /**
   * Every node with a phandle, by phandle: from its 4-byte `phandle` property, or
   * `linux,phandle` when it has no `phandle`. Values 0 and 0xffffffff are not
   * phandles; when two nodes claim one, the first in document order wins.
   */
  phandles(): Map<number, number> {
    const pairs = this.data.phandleProps ?? this.#phandleProps();
    const phandle = this.nameId("phandle");
    const own = new Map<number, number>(), legacy = new Map<number, number>();
    for (let k = 0; k < pairs.length; k += 2) {
      const table = this.data.propName[pairs[k + 1]] === phandle ? own : legacy;
      if (!table.has(pairs[k])) table.set(pairs[k], pairs[k + 1]);
    }
    const nodes = [...new Set([...own.keys(), ...legacy.keys()])].sort((a, b) => a - b);
    const map = new Map<number, number>();
    for (const node of nodes) {
      const value = this.u32(own.get(node) ?? legacy.get(node)!);
      if (value === undefined || value === 0 || value === 0xffffffff || map.has(value)) continue;
      map.set(value, node);
    }
    return map;
  }

  /** The `[node, property, …]` pairs of {@linkcode FdtIndexData.phandleProps}, by a pass over every node. */
  #phandleProps(): number[] {
    const ids = [this.nameId("phandle"), this.nameId("linux,phandle")];
    const { nodeCount, propFirst, propNext, propName } = this.data;
    const pairs: number[] = [];
    for (let i = 0; i < nodeCount; i++) {
      for (let p = propFirst[i]; p >= 0; p = propNext[p]) {
        if (propName[p] === ids[0] || propName[p] === ids[1]) pairs.push(i, p);
      }
    }
    return pairs;
  }

  /** Node `i`'s name (with unit address), decoded once. */
  nameOf(i: number): string {
    const cached = this.#names[i];
    if (cached !== undefined) return cached;
    const { bytes, nameStart, nameLength } = this.data;
    const name = decodeText(bytes, nameStart[i], nameStart[i] + nameLength[i]);
    this.#names[i] = name;
    return name;
  }

  /** Whether node `i`'s name before `@` is `base` (ASCII). */
  baseNameIs(i: number, base: string): boolean {
    const { bytes, nameStart, nameLength } = this.data;
    const start = nameStart[i], length = nameLength[i];
    if (length < base.length || (length > base.length && bytes[start + base.length] !== 0x40)) {
      return false;
    }
    for (let k = 0; k < base.length; k++) {
      if (bytes[start + k] !== base.charCodeAt(k)) return false;
    }
    return true;
  }

  /** Node `i`'s first child, -1 when it has none. */
  firstChild(i: number): number {
    return i + 1 < this.data.end[i] ? i + 1 : -1;
  }

  /** Child `c`'s next sibling, -1 after the last. */
  nextSibling(c: number): number {
    const { end, parent } = this.data;
    const p = parent[c];
    return p >= 0 && end[c] < end[p] ? end[c] : -1;
  }

  /** The child of `i` named exactly `name` (the first), -1 when there is none. */
  child(i: number, name: string): number {
    let children = this.#children.get(i);
    if (!children) {
      children = new Map();
      for (let c = this.firstChild(i); c >= 0; c = this.nextSibling(c)) {
        const own = this.nameOf(c);
        if (!children.has(own)) children.set(own, c);
      }
      this.#children.set(i, children);
    }
    return children.get(name) ?? -1;
  }

  /**
   * The node at an exact full path (`/`, `/soc/serial@10000000`), -1 when there is
   * none. Each path's parent is looked up once, so many paths on one bus are cheap.
   */
  findPath(path: string): number {
    if (path === "/") return 0;
    const known = this.#paths.get(path);
    if (known !== undefined) return known;
    const cut = path.lastIndexOf("/");
    const name = path.slice(cut + 1);
    const parent = cut < 0 ? -1 : cut === 0 ? 0 : this.#walk(path.slice(0, cut));
    const found = parent < 0 || name === "" ? -1 : this.child(parent, name);
    this.#paths.set(path, found);
    return found;
  }

  /** The node at a full path other than `/`, component by component; parents are remembered. */
  #walk(path: string): number {
    const known = this.#paths.get(path);
    if (known !== undefined) return known;
    let current = path.startsWith("/") ? 0 : -1;
    for (const part of path.slice(1).split("/")) {
      if (current < 0) break;
      current = part === "" ? -1 : this.child(current, part);
    }
    this.#paths.set(path, current);
    return current;
  }

  /** Node `i`'s full path. */
  pathOf(i: number): string {
    const parts: string[] = [];
    for (let n = i; n > 0; n = this.data.parent[n]) parts.push(this.nameOf(n));
    return "/" + parts.reverse().join("/");
  }

  /** Node `i`'s property with name id `id` (the first), -1 when it has none. */
  prop(i: number, id: number): number {
    if (id < 0) return -1;
    const { propFirst, propNext, propName } = this.data;
    for (let p = propFirst[i]; p >= 0; p = propNext[p]) if (propName[p] === id) return p;
    return -1;
  }

  /** Whether node `i` has a property with name id `id`. */
  has(i: number, id: number): boolean {
    return this.prop(i, id) >= 0;
  }

  /** Property `p`'s value as a u32 when it is 4 bytes long, else undefined (also for p = -1). */
  u32(p: number): number | undefined {
    if (p < 0 || this.data.valueLength[p] !== 4) return undefined;
    return this.cell(p, 0);
  }

  /** Cell `k` (big-endian u32) of property `p`'s value; the caller checks the length. */
  cell(p: number, k: number): number {
    const b = this.data.bytes, at = this.data.valueStart[p] + 4 * k;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  /** Whether property `p`'s first string is `text` (ASCII): `text` then a NUL. */
  stringIs(p: number, text: string): boolean {
    if (p < 0 || this.data.valueLength[p] < text.length + 1) return false;
    const b = this.data.bytes, at = this.data.valueStart[p];
    for (let k = 0; k < text.length; k++) if (b[at + k] !== text.charCodeAt(k)) return false;
    return b[at + text.length] === 0;
  }

  /** Property `p`'s value bytes, shared with the index: read them, do not keep or change them. */
  view(p: number): Uint8Array {
    const start = this.data.valueStart[p];
    return this.data.bytes.subarray(start, start + this.data.valueLength[p]);
  }

  /** Node `i`'s properties as objects; each value is a view of `copy` (the bytes or a copy of them). */
  props(i: number, copy: Uint8Array): FdtProperty[] {
    const { propFirst, propNext, propName, valueStart, valueLength, propNames } = this.data;
    const out: FdtProperty[] = [];
    const shift = copy.byteOffset;
    for (let p = propFirst[i]; p >= 0; p = propNext[p]) {
      out.push({
        name: propNames[propName[p]],
        value: new Uint8Array(copy.buffer, shift + valueStart[p], valueLength[p]),
      });
    }
    return out;
  }

  /**
   * Node `i` with its properties and, when `keep` allows each, its children (a
   * node's children are made before it is, in document order). Values are views of
   * `copy`, a copy of `bytes` the caller makes once.
   */
  toNode(i: number, copy: Uint8Array, keep?: (child: number) => boolean): FdtNode {
    const children: FdtNode[] = [];
    for (let c = this.firstChild(i); c >= 0; c = this.nextSibling(c)) {
      if (!keep || keep(c)) children.push(this.toNode(c, copy, keep));
    }
    return { name: this.nameOf(i), props: this.props(i, copy), children };
  }

  /** The whole tree as objects; its values are views of one copy of the index's bytes. */
  toTree(): FdtTree {
    this.decodeAllNames();
    return {
      root: this.toNode(0, this.data.bytes.slice()),
      reservations: this.data.reservations,
      bootCpuidPhys: this.data.bootCpuidPhys,
    };
  }

  /** Decodes every node name with one TextDecoder call (cheaper than one by one). */
  decodeAllNames(): void {
    const { bytes, nodeCount, nameStart, nameLength } = this.data;
    let size = 0;
    for (let i = 0; i < nodeCount; i++) size += nameLength[i] + 1;
    const joined = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < nodeCount; i++) {
      const start = nameStart[i], length = nameLength[i];
      if (length > 32) joined.set(bytes.subarray(start, start + length), at);
      else for (let k = 0; k < length; k++) joined[at + k] = bytes[start + k];
      at += length + 1;
    }
    const names = decoder.decode(joined.subarray(0, size - 1)).split("\0");
    for (let i = 0; i < nodeCount; i++) this.#names[i] = names[i];
  }
}

/** Decodes UTF-8 bytes [start, end); short ASCII without TextDecoder. */
export function decodeText(bytes: Uint8Array, start: number, end: number): string {
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

/** Grows `array` to at least `size` entries (doubling), keeping its values. */
export function growInt32(array: Int32Array, size: number): Int32Array {
  if (size <= array.length) return array;
  const grown = new Int32Array(Math.max(array.length * 2, size));
  grown.set(array);
  return grown;
}

/** A growable Int32 column: its array doubles as it fills. */
class Int32Column {
  /** The values; longer than what was set. */
  array: Int32Array;
  /** Starts with room for `size` values. */
  constructor(size: number) {
    this.array = new Int32Array(Math.max(size, 16));
  }
  /** Sets value `i`, growing the array when needed. */
  set(i: number, value: number): void {
    if (i >= this.array.length) this.array = growInt32(this.array, i + 1);
    this.array[i] = value;
  }
}

/** Indexes a tree of objects (for codecs without a scanner of their own, and for tests). */
export function indexTree(tree: FdtTree): FdtIndex {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const place = (bytes: Uint8Array): number => {
    chunks.push(bytes);
    size += bytes.length;
    return size - bytes.length;
  };
  const parent = new Int32Column(64), end = new Int32Column(64), nameStart = new Int32Column(64);
  const nameLength = new Int32Column(64), propFirst = new Int32Column(64);
  const propNext = new Int32Column(64), propName = new Int32Column(64);
  const valueStart = new Int32Column(64), valueLength = new Int32Column(64);
  const ids = new Map<string, number>();
  let nodes = 0, props = 0;
  const visit = (current: FdtNode, up: number): void => {
    const i = nodes++;
    const name = encoder.encode(current.name);
    parent.set(i, up);
    nameStart.set(i, place(name));
    nameLength.set(i, name.length);
    propFirst.set(i, current.props.length > 0 ? props : -1);
    current.props.forEach((prop, k) => {
      let id = ids.get(prop.name);
      if (id === undefined) ids.set(prop.name, id = ids.size);
      propName.set(props, id);
      valueStart.set(props, place(prop.value));
      valueLength.set(props, prop.value.length);
      propNext.set(props, k + 1 < current.props.length ? props + 1 : -1);
      props++;
    });
    for (const child of current.children) visit(child, i);
    end.set(i, nodes);
  };
  visit(tree.root, -1);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new FdtIndex({
    bytes,
    nodeCount: nodes,
    parent: parent.array,
    end: end.array,
    nameStart: nameStart.array,
    nameLength: nameLength.array,
    propFirst: propFirst.array,
    propNext: propNext.array,
    propName: propName.array,
    valueStart: valueStart.array,
    valueLength: valueLength.array,
    propNames: [...ids.keys()],
    reservations: tree.reservations,
    bootCpuidPhys: tree.bootCpuidPhys,
  });
}
