/**
 * Partition lifecycle transactions: create, start, stop, destroy, and the
 * read-only list, get and plan. Each mutation runs under the state lock and
 * either completes or leaves the state as it was.
 *
 * States: defined → running → stopped → running …; destroy removes a partition
 * in any state (stopping it first when it runs).
 *
 * @module
 */
import { InputError, StateError } from "../errors.ts";
import type {
  Board,
  BootSummary,
  Definition,
  MonitorCall,
  PartitionRecord,
  PartitionSpec,
  StateReason,
} from "../model.ts";
import type { Monitor } from "../monitor/monitor.ts";
import { RecordingMonitor } from "../monitor/monitor.ts";
import { DryRunMonitor } from "../monitor/dry_run.ts";
import type { StateDocument, StateStore } from "../state/store.ts";
import { BOARD_DTB, STATE_FORMAT } from "../state/store.ts";
import { findPartition } from "../state/lookup.ts";
import { allocate } from "./allocate.ts";
import { startSequence, stopSequence } from "./boot.ts";
import type { PreparedBoot } from "../boot/prepare.ts";
import type { ArchPlugin } from "../registry/plugin.ts";
import { stage } from "../boot/stages.ts";
import type { Observer } from "./observe.ts";
import {
  clearMonitor,
  recordIntent,
  transact,
  type Tx,
  withoutRecord,
  withRecord,
} from "./transaction.ts";
import { afterStop, settled } from "./definition.ts";
import { sameIdentity } from "./identity.ts";
import { startCreated } from "./transient.ts";
import { definitionOf, holders } from "./update.ts";
import { refuseReserved } from "./shared_resources.ts";
import type { FdtTree } from "../devicetree/tree.ts";

/** What the lifecycle needs from its caller. */
export interface LifecycleContext {
  /** The state store. */
  store: StateStore;
  /** Board (with its device tree, if any) and backend for a state dir that has none yet. */
  setup(): Promise<{ board: Board; backend: string; devicetree?: Uint8Array }>;
  /** Makes a monitor of the backend for the board. */
  monitor(backend: string, board: Board): Promise<Monitor>;
  /** Board and backend named on the command line, checked against the state dir's. */
  requested?: { board?: string; backend?: string };
  /** Alignment of windows the allocator picks on the board (its arch plugin's). */
  windowAlignment?(board: Board): Promise<number | undefined>;
  /** The board's arch plugin (an `InputError` when none is registered). */
  arch?(board: Board): Promise<ArchPlugin>;
  /**
   * Reads, plans and makes the images of a partition that names a kernel, on the
   * board's device tree: `devicetree` when given (a new state dir's), else the state dir's copy.
   */
  prepareBoot?(
    record: PartitionRecord,
    board: Board,
    devicetree?: Uint8Array,
  ): Promise<PreparedBoot>;
  /** The backend's observer of running partitions (see `core/partition/observe.ts`). */
  observe?(doc: StateDocument): Promise<Observer | undefined>;
  /** Asks a running partition's OS to power off, through its backend (a power button). */
  requestShutdown?(doc: StateDocument, id: number): Promise<void>;
  /** Has the backend forget a removed partition's files (its console capture…). */
  forget?(doc: StateDocument, id: number): Promise<void>;
  /**
   * The board's device tree, parsed: `devicetree` (a new state dir's) or the state
   * dir's copy; undefined when the board has none. For the provider check
   * (core/partition/shared_resources.ts).
   */
  boardTree?(board: Board, devicetree?: Uint8Array): Promise<FdtTree | undefined>;
}

/** Throws {@linkcode InputError} when the command line names another board or backend than the state dir's. */
export function checkRequested(
  doc: StateDocument,
  requested: LifecycleContext["requested"],
  dir: string,
): void {
  if (requested?.board !== undefined && requested.board !== doc.board.name) {
    throw new InputError(
      `the state dir is set up for board ${doc.board.name}, not ${requested.board}`,
      dir,
    );
  }
  if (requested?.backend !== undefined && requested.backend !== doc.backend) {
    throw new InputError(
      `the state dir is set up for backend ${doc.backend}, not ${requested.backend}`,
      dir,
    );
  }
}

