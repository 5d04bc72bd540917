/**
 * Real Linux on the emulated armv7 board (the armmp zImage through the boot shim)
 * and on the riscv64 board (OpenSBI, SBI HSM hart_start), on cores {1}, {2,3} and
 * {1,2,3}.
 */
import assert from "node:assert/strict";
import {
  bootTest,
  checkConsole,
  createGuest,
  GUESTS,
  missing,
  ok,
  report,
  waitForConsole,
} from "./helpers.ts";

const GUESTS_UNDER_TEST = [
  {
    guest: GUESTS.armv7,
    booting: (hwid: number) => new RegExp(`Booting Linux on physical CPU 0x${hwid}\\b`),
    inCpuinfo: false,
  },
  {
    guest: GUESTS.riscv64,
    // Linux 6.12 no longer prints its boot hart: CPU 0 of /proc/cpuinfo is the boot hart.
    booting: (hwid: number) => new RegExp(`processor\\s*: 0\\s+hart\\s*: ${hwid}\\b`),
    inCpuinfo: true,
  },
];
const CORE_SETS = [
  { cores: "1", count: 1, boot: 1, memory: "256M", kib: 256 * 1024 },
  { cores: "2,3", count: 2, boot: 2, memory: "512M", kib: 512 * 1024 },
  { cores: "1,2,3", count: 3, boot: 1, memory: "768M", kib: 768 * 1024 },
];

for (const c of GUESTS_UNDER_TEST) {
  const why = missing(c.guest);
  if (why) console.log(`skipping ${c.guest.board} boots: ${why}`);
  for (const set of CORE_SETS) {
    bootTest(
      `${c.guest.board}: a partition on cores {${set.cores}} with ${set.memory} boots Linux on exactly them`,
      why !== undefined,
      async (state) => {
        await createGuest(state, c.guest, "p", set.cores, set.memory, true);
        await ok(state, "start", "p");
        const text = await waitForConsole(state, "p", /vmanager-guest: staying up/);
        if (!c.inCpuinfo) assert.match(text, c.booting(set.boot));
        const r = report(text);
        assert.equal(r.cpus, set.count);
        assert.equal(r.online, set.count === 1 ? "0" : `0-${set.count - 1}`);
        assert.equal(r.memoryKb, set.kib, "the kernel's memory is the window");
        // MemTotal: the window less what the kernel keeps (its image, reserved areas), < 128 MiB.
        assert.ok(
          r.memTotalKb <= set.kib && r.memTotalKb > set.kib - 128 * 1024,
          `MemTotal ${r.memTotalKb} KiB for a ${set.kib} KiB window`,
        );
        // Typed into its console, answered through its UART's interrupts; then powered off.
        const answered = await checkConsole(state, "p");
        if (c.inCpuinfo) assert.match(answered, c.booting(set.boot));
      },
    );
  }
}

const riscvWhy = missing(GUESTS.riscv64);
bootTest(
  "qemu-virt-riscv64: a second partition cannot run beside the first (one OpenSBI region)",
  riscvWhy !== undefined,
  async (state) => {
    const guest = GUESTS.riscv64;
    await createGuest(state, guest, "a", "1", "256M", true);
    await createGuest(state, guest, "b", "2,3", "256M", true);
    await ok(state, "start", "a");
    const { vmanctl } = await import("../cli/helpers.ts");
    const refused = await vmanctl(["--state-dir", state, "start", "b"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /one RISC-V partition at a time/);
    assert.equal(refused.stderr.trim().split("\n").length, 1);
    const list = JSON.parse(await ok(state, "--json", "list"));
    assert.deepEqual(list.map((p: { state: string }) => p.state), ["running", "defined"]);
  },
);
