/**
 * Domain XML ⇄ partition spec. A `<domain type='vmanager'>` describes one
 * partition:
 *
 * | XML | partition |
 * |---|---|
 * | `<name>` | name |
 * | `<uuid>` | uuid (generated when absent) |
 * | `<memory unit='MiB'>512</memory>` | memory size (libvirt's units; KiB by default) |
 * | `<vcpu>2</vcpu>` | core count |
 * | `<vcpu cpuset='2-3'>2</vcpu>` | exact core ids |
 * | `<os><type arch='aarch64'>hvm</type>` | checked against the board (aarch64, armv7l, riscv64) |
 * | `<os><kernel>`, `<initrd>`, `<cmdline>` | kernel, initrd, command line |
 * | `<devices><hostdev mode='subsystem' type='vmanager'><source name='uart0'/>` | a board device |
 * | `<metadata><vmanager:partition><vmanager:window base='0x…'/>` | memory window base |
 * | `<on_poweroff>`, `<on_reboot>`, `<on_crash>`: `destroy`, `restart`, `preserve` | end policies |
 * | `<devices><interface type='user'>`, `<interface type='network'>` | `--net` (backings_xml.ts) |
 * | `<devices><disk type='file' device='disk'>` (raw) | `--disk` (backings_xml.ts) |
 * | `<title>`, `<description>` | title, description (bounded; a title is one line) |
 * | `<metadata>`: other programs' elements, one per namespace | `metadata` (metadata_xml.ts) |
 *
 * Documents are checked before parsing: at most {@linkcode MAX_DOMAIN_XML} bytes,
 * no DOCTYPE (so no entities of any kind, internal or external). Every problem is
 * a {@linkcode DomainXmlError} naming the element.
 *
 * @module
 */
import { InputError } from "../../core/errors.ts";
import {
  CpuListError,
  MAX_CPU_ID,
  MAX_CPU_IDS,
  MAX_CPU_LIST_TEXT,
  parseCpuList,
} from "../../core/cpu_list.ts";
import {
  type Board,
  DEFAULT_POLICIES,
  type EndPolicy,
  MAX_DESCRIPTION,
  MAX_TITLE,
  type PartitionRecord,
  type PartitionSpec,
} from "../../core/model.ts";
import { uuidOf } from "../../core/partition/lifecycle.ts";
import { backingSlots, isVirtioSlot } from "../../core/partition/allocate.ts";
import { backingsXml, parseBackings, type XmlReader } from "./backings_xml.ts";
import { interfaceMacs } from "./macs.ts";
import { foreignMetadata } from "./metadata_xml.ts";
import type { LibvirtArch } from "./arch.ts";
import { escape } from "./xml_escape.ts";

/** Largest domain XML document accepted, in bytes. */
export const MAX_DOMAIN_XML = 1024 * 1024;

/** The namespace of vmanager's `<metadata>` element. */
export const VMANAGER_NS = "https://vmanager.dev/xmlns/libvirt/partition/1";

/** A domain XML document that is malformed, unsafe or does not describe a partition. */
export class DomainXmlError extends InputError {}

/**
 * A well-formed domain XML document asking for what vmanager cannot do (libvirt's
 * CONFIG_UNSUPPORTED): `rename-restart`, or a core dump before destroying or restarting.
 */
export class DomainConfigError extends DomainXmlError {}

/** libvirt's lifecycle actions (`virDomainLifecycleAction`), as the XML writes them. */
const LIFECYCLE_ACTIONS = [
  "destroy",
  "restart",
  "rename-restart",
  "preserve",
  "coredump-destroy",
  "coredump-restart",
];

/** The end-policy elements and the spec field each sets. */
const LIFECYCLE_ELEMENTS = [
  ["on_poweroff", "onPoweroff"],
  ["on_reboot", "onReboot"],
  ["on_crash", "onCrash"],
] as const;

/** What a domain XML document asks for. */
export interface DomainDefinition {
  /** The partition spec (with its uuid when the XML gives one). */
  spec: PartitionSpec;
}

