/** A partition's backings (`--net`, `--disk`) in domain XML, both ways, and the refusals. */
import assert from "node:assert/strict";
import { domainXml, parseDomainXml } from "../../plugins/libvirt/domain_xml.ts";
import { errorOf } from "../../plugins/libvirt/errors.ts";
import { ErrorCode } from "../../plugins/libvirt/protocol.ts";
import type { PartitionRecord, PartitionSpec } from "../../core/model.ts";
import { backingSlots } from "../../core/partition/allocate.ts";
import { parseDisk, parseNet } from "../../core/partition/spec.ts";
import { builtinBoard } from "./boards.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml as docOf, HAVE_VIRSH, startDaemon, virsh } from "./helpers.ts";

const ARM64 = await builtinBoard("qemu-virt-arm64");

/** A domain document whose `<devices>` holds `devices`. */
function doc(devices: string): string {
  return `<domain type='vmanager'><name>b</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <devices>${devices}</devices></domain>`;
}

async function specOf(devices: string): Promise<PartitionSpec> {
  return (await parseDomainXml(doc(devices), ARM64)).spec;
}

Deno.test("backings XML: user interfaces, with and without forwards, are --net user", async () => {
  const spec = await specOf(`
    <interface type='user'>
      <backend type='passt'/>
      <mac address='52:54:00:98:d8:b7'/>
      <portForward proto='tcp' address='127.0.0.1'>
        <range start='8080' to='80'/>
        <range start='2222' to='22'/>
      </portForward>
      <portForward proto='tcp'><range start='9000'/></portForward>
      <model type='virtio'/>
      <address type='virtio-mmio'/>
    </interface>
    <interface type='user'/>`);
  assert.deepEqual(spec.net, [
    parseNet("user,forward=tcp:8080:80,forward=tcp:2222:22,forward=tcp:9000:9000"),
    parseNet("user"),
  ]);
  assert.deepEqual(spec.net![0].forward, [
    { host: 8080, guest: 80 },
    { host: 2222, guest: 22 },
    { host: 9000, guest: 9000 },
  ]);
  assert.equal(spec.disks, undefined);
});

Deno.test("backings XML: a network interface is --net network=NAME", async () => {
  const spec = await specOf(
    `<interface type='network'><source network='lan'/><model type='virtio'/></interface>`,
  );
  assert.deepEqual(spec.net, [{ mode: "network", network: "lan" }]);
});

Deno.test("backings XML: raw file disks are --disk FILE[,ro]; no disk is no disks", async () => {
  const spec = await specOf(`
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/a.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/b.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>`);
  assert.deepEqual(spec.disks, [parseDisk("/srv/a.img"), parseDisk("/srv/b.img,ro")]);
  assert.deepEqual(spec.disks, [{ file: "/srv/a.img" }, { file: "/srv/b.img", readonly: true }]);
  // virt-install --disk none: no <disk> at all.
  const none = await specOf(`<console type='pty'/>`);
  assert.equal(none.disks, undefined);
  assert.equal(none.net, undefined);
});

function record(spec: PartitionSpec, devices: string[]): PartitionRecord {
  return {
    name: spec.name,
    id: 2,
    state: "defined",
    spec,
    allocation: {
      cores: [1],
      bootCore: 1,
      memory: { base: 0x50000000, size: 64 * 2 ** 20 },
      devices,
    },
    created: "2026-01-01T00:00:00.000Z",
    updated: "2026-01-01T00:00:00.000Z",
    monitorCalls: [],
  };
}

