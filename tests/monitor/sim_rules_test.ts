/**
 * The sim's rules through the TypeScript binding, on the real boards: each
 * refusal has the ABI's code (PSCI on qemu-virt-arm64, SBI on qemu-virt-riscv64)
 * and a message naming the call and why; partition-originated calls
 * (VM_IOC_SIM_CALL) are confined to their partition; the table survives
 * reopening, in this process and in another one.
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { loadBoards } from "./boards.ts";
import { loadHelper } from "../../core/monitor/helper.ts";
import { SimMonitor } from "../../core/monitor/sim.ts";
import { MonitorError } from "../../core/errors.ts";
import type { Board } from "../../core/model.ts";

loadHelper(); // once per process, before the tests (the sanitizer counts a library load)
const boards = await loadBoards();

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof MonitorError, String(error));
    assert.equal(error.exitCode, 1);
    assert.match(error.message, pattern);
    assert.equal(error.message.split("\n").length, 1);
    return true;
  });
}

const MiB = 1024 * 1024;

/** A partition 1 on cores 2, 3 (window at `base`) and a partition 2 on core 1, configured. */
async function twoPartitions(sim: SimMonitor, base: number): Promise<void> {
  await sim.partitionCreate(1);
  await sim.partitionAddCore(1, 2);
  await sim.partitionAddCore(1, 3);
  await sim.partitionAddMemory(1, { base, size: 512 * MiB });
  await sim.partitionCreate(2);
  await sim.partitionAddCore(2, 1);
  await sim.partitionAddMemory(2, { base: base + 512 * MiB, size: 128 * MiB });
}

Deno.test("sim on qemu-virt-arm64: refusals with PSCI codes and readable messages", async () => {
  await withTempDir(async (dir) => {
    const board: Board = boards["qemu-virt-arm64"];
    const sim = new SimMonitor({ stateDir: dir, board });
    const base = 0x50000000;
    await twoPartitions(sim, base);
    await refused(
      sim.partitionAddCore(2, 2),
      /^monitor refused partition_add_core\(2, 0x2\): DENIED \(-3\): core 0x2 belongs to partition 1$/,
    );
    await refused(sim.partitionAddCore(2, 0), /DENIED \(-3\): .*management partition/);
    await refused(
      sim.partitionAddMemory(2, { base: 0x40000000, size: 2 * MiB }),
      /ALREADY_ON \(-4\): partition 2 already has a window/,
    );
    await refused(sim.partitionCreate(1), /partition_create\(1\): ALREADY_ON \(-4\)/);
    await refused(sim.partitionStop(9), /partition_stop\(9\): NOT_PRESENT \(-7\)/);
    // A write outside the window, an entry outside it, a core of another partition.
    await refused(
      sim.memoryWrite(1, base + 512 * MiB - 2, { bytes: new Uint8Array(4) }),
      /^monitor refused memory_write\(1, 0x6ffffffe, 4 bytes\): INVALID_ADDRESS \(-9\): 0x6ffffffe\+0x4 is outside the window 0x50000000\+0x20000000$/,
    );
    await refused(
      sim.coreStart(1, 2, 0x40000000, 0),
      /core_start\(1, 0x2, entry 0x40000000, context 0x0\): INVALID_ADDRESS \(-9\)/,
    );
    await refused(
      sim.coreStart(1, 1, base, 0),
      /core_start\(1, 0x1, .*\): DENIED \(-3\): core 0x1 is partition 2's, not 1$/,
    );
    await sim.memoryWrite(1, base, { bytes: new TextEncoder().encode("boot") });
    await sim.coreStart(1, 2, base, base + 0x1000);
    assert.equal(await sim.partitionStatus(1), "running");
    // Loading into a running partition.
    const file = `${dir}/initrd`;
    await Deno.writeFile(file, new Uint8Array(8192));
    await refused(
      sim.memoryWrite(1, base + 0x100000, { path: file }),
      /memory_write\(1, 0x50100000, .*initrd: 8192 bytes\): DENIED \(-3\): partition 1 is running/,
    );
    await refused(sim.partitionAddDevice(1, "uart0", { base: 0x9000000, size: 0x1000 }), /DENIED/);
    await refused(sim.partitionDestroy(1), /partition_destroy\(1\): DENIED \(-3\)/);

    // Partition-originated calls: CPU_ON reaches only the caller's own cores.
    const cpuOn = (caller: number, target: number, entry: number) =>
      sim.simCall({ callerHwid: caller, fid: 0xc4000003, args: [target, entry, 0] }).ret0;
    assert.equal(cpuOn(2, 1, base), -2n, "another partition's core: INVALID_PARAMETERS");
    assert.equal(cpuOn(2, 0, base), -2n, "the management partition's core");
    assert.equal(cpuOn(2, 3, 0x40000000), -9n, "an entry outside the window: INVALID_ADDRESS");
    assert.equal(cpuOn(2, 3, base + 0x2000), 0n);
    assert.equal(cpuOn(2, 3, base + 0x2000), -4n, "ALREADY_ON");
    const management = sim.simCall({ callerHwid: 2, fid: 0xc2005603, args: [2, 1] });
    assert.equal(management.ret0, -3n, "a partition calling this ABI: DENIED");
    assert.throws(
      () => sim.simCall({ callerHwid: 1, fid: 0x84000000 }),
      /sim_call\(caller 0x1, fid 0x84000000\) failed \(EINVAL\): core 0x1 is not on/,
    );
    // SYSTEM_OFF from the partition stops it (what the qemu backend reports).
    assert.equal(sim.simCall({ callerHwid: 3, fid: 0x84000008 }).ret0, 0n);
    assert.equal(await sim.partitionStatus(1), "stopped");
    assert.equal(await sim.partitionStatus(2), "configured");
    assert.equal(await sim.partitionStatus(0), "running");
    assert.equal(await sim.partitionStatus(42), "absent");
  });
});

