/**
 * A `Monitor` that speaks the ABI's requests through the C helper: the part the
 * `sim` and `device` backends share. Each method makes one request (a memory
 * write: the helper's write or file load) and turns a refusal into a
 * `MonitorError` naming the call, its arguments and the code, e.g.
 * `monitor refused partition_add_core(1, 0x2): DENIED (-3): core 0x2 belongs to partition 1`.
 *
 * @module
 */
import { MonitorError } from "../errors.ts";
import type { Range } from "../model.ts";
import type { CodeFamily } from "./abi.ts";
import {
  codeName,
  coreStartStruct,
  coreStruct,
  ERRNO,
  hex,
  partitionStruct,
  rangeStruct,
  REQUEST,
  STATES,
  statusStruct,
} from "./abi.ts";
import type { HelperResult, MonitorHelper } from "./helper.ts";
import type { MemorySource, Monitor, MonitorPartitionState } from "./monitor.ts";
import { describeSource } from "./monitor.ts";

/** An open helper handle and the code family its monitor answers in. */
export interface AbiSession {
  /** The helper library. */
  helper: MonitorHelper;
  /** The handle (sim or device). */
  handle: number;
  /** PSCI (Arm) or SBI (RISC-V) codes. */
  family: CodeFamily;
}

/** One line for a failed helper call: a monitor's refusal or the helper's own error. */
export function failure(call: string, family: CodeFamily, result: HelperResult): MonitorError {
  const why = result.message ? `: ${result.message}` : "";
  if (result.code !== 0) {
    return new MonitorError(`monitor refused ${call}: ${codeName(family, result.code)}${why}`);
  }
  const errno = ERRNO[-result.rc] ?? `errno ${-result.rc}`;
  return new MonitorError(`${call} failed (${errno})${why}`);
}

/** The ABI's functions over a session that `use` lends for each call. */
export abstract class AbiMonitor implements Monitor {
  /** The backend's name. */
  abstract readonly backend: string;

  /** Runs `fn` with an open session (a backend may open one per call or keep one). */
  protected abstract use<T>(fn: (session: AbiSession) => T): T;

  /**
   * Releases what the backend holds open (a helper handle, a descriptor). Idempotent;
   * a later call opens again. This base holds nothing, so here it does nothing.
   */
  close(): void {}

  private call(name: string, request: number, struct: Uint8Array): void {
    this.use(({ helper, handle, family }) => {
      const result = helper.request(handle, request, struct);
      if (result.rc !== 0) throw failure(name, family, result);
    });
  }

  /** `PARTITION_CREATE`. */
  partitionCreate(id: number): Promise<void> {
    return this.run(() =>
      this.call(`partition_create(${id})`, REQUEST.PARTITION_CREATE, partitionStruct(id).bytes)
    );
  }

  /** `PARTITION_ADD_CORE`. */
  partitionAddCore(id: number, hwid: number): Promise<void> {
    return this.run(() =>
      this.call(
        `partition_add_core(${id}, ${hex(hwid)})`,
        REQUEST.PARTITION_ADD_CORE,
        coreStruct(id, hwid).bytes,
      )
    );
  }

  /** `PARTITION_ADD_MEMORY`. */
  partitionAddMemory(id: number, window: Range): Promise<void> {
    return this.run(() =>
      this.call(
        `partition_add_memory(${id}, ${hex(window.base)}, ${hex(window.size)})`,
        REQUEST.PARTITION_ADD_MEMORY,
        rangeStruct(id, window.base, window.size).bytes,
      )
    );
  }

  /** `PARTITION_ADD_DEVICE` (the name is only for messages). */
  partitionAddDevice(id: number, name: string, range: Range): Promise<void> {
    return this.run(() =>
      this.call(
        `partition_add_device(${id}, ${hex(range.base)}, ${hex(range.size)}) for ${name}`,
        REQUEST.PARTITION_ADD_DEVICE,
        rangeStruct(id, range.base, range.size).bytes,
      )
    );
  }

  /** A memory write: bytes through the helper's write, a file (or range) loaded by the helper. */
  memoryWrite(id: number, address: number, source: MemorySource): Promise<void> {
    return this.run(() =>
      this.use(({ helper, handle, family }) => {
        let what = describeSource(source);
        let result: HelperResult;
        if ("path" in source) {
          const loaded = helper.loadFile(handle, id, address, source.path, source);
          [result, what] = [loaded, `${what}: ${loaded.loaded} bytes`];
        } else {
          result = helper.write(handle, id, address, source.bytes);
        }
        if (result.rc !== 0) {
          throw failure(`memory_write(${id}, ${hex(address)}, ${what})`, family, result);
        }
      })
    );
  }

  /** `CORE_START`. */
  coreStart(id: number, hwid: number, entry: number, context: number): Promise<void> {
    return this.run(() =>
      this.call(
        `core_start(${id}, ${hex(hwid)}, entry ${hex(entry)}, context ${hex(context)})`,
        REQUEST.CORE_START,
        coreStartStruct(id, hwid, entry, context).bytes,
      )
    );
  }

  /** `PARTITION_STOP`. */
  partitionStop(id: number): Promise<void> {
    return this.run(() =>
      this.call(`partition_stop(${id})`, REQUEST.PARTITION_STOP, partitionStruct(id).bytes)
    );
  }

  /** `PARTITION_DESTROY`. */
  partitionDestroy(id: number): Promise<void> {
    return this.run(() =>
      this.call(`partition_destroy(${id})`, REQUEST.PARTITION_DESTROY, partitionStruct(id).bytes)
    );
  }

  /** `PARTITION_STATUS`. */
  partitionStatus(id: number): Promise<MonitorPartitionState> {
    return this.run(() => {
      const struct = statusStruct(id);
      this.call(`partition_status(${id})`, REQUEST.PARTITION_STATUS, struct.bytes);
      return STATES[struct.getU32(8)] ?? "absent";
    });
  }

  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
