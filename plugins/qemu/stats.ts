/**
 * Statistics of a partition on the `qemu` backend (the plugin's `stats` hook):
 *
 * - **CPU time per core.** QEMU runs each vCPU in a thread of its own (multi-threaded
 *   TCG). QMP `query-cpus-fast` gives each vCPU's `cpu-index` and `thread-id`; the
 *   board's cores are QEMU's CPUs in the board's order (`-smp` of the board's
 *   `qemu:` args), so board core `cores[i]` is cpu-index `i`. A thread's CPU time is
 *   the first field of `/proc/<qemu pid>/task/<tid>/schedstat` (nanoseconds on
 *   CPU). Deno refuses `/proc/<pid>/…` without `--allow-all`, and vmanctl runs with
 *   narrower permissions, so the files are read by one `cat` (`--allow-run`).
 * - **Start time**: the modification time of `qemu.pid`, which QEMU writes as it
 *   starts (the state records no start time).
 * - **Console bytes**: the sizes of `console.log` and `console.log.1`.
 *
 * @module
 */
import type { Board } from "../../core/model.ts";
import type { PartitionStats } from "../../core/registry/plugin.ts";
import { MonitorError } from "../../core/errors.ts";
import { type QemuFiles, qemuFiles } from "./files.ts";
import { qemuPid, running } from "./process.ts";
import { qmpCommand } from "./qmp.ts";
import { consoleLogFiles } from "./console_log.ts";

/** How long a stats reading waits for QEMU's QMP answer, in milliseconds. */
export const STATS_QMP_TIMEOUT = 2000;

/** One vCPU as `query-cpus-fast` describes it (the fields used here). */
export interface QmpCpu {
  /** QEMU's index of the CPU: its place in the machine's CPUs. */
  "cpu-index": number;
  /** The host thread that runs it. */
  "thread-id": number;
}

/**
 * The host thread of each of `cores` (board core ids), from `query-cpus-fast`'s
 * answer: core `board.cores[i].id` is cpu-index `i`. A core without a vCPU, or
 * whose thread also runs another vCPU (single-threaded TCG, where CPU time cannot be
 * told apart per core), is left out.
 */
export function coreThreads(
  board: Board,
  cores: readonly number[],
  cpus: readonly QmpCpu[],
): Map<number, number> {
  const threadOf = new Map<number, number>();
  for (const core of cores) {
    const index = board.cores.findIndex((c) => c.id === core);
    const cpu = cpus.find((c) => c["cpu-index"] === index);
    if (index >= 0 && cpu && Number.isInteger(cpu["thread-id"]) && cpu["thread-id"] > 0) {
      threadOf.set(core, cpu["thread-id"]);
    }
  }
  const uses = new Map<number, number>();
  for (const cpu of cpus) uses.set(cpu["thread-id"], (uses.get(cpu["thread-id"]) ?? 0) + 1);
  for (const [core, tid] of threadOf) if (uses.get(tid)! > 1) threadOf.delete(core);
  return threadOf;
}

/** The nanoseconds on CPU in a `schedstat` line (its first field), or undefined. */
export function schedstatNs(line: string): number | undefined {
  const field = line.trim().split(/\s+/)[0];
  return field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
}

/** Runs `cat` on `paths`; its output, or undefined when it fails. */
async function cat(paths: readonly string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("cat", {
      args: ["--", ...paths],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : undefined;
  } catch (error) {
    throw new MonitorError(
      `cannot run cat to read QEMU's thread statistics: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

/**
 * The CPU time (ns) of each thread of process `pid`, read with one `cat` of their
 * `schedstat` files (each a single line). When one of them cannot be read (the
 * thread ended), each is read alone, and those that cannot be are left out.
 */
export async function threadCpuNs(
  pid: number,
  tids: readonly number[],
): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  if (tids.length === 0) return result;
  const path = (tid: number) => `/proc/${pid}/task/${tid}/schedstat`;
  const all = await cat(tids.map(path));
  const lines = all?.split("\n").filter((l) => l.trim() !== "");
  if (lines && lines.length === tids.length) {
    tids.forEach((tid, i) => {
      const ns = schedstatNs(lines[i]);
      if (ns !== undefined) result.set(tid, ns);
    });
    return result;
  }
  for (const tid of tids) {
    const ns = schedstatNs((await cat([path(tid)])) ?? "");
    if (ns !== undefined) result.set(tid, ns);
  }
  return result;
}

/** The bytes of the console capture kept on disk, or undefined when there is none. */
async function consoleBytes(files: QemuFiles): Promise<number | undefined> {
  let total: number | undefined;
  for (const file of consoleLogFiles(files.console)) {
    try {
      const info = await Deno.stat(file);
      if (info.isFile) total = (total ?? 0) + info.size;
    } catch {
      // not there (never rotated, or never started)
    }
  }
  return total;
}

/** When QEMU started: the time it wrote its pidfile. */
async function startedAt(files: QemuFiles): Promise<string | undefined> {
  try {
    return (await Deno.stat(files.pid)).mtime?.toISOString();
  } catch {
    return undefined;
  }
}

/**
 * The statistics of partition `id` (board cores `cores`) under `stateDir`: CPU
 * time per core while its QEMU runs, its start, the console captured. Throws a
 * `MonitorError` when its QEMU runs but does not answer QMP.
 */
export async function qemuStats(
  stateDir: string,
  board: Board,
  id: number,
  cores: readonly number[],
): Promise<PartitionStats> {
  const files = qemuFiles(stateDir, id);
  const bytes = await consoleBytes(files);
  const base: PartitionStats = {
    cpuTimeNs: {},
    ...(bytes !== undefined ? { consoleBytes: bytes } : {}),
  };
  if (!(await running(files))) return base;
  const [pid, started] = [await qemuPid(files), await startedAt(files)];
  if (started) base.startedAt = started;
  if (pid === undefined) return base;
  const answer = await qmpCommand(files.qmp, "query-cpus-fast", undefined, STATS_QMP_TIMEOUT);
  if (!Array.isArray(answer)) {
    throw new MonitorError(`QEMU's query-cpus-fast answered ${JSON.stringify(answer)}`, files.qmp);
  }
  const threads = coreThreads(board, cores, answer as QmpCpu[]);
  const times = await threadCpuNs(pid, [...threads.values()]);
  // Read after the threads: a QEMU that ended meanwhile (its pid possibly reused) counts nothing.
  if (!(await running(files))) return { ...base, cpuTimeNs: {} };
  for (const [core, tid] of threads) {
    const ns = times.get(tid);
    if (ns !== undefined) base.cpuTimeNs[core] = ns;
  }
  return base;
}
