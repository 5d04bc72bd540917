/**
 * Operating a running partition: `shutdown` asks its OS to power off and waits,
 * `reboot` is a shutdown followed by a start (images loaded again), `reset` is a
 * hard stop followed by a start. Each goes through the transaction helper; the
 * wait for a shutdown happens outside the state lock, with the intent `shutdown`
 * recorded, so other commands go on meanwhile and whoever sees the partition
 * power off first (this command, the partition's watcher, the next command)
 * records it as shut down.
 *
 * @module
 */
import type { PartitionRecord } from "../model.ts";
import { StateError } from "../errors.ts";
import {
  byName,
  current,
  type LifecycleContext,
  startRecord,
  stopPartition,
  stopRecord,
  withoutIntent,
} from "./lifecycle.ts";
import { convergedState, recordIntent, transact, type Tx, withRecord } from "./transaction.ts";

/** How long `shutdown` waits for the OS by default, in milliseconds. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 60_000;

/** Options of a shutdown. */
export interface ShutdownOptions {
  /** How long to wait for the OS to power off, in milliseconds. */
  timeoutMs?: number;
  /** After the timeout, stop it hard instead of failing. */
  force?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The record-level step of every shutdown (vmanctl's and libvirt's): records the
 * intent `shutdown` and presses the partition's power button; when the button
 * cannot be pressed, the state is left as it was and the backend's error thrown.
 */
export async function askPowerOff(
  tx: Tx,
  record: PartitionRecord,
  restart = false,
): Promise<void> {
  if (!tx.ctx.requestShutdown) {
    throw new StateError(`backend ${tx.doc.backend} cannot ask an OS to power off`, record.name);
  }
  const before = tx.doc;
  await recordIntent(tx, record, { op: "shutdown", ...(restart ? { restart } : {}) });
  try {
    await tx.ctx.requestShutdown(tx.doc, record.id);
  } catch (error) {
    await tx.commit(before).catch(() => {});
    throw error;
  }
}

/** Records the intent and presses the partition's power button (under the lock). */
async function requestShutdown(ctx: LifecycleContext, name: string): Promise<void> {
  await transact(ctx, {
    locate: byName(name),
    check(_record, runs) {
      if (!runs) throw new StateError(`partition ${name} is not running`, name);
    },
    apply: (tx, record) => askPowerOff(tx, record),
  });
}

/** Waits (without the lock) until the partition is recorded as no longer running. */
async function awaitPowerOff(
  ctx: LifecycleContext,
  name: string,
  timeoutMs: number,
): Promise<PartitionRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  let seen = byName(name)(await ctx.store.read());
  while (Date.now() < deadline) {
    // Converging records the shutdown once the backend sees the partition off
    // (and removes a transient one: it is reported as it ended).
    const record = (await convergedState(ctx))?.partitions.find((p) => p.name === name);
    if (!record) return { ...withoutIntent(seen), state: "stopped", reason: "shutdown" };
    if (!record.pending && record.state !== "running") return record;
    seen = record;
    await sleep(200);
  }
  return undefined;
}

/** Drops the intent of a shutdown that was not honoured in time. */
async function abandon(ctx: LifecycleContext, name: string): Promise<void> {
  await transact(ctx, {
    locate: byName(name),
    async apply(tx, record) {
      if (record.pending?.op !== "shutdown") return;
      await tx.commit(withRecord(tx.doc, withoutIntent(record)));
    },
  });
}

/**
 * Asks the partition's OS to power off and waits up to the timeout; the partition
 * is then `stopped` with reason `shutdown`. On timeout: a `StateError` (exit 1)
 * unless `force`, which stops it hard.
 */
export async function shutdownPartition(
  ctx: LifecycleContext,
  name: string,
  options: ShutdownOptions = {},
): Promise<PartitionRecord> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT;
  await requestShutdown(ctx, name);
  const done = await awaitPowerOff(ctx, name, timeoutMs);
  if (done) return done;
  await abandon(ctx, name);
  if (options.force) return await stopPartition(ctx, name);
  throw new StateError(
    `partition ${name} did not power off within ${timeoutMs / 1000} s; ` +
      `'vmanctl shutdown --force' stops it hard`,
    name,
  );
}

/**
 * A graceful restart: the OS is asked to power off and awaited (as `shutdown`),
 * then the partition is started again from a clean slate — every core confirmed
 * off at the monitor, its images loaded again.
 */
export async function rebootPartition(
  ctx: LifecycleContext,
  name: string,
  options: ShutdownOptions = {},
): Promise<PartitionRecord> {
  await shutdownPartition(ctx, name, options);
  return await transact(ctx, {
    locate: byName(name),
    check(_record, runs) {
      if (runs) throw new StateError(`partition ${name} was started meanwhile`, name);
    },
    apply: (tx, record) => startRecord(tx, record, "restarted"),
  });
}

/** A hard restart: stopped at once, then started again with its images loaded again. */
export async function resetPartition(
  ctx: LifecycleContext,
  name: string,
): Promise<PartitionRecord> {
  return await transact(ctx, {
    locate: byName(name),
    check(record) {
      if (record.state !== "running") {
        throw new StateError(`partition ${name} is not running (${record.state})`, name);
      }
    },
    async apply(tx, record) {
      const stopped = current(tx, await stopRecord(tx, record));
      return await startRecord(tx, stopped, "restarted");
    },
  });
}
