/**
 * The stage clock `vmanctl -v start` prints: one line per stage in order, times
 * measured apart in parentheses and left out of the total, and nothing recorded
 * while the clock is off. (What the times are is not asserted.)
 */
import assert from "node:assert/strict";
import {
  stage,
  stageApart,
  StageClock,
  stopTimingStages,
  timeStages,
  timingStages,
} from "../../core/boot/stages.ts";

Deno.test("stage clock: one line per stage, apart times in parentheses and not in the total", () => {
  const clock = new StageClock();
  clock.mark("kernel read");
  clock.apart("QEMU start", 50);
  clock.mark("core start");
  const lines = clock.lines();
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^stage kernel read +\d+\.\d ms$/);
  assert.match(lines[1], /^stage \(QEMU start\) +50\.0 ms \(measured apart\)$/);
  assert.match(lines[2], /^stage core start +\d+\.\d ms$/);
  assert.match(lines[3], /^stage total +\d+\.\d ms$/);
  const sum = clock.stages.filter((s) => !s.apart).reduce((a, s) => a + s.ms, 0);
  assert.equal(clock.total(), sum);
});

Deno.test("stage clock: off unless a command turns it on, and off again after", () => {
  stopTimingStages();
  assert.equal(timingStages(), false);
  stage("ignored");
  stageApart("ignored too", 1);
  const clock = timeStages();
  assert.equal(timingStages(), true);
  assert.deepEqual(clock.stages.map((s) => s.stage), ["startup"]);
  stage("plan");
  stageApart("QEMU start", 2);
  assert.deepEqual(clock.stages.map((s) => s.stage), ["startup", "plan", "QEMU start"]);
  stopTimingStages();
  stage("after");
  assert.equal(clock.stages.length, 3);
});
