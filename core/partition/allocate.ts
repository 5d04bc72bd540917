/**
 * The allocator: turns a partition spec into cores, a memory window and devices
 * that no reservation and no other partition holds. Pure: it reads the board and
 * the existing allocations and returns a new allocation or throws.
 *
 * Bad input (unknown core, malformed size) is an {@linkcode InputError}; a
 * resource someone else holds is a {@linkcode ConflictError} naming the holder.
 *
 * @example
 * ```ts
 * import { allocate } from "./allocate.ts";
 * const a = allocate(board, [], { name: "a", cpus: 2, memory: 512 * MiB });
 * a.cores; // [1, 2]
 * ```
 * @module
 */
import { ConflictError, InputError } from "../errors.ts";
import type { Allocation, Board, DiskBacking, NetBacking, PartitionSpec, Range } from "../model.ts";
import { contains, formatRange, overlaps, rangeEnd, subtractRanges } from "../ranges.ts";
import { alignUp, formatHex, formatSize, isAligned, KiB, MiB } from "../units.ts";
import { validateCmdline } from "./cmdline.ts";
import { validateName } from "./name.ts";

/** Memory given to a partition whose spec names no size. */
export const DEFAULT_MEMORY = 256 * MiB;
/** Alignment of windows the allocator picks. */
export const WINDOW_ALIGNMENT = 2 * MiB;
/** Granule of window sizes and explicit bases. */
export const PAGE = 4 * KiB;

/** An existing partition as the allocator sees it. */
export interface Holder {
  /** Partition name. */
  name: string;
  /** Its allocation. */
  allocation: Allocation;
  /** Its spec, for the host ports its network backings forward. */
  spec?: PartitionSpec;
}

/**
 * Allocates resources for `spec` on `board`, next to the `holders`' allocations.
 * A window the allocator picks is aligned to `alignment` (at least 2 MiB; the
 * arch plugin may ask for more, e.g. 128 MiB for zImages).
 */
export function allocate(
  board: Board,
  holders: readonly Holder[],
  spec: PartitionSpec,
  alignment = WINDOW_ALIGNMENT,
): Allocation {
  validateName(spec.name);
  if (spec.cmdline !== undefined) validateCmdline(spec.cmdline, "--cmdline");
  if (holders.some((h) => h.name === spec.name)) {
    throw new ConflictError(`partition '${spec.name}' already exists`, spec.name);
  }
  const owners = new Owners(board, holders);
  const cores = allocateCores(board, owners, spec);
  const memory = allocateMemory(board, owners, spec, Math.max(alignment, WINDOW_ALIGNMENT));
  const devices = allocateSlots(board, owners, holders, spec, allocateDevices(board, owners, spec));
  return { cores, bootCore: cores[0], memory, devices };
}

/** Who holds each resource: reservations and partitions. */
class Owners {
  readonly cores = new Map<number, string>();
  readonly devices = new Map<string, string>();
  readonly memory: { range: Range; owner: string }[] = [];

  constructor(board: Board, holders: readonly Holder[]) {
    for (const r of board.reserved) {
      const owner = r.owner === "management" ? "the management partition" : "the monitor";
      for (const core of r.cores) this.cores.set(core, owner);
      for (const device of r.devices) this.devices.set(device, owner);
      for (const range of r.memory) this.memory.push({ range, owner });
    }
    const shared = new Set(
      board.devices.filter((d) => d.sharing === "per-partition").map((d) => d.name),
    );
    for (const h of holders) {
      const owner = `partition ${h.name}`;
      for (const core of h.allocation.cores) this.cores.set(core, owner);
      for (const device of h.allocation.devices) {
        if (!shared.has(device)) this.devices.set(device, owner);
      }
      this.memory.push({ range: h.allocation.memory, owner });
    }
    this.board = board;
  }

  private readonly board: Board;

