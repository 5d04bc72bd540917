/**
 * The start and stop sequences: the monitor calls that bring a partition up and
 * down, and the rollback of a start that fails midway.
 *
 * @module
 */
import { MonitorError, StateError } from "../errors.ts";
import type { Board, PartitionRecord } from "../model.ts";
import type { Monitor } from "../monitor/monitor.ts";
import type { PreparedBoot } from "../boot/prepare.ts";
import { stage } from "../boot/stages.ts";

/** The hardware id of a board core, by core id. */
export function hwidOf(board: Board, coreId: number): number {
  const core = board.cores.find((c) => c.id === coreId);
  if (!core) throw new StateError(`core ${coreId} is not on board ${board.name}`);
  return core.hwid;
}

/**
 * Describes the partition to the monitor, writes its images (when `boot` has them)
 * and starts its boot core: at the plan's entry with the plan's context, or —
 * for a partition without a kernel — at the base of its window (where an image
 * placed by other means sits) with context 0. When a call fails, the calls made
 * so far are undone.
 */
export async function startSequence(
  monitor: Monitor,
  board: Board,
  record: PartitionRecord,
  boot?: PreparedBoot,
): Promise<void> {
  if (record.spec.kernel !== undefined && !boot) {
    throw new StateError(
      `partition ${record.name} names a kernel that was not prepared`,
      record.name,
    );
  }
  const { id, allocation } = record;
  let created = false;
  try {
    await monitor.partitionCreate(id);
    created = true;
    for (const core of allocation.cores) await monitor.partitionAddCore(id, hwidOf(board, core));
    await monitor.partitionAddMemory(id, allocation.memory);
    for (const name of allocation.devices) {
      const device = board.devices.find((d) => d.name === name);
      for (const range of device?.reg ?? []) await monitor.partitionAddDevice(id, name, range);
    }
    const bootHwid = hwidOf(board, allocation.bootCore);
    stage("monitor: describe");
    if (boot) {
      for (const load of boot.loads) await monitor.memoryWrite(id, load.address, load.source);
      stage("kernel write");
      const at = (name: string) => boot.plan.regions.find((r) => r.name === name)!.base;
      if (boot.initrd !== undefined) {
        await monitor.memoryWrite(id, at("initrd"), { path: boot.initrd });
        stage("initrd write");
      }
      await monitor.memoryWrite(id, at("dtb"), { bytes: boot.dtb });
      stage("dtb write");
      await monitor.coreStart(id, bootHwid, boot.plan.entry, boot.plan.context);
    } else {
      await monitor.coreStart(id, bootHwid, allocation.memory.base, 0);
    }
    stage("core start");
  } catch (error) {
    const rollback = created ? await undo(monitor, id) : undefined;
    const message = error instanceof Error ? error.message : String(error);
    throw new MonitorError(
      `starting ${record.name} failed: ${message}${
        rollback ? `; rollback also failed: ${rollback}` : "; rolled back"
      }`,
      record.name,
      { cause: error },
    );
  }
}

/** Stops the partition's cores and removes it from the monitor. */
export async function stopSequence(monitor: Monitor, record: PartitionRecord): Promise<void> {
  try {
    await monitor.partitionStop(record.id);
    await monitor.partitionDestroy(record.id);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new MonitorError(`stopping ${record.name} failed: ${message}`, record.name, {
      cause: error,
    });
  }
}

async function undo(monitor: Monitor, id: number): Promise<string | undefined> {
  try {
    await monitor.partitionDestroy(id);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
