/**
 * The `dry-run` monitor backend: accepts every call and touches nothing. What
 * it would have done is what the {@linkcode RecordingMonitor} around it records,
 * and what `plan` and `show` print.
 *
 * @module
 */
import type { MonitorPlugin } from "../registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../registry/plugin.ts";
import type { Monitor, MonitorPartitionState } from "./monitor.ts";

/** A monitor that does nothing and always succeeds. */
export class DryRunMonitor implements Monitor {
  /** Always `dry-run`. */
  readonly backend = "dry-run";
  /** Does nothing. */
  partitionCreate(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  partitionAddCore(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  partitionAddMemory(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  partitionAddDevice(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  memoryWrite(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  coreStart(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  partitionStop(): Promise<void> {
    return Promise.resolve();
  }
  /** Does nothing. */
  partitionDestroy(): Promise<void> {
    return Promise.resolve();
  }
  /** A dry run keeps no partitions: the state is the only record of them. */
  partitionStatus(): Promise<MonitorPartitionState> {
    return Promise.resolve("unknown");
  }
}

/**
 * Makes the `dry-run` monitor plugin.
 *
 * @example
 * ```ts
 * import { dryRunMonitor } from "./dry_run.ts";
 * const plugin = dryRunMonitor();
 * plugin.create({ stateDir: "/tmp/s", board }).backend; // "dry-run"
 * ```
 */
export function dryRunMonitor(): MonitorPlugin {
  return {
    kind: "monitor",
    name: "dry-run",
    version: "1.0.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "records the monitor calls it would make; changes nothing",
    create: () => new DryRunMonitor(),
  };
}
