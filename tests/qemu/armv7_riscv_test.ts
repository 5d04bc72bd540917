/**
 * Real Linux on the emulated armv7 board (the armmp zImage through the boot shim)
 * and on the riscv64 board (OpenSBI, SBI HSM hart_start), on cores {2,3} with a
 * 512 MiB window.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import {
  createGuest,
  destroyAll,
  GUESTS,
  missing,
  ok,
  report,
  waitForConsole,
  waitForState,
} from "./helpers.ts";

const CASES = [
  { guest: GUESTS.armv7, booting: /Booting Linux on physical CPU 0x2\b/ },
  { guest: GUESTS.riscv64, booting: /Booting Linux on hartid 2\b/ },
];

for (const c of CASES) {
  const why = missing(c.guest);
  if (why) console.log(`skipping ${c.guest.board} boots: ${why}`);
  Deno.test({
    name: `${c.guest.board}: a partition on cores {2,3} with 512M boots Linux on exactly them`,
    ignore: why !== undefined,
    fn: () =>
      withTempDir(async (state) => {
        try {
          await createGuest(state, c.guest, "p", "2,3", "512M");
          await ok(state, "start", "p");
          const text = await waitForConsole(state, "p", /vmanager-guest: powering off/);
          assert.match(text, c.booting);
          const r = report(text);
          assert.equal(r.cpus, 2);
          assert.equal(r.online, "0-1");
          assert.equal(r.memoryKb, 512 * 1024, "the kernel's memory is the window");
          assert.ok(r.memTotalKb <= 512 * 1024 && r.memTotalKb > 0.8 * 512 * 1024);
          // Its OS powered off: the partition shows as stopped, and starts again.
          await waitForState(state, "p", "stopped");
        } finally {
          await destroyAll(state);
        }
      }),
  });
}

const riscvWhy = missing(GUESTS.riscv64);
Deno.test({
  name: "qemu-virt-riscv64: a second partition cannot run beside the first (one OpenSBI region)",
  ignore: riscvWhy !== undefined,
  fn: () =>
    withTempDir(async (state) => {
      try {
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
      } finally {
        await destroyAll(state);
      }
    }),
});
