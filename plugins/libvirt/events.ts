/**
 * Domain events: the differences between two looks at the partitions, as
 * libvirt's lifecycle events (VIR_DOMAIN_EVENT_ID_LIFECYCLE: type, detail) and
 * reboot events (VIR_DOMAIN_EVENT_ID_REBOOT). The daemon diffs every state it
 * sees — after its own changes and when `state.json` changes under it (vmanctl,
 * a partition's watcher applying its end policy) — so clients hear of changes
 * made by any of them.
 *
 * Each look is of the partitions as {@linkcode presented} (plugins/libvirt/states.ts),
 * and the events of one change are those libvirt's qemu driver emits for it, the
 * same whether the daemon saw the moment in between or not:
 *
 * | change                                              | events                                  |
 * | --------------------------------------------------- | --------------------------------------- |
 * | started                                             | STARTED/BOOTED                          |
 * | its OS powered off (or rebooted, on_reboot destroy) | STOPPED/SHUTDOWN                        |
 * | stopped hard (destroy)                              | STOPPED/DESTROYED                       |
 * | its OS panicked, on_crash preserve                  | CRASHED/PANICKED                        |
 * | its OS panicked, on_crash destroy                   | CRASHED/PANICKED, STOPPED/CRASHED       |
 * | its OS panicked, on_crash restart                   | CRASHED/PANICKED, REBOOT, RESUMED/UNPAUSED |
 * | its emulator died (any policy)                      | STOPPED/FAILED (+ STARTED/BOOTED: restart) |
 * | nothing of it runs any more (the host restarted)    | STOPPED/FAILED                          |
 * | started again while running (`record.started` changed): its OS rebooted (on_reboot restart), on_poweroff restart, reboot, reset | REBOOT |
 *
 * @module
 */
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { uuidOf } from "../../core/partition/lifecycle.ts";
import type { DomainRef } from "./driver.ts";
import { refOf } from "./driver.ts";
import { EventId, LifecycleEvent, StoppedDetail } from "./protocol.ts";
import { panicked, presented } from "./states.ts";

/** One domain event. */
export interface DomainEvent {
  /** The domain (with its id at the time of the event). */
  dom: DomainRef;
  /** The event id: VIR_DOMAIN_EVENT_ID_LIFECYCLE (0) or VIR_DOMAIN_EVENT_ID_REBOOT (1). */
  eventID: number;
  /** Of a lifecycle event: DEFINED, UNDEFINED, STARTED, RESUMED, STOPPED or CRASHED (0 for reboot). */
  event: number;
  /** Of a lifecycle event: its detail (0 for reboot). */
  detail: number;
}

/** A snapshot of the partitions by UUID, as presented. */
export type Snapshot = Map<string, ObservedRecord>;

/** The snapshot of a list of records. */
export function snapshotOf(records: readonly ObservedRecord[]): Snapshot {
  return new Map(records.map((r) => [uuidOf(r), presented(r)]));
}

/**
 * `after` with each partition that has a start, stop or destroy under way (an
 * intent in its record) as it was in `before`: a change is told once it is made,
 * not from the steps of it the daemon happens to see (a restart's record keeps its
 * old start time until its last write).
 */
export function settled(before: Snapshot, after: Snapshot): Snapshot {
  const out: Snapshot = new Map();
  for (const [uuid, now] of after) {
    const op = now.pending?.op;
    const old = before.get(uuid);
    out.set(uuid, old && (op === "start" || op === "stop" || op === "destroy") ? old : now);
  }
  return out;
}

const CRASHED_PANICKED = 0;
const STARTED_BOOTED = 0;
const RESUMED_UNPAUSED = 0;

function lifecycle(dom: DomainRef, event: number, detail: number): DomainEvent {
  return { dom, eventID: EventId.LIFECYCLE, event, detail };
}

function reboot(dom: DomainRef): DomainEvent {
  return { dom, eventID: EventId.REBOOT, event: 0, detail: 0 };
}

/** `dom` with the id it had while it ran. */
function withId(dom: DomainRef, record: ObservedRecord): DomainRef {
  return { ...dom, id: record.id };
}

