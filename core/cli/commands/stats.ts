/**
 * `stats [NAME]`: what `xl top` and `virsh domstats` show — each partition's state
 * (and why it is not running), uptime, CPU time per core and in total, memory
 * window and the bytes of console captured. CPU time comes from the backend's
 * `stats` hook (the qemu backend measures its vCPU threads); a backend without one
 * gives what the state knows, with CPU time "not available" (`null` in JSON).
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { table } from "../output.ts";
import type { PartitionRecord } from "../../model.ts";
import type { MonitorPlugin, PartitionStats } from "../../registry/plugin.ts";
import { type ObservedRecord, observeRecords } from "../../partition/observe.ts";
import { formatRange } from "../../ranges.ts";
import { formatHex, formatSize } from "../../units.ts";
import { errorLine } from "../../errors.ts";

/** The JSON shape of one partition's statistics (documented in docs/cli.md). */
export interface StatsView {
  /** Name. */
  name: string;
  /** Monitor partition id. */
  id: number;
  /** State as the backend observes it: `defined`, `running`, `stopped` or `crashed`. */
  state: string;
  /** Why it is not running, as `show` gives it; null when running or not known. */
  reason: string | null;
  /** The state dir's backend. */
  backend: string;
  /** ISO 8601 UTC time of the start of the current run; null when not running or not known. */
  startedAt: string | null;
  /** Seconds since `startedAt` (millisecond precision); null with it. */
  uptimeSeconds: number | null;
  /** CPU time of all its cores, ns; null when not measured (not running, or no statistics). */
  cpuTimeNs: number | null;
  /** Each core, ascending: its CPU time in ns, or null when not measured. */
  cores: { id: number; cpuTimeNs: number | null }[];
  /** The memory window. */
  memory: { base: number; size: number };
  /** Bytes of console captured on disk; null when the backend captures none (or none yet). */
  consoleBytes: number | null;
}

/** The statistics view of `record` from what the backend measured (`undefined`: nothing). */
function statsView(
  record: ObservedRecord,
  backend: string,
  measured: PartitionStats | undefined,
  now: Date = new Date(),
): StatsView {
  const running = record.state === "running";
  const cores = record.allocation.cores.map((id) => {
    const ns = running ? measured?.cpuTimeNs[id] : undefined;
    return { id, cpuTimeNs: ns ?? null };
  });
  const times = cores.map((c) => c.cpuTimeNs).filter((ns): ns is number => ns !== null);
  const startedAt = running ? recordedStart(record) ?? measured?.startedAt ?? null : null;
  const since = startedAt === null ? NaN : Date.parse(startedAt);
  return {
    name: record.name,
    id: record.id,
    state: record.state,
    reason: running ? null : reasonOf(record),
    backend,
    startedAt,
    uptimeSeconds: Number.isFinite(since)
      ? Math.max(0, Math.round(now.getTime() - since)) / 1000
      : null,
    cpuTimeNs: times.length > 0 ? times.reduce((a, b) => a + b, 0) : null,
    cores,
    memory: { base: record.allocation.memory.base, size: record.allocation.memory.size },
    consoleBytes: record.state === "defined" ? null : measured?.consoleBytes ?? null,
  };
}

/** The start time the state records for the partition's current run, when it records one. */
function recordedStart(record: PartitionRecord): string | undefined {
  const started = (record as { started?: unknown }).started;
  return typeof started === "string" && Number.isFinite(Date.parse(started)) ? started : undefined;
}

/** Why a partition is not running: what its backend saw, or what the state kept of its end. */
function reasonOf(record: ObservedRecord): string | null {
  const ending = (record as { ending?: { reason?: unknown } }).ending;
  const kept = typeof ending?.reason === "string" ? ending.reason : undefined;
  return record.runtime?.reason ?? kept ?? null;
}

