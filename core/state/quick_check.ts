/**
 * The state document's hot-path check: a yes/no answer, without zod, to "does
 * this document fit the state schema?", so that reading the state (every `list`,
 * `show`…) does not load zod and build the schema (about 30 ms of a 15 ms
 * process). It is conservative: it says yes only to what the schema
 * (core/state/schema.ts) accepts, and no to anything it is not sure of (an unknown
 * field, a board size written `64M`, a missing field the schema would default);
 * on no, the schema decides and names the problem. So it only has to be right
 * when it says yes: tests/core/state_quick_check_test.ts checks that on mutated
 * documents against the schema, and that it knows the schema's fields.
 *
 * @example
 * ```ts
 * import { fitsStateSchema } from "./quick_check.ts";
 * if (!fitsStateSchema(JSON.parse(text))) {
 *   // load core/state/schema.ts for the verdict and the error line
 * }
 * ```
 * @module
 */
import { validateName } from "../partition/name.ts";
import {
  MAX_DESCRIPTION,
  MAX_METADATA_ELEMENT,
  MAX_METADATA_ELEMENTS,
  MAX_TITLE,
} from "../model.ts";

/** What a value must be: a small, inspectable subset of what the schema says. */
export type Rule =
  | { kind: "string"; pattern?: RegExp; maxBytes?: number; test?: (text: string) => boolean }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "number" }
  | { kind: "boolean" }
  | { kind: "any" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "array"; item: Rule; min?: number }
  | { kind: "record"; value: Rule; maxKeyLength?: number; maxKeys?: number }
  | { kind: "union"; options: readonly Rule[] }
  | { kind: "object"; fields: Readonly<Record<string, Rule>>; optional: readonly string[] };

const str = (extra: Omit<Extract<Rule, { kind: "string" }>, "kind"> = {}): Rule => ({
  kind: "string",
  ...extra,
});
const int = (min?: number, max?: number): Rule => ({ kind: "int", min, max });
const bool: Rule = { kind: "boolean" };
const oneOf = (...values: string[]): Rule => ({ kind: "enum", values });
const arrayOf = (item: Rule, min?: number): Rule => ({ kind: "array", item, min });
/** An object: `fields`, of which those named in `optional` may be absent. */
const object = (fields: Record<string, Rule>, ...optional: string[]): Rule => ({
  kind: "object",
  fields,
  optional,
});

const address = int(0);
const size = int(1);
const range = object({ base: address, size });
const partitionName = str({ test: (text) => succeeds(() => validateName(text)) });
const policy = oneOf("destroy", "restart", "preserve");
const port = int(1, 65535);
const dtPath = str({ pattern: /^\/([^/]+(\/[^/]+)*)?$/ });

/**
 * The board copy (core/board/schema.ts), as vmanager writes it: sizes and
 * addresses as numbers, defaulted fields present.
 */
const board = object(
  {
    name: str({ pattern: /^[a-z0-9][a-z0-9-]{0,62}$/ }),
    description: str(),
    version: str(),
    arch: str({ pattern: /^[a-z0-9][a-z0-9-]{0,62}$/ }),
    monitor: object({
      conduit: str({ pattern: /^[a-z][a-z0-9_]{0,31}$/ }),
      interface: oneOf("psci", "sbi"),
    }),
    cores: arrayOf(object({ id: int(0), hwid: address }), 1),
    memory: arrayOf(object({ name: str(), base: address, size }), 1),
    devices: arrayOf(object(
      {
        name: str({ pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ }),
        compatible: arrayOf(str()),
        reg: arrayOf(range, 1),
        interrupts: arrayOf(int(0)),
        sharing: oneOf("exclusive", "per-partition"),
        default: bool,
        console: bool,
        path: dtPath,
      },
      "path",
    )),
    reserved: arrayOf(object(
      {
        owner: oneOf("management", "monitor"),
        cores: arrayOf(int(0)),
        memory: arrayOf(range),
        devices: arrayOf(str()),
        providers: arrayOf(dtPath),
      },
      "providers",
    )),
    keep: arrayOf(dtPath),
    devicetree: str({ pattern: /\.dtb$/ }),
    qemu: object(
      {
        binary: str({ pattern: /^qemu-system-[a-z0-9_]+$/ }),
        args: arrayOf(str()),
        powerdown: oneOf("system_powerdown"),
      },
      "powerdown",
    ),
  },
  "version",
  "keep",
  "devicetree",
  "qemu",
);

const spec = object(
  {
    name: partitionName,
    cpus: int(1),
    cpuIds: arrayOf(int(0)),
    memory: size,
    memoryBase: address,
    devices: arrayOf(str()),
    kernel: str(),
    initrd: str(),
    cmdline: str(),
    uuid: str(),
    onPoweroff: policy,
    onReboot: policy,
    onCrash: policy,
    net: arrayOf(object(
      {
        mode: oneOf("user", "network"),
        network: str(),
        forward: arrayOf(object({ host: port, guest: port })),
        device: str(),
      },
      "network",
      "forward",
      "device",
    )),
    disks: arrayOf(object({ file: str(), readonly: bool, device: str() }, "readonly", "device")),
    title: str({ maxBytes: MAX_TITLE }),
    description: str({ maxBytes: MAX_DESCRIPTION }),
    metadata: {
      kind: "record",
      value: str({ maxBytes: MAX_METADATA_ELEMENT }),
      maxKeyLength: MAX_METADATA_ELEMENT,
      maxKeys: MAX_METADATA_ELEMENTS,
    },
  },
  ...[
    "cpus",
    "cpuIds",
    "memory",
    "memoryBase",
    "devices",
    "kernel",
    "initrd",
    "cmdline",
    "uuid",
    "onPoweroff",
    "onReboot",
    "onCrash",
    "net",
    "disks",
    "title",
    "description",
    "metadata",
  ],
);

