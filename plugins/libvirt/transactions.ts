/**
 * The driver's changes to one domain, each one transaction of the lifecycle's
 * transaction helper (`core/partition/transaction.ts`) that finds the partition
 * by its UUID: what a client named is what is changed, and every check (running
 * or not) is made on the state the change is written over — a `vmanctl start` in
 * between cannot slip past it.
 *
 * They run the lifecycle's record-level steps (`startRecord`, `stopRecord`,
 * `removeRecord`, `setRecord`, `recordIntent`) and differ from its by-name
 * operations in finding the partition by UUID, in libvirt's refusals, for
 * undefine in refusing a running partition instead of stopping it, and for
 * shutdown in not waiting: {@linkcode requestDomainShutdown} records the intent
 * and presses the power button, and the daemon awaits the power-off in the
 * background (plugins/libvirt/power.ts) — core/partition/power.ts's
 * `shutdownPartition` waits in its caller.
 *
 * Every step is given the record without a `shutdown` intent it may carry (a
 * shutdown asked for and not yet honoured): the step's own intent replaces it, and
 * its last write must not bring it back.
 *
 * @module
 */
import { StateError } from "../../core/errors.ts";
import type { PartitionRecord, PartitionSpec } from "../../core/model.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import {
  current,
  removeRecord,
  setRecord,
  startRecord,
  stopRecord,
  uuidOf,
  withoutIntent,
} from "../../core/partition/lifecycle.ts";
import { transact, withRecord } from "../../core/partition/transaction.ts";
import { sameIdentity } from "../../core/partition/identity.ts";
import { afterStop } from "../../core/partition/definition.ts";
import { makeTransient } from "../../core/partition/transient.ts";
import { redefinition, updateRecord, type UpdateResult } from "../../core/partition/update.ts";
import { askPowerOff } from "../../core/partition/power.ts";
import type { StateDocument } from "../../core/state/store.ts";
import { NoDomainError } from "./driver.ts";
import { RpcError } from "./errors.ts";
import { ErrorCode } from "./protocol.ts";

/** libvirt's refusal of an operation the domain's state does not allow (OPERATION_INVALID). */
function notValid(message: string): RpcError {
  return new RpcError(ErrorCode.OPERATION_INVALID, `Requested operation is not valid: ${message}`);
}

/**
 * libvirt's refusal of an operation on a domain that does not run (OPERATION_INVALID),
 * saying `message`.
 */
export function notRunning(message = "domain is not running"): RpcError {
  return notValid(message);
}

/**
 * The refusal of a shutdown or reboot when the partition's OS cannot be asked (a
 * board without a power button, a backend that cannot press one): ARGUMENT_UNSUPPORTED,
 * as libvirt's qemu driver answers when the guest agent it was asked to use is not
 * there; `why` is the backend's reason.
 */
export function cannotAsk(name: string, why: string): RpcError {
  // The backend's reason may end with what vmanctl offers instead; virsh's is destroy.
  const reason = why.replace(/;\s*'vmanctl [^']*' stops it hard\.?$/, "");
  return new RpcError(
    ErrorCode.ARGUMENT_UNSUPPORTED,
    `argument unsupported: cannot ask the OS of domain '${name}' to power off: ${reason}; ` +
      `shutting it down needs 'virsh destroy'`,
  );
}

/** Finds the partition with `uuid`: libvirt's NO_DOMAIN when there is none. */
export function byUuid(uuid: string): (doc: StateDocument | undefined) => PartitionRecord {
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

/**
 * Stops the running partition with `uuid` (libvirt's destroy); it stays defined,
 * with the next definition it was given while it ran, if any — a transient one
 * is removed. A partition kept `crashed` by its on_crash policy is destroyed too
 * (libvirt's crashed domains are destroyed the same way): it becomes stopped,
 * reason `destroyed`.
 */
export async function stopDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (!runs && record.state !== "crashed") {
        throw new StateError(`domain '${record.name}' is not running`, record.name);
      }
    },
    apply: async (tx, record) => await afterStop(tx, await stopRecord(tx, record)),
  });
}

/**
 * Asks the running partition with `uuid` to power off (libvirt's shutdown, and the
 * first half of its reboot): the intent `shutdown` is recorded, then the backend
 * presses the partition's power button. Returns at once, with the record as it was
 * (running); once its OS has powered off, whoever converges it first (its watcher,
 * the daemon's wait, the next command) records it stopped with reason `shutdown`.
 * Refused with {@linkcode notRunning} and {@linkcode cannotAsk}; nothing is left
 * recorded when the button cannot be pressed.
 */
