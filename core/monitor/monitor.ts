/**
 * The `Monitor` interface: the only way core touches hardware. Its calls mirror
 * the monitor ABI one to one, so the calls a backend records are the calls a
 * real monitor would receive.
 *
 * @module
 */
import type { Board, MonitorCall, Range } from "../model.ts";
import type { ArchPlugin } from "../registry/plugin.ts";

/**
 * A source of bytes to write into partition memory: bytes, or a file — all of it,
 * or `length` bytes from `offset` — that the backend loads without its bytes
 * passing through JavaScript.
 */
export type MemorySource = FileSource | { bytes: Uint8Array };

/** A file to load, or a range of it. */
export interface FileSource {
  /** The file. */
  path: string;
  /** Where in the file the bytes begin (default 0). */
  offset?: number;
  /** How many bytes (default: to the file's end). */
  length?: number;
}

/** How a recorded call names a source: its path (and range), or its size in bytes. */
export function describeSource(source: MemorySource): string {
  if (!("path" in source)) return `${source.bytes.length} bytes`;
  if (source.offset === undefined && source.length === undefined) return source.path;
  const length = source.length === undefined ? "to its end" : `${source.length} bytes`;
  return `${source.path} (${length} from offset ${source.offset ?? 0})`;
}

/**
 * A monitor-level view of a partition's run state; `unknown` from a backend that
 * keeps no partitions (`dry-run`), whose state is then the only record.
 */
export type MonitorPartitionState = "absent" | "configured" | "running" | "stopped" | "unknown";

/** The monitor ABI as vmanager drives it. Every method may throw `MonitorError`. */
export interface Monitor {
  /** The backend's name, e.g. `dry-run`. */
  readonly backend: string;
  /** Creates an empty partition with the given monitor id. */
  partitionCreate(id: number): Promise<void>;
  /** Gives a core (by hardware id) to a partition. */
  partitionAddCore(id: number, hwid: number): Promise<void>;
  /** Gives a window of physical memory to a partition. */
  partitionAddMemory(id: number, window: Range): Promise<void>;
  /** Gives a device's MMIO range to a partition. */
  partitionAddDevice(id: number, name: string, range: Range): Promise<void>;
  /** Writes bytes into a partition's memory at a physical address. */
  memoryWrite(id: number, address: number, source: MemorySource): Promise<void>;
  /** Starts a core of the partition at `entry` with `context` in the first argument register. */
  coreStart(id: number, hwid: number, entry: number, context: number): Promise<void>;
  /** Stops every core of a partition. */
  partitionStop(id: number): Promise<void>;
  /** Removes a partition from the monitor, returning its resources. */
  partitionDestroy(id: number): Promise<void>;
  /** The monitor's view of a partition. */
  partitionStatus(id: number): Promise<MonitorPartitionState>;
  /** Releases what the backend holds (a device handle); called once, after its last call. */
  close?(): void;
}

/** What a monitor backend gets when it is made. */
export interface MonitorContext {
  /** The state directory, for backends that keep state of their own. */
  stateDir: string;
  /** The board. */
  board: Board;
  /** The board's arch plugin (its monitor stub, for backends that run one). */
  arch?: ArchPlugin;
}

/** A monitor that records every call before passing it on. */
export class RecordingMonitor implements Monitor {
  /** The calls made so far. */
  readonly calls: MonitorCall[] = [];
  /** Wraps `inner`. */
  constructor(private readonly inner: Monitor) {}

  /** The wrapped backend's name. */
  get backend(): string {
    return this.inner.backend;
  }

  private async record<T>(
    call: string,
    args: MonitorCall["args"],
    run: () => Promise<T>,
  ): Promise<T> {
    this.calls.push({ call, args });
    return await run();
  }

  /** Records and forwards `partitionCreate`. */
  partitionCreate(id: number): Promise<void> {
    return this.record("partition_create", { partition: id }, () => this.inner.partitionCreate(id));
  }
  /** Records and forwards `partitionAddCore`. */
  partitionAddCore(id: number, hwid: number): Promise<void> {
    return this.record(
      "partition_add_core",
      { partition: id, hwid },
      () => this.inner.partitionAddCore(id, hwid),
    );
  }
  /** Records and forwards `partitionAddMemory`. */
  partitionAddMemory(id: number, window: Range): Promise<void> {
    return this.record(
      "partition_add_memory",
      { partition: id, base: window.base, size: window.size },
      () => this.inner.partitionAddMemory(id, window),
    );
  }
  /** Records and forwards `partitionAddDevice`. */
  partitionAddDevice(id: number, name: string, range: Range): Promise<void> {
    return this.record(
      "partition_add_device",
      { partition: id, device: name, base: range.base, size: range.size },
      () => this.inner.partitionAddDevice(id, name, range),
    );
  }
  /** Records and forwards `memoryWrite`. */
  memoryWrite(id: number, address: number, source: MemorySource): Promise<void> {
    return this.record(
      "memory_write",
      { partition: id, address, source: describeSource(source) },
      () => this.inner.memoryWrite(id, address, source),
    );
  }
  /** Records and forwards `coreStart`. */
  coreStart(id: number, hwid: number, entry: number, context: number): Promise<void> {
    return this.record(
      "core_start",
      { partition: id, hwid, entry, context },
      () => this.inner.coreStart(id, hwid, entry, context),
    );
  }
  /** Records and forwards `partitionStop`. */
  partitionStop(id: number): Promise<void> {
    return this.record("partition_stop", { partition: id }, () => this.inner.partitionStop(id));
  }
  /** Records and forwards `partitionDestroy`. */
  partitionDestroy(id: number): Promise<void> {
    return this.record(
      "partition_destroy",
      { partition: id },
      () => this.inner.partitionDestroy(id),
    );
  }
  /** Forwards `partitionStatus` (a query, not recorded). */
  partitionStatus(id: number): Promise<MonitorPartitionState> {
    return this.inner.partitionStatus(id);
  }
  /** Closes the wrapped backend. */
  close(): void {
    this.inner.close?.();
  }
}
