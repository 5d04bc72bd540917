/**
 * 32-bit Arm boot placement (Linux Documentation/arch/arm/booting.rst): the
 * zImage's decompressor puts the kernel at the 128 MiB boundary below itself plus
 * 0x8000, so the window starts on a 128 MiB boundary and the zImage lies in its
 * first 128 MiB — 32 MiB in, clear of the decompressed kernel. The DTB goes
 * "just above 128 MiB from the start of RAM", beyond the decompressor's reach,
 * the initrd after it. The monitor's CPU start delivers its context in r0, the
 * kernel wants r0 = 0, r1 = ~0, r2 = DTB: a 4-instruction boot shim just below
 * the zImage fixes that and branches to it.
 *
 * @module
 */
import type { BootPlan, PlanInput, PlanRegion } from "../../core/boot/types.ts";
import { PlacementError } from "../../core/boot/types.ts";
import { checkInside, dtbAndInitrd, PAGE, planElf } from "../../core/boot/layout.ts";
import { formatHex, formatSize, isAligned, MiB } from "../../core/units.ts";
import { armv7BootShim, SHIM_SIZE } from "./shim.ts";

/** Where the zImage goes in the window. */
export const ZIMAGE_OFFSET = 32 * MiB;
/** Where the DTB goes in the window. */
export const DTB_OFFSET = 128 * MiB;
/** The alignment of a window a zImage can boot in. */
export const ZIMAGE_WINDOW_ALIGNMENT = 128 * MiB;

/** Places a 32-bit Arm kernel, boot shim, DTB and initrd in the window. */
export function planArm32(input: PlanInput): BootPlan {
  const { kernel, window } = input;
  if (kernel.format === "elf") {
    return planElf(
      input,
      8,
      (dtb) => ({ r0: formatHex(dtb) }), // an ELF kernel gets the monitor's context (the DTB) in r0
    );
  }
  if (!isAligned(window.base, ZIMAGE_WINDOW_ALIGNMENT)) {
    throw new PlacementError(
      `a zImage puts the kernel at the 128 MiB boundary below itself, but the window starts at ` +
        `${formatHex(window.base)}, ${
          formatSize(window.base % ZIMAGE_WINDOW_ALIGNMENT)
        } past one; ` +
        `give the partition a --memory-base on a 128 MiB boundary`,
    );
  }
  const zimage = window.base + ZIMAGE_OFFSET;
  const shim = zimage - PAGE;
  if (zimage + kernel.imageSize > window.base + DTB_OFFSET) {
    throw new PlacementError(
      `the zImage (${formatSize(kernel.imageSize)}) runs ${
        formatSize(zimage + kernel.imageSize - window.base - DTB_OFFSET)
      } ` +
        `past 128 MiB into the window, where the DTB goes`,
    );
  }
  const regions: PlanRegion[] = [
    {
      name: "shim",
      base: shim,
      size: SHIM_SIZE,
      content: "boot shim: r2 = r0, r0 = 0, r1 = ~0, b zImage",
    },
    {
      name: "kernel",
      base: zimage,
      size: kernel.imageSize,
      content: `zImage (${formatSize(kernel.imageSize)})`,
    },
    ...dtbAndInitrd(input, window.base + DTB_OFFSET, 8),
  ];
  checkInside(window, regions);
  const dtb = regions[2].base;
  return {
    regions,
    writes: [
      { address: shim, region: "shim", bytes: armv7BootShim(zimage - shim) },
      { address: zimage, region: "kernel", bytes: kernel.bytes.subarray(0, kernel.imageSize) },
    ],
    entry: shim,
    context: dtb,
    registers: { r0: "0", r1: "0xffffffff", r2: formatHex(dtb) },
  };
}
