/**
 * A transient domain through libvirt's reboot and shutdown (a fake backend whose
 * guests power off a moment after their power button is pressed): a reboot starts
 * it again and it stays, as libvirt's reboot of a transient domain; a shutdown
 * (its OS powering off) removes it.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml, HAVE_VIRSH, sleep, virsh } from "./helpers.ts";
import { FakeGuests, startPowerDaemon, stateRecord } from "./power_helpers.ts";

if (!HAVE_VIRSH) console.log("skipping the transient power tests: virsh is missing");

/** Polls the state dir until `test` holds of `name`'s record (undefined: none); returns it. */
async function until(
  stateDir: string,
  name: string,
  test: (record: Record<string, unknown> | undefined) => boolean,
): Promise<Record<string, unknown> | undefined> {
  const deadline = Date.now() + 10_000;
  let record: Record<string, unknown> | undefined;
  while (Date.now() < deadline) {
    record = await stateRecord(stateDir, name);
    if (test(record)) return record;
    await sleep(20);
  }
  throw new Error(`${name} is not as expected: ${JSON.stringify(record)}`);
}

Deno.test({
  name: "a transient domain rebooted stays, running again; shut down, it is gone",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const guests = new FakeGuests();
      guests.delayMs = 200;
      const d = await startPowerDaemon(dir, {
        backend: "fake-power",
        extra: [guests.plugin()],
        power: { timeoutMs: 5_000, pollMs: 50 },
      });
      try {
        await Deno.writeTextFile(`${dir}/t.xml`, domainXml("t"));
        assert.equal((await virsh(d.uri, "create", `${dir}/t.xml`)).code, 0);
        const before = await stateRecord(d.stateDir, "t");
        assert.equal(before?.transient, true);
        assert.equal((await virsh(d.uri, "reboot", "t")).code, 0);
        const again = await until(
          d.stateDir,
          "t",
          (r) => r?.state === "running" && r.started !== before?.started && !r.pending,
        );
        assert.equal(again?.transient, true);
        assert.equal(again?.reason, "restarted");
        assert.equal((await virsh(d.uri, "domstate", "t")).stdout.trim(), "running");
        assert.equal((await virsh(d.uri, "shutdown", "t")).code, 0);
        await until(d.stateDir, "t", (r) => r === undefined);
        const list = await virsh(d.uri, "list", "--all", "--name");
        assert.equal(list.stdout.trim(), "");
      } finally {
        await d.stop();
        guests.close();
      }
    });
  },
});
