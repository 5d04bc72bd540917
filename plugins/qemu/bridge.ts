/**
 * Board networks on this machine: `--net network=NAME` is a Linux bridge the qemu
 * backend makes, with a tap device per partition interface enslaved to it, so the
 * partitions on NAME reach each other and the management side (this machine, on the
 * bridge's address) reaches them.
 *
 * - The bridge is `vmbr-XXXXXXXX` (the FNV-1a hash of NAME in hex) with the address
 *   `10.A.B.1/24` (A and B from the same hash, A never 0); the partitions take the
 *   other addresses of `10.A.B.0/24`. It is made when the first partition on it
 *   starts and removed when its last tap is.
 * - A partition's tap is `vtSSSSSS-ID-N` (SSSSSS a hash of the state dir, ID the
 *   partition id, N its virtio transport): made at `start`, removed at `stop` and
 *   `destroy`.
 * - Nothing else is put on the bridge and nothing is routed: no uplink, IP forwarding
 *   and NAT are left as they are. The partitions reach this machine, not past it.
 *
 * It needs root (CAP_NET_ADMIN, to make links; checked as uid 0) and iproute2's `ip`.
 *
 * @module
 */
import { MonitorError } from "../../core/errors.ts";

/** FNV-1a of a text: the same text gives the same hash in every process. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash;
}

/** A board network as this machine has it. */
export interface BoardNetwork {
  /** Its name (`--net network=NAME`). */
  name: string;
  /** The bridge's interface name. */
  bridge: string;
  /** The first three octets of its /24, e.g. `10.12.34`. */
  prefix: string;
  /** The management side's address on it, `10.A.B.1`. */
  address: string;
}

/** The bridge, subnet and management address of board network `name`. */
export function boardNetwork(name: string): BoardNetwork {
  const hash = fnv1a(name);
  // A is never 0: 10.0.2.0/24 is QEMU's user network, which a partition may also have.
  const prefix = `10.${1 + ((hash >>> 8) & 0xff) % 254}.${hash & 0xff}`;
  return {
    name,
    bridge: `vmbr-${hash.toString(16).padStart(8, "0")}`,
    prefix,
    address: `${prefix}.1`,
  };
}

/** The start of the tap names of partition `id` of state dir `stateDir`. */
function tapPrefix(stateDir: string, id: number): string {
  let dir = stateDir;
  try {
    dir = Deno.realPathSync(stateDir);
  } catch {
    // Not there (yet): its name as given.
  }
  return `vt${(fnv1a(dir) >>> 8).toString(16).padStart(6, "0")}-${id}-`;
}

/** The tap of partition `id`'s interface on virtio transport `transport`. */
export function tapName(stateDir: string, id: number, transport: number): string {
  const name = `${tapPrefix(stateDir, id)}${transport}`;
  if (name.length > 15) {
    throw new MonitorError(`partition id ${id} is too large for a tap device name (${name})`);
  }
  return name;
}

/** Runs `ip` with `args`: its exit code and what it wrote to stderr. */
function ip(...args: string[]): { code: number; out: string; err: string } {
  const r = new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).outputSync();
  const text = new TextDecoder();
  return { code: r.code, out: text.decode(r.stdout), err: text.decode(r.stderr).trim() };
}

/** Runs `ip` with `args`, failing the start with its message. */
function must(network: BoardNetwork, ...args: string[]): void {
  const r = ip(...args);
  if (r.code !== 0) {
    throw new MonitorError(
      `cannot set up board network ${network.name} (ip ${args.join(" ")}: ${r.err})`,
    );
  }
}

/** Whether `ip` is there and this process is root. */
function canBridge(): "ok" | "no-root" | "no-ip" {
  if (Deno.uid() !== 0) return "no-root";
  try {
    ip("-V");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no-ip";
    throw error;
  }
  return "ok";
}

/** Whether a link named `name` exists. */
function exists(name: string): boolean {
  return ip("link", "show", "dev", name).code === 0;
}

/**
 * Holds the machine-wide lock of board network changes while `fn` runs, so that a
 * bridge is not removed between another start's making it and enslaving its tap.
 */
function locked<T>(fn: () => T): T {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync("/run/vmanager-net.lock", { create: true, write: true });
    file.lockSync(true);
  } catch {
    file?.close();
    file = undefined;
  }
  try {
    return fn();
  } finally {
    file?.close();
  }
}

/**
 * Makes tap `tap` on board network `name`'s bridge, and the bridge when absent, both
 * up. A tap left by a start that failed is taken over. Fails with one line without
 * root or `ip`, or when another interface already has an address in the network's /24.
 */
export function setUpTap(name: string, tap: string): void {
  const network = boardNetwork(name);
  switch (canBridge()) {
    case "no-root":
      throw new MonitorError(
        `board network ${name} needs root: the qemu backend makes it a bridge (${network.bridge}) ` +
          `with a tap device per partition; start the partition as root`,
      );
    case "no-ip":
      throw new MonitorError(
        `board network ${name} needs the ip command (Debian package iproute2), which is not ` +
          `installed`,
      );
  }
  locked(() => {
    // Another interface in the same /24 would take the traffic: refuse rather than guess.
    for (const line of ip("-o", "-4", "addr", "show").out.split("\n")) {
      const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+)\.\d+\//.exec(line);
      if (m && m[2] === network.prefix && m[1] !== network.bridge) {
        throw new MonitorError(
          `board network ${name} would be ${network.prefix}.0/24, but ${m[1]} already has an ` +
            `address there; name the network differently`,
        );
      }
    }
    if (!exists(network.bridge)) {
      must(network, "link", "add", "name", network.bridge, "type", "bridge");
    }
    must(network, "addr", "replace", `${network.address}/24`, "dev", network.bridge);
    must(network, "link", "set", "dev", network.bridge, "up");
    if (!exists(tap)) must(network, "tuntap", "add", "dev", tap, "mode", "tap");
    must(network, "link", "set", "dev", tap, "master", network.bridge);
    must(network, "link", "set", "dev", tap, "up");
  });
}

/**
 * Removes partition `id`'s taps, and each bridge of a board network that has no tap
 * left. Does nothing without root or `ip` (then there are none); never fails.
 */
export function removeTaps(stateDir: string, id: number): void {
  try {
    if (canBridge() !== "ok") return;
    const prefix = tapPrefix(stateDir, id);
    locked(() => {
      const bridges = new Set<string>();
      for (const line of ip("-o", "link", "show").out.split("\n")) {
        const m = /^\d+:\s+([^:@\s]+)[:@]/.exec(line);
        if (!m || !m[1].startsWith(prefix)) continue;
        const master = / master (\S+)/.exec(line)?.[1];
        if (master?.startsWith("vmbr-")) bridges.add(master);
        ip("link", "del", "dev", m[1]);
      }
      for (const bridge of bridges) {
        const ports = ip("-o", "link", "show", "master", bridge);
        if (ports.code === 0 && ports.out.trim() === "") ip("link", "del", "dev", bridge);
      }
    });
  } catch {
    // Best effort: a stop does not fail on a tap it cannot remove.
  }
}
