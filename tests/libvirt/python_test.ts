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
        assert.equal(out.again, undefined); // the same definition again: an update, no change
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

const OLDER = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
out = {}
a = conn.defineXML(sys.argv[2])
b = conn.defineXML(sys.argv[3])
a.create()
out["ids"] = conn.listDomainsID()
out["num"] = conn.numOfDomains()
out["defined"] = conn.listDefinedDomains()
out["num_defined"] = conn.numOfDefinedDomains()
out["by_id"] = conn.lookupByID(a.ID()).name()
out["by_uuid"] = conn.lookupByUUIDString(b.UUIDString()).name()
out["max_vcpus"] = conn.getMaxVcpus(None)
out["max_memory"] = a.maxMemory()
out["dom_max_vcpus"] = a.maxVcpus()
out["os_type"] = a.OSType()
out["persistent"] = [a.isPersistent(), a.isUpdated()]
b.setAutostart(1)
out["autostart"] = [a.autostart(), b.autostart()]
out["lib_version"] = conn.getLibVersion()
out["secure"] = conn.isSecure()
out["caps"] = "<arch>aarch64</arch>" in conn.getCapabilities()
out["node"] = conn.getInfo()
# The dry-run backend has no power button to press: shutdown is refused, destroy stops it.
try:
    a.shutdown()
except libvirt.libvirtError as e:
    out["shutdown_refused"] = e.get_error_code()
a.destroy()
out["after_shutdown"] = a.state()
# The read-only socket refuses changes itself (the client does not know it is read-only).
ro = libvirt.open(sys.argv[4])
for name, change in [("create", lambda: ro.lookupByName(b.name()).create()),
                     ("define", lambda: ro.defineXML(sys.argv[3].replace("old2", "old3"))),
                     ("autostart", lambda: ro.lookupByName(b.name()).setAutostart(0))]:
    try:
        change()
    except libvirt.libvirtError as e:
        out["ro_" + name] = [e.get_error_code(), str(e)]
out["ro_list"] = sorted(d.name() for d in ro.listAllDomains())
ro.close()
a.undefine(); b.undefine()
conn.close()
print(json.dumps(out))
`;

Deno.test({
  name: "python3-libvirt: the older list and lookup calls, limits, autostart, shutdown, read-only",
  ignore: !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const run = await python(
          OLDER,
          d.uri,
          domainXml("old1", "", "<vcpu>2</vcpu>"),
          domainXml("old2"),
          d.roUri,
        );
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout);
        assert.equal(out.ids.length, 1);
        assert.equal(out.num, 1);
        assert.deepEqual(out.defined, ["old2"]);
        assert.equal(out.num_defined, 1);
        assert.equal(out.by_id, "old1");
        assert.equal(out.by_uuid, "old2");
        assert.equal(out.max_vcpus, 4);
        assert.equal(out.max_memory, 131072);
        assert.equal(out.dom_max_vcpus, 2);
        assert.equal(out.os_type, "hvm");
        assert.deepEqual(out.persistent, [1, 0]);
        assert.deepEqual(out.autostart, [0, 1]);
        assert.equal(out.lib_version, 9000000);
        assert.equal(out.secure, 1);
        assert.equal(out.caps, true);
        // [model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]
        assert.deepEqual(out.node, ["aarch64", 2048, 4, 0, 1, 1, 4, 1]);
        assert.equal(out.shutdown_refused, 74); // VIR_ERR_ARGUMENT_UNSUPPORTED
        assert.deepEqual(out.after_shutdown, [5, 2]);
        for (const change of ["create", "define", "autostart"]) {
          assert.equal(out[`ro_${change}`][0], 29, change); // VIR_ERR_OPERATION_DENIED
          assert.match(out[`ro_${change}`][1], /read only access prevents/);
        }
        assert.deepEqual(out.ro_list, ["old1", "old2"]);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
