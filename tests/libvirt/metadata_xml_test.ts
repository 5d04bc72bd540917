/**
 * Titles, descriptions and other programs' `<metadata>` elements in domain XML:
 * parsed into the spec, written back by `domainXml`, and libvirt's namespace
 * transforms of `setMetadata`/`metadata` (the cases of libvirt's tests/metadatatest.c).
 */
import assert from "node:assert/strict";
import { DomainXmlError, parseDomainXml, VMANAGER_NS } from "../../plugins/libvirt/domain_xml.ts";
import {
  extractNamespace,
  foreignMetadata,
  injectNamespace,
  isNcName,
} from "../../plugins/libvirt/metadata_xml.ts";
import { changedRecord, changedSpec, MetadataType } from "../../plugins/libvirt/metadata.ts";
import { MAX_METADATA_ELEMENT, MAX_METADATA_ELEMENTS, MAX_TITLE } from "../../core/model.ts";

const OSINFO = "http://libosinfo.org/xmlns/libvirt/domain/1.0";

function doc(inner: string): string {
  return `<domain type='vmanager'><name>t</name><memory unit='MiB'>128</memory>` +
    `<vcpu>1</vcpu>${inner}</domain>`;
}

Deno.test("metadata: libvirt's inject and extract (metadatatest.c's derp/herp)", async () => {
  const given = "<derp xmlns:foobar='http://foo.bar/'>\n  <bar>foobar</bar>\n" +
    "  <foo fooish='blurb'>foofoo</foo>\n  <foobar:baz>zomg</foobar:baz>\n</derp>";
  const stored = await injectNamespace(given, "herp", "http://herp.derp/");
  assert.equal(
    stored,
    '<herp:derp xmlns:foobar="http://foo.bar/" xmlns:herp="http://herp.derp/">\n' +
      '  <herp:bar>foobar</herp:bar>\n  <herp:foo fooish="blurb">foofoo</herp:foo>\n' +
      "  <foobar:baz>zomg</foobar:baz>\n</herp:derp>",
  );
  assert.equal(
    await extractNamespace(stored, "http://herp.derp/"),
    given.replaceAll("'", '"'),
  );
});

Deno.test("metadata: injected XML must be one element, bounded, without a DOCTYPE", async () => {
  for (const bad of ["<a/><b/>", "text", "<a><b></a>", "<!DOCTYPE a><a/>"]) {
    await assert.rejects(injectNamespace(bad, "k", "http://k/"), DomainXmlError, bad);
  }
  const huge = `<a>${"x".repeat(MAX_METADATA_ELEMENT)}</a>`;
  await assert.rejects(injectNamespace(huge, "k", "http://k/"), /the limit is 65536/);
  assert.ok(isNcName("libosinfo") && isNcName("_a.b-c"));
  assert.ok(!isNcName("1bad") && !isNcName("a:b") && !isNcName(""));
});

Deno.test("metadata: <metadata> children kept by namespace, self-contained", async () => {
  const xml = doc(
    `<metadata xmlns:app='http://app/'>` +
      `<libosinfo:libosinfo xmlns:libosinfo='${OSINFO}'><libosinfo:os id='x'/></libosinfo:libosinfo>` +
      `<app:a k='&amp;"'><app:b/></app:a>` +
      `<app:again/>` + // a second element of a namespace: dropped, as libvirt does
      `<plain/>` + // no namespace: dropped
      `<vmanager:partition xmlns:vmanager='${VMANAGER_NS}'/>` +
      `</metadata>`,
  );
  assert.deepEqual(await foreignMetadata(xml, VMANAGER_NS), {
    [OSINFO]: `<libosinfo:libosinfo xmlns:libosinfo="${OSINFO}"><libosinfo:os id="x"/>` +
      `</libosinfo:libosinfo>`,
    "http://app/": '<app:a k="&amp;&quot;" xmlns:app="http://app/"><app:b/></app:a>',
  });
  const { spec } = await parseDomainXml(xml);
  assert.deepEqual(Object.keys(spec.metadata ?? {}), [OSINFO, "http://app/"]);
});

Deno.test("metadata: title and description read, refused when they do not fit", async () => {
  const { spec } = await parseDomainXml(
    doc("<title>The &lt;one&gt;</title><description>two\nlines</description>"),
  );
  assert.equal(spec.title, "The <one>");
  assert.equal(spec.description, "two\nlines");
  await assert.rejects(
    parseDomainXml(doc("<title>a\nb</title>")),
    /Domain title can't contain newlines/,
  );
  await assert.rejects(
    parseDomainXml(doc(`<title>${"t".repeat(MAX_TITLE + 1)}</title>`)),
    /<title> is 1025 bytes; the limit is 1024/,
  );
  const many = Array.from(
    { length: MAX_METADATA_ELEMENTS + 1 },
    (_, i) => `<n${i}:e xmlns:n${i}='http://n/${i}'/>`,
  ).join("");
  await assert.rejects(
    parseDomainXml(doc(`<metadata>${many}</metadata>`)),
    /more than 16 metadata elements/,
  );
});

Deno.test("metadata: changes to the spec: set, replace, remove", () => {
  let spec = changedSpec({ name: "a" }, { type: MetadataType.TITLE, value: "T" });
  spec = changedSpec(spec, { type: MetadataType.ELEMENT, uri: "u", value: "<x:a xmlns:x='u'/>" });
  assert.deepEqual(spec, { name: "a", title: "T", metadata: { u: "<x:a xmlns:x='u'/>" } });
  spec = changedSpec(spec, { type: MetadataType.TITLE });
  spec = changedSpec(spec, { type: MetadataType.ELEMENT, uri: "u" });
  assert.deepEqual(spec, { name: "a" });
  let full = { name: "a" };
  for (let i = 0; i < MAX_METADATA_ELEMENTS; i++) {
    full = changedSpec(full, { type: MetadataType.ELEMENT, uri: `u${i}`, value: "<a/>" });
  }
  assert.throws(
    () => changedSpec(full, { type: MetadataType.ELEMENT, uri: "one more", value: "<a/>" }),
    /at most 16 metadata elements/,
  );
});

Deno.test("metadata: a change reaches the definition the next start takes too", () => {
  const allocation = { cores: [1], bootCore: 1, memory: { base: 0, size: 1 }, devices: [] };
  const record = {
    name: "a",
    id: 1,
    state: "running" as const,
    spec: { name: "a", title: "old" },
    allocation,
    created: "",
    updated: "",
    monitorCalls: [],
    next: { spec: { name: "a", memory: 2, title: "old" }, allocation },
  };
  const changed = changedRecord(record, { type: MetadataType.TITLE, value: "new" });
  assert.equal(changed.spec.title, "new");
  assert.deepEqual(changed.next?.spec, { name: "a", memory: 2, title: "new" });
  assert.equal(changedRecord({ ...record, next: undefined }, { type: 1 }).next, undefined);
});
