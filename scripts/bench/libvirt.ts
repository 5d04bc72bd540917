/**
 * `vmanctl daemon` against libvirtd's test driver, same run, interleaved:
 *
 * - python3-libvirt `dom.info()` round trips on one open connection;
 * - the frames of `virsh dominfo` replayed on a raw socket: the server's share of it;
 * - `virsh -c URI dominfo DOMAIN`, whole process (target ≤ 1.0× libvirtd).
 *
 * Usage: deno task bench --only libvirt [--runs N]
 */
import { must, startPeer, startVmanager } from "./libvirt_peers.ts";
import { runsFlag } from "./measure.ts";

const RUNS = runsFlag(40);
const WARMUP = 5;
const ROUND_TRIPS = 2000;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(cmd: string, args: string[]): Promise<number> {
  const start = performance.now();
  await must(cmd, args);
  return performance.now() - start;
}

const ours = await startVmanager();
const peer = await startPeer();
try {
  // python3-libvirt first: it also warms both servers up the same way.
  const script = `
import sys, time, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName(sys.argv[2])
n = int(sys.argv[3])
for _ in range(200): dom.info()
t = time.perf_counter()
for _ in range(n): dom.info()
print((time.perf_counter() - t) / n * 1e6)
conn.close()
`;
  const py = async (uri: string, domain: string) =>
    Number(await must("/usr/bin/python3", ["-c", script, uri, domain, String(ROUND_TRIPS)]));
  const rounds: Record<"ours" | "peer", number[]> = { ours: [], peer: [] };
  for (let i = 0; i < 5; i++) {
    rounds.ours.push(await py(ours.uri, ours.domain));
    rounds.peer.push(await py(peer.uri, peer.domain));
  }
  const [ro, rp] = [median(rounds.ours), median(rounds.peer)];
  console.log(`python3-libvirt dom.info() round trip (${ROUND_TRIPS} calls × 5, interleaved)`);
  console.log(`  vmanctl daemon            median ${ro.toFixed(0)} µs`);
  console.log(`  ${peer.kind.padEnd(25)} median ${rp.toFixed(0)} µs`);
  console.log(`  ratio vmanager / libvirt (medians): ${(ro / rp).toFixed(2)}x`);

  // The frames virsh 9.0 sends for `dominfo` (notes/libvirt-virsh-trace.txt), replayed over a
  // raw socket: the server's share of a virsh run, without virsh's own start-up.
  const replay = String.raw`
import socket, struct, sys, time, statistics
def frame(proc, payload, serial):
    body = struct.pack(">IIiiIi", 0x20008086, 1, proc, 0, serial, 0) + payload
    return struct.pack(">I", len(body) + 4) + body
def xs(x):
    b = x.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)
def read(s):
    head = b""
    while len(head) < 4: head += s.recv(4 - len(head))
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n - 4: body += s.recv(n - 4 - len(body))
    if struct.unpack(">i", body[20:24])[0] not in (0, 1): raise SystemExit("bad reply")
    return body
def dominfo(path, name):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    serial = [0]
    def call(proc, payload=b""):
        s.sendall(frame(proc, payload, serial[0])); serial[0] += 1
        return read(s)
    call(66); call(60, struct.pack(">i", 10))
    call(1, struct.pack(">I", 1) + xs("x:///system") + struct.pack(">I", 0))
    call(60, struct.pack(">i", 14)); call(60, struct.pack(">i", 15)); call(360)
    dom = call(23, xs(name))[24:]
    for proc, extra in [(19, b""), (16, b""), (151, b""), (15, b""), (183, b"\0" * 4)]:
        call(proc, dom + extra)
    call(122); call(426, dom + b"\0" * 4); call(361); call(2)
    s.close()
n = int(sys.argv[3])
for _ in range(20): dominfo(sys.argv[1], sys.argv[2])
times = []
for _ in range(n):
    t = time.perf_counter(); dominfo(sys.argv[1], sys.argv[2]); times.append(time.perf_counter() - t)
print(statistics.median(times) * 1e3)
`;
  const conversation = async (server: { uri: string; domain: string }) => {
    const socket = /socket=([^&]+)/.exec(server.uri)?.[1];
    if (!socket) return NaN;
    return Number(await must("/usr/bin/python3", ["-c", replay, socket, server.domain, "100"]));
  };
  const talks: Record<"ours" | "peer", number[]> = { ours: [], peer: [] };
  for (let i = 0; i < 5; i++) {
    talks.ours.push(await conversation(ours));
    talks.peer.push(await conversation(peer));
  }
  const [co, cp] = [median(talks.ours), median(talks.peer)];
  console.log("");
  console.log(
    "virsh dominfo's conversation replayed on a raw socket (100 connections × 5, interleaved)",
  );
  console.log(`  vmanctl daemon            median ${co.toFixed(2)} ms`);
  console.log(`  ${peer.kind.padEnd(25)} median ${cp.toFixed(2)} ms`);
  console.log(`  ratio vmanager / libvirt (medians): ${(co / cp).toFixed(2)}x`);

  const samples: Record<"ours" | "peer", number[]> = { ours: [], peer: [] };
  for (let i = 0; i < WARMUP + RUNS; i++) {
    // Alternate which goes first, so neither always runs right after the other.
    const order = i % 2 === 0 ? (["ours", "peer"] as const) : (["peer", "ours"] as const);
    for (const who of order) {
      const server = who === "ours" ? ours : peer;
      const t = await time("virsh", ["-c", server.uri, "dominfo", server.domain]);
      if (i >= WARMUP) samples[who].push(t);
    }
  }
  const [mo, mp] = [median(samples.ours), median(samples.peer)];
  console.log("");
  console.log(
    `virsh dominfo, whole process (${RUNS} runs each, interleaved, after ${WARMUP} warm-up)`,
  );
  console.log(
    `  vmanctl daemon            median ${mo.toFixed(1)} ms  min ${
      Math.min(...samples.ours).toFixed(1)
    } ms`,
  );
  console.log(
    `  ${peer.kind.padEnd(25)} median ${mp.toFixed(1)} ms  min ${
      Math.min(...samples.peer).toFixed(1)
    } ms`,
  );
  console.log(`  ratio vmanager / libvirt (medians): ${(mo / mp).toFixed(2)}x  (target <= 1.0x)`);
} finally {
  await ours.stop();
  await peer.stop();
}
