/**
 * The qemu backend's command line follows the arch plugin's `qemu` hints, not the
 * board's architecture name: `kernel` hands the stub to the machine's firmware,
 * `loader` puts it into the management partition's memory. No QEMU runs.
 */
import assert from "node:assert/strict";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { MonitorError } from "../../core/errors.ts";
import { armStubAddress, qemuCommand } from "../../plugins/qemu/command.ts";
import { qemuFiles } from "../../plugins/qemu/files.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";
import { buildRegistry } from "../../core/registry/discover.ts";

const registry = await buildRegistry({
  builtins: await builtinPlugins(),
  boardFiles: await builtinBoards(),
  pluginDirs: [],
  warn: () => {},
});
const ARM64 = registry.get("board", "qemu-virt-arm64").board;
const files = qemuFiles("/nonexistent-state", 1);

Deno.test("qemu command: the arch plugin's stubLoad decides how the stub is loaded", () => {
  const loader = qemuCommand(ARM64, armv8(), 1, files, "/m").args;
  const at = armStubAddress(ARM64, 1).toString(16);
  assert.ok(loader.includes(`loader,file=${files.stub},addr=0x${at},cpu-num=0`), loader.join(" "));
  assert.ok(!loader.includes("-kernel"));
  // The same board run by an arch whose firmware takes the stub as its payload.
  const kernel = qemuCommand(ARM64, riscv(), 1, files, "/m").args;
  assert.deepEqual(kernel.slice(-2), ["-kernel", files.stub]);
});

Deno.test("qemu command: an arch without qemu hints is refused with its name", () => {
  const { qemu: _, ...bare } = armv8();
  assert.throws(
    () => qemuCommand(ARM64, { ...bare, name: "toy" }, 1, files, "/m"),
    (error: unknown) =>
      error instanceof MonitorError && /arch toy gives no qemu hints/.test(error.message),
  );
});

Deno.test("the one-at-a-time reason is the arch plugin's", () => {
  assert.equal(armv8().qemu?.oneAtATime, undefined);
  assert.match(riscv().qemu!.oneAtATime!, /^one RISC-V partition at a time: .*OpenSBI/);
});
