/**
 * Redefinition is an update, as in libvirt: the real virsh and python3-libvirt
 * against a real `vmanctl daemon` on the sim backend. `virsh edit` of a defined
 * domain, `virsh define` of a running one (its next definition: `dumpxml
 * --inactive`, `isUpdated()`), and the codes of the refusals.
 */
import assert from "node:assert/strict";
import {
  type ClientResult,
  domainXml,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  python,
  run,
  virsh,
} from "./helpers.ts";
import { withSimDaemon } from "./sim_daemon.ts";

if (!HAVE_VIRSH || !HAVE_PYTHON_LIBVIRT) {
  console.log("skipping redefine tests: install libvirt-clients and python3-libvirt");
}

/** `<memory unit='KiB'>` of a domain XML. */
function memoryKiB(xml: string): number {
  return Number(/<memory unit='KiB'>(\d+)<\/memory>/.exec(xml)?.[1]);
}

/** virsh with `EDITOR` (and no `VISUAL`), as `virsh edit` runs it. */
function virshWithEditor(uri: string, editor: string, ...args: string[]): Promise<ClientResult> {
  return run("virsh", ["-c", uri, ...args], {
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/tmp", EDITOR: editor },
  });
}

Deno.test({
  name: "virsh edit with a sed EDITOR changes a defined domain's memory; dumpxml shows it",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withSimDaemon(async (d, dir) => {
      await Deno.writeTextFile(`${dir}/a.xml`, domainXml("a"));
      assert.equal((await virsh(d.uri, "define", `${dir}/a.xml`)).code, 0);
      const uuid = (await virsh(d.uri, "domuuid", "a")).stdout.trim();
      const edit = await virshWithEditor(d.uri, "sed -i s/131072/262144/g", "edit", "a");
      assert.equal(edit.code, 0, edit.stderr);
      assert.match(edit.stdout, /Domain 'a' XML configuration edited/);
      const xml = (await virsh(d.uri, "dumpxml", "a")).stdout;
      assert.equal(memoryKiB(xml), 262144);
      assert.match(xml, new RegExp(`<uuid>${uuid}</uuid>`));
      // An editor that changes nothing: virsh sees no change and defines nothing.
      const same = await virshWithEditor(d.uri, "true", "edit", "a");
      assert.equal(same.code, 0, same.stderr);
      assert.match(same.stdout, /not changed/);
    });
  },
});

const RUNNING = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName("a")
out = {"updated": dom.isUpdated()}
out["state"] = dom.state()
out["live"] = dom.XMLDesc(0)
out["inactive"] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
out["persistent"] = dom.isPersistent()
print(json.dumps(out))
`;

Deno.test({
  name:
    "define of a running domain: it keeps running as it was; --inactive and isUpdated show the next definition, the next start runs it",
  ignore: !HAVE_VIRSH || !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withSimDaemon(async (d, dir) => {
      await Deno.writeTextFile(`${dir}/a.xml`, domainXml("a"));
      assert.equal((await virsh(d.uri, "define", `${dir}/a.xml`)).code, 0);
      assert.equal((await virsh(d.uri, "start", "a")).code, 0);
      const changed = domainXml("a").replace("128</memory>", "256</memory>");
      await Deno.writeTextFile(`${dir}/a2.xml`, changed);
      const define = await virsh(d.uri, "define", `${dir}/a2.xml`);
      assert.equal(define.code, 0, define.stderr);
      assert.equal(memoryKiB((await virsh(d.uri, "dumpxml", "a")).stdout), 131072);
      assert.equal(memoryKiB((await virsh(d.uri, "dumpxml", "--inactive", "a")).stdout), 262144);
      assert.equal((await virsh(d.uri, "domstate", "a")).stdout.trim(), "running");
      const run = await python(RUNNING, d.uri);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.equal(out.updated, 1);
      assert.deepEqual(out.state, [1, 1]);
      assert.equal(memoryKiB(out.live), 131072);
      assert.equal(memoryKiB(out.inactive), 262144);
      assert.doesNotMatch(out.inactive, /<domain type='vmanager' id=/);
      assert.equal(out.persistent, 1);
      assert.equal((await virsh(d.uri, "destroy", "a")).code, 0);
      assert.equal(memoryKiB((await virsh(d.uri, "dumpxml", "a")).stdout), 262144);
      assert.equal((await virsh(d.uri, "start", "a")).code, 0);
      assert.equal(memoryKiB((await virsh(d.uri, "dumpxml", "a")).stdout), 262144);
      const info = await virsh(d.uri, "dominfo", "a");
      assert.match(info.stdout, /Max memory:\s+262144 KiB/);
      const again = JSON.parse((await python(RUNNING, d.uri)).stdout);
      assert.equal(again.updated, 0);
    });
  },
});

const REFUSALS = `
import json, sys, libvirt
uri, a, busy, other_uuid, stolen_uuid, b_busy = sys.argv[1:7]
conn = libvirt.open(uri)
out = {}
def code(f):
    try:
        f()
        return 0
    except libvirt.libvirtError as e:
        return [e.get_error_code(), str(e)]
conn.defineXML(a)
out["busy"] = code(lambda: conn.defineXML(busy))
out["other_uuid"] = code(lambda: conn.defineXML(other_uuid))
out["stolen_uuid"] = code(lambda: conn.defineXML(stolen_uuid))
b = conn.defineXML(busy.replace("cpuset='1'", "cpuset='2'"))
conn.lookupByName("a").create()
before = b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
out["b_busy"] = code(lambda: conn.defineXML(b_busy))
out["b_unchanged"] = b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
out["names"] = sorted(d.name() for d in conn.listAllDomains())
print(json.dumps(out))
`;

Deno.test({
  name:
    "define refusals carry libvirt's codes: cores another domain holds 55, a name or UUID another domain holds 9; nothing changes",
  ignore: !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withSimDaemon(async (d) => {
      const uuidA = "6f2b3c1e-8d4a-4e59-9c1b-2a3d4e5f6a7b";
      const withUuid = (xml: string, uuid: string) =>
        xml.replace("<memory", `<uuid>${uuid}</uuid>\n  <memory`);
      const a = withUuid(domainXml("a", "", "<vcpu cpuset='1'>1</vcpu>"), uuidA);
      const busy = domainXml("b", "", "<vcpu cpuset='1'>1</vcpu>");
      const otherUuid = withUuid(domainXml("a"), "11111111-2222-4333-8444-555555555555");
      const stolen = withUuid(domainXml("c"), uuidA);
      const bBusy = domainXml("b", "", "<vcpu cpuset='1-2'>2</vcpu>");
      const run = await python(REFUSALS, d.uri, a, busy, otherUuid, stolen, bBusy);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout);
      assert.equal(out.busy[0], 55); // VIR_ERR_OPERATION_INVALID, as a host device in use
      assert.match(out.busy[1], /core 1 is held by partition a/);
      assert.equal(out.other_uuid[0], 9); // VIR_ERR_OPERATION_FAILED
      assert.match(out.other_uuid[1], new RegExp(`domain 'a' already exists with uuid ${uuidA}`));
      assert.equal(out.stolen_uuid[0], 9);
      assert.match(
        out.stolen_uuid[1],
        new RegExp(`domain 'a' is already defined with uuid ${uuidA}`),
      );
      // A redefinition that needs a core a running domain holds: refused, the definition kept.
      assert.equal(out.b_busy[0], 55);
      assert.equal(out.b_unchanged, true);
      assert.deepEqual(out.names, ["a", "b"]);
    });
  },
});
