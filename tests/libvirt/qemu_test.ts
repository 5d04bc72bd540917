/**
 * virsh starts a partition through the daemon on the qemu backend: the Debian
 * arm64 kernel boots in it (its console, read with `vmanctl console`, has the
 * guest's marker), and virsh destroy and undefine end it.
 */
import assert from "node:assert/strict";
import { vmanctlProcess } from "../cli/helpers.ts";
import { GUESTS, missing } from "../qemu/helpers.ts";
import { HAVE_VIRSH, linuxDomainXml, virsh, withDaemon } from "./helpers.ts";

function why(): string | undefined {
  if (!HAVE_VIRSH) return "virsh is not installed";
  return missing(GUESTS.arm64);
}
const skip = why();
if (skip) console.log(`skipping the virsh boot on the qemu backend: ${skip}`);

Deno.test({
  name: "virsh start boots Linux in a partition on the qemu backend; destroy ends it",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const cli = ["--state-dir", d.stateDir];
      await Deno.writeTextFile(
        `${dir}/linux.xml`,
        linuxDomainXml({ name: "linux", vcpu: "<vcpu cpuset='2-3'>2</vcpu>" }),
      );
      const define = await virsh(d.uri, "define", `${dir}/linux.xml`);
      assert.equal(define.code, 0, define.stderr);
      assert.match((await virsh(d.uri, "dumpxml", "linux")).stdout, /<vmanager:backend>qemu</);
      const start = await virsh(d.uri, "start", "linux");
      assert.equal(start.code, 0, start.stderr);
      let text = "";
      const deadline = Date.now() + 120_000;
      while (!/vmanager-guest: up cpus=2 /.test(text) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        text = (await vmanctlProcess([...cli, "console", "--log", "linux"])).stdout;
      }
      assert.match(text, /Booting Linux on physical CPU 0x0*2 /);
      assert.match(text, /vmanager-guest: up cpus=2 /);
      assert.equal((await virsh(d.uri, "domstate", "linux")).stdout.trim(), "running");
      const destroy = await virsh(d.uri, "destroy", "linux");
      assert.equal(destroy.code, 0, destroy.stderr);
      assert.equal((await virsh(d.uri, "domstate", "linux")).stdout.trim(), "shut off");
      assert.equal((await virsh(d.uri, "undefine", "linux")).code, 0);
    }, ["--backend", "qemu"]);
  },
});

Deno.test({
  name: "a partition whose Linux powers off is shut off (shutdown) in virsh, as in vmanctl list",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const cli = ["--state-dir", d.stateDir];
      await Deno.writeTextFile(
        `${dir}/off.xml`,
        linuxDomainXml({ name: "off", stay: false }),
      );
      assert.equal((await virsh(d.uri, "define", `${dir}/off.xml`)).code, 0);
      const start = await virsh(d.uri, "start", "off");
      assert.equal(start.code, 0, start.stderr);
      let state = "";
      const deadline = Date.now() + 120_000;
      while (state !== "shut off (shutdown)" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        state = (await virsh(d.uri, "domstate", "--reason", "off")).stdout.trim();
      }
      assert.equal(state, "shut off (shutdown)");
      const list = JSON.parse((await vmanctlProcess([...cli, "--json", "list"])).stdout);
      assert.equal(list[0].state, "stopped");
      // It starts again from virsh.
      const again = await virsh(d.uri, "start", "off");
      assert.equal(again.code, 0, again.stderr);
    }, ["--backend", "qemu"]);
  },
});
