/**
 * The driver's changes to one domain, each a single transaction under the state
 * lock that finds the partition by its UUID: what a client named is what is
 * changed, and every check (running or not) is made on the state the change is
 * written over — a `vmanctl start` in between cannot slip past it.
 *
 * They follow `core/partition/lifecycle.ts` (the same monitor sequences, the same
 * states) and differ from its by-name functions in finding the partition by UUID
 * and, for undefine, in refusing a running partition instead of stopping it.
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import type { PartitionRecord } from "../../core/model.ts";
import type { Monitor } from "../../core/monitor/monitor.ts";
import { RecordingMonitor } from "../../core/monitor/monitor.ts";
import { startSequence, stopSequence } from "../../core/partition/boot.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import { checkRequested, prepare, summary, uuidOf } from "../../core/partition/lifecycle.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { NoDomainError } from "./driver.ts";

/** The partition with `uuid` in `doc`. */
function find(doc: StateDocument | undefined, uuid: string): PartitionRecord {
  const record = doc?.partitions.find((p) => uuidOf(p) === uuid);
  if (!record) {
    throw new NoDomainError(`Domain not found: no domain with matching uuid '${uuid}'`);
  }
  return record;
}

/** `doc` with `record` (found by UUID) replaced, and the new record. */
function replace(
  doc: StateDocument,
  record: PartitionRecord,
): { doc: StateDocument; result: PartitionRecord } {
  const uuid = uuidOf(record);
  const updated = { ...record, updated: new Date().toISOString() };
  return {
    doc: { ...doc, partitions: doc.partitions.map((p) => uuidOf(p) === uuid ? updated : p) },
    result: updated,
  };
}

async function withMonitor<T>(
  lc: LifecycleContext,
  doc: StateDocument,
  fn: (monitor: Monitor) => Promise<T>,
): Promise<T> {
  const monitor = await lc.monitor(doc.backend, doc.board);
  try {
    return await fn(monitor);
  } finally {
    monitor.close?.();
  }
}

/** True when the state says `record` runs and the backend sees it running (or cannot tell). */
async function runs(lc: LifecycleContext, doc: StateDocument, record: PartitionRecord) {
  if (record.state !== "running") return false;
  const observe = await lc.observe?.(doc);
  return observe === undefined || (await observe(record.id)).state === "running";
}

/** Stops and removes what the monitor still holds under `record`'s id. */
async function clearLeftover(monitor: Monitor, record: PartitionRecord): Promise<void> {
  if (await monitor.partitionStatus(record.id) !== "absent") await stopSequence(monitor, record);
}

/** Starts the partition with `uuid` (libvirt's create); refused while it runs. */
export async function startDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await lc.store.update(async (doc) => {
    const record = find(doc, uuid);
    checkRequested(doc!, lc.requested, lc.store.dir);
    if (await runs(lc, doc!, record)) {
      throw new StateError(`domain '${record.name}' is already running`, record.name);
    }
    const boot = await prepare(lc, record, doc!.board);
    return await withMonitor(lc, doc!, async (backend) => {
      // A partition that ended on its own, or a start killed midway, left this behind.
      await clearLeftover(backend, record);
      const monitor = new RecordingMonitor(backend);
      await startSequence(monitor, doc!.board, record, boot);
      return replace(doc!, {
        ...record,
        state: "running",
        monitorCalls: monitor.calls,
        boot: summary(boot),
      });
    });
  });
}

/** Stops the running partition with `uuid` (libvirt's destroy); it stays defined. */
export async function stopDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await lc.store.update(async (doc) => {
    const record = find(doc, uuid);
    checkRequested(doc!, lc.requested, lc.store.dir);
    if (!await runs(lc, doc!, record)) {
      throw new StateError(`domain '${record.name}' is not running`, record.name);
    }
    return await withMonitor(lc, doc!, async (backend) => {
      const monitor = new RecordingMonitor(backend);
      await stopSequence(monitor, record);
      return replace(doc!, { ...record, state: "stopped", monitorCalls: monitor.calls });
    });
  });
}

/**
 * Removes the partition with `uuid` and frees its resources (libvirt's undefine);
 * refused while it runs. One whose OS powered off or whose emulator died is
 * cleared from the monitor first.
 */
export async function undefineDomain(
  lc: LifecycleContext,
  uuid: string,
): Promise<PartitionRecord> {
  return await lc.store.update(async (doc) => {
    const record = find(doc, uuid);
    checkRequested(doc!, lc.requested, lc.store.dir);
    if (await runs(lc, doc!, record)) {
      throw new StateError(
        `domain '${record.name}' is running: destroy it before undefining it`,
        record.name,
      );
    }
    if (record.state === "running") {
      // It ended on its own: what the monitor holds of it goes.
      await withMonitor(lc, doc!, (monitor) => stopSequence(monitor, record));
    } else {
      // Best effort: the remains of a start killed midway, if the monitor is reachable.
      await withMonitor(lc, doc!, (monitor) => clearLeftover(monitor, record)).catch(() => {});
    }
    return {
      doc: { ...doc!, partitions: doc!.partitions.filter((p) => uuidOf(p) !== uuid) },
      result: record,
    };
  });
}

/** Turns autostart of the partition with `uuid` on or off. */
export async function setDomainAutostart(
  lc: LifecycleContext,
  uuid: string,
  autostart: boolean,
): Promise<PartitionRecord> {
  return await lc.store.update((doc) => {
    const record = find(doc, uuid);
    checkRequested(doc!, lc.requested, lc.store.dir);
    return replace(doc!, { ...record, autostart });
  });
}
