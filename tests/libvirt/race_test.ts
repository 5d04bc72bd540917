/**
 * The driver's changes check and act under the state lock, on the partition the
 * client named by UUID: a `vmanctl start` (or a define of the same name) that gets
 * the lock between a client's lookup and its change cannot make the daemon undefine
 * a running partition or act on another one. The concurrent change is made by the
 * real lifecycle (core/partition/lifecycle.ts) on the same state dir, on the
 * dry-run backend, at the moment the driver asks for the lock.
 */
import assert from "node:assert/strict";
import { DryRunMonitor } from "../../core/monitor/dry_run.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import {
  createPartition,
  destroyPartition,
  startPartition,
  uuidOf,
} from "../../core/partition/lifecycle.ts";
import { StateStore } from "../../core/state/store.ts";
import { builtinBoard } from "./boards.ts";
import { errorOf } from "../../plugins/libvirt/errors.ts";
import { Driver } from "../../plugins/libvirt/driver.ts";
import { withTempDir } from "../cli/helpers.ts";

const ARM64 = await builtinBoard("qemu-virt-arm64");

/** A store that runs `before` (once) when a change is asked for, before taking the lock. */
class RacingStore extends StateStore {
  before?: () => Promise<unknown>;

  override async update<T>(...args: Parameters<StateStore["update"]>): Promise<T> {
    const before = this.before;
    this.before = undefined;
    await before?.();
    return await super.update(...args) as T;
  }
}

function contexts(dir: string): { vmanctl: LifecycleContext; daemon: LifecycleContext } {
  const base = {
    setup: () => Promise.resolve({ board: ARM64, backend: "dry-run" }),
    monitor: () => Promise.resolve(new DryRunMonitor()),
  };
  return {
    vmanctl: { ...base, store: new StateStore(dir) },
    daemon: { ...base, store: new RacingStore(dir) },
  };
}

Deno.test("driver: undefine makes the partition transient when a vmanctl start gets the lock first", async () => {
  await withTempDir(async (dir) => {
    const { vmanctl, daemon } = contexts(dir);
    await createPartition(vmanctl, { name: "race", cpus: 1, memory: 64 * 1024 * 1024 });
    const driver = new Driver(daemon);
    const seen = await driver.byName("race"); // the client's lookup: shut off
    assert.equal(seen.state, "defined");
    (daemon.store as RacingStore).before = () => startPartition(vmanctl, "race");
    // Decided on the state under the lock: a running domain is not removed but made
    // transient, as libvirt's undefine of a running domain does.
    await driver.undefine(seen);
    const after = await vmanctl.store.read();
    assert.deepEqual(after?.partitions.map((p) => [p.name, p.state, p.transient]), [
      ["race", "running", true],
    ]);
  });
});

Deno.test("driver: destroy and undefine act on the UUID the client named, not its name", async () => {
  await withTempDir(async (dir) => {
    const { vmanctl, daemon } = contexts(dir);
    await createPartition(vmanctl, { name: "twin", cpus: 1, memory: 64 * 1024 * 1024 });
    await startPartition(vmanctl, "twin");
    const driver = new Driver(daemon);
    const seen = await driver.byName("twin");
    // Between the lookup and the destroy, vmanctl replaces "twin" by another partition.
    const replace = async () => {
      await destroyPartition(vmanctl, "twin");
      await createPartition(vmanctl, { name: "twin", cpus: 1, memory: 64 * 1024 * 1024 });
      await startPartition(vmanctl, "twin");
    };
    (daemon.store as RacingStore).before = replace;
    await assert.rejects(driver.stop(seen), (error: unknown) => {
      assert.equal(errorOf(error).code, 42); // NO_DOMAIN
      return true;
    });
    (daemon.store as RacingStore).before = undefined;
    const doc = await vmanctl.store.read();
    const other = doc!.partitions[0];
    assert.notEqual(uuidOf(other), uuidOf(seen));
    assert.equal(other.state, "running", "the other partition was not stopped");
    await assert.rejects(driver.undefine(seen), (error: unknown) => {
      assert.equal(errorOf(error).code, 42);
      return true;
    });
    assert.equal((await vmanctl.store.read())!.partitions.length, 1);
  });
});
