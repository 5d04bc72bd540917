/**
 * Other programs' elements of a domain's `<metadata>` as XML text, kept whole: each
 * one element in its own namespace (libosinfo's
 * `<libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>`,
 * an orchestrator's), stored by namespace URI as self-contained XML (its namespace
 * declared on it) and written back into `dumpxml` as it was given.
 *
 * The transforms are libvirt's (`virXMLInjectNamespace`, `virXMLExtractNamespaceXML`
 * in `src/util/virxml.c`): `setMetadata(ELEMENT, xml, key, uri)` puts the element and
 * its descendants without a prefix in namespace `uri` under prefix `key`;
 * `metadata(ELEMENT, uri)` gives the element back without that namespace. Elements of
 * `<metadata>` without a namespace are dropped, and of two elements in one namespace
 * the first is kept, as libvirt does.
 *
 * Texts and attribute values are kept as written (entities are not decoded), so what
 * comes back is what was stored. Parsing uses `fast-xml-parser` in its ordered mode.
 *
 * @module
 */
import { MAX_METADATA_ELEMENT, MAX_METADATA_ELEMENTS } from "../../core/model.ts";
import { DomainXmlError } from "./domain_xml.ts";

/** A node of fast-xml-parser's ordered output. */
type OrderedNode = Record<string, unknown>;

const ATTRS = ":@";
const TEXT = "#text";
const COMMENT = "#comment";
const CDATA = "#cdata";

/** Parses `xml` into ordered nodes, text and attribute values raw. */
async function parseOrdered(xml: string, where: string): Promise<OrderedNode[]> {
  const { XMLParser, XMLValidator } = await import("fast-xml-parser");
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new DomainXmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`, where);
  }
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    commentPropName: COMMENT,
    cdataPropName: CDATA,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  return parser.parse(xml) as OrderedNode[];
}

/** The element name of a node (undefined for text, comments, CDATA). */
function tagOf(node: OrderedNode): string | undefined {
  return Object.keys(node).find((k) => k !== ATTRS && k !== TEXT && k !== COMMENT && k !== CDATA);
}

function attrsOf(node: OrderedNode): Record<string, string> {
  return (node[ATTRS] ?? {}) as Record<string, string>;
}

function childrenOf(node: OrderedNode, tag: string): OrderedNode[] {
  return node[tag] as OrderedNode[];
}

function prefixOf(name: string): string {
  const colon = name.indexOf(":");
  return colon < 0 ? "" : name.slice(0, colon);
}

function localOf(name: string): string {
  return name.slice(name.indexOf(":") + 1);
}

/** The XML text of ordered nodes (attribute values written in double quotes). */
function serialize(nodes: readonly OrderedNode[]): string {
  let out = "";
  for (const node of nodes) {
    if (TEXT in node) out += String(node[TEXT]);
    else if (COMMENT in node) out += `<!--${serialize(childrenOf(node, COMMENT))}-->`;
    else if (CDATA in node) out += `<![CDATA[${serialize(childrenOf(node, CDATA))}]]>`;
    else {
      const tag = tagOf(node)!;
      const attrs = Object.entries(attrsOf(node))
        .map(([name, value]) => ` ${name}="${String(value).replaceAll('"', "&quot;")}"`).join("");
      const children = childrenOf(node, tag);
      out += children.length === 0
        ? `<${tag}${attrs}/>`
        : `<${tag}${attrs}>${serialize(children)}</${tag}>`;
    }
  }
  return out;
}

/** Every prefix an element and its descendants use in element or attribute names. */
function usedPrefixes(node: OrderedNode, into = new Set<string>()): Set<string> {
  const tag = tagOf(node);
  if (tag === undefined) return into;
  into.add(prefixOf(tag));
  for (const name of Object.keys(attrsOf(node))) {
    if (name.includes(":") && !name.startsWith("xmlns")) into.add(prefixOf(name));
  }
  for (const child of childrenOf(node, tag)) usedPrefixes(child, into);
  return into;
}

/** The namespace declarations of an element: prefix ("" for the default) → URI. */
function declarations(node: OrderedNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(attrsOf(node))) {
    if (name === "xmlns") out.set("", String(value));
    else if (name.startsWith("xmlns:")) out.set(name.slice(6), String(value));
  }
  return out;
}

/** The one element of a document's top level, refusing anything else but whitespace. */
function rootElement(nodes: readonly OrderedNode[], where: string): OrderedNode {
  const elements = nodes.filter((n) => tagOf(n) !== undefined);
  const text = nodes.some((n) => TEXT in n && String(n[TEXT]).trim() !== "");
  if (elements.length !== 1 || text) {
    throw new DomainXmlError("the metadata must be one XML element", where);
  }
  return elements[0];
}

/** The length of `text` in UTF-8 bytes. */
export function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Refuses an element over {@linkcode MAX_METADATA_ELEMENT} bytes. */
function bounded(xml: string, uri: string, where: string): string {
  const size = byteLength(xml);
  if (size > MAX_METADATA_ELEMENT) {
    throw new DomainXmlError(
      `the metadata element of namespace '${uri.slice(0, 80)}' is ${size} bytes; ` +
        `the limit is ${MAX_METADATA_ELEMENT}`,
      where,
    );
  }
  return xml;
}

