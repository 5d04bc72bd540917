/**
 * Core lists as users write them — `2,3`, `2-3`, `1,3-5` — for `--cpu-ids`, a spec
 * file's `cpu-ids` and a libvirt domain's `<vcpu cpuset>`. Everything is bounded
 * before anything is expanded: the text is read part by part up to
 * {@linkcode MAX_CPU_LIST_TEXT} characters, a number of more than four digits is
 * refused without being converted, every id must be at most
 * {@linkcode MAX_CPU_ID}, and the ids of all ranges together at most
 * {@linkcode MAX_CPU_IDS}; so the worst list costs a few thousand ids, and the
 * first problem in the text is the one reported.
 *
 * @example
 * ```ts
 * import { parseCpuList } from "./cpu_list.ts";
 * parseCpuList("1,3-5", "--cpu-ids"); // [1, 3, 4, 5]
 * ```
 * @module
 */
import { clip, InputError } from "./errors.ts";

/** Highest core id a list may name. */
export const MAX_CPU_ID = 4095;
/** Most core ids a list may name, counted over its ranges (duplicates included). */
export const MAX_CPU_IDS = 4096;
/**
 * Longest list text read, in characters: 64 KiB. `0,1,…,4095` written out is
 * about 19 KiB.
 */
export const MAX_CPU_LIST_TEXT = 64 * 1024;

/** What is wrong with a core list. */
export type CpuListProblem = "syntax" | "backwards" | "too-high" | "too-many" | "too-long";

/** A core list that cannot be read; `problem` says why and `part` is the part at fault. */
export class CpuListError extends InputError {
  /** Why. */
  readonly problem: CpuListProblem;
  /** The part of the list at fault (`2-1`, `5000`), cut for messages. */
  readonly part: string;
  /** Makes the error. */
  constructor(problem: CpuListProblem, message: string, part: string, where?: string) {
    super(message, where);
    this.problem = problem;
    this.part = part;
  }
}

/** One number of a list: at most four digits (leading zeros allowed), at most MAX_CPU_ID. */
const PART = /^(\d+)(?:-(\d+))?$/;

function idOf(digits: string, part: string, where: string | undefined): number {
  const value = /^0*\d{1,4}$/.test(digits) ? Number(digits) : Infinity;
  if (value > MAX_CPU_ID) {
    throw new CpuListError(
      "too-high",
      `core id ${clip(digits, 24)} is over ${MAX_CPU_ID}, the highest vmanager handles`,
      clip(part, 40),
      where,
    );
  }
  return value;
}

/**
 * Reads a core list into ids, in the order listed, ranges expanded (duplicates
 * are kept: the caller refuses or merges them). Throws {@linkcode CpuListError}
 * (exit 2, `where` as given) for text that is not a list, a range that runs
 * backwards, an id over {@linkcode MAX_CPU_ID}, more than {@linkcode MAX_CPU_IDS}
 * ids in all, or text longer than {@linkcode MAX_CPU_LIST_TEXT}.
 *
 * @param text The list.
 * @param where Where the list came from, for the error line (`--cpu-ids`).
 */
export function parseCpuList(text: string, where?: string): number[] {
  // Nothing past the limit is looked at: a longer text fails at its last part.
  const bounded = text.length > MAX_CPU_LIST_TEXT ? text.slice(0, MAX_CPU_LIST_TEXT + 1) : text;
  const ranges: [number, number][] = [];
  let total = 0;
  let start = 0;
  while (true) {
    const comma = bounded.indexOf(",", start);
    const end = comma < 0 ? bounded.length : comma;
    if (end > MAX_CPU_LIST_TEXT) {
      throw new CpuListError(
        "too-long",
        `the core list is longer than ${MAX_CPU_LIST_TEXT} characters`,
        "",
        where,
      );
    }
    const part = bounded.slice(start, end).trim();
    const m = PART.exec(part);
    if (!m) {
      throw new CpuListError(
        "syntax",
        `'${clip(text, 40)}' is not a core list (use e.g. 2,3 or 2-3)`,
        clip(part, 40),
        where,
      );
    }
    const from = idOf(m[1], part, where);
    const to = m[2] === undefined ? from : idOf(m[2], part, where);
    if (to < from) {
      throw new CpuListError("backwards", `core range ${part} runs backwards`, part, where);
    }
    total += to - from + 1;
    if (total > MAX_CPU_IDS) {
      throw new CpuListError(
        "too-many",
        `the core list names more than ${MAX_CPU_IDS} cores`,
        clip(part, 40),
        where,
      );
    }
    ranges.push([from, to]);
    if (comma < 0) break;
    start = comma + 1;
  }
  const ids: number[] = [];
  for (const [from, to] of ranges) for (let id = from; id <= to; id++) ids.push(id);
  return ids;
}
