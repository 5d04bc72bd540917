/**
 * The data model shared by every part of vmanager: boards, partition specs,
 * allocations and partition records. Plain JSON-safe objects, so the state
 * store can persist them as they are.
 *
 * @module
 */

/**
 * An architecture: the name of the arch plugin that implements it (`armv7`,
 * `armv8`, `riscv` are built in; an external arch plugin adds its own). The set is
 * open: what exists is what the registry holds, and a board naming an arch no
 * plugin registers is refused where it is loaded.
 */
export type ArchName = string;

/** A physical address range. */
export interface Range {
  /** First byte. */
  base: number;
  /** Length in bytes. */
  size: number;
}

/** One core of a board. */
export interface BoardCore {
  /** The core's number on this board, as users name it (`--cpu-ids 2,3`). */
  id: number;
  /** The hardware id the monitor and the DT use: MPIDR on Arm, hartid on RISC-V. */
  hwid: number;
}

/** A range of RAM on a board. */
export interface MemoryRange extends Range {
  /** A name for messages, e.g. `ram`. */
  name: string;
}

/** How partitions use a device. */
export type DeviceSharing = "exclusive" | "per-partition";

/** A device that can be given to partitions. */
export interface BoardDevice {
  /** The name users give to `--device`. */
  name: string;
  /** The DT `compatible` strings. */
  compatible: string[];
  /** MMIO ranges. */
  reg: Range[];
  /** Interrupt numbers as the board's interrupt controller numbers them. */
  interrupts: number[];
  /**
   * `exclusive`: one partition at a time. `per-partition`: every partition gets its
   * own instance (an emulated board's UART), so it is never in conflict.
   */
  sharing: DeviceSharing;
  /** Given to every partition that does not list its devices itself. */
  default: boolean;
  /** The partition's console when it has this device. */
  console: boolean;
  /** Path of the device's node in the board's device tree, e.g. `/pl011@9000000`. */
  path?: string;
}

/** Who keeps reserved resources. */
export type ReservationOwner = "management" | "monitor";

/** Resources a board keeps away from partitions. */
export interface Reservation {
  /** Who keeps them. */
  owner: ReservationOwner;
  /** Core ids. */
  cores: number[];
  /** Memory ranges. */
  memory: Range[];
  /** Device names. */
  devices: string[];
  /**
   * Device tree paths of SoC providers (clock, reset, power-domain, pin
   * controllers) only the management partition may use: a partition whose devices
   * depend on one is refused (core/partition/shared_resources.ts). Management only.
   */
  providers?: string[];
}

/** How the partition OS and vmanager reach the monitor. */
export interface MonitorConduit {
  /**
   * Instruction used for monitor calls (`smc`, `hvc`, `ecall`): one of the board's
   * arch plugin's `conduits`.
   */
  conduit: string;
  /** The power-management interface partitions use to start their other cores. */
  interface: "psci" | "sbi";
}

/** A board: what it has, what partitions may use, what is kept. */
export interface Board {
  /** Unique name, e.g. `qemu-virt-arm64`. */
  name: string;
  /** One line for `board list`. */
  description: string;
  /** Architecture, naming the arch plugin. */
  arch: ArchName;
  /** Every core. */
  cores: BoardCore[];
  /** Every RAM range. */
  memory: MemoryRange[];
  /** Devices partitions can be given. */
  devices: BoardDevice[];
  /** Resources kept by the management partition and the monitor. */
  reserved: Reservation[];
  /** The monitor's conduit and power interface. */
  monitor: MonitorConduit;
  /**
   * Nodes of the board's device tree every partition keeps besides its own devices:
   * shared infrastructure no kept node refers to (e.g. RISC-V's CLINT).
   */
  keep?: string[];
  /** The board's device tree file (DTB), relative to the board description. */
  devicetree?: string;
  /** How the `qemu` monitor backend emulates the board, when it can. */
  qemu?: QemuMachine;
}

/**
 * A QEMU machine that emulates a board: the one its device tree was dumped from.
 * The `qemu` backend adds the RAM (the board's memory file), the console and the
 * monitor stub.
 */
export interface QemuMachine {
  /** The QEMU program, e.g. `qemu-system-aarch64`. */
  binary: string;
  /** Machine options, e.g. `["-M", "virt", "-cpu", "cortex-a53", "-smp", "4"]`. */
  args: string[];
  /**
   * How `shutdown` asks a partition's OS to power off: `system_powerdown`, QMP's
   * power button (on Arm `virt`, the PL061 GPIO power key). Absent: the machine has
   * no such path, and `shutdown` needs `--force`.
   */
  powerdown?: "system_powerdown";
}

