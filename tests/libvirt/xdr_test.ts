/** The XDR codec and frame header against byte layouts of libvirt's protocol. */
import assert from "node:assert/strict";
import { XdrError, XdrReader, XdrWriter } from "../../plugins/libvirt/xdr.ts";
import {
  decodeHeader,
  finishFrame,
  frameWriter,
  MessageType,
  REMOTE_PROGRAM,
} from "../../plugins/libvirt/protocol.ts";
import {
  listed,
  readDomain,
  uuidBytes,
  uuidString,
  versionNumber,
  writeDomain,
} from "../../plugins/libvirt/procedures.ts";
import type { PartitionRecord } from "../../core/model.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("xdr: strings are padded to 4 bytes, optionals carry a flag, chars take 4 bytes", () => {
  const w = new XdrWriter();
  w.string("vmanager:///system").optional("x", (x, v) => x.string(v)).optional(undefined, () => {});
  assert.equal(
    hex(w.bytes()),
    "00000012766d616e616765723a2f2f2f73797374656d0000" + "00000001" + "00000001" + "78000000" +
      "00000000",
  );
  const chars = new XdrWriter().chars("aarch64", 32).bytes();
  assert.equal(chars.length, 128);
  assert.equal(new DataView(chars.buffer).getInt32(0), 0x61);
  assert.equal(new DataView(chars.buffer).getInt32(28), 0);
});

Deno.test("xdr: values read back as written; hypers are 64-bit", () => {
  const w = new XdrWriter(0, 4);
  w.int(-1).uint(0xfffffffe).hyper(-2n).uhyper(2n ** 63n).opaque(new Uint8Array([1, 2, 3]));
  const r = new XdrReader(w.bytes());
  assert.equal(r.int(), -1);
  assert.equal(r.uint(), 0xfffffffe);
  assert.equal(r.hyper(), -2n);
  assert.equal(r.uhyper(), 2n ** 63n);
  assert.deepEqual([...r.opaque(16)], [1, 2, 3]);
  assert.equal(r.remaining, 0);
});

Deno.test("xdr: truncated payloads and oversized lengths are errors, not reads past the end", () => {
  assert.throws(() => new XdrReader(new Uint8Array(3)).int(), XdrError);
  const long = new XdrWriter().uint(0x7ffffff0).bytes();
  assert.throws(() => new XdrReader(long).string(4 * 1024 * 1024), /exceeds the limit/);
  const short = new XdrWriter().uint(8).uint(0).bytes();
  assert.throws(() => new XdrReader(short).string(100), /truncated/);
});

Deno.test("protocol: a frame is the length, the 24-byte header and the payload", () => {
  const w = frameWriter();
  w.int(7);
  const frame = finishFrame(w, {
    prog: REMOTE_PROGRAM,
    vers: 1,
    proc: 273,
    type: MessageType.REPLY,
    serial: 6,
    status: 0,
  });
  assert.equal(
    hex(frame),
    "00000020" + "20008086" + "00000001" + "00000111" + "00000001" +
      "00000006" + "00000000" + "00000007",
  );
  assert.deepEqual(decodeHeader(frame), {
    prog: REMOTE_PROGRAM,
    vers: 1,
    proc: 273,
    type: 1,
    serial: 6,
    status: 0,
  });
});

Deno.test("procedures: a domain is name, 16 UUID bytes and id, as virsh sent it", () => {
  // From the virsh trace: GET_STATE of 'alpha'.
  const payload = "00000005616c706861000000dc229f87d4de47198cfd2e21c6105b0100000003";
  const bytes = new Uint8Array(payload.match(/../g)!.map((h) => Number.parseInt(h, 16)));
  const dom = readDomain(new XdrReader(bytes));
  assert.deepEqual(dom, { name: "alpha", uuid: "dc229f87-d4de-4719-8cfd-2e21c6105b01", id: 3 });
  const w = new XdrWriter();
  writeDomain(w, dom);
  assert.equal(hex(w.bytes()), payload);
  assert.equal(uuidString(uuidBytes(dom.uuid)), dom.uuid);
  assert.equal(versionNumber("0.1.0"), 1000);
  assert.equal(versionNumber("9.0.12"), 9000012);
});

Deno.test("procedures: list filters follow libvirt's VIR_CONNECT_LIST_DOMAINS_* bits", () => {
  const rec = (state: PartitionRecord["state"], autostart?: boolean) =>
    ({ state, autostart }) as PartitionRecord;
  const ACTIVE = 1, INACTIVE = 2, RUNNING = 16, SHUTOFF = 64, AUTOSTART = 1024, NO_AUTOSTART = 2048;
  assert.ok(listed(rec("running"), 0));
  assert.ok(listed(rec("running"), ACTIVE));
  assert.ok(!listed(rec("running"), INACTIVE));
  assert.ok(listed(rec("stopped"), INACTIVE | ACTIVE));
  assert.ok(!listed(rec("defined"), RUNNING));
  assert.ok(listed(rec("defined"), SHUTOFF));
  assert.ok(listed(rec("defined", true), AUTOSTART));
  assert.ok(!listed(rec("defined"), AUTOSTART));
  assert.ok(listed(rec("defined"), NO_AUTOSTART));
});
