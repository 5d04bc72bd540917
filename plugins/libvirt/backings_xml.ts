/**
 * A partition's backings (`--net`, `--disk`) as libvirt's `<interface>` and `<disk>`
 * elements, both ways. Each element is turned into the text `--net` or `--disk`
 * takes and read by core's one parser ({@linkcode parseNet}, {@linkcode parseDisk}),
 * so a value the command line refuses is refused here too (as `XML_ERROR`, naming
 * the element).
 *
 * | XML | backing |
 * |---|---|
 * | `<interface type='user'>` (`<portForward proto='tcp'><range start='H' to='G'/>`) | `--net user[,forward=tcp:H:G]…` |
 * | `<interface type='network'><source network='N'/>` | `--net network=N` |
 * | `<disk type='file' device='disk'><driver type='raw'/><source file='F'/>[<readonly/>]` | `--disk F[,ro]` |
 *
 * libvirt's virtio-mmio address (`<address type='virtio-mmio'/>`) has no field naming
 * a transport, so the slot is not named here: the allocator picks it, or it is a
 * virtio slot the domain lists as a hostdev (see `domainXml`).
 *
 * @module
 */
import { InputError } from "../../core/errors.ts";
import type { DiskBacking, NetBacking } from "../../core/model.ts";
import { parseDisk, parseNet } from "../../core/partition/spec.ts";

/** A parsed XML element, as fast-xml-parser gives it (attributes under `@name`). */
export type XmlNode = Record<string, unknown>;

/** How backings_xml reads elements and reports problems (given by domain_xml.ts). */
export interface XmlReader {
  /** The single child `key`, or undefined; more than one is an XML error. */
  one(node: XmlNode, key: string, path: string): XmlNode | undefined;
  /** Every child `key`. */
  many(node: XmlNode, key: string): XmlNode[];
  /** An attribute, entities decoded. */
  attr(node: XmlNode | undefined, name: string): string | undefined;
  /** A malformed or bad value (libvirt's XML_ERROR). */
  xmlError(message: string, where: string): Error;
  /** Well-formed but not something vmanager can do (libvirt's CONFIG_UNSUPPORTED). */
  unsupported(message: string, where: string): Error;
}

const IFACE = "/domain/devices/interface";
const DISK = "/domain/devices/disk";

/** Runs core's parser on `text`; its refusals become XML errors naming `where`. */
function parsed<T>(r: XmlReader, parse: (text: string) => T, text: string, where: string): T {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof InputError) throw r.xmlError(error.message, where);
    throw error;
  }
}

/** `<address>` may be absent or libvirt's virtio-mmio one (which names no slot). */
function checkAddress(r: XmlReader, node: XmlNode, where: string): void {
  const address = r.one(node, "address", `${where}/address`);
  if (address === undefined) return;
  const type = r.attr(address, "type");
  if (type !== "virtio-mmio") {
    throw r.unsupported(
      `address type '${type ?? ""}' is not supported: a partition's backings are on ` +
        `virtio-mmio slots (<address type='virtio-mmio'/>, or no <address>)`,
      `${where}/address`,
    );
  }
}

/** A decimal port number as text, else an XML error; the range is core's parser's. */
function portText(r: XmlReader, value: string | undefined, where: string): string {
  if (value === undefined) throw r.xmlError("a port forward's <range> needs start='PORT'", where);
  if (!/^\d{1,6}$/.test(value.trim())) {
    throw r.xmlError(`'${value.slice(0, 40)}' is not a TCP port (1-65535)`, where);
  }
  return String(Number(value.trim()));
}

