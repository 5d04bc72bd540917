/**
 * The `qemu` monitor: every monitor call goes to an inner monitor (the `sim`, the
 * reference model of the monitor ABI, on the same state dir), so the rules and
 * the loader are the ones every backend shares and the images land in the
 * board's memory file. Starting the boot core additionally launches the board's
 * QEMU machine on that memory file, where the arch's monitor stub starts the
 * partition's boot core; stopping the partition ends that QEMU.
 *
 * @module
 */
import type { Board, Range } from "../../core/model.ts";
import type { ArchPlugin, RuntimeObservation } from "../../core/registry/plugin.ts";
import type { MemorySource, Monitor, MonitorPartitionState } from "../../core/monitor/monitor.ts";
import { MonitorError } from "../../core/errors.ts";
import { memoryFile, type QemuFiles, qemuFiles } from "./files.ts";
import { qemuCommand, stubCoreHwid } from "./command.ts";
import {
  describeStatus,
  exitStatus,
  kill,
  lastLines,
  launchTogether,
  running,
  type Timeouts,
  waitExit,
} from "./process.ts";
import { qmpCommand } from "./qmp.ts";
import { readEnd } from "./ending.ts";
import { removeTaps } from "./bridge.ts";
import { stage, stageApart } from "../../core/boot/stages.ts";

/** What a `QemuMonitor` needs. */
export interface QemuMonitorOptions {
  /** The state directory. */
  stateDir: string;
  /** The board. */
  board: Board;
  /** The monitor every ABI call goes to (the sim on the same state dir). */
  inner: Monitor;
  /** The board's arch plugin, for its monitor stub. */
  arch: ArchPlugin;
  /** Start and stop time limits. */
  timeouts: Timeouts;
  /** The command that runs a console broker (`vmanctl __console-broker`). */
  broker: readonly string[];
  /** The size of one console capture file. */
  consoleLogLimit: number;
  /** What the broker starts once QEMU has exited (applies the end policies), if anything. */
  endHook?: string[];
}

/** The `qemu` backend's monitor. */
export class QemuMonitor implements Monitor {
  /** Always `qemu`. */
  readonly backend = "qemu";
  /** The cores given to each partition through this monitor, for its stub's idle cores. */
  private readonly cores = new Map<number, number[]>();

  /** Makes the monitor; nothing happens until a call. */
  constructor(private readonly options: QemuMonitorOptions) {}

  private files(id: number): QemuFiles {
    return qemuFiles(this.options.stateDir, id);
  }

  /** Forwards to the inner monitor. */
  partitionCreate(id: number): Promise<void> {
    return this.options.inner.partitionCreate(id);
  }
  /** Forwards to the inner monitor, noting the core. */
  async partitionAddCore(id: number, hwid: number): Promise<void> {
    await this.options.inner.partitionAddCore(id, hwid);
    this.cores.set(id, [...this.cores.get(id) ?? [], hwid]);
  }

  /** The board's cores outside partition `id` (as far as this monitor gave it cores). */
  private idleCores(id: number, hwid: number): number[] {
    const own = new Set([...this.cores.get(id) ?? [], hwid]);
    return this.options.board.cores.map((c) => c.hwid).filter((h) => !own.has(h));
  }
  /** Forwards to the inner monitor. */
  partitionAddMemory(id: number, window: Range): Promise<void> {
    return this.options.inner.partitionAddMemory(id, window);
  }
  /** Forwards to the inner monitor. */
  partitionAddDevice(id: number, name: string, range: Range): Promise<void> {
    return this.options.inner.partitionAddDevice(id, name, range);
  }
  /** Forwards to the inner monitor (which writes the board's memory file). */
  memoryWrite(id: number, address: number, source: MemorySource): Promise<void> {
    return this.options.inner.memoryWrite(id, address, source);
  }

