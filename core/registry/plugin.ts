/**
 * Plugin types. A plugin is a plain object with a `kind`, a `name`, a `version`,
 * the `apiVersion` it was written against and the hooks of its kind. Factories
 * that take typed options and return one are the usual way to make them.
 *
 * @example
 * ```ts
 * import { PLUGIN_API_VERSION, type BoardPlugin } from "./plugin.ts";
 * import type { Board } from "../model.ts";
 * declare const board: Board;
 * const plugin: BoardPlugin = {
 *   kind: "board", name: "my-board", version: "1.0.0",
 *   apiVersion: PLUGIN_API_VERSION, description: "my board", board,
 * };
 * ```
 * @module
 */
import type { Allocation, ArchName, Board, RuntimeObservation } from "../model.ts";
import type { FdtNode, FdtTree } from "../devicetree/tree.ts";
import type { FdtIndex } from "../devicetree/fdt_index.ts";
import type { BootPlan, KernelImage, PlanInput } from "../boot/types.ts";
import type { Monitor, MonitorContext } from "../monitor/monitor.ts";
import type { ConsoleOpenOptions, ConsoleSession } from "../monitor/console.ts";
import type { CommandSpec } from "../cli/args.ts";
import type { CliContext } from "../cli/context.ts";

/** The plugin API version this vmanager speaks. A plugin must declare the same. */
export const PLUGIN_API_VERSION = 1;

/** The kinds of plugin. */
export type PluginKind = "arch" | "feature" | "monitor" | "board";

/** Every plugin kind, in listing order. */
export const PLUGIN_KINDS: readonly PluginKind[] = ["arch", "feature", "monitor", "board"];

/** Fields every plugin has. */
export interface PluginBase<K extends PluginKind> {
  /** The kind, selecting the hooks it must have. */
  kind: K;
  /** Unique within its kind: lowercase letters, digits and dashes. */
  name: string;
  /** The plugin's own version. */
  version: string;
  /** The plugin API version it was written for ({@linkcode PLUGIN_API_VERSION}). */
  apiVersion: number;
  /** One line for `vmanctl plugins`. */
  description: string;
}

/**
 * An architecture. Everything vmanager knows of one lives here: core ids, how its
 * monitor is reached, how board import recognizes its cpus, its kernel formats and
 * boot protocol, and the hints the emulated board and libvirt need. `core/` names
 * no architecture; it asks the board's arch plugin. An external arch plugin (a
 * module in a plugin directory) is used like a built-in one.
 *
 * @example
 * ```ts
 * import { PLUGIN_API_VERSION, type ArchPlugin } from "./plugin.ts";
 * const toy: ArchPlugin = {
 *   kind: "arch", name: "toy64", version: "1.0.0", apiVersion: PLUGIN_API_VERSION,
 *   description: "a toy architecture", bits: 64, coreIdName: "core id",
 *   powerInterface: "psci", conduits: ["smc"], unameMachine: "toy64",
 *   validateCoreId: (hwid) => hwid >= 0 ? undefined : "negative",
 *   describeCoreId: (hwid) => `core id ${hwid}`,
 * };
 * ```
 */
export interface ArchPlugin extends PluginBase<"arch"> {
  /** The architecture this plugin implements (equals `name`; boards name it as their `arch`). */
  name: ArchName;
  /** Register width of the partitions' kernels (libvirt's `<wordsize>`). */
  bits: 32 | 64;
  /** What the hardware core id is called: `MPIDR` or `hartid`. */
  coreIdName: string;
  /** The power-management interface partitions use to start secondary cores. */
  powerInterface: PowerInterface;
  /**
   * The instructions a board's monitor can be reached with (`smc`, `hvc`;
   * `ecall`): a board's `monitor.conduit` must be one of them. The first is what
   * board import assumes when the device tree does not tell.
   */
  conduits: readonly string[];
  /**
   * What Linux's `uname -m` says on this architecture (`aarch64`, `armv7l`,
   * `riscv64`): libvirt's `<arch>` of the board's domains and capabilities.
   */
  unameMachine: string;
  /**
   * The architecture as the monitor ABI names it (the platform's `arch` in
   * docs/monitor-abi.md), which picks the monitor's entry alignment and core id
   * rules; default `name`. A variant of a built-in architecture gives the
   * built-in's name here.
   */
  abiArch?: string;
  /** Returns why `hwid` is not a valid core id on this architecture, or undefined. */
  validateCoreId(hwid: number): string | undefined;
  /** Describes a core id for people, e.g. `MPIDR 0x102 (Aff1 1, Aff0 2)`. */
  describeCoreId(hwid: number): string;
  /**
   * Board import: whether a device tree's cpu nodes are this architecture's. The
   * plugin with the highest confidence takes the board; undefined is "not mine".
   * `{ unsupported }` says they are of this family but a kind vmanager cannot run
   * (a cpu older than ARMv7), which import reports when no plugin takes them.
   */
  detectCpu?(cpus: CpuNodes): CpuDetection | undefined;
  /**
   * Board import: the conduit a device tree says the monitor has (Arm: the
   * `/psci` node's `method`), with a note when it had to assume one. Without the
   * hook the first of `conduits` is taken.
   */
  importConduit?(tree: FdtTree): ConduitGuess;
  /**
   * Reads a kernel image of this architecture from (decompressed) bytes: undefined
   * when the bytes are not this architecture's format, a `KernelImageError` when
   * they are but are truncated or corrupt. Its `arch` is this plugin's name.
   */
  readKernel?(bytes: Uint8Array, file: string): KernelImage | undefined;
  /** Alignment of memory windows the allocator picks for this architecture (default 2 MiB). */
  windowAlignment?: number;
  /** Places kernel, initrd and device tree in a window by the boot protocol's rules. */
  planBoot?(input: PlanInput): BootPlan;
  /**
   * The emulated board's monitor stub: code for one core that starts `targetHwid`
   * at `entry` with `context` through the board's power interface and then powers
   * itself off — or, when it is itself the target, jumps there directly.
   */
  monitorStub?(options: StubOptions): Uint8Array;
  /** How the `qemu` backend runs the monitor stub on this architecture's `virt` machines. */
  qemu?: QemuArchHints;
}

