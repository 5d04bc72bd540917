import assert from "node:assert/strict";
import fc from "fast-check";
import type { BootPlan, KernelImage, PlanInput } from "../../core/boot/types.ts";
import { PlacementError } from "../../core/boot/types.ts";
import { alignUp, formatSize, GiB, KiB, MiB } from "../../core/units.ts";
import { planArm64 } from "../../arch/armv8/plan.ts";
import { planRiscv } from "../../arch/riscv/plan.ts";
import { DTB_OFFSET, planArm32, ZIMAGE_OFFSET } from "../../arch/armv7/plan.ts";

const PAGE = 4 * KiB;

function kernel(format: KernelImage["format"], imageSize: number, textOffset = 0): KernelImage {
  const arch = format === "arm64-image" ? "armv8" : format === "arm-zimage" ? "armv7" : "riscv";
  return {
    file: "Image",
    format,
    label: format === "arm-zimage" ? "zImage" : "Image",
    arch,
    archLabel: arch,
    bytes: new Uint8Array(Math.min(imageSize, 64)),
    imageSize,
    textOffset,
    entryOffset: 0,
    details: {},
  };
}

/** Regions in the window, none overlapping, the DTB where the context says. */
function checkCommon(input: PlanInput, plan: BootPlan): void {
  const end = input.window.base + input.window.size;
  const sorted = [...plan.regions].sort((a, b) => a.base - b.base);
  for (const [i, r] of sorted.entries()) {
    assert.ok(r.base >= input.window.base && r.base + r.size <= end, `${r.name} inside the window`);
    if (i > 0) {
      assert.ok(
        sorted[i - 1].base + sorted[i - 1].size <= r.base,
        `${sorted[i - 1].name} / ${r.name}`,
      );
    }
  }
  const dtb = plan.regions.find((r) => r.name === "dtb")!;
  assert.equal(dtb.size, input.dtbSize);
  assert.equal(dtb.base % 8, 0, "DTB 8-byte aligned");
  assert.equal(plan.context, dtb.base, "context = DTB");
  const initrd = plan.regions.find((r) => r.name === "initrd");
  assert.equal(initrd?.size, input.initrdSize);
  if (initrd) assert.equal(initrd.base % PAGE, 0);
}

/** `X short` in a refusal must be what the rules need beyond the window. */
function checkShort(error: unknown, needEnd: number, input: PlanInput): void {
  assert.ok(error instanceof PlacementError, String(error));
  const end = input.window.base + input.window.size;
  if (needEnd > end) {
    assert.match(error.message, new RegExp(`: ${formatSize(needEnd - end)} short`));
  }
}

const windowArb = (align: number) =>
  fc.record({
    base: fc.integer({ min: 0, max: 64 }).map((n) => 0x40000000 + n * align),
    size: fc.integer({ min: 1, max: 2048 }).map((n) => n * 2 * MiB),
  });
const initrdArb = fc.option(fc.integer({ min: 1, max: 200 * MiB }), { nil: undefined });
const dtbArb = fc.integer({ min: 64, max: 2 * MiB });

Deno.test("arm64 plans obey booting.rst or are refused with exact numbers", () => {
  fc.assert(
    fc.property(
      windowArb(2 * MiB),
      fc.integer({ min: 64, max: 80 * MiB }),
      fc.constantFrom(0, 0x80000),
      initrdArb,
      dtbArb,
      (window, imageSize, textOffset, initrdSize, dtbSize) => {
        const input = {
          window,
          kernel: kernel("arm64-image", imageSize, textOffset),
          initrdSize,
          dtbSize,
        };
        const load = alignUp(window.base, 2 * MiB) + textOffset;
        const dtb = alignUp(load + imageSize, 2 * MiB);
        const needEnd = initrdSize === undefined
          ? dtb + dtbSize
          : alignUp(dtb + dtbSize, PAGE) + initrdSize;
        let plan: BootPlan;
        try {
          plan = planArm64(input);
        } catch (error) {
          checkShort(error, needEnd, input);
          assert.ok(needEnd > window.base + window.size, `refused although it fits: ${error}`);
          return;
        }
        checkCommon(input, plan);
        const k = plan.regions.find((r) => r.name === "kernel")!;
        assert.equal((k.base - textOffset) % (2 * MiB), 0, "2 MiB-aligned base + text_offset");
        assert.equal(k.size, imageSize, "image_size reserved");
        assert.equal(plan.entry, k.base);
        const initrd = plan.regions.find((r) => r.name === "initrd");
        if (initrd) {
          const span = Math.ceil((initrd.base + initrd.size) / GiB) * GiB -
            Math.floor(k.base / GiB) * GiB;
          assert.ok(span <= 32 * GiB);
        }
      },
    ),
    { seed: 4, numRuns: 2000 },
  );
});