Deno.test("backings XML: dumpxml writes them as libvirt does and defines them again", async () => {
  const cases: [string, PartitionSpec, string[], RegExp[]][] = [
    [
      "user with forwards, ro disk",
      {
        name: "web",
        cpus: 1,
        net: [parseNet("user,forward=tcp:8080:80,forward=tcp:2222:22")],
        disks: [parseDisk("/srv/web.img,ro")],
      },
      ["uart0", "virtio0", "virtio1"],
      [
        /<interface type='user'>\n\s+<backend type='passt'\/>\n\s+<model type='virtio'\/>\n\s+<portForward proto='tcp' address='127.0.0.1'>\n\s+<range start='8080' to='80'\/>\n\s+<range start='2222' to='22'\/>\n\s+<\/portForward>\n\s+<address type='virtio-mmio'\/>\n\s+<\/interface>/,
        /<disk type='file' device='disk'>\n\s+<driver name='qemu' type='raw'\/>\n\s+<source file='\/srv\/web.img'\/>\n\s+<target dev='vda' bus='virtio'\/>\n\s+<readonly\/>\n\s+<address type='virtio-mmio'\/>\n\s+<\/disk>/,
      ],
    ],
    [
      "user without forwards, network, rw disks",
      {
        name: "lan1",
        cpus: 1,
        net: [parseNet("user"), parseNet("network=lan")],
        disks: [parseDisk("/srv/a.img"), parseDisk("/srv/b&c.img")],
      },
      ["uart0", "virtio0", "virtio1", "virtio2", "virtio3"],
      [
        /<interface type='user'>\n\s+<model type='virtio'\/>\n\s+<address type='virtio-mmio'\/>\n\s+<\/interface>/,
        /<interface type='network'>\n\s+<source network='lan'\/>/,
        /<source file='\/srv\/a.img'\/>\n\s+<target dev='vda' bus='virtio'\/>\n\s+<address/,
        /<source file='\/srv\/b&amp;c.img'\/>\n\s+<target dev='vdb' bus='virtio'\/>/,
      ],
    ],
    [
      // Slots named out of order (device=): the hostdevs keep each backing on its slot.
      "named slots",
      {
        name: "named",
        cpus: 1,
        devices: ["uart0", "virtio0"],
        net: [parseNet("user,device=virtio2")],
        disks: [parseDisk("/srv/a.img,device=virtio1")],
      },
      ["uart0", "virtio0", "virtio2", "virtio1"],
      [/<hostdev mode='subsystem' type='vmanager'>\n\s+<source name='virtio2'\/>/],
    ],
  ];
  for (const [what, spec, devices, shapes] of cases) {
    const rec = record(spec, devices);
    const xml = domainXml(rec, ARM64, "dry-run", armv8());
    for (const shape of shapes) assert.match(xml, shape, what);
    assert.doesNotMatch(xml, /,device=|virtio-mmio-bus/, what);
    const again = (await parseDomainXml(xml, ARM64)).spec;
    const strip = (s: PartitionSpec) => ({
      net: s.net?.map(({ device: _, ...n }) => n),
      disks: s.disks?.map(({ device: _, ...d }) => d),
    });
    assert.deepEqual(strip(again), strip(spec), what);
    // Every backing is on the slot it had.
    assert.deepEqual(
      backingSlots(ARM64, again, again.devices!).map((s) => s.device),
      backingSlots(ARM64, spec, devices).map((s) => s.device),
      what,
    );
    assert.deepEqual([...again.devices!].sort(), [...devices].sort(), what);
  }
});

const refusals: [string, string, number, RegExp][] = [
  [
    "qcow2",
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/a.qcow2'/></disk>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /^unsupported configuration: disk format 'qcow2' is not supported: a partition's disk is a raw image file on virtio/,
  ],
  [
    "block device",
    `<disk type='block' device='disk'><source dev='/dev/sdb'/></disk>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /disk type 'block' is not supported/,
  ],
  [
    "cdrom",
    `<disk type='file' device='cdrom'><source file='/a.iso'/><target dev='sda' bus='sata'/></disk>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /disk device 'cdrom' is not supported/,
  ],
  [
    "sata bus",
    `<disk type='file' device='disk'><source file='/a.img'/><target dev='sda' bus='sata'/></disk>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /disk bus 'sata' is not supported/,
  ],
  [
    "bridge interface",
    `<interface type='bridge'><source bridge='br0'/></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /interface type 'bridge' is not supported/,
  ],
  [
    "e1000 model",
    `<interface type='user'><model type='e1000'/></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /interface model 'e1000' is not supported/,
  ],
  [
    "pci address",
    `<interface type='user'><address type='pci' bus='0x00' slot='0x03'/></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /address type 'pci' is not supported/,
  ],
  [
    "udp forward",
    `<interface type='user'><portForward proto='udp'><range start='53'/></portForward></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /TCP ports only/,
  ],
  [
    "forward on all addresses",
    `<interface type='user'><portForward proto='tcp' address='0.0.0.0'><range start='80'/></portForward></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /on 127.0.0.1 only: address '0.0.0.0'/,
  ],
  [
    "port range",
    `<interface type='user'><portForward proto='tcp'><range start='80' end='90' to='8080'/></portForward></interface>`,
    ErrorCode.CONFIG_UNSUPPORTED,
    /port ranges are not supported/,
  ],
  [
    "port out of range",
    `<interface type='user'><portForward proto='tcp'><range start='70000' to='80'/></portForward></interface>`,
    ErrorCode.XML_ERROR,
    /^XML error: '70000' is not a TCP port \(1-65535\) .*\(\/domain\/devices\/interface\)$/,
  ],
  [
    "guest port 0",
    `<interface type='user'><portForward proto='tcp'><range start='8080' to='0'/></portForward></interface>`,
    ErrorCode.XML_ERROR,
    /'0' is not a TCP port/,
  ],
  [
    "port not a number",
    `<interface type='user'><portForward proto='tcp'><range start='80,device=virtio3'/></portForward></interface>`,
    ErrorCode.XML_ERROR,
    /is not a TCP port.*portForward\/range\/@start/,
  ],
  [
    "host port twice",
    `<interface type='user'><portForward proto='tcp'><range start='80'/><range start='80' to='81'/></portForward></interface>`,
    ErrorCode.XML_ERROR,
    /host port 80 is forwarded twice/,
  ],
  [
    "range without start",
    `<interface type='user'><portForward proto='tcp'><range to='80'/></portForward></interface>`,
    ErrorCode.XML_ERROR,
    /needs start='PORT'/,
  ],
  [
    "network without source",
    `<interface type='network'><model type='virtio'/></interface>`,
    ErrorCode.XML_ERROR,
    /needs <source network='NAME'\/> \(\/domain\/devices\/interface\/source\)/,
  ],
  [
    "network name with a comma",
    `<interface type='network'><source network='lan,device=virtio3'/></interface>`,
    ErrorCode.XML_ERROR,
    /is not a network name/,
  ],
  [
    "bad network name",
    `<interface type='network'><source network='a b'/></interface>`,
    ErrorCode.XML_ERROR,
    /'a b' is not a network name/,
  ],
  [
    "disk without source",
    `<disk type='file' device='disk'><driver name='qemu' type='raw'/><target dev='vda' bus='virtio'/></disk>`,
    ErrorCode.XML_ERROR,
    /a disk needs <source file='PATH'\/> \(\/domain\/devices\/disk\/source\)/,
  ],
  [
    "relative disk",
    `<disk type='file' device='disk'><source file='a.img'/></disk>`,
    ErrorCode.XML_ERROR,
    /must be an absolute path/,
  ],
  [
    "disk file with a comma",
    `<disk type='file' device='disk'><source file='/a.img,ro'/></disk>`,
    ErrorCode.XML_ERROR,
    /has a comma/,
  ],
  [
    "two sources",
    `<disk type='file' device='disk'><source file='/a'/><source file='/b'/></disk>`,
    ErrorCode.XML_ERROR,
    /<source> is given more than once/,
  ],
];

