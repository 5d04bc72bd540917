/**
 * fast-check generators for the FDT codec's property tests and fuzzer: random
 * trees (names with unit addresses, binary, cell, string-list and empty values,
 * nesting, reservations) and random damage to valid blobs (byte flips, header
 * fields overwritten with extreme values, token words overwritten, insertions,
 * deletions, truncation).
 *
 * Development tooling: {@linkcode ./mod.ts} does not re-export it, so fast-check
 * stays out of the compiled binary.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { fdtTreeArbitrary } from "./arbitrary.ts";
 * import { readFdt } from "./read.ts";
 * import { writeFdt } from "./write.ts";
 * fc.assert(fc.property(fdtTreeArbitrary(), (tree) => void readFdt(writeFdt(tree))));
 * ```
 * @module
 */
import fc from "fast-check";
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_NOP, FDT_PROP } from "./format.ts";
import type { FdtNode, FdtProperty, FdtReservation, FdtTree } from "../../core/devicetree/tree.ts";

/** Size knobs of {@linkcode fdtTreeArbitrary}. */
export interface TreeArbitraryOptions {
  /** Levels of nodes below the root; default 4. */
  maxDepth?: number;
  /** Children per node; default 4. */
  maxChildren?: number;
  /** Properties per node; default 6. */
  maxProps?: number;
  /** Bytes per binary value; default 40. */
  maxValueLength?: number;
  /** Memory reservation entries; default 3. */
  maxReservations?: number;
}

const U64_MAX = (1n << 64n) - 1n;

const nodeBaseName = fc.oneof(
  fc.constantFrom("cpus", "cpu", "memory", "chosen", "soc", "serial", "interrupt-controller"),
  fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,15}$/),
);

/** Node names as dtc writes them: a base name and an optional hex unit address. */
const nodeName: fc.Arbitrary<string> = fc
  .tuple(nodeBaseName, fc.option(fc.oneof(fc.nat(0xffff), fc.nat(0xffffffff)), { nil: undefined }))
  .map(([base, unit]) => unit === undefined ? base : `${base}@${unit.toString(16)}`);

const propName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("reg", "compatible", "status", "#address-cells", "#size-cells", "phandle"),
  fc.stringMatching(/^[a-z#][a-z0-9,._+?#-]{0,20}$/),
);

function cellsValue(maxCells: number): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.nat(0xffffffff), { maxLength: maxCells }).map((list) => {
    const out = new Uint8Array(list.length * 4);
    const view = new DataView(out.buffer);
    list.forEach((cell, i) => view.setUint32(i * 4, cell));
    return out;
  });
}

const stringListValue: fc.Arbitrary<Uint8Array> = fc
  .array(fc.string({ unit: "grapheme-ascii", maxLength: 12 }), { minLength: 1, maxLength: 4 })
  .map((list) => new TextEncoder().encode(list.map((s) => s.replaceAll("\0", "") + "\0").join("")));

function valueArbitrary(maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.constant(new Uint8Array(0)),
    fc.uint8Array({ maxLength }),
    cellsValue(Math.max(1, maxLength >> 2)),
    stringListValue,
  );
}

/** A non-root node of at most `depth` further levels. */
function nodeArbitrary(
  depth: number,
  options: Required<TreeArbitraryOptions>,
): fc.Arbitrary<FdtNode> {
  const props: fc.Arbitrary<FdtProperty[]> = fc.uniqueArray(
    fc.tuple(propName, valueArbitrary(options.maxValueLength)).map(([name, value]) => ({
      name,
      value,
    })),
    { maxLength: options.maxProps, selector: (prop) => prop.name },
  );
  const children: fc.Arbitrary<FdtNode[]> = depth <= 0
    ? fc.constant([])
    : fc.uniqueArray(nodeArbitrary(depth - 1, options), {
      maxLength: options.maxChildren,
      selector: (child) => child.name,
    });
  return fc.tuple(nodeName, props, children).map(([name, props, children]) => ({
    name,
    props,
    children,
  }));
}

/** A reservation that is not the 0,0 terminator. */
const reservation: fc.Arbitrary<FdtReservation> = fc
  .tuple(fc.bigInt({ min: 0n, max: U64_MAX }), fc.bigInt({ min: 0n, max: U64_MAX }))
  .filter(([address, size]) => address !== 0n || size !== 0n)
  .map(([address, size]) => ({ address, size }));

/**
 * Random trees that {@linkcode ./write.ts} can encode: root named `""`, sibling node
 * names and per-node property names unique, names with and without unit addresses,
 * values empty, binary, cell lists or string lists, reservations anywhere in u64,
 * any u32 boot CPU. Objects are plain (Object prototype), as the reader makes them.
 */
