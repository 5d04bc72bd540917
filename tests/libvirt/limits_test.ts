/**
 * Limits of the daemon: running out of file descriptors does not stop a socket's
 * listener, and the read-only socket (mode 0666) cannot take the read-write
 * socket's connections.
 */
import assert from "node:assert/strict";
import { hasTool, withTempDir } from "../cli/helpers.ts";
import {
  domainXml,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  python,
  startDaemon,
  virshWithin,
} from "./helpers.ts";

const HAVE = HAVE_VIRSH && HAVE_PYTHON_LIBVIRT;
if (!HAVE) console.log("skipping daemon limit tests: install libvirt-clients and python3-libvirt");
const HAVE_PRLIMIT = hasTool("prlimit");
if (!HAVE_PRLIMIT) console.log("skipping the file descriptor test: install util-linux (prlimit)");

/** Opens argv[2] raw connections to argv[1], holds them argv[3] s, closes them; prints counts. */
const FLOOD = String.raw`
import json, socket, sys, time
path, count, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
opened, failed = [], 0
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        opened.append(s)
    except OSError:
        failed += 1
        s.close()
time.sleep(hold)
# Connections the daemon closed (refused) read EOF at once; accepted idle ones stay open.
closed = 0
for s in opened:
    s.settimeout(0.05)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
for s in opened:
    s.close()
print(json.dumps({"opened": len(opened), "failed": failed, "closed": closed}))
`;

Deno.test({
  name: "daemon: accept errors (out of file descriptors) leave both sockets serving",
  ignore: !HAVE || !HAVE_PRLIMIT,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir, [], ["prlimit", "--nofile=64:64", "--"]);
      try {
        const flood = await python(FLOOD, d.roSocket, "120", "1");
        assert.equal(flood.code, 0, flood.stderr);
        // Give the daemon a moment to accept and close the connections the flood left.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const rw = await virshWithin(20, d.uri, "list", "--all");
        assert.equal(rw.code, 0, rw.stderr);
        const ro = await virshWithin(20, d.roUri, "list", "--all");
        assert.equal(ro.code, 0, ro.stderr);
        // The daemon did run out of descriptors: accept failed, and it said so once per run.
        assert.match(d.log(), /accept on the read-only socket: .*; retrying/);
        assert.match(d.log(), /accepting on the read-only socket again/);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "daemon: a read-only socket full of idle clients leaves the read-write one serving",
  ignore: !HAVE,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        // 300 idle connections on the read-only socket: 256 are taken, the rest refused; none
        // completes a call, so the daemon closes them all after 10 s.
        const flooding = python(FLOOD, d.roSocket, "300", "12");
        const full = async () => {
          for (let i = 0; i < 100 && !/refusing a client on the read-only/.test(d.log()); i++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        };
        await full();
        assert.match(
          d.log(),
          /refusing a client on the read-only socket: 256 connections are open/,
        );
        const rw = await virshWithin(20, d.uri, "list", "--all");
        assert.equal(rw.code, 0, rw.stderr);
        const flood = await flooding;
        assert.equal(flood.code, 0, flood.stderr);
        const out = JSON.parse(flood.stdout);
        assert.equal(out.opened, 300);
        assert.equal(out.closed, 300, "refused and idle connections are all closed");
        assert.match(d.log(), /no call completed in 10000 ms; closing it/);
        // Once they are gone, the read-only socket serves again.
        const ro = await virshWithin(20, d.roUri, "list", "--all");
        assert.equal(ro.code, 0, ro.stderr);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "daemon: a crafted cpuset (a huge range, a 100 KB list) is an XML error; the daemon serves",
  ignore: !HAVE,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const lists = {
          huge: "0-4294967295",
          distinct: Array.from({ length: 9500 }, (_, i) => `${i * 5}-${i * 5 + 4}`).join(","),
          same: Array(15000).fill("0-4095").join(","),
        };
        for (const [name, cpuset] of Object.entries(lists)) {
          await Deno.writeTextFile(
            `${dir}/${name}.xml`,
            domainXml(name, "", `<vcpu cpuset='${cpuset}'>2</vcpu>`),
          );
          const started = performance.now();
          const define = await virshWithin(20, d.uri, "define", `${dir}/${name}.xml`);
          const ms = Math.round(performance.now() - started);
          console.log(`  cpuset ${name} (${cpuset.length} bytes): refused in ${ms} ms`);
          assert.equal(define.code, 1, define.stdout);
          assert.match(
            define.stderr,
            /XML error: .*cpuset (range .* names a core over 4095|names more than 4096 cores)/,
          );
        }
        const list = await virshWithin(20, d.uri, "list", "--all", "--name");
        assert.equal(list.code, 0, list.stderr);
        assert.equal(list.stdout.trim(), "", "nothing was defined");
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