for (const [name, devices, code, message] of refusals) {
  Deno.test(`backings XML: refused — ${name}`, async () => {
    await assert.rejects(parseDomainXml(doc(devices), ARM64), (error: unknown) => {
      const got = errorOf(error);
      assert.equal(got.code, code, got.message);
      assert.match(got.message, message);
      return true;
    });
  });
}

Deno.test({
  name: "backings XML: virsh define and dumpxml against the daemon (dry-run)",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const image = `${dir}/web.img`;
      await Deno.writeFile(image, new Uint8Array(4096));
      const d = await startDaemon(dir, ["--backend", "dry-run"]);
      try {
        const devices = `
  <devices>
    <interface type='user'>
      <backend type='passt'/>
      <portForward proto='tcp' address='127.0.0.1'><range start='18080' to='80'/></portForward>
      <model type='virtio'/>
    </interface>
    <interface type='network'><source network='lan'/></interface>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${image}'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
  </devices>`;
        await Deno.writeTextFile(`${dir}/web.xml`, docOf("web", devices));
        const define = await virsh(d.uri, "define", `${dir}/web.xml`);
        assert.equal(define.code, 0, define.stderr);
        const dump = await virsh(d.uri, "dumpxml", "web");
        assert.equal(dump.code, 0, dump.stderr);
        const xml = dump.stdout;
        assert.match(xml, /<range start='18080' to='80'\/>/);
        assert.match(xml, /<source network='lan'\/>/);
        assert.match(xml, new RegExp(`<source file='${await Deno.realPath(image)}'/>`));
        assert.match(xml, /<readonly\/>/);
        // The whole description defines the same partition again.
        assert.equal((await virsh(d.uri, "undefine", "web")).code, 0);
        await Deno.writeTextFile(`${dir}/again.xml`, xml);
        const again = await virsh(d.uri, "define", `${dir}/again.xml`);
        assert.equal(again.code, 0, again.stderr);
        assert.equal((await virsh(d.uri, "dumpxml", "web")).stdout, xml);

        // The spec parser's own refusals come back as they do for vmanctl create.
        await Deno.writeTextFile(
          `${dir}/gone.xml`,
          docOf(
            "gone",
            `<devices><disk type='file' device='disk'><source file='${dir}/nope.img'/></disk></devices>`,
          ),
        );
        const gone = await virsh(d.uri, "define", `${dir}/gone.xml`);
        assert.equal(gone.code, 1);
        assert.match(gone.stderr, /disk image .*nope.img does not exist/);
        await Deno.writeTextFile(
          `${dir}/held.xml`,
          docOf(
            "held",
            `<devices><interface type='user'><portForward proto='tcp'><range start='18080' to='8080'/></portForward></interface></devices>`,
          ),
        );
        const held = await virsh(d.uri, "define", `${dir}/held.xml`);
        assert.equal(held.code, 1);
        assert.match(
          held.stderr,
          /invalid argument: host port 18080 is forwarded to partition web/,
        );
        // A qcow2 disk: CONFIG_UNSUPPORTED, one line.
        await Deno.writeTextFile(
          `${dir}/q.xml`,
          docOf(
            "q",
            `<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${image}'/></disk></devices>`,
          ),
        );
        const q = await virsh(d.uri, "define", `${dir}/q.xml`);
        assert.equal(q.code, 1);
        assert.match(q.stderr, /unsupported configuration: disk format 'qcow2' is not supported/);
        const list = await virsh(d.uri, "list", "--all", "--name");
        assert.deepEqual(list.stdout.trim().split("\n"), ["web"]);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
