/**
 * The one transaction helper of every lifecycle operation — vmanctl's by-name
 * commands and the libvirt driver's by-UUID calls alike.
 *
 * Under the state lock, {@linkcode transact} first converges what an earlier
 * process left unfinished, then finds the partition, decides whether it really
 * runs (the state, the backend's observation and the monitor's own view), lets
 * the operation refuse, and runs its steps. An operation that changes the monitor
 * records its intent in the state (`pending` on the record) before its first
 * monitor call and removes it with its last write, so that after a kill or a full
 * disk at any point the next command or daemon rolls it forward or back against
 * what the monitor reports ({@linkcode converge}):
 *
 * | intent    | the monitor has the partition running | otherwise                        |
 * | --------- | ------------------------------------- | -------------------------------- |
 * | `start`   | forward: `running`, with its boot     | back: cleared, state as before   |
 * | `stop`    | forward: stopped and cleared          | forward: `stopped`               |
 * | `destroy` | forward: stopped, cleared, removed    | forward: removed                 |
 * | `shutdown`| kept while its process waits          | forward: `stopped` (`shutdown`)  |
 *
 * A `shutdown` intent of a reboot (`restart`) whose process still waits is rolled
 * forward to a new start instead (libvirt's reboot: a transient domain stays).
 *
 * Convergence also applies the end policies: a partition the state says runs but
 * whose backend saw it power off, reboot or crash on its own is destroyed (marked
 * stopped, cleared from the monitor), restarted (cleared, its images loaded again,
 * started) or preserved (marked stopped or crashed, its memory and console kept),
 * as its spec's `onPoweroff`, `onReboot` and `onCrash` ask ({@linkcode applyEnding}).
 * Last, a partition that no longer runs gets the next definition it was given
 * while it ran, and a transient one is removed (core/partition/definition.ts).
 *
 * @module
 */
import {
  DEFAULT_POLICIES,
  type EndPolicy,
  type PartitionRecord,
  type RuntimeObservation,
  type StateReason,
} from "../model.ts";
import { errorLine, MonitorError } from "../errors.ts";
import { processAlive } from "../process.ts";
import type { Monitor } from "../monitor/monitor.ts";
import type { Commit, StateDocument } from "../state/store.ts";
import { checkRequested, type LifecycleContext, startRecord } from "./lifecycle.ts";
import { stopSequence } from "./boot.ts";
import { convergeDefinitions } from "./definition.ts";
import { needsConvergence } from "../state/lookup.ts";

/** What an operation's steps work with. */
export interface Tx {
  /** The lifecycle context. */
  readonly ctx: LifecycleContext;
  /** The document as last written (or read). */
  doc: StateDocument;
  /** Writes `doc` durably now and makes it the current one. */
  commit(doc: StateDocument): Promise<void>;
  /** The state dir's monitor, made once per transaction and closed after it. */
  monitor(): Promise<Monitor>;
}

/** One lifecycle operation. */
export interface Operation<T> {
  /** Finds the partition in the document (by name or by UUID, each with its own refusal). */
  locate(doc: StateDocument | undefined): PartitionRecord;
  /** Refuses the operation on the partition as it is; `runs`: whether it really runs. */
  check?(record: PartitionRecord, runs: boolean): void;
  /** The operation's steps. */
  apply(tx: Tx, record: PartitionRecord, runs: boolean): Promise<T>;
}

/** Runs `op` as one transaction under the state lock (see the module's description). */
export async function transact<T>(ctx: LifecycleContext, op: Operation<T>): Promise<T> {
  return await ctx.store.update(async (current, commit) => {
    if (!current) op.locate(undefined); // throws: there is no partition at all
    checkRequested(current!, ctx.requested, ctx.store.dir);
    const tx = openTx(ctx, current!, commit);
    try {
      await converge(tx);
      const record = op.locate(tx.doc);
      const runs = await reallyRuns(tx, record);
      op.check?.(record, runs);
      return { result: await op.apply(tx, record, runs) };
    } finally {
      tx.close();
    }
  });
}

/**
 * Converges the interrupted operations of a state dir, if it has any, and returns
 * the document (the state as read when there is nothing to converge, without
 * taking the lock). Read-only commands call it so that what they show agrees with
 * the monitor after a kill. With `always`, it takes the lock and converges anyway,
 * applying the end policies of partitions that ended on their own (what a
 * partition's watcher runs when its emulator exits: `vmanctl __converge`).
 */
