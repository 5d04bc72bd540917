/**
 * DOMAIN_SHUTDOWN (33), DOMAIN_SHUTDOWN_FLAGS (258), DOMAIN_REBOOT (27) and
 * DOMAIN_RESET (245) with the real virsh and python3-libvirt against a daemon in
 * this process whose backend's guests power off a moment after their power button
 * is pressed: shutdown returns before the guest is off and the domain then shuts
 * off (shutdown); reboot shows it running throughout and restarts it, one REBOOT
 * event; reset likewise; a guest that ignores the button keeps running and the
 * intent goes after the timeout; destroy cancels a reboot; on_poweroff restart and
 * on_reboot destroy turn one into the other; libvirt's refusals and their codes.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml, HAVE_PYTHON_LIBVIRT, HAVE_VIRSH, python, sleep, virsh } from "./helpers.ts";
import type { InProcessDaemon } from "./console_helpers.ts";
import {
  type EventWatcher,
  FakeGuests,
  startPowerDaemon,
  stateRecord,
  watchEvents,
} from "./power_helpers.ts";

const skip = !HAVE_VIRSH || !HAVE_PYTHON_LIBVIRT;
if (skip) console.log("skipping the libvirt power tests: virsh or python3-libvirt is missing");

/** Runs `fn` with a daemon on the fake backend (guests power off after 500 ms) and an event watcher. */
async function withGuests(
  fn: (d: InProcessDaemon, guests: FakeGuests, events: EventWatcher, dir: string) => Promise<void>,
  timeoutMs = 5_000,
): Promise<void> {
  await withTempDir(async (dir) => {
    const guests = new FakeGuests();
    guests.delayMs = 500;
    const d = await startPowerDaemon(dir, {
      backend: "fake-power",
      extra: [guests.plugin()],
      power: { timeoutMs, pollMs: 50 },
    });
    let events: EventWatcher | undefined;
    try {
      events = await watchEvents(d.uri, dir);
      await fn(d, guests, events, dir);
    } finally {
      await events?.stop();
      await d.stop();
      guests.close();
    }
  });
}

