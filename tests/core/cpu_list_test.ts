/**
 * core/cpu_list.ts: the one core list parser (`--cpu-ids`, spec `cpu-ids`,
 * libvirt's cpuset) bounds every number, the count and the text before expanding.
 */
import assert from "node:assert/strict";
import {
  CpuListError,
  MAX_CPU_ID,
  MAX_CPU_IDS,
  MAX_CPU_LIST_TEXT,
  parseCpuList,
} from "../../core/cpu_list.ts";

function refused(text: string, problem: CpuListError["problem"], message: RegExp): void {
  const started = performance.now();
  let error: unknown;
  try {
    parseCpuList(text, "--cpu-ids");
  } catch (e) {
    error = e;
  }
  const ms = performance.now() - started;
  assert.ok(error instanceof CpuListError, `${text.slice(0, 40)} refused`);
  assert.equal(error.problem, problem, error.message);
  assert.match(error.message, message);
  assert.equal(error.where, "--cpu-ids");
  assert.equal(error.exitCode, 2);
  assert.ok(error.line().length < 200, error.line());
  assert.ok(ms < 100, `refused in ${ms} ms`);
}

Deno.test("core lists: ids and ranges in the order listed, duplicates kept", () => {
  assert.deepEqual(parseCpuList("2,3"), [2, 3]);
  assert.deepEqual(parseCpuList("1,3-5"), [1, 3, 4, 5]);
  assert.deepEqual(parseCpuList(" 3 , 1-2 "), [3, 1, 2]);
  assert.deepEqual(parseCpuList("2,2"), [2, 2]);
  assert.deepEqual(parseCpuList("0007"), [7]);
  assert.deepEqual(parseCpuList(`0-${MAX_CPU_ID}`).length, MAX_CPU_IDS);
  const all = Array.from({ length: MAX_CPU_IDS }, (_, i) => i).join(", ");
  assert.ok(all.length < MAX_CPU_LIST_TEXT);
  assert.equal(parseCpuList(all).length, MAX_CPU_IDS);
});

Deno.test("core lists: malformed text and backward ranges", () => {
  for (const text of ["", "a", "1,", ",1", "1-", "-1", "1-2-3", "1 2", "0x1", "1e3", "+1"]) {
    refused(text, "syntax", /is not a core list \(use e\.g\. 2,3 or 2-3\)/);
  }
  refused("3-1", "backwards", /^core range 3-1 runs backwards$/);
});

Deno.test("core lists: a number over the highest id is refused before it is converted", () => {
  refused("99999999999999999999", "too-high", /^core id 99999999999999999999 is over 4095/);
  refused("1-99999999", "too-high", /^core id 99999999 is over 4095/);
  refused("4096", "too-high", /over 4095/);
  refused("0-4294967295", "too-high", /over 4095/);
  refused("9".repeat(60_000), "too-high", /^core id 9{24}… is over 4095/);
});

Deno.test("core lists: more than 4096 ids in all, counted before expanding", () => {
  refused("0-4095,0", "too-many", /^the core list names more than 4096 cores$/);
  refused(Array(15000).fill("0-4095").join(","), "too-many", /more than 4096 cores/);
  refused(Array(5000).fill("1").join(","), "too-many", /more than 4096 cores/);
});

Deno.test("core lists: text over 64 KiB is refused, however it is padded", () => {
  refused(`1${" ".repeat(MAX_CPU_LIST_TEXT)}`, "too-long", /longer than 65536 characters/);
  refused(`${" ".repeat(MAX_CPU_LIST_TEXT)}1,2`, "too-long", /longer than 65536 characters/);
  refused(`${"0".repeat(50 * 1024 * 1024)}1`, "too-long", /longer than 65536 characters/);
  // A first problem before the limit is the one reported.
  refused(`x,${" ".repeat(MAX_CPU_LIST_TEXT)}`, "syntax", /is not a core list/);
});