/** The `forward=tcp:H:G` options of one `<interface type='user'>`. */
function forwards(r: XmlReader, iface: XmlNode): string[] {
  const options: string[] = [];
  for (const pf of r.many(iface, "portForward")) {
    const where = `${IFACE}/portForward`;
    const proto = r.attr(pf, "proto") ?? "";
    if (proto !== "tcp") {
      throw proto === "udp"
        ? r.unsupported("vmanager forwards TCP ports only: proto 'udp' is not supported", where)
        : r.xmlError(`portForward proto '${proto.slice(0, 40)}' is not tcp or udp`, where);
    }
    const address = r.attr(pf, "address");
    if (address !== undefined && address !== "127.0.0.1") {
      throw r.unsupported(
        `vmanager forwards ports on 127.0.0.1 only: address '${address.slice(0, 40)}' ` +
          `is not supported`,
        `${where}/@address`,
      );
    }
    if (r.attr(pf, "dev") !== undefined) {
      throw r.unsupported("a port forward bound to a host interface (dev) is not supported", where);
    }
    const ranges = r.many(pf, "range");
    if (ranges.length === 0) throw r.xmlError("a <portForward> needs a <range>", where);
    for (const range of ranges) {
      const at = `${where}/range`;
      if ((r.attr(range, "exclude") ?? "no") !== "no") {
        throw r.unsupported("excluded port ranges are not supported", at);
      }
      const host = portText(r, r.attr(range, "start"), `${at}/@start`);
      const end = r.attr(range, "end");
      if (end !== undefined && portText(r, end, `${at}/@end`) !== host) {
        throw r.unsupported(
          "port ranges are not supported: one <range start='HOST' to='GUEST'/> per port",
          at,
        );
      }
      const to = r.attr(range, "to");
      const guest = to === undefined ? host : portText(r, to, `${at}/@to`);
      options.push(`forward=tcp:${host}:${guest}`);
    }
  }
  return options;
}

/** Reads one `<interface>` into a network backing. */
function parseInterface(r: XmlReader, iface: XmlNode): NetBacking {
  const type = r.attr(iface, "type");
  const model = r.attr(r.one(iface, "model", `${IFACE}/model`), "type");
  if (model !== undefined && model !== "virtio") {
    throw r.unsupported(
      `interface model '${model.slice(0, 40)}' is not supported: a partition's interfaces ` +
        `are virtio (<model type='virtio'/>)`,
      `${IFACE}/model`,
    );
  }
  checkAddress(r, iface, IFACE);
  if (type === "user") {
    const backend = r.attr(r.one(iface, "backend", `${IFACE}/backend`), "type");
    if (backend !== undefined && backend !== "passt" && backend !== "default") {
      throw r.xmlError(`interface backend '${backend.slice(0, 40)}' is not known`, IFACE);
    }
    return parsed(r, parseNet, ["user", ...forwards(r, iface)].join(","), IFACE);
  }
  if (type === "network") {
    const where = `${IFACE}/source`;
    const network = r.attr(r.one(iface, "source", where), "network");
    if (!network) throw r.xmlError("a network interface needs <source network='NAME'/>", where);
    if (network.includes(",")) {
      throw r.xmlError(`'${network.slice(0, 40)}' is not a network name`, `${where}/@network`);
    }
    if (r.many(iface, "portForward").length > 0) {
      throw r.xmlError("<portForward> belongs to a user interface", `${IFACE}/portForward`);
    }
    return parsed(r, parseNet, `network=${network}`, `${where}/@network`);
  }
  throw r.unsupported(
    `interface type '${(type ?? "").slice(0, 40)}' is not supported: use type='user' ` +
      `(with <portForward>) or type='network' (a board network)`,
    `${IFACE}/@type`,
  );
}

