import assert from "node:assert/strict";
import { CallCollector, GC_EVERY_MS } from "../../plugins/libvirt/call_gc.ts";

Deno.test("call gc: collects after calls, at most every GC_EVERY_MS, never when idle", () => {
  let now = 0;
  let collected = 0;
  const collector = new CallCollector(() => collected++, () => now);
  assert.equal(collector.tick(), false, "no call yet: nothing to collect");
  collector.note();
  assert.equal(collector.tick(), true, "the first calls");
  collector.note();
  now += GC_EVERY_MS - 1;
  assert.equal(collector.tick(), false, "collected a moment ago");
  now += 1;
  assert.equal(collector.tick(), true);
  now += 10 * GC_EVERY_MS;
  assert.equal(collector.tick(), false, "no call since the last collection");
  assert.equal(collected, 2);
});

Deno.test("call gc: without V8's gc it does nothing", () => {
  const collector = new CallCollector(undefined, () => 0);
  collector.note();
  assert.equal(collector.tick(), false);
});

Deno.test("call gc: vmanctl's processes run with V8's gc exposed", async () => {
  const { VMANCTL_RUN_FLAGS } = await import("../../scripts/permissions.ts");
  const v8 = VMANCTL_RUN_FLAGS.filter((flag) => flag.startsWith("--v8-flags"));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...v8, "console.log(typeof gc)"],
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "function");
});