/** What to do when a partition powers off, reboots or crashes on its own (libvirt's `on_*`). */
export type EndPolicy = "destroy" | "restart" | "preserve";

/** The policies a partition gets when its spec names none (libvirt's defaults). */
export const DEFAULT_POLICIES = {
  onPoweroff: "destroy",
  onReboot: "restart",
  onCrash: "destroy",
} as const satisfies Record<string, EndPolicy>;

/** What a user asks for. Either `cpus` or `cpuIds`; either `memory` (size) or both. */
export interface PartitionSpec {
  /** Partition name. */
  name: string;
  /** Number of cores, picked by the allocator. */
  cpus?: number;
  /** Exact core ids. */
  cpuIds?: number[];
  /** Memory size in bytes. */
  memory?: number;
  /** Memory window base; the allocator picks one when absent. */
  memoryBase?: number;
  /** Device names; the board's default devices when absent. */
  devices?: string[];
  /** Kernel image path. */
  kernel?: string;
  /** Initial ramdisk path. */
  initrd?: string;
  /** Kernel command line. */
  cmdline?: string;
  /** The partition's UUID (libvirt's domain UUID); generated at create when absent. */
  uuid?: string;
  /** When its OS powers off on its own ({@linkcode DEFAULT_POLICIES}). */
  onPoweroff?: EndPolicy;
  /** When its OS reboots. */
  onReboot?: EndPolicy;
  /** When it crashes (its kernel panics, its emulator dies). */
  onCrash?: EndPolicy;
  /** Network interfaces, each backed on a virtio-mmio slot (`--net`). */
  net?: NetBacking[];
  /** Disks, each backed on a virtio-mmio slot (`--disk`). */
  disks?: DiskBacking[];
  /** A short title, one line (libvirt's `<title>`), at most {@linkcode MAX_TITLE} bytes. */
  title?: string;
  /** A description (libvirt's `<description>`), at most {@linkcode MAX_DESCRIPTION} bytes. */
  description?: string;
  /**
   * Other programs' elements of libvirt's `<metadata>` (e.g. libosinfo's), by namespace
   * URI: each one element as XML text declaring its namespace, at most
   * {@linkcode MAX_METADATA_ELEMENT} bytes, at most {@linkcode MAX_METADATA_ELEMENTS} of them.
   */
  metadata?: Record<string, string>;
}

/** Largest partition title, in UTF-8 bytes. */
export const MAX_TITLE = 1024;
/** Largest partition description, in UTF-8 bytes. */
export const MAX_DESCRIPTION = 64 * 1024;
/** Largest foreign metadata element, in UTF-8 bytes. */
export const MAX_METADATA_ELEMENT = 64 * 1024;
/** Most foreign metadata elements (namespaces) a partition keeps. */
export const MAX_METADATA_ELEMENTS = 16;

/** A port of the management side forwarded to a partition (`forward=tcp:HOST:GUEST`). */
export interface PortForward {
  /** The management side's port, on 127.0.0.1. */
  host: number;
  /** The partition's port. */
  guest: number;
}

/**
 * A network interface of a partition: on an emulated board a virtio-net device on a
 * virtio-mmio slot, standing in for the Ethernet controller a real board passes through.
 * `user`: user-mode networking restricted to this machine, with port forwards;
 * `network`: a board network shared with the other partitions that name it.
 */
export interface NetBacking {
  /** How it is connected. */
  mode: "user" | "network";
  /** The board network's name (`network` only). */
  network?: string;
  /** Ports forwarded from the management side (`user` only). */
  forward?: PortForward[];
  /** The virtio-mmio slot (a board device); the allocator picks a free one when absent. */
  device?: string;
}

/** A disk of a partition: a raw image file behind a virtio-blk device on a virtio-mmio slot. */
export interface DiskBacking {
  /** The image file (raw), absolute once the spec is resolved. */
  file: string;
  /** Read-only. */
  readonly?: boolean;
  /** The virtio-mmio slot (a board device); the allocator picks a free one when absent. */
  device?: string;
}

/** What the allocator gave a partition. */
export interface Allocation {
  /** Core ids, ascending. */
  cores: number[];
  /** The core the monitor starts first (the lowest). */
  bootCore: number;
  /** The partition's memory window. */
  memory: Range;
  /** Device names. */
  devices: string[];
}

/**
 * Lifecycle states. `crashed` is stored for a partition that crashed with
 * `on_crash: preserve` (its memory and console kept); `list` and `show` also report
 * it for a partition the state says is running when its backend saw it crash,
 * until the next command applies its end policy.
 */
