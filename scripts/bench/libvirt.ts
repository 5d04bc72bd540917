/**
 * `vmanctl daemon` against libvirtd's test driver, same run, interleaved:
 *
 * - python3-libvirt `dom.info()` round trips on one open connection;
 * - `virsh -c URI dominfo DOMAIN`, whole process (target ≤ 1.0× libvirtd).
 *
 * Usage: deno task bench --only libvirt [--runs N]
 */
import { must, startPeer, startVmanager } from "./libvirt_peers.ts";

const runsFlag = Deno.args.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 40;
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
