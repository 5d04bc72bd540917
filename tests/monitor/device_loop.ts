/**
 * Run by device_test.ts under the LD_PRELOAD fake device: makes `count` DeviceMonitors
 * one after the other, as the CLI does per operation — each creates or destroys
 * partition 1 and reads its status back — closing each one (`close`) or not
 * (`leak`). Prints one JSON line: how many worked, the first failure, and how many
 * descriptors the process has open after the first monitor and at the end.
 *
 * Usage: deno run -A tests/monitor/device_loop.ts COUNT close|leak
 */
import { DeviceMonitor } from "../../core/monitor/device.ts";

const count = Number(Deno.args[0]);
const close = Deno.args[1] === "close";
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;

let afterFirst = 0; // after the first monitor: the fake's own sim files are open by then
let worked = 0;
let failure: string | undefined;
for (let i = 0; i < count; i++) {
  const monitor = new DeviceMonitor();
  try {
    if (i % 2 === 0) await monitor.partitionCreate(1);
    else await monitor.partitionDestroy(1);
    const state = await monitor.partitionStatus(1);
    const want = i % 2 === 0 ? "configured" : "absent";
    if (state !== want) throw new Error(`monitor #${i + 1}: partition 1 is ${state}, not ${want}`);
    worked++;
  } catch (error) {
    failure = `monitor #${i + 1}: ${error instanceof Error ? error.message : String(error)}`;
    break;
  }
  if (close) {
    monitor.close();
    monitor.close(); // idempotent
  }
  if (i === 0) afterFirst = fds();
}
console.log(JSON.stringify({ worked, failure, fdsAfterFirst: afterFirst, fdsAfter: fds() }));
