/**
 * The hooks of each plugin kind, one table per kind: each hook's type, whether it
 * is required, and what else its value must satisfy. `validate.ts` checks every
 * plugin against its kind's table. The tables' types are derived from the plugin
 * types, so a hook added to `plugin.ts` does not compile until it is described
 * here, with the same optionality.
 *
 * @example
 * ```ts
 * import { HOOKS } from "./descriptor.ts";
 * HOOKS.monitor.observe; // { type: "function", optional: true }
 * ```
 * @module
 */
import type { PluginBase, PluginKind, PluginOf } from "./plugin.ts";

/** What `typeof` a hook's value must give (`object` excludes null). */
export type HookType = "function" | "string" | "number" | "object";

/** How one hook is checked. */
export interface HookRule {
  /** Its type. */
  readonly type: HookType;
  /** True when the plugin may leave it out. */
  readonly optional: boolean;
  /** What else a value of the right type must be: the problem (`must be 32 or 64`), or undefined. */
  readonly check?: (value: unknown) => string | undefined;
}

/** The hooks of a plugin type: its fields beyond the ones every plugin has. */
export type HookName<P> = Exclude<keyof P, keyof PluginBase<PluginKind>>;

/** True when the hook `H` of `P` is optional. */
type IsOptional<P, H extends keyof P> = Record<never, never> extends Pick<P, H> ? true : false;

/** The table of one plugin type: every hook, with its optionality as the type has it. */
export type Descriptor<P> = {
  readonly [H in HookName<P>]-?: HookRule & { readonly optional: IsOptional<P, H> };
};

const fn = { type: "function", optional: false } as const;
const optionalFn = { type: "function", optional: true } as const;

/** Checks that a value is one of `choices`. */
function oneOf(...choices: readonly unknown[]): (value: unknown) => string | undefined {
  return (value) => choices.includes(value) ? undefined : `must be ${choices.join(" or ")}`;
}

const WORD = /^[a-z][a-z0-9_]{0,31}$/;

/** Checks a short lowercase word (a conduit, a `uname -m` name). */
function word(value: unknown): string | undefined {
  return typeof value === "string" && WORD.test(value)
    ? undefined
    : "must be a lowercase word (letters, digits, '_')";
}

/** Checks an arch plugin's `conduits`: a non-empty array of distinct words. */
function conduitList(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0) return "must be a non-empty array of names";
  if (value.some((c) => word(c) !== undefined)) return "must hold lowercase words, e.g. smc";
  return new Set(value).size === value.length ? undefined : "must not repeat a conduit";
}

/** Checks an arch plugin's `qemu` hints. */
function qemuHints(value: unknown): string | undefined {
  const hints = value as Record<string, unknown>;
  const load = oneOf("kernel", "loader")(hints.stubLoad);
  if (load) return `stubLoad ${load}`;
  return hints.oneAtATime === undefined || typeof hints.oneAtATime === "string"
    ? undefined
    : "oneAtATime must be a string";
}

/** Every plugin kind's hooks. */
export const HOOKS: { readonly [K in PluginKind]: Descriptor<PluginOf<K>> } = {
  arch: {
    bits: { type: "number", optional: false, check: oneOf(32, 64) },
    coreIdName: { type: "string", optional: false },
    powerInterface: { type: "string", optional: false, check: oneOf("psci", "sbi") },
    conduits: { type: "object", optional: false, check: conduitList },
    unameMachine: { type: "string", optional: false, check: word },
    abiArch: { type: "string", optional: true, check: word },
    validateCoreId: fn,
    describeCoreId: fn,
    detectCpu: optionalFn,
    importConduit: optionalFn,
    readKernel: optionalFn,
    windowAlignment: {
      type: "number",
      optional: true,
      check: (value) => (value as number) > 0 ? undefined : "must be a positive number",
    },
    planBoot: optionalFn,
    monitorStub: optionalFn,
    qemu: { type: "object", optional: true, check: qemuHints },
  },
  feature: {
    devicetree: {
      type: "object",
      optional: true,
      check: (value) => {
        const codec = value as Record<string, unknown>;
        return ["read", "write", "dts"].every((k) => typeof codec[k] === "function")
          ? undefined
          : "needs read, write and dts functions";
      },
    },
    partitionTree: optionalFn,
    commands: optionalFn,
  },
  monitor: {
    create: fn,
    observe: optionalFn,
    forget: optionalFn,
    requestShutdown: optionalFn,
    consoleLog: optionalFn,
    openConsole: optionalFn,
    stats: optionalFn,
    checkBoard: optionalFn,
  },
  board: {
    board: { type: "object", optional: false },
    devicetree: {
      type: "object",
      optional: true,
      check: (value) => value instanceof Uint8Array ? undefined : "must be a Uint8Array",
    },
  },
};