export async function requestDomainShutdown(
  lc: LifecycleContext,
  uuid: string,
  restart = false,
): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(_record, runs) {
      if (!runs) throw notRunning();
    },
    async apply(tx, located) {
      const record = withoutIntent(located);
      try {
        await askPowerOff(tx, record, restart);
      } catch (error) {
        if (error instanceof StateError) {
          if (/is not running/.test(error.message)) throw notRunning();
          throw cannotAsk(record.name, error.message);
        }
        throw error;
      }
      return record;
    },
  });
}

/**
 * Drops the intent of a shutdown of the partition with `uuid` this process asked
 * for and that was not honoured in time: the partition keeps running, and its end
 * policies apply again when it ends on its own. Nothing else changes.
 */
export async function abandonDomainShutdown(lc: LifecycleContext, uuid: string): Promise<void> {
  await transact(lc, {
    locate: byUuid(uuid),
    async apply(tx, record) {
      if (record.pending?.op !== "shutdown" || record.pending.pid !== Deno.pid) return;
      await tx.commit(withRecord(tx.doc, withoutIntent(record)));
    },
  });
}

/**
 * The second half of a reboot: starts the partition with `uuid` again (images
 * loaded again, reason `restarted`) if it is stopped because its OS powered off.
 * Returns undefined, changing nothing, when it runs (started meanwhile) or was
 * stopped another way (destroyed meanwhile).
 */
export async function restartDomain(
  lc: LifecycleContext,
  uuid: string,
): Promise<PartitionRecord | undefined> {
  return await transact(lc, {
    locate: byUuid(uuid),
    async apply(tx, record, runs) {
      if (runs || record.state !== "stopped" || record.reason !== "shutdown") return undefined;
      return await startRecord(tx, record, "restarted");
    },
  });
}

/**
 * Restarts the partition with `uuid` hard (libvirt's reset): stopped at once, then
 * started again with its images loaded again (reason `restarted`) — the core's
 * `resetPartition`, by UUID. A partition kept `crashed` is reset too.
 */
export async function resetDomain(lc: LifecycleContext, uuid: string): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (!runs && record.state !== "crashed") throw notRunning();
    },
    async apply(tx, record) {
      const stopped = current(tx, await stopRecord(tx, record));
      return await startRecord(tx, stopped, "restarted");
    },
  });
}

/**
 * Removes the partition with `uuid` and frees its resources (libvirt's undefine).
 * One that runs is made transient instead, as libvirt does: it keeps running and
 * is removed once it stops. One whose OS powered off or whose emulator died is
 * cleared from the monitor first. Refused for a transient domain
 * (OPERATION_INVALID, `cannot undefine transient domain`, as libvirt's qemu driver).
 */
export async function undefineDomain(
  lc: LifecycleContext,
  uuid: string,
): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record) {
      if (record.transient) {
        throw notValid("cannot undefine transient domain");
      }
    },
    apply: (tx, record, runs) =>
      runs || record.state === "running" ? makeTransient(tx, record) : removeRecord(tx, record),
  });
}

/**
 * Starts the defined partition with `uuid` with the definition `spec` this once
 * (libvirt's createXML of a domain that exists and does not run): it runs `spec`,
 * and its own definition comes back when it stops. Refused while it runs
 * (OPERATION_INVALID, `domain 'x' is already active`, as virDomainObjListAddLocked).
 */
export async function startDefinedWith(
  lc: LifecycleContext,
  uuid: string,
  spec: PartitionSpec,
): Promise<PartitionRecord> {
  return await transact(lc, {
    locate: byUuid(uuid),
    check(record, runs) {
      if (runs) {
        throw notValid(`domain '${record.name}' is already active`);
      }
    },
    async apply(tx, record) {
      sameIdentity(tx.doc, spec.name, spec.uuid ?? uuid);
      const live = redefinition(tx.doc, record, spec, await lc.windowAlignment?.(tx.doc.board));
      return await startRecord(tx, record, "booted", live);
    },
  });
}

/**
 * Replaces the definition of the partition with `uuid` by `spec` (libvirt's define
 * of an existing domain; core/partition/update.ts): in place when it does not run,
 * as its next definition when it does. The name and UUID are checked again on the
 * state the change is written over.
 */
export async function redefineDomain(
  lc: LifecycleContext,
  uuid: string,
  spec: PartitionSpec,
): Promise<UpdateResult> {
  return await transact(lc, {
    locate: byUuid(uuid),
    apply: async (tx, record) => {
      sameIdentity(tx.doc, spec.name, spec.uuid ?? uuid);
      return await updateRecord(tx, record, spec, await lc.windowAlignment?.(tx.doc.board));
    },
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