/** A state dir's document, or a new empty one from `setup` with the board's device tree. */
async function documentOf(
  ctx: LifecycleContext,
  doc: StateDocument | undefined,
): Promise<{ doc: StateDocument; devicetree?: Uint8Array }> {
  if (doc) {
    checkRequested(doc, ctx.requested, ctx.store.dir);
    return { doc };
  }
  const { board, backend, devicetree } = await ctx.setup();
  return { doc: { format: STATE_FORMAT, board, backend, partitions: [] }, devicetree };
}

function nextId(doc: StateDocument): number {
  const used = new Set(doc.partitions.map((p) => p.id));
  let id = 1;
  while (used.has(id)) id++;
  return id;
}

/** How {@linkcode createPartition} makes a partition. */
export interface CreateOptions {
  /** Transient: removed once it no longer runs (libvirt's `virsh create`). */
  transient?: boolean;
  /** Started in the same transaction; when the start fails, nothing is left. */
  start?: boolean;
}

/**
 * Allocates and records a new partition in state `defined` — or, with `start`,
 * started in the same transaction (core/partition/transient.ts).
 */
export async function createPartition(
  ctx: LifecycleContext,
  spec: PartitionSpec,
  options: CreateOptions = {},
): Promise<PartitionRecord> {
  // Board and backend come from the state dir when it has them; resolving them for a
  // new state dir may load plugins, which is done before taking the lock.
  const existing = await ctx.store.read();
  const fresh = existing ? undefined : await documentOf(ctx, undefined);
  return await ctx.store.update(async (current, commit) => {
    let doc = current;
    let devicetree: Uint8Array | undefined;
    if (current) checkRequested(current, ctx.requested, ctx.store.dir);
    else {
      const setup = fresh ?? await documentOf(ctx, undefined);
      [doc, devicetree] = [setup.doc, setup.devicetree];
    }
    doc = doc!;
    const uuid = spec.uuid ?? crypto.randomUUID();
    sameIdentity(doc, spec.name, uuid); // a UUID or name another partition holds
    const allocation = allocate(
      doc.board,
      holders(doc.partitions),
      spec,
      await ctx.windowAlignment?.(doc.board),
    );
    await refuseReserved(doc.board, allocation, () => ctx.boardTree?.(doc!.board, devicetree));
    // A new state dir keeps a copy of the board's device tree beside its state
    // (written once the partition is sure to be created; the state follows it).
    if (devicetree) await ctx.store.writeFile(BOARD_DTB, devicetree);
    const now = new Date().toISOString();
    const record: PartitionRecord = {
      name: spec.name,
      id: nextId(doc),
      state: "defined",
      spec,
      allocation,
      created: now,
      updated: now,
      monitorCalls: [],
      uuid,
      ...(options.transient ? { transient: true } : {}),
    };
    const created = { ...doc, partitions: [...doc.partitions, record] };
    if (!options.start) return { doc: created, result: record };
    return { result: await startCreated(ctx, doc, created, record, commit) };
  });
}

/** Finds a partition by name: the by-name commands' `locate`. */
export function byName(name: string): (doc: StateDocument | undefined) => PartitionRecord {
  return (doc) => findPartition(doc, name);
}

/** Starts a defined or stopped partition; on failure the monitor calls are undone and the state is unchanged. */
export async function startPartition(
  ctx: LifecycleContext,
  name: string,
): Promise<PartitionRecord> {
  return await transact(ctx, {
    locate: byName(name),
    check(_record, runs) {
      if (runs) throw new StateError(`partition ${name} is already running`, name);
    },
    apply: (tx, record) => startRecord(tx, record),
  });
}

/**
 * Starts `record` — the steps of `start` after its checks, for every operation
 * that starts a partition. Everything that can be wrong with the images is found
 * before the intent is recorded; what the monitor still holds under the id (a
 * partition that ended on its own) is cleared first. When the monitor refuses,
 * the start sequence is rolled back and the intent removed; when the last state
 * write fails (a full disk), the start is undone in the monitor and the intent
 * left in the state rolls back the rest at the next command.
 */
