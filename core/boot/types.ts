/**
 * Boot images and boot plans: what arch plugins read from kernel files and how
 * they place kernel, initrd and device tree in a partition's window.
 *
 * @module
 */
import type { ArchName, Range } from "../model.ts";
import { InputError, VmanError } from "../errors.ts";

/** One loadable ELF segment. */
export interface ElfSegment {
  /** Offset of its bytes in the file. */
  offset: number;
  /** Bytes in the file. */
  fileSize: number;
  /** Bytes in memory (the rest is zeroed). */
  memSize: number;
  /** Physical address (p_paddr). */
  paddr: number;
}

/** A kernel image as read from its file (after gzip decompression). */
export interface KernelImage {
  /** The file, for messages. */
  file: string;
  /**
   * Its format, as the arch plugin that read it names it: the built-in ones
   * `arm64-image`, `arm-zimage`, `riscv-image` and `elf`. The core only passes it
   * on; the plugin's `planBoot` tells its formats apart by it.
   */
  format: string;
  /** What people call the format, for messages: `Image`, `zImage`, `ELF`. */
  label: string;
  /** The architecture it is for (an arch plugin's name). */
  arch: ArchName;
  /**
   * What people call that architecture, for messages: `arm64`, `arm (32-bit)`,
   * `riscv64`; for an ELF file its machine (`aarch64`, `arm`, `riscv64`).
   */
  archLabel: string;
  /** `gzip` when the file was compressed. */
  compression?: "gzip";
  /**
   * The (decompressed) bytes to load — with `head`, only the first `head` bytes
   * are the file's (see `head`).
   */
  bytes: Uint8Array;
  /**
   * Set when the file was not read whole: only its first `head` bytes are in
   * `bytes` (the rest are zeros), and what a plan writes from `bytes` is loaded
   * from `file` at the same offsets (core/boot/prepare.ts).
   */
  head?: number;
  /**
   * Bytes from the load address the kernel may use (arm64/RISC-V `image_size`,
   * the zImage's size, ELF: the span of its segments).
   */
  imageSize: number;
  /** arm64 / RISC-V Image: `text_offset` from the header. */
  textOffset?: number;
  /** arm64 Image: the header's flags (bit 0 big-endian, bits 1-2 page size, bit 3 placement). */
  flags?: number;
  /** Entry offset from the load address (0 for Images and zImages). */
  entryOffset: number;
  /** ELF: the entry address (e_entry). */
  entry?: number;
  /** ELF: the loadable segments. */
  segments?: ElfSegment[];
  /** Header fields for people (`show`, tests against `file`). */
  details: Record<string, string | number>;
}

/** A region of a boot plan. */
export interface PlanRegion {
  /** `kernel`, `initrd`, `dtb`, `shim`, `kernel-reserved` … */
  name: string;
  /** First byte. */
  base: number;
  /** Length. */
  size: number;
  /** What it holds, for people. */
  content: string;
}

/** Sizes a plan is made from. */
export interface PlanInput {
  /** The partition's memory window. */
  window: Range;
  /** The kernel. */
  kernel: KernelImage;
  /** The initrd's size, when there is one. */
  initrdSize?: number;
  /** The device tree's size (upper bound; the DTB is made after the plan). */
  dtbSize: number;
}

/** Where everything goes and how the boot core is entered. */
export interface BootPlan {
  /** Regions in address order, none overlapping, all inside the window. */
  regions: PlanRegion[];
  /** Where the kernel's bytes are written (for ELF, per segment: see `writes`). */
  writes: { address: number; region: string; bytes?: Uint8Array }[];
  /** Address the monitor starts the boot core at. */
  entry: number;
  /** The value the monitor passes in the first argument register (x0/r0/a1). */
  context: number;
  /** Registers as the kernel sees them at its own entry, for people. */
  registers: Record<string, string>;
}

/** A kernel file that cannot be used: names the file and the problem. Exit code 2. */
export class KernelImageError extends InputError {}

/** Images that do not fit the window: says by how much. Exit code 1. */
export class PlacementError extends VmanError {}
