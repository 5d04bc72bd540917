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
import type { Allocation, Board, PartitionSpec, Range } from "../model.ts";
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
  const devices = allocateDevices(board, owners, spec);
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
  }
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
    const owner = owners.devices.get(name);
    if (owner) throw new ConflictError(`device ${name} is held by ${owner}`, spec.name);
  }
  return [...requested];
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
