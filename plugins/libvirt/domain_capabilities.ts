/**
 * CONNECT_GET_DOMAIN_CAPABILITIES (342): `virsh domcapabilities`,
 * `virConnectGetDomainCapabilities`, libvirt-dbus's `GetDomainCapabilities` (which
 * Cockpit calls for every domain it lists). The document follows libvirt's
 * `domaincaps.rng` (format: libvirt's "Domain capabilities XML format"), made from
 * the board and what partitions hold now:
 *
 * - `<path>`: the emulator — the board's QEMU program on the `qemu` backend, else
 *   the vmanctl program that runs the partitions;
 * - `<domain>vmanager</domain>`, `<machine>` the board's name, `<arch>` its libvirt arch;
 * - `<vcpu max>`: the board's free cores (no reservation keeps them, no partition holds them);
 * - `<os>`: direct kernel boot only, no firmware or loader;
 * - `<devices>`: virtio raw disks, and hostdevs of type `vmanager` (with the board
 *   devices that can be given now as `<enum name='name'>`); no graphics, video, rng,
 *   filesystem, TPM, redirdev or channel.
 *
 * @module
 */
import { assignable } from "../../core/board/assignable.ts";
import { holders } from "../../core/partition/update.ts";
import type { Board, PartitionRecord } from "../../core/model.ts";
import type { LibvirtArch } from "./arch.ts";
import type { CallContext } from "./procedures.ts";
import { MAX_STRING } from "./protocol.ts";
import { invalidArgument, unsupportedFlags } from "./stats.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";
import { escape } from "./xml_escape.ts";

/** What a client asked for (each absent: any). */
export interface DomainCapsQuery {
  /** The emulator's path. */
  emulatorbin?: string;
  /** The libvirt architecture. */
  arch?: string;
  /** The machine type (the board's name). */
  machine?: string;
  /** The virtualization type (`vmanager`). */
  virttype?: string;
}

/** `VIR_CONNECT_GET_DOMAIN_CAPABILITIES_DISABLE_DEPRECATED_FEATURES`: nothing is deprecated. */
const DISABLE_DEPRECATED_FEATURES = 1;

/** The cores no reservation keeps and no partition holds (nor its next definition). */
function freeCores(board: Board, records: readonly PartitionRecord[]): number[] {
  const held = new Set(holders(records).flatMap((h) => h.allocation.cores));
  return assignable(board).cores.filter((id) => !held.has(id));
}

/** The devices a partition can be given now: unreserved, and shared or held by none. */
function freeDevices(board: Board, records: readonly PartitionRecord[]): string[] {
  const held = new Set(holders(records).flatMap((h) => h.allocation.devices));
  const shared = new Set(
    board.devices.filter((d) => d.sharing === "per-partition").map((d) => d.name),
  );
  return assignable(board).devices.filter((name) => shared.has(name) || !held.has(name));
}

/** Where {@linkcode onPath} found each program (PATH is the daemon's, set at its start). */
const pathCache = new Map<string, string>();

/**
 * The absolute path of `program` on PATH, when it is there: found once per program
 * (one not found yet is looked for again, so one installed later is seen).
 */
function onPath(program: string): string | undefined {
  const known = pathCache.get(program);
  if (known !== undefined) return known;
  const found = searchPath(program);
  if (found !== undefined) pathCache.set(program, found);
  return found;
}

function searchPath(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir.startsWith("/")) continue;
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return `${dir}/${program}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The program that runs the partitions: the board's QEMU on `qemu`, else vmanctl. */
function emulatorPath(board: Board, backend: string): string {
  const binary = board.qemu?.binary;
  if (backend === "qemu" && binary) return onPath(binary) ?? `/usr/bin/${binary}`;
  const main = Deno.mainModule;
  return main.startsWith("file:") ? decodeURIComponent(new URL(main).pathname) : Deno.execPath();
}

/**
 * Refuses a query the board cannot answer, as libvirt's drivers do (INVALID_ARG);
 * `plugin` is the board's arch plugin (its `unameMachine` is libvirt's arch).
 */
function checkQuery(
  board: Board,
  emulator: string,
  q: DomainCapsQuery,
  plugin: LibvirtArch,
): void {
  const arch = plugin.unameMachine;
  const refuse = (what: string) => {
    throw invalidArgument(
      `${what}: vmanager's board ${board.name} runs '${arch}' partitions ` +
        `of virttype 'vmanager' on machine '${board.name}' (emulator ${emulator})`,
    );
  };
  if (q.arch !== undefined && q.arch !== arch) refuse(`architecture '${q.arch}' is not supported`);
  if (q.machine !== undefined && q.machine !== board.name) {
    refuse(`machine '${q.machine}' is not supported`);
  }
  if (q.virttype !== undefined && q.virttype !== "vmanager") {
    refuse(`virttype '${q.virttype}' is not supported`);
  }
  if (q.emulatorbin !== undefined && q.emulatorbin !== emulator) {
    refuse(`emulator '${q.emulatorbin}' is not supported`);
  }
}

