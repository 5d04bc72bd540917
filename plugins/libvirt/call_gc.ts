/**
 * The daemon's garbage collection while it serves calls. V8 promotes much of a
 * burst's garbage to its old generation and collects that only under pressure,
 * and a heap it grew stays resident: a daemon that served 10,000 calls kept 15 MiB
 * more than after its first 1,000. A full collection at most every
 * {@linkcode GC_EVERY_MS}, and only after calls came, keeps the heap at what
 * the calls need (`deno task bench --only daemon_memory`), for about 4 % of the
 * daemon's throughput under a steady load and nothing when it is idle. Needs V8's
 * `--expose-gc` (scripts/permissions.ts); without it, it does nothing.
 *
 * @example
 * ```ts
 * import { CallCollector } from "./call_gc.ts";
 * const collector = new CallCollector();
 * collector.note(); // on every call
 * collector.tick(); // from a timer
 * ```
 * @module
 */

/** The least time between two collections, in ms. */
export const GC_EVERY_MS = 1000;

/** Collects garbage at most every {@linkcode GC_EVERY_MS}, when calls came since the last time. */
export class CallCollector {
  private calls = 0;
  private collected = -Infinity;

  /**
   * @param collect The collection (V8's `gc`, when exposed).
   * @param now The clock, in ms.
   */
  constructor(
    private readonly collect: (() => void) | undefined = (globalThis as { gc?: () => void }).gc,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Notes a call. */
  note(): void {
    this.calls++;
  }

  /** Collects when calls came since the last collection, and that was long enough ago; true if it did. */
  tick(): boolean {
    const now = this.now();
    if (!this.collect || this.calls === 0 || now - this.collected < GC_EVERY_MS) return false;
    this.calls = 0;
    this.collected = now;
    this.collect();
    return true;
  }
}
