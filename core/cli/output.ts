/**
 * Plain-text tables and JSON views of partitions and boards: the shapes
 * `--json` prints (documented in docs/cli.md). What `show` and `plan` print of
 * one partition is detail_output.ts's.
 *
 * @module
 */
import { DEFAULT_POLICIES, type EndPolicy, type PartitionRecord } from "../model.ts";
import { formatRange } from "../ranges.ts";
import { formatSize } from "../units.ts";
import type { CliContext } from "./context.ts";

/**
 * What a command that changed a partition prints: `text`, or with `--json` the
 * partition's view (and the warnings, when there are any). Exit code 0.
 */
export function reportPartition(
  ctx: CliContext,
  record: PartitionRecord,
  text: string,
  warnings: readonly string[] = [],
): number {
  if (ctx.globals.json) {
    ctx.json({ ...partitionView(record), ...(warnings.length > 0 ? { warnings } : {}) });
  } else ctx.io.out(text);
  return 0;
}

/** Lays out rows under headers, columns padded to their widest cell. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** A compact core list: `1-3`, `0,2`. */
export function coreList(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(
      j > i + 1 ? `${ids[i]}-${ids[j]}` : j === i + 1 ? `${ids[i]},${ids[j]}` : `${ids[i]}`,
    );
    i = j + 1;
  }
  return parts.join(",");
}

/** The JSON shape of a partition in `list`. */
export interface PartitionView {
  /** Name. */
  name: string;
  /** Monitor partition id. */
  id: number;
  /** Lifecycle state. */
  state: string;
  /** Core ids. */
  cores: number[];
  /** Boot core id. */
  bootCore: number;
  /** Memory window. */
  memory: { base: number; size: number };
  /** Device names. */
  devices: string[];
  /** Kernel path, when given. */
  kernel?: string;
  /** Initrd path, when given. */
  initrd?: string;
  /** Command line, when given. */
  cmdline?: string;
  /** Title (libvirt's `<title>`), when set. */
  title?: string;
  /** Description (libvirt's `<description>`), when set. */
  description?: string;
  /** Why it is in its state (`shutdown`, `crashed`, `restarted`…), when vmanager knows. */
  reason?: string;
  /** What is done when it powers off, reboots or crashes on its own. */
  policies: { onPoweroff: EndPolicy; onReboot: EndPolicy; onCrash: EndPolicy };
  /** Present (true) for a transient partition: removed once it no longer runs. */
  transient?: true;
}

/** The list view of a partition. */
export function partitionView(record: PartitionRecord): PartitionView {
  const { allocation: a, spec } = record;
  return {
    name: record.name,
    id: record.id,
    state: record.state,
    cores: a.cores,
    bootCore: a.bootCore,
    memory: { base: a.memory.base, size: a.memory.size },
    devices: a.devices,
    ...(spec.kernel !== undefined ? { kernel: spec.kernel } : {}),
    ...(spec.initrd !== undefined ? { initrd: spec.initrd } : {}),
    ...(spec.cmdline !== undefined ? { cmdline: spec.cmdline } : {}),
    ...(spec.title !== undefined ? { title: spec.title } : {}),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
    policies: policiesOf(record),
    ...(record.transient ? { transient: true as const } : {}),
  };
}

/** A partition's end policies, its spec's or the defaults. */
export function policiesOf(
  record: PartitionRecord,
): { onPoweroff: EndPolicy; onReboot: EndPolicy; onCrash: EndPolicy } {
  const { spec } = record;
  return {
    onPoweroff: spec.onPoweroff ?? DEFAULT_POLICIES.onPoweroff,
    onReboot: spec.onReboot ?? DEFAULT_POLICIES.onReboot,
    onCrash: spec.onCrash ?? DEFAULT_POLICIES.onCrash,
  };
}

/** The `list` table. */
export function partitionTable(records: readonly PartitionRecord[]): string {
  return table(
    ["Name", "Id", "State", "Cores", "Memory", "Size", "Devices"],
    records.map((r) => [
      r.name,
      String(r.id),
      stateText(r),
      coreList(r.allocation.cores),
      formatRange(r.allocation.memory),
      formatSize(r.allocation.memory.size),
      r.allocation.devices.join(",") || "-",
    ]),
  );
}

/** A partition's state in words: `running`, `running (transient)`. */
function stateText(record: PartitionRecord): string {
  return record.transient ? `${record.state} (transient)` : record.state;
}
