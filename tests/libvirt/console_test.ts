/**
 * DOMAIN_OPEN_CONSOLE and libvirt streams, packet by packet, against a daemon in
 * this process whose backend is a fake monitor plugin with scripted consoles: the
 * reply and the data in both directions on the call's serial, the end of data when
 * the partition stops, finish and abort confirmed, the error packet of a take-over,
 * libvirt's refusals, several streams and calls on one connection, and the flow
 * control bounds both ways.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml } from "./helpers.ts";
import {
  FAKE_INTERRUPTS,
  FAKE_PROMPT,
  FakeConsoles,
  type InProcessDaemon,
  RawClient,
  readError,
  startInProcessDaemon,
  waitFor,
} from "./console_helpers.ts";
import { Status } from "../../plugins/libvirt/protocol.ts";
import { STREAM_BACKLOG, STREAM_INPUT } from "../../plugins/libvirt/stream.ts";
import type { DomainRef } from "../../plugins/libvirt/driver.ts";
import { readDomain, writeDomain } from "../../plugins/libvirt/procedures.ts";
import { XdrReader } from "../../plugins/libvirt/xdr.ts";

const decoder = new TextDecoder();

/** Runs `fn` with a daemon on the fake backend and an open raw client. */
async function withConsoles(
  fn: (d: InProcessDaemon, fake: FakeConsoles, client: RawClient) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const fake = new FakeConsoles();
    const d = await startInProcessDaemon(dir, "fake-console", [fake.plugin()]);
    let client: RawClient | undefined;
    try {
      client = await RawClient.open(d.socket);
      await fn(d, fake, client);
    } finally {
      await client?.close();
      for (const session of fake.sessions) session.close();
      await d.stop();
    }
  });
}

/** Defines and starts a domain on the fake backend; its reference (with its id). */
async function running(client: RawClient, name: string): Promise<DomainRef> {
  const defined = await client.call(11, (w) => w.string(domainXml(name)));
  assert.equal(defined.header.status, Status.OK, readErrorText(defined.body));
  const dom = readDomain(new XdrReader(defined.body));
  const started = await client.call(9, (w) => writeDomain(w, dom));
  assert.equal(started.header.status, Status.OK, readErrorText(started.body));
  return await client.lookup(name);
}

function readErrorText(body: Uint8Array): string {
  try {
    return readError(body).message ?? "";
  } catch {
    return "";
  }
}

/** Opens the console and checks the reply: OK, empty, on the call's serial. */
async function open(
  client: RawClient,
  dom: DomainRef,
  flags = 0,
  dev?: string,
): Promise<number> {
  const reply = await client.openConsole(dom, flags, dev);
  assert.equal(reply.header.status, Status.OK, readErrorText(reply.body));
  assert.equal(reply.header.proc, 201);
  assert.equal(reply.body.length, 0);
  return reply.header.serial;
}

Deno.test("the console is a stream on the call's serial: data both ways, calls in between, finish confirmed", async () => {
  await withConsoles(async (_d, fake, client) => {
    const dom = await running(client, "c1");
    const serial = await open(client, dom);
    const session = fake.sessions[0];
    assert.equal(session.id, dom.id);
    assert.equal(session.options.mode, "write");
    assert.equal(session.options.force, false);
    assert.match(session.options.who, /^libvirt client \d+ of vmanctl daemon \(pid \d+\)$/);
    const first = await client.next(serial);
    assert.equal(first.header.type, 3); // STREAM
    assert.equal(first.header.proc, 201);
    assert.equal(first.header.status, Status.CONTINUE);
    assert.equal(decoder.decode(first.body), FAKE_PROMPT);
    await client.send(serial, "cat /proc/interrupts\r");
    const answer = await client.until(serial, FAKE_INTERRUPTS);
    assert.match(answer, /^cat \/proc\/interrupts\r\n/);
    assert.equal(session.written, "cat /proc/interrupts\r");
    // Calls go on while the stream is open, each answered on its own serial.
    const state = await client.call(212, (w) => {
      writeDomain(w, dom);
      w.uint(0);
    });
    assert.equal(state.header.status, Status.OK);
    assert.equal(new XdrReader(state.body).int(), 1); // running
    await client.send(serial, "echo\r");
    await client.until(serial, "not found");
    // Finish: what was sent before it reaches the console, then the empty OK confirmation.
    await client.send(serial, "last words\r");
    await client.streamPacket(serial, Status.OK);
    let packet = await client.next(serial);
    while (packet.header.status === Status.CONTINUE && packet.body.length > 0) {
      packet = await client.next(serial);
    }
    assert.equal(packet.header.status, Status.OK);
    assert.equal(packet.body.length, 0);
    assert.equal(await session.ended, "closed");
    assert.match(session.written, /last words\r$/);
    // The partition runs on, and its console opens again.
    assert.equal((await client.lookup("c1")).id, dom.id);
    const again = await open(client, dom);
    assert.equal(decoder.decode((await client.next(again)).body), FAKE_PROMPT);
  });
});

