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
      const reading = (async () => {
        for await (const chunk of watcher.stdout) seen += decoder.decode(chunk, { stream: true });
      })();
      const waitFor = async (pattern: RegExp, ms = 15_000) => {
        const deadline = Date.now() + ms;
        while (!pattern.test(seen)) {
          if (Date.now() > deadline) return false;
          await new Promise((r) => setTimeout(r, 25));
        }
        return true;
      };
      const expect = async (pattern: RegExp) =>
        assert.ok(await waitFor(pattern), `no ${pattern} in: ${seen}`);
      try {
        // virsh registers its callback a moment after it starts: define and undefine a probe
        // domain until its events come through.
        await Deno.writeTextFile(`${dir}/probe.xml`, domainXml("probe"));
        let registered = false;
        for (let i = 0; i < 40 && !registered; i++) {
          assert.equal((await virsh(d.uri, "define", `${dir}/probe.xml`)).code, 0);
          registered = await waitFor(/domain '?probe'?: Defined Added/, 250);
          assert.equal((await virsh(d.uri, "undefine", "probe")).code, 0);
        }
        assert.ok(registered, `virsh event never heard of the probe: ${seen}`);
        await expect(/domain '?probe'?: Undefined Removed/);
        await Deno.writeTextFile(`${dir}/e.xml`, domainXml("ev1"));
        assert.equal((await virsh(d.uri, "define", `${dir}/e.xml`)).code, 0);
        await expect(/event 'lifecycle' for domain '?ev1'?: Defined Added/);
        assert.equal((await virsh(d.uri, "start", "ev1")).code, 0);
        await expect(/event 'lifecycle' for domain '?ev1'?: Started Booted/);
        assert.equal((await virsh(d.uri, "destroy", "ev1")).code, 0);
        await expect(/event 'lifecycle' for domain '?ev1'?: Stopped Destroyed/);
        // Changes made by vmanctl reach the daemon's clients too.
        const cli = ["--state-dir", d.stateDir];
        assert.equal((await vmanctlProcess([...cli, "start", "ev1"])).code, 0);
        await expect(/(Started Booted[^]*){2}/);
        assert.equal((await vmanctlProcess([...cli, "destroy", "ev1"])).code, 0);
        await expect(/(Stopped Destroyed[^]*){2}/);
        await expect(/event 'lifecycle' for domain '?ev1'?: Undefined Removed/);
      } finally {
        watcher.kill("SIGINT");
        // virsh leaves its event loop on SIGINT; one that does not within 3 s is killed.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          watcher.status.then(() => true),
          new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 3000)),
        ]);
        clearTimeout(timer);
        if (!ended) watcher.kill("SIGKILL");
        await watcher.status;
        await reading;
        await watcher.stderr.cancel().catch(() => {});
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
