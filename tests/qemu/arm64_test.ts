/**
 * Real Linux on the emulated arm64 board (qemu backend): partitions on cores {1},
 * {2,3} and {1,2,3} boot the Debian arm64 kernel on exactly their cores, from
 * their boot core's MPIDR, with exactly their window as memory.
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

const guest = GUESTS.arm64;
const why = missing(guest);
if (why) console.log(`skipping arm64 boots: ${why}`);

const CASES = [
  { cores: "1", count: 1, boot: 1, memory: "256M", kib: 256 * 1024 },
  { cores: "2,3", count: 2, boot: 2, memory: "512M", kib: 512 * 1024 },
  { cores: "1,2,3", count: 3, boot: 1, memory: "768M", kib: 768 * 1024 },
];

for (const c of CASES) {
  bootTest(
    `arm64 partition on cores {${c.cores}} with ${c.memory} boots Linux on exactly them`,
    why !== undefined,
    async (state) => {
      await createGuest(state, guest, "p", c.cores, c.memory, true);
      await ok(state, "start", "p");
      const text = await waitForConsole(state, "p", /vmanager-guest: staying up/);
      const mpidr = c.boot.toString(16).padStart(10, "0");
      assert.match(text, new RegExp(`Booting Linux on physical CPU 0x${mpidr} `));
      const r = report(text);
      assert.equal(r.cpus, c.count);
      assert.equal(r.online, c.count === 1 ? "0" : `0-${c.count - 1}`);
      assert.equal(r.memoryKb, c.kib, "the kernel's memory is the window");
      assert.ok(
        r.memTotalKb <= c.kib && r.memTotalKb > c.kib - 128 * 1024,
        `MemTotal ${r.memTotalKb} KiB for a ${c.kib} KiB window`,
      );
      // Typed into its console, answered through its UART's interrupts; then powered off.
      await checkConsole(state, "p");
    },
  );
}
