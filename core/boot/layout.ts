/**
 * Shared arithmetic of boot plans: regions laid out one after another in a
 * window, and refusals that say by how much something does not fit.
 *
 * @module
 */
import type { Range } from "../model.ts";
import { formatRange } from "../ranges.ts";
import { alignUp, formatHex, formatSize, KiB } from "../units.ts";
import type { BootPlan, KernelImage, PlanInput, PlanRegion } from "./types.ts";
import { PlacementError } from "./types.ts";

/** The page size regions are rounded to. */
export const PAGE = 4 * KiB;

/** Throws {@linkcode PlacementError} unless every region lies inside the window, saying by how much. */
export function checkInside(
  window: Range,
  regions: readonly PlanRegion[],
  partition = "the partition",
): void {
  const end = window.base + window.size;
  const last = Math.max(...regions.map((r) => r.base + r.size));
  if (last > end) {
    const first = Math.min(window.base, ...regions.map((r) => r.base));
    throw new PlacementError(
      `${regions.map((r) => r.name).join(", ")} need ${
        formatRange({ base: first, size: last - first })
      } ` +
        `but the window of ${partition} ends at ${formatHex(end - 1)}: ${
          formatSize(last - end)
        } short ` +
        `(a window of at least ${formatSize(alignUp(last - window.base, 2 * 1024 * KiB))} fits)`,
    );
  }
}

/** The DTB and initrd regions laid after `from` (DTB aligned to `dtbAlign`, initrd to a page). */
export function dtbAndInitrd(input: PlanInput, from: number, dtbAlign: number): PlanRegion[] {
  const dtb = alignUp(from, dtbAlign);
  const regions: PlanRegion[] = [{
    name: "dtb",
    base: dtb,
    size: input.dtbSize,
    content: "device tree blob",
  }];
  if (input.initrdSize !== undefined) {
    regions.push({
      name: "initrd",
      base: alignUp(dtb + input.dtbSize, PAGE),
      size: input.initrdSize,
      content: `initial ramdisk (${formatSize(input.initrdSize)})`,
    });
  }
  return regions;
}

/** The plan of an ELF kernel: its segments where they are linked, DTB and initrd after them. */
export function planElf(
  input: PlanInput,
  dtbAlign: number,
  registers: (dtb: number) => Record<string, string>,
): BootPlan {
  const { kernel, window } = input;
  const segments = kernel.segments ?? [];
  const regions: PlanRegion[] = segments.map((s, i) => ({
    name: segments.length > 1 ? `kernel.${i}` : "kernel",
    base: s.paddr,
    size: s.memSize,
    content: `ELF segment ${i} (${formatSize(s.fileSize)} from the file)`,
  }));
  for (const r of regions) {
    if (r.base < window.base || r.base + r.size > window.base + window.size) {
      throw new PlacementError(
        `${kernel.file}: ${r.content} is linked at ${formatRange(r)}, outside the window ${
          formatRange(window)
        }`,
      );
    }
  }
  const end = Math.max(...regions.map((r) => r.base + r.size));
  const rest = dtbAndInitrd(input, end, dtbAlign);
  const all = [...regions, ...rest];
  checkInside(window, all);
  const dtb = rest[0].base;
  return {
    regions: all.sort((a, b) => a.base - b.base),
    // Each segment's bytes, then zeros for the rest of it (.bss).
    writes: segments.flatMap((s, i) => [
      {
        address: s.paddr,
        region: regions[i].name,
        bytes: kernel.bytes.subarray(s.offset, s.offset + s.fileSize),
      },
      ...(s.memSize > s.fileSize
        ? [{
          address: s.paddr + s.fileSize,
          region: regions[i].name,
          bytes: new Uint8Array(s.memSize - s.fileSize),
        }]
        : []),
    ]),
    entry: kernel.entry!,
    context: dtb,
    registers: registers(dtb),
  };
}

/** The writes of a plan whose kernel is one blob: the kernel's bytes at its region. */
export function kernelWrite(kernel: KernelImage, address: number): BootPlan["writes"] {
  return [{ address, region: "kernel", bytes: kernel.bytes }];
}

/**
 * The plan of a kernel Image loaded as one blob at `load` with `image_size` bytes
 * reserved, the DTB on the next 2 MiB boundary after it and the initrd after the
 * DTB (arm64 and RISC-V Images).
 */
export function planImage(
  input: PlanInput,
  load: number,
  what: string,
  registers: (dtb: number) => Record<string, string>,
): BootPlan {
  const { kernel, window } = input;
  const kernelRegion: PlanRegion = {
    name: "kernel",
    base: load,
    size: kernel.imageSize,
    content:
      `${what} (${formatSize(kernel.bytes.length)}${
        kernel.compression ? " gunzipped" : " file"
      }, ` +
      `image_size ${formatSize(kernel.imageSize)})`,
  };
  const rest = dtbAndInitrd(input, load + kernel.imageSize, 2 * 1024 * KiB);
  const regions = [kernelRegion, ...rest];
  checkInside(window, regions);
  return {
    regions,
    writes: kernelWrite(kernel, load),
    entry: load,
    context: rest[0].base,
    registers: registers(rest[0].base),
  };
}
