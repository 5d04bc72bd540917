/**
 * Stage times of one `vmanctl start` (`-v` prints them): a clock the start
 * command turns on, and marks the start path leaves on it — each stage lasts
 * from the previous mark to its own. Times measured apart (QEMU's own start,
 * which a stage includes) are listed after the stages, marked as such.
 *
 * The clock is off unless a command turns it on, so a process that never does
 * (the libvirt daemon) records nothing and keeps nothing.
 *
 * @example
 * ```ts
 * import { stage, stopTimingStages, timeStages } from "./stages.ts";
 * const clock = timeStages();   // "startup": from the process's start to now
 * stage("prepare");              // from the previous mark to now
 * for (const line of clock.lines()) console.error(line);
 * stopTimingStages();
 * ```
 * @module
 */

/** One stage and how long it took, in milliseconds. */
export interface StageTime {
  /** What it did, e.g. `kernel write`. */
  stage: string;
  /** Its duration. */
  ms: number;
  /** Measured apart: part of a stage listed before it, not added to the total. */
  apart?: boolean;
}

/** The stage clock of one command. */
export class StageClock {
  /** The stages so far, in order. */
  readonly stages: StageTime[] = [];
  private last: number;

  /** Starts the clock; with `origin` (a `performance.now()` value), the first stage began then. */
  constructor(first?: string, origin = 0) {
    this.last = origin;
    if (first !== undefined) this.mark(first);
  }

  /** Ends the stage named `name` now (it began at the previous mark). */
  mark(name: string): void {
    const now = performance.now();
    this.stages.push({ stage: name, ms: now - this.last });
    this.last = now;
  }

  /** Records a time measured apart, inside a stage (not added to the total). */
  apart(name: string, ms: number): void {
    this.stages.push({ stage: name, ms, apart: true });
  }

  /** The stages' total, in milliseconds (times measured apart excluded). */
  total(): number {
    return this.stages.reduce((sum, s) => sum + (s.apart ? 0 : s.ms), 0);
  }

  /** One line per stage, e.g. `stage kernel write  3.1 ms`, then the total. */
  lines(): string[] {
    const width = Math.max(5, ...this.stages.map((s) => s.stage.length + (s.apart ? 2 : 0)));
    const line = (name: string, ms: number, note = "") =>
      `stage ${name.padEnd(width)} ${ms.toFixed(1).padStart(7)} ms${note}`;
    return [
      ...this.stages.map((s) =>
        s.apart ? line(`(${s.stage})`, s.ms, " (measured apart)") : line(s.stage, s.ms)
      ),
      line("total", this.total()),
    ];
  }
}

let active: StageClock | undefined;

/**
 * Turns the clock on for this process and returns it; its first stage, `startup`,
 * runs from the process's start (Deno's time origin) to now.
 */
export function timeStages(): StageClock {
  return active = new StageClock("startup");
}

/** Turns the clock off again (a command that turned it on, once it has printed it). */
export function stopTimingStages(): void {
  active = undefined;
}

/** Ends stage `name` now, when the clock is on; else does nothing. */
export function stage(name: string): void {
  active?.mark(name);
}

/** Records a time measured apart (see {@linkcode StageClock.apart}), when the clock is on. */
export function stageApart(name: string, ms: number): void {
  active?.apart(name, ms);
}

/** Whether the clock is on (a backend may then measure what it would not otherwise). */
export function timingStages(): boolean {
  return active !== undefined;
}
