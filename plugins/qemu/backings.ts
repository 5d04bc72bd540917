/**
 * The device backings of a partition's QEMU: each `--net` and `--disk` of its spec
 * becomes a virtio device on the virtio-mmio transport of the slot the allocator
 * gave it, so the `virtio,mmio` node in the partition's device tree is the device
 * its kernel finds there.
 *
 * QEMU's `virt` machines create their virtio-mmio transports in order of address
 * and name each one's bus `virtio-mmio-bus.N` in creation order (QEMU's automatic
 * bus ids), so transport N is at `first + N × stride` (checked against `info qtree`
 * by tests/qemu/net_disk_test.ts):
 *
 * | machine                          | first      | stride | transports |
 * | -------------------------------- | ---------- | ------ | ---------- |
 * | `qemu-system-aarch64 -M virt`    | 0x0a000000 | 0x200  | 32         |
 * | `qemu-system-arm -M virt`        | 0x0a000000 | 0x200  | 32         |
 * | `qemu-system-riscv64 -M virt`    | 0x10001000 | 0x1000 | 8          |
 *
 * (`info qtree` lists them highest address first, since each new bus is prepended:
 * that is why a `-device` without `bus=` lands on the highest free one; vmanager
 * always names the bus.)
 *
 * @module
 */
import type { Board, PartitionRecord, PartitionSpec } from "../../core/model.ts";
import { MonitorError } from "../../core/errors.ts";
import { backingSlots } from "../../core/partition/allocate.ts";
import { qemuValue } from "./command.ts";
import { setUpTap, tapName } from "./bridge.ts";

/** Where a QEMU machine's virtio-mmio transports are. */
export interface VirtioLayout {
  /** The first transport's base address. */
  first: number;
  /** The distance between two transports. */
  stride: number;
  /** How many the machine creates. */
  count: number;
}

const ARM_VIRT: VirtioLayout = { first: 0x0a00_0000, stride: 0x200, count: 32 };
const RISCV_VIRT: VirtioLayout = { first: 0x1000_1000, stride: 0x1000, count: 8 };

/** The virtio-mmio layout of the board's QEMU machine, when vmanager knows it. */
export function virtioLayout(board: Board): VirtioLayout | undefined {
  const args = board.qemu?.args ?? [];
  const at = args.findIndex((a) => a === "-M" || a === "-machine");
  const machine = at >= 0 ? args[at + 1]?.split(",")[0] : undefined;
  if (machine !== "virt") return undefined;
  switch (board.qemu?.binary) {
    case "qemu-system-aarch64":
    case "qemu-system-arm":
      return ARM_VIRT;
    case "qemu-system-riscv64":
    case "qemu-system-riscv32":
      return RISCV_VIRT;
  }
  return undefined;
}

/** The QEMU bus (`virtio-mmio-bus.N`) of board device `name`, a virtio-mmio slot. */
export function virtioBus(board: Board, name: string): string {
  const layout = virtioLayout(board);
  if (!layout) {
    throw new MonitorError(
      `the qemu backend does not know where board ${board.name}'s QEMU machine puts its ` +
        `virtio-mmio transports, so it cannot back ${name}`,
    );
  }
  const device = board.devices.find((d) => d.name === name);
  const base = device?.reg[0]?.base;
  const index = base === undefined ? -1 : (base - layout.first) / layout.stride;
  if (!Number.isInteger(index) || index < 0 || index >= layout.count) {
    throw new MonitorError(
      `board ${board.name}'s device ${name} is not one of its QEMU machine's virtio-mmio ` +
        `transports`,
    );
  }
  return `virtio-mmio-bus.${index}`;
}

/**
 * A locally administered MAC address unique to a partition and slot: what QEMU gives
 * the virtio-net device of partition `id` on virtio-mmio bus `bus` (`virtioBus`).
 */
export function mac(id: number, bus: string): string {
  const n = Number(bus.slice(bus.lastIndexOf(".") + 1));
  return ["52", "54", "00", (id >> 8) & 0xff, id & 0xff, n].map((b) =>
    typeof b === "string" ? b : b.toString(16).padStart(2, "0")
  ).join(":");
}

/** A partition interface on a board network: the network's name and its tap device. */
export interface NetworkTap {
  /** The board network's name. */
  network: string;
  /** The tap device QEMU opens. */
  tap: string;
}

/**
 * QEMU's arguments for the backings of partition `id` of `stateDir` with `spec` and
 * `devices`; the tap devices its board-network interfaces need are added to `taps`.
 */
export function backingArgs(
  board: Board,
  stateDir: string,
  id: number,
  spec: PartitionSpec,
  devices: readonly string[],
  taps: NetworkTap[] = [],
): string[] {
  const args: string[] = [];
  backingSlots(board, spec, devices).forEach((slot, i) => {
    const bus = virtioBus(board, slot.device);
    if (slot.kind === "net") {
      const netdev = `vnet${i}`;
      if (slot.net.mode === "user") {
        // restrict=on: the partition reaches nothing outside this machine; the
        // forwards listen on the management side's loopback only.
        const forwards = (slot.net.forward ?? []).map((f) =>
          `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`
        );
        args.push("-netdev", `user,id=${netdev},restrict=on${forwards.join("")}`);
      } else {
        // A tap device on the board network's bridge (plugins/qemu/bridge.ts), made
        // before QEMU starts: QEMU runs no script.
        const tap = tapName(stateDir, id, Number(bus.slice(bus.lastIndexOf(".") + 1)));
        taps.push({ network: slot.net.network ?? "", tap });
        args.push("-netdev", `tap,id=${netdev},ifname=${tap},script=no,downscript=no`);
      }
      args.push("-device", `virtio-net-device,netdev=${netdev},bus=${bus},mac=${mac(id, bus)}`);
    } else {
      const drive = `vdisk${i}`;
      args.push(
        "-drive",
        `file=${qemuValue(slot.disk.file)},format=raw,if=none,id=${drive}` +
          (slot.disk.readonly ? ",readonly=on" : ""),
        "-device",
        `virtio-blk-device,drive=${drive},bus=${bus}`,
      );
    }
  });
  return args;
}

/**
 * The backings of partition `id` as the state dir records them (its spec and the
 * devices create gave it): `state.json` is replaced whole by a rename, so it is read
 * without the lock, here by the `start` that holds it. Its board-network interfaces'
 * tap devices (and their bridges) are made here, before QEMU is launched; the
 * partition's stop and destroy remove them (`removeTaps`).
 */
export function recordedBackingArgs(board: Board, stateDir: string, id: number): string[] {
  let record: PartitionRecord | undefined;
  try {
    const doc = JSON.parse(Deno.readTextFileSync(`${stateDir}/state.json`)) as {
      partitions?: PartitionRecord[];
    };
    record = doc.partitions?.find((p) => p.id === id);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new MonitorError(`cannot read the partitions' backings: ${(error as Error).message}`);
  }
  if (!record || (!record.spec.net?.length && !record.spec.disks?.length)) return [];
  for (const disk of record.spec.disks ?? []) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(disk.file);
    } catch {
      throw new MonitorError(`partition ${record.name}'s disk image ${disk.file} is gone`);
    }
    if (!info.isFile) {
      throw new MonitorError(
        `partition ${record.name}'s disk image ${disk.file} is not a regular file`,
      );
    }
  }
  const taps: NetworkTap[] = [];
  const args = backingArgs(board, stateDir, id, record.spec, record.allocation.devices, taps);
  for (const { network, tap } of taps) setUpTap(network, tap);
  return args;
}
