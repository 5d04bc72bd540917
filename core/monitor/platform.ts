/**
 * The sim's platform: the board as a monitor knows it (docs/monitor-abi.md,
 * "monitor.json"), and the physical-memory file's layout.
 *
 * @module
 */
import type { Board, Range } from "../model.ts";
import { hex } from "./abi.ts";

/** The default SMCCC function base of the ABI's SiP block. */
export const DEFAULT_FUNCTION_BASE = 0x5600;
/** The default SBI extension id of the ABI. */
export const DEFAULT_SBI_EXTENSION = 0x0a00564d;

/** Where and how big the board's physical memory file is. */
export interface MemoryImage {
  /** `<stateDir>/memory.img`. */
  path: string;
  /** The board's RAM base: the file's offset 0. */
  ramBase: number;
  /** End of the highest RAM range − RAM base. */
  size: number;
}

/**
 * The physical memory file of a state dir: offset = physical address − RAM base.
 * The `qemu` backend gives this file to QEMU as RAM
 * (`memory-backend-file,mem-path=<path>,size=<size>,share=on`).
 */
export function memoryImage(stateDir: string, board: Board): MemoryImage {
  const ramBase = Math.min(...board.memory.map((m) => m.base));
  const end = Math.max(...board.memory.map((m) => m.base + m.size));
  return { path: `${stateDir}/memory.img`, ramBase, size: end - ramBase };
}

/**
 * Makes `path` (a state dir's memory file) a symbolic link to a new file in `dir`
 * before the sim first makes it, so that the board's physical memory lives on
 * `dir`'s filesystem: a RAM-backed one (tmpfs, `/dev/shm`) makes the guests of
 * the qemu backend as fast as with QEMU's own RAM, where on a disk filesystem
 * each first write to a guest page allocates a block and dirty pages are written
 * back (riscv64 boots about 10 % slower; docs/qemu.md). A memory file that exists
 * stays where it is; the sim makes the link's target (again after a reboot
 * emptied `dir`).
 */
export function placeMemoryFile(path: string, dir: string): void {
  try {
    Deno.lstatSync(path);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Error("not a directory");
  } catch (error) {
    // Deno lets only a process with every permission look into /dev: the sim will say.
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  try {
    Deno.symlinkSync(`${dir.replace(/\/+$/, "")}/vmanager-memory-${crypto.randomUUID()}.img`, path);
  } catch (error) {
    // Another process placed it meanwhile.
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/** Options of the platform. */
export interface PlatformOptions {
  /** The SMCCC function base (Arm). */
  functionBase?: number;
  /** The SBI extension id (RISC-V). */
  sbiExtension?: number;
  /** The board's architecture as the ABI names it (its arch plugin's `abiArch`); default `board.arch`. */
  abiArch?: string;
}

function range(r: Range, shared?: boolean) {
  return shared === undefined
    ? { base: hex(r.base), size: hex(r.size) }
    : { base: hex(r.base), size: hex(r.size), shared };
}

/** The platform object of monitor.json for a board, as JSON text. */
export function platformJson(board: Board, options: PlatformOptions = {}): string {
  const hwid = (id: number) => hex(board.cores.find((c) => c.id === id)?.hwid ?? id);
  const owned = (owner: "management" | "monitor") => {
    const kept = board.reserved.filter((r) => r.owner === owner);
    return {
      cores: kept.flatMap((r) => r.cores).map(hwid),
      memory: kept.flatMap((r) => r.memory).map((m) => range(m)),
      devices: kept.flatMap((r) => r.devices).flatMap((name) =>
        (board.devices.find((d) => d.name === name)?.reg ?? []).map((m) => range(m))
      ),
    };
  };
  const sbi = board.monitor.interface === "sbi";
  const platform = {
    board: board.name,
    arch: options.abiArch ?? board.arch,
    interface: board.monitor.interface,
    ...(sbi
      ? { sbiExtension: hex(options.sbiExtension ?? DEFAULT_SBI_EXTENSION) }
      : { functionBase: hex(options.functionBase ?? DEFAULT_FUNCTION_BASE) }),
    ramBase: hex(Math.min(...board.memory.map((m) => m.base))),
    ram: board.memory.map((m) => range(m)),
    cores: board.cores.map((c) => hex(c.hwid)),
    devices: board.devices.flatMap((d) =>
      d.reg.map((r) => range(r, d.sharing === "per-partition"))
    ),
    management: owned("management"),
    monitor: owned("monitor"),
  };
  return JSON.stringify(platform);
}
