/** Domain XML ⇄ partition spec, and the documents that must be refused. */
import assert from "node:assert/strict";
import {
  domainXml,
  DomainXmlError,
  MAX_DOMAIN_XML,
  parseDomainXml,
  scaleMemory,
} from "../../plugins/libvirt/domain_xml.ts";
import { capabilitiesXml, nodeInfo } from "../../plugins/libvirt/capabilities.ts";
import type { PartitionRecord } from "../../core/model.ts";
import { uuidOf } from "../../core/partition/lifecycle.ts";
import { builtinBoard } from "./boards.ts";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv as riscvArch } from "../../arch/riscv/mod.ts";

const ARM64 = await builtinBoard("qemu-virt-arm64");

Deno.test("domain XML: every element maps to the spec", async () => {
  const { spec } = await parseDomainXml(
    `<?xml version="1.0"?>
<domain type='vmanager'>
  <name>rt1</name>
  <uuid>6F2B3C1E8D4A4E599C1B2A3D4E5F6A7B</uuid>
  <memory unit='GiB'>1</memory>
  <vcpu placement='static' cpuset='2-3'>2</vcpu>
  <os>
    <type arch='aarch64' machine='qemu-virt-arm64'>hvm</type>
    <kernel>/boot/Image</kernel>
    <initrd>/boot/initrd.img</initrd>
    <cmdline>console=ttyAMA0 &amp; quiet &#x41;&#66; &amp;#65;</cmdline>
  </os>
  <devices>
    <hostdev mode='subsystem' type='vmanager'><source name='uart0'/></hostdev>
    <console type='pty'/>
  </devices>
  <metadata>
    <vm:partition xmlns:vm='https://vmanager.dev/xmlns/libvirt/partition/1'>
      <vm:window base='0x60000000' size='0x40000000'/>
    </vm:partition>
  </metadata>
</domain>`,
    ARM64,
  );
  assert.deepEqual(spec, {
    name: "rt1",
    uuid: "6f2b3c1e-8d4a-4e59-9c1b-2a3d4e5f6a7b",
    memory: 1024 ** 3,
    cpuIds: [2, 3],
    kernel: "/boot/Image",
    initrd: "/boot/initrd.img",
    cmdline: "console=ttyAMA0 & quiet AB &#65;",
    devices: ["uart0"],
    memoryBase: 0x60000000,
  });
  const count = await parseDomainXml(
    "<domain type='vmanager'><name>a</name><memory>524288</memory><vcpu>2</vcpu></domain>",
  );
  assert.deepEqual(count.spec, { name: "a", memory: 512 * 1024 * 1024, cpus: 2 });
});

Deno.test("domain XML: libvirt's memory units", () => {
  assert.equal(scaleMemory("1", "b", "m"), 1);
  assert.equal(scaleMemory("2", "KB", "m"), 2000);
  assert.equal(scaleMemory("2", "k", "m"), 2048);
  assert.equal(scaleMemory("2", undefined, "m"), 2048);
  assert.equal(scaleMemory("3", "MiB", "m"), 3 * 2 ** 20);
  assert.equal(scaleMemory("1", "G", "m"), 2 ** 30);
  assert.equal(scaleMemory("1", "TB", "m"), 1e12);
  assert.throws(() => scaleMemory("1", "parsecs", "m"), /unknown memory unit/);
  assert.throws(() => scaleMemory("-1", "KiB", "m"), /not a whole number/);
});

