/**
 * The node's description for libvirt clients: `virsh nodeinfo` and
 * `virsh capabilities`, made from the board of the state dir.
 *
 * @module
 */
import type { Board } from "../../core/model.ts";
import type { LibvirtArch } from "./arch.ts";
import { escape } from "./xml_escape.ts";

/** `virNodeInfo` as NODE_GET_INFO returns it. */
export interface NodeInfo {
  /** CPU model (the libvirt arch name). */
  model: string;
  /** RAM in KiB. */
  memoryKiB: bigint;
  /** Active CPUs. */
  cpus: number;
  /** Frequency in MHz (0: unknown). */
  mhz: number;
  /** NUMA nodes. */
  nodes: number;
  /** Sockets per node. */
  sockets: number;
  /** Cores per socket. */
  cores: number;
  /** Threads per core. */
  threads: number;
}

/** The board's totals as libvirt's node info; `arch` is the board's arch plugin. */
export function nodeInfo(board: Board, arch: LibvirtArch): NodeInfo {
  const bytes = board.memory.reduce((sum, m) => sum + m.size, 0);
  return {
    model: arch.unameMachine,
    memoryKiB: BigInt(Math.floor(bytes / 1024)),
    cpus: board.cores.length,
    mhz: 0,
    nodes: 1,
    sockets: 1,
    cores: board.cores.length,
    threads: 1,
  };
}

/**
 * libvirt's capabilities XML for the board: host CPUs and memory, and the guests
 * it runs. `plugin` is the board's arch plugin: its `unameMachine` is the
 * `<arch>`, its `bits` the `<wordsize>`.
 */
export function capabilitiesXml(board: Board, hostUuid: string, plugin: LibvirtArch): string {
  const arch = escape(plugin.unameMachine);
  const info = nodeInfo(board, plugin);
  const wordsize = plugin.bits;
  const cpus = board.cores.map((core, i) =>
    `              <cpu id='${core.id}' socket_id='0' die_id='0' core_id='${i}' siblings='${core.id}'/>`
  );
  return [
    "<capabilities>",
    "",
    "  <host>",
    `    <uuid>${hostUuid}</uuid>`,
    "    <cpu>",
    `      <arch>${arch}</arch>`,
    `      <topology sockets='1' dies='1' cores='${info.cores}' threads='1'/>`,
    "    </cpu>",
    "    <power_management/>",
    "    <iommu support='no'/>",
    "    <topology>",
    "      <cells num='1'>",
    "        <cell id='0'>",
    `          <memory unit='KiB'>${info.memoryKiB}</memory>`,
    `          <cpus num='${board.cores.length}'>`,
    ...cpus,
    "          </cpus>",
    "        </cell>",
    "      </cells>",
    "    </topology>",
    "  </host>",
    "",
    "  <guest>",
    "    <os_type>hvm</os_type>",
    `    <arch name='${arch}'>`,
    `      <wordsize>${wordsize}</wordsize>`,
    `      <machine>${escape(board.name)}</machine>`,
    "      <domain type='vmanager'/>",
    "    </arch>",
    "  </guest>",
    "",
    "</capabilities>",
    "",
  ].join("\n");
}
