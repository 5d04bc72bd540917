/**
 * `vmanctl --backend sim` with Debian's arm64 and riscv64 kernels: start writes
 * kernel, initrd and DTB into memory.img at the planned addresses (offset =
 * address − RAM base) and starts the boot core at the entry with the DTB as
 * context; the sim's table agrees; state survives restarts; stop and destroy
 * give everything back and zero the window.
 */
import assert from "node:assert/strict";
import { vmanctl, vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { isFile, readAt } from "./files.ts";
import type { SimPartition } from "../../core/monitor/sim.ts";
import { loadHelper } from "../../core/monitor/helper.ts";
import { fixturesDir } from "../../scripts/cache.ts";
import { printDts, readFdt } from "../../plugins/fdt/mod.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { RNG_SEED_BYTES } from "../../core/boot/prepare.ts";

// The helper stays loaded for the process (as in vmanctl): load it before the tests,
// so that the resource sanitizer does not count it against the first test.
loadHelper();

const KERNELS = `${fixturesDir()}/kernels`;

interface Region {
  name: string;
  base: number;
  size: number;
}
type Call = { call: string; args: Record<string, number | string> };

function table(dir: string): SimPartition[] {
  return JSON.parse(Deno.readTextFileSync(`${dir}/monitor.json`)).partitions;
}

const CASES = [
  { board: "qemu-virt-arm64", kernel: "arm64/Image", ramBase: 0x40000000 },
  { board: "qemu-virt-riscv64", kernel: "riscv64/Image", ramBase: 0x80000000 },
];

for (const c of CASES) {
  const kernel = `${KERNELS}/${c.kernel}`;
  const have = isFile(kernel);
  if (!have) console.log(`skipping the sim start with ${c.kernel}: no ${kernel} (fetch-fixtures)`);
  Deno.test({
    name: `sim, ${c.board}: start puts ${c.kernel}, initrd and DTB into memory.img where planned`,
    ignore: !have,
    fn: async () => {
      await withTempDir(async (dir) => {
        const state = `${dir}/s`;
        const initrd = `${dir}/initrd.img`;
        const initrdBytes = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 13 + 1) & 255);
        await Deno.writeFile(initrd, initrdBytes);
        const s = ["--state-dir", state, "--board", c.board, "--backend", "sim"];
        const created = await vmanctl([
          ...s,
          "create",
          "p",
          "--cpu-ids",
          "2,3",
          "--memory",
          "512M",
          "--kernel",
          kernel,
          "--initrd",
          initrd,
          "--cmdline",
          "console=ttyX",
        ]);
        assert.equal(created.code, 0, created.stderr);
        const started = await vmanctl([...s, "start", "p"]);
        assert.equal(started.code, 0, started.stderr);

        const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout);
        const at = (name: string) => (shown.boot.regions as Region[]).find((r) => r.name === name)!;
        const image = `${state}/memory.img`;
        const info = await Deno.stat(image);
        const board = JSON.parse(await Deno.readTextFile(`${state}/state.json`)).board;
        const ramEnd = Math.max(
          ...board.memory.map((m: { base: number; size: number }) => m.base + m.size),
        );
        assert.equal(info.size, ramEnd - c.ramBase, "memory.img spans the board's RAM");
        assert.ok((info.blocks ?? 0) * 512 < 256 * 1024 * 1024, "memory.img is sparse");

        const kernelBytes = await Deno.readFile(kernel);
        assert.deepEqual(
          await readAt(image, at("kernel").base - c.ramBase, kernelBytes.length),
          kernelBytes,
          "kernel at its planned address",
        );
        assert.deepEqual(
          await readAt(image, at("initrd").base - c.ramBase, initrdBytes.length),
          initrdBytes,
          "initrd at its planned address",
        );
        const dtbFile = `${dir}/p.dtb`;
        assert.equal((await vmanctl([...s, "dtb", "p", "-o", dtbFile])).code, 0);
        const dtb = await Deno.readFile(dtbFile);
        assert.equal(dtb.length, at("dtb").size);
        // The same tree but for /chosen/rng-seed, fresh on every start and every dtb.
        const loaded = readFdt(await readAt(image, at("dtb").base - c.ramBase, dtb.length));
        const printed = readFdt(dtb);
        const seeds = [loaded, printed].map((t) => seedOf(t));
        assert.equal(seeds[0]?.length, RNG_SEED_BYTES);
        assert.equal(seeds[1]?.length, RNG_SEED_BYTES);
        assert.notDeepEqual(seeds[0], seeds[1]);
        assert.equal(printDts(withoutSeed(loaded)), printDts(withoutSeed(printed)));

        // show: the boot core started at the entry with context = the DTB's address.
        assert.equal(shown.backend, "sim");
        assert.equal(shown.boot.context, at("dtb").base);
        const start = (shown.monitorCalls as Call[]).at(-1)!;
        assert.deepEqual(start, {
          call: "core_start",
          args: { partition: 1, hwid: 2, entry: shown.boot.entry, context: at("dtb").base },
        });
        // The sim's own table says the same.
        const [part] = table(state);
        assert.equal(part.state, "running");
        assert.deepEqual(part.cores, [
          {
            hwid: "0x2",
            power: "on",
            entry: `0x${shown.boot.entry.toString(16)}`,
            context: `0x${at("dtb").base.toString(16)}`,
          },
          { hwid: "0x3", power: "off" },
        ]);

        // A new vmanctl process sees the running partition; restarting changes nothing.
        const again = await vmanctlProcess([...s.slice(0, 2), "start", "p"]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /already running/);
        assert.deepEqual(table(state)[0].cores[0].power, "on");

        const stopped = await vmanctlProcess([...s.slice(0, 2), "stop", "p"]);
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.deepEqual(table(state), []);
        const zeros = await readAt(image, at("kernel").base - c.ramBase, 4096);
        assert.ok(zeros.every((b) => b === 0), "the window reads as zeros after destroy");
      });
    },
  });
}

Deno.test("sim: a start the monitor refuses rolls back and names the code", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64", "--backend", "sim"];
    assert.equal((await vmanctl([...s, "create", "a", "--cpu-ids", "1"])).code, 0);
    // Another monitor client took core 1 behind vmanager's back (the table is the monitor's).
    const { SimMonitor } = await import("../../core/monitor/sim.ts");
    const board = JSON.parse(await Deno.readTextFile(`${dir}/state.json`)).board;
    const sim = new SimMonitor({ stateDir: dir, board });
    await sim.partitionCreate(7);
    await sim.partitionAddCore(7, 1);
    const r = await vmanctl([...s, "start", "a"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^vmanctl: starting a failed: monitor refused partition_add_core\(1, 0x1\): DENIED \(-3\): core 0x1 belongs to partition 7; rolled back/,
    );
    assert.deepEqual(table(dir).map((p) => p.id), [7], "partition 1 was destroyed again");
    const shown = JSON.parse((await vmanctl([...s, "show", "a", "--json"])).stdout);
    assert.equal(shown.state, "defined");
  });
});

/** `/chosen/rng-seed` of `tree`. */
function seedOf(tree: FdtTree): Uint8Array | undefined {
  return tree.root.children.find((n) => n.name === "chosen")?.props.find((p) =>
    p.name === "rng-seed"
  )?.value;
}

/** `tree` without `/chosen/rng-seed`. */
function withoutSeed(tree: FdtTree): FdtTree {
  const chosen = tree.root.children.find((n) => n.name === "chosen");
  if (chosen) chosen.props = chosen.props.filter((p) => p.name !== "rng-seed");
  return tree;
}
