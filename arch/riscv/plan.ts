/**
 * RISC-V boot placement (Linux Documentation/arch/riscv/boot.rst): the Image on a
 * 2 MiB boundary (rv64) with `image_size` bytes free; the DTB 8-byte aligned
 * after it (here on the next 2 MiB boundary), the initrd after the DTB.
 * Entry in S-mode: a0 = hartid, a1 = DTB — SBI HSM hart_start passes the hartid
 * in a0 and its opaque argument (the DTB) in a1.
 *
 * @module
 */
import type { BootPlan, PlanInput } from "../../core/boot/types.ts";
import { planElf, planImage } from "../../core/boot/layout.ts";
import { alignUp, formatHex, MiB } from "../../core/units.ts";

const registers = (dtb: number) => ({ a0: "hartid of the boot hart", a1: formatHex(dtb) });

/** Places a RISC-V kernel, DTB and initrd in the window. */
export function planRiscv(input: PlanInput): BootPlan {
  if (input.kernel.format === "elf") return planElf(input, 2 * MiB, registers);
  return planImage(input, alignUp(input.window.base, 2 * MiB), "RISC-V Image", registers);
}