export type PartitionState = "defined" | "running" | "stopped" | "crashed";

/** One monitor call, as recorded for `plan` and `show`. */
export interface MonitorCall {
  /** Call name, e.g. `partition_create`, `core_start`. */
  call: string;
  /** Arguments by name. */
  args: Record<string, number | string>;
}

/** A partition as the state store keeps it. */
export interface PartitionRecord {
  /** Name. */
  name: string;
  /** The monitor's partition id (0 is the management partition). */
  id: number;
  /** Lifecycle state. */
  state: PartitionState;
  /** What the user asked for. */
  spec: PartitionSpec;
  /** What was allocated. */
  allocation: Allocation;
  /** ISO time of creation. */
  created: string;
  /** ISO time of the last change. */
  updated: string;
  /** The monitor calls of the last start or stop. */
  monitorCalls: MonitorCall[];
  /** Where the last start put the images and how it entered the boot core. */
  boot?: BootSummary;
  /**
   * The partition's UUID, lower-case 8-4-4-4-12. Absent in state written before
   * UUIDs existed: `uuidOf` (core/partition/lifecycle.ts) derives a stable one.
   */
  uuid?: string;
  /** Started when the libvirt daemon starts (libvirt's autostart). */
  autostart?: boolean;
  /** Why it is in its state (libvirt's state reason), when vmanager knows. */
  reason?: StateReason;
  /** How it ended on its own, when it did: the cause, the reason and its last console lines. */
  ending?: RuntimeObservation;
  /** ISO time of its last start (for uptime). */
  started?: string;
  /**
   * The operation under way on the partition, recorded before its first durable
   * step and removed with its last: present in the state only when the process
   * that ran it died (or its last write failed), for the next command to converge.
   */
  pending?: PendingOperation;
  /**
   * Transient (libvirt's transient domain): made by `virsh create`, or undefined
   * while it ran; removed as soon as it no longer runs.
   */
  transient?: boolean;
  /**
   * The definition its next start uses, when it was redefined while it ran
   * (libvirt's `newDef`; core/partition/update.ts); it replaces `spec` and
   * `allocation` once the partition stops.
   */
  next?: Definition;
}

/** A partition's definition: what was asked for and what it was given. */
export interface Definition {
  /** What the user asked for. */
  spec: PartitionSpec;
  /** What was allocated. */
  allocation: Allocation;
}

/**
 * Why a partition is in its state: `booted` (started), `restarted` (started again by
 * its on_reboot or on_crash policy, or `reboot`/`reset`), `shutdown` (its OS powered
 * off), `destroyed` (stopped hard), `crashed` (its kernel panicked or its emulator
 * died), `host` (nothing of it ran any more: the host restarted).
 */
export type StateReason = "booted" | "restarted" | "shutdown" | "destroyed" | "crashed" | "host";

/** What a backend sees of a partition vmanager's state says is running. */
export interface RuntimeObservation {
  /**
   * `running`; `stopped` when the partition stopped itself (its OS powered off or
   * rebooted); `crashed` when it ended any other way.
   */
  state: "running" | "stopped" | "crashed";
  /** Why it is not running, e.g. `qemu-system-aarch64 exited with status 1`. */
  reason?: string;
  /** The last lines of its console, when it is not running. */
  console?: string[];
  /**
   * Why it is not running: its OS powered off (`poweroff`) or rebooted (`reboot`),
   * it crashed or panicked (`crash`), or nothing of it runs any more without a word
   * (`gone`: the host restarted). Picks the end policy that applies.
   */
  cause?: "poweroff" | "reboot" | "crash" | "gone";
}

/** An operation's intent, as the state journals it (see core/partition/transaction.ts). */
export interface PendingOperation {
  /** What was under way (`shutdown`: its OS was asked to power off, and is awaited). */
  op: "start" | "stop" | "destroy" | "shutdown";
  /** ISO time it began. */
  since: string;
  /** The process that ran it. */
  pid: number;
  /** For a start: the boot it was making, kept when it is rolled forward. */
  boot?: BootSummary;
  /**
   * For a shutdown: a reboot — once its OS powered off it is started again (while
   * the process that asked lives), not stopped; a transient one is not removed.
   */
  restart?: boolean;
}

/** A boot plan as the state keeps it. */
export interface BootSummary {
  /** Regions of the window: kernel, dtb, initrd, shim… */
  regions: { name: string; base: number; size: number; content: string }[];
  /** Entry address of the boot core. */
  entry: number;
  /** Context passed to it. */
  context: number;
  /** Registers at the kernel's entry. */
  registers: Record<string, string>;
}