type XmlNode = Record<string, unknown>;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Normalises a UUID to lower-case 8-4-4-4-12 form; undefined when it is not one. */
export function normaliseUuid(text: string): string | undefined {
  if (!UUID_RE.test(text)) return undefined;
  const hex = text.replaceAll("-", "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** Bytes of a memory value in one of libvirt's units (`b`, `KB`, `k`, `KiB`, `MiB`, `G`…). */
export function scaleMemory(value: string, unit: string | undefined, where: string): number {
  if (!/^\d+$/.test(value)) {
    throw new DomainXmlError(`memory '${value}' is not a whole number`, where);
  }
  const u = (unit ?? "KiB").trim();
  let scale: number;
  if (/^(b|bytes)$/i.test(u)) scale = 1;
  else {
    const m = /^([kmgtpe])(|b|ib)$/i.exec(u);
    if (!m) throw new DomainXmlError(`unknown memory unit '${u}'`, where);
    const power = "kmgtpe".indexOf(m[1].toLowerCase()) + 1;
    const base = m[2].toLowerCase() === "b" ? 1000 : 1024;
    scale = base ** power;
  }
  const bytes = Number(value) * scale;
  if (!Number.isSafeInteger(bytes)) {
    throw new DomainXmlError(`memory ${value} ${u} is too large`, where);
  }
  return bytes;
}

function refuseUnsafe(xml: string): void {
  const size = new TextEncoder().encode(xml).length;
  if (size > MAX_DOMAIN_XML) {
    throw new DomainXmlError(
      `the domain XML is ${size} bytes; the limit is ${MAX_DOMAIN_XML}`,
      "domain XML",
    );
  }
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new DomainXmlError(
      "a DOCTYPE or entity declaration is not allowed in domain XML",
      "domain XML",
    );
  }
  // Without a DTD only XML's five entities and character references exist.
  const outside = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "").replace(/<!--[\s\S]*?-->/g, "");
  const bad = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)([^\s;<]{0,32};?)/.exec(outside);
  if (bad) {
    throw new DomainXmlError(
      `malformed XML: undefined entity or bare '&' at '&${bad[1]}'`,
      "domain XML",
    );
  }
}

const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes XML's five entities and character references, once. */
function decodeEntities(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, name: string) => {
    if (!name.startsWith("#")) return PREDEFINED[name];
    const cp = name[1] === "x" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new DomainXmlError(
        `malformed XML: character reference &${name}; is not valid`,
        "domain XML",
      );
    }
    return String.fromCodePoint(cp);
  });
}

async function parseXml(xml: string): Promise<XmlNode> {
  refuseUnsafe(xml);
  const { XMLParser, XMLValidator } = await import("fast-xml-parser");
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new DomainXmlError(
      `malformed XML: ${valid.err.msg}`,
      `domain XML line ${valid.err.line}${valid.err.col ? `, column ${valid.err.col}` : ""}`,
    );
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    alwaysCreateTextNode: true,
    // Entities are decoded here, once, after the parser (which would leave unknown ones).
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (error) {
    throw new DomainXmlError(`malformed XML: ${(error as Error).message}`, "domain XML");
  }
  const roots = Object.keys(doc as XmlNode);
  if (roots.length !== 1 || roots[0] !== "domain" || Array.isArray((doc as XmlNode).domain)) {
    throw new DomainXmlError(
      `the document must have one root element <domain> (found ${
        roots.map((r) => `<${r}>`).join(", ") || "none"
      })`,
      "domain XML",
    );
  }
  return (doc as XmlNode).domain as XmlNode;
}

function one(node: XmlNode, key: string, path: string): XmlNode | undefined {
  const value = node[key];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new DomainXmlError(`<${key}> is given more than once`, path);
  return (typeof value === "object" && value !== null
    ? value
    : { "#text": String(value) }) as XmlNode;
}

function many(node: XmlNode, key: string): XmlNode[] {
  const value = node[key];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) =>
    (typeof v === "object" && v !== null ? v : { "#text": String(v) }) as XmlNode
  );
}

function text(node: XmlNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  const t = node["#text"];
  return t === undefined ? "" : decodeEntities(String(t));
}

function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.[`@${name}`];
  return v === undefined ? undefined : decodeEntities(String(v));
}

/** Highest core id a cpuset may name (core's {@linkcode MAX_CPU_ID}). */
export const MAX_CPUSET_ID = MAX_CPU_ID;
/** Most core ids a cpuset may name, counted over its ranges before duplicates are merged. */
export const MAX_CPUSET_IDS = MAX_CPU_IDS;

/**
 * Reads a cpuset (`2-3,5`) with core's one core list parser, which bounds every
 * range and the text before expanding: ids over {@linkcode MAX_CPUSET_ID}, more
 * than {@linkcode MAX_CPUSET_IDS} in all or a text over 64 KiB are refused, so a
 * crafted list costs no more than a few thousand ids. Duplicates are merged.
 */
