/**
 * The driver's changes to one domain, each a single transaction under the state
 * lock that finds the partition by its UUID: what a client named is what is
 * changed, and every check (running or not) is made on the state the change is
 * written over — a `vmanctl start` in between cannot slip past it.
 *
 * They run `core/partition/lifecycle.ts`'s record-level steps (`startRecord`,
 * `stopRecord`, `removeRecord`) and differ from its by-name functions in finding
 * the partition by UUID and, for undefine, in refusing a running partition
 * instead of stopping it.
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import type { PartitionRecord } from "../../core/model.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import {
  checkRequested,
  endedOnItsOwn,
  removeRecord,
  replaceRecord,
  startRecord,
  stopRecord,
  uuidOf,
} from "../../core/partition/lifecycle.ts";
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

/** True when the state says `record` runs and the backend sees it running (or cannot tell). */
async function runs(lc: LifecycleContext, doc: StateDocument, record: PartitionRecord) {
  return record.state === "running" && !(await endedOnItsOwn(lc, doc, record));
}

/** Starts the partition with `uuid` (libvirt's create); refused while it runs. */
export async function startDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await lc.store.update(async (doc) => {
    const record = find(doc, uuid);
    checkRequested(doc!, lc.requested, lc.store.dir);
    if (await runs(lc, doc!, record)) {
      throw new StateError(`domain '${record.name}' is already running`, record.name);
    }
    return await startRecord(lc, doc!, record);
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
    return await stopRecord(lc, doc!, record);
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
    // One that ended on its own is stopped in the monitor first; of another, what the
    // monitor may hold of a start killed midway is cleared.
    return await removeRecord(lc, doc!, record);
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
    return replaceRecord(doc!, { ...record, autostart });
  });
}
