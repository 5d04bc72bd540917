/**
 * What Cockpit's machines page asks (through libvirt-dbus, which maps each D-Bus call
 * to one libvirt API call), replayed with the real python3-libvirt against a real
 * daemon: the host (hostname, node info, capabilities, NodeGetMemoryStats(-1),
 * free memory), the domain list and each domain's details (XMLDesc SECURE and
 * SECURE|INACTIVE, GetDomainCapabilities('', arch, machine, ''), the Domain
 * properties, GetState, GetStats), its description (setMetadata/metadata) and its
 * addresses (InterfaceAddresses by lease, ARP and agent).
 */
import assert from "node:assert/strict";
import { HAVE_PYTHON_LIBVIRT, python, withDaemon } from "./helpers.ts";

if (!HAVE_PYTHON_LIBVIRT) {
  console.log("skipping the Cockpit replay: install python3-libvirt (scripts/setup.sh)");
}

/** The qemu-virt-arm64 board: 2 GiB of RAM, the first 256 MiB the management partition's. */
const BOARD_RAM = 2048 * 1024 * 1024;
const FREE_RAM = BOARD_RAM - 256 * 1024 * 1024;
const OSINFO = "http://libosinfo.org/xmlns/libvirt/domain/1.0";

const DOMAIN = `<domain type='vmanager'>
  <name>ck1</name>
  <title>Cockpit's first</title>
  <description>Made for the Cockpit replay &amp; nothing else</description>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo='${OSINFO}'>
      <libosinfo:os id='http://debian.org/debian/12'/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='aarch64'>hvm</type><cmdline>console=ttyAMA0</cmdline></os>
  <devices>
    <interface type='user'><model type='virtio'/></interface>
  </devices>
</domain>
`;

const SCRIPT = `
import json, sys, libvirt
import xml.etree.ElementTree as ET
uri, xml = sys.argv[1], sys.argv[2]
out = {}
def code(call):
    try:
        call()
        return None
    except libvirt.libvirtError as e:
        return [e.get_error_code(), str(e)]
conn = libvirt.open(uri)
out["free0"] = conn.getFreeMemory()
out["caps0"] = conn.getDomainCapabilities(None, None, None, None, 0)
dom = conn.defineXML(xml)
# getApiData: hostname, host capabilities, NodeGetMemoryStats(-1, 0), LibVersion.
out["hostname"] = conn.getHostname()
out["info"] = conn.getInfo()
out["capabilities"] = conn.getCapabilities()
out["memstats"] = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0)
out["free1"] = conn.getFreeMemory()
out["cells"] = conn.getCellsFreeMemory(0, 1)
out["libversion"] = conn.getLibVersion()
# domainGetAll: ListDomains(0), then domainGet for each.
out["domains"] = sorted(d.name() for d in conn.listAllDomains(0))
details = {}
for d in conn.listAllDomains(0):
    x = d.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
    inactive = d.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
    t = ET.fromstring(x).find("os/type")
    caps = conn.getDomainCapabilities(None, t.get("arch"), t.get("machine"), None, 0)
    # org.libvirt.Domain properties (GetAll leaves out those that fail).
    props = {"Name": d.name(), "UUID": d.UUIDString(), "Id": d.ID(), "OSType": d.OSType(),
             "Active": d.isActive(), "Persistent": d.isPersistent(),
             "Autostart": d.autostart(), "Updated": d.isUpdated()}
    c = ET.fromstring(caps)  # as Cockpit reads it: vcpu max, os/loader, devices/disk bus
    parsed = {"maxVcpu": c.find("vcpu").get("max"), "loader": c.find("os/loader").get("supported"),
              "bus": [v.text for v in c.findall("devices/disk/enum[@name='bus']/value")]}
    details[d.name()] = {"xml": x, "inactive": inactive, "caps": caps, "parsed": parsed,
                         "props": props, "state": d.state(0)}
out["details"] = details
d = conn.lookupByName("ck1")
d.create()
flags = (libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU |
         libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_STATE)
out["stats"] = [s for (_, s) in conn.domainListGetStats([d], flags, 0)]
out["allstats"] = [dd.name() for (dd, _) in conn.getAllDomainStats(0, 0)]
# The description, as Cockpit's description editor and virt-xml write it.
out["desc0"] = d.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, None, None, 0)
out["nodesc"] = code(lambda: d.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, 0))
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, "Set by Cockpit <&>", None, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<app version='2'><tag>x</tag></app>",
              "app", "http://example.org/app/1", libvirt.VIR_DOMAIN_AFFECT_CONFIG)
out["meta"] = [d.metadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, None, 0),
               d.metadata(libvirt.VIR_DOMAIN_METADATA_TITLE, None, 0),
               d.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "http://example.org/app/1", 0),
               d.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "${OSINFO}", 0)]
out["xml_after"] = d.XMLDesc(0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None, "http://example.org/app/1", 0)
out["removed"] = code(lambda: d.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                         "http://example.org/app/1", 0))
out["newline"] = code(lambda: d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, "a\\nb", None,
                                            None, 0))
out["badxml"] = code(lambda: d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "<a><b></a>",
                                           "app", "http://example.org/app/1", 0))
# domainInterfaceAddresses: lease, ARP and agent.
out["lease"] = d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
out["arp"] = d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, 0)
out["agent"] = code(lambda: d.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0))
out["suspend"] = code(d.suspend)
out["resume"] = code(d.resume)
d.destroy()
out["stopped_lease"] = code(lambda: d.interfaceAddresses(0, 0))
out["live_meta"] = code(lambda: d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, "t", None, None,
                                              libvirt.VIR_DOMAIN_AFFECT_LIVE))
conn.close()
print(json.dumps(out))
`;

