/**
 * core/state/quick_check.ts: the state check without zod says yes only to what
 * the schema (core/state/schema.ts) accepts — on a real document with every field,
 * and on thousands of mutations of it — and knows the schema's fields, so that a
 * field added to the schema shows here.
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import { fitsStateSchema, type Rule, STATE_RULE } from "../../core/state/quick_check.ts";
import { stateSchema } from "../../core/state/schema.ts";
import { checkState, StateDocumentError } from "../../core/state/check.ts";
import { vmanctl, withTempDir } from "../cli/helpers.ts";
import { random } from "./random.ts";

type Json = Record<string, unknown>;

/** A real state document, every optional field of a partition filled in. */
async function fullDocument(): Promise<Json> {
  const doc = await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, "create", "a", "--cpu-ids", "1"])).code, 0);
    assert.equal((await vmanctl([...s, "create", "b", "--cmdline", "console=ttyAMA0"])).code, 0);
    assert.equal((await vmanctl([...s, "start", "a"])).code, 0);
    return JSON.parse(await Deno.readTextFile(`${dir}/state.json`)) as Json;
  });
  const [a, b] = doc.partitions as Json[];
  Object.assign(b.spec as Json, {
    cpus: 1,
    cpuIds: [2],
    memory: 64 << 20,
    memoryBase: 0x50000000,
    devices: ["uart0"],
    kernel: "/boot/Image",
    initrd: "/boot/initrd",
    uuid: "6f1c0e4a-9b1d-4d6e-8a43-1f6b2f1a2b3c",
    onPoweroff: "destroy",
    onReboot: "restart",
    onCrash: "preserve",
    net: [{ mode: "user", forward: [{ host: 2222, guest: 22 }], device: "virtio0" }, {
      mode: "network",
      network: "default",
    }],
    disks: [{ file: "/var/disk.img", readonly: true, device: "virtio1" }],
    title: "Title ✓",
    description: "x".repeat(2000),
    metadata: { "http://example.org/ns": "<e xmlns='http://example.org/ns'/>" },
  });
  Object.assign(b, {
    uuid: "6f1c0e4a-9b1d-4d6e-8a43-1f6b2f1a2b3c",
    autostart: true,
    reason: "shutdown",
    ending: { state: "stopped", cause: "poweroff", reason: "shutdown", console: ["bye"] },
    started: "2026-12-07T00:00:00.000Z",
    pending: { op: "stop", since: "2026-12-07T00:00:00.000Z", pid: 42, boot: {}, restart: false },
    transient: true,
    next: { spec: structuredClone(a.spec), allocation: structuredClone(a.allocation) },
  });
  return doc;
}

const full = await fullDocument();

Deno.test("a real document with every field passes the quick check and the schema", async () => {
  assert.ok(stateSchema.safeParse(full).success);
  assert.ok(fitsStateSchema(full), "the quick check refuses a good document: reads load zod");
  assert.equal(await checkState(full, "state.json"), full);
});

Deno.test("what the quick check is not sure of goes to the schema, which names the problem", async () => {
  const newer = structuredClone(full);
  (newer.partitions as Json[])[0].someday = 1;
  assert.equal(fitsStateSchema(newer), false);
  assert.equal(await checkState(newer, "state.json"), newer);
  const broken = structuredClone(full);
  delete (broken.partitions as Json[])[1].allocation;
  await assert.rejects(
    () => checkState(broken, "state.json"),
    (e) => e instanceof StateDocumentError && e.path === "partitions[1].allocation",
  );
});

Deno.test("the rules beyond the schema apply on the quick path too", async () => {
  const twice = structuredClone(full);
  (twice.partitions as Json[])[1].name = "a";
  assert.ok(fitsStateSchema(twice));
  await assert.rejects(
    () => checkState(twice, "state.json"),
    (e) => e instanceof StateDocumentError && e.path === "partitions[1].name",
  );
});

const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1,
  1.5,
  2 ** 53,
  0x1_0000_0000,
  65536,
  "",
  "x",
  "64M",
  "0x1000",
  "a b",
  "/soc/x",
  "qemu-system-aarch64",
  "y".repeat(70_000),
  [],
  [1],
  ["x"],
  {},
  { base: 0, size: 1 },
  "running",
  "destroy",
];