  /**
   * Lets the inner monitor check and record the start, then launches QEMU with
   * the stub that starts `hwid` at `entry` with `context`, and resumes it. When
   * QEMU cannot be started the inner monitor's partition is stopped again.
   */
  async coreStart(id: number, hwid: number, entry: number, context: number): Promise<void> {
    const { board, arch, inner, timeouts } = this.options;
    const files = this.files(id);
    if (await running(files)) {
      throw new MonitorError(`partition ${id} already has a QEMU process; stop it first`);
    }
    if (arch.qemu?.oneAtATime) await this.checkAlone(id, arch.qemu.oneAtATime);
    await inner.coreStart(id, hwid, entry, context);
    try {
      if (!arch.monitorStub) {
        throw new MonitorError(`arch ${arch.name} has no monitor stub for the qemu backend`);
      }
      await Deno.mkdir(files.dir, { recursive: true });
      const stub = arch.monitorStub({
        selfHwid: stubCoreHwid(board),
        targetHwid: hwid,
        entry,
        context,
        idleHwids: this.idleCores(id, hwid),
      });
      await Deno.writeFile(files.stub, stub);
      stage("qemu: sim core start, stub");
      const qemu = qemuCommand(board, arch, id, files, memoryFile(this.options.stateDir));
      // QEMU and the console broker start together; QEMU waits paused for `cont`.
      const launched = await launchTogether(files, qemu, {
        command: this.options.broker,
        logLimit: this.options.consoleLogLimit,
        hook: this.options.endHook,
      }, timeouts.start);
      stage("qemu: launch QEMU and broker");
      stageApart("QEMU start", launched.qemu);
      stageApart("console broker start", launched.broker);
      try {
        await launched.qmp.command("cont");
      } finally {
        launched.qmp.close();
      }
      stage("qemu: cont");
    } catch (error) {
      await kill(files);
      await inner.partitionStop(id).catch(() => {});
      throw error;
    }
  }

  /** Ends the partition's QEMU (QMP `quit`, then SIGKILL), then stops it in the inner monitor. */
  async partitionStop(id: number): Promise<void> {
    const files = this.files(id);
    if (await running(files)) {
      try {
        await qmpCommand(files.qmp, "quit");
      } catch {
        // QEMU is not answering: kill it below.
      }
      if (await waitExit(files, this.options.timeouts.stop) === undefined) await kill(files);
    }
    removeTaps(this.options.stateDir, id);
    await this.options.inner.partitionStop(id);
  }

  /** Destroys the partition in the inner monitor and removes its run-time files. */
  async partitionDestroy(id: number): Promise<void> {
    const files = this.files(id);
    if (await running(files)) await kill(files);
    removeTaps(this.options.stateDir, id);
    await this.options.inner.partitionDestroy(id);
    // The console and QEMU's messages stay for `vmanctl console` (a start truncates them).
    const runFiles = [files.pid, files.exit, files.qmp, files.stub, files.serial, files.runLock];
    for (const file of [...runFiles, files.consoleSocket, files.events, files.ended]) {
      await Deno.remove(file).catch(() => {});
    }
  }

  /** The inner monitor's state. */
  partitionStatus(id: number): Promise<MonitorPartitionState> {
    return this.options.inner.partitionStatus(id);
  }

  /** Closes the inner monitor. */
  close(): void {
    this.options.inner.close?.();
  }

  /**
   * Refuses a start while another partition's QEMU runs, on an arch whose plugin
   * says why that cannot be (`qemu.oneAtATime`: on RISC-V every partition's QEMU
   * runs OpenSBI, with its data and stacks, in the same 2 MiB of the shared memory
   * file).
   */
  private async checkAlone(id: number, why: string): Promise<void> {
    const others: number[] = [];
    try {
      for await (const entry of Deno.readDir(`${this.options.stateDir}/qemu`)) {
        const other = Number(entry.name);
        if (other !== id && await running(this.files(other))) others.push(other);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (others.length > 0) {
      throw new MonitorError(
        `the qemu backend runs ${why} (partition id ${others.join(", ")} runs); stop it first`,
      );
    }
  }
}

/** What became of partition `id`'s QEMU: running, powered off or rebooted by its OS, or crashed. */
export async function observeQemu(
  stateDir: string,
  id: number,
  binary: string,
): Promise<RuntimeObservation> {
  const files = qemuFiles(stateDir, id);
  if (await running(files)) return { state: "running" };
  const [status, ended] = [await exitStatus(files), await readEnd(files.ended)];
  const console = await lastLines(files.console, 10);
  if (ended?.cause === "crash") {
    const reason = ended.detail === "kernel panic"
      ? "its kernel panicked"
      : `its OS panicked (${ended.detail})`;
    return { state: "crashed", cause: "crash", reason, console };
  }
  if (status === 0 && ended?.cause === "reboot") {
    return { state: "stopped", cause: "reboot", reason: "its OS rebooted", console };
  }
  if (status === 0) {
    return { state: "stopped", cause: "poweroff", reason: "its OS powered off", console };
  }
  if (status === undefined) {
    // No exit status and nobody holds its run lock: its QEMU and supervisor both
    // ended without a word — the host restarted, or both were killed.
    return {
      state: "stopped",
      cause: "gone",
      reason: `no ${binary} of it runs any more (the host restarted, or it was killed ` +
        `with its supervisor)`,
      console,
    };
  }
  return { state: "crashed", cause: "crash", reason: describeStatus(binary, status), console };
}