Deno.test("sim on qemu-virt-riscv64: the same refusals with SBI codes", async () => {
  await withTempDir(async (dir) => {
    const board: Board = boards["qemu-virt-riscv64"];
    const sim = new SimMonitor({ stateDir: dir, board });
    const base = 0x90000000;
    await twoPartitions(sim, base);
    await refused(sim.partitionAddCore(2, 2), /SBI_ERR_DENIED \(-4\): core 0x2 belongs/);
    await refused(
      sim.partitionAddMemory(1, { base: 0x80000000, size: 2 * MiB }),
      /SBI_ERR_ALREADY_AVAILABLE \(-6\)/,
    );
    await refused(sim.partitionStop(9), /partition_stop\(9\): SBI_ERR_INVALID_PARAM \(-3\)/);
    await refused(
      sim.memoryWrite(1, base - 4096, { bytes: new Uint8Array(1) }),
      /SBI_ERR_INVALID_ADDRESS \(-5\)/,
    );
    await refused(sim.coreStart(1, 2, base + 512 * MiB, 0), /SBI_ERR_INVALID_ADDRESS \(-5\)/);
    await refused(sim.coreStart(1, 1, base, 0), /SBI_ERR_DENIED \(-4\)/);
    await sim.coreStart(1, 2, base, base + 0x2400000);
    await refused(sim.coreStart(1, 2, base, 0), /SBI_ERR_ALREADY_STARTED \(-7\)/);
    await refused(
      sim.memoryWrite(1, base, { bytes: new Uint8Array(1) }),
      /SBI_ERR_INVALID_STATE \(-10\): partition 1 is running/,
    );
    await refused(sim.partitionDestroy(1), /SBI_ERR_INVALID_STATE \(-10\)/);
    const hsm = 0x48534d;
    const hartStart = (target: number, addr: number) =>
      sim.simCall({ callerHwid: 2, eid: hsm, fid: 0, args: [target, addr, 0] }).ret0;
    assert.equal(hartStart(1, base), -3n, "another partition's hart: SBI_ERR_INVALID_PARAM");
    assert.equal(hartStart(3, base + 512 * MiB), -5n, "outside the window");
    assert.equal(hartStart(3, base), 0n);
    assert.equal(hartStart(3, base), -6n, "SBI_ERR_ALREADY_AVAILABLE");
    const probe = sim.simCall({ callerHwid: 0, eid: 0x10, fid: 3, args: [0x0a00564d] });
    assert.deepEqual(probe, { ret0: 0n, ret1: 1n }, "the ABI's extension is probed");
    assert.equal(
      sim.simCall({ callerHwid: 2, eid: 0x0a00564d, fid: 1, args: [5] }).ret0,
      -4n,
      "a partition calling this ABI: SBI_ERR_DENIED",
    );
  });
});

Deno.test("sim: the table survives reopening, in this process and another", async () => {
  await withTempDir(async (dir) => {
    const board: Board = boards["qemu-virt-arm64"];
    const first = new SimMonitor({ stateDir: dir, board });
    await twoPartitions(first, 0x50000000);
    await first.coreStart(1, 2, 0x50000000, 0);
    const second = new SimMonitor({ stateDir: dir, board });
    assert.equal(await second.partitionStatus(1), "running");
    const script = `
      import { SimMonitor } from "${new URL("../../core/monitor/sim.ts", import.meta.url)}";
      const board = JSON.parse(Deno.args[1]);
      const sim = new SimMonitor({ stateDir: Deno.args[0], board });
      console.log(await sim.partitionStatus(1), await sim.partitionStatus(2));
      await sim.partitionStop(1);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script, dir, JSON.stringify(board)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "running configured");
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(await first.partitionStatus(1), "stopped");
    // Another board's description does not open this state dir.
    assert.throws(
      () => new SimMonitor({ stateDir: dir, board: boards["qemu-virt-riscv64"] }),
      /monitor\.json was made for board qemu-virt-arm64, not this board's description/,
    );
  });
});

Deno.test("sim: processes making requests at once lose none (monitor.lock)", async () => {
  await withTempDir(async (dir) => {
    const board: Board = boards["qemu-virt-arm64"];
    new SimMonitor({ stateDir: dir, board });
    const script = `
      import { SimMonitor } from "${new URL("../../core/monitor/sim.ts", import.meta.url)}";
      const sim = new SimMonitor({ stateDir: Deno.args[0], board: JSON.parse(Deno.args[1]) });
      const first = Number(Deno.args[2]);
      for (let id = first; id < first + 10; id++) await sim.partitionCreate(id);`;
    const outputs = await Promise.all(
      [100, 200, 300, 400].map((first) =>
        new Deno.Command(Deno.execPath(), {
          args: ["eval", "--quiet", script, dir, JSON.stringify(board), String(first)],
          stdout: "piped",
          stderr: "piped",
        }).output()
      ),
    );
    for (const out of outputs) assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const ids = JSON.parse(await Deno.readTextFile(`${dir}/monitor.json`)).partitions
      .map((p: { id: number }) => p.id);
    const expected = [100, 200, 300, 400].flatMap((f) => [...Array(10).keys()].map((i) => f + i));
    assert.deepEqual(ids, expected, "every create landed, in id order");
  });
});
