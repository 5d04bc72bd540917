/** readFdt on deliberately malformed blobs: every reachable FdtError code, and what it tolerates. */
import assert from "node:assert/strict";
import {
  FdtError,
  type FdtErrorCode,
  type FdtTree,
  node,
  readFdt,
  type ReadLimits,
  u32,
  writeFdt,
} from "../../../plugins/fdt/mod.ts";

const BEGIN = 1, END_NODE = 2, PROP = 3, NOP = 4, END = 9;
const F = { totalsize: 4, struct: 8, strings: 12, rsvmap: 16, version: 20, lastComp: 24 };
const F2 = { sizeStrings: 32, sizeStruct: 36 };

/** Structure-block pieces: a number is a u32 word, a string a NUL-terminated padded name, bytes are raw. */
type Part = number | string | Uint8Array;

function assemble(parts: Part[]): Uint8Array {
  const chunks: Uint8Array[] = parts.map((part) => {
    if (typeof part === "number") return u32(part);
    if (typeof part === "string") {
      const text = new TextEncoder().encode(part);
      const out = new Uint8Array((text.length + 4) & ~3);
      out.set(text);
      return out;
    }
    return part;
  });
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const chunk of chunks) {
    out.set(chunk, pos);
    pos += chunk.length;
  }
  return out;
}

/** A v17 blob of the given structure and strings blocks, laid out as dtc does. */
function build(struct: Part[], strings = "reg\0", patch: Record<number, number> = {}): Uint8Array {
  const structBytes = assemble(struct);
  const stringBytes = new TextEncoder().encode(strings);
  const offStruct = 40 + 16;
  const total = offStruct + structBytes.length + stringBytes.length;
  const blob = new Uint8Array(total);
  const view = new DataView(blob.buffer);
  [
    0xd00dfeed,
    total,
    offStruct,
    offStruct + structBytes.length,
    40,
    17,
    16,
    0,
    stringBytes.length,
    structBytes.length,
  ]
    .forEach((word, i) => view.setUint32(i * 4, word));
  blob.set(structBytes, offStruct);
  blob.set(stringBytes, offStruct + structBytes.length);
  for (const [at, value] of Object.entries(patch)) view.setUint32(Number(at), value);
  return blob;
}

/** A good blob: root with `reg = <1>` and a child `a@1`. */
function good(): Uint8Array {
  return build([BEGIN, "", PROP, 4, 0, 1, BEGIN, "a@1", END_NODE, END_NODE, END]);
}