/** Every [parent, key] of a document, depth first. */
function places(value: unknown, out: [Json | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([value, i]);
      places(item, out);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push([value as Json, key]);
      places(item, out);
    }
  }
  return out;
}

/** One random change: a value replaced, a field removed, an unknown field added. */
function mutate(doc: Json, next: () => number): void {
  const all = places(doc);
  const [parent, key] = all[Math.floor(next() * all.length)];
  const pick = VALUES[Math.floor(next() * VALUES.length)];
  const roll = next();
  if (roll < 0.15 && !Array.isArray(parent)) delete (parent as Json)[key];
  else if (roll < 0.2 && !Array.isArray(parent)) (parent as Json)[`${key}x`] = pick;
  else (parent as Record<string | number, unknown>)[key] = structuredClone(pick);
}

Deno.test("the quick check says yes only to what the schema accepts (mutated documents)", () => {
  const next = random(0x5eed);
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const doc = structuredClone(full);
    const changes = 1 + Math.floor(next() * 3);
    for (let c = 0; c < changes; c++) mutate(doc, next);
    if (!fitsStateSchema(doc)) continue;
    accepted++;
    const result = stateSchema.safeParse(doc);
    assert.ok(
      result.success,
      `the quick check accepts what the schema refuses: ${JSON.stringify(result.error?.issues[0])}`,
    );
  }
  assert.ok(accepted > 100, `only ${accepted} mutated documents passed: the test tests little`);
});

/** Field paths of a zod schema: `partitions[].spec.net[].mode`, with `?` for optional ones. */
function zodFields(schema: z.core.$ZodType, path = "", optional = false): string[] {
  const def = schema._zod.def as unknown as Json & { type: string };
  const mark = optional ? "?" : "";
  switch (def.type) {
    case "optional":
      return zodFields(def.innerType as z.core.$ZodType, path, true);
    case "default":
      return zodFields(def.innerType as z.core.$ZodType, path, true);
    case "pipe":
      return zodFields(def.in as z.core.$ZodType, path, optional);
    case "array":
      return [`${path}${mark}`, ...zodFields(def.element as z.core.$ZodType, `${path}[]`)];
    case "record":
      return [`${path}${mark}`, ...zodFields(def.valueType as z.core.$ZodType, `${path}{}`)];
    case "object":
      return [
        ...(path ? [`${path}${mark}`] : []),
        ...Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([k, v]) =>
          zodFields(v, path ? `${path}.${k}` : k)
        ),
      ];
    default:
      return [`${path}${mark}`];
  }
}

/** Field paths of a rule, as {@linkcode zodFields} writes them. */
function ruleFields(rule: Rule, path = "", optional = false): string[] {
  const mark = optional ? "?" : "";
  switch (rule.kind) {
    case "array":
      return [`${path}${mark}`, ...ruleFields(rule.item, `${path}[]`)];
    case "record":
      return [`${path}${mark}`, ...ruleFields(rule.value, `${path}{}`)];
    case "object":
      return [
        ...(path ? [`${path}${mark}`] : []),
        ...Object.entries(rule.fields).flatMap(([k, v]) =>
          ruleFields(v, path ? `${path}.${k}` : k, rule.optional.includes(k))
        ),
      ];
    default:
      return [`${path}${mark}`];
  }
}

Deno.test("the quick check knows the schema's fields, and lets none be absent the schema needs", () => {
  const schema = new Set(zodFields(stateSchema));
  const rule = new Set(ruleFields(STATE_RULE));
  const names = (set: Set<string>) => new Set([...set].map((f) => f.replace(/\?$/, "")));
  assert.deepEqual(
    [...names(rule)].sort(),
    [...names(schema)].sort(),
    "add the schema's new fields to core/state/quick_check.ts",
  );
  // Optional in the rule must be optional (or defaulted) in the schema; the rule may
  // require what the schema defaults (vmanager writes it).
  for (const field of rule) {
    if (field.endsWith("?")) assert.ok(schema.has(field), `${field} is required by the schema`);
  }
});
