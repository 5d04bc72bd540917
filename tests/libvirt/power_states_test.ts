/**
 * Operating partitions, the libvirt side without a daemon: the state and reason of
 * each partition state (DOMAIN_GET_STATE), how a partition that ended on its own is
 * shown until its end policy applies, the events of each change whether the daemon
 * saw the moment in between or not, and `<on_poweroff>`, `<on_reboot>`, `<on_crash>`.
 */
import assert from "node:assert/strict";
import type { PartitionRecord, RuntimeObservation } from "../../core/model.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { diff, settled, type Snapshot, snapshotOf } from "../../plugins/libvirt/events.ts";
import { presented, stateOf } from "../../plugins/libvirt/states.ts";
import {
  DomainConfigError,
  domainXml,
  DomainXmlError,
  parseDomainXml,
} from "../../plugins/libvirt/domain_xml.ts";
import { errorOf } from "../../plugins/libvirt/errors.ts";
import { listed } from "../../plugins/libvirt/procedures.ts";
import { builtinBoard } from "./boards.ts";
import { armv8 } from "../../arch/armv8/mod.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-01-01T00:01:00.000Z";

function record(fields: Partial<PartitionRecord> = {}): ObservedRecord {
  return {
    name: "p",
    id: 3,
    state: "running",
    spec: { name: "p" },
    allocation: { cores: [1], bootCore: 1, memory: { base: 0, size: 1 }, devices: [] },
    created: T0,
    updated: T0,
    monitorCalls: [],
    uuid: "00000000-0000-4000-8000-000000000003",
    reason: "booted",
    started: T0,
    ...fields,
  };
}

const PANIC: RuntimeObservation = {
  state: "crashed",
  cause: "crash",
  reason: "its kernel panicked",
  console: ["Kernel panic - not syncing: sysrq triggered crash"],
};
const DIED: RuntimeObservation = {
  state: "crashed",
  cause: "crash",
  reason: "qemu-system-aarch64 was killed by SIGKILL",
};
const OFF: RuntimeObservation = {
  state: "stopped",
  cause: "poweroff",
  reason: "its OS powered off",
};
const REBOOTED: RuntimeObservation = {
  state: "stopped",
  cause: "reboot",
  reason: "its OS rebooted",
};
const GONE: RuntimeObservation = { state: "stopped", cause: "gone", reason: "no qemu runs" };

/** `[event id, event, detail, domain id]` of each event from `before` to `after`. */
function events(before: ObservedRecord, after: ObservedRecord | undefined): number[][] {
  return diff(snapshotOf([before]), snapshotOf(after ? [after] : [])).map((
    e,
  ) => [e.eventID, e.event, e.detail, e.dom.id]);
}

// Lifecycle (event id 0): STARTED 2, RESUMED 4, STOPPED 5, CRASHED 8; REBOOT is event id 1.
const STARTED_BOOTED = [0, 2, 0, 3];
const STOPPED_SHUTDOWN = [0, 5, 0, 3];
const STOPPED_DESTROYED = [0, 5, 1, 3];
const STOPPED_CRASHED = [0, 5, 2, 3];
const STOPPED_FAILED = [0, 5, 5, 3];
const CRASHED_PANICKED = [0, 8, 0, 3];
const RESUMED_UNPAUSED = [0, 4, 0, 3];
const REBOOT = [1, 0, 0, 3];

