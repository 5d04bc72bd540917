/**
 * The schema of the state document (`state.json`): its board (the board schema
 * of board files, and the board rules), its backend and its partition records.
 * {@linkcode validateState} turns a parsed document that does not fit into one
 * line naming the field by its JSON path, e.g.
 * `state field partitions[0].allocation: required; …`, instead of a TypeError
 * deep in a command.
 *
 * Fields this vmanager does not know are let through (a newer vmanager may have
 * written them) and the document is returned as it was read: nothing is dropped,
 * nothing is filled in.
 *
 * The store does not load it for a document the quick check (quick_check.ts)
 * accepts: see check.ts.
 *
 * @example
 * ```ts
 * import { validateState } from "./schema.ts";
 * const doc = validateState(JSON.parse(text), "/var/lib/vmanager/state.json");
 * ```
 * @module
 */
import { z } from "zod";
import { boardSchema } from "../board/schema.ts";
import {
  type Board,
  MAX_DESCRIPTION,
  MAX_METADATA_ELEMENT,
  MAX_METADATA_ELEMENTS,
  MAX_TITLE,
} from "../model.ts";
import { validateName } from "../partition/name.ts";
import type { StateDocument } from "./store.ts";
import { checkStateRules, failState as fail, StateDocumentError } from "./check.ts";

export { StateDocumentError };

const count = z.number().int().nonnegative();
const address = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const size = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
// Core ids as boards number them (a board may number past the CLI's MAX_CPU_ID).
const coreId = count;
const range = z.looseObject({ base: address, size });