const refusals: [string, string, RegExp][] = [
  [
    "billion laughs",
    `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<domain type='vmanager'><name>&lol9;</name><memory>1</memory><vcpu>1</vcpu></domain>`,
    /DOCTYPE or entity declaration is not allowed/,
  ],
  [
    "external entity",
    `<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<domain type='vmanager'><name>&xxe;</name><memory>1</memory><vcpu>1</vcpu></domain>`,
    /DOCTYPE or entity declaration is not allowed/,
  ],
  [
    "lower-case doctype",
    `<!doctype d><domain type='vmanager'/>`,
    /DOCTYPE or entity declaration is not allowed/,
  ],
  [
    "undefined entity",
    `<domain type='vmanager'><name>&xxe;</name><memory>1024</memory><vcpu>1</vcpu></domain>`,
    /undefined entity or bare '&' at '&xxe;'/,
  ],
  [
    "bare ampersand",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu>1</vcpu><os><cmdline>a & b</cmdline></os></domain>`,
    /bare '&'/,
  ],
  [
    "bad character reference",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu>1</vcpu><os><cmdline>&#0;</cmdline></os></domain>`,
    /character reference &#0; is not valid/,
  ],
  ["malformed", `<domain type='vmanager'><name>a</domain>`, /malformed XML/],
  ["not XML", `hello`, /malformed XML/],
  ["empty", ``, /malformed XML/],
  ["two roots", `<domain type='vmanager'/><domain type='vmanager'/>`, /one root element/],
  ["other root", `<network/>`, /one root element <domain>/],
  [
    "oversized",
    `<domain type='vmanager'><name>a</name><description>${
      "x".repeat(MAX_DOMAIN_XML)
    }</description></domain>`,
    /the limit is 1048576/,
  ],
  [
    "deep nesting",
    "<domain type='vmanager'>" + "<a>".repeat(50_000) + "</a>".repeat(50_000) + "</domain>",
    /./,
  ],
  ["wrong type", `<domain type='kvm'><name>a</name></domain>`, /type 'kvm' is not supported/],
  ["no name", `<domain type='vmanager'><memory>1</memory></domain>`, /no <name>/],
  [
    "two names",
    `<domain type='vmanager'><name>a</name><name>b</name></domain>`,
    /<name> is given more than once/,
  ],
  [
    "bad uuid",
    `<domain type='vmanager'><name>a</name><uuid>nope</uuid></domain>`,
    /'nope' is not a UUID/,
  ],
  ["no memory", `<domain type='vmanager'><name>a</name><vcpu>1</vcpu></domain>`, /no <memory>/],
  [
    "cpuset count",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu cpuset='1-3'>2</vcpu></domain>`,
    /counts 2 cores but cpuset '1-3' names 3/,
  ],
  [
    "cpuset range over the highest core id",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu cpuset='0-4294967295'>2</vcpu></domain>`,
    /cpuset range 0-4294967295 names a core over 4095/,
  ],
  [
    "cpuset of 100 KB of distinct ranges",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu cpuset='${
      Array.from({ length: 9500 }, (_, i) => `${i * 5}-${i * 5 + 4}`).join(",")
    }'>2</vcpu></domain>`,
    /(names a core over 4095|names more than 4096 cores)/,
  ],
  [
    "cpuset of 100 KB of the same range",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu cpuset='${
      Array(15000).fill("0-4095").join(",")
    }'>2</vcpu></domain>`,
    /cpuset names more than 4096 cores/,
  ],
  [
    "arch",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu>1</vcpu><os><type arch='armv7l'>hvm</type></os></domain>`,
    /arch 'armv7l' does not match board qemu-virt-arm64 \(aarch64\)/,
  ],
  [
    "relative kernel",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu>1</vcpu><os><kernel>Image</kernel></os></domain>`,
    /must be an absolute path/,
  ],
  [
    "pci hostdev",
    `<domain type='vmanager'><name>a</name><memory>1024</memory><vcpu>1</vcpu><devices><hostdev type='pci'/></devices></domain>`,
    /hostdev type 'pci' is not supported/,
  ],
];

for (const [name, xml, message] of refusals) {
  Deno.test(`domain XML: refused — ${name}`, async () => {
    await assert.rejects(parseDomainXml(xml, ARM64, armv8()), (error: unknown) => {
      assert.ok(error instanceof DomainXmlError, `${error}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("domain XML: dumpxml describes the whole partition and defines it again", async () => {
  const record: PartitionRecord = {
    name: "rt1",
    id: 3,
    state: "running",
    spec: { name: "rt1", cpus: 2, memory: 256 * 2 ** 20, cmdline: "a<b" },
    allocation: {
      cores: [1, 2],
      bootCore: 1,
      memory: { base: 0x50000000, size: 256 * 2 ** 20 },
      devices: ["uart0"],
    },
    created: "2026-01-01T00:00:00.000Z",
    updated: "2026-01-01T00:00:00.000Z",
    monitorCalls: [],
  };
  const xml = domainXml(record, ARM64, "dry-run", armv8());
  assert.match(xml, /^<domain type='vmanager' id='3'>/);
  assert.match(xml, /<vmanager:window base='0x50000000' size='0x10000000'\/>/);
  assert.match(xml, /<vmanager:cores boot='1'>1-2<\/vmanager:cores>/);
  assert.match(xml, /<cmdline>a&lt;b<\/cmdline>/);
  const { spec } = await parseDomainXml(xml, ARM64, armv8());
  assert.deepEqual(spec, {
    name: "rt1",
    uuid: uuidOf(record),
    memory: 256 * 2 ** 20,
    cpuIds: [1, 2],
    cmdline: "a<b",
    devices: ["uart0"],
    memoryBase: 0x50000000,
  });
  // A record of older state has no uuid: the derived one is stable.
  assert.equal(uuidOf(record), uuidOf({ ...record }));
  assert.notEqual(uuidOf(record), uuidOf({ ...record, name: "rt2" }));
  assert.match(
    uuidOf(record),
    /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
});

Deno.test("capabilities and node info describe the board", async () => {
  const riscv = await builtinBoard("qemu-virt-riscv64");
  const info = nodeInfo(riscv, riscvArch());
  assert.equal(info.model, "riscv64");
  assert.equal(info.cpus, riscv.cores.length);
  const caps = capabilitiesXml(riscv, "00000000-0000-0000-0000-000000000001", riscvArch());
  assert.match(caps, /<arch>riscv64<\/arch>/);
  assert.match(caps, /<wordsize>64<\/wordsize>/);
  assert.match(caps, new RegExp(`<cpus num='${riscv.cores.length}'>`));
  assert.match(
    capabilitiesXml(await builtinBoard("qemu-virt-arm"), "u", armv7()),
    /<wordsize>32<\/wordsize>/,
  );
});
