/**
 * The driver's changes to one domain, each one transaction of the lifecycle's
 * transaction helper (`core/partition/transaction.ts`) that finds the partition
 * by its UUID: what a client named is what is changed, and every check (running
 * or not) is made on the state the change is written over — a `vmanctl start` in
 * between cannot slip past it.
 *
 * They run the lifecycle's record-level steps (`startRecord`, `stopRecord`,
 * `removeRecord`, `setRecord`) and differ from its by-name operations in finding
 * the partition by UUID, in libvirt's refusals and, for undefine, in refusing a
 * running partition instead of stopping it.
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import type { PartitionRecord } from "../../core/model.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import {
  removeRecord,
  setRecord,
  startRecord,
  stopRecord,
  uuidOf,
} from "../../core/partition/lifecycle.ts";
import { transact } from "../../core/partition/transaction.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { NoDomainError } from "./driver.ts";

/** Finds the partition with `uuid`: libvirt's NO_DOMAIN when there is none. */
function byUuid(uuid: string): (doc: StateDocument | undefined) => PartitionRecord {
  return (doc) => {
    const record = doc?.partitions.find((p) => uuidOf(p) === uuid);
    if (!record) {
      throw new NoDomainError(`Domain not found: no domain with matching uuid '${uuid}'`);
    }
    return record;
  };
}

/** Starts the partition with `uuid` (libvirt's create); refused while it runs. */
export async function startDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (runs) throw new StateError(`domain '${record.name}' is already running`, record.name);
    },
    apply: (tx, record) => startRecord(tx, record),
  });
}

/** Stops the running partition with `uuid` (libvirt's destroy); it stays defined. */
export async function stopDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (!runs) throw new StateError(`domain '${record.name}' is not running`, record.name);
    },
    apply: (tx, record) => stopRecord(tx, record),
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
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (runs) {
        throw new StateError(
          `domain '${record.name}' is running: destroy it before undefining it`,
          record.name,
        );
      }
    },
    apply: (tx, record) => removeRecord(tx, record),
  });
}

/** Turns autostart of the partition with `uuid` on or off. */
export async function setDomainAutostart(
  lc: LifecycleContext,
  uuid: string,
  autostart: boolean,
): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    apply: (tx, record) => setRecord(tx, { ...record, autostart }),
  });
}
