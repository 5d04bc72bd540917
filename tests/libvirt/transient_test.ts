/**
 * Transient domains, as in libvirt: `virsh create FILE` defines and starts one
 * that is gone once it stops; `virsh undefine` of a running domain makes it
 * transient. The real virsh against a real `vmanctl daemon` on the sim backend;
 * vmanctl sees the same.
 */
import assert from "node:assert/strict";
import { vmanctl } from "../cli/helpers.ts";
import { type Daemon, domainXml, field, HAVE_VIRSH, virsh } from "./helpers.ts";
import { withSimDaemon } from "./sim_daemon.ts";

if (!HAVE_VIRSH) console.log("skipping transient tests: install libvirt-clients");

/** The names `virsh list --all` shows, with their state. */
async function listed(d: Daemon): Promise<string[]> {
  const list = await virsh(d.uri, "list", "--all");
  assert.equal(list.code, 0, list.stderr);
  return list.stdout.split("\n").slice(2).map((l) => l.trim().split(/\s+/).slice(1).join(" "))
    .filter((l) => l !== "");
}

Deno.test({
  name:
    "virsh create makes a transient domain: running, Persistent no, transient in vmanctl; gone after destroy",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withSimDaemon(async (d, dir) => {
      await Deno.writeTextFile(`${dir}/t.xml`, domainXml("t"));
      const create = await virsh(d.uri, "create", `${dir}/t.xml`);
      assert.equal(create.code, 0, create.stderr);
      assert.deepEqual(await listed(d), ["t running"]);
      assert.equal((await virsh(d.uri, "list", "--transient", "--name")).stdout.trim(), "t");
      assert.equal((await virsh(d.uri, "list", "--persistent", "--name")).stdout.trim(), "");
      const info = await virsh(d.uri, "dominfo", "t");
      assert.equal(field(info.stdout, "Persistent"), "no");
      assert.equal(field(info.stdout, "State"), "running");
      const list = await vmanctl(["--state-dir", d.stateDir, "list"]);
      assert.match(list.stdout, /^t\s+\d+\s+running \(transient\)/m);
      const show = await vmanctl(["--state-dir", d.stateDir, "show", "t", "--json"]);
      assert.equal(JSON.parse(show.stdout).transient, true);
      // A transient domain cannot be undefined (libvirt: OPERATION_INVALID).
      const undefine = await virsh(d.uri, "undefine", "t");
      assert.notEqual(undefine.code, 0);
      assert.match(undefine.stderr, /cannot undefine transient domain/);
      assert.equal((await virsh(d.uri, "destroy", "t")).code, 0);
      assert.deepEqual(await listed(d), []);
      assert.equal((await vmanctl(["--state-dir", d.stateDir, "list", "--name"])).stdout, "");
    });
  },
});

Deno.test({
  name: "virsh create whose start fails leaves nothing behind",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withSimDaemon(async (d, dir) => {
      await Deno.writeTextFile(`${dir}/junk`, "not a kernel");
      const xml = domainXml("k", "", "<vcpu>1</vcpu>").replace(
        "</os>",
        `<kernel>${dir}/junk</kernel></os>`,
      );
      await Deno.writeTextFile(`${dir}/k.xml`, xml);
      const create = await virsh(d.uri, "create", `${dir}/k.xml`);
      assert.notEqual(create.code, 0);
      assert.deepEqual(await listed(d), []);
      // Its cores and window are free again.
      await Deno.writeTextFile(`${dir}/p.xml`, domainXml("p", "", "<vcpu>3</vcpu>"));
      assert.equal((await virsh(d.uri, "define", `${dir}/p.xml`)).code, 0);
    });
  },
});

Deno.test({
  name:
    "virsh undefine of a running domain makes it transient: it keeps running, gone after destroy",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withSimDaemon(async (d, dir) => {
      await Deno.writeTextFile(`${dir}/u.xml`, domainXml("u"));
      assert.equal((await virsh(d.uri, "define", `${dir}/u.xml`)).code, 0);
      assert.equal((await virsh(d.uri, "start", "u")).code, 0);
      assert.equal(field((await virsh(d.uri, "dominfo", "u")).stdout, "Persistent"), "yes");
      const undefine = await virsh(d.uri, "undefine", "u");
      assert.equal(undefine.code, 0, undefine.stderr);
      const info = await virsh(d.uri, "dominfo", "u");
      assert.equal(field(info.stdout, "Persistent"), "no");
      assert.equal(field(info.stdout, "State"), "running");
      assert.deepEqual(await listed(d), ["u running"]);
      // Defining it again makes it persistent again (as virt-install's define after create).
      assert.equal((await virsh(d.uri, "define", `${dir}/u.xml`)).code, 0);
      assert.equal(field((await virsh(d.uri, "dominfo", "u")).stdout, "Persistent"), "yes");
      assert.equal((await virsh(d.uri, "undefine", "u")).code, 0);
      assert.equal((await virsh(d.uri, "destroy", "u")).code, 0);
      assert.deepEqual(await listed(d), []);
    });
  },
});
