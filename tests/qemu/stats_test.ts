/**
 * `vmanctl stats` through the user's path: two arm64 partitions boot Linux on the
 * qemu backend, one is set busy-looping by a line typed into its console, and two
 * readings of `vmanctl stats --json` show its core's CPU time growing by most of
 * the wall time between them while the idle one's barely moves. A backend without
 * statistics (dry-run) reports what the state knows, CPU time `null`. And the
 * qemu backend's helpers: cores to QEMU's vCPU threads, `schedstat` lines.
 */
import assert from "node:assert/strict";
import { vmanctl, withTempDir } from "../cli/helpers.ts";
import {
  bootTest,
  createGuest,
  GUESTS,
  missing,
  ok,
  typeIntoConsole,
  waitForConsole,
  waitForState,
} from "./helpers.ts";
import { coreThreads, schedstatNs } from "../../plugins/qemu/stats.ts";
import type { StatsView } from "../../core/cli/commands/stats.ts";
import type { Board } from "../../core/model.ts";

const guest = GUESTS.arm64;
const skip = missing(guest);
if (skip) console.log(`skipping the stats boot test: ${skip}`);

/** `vmanctl stats --json` of every partition, by name. */
async function readStats(state: string): Promise<Map<string, StatsView>> {
  const views = JSON.parse(await ok(state, "--json", "stats")) as StatsView[];
  return new Map(views.map((v) => [v.name, v]));
}

