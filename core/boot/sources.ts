/**
 * Where the monitor takes a plan's kernel writes from: the plan's bytes, or —
 * for a kernel that was not read whole (`KernelImage.head`) — the same offsets
 * of the kernel file, which the monitor loads without the bytes passing through
 * JavaScript.
 *
 * @example
 * ```ts
 * import { kernelLoads } from "./sources.ts";
 * const loads = kernelLoads(kernel, plan);
 * // [{ address: 0x50200000, source: { path: "Image", offset: 0, length: 32956352 } }]
 * ```
 * @module
 */
import type { MemorySource } from "../monitor/monitor.ts";
import type { BootPlan, KernelImage } from "./types.ts";

/** One write of a kernel: where, and from what. */
export interface KernelLoad {
  /** The physical address. */
  address: number;
  /** The plan's region it belongs to (`kernel`, `shim`…). */
  region: string;
  /** The bytes, or the range of the kernel file. */
  source: MemorySource;
}

/**
 * The plan's writes with their sources: a write of the kernel's own bytes (a view
 * of `kernel.bytes`, which starts at the file's first byte) is a range of the
 * kernel file when the kernel was not read whole; any other write (a boot shim,
 * zeros for .bss) keeps its bytes.
 */
export function kernelLoads(kernel: KernelImage, plan: BootPlan): KernelLoad[] {
  return plan.writes.flatMap(({ address, region, bytes }) => {
    if (!bytes) return [];
    const fromFile = kernel.head !== undefined && bytes.buffer === kernel.bytes.buffer;
    const source: MemorySource = fromFile
      ? { path: kernel.file, offset: bytes.byteOffset, length: bytes.length }
      : { bytes };
    return [{ address, region, source }];
  });
}