  /**
   * Who holds device `name`: its holder, or the holder of a device in the same
   * 4 KiB page (the granule at which the monitor isolates device ranges,
   * docs/monitor-abi.md), e.g. virtio0..virtio7 of an Arm `virt` board, 0x200 apart.
   */
  holderOf(name: string): string | undefined {
    const own = this.devices.get(name);
    if (own) return own;
    const device = this.board.devices.find((d) => d.name === name);
    if (!device || device.sharing === "per-partition") return undefined;
    const pages = device.reg.map(pageRange);
    for (const [other, owner] of this.devices) {
      if (other === name) continue;
      const held = this.board.devices.find((d) => d.name === other);
      if (held?.reg.some((r) => pages.some((p) => overlaps(p, pageRange(r))))) {
        return `${owner} (it has ${other}, in the same ${formatSize(PAGE)} page)`;
      }
    }
    return undefined;
  }
}

/** A range rounded out to the {@linkcode PAGE} granule. */
function pageRange(range: Range): Range {
  const base = Math.floor(range.base / PAGE) * PAGE;
  return { base, size: alignUp(range.base + range.size, PAGE) - base };
}

function allocateCores(board: Board, owners: Owners, spec: PartitionSpec): number[] {
  const boardIds = board.cores.map((c) => c.id).sort((a, b) => a - b);
  if (spec.cpus !== undefined && spec.cpuIds !== undefined) {
    throw new InputError("give either a core count or core ids, not both", "--cpus/--cpu-ids");
  }
  if (spec.cpuIds !== undefined) {
    if (spec.cpuIds.length === 0) throw new InputError("the core id list is empty", "--cpu-ids");
    const seen = new Set<number>();
    for (const id of spec.cpuIds) {
      if (!boardIds.includes(id)) {
        throw new InputError(
          `board ${board.name} has no core ${id} (cores: ${boardIds.join(",")})`,
          "--cpu-ids",
        );
      }
      if (seen.has(id)) throw new InputError(`core ${id} is listed twice`, "--cpu-ids");
      seen.add(id);
    }
    const taken = spec.cpuIds.filter((id) => owners.cores.has(id));
    if (taken.length > 0) {
      throw new ConflictError(`${describeHeld(taken, owners.cores, "core")}`, spec.name);
    }
    return [...spec.cpuIds].sort((a, b) => a - b);
  }
  const count = spec.cpus ?? 1;
  if (!Number.isInteger(count) || count < 1) {
    throw new InputError(`core count must be a whole number of at least 1, not ${count}`, "--cpus");
  }
  if (count > boardIds.length) {
    throw new InputError(
      `board ${board.name} has only ${boardIds.length} cores, ${count} requested`,
      "--cpus",
    );
  }
  const free = boardIds.filter((id) => !owners.cores.has(id));
  if (free.length < count) {
    const held = boardIds.filter((id) => owners.cores.has(id));
    throw new ConflictError(
      `${count} ${count === 1 ? "core" : "cores"} requested, ${free.length} free: ${
        describeHeld(held, owners.cores, "core")
      }`,
      spec.name,
    );
  }
  return free.slice(0, count);
}

function allocateMemory(
  board: Board,
  owners: Owners,
  spec: PartitionSpec,
  alignment: number,
): Range {
  const size = spec.memory ?? DEFAULT_MEMORY;
  if (!Number.isSafeInteger(size) || size <= 0 || !isAligned(size, PAGE)) {
    throw new InputError(`memory size ${size} must be a positive multiple of 4 KiB`, "--memory");
  }
  const largestRam = Math.max(...board.memory.map((m) => m.size));
  if (size > largestRam) {
    throw new InputError(
      `${formatSize(size)} is more than board ${board.name}'s largest RAM range (${
        formatSize(largestRam)
      })`,
      "--memory",
    );
  }
  if (spec.memoryBase !== undefined) {
    const window = { base: spec.memoryBase, size };
    if (!isAligned(window.base, PAGE)) {
      throw new InputError(
        `memory base ${formatHex(window.base)} is not 4 KiB aligned`,
        "--memory-base",
      );
    }
    if (!board.memory.some((m) => contains(m, window))) {
      const ram = board.memory.map((m) => formatRange(m)).join(", ");
      throw new InputError(
        `window ${formatRange(window)} is not inside the RAM of board ${board.name} (${ram})`,
        "--memory-base",
      );
    }
    const clash = owners.memory.find((m) => overlaps(m.range, window));
    if (clash) {
      throw new ConflictError(
        `window ${formatRange(window)} overlaps ${formatRange(clash.range)} held by ${clash.owner}`,
        spec.name,
      );
    }
    return window;
  }
  const used = owners.memory.map((m) => m.range);
  let largest = 0;
  for (const ram of board.memory) {
    for (const free of subtractRanges(ram, used)) {
      const base = alignUp(free.base, alignment);
      const room = rangeEnd(free) - base;
      if (room >= size) return { base, size };
      largest = Math.max(largest, room);
    }
  }
  throw new ConflictError(
    `no free ${formatSize(size)} window on board ${board.name}: the largest free ${
      formatSize(alignment)
    }-aligned window is ${formatSize(largest)}`,
    spec.name,
  );
}

