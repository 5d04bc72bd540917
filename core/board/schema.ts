/**
 * The schema of board descriptions (YAML files and board plugins), with sizes and
 * addresses in the forms users write (`256M`, `0x40000000`). Validation turns a
 * raw document into a {@linkcode Board}.
 *
 * @module
 */
import { z } from "zod";
import type { Board } from "../model.ts";
import { ARCH_NAMES } from "../model.ts";
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

const size = numberField(parseSize, "size");
const address = numberField(parseAddress, "address");
const id = z.number().int().nonnegative();

const range = z.strictObject({ base: address, size });

/** Schema of one board description. */
export const boardSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lowercase letters, digits and dashes"),
  description: z.string(),
  version: z.string().optional(),
  arch: z.enum(ARCH_NAMES as [string, ...string[]]),
  monitor: z.strictObject({
    conduit: z.enum(["smc", "hvc", "ecall"]),
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
  })).default([]),
  reserved: z.array(z.strictObject({
    owner: z.enum(["management", "monitor"]),
    cores: z.array(id).default([]),
    memory: z.array(range).default([]),
    devices: z.array(z.string()).default([]),
  })).default([]),
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
  const problems: SchemaProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push({ path: [...path, key], key, message: `unknown field '${key}'` });
      }
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return { problems };
}
