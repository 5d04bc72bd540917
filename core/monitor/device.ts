/**
 * The `device` monitor backend: the ABI's ioctls on the monitor driver's node
 * (`/dev/vmanager-monitor`), partition memory written through its `mmap`, with
 * Arm's cache maintenance done by the helper as each mapping closes. The node is
 * opened at the first call and kept until `close()`.
 *
 * @module
 */
import { MonitorError } from "../errors.ts";
import type { MonitorPlugin } from "../registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../registry/plugin.ts";
import type { CodeFamily } from "./abi.ts";
import { CODE_FAMILY, ERRNO, REQUEST, versionStruct } from "./abi.ts";
import type { AbiSession } from "./abi_monitor.ts";
import { AbiMonitor } from "./abi_monitor.ts";
import type { MonitorHelper } from "./helper.ts";
import { loadHelper } from "./helper.ts";

/** The driver's device node. */
export const DEVICE_PATH = "/dev/vmanager-monitor";

/** Options of the device backend. */
export interface DeviceOptions {
  /** The device node (default {@linkcode DEVICE_PATH}). */
  path?: string;
  /** The helper to use (default: {@linkcode loadHelper}'s). */
  helper?: MonitorHelper;
}

/** A fallback for a backend dropped without `close()`; the runtime may never run it. */
const closer = new FinalizationRegistry<{ helper: MonitorHelper; handle: number }>(
  ({ helper, handle }) => helper.close(handle),
);

/**
 * The monitor driver as a `Monitor`.
 *
 * @example
 * ```ts
 * import { DeviceMonitor } from "./device.ts";
 * const monitor = new DeviceMonitor();
 * await monitor.partitionStatus(1); // "absent"
 * monitor.close();
 * ```
 */
export class DeviceMonitor extends AbiMonitor {
  /** Always `device`. */
  readonly backend: string = "device";
  /** The device node. */
  readonly path: string;
  private readonly helper?: MonitorHelper;
  private session?: AbiSession;

  /** A backend on the node; nothing is opened until the first call. */
  constructor(options: DeviceOptions = {}) {
    super();
    this.path = options.path ?? DEVICE_PATH;
    this.helper = options.helper;
  }

  /** Opens the node (first call): `VM_IOC_VERSION` gives the code family. */
  protected use<T>(fn: (session: AbiSession) => T): T {
    if (!this.session) {
      const helper = this.helper ?? loadHelper();
      const { handle, message } = helper.openDevice(this.path);
      if (handle < 0) {
        throw new MonitorError(
          `the monitor device cannot be used: ${message || ERRNO[-handle] || `errno ${-handle}`}`,
          this.path,
        );
      }
      const version = versionStruct();
      const result = helper.request(handle, REQUEST.VERSION, version.bytes);
      const family: CodeFamily | undefined = CODE_FAMILY[version.getU32(12)];
      if (result.rc !== 0 || !family) {
        helper.close(handle);
        throw new MonitorError(
          `the monitor device gives no code family: ${result.message || "bad VM_IOC_VERSION"}`,
          this.path,
        );
      }
      this.session = { helper, handle, family };
      closer.register(this, { helper, handle }, this);
    }
    return fn(this.session);
  }

  /**
   * Closes the node (the helper's handle and its descriptor). Idempotent; a later
   * call opens it again. Whoever makes a `DeviceMonitor` calls this when done: the
   * helper has room for 64 open handles per process, and the `FinalizationRegistry`
   * is only a fallback that the runtime may never run.
   */
  override close(): void {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    closer.unregister(this);
    session.helper.close(session.handle);
  }
}

/**
 * Makes the `device` monitor plugin.
 *
 * @example
 * ```ts
 * import { deviceMonitor } from "./device.ts";
 * const plugin = deviceMonitor({ path: "/dev/vmanager-monitor" });
 * ```
 */
export function deviceMonitor(options: DeviceOptions = {}): MonitorPlugin {
  return {
    kind: "monitor",
    name: "device",
    version: "1.0.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "the monitor driver's ioctls and mmap on /dev/vmanager-monitor",
    create: () => new DeviceMonitor(options),
  };
}
