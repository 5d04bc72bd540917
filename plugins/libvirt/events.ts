/**
 * Lifecycle events: the differences between two states of the partitions, as
 * libvirt's VIR_DOMAIN_EVENT_* (type, detail). The daemon diffs every state it
 * sees — after its own changes and when `state.json` changes under it (vmanctl) —
 * so clients hear of changes made by either.
 *
 * @module
 */
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { uuidOf } from "../../core/partition/lifecycle.ts";
import type { DomainRef } from "./driver.ts";
import { refOf } from "./driver.ts";
import { LifecycleEvent } from "./protocol.ts";

/** One lifecycle event. */
export interface DomainEvent {
  /** The domain (with its id at the time of the event). */
  dom: DomainRef;
  /** VIR_DOMAIN_EVENT_DEFINED, UNDEFINED, STARTED or STOPPED. */
  event: number;
  /** The detail: DEFINED_ADDED 0, UNDEFINED_REMOVED 0, STARTED_BOOTED 0, STOPPED_SHUTDOWN 0, _DESTROYED 1, _FAILED 5. */
  detail: number;
}

/** A snapshot of the partitions by UUID, in their observed states. */
export type Snapshot = Map<string, ObservedRecord>;

/** The snapshot of a list of records. */
export function snapshotOf(records: readonly ObservedRecord[]): Snapshot {
  return new Map(records.map((r) => [uuidOf(r), r]));
}

const STOPPED_SHUTDOWN = 0;
const STOPPED_DESTROYED = 1;
const STOPPED_FAILED = 5;

/** The STOPPED detail of a partition no longer running: its OS powered off, it died, or it was stopped. */
function stoppedDetail(now: ObservedRecord | undefined): number {
  if (now?.state === "crashed") return STOPPED_FAILED;
  if (now?.state === "stopped" && now.runtime) return STOPPED_SHUTDOWN;
  return STOPPED_DESTROYED;
}

/** The events that lead from `before` to `after`, in a stable order. */
export function diff(before: Snapshot, after: Snapshot): DomainEvent[] {
  const events: DomainEvent[] = [];
  for (const [uuid, old] of before) {
    if (after.has(uuid)) continue;
    if (old.state === "running") {
      events.push({ dom: refOf(old), event: LifecycleEvent.STOPPED, detail: STOPPED_DESTROYED });
    }
    events.push({ dom: { ...refOf(old), id: -1 }, event: LifecycleEvent.UNDEFINED, detail: 0 });
  }
  for (const [uuid, now] of after) {
    const old = before.get(uuid);
    if (!old) {
      events.push({ dom: { ...refOf(now), id: -1 }, event: LifecycleEvent.DEFINED, detail: 0 });
      if (now.state === "running") {
        events.push({ dom: refOf(now), event: LifecycleEvent.STARTED, detail: 0 });
      }
      continue;
    }
    const wasRunning = old.state === "running";
    const isRunning = now.state === "running";
    if (wasRunning && !isRunning) {
      events.push({ dom: refOf(old), event: LifecycleEvent.STOPPED, detail: stoppedDetail(now) });
    }
    if (!wasRunning && isRunning) {
      events.push({ dom: refOf(now), event: LifecycleEvent.STARTED, detail: 0 });
    }
  }
  return events;
}