function allocateDevices(board: Board, owners: Owners, spec: PartitionSpec): string[] {
  const requested = spec.devices ?? board.devices.filter((d) => d.default).map((d) => d.name);
  const seen = new Set<string>();
  for (const name of requested) {
    const device = board.devices.find((d) => d.name === name);
    if (!device) {
      const known = board.devices.map((d) => d.name).join(", ") || "none";
      throw new InputError(
        `board ${board.name} has no device '${name}' (devices: ${known})`,
        "--device",
      );
    }
    if (seen.has(name)) throw new InputError(`device '${name}' is listed twice`, "--device");
    seen.add(name);
    // Held by name only: the page rule of holderOf applies to backings' slots (a
    // device in another partition's page is refused by the monitor at start).
    const owner = owners.devices.get(name);
    if (owner) throw new ConflictError(`device ${name} is held by ${owner}`, spec.name);
  }
  return [...requested];
}

/** The compatible string of a virtio-mmio transport, the slots backings go on. */
const VIRTIO_MMIO = "virtio,mmio";

/** Whether board device `name` is a virtio-mmio slot. */
export function isVirtioSlot(board: Board, name: string): boolean {
  return board.devices.some((d) => d.name === name && d.compatible.includes(VIRTIO_MMIO));
}

/** A backing of a partition on the slot it has. */
export type BackingSlot =
  | { device: string; kind: "net"; net: NetBacking }
  | { device: string; kind: "disk"; disk: DiskBacking };

/**
 * Which slot each backing of `spec` is on, given the partition's devices: a backing
 * that names its slot (`device=`) is on it; the others, nets first and then disks, each
 * in spec order, take the partition's other virtio slots in the order of `devices` (the
 * allocator appends the slots it picks after those the spec lists). Pure, so `start`,
 * `show` and `plan` find the slots `create` gave.
 */
export function backingSlots(
  board: Board,
  spec: PartitionSpec,
  devices: readonly string[],
): BackingSlot[] {
  const wanted: (Omit<BackingSlot, "device"> & { device?: string })[] = [
    ...(spec.net ?? []).map((net) => ({ kind: "net" as const, net, device: net.device })),
    ...(spec.disks ?? []).map((disk) => ({ kind: "disk" as const, disk, device: disk.device })),
  ];
  const named = new Set(wanted.map((w) => w.device).filter((d) => d !== undefined));
  const free = devices.filter((d) => !named.has(d) && isVirtioSlot(board, d));
  return wanted.map((w) => {
    const device = w.device ?? free.shift();
    if (device === undefined) {
      throw new InputError(
        `partition ${spec.name} has fewer virtio slots than backings`,
        spec.name,
      );
    }
    return { ...w, device } as BackingSlot;
  });
}

/**
 * Gives the spec's backings (`--net`, `--disk`) their virtio-mmio slots: a slot a
 * backing names, else one the spec lists with `--device`, else a free one of the
 * board's. Every problem is bad input (exit 2) but a named slot someone holds, which
 * is a conflict as with `--device`.
 */
