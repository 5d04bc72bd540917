/**
 * The `qemu` monitor backend: an emulated board that boots real Linux in its
 * partitions. Physical memory is one file (the sim's `memory.img`) that every
 * partition's QEMU process uses as its RAM; the monitor calls, their rules and
 * the loading of images go to the inner monitor (the `sim` on the same state
 * dir); starting a partition launches the board's QEMU machine, in which the
 * arch's monitor stub on core 0 starts the partition's boot core through PSCI
 * CPU_ON (Arm) or SBI HSM hart_start (RISC-V). The partition's console is a
 * UNIX socket QEMU serves; a console broker process per partition captures it
 * (`<state-dir>/qemu/<id>/console.log`, rotated) and serves sessions on
 * `console.sock` (one writer, any readers). Statistics (CPU time per core from
 * QEMU's vCPU threads, the start, the console captured) are in `stats.ts`.
 *
 * @example
 * ```ts
 * import { qemuMonitor } from "./mod.ts";
 * import { simMonitor } from "../../core/monitor/sim.ts";
 * const sim = simMonitor();
 * const broker = [Deno.execPath(), "run", "-A", "main.ts", "__console-broker"];
 * registry.register(qemuMonitor({ inner: (context) => sim.create(context), broker }), "built-in");
 * ```
 * @module
 */
import type { Board } from "../../core/model.ts";
import type { MonitorContext } from "../../core/monitor/monitor.ts";
import type { Monitor } from "../../core/monitor/monitor.ts";
import type {
  MonitorPlugin,
  PartitionStats,
  RuntimeObservation,
} from "../../core/registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/plugin.ts";
import { MonitorError, StateError } from "../../core/errors.ts";
import { running } from "./process.ts";
import { qmpCommand } from "./qmp.ts";
import { qemuFiles } from "./files.ts";
import { observeQemu, QemuMonitor } from "./monitor.ts";
import type { Timeouts } from "./process.ts";
import type { ConsoleOpenOptions, ConsoleSession } from "../../core/monitor/console.ts";
import { consoleLogFiles, DEFAULT_CONSOLE_LOG_LIMIT } from "./console_log.ts";

export { DEFAULT_CONSOLE_LOG_LIMIT } from "./console_log.ts";

export { QemuMonitor } from "./monitor.ts";
export { memoryFile, type QemuFiles, qemuFiles } from "./files.ts";
export { qemuCommand, ramSpan } from "./command.ts";

/** Options of the qemu backend. */
export interface QemuOptions {
  /** Makes the monitor every ABI call goes to; the sim on the same state dir. */
  inner: (context: MonitorContext) => Monitor;
  /** Time limits in milliseconds: QEMU up (default 15 000), QEMU down after `quit` (5 000). */
  timeouts?: Partial<Timeouts>;
  /**
   * The command that runs a console broker (`console_broker.ts`'s `brokerMain`):
   * this program with its hidden `__console-broker` command; the composition root
   * knows how this program is run.
   */
  broker: readonly string[];
  /** The size of one console capture file (default {@linkcode DEFAULT_CONSOLE_LOG_LIMIT}). */
  consoleLogLimit?: number;
  /**
   * The command a partition's console broker starts once its QEMU has exited, for a
   * state dir: `vmanctl --state-dir DIR __converge`, which applies the partition's
   * end policy (on_poweroff, on_reboot, on_crash) at once, whether or not a daemon
   * runs. Without it, the next command applies it.
   */
  endHook?: (stateDir: string) => string[];
}

/** Makes the `qemu` monitor plugin. */
export function qemuMonitor(options: QemuOptions): MonitorPlugin {
  const timeouts: Timeouts = { start: 15_000, stop: 5_000, ...options.timeouts };
  return {
    kind: "monitor",
    name: "qemu",
    version: "0.1.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "emulated board: each partition boots in its own QEMU on one shared memory file",
    create(context: MonitorContext): Monitor {
      if (!context.arch) {
        throw new MonitorError(
          `the qemu backend needs the board's arch plugin (${context.board.arch})`,
        );
      }
      return new QemuMonitor({
        stateDir: context.stateDir,
        board: context.board,
        inner: options.inner(context),
        arch: context.arch,
        timeouts,
        broker: options.broker,
        consoleLogLimit: options.consoleLogLimit ?? DEFAULT_CONSOLE_LOG_LIMIT,
        endHook: options.endHook?.(context.stateDir),
      });
    },
    checkBoard(board: Board): string | undefined {
      if (!board.qemu) {
        return `board ${board.name} has no qemu: section (the QEMU machine that emulates it), ` +
          `so the qemu backend cannot run it`;
      }
      return undefined;
    },
    observe(context: MonitorContext, id: number): Promise<RuntimeObservation> {
      return observeQemu(context.stateDir, id, context.board.qemu?.binary ?? "qemu");
    },
    async forget(context: MonitorContext, id: number): Promise<void> {
      const files = qemuFiles(context.stateDir, id);
      if (await running(files)) return; // never under a running QEMU
      await Deno.remove(files.dir, { recursive: true }).catch(() => {});
    },
    async requestShutdown(context: MonitorContext, id: number): Promise<void> {
      const { board } = context;
      if (board.qemu?.powerdown !== "system_powerdown") {
        throw new StateError(
          `board ${board.name} has no power button a stock Linux takes as a request to ` +
            `power off (QEMU's machine has none); 'vmanctl shutdown --force' stops it hard`,
        );
      }
      const files = qemuFiles(context.stateDir, id);
      if (!(await running(files))) throw new StateError(`partition id ${id} is not running`);
      await qmpCommand(files.qmp, "system_powerdown");
    },
    consoleLog(context: MonitorContext, id: number): string[] {
      return consoleLogFiles(qemuFiles(context.stateDir, id).console);
    },
    // Statistics and console sessions load their modules when asked (not at every start).
    async stats(
      context: MonitorContext,
      id: number,
      cores: readonly number[],
    ): Promise<PartitionStats> {
      const { qemuStats } = await import("./stats.ts");
      return await qemuStats(context.stateDir, context.board, id, cores);
    },
    async openConsole(
      context: MonitorContext,
      id: number,
      open: ConsoleOpenOptions,
    ): Promise<ConsoleSession> {
      const name = open.name ?? `id ${id}`;
      const { openBrokerConsole } = await import("./console_client.ts");
      return await openBrokerConsole(qemuFiles(context.stateDir, id).consoleSocket, name, open);
    },
  };
}
