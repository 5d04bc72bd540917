/**
 * Structural checks of plugin objects, so that an external plugin of the wrong
 * shape is refused with one line naming the file and the problem.
 *
 * @module
 */
import { PluginError } from "../errors.ts";
import type { Plugin, PluginKind } from "./plugin.ts";
import { PLUGIN_API_VERSION, PLUGIN_KINDS } from "./plugin.ts";
import { ARCH_NAMES } from "../model.ts";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const HOOKS: Record<PluginKind, Record<string, string>> = {
  arch: {
    bits: "number",
    coreIdName: "string",
    powerInterface: "string",
    validateCoreId: "function",
    describeCoreId: "function",
  },
  feature: {},
  monitor: { create: "function" },
  board: { board: "object" },
};

/** Checks that `value` is a well-formed plugin; throws {@linkcode PluginError} naming `source`. */
export function checkPlugin(value: unknown, source: string): Plugin {
  if (typeof value !== "object" || value === null) {
    throw new PluginError("a plugin must be an object", source);
  }
  const p = value as Record<string, unknown>;
  if (typeof p.kind !== "string" || !(PLUGIN_KINDS as readonly string[]).includes(p.kind)) {
    throw new PluginError(
      `plugin kind ${JSON.stringify(p.kind)} is not one of ${PLUGIN_KINDS.join(", ")}`,
      source,
    );
  }
  const kind = p.kind as PluginKind;
  if (typeof p.name !== "string" || !NAME.test(p.name)) {
    throw new PluginError(
      `${kind} plugin name ${JSON.stringify(p.name)} must be lowercase letters, digits and dashes`,
      source,
    );
  }
  if (p.apiVersion !== PLUGIN_API_VERSION) {
    throw new PluginError(
      `${kind} plugin '${p.name}' is written for plugin API ${JSON.stringify(p.apiVersion)}, ` +
        `this vmanager speaks API ${PLUGIN_API_VERSION}`,
      source,
    );
  }
  for (const field of ["version", "description"]) {
    if (typeof p[field] !== "string") {
      throw new PluginError(`${kind} plugin '${p.name}' has no string '${field}'`, source);
    }
  }
  for (const [hook, type] of Object.entries(HOOKS[kind])) {
    if (typeof p[hook] !== type || p[hook] === null) {
      throw new PluginError(
        `${kind} plugin '${p.name}' needs '${hook}' (${
          /^[aeiou]/.test(type) ? "an" : "a"
        } ${type})`,
        source,
      );
    }
  }
  if (kind === "arch") {
    for (const hook of ["readKernel", "planBoot", "monitorStub"]) {
      if (p[hook] !== undefined && typeof p[hook] !== "function") {
        throw new PluginError(`arch plugin '${p.name}': '${hook}' must be a function`, source);
      }
    }
    const align = p.windowAlignment;
    if (align !== undefined && (typeof align !== "number" || align <= 0)) {
      throw new PluginError(
        `arch plugin '${p.name}': 'windowAlignment' must be a positive number`,
        source,
      );
    }
    if (p.bits !== 32 && p.bits !== 64) {
      throw new PluginError(`arch plugin '${p.name}': 'bits' must be 32 or 64`, source);
    }
  }
  if (kind === "feature") {
    const codec = p.devicetree as Record<string, unknown> | undefined;
    if (
      codec !== undefined && ["read", "write", "dts"].some((k) => typeof codec?.[k] !== "function")
    ) {
      throw new PluginError(
        `feature plugin '${p.name}': 'devicetree' needs read, write and dts functions`,
        source,
      );
    }
    if (p.partitionTree !== undefined && typeof p.partitionTree !== "function") {
      throw new PluginError(
        `feature plugin '${p.name}': 'partitionTree' must be a function`,
        source,
      );
    }
  }
  if (kind === "arch" && !(ARCH_NAMES as readonly string[]).includes(p.name)) {
    throw new PluginError(
      `arch plugin '${p.name}' is not one of ${ARCH_NAMES.join(", ")}`,
      source,
    );
  }
  return p as unknown as Plugin;
}