export async function startRecord(
  tx: Tx,
  located: PartitionRecord,
  reason: StateReason = "booted",
  live?: Definition,
): Promise<PartitionRecord> {
  const record = startingRecord(withoutIntent(located), reason, live);
  stage("lock, state, checks");
  const boot = await prepare(tx.ctx, record, tx.doc.board);
  // Opened before the intent: a backend that cannot open fails with nothing written.
  const backend = await tx.monitor();
  const monitor = new RecordingMonitor(backend);
  stage("monitor open");
  const before = tx.doc;
  await recordIntent(tx, record, { op: "start", boot: summary(boot) });
  stage("intent write");
  try {
    await clearMonitor(tx, record);
    await startSequence(monitor, tx.doc.board, record, boot);
  } catch (error) {
    await tx.commit(before).catch(() => {}); // as it was; if this fails, the intent rolls back
    throw error;
  }
  const started: PartitionRecord = {
    ...record,
    state: "running",
    monitorCalls: monitor.calls,
    boot: summary(boot),
    reason,
    started: new Date().toISOString(),
    // Why it was restarted stays visible; a start by hand begins afresh.
    ending: reason === "restarted" ? record.ending : undefined,
  };
  try {
    await tx.commit(withRecord(tx.doc, started));
  } catch (error) {
    await stopSequence(backend, record).catch(() => {});
    throw error;
  }
  stage("state write");
  return current(tx, record);
}

/**
 * The record a start runs: a start by hand runs the next definition, if it has
 * one (its restarts do not); with `live` (libvirt's createXML of a defined
 * domain) that definition runs this once and its own becomes its next.
 */
function startingRecord(
  record: PartitionRecord,
  reason: StateReason,
  live: Definition | undefined,
): PartitionRecord {
  if (live) return { ...record, ...live, next: definitionOf(record) };
  return reason === "booted" ? settled(record) : record;
}

/**
 * The record without an intent it carries (a shutdown awaited by another command):
 * the operation under way supersedes it, and its last write removes it.
 */
export function withoutIntent(record: PartitionRecord): PartitionRecord {
  const { pending: _, ...rest } = record;
  return rest;
}

/** The record of `record`'s name as last written. */
export function current(tx: Tx, record: PartitionRecord): PartitionRecord {
  return tx.doc.partitions.find((p) => p.name === record.name)!;
}

/**
 * Stops a partition the state says runs. Idempotent: one the monitor no longer
 * has (it ended on its own, or a stop was cut short) is simply marked stopped.
 * Then it gets its next definition, if it was given one while it ran, and a
 * transient one is removed (core/partition/definition.ts).
 */
export async function stopPartition(ctx: LifecycleContext, name: string): Promise<PartitionRecord> {
  return await transact(ctx, {
    locate: byName(name),
    check(record) {
      if (record.state !== "running") {
        throw new StateError(`partition ${name} is not running (${record.state})`, name);
      }
    },
    apply: async (tx, record) => await afterStop(tx, await stopRecord(tx, record)),
  });
}

/** Stops `record` (the steps of `stop` after its checks): intent, monitor, state `stopped`. */
export async function stopRecord(tx: Tx, located: PartitionRecord): Promise<PartitionRecord> {
  const record = withoutIntent(located);
  await recordIntent(tx, record, { op: "stop" });
  const monitor = new RecordingMonitor(await tx.monitor());
  if (await monitor.partitionStatus(record.id) !== "absent") await stopSequence(monitor, record);
  await tx.commit(
    withRecord(tx.doc, {
      ...record,
      state: "stopped",
      monitorCalls: monitor.calls,
      reason: "destroyed",
    }),
  );
  return current(tx, record);
}

/** Removes a partition, stopping it first when it runs, and frees its resources. */
export async function destroyPartition(
  ctx: LifecycleContext,
  name: string,
): Promise<PartitionRecord> {
  return await transact(ctx, {
    locate: byName(name),
    apply: (tx, record) => removeRecord(tx, record),
  });
}

/**
 * Removes `record` (the steps of `destroy` after its checks): intent, then what the
 * monitor holds under its id is stopped and removed — best effort for a partition
 * the state does not say runs, so a defined one is destroyed without a reachable
 * monitor — then the record goes, which frees its resources.
 */
export async function removeRecord(tx: Tx, located: PartitionRecord): Promise<PartitionRecord> {
  const record = withoutIntent(located);
  await recordIntent(tx, record, { op: "destroy" });
  const clearing = clearMonitor(tx, record);
  if (record.state === "running") await clearing;
  else await clearing.catch(() => {});
  await tx.commit(withoutRecord(tx.doc, record));
  await tx.ctx.forget?.(tx.doc, record.id).catch(() => {});
  return record;
}