/** Defines `name` (with `extra` XML) and starts it. */
async function running(d: InProcessDaemon, dir: string, name: string, extra = ""): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}.xml`, domainXml(name, extra));
  const define = await virsh(d.uri, "define", `${dir}/${name}.xml`);
  assert.equal(define.code, 0, define.stderr);
  const start = await virsh(d.uri, "start", name);
  assert.equal(start.code, 0, start.stderr);
}

async function domstate(d: InProcessDaemon, name: string): Promise<string> {
  return (await virsh(d.uri, "domstate", "--reason", name)).stdout.trim();
}

/** Polls `domstate --reason` until it says `wanted`; returns every state seen on the way. */
async function until(d: InProcessDaemon, name: string, wanted: string): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const state = await domstate(d, name);
    if (seen.at(-1) !== state) seen.push(state);
    if (state === wanted) return seen;
    await sleep(20);
  }
  throw new Error(`${name} never was ${wanted}: ${seen.join(", ")}`);
}

/** Polls the state dir until `name`'s record passes `test`; returns it. */
async function recorded(
  d: InProcessDaemon,
  name: string,
  test: (record: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  let record: Record<string, unknown> | undefined;
  while (Date.now() < deadline) {
    record = await stateRecord(d.stateDir, name);
    if (record && test(record)) return record;
    await sleep(20);
  }
  throw new Error(`${name} is not as expected: ${JSON.stringify(record)}`);
}

/** Polls the state dir until `name`'s start time is not `before`; returns its record. */
async function restarted(d: InProcessDaemon, name: string, before: unknown) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const record = await stateRecord(d.stateDir, name);
    if (record?.state === "running" && record.started !== before && !record.pending) return record;
    await sleep(20);
  }
  throw new Error(`${name} was not started again`);
}

Deno.test({
  name: "virsh shutdown asks the guest and returns at once; the domain then shuts off (shutdown)",
  ignore: skip,
  async fn() {
    await withGuests(async (d, guests, events, dir) => {
      guests.delayMs = 3_000;
      await running(d, dir, "p");
      const t0 = performance.now();
      const r = await virsh(d.uri, "shutdown", "p");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Domain '?p'? is being shutdown/);
      assert.ok(performance.now() - t0 < 2_000, "shutdown returned before the guest powered off");
      assert.equal(await domstate(d, "p"), "running (booted)");
      assert.deepEqual(guests.presses, [1]);
      const { pending } = (await stateRecord(d.stateDir, "p"))!;
      assert.deepEqual(pending, {
        op: "shutdown",
        since: (pending as { since: string }).since,
        pid: Deno.pid,
      });
      const seen = await until(d, "p", "shut off (shutdown)");
      assert.deepEqual(seen, ["running (booted)", "shut off (shutdown)"]);
      assert.ok(await events.waitFor(/domain '?p'?: Stopped Shutdown/), events.text());
      // The state follows (the daemon's wait converges the intent: stopped, reason shutdown).
      const record = await recorded(d, "p", (r) => r.state === "stopped" && !r.pending);
      assert.equal(record.reason, "shutdown");
      // Not running any more: libvirt's OPERATION_INVALID.
      const again = await virsh(d.uri, "shutdown", "p");
      assert.equal(again.code, 1);
      assert.match(again.stderr, /Requested operation is not valid: domain is not running/);
      assert.doesNotMatch(events.text(), /Stopped Destroyed/);
    });
  },
});

Deno.test({
  name: "virsh reboot: powered off, started again, running throughout, one reboot event",
  ignore: skip,
  async fn() {
    await withGuests(async (d, guests, events, dir) => {
      await running(d, dir, "p");
      const before = (await stateRecord(d.stateDir, "p"))?.started;
      const r = await virsh(d.uri, "reboot", "p");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Domain '?p'? is being rebooted/);
      // Sampled through the reboot: running, never shut off (as libvirt's fake reboot).
      const states = new Set<string>();
      let record: Record<string, unknown> | undefined;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        states.add(await domstate(d, "p"));
        record = await stateRecord(d.stateDir, "p");
        if (record?.started !== before && record?.state === "running") break;
      }
      assert.deepEqual([...states], ["running (booted)"]);
      assert.equal(record?.reason, "restarted");
      assert.deepEqual(guests.presses, [1]);
      assert.ok(await events.waitFor(/event 'reboot' for domain '?p'?/), events.text());
      await sleep(300);
      assert.equal(events.text().match(/event 'reboot'/g)?.length, 1, events.text());
      assert.doesNotMatch(events.text(), /domain '?p'?: Stopped/);
      assert.equal(await domstate(d, "p"), "running (booted)");
    });
  },
});

Deno.test({
  name: "virsh reset and python3-libvirt reset(0), reboot(0), shutdown(), state()",
  ignore: skip,
  async fn() {
    await withGuests(async (d, _guests, events, dir) => {
      await running(d, dir, "p");
      let started = (await stateRecord(d.stateDir, "p"))?.started;
      const reset = await virsh(d.uri, "reset", "p");
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stdout, /Domain '?p'? was reset/);
      const afterReset = await restarted(d, "p", started);
      assert.equal(afterReset.reason, "restarted");
      assert.ok(await events.waitFor(/event 'reboot' for domain '?p'?/), events.text());
      assert.doesNotMatch(events.text(), /domain '?p'?: Stopped/);
      started = afterReset.started;
      const py = (script: string) =>
        python(
          `import json, sys, libvirt\nconn = libvirt.open(sys.argv[1])\n` +
            `dom = conn.lookupByName("p")\n${script}\nconn.close()\n`,
          d.uri,
        );
      const reset0 = await py(`dom.reset(0)\nprint(json.dumps(dom.state()))`);
      assert.equal(reset0.code, 0, reset0.stderr);
      assert.deepEqual(JSON.parse(reset0.stdout), [1, 1]);
      started = (await restarted(d, "p", started)).started;
      const reboot0 = await py(`dom.reboot(0)\nprint(json.dumps(dom.state()))`);
      assert.equal(reboot0.code, 0, reboot0.stderr);
      assert.deepEqual(JSON.parse(reboot0.stdout), [1, 1]);
      await restarted(d, "p", started);
      assert.ok(await events.waitFor(/(event 'reboot'[^]*){3}/), events.text());
      const shutdown = await py(
        // Up to 60 s: a guest on a loaded 2-core host may take longer than 10 s to power off.
        `dom.shutdown()\nimport time\n` +
          `for _ in range(1200):\n    if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING: break\n` +
          `    time.sleep(0.05)\nprint(json.dumps(dom.state()))`,
      );
      assert.equal(shutdown.code, 0, shutdown.stderr);
      assert.deepEqual(JSON.parse(shutdown.stdout), [5, 1]); // SHUTOFF, SHUTDOWN
      assert.ok(await events.waitFor(/domain '?p'?: Stopped Shutdown/), events.text());
    });
  },
});

Deno.test({
  name: "a guest that ignores the button keeps running; the intent goes after the timeout",
  ignore: skip,
  async fn() {
    await withGuests(async (d, guests, events, dir) => {
      guests.ignore = true;
      await running(d, dir, "p");
      assert.equal((await virsh(d.uri, "shutdown", "p")).code, 0);
      assert.equal((await stateRecord(d.stateDir, "p"))?.pending !== undefined, true);
      const deadline = Date.now() + 5_000;
      while ((await stateRecord(d.stateDir, "p"))?.pending && Date.now() < deadline) {
        await sleep(50);
      }
      assert.equal((await stateRecord(d.stateDir, "p"))?.pending, undefined);
      assert.equal(await domstate(d, "p"), "running (booted)");
      assert.ok(
        d.logs.some((l) => /p did not power off within 1 s; it keeps running/.test(l)),
        d.logs.join("\n"),
      );
      // A reboot it ignores, then destroy: destroyed, and not started again later.
      assert.equal((await virsh(d.uri, "reboot", "p")).code, 0);
      const destroy = await virsh(d.uri, "destroy", "p");
      assert.equal(destroy.code, 0, destroy.stderr);
      await sleep(300);
      assert.equal(await domstate(d, "p"), "shut off (destroyed)");
      assert.equal((await stateRecord(d.stateDir, "p"))?.reason, "destroyed");
      assert.equal((await stateRecord(d.stateDir, "p"))?.pending, undefined);
      assert.ok(await events.waitFor(/domain '?p'?: Stopped Destroyed/), events.text());
      assert.doesNotMatch(events.text(), /event 'reboot'/);
    }, 1_000);
  },
});

Deno.test({
  name: "on_poweroff restart makes shutdown a reboot; on_reboot destroy makes reboot a shutdown",
  ignore: skip,
  async fn() {
    await withGuests(async (d, _guests, events, dir) => {
      await running(d, dir, "r", "<on_poweroff>restart</on_poweroff>");
      const before = (await stateRecord(d.stateDir, "r"))?.started;
      assert.equal((await virsh(d.uri, "shutdown", "r")).code, 0);
      await restarted(d, "r", before);
      assert.ok(await events.waitFor(/event 'reboot' for domain '?r'?/), events.text());
      await running(d, dir, "s", "<on_reboot>destroy</on_reboot>");
      assert.equal((await virsh(d.uri, "reboot", "s")).code, 0);
      await until(d, "s", "shut off (shutdown)");
      assert.ok(await events.waitFor(/domain '?s'?: Stopped Shutdown/), events.text());
      assert.doesNotMatch(events.text(), /event 'reboot' for domain '?s'?/);
    });
  },
});

Deno.test({
  name: "shutdown, reboot and reset refusals: libvirt's codes and messages",
  ignore: skip,
  async fn() {
    await withGuests(async (d, guests, _events, dir) => {
      await Deno.writeTextFile(`${dir}/off.xml`, domainXml("off"));
      assert.equal((await virsh(d.uri, "define", `${dir}/off.xml`)).code, 0);
      await running(d, dir, "p");
      const script = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
out = {}
def attempt(name, call):
    try:
        call()
        out[name] = "ok"
    except libvirt.libvirtError as e:
        out[name] = [e.get_error_code(), str(e)]
off = conn.lookupByName("off")
p = conn.lookupByName("p")
attempt("shutdown_off", lambda: off.shutdown())
attempt("reboot_off", lambda: off.reboot(0))
attempt("reset_off", lambda: off.reset(0))
attempt("shutdown_initctl", lambda: p.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_INITCTL))
attempt("reboot_signal", lambda: p.reboot(libvirt.VIR_DOMAIN_REBOOT_SIGNAL))
attempt("shutdown_agent", lambda: p.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT))
attempt("reset_flags", lambda: p.reset(1))
ro = libvirt.open(sys.argv[2])
attempt("shutdown_ro", lambda: ro.lookupByName("p").shutdown())
attempt("reset_ro", lambda: ro.lookupByName("p").reset(0))
ro.close()
out["state"] = p.state()
conn.close()
print(json.dumps(out))
`;
      const run = await python(script, d.uri, d.roUri);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      const notRunning = [55, "Requested operation is not valid: domain is not running"];
      assert.deepEqual(out.shutdown_off, notRunning);
      assert.deepEqual(out.reboot_off, notRunning);
      assert.deepEqual(out.reset_off, notRunning);
      assert.deepEqual(out.shutdown_initctl, [
        8,
        "invalid argument: unsupported flags (0x4) in function virDomainShutdownFlags",
      ]);
      assert.deepEqual(out.reboot_signal, [
        8,
        "invalid argument: unsupported flags (0x8) in function virDomainReboot",
      ]);
      assert.equal(out.shutdown_agent[0], 74); // ARGUMENT_UNSUPPORTED: no guest agent
      assert.match(out.shutdown_agent[1], /no guest agent/);
      assert.deepEqual(out.reset_flags, [
        8,
        "invalid argument: unsupported flags (0x1) in function virDomainReset",
      ]);
      assert.equal(out.shutdown_ro[0], 29);
      assert.equal(out.reset_ro[0], 29);
      assert.deepEqual(out.state, [1, 1]);
      assert.deepEqual(guests.presses, []);
      // --mode acpi is the power button; --mode agent,acpi falls back to it, as libvirt does.
      const acpi = await virsh(d.uri, "shutdown", "--mode", "agent,acpi", "p");
      assert.equal(acpi.code, 0, acpi.stderr);
      assert.deepEqual(guests.presses, [(await stateRecord(d.stateDir, "p"))?.id]);
      await until(d, "p", "shut off (shutdown)");
    });
  },
});

Deno.test({
  name: "a backend that cannot press a power button: shutdown and reboot say destroy is needed",
  ignore: skip,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startPowerDaemon(dir, { backend: "dry-run" });
      try {
        await running(d, dir, "p");
        for (const verb of ["shutdown", "reboot"]) {
          const r = await virsh(d.uri, verb, "p");
          assert.equal(r.code, 1);
          assert.match(
            r.stderr,
            /argument unsupported: cannot ask the OS of domain 'p' to power off: backend dry-run cannot press a partition's power button; shutting it down needs 'virsh destroy'/,
          );
        }
        assert.equal(await domstate(d, "p"), "running (booted)");
        assert.equal((await stateRecord(d.stateDir, "p"))?.pending, undefined);
        // reset needs no guest: the partition is stopped and started again.
        const before = (await stateRecord(d.stateDir, "p"))?.started;
        assert.equal((await virsh(d.uri, "reset", "p")).code, 0);
        assert.notEqual((await stateRecord(d.stateDir, "p"))?.started, before);
        assert.equal(await domstate(d, "p"), "running (booted)");
      } finally {
        await d.stop();
      }
    });
  },
});
