/**
 * No client input stops the daemon: random calls (every procedure it answers and
 * unknown ones, with random arguments), random headers and random bytes, on
 * both sockets. Afterwards the daemon still serves virsh and its state is intact.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { PROCEDURES } from "../../plugins/libvirt/procedures.ts";
import { domainXml, HAVE_VIRSH, startDaemon, virsh } from "./helpers.ts";

const SEED = Number(Deno.env.get("VMAN_FUZZ_SEED") ?? Date.now() % 2 ** 31);

/** mulberry32: a small seeded PRNG, so a failure can be replayed with VMAN_FUZZ_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function frame(prog: number, proc: number, type: number, serial: number, payload: Uint8Array) {
  const out = new Uint8Array(28 + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length);
  v.setUint32(4, prog);
  v.setUint32(8, 1);
  v.setInt32(12, proc);
  v.setInt32(16, type);
  v.setUint32(20, serial);
  v.setInt32(24, 0);
  out.set(payload, 28);
  return out;
}

const OPEN = frame(0x20008086, 1, 0, 0, new Uint8Array(8));

Deno.test({
  name: `daemon: random calls, headers and bytes never stop it (seed ${SEED})`,
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        await Deno.writeTextFile(`${dir}/k.xml`, domainXml("keep"));
        assert.equal((await virsh(d.uri, "define", `${dir}/k.xml`)).code, 0);
        const before = await Deno.readTextFile(`${d.stateDir}/state.json`);
        const random = rng(SEED);
        const int = (n: number) => Math.floor(random() * n);
        const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
        const procs = [...PROCEDURES.keys()].filter((p) => p !== 2); // not CONNECT_CLOSE
        let conn: Deno.Conn | undefined;
        let sent = 0;
        for (let i = 0; i < 400; i++) {
          if (!conn) {
            conn = await Deno.connect({
              transport: "unix",
              path: int(4) === 0 ? d.roSocket : d.socket,
            });
            if (int(4) > 0) await conn.write(OPEN);
          }
          const kind = int(10);
          const data = kind < 7
            // a call: a known or unknown procedure with random arguments
            ? frame(
              0x20008086,
              int(5) === 0 ? int(1000) : procs[int(procs.length)],
              0,
              i,
              bytes(int(4) === 0 ? int(200) : int(24)),
            )
            : kind < 9
            // a header with random program, type or status
            ? frame(int(2) ? 0x20008086 : int(2 ** 32), int(400), int(6), i, bytes(int(16)))
            // random bytes
            : bytes(1 + int(64));
          try {
            await conn.write(data);
            sent++;
          } catch {
            conn.close();
            conn = undefined;
            continue;
          }
          if (kind >= 7 || int(8) === 0) {
            // Let the daemon answer or hang up, then start afresh.
            await new Promise((r) => setTimeout(r, 2));
            conn.close();
            conn = undefined;
          }
        }
        conn?.close();
        assert.ok(sent > 300, `${sent} frames sent`);
        // Still serving, and nothing it keeps has changed (random calls cannot name `keep`).
        const list = await virsh(d.uri, "list", "--all", "--name");
        assert.equal(list.code, 0, list.stderr);
        assert.equal(list.stdout.trim(), "keep");
        assert.equal(await Deno.readTextFile(`${d.stateDir}/state.json`), before);
        assert.doesNotMatch(d.log(), /unexpected error/);
        if (Deno.env.get("VMAN_FUZZ_LOG")) console.log(d.log());
      } finally {
        assert.equal(await d.stop(), 0, d.log());
      }
    });
  },
});
