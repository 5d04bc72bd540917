/**
 * `virsh event --loop` against a real daemon hears the lifecycle of domains,
 * whether virsh or vmanctl changed them.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { domainXml, HAVE_VIRSH, startDaemon, virsh } from "./helpers.ts";

if (!HAVE_VIRSH) {
  console.log("skipping virsh event tests: install libvirt-clients (scripts/setup.sh)");
}

Deno.test({
  name: "virsh event --loop receives defined, started, stopped and undefined events",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      const watcher = new Deno.Command("virsh", {
        args: ["-c", d.uri, "event", "--loop", "--event", "lifecycle"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let seen = "";
      const decoder = new TextDecoder();
      const reader = watcher.stdout.getReader();
      const waitFor = async (pattern: RegExp) => {
        const deadline = Date.now() + 15_000;
        while (!pattern.test(seen)) {
          if (Date.now() > deadline) throw new Error(`no ${pattern} in: ${seen}`);
          const { value, done } = await reader.read();
          if (done) throw new Error(`virsh event ended: ${seen}`);
          seen += decoder.decode(value, { stream: true });
        }
      };
      try {
        // virsh registers its callback right after connecting; give it that moment.
        await new Promise((r) => setTimeout(r, 500));
        await Deno.writeTextFile(`${dir}/e.xml`, domainXml("ev1"));
        assert.equal((await virsh(d.uri, "define", `${dir}/e.xml`)).code, 0);
        await waitFor(/event 'lifecycle' for domain '?ev1'?: Defined Added/);
        assert.equal((await virsh(d.uri, "start", "ev1")).code, 0);
        await waitFor(/event 'lifecycle' for domain '?ev1'?: Started Booted/);
        assert.equal((await virsh(d.uri, "destroy", "ev1")).code, 0);
        await waitFor(/event 'lifecycle' for domain '?ev1'?: Stopped Destroyed/);
        // Changes made by vmanctl reach the daemon's clients too.
        const cli = ["--state-dir", d.stateDir];
        assert.equal((await vmanctlProcess([...cli, "start", "ev1"])).code, 0);
        await waitFor(/(Started Booted[^]*){2}/);
        assert.equal((await vmanctlProcess([...cli, "destroy", "ev1"])).code, 0);
        await waitFor(/(Stopped Destroyed[^]*){2}/);
        await waitFor(/event 'lifecycle' for domain '?ev1'?: Undefined Removed/);
      } finally {
        watcher.kill("SIGINT");
        await reader.cancel().catch(() => {});
        await watcher.status;
        await watcher.stderr.cancel().catch(() => {});
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