Deno.test("states: each partition state and reason as libvirt's state and reason", () => {
  // [virDomainState, reason]: RUNNING 1, SHUTOFF 5, CRASHED 6.
  assert.deepEqual(stateOf(record()), [1, 1]); // running (booted)
  assert.deepEqual(stateOf(record({ reason: "restarted", ending: REBOOTED })), [1, 1]);
  assert.deepEqual(stateOf(record({ reason: "restarted", ending: PANIC })), [1, 9]); // (crashed)
  assert.deepEqual(stateOf(record({ state: "stopped", reason: "shutdown" })), [5, 1]);
  assert.deepEqual(stateOf(record({ state: "stopped", reason: "destroyed" })), [5, 2]);
  assert.deepEqual(stateOf(record({ state: "stopped", reason: "crashed", ending: PANIC })), [5, 3]);
  assert.deepEqual(stateOf(record({ state: "stopped", reason: "host" })), [5, 0]);
  assert.deepEqual(stateOf(record({ state: "stopped", reason: undefined })), [5, 2]);
  assert.deepEqual(stateOf(record({ state: "defined", reason: undefined })), [5, 0]);
  assert.deepEqual(stateOf(record({ state: "crashed", reason: "crashed", ending: PANIC })), [6, 1]);
  assert.deepEqual(stateOf(record({ state: "crashed", reason: "crashed", ending: DIED })), [6, 0]);
});

Deno.test("states: a partition that ended on its own is shown as its end policy leaves it", () => {
  const seen = (runtime: RuntimeObservation, fields: Partial<PartitionRecord> = {}) =>
    presented({ ...record(fields), state: runtime.state, runtime });
  // Powered off: stopped (shutdown) with destroy or preserve; still running with restart.
  assert.deepEqual(stateOf({ ...record(), state: "stopped", runtime: OFF }), [5, 1]);
  assert.equal(seen(OFF, { spec: { name: "p", onPoweroff: "preserve" } }).state, "stopped");
  assert.equal(seen(OFF, { spec: { name: "p", onPoweroff: "restart" } }).state, "running");
  // Rebooted: restart is the default; destroy stops it (shutdown).
  assert.equal(seen(REBOOTED).state, "running");
  assert.deepEqual(stateOf(seen(REBOOTED, { spec: { name: "p", onReboot: "destroy" } })), [5, 1]);
  // A requested shutdown: stopped (shutdown) whatever its on_poweroff says.
  const asked = seen(OFF, {
    spec: { name: "p", onPoweroff: "restart" },
    pending: { op: "shutdown", since: T0, pid: 1 },
  });
  assert.deepEqual([asked.state, asked.reason], ["stopped", "shutdown"]);
  // A crash is shown crashed before its policy acts, as libvirt's qemu driver shows it.
  assert.deepEqual(stateOf(seen(PANIC, { spec: { name: "p", onCrash: "restart" } })), [6, 1]);
  assert.deepEqual(stateOf(seen(DIED)), [6, 0]);
  // Nothing of it runs any more: stopped, reason unknown.
  assert.deepEqual(stateOf(seen(GONE)), [5, 0]);
  // Presenting is idempotent.
  const once = seen(REBOOTED);
  assert.deepEqual(presented(once), once);
});

Deno.test("events: shutdown, destroy, host restart", () => {
  assert.deepEqual(events(record({ state: "stopped" }), record()), [STARTED_BOOTED]);
  assert.deepEqual(events(record(), record({ state: "stopped", reason: "shutdown" })), [
    STOPPED_SHUTDOWN,
  ]);
  assert.deepEqual(events(record(), { ...record(), state: "stopped", runtime: OFF }), [
    STOPPED_SHUTDOWN,
  ]);
  assert.deepEqual(events(record(), record({ state: "stopped", reason: "destroyed" })), [
    STOPPED_DESTROYED,
  ]);
  assert.deepEqual(events(record(), record({ state: "stopped", reason: "host" })), [
    STOPPED_FAILED,
  ]);
  // Removed while running: stopped (destroyed), then undefined.
  assert.deepEqual(events(record(), undefined), [STOPPED_DESTROYED, [0, 1, 0, -1]]);
});