/** `1h 02m 03s`, `2m 05s`, `42s`. */
function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  const [d, h, m, r] = [
    Math.floor(s / 86400),
    Math.floor(s / 3600) % 24,
    Math.floor(s / 60) % 60,
    s % 60,
  ];
  const two = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${two(h)}h ${two(m)}m`;
  if (h > 0) return `${h}h ${two(m)}m ${two(r)}s`;
  if (m > 0) return `${m}m ${two(r)}s`;
  return `${r}s`;
}

/** CPU time for people: `3.214 s`; `-` when not measured. */
function formatCpu(ns: number | null): string {
  return ns === null ? "-" : `${(ns / 1e9).toFixed(3)} s`;
}

/** The table of every partition's statistics. */
function statsTable(views: readonly StatsView[]): string {
  return table(
    ["Name", "State", "Uptime", "CPU time", "Per core", "Memory", "Console"],
    views.map((v) => [
      v.name,
      v.state,
      v.uptimeSeconds === null ? "-" : formatUptime(v.uptimeSeconds),
      formatCpu(v.cpuTimeNs),
      v.cores.map((c) => `${c.id}: ${formatCpu(c.cpuTimeNs)}`).join(", "),
      `${formatSize(v.memory.size)} at ${formatHex(v.memory.base)}`,
      v.consoleBytes === null ? "-" : formatSize(v.consoleBytes),
    ]),
  );
}

/** One partition's statistics as text. */
function statsText(v: StatsView): string {
  const lines = [
    `Name:      ${v.name}`,
    `State:     ${v.state}${v.reason ? ` (${v.reason})` : ""}`,
  ];
  if (v.startedAt !== null) {
    const up = v.uptimeSeconds === null ? "" : ` (up ${formatUptime(v.uptimeSeconds)})`;
    lines.push(`Started:   ${v.startedAt}${up}`);
  }
  lines.push(`CPU time:  ${formatCpu(v.cpuTimeNs)}`);
  for (const c of v.cores) lines.push(`  core ${c.id}:  ${formatCpu(c.cpuTimeNs)}`);
  lines.push(
    `Memory:    ${formatSize(v.memory.size)} at ${formatRange(v.memory)}`,
    `Console:   ${v.consoleBytes === null ? "-" : `${formatSize(v.consoleBytes)} captured`}`,
  );
  return lines.join("\n");
}

/** The lines after the table or text: why partitions are not running, what is not measured. */
function notes(views: readonly StatsView[], plugin: MonitorPlugin | undefined): string[] {
  const lines: string[] = [];
  // One partition's text has its reason on its State line.
  if (views.length > 1) {
    for (const v of views) {
      if (v.reason) lines.push(`${v.name}: ${v.reason}`);
    }
  }
  const backend = views[0]?.backend;
  if (views.some((v) => v.state === "running") && !plugin?.stats) {
    lines.push(`CPU time is not available: backend ${backend} keeps no statistics.`);
  }
  return lines;
}

/** `stats [NAME]` */
export const statsCommand: CommandSpec<CliContext> = {
  name: "stats",
  summary:
    "Show partitions' statistics: state, uptime, CPU time per core, memory window, console bytes.",
  args: [{ name: "NAME", required: false, complete: "partition" }],
  options: [],
  async run(ctx, input) {
    const name = input.args.NAME;
    const doc = await ctx.converged();
    let records: PartitionRecord[] = doc?.partitions ?? [];
    if (name !== undefined) {
      const { partitionIn } = await import("../../state/lookup.ts");
      records = [partitionIn(doc, name).record];
    }
    const observed = await observeRecords(records, await ctx.observer(doc));
    const plugin = doc && observed.some((r) => r.state !== "defined")
      ? await statsPlugin(ctx, doc.backend)
      : undefined;
    const store = await ctx.store();
    const views = await Promise.all(observed.map(async (record) => {
      let measured: PartitionStats | undefined;
      if (plugin?.stats && record.state !== "defined") {
        try {
          measured = await plugin.stats(
            { stateDir: store.dir, board: doc!.board },
            record.id,
            record.allocation.cores,
          );
        } catch (error) {
          ctx.io.err(`vmanctl: warning: ${record.name}: not measured: ${errorLine(error)}`);
        }
      }
      return statsView(record, doc!.backend, measured);
    }));
    if (ctx.globals.json) {
      ctx.json(name !== undefined ? views[0] : views);
      return 0;
    }
    if (name !== undefined) ctx.io.out(statsText(views[0]));
    else if (views.length === 0) ctx.io.out("No partitions.");
    else ctx.io.out(statsTable(views));
    const more = notes(views, plugin);
    if (more.length > 0) ctx.io.out(["", ...more].join("\n"));
    return 0;
  },
};

/** The backend's monitor plugin, when the registry has it. */
async function statsPlugin(ctx: CliContext, backend: string): Promise<MonitorPlugin | undefined> {
  const registry = await ctx.registry({ monitor: backend });
  return registry.has("monitor", backend) ? registry.get("monitor", backend) : undefined;
}
