/**
 * The `sim` monitor backend: the reference model of the monitor ABI, in the C
 * helper. Its table lives in `<stateDir>/monitor.json` and survives restarts;
 * physical memory is `<stateDir>/memory.img`, one sparse file for the whole
 * board (offset = physical address − RAM base). The rules and codes are the
 * ABI's (docs/monitor-abi.md). Each call opens the sim, makes its request under
 * `monitor.lock` and closes it, so any number of processes share a state dir.
 *
 * @module
 */
import { InputError, MonitorError } from "../errors.ts";
import { osReason } from "../files.ts";
import type { Board } from "../model.ts";
import type { MonitorPlugin } from "../registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../registry/plugin.ts";
import type { SimCall, SimCallResult } from "./abi.ts";
import { CODE_FAMILY, ERRNO, REQUEST, simCallStruct, versionStruct } from "./abi.ts";
import type { AbiSession } from "./abi_monitor.ts";
import { AbiMonitor, failure } from "./abi_monitor.ts";
import type { MonitorHelper } from "./helper.ts";
import { loadHelper } from "./helper.ts";
import type { MonitorContext } from "./monitor.ts";
import type { MemoryImage, PlatformOptions } from "./platform.ts";
import { memoryImage, placeMemoryFile, platformJson } from "./platform.ts";

/** Options of the sim. */
export interface SimOptions extends PlatformOptions {
  /** The helper to use (default: {@linkcode loadHelper}'s). */
  helper?: MonitorHelper;
  /**
   * Where a state dir's physical memory file is made, when it has none yet
   * ({@linkcode placeMemoryFile}); default: in the state dir.
   */
  memoryDir?: string;
}

/** One core as the sim's table records it. */
export interface SimCore {
  /** Hardware id, `0x…`. */
  hwid: string;
  /** Power. */
  power: "on" | "off";
  /** Entry it was started at, for an `on` core. */
  entry?: string;
  /** Context it was started with, for an `on` core. */
  context?: string;
}

/** One partition of the sim's table (`monitor.json`'s `partitions`). */
export interface SimPartition {
  /** Monitor id. */
  id: number;
  /** State. */
  state: "configured" | "running" | "stopped";
  /** Cores. */
  cores: SimCore[];
  /** Window, or null. */
  memory: { base: string; size: string } | null;
  /** Device ranges. */
  devices: { base: string; size: string }[];
}

/**
 * The sim as a `Monitor`, plus what the `qemu` backend builds on: the memory
 * file's layout, partition-originated calls and the table.
 *
 * @example
 * ```ts
 * import { SimMonitor } from "./sim.ts";
 * const sim = new SimMonitor({ stateDir: "/tmp/vman", board });
 * await sim.partitionCreate(1);
 * sim.memory.path; // "/tmp/vman/memory.img", QEMU's RAM
 * // partition 1's core 0x2 powers its partition off (PSCI SYSTEM_OFF):
 * sim.simCall({ callerHwid: 0x2, fid: 0x84000008 });
 * ```
 */
export class SimMonitor extends AbiMonitor {
  /** Always `sim`. */
  readonly backend: string = "sim";
  /** The physical memory file. */
  readonly memory: MemoryImage;
  /** The state dir. */
  readonly stateDir: string;
  private readonly helper: MonitorHelper;
  private readonly platform: string;
  private readonly family: "psci" | "sbi";

  /**
   * Opens the sim on the context's state dir: creates `monitor.json` and the sparse
   * `memory.img` the first time, checks the ABI version, and refuses a state dir
   * whose `monitor.json` was made for another board (`MonitorError`).
   */
  constructor(context: MonitorContext, options: SimOptions = {}) {
    super();
    this.stateDir = context.stateDir;
    this.helper = options.helper ?? loadHelper();
    this.platform = platformJson(context.board, { abiArch: context.arch?.abiArch, ...options });
    this.memory = memoryImage(context.stateDir, context.board);
    this.family = context.board.monitor.interface === "sbi" ? "sbi" : "psci";
    if (options.memoryDir) this.placeMemory(options.memoryDir);
    this.use(({ helper, handle }) => {
      const version = versionStruct();
      const result = helper.request(handle, REQUEST.VERSION, version.bytes);
      if (result.rc !== 0) throw failure("version()", this.family, result);
      const [abi, ioctl] = [version.getU32(0), version.getU32(8)];
      if (abi >>> 16 !== 1 || ioctl >>> 16 !== 1) {
        throw new MonitorError(`the sim speaks ABI ${abi >>> 16}.x, not 1.x`, this.stateDir);
      }
      if (CODE_FAMILY[version.getU32(12)] !== this.family) {
        throw new MonitorError(`the sim answers in other codes than the board's`, this.stateDir);
      }
    });
  }

  private placeMemory(dir: string): void {
    try {
      placeMemoryFile(this.memory.path, dir);
    } catch (error) {
      throw new InputError(
        `cannot place the memory file in ${dir}: ${osReason(error)}`,
        "VMAN_MEMORY_DIR",
        { cause: error },
      );
    }
  }

  /** Opens the sim for one call and closes it after. */
  protected use<T>(fn: (session: AbiSession) => T): T {
    const { handle, message } = this.helper.openSim(this.stateDir, this.platform);
    if (handle < 0) {
      throw new MonitorError(
        `the sim cannot open its state: ${message || ERRNO[-handle] || `errno ${-handle}`}`,
        this.stateDir,
      );
    }
    try {
      return fn({ helper: this.helper, handle, family: this.family });
    } finally {
      this.helper.close(handle);
    }
  }

  /** Nothing to release: the sim is opened and closed within each call. */
  override close(): void {}

  /**
   * A call a partition's (or the management partition's) core makes —
   * `VM_IOC_SIM_CALL`: PSCI `CPU_ON`/`CPU_OFF`/`AFFINITY_INFO`/`SYSTEM_OFF`/…,
   * SBI HSM and SRST, this ABI's own functions. The monitor's answer is in the raw
   * registers (a refusal too); a caller core that is neither `on` nor the
   * management partition's is a `MonitorError` (EINVAL).
   */
  simCall(call: SimCall): SimCallResult {
    return this.use(({ helper, handle, family }) => {
      const struct = simCallStruct(call);
      const result = helper.request(handle, REQUEST.SIM_CALL, struct.bytes);
      if (result.rc !== 0) {
        throw failure(
          `sim_call(caller 0x${call.callerHwid.toString(16)}, fid 0x${call.fid.toString(16)})`,
          family,
          { ...result, code: 0 },
        );
      }
      return { ret0: struct.getS64(64), ret1: struct.getU64(72) };
    });
  }

  /** The partitions of the sim's table, read from `monitor.json`. */
  async table(): Promise<SimPartition[]> {
    const doc = JSON.parse(await Deno.readTextFile(`${this.stateDir}/monitor.json`));
    return doc.partitions as SimPartition[];
  }
}

/** The physical memory file of a sim state dir (the `qemu` backend's RAM). */
export function simMemoryImage(stateDir: string, board: Board): MemoryImage {
  return memoryImage(stateDir, board);
}

/**
 * Makes the `sim` monitor plugin.
 *
 * @example
 * ```ts
 * import { simMonitor } from "./sim.ts";
 * const monitor = simMonitor().create({ stateDir: "/tmp/vman", board });
 * ```
 */
export function simMonitor(options: SimOptions = {}): MonitorPlugin {
  return {
    kind: "monitor",
    name: "sim",
    version: "1.0.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "the monitor ABI's reference model: state and physical memory in the state dir",
    create: (context) => new SimMonitor(context, options),
  };
}