function refuses(
  blob: Uint8Array,
  code: FdtErrorCode,
  message: RegExp,
  limits?: ReadLimits,
): FdtError {
  let caught: unknown;
  try {
    readFdt(blob, limits);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FdtError, `expected FdtError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  return caught;
}

function with32(blob: Uint8Array, at: number, value: number): Uint8Array {
  const out = blob.slice();
  new DataView(out.buffer).setUint32(at, value);
  return out;
}

Deno.test("the hand-assembled good blob reads (the fixtures below start from valid input)", () => {
  const tree = readFdt(good());
  assert.deepStrictEqual(tree, {
    root: node("", [{ name: "reg", value: u32(1) }], [node("a@1")]),
    reservations: [],
    bootCpuidPhys: 0,
  });
});

Deno.test("bad-magic: the first word is not 0xd00dfeed", () => {
  const error = refuses(with32(good(), 0, 0xedfe0dd0), "bad-magic", /magic 0xedfe0dd0/);
  assert.equal(error.offset, 0);
  refuses(new Uint8Array(64), "bad-magic", /magic 0x0 /);
});

Deno.test("truncated: no header, a cut header, totalsize beyond the blob", () => {
  refuses(new Uint8Array(0), "truncated", /no header/);
  refuses(good().slice(0, 3), "truncated", /no header/);
  refuses(good().slice(0, 30), "truncated", /shorter than the header/);
  refuses(good().slice(0, 39), "truncated", /shorter than the header/);
  const blob = good();
  const error = refuses(blob.slice(0, blob.length - 1), "truncated", /exceeds the \d+-byte blob/);
  assert.equal(error.offset, 4);
});

Deno.test("bad-version: below 16, last_comp above 17, version below last_comp", () => {
  refuses(with32(good(), F.version, 15), "bad-version", /version 15/);
  refuses(with32(good(), F.version, 1), "bad-version", /version 1 /);
  refuses(with32(good(), F.lastComp, 18), "bad-version", /last_comp_version 18/);
  refuses(with32(with32(good(), F.version, 16), F.lastComp, 17), "bad-version", /version 16/);
});

Deno.test("version 16 blobs (no size_dt_struct) and later compatible versions are read", () => {
  const want = readFdt(good());
  const v16 = with32(with32(good(), F.version, 16), F2.sizeStruct, 0xdeadbeef);
  assert.deepStrictEqual(readFdt(v16), want, "v16: size_dt_struct is not a header field");
  assert.deepStrictEqual(readFdt(with32(good(), F.version, 20)), want, "v20 with last_comp 16");
});

Deno.test("too-large: totalsize beyond maxSize, nodes beyond maxNodes, overlapping names", () => {
  refuses(good(), "too-large", /exceeds the limit 64/, { maxSize: 64 });
  refuses(with32(good(), F.totalsize, 0x7fffffff), "too-large", /16777216/);
  refuses(good(), "too-large", /more than 1 nodes/, { maxNodes: 1 });
  assert.ok(readFdt(good(), { maxNodes: 2, maxSize: good().length }));
  // 3000 properties whose names are the suffixes of one 3000-byte string: quadratic
  // decoding if unchecked (4.5 MB of names from a 3 KB strings block).
  const parts: Part[] = [BEGIN, ""];
  for (let i = 0; i < 3000; i++) parts.push(PROP, 0, i);
  parts.push(END_NODE, END);
  refuses(build(parts, "x".repeat(3000) + "\0"), "too-large", /property names/);
});

Deno.test("bad-offset: blocks outside totalsize or inside the header, names and values out of range", () => {
  const blob = good();
  const total = blob.length;
  refuses(
    with32(with32(blob, F.totalsize, 20), F.version, 17),
    "bad-offset",
    /totalsize 20 is smaller/,
  );
  refuses(with32(blob, F.struct, total + 4), "bad-offset", /off_dt_struct/);
  refuses(with32(blob, F.struct, 32), "bad-offset", /off_dt_struct/);
  refuses(
    with32(blob, F2.sizeStruct, 0xfffffffc),
    "bad-offset",
    /structure block .* runs past totalsize/,
  );
  refuses(with32(blob, F.strings, total), "bad-offset", /strings block/);
  refuses(with32(blob, F2.sizeStrings, 0xffffffff), "bad-offset", /strings block/);
  refuses(with32(blob, F.rsvmap, total + 8), "bad-offset", /off_mem_rsvmap/);
  refuses(with32(blob, F.rsvmap, 0), "bad-offset", /off_mem_rsvmap/);
  const error = refuses(
    build([BEGIN, "", PROP, 4, 4, 1, END_NODE, END]),
    "bad-offset",
    /nameoff 0x4 is outside strings/,
  );
  assert.equal(error.offset, 56 + 8 + 8, "offset of the nameoff word");
  refuses(build([BEGIN, "", PROP, 13, 0, 1, END_NODE, END]), "bad-offset", /value of 13 bytes/);
  refuses(
    build([BEGIN, "", PROP, 0xffffffff, 0, END_NODE, END]),
    "bad-offset",
    /value of 4294967295/,
  );
});

Deno.test("bad-alignment: reservation map not 8-aligned, structure block not 4-aligned", () => {
  refuses(with32(good(), F.rsvmap, 44), "bad-alignment", /off_mem_rsvmap 0x2c is not 8-aligned/);
  refuses(with32(good(), F.struct, 58), "bad-alignment", /off_dt_struct 0x3a is not 4-aligned/);
});

Deno.test("bad-token: an unknown structure-block token", () => {
  const error = refuses(build([BEGIN, "", 5, END_NODE, END]), "bad-token", /unknown token 0x5/);
  assert.equal(error.offset, 56 + 8);
  refuses(build([BEGIN, "", END_NODE, 0x10000009]), "bad-token", /0x10000009/);
});

Deno.test("unterminated-name: a node name without NUL inside the structure block", () => {
  refuses(build([BEGIN, new TextEncoder().encode("abcd")]), "unterminated-name", /node name/);
  const blob = build([BEGIN, "", BEGIN, "abcdefgh", END_NODE, END_NODE, END]);
  // The block now ends in the middle of "abcdefgh" (the bytes after it are strings).
  refuses(with32(blob, F2.sizeStruct, 8 + 4 + 4), "unterminated-name", /node name/);
});

Deno.test("unterminated-string: a property name without NUL inside the strings block", () => {
  refuses(
    build([BEGIN, "", PROP, 4, 0, 1, END_NODE, END], "reg"),
    "unterminated-string",
    /strings block/,
  );
  const blob = build([BEGIN, "", PROP, 4, 0, 1, END_NODE, END], "reg\0");
  refuses(with32(blob, F2.sizeStrings, 3), "unterminated-string", /strings block/);
});

Deno.test("too-deep: nesting beyond maxDepth (64 by default, the root counting as 1)", () => {
  const nested = (depth: number): Uint8Array => {
    const parts: Part[] = [BEGIN, ""];
    for (let i = 1; i < depth; i++) parts.push(BEGIN, `n${i}`);
    for (let i = 0; i < depth; i++) parts.push(END_NODE);
    parts.push(END);
    return build(parts);
  };
  assert.ok(readFdt(nested(64)));
  refuses(nested(65), "too-deep", /deeper than 64/);
  refuses(nested(3), "too-deep", /deeper than 2/, { maxDepth: 2 });
  refuses(nested(10_000), "too-deep", /deeper than 64/);
});

Deno.test("bad-structure: missing END, END not last, unbalanced nodes, tokens outside the root", () => {
  refuses(build([BEGIN, "", END_NODE]), "bad-structure", /ends without END/);
  refuses(build([BEGIN, "", END_NODE, END, NOP]), "bad-structure", /END is not the last/);
  refuses(build([BEGIN, "", END_NODE, END, END]), "bad-structure", /END is not the last/);
  refuses(build([BEGIN, "", BEGIN, "a", END_NODE, END]), "bad-structure", /END inside 1 unclosed/);
  refuses(build([BEGIN, "", END_NODE, END_NODE, END]), "bad-structure", /END_NODE without/);
  refuses(
    build([PROP, 4, 0, 1, BEGIN, "", END_NODE, END]),
    "bad-structure",
    /property outside a node/,
  );
  refuses(build([BEGIN, "", END_NODE, BEGIN, "", END_NODE, END]), "bad-structure", /second node/);
  refuses(build([END]), "bad-structure", /no root/);
  refuses(build([NOP, NOP, END]), "bad-structure", /no root/);
  refuses(build([BEGIN, "", PROP, 4]), "bad-structure", /property header runs past/);
  refuses(build([BEGIN, "", END_NODE, 0x00]), "bad-token", /unknown token 0x0/);
  refuses(with32(good(), F2.sizeStruct, 0), "bad-structure", /ends without END/);
});

Deno.test("bad-structure: a reservation map without its 0,0 terminator", () => {
  const blob = good();
  const aligned = (blob.length - 8) & ~7;
  const patched = blob.slice();
  new DataView(patched.buffer).setUint32(F.rsvmap, aligned);
  patched.fill(0xff, aligned);
  // Keep the strings block out of the filled range by pointing it at an empty block.
  refuses(
    with32(with32(patched, F2.sizeStrings, 0), F.strings, 40),
    "bad-structure",
    /no 0,0 terminator/,
  );
});

Deno.test("NOP tokens anywhere inside the root are skipped", () => {
  const blob = build([
    NOP,
    BEGIN,
    "",
    NOP,
    PROP,
    4,
    0,
    1,
    NOP,
    BEGIN,
    "a@1",
    NOP,
    END_NODE,
    NOP,
    END_NODE,
    NOP,
    END,
  ]);
  assert.deepStrictEqual(readFdt(blob), readFdt(good()));
});

Deno.test("readFdt honours the header's offsets: reordered blocks and a blob inside a larger buffer", () => {
  const tree: FdtTree = {
    root: node("", [{ name: "reg", value: u32(7) }], [
      node("x@0", [{ name: "status", value: u32(1) }]),
    ]),
    reservations: [{ address: 0x1000n, size: 0x2000n }],
    bootCpuidPhys: 3,
  };
  const blob = writeFdt(tree);
  const view = new DataView(blob.buffer);
  const offStruct = view.getUint32(F.struct);
  const sizeStruct = view.getUint32(F2.sizeStruct);
  const offStrings = view.getUint32(F.strings);
  const sizeStrings = view.getUint32(F2.sizeStrings);
  // Layout: header, strings, padding, struct, padding, rsvmap (16-byte entries at an 8-aligned offset).
  const strings = 48;
  const struct = strings + sizeStrings + ((4 - ((strings + sizeStrings) % 4)) % 4) + 4;
  const rsv = (struct + sizeStruct + 8 + 7) & ~7;
  const total = rsv + 32;
  const moved = new Uint8Array(total + 11);
  const inner = moved.subarray(5, 5 + total);
  inner.set(blob.subarray(0, 40));
  inner.set(blob.subarray(offStrings, offStrings + sizeStrings), strings);
  inner.set(blob.subarray(offStruct, offStruct + sizeStruct), struct);
  inner.set(blob.subarray(40, 72), rsv);
  const iv = new DataView(inner.buffer, inner.byteOffset);
  iv.setUint32(F.totalsize, total);
  iv.setUint32(F.strings, strings);
  iv.setUint32(F.struct, struct);
  iv.setUint32(F.rsvmap, rsv);
  assert.deepStrictEqual(readFdt(inner), tree);
});

Deno.test("property values read are copies: editing the blob afterwards changes nothing", () => {
  const blob = good();
  const tree = readFdt(blob);
  blob.fill(0);
  assert.deepStrictEqual(tree.root.props[0].value, u32(1));
});