interface Replay {
  [key: string]: unknown;
  free0: number;
  free1: number;
  caps0: string;
  memstats: Record<string, number>;
  cells: number[];
  domains: string[];
  details: Record<string, {
    xml: string;
    inactive: string;
    caps: string;
    parsed: Record<string, unknown>;
    props: Record<string, unknown>;
    state: number[];
  }>;
  meta: string[];
  xml_after: string;
  lease: Record<string, { addrs: { addr: string; prefix: number; type: number }[] }>;
  arp: Record<string, unknown>;
}

/** The text of the first `<tag ...>…</tag>` or the attribute of `<tag attr='…'>` in `xml`. */
function element(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?: [^>]*)?>([^<]*)</${tag}>`).exec(xml)?.[1];
}

Deno.test({
  name: "cockpit: python3-libvirt replays Cockpit's list-and-detail calls, which all succeed",
  ignore: !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withDaemon(async (d) => {
      const run = await python(SCRIPT, d.uri, DOMAIN);
      assert.equal(run.code, 0, `${run.stderr}\n${d.log()}`);
      const out = JSON.parse(run.stdout) as Replay;

      // The host: free memory is what partitions can still be given, before and after.
      assert.equal(out.free0, FREE_RAM);
      assert.equal(out.free1, FREE_RAM - 128 * 1024 * 1024);
      assert.deepEqual(out.cells, [out.free1]);
      assert.deepEqual(out.memstats, { total: BOARD_RAM / 1024, free: out.free1 / 1024 });

      // Domain capabilities: the board's machine and arch, its free cores.
      assert.equal(element(out.caps0, "domain"), "vmanager");
      assert.equal(element(out.caps0, "machine"), "qemu-virt-arm64");
      assert.equal(element(out.caps0, "arch"), "aarch64");
      assert.match(out.caps0, /<vcpu max='3'\/>/); // cores 1-3: core 0 is the management's
      assert.match(out.caps0, /<path>\/[^<]+<\/path>/);

      // The list and each domain's details.
      assert.deepEqual(out.domains, ["ck1"]);
      const ck1 = out.details.ck1;
      assert.match(ck1.caps, /<vcpu max='1'\/>/); // ck1 holds two of the three
      assert.deepEqual(ck1.parsed, { maxVcpu: "1", loader: "no", bus: ["virtio"] });
      assert.equal(element(ck1.caps, "machine"), "qemu-virt-arm64");
      assert.equal(ck1.props.Name, "ck1");
      assert.equal(ck1.props.Persistent, 1);
      assert.equal(ck1.props.Active, 0);
      assert.equal(ck1.props.OSType, "hvm");
      assert.deepEqual(ck1.state, [5, 0]); // shut off (unknown): never started
      for (const xml of [ck1.xml, ck1.inactive]) {
        assert.equal(element(xml, "title"), "Cockpit&apos;s first");
        assert.equal(
          element(xml, "description"),
          "Made for the Cockpit replay &amp; nothing else",
        );
        assert.match(xml, new RegExp(`<libosinfo:libosinfo xmlns:libosinfo="${OSINFO}">`));
        assert.match(xml, /<libosinfo:os id="http:\/\/debian.org\/debian\/12"\/>/);
      }
      assert.equal((out.stats as unknown[]).length, 1);
      assert.deepEqual(out.allstats, ["ck1"]);

      // Metadata set, then read back; in dumpxml; removed; refusals.
      assert.equal(out.desc0, "Made for the Cockpit replay & nothing else");
      assert.deepEqual(out.nodesc, [
        80, // VIR_ERR_NO_DOMAIN_METADATA
        "metadata not found: Requested metadata element is not present",
      ]);
      assert.deepEqual(out.meta.slice(0, 3), [
        "Set by Cockpit <&>",
        "Cockpit's first",
        '<app version="2"><tag>x</tag></app>',
      ]);
      assert.match(out.meta[3], /^<libosinfo xmlns:libosinfo=|^<libosinfo>/);
      assert.match(out.meta[3], /<os id="http:\/\/debian.org\/debian\/12"\/>/);
      assert.equal(element(out.xml_after, "description"), "Set by Cockpit &lt;&amp;&gt;");
      assert.match(
        out.xml_after,
        /<app:app version="2" xmlns:app="http:\/\/example.org\/app\/1"><app:tag>x<\/app:tag><\/app:app>/,
      );
      assert.match(out.xml_after, /<libosinfo:libosinfo /);
      assert.equal((out.removed as [number])[0], 80);
      assert.equal((out.newline as [number])[0], 8); // INVALID_ARG (the client checks it)
      assert.equal((out.badxml as [number])[0], 27); // XML_ERROR

      // Addresses: QEMU's user network gives its guest 10.0.2.15.
      assert.deepEqual(Object.keys(out.lease), ["net0"]);
      assert.deepEqual(out.lease.net0.addrs, [{ type: 0, addr: "10.0.2.15", prefix: 24 }]);
      assert.deepEqual(out.arp, {});
      assert.equal((out.agent as [number])[0], 74); // ARGUMENT_UNSUPPORTED: no guest agent
      assert.equal((out.stopped_lease as [number])[0], 55); // OPERATION_INVALID: not running
      assert.equal((out.live_meta as [number])[0], 55);

      // Pausing: NO_SUPPORT, saying why.
      for (const refused of [out.suspend, out.resume] as [number, string][]) {
        assert.equal(refused[0], 3);
        assert.match(refused[1], /partition 'ck1' cannot be paused/);
      }
    }, []);
  },
});
