import assert from "node:assert/strict";
import {
  FdtError,
  type FdtErrorCode,
  type FdtTree,
  node,
  strs,
  u32,
  writeFdt,
} from "../../../plugins/fdt/mod.ts";
import { boardTree } from "./fixtures.ts";

function header(blob: Uint8Array): number[] {
  const view = new DataView(blob.buffer, blob.byteOffset);
  return Array.from({ length: 10 }, (_, i) => view.getUint32(i * 4));
}

function throwsCode(run: () => unknown, code: FdtErrorCode, message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof FdtError, `expected FdtError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("writeFdt lays the blob out like dtc: v17/16, rsvmap at 40, struct, strings, exact size", () => {
  const tree = boardTree();
  const blob = writeFdt(tree);
  const [
    magic,
    total,
    offStruct,
    offStrings,
    offRsv,
    version,
    lastComp,
    boot,
    sizeStr,
    sizeStruct,
  ] = header(blob);
  assert.equal(magic, 0xd00dfeed);
  assert.equal(total, blob.length);
  assert.equal(offRsv, 40);
  assert.equal(offStruct, 40 + 16 * (tree.reservations.length + 1));
  assert.equal(offStrings, offStruct + sizeStruct);
  assert.equal(offStrings + sizeStr, total, "no padding after the strings block");
  assert.deepEqual([version, lastComp, boot], [17, 16, 0x100]);
  const view = new DataView(blob.buffer);
  assert.equal(view.getBigUint64(40), 0x48000000n);
  assert.equal(view.getBigUint64(40 + 16 + 8), 0x1000n);
  assert.equal(view.getBigUint64(40 + 32) | view.getBigUint64(40 + 40), 0n, "0,0 terminator");
  assert.equal(view.getUint32(offStruct), 1, "starts with BEGIN_NODE");
  assert.equal(view.getUint32(offStruct + sizeStruct - 4), 9, "ends with END");
  assert.equal(sizeStruct % 4, 0);
});

Deno.test("writeFdt stores each property name once in the strings block", () => {
  const blob = writeFdt(boardTree());
  const [, , , offStrings, , , , , sizeStrings] = header(blob);
  const names = new TextDecoder().decode(blob.subarray(offStrings, offStrings + sizeStrings - 1))
    .split("\0");
  assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(",")}`);
  assert.ok(names.includes("device_type") && names.includes("reg") && names.includes("phandle"));
});

Deno.test("writeFdt puts properties before subnodes and pads names and values to 4 bytes", () => {
  const tree: FdtTree = {
    root: node("", [{ name: "a", value: new Uint8Array([1, 2, 3]) }], [node("n@1")]),
    reservations: [],
    bootCpuidPhys: 0,
  };
  const blob = writeFdt(tree);
  const [, , offStruct, , , , , , , sizeStruct] = header(blob);
  const words = Array.from(
    { length: sizeStruct / 4 },
    (_, i) => new DataView(blob.buffer).getUint32(offStruct + i * 4),
  );
  assert.deepEqual(words, [
    1, // BEGIN_NODE ""
    0, // root name, padded
    3, // PROP
    3, // len
    0, // nameoff
    0x01020300, // value, padded
    1, // BEGIN_NODE "n@1"
    0x6e403100, // "n@1\0"
    2, // END_NODE
    2, // END_NODE
    9, // END
  ]);
});

Deno.test("writeFdt refuses what a blob cannot carry with bad-value", () => {
  const tree = (root = node(""), extra: Partial<FdtTree> = {}): FdtTree => ({
    root,
    reservations: [],
    bootCpuidPhys: 0,
    ...extra,
  });
  throwsCode(() => writeFdt(tree(node("/"))), "bad-value", /root node name/);
  throwsCode(
    () => writeFdt(tree(node("", [], [node("a/b")]))),
    "bad-value",
    /contains NUL or "\/"/,
  );
  throwsCode(
    () => writeFdt(tree(node("", [], [node("cpus", [], [node("x\0")])]))),
    "bad-value",
    /under \/cpus/,
  );
  throwsCode(() => writeFdt(tree(node("", [], [node("")]))), "bad-value", /empty name/);
  throwsCode(
    () => writeFdt(tree(node("", [{ name: "a\0", value: u32(1) }]))),
    "bad-value",
    /property name/,
  );
  throwsCode(() => writeFdt(tree(node(""), { bootCpuidPhys: -1 })), "bad-value", /bootCpuidPhys/);
  throwsCode(
    () => writeFdt(tree(node(""), { reservations: [{ address: 0n, size: 0n }] })),
    "bad-value",
    /0,0/,
  );
  throwsCode(
    () => writeFdt(tree(node(""), { reservations: [{ address: 1n << 64n, size: 1n }] })),
    "bad-value",
    /u64/,
  );
  assert.ok(writeFdt(tree(node("", [{ name: "compatible", value: strs(["ü"]) }], [node("ü@0")]))));
});
