/**
 * The typed plugin registry and the plugin types.
 *
 * @module
 */
export * from "./plugin.ts";
export * from "./registry.ts";
export { checkPlugin } from "./validate.ts";