const allocation = object({
  cores: arrayOf(int(0), 1),
  bootCore: int(0),
  memory: range,
  devices: arrayOf(str()),
});

const record = object(
  {
    name: partitionName,
    id: int(1, 0xffffffff),
    state: oneOf("defined", "running", "stopped", "crashed"),
    spec,
    allocation,
    created: str(),
    updated: str(),
    monitorCalls: arrayOf(object({
      call: str(),
      args: { kind: "record", value: { kind: "union", options: [{ kind: "number" }, str()] } },
    })),
    boot: object({
      regions: arrayOf(object({ name: str(), base: address, size: int(0), content: str() })),
      entry: address,
      context: address,
      registers: { kind: "record", value: str() },
    }),
    uuid: str(),
    autostart: bool,
    reason: oneOf("booted", "restarted", "shutdown", "destroyed", "crashed", "host"),
    ending: object(
      {
        state: oneOf("running", "stopped", "crashed"),
        cause: oneOf("poweroff", "reboot", "crash", "gone"),
        reason: str(),
        console: arrayOf(str()),
      },
      "cause",
      "reason",
      "console",
    ),
    started: str(),
    pending: object(
      {
        op: oneOf("start", "stop", "destroy", "shutdown"),
        since: str(),
        pid: int(),
        boot: { kind: "any" },
        restart: bool,
      },
      "boot",
      "restart",
    ),
    transient: bool,
    next: object({ spec, allocation }),
  },
  ...["boot", "uuid", "autostart", "reason", "ending", "started", "pending", "transient", "next"],
);

/** The state document's rule (its format version is checked before, by the store). */
export const STATE_RULE: Rule = object({
  format: int(),
  board,
  backend: str({ test: (text) => text.length > 0 }),
  partitions: arrayOf(record),
});

/** A compiled rule: one small function per rule node, made once. */
type Check = (value: unknown) => boolean;

let stateCheck: Check | undefined;

/**
 * True when `value` fits the state document's rule ({@linkcode STATE_RULE}). False
 * says only "not sure": the schema then decides.
 */
export function fitsStateSchema(value: unknown): boolean {
  stateCheck ??= compile(STATE_RULE);
  return stateCheck(value);
}

/** A rule as a function: the tree is walked once, not on every document. */
function compile(rule: Rule): Check {
  switch (rule.kind) {
    case "string":
      return (v) => typeof v === "string" && fitsString(v, rule);
    case "int": {
      const [min, max] = [rule.min ?? -Infinity, rule.max ?? Infinity];
      return (v) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
    }
    case "number":
      return (v) => typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return (v) => typeof v === "boolean";
    case "any":
      return () => true;
    case "enum":
      return (v) => typeof v === "string" && rule.values.includes(v);
    case "array":
      return compileArray(compile(rule.item), rule.min ?? 0);
    case "record":
      return compileRecord(compile(rule.value), rule);
    case "union": {
      const options = rule.options.map(compile);
      return (v) => options.some((option) => option(v));
    }
    case "object":
      return compileObject(rule);
  }
}

function compileArray(item: Check, min: number): Check {
  return (v) => {
    if (!Array.isArray(v) || v.length < min) return false;
    for (const element of v) if (!item(element)) return false;
    return true;
  };
}

function compileRecord(value: Check, rule: Extract<Rule, { kind: "record" }>): Check {
  const [maxKeys, maxKeyLength] = [rule.maxKeys ?? Infinity, rule.maxKeyLength ?? Infinity];
  return (v) => {
    if (!isPlainObject(v)) return false;
    const keys = Object.keys(v);
    if (keys.length > maxKeys) return false;
    for (const key of keys) if (key.length > maxKeyLength || !value(v[key])) return false;
    return true;
  };
}

function compileObject(rule: Extract<Rule, { kind: "object" }>): Check {
  const fields = new Map(Object.entries(rule.fields).map(([key, r]) => [key, compile(r)]));
  const required = [...fields.keys()].filter((key) => !rule.optional.includes(key));
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const key of Object.keys(v)) {
      // A field this check does not know: the schema decides (it may let it through).
      const field = fields.get(key);
      if (!field || !field(v[key])) return false;
    }
    for (const key of required) if (!Object.hasOwn(v, key)) return false;
    return true;
  };
}

function fitsString(text: string, rule: Extract<Rule, { kind: "string" }>): boolean {
  if (rule.pattern && !rule.pattern.test(text)) return false;
  if (rule.maxBytes !== undefined && !withinBytes(text, rule.maxBytes)) return false;
  return rule.test ? rule.test(text) : true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const encoder = new TextEncoder();

/** At most `max` bytes in UTF-8 (3 bytes per UTF-16 unit at most: most texts need no encoding). */
function withinBytes(text: string, max: number): boolean {
  return text.length * 3 <= max || encoder.encode(text).length <= max;
}

function succeeds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