/** Reads one `<disk>` into a disk backing: a raw image file, virtio, optionally read-only. */
function parseDiskElement(r: XmlReader, disk: XmlNode): DiskBacking {
  const type = r.attr(disk, "type") ?? "file";
  const device = r.attr(disk, "device") ?? "disk";
  const driver = r.one(disk, "driver", `${DISK}/driver`);
  const format = r.attr(driver, "type") ?? "raw";
  const driverName = r.attr(driver, "name") ?? "qemu";
  const bus = r.attr(r.one(disk, "target", `${DISK}/target`), "bus") ?? "virtio";
  const refused = type !== "file"
    ? `disk type '${type.slice(0, 40)}'`
    : device !== "disk"
    ? `disk device '${device.slice(0, 40)}'`
    : format !== "raw"
    ? `disk format '${format.slice(0, 40)}'`
    : driverName !== "qemu"
    ? `disk driver '${driverName.slice(0, 40)}'`
    : bus !== "virtio"
    ? `disk bus '${bus.slice(0, 40)}'`
    : undefined;
  if (refused) {
    throw r.unsupported(
      `${refused} is not supported: a partition's disk is a raw image file on virtio ` +
        `(<disk type='file' device='disk'><driver name='qemu' type='raw'/>…<target bus='virtio'/>)`,
      DISK,
    );
  }
  checkAddress(r, disk, DISK);
  const where = `${DISK}/source`;
  const file = r.attr(r.one(disk, "source", where), "file");
  if (!file) throw r.xmlError("a disk needs <source file='PATH'/>", where);
  if (!file.startsWith("/")) {
    throw r.xmlError(`disk file '${file.slice(0, 80)}' must be an absolute path`, `${where}/@file`);
  }
  if (file.includes(",")) {
    throw r.xmlError(`disk file '${file.slice(0, 80)}' has a comma`, `${where}/@file`);
  }
  const readonly = r.one(disk, "readonly", `${DISK}/readonly`) !== undefined;
  return parsed(r, parseDisk, readonly ? `${file},ro` : file, `${where}/@file`);
}

/** The backings of a domain's `<devices>`: `net` and `disks` when there are any. */
export function parseBackings(
  r: XmlReader,
  devices: XmlNode,
): { net?: NetBacking[]; disks?: DiskBacking[] } {
  const net = r.many(devices, "interface").map((i) => parseInterface(r, i));
  const disks = r.many(devices, "disk").map((d) => parseDiskElement(r, d));
  return {
    ...(net.length > 0 ? { net } : {}),
    ...(disks.length > 0 ? { disks } : {}),
  };
}

/** The target name of the `n`-th disk (`vda`, `vdb`, … `vdz`, `vdaa`…), as libvirt names them. */
function diskName(n: number): string {
  let name = "";
  for (let i = n + 1; i > 0; i = Math.floor((i - 1) / 26)) {
    name = String.fromCharCode(97 + ((i - 1) % 26)) + name;
  }
  return `vd${name}`;
}

/**
 * The `<disk>` and `<interface>` lines of `dumpxml` (indented for `<devices>`); `macs`,
 * when the backend gives them, are the interfaces' MAC addresses (plugins/libvirt/macs.ts).
 */
export function backingsXml(
  net: readonly NetBacking[],
  disks: readonly DiskBacking[],
  escape: (value: string) => string,
  macs: readonly string[] = [],
): string[] {
  const lines: string[] = [];
  disks.forEach((disk, i) => {
    lines.push(
      `    <disk type='file' device='disk'>`,
      `      <driver name='qemu' type='raw'/>`,
      `      <source file='${escape(disk.file)}'/>`,
      `      <target dev='${diskName(i)}' bus='virtio'/>`,
      ...(disk.readonly ? [`      <readonly/>`] : []),
      `      <address type='virtio-mmio'/>`,
      `    </disk>`,
    );
  });
  net.forEach((iface, i) => {
    const mac = macs[i] ? [`      <mac address='${escape(macs[i])}'/>`] : [];
    if (iface.mode === "network") {
      lines.push(
        `    <interface type='network'>`,
        ...mac,
        `      <source network='${escape(iface.network ?? "")}'/>`,
        `      <model type='virtio'/>`,
        `      <address type='virtio-mmio'/>`,
        `    </interface>`,
      );
      return;
    }
    const forward = iface.forward ?? [];
    lines.push(
      `    <interface type='user'>`,
      ...mac,
      // libvirt takes <portForward> with the passt backend only.
      ...(forward.length > 0 ? [`      <backend type='passt'/>`] : []),
      `      <model type='virtio'/>`,
    );
    if (forward.length > 0) {
      lines.push(`      <portForward proto='tcp' address='127.0.0.1'>`);
      for (const f of forward) lines.push(`        <range start='${f.host}' to='${f.guest}'/>`);
      lines.push(`      </portForward>`);
    }
    lines.push(`      <address type='virtio-mmio'/>`, `    </interface>`);
  });
  return lines;
}