function enumLines(indent: string, name: string, values: readonly string[]): string[] {
  if (values.length === 0) return [`${indent}<enum name='${name}'/>`];
  return [
    `${indent}<enum name='${name}'>`,
    ...values.map((v) => `${indent}  <value>${escape(v)}</value>`),
    `${indent}</enum>`,
  ];
}

/** The devices part of the document. */
function devicesLines(devices: readonly string[]): string[] {
  // In domaincaps.rng's order.
  const no = (names: string[]) => names.map((d) => `    <${d} supported='no'/>`);
  return [
    "  <devices>",
    "    <disk supported='yes'>",
    ...enumLines("      ", "diskDevice", ["disk"]),
    ...enumLines("      ", "bus", ["virtio"]),
    ...enumLines("      ", "model", []),
    "    </disk>",
    ...no(["graphics", "video"]),
    "    <hostdev supported='yes'>",
    ...enumLines("      ", "mode", ["subsystem"]),
    ...enumLines("      ", "startupPolicy", []),
    ...enumLines("      ", "subsysType", ["vmanager"]),
    ...enumLines("      ", "capsType", []),
    ...enumLines("      ", "pciBackend", []),
    ...enumLines("      ", "name", devices),
    "    </hostdev>",
    ...no(["rng", "filesystem", "tpm", "redirdev", "channel"]),
    "  </devices>",
  ];
}

/**
 * libvirt's domain capabilities XML of the board, with what is free in `records`;
 * `arch` is the board's arch plugin.
 */
function domainCapabilitiesXml(
  board: Board,
  records: readonly PartitionRecord[],
  emulator: string,
  arch: LibvirtArch,
): string {
  const cpuModes = ["host-passthrough", "maximum", "host-model", "custom"];
  return [
    "<domainCapabilities>",
    `  <path>${escape(emulator)}</path>`,
    "  <domain>vmanager</domain>",
    `  <machine>${escape(board.name)}</machine>`,
    `  <arch>${escape(arch.unameMachine)}</arch>`,
    `  <vcpu max='${freeCores(board, records).length}'/>`,
    "  <iothreads supported='no'/>",
    "  <os supported='yes'>",
    ...enumLines("    ", "firmware", []),
    "    <loader supported='no'/>",
    "  </os>",
    "  <cpu>",
    ...cpuModes.map((mode) => `    <mode name='${mode}' supported='no'/>`),
    "  </cpu>",
    "  <memoryBacking supported='no'/>",
    ...devicesLines(freeDevices(board, records)),
    "</domainCapabilities>",
    "",
  ].join("\n");
}

/**
 * CONNECT_GET_DOMAIN_CAPABILITIES (342): `{ string* emulatorbin, arch, machine,
 * virttype; unsigned flags }` → `{ string capabilities }`.
 */
export async function getDomainCapabilities(
  ctx: CallContext,
  r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  const read = () => r.optional((x) => x.string(MAX_STRING));
  const query: DomainCapsQuery = {
    emulatorbin: read(),
    arch: read(),
    machine: read(),
    virttype: read(),
  };
  unsupportedFlags(r.uint(), DISABLE_DEPRECATED_FEATURES, "virConnectGetDomainCapabilities");
  const board = await ctx.driver.board();
  const emulator = emulatorPath(board, await ctx.driver.backend());
  const arch = await ctx.driver.arch(board);
  checkQuery(board, emulator, query, arch);
  w.string(domainCapabilitiesXml(board, await ctx.driver.records(), emulator, arch));
}