/** The events of a running partition that crashed (its OS panicked, or its emulator died). */
function crashEvents(old: ObservedRecord, now: ObservedRecord): DomainEvent[] {
  const dom = refOf(old);
  return panicked(now.ending)
    ? [lifecycle(dom, LifecycleEvent.CRASHED, CRASHED_PANICKED)]
    : [lifecycle(dom, LifecycleEvent.STOPPED, StoppedDetail.FAILED)];
}

/** The STOPPED detail of a partition that stopped for `reason`, not by crashing. */
function stoppedDetail(now: ObservedRecord): number {
  switch (now.reason) {
    case "shutdown":
      return StoppedDetail.SHUTDOWN;
    case "host":
      return StoppedDetail.FAILED;
    default:
      return StoppedDetail.DESTROYED;
  }
}

/** True when `now` ended by a crash that `old` had not seen. */
function newCrash(old: ObservedRecord, now: ObservedRecord): boolean {
  return now.ending?.cause === "crash" &&
    JSON.stringify(now.ending) !== JSON.stringify(old.ending);
}

/** The events of one partition changing from `old` to `now` (both presented). */
function changes(old: ObservedRecord, now: ObservedRecord): DomainEvent[] {
  const was = old.state;
  const is = now.state;
  if (was === "running" && is === "running") {
    if (!old.started || !now.started || old.started === now.started) return [];
    // Started again while it ran: a restart by its end policy, a reboot or a reset.
    if (!newCrash(old, now)) return [reboot(refOf(now))];
    return [...crashEvents(old, now), ...restartEvents(now)];
  }
  if (was === "running" && is === "crashed") return crashEvents(old, now);
  if (was === "running") {
    if (now.reason === "crashed") {
      const events = crashEvents(old, now);
      if (panicked(now.ending)) {
        events.push(lifecycle(refOf(old), LifecycleEvent.STOPPED, StoppedDetail.CRASHED));
      }
      return events;
    }
    return [lifecycle(refOf(old), LifecycleEvent.STOPPED, stoppedDetail(now))];
  }
  if (was === "crashed" && is === "running") {
    // Its on_crash policy restarted it (the crash was told already), or it was started again.
    return now.reason === "restarted" ? restartEvents(now) : [started(now)];
  }
  if (was === "crashed" && is !== "crashed") {
    // A crash told as CRASHED/PANICKED, then destroyed by its policy; or a kept crash destroyed.
    if (now.reason === "crashed") {
      return panicked(now.ending)
        ? [lifecycle(withId(refOf(now), old), LifecycleEvent.STOPPED, StoppedDetail.CRASHED)]
        : [];
    }
    return [lifecycle(withId(refOf(now), old), LifecycleEvent.STOPPED, stoppedDetail(now))];
  }
  if (is === "running") return [started(now)];
  return [];
}

function started(now: ObservedRecord): DomainEvent {
  return lifecycle(refOf(now), LifecycleEvent.STARTED, STARTED_BOOTED);
}

/** Running again after a crash: libvirt's fake reboot after a panic, or a new start. */
function restartEvents(now: ObservedRecord): DomainEvent[] {
  return panicked(now.ending)
    ? [reboot(refOf(now)), lifecycle(refOf(now), LifecycleEvent.RESUMED, RESUMED_UNPAUSED)]
    : [started(now)];
}

/** The events that lead from `before` to `after`, in a stable order. */
export function diff(before: Snapshot, after: Snapshot): DomainEvent[] {
  const events: DomainEvent[] = [];
  for (const [uuid, old] of before) {
    if (after.has(uuid)) continue;
    if (old.state === "running" || old.state === "crashed") {
      events.push(
        lifecycle(withId(refOf(old), old), LifecycleEvent.STOPPED, StoppedDetail.DESTROYED),
      );
    }
    events.push(lifecycle({ ...refOf(old), id: -1 }, LifecycleEvent.UNDEFINED, 0));
  }
  for (const [uuid, now] of after) {
    const old = before.get(uuid);
    if (!old) {
      events.push(lifecycle({ ...refOf(now), id: -1 }, LifecycleEvent.DEFINED, 0));
      if (now.state === "running") events.push(started(now));
      continue;
    }
    events.push(...changes(old, now));
  }
  return events;
}
