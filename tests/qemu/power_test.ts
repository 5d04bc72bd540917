/**
 * Operating partitions, real kernels on the qemu backend: `shutdown` presses the
 * Arm boards' power button and the guest powers off (reason `shutdown`); a guest
 * that ignores it makes `shutdown --timeout` fail with one line, and `--force` stops
 * it; riscv64 has no button and says so; `reboot` and `reset` boot it again; a
 * guest that reboots itself comes back with on_reboot restart and stays down with
 * destroy; a guest that panics boots again with on_crash restart, and is kept as
 * `crashed` with its console with preserve — with a daemon running and without.
 */
import assert from "node:assert/strict";
import { vmanctlProcess } from "../cli/helpers.ts";
import {
  bootStaying,
  bootTest,
  type Guest,
  GUESTS,
  missing,
  ok,
  typeIntoConsole,
  waitForConsole,
  waitForReason,
} from "./helpers.ts";

/** Creates and starts `p` on `guest` with a shell on its console and the given options. */
async function bootWith(
  state: string,
  guest: Guest,
  options: { button?: boolean; cmdline?: string; flags?: string[] } = {},
): Promise<void> {
  const devices = options.button ? ["--device", "uart0", "--device", "gpio0"] : [];
  await bootStaying(state, guest, {
    cmdline: options.cmdline,
    args: [...devices, ...(options.flags ?? [])],
  });
}

async function show(state: string): Promise<Record<string, unknown>> {
  return JSON.parse(await ok(state, "--json", "show", "p"));
}

for (const guest of [GUESTS.arm64, GUESTS.armv7]) {
  bootTest(
    `shutdown on ${guest.board}: the power button powers the guest off (reason shutdown)`,
    missing(guest) !== undefined,
    async (state) => {
      await bootWith(state, guest, { button: true });
      const out = await ok(state, "shutdown", "p", "--timeout", "60");
      assert.equal(out, "Partition p shut down\n");
      const shown = await show(state);
      assert.equal(shown.state, "stopped");
      assert.equal(shown.reason, "shutdown");
      assert.match(await ok(state, "console", "--log", "p"), /power button: powering off/);
    },
  );
}

const arm64 = GUESTS.arm64;
const skip = missing(arm64) !== undefined;

bootTest(
  "shutdown: a guest that ignores the button fails after --timeout, then --force stops it",
  skip,
  async (state) => {
    await bootWith(state, arm64, { button: true, cmdline: "vmanager.ignore-power" });
    const t0 = performance.now();
    const r = await vmanctlProcess(["--state-dir", state, "shutdown", "p", "--timeout", "5"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vmanctl: partition p did not power off within 5 s; 'vmanctl shutdown --force' " +
        "stops it hard (p)\n",
    );
    assert.ok(performance.now() - t0 < 15_000);
    assert.equal((await show(state)).state, "running");
    await typeIntoConsole(state, "p", "echo alive-$((5*5))\n", /alive-25/);
    const forced = await ok(state, "shutdown", "p", "--timeout", "1", "--force");
    assert.equal(forced, "Partition p stopped (forced)\n");
    assert.equal((await show(state)).reason, "destroyed");
  },
);

bootTest(
  "shutdown: a board without a power button says so and asks for --force",
  missing(GUESTS.riscv64) !== undefined,
  async (state) => {
    await bootWith(state, GUESTS.riscv64);
    const r = await vmanctlProcess(["--state-dir", state, "shutdown", "p"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^vmanctl: board qemu-virt-riscv64 has no power button .*'vmanctl shutdown --force' stops it hard\n$/,
    );
    assert.equal((await show(state)).state, "running");
    assert.equal((await show(state)).pending, undefined);
  },
);

bootTest(
  "reboot and reset: the partition boots again, its images loaded again",
  skip,
  async (state) => {
    await bootWith(state, arm64, { button: true });
    assert.equal(await ok(state, "reboot", "p"), "Partition p rebooted\n");
    await waitForConsole(state, "p", /vmanager-guest: staying up/, 120_000, 2);
    assert.equal((await show(state)).reason, "restarted");
    assert.equal(await ok(state, "reset", "p"), "Partition p reset\n");
    await waitForConsole(state, "p", /vmanager-guest: staying up/, 120_000, 3);
    await typeIntoConsole(state, "p", "echo third-$((3*3))\n", /third-9/);
  },
);

bootTest(
  "on_reboot: a guest that reboots comes back with restart, stays stopped with destroy",
  skip,
  async (state) => {
    await bootWith(state, arm64, { flags: ["--on-reboot", "restart"] });
    await typeIntoConsole(state, "p", "reboot -f\n", /reboot -f/);
    await waitForConsole(state, "p", /vmanager-guest: staying up/, 120_000, 2);
    await waitForReason(state, "p", "running", "restarted");
    await ok(state, "destroy", "p");

    await bootWith(state, arm64, { flags: ["--on-reboot", "destroy"] });
    await typeIntoConsole(state, "p", "reboot -f\n", /reboot -f/);
    await waitForReason(state, "p", "stopped", "shutdown");
    const text = await ok(state, "console", "--log", "p");
    assert.equal(text.match(/vmanager-guest: staying up/g)?.length, 1, "no second boot");
  },
);

for (const daemon of [false, true]) {
  bootTest(
    `on_crash: a panicking guest boots again with restart, is kept crashed with preserve ` +
      `(${daemon ? "with" : "without"} a daemon running)`,
    skip,
    async (state) => {
      const d = daemon ? await startDaemon(state) : undefined;
      try {
        await bootWith(state, arm64, { flags: ["--on-crash", "restart"] });
        await typeIntoConsole(state, "p", "echo c > /proc/sysrq-trigger\n", /sysrq/);
        await waitForConsole(state, "p", /vmanager-guest: staying up/, 120_000, 2);
        const restarted = await waitForReason(state, "p", "running", "restarted");
        assert.match(JSON.stringify(restarted.runtime), /kernel panicked/);
        await ok(state, "destroy", "p");

        await bootWith(state, arm64, { flags: ["--on-crash", "preserve"] });
        await typeIntoConsole(state, "p", "echo c > /proc/sysrq-trigger\n", /sysrq/);
        const kept = await waitForReason(state, "p", "crashed", "crashed");
        const ended = kept.runtime as { reason: string; console: string[] };
        assert.equal(ended.reason, "its kernel panicked");
        assert.ok(ended.console.some((l) => l.includes("Kernel panic")), "its last console lines");
        assert.match(await ok(state, "console", "--log", "p"), /sysrq triggered crash/);
        const list = JSON.parse(await ok(state, "--json", "list"));
        assert.equal(list[0].state, "crashed");
      } finally {
        d?.kill("SIGTERM");
        await d?.status;
      }
    },
  );
}

/** A `vmanctl daemon` on the state dir, as an orchestrator would run it. */
async function startDaemon(state: string): Promise<Deno.ChildProcess> {
  const { VMANCTL_FLAGS, ROOT } = await import("../cli/helpers.ts");
  const socket = `${state}/daemon.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...VMANCTL_FLAGS,
      `${ROOT}/main.ts`,
      "--state-dir",
      state,
      "--board",
      arm64.board,
      "--backend",
      "qemu",
      "daemon",
      "--socket",
      socket,
      "--ro-socket",
      `${state}/daemon-ro.sock`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      await Deno.lstat(socket);
      return child;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGKILL");
  throw new Error("the daemon did not come up");
}
