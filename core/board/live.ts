/**
 * `board import --live`: the running board as its kernel sees it — the device
 * tree the bootloader handed over (`/sys/firmware/fdt`) and the RAM the kernel
 * found (`/proc/iomem`'s `System RAM`), read under a root directory that tests
 * replace with a fake one.
 *
 * @module
 */
import { MAX_DTB_BYTES, readRegularFile, readRegularTextFile } from "../files.ts";
import { type GivenMemory, MAX_IOMEM_BYTES, parseIomem } from "./memory.ts";

/** Where the running board's device tree is, under the root. */
const LIVE_FDT = "sys/firmware/fdt";
/** Where the running board's memory map is, under the root. */
const LIVE_IOMEM = "proc/iomem";

/** What `--live` reads. */
export interface LiveBoard {
  /** The device tree blob's path. */
  file: string;
  /** The blob. */
  blob: Uint8Array<ArrayBuffer>;
  /** The RAM of `/proc/iomem`. */
  memory: GivenMemory;
}

/** Reads the running board under `root` (default `/`); refusals name the file (exit 2). */
export async function readLiveBoard(root = "/"): Promise<LiveBoard> {
  const dir = root.endsWith("/") ? root : `${root}/`;
  const file = `${dir}${LIVE_FDT}`;
  const iomem = `${dir}${LIVE_IOMEM}`;
  const blob = await readRegularFile(file, MAX_DTB_BYTES, "the running board's device tree");
  const text = await readRegularTextFile(iomem, MAX_IOMEM_BYTES, "the memory map");
  return { file, blob, memory: { ranges: parseIomem(text, iomem), from: "/proc/iomem" } };
}
