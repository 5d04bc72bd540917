/**
 * Kill-safety of what redefinition and transient domains add, on the sim backend:
 * killed (SIGKILL, by the LD_PRELOAD fault injector of tests/fixtures/fault)
 * before each durable write, the next command finds the old definition or the
 * new one, never half, and no transient domain that does not run.
 *
 * - `vmanctl update` of a running partition, then `vmanctl stop` of it (the stop,
 *   then its next definition made its definition).
 * - `virsh create` (a transient domain made and started in one transaction) with
 *   the daemon killed at each of its writes.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { faultLibrary, monitorView } from "../fixtures/fault/mod.ts";
import { domainXml, HAVE_VIRSH, startDaemon, virsh } from "./helpers.ts";

const MiB = 2 ** 20;
/** Creates a partition on a new sim state dir: `create NAME ARGS`. */
const CREATE = ["--board", "qemu-virt-arm64", "--backend", "sim", "create"];

/** The fault injector's environment: killed before the `at`-th write into `state` (0: never). */
async function faultEnv(state: string, at: number, log?: string): Promise<Record<string, string>> {
  return {
    LD_PRELOAD: await faultLibrary(),
    VMAN_FAULT_RENAME: `${state}/`,
    VMAN_FAULT_AT: String(at),
    ...(log ? { VMAN_FAULT_LOG: log } : {}),
  };
}

async function must(state: string, args: string[]): Promise<string> {
  const r = await vmanctlProcess(["--state-dir", state, ...args]);
  assert.equal(r.code, 0, `vmanctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

interface Shown {
  name: string;
  id: number;
  state: string;
  memory: { size: number };
  transient?: boolean;
}

async function listed(state: string): Promise<Shown[]> {
  return JSON.parse(await must(state, ["--json", "list"])) as Shown[];
}

/** A running partition p of 128M, updated to 256M (its next definition). */
async function updatedRunning(state: string): Promise<void> {
  await must(state, [...CREATE, "p", "--cpu-ids", "1", "--memory", "128M"]);
  await must(state, ["start", "p"]);
  await Deno.writeTextFile(`${state}.yaml`, "cpu-ids: [1]\nmemory: 256M\n");
}

/** How many durable writes `args` makes after `prepare`. */
async function writesOf(
  prepare: (state: string) => Promise<void>,
  args: (state: string) => string[],
) {
  return await withTempDir(async (state) => {
    await prepare(state);
    const log = `${state}.writes`;
    const env = await faultEnv(state, 0, log);
    const r = await vmanctlProcess(["--state-dir", state, ...args(state)], env);
    assert.equal(r.code, 0, r.stderr);
    const count = (await Deno.readTextFile(log)).split("\n").filter(Boolean).length;
    await Deno.remove(log);
    await Deno.remove(`${state}.yaml`).catch(() => {});
    await must(state, ["destroy", "p"]);
    return count;
  });
}

/** After a kill: p runs as it was with its next definition, or is stopped with the new one. */
async function oldOrNew(state: string, what: string): Promise<void> {
  const [p] = await listed(state);
  const monitor = await monitorView(state);
  const shown = await must(state, ["show", "p"]);
  if (p.state === "running") {
    assert.equal(monitor.get(p.id), "running", what);
    assert.equal(p.memory.size, 128 * MiB, what);
    assert.match(shown, /^Next: +cores 1, 256 MiB/m, what);
  } else {
    assert.equal(p.state, "stopped", what);
    assert.equal(monitor.has(p.id), false, what);
    assert.equal(p.memory.size, 256 * MiB, what);
    assert.doesNotMatch(shown, /^Next:/m, what);
  }
  await must(state, ["stop", "p"]).catch(() => {});
  await must(state, ["start", "p"]);
  assert.equal((await listed(state))[0].memory.size, 256 * MiB, `${what}: the next start`);
  await must(state, ["destroy", "p"]);
  assert.deepEqual(await monitorView(state), new Map(), what);
}

Deno.test("crash: update and stop of a running partition killed before each durable write leave the old definition or the new", async () => {
  const update = ["update", "p", "-f"];
  const updateWrites = await writesOf(updatedRunning, (state) => [...update, `${state}.yaml`]);
  assert.equal(updateWrites, 1, "an update is one durable write");
  const updated = async (state: string) => {
    await updatedRunning(state);
    await must(state, [...update, `${state}.yaml`]);
  };
  const stopWrites = await writesOf(updated, () => ["stop", "p"]);
  assert.ok(stopWrites >= 2, "stop, then the next definition");
  for (let at = 1; at <= stopWrites; at++) {
    await withTempDir(async (state) => {
      await updated(state);
      const r = await vmanctlProcess(
        ["--state-dir", state, "stop", "p"],
        await faultEnv(state, at),
      );
      assert.equal(r.code, 137, `killed at write ${at}: ${r.stderr}`);
      await oldOrNew(state, `stop killed before write ${at} of ${stopWrites}`);
    });
  }
  await withTempDir(async (state) => {
    await updatedRunning(state);
    const env = await faultEnv(state, 1);
    const r = await vmanctlProcess(["--state-dir", state, ...update, `${state}.yaml`], env);
    assert.equal(r.code, 137, r.stderr);
    const [p] = await listed(state);
    assert.equal(p.memory.size, 128 * MiB);
    assert.doesNotMatch(await must(state, ["show", "p"]), /^Next:/m);
    await must(state, ["destroy", "p"]);
  });
});

Deno.test({
  name:
    "crash: virsh create with the daemon killed before each durable write leaves a running transient domain or nothing",
  ignore: !HAVE_VIRSH,
  async fn() {
    const creates = async (dir: string, at: number, log?: string) => {
      const state = `${dir}/state`;
      const env = Object.entries(await faultEnv(state, at, log)).map(([k, v]) => `${k}=${v}`);
      const d = await startDaemon(dir, ["--backend", "sim"], ["env", ...env]);
      await Deno.writeTextFile(`${dir}/t.xml`, domainXml("t", "", "<vcpu cpuset='1'>1</vcpu>"));
      const create = await virsh(d.uri, "create", `${dir}/t.xml`);
      await d.stop();
      return { create, state };
    };
    const total = await withTempDir(async (dir) => {
      const log = `${dir}/writes`;
      const { create, state } = await creates(dir, 0, log);
      assert.equal(create.code, 0, create.stderr);
      await must(state, ["destroy", "t"]);
      return (await Deno.readTextFile(log)).split("\n").filter(Boolean).length;
    });
    assert.ok(total >= 3, `the record, the start's intent, the running record: ${total}`);
    for (let at = 1; at <= total; at++) {
      await withTempDir(async (dir) => {
        const { create, state } = await creates(dir, at);
        assert.notEqual(create.code, 0, `killed at write ${at}`);
        const what = `create killed before write ${at} of ${total}`;
        const list = await listed(state).catch(() => []);
        const monitor = await monitorView(state);
        for (const p of list) {
          assert.equal(p.state, "running", what);
          assert.equal(p.transient, true, what);
          assert.equal(monitor.get(p.id), "running", what);
          await must(state, ["stop", p.name]);
        }
        assert.deepEqual(await listed(state).catch(() => []), [], `${what}: gone once stopped`);
        assert.deepEqual(await monitorView(state), new Map(), what);
        // Its core is free again.
        await must(state, [...CREATE, "q", "--cpu-ids", "1"]);
      });
    }
  },
});
