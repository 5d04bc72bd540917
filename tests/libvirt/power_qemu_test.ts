/**
 * Operating Linux partitions through `vmanctl daemon` on the qemu backend, with the
 * real virsh and python3-libvirt. One arm64 domain with the board's power button
 * (gpio0) and `<on_crash>restart</on_crash>` goes through `virsh reboot`,
 * `virsh reset`, python's `reboot(0)` and `reset(0)` (each a new boot on its
 * console, running throughout, one reboot event each), a kernel panic (booted
 * again: crashed/panicked, reboot, resumed; running (crashed)) and `virsh shutdown`
 * (the guest powers off: shut off (shutdown), Stopped Shutdown). A domain with
 * `<on_crash>preserve</on_crash>` that panics is crashed (panicked). On
 * qemu-virt-riscv64, which has no power button, shutdown and reboot are refused.
 * Every partition is destroyed and every daemon stopped at the end.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { GUESTS, missing, typeIntoConsole, waitForConsole } from "../qemu/helpers.ts";
import {
  type ClientResult,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  linuxDomainXml,
  python,
  sleep,
  virsh,
  withDaemon,
} from "./helpers.ts";
import { type EventWatcher, startPowerDaemon, watchEvents } from "./power_helpers.ts";

const GUEST = GUESTS.arm64;

function why(): string | undefined {
  if (!HAVE_VIRSH) return "virsh is not installed";
  if (!HAVE_PYTHON_LIBVIRT) return "python3-libvirt is not installed";
  return missing(GUEST);
}
const skip = why();
if (skip) console.log(`skipping the libvirt power tests on the qemu backend: ${skip}`);

/** A Linux domain of the fixture guest that keeps a shell on its console. */
function linuxXml(name: string, cpuset: string, extra: string, button: boolean): string {
  return linuxDomainXml({
    name,
    vcpu: `<vcpu cpuset='${cpuset}'>1</vcpu>`,
    extra,
    devices: button ? ["uart0", "gpio0"] : [],
  });
}

function ok(result: ClientResult, what: string): string {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  return result.stdout;
}

/** Polls `virsh domstate --reason` until it says `wanted`. */
async function until(uri: string, name: string, wanted: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  let state = "";
  while (Date.now() < deadline) {
    state = (await virsh(uri, "domstate", "--reason", name)).stdout.trim();
    if (state === wanted) return;
    await sleep(200);
  }
  throw new Error(`${name} is '${state}', not '${wanted}', after ${ms} ms`);
}

/** `dom.state()` of `name` from python3-libvirt, after running `before` on `dom`. */
async function pyState(uri: string, name: string, before = ""): Promise<number[]> {
  const out = await python(
    `import json, sys, libvirt\nconn = libvirt.open(sys.argv[1])\n` +
      `dom = conn.lookupByName(sys.argv[2])\n${before}\nprint(json.dumps(dom.state()))\n` +
      `conn.close()\n`,
    uri,
    name,
  );
  return JSON.parse(ok(out, `python ${before}`));
}

const count = (text: string, pattern: RegExp) =>
  (text.match(new RegExp(pattern.source, "g")) ?? []).length;

Deno.test({
  name: "qemu backend: virsh and python3-libvirt reboot, reset and shut down a Linux domain; " +
    "a panic with on_crash restart boots it again",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      let events: EventWatcher | undefined;
      const boots = (n: number) =>
        waitForConsole(d.stateDir, "p", /vmanager-guest: staying up/, 120_000, n);
      const reboots = () => count(events!.text(), /event 'reboot' for domain '?p'?/);
      try {
        events = await watchEvents(d.uri, dir);
        await Deno.writeTextFile(
          `${dir}/p.xml`,
          linuxXml("p", "1", "<on_crash>restart</on_crash>", true),
        );
        ok(await virsh(d.uri, "define", `${dir}/p.xml`), "define");
        ok(await virsh(d.uri, "start", "p"), "start");
        await boots(1);
        assert.deepEqual(await pyState(d.uri, "p"), [1, 1]); // RUNNING, BOOTED

        // virsh reboot: asks the guest (its power button) and returns; it boots again.
        let t0 = performance.now();
        assert.match(ok(await virsh(d.uri, "reboot", "p"), "reboot"), /is being rebooted/);
        assert.ok(performance.now() - t0 < 5_000, "reboot returned at once");
        const second = await boots(2);
        assert.match(second, /power button: powering off/);
        await until(d.uri, "p", "running (booted)");
        assert.ok(await events.waitFor(/event 'reboot' for domain '?p'?/), events.text());

        // virsh reset: stopped and started again at once.
        assert.match(ok(await virsh(d.uri, "reset", "p"), "reset"), /was reset/);
        await boots(3);
        assert.equal(
          (await virsh(d.uri, "domstate", "--reason", "p")).stdout.trim(),
          "running (booted)",
        );

        // python3-libvirt: reboot(0), then reset(0).
        assert.deepEqual(await pyState(d.uri, "p", "dom.reboot(0)"), [1, 1]);
        await boots(4);
        await until(d.uri, "p", "running (booted)");
        assert.deepEqual(await pyState(d.uri, "p", "dom.reset(0)"), [1, 1]);
        await boots(5);
        assert.ok(await events.waitFor(/(event 'reboot' for domain '?p'?[^]*){4}/), events.text());
        assert.equal(reboots(), 4, events.text());
        assert.doesNotMatch(events.text(), /domain '?p'?: Stopped/);

        // A kernel panic: on_crash restart boots it again (libvirt's crashed, reboot, resumed).
        await typeIntoConsole(d.stateDir, "p", "echo c > /proc/sysrq-trigger\n", /sysrq/);
        await boots(6);
        await until(d.uri, "p", "running (crashed)");
        assert.deepEqual(await pyState(d.uri, "p"), [1, 9]); // RUNNING, CRASHED
        assert.ok(
          await events.waitFor(/domain '?p'?: Crashed Panicked[^]*domain '?p'?: Resumed Unpaused/),
          events.text(),
        );
        assert.equal(reboots(), 5, events.text());

        // virsh shutdown: the power button; returns at once, the guest powers off.
        t0 = performance.now();
        assert.match(ok(await virsh(d.uri, "shutdown", "p"), "shutdown"), /is being shutdown/);
        assert.ok(performance.now() - t0 < 5_000, "shutdown returned at once");
        await until(d.uri, "p", "shut off (shutdown)");
        assert.ok(await events.waitFor(/domain '?p'?: Stopped Shutdown/), events.text());
        assert.deepEqual(await pyState(d.uri, "p"), [5, 1]); // SHUTOFF, SHUTDOWN
        const shown = JSON.parse(
          (await vmanctlProcess(["--state-dir", d.stateDir, "--json", "show", "p"])).stdout,
        );
        assert.deepEqual([shown.state, shown.reason], ["stopped", "shutdown"]);
        assert.equal(count(events.text(), /domain '?p'?: Stopped/), 1, events.text());
      } finally {
        await events?.stop();
      }
    }, ["--backend", "qemu"]);
  },
});