Deno.test("events: a crash, the same whether the daemon saw the crashed moment or not", () => {
  const panicking = { ...record(), state: "crashed" as const, runtime: PANIC };
  // on_crash preserve: CRASHED/PANICKED.
  const kept = record({ state: "crashed", reason: "crashed", ending: PANIC });
  assert.deepEqual(events(record(), kept), [CRASHED_PANICKED]);
  assert.deepEqual(events(record(), panicking), [CRASHED_PANICKED]);
  assert.deepEqual(events(panicking, kept), []);
  // on_crash destroy: CRASHED/PANICKED, then STOPPED/CRASHED.
  const destroyed = record({ state: "stopped", reason: "crashed", ending: PANIC });
  assert.deepEqual(events(record(), destroyed), [CRASHED_PANICKED, STOPPED_CRASHED]);
  assert.deepEqual(events(panicking, destroyed), [STOPPED_CRASHED]);
  // on_crash restart: CRASHED/PANICKED, REBOOT, RESUMED/UNPAUSED (libvirt's fake reboot).
  const restarted = record({ reason: "restarted", ending: PANIC, started: T1 });
  assert.deepEqual(events(record(), restarted), [CRASHED_PANICKED, REBOOT, RESUMED_UNPAUSED]);
  assert.deepEqual(events(panicking, restarted), [REBOOT, RESUMED_UNPAUSED]);
  // Its emulator died: STOPPED/FAILED, and STARTED/BOOTED when restarted.
  const died = { ...record(), state: "crashed" as const, runtime: DIED };
  assert.deepEqual(events(record(), died), [STOPPED_FAILED]);
  assert.deepEqual(events(died, record({ state: "stopped", reason: "crashed", ending: DIED })), []);
  assert.deepEqual(
    events(record(), record({ reason: "restarted", ending: DIED, started: T1 })),
    [STOPPED_FAILED, STARTED_BOOTED],
  );
  // A kept crash destroyed, or started again by hand.
  assert.deepEqual(events(kept, record({ state: "stopped", reason: "destroyed" })), [
    STOPPED_DESTROYED,
  ]);
  assert.deepEqual(events(kept, record({ started: T1 })), [STARTED_BOOTED]);
});

Deno.test("events: a restart while running is one REBOOT, however it came", () => {
  // Its OS rebooted (on_reboot restart), seen or not in between.
  const again = record({ reason: "restarted", ending: REBOOTED, started: T1 });
  assert.deepEqual(events(record(), again), [REBOOT]);
  assert.deepEqual(events({ ...record(), state: "stopped", runtime: REBOOTED }, again), [REBOOT]);
  // reset (its ending unchanged), reboot and on_poweroff restart.
  const crashedOnce = record({ reason: "restarted", ending: PANIC });
  assert.deepEqual(events(crashedOnce, { ...crashedOnce, started: T1 }), [REBOOT]);
  assert.deepEqual(events(record(), record({ reason: "restarted", ending: OFF, started: T1 })), [
    REBOOT,
  ]);
  // Running and unchanged: nothing.
  assert.deepEqual(events(record(), record()), []);
});

Deno.test("events: the steps of a restart under way are not told, only the restart", () => {
  // What the daemon may see of an on_crash restart by the partition's watcher: the crash,
  // then the record with its intent (old start time, the new QEMU already running), then
  // the restart written.
  const looks: ObservedRecord[] = [
    record({ reason: "restarted", ending: REBOOTED }),
    { ...record({ reason: "restarted", ending: REBOOTED }), state: "crashed", runtime: PANIC },
    record({ reason: "restarted", ending: PANIC, pending: { op: "start", since: T1, pid: 1 } }),
    record({ reason: "restarted", ending: PANIC, started: T1 }),
  ];
  let last: Snapshot = snapshotOf([looks[0]]);
  const told: number[][] = [];
  for (const look of looks.slice(1)) {
    const now = settled(last, snapshotOf([look]));
    told.push(...diff(last, now).map((e) => [e.eventID, e.event, e.detail, e.dom.id]));
    last = now;
  }
  assert.deepEqual(told, [CRASHED_PANICKED, REBOOT, RESUMED_UNPAUSED]);
});

Deno.test("list filters: a partition kept crashed is in libvirt's other states", () => {
  const kept = record({ state: "crashed", reason: "crashed", ending: PANIC });
  const OTHER = 1 << 7;
  const SHUTOFF = 1 << 6;
  const INACTIVE = 1 << 1;
  assert.equal(listed(kept, OTHER), true);
  assert.equal(listed(kept, SHUTOFF), false);
  assert.equal(listed(kept, INACTIVE), true);
});