/** Checks a text with one of the CLI's validators (they throw a message). */
function checkedBy(check: (text: string) => void) {
  return z.string().superRefine((text, ctx) => {
    try {
      check(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });
}

/** A TCP port. */
const port = z.number().int().min(1).max(65535);

/** A text of at most `max` UTF-8 bytes. */
function bytesAtMost(max: number) {
  return z.string().refine((text) => new TextEncoder().encode(text).length <= max, {
    message: `longer than ${max} bytes`,
  });
}

/** An end policy. */
const policy = z.enum(["destroy", "restart", "preserve"]);

/** How a partition ended on its own, as its backend saw it. */
const observation = z.looseObject({
  state: z.enum(["running", "stopped", "crashed"]),
  cause: z.enum(["poweroff", "reboot", "crash", "gone"]).optional(),
  reason: z.string().optional(),
  console: z.array(z.string()).optional(),
});

/** What a user asked for, as `create` recorded it. */
const specSchema = z.looseObject({
  name: checkedBy(validateName),
  cpus: z.number().int().positive().optional(),
  cpuIds: z.array(coreId).optional(),
  memory: size.optional(),
  memoryBase: address.optional(),
  devices: z.array(z.string()).optional(),
  kernel: z.string().optional(),
  initrd: z.string().optional(),
  // Not held to MAX_CMDLINE_BYTES here: a state written before the limit stays readable.
  cmdline: z.string().optional(),
  uuid: z.string().optional(),
  onPoweroff: policy.optional(),
  onReboot: policy.optional(),
  onCrash: policy.optional(),
  net: z.array(z.looseObject({
    mode: z.enum(["user", "network"]),
    network: z.string().optional(),
    forward: z.array(z.looseObject({ host: port, guest: port })).optional(),
    device: z.string().optional(),
  })).optional(),
  disks: z.array(z.looseObject({
    file: z.string(),
    readonly: z.boolean().optional(),
    device: z.string().optional(),
  })).optional(),
  title: bytesAtMost(MAX_TITLE).optional(),
  description: bytesAtMost(MAX_DESCRIPTION).optional(),
  metadata: z.record(z.string().max(MAX_METADATA_ELEMENT), bytesAtMost(MAX_METADATA_ELEMENT))
    .refine((m) => Object.keys(m).length <= MAX_METADATA_ELEMENTS, {
      message: `at most ${MAX_METADATA_ELEMENTS} metadata elements`,
    }).optional(),
});

const region = z.looseObject({ name: z.string(), base: address, size: count, content: z.string() });

/** What the allocator gave a partition. */
const allocationSchema = z.looseObject({
  cores: z.array(coreId).min(1),
  bootCore: coreId,
  memory: range,
  devices: z.array(z.string()),
});

/** One partition record. */
const recordSchema = z.looseObject({
  name: checkedBy(validateName),
  id: z.number().int().positive().max(0xffffffff),
  state: z.enum(["defined", "running", "stopped", "crashed"]),
  spec: specSchema,
  allocation: allocationSchema,
  created: z.string(),
  updated: z.string(),
  monitorCalls: z.array(z.looseObject({
    call: z.string(),
    args: z.record(z.string(), z.union([z.number(), z.string()])),
  })),
  boot: z.looseObject({
    regions: z.array(region),
    entry: address,
    context: address,
    registers: z.record(z.string(), z.string()),
  }).optional(),
  uuid: z.string().optional(),
  autostart: z.boolean().optional(),
  reason: z.enum(["booted", "restarted", "shutdown", "destroyed", "crashed", "host"]).optional(),
  ending: observation.optional(),
  started: z.string().optional(),
  pending: z.looseObject({
    op: z.enum(["start", "stop", "destroy", "shutdown"]),
    since: z.string(),
    pid: z.number().int(),
    boot: z.unknown().optional(),
    restart: z.boolean().optional(),
  }).optional(),
  transient: z.boolean().optional(),
  next: z.looseObject({ spec: specSchema, allocation: allocationSchema }).optional(),
});

/** Schema of the state document (the format version is checked before it, by the store). */
export const stateSchema = z.looseObject({
  format: z.number().int(),
  board: boardSchema,
  backend: z.string().min(1),
  partitions: z.array(recordSchema),
});

function valueAt(value: unknown, path: readonly (string | number)[]): unknown {
  let at = value;
  for (const step of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[step];
  }
  return at;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Checks a parsed state document against {@linkcode stateSchema}, the board rules,
 * the uniqueness of partition names and each boot core being one of its
 * partition's cores, and returns it unchanged.
 * Throws {@linkcode StateDocumentError} (exit 1, `where` = `file`) for the first
 * problem: `state field partitions[0].allocation: required; no vmanctl command
 * repairs it: fix or remove partitions[0] in the file by hand`.
 *
 * @param value The document as `JSON.parse` returned it.
 * @param file The state file, for the error line.
 */
export function validateState(value: unknown, file: string): StateDocument {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail([], `expected an object, not ${typeName(value)}`, file);
  }
  let result = stateSchema.safeParse(value);
  if (!result.success) {
    failOnIssue(result.error.issues, value, file);
    // Only unknown fields of the (strict) board schema: a newer vmanager may have
    // written them. The board rules need the parsed board: parse a copy without them.
    const copy = { ...value, board: structuredClone((value as { board: unknown }).board) };
    for (const issue of result.error.issues) {
      if (issue.code !== "unrecognized_keys") continue;
      const at = valueAt(copy, keyPath(issue.path)) as Record<string, unknown>;
      for (const key of issue.keys) delete at[key];
    }
    result = stateSchema.safeParse(copy);
    if (!result.success) {
      failOnIssue(result.error.issues, copy, file);
      fail([], result.error.issues[0]?.message ?? "does not fit the schema", file);
    }
  }
  return checkStateRules(value as StateDocument, result.data.board as Board, file);
}

function keyPath(path: readonly PropertyKey[]): (string | number)[] {
  return path.filter((k): k is string | number => typeof k !== "symbol");
}

/** Fails on the first issue that is not an unknown field. */
function failOnIssue(issues: readonly z.core.$ZodIssue[], value: unknown, file: string): void {
  const issue = issues.find((i) => i.code !== "unrecognized_keys");
  if (!issue) return;
  const path = keyPath(issue.path);
  const found = valueAt(value, path);
  const message = found === undefined
    ? "required"
    : issue.code === "invalid_type"
    ? `expected ${issue.expected === "object" ? "an object" : issue.expected}, not ${
      typeName(found)
    }`
    : issue.message;
  fail(path, message, file);
}