Deno.test({
  name: "qemu backend: a panic with on_crash preserve leaves the domain crashed (panicked)",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      let events: EventWatcher | undefined;
      try {
        events = await watchEvents(d.uri, dir);
        await Deno.writeTextFile(
          `${dir}/c.xml`,
          linuxXml("c", "2", "<on_crash>preserve</on_crash>", false),
        );
        ok(await virsh(d.uri, "define", `${dir}/c.xml`), "define");
        assert.match(ok(await virsh(d.uri, "dumpxml", "c"), "dumpxml"), /<on_crash>preserve</);
        ok(await virsh(d.uri, "start", "c"), "start");
        await waitForConsole(d.stateDir, "c", /vmanager-guest: staying up/);
        await typeIntoConsole(d.stateDir, "c", "echo c > /proc/sysrq-trigger\n", /sysrq/);
        await until(d.uri, "c", "crashed (panicked)");
        assert.deepEqual(await pyState(d.uri, "c"), [6, 1]); // CRASHED, PANICKED
        assert.ok(await events.waitFor(/domain '?c'?: Crashed Panicked/), events.text());
        assert.match(ok(await virsh(d.uri, "list", "--all"), "list"), /\bc\s+crashed/);
        // Its console is kept; destroy ends it.
        const log = await vmanctlProcess(["--state-dir", d.stateDir, "console", "--log", "c"]);
        assert.match(log.stdout, /Kernel panic - not syncing: sysrq triggered crash/);
        ok(await virsh(d.uri, "destroy", "c"), "destroy");
        await until(d.uri, "c", "shut off (destroyed)", 10_000);
        assert.ok(await events.waitFor(/domain '?c'?: Stopped Destroyed/), events.text());
        assert.doesNotMatch(events.text(), /domain '?c'?: Stopped (Shutdown|Crashed|Failed)/);
      } finally {
        await events?.stop();
      }
    }, ["--backend", "qemu"]);
  },
});

Deno.test({
  name: "qemu backend: a board without a power button refuses shutdown and reboot (destroy)",
  ignore: skip !== undefined || missing(GUESTS.riscv64) !== undefined,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startPowerDaemon(dir, { board: "qemu-virt-riscv64", backend: "qemu" });
      try {
        // No kernel is needed to be refused: its QEMU runs.
        await Deno.writeTextFile(
          `${dir}/r.xml`,
          `<domain type='vmanager'><name>r</name><memory unit='MiB'>128</memory>` +
            `<vcpu>1</vcpu><os><type arch='riscv64'>hvm</type></os></domain>`,
        );
        ok(await virsh(d.uri, "define", `${dir}/r.xml`), "define");
        ok(await virsh(d.uri, "start", "r"), "start");
        for (const verb of ["shutdown", "reboot"]) {
          const r = await virsh(d.uri, verb, "r");
          assert.equal(r.code, 1, verb);
          assert.match(
            r.stderr,
            /error: argument unsupported: cannot ask the OS of domain 'r' to power off: board qemu-virt-riscv64 has no power button .*; shutting it down needs 'virsh destroy'\n/,
          );
        }
        const code = await python(
          `import sys, libvirt\nconn = libvirt.open(sys.argv[1])\n` +
            `try:\n    conn.lookupByName("r").shutdown()\n` +
            `except libvirt.libvirtError as e:\n    print(e.get_error_code())\n`,
          d.uri,
        );
        assert.equal(ok(code, "python").trim(), "74"); // VIR_ERR_ARGUMENT_UNSUPPORTED
        assert.equal(
          (await virsh(d.uri, "domstate", "--reason", "r")).stdout.trim(),
          "running (booted)",
        );
        ok(await virsh(d.uri, "destroy", "r"), "destroy");
      } finally {
        await vmanctlProcess(["--state-dir", d.stateDir, "destroy", "r"]);
        await d.stop();
      }
    });
  },
});
