/**
 * Boards from the field: real boards' DTBs from Debian's arm64 kernel package (in
 * the fixtures cache scripts/fetch-fixtures.sh fills) imported with their RAM given
 * by `--memory` where the DTB has none, and QEMU dumps of other shapes than the
 * built-in boards' (GICv3 with 8 cores and 3 GiB; riscv64 with 8 harts). Each
 * board hosts a 2-core partition whose DTB dtc accepts with no warning the board's
 * own DTB does not have.
 */
import assert from "node:assert/strict";
import { debianArm64Dtbs, hasTool, vmanctl, withTempDir } from "./helpers.ts";
import { dtcWarnings } from "../../scripts/dtc.ts";

const DTC = hasTool("dtc");

const DEBIAN = debianArm64Dtbs();
if (!DEBIAN) console.log("skipping Debian board DTBs: run scripts/fetch-fixtures.sh");
if (!DTC) console.log("skipping board import field tests: install device-tree-compiler");

/**
 * Imports `dtb` (with `memory`), plans a partition of `cores` cores on it and
 * checks its DTB with dtc; returns the import's notes.
 */
async function hostsPartition(
  dir: string,
  dtb: string,
  memory: string | undefined,
  cores = 2,
): Promise<string[]> {
  await Deno.mkdir(`${dir}/boards`, { recursive: true });
  const yaml = `${dir}/boards/b.yaml`;
  const given = memory ? ["--memory", memory] : [];
  const r = await vmanctl(["--json", "board", "import", dtb, ...given, "-o", yaml, "--name", "b"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await vmanctl(["board", "check", yaml])).code, 0);
  const s = ["--state-dir", `${dir}/state`, "--board", yaml];
  const c = await vmanctl([...s, "create", "p", "--cpus", `${cores}`, "--json"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).cores.length, cores);
  const made = await vmanctl([...s, "dtb", "p", "-o", `${dir}/p.dtb`]);
  assert.equal(made.code, 0, made.stderr);
  const ours = await dtcWarnings(`${dir}/p.dtb`);
  assert.equal(ours.code, 0, ours.lines.join("\n"));
  const board = await dtcWarnings(dtb);
  const added = ours.lines.filter((l) => !board.lines.includes(l));
  assert.deepEqual(added, [], "warnings the board's own DTB does not have");
  return JSON.parse(r.stdout).notes;
}

for (
  const [file, memory] of [
    // Raspberry Pi 4 (4 GB): its firmware fills in this RAM, around the GPU's and the
    // peripherals' (0xfc000000-0xffffffff).
    ["broadcom/bcm2711-rpi-4-b.dtb", "0x0+0x3b400000,0x40000000+0xbc000000"],
    // The same with the issue's 0x0+4G: the devices that RAM would cover are left out.
    ["broadcom/bcm2711-rpi-4-b.dtb", "0x0+4G"],
    // RockPro64 (4 GB): RK3399's DRAM ends where its MMIO starts, at 0xf8000000.
    ["rockchip/rk3399-rockpro64.dtb", "0x0+0xf8000000"],
    ["rockchip/rk3399-rockpro64.dtb", "0x0+4G"],
    // i.MX8MQ EVK: its DTB has its RAM.
    ["freescale/imx8mq-evk.dtb", undefined],
  ] as const
) {
  Deno.test({
    name: `board import ${file}${memory ? ` --memory ${memory}` : ""} hosts a 2-core partition`,
    ignore: !DEBIAN || !DTC,
    fn: async () => {
      await withTempDir(async (dir) => {
        const notes = await hostsPartition(dir, `${DEBIAN}/${file}`, memory);
        if (memory) assert.equal(notes[0], "RAM from --memory");
        const shown = await vmanctl([
          "--plugin-dir",
          `${dir}/boards`,
          "board",
          "show",
          "b",
          "--json",
        ]);
        const devices: { console: boolean }[] = JSON.parse(shown.stdout).devices;
        // Its console is found: on the i.MX8MQ it sits on a bus with registers of its own.
        if (!memory?.endsWith("4G")) assert.ok(devices.some((d) => d.console), "a console");
      });
    },
  });
}

Deno.test({
  name: "board import refuses the RPi 4's DTB without --memory, saying how to give the RAM",
  ignore: !DEBIAN,
  fn: async () => {
    const r = await vmanctl(["board", "import", `${DEBIAN}/broadcom/bcm2711-rpi-4-b.dtb`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^vmanctl: the device tree gives no RAM .*--memory BASE\+SIZE.*\n$/);
  },
});

const QEMU = DTC && hasTool("qemu-system-aarch64") && hasTool("qemu-system-riscv64");
if (!QEMU) {
  console.log("skipping QEMU-dump field boards: install qemu-system-arm, qemu-system-misc");
}

for (
  const [binary, machine, args] of [
    ["qemu-system-aarch64", "virt,gic-version=3", ["-cpu", "cortex-a57", "-smp", "8", "-m", "3G"]],
    ["qemu-system-riscv64", "virt", ["-smp", "8", "-m", "3G"]],
  ] as const
) {
  Deno.test({
    name: `board import of a ${binary} -M ${machine} ${
      args.join(" ")
    } dump hosts a 2-core partition`,
    ignore: !QEMU,
    fn: async () => {
      await withTempDir(async (dir) => {
        const dtb = `${dir}/q.dtb`;
        const r = await new Deno.Command(binary, {
          args: ["-M", `${machine},dumpdtb=${dtb}`, ...args, "-nographic", "-nic", "none"],
          stdout: "null",
          stderr: "null",
        }).output();
        assert.equal(r.code, 0);
        await hostsPartition(dir, dtb, undefined);
      });
    },
  });
}
