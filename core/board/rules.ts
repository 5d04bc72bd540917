/**
 * The rules a board description must satisfy beyond its schema: unique ids and
 * names, no overlapping ranges, reservations that name what exists, at least one
 * assignable core, and — given the board's arch plugin — core ids, the monitor
 * conduit and the power interface the architecture accepts.
 *
 * @module
 */
import type { ArchPlugin } from "../registry/plugin.ts";
import type { Board, Range } from "../model.ts";
import { contains, formatRange, overlaps, rangeEnd } from "../ranges.ts";

/** One problem: where in the description (a path of keys and indexes) and what. */
export interface BoardProblem {
  /** Path to the offending field, e.g. `["cores", 2, "hwid"]`. */
  path: (string | number)[];
  /** What is wrong. */
  message: string;
}

/**
 * Every rule violation of a board that passed its schema, in document order.
 * Pass the board's arch plugin to also check core ids, conduit and interface.
 */
export function boardProblems(board: Board, arch?: ArchPlugin): BoardProblem[] {
  const problems: BoardProblem[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path, message });

  const coreIds = new Map<number, number>();
  const hwids = new Map<number, number>();
  board.cores.forEach((core, i) => {
    const first = coreIds.get(core.id);
    if (first !== undefined) add(["cores", i, "id"], `core id ${core.id} repeats cores[${first}]`);
    else coreIds.set(core.id, i);
    const firstHw = hwids.get(core.hwid);
    if (firstHw !== undefined) {
      add(["cores", i, "hwid"], `hwid 0x${core.hwid.toString(16)} repeats cores[${firstHw}]`);
    } else hwids.set(core.hwid, i);
    const bad = arch?.validateCoreId(core.hwid);
    if (bad) add(["cores", i, "hwid"], bad);
  });

  // Pairwise checks (for their messages) only when some memory or device ranges overlap.
  const disjoint = !anyOverlap([...board.memory, ...board.devices.flatMap((d) => d.reg)]);
  if (!disjoint) checkOverlaps(board.memory, ["memory"], "memory range", add);

  const deviceNames = new Map<string, number>();
  const deviceRanges: { range: Range; path: (string | number)[]; name: string }[] = [];
  board.devices.forEach((device, i) => {
    const first = deviceNames.get(device.name);
    if (first !== undefined) {
      add(["devices", i, "name"], `device '${device.name}' repeats devices[${first}]`);
    } else deviceNames.set(device.name, i);
    if (disjoint) return;
    device.reg.forEach((range, j) => {
      for (const other of deviceRanges) {
        if (overlaps(range, other.range)) {
          add(
            ["devices", i, "reg", j],
            `${formatRange(range)} overlaps device '${other.name}' at ${formatRange(other.range)}`,
          );
        }
      }
      for (const mem of board.memory) {
        if (overlaps(range, mem)) {
          add(["devices", i, "reg", j], `${formatRange(range)} overlaps memory '${mem.name}'`);
        }
      }
      deviceRanges.push({ range, path: ["devices", i, "reg", j], name: device.name });
    });
  });

  const coreOwner = new Map<number, string>();
  const deviceOwner = new Map<string, string>();
  const reservedMemory: { range: Range; owner: string }[] = [];
  board.reserved.forEach((r, i) => {
    r.cores.forEach((id, j) => {
      if (!coreIds.has(id)) {
        add(["reserved", i, "cores", j], `core ${id} is not a core of this board`);
      }
      const owner = coreOwner.get(id);
      if (owner) add(["reserved", i, "cores", j], `core ${id} is already kept by ${owner}`);
      coreOwner.set(id, r.owner);
    });
    r.devices.forEach((name, j) => {
      if (!deviceNames.has(name)) {
        add(["reserved", i, "devices", j], `no device '${name}' on this board`);
      }
      const owner = deviceOwner.get(name);
      if (owner) add(["reserved", i, "devices", j], `device '${name}' is already kept by ${owner}`);
      deviceOwner.set(name, r.owner);
    });
    r.memory.forEach((range, j) => {
      if (!board.memory.some((mem) => contains(mem, range))) {
        add(["reserved", i, "memory", j], `${formatRange(range)} is not inside the board's memory`);
      }
      for (const other of reservedMemory) {
        if (overlaps(range, other.range)) {
          add(
            ["reserved", i, "memory", j],
            `${formatRange(range)} overlaps memory kept by ${other.owner} at ${
              formatRange(other.range)
            }`,
          );
        }
      }
      reservedMemory.push({ range, owner: r.owner });
    });
  });
  const owners = new Set<string>();
  board.reserved.forEach((r, i) => {
    if (owners.has(r.owner)) add(["reserved", i, "owner"], `owner '${r.owner}' is listed twice`);
    owners.add(r.owner);
    if (r.providers?.length && r.owner !== "management") {
      add(
        ["reserved", i, "providers"],
        "only the management partition's reservation lists providers",
      );
    }
  });

  if (board.cores.length > 0 && board.cores.every((core) => coreOwner.has(core.id))) {
    add(["cores"], "every core is reserved: no core is left for partitions");
  }
  // The arch plugin names its conduits; without it the conduit cannot be judged.
  if (arch && !arch.conduits.includes(board.monitor.conduit)) {
    add(
      ["monitor", "conduit"],
      `${board.arch} monitors are reached with ${
        arch.conduits.join(" or ")
      }, not ${board.monitor.conduit}`,
    );
  }
  board.devices.forEach((device, i) => {
    const owner = deviceOwner.get(device.name);
    if (device.default && owner) {
      add(
        ["devices", i, "default"],
        `device '${device.name}' is kept by ${owner}, so it cannot be a default`,
      );
    }
  });
  if (arch && arch.powerInterface !== board.monitor.interface) {
    add(
      ["monitor", "interface"],
      `arch ${arch.name} partitions use ${arch.powerInterface}, not ${board.monitor.interface}`,
    );
  }
  return problems;
}

function checkOverlaps(
  ranges: readonly (Range & { name: string })[],
  path: (string | number)[],
  what: string,
  add: (path: (string | number)[], message: string) => void,
): void {
  ranges.forEach((range, i) => {
    for (let j = 0; j < i; j++) {
      if (overlaps(range, ranges[j])) {
        add(
          [...path, i],
          `${what} '${range.name}' ${formatRange(range)} overlaps '${ranges[j].name}' ${
            formatRange(ranges[j])
          }`,
        );
      }
    }
  });
}

/** True when two of `ranges` overlap: one sweep in base order (empty ranges overlap nothing). */
function anyOverlap(ranges: readonly Range[]): boolean {
  const sorted = ranges.filter((r) => r.size > 0).sort((a, b) => a.base - b.base);
  let end = -Infinity;
  for (const range of sorted) {
    if (range.base < end) return true;
    end = Math.max(end, rangeEnd(range));
  }
  return false;
}

/** A problem path as people read it: `cores[2].hwid`. */
export function problemPath(path: readonly (string | number)[]): string {
  return path.map((key, i) => typeof key === "number" ? `[${key}]` : i === 0 ? key : `.${key}`)
    .join("");
}
