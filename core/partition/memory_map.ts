/**
 * A partition's memory map: the regions of physical address space it owns, for
 * `show` and `plan`.
 *
 * @module
 */
import type { Allocation, Board } from "../model.ts";

/** One region of a memory map. */
export interface MapRegion {
  /** What the region is: `window`, or `device <name>`. */
  name: string;
  /** First byte. */
  base: number;
  /** Length in bytes. */
  size: number;
  /** What it holds, for people. */
  content: string;
}

/**
 * The regions an allocation owns, in address order: its window, where a boot plan
 * puts images in it (when given), and its devices' registers.
 */
export function memoryMap(
  board: Board,
  allocation: Allocation,
  boot?: readonly MapRegion[],
  hasKernel = false,
): MapRegion[] {
  const regions: MapRegion[] = [{
    name: "window",
    base: allocation.memory.base,
    size: allocation.memory.size,
    content: boot
      ? "RAM window"
      : hasKernel
      ? "RAM window (plan NAME shows where the images go)"
      : "RAM window (no images: the boot core starts at its base)",
  }, ...(boot ?? [])];
  for (const name of allocation.devices) {
    const device = board.devices.find((d) => d.name === name);
    for (const range of device?.reg ?? []) {
      regions.push({
        name: `device ${name}`,
        base: range.base,
        size: range.size,
        content: `${device!.compatible[0] ?? "device"} MMIO${device!.console ? ", console" : ""}`,
      });
    }
  }
  return regions.sort((a, b) => a.base - b.base);
}
