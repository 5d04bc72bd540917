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
 *
 * @module
 */
import type { PartitionRecord } from "../model.ts";
import type { Monitor } from "../monitor/monitor.ts";
import type { Commit, StateDocument } from "../state/store.ts";
import { checkRequested, type LifecycleContext } from "./lifecycle.ts";
import { stopSequence } from "./boot.ts";

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
    const tx = newTx(ctx, current!, commit);
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
 * the monitor after a kill.
 */
export async function convergedState(ctx: LifecycleContext): Promise<StateDocument | undefined> {
  const doc = await ctx.store.read();
  if (!doc?.partitions.some((p) => p.pending)) return doc;
  return await ctx.store.update(async (current, commit) => {
    if (!current) return { result: current };
    const tx = newTx(ctx, current, commit);
    try {
      await converge(tx);
    } finally {
      tx.close();
    }
    return { result: tx.doc };
  });
}

function newTx(
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

/** Stops and removes what the monitor holds under the record's id, if anything. */
export async function clearMonitor(tx: Tx, record: PartitionRecord): Promise<void> {
  const monitor = await tx.monitor();
  const status = await monitor.partitionStatus(record.id);
  if (status !== "absent") await stopSequence(monitor, record);
}

/** Converges every record whose operation was interrupted, writing each outcome. */
export async function converge(tx: Tx): Promise<void> {
  for (const record of tx.doc.partitions.filter((p) => p.pending)) {
    const { pending, ...rest } = record;
    if (pending!.op === "destroy") {
      await clearMonitor(tx, rest);
      await tx.commit(withoutRecord(tx.doc, rest));
    } else if (pending!.op === "stop") {
      await clearMonitor(tx, rest);
      await tx.commit(withRecord(tx.doc, { ...rest, state: "stopped" }));
    } else if (await startCompleted(tx, rest)) {
      await tx.commit(withRecord(tx.doc, { ...rest, state: "running", boot: pending!.boot }));
    } else {
      await clearMonitor(tx, rest);
      await tx.commit(withRecord(tx.doc, rest));
    }
  }
}

/** Whether an interrupted start got as far as a running partition. */
async function startCompleted(tx: Tx, record: PartitionRecord): Promise<boolean> {
  const status = await (await tx.monitor()).partitionStatus(record.id);
  if (status !== "running") return false;
  const observe = await tx.ctx.observe?.({
    ...tx.doc,
    partitions: [{ ...record, state: "running" }],
  });
  return !observe || (await observe(record.id)).state === "running";
}