function allocateSlots(
  board: Board,
  owners: Owners,
  holders: readonly Holder[],
  spec: PartitionSpec,
  requested: string[],
): string[] {
  const backings = [
    ...(spec.net ?? []).map((b) => ({ flag: "--net", device: b.device })),
    ...(spec.disks ?? []).map((b) => ({ flag: "--disk", device: b.device })),
  ];
  if (backings.length === 0) return requested;
  // A host port is forwarded to one partition only.
  const forwarded = new Map<number, string>();
  for (const h of holders) {
    for (const net of h.spec?.net ?? []) {
      for (const f of net.forward ?? []) forwarded.set(f.host, `partition ${h.name}`);
    }
  }
  for (const net of spec.net ?? []) {
    for (const f of net.forward ?? []) {
      const holder = forwarded.get(f.host);
      if (holder) {
        throw new InputError(
          `host port ${f.host} is forwarded to ${
            holder === spec.name ? "this partition twice" : holder
          }`,
          "--net",
        );
      }
      forwarded.set(f.host, spec.name);
    }
  }
  // An image is written by one partition at a time (QEMU locks it): it may be shared
  // only read-only.
  const images = new Map<string, { owner: string; readonly: boolean }[]>();
  const use = (file: string, owner: string, readonly: boolean) =>
    images.set(file, [...(images.get(file) ?? []), { owner, readonly }]);
  for (const h of holders) {
    for (const disk of h.spec?.disks ?? []) {
      use(disk.file, `partition ${h.name}`, disk.readonly === true);
    }
  }
  for (const disk of spec.disks ?? []) {
    const readonly = disk.readonly === true;
    const clash = (images.get(disk.file) ?? []).find((u) => !readonly || !u.readonly);
    if (clash) {
      const self = clash.owner === spec.name;
      throw new InputError(
        `disk image ${disk.file} is ${self ? "given twice" : `${clash.owner}'s`}${
          clash.readonly ? " (read-only)" : ""
        }: an image is written by one partition only, or shared read-only (,ro) by all`,
        "--disk",
      );
    }
    use(disk.file, spec.name, readonly);
  }
  const slots = board.devices.filter((d) => d.compatible.includes(VIRTIO_MMIO)).map((d) => d.name);
  const devices = [...requested];
  const named = new Set<string>();
  for (const { flag, device } of backings) {
    if (device === undefined) continue;
    if (!board.devices.some((d) => d.name === device)) {
      throw new InputError(
        `board ${board.name} has no device '${device}' (virtio slots: ${
          slots.join(", ") || "none"
        })`,
        flag,
      );
    }
    if (!slots.includes(device)) {
      throw new InputError(
        `device ${device} is not a virtio slot (${VIRTIO_MMIO}); board ${board.name}'s are ${
          slots.join(", ") || "none"
        }`,
        flag,
      );
    }
    if (named.has(device)) throw new InputError(`slot ${device} is given twice`, flag);
    named.add(device);
    const owner = owners.holderOf(device);
    if (owner) throw new ConflictError(`device ${device} is held by ${owner}`, spec.name);
    if (!devices.includes(device)) devices.push(device);
  }
  const listed = devices.filter((d) => !named.has(d) && slots.includes(d)).length;
  const unnamed = backings.filter((b) => b.device === undefined);
  const missing = unnamed.length - listed;
  if (missing > 0) {
    const free = slots.filter((d) => !owners.holderOf(d) && !devices.includes(d));
    if (free.length < missing) {
      const held = slots.filter((d) => owners.holderOf(d))
        .map((d) => `${d} by ${owners.holderOf(d)}`);
      throw new InputError(
        `no free virtio slot for ${unnamed[listed + free.length].flag}: board ${board.name} has ${
          slots.length === 0 ? "none" : `${slots.join(", ")}; held: ${held.join(", ") || "none"}`
        }`,
        unnamed[listed + free.length].flag,
      );
    }
    devices.push(...free.slice(0, missing));
  }
  return devices;
}

/** `core 0 is held by the management partition; cores 2,3 by partition a`. */
function describeHeld(
  ids: readonly number[],
  owner: ReadonlyMap<number, string>,
  what: string,
): string {
  const byOwner = new Map<string, number[]>();
  for (const id of ids) {
    const o = owner.get(id)!;
    byOwner.set(o, [...(byOwner.get(o) ?? []), id]);
  }
  return [...byOwner].map(([o, list], i) =>
    `${list.length > 1 ? `${what}s` : what} ${list.join(",")} ${
      i === 0 ? (list.length > 1 ? "are" : "is") + " held by " : "by "
    }${o}`
  ).join("; ");
}
