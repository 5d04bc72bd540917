/**
 * Robustness of the daemon against raw frames (sent by a Python socket client, a
 * process of its own): a bad or huge length, a truncated frame or a wrong program
 * closes that connection only; bad arguments and unknown procedures get error
 * replies; keepalive pings get pongs; many concurrent clients get every answer.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import {
  domainXml,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  python,
  rssKiB,
  startDaemon,
  virsh,
} from "./helpers.ts";

const HAVE = HAVE_VIRSH && HAVE_PYTHON_LIBVIRT;
if (!HAVE) {
  console.log("skipping daemon robustness tests: install libvirt-clients and python3-libvirt");
}

const RAW = String.raw`
import json, socket, struct, sys
path, ro_path = sys.argv[1], sys.argv[2]
REMOTE, KEEPALIVE = 0x20008086, 0x6b656570

def frame(proc, payload=b"", prog=REMOTE, typ=0, serial=1, status=0):
    body = struct.pack(">IIiiIi", prog, 1, proc, typ, serial, status) + payload
    return struct.pack(">I", len(body) + 4) + body

def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)

def connect(where=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(where or path)
    return s

def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data

def reply(s):
    head = read_exact(s, 4)
    if head is None:
        return None
    (length,) = struct.unpack(">I", head)
    body = read_exact(s, length - 4)
    prog, vers, proc, typ, serial, status = struct.unpack(">IIiiIi", body[:24])
    return {"prog": prog, "proc": proc, "type": typ, "serial": serial, "status": status,
            "payload": body[24:]}

def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True

def error_code(r):
    return struct.unpack(">i", r["payload"][:4])[0]

out = {}
for name, data in [
    ("huge", struct.pack(">I", 0xFFFFFFF0) + b"x" * 64),
    ("short", struct.pack(">I", 8) + b"x" * 4),
    ("program", frame(1, prog=0x12345678)),
    ("version", frame(1)[:8] + struct.pack(">I", 7) + frame(1)[12:]),
    ("reply", frame(1, typ=1)),
]:
    s = connect()
    s.sendall(data)
    out[name] = closed(s)
    s.close()

# The read-only socket takes no frame over 1 MiB; the read-write one takes a 2 MiB define
# (and refuses the XML in it).
s = connect(ro_path)
s.sendall(struct.pack(">I", 2 * 1024 * 1024) + b"x" * 64)
out["ro_big"] = closed(s)
s.close()
s = connect()
s.sendall(frame(1, struct.pack(">II", 0, 0), serial=1))
reply(s)
s.sendall(frame(11, xdr_string("<domain>" + "x" * (2 * 1024 * 1024) + "</domain>"), serial=2))
r = reply(s)
out["big_define"] = [r["status"], error_code(r)]
s.close()

s = connect()
s.sendall(frame(1)[:20])
s.shutdown(socket.SHUT_WR)
out["truncated"] = closed(s)
s.close()

s = connect()
s.sendall(frame(23, xdr_string("x"), serial=5))
r = reply(s)
out["before_open"] = [r["serial"], r["status"], error_code(r)]
s.sendall(frame(1, struct.pack(">II", 0, 0), serial=6))
out["open"] = reply(s)["status"]
s.sendall(frame(23, struct.pack(">I", 0x7FFFFFF0), serial=7))
r = reply(s)
out["bad_args"] = [r["serial"], r["status"], error_code(r)]
s.sendall(frame(9999, serial=8))
r = reply(s)
out["unknown"] = [r["serial"], r["status"], error_code(r)]
s.sendall(frame(1, prog=KEEPALIVE, typ=2, serial=0))
r = reply(s)
out["pong"] = [r["prog"], r["proc"], r["type"]]
# Two calls in one write: two replies, in order.
s.sendall(frame(3, serial=10) + frame(59, serial=11))
out["pipelined"] = [reply(s)["serial"], reply(s)["serial"]]
s.close()
print(json.dumps(out))
`;

Deno.test({
  name: "daemon: malformed frames close their connection only; errors are replies",
  ignore: !HAVE,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const run = await python(RAW, d.socket, d.roSocket);
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout);
        for (
          const name of ["huge", "short", "program", "version", "reply", "truncated", "ro_big"]
        ) {
          assert.equal(out[name], true, `${name}: the connection is closed`);
        }
        assert.deepEqual(out.big_define, [1, 27]); // VIR_ERR_XML_ERROR: over 1 MiB
        assert.deepEqual(out.before_open, [5, 1, 55]); // OPERATION_INVALID
        assert.equal(out.open, 0);
        assert.deepEqual(out.bad_args, [7, 1, 39]); // VIR_ERR_RPC
        assert.deepEqual(out.unknown, [8, 1, 3]); // VIR_ERR_NO_SUPPORT
        assert.deepEqual(out.pong, [0x6b656570, 2, 2]);
        assert.deepEqual(out.pipelined, [10, 11]);
        // The daemon still serves.
        const version = await virsh(d.uri, "version");
        assert.equal(version.code, 0, version.stderr);
        assert.match(d.log(), /frame length 4294967280 is out of range/);
        assert.match(d.log(), /unknown program 0x12345678/);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

const LOAD = String.raw`
import json, sys, threading, time, libvirt
uri, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
calls, errors = [0] * clients, []
def work(i):
    try:
        conn = libvirt.open(uri)
        end = time.time() + seconds
        while time.time() < end:
            dom = conn.lookupByName("load%d" % (i % 3))
            info = dom.info()
            assert info[1] == 65536, info
            assert len(conn.listAllDomains()) == 3
            calls[i] += 3
        conn.close()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"calls": sum(calls), "errors": errors, "idle": [c for c in calls if c == 0]}))
`;

Deno.test({
  name: "daemon: 20 concurrent clients for 3 s get every answer",
  ignore: !HAVE,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        for (let i = 0; i < 3; i++) {
          await Deno.writeTextFile(
            `${dir}/l${i}.xml`,
            domainXml(`load${i}`).replace("128</memory>", "64</memory>"),
          );
          const define = await virsh(d.uri, "define", `${dir}/l${i}.xml`);
          assert.equal(define.code, 0, define.stderr);
        }
        const before = await rssKiB(d.pid);
        const [load, ...virshes] = await Promise.all([
          python(LOAD, d.uri, "20", "3"),
          ...Array.from({ length: 3 }, () => virsh(d.uri, "list", "--all")),
        ]);
        assert.equal(load.code, 0, load.stderr);
        const out = JSON.parse(load.stdout);
        assert.deepEqual(out.errors, []);
        assert.deepEqual(out.idle, []);
        assert.ok(out.calls > 100, `${out.calls} calls`);
        for (const v of virshes) assert.equal(v.code, 0, v.stderr);
        const after = await rssKiB(d.pid);
        console.log(
          `  ${out.calls} calls by 20 clients in 3 s; daemon RSS ${before} → ${after} KiB`,
        );
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "daemon: a socket in use or a path that is not a socket is refused; no board is exit 2",
  ignore: !HAVE,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const args = (socket: string, ro: string) => [
          "--state-dir",
          d.stateDir,
          "--board",
          "qemu-virt-arm64",
          "daemon",
          "--socket",
          socket,
          "--ro-socket",
          ro,
        ];
        const second = await vmanctlProcess(args(d.socket, `${dir}/other-ro`));
        assert.equal(second.code, 1);
        assert.match(second.stderr, /another daemon is listening on this socket/);
        await Deno.writeTextFile(`${dir}/file`, "keep me");
        const file = await vmanctlProcess(args(`${dir}/file`, `${dir}/file-ro`));
        assert.equal(file.code, 1);
        assert.match(file.stderr, /not a socket/);
        assert.equal(await Deno.readTextFile(`${dir}/file`), "keep me");
        const fresh = await vmanctlProcess([
          "--state-dir",
          `${dir}/new`,
          "daemon",
          "--socket",
          `${dir}/s2`,
        ]);
        assert.equal(fresh.code, 2);
        assert.match(fresh.stderr, /the state dir has no board yet/);
        // The first daemon still serves.
        assert.equal((await virsh(d.uri, "list", "--all")).code, 0);
      } finally {
        assert.equal(await d.stop(), 0);
      }
      // Stopped, it removed its sockets.
      await assert.rejects(Deno.lstat(`${dir}/sock`), Deno.errors.NotFound);
      await assert.rejects(Deno.lstat(`${dir}/sock-ro`), Deno.errors.NotFound);
    });
  },
});