export async function convergedState(
  ctx: LifecycleContext,
  always = false,
): Promise<StateDocument | undefined> {
  const doc = await ctx.store.read();
  if (!always && !needsConvergence(doc)) return doc;
  return await ctx.store.update(async (current, commit) => {
    if (!current) return { result: current };
    const tx = openTx(ctx, current, commit);
    try {
      await converge(tx);
    } finally {
      tx.close();
    }
    return { result: tx.doc };
  });
}

/**
 * A transaction over `doc` whose writes go through `commit` (the state store's,
 * inside its lock); `close` it after its last step.
 */
export function openTx(
  ctx: LifecycleContext,
  doc: StateDocument,
  commit: Commit,
): Tx & { close(): void } {
  let made: Promise<Monitor> | undefined;
  const tx = {
    ctx,
    doc,
    async commit(next: StateDocument) {
      await commit(next);
      tx.doc = next;
    },
    monitor: () => made ??= ctx.monitor(tx.doc.backend, tx.doc.board),
    close() {
      made?.then((m) => m.close?.(), () => {});
    },
  };
  return tx;
}

/** True when the partition runs: the state says so, the backend sees it, the monitor has it. */
export async function reallyRuns(tx: Tx, record: PartitionRecord): Promise<boolean> {
  if (record.state !== "running") return false;
  const observe = await tx.ctx.observe?.(tx.doc);
  if (observe && (await observe(record.id)).state !== "running") return false;
  const status = await (await tx.monitor()).partitionStatus(record.id);
  return status === "running" || status === "unknown";
}

/** `doc` with `record` (by name) replaced, marked updated now. */
export function withRecord(doc: StateDocument, record: PartitionRecord): StateDocument {
  const updated = { ...record, updated: new Date().toISOString() };
  return { ...doc, partitions: doc.partitions.map((p) => p.name === record.name ? updated : p) };
}

/** `doc` without the partition of `record`'s name. */
export function withoutRecord(doc: StateDocument, record: PartitionRecord): StateDocument {
  return { ...doc, partitions: doc.partitions.filter((p) => p.name !== record.name) };
}

/** Records the intent `op` on `record` durably; returns the record as written. */
export async function recordIntent(
  tx: Tx,
  record: PartitionRecord,
  pending: Omit<NonNullable<PartitionRecord["pending"]>, "since" | "pid">,
): Promise<PartitionRecord> {
  const marked = {
    ...record,
    pending: { ...pending, since: new Date().toISOString(), pid: Deno.pid },
  };
  await tx.commit(withRecord(tx.doc, marked));
  return marked;
}

/**
 * Stops and removes what the monitor holds under the record's id, if anything, and
 * confirms with the monitor that nothing of it is left.
 */
export async function clearMonitor(tx: Tx, record: PartitionRecord): Promise<void> {
  const monitor = await tx.monitor();
  const status = await monitor.partitionStatus(record.id);
  if (status === "absent" || status === "unknown") return;
  await stopSequence(monitor, record);
  const after = await monitor.partitionStatus(record.id);
  if (after !== "absent" && after !== "unknown") {
    throw new MonitorError(
      `the monitor still holds partition ${record.id} (${after}) after stopping it`,
      record.name,
    );
  }
}

/**
 * Converges every record whose operation was interrupted, then applies the end
 * policy of every partition that ended on its own, writing each outcome.
 */
export async function converge(tx: Tx): Promise<void> {
  for (const record of tx.doc.partitions.filter((p) => p.pending)) {
    await convergeIntent(tx, record);
  }
  await convergeEndings(tx);
  // What stopped gets its next definition; a transient partition that stopped goes.
  await convergeDefinitions(tx);
}

/** Applies the end policy of every partition its backend saw end on its own. */
async function convergeEndings(tx: Tx): Promise<void> {
  const observe = await tx.ctx.observe?.(tx.doc);
  if (!observe) return;
  for (const record of tx.doc.partitions.filter((p) => p.state === "running" && !p.pending)) {
    const seen = await observe(record.id);
    if (seen.state !== "running") await applyEnding(tx, record, seen);
  }
}

/** Rolls one interrupted operation forward or back (see the module's table). */
async function convergeIntent(tx: Tx, record: PartitionRecord): Promise<void> {
  const { pending, ...rest } = record;
  switch (pending!.op) {
    case "destroy":
      await clearMonitor(tx, rest);
      await tx.commit(withoutRecord(tx.doc, rest));
      return await tx.ctx.forget?.(tx.doc, rest.id).catch(() => {});
    case "stop":
      await clearMonitor(tx, rest);
      return await tx.commit(withRecord(tx.doc, { ...rest, state: "stopped" }));
    case "shutdown":
      return await convergeShutdown(tx, record);
    case "start":
      if (await startCompleted(tx, rest)) {
        return await tx.commit(
          withRecord(tx.doc, { ...rest, state: "running", boot: pending!.boot }),
        );
      }
      await clearMonitor(tx, rest);
      return await tx.commit(withRecord(tx.doc, rest));
  }
}