Deno.test("a partition that stops ends its stream with an empty data packet; the client's finish is confirmed", async () => {
  await withConsoles(async (_d, fake, client) => {
    const dom = await running(client, "c2");
    const serial = await open(client, dom);
    await client.until(serial, FAKE_PROMPT);
    fake.stop(dom.id);
    const eof = await client.next(serial);
    assert.equal(eof.header.status, Status.CONTINUE);
    assert.equal(eof.body.length, 0);
    await client.streamPacket(serial, Status.OK);
    const ok = await client.next(serial);
    assert.deepEqual([ok.header.status, ok.body.length], [Status.OK, 0]);
  });
});

Deno.test("abort: the client's ERROR packet is confirmed with OK and the console session closed", async () => {
  await withConsoles(async (_d, fake, client) => {
    const dom = await running(client, "c3");
    const serial = await open(client, dom);
    await client.until(serial, FAKE_PROMPT);
    await client.streamPacket(serial, Status.ERROR);
    const ok = await client.next(serial);
    assert.deepEqual([ok.header.status, ok.body.length], [Status.OK, 0]);
    assert.equal(await fake.sessions[0].ended, "closed");
    // Data for the ended stream is dropped; the connection stays.
    await client.send(serial, "ignored\r");
    assert.equal((await client.lookup("c3")).id, dom.id);
    assert.equal(fake.sessions[0].written, "");
  });
});

Deno.test("busy without FORCE is refused as libvirt's qemu driver does; FORCE takes over and the first stream gets an error", async () => {
  await withConsoles(async (d, fake, first) => {
    const dom = await running(first, "c4");
    const serial = await open(first, dom);
    await first.until(serial, FAKE_PROMPT);
    const second = await RawClient.open(d.socket);
    try {
      const busy = await second.openConsole(dom);
      assert.equal(busy.header.status, Status.ERROR);
      const error = readError(busy.body);
      assert.equal(error.code, 9); // VIR_ERR_OPERATION_FAILED
      assert.match(
        error.message!,
        /^operation failed: Active console session exists for this domain/,
      );
      assert.match(error.message!, /libvirt client \d+ of vmanctl daemon/);
      const forced = await open(second, dom, 1);
      assert.equal(fake.sessions[1].options.force, true);
      const lost = await first.next(serial);
      assert.equal(lost.header.status, Status.ERROR);
      const why = readError(lost.body);
      assert.equal(why.code, 39); // VIR_ERR_RPC
      assert.equal(why.domain, 38); // VIR_FROM_STREAMS
      assert.match(why.message!, /^stream had I\/O failure: another console session took/);
      assert.equal(await fake.sessions[0].ended, "taken-over");
      // A late abort of the lost stream is still confirmed (a client may wait for it).
      await first.streamPacket(serial, Status.ERROR);
      const late = await first.next(serial);
      assert.deepEqual([late.header.status, late.body.length], [Status.OK, 0]);
      // The new session works.
      await second.until(forced, FAKE_PROMPT);
      await second.send(forced, "cat /proc/interrupts\r");
      await second.until(forced, FAKE_INTERRUPTS);
    } finally {
      await second.close();
    }
  });
});

