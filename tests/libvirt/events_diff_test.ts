/** Lifecycle events from two looks at the partitions, and the states libvirt clients see. */
import assert from "node:assert/strict";
import type { PartitionRecord } from "../../core/model.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { diff, snapshotOf } from "../../plugins/libvirt/events.ts";
import { stateOf } from "../../plugins/libvirt/procedures.ts";

function record(name: string, state: PartitionRecord["state"], id = 1): PartitionRecord {
  return {
    name,
    id,
    state,
    spec: { name },
    allocation: { cores: [1], bootCore: 1, memory: { base: 0, size: 1 }, devices: [] },
    created: "2026-01-01T00:00:00.000Z",
    updated: "2026-01-01T00:00:00.000Z",
    monitorCalls: [],
    uuid: `00000000-0000-4000-8000-00000000000${id}`,
  };
}

const events = (before: ObservedRecord[], after: ObservedRecord[]) =>
  diff(snapshotOf(before), snapshotOf(after)).map((e) => [e.dom.name, e.dom.id, e.event, e.detail]);

Deno.test("events: define, start, stop, undefine", () => {
  assert.deepEqual(events([], [record("a", "defined")]), [["a", -1, 0, 0]]);
  assert.deepEqual(events([record("a", "defined")], [record("a", "running")]), [["a", 1, 2, 0]]);
  assert.deepEqual(events([record("a", "running")], [record("a", "stopped")]), [["a", 1, 5, 1]]);
  assert.deepEqual(events([record("a", "stopped")], []), [["a", -1, 1, 0]]);
  // A running partition removed (vmanctl destroy) stops, then goes.
  assert.deepEqual(events([record("a", "running")], []), [["a", 1, 5, 1], ["a", -1, 1, 0]]);
  // Created and started between two looks.
  assert.deepEqual(events([], [record("b", "running", 2)]), [["b", -1, 0, 0], ["b", 2, 2, 0]]);
  assert.deepEqual(events([record("a", "running")], [record("a", "running")]), []);
});

Deno.test("events: a partition that ends on its own stops with SHUTDOWN or FAILED", () => {
  const off: ObservedRecord = { ...record("a", "stopped"), runtime: { state: "stopped" } };
  const died: ObservedRecord = {
    ...record("a", "crashed"),
    runtime: { state: "crashed", reason: "qemu exited" },
  };
  assert.deepEqual(events([record("a", "running")], [off]), [["a", 1, 5, 0]]);
  assert.deepEqual(events([record("a", "running")], [died]), [["a", 1, 5, 5]]);
  assert.deepEqual(stateOf(off), [5, 1]); // SHUTOFF, SHUTDOWN
  assert.deepEqual(stateOf(died), [6, 0]); // CRASHED
  assert.deepEqual(stateOf(record("a", "stopped")), [5, 2]); // SHUTOFF, DESTROYED
  assert.deepEqual(stateOf(record("a", "defined")), [5, 0]); // SHUTOFF, UNKNOWN
  assert.deepEqual(stateOf(record("a", "running")), [1, 1]); // RUNNING, BOOTED
});