/** The power-management interfaces partitions start their cores with (the monitor ABI's code families). */
export type PowerInterface = "psci" | "sbi";

/** What board import hands {@linkcode ArchPlugin.detectCpu}: the device tree's cpu nodes. */
export interface CpuNodes {
  /** Every cpu node's `compatible` strings, in node order. */
  compatibles: readonly string[];
  /** The cpu nodes (`device_type = "cpu"` under `/cpus`), for properties beyond `compatible`. */
  nodes: readonly FdtNode[];
}

/**
 * An arch plugin's verdict on a board's cpus: `confidence` (any positive number;
 * the highest wins, a tie is ambiguous and import asks for `--arch`), or why this
 * family's cpus cannot be run.
 */
export type CpuDetection = { confidence: number } | { unsupported: string };

/** The conduit {@linkcode ArchPlugin.importConduit} read, and what it assumed. */
export interface ConduitGuess {
  /** One of the plugin's `conduits`. */
  conduit: string;
  /** One line for the imported YAML's comments when the conduit was assumed. */
  note?: string;
}

/** What the `qemu` backend needs to know of an architecture. */
export interface QemuArchHints {
  /**
   * How the stub gets into the machine: `kernel` — QEMU's firmware runs it as its
   * payload (`-kernel`; RISC-V's OpenSBI); `loader` — a `loader` device writes it
   * into a per-partition slot of the management partition's memory and starts
   * core 0 there (Arm, no firmware).
   */
  stubLoad: "kernel" | "loader";
  /**
   * Why only one partition's QEMU can run at a time on such a board, when that is
   * so (RISC-V: every QEMU runs its own OpenSBI in the same memory): the backend
   * refuses a second start with this reason.
   */
  oneAtATime?: string;
}

/** What a monitor stub needs. */
export interface StubOptions {
  /** Hardware id of the core running the stub. */
  selfHwid: number;
  /** Hardware id of the core to start. */
  targetHwid: number;
  /** Entry address of the target. */
  entry: number;
  /** Context for the target's first argument register. */
  context: number;
  /**
   * Cores of the board outside the partition, which the stub puts to sleep through
   * the firmware where they could otherwise spin (RISC-V harts OpenSBI left
   * waiting); an arch whose idle cores sleep anyway ignores them.
   */
  idleHwids?: readonly number[];
}

/** Reads and writes device tree blobs (the `fdt` feature). */
export interface DeviceTreeCodec {
  /** Parses a DTB; throws a typed error on malformed input. */
  read(blob: Uint8Array): FdtTree;
  /**
   * Optional: scans a DTB into a flat index (no object per node), checked as `read`
   * checks; the device tree stage prunes a board's tree from it much faster.
   */
  index?(blob: Uint8Array): FdtIndex;
  /** Writes a DTB. */
  write(tree: FdtTree): Uint8Array;
  /** Prints DTS text. */
  dts(tree: FdtTree): string;
}

/** What a feature's device tree hook knows about the partition. */
export interface PartitionTreeContext {
  /** The board. */
  board: Board;
  /** The partition's allocation. */
  allocation: Allocation;
  /** The board's arch plugin. */
  arch: ArchPlugin;
}