/**
 * A requested shutdown: once the partition has powered off it is stopped (reason
 * `shutdown`, whatever its on_poweroff says); while it still runs the intent stays
 * as long as the process awaiting it lives, and is dropped after.
 */
async function convergeShutdown(tx: Tx, record: PartitionRecord): Promise<void> {
  const { pending, ...rest } = record;
  const seen = await observeOne(tx, rest);
  if (seen && seen.state !== "running" && pending!.restart && processAlive(pending!.pid)) {
    return await restartEnded(tx, rest, seen); // a reboot: started again, as libvirt's
  }
  if (seen && seen.state !== "running") {
    await clearMonitor(tx, rest);
    const stopped = { ...rest, state: "stopped" as const, reason: "shutdown" as const };
    return await tx.commit(withRecord(tx.doc, { ...stopped, ending: seen }));
  }
  if (!processAlive(pending!.pid)) await tx.commit(withRecord(tx.doc, rest));
}

/** What the backend sees of one record the state says runs (undefined: it cannot tell). */
async function observeOne(tx: Tx, record: PartitionRecord) {
  const observe = await tx.ctx.observe?.({
    ...tx.doc,
    partitions: [{ ...record, state: "running" }],
  });
  return observe ? await observe(record.id) : undefined;
}

/** Whether an interrupted start got as far as a running partition. */
async function startCompleted(tx: Tx, record: PartitionRecord): Promise<boolean> {
  const status = await (await tx.monitor()).partitionStatus(record.id);
  if (status !== "running") return false;
  const seen = await observeOne(tx, record);
  return !seen || seen.state === "running";
}

/** The policy that applies to how a partition ended; never a restart after a host restart. */
export function policyFor(record: PartitionRecord, cause: RuntimeObservation["cause"]): EndPolicy {
  const spec = record.spec;
  switch (cause) {
    case "poweroff":
      return spec.onPoweroff ?? DEFAULT_POLICIES.onPoweroff;
    case "reboot":
      return spec.onReboot ?? DEFAULT_POLICIES.onReboot;
    case "gone":
      return "destroy";
    default:
      return spec.onCrash ?? DEFAULT_POLICIES.onCrash;
  }
}

const REASONS: Record<NonNullable<RuntimeObservation["cause"]>, StateReason> = {
  poweroff: "shutdown",
  reboot: "shutdown",
  crash: "crashed",
  gone: "host",
};

/**
 * Starts again a partition that ended (cleared, its images loaded again). A
 * restart that cannot be made (its kernel file is gone…) leaves it stopped,
 * saying why, rather than failing every later command.
 */
async function restartEnded(
  tx: Tx,
  record: PartitionRecord,
  seen: RuntimeObservation,
): Promise<void> {
  const ended = { ...record, ending: seen };
  try {
    await startRecord(tx, ended, "restarted");
  } catch (error) {
    const why = `${seen.reason ?? seen.state}; restarting failed: ${errorLine(error)}`;
    await clearMonitor(tx, record);
    const stopped = { ...ended, ending: { ...seen, reason: why } };
    const reason = REASONS[seen.cause ?? "crash"];
    await tx.commit(withRecord(tx.doc, { ...stopped, state: "stopped", reason }));
  }
}

/**
 * Applies the end policy of a partition the backend saw end on its own: `restart`
 * clears it from the monitor (every core confirmed off) and starts it again with
 * its images loaded again; `preserve` marks it stopped (or crashed) and keeps its
 * memory and console untouched; `destroy` clears it and marks it stopped.
 */
async function applyEnding(
  tx: Tx,
  record: PartitionRecord,
  seen: RuntimeObservation,
): Promise<void> {
  const ended = { ...record, ending: seen };
  const reason = REASONS[seen.cause ?? "crash"];
  switch (policyFor(record, seen.cause)) {
    case "restart":
      return await restartEnded(tx, record, seen);
    case "preserve":
      await tx.commit(withRecord(tx.doc, { ...ended, state: seen.state, reason }));
      return;
    case "destroy":
      await clearMonitor(tx, record);
      await tx.commit(withRecord(tx.doc, { ...ended, state: "stopped", reason }));
  }
}