Deno.test("refusals: read-only, no domain, not running, unknown device, unknown flags, a backend without consoles", async () => {
  await withConsoles(async (d, fake, client) => {
    const dom = await running(client, "c5");
    const code = async (
      c: RawClient,
      ref: DomainRef,
      flags = 0,
      dev?: string,
    ): Promise<[number, string | undefined]> => {
      const reply = await c.openConsole(ref, flags, dev);
      assert.equal(reply.header.status, Status.ERROR);
      const { code, message } = readError(reply.body);
      return [code, message];
    };
    const ro = await RawClient.open(d.roSocket);
    try {
      const [denied, message] = await code(ro, dom);
      assert.equal(denied, 29); // VIR_ERR_OPERATION_DENIED
      assert.match(message!, /read only access prevents/);
    } finally {
      await ro.close();
    }
    const readOnly = await RawClient.open(d.socket, true); // virsh -r
    try {
      assert.equal((await code(readOnly, dom))[0], 29);
    } finally {
      await readOnly.close();
    }
    const ghost = { ...dom, uuid: "00000000-0000-4000-8000-00000000abcd" };
    assert.equal((await code(client, ghost))[0], 42); // VIR_ERR_NO_DOMAIN
    assert.deepEqual(await code(client, dom, 0, "serial1"), [
      1,
      "internal error: cannot find character device serial1",
    ]);
    assert.deepEqual(await code(client, dom, 4), [
      8,
      "invalid argument: unsupported flags (0x4) in function virDomainOpenConsole",
    ]);
    // The named devices and SAFE are accepted.
    for (const dev of ["serial0", "console0"]) {
      const serial = await open(client, dom, 2, dev);
      await client.streamPacket(serial, Status.OK);
      await client.until(serial, FAKE_PROMPT).catch(() => {});
    }
    // A domain that is not running.
    const defined = await client.call(11, (w) => w.string(domainXml("off")));
    const off = readDomain(new XdrReader(defined.body));
    assert.deepEqual(await code(client, off), [
      55,
      "Requested operation is not valid: domain is not running",
    ]);
    // The backend says it is not running (ended on its own): same code.
    fake.stopped.add(dom.id);
    const [invalid, why] = await code(client, dom);
    assert.equal(invalid, 55);
    assert.match(why!, /^Requested operation is not valid: domain is not running \(partition/);
  });
  // dry-run has no consoles.
  await withTempDir(async (dir) => {
    const d = await startInProcessDaemon(dir, "dry-run");
    const client = await RawClient.open(d.socket);
    try {
      const dom = await running(client, "dry");
      const reply = await client.openConsole(dom);
      assert.equal(reply.header.status, Status.ERROR);
      const { code, message } = readError(reply.body);
      assert.equal(code, 3); // VIR_ERR_NO_SUPPORT
      assert.match(
        message!,
        /not supported by the connection driver: backend dry-run has no console/,
      );
    } finally {
      await client.close();
      await d.stop();
    }
  });
});

Deno.test("two streams and calls interleave on one connection; a stream ends with its connection", async () => {
  await withConsoles(async (_d, fake, client) => {
    const a = await running(client, "ca");
    const b = await running(client, "cb");
    const sa = await open(client, a);
    const sb = await open(client, b);
    assert.notEqual(sa, sb);
    await client.until(sa, FAKE_PROMPT);
    await client.until(sb, FAKE_PROMPT);
    await Promise.all([client.send(sa, "one\r"), client.send(sb, "two\r")]);
    assert.match(await client.until(sa, "one: not found"), /one/);
    assert.match(await client.until(sb, "two: not found"), /two/);
    assert.equal(fake.sessions[0].written, "one\r");
    assert.equal(fake.sessions[1].written, "two\r");
    // A packet for a serial that is no stream is dropped; the connection stays.
    await client.send(9999, "nobody\r");
    await client.streamPacket(9998, Status.OK);
    assert.equal((await client.lookup("ca")).id, a.id);
    await client.close();
    assert.equal(await fake.sessions[0].ended, "closed");
    assert.equal(await fake.sessions[1].ended, "closed");
  });
});

Deno.test("flow control: the console is read only while the client takes the data", async () => {
  await withConsoles(async (_d, fake, client) => {
    const dom = await running(client, "flood");
    const serial = await open(client, dom);
    await client.until(serial, FAKE_PROMPT);
    const session = fake.sessions[0];
    const total = 16 * 1024 * 1024;
    const { promise: paused, resolve: resume } = Promise.withResolvers<void>();
    client.paused = paused;
    await client.send(serial, `flood ${total}\r`);
    // The client reads nothing: the daemon stops reading the console near its bound.
    await new Promise((r) => setTimeout(r, 1500));
    const held = session.produced;
    assert.ok(held < STREAM_BACKLOG + 2 * 1024 * 1024, `read ${held} bytes of a stalled console`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(session.produced, held, "the console is not read while the client stalls");
    client.paused = undefined;
    resume();
    await client.until(serial, "flood done", 60_000);
    assert.ok((client.streamBytes.get(serial) ?? 0) >= total);
  });
});

Deno.test("flow control: a client's input beyond the bound waits until the console took it", async () => {
  await withConsoles(async (_d, fake, client) => {
    const dom = await running(client, "input");
    const serial = await open(client, dom);
    await client.until(serial, FAKE_PROMPT);
    const session = fake.sessions[0];
    // The console takes nothing for now.
    const gate = Promise.withResolvers<void>();
    const write = session.write.bind(session);
    let taken = 0;
    session.write = async (bytes) => {
      await gate.promise;
      taken += bytes.length;
      return await write(bytes);
    };
    const chunk = "y".repeat(65536);
    const total = 8 * 1024 * 1024;
    let sent = 0;
    const sending = (async () => {
      for (; sent < total; sent += chunk.length) await client.send(serial, chunk);
    })();
    await new Promise((r) => setTimeout(r, 1500));
    // The daemon holds STREAM_INPUT and a frame; the rest waits in the socket and the client.
    assert.ok(sent < total, "the daemon stopped reading");
    assert.ok(sent <= STREAM_INPUT + 2 * 1024 * 1024, `${sent} bytes accepted`);
    gate.resolve();
    await sending;
    await waitFor(() => taken === total, 20_000, "all input written");
    assert.equal(session.written.length, total);
  });
});
