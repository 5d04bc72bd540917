/**
 * The QEMU command line of one partition: the board's machine (as its board
 * description names it), the board's memory file as the machine's RAM, the
 * partition's console on a UNIX socket QEMU listens on (the console broker is its
 * client), a QMP socket, and the monitor stub on the stub core, loaded as the
 * board's arch plugin says (its `qemu.stubLoad`):
 *
 * - `loader` (Arm `virt`, no firmware: QEMU emulates PSCI over HVC and keeps every
 *   core but core 0 powered off): a `loader` device puts the stub into the
 *   management partition's memory (a slot per partition id, so that QEMU processes
 *   starting at the same time do not overwrite each other's stub) and starts core 0
 *   there.
 * - `kernel` (RISC-V `virt`): QEMU's default firmware, OpenSBI, runs the stub as
 *   its S-mode payload (`-kernel`, at 2 MiB into RAM) on hart 0.
 *
 * @module
 */
import type { Board } from "../../core/model.ts";
import type { ArchPlugin } from "../../core/registry/plugin.ts";
import { MonitorError } from "../../core/errors.ts";
import type { QemuFiles } from "./files.ts";
import { recordedBackingArgs } from "./backings.ts";

/** Where in the management partition's memory the `loader` stub slots start. */
export const ARM_STUB_OFFSET = 0x100_0000;
/** Size of one stub slot. */
export const STUB_SLOT = 0x1000;

/** The RAM of a board as QEMU sees it: one range from the lowest RAM base. */
export function ramSpan(board: Board): { base: number; size: number } {
  const base = Math.min(...board.memory.map((m) => m.base));
  const end = Math.max(...board.memory.map((m) => m.base + m.size));
  return { base, size: end - base };
}

/** The address the `loader` stub of partition `id` is loaded at. */
export function armStubAddress(board: Board, id: number): number {
  const management = board.reserved.find((r) => r.owner === "management" && r.memory.length > 0);
  if (!management) {
    throw new MonitorError(
      `board ${board.name} reserves no memory for the management partition, ` +
        `where the qemu backend puts its monitor stubs`,
    );
  }
  const region = management.memory[0];
  const address = region.base + ARM_STUB_OFFSET + id * STUB_SLOT;
  if (address + STUB_SLOT > region.base + region.size) {
    throw new MonitorError(
      `partition id ${id} has no stub slot in the management partition's memory of ${board.name}`,
    );
  }
  return address;
}

/** The hardware id of the core that runs the stub: core 0 of the machine. */
export function stubCoreHwid(board: Board): number {
  return board.cores[0].hwid;
}

/** A value inside a QEMU option list: a comma is written twice. */
export function qemuValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/** QEMU's program and arguments for partition `id` of `board`, whose arch plugin is `arch`. */
export function qemuCommand(
  board: Board,
  arch: ArchPlugin,
  id: number,
  files: QemuFiles,
  memory: string,
): { binary: string; args: string[] } {
  if (!board.qemu) {
    throw new MonitorError(
      `board ${board.name} has no qemu: section, so the qemu backend cannot emulate it`,
    );
  }
  const ram = ramSpan(board);
  const args = [
    ...board.qemu.args,
    "-machine",
    "memory-backend=ram",
    "-m",
    `${ram.size / 0x100000}M`,
    "-object",
    `memory-backend-file,id=ram,size=${ram.size},mem-path=${qemuValue(memory)},share=on`,
    "-nodefaults",
    "-display",
    "none",
    "-nic",
    "none",
    "-chardev",
    `socket,id=console,path=${qemuValue(files.serial)},server=on,wait=off`,
    "-serial",
    "chardev:console",
    "-qmp",
    `unix:${qemuValue(files.qmp)},server=on,wait=off`,
    "-qmp",
    `unix:${qemuValue(files.events)},server=on,wait=off`,
    // A guest reset ends QEMU, for vmanager to restart the partition with its images
    // loaded again (on_reboot), instead of resetting into a used kernel image.
    "-no-reboot",
    "-pidfile",
    files.pid,
    "-S",
    // The partition's --net and --disk, each on the virtio-mmio slot it was given.
    ...recordedBackingArgs(board, files.dir.replace(/\/qemu\/\d+$/, ""), id),
  ];
  if (!arch.qemu) {
    throw new MonitorError(
      `arch ${arch.name} gives no qemu hints, so the qemu backend cannot run it`,
    );
  }
  if (arch.qemu.stubLoad === "kernel") {
    args.push("-kernel", files.stub);
  } else {
    const at = armStubAddress(board, id);
    args.push(
      "-device",
      `loader,file=${qemuValue(files.stub)},addr=0x${at.toString(16)},cpu-num=0`,
    );
  }
  return { binary: board.qemu.binary, args };
}
