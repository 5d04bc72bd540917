/**
 * The typed plugin registry and the plugin types.
 *
 * @module
 */
export * from "./plugin.ts";
export * from "./registry.ts";
export { checkPlugin } from "./validate.ts";
export type {
  MemorySource,
  Monitor,
  MonitorContext,
  MonitorPartitionState,
} from "../monitor/monitor.ts";
