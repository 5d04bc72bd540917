/**
 * Boot preparation: everything `start` computes before the first monitor call —
 * the kernel read and checked against the partition's architecture, the boot plan,
 * and the device tree with the initrd's final place. A bad kernel or images that
 * do not fit fail here, with nothing started.
 *
 * @module
 */
import type { Board, PartitionRecord } from "../model.ts";
import type { Registry } from "../registry/registry.ts";
import type { ArchPlugin } from "../registry/plugin.ts";
import { StateError } from "../errors.ts";
import { FileInputError, MAX_INITRD_BYTES, statRegularFile } from "../files.ts";
import type { BootPlan, KernelImage } from "./types.ts";
import { checkKernelArch, type KernelReader, readKernelFile } from "./kernel.ts";
import { buildPartitionDevicetree } from "../devicetree/build.ts";
import { KernelImageError, PlacementError } from "./types.ts";
import { stage } from "./stages.ts";
import { type KernelLoad, kernelLoads } from "./sources.ts";

/** Bytes of `/chosen/rng-seed` a booting partition gets (as many as QEMU's loader gives). */
export const RNG_SEED_BYTES = 32;

/** What `start` writes and where it starts the boot core. */
export interface PreparedBoot {
  /** The kernel as read. */
  kernel: KernelImage;
  /** The plan. */
  plan: BootPlan;
  /** The plan's kernel writes and what each is loaded from. */
  loads: KernelLoad[];
  /** The partition's DTB, with the initrd's place. */
  dtb: Uint8Array;
  /** The initrd file, when there is one. */
  initrd?: string;
}

/** The kernel readers of `plugins`, in their order. */
function readersOf(plugins: readonly ArchPlugin[]): KernelReader[] {
  return plugins.flatMap((plugin) =>
    plugin.readKernel ? [{ arch: plugin.name, read: plugin.readKernel }] : []
  );
}

/**
 * Reads the kernel, plans the boot and makes the device tree of a partition that
 * names a kernel. The kernel is read by the arch plugins of `registry`, the
 * board's first; `otherArchs`, when given, are asked for only when none of those
 * takes it (to name a kernel of another architecture as such).
 */
export async function prepareBoot(
  registry: Registry,
  board: Board,
  boardDtb: Uint8Array | undefined,
  record: PartitionRecord,
  otherArchs?: () => Promise<readonly ArchPlugin[]>,
): Promise<PreparedBoot> {
  stage("plugins, board DTB");
  const { spec, allocation, name } = record;
  if (spec.kernel === undefined) {
    throw new StateError(`partition ${name} names no kernel`, name);
  }
  if (!boardDtb) {
    throw new StateError(`board ${board.name} has no device tree to boot partitions with`, name);
  }
  const arch = registry.get("arch", board.arch);
  if (!arch.planBoot) throw new StateError(`arch plugin ${arch.name} cannot place kernels`, name);
  // The board's own arch plugin reads first: a variant that shares a format with
  // another plugin (an external arm64 arch) takes its own board's kernels.
  const plugins = [arch, ...registry.list("arch").map((e) => e.plugin).filter((p) => p !== arch)];
  const readers = readersOf(plugins);
  const more = otherArchs &&
    (async () => readersOf((await otherArchs()).filter((p) => !plugins.includes(p))));
  // The monitor helper loads the initrd by its path; here it is checked to be a
  // regular file within its limit (first: it costs a stat), so a FIFO swapped in
  // is refused before anything is read or started.
  let initrdSize: number | undefined;
  if (spec.initrd !== undefined) {
    try {
      initrdSize = await statRegularFile(spec.initrd, MAX_INITRD_BYTES, "the initrd");
    } catch (error) {
      if (!(error instanceof FileInputError)) throw error;
      throw new KernelImageError(error.message, spec.initrd, { cause: error });
    }
  }
  const kernel = await readKernelFile(spec.kernel, readers, undefined, more);
  checkKernelArch(kernel, board.arch, name);
  stage("kernel read");
  // The DTB's size does not depend on where the initrd goes (its cells are fixed),
  // so a first DTB sizes the plan and the second has the initrd's final place.
  // Each boot gets a fresh seed for its kernel's random number generator.
  const rngSeed = crypto.getRandomValues(new Uint8Array(RNG_SEED_BYTES));
  const draft = buildPartitionDevicetree(
    registry,
    board,
    boardDtb,
    record,
    initrdSize === undefined ? undefined : { base: allocation.memory.base, size: initrdSize },
    rngSeed,
  );
  let plan;
  try {
    plan = arch.planBoot({
      window: allocation.memory,
      kernel,
      initrdSize,
      dtbSize: draft.blob.length,
    });
  } catch (error) {
    // A plan that does not fit is about this partition: say so where the line says where.
    if (error instanceof PlacementError && !error.where) {
      throw new PlacementError(error.message, name, { cause: error });
    }
    throw error;
  }
  const initrdRegion = plan.regions.find((r) => r.name === "initrd");
  // Without an initrd the second DTB's inputs are the first's: the draft is final.
  const { blob } = initrdSize === undefined && initrdRegion === undefined
    ? draft
    : buildPartitionDevicetree(registry, board, boardDtb, record, initrdRegion, rngSeed);
  if (blob.length !== draft.blob.length) {
    throw new StateError(
      `the device tree changed size (${draft.blob.length} → ${blob.length} bytes)`,
      name,
    );
  }
  stage("plan, device tree");
  return { kernel, plan, loads: kernelLoads(kernel, plan), dtb: blob, initrd: spec.initrd };
}
