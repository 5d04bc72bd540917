/**
 * Structural checks of plugin objects, so that an external plugin of the wrong
 * shape is refused with one line naming the file and the problem. The fields
 * every plugin has are checked here; the hooks of each kind by the kind's table
 * in `descriptor.ts`.
 *
 * @example
 * ```ts
 * import { checkPlugin } from "./validate.ts";
 * checkPlugin({ kind: "monitor", name: "m", version: "1", apiVersion: 1, description: "d", create: 1 }, "m.ts");
 * // throws PluginError: monitor plugin 'm' needs 'create' (a function) (m.ts)
 * ```
 * @module
 */
import { PluginError } from "../errors.ts";
import type { Plugin, PluginKind } from "./plugin.ts";
import { PLUGIN_API_VERSION, PLUGIN_KINDS } from "./plugin.ts";
import { type HookRule, HOOKS } from "./descriptor.ts";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks that `value` is a well-formed plugin; throws {@linkcode PluginError} naming `source`. */
export function checkPlugin(value: unknown, source: string): Plugin {
  if (typeof value !== "object" || value === null) {
    throw new PluginError("a plugin must be an object", source);
  }
  const p = value as Record<string, unknown>;
  const kind = checkKind(p.kind, source);
  if (typeof p.name !== "string" || !NAME.test(p.name)) {
    throw new PluginError(
      `${kind} plugin name ${JSON.stringify(p.name)} must be lowercase letters, digits and dashes`,
      source,
    );
  }
  const what = `${kind} plugin '${p.name}'`;
  if (p.apiVersion !== PLUGIN_API_VERSION) {
    throw new PluginError(
      `${what} is written for plugin API ${JSON.stringify(p.apiVersion)}, ` +
        `this vmanager speaks API ${PLUGIN_API_VERSION}`,
      source,
    );
  }
  for (const field of ["version", "description"]) {
    if (typeof p[field] !== "string") {
      throw new PluginError(`${what} has no string '${field}'`, source);
    }
  }
  const rules: Record<string, HookRule> = HOOKS[kind];
  for (const [hook, rule] of Object.entries(rules)) {
    const problem = hookProblem(p[hook], hook, rule);
    if (problem) throw new PluginError(`${what}${problem}`, source);
  }
  return p as unknown as Plugin;
}

function checkKind(kind: unknown, source: string): PluginKind {
  if (typeof kind !== "string" || !(PLUGIN_KINDS as readonly string[]).includes(kind)) {
    throw new PluginError(
      `plugin kind ${JSON.stringify(kind)} is not one of ${PLUGIN_KINDS.join(", ")}`,
      source,
    );
  }
  return kind as PluginKind;
}

/**
 * What is wrong with one hook's value, as the end of a line that starts with the
 * plugin (` needs 'create' (a function)`, `: 'observe' must be a function`), or
 * undefined.
 */
function hookProblem(value: unknown, hook: string, rule: HookRule): string | undefined {
  if (value === undefined && rule.optional) return undefined;
  if (typeof value !== rule.type || value === null) {
    const article = /^[aeiou]/.test(rule.type) ? "an" : "a";
    return rule.optional
      ? `: '${hook}' must be ${article} ${rule.type}`
      : ` needs '${hook}' (${article} ${rule.type})`;
  }
  const problem = rule.check?.(value);
  return problem === undefined ? undefined : `: '${hook}' ${problem}`;
}
