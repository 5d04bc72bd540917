/**
 * What `show` and `plan` print of one partition: its text, memory map table,
 * monitor call lines and backing views (the list's shapes are output.ts's).
 *
 * @module
 */
import type { Board, MonitorCall, PartitionRecord } from "../model.ts";
import type { MapRegion } from "../partition/memory_map.ts";
import { type BackingSlot, backingSlots } from "../partition/allocate.ts";
import { formatRange } from "../ranges.ts";
import { formatHex, formatSize } from "../units.ts";
import { coreList, policiesOf, table } from "./output.ts";

const policyNames: Record<string, string> = {
  onPoweroff: "on_poweroff",
  onReboot: "on_reboot",
  onCrash: "on_crash",
};

/** A memory map as a table. */
function memoryMapTable(regions: readonly MapRegion[]): string {
  return table(
    ["Region", "Start", "End", "Size", "Content"],
    regions.map((
      r,
    ) => [
      r.name,
      formatHex(r.base),
      formatHex(r.base + r.size - 1),
      formatSize(r.size),
      r.content,
    ]),
  );
}

/** Monitor calls, one per line: `core_start partition=1 hwid=0x2 entry=0x50000000 context=0x0`. */
function callLines(calls: readonly MonitorCall[]): string {
  if (calls.length === 0) return "  (none)";
  return calls.map((c) =>
    `  ${c.call} ` +
    Object.entries(c.args).map(([k, v]) =>
      `${k}=${typeof v === "number" && k !== "partition" ? formatHex(v, 1) : v}`
    )
      .join(" ")
  ).join("\n");
}

/** The JSON shape of a backing in `show` and `plan`: the slot and what backs it. */
export interface BackingView {
  /** The virtio-mmio slot (a board device). */
  device: string;
  /** `net` or `disk`. */
  kind: "net" | "disk";
  /** Net: `user` or `network`. */
  mode?: "user" | "network";
  /** Net: the board network's name. */
  network?: string;
  /** Net: ports forwarded from 127.0.0.1 on the management side. */
  forward?: { host: number; guest: number }[];
  /** Disk: the raw image file. */
  file?: string;
  /** Disk: read-only. */
  readonly?: boolean;
}

/** A partition's backings on their slots (none when its slots cannot be told). */
export function backingViews(record: PartitionRecord, board: Board): BackingView[] {
  let slots: BackingSlot[];
  try {
    slots = backingSlots(board, record.spec, record.allocation.devices);
  } catch {
    return [];
  }
  return slots.map((s) =>
    s.kind === "net"
      ? {
        device: s.device,
        kind: "net",
        mode: s.net.mode,
        ...(s.net.network !== undefined ? { network: s.net.network } : {}),
        ...(s.net.forward ? { forward: s.net.forward } : {}),
      }
      : { device: s.device, kind: "disk", file: s.disk.file, readonly: s.disk.readonly === true }
  );
}

/** One backing in words: `virtio0: net user, tcp 127.0.0.1:8080 -> 80`. */
function backingText(b: BackingView): string {
  if (b.kind === "disk") return `${b.device}: disk ${b.file}${b.readonly ? " (read-only)" : ""}`;
  if (b.mode === "network") return `${b.device}: net on board network ${b.network}`;
  const forwards = (b.forward ?? []).map((f) => `tcp 127.0.0.1:${f.host} -> ${f.guest}`);
  return `${b.device}: net user (restricted)${forwards.length ? `, ${forwards.join(", ")}` : ""}`;
}

/** The human text of one partition: fields, memory map, monitor calls. */
export function partitionText(
  record: PartitionRecord,
  board: Board,
  backend: string,
  regions: readonly MapRegion[],
  calls: readonly MonitorCall[],
  callsTitle: string,
): string {
  const core = (id: number) => {
    const hw = board.cores.find((c) => c.id === id)?.hwid ?? 0;
    return `${id} (hwid ${formatHex(hw, 1)})`;
  };
  const lines = [
    `Name:     ${record.name}`,
    `Id:       ${record.id}`,
    `State:    ${record.state}${record.reason ? ` (${record.reason})` : ""}${
      record.transient ? ", transient" : ""
    }`,
    `Board:    ${board.name} (${board.arch}), backend ${backend}`,
    `Policies: ${
      Object.entries(policiesOf(record)).map(([k, v]) => `${policyNames[k]} ${v}`).join(", ")
    }`,
    `Cores:    ${
      record.allocation.cores.map(core).join(", ")
    }; boot core ${record.allocation.bootCore}`,
    `Memory:   ${formatSize(record.allocation.memory.size)} at ${
      formatRange(record.allocation.memory)
    }`,
    `Devices:  ${record.allocation.devices.join(", ") || "none"}`,
  ];
  if (record.next) {
    const { cores, memory } = record.next.allocation;
    lines.push(
      `Next:     cores ${coreList(cores)}, ${formatSize(memory.size)} at ${
        formatRange(memory)
      } (its next start; vmanctl edit shows it)`,
    );
  }
  backingViews(record, board).forEach((b, i) =>
    lines.push(`${i === 0 ? "Backings:" : "         "} ${backingText(b)}`)
  );
  if (record.spec.kernel) lines.push(`Kernel:   ${record.spec.kernel}`);
  if (record.spec.initrd) lines.push(`Initrd:   ${record.spec.initrd}`);
  if (record.spec.cmdline) lines.push(`Cmdline:  ${record.spec.cmdline}`);
  if (record.spec.title) lines.push(`Title:    ${record.spec.title}`);
  if (record.spec.description) {
    lines.push(`Desc.:    ${record.spec.description.split("\n").join("\n          ")}`);
  }
  if (record.boot) {
    const regs = Object.entries(record.boot.registers).map(([r, v]) => `${r} = ${v}`).join(", ");
    lines.push(
      `Entry:    boot core at ${formatHex(record.boot.entry)}, context ${
        formatHex(record.boot.context)
      }`,
      `          the kernel starts with ${regs}`,
    );
  }
  lines.push("", "Memory map:", memoryMapTable(regions), "", `${callsTitle}:`, callLines(calls));
  return lines.join("\n");
}