function parseCpuset(value: string, where: string): number[] {
  let ids: number[];
  try {
    ids = parseCpuList(value, where);
  } catch (error) {
    if (!(error instanceof CpuListError)) throw error;
    const message = {
      "syntax": `cpuset '${clip(value)}' is not a core list (e.g. 2-3)`,
      "backwards": `cpuset range ${clip(error.part)} is not valid`,
      "too-high": `cpuset range ${clip(error.part)} names a core over ${MAX_CPUSET_ID}`,
      "too-many": `cpuset names more than ${MAX_CPUSET_IDS} cores`,
      "too-long": `cpuset is longer than ${MAX_CPU_LIST_TEXT} characters`,
    }[error.problem];
    throw new DomainXmlError(message, where, { cause: error });
  }
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** `text`, cut to 40 characters for a message. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function parseAddress(value: string, where: string): number {
  const n = /^0x[0-9a-f]+$/i.test(value)
    ? Number.parseInt(value, 16)
    : /^\d+$/.test(value)
    ? Number(value)
    : NaN;
  if (!Number.isSafeInteger(n)) throw new DomainXmlError(`'${value}' is not an address`, where);
  return n;
}

/**
 * Reads a domain XML document into a partition spec. `board` and its `arch`
 * plugin, when known, check the `<os><type arch>`. Throws
 * {@linkcode DomainXmlError}; nothing else is done.
 */
export async function parseDomainXml(
  xml: string,
  board?: Board,
  arch?: LibvirtArch,
): Promise<DomainDefinition> {
  const domain = await parseXml(xml);
  const type = attr(domain, "type");
  if (type !== "vmanager") {
    throw new DomainXmlError(
      `domain type '${type ?? ""}' is not supported: use <domain type='vmanager'>`,
      "/domain/@type",
    );
  }
  const name = text(one(domain, "name", "/domain/name"))?.trim();
  if (!name) throw new DomainXmlError("the domain has no <name>", "/domain/name");
  const spec: PartitionSpec = { name };

  const uuidText = text(one(domain, "uuid", "/domain/uuid"));
  if (uuidText !== undefined) {
    const uuid = normaliseUuid(uuidText.trim());
    if (!uuid) throw new DomainXmlError(`'${uuidText}' is not a UUID`, "/domain/uuid");
    spec.uuid = uuid;
  }

  const memory = one(domain, "memory", "/domain/memory");
  if (!memory) throw new DomainXmlError("the domain has no <memory>", "/domain/memory");
  spec.memory = scaleMemory(text(memory)!.trim(), attr(memory, "unit"), "/domain/memory");
  if (spec.memory === 0) throw new DomainXmlError("memory must not be 0", "/domain/memory");

  const vcpu = one(domain, "vcpu", "/domain/vcpu");
  if (!vcpu) throw new DomainXmlError("the domain has no <vcpu>", "/domain/vcpu");
  const countText = text(vcpu)!.trim();
  if (!/^\d+$/.test(countText) || Number(countText) === 0) {
    throw new DomainXmlError(`vcpu count '${countText}' is not a positive number`, "/domain/vcpu");
  }
  const count = Number(countText);
  const cpuset = attr(vcpu, "cpuset");
  if (cpuset !== undefined) {
    spec.cpuIds = parseCpuset(cpuset, "/domain/vcpu/@cpuset");
    if (spec.cpuIds.length !== count) {
      throw new DomainXmlError(
        `<vcpu> counts ${count} cores but cpuset '${cpuset}' names ${spec.cpuIds.length}`,
        "/domain/vcpu",
      );
    }
  } else spec.cpus = count;

  const os = one(domain, "os", "/domain/os");
  const osType = os ? one(os, "type", "/domain/os/type") : undefined;
  const asked = attr(osType, "arch");
  if (asked !== undefined && board && arch && arch.unameMachine !== asked) {
    throw new DomainXmlError(
      `arch '${asked}' does not match board ${board.name} (${arch.unameMachine})`,
      "/domain/os/type/@arch",
    );
  }
  for (const field of ["kernel", "initrd", "cmdline"] as const) {
    const value = os ? text(one(os, field, `/domain/os/${field}`))?.trim() : undefined;
    if (value) spec[field] = value;
  }
  for (const field of ["kernel", "initrd"] as const) {
    if (spec[field] !== undefined && !spec[field]!.startsWith("/")) {
      throw new DomainXmlError(
        `${field} '${spec[field]}' must be an absolute path`,
        `/domain/os/${field}`,
      );
    }
  }

  const devices = one(domain, "devices", "/domain/devices");
  if (devices) {
    const names: string[] = [];
    for (const hostdev of many(devices, "hostdev")) {
      const where = "/domain/devices/hostdev";
      if (attr(hostdev, "type") !== "vmanager") {
        throw new DomainXmlError(
          `hostdev type '${attr(hostdev, "type") ?? ""}' is not supported: use type='vmanager'`,
          where,
        );
      }
      const source = one(hostdev, "source", `${where}/source`);
      const device = attr(source, "name");
      if (!device) throw new DomainXmlError("a hostdev needs <source name='DEVICE'/>", where);
      names.push(device);
    }
    if (names.length > 0) spec.devices = names;
    Object.assign(spec, parseBackings(READER, devices));
  }

  parseLifecycle(domain, spec);

  parseTexts(domain, spec);
  const metadata = one(domain, "metadata", "/domain/metadata");
  if (metadata) {
    const foreign = await foreignMetadata(xml, VMANAGER_NS);
    if (Object.keys(foreign).length > 0) spec.metadata = foreign;
    for (const key of Object.keys(metadata)) {
      const [prefix, local] = key.includes(":") ? key.split(":", 2) : ["", key];
      if (local !== "partition") continue;
      const node = one(metadata, key, "/domain/metadata")!;
      const ns = attr(node, prefix ? `xmlns:${prefix}` : "xmlns");
      if (ns !== VMANAGER_NS) continue;
      const window = one(
        node,
        prefix ? `${prefix}:window` : "window",
        "/domain/metadata/partition",
      );
      const base = attr(window, "base");
      if (base !== undefined) {
        spec.memoryBase = parseAddress(base, "/domain/metadata/partition/window/@base");
      }
    }
  }
  return { spec };
}

/** Refuses a text over `max` UTF-8 bytes. */
function boundedText(value: string, max: number, where: string): string {
  const size = new TextEncoder().encode(value).length;
  if (size > max) {
    throw new DomainXmlError(`<${where.slice(8)}> is ${size} bytes; the limit is ${max}`, where);
  }
  return value;
}

/**
 * Reads `<title>` (one line, as libvirt requires) and `<description>` into the spec,
 * bounded by {@linkcode MAX_TITLE} and {@linkcode MAX_DESCRIPTION}; empty ones are
 * absent, as libvirt keeps them.
 */
function parseTexts(domain: XmlNode, spec: PartitionSpec): void {
  const title = text(one(domain, "title", "/domain/title"));
  if (title) {
    if (title.includes("\n")) {
      throw new DomainXmlError("Domain title can't contain newlines", "/domain/title");
    }
    spec.title = boundedText(title, MAX_TITLE, "/domain/title");
  }
  const description = text(one(domain, "description", "/domain/description"));
  if (description) {
    spec.description = boundedText(description, MAX_DESCRIPTION, "/domain/description");
  }
}

/**
 * Reads `<on_poweroff>`, `<on_reboot>` and `<on_crash>` into the spec's end
 * policies. `destroy`, `restart` and `preserve` are vmanager's; a value equal to
 * libvirt's default (destroy, restart, destroy: {@linkcode DEFAULT_POLICIES}) is
 * left out of the spec, as libvirt does not tell an absent element from its
 * default. `rename-restart` is refused as libvirt's qemu driver refuses it, and
 * `coredump-destroy`/`coredump-restart` (valid for `on_crash` only, as libvirt
 * checks) because vmanager cannot dump a partition's memory: both with
 * {@linkcode DomainConfigError}.
 */
function parseLifecycle(domain: XmlNode, spec: PartitionSpec): void {
  for (const [element, field] of LIFECYCLE_ELEMENTS) {
    const where = `/domain/${element}`;
    const node = one(domain, element, where);
    if (node === undefined) continue;
    const action = text(node)!.trim();
    if (!LIFECYCLE_ACTIONS.includes(action)) {
      throw new DomainXmlError(
        `unknown ${element} action '${clip(action)}' (destroy, restart, preserve)`,
        where,
      );
    }
    if (action === "rename-restart") {
      throw new DomainConfigError(
        `vmanager does not support the 'rename-restart' action for '${element}'`,
        where,
      );
    }
    if (action.startsWith("coredump-")) {
      if (element !== "on_crash") {
        throw new DomainConfigError(
          `Lifecycle event '${element}' doesn't support '${action}' action`,
          where,
        );
      }
      throw new DomainConfigError(
        `vmanager cannot dump a partition's memory: '${action}' is not supported ` +
          `(use '${action.slice("coredump-".length)}')`,
        where,
      );
    }
    if (action !== DEFAULT_POLICIES[field]) spec[field] = action as EndPolicy;
  }
}

/** How backings_xml.ts reads elements and reports problems, as this module does. */
const READER: XmlReader = {
  one,
  many,
  attr,
  xmlError: (message, where) => new DomainXmlError(message, where),
  unsupported: (message, where) => new DomainConfigError(message, where),
};

/**
 * The partition's devices in the order `dumpxml` lists them: the other devices, then the
 * slots of its backings in backing order (nets, then disks), then its other virtio slots.
 * libvirt's virtio-mmio address names no slot, so these hostdevs are what keeps each
 * backing on its slot when the XML defines the partition again: a backing takes the
 * virtio slots the spec lists, in their order (`backingSlots`).
 */
function devicesInOrder(record: PartitionRecord, board: Board): string[] {
  const devices = record.allocation.devices;
  let slots: string[];
  try {
    slots = backingSlots(board, record.spec, devices).map((s) => s.device);
  } catch {
    return [...devices];
  }
  const virtio = (d: string) => isVirtioSlot(board, d) || slots.includes(d);
  return [
    ...devices.filter((d) => !virtio(d)),
    ...slots.filter((d) => devices.includes(d)),
    ...devices.filter((d) => virtio(d) && !slots.includes(d)),
  ];
}

function coreSet(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(j > i ? `${ids[i]}-${ids[j]}` : `${ids[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The `<title>` and `<description>` lines of a spec that has them. */
function descriptionLines(spec: PartitionSpec): string[] {
  return [
    ...(spec.title ? [`  <title>${escape(spec.title)}</title>`] : []),
    ...(spec.description ? [`  <description>${escape(spec.description)}</description>`] : []),
  ];
}

/**
 * The whole description of a partition as domain XML, allocation included; `arch`
 * is the board's arch plugin (its `unameMachine` is the `<type arch>`).
 */
export function domainXml(
  record: PartitionRecord,
  board: Board,
  backend: string,
  arch: LibvirtArch,
): string {
  const a = record.allocation;
  const kib = Math.floor(a.memory.size / 1024);
  const running = record.state === "running";
  const lines = [
    `<domain type='vmanager'${running ? ` id='${record.id}'` : ""}>`,
    `  <name>${escape(record.name)}</name>`,
    `  <uuid>${uuidOf(record)}</uuid>`,
    ...descriptionLines(record.spec),
    `  <metadata>`,
    `    <vmanager:partition xmlns:vmanager='${VMANAGER_NS}'>`,
    `      <vmanager:board>${escape(board.name)}</vmanager:board>`,
    `      <vmanager:backend>${escape(backend)}</vmanager:backend>`,
    `      <vmanager:state>${record.state}</vmanager:state>`,
    `      <vmanager:id>${record.id}</vmanager:id>`,
    `      <vmanager:window base='${hex(a.memory.base)}' size='${hex(a.memory.size)}'/>`,
    `      <vmanager:cores boot='${a.bootCore}'>${coreSet(a.cores)}</vmanager:cores>`,
    `    </vmanager:partition>`,
    ...Object.values(record.spec.metadata ?? {}).map((element) => `    ${element}`),
    `  </metadata>`,
    `  <memory unit='KiB'>${kib}</memory>`,
    `  <currentMemory unit='KiB'>${kib}</currentMemory>`,
    `  <vcpu placement='static' cpuset='${coreSet(a.cores)}'>${a.cores.length}</vcpu>`,
    `  <os>`,
    `    <type arch='${escape(arch.unameMachine)}' machine='${escape(board.name)}'>hvm</type>`,
  ];
  for (const field of ["kernel", "initrd", "cmdline"] as const) {
    const value = record.spec[field];
    if (value !== undefined) lines.push(`    <${field}>${escape(value)}</${field}>`);
  }
  lines.push(`  </os>`);
  // libvirt prints the end policies always, its defaults included.
  for (const [element, field] of LIFECYCLE_ELEMENTS) {
    lines.push(`  <${element}>${record.spec[field] ?? DEFAULT_POLICIES[field]}</${element}>`);
  }
  lines.push(`  <devices>`);
  const macs = interfaceMacs(board, backend, record);
  lines.push(...backingsXml(record.spec.net ?? [], record.spec.disks ?? [], escape, macs));
  for (const device of devicesInOrder(record, board)) {
    lines.push(
      `    <hostdev mode='subsystem' type='vmanager'>`,
      `      <source name='${escape(device)}'/>`,
      `    </hostdev>`,
    );
  }
  lines.push(`  </devices>`, `</domain>`, "");
  return lines.join("\n");
}
