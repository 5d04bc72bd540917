/**
 * The MAC addresses of a partition's network interfaces, when its backend gives
 * them: on the `qemu` backend each virtio-net device has the address
 * plugins/qemu/backings.ts gives it (from the partition's id and its virtio-mmio
 * slot); other backends run no network device, so they have none. `dumpxml` writes
 * them as `<mac address>`, `domifaddr` as the interfaces' hardware addresses, so
 * clients that match the two (Terraform's `wait_for_ip`) find each interface.
 *
 * @module
 */
import type { Board, PartitionRecord } from "../../core/model.ts";
import { backingSlots } from "../../core/partition/allocate.ts";
import { mac, virtioBus } from "../qemu/backings.ts";

/** The MAC of each of `record`'s `--net` interfaces, in order; none off the `qemu` backend. */
export function interfaceMacs(board: Board, backend: string, record: PartitionRecord): string[] {
  if (backend !== "qemu") return [];
  try {
    return backingSlots(board, record.spec, record.allocation.devices)
      .filter((slot) => slot.kind === "net")
      .map((slot) => mac(record.id, virtioBus(board, slot.device)));
  } catch {
    // A board whose QEMU machine vmanager cannot place backings on: no MACs to tell.
    return [];
  }
}
