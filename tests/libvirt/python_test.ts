/** python3-libvirt (Debian's, under /usr/bin/python3) drives a real daemon. */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml, HAVE_PYTHON_LIBVIRT, python, startDaemon } from "./helpers.ts";

if (!HAVE_PYTHON_LIBVIRT) {
  console.log("skipping python3-libvirt tests: install python3-libvirt (scripts/setup.sh)");
}

const SCRIPT = `
import json, sys, libvirt
uri, xml = sys.argv[1], sys.argv[2]
out = {}
conn = libvirt.open(uri)
out["type"] = conn.getType()
out["version"] = conn.getVersion()
out["hostname"] = conn.getHostname()
dom = conn.defineXML(xml)
out["defined"] = [dom.name(), dom.UUIDString(), dom.ID(), dom.isActive()]
dom.create()
out["started"] = [dom.ID(), dom.isActive()]
out["info"] = dom.info()
out["state"] = dom.state()
out["all"] = sorted(d.name() for d in conn.listAllDomains())
out["active"] = [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
out["xml"] = dom.XMLDesc()
try:
    conn.defineXML(xml)
except libvirt.libvirtError as e:
    out["again"] = [e.get_error_code(), str(e)]
try:
    conn.defineXML("<domain type='vmanager'><name>bad")
except libvirt.libvirtError as e:
    out["malformed"] = [e.get_error_code(), str(e)]
try:
    dom.suspend()
except libvirt.libvirtError as e:
    out["suspend"] = e.get_error_code()
dom.destroy()
out["destroyed"] = [dom.state(), dom.isActive()]
dom.undefine()
out["after"] = [d.name() for d in conn.listAllDomains()]
try:
    conn.lookupByName("py1")
except libvirt.libvirtError as e:
    out["lookup"] = e.get_error_code()
conn.close()
print(json.dumps(out))
`;

Deno.test({
  name:
    "python3-libvirt: open, defineXML, create, info, state, listAllDomains, XMLDesc, destroy, undefine, close",
  ignore: !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const xml = domainXml("py1", "", "<vcpu>2</vcpu>");
        const run = await python(SCRIPT, d.uri, xml);
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout);
        assert.equal(out.type, "VMANAGER");
        assert.equal(out.version, 1000);
        assert.equal(out.hostname, Deno.hostname());
        assert.equal(out.defined[0], "py1");
        assert.match(
          out.defined[1],
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
        assert.deepEqual(out.defined.slice(2), [-1, 0]);
        assert.ok(out.started[0] > 0);
        assert.equal(out.started[1], 1);
        // [state RUNNING, maxMem KiB, memory KiB, vcpus, cpuTime]
        assert.deepEqual(out.info, [1, 131072, 131072, 2, 0]);
        assert.deepEqual(out.state, [1, 1]);
        assert.deepEqual(out.all, ["py1"]);
        assert.deepEqual(out.active, ["py1"]);
        assert.match(out.xml, new RegExp(`<uuid>${out.defined[1]}</uuid>`));
        assert.match(out.xml, /<vmanager:window base='0x[0-9a-f]+' size='0x8000000'\/>/);
        assert.equal(out.again[0], 28); // VIR_ERR_DOM_EXIST
        assert.equal(out.malformed[0], 27); // VIR_ERR_XML_ERROR
        assert.match(out.malformed[1], /malformed XML/);
        assert.equal(out.suspend, 3); // VIR_ERR_NO_SUPPORT
        assert.deepEqual(out.destroyed, [[5, 2], 0]);
        assert.deepEqual(out.after, []);
        assert.equal(out.lookup, 42); // VIR_ERR_NO_DOMAIN
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
