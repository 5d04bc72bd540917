/**
 * How a partition's state reaches libvirt clients: the state and reason of
 * DOMAIN_GET_STATE (212), `virsh domstate --reason`, `state.*` of domstats and
 * the lifecycle events all come from {@linkcode presented}, the partition as the
 * daemon shows it.
 *
 * A record the state says runs but whose backend saw it end on its own (`runtime`,
 * until the partition's watcher or the next command converges it) is shown as the
 * end policy will leave it, so that a client sees one state change, not two:
 *
 * | the backend saw          | end policy / intent      | shown                            |
 * | ------------------------ | ------------------------ | -------------------------------- |
 * | a crash (kernel panic)   | any                      | `crashed` (libvirt's qemu driver |
 * |                          |                          | reports CRASHED before it acts)  |
 * | a power-off, a reboot    | a `shutdown` intent      | `stopped`, reason `shutdown`     |
 * | a power-off, a reboot    | `restart`                | still `running` (restarting)     |
 * | a power-off, a reboot    | `destroy`, `preserve`    | `stopped`, reason `shutdown`     |
 * | nothing of it runs       | (always `destroy`)       | `stopped`, reason `host`         |
 *
 * @module
 */
import type { PartitionRecord, RuntimeObservation, StateReason } from "../../core/model.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { policyFor } from "../../core/partition/transaction.ts";
import { CrashedReason, DomainState, RunningReason, ShutoffReason } from "./protocol.ts";

type Cause = NonNullable<RuntimeObservation["cause"]>;

/** The reason a converged record gets for how it ended (as core/partition/transaction.ts). */
const REASON_OF: Record<Cause, StateReason> = {
  poweroff: "shutdown",
  reboot: "shutdown",
  crash: "crashed",
  gone: "host",
};

/** The record as the daemon shows it (see the module's table); the same record when converged. */
export function presented(record: ObservedRecord): ObservedRecord {
  const seen = record.runtime;
  if (!seen) return record;
  if (seen.state === "crashed") {
    return { ...record, state: "crashed", reason: "crashed", ending: seen };
  }
  if (record.pending?.op === "shutdown") {
    return { ...record, state: "stopped", reason: "shutdown", ending: seen };
  }
  const cause = seen.cause ?? "poweroff";
  if (policyFor(record, cause) === "restart") return { ...record, state: "running" };
  return { ...record, state: "stopped", reason: REASON_OF[cause], ending: seen };
}

/** True when `ending` says the partition's OS panicked (its kernel's panic, QEMU's guest-panic). */
export function panicked(ending: RuntimeObservation | undefined): boolean {
  return ending?.cause === "crash" && /panick/i.test(ending.reason ?? "");
}

/** True when the partition runs again after a crash (its on_crash policy restarted it). */
export function restartedAfterCrash(record: PartitionRecord): boolean {
  return record.reason === "restarted" && record.ending?.cause === "crash";
}

const SHUTOFF_REASONS: Partial<Record<StateReason, number>> = {
  shutdown: ShutoffReason.SHUTDOWN,
  destroyed: ShutoffReason.DESTROYED,
  crashed: ShutoffReason.CRASHED,
  host: ShutoffReason.UNKNOWN,
};

/**
 * libvirt's state and reason of a partition (`virDomainState`, and the reason enum
 * of that state):
 *
 * - running: RUNNING with BOOTED (1), or CRASHED (9, "resumed from crashed") when its
 *   on_crash policy restarted it — as libvirt's qemu driver after its fake reboot;
 * - crashed (kept by on_crash preserve): CRASHED with PANICKED (1) when its OS
 *   panicked, else UNKNOWN (0: its emulator died);
 * - stopped: SHUTOFF with SHUTDOWN (1, its OS powered off), DESTROYED (2, stopped hard,
 *   and records of state written before reasons), CRASHED (3), UNKNOWN (0: nothing of
 *   it ran any more, the host restarted);
 * - defined (never started): SHUTOFF, UNKNOWN.
 */
export function stateOf(record: ObservedRecord): [number, number] {
  const shown = presented(record);
  switch (shown.state) {
    case "running":
      return [
        DomainState.RUNNING,
        restartedAfterCrash(shown) ? RunningReason.CRASHED : RunningReason.BOOTED,
      ];
    case "crashed":
      return [
        DomainState.CRASHED,
        panicked(shown.ending) ? CrashedReason.PANICKED : CrashedReason.UNKNOWN,
      ];
    case "stopped":
      return [
        DomainState.SHUTOFF,
        shown.reason === undefined
          ? ShutoffReason.DESTROYED
          : SHUTOFF_REASONS[shown.reason] ?? ShutoffReason.UNKNOWN,
      ];
    default:
      return [DomainState.SHUTOFF, ShutoffReason.UNKNOWN];
  }
}