Deno.test("RISC-V plans obey boot.rst or are refused with exact numbers", () => {
  fc.assert(
    fc.property(
      windowArb(2 * MiB),
      fc.integer({ min: 64, max: 80 * MiB }),
      initrdArb,
      dtbArb,
      (window, imageSize, initrdSize, dtbSize) => {
        const input = {
          window,
          kernel: kernel("riscv-image", imageSize, 0x200000),
          initrdSize,
          dtbSize,
        };
        const load = alignUp(window.base, 2 * MiB);
        const dtb = alignUp(load + imageSize, 2 * MiB);
        const needEnd = initrdSize === undefined
          ? dtb + dtbSize
          : alignUp(dtb + dtbSize, PAGE) + initrdSize;
        let plan: BootPlan;
        try {
          plan = planRiscv(input);
        } catch (error) {
          checkShort(error, needEnd, input);
          assert.ok(needEnd > window.base + window.size);
          return;
        }
        checkCommon(input, plan);
        const k = plan.regions.find((r) => r.name === "kernel")!;
        assert.equal(k.base % (2 * MiB), 0, "2 MiB-aligned Image");
        assert.equal(k.size, imageSize);
        assert.equal(plan.entry, k.base);
        assert.equal(plan.registers.a1, `0x${plan.context.toString(16).padStart(8, "0")}`);
      },
    ),
    { seed: 5, numRuns: 2000 },
  );
});

Deno.test("32-bit Arm plans: zImage in the first 128 MiB behind a boot shim, DTB at +128 MiB, or refused", () => {
  fc.assert(
    fc.property(
      windowArb(64 * MiB),
      fc.integer({ min: 64, max: 120 * MiB }),
      initrdArb,
      fc.integer({ min: 64, max: 512 * KiB }),
      (window, imageSize, initrdSize, dtbSize) => {
        const input = { window, kernel: kernel("arm-zimage", imageSize), initrdSize, dtbSize };
        const dtb = window.base + DTB_OFFSET;
        const needEnd = initrdSize === undefined
          ? dtb + dtbSize
          : alignUp(dtb + dtbSize, PAGE) + initrdSize;
        let plan: BootPlan;
        try {
          plan = planArm32(input);
        } catch (error) {
          assert.ok(error instanceof PlacementError, String(error));
          const misaligned = window.base % (128 * MiB) !== 0;
          const tooBig = ZIMAGE_OFFSET + imageSize > DTB_OFFSET;
          if (!misaligned && !tooBig) checkShort(error, needEnd, input);
          assert.ok(
            misaligned || tooBig || needEnd > window.base + window.size,
            `refused: ${error}`,
          );
          if (misaligned) assert.match(error.message, /128 MiB boundary/);
          else if (tooBig) {
            assert.match(
              error.message,
              new RegExp(`runs ${formatSize(ZIMAGE_OFFSET + imageSize - DTB_OFFSET)} past`),
            );
          }
          return;
        }
        checkCommon(input, plan);
        assert.equal(window.base % (128 * MiB), 0);
        const k = plan.regions.find((r) => r.name === "kernel")!;
        const shim = plan.regions.find((r) => r.name === "shim")!;
        assert.equal(k.base, window.base + ZIMAGE_OFFSET);
        assert.ok(k.base + k.size <= window.base + DTB_OFFSET, "zImage below the DTB");
        assert.equal(plan.entry, shim.base, "the monitor enters the shim");
        assert.ok(shim.base + shim.size <= k.base);
        assert.equal(plan.regions.find((r) => r.name === "dtb")!.base, window.base + DTB_OFFSET);
        assert.deepEqual(plan.registers, {
          r0: "0",
          r1: "0xffffffff",
          r2: `0x${plan.context.toString(16).padStart(8, "0")}`,
        });
      },
    ),
    { seed: 6, numRuns: 2000 },
  );
});

Deno.test("a refusal says by how much: a 64 MiB window for a 60 MiB arm64 Image and a 16 MiB initrd", () => {
  const input = {
    window: { base: 0x50000000, size: 64 * MiB },
    kernel: kernel("arm64-image", 60 * MiB),
    initrdSize: 16 * MiB,
    dtbSize: 8 * KiB,
  };
  assert.throws(() => planArm64(input), (e: Error) => {
    assert.ok(e instanceof PlacementError);
    // kernel 0x50000000+60M → DTB at +60M (2 MiB aligned) → initrd at +60M+8K … +76M+8K.
    assert.match(e.message, / 12\.01 MiB short \(a window of at least 78 MiB fits\)/);
    return true;
  });
});