/**
 * A `vmanctl` command a feature plugin adds: its name (one or two words), summary,
 * arguments and options drive parsing, help and completion like a built-in
 * command's; `run` gets the command's context and returns the exit code. Keep the
 * object light and load what `run` needs inside it (`await import(...)`), so that
 * `vmanctl --help` does not load it.
 *
 * @example
 * ```ts
 * import type { PluginCommand } from "./plugin.ts";
 * const hello: PluginCommand = {
 *   name: "hello",
 *   summary: "Say hello.",
 *   args: [],
 *   options: [{ name: "to", value: "NAME", help: "whom to greet" }],
 *   run(ctx, input) {
 *     ctx.io.out(`hello ${input.options.to ?? "world"}`);
 *     return Promise.resolve(0);
 *   },
 * };
 * ```
 */
export type PluginCommand = CommandSpec<CliContext>;

/** A feature that contributes to a stage of the flow. Every hook is optional. */
export interface FeaturePlugin extends PluginBase<"feature"> {
  /** The device tree codec, for a feature that provides one. */
  devicetree?: DeviceTreeCodec;
  /** Adds the feature's parts to a partition's device tree (after pruning). */
  partitionTree?(tree: FdtTree, context: PartitionTreeContext): void;
  /**
   * The `vmanctl` commands the feature adds (asked once, when the plugin is
   * registered). A name may not be a built-in command's, nor another plugin's.
   */
  commands?(): readonly PluginCommand[];
}

/** A monitor backend. */
export interface MonitorPlugin extends PluginBase<"monitor"> {
  /** Makes the backend for one command's run. */
  create(context: MonitorContext): Monitor;
  /**
   * What became of a partition vmanager started, for backends where a partition
   * can end on its own (its OS powered off, its emulator died). Read-only and
   * cheap: `list` and `show` call it for every running partition.
   */
  observe?(context: MonitorContext, id: number): Promise<RuntimeObservation>;
  /**
   * Forgets a partition that is removed (after the monitor cleared it): the files
   * the backend kept of it (its console capture, its run-time files) go.
   */
  forget?(context: MonitorContext, id: number): Promise<void>;
  /**
   * Asks a running partition's OS to power off (a power button), without waiting.
   * Throws a `StateError` saying why when the board has no such path.
   */
  requestShutdown?(context: MonitorContext, id: number): Promise<void>;
  /**
   * The files a partition's console is captured in, oldest first (a rotated
   * capture is several), for backends that capture it.
   */
  consoleLog?(context: MonitorContext, id: number): string[];
  /**
   * Opens a session on a running partition's console. Throws a `ConsoleBusyError`
   * when another session writes and `force` is not set, a `StateError` when the
   * partition has no console now (not running).
   */
  openConsole?(
    context: MonitorContext,
    id: number,
    options: ConsoleOpenOptions,
  ): Promise<ConsoleSession>;
  /**
   * Run-time statistics of partition `id`, whose cores (board core ids) are
   * `cores`, for backends that measure them: the CPU time of each core while it
   * runs, when it started, the bytes of its console captured. Read-only and
   * without the state lock; may be asked of a partition that no longer runs (then
   * without CPU times). Backends without it have no statistics (`vmanctl stats`
   * and libvirt report what the state knows). Throws a `MonitorError` when the
   * backend cannot be asked (a QEMU that does not answer).
   */
  stats?(context: MonitorContext, id: number, cores: readonly number[]): Promise<PartitionStats>;
  /**
   * Why this backend cannot run partitions on `board` (one line), or undefined.
   * Asked when a state dir is set up, so that `create` refuses (exit 2) rather
   * than a later `start`.
   */
  checkBoard?(board: Board): string | undefined;
}

/** What a backend sees of a partition vmanager's state says is running. */
export type { RuntimeObservation } from "../model.ts";

/** What a backend measures of one partition (the monitor plugins' `stats` hook). */
export interface PartitionStats {
  /**
   * CPU time each of the partition's cores has used since the partition started,
   * in nanoseconds, by board core id. Only while it runs; a core the backend could
   * not tell apart or measure is absent, so an empty object means "not measured".
   */
  cpuTimeNs: Record<number, number>;
  /** When the partition's current run started, ISO 8601 UTC, when the backend knows. */
  startedAt?: string;
  /**
   * The bytes of the partition's console the backend keeps captured (every file of
   * a rotated capture), for backends that capture it; absent when there is none yet.
   */
  consoleBytes?: number;
}

/** A board description. */
export interface BoardPlugin extends PluginBase<"board"> {
  /** The validated board. */
  board: Board;
  /** The board's device tree (DTB), when it has one. */
  devicetree?: Uint8Array;
}

/** Any plugin. */
export type Plugin = ArchPlugin | FeaturePlugin | MonitorPlugin | BoardPlugin;

/** The plugin type of a kind. */
export type PluginOf<K extends PluginKind> = Extract<Plugin, { kind: K }>;
