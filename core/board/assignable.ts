/**
 * What of a board partitions may use: everything not reserved.
 *
 * @module
 */
import type { Board, Range } from "../model.ts";
import { subtractRanges } from "../ranges.ts";

/** The cores, memory and devices no reservation keeps. */
export interface Assignable {
  /** Core ids. */
  cores: number[];
  /** Free RAM ranges. */
  memory: Range[];
  /** Device names. */
  devices: string[];
}

/** The board's assignable resources. */
export function assignable(board: Board): Assignable {
  const keptCores = new Set(board.reserved.flatMap((r) => r.cores));
  const keptDevices = new Set(board.reserved.flatMap((r) => r.devices));
  const keptMemory = board.reserved.flatMap((r) => r.memory);
  return {
    cores: board.cores.map((c) => c.id).filter((id) => !keptCores.has(id)),
    memory: board.memory.flatMap((m) => subtractRanges(m, keptMemory)),
    devices: board.devices.map((d) => d.name).filter((name) => !keptDevices.has(name)),
  };
}