const ARM64 = await builtinBoard("qemu-virt-arm64");

const xml = (policies: string) =>
  `<domain type='vmanager'><name>p</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>${policies}</domain>`;

Deno.test("domain XML: on_poweroff, on_reboot, on_crash set the end policies", async () => {
  const { spec } = await parseDomainXml(
    xml(
      "<on_poweroff>restart</on_poweroff><on_reboot> preserve </on_reboot>" +
        "<on_crash>preserve</on_crash>",
    ),
  );
  assert.deepEqual(
    [spec.onPoweroff, spec.onReboot, spec.onCrash],
    ["restart", "preserve", "preserve"],
  );
  // libvirt's defaults (destroy, restart, destroy) are what an absent element means.
  const defaults = await parseDomainXml(
    xml(
      "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>",
    ),
  );
  assert.deepEqual(defaults.spec, { name: "p", memory: 128 * 2 ** 20, cpus: 1 });
});

Deno.test("domain XML: dumpxml writes the end policies, its defaults included", async () => {
  const allocation = { cores: [1], bootCore: 1, memory: { base: 0x50000000, size: 2 ** 27 } };
  const plain = domainXml(
    record({ allocation: { ...allocation, devices: [] } }),
    ARM64,
    "qemu",
    armv8(),
  );
  assert.ok(
    plain.includes(
      "  </os>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n" +
        "  <on_crash>destroy</on_crash>\n  <devices>\n",
    ),
    plain,
  );
  const set = record({
    spec: { name: "p", onPoweroff: "preserve", onReboot: "destroy", onCrash: "restart" },
    allocation: { ...allocation, devices: [] },
  });
  const text = domainXml(set, ARM64, "qemu", armv8());
  assert.match(text, /<on_poweroff>preserve<\/on_poweroff>/);
  assert.match(text, /<on_reboot>destroy<\/on_reboot>/);
  assert.match(text, /<on_crash>restart<\/on_crash>/);
  const again = await parseDomainXml(text, ARM64);
  assert.deepEqual(
    [again.spec.onPoweroff, again.spec.onReboot, again.spec.onCrash],
    ["preserve", "destroy", "restart"],
  );
});

Deno.test("domain XML: actions vmanager cannot take are refused as libvirt refuses them", async () => {
  const refused = async (policies: string) => {
    try {
      await parseDomainXml(xml(policies));
    } catch (error) {
      return error;
    }
    throw new Error(`accepted ${policies}`);
  };
  // coredump-*: valid for on_crash only, and no core dumps here: CONFIG_UNSUPPORTED (67).
  const dump = await refused("<on_crash>coredump-restart</on_crash>");
  assert.ok(dump instanceof DomainConfigError);
  assert.deepEqual(errorOf(dump), {
    code: 67,
    message: "unsupported configuration: vmanager cannot dump a partition's memory: " +
      "'coredump-restart' is not supported (use 'restart') (/domain/on_crash)",
  });
  assert.match(
    errorOf(await refused("<on_poweroff>coredump-destroy</on_poweroff>")).message,
    /Lifecycle event 'on_poweroff' doesn't support 'coredump-destroy' action/,
  );
  const rename = errorOf(await refused("<on_reboot>rename-restart</on_reboot>"));
  assert.equal(rename.code, 67);
  assert.match(rename.message, /'rename-restart' action for 'on_reboot'/);
  // Not an action at all, or given twice: XML_ERROR (27).
  const bogus = await refused("<on_crash>explode</on_crash>");
  assert.ok(bogus instanceof DomainXmlError && !(bogus instanceof DomainConfigError));
  assert.equal(errorOf(bogus).code, 27);
  assert.match(errorOf(bogus).message, /unknown on_crash action 'explode'/);
  const twice = await refused("<on_crash>destroy</on_crash><on_crash>restart</on_crash>");
  assert.equal(errorOf(twice).code, 27);
});