/**
 * The foreign elements of the `<metadata>` of domain XML `xml` (already checked
 * well-formed and safe), by namespace URI, each self-contained: declarations of its
 * prefixes made on `<metadata>` or `<domain>` are copied onto it. `own` (vmanager's
 * namespace) is left out; so are elements without a namespace and later elements of
 * a namespace already seen. More than {@linkcode MAX_METADATA_ELEMENTS}, or one over
 * {@linkcode MAX_METADATA_ELEMENT} bytes, is refused.
 */
export async function foreignMetadata(
  xml: string,
  own: string,
): Promise<Record<string, string>> {
  const where = "/domain/metadata";
  const domain = (await parseOrdered(xml, "domain XML")).find((n) => tagOf(n) === "domain");
  const metadata = domain && childrenOf(domain, "domain").find((n) => tagOf(n) === "metadata");
  if (!domain || !metadata) return {};
  const inherited = new Map([...declarations(domain), ...declarations(metadata)]);
  const out: Record<string, string> = {};
  for (const child of childrenOf(metadata, "metadata")) {
    const tag = tagOf(child);
    if (tag === undefined) continue;
    const declared = declarations(child);
    const uri = declared.get(prefixOf(tag)) ?? inherited.get(prefixOf(tag));
    if (!uri || uri === own || uri in out) continue;
    if (Object.keys(out).length >= MAX_METADATA_ELEMENTS) {
      throw new DomainXmlError(
        `more than ${MAX_METADATA_ELEMENTS} metadata elements (namespaces)`,
        where,
      );
    }
    const attrs = { ...attrsOf(child) };
    for (const prefix of usedPrefixes(child)) {
      const declared = prefix === "" ? "xmlns" : `xmlns:${prefix}`;
      const value = inherited.get(prefix);
      if (!(declared in attrs) && value !== undefined) attrs[declared] = value;
    }
    out[uri] = bounded(serialize([{ [tag]: childrenOf(child, tag), [ATTRS]: attrs }]), uri, where);
  }
  return out;
}

/** True for an XML NCName (a namespace prefix): a letter or `_`, then letters, digits, `._-`. */
export function isNcName(name: string): boolean {
  return /^[\p{L}_][\p{L}\p{N}._\-\u00B7\u0300-\u036F\u203F-\u2040]*$/u.test(name);
}

/** Puts `node` and its unprefixed descendants under `prefix`. */
function prefixTree(node: OrderedNode, prefix: string): OrderedNode {
  const tag = tagOf(node);
  if (tag === undefined) return node;
  const name = tag.includes(":") ? tag : `${prefix}:${tag}`;
  const children = childrenOf(node, tag).map((c) => prefixTree(c, prefix));
  return { [name]: children, ...(ATTRS in node ? { [ATTRS]: node[ATTRS] } : {}) };
}

/**
 * libvirt's `setMetadata(ELEMENT, xml, key, uri)`: the element of `xml`, it and its
 * descendants without a prefix put in namespace `uri` under prefix `key`, declared
 * on it. Throws {@linkcode DomainXmlError} for XML that is not one element, or that
 * comes out over {@linkcode MAX_METADATA_ELEMENT} bytes.
 */
export async function injectNamespace(xml: string, key: string, uri: string): Promise<string> {
  const where = "(metadata_xml)";
  if (byteLength(xml) > MAX_METADATA_ELEMENT) bounded(xml, uri, where);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) {
    throw new DomainXmlError("a DOCTYPE or entity declaration is not allowed", where);
  }
  const root = prefixTree(rootElement(await parseOrdered(xml, where), where), key);
  const tag = tagOf(root)!;
  const attrs = { ...attrsOf(root), [`xmlns:${key}`]: uri };
  delete attrs.xmlns;
  return bounded(serialize([{ [tag]: childrenOf(root, tag), [ATTRS]: attrs }]), uri, where);
}

/** Takes the prefixes in `drop` off `node` and its descendants. */
function unprefixTree(node: OrderedNode, drop: ReadonlySet<string>): OrderedNode {
  const tag = tagOf(node);
  if (tag === undefined) return node;
  const name = drop.has(prefixOf(tag)) ? localOf(tag) : tag;
  const attrs = Object.fromEntries(
    Object.entries(attrsOf(node)).filter(([a]) =>
      !(a.startsWith("xmlns:") && drop.has(a.slice(6)))
    ),
  );
  const children = childrenOf(node, tag).map((c) => unprefixTree(c, drop));
  return { [name]: children, ...(Object.keys(attrs).length > 0 ? { [ATTRS]: attrs } : {}) };
}

/**
 * libvirt's `metadata(ELEMENT, uri)`: the stored element `xml` without namespace
 * `uri` (its prefix taken off the elements in it, its declaration removed); other
 * namespaces are kept.
 */
export async function extractNamespace(xml: string, uri: string): Promise<string> {
  const root = rootElement(await parseOrdered(xml, "stored metadata"), "stored metadata");
  const drop = new Set<string>();
  for (const [prefix, value] of declarations(root)) if (value === uri && prefix) drop.add(prefix);
  return serialize([unprefixTree(root, drop)]);
}