/** The size of the partition's console capture on disk (console.log and console.log.1). */
async function captured(state: string, id: number): Promise<number> {
  let total = 0;
  for (const file of ["console.log", "console.log.1"]) {
    try {
      total += (await Deno.stat(`${state}/qemu/${id}/${file}`)).size;
    } catch {
      // not rotated
    }
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

bootTest(
  "vmanctl stats: a busy-looping partition's core uses most of the wall time, an idle one's hardly any",
  skip !== undefined,
  async (state) => {
    await createGuest(state, guest, "busy", "1", "256M", true);
    await createGuest(state, guest, "idle", "2", "256M", true);
    await ok(state, "create", "spare", "--cpu-ids", "3", "--memory", "128M");
    await ok(state, "start", "busy");
    await ok(state, "start", "idle");
    await waitForConsole(state, "busy", /vmanager-guest: staying up/);
    await waitForConsole(state, "idle", /vmanager-guest: staying up/);

    // What every field says of a running, a defined partition.
    const first = await readStats(state);
    const busy0 = first.get("busy")!;
    assert.equal(busy0.state, "running");
    assert.equal(busy0.reason, null);
    assert.equal(busy0.backend, "qemu");
    assert.ok(busy0.startedAt !== null && Date.parse(busy0.startedAt) <= Date.now());
    assert.ok(busy0.uptimeSeconds !== null && busy0.uptimeSeconds > 0);
    assert.deepEqual(busy0.cores.map((c) => c.id), [1]);
    assert.ok(typeof busy0.cores[0].cpuTimeNs === "number" && busy0.cores[0].cpuTimeNs > 0);
    assert.equal(busy0.cpuTimeNs, busy0.cores[0].cpuTimeNs);
    assert.equal(busy0.memory.size, 256 * 1024 * 1024);
    const onDisk = await captured(state, busy0.id);
    assert.ok(busy0.consoleBytes !== null && busy0.consoleBytes > 1000, `${busy0.consoleBytes}`);
    assert.ok(busy0.consoleBytes <= onDisk, `${busy0.consoleBytes} > ${onDisk} on disk`);
    const spare = first.get("spare")!;
    assert.equal(spare.state, "defined");
    assert.equal(spare.cpuTimeNs, null);
    assert.deepEqual(spare.cores, [{ id: 3, cpuTimeNs: null }]);
    assert.equal(spare.startedAt, null);
    assert.equal(spare.uptimeSeconds, null);
    assert.equal(spare.consoleBytes, null);

    // Idle, both hardly use their core.
    const idleA = await readStats(state);
    await sleep(3000);
    const idleB = await readStats(state);
    for (const name of ["busy", "idle"]) {
      const [a, b] = [idleA.get(name)!, idleB.get(name)!];
      const wall = (b.uptimeSeconds! - a.uptimeSeconds!) * 1e9;
      const used = b.cpuTimeNs! - a.cpuTimeNs!;
      assert.ok(used >= 0 && used < 0.3 * wall, `${name} idle used ${used} ns of ${wall}`);
    }

    // Busy: the loop runs on busy's only core.
    await typeIntoConsole(
      state,
      "busy",
      "while :; do :; done &\n",
      /done &[\s\S]*vmanager-guest# /,
    );
    await sleep(500);
    const a = await readStats(state);
    await sleep(4000);
    const b = await readStats(state);
    const wall = (b.get("busy")!.uptimeSeconds! - a.get("busy")!.uptimeSeconds!) * 1e9;
    assert.ok(wall > 3.5e9, `wall ${wall}`);
    const busyUsed = b.get("busy")!.cores[0].cpuTimeNs! - a.get("busy")!.cores[0].cpuTimeNs!;
    const idleUsed = b.get("idle")!.cores[0].cpuTimeNs! - a.get("idle")!.cores[0].cpuTimeNs!;
    assert.ok(busyUsed > 0.3 * wall, `busy used ${busyUsed} ns of ${wall} ns`);
    assert.ok(busyUsed <= wall * 1.05, `busy used ${busyUsed} ns, more than the ${wall} ns`);
    assert.ok(idleUsed < 0.3 * wall, `idle used ${idleUsed} ns of ${wall} ns`);
    assert.equal(b.get("busy")!.startedAt, a.get("busy")!.startedAt);

    // The human table and one partition's text.
    const text = await ok(state, "stats");
    assert.match(text, /^Name +State +Uptime +CPU time +Per core +Memory +Console$/m);
    assert.match(text, /^busy +running +\S+ +\d+\.\d{3} s +1: \d+\.\d{3} s +256 MiB at 0x/m);
    assert.match(text, /^spare +defined +- +- +3: - +128 MiB at 0x/m);
    const one = await ok(state, "stats", "busy");
    assert.match(one, /^State: +running$/m);
    assert.match(one, /^Started: +\S+Z \(up \S+\)$/m);
    assert.match(one, /^ +core 1: +\d+\.\d{3} s$/m);
    assert.match(one, /^Console: +[\d.]+ KiB captured$/m);

    // One whose OS powered off: not running, why, no CPU time, its capture kept.
    await typeIntoConsole(state, "idle", "poweroff -f\n", /poweroff -f/);
    await waitForState(state, "idle", "stopped");
    const off = JSON.parse(await ok(state, "--json", "stats", "idle")) as StatsView;
    assert.equal(off.state, "stopped");
    assert.match(off.reason ?? "", /powered off/);
    assert.equal(off.cpuTimeNs, null);
    assert.equal(off.startedAt, null);
    assert.ok(off.consoleBytes !== null && off.consoleBytes > 1000);
    assert.match(await ok(state, "stats", "idle"), /^State: +stopped \(.*powered off.*\)$/m);
  },
);

Deno.test("vmanctl stats on a backend without statistics: what the state knows, CPU time null", async () => {
  await withTempDir(async (state) => {
    const run = (...args: string[]) => vmanctl(["--state-dir", state, ...args]);
    assert.equal((await run("stats")).stdout.trim(), "No partitions.");
    assert.equal((await run("--json", "stats")).stdout.trim(), "[]");
    assert.equal(
      (await run("--board", "qemu-virt-arm64", "create", "r1", "--cpu-ids", "1,2")).code,
      0,
    );
    assert.equal((await run("start", "r1")).code, 0);
    const result = await run("--json", "stats", "r1");
    assert.equal(result.code, 0, result.stderr);
    const view = JSON.parse(result.stdout) as StatsView;
    assert.deepEqual(
      { ...view, memory: undefined },
      {
        name: "r1",
        id: 1,
        state: "running",
        reason: null,
        backend: "dry-run",
        startedAt: view.startedAt, // the state's own start time, when it records one
        uptimeSeconds: view.uptimeSeconds,
        cpuTimeNs: null,
        cores: [{ id: 1, cpuTimeNs: null }, { id: 2, cpuTimeNs: null }],
        memory: undefined,
        consoleBytes: null,
      },
    );
    assert.ok(view.memory.size > 0);
    const text = await run("stats");
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^r1 +running +\S+ +- +1: -, 2: - +/m);
    assert.match(
      text.stdout,
      /^CPU time is not available: backend dry-run keeps no statistics\.$/m,
    );
    const nope = await run("stats", "nope");
    assert.equal(nope.code, 2);
    assert.match(nope.stderr, /^vmanctl: no partition named 'nope'/);
    assert.equal(nope.stdout, "");
  });
});

Deno.test("qemu stats: board cores are QEMU's CPUs in order; a thread shared by cores is not split", () => {
  const board = {
    cores: [{ id: 0, hwid: 0 }, { id: 1, hwid: 1 }, { id: 5, hwid: 0x100 }],
  } as Board;
  const cpus = [
    { "cpu-index": 0, "thread-id": 100 },
    { "cpu-index": 1, "thread-id": 101 },
    { "cpu-index": 2, "thread-id": 102 },
  ];
  assert.deepEqual([...coreThreads(board, [1, 5], cpus)], [[1, 101], [5, 102]]);
  assert.deepEqual([...coreThreads(board, [7], cpus)], []);
  const single = cpus.map((c) => ({ ...c, "thread-id": 100 }));
  assert.deepEqual([...coreThreads(board, [1, 5], single)], []);
  assert.deepEqual([...coreThreads(board, [5], single)], []);
  assert.equal(schedstatNs("965374116 81749150 35478\n"), 965374116);
  assert.equal(schedstatNs(""), undefined);
  assert.equal(schedstatNs("x 1 2"), undefined);
});
