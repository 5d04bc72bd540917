/**
 * `VMAN_MEMORY_DIR` on the qemu backend: a Linux partition whose memory file was
 * made in another directory boots and answers on its console, and its QEMU maps
 * that file as the board's RAM.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import {
  createGuest,
  destroyAll,
  GUESTS,
  missing,
  typeIntoConsole,
  waitForConsole,
} from "./helpers.ts";

const guest = GUESTS.arm64;
const why = missing(guest);
if (why) console.log(`skipping the qemu VMAN_MEMORY_DIR test: ${why}`);

Deno.test({
  name: "VMAN_MEMORY_DIR: a partition boots Linux on the memory file made there; QEMU maps it",
  ignore: why !== undefined,
  fn: async () => {
    await withTempDir(async (dir) => {
      const [state, ram] = [`${dir}/state`, `${dir}/ram`];
      await Deno.mkdir(ram);
      await createGuest(state, guest, "p", "1", "256M", true);
      try {
        const started = await vmanctlProcess(["--state-dir", state, "start", "p"], {
          VMAN_MEMORY_DIR: ram,
        });
        assert.equal(started.code, 0, started.stderr);
        await waitForConsole(state, "p", /vmanager-guest: staying up/);
        const answer = await typeIntoConsole(state, "p", "echo up-$((6*7))\n", /up-42/);
        assert.match(answer, /up-42/);

        const target = await Deno.readLink(`${state}/memory.img`);
        assert.ok(target.startsWith(`${ram}/vmanager-memory-`), target);
        const pid = Number((await Deno.readTextFile(`${state}/qemu/1/qemu.pid`)).trim());
        // Deno reads /proc only with every permission: cat does.
        const maps = await new Deno.Command("cat", { args: [`/proc/${pid}/maps`] }).output();
        assert.ok(new TextDecoder().decode(maps.stdout).includes(target), `QEMU maps ${target}`);
      } finally {
        await destroyAll(state);
      }
    });
  },
});
