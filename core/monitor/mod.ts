/**
 * Monitor backends and the ABI they speak: the `Monitor` interface, the
 * `dry-run`, `sim` and `device` backends, the C helper's binding and the ABI's
 * requests and codes.
 *
 * @module
 */
export type { MemorySource, Monitor, MonitorContext, MonitorPartitionState } from "./monitor.ts";
export { RecordingMonitor } from "./monitor.ts";
export { DryRunMonitor, dryRunMonitor } from "./dry_run.ts";
export type { SimCore, SimOptions, SimPartition } from "./sim.ts";
export { simMemoryImage, SimMonitor, simMonitor } from "./sim.ts";
export type { DeviceOptions } from "./device.ts";
export { DEVICE_PATH, DeviceMonitor, deviceMonitor } from "./device.ts";
export type { MemoryImage, PlatformOptions } from "./platform.ts";
export { memoryImage, platformJson } from "./platform.ts";
export type { HelperResult } from "./helper.ts";
export {
  copyOutHelper,
  HELPER_FILE,
  helperCandidates,
  loadHelper,
  MonitorHelper,
} from "./helper.ts";
export type { CodeFamily, SimCall, SimCallResult } from "./abi.ts";
export { ABI_VERSION, codeName, PSCI_CODES, REQUEST, SBI_CODES } from "./abi.ts";
