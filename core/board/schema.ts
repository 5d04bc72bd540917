/**
 * The schema of board descriptions (YAML files and board plugins), with sizes and
 * addresses in the forms users write (`256M`, `0x40000000`). Validation turns a
 * raw document into a {@linkcode Board}.
 *
 * @module
 */
import { z } from "zod";
import type { Board } from "../model.ts";
import { parseAddress, parseSize } from "../units.ts";

function numberField(parse: (text: string | number, where?: string) => number, what: string) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    try {
      return parse(value, what);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** A plugin's name (the registry's rule). */
const PLUGIN_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const size = numberField(parseSize, "size").refine((n) => n > 0, "size must be greater than 0");
const address = numberField(parseAddress, "address");
const id = z.number().int().nonnegative();

const range = z.strictObject({ base: address, size });
const dtPath = z.string().regex(
  /^\/([^/]+(\/[^/]+)*)?$/,
  "a device tree path like /soc/serial@10000000",
);

/** Schema of one board description. */
export const boardSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lowercase letters, digits and dashes"),
  description: z.string(),
  version: z.string().optional(),
  // Any arch plugin's name: the set is open, so the registered plugins are checked
  // where boards are loaded (load.ts) and registered (registry.ts).
  arch: z.string().regex(
    PLUGIN_NAME,
    "an arch plugin's name: lowercase letters, digits and dashes",
  ),
  monitor: z.strictObject({
    // One of the arch plugin's conduits (rules.ts).
    conduit: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "a conduit such as smc, hvc or ecall"),
    interface: z.enum(["psci", "sbi"]),
  }),
  cores: z.array(z.strictObject({ id, hwid: address })).min(1),
  memory: z.array(z.strictObject({ name: z.string(), base: address, size })).min(1),
  devices: z.array(z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, '_', '.', '-'"),
    compatible: z.array(z.string()).default([]),
    reg: z.array(range).min(1),
    interrupts: z.array(id).default([]),
    sharing: z.enum(["exclusive", "per-partition"]).default("exclusive"),
    default: z.boolean().default(false),
    console: z.boolean().default(false),
    path: dtPath.optional(),
  })).default([]),
  reserved: z.array(z.strictObject({
    owner: z.enum(["management", "monitor"]),
    cores: z.array(id).default([]),
    memory: z.array(range).default([]),
    devices: z.array(z.string()).default([]),
    providers: z.array(dtPath).optional(),
  })).default([]),
  keep: z.array(dtPath).optional(),
  devicetree: z.string().regex(/\.dtb$/, "a .dtb file name").optional(),
  qemu: z.strictObject({
    binary: z.string().regex(/^qemu-system-[a-z0-9_]+$/, "a qemu-system-* program"),
    args: z.array(z.string()),
    powerdown: z.literal("system_powerdown").optional(),
  }).optional(),
});

/** A schema problem at a path of the raw document. */
export interface SchemaProblem {
  /** Path of keys and indexes. */
  path: (string | number)[];
  /** What is wrong. */
  message: string;
  /** For unknown fields: the field's name (its own line is the better place to point). */
  key?: string;
}

/** Validates a raw document; returns the board or the schema problems. */
export function parseBoard(
  raw: unknown,
): { board: Board; version: string } | { problems: SchemaProblem[] } {
  const result = boardSchema.safeParse(raw);
  if (result.success) {
    const { version, ...board } = result.data;
    return { board: board as Board, version: version ?? "1.0.0" };
  }
  const unknown: SchemaProblem[] = [];
  const missing: SchemaProblem[] = [];
  const other: SchemaProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        unknown.push({ path: [...path, key], key, message: `unknown field '${key}'` });
      }
    } else if (issue.code === "invalid_type" && valueAt(raw, path) === undefined) {
      missing.push({ path, message: `missing field '${String(path[path.length - 1])}'` });
    } else {
      other.push({ path, message: issue.message });
    }
  }
  // A misspelled field shows as an unknown field plus a missing one: report the
  // unknown one first, with the likely intended name.
  for (const u of unknown) {
    const near = missing.find((m) =>
      m.path.length === u.path.length &&
      m.path.slice(0, -1).join(".") === u.path.slice(0, -1).join(".") &&
      editDistance(String(m.path[m.path.length - 1]), u.key!) <= 2
    );
    if (near) u.message += ` (did you mean '${String(near.path[near.path.length - 1])}'?)`;
  }
  return { problems: [...unknown, ...missing, ...other] };
}

function valueAt(raw: unknown, path: readonly (string | number)[]): unknown {
  let value = raw;
  for (const step of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

/** Levenshtein distance of two short strings. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}