/** Turns `autostart` (started when the libvirt daemon starts) on or off. */
export async function setAutostart(
  ctx: LifecycleContext,
  name: string,
  autostart: boolean,
): Promise<PartitionRecord> {
  return await transact(ctx, {
    locate: byName(name),
    apply: (tx, record) => setRecord(tx, { ...record, autostart }),
  });
}

/** Writes a changed `record` (same name) that needs no monitor call. */
export async function setRecord(tx: Tx, record: PartitionRecord): Promise<PartitionRecord> {
  await tx.commit(withRecord(tx.doc, record));
  return current(tx, record);
}

/**
 * A partition's UUID: the one it was created with, or — for records of state written
 * before UUIDs existed — one derived from its name and creation time (stable, since
 * neither changes).
 */
export function uuidOf(record: Pick<PartitionRecord, "uuid" | "name" | "created">): string {
  if (record.uuid) return record.uuid;
  // FNV-1a, 128 bits, over "name\0created"; formatted as a version-8 (custom) UUID.
  const bytes = new TextEncoder().encode(`${record.name}\0${record.created}`);
  const prime = (1n << 88n) + 0x13bn;
  const mask = (1n << 128n) - 1n;
  let hash = 0x6c62272e07bb014262b821756295c58dn;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * prime) & mask;
  const hex = hash.toString(16).padStart(32, "0").split("");
  hex[12] = "8";
  hex[16] = ((Number.parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Every partition (none when the state dir is new). */
export async function listPartitions(store: StateStore): Promise<PartitionRecord[]> {
  return (await store.read())?.partitions ?? [];
}

/** The monitor calls starting `record` would make, computed on the dry-run backend. */
export async function planStart(
  board: Board,
  record: PartitionRecord,
  boot?: PreparedBoot,
): Promise<MonitorCall[]> {
  const monitor = new RecordingMonitor(new DryRunMonitor());
  await startSequence(monitor, board, record, boot);
  return monitor.calls;
}

/** The images of a partition that names a kernel, prepared by the context. */
export async function prepare(
  ctx: Pick<LifecycleContext, "prepareBoot">,
  record: PartitionRecord,
  board: Board,
  devicetree?: Uint8Array,
): Promise<PreparedBoot | undefined> {
  if (record.spec.kernel === undefined) return undefined;
  if (!ctx.prepareBoot) {
    throw new StateError(`cannot prepare the images of ${record.name}`, record.name);
  }
  return await ctx.prepareBoot(record, board, devicetree);
}

/** What the state keeps of a prepared boot. */
export function summary(boot: PreparedBoot | undefined): BootSummary | undefined {
  if (!boot) return undefined;
  const { regions, entry, context, registers } = boot.plan;
  return { regions, entry, context, registers };
}

/**
 * Plans a partition from a spec without recording it: the allocation it would get
 * next to the existing partitions and the calls its start would make (and, for a
 * new state dir, the board's device tree), with the document it was planned on.
 */
export async function planSpec(
  ctx: LifecycleContext,
  spec: PartitionSpec,
): Promise<{
  record: PartitionRecord;
  board: Board;
  calls: MonitorCall[];
  devicetree?: Uint8Array;
  /** The state dir's document as read (undefined for a new state dir). */
  stored?: StateDocument;
}> {
  const stored = await ctx.store.read();
  const { doc, devicetree } = await documentOf(ctx, stored);
  const allocation = allocate(
    doc.board,
    holders(doc.partitions),
    spec,
    await ctx.windowAlignment?.(doc.board),
  );
  await refuseReserved(doc.board, allocation, () => ctx.boardTree?.(doc.board, devicetree));
  const now = new Date().toISOString();
  const record: PartitionRecord = {
    name: spec.name,
    id: nextId(doc),
    state: "defined",
    spec,
    allocation,
    created: now,
    updated: now,
    monitorCalls: [],
  };
  // A new state dir has no copy of the board's device tree yet: its plan uses the board's.
  const boot = await prepare(ctx, record, doc.board, devicetree);
  return {
    record: { ...record, boot: summary(boot) },
    board: doc.board,
    calls: await planStart(doc.board, record, boot),
    devicetree, // a new state dir's board DTB, not written yet
    stored,
  };
}
