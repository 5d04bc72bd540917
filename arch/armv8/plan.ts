/**
 * arm64 boot placement (Linux Documentation/arch/arm64/booting.rst): the Image at
 * `text_offset` above a 2 MiB-aligned base with `image_size` bytes free from its
 * start; the DTB 8-byte aligned, at most 2 MiB, in a 2 MiB block of its own; the
 * initrd after it, with the Image inside one 1 GiB-aligned window of at most
 * 32 GiB. Entry: x0 = DTB, x1 = x2 = x3 = 0.
 *
 * @module
 */
import type { BootPlan, PlanInput } from "../../core/boot/types.ts";
import { PlacementError } from "../../core/boot/types.ts";
import { planElf, planImage } from "../../core/boot/layout.ts";
import { alignUp, formatHex, formatSize, GiB, MiB } from "../../core/units.ts";

/** Largest DTB arm64 Linux maps. */
export const MAX_DTB = 2 * MiB;

const registers = (dtb: number) => ({ x0: formatHex(dtb), x1: "0", x2: "0", x3: "0" });

/** Places an arm64 kernel, DTB and initrd in the window. */
export function planArm64(input: PlanInput): BootPlan {
  if (input.dtbSize > MAX_DTB) {
    throw new PlacementError(
      `the DTB is ${formatSize(input.dtbSize)}; arm64 Linux takes at most 2 MiB`,
    );
  }
  if (input.kernel.format === "elf") return planElf(input, 2 * MiB, registers);
  const load = alignUp(input.window.base, 2 * MiB) + (input.kernel.textOffset ?? 0);
  const plan = planImage(input, load, "arm64 Image", registers);
  const initrd = plan.regions.find((r) => r.name === "initrd");
  if (initrd) {
    const low = Math.floor(load / GiB) * GiB;
    const high = Math.ceil((initrd.base + initrd.size) / GiB) * GiB;
    if (high - low > 32 * GiB) {
      throw new PlacementError(
        `the Image and the initrd span ${
          formatSize(high - low)
        } of 1 GiB-aligned memory; arm64 allows 32 GiB`,
      );
    }
  }
  return plan;
}
