/**
 * The typed plugin registry and the plugin types.
 *
 * @module
 */
export * from "./plugin.ts";
export * from "./registry.ts";
export { checkPlugin } from "./validate.ts";
export { HOOKS } from "./descriptor.ts";
export type { Descriptor, HookRule, HookType } from "./descriptor.ts";
export type { ArgSpec, CommandSpec, OptionSpec, ParsedCommand } from "../cli/args.ts";
export type { CliContext } from "../cli/context.ts";
export type {
  MemorySource,
  Monitor,
  MonitorContext,
  MonitorPartitionState,
} from "../monitor/monitor.ts";