export function fdtTreeArbitrary(options: TreeArbitraryOptions = {}): fc.Arbitrary<FdtTree> {
  const full: Required<TreeArbitraryOptions> = {
    maxDepth: options.maxDepth ?? 4,
    maxChildren: options.maxChildren ?? 4,
    maxProps: options.maxProps ?? 6,
    maxValueLength: options.maxValueLength ?? 40,
    maxReservations: options.maxReservations ?? 3,
  };
  return fc.tuple(
    nodeArbitrary(full.maxDepth, full),
    fc.array(reservation, { maxLength: full.maxReservations }),
    fc.nat(0xffffffff),
  ).map(([root, reservations, bootCpuidPhys]) => ({
    root: { name: "", props: root.props, children: root.children },
    reservations,
    bootCpuidPhys,
  }));
}

/** A u32 chosen to hit edge cases: extremes, tokens, the magic, or the blob length. */
export type MutationValue = number | { lengthPlus: number };

/** One change to a blob; positions are taken modulo the blob length when applied. */
export type Mutation =
  | { kind: "flip"; at: number; mask: number }
  | { kind: "header"; field: number; value: MutationValue }
  | { kind: "word"; at: number; value: MutationValue }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number }
  | { kind: "truncate"; at: number };

/** A seed blob (by index) and the mutations to apply to it in order. */
export interface MutationCase {
  /** Index into the seed list. */
  seed: number;
  /** Changes, applied in order. */
  mutations: Mutation[];
  /**
   * Whether to set totalsize to the final length afterwards, so that insertions and
   * deletions reach the structure checks instead of stopping at `truncated`.
   */
  fixTotalsize: boolean;
}

const mutationValue: fc.Arbitrary<MutationValue> = fc.oneof(
  fc.constantFrom(
    0,
    1,
    3,
    4,
    8,
    16,
    17,
    40,
    FDT_BEGIN_NODE,
    FDT_END_NODE,
    FDT_PROP,
    FDT_NOP,
    FDT_END,
    FDT_MAGIC,
    0x7fffffff,
    0x80000000,
    0xfffffffc,
    0xffffffff,
  ),
  fc.nat(0xffffffff),
  fc.nat(0x4000),
  fc.integer({ min: -64, max: 64 }).map((lengthPlus) => ({ lengthPlus })),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant("header" as const), field: fc.nat(9), value: mutationValue }),
  fc.record({ kind: fc.constant("word" as const), at: fc.nat(), value: mutationValue }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

/** Random {@linkcode MutationCase}s over `seedCount` seeds, 1 to `maxMutations` changes each. */
export function mutationCaseArbitrary(
  seedCount: number,
  maxMutations = 4,
): fc.Arbitrary<MutationCase> {
  return fc.record({
    seed: fc.nat(Math.max(0, seedCount - 1)),
    mutations: fc.array(mutation, { minLength: 1, maxLength: maxMutations }),
    fixTotalsize: fc.boolean(),
  });
}

function resolve(value: MutationValue, length: number): number {
  return typeof value === "number" ? value : (length + value.lengthPlus) >>> 0;
}

/** Builds the blob of a {@linkcode MutationCase} from its seed list. */
export function mutatedBlob(seeds: Uint8Array[], input: MutationCase): Uint8Array {
  const blob = applyMutations(seeds[input.seed], input.mutations);
  if (input.fixTotalsize && blob.length >= 8) new DataView(blob.buffer).setUint32(4, blob.length);
  return blob;
}

/** Applies `mutations` in order to a copy of `seed`; `seed` itself is not changed. */
export function applyMutations(seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let blob = seed.slice();
  for (const m of mutations) {
    const length = blob.length;
    switch (m.kind) {
      case "flip":
        if (length > 0) blob[m.at % length] ^= m.mask;
        break;
      case "header":
        if (length >= m.field * 4 + 4) {
          new DataView(blob.buffer).setUint32(m.field * 4, resolve(m.value, length));
        }
        break;
      case "word": {
        const at = (m.at % Math.max(1, length - 3)) & ~3;
        if (at + 4 <= length) new DataView(blob.buffer).setUint32(at, resolve(m.value, length));
        break;
      }
      case "insert": {
        const at = m.at % (length + 1);
        const out = new Uint8Array(length + m.bytes.length);
        out.set(blob.subarray(0, at));
        out.set(m.bytes, at);
        out.set(blob.subarray(at), at + m.bytes.length);
        blob = out;
        break;
      }
      case "delete": {
        const at = m.at % (length + 1);
        const out = new Uint8Array(length - Math.min(m.count, length - at));
        out.set(blob.subarray(0, at));
        out.set(blob.subarray(at + m.count), at);
        blob = out;
        break;
      }
      case "truncate":
        blob = blob.slice(0, m.at % (length + 1));
        break;
    }
  }
  return blob;
}
