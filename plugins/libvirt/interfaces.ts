/**
 * DOMAIN_INTERFACE_ADDRESSES (353): `virsh domifaddr`, python's `interfaceAddresses()`,
 * Terraform's `wait_for_ip`, Ansible's `get_ifaddresses`, Cockpit's network tab. Only
 * addresses vmanager really knows are given, for a running partition's network
 * interfaces (the spec's `net`, in order, named `net0`, `net1`… as libvirt's aliases):
 *
 * - `--net user`: the address QEMU's user network gives its guest, `10.0.2.15/24`
 *   (its DHCP server's lease, and where its port forwards lead) — or the address in
 *   `10.0.2.0/24` the partition's command line gives with `vmanager.ip=ADDR/PREFIX`;
 * - `--net network=NAME`: the address `vmanager.ip=ADDR/PREFIX` on the command line
 *   gives, when it lies in the board network's subnet (`10.A.B.0/24`,
 *   plugins/qemu/bridge.ts); vmanager runs no DHCP there, so otherwise none.
 *
 * Source LEASE (0) answers this; ARP (2) answers no interface (vmanager reads no ARP
 * table); AGENT (1) is refused, a partition has no guest agent. Each interface's MAC
 * address is the one `dumpxml` writes, on the `qemu` backend (plugins/libvirt/macs.ts).
 *
 * @module
 */
import type { NetBacking, PartitionRecord } from "../../core/model.ts";
import { boardNetwork } from "../qemu/bridge.ts";
import { RpcError } from "./errors.ts";
import { notRunning } from "./transactions.ts";
import type { CallContext } from "./procedures.ts";
import { interfaceMacs } from "./macs.ts";
import { readDomain } from "./procedures.ts";
import { ErrorCode } from "./protocol.ts";
import { invalidArgument, unsupportedFlags } from "./stats.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";

/** `virDomainInterfaceAddressesSource`. */
const AddressSource = { LEASE: 0, AGENT: 1, ARP: 2 } as const;

/** `virIPAddrType`: IPv4. */
const IP_ADDR_TYPE_IPV4 = 0;

/** QEMU's user network: its subnet and the address its DHCP server gives the guest. */
const USER_NET = { prefix: "10.0.2", guest: "10.0.2.15", length: 24 } as const;

/** An IPv4 address with its prefix length. */
export interface IpAddress {
  /** Dotted quad. */
  address: string;
  /** Prefix length, 0–32. */
  prefix: number;
}

/** An interface and the addresses vmanager knows it has. */
export interface InterfaceAddresses {
  /** Its name (`net0`…). */
  name: string;
  /** Its MAC address, when the backend gives one. */
  mac?: string;
  /** Its addresses. */
  addresses: IpAddress[];
}

const QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The `vmanager.ip=ADDR/PREFIX[,GATEWAY]` of a command line (the test guest's /init reads it). */
export function commandLineAddress(cmdline: string | undefined): IpAddress | undefined {
  const m = /(?:^|\s)vmanager\.ip=([^\s,]+)/.exec(cmdline ?? "");
  if (!m) return undefined;
  const [address, length] = m[1].split("/");
  const prefix = Number(length);
  if (!QUAD.test(address) || !/^\d{1,2}$/.test(length ?? "") || prefix > 32) return undefined;
  return { address, prefix };
}

/** The addresses one interface has, as far as vmanager knows. */
function addressesOf(net: NetBacking, given: IpAddress | undefined): IpAddress[] {
  if (net.mode === "user") {
    if (given?.address.startsWith(`${USER_NET.prefix}.`)) return [given];
    return [{ address: USER_NET.guest, prefix: USER_NET.length }];
  }
  const subnet = boardNetwork(net.network ?? "").prefix;
  return given?.address.startsWith(`${subnet}.`) ? [given] : [];
}

/**
 * Every network interface of `record` with the addresses vmanager knows (maybe none),
 * and its MAC address where `macs` (plugins/libvirt/macs.ts) gives one.
 */
export function knownAddresses(
  record: PartitionRecord,
  macs: readonly string[] = [],
): InterfaceAddresses[] {
  const given = commandLineAddress(record.spec.cmdline);
  return (record.spec.net ?? []).map((net, i) => ({
    name: `net${i}`,
    ...(macs[i] ? { mac: macs[i] } : {}),
    addresses: addressesOf(net, given),
  }));
}

/** Writes `remote_domain_interface ifaces<>`: name, no hwaddr, `remote_domain_ip_addr addrs<>`. */
function writeInterfaces(w: XdrWriter, ifaces: readonly InterfaceAddresses[]): void {
  w.uint(ifaces.length);
  for (const iface of ifaces) {
    w.string(iface.name).optional(iface.mac, (x, v) => x.string(v));
    w.uint(iface.addresses.length);
    for (const a of iface.addresses) w.int(IP_ADDR_TYPE_IPV4).string(a.address).uint(a.prefix);
  }
}

/**
 * DOMAIN_INTERFACE_ADDRESSES (353): `{ dom; unsigned source; unsigned flags }` →
 * `{ remote_domain_interface ifaces<> }`. The interfaces with no known address are
 * left out, as libvirt lists only interfaces it found addresses for.
 */
export async function interfaceAddresses(
  ctx: CallContext,
  r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  const dom = readDomain(r);
  const source = r.uint();
  const flags = r.uint();
  unsupportedFlags(flags, 0, "virDomainInterfaceAddresses");
  const record = await ctx.driver.resolve(dom);
  if (record.state !== "running") {
    throw notRunning();
  }
  if (source === AddressSource.AGENT) {
    throw new RpcError(
      ErrorCode.ARGUMENT_UNSUPPORTED,
      "argument unsupported: a partition has no guest agent (use --source lease)",
    );
  }
  if (source !== AddressSource.LEASE && source !== AddressSource.ARP) {
    throw invalidArgument(`Unknown IP address data source ${source}`);
  }
  const macs = interfaceMacs(await ctx.driver.board(), await ctx.driver.backend(), record);
  const known = source === AddressSource.LEASE ? knownAddresses(record, macs) : [];
  writeInterfaces(w, known.filter((i) => i.addresses.length > 0));
}
