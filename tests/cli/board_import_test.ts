import assert from "node:assert/strict";
import { hasTool, vmanctl, withTempDir } from "./helpers.ts";

const QEMU = hasTool("qemu-system-aarch64") && hasTool("qemu-system-riscv64") && hasTool("dtc");
if (!QEMU) {
  console.log(
    "skipping board import from QEMU dumps: install qemu-system-arm, qemu-system-misc, dtc",
  );
}

async function dump(dir: string, binary: string, args: string[]): Promise<string> {
  const file = `${dir}/${binary}.dtb`;
  const r = await new Deno.Command(binary, {
    args: ["-M", `virt,dumpdtb=${file}`, ...args, "-nographic", "-nic", "none"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return file;
}

for (
  const [binary, args, arch, hwids] of [
    ["qemu-system-aarch64", ["-cpu", "cortex-a57", "-smp", "8", "-m", "4G"], "armv8", 8],
    ["qemu-system-riscv64", ["-smp", "4", "-m", "2G"], "riscv", 4],
  ] as const
) {
  Deno.test({
    name: `board import of a ${binary} dump hosts a 1-core partition whose DTB dtc accepts`,
    ignore: !QEMU,
    fn: async () => {
      await withTempDir(async (dir) => {
        const dtb = await dump(dir, binary, [...args]);
        const yaml = `${dir}/boards/lab.yaml`;
        await Deno.mkdir(`${dir}/boards`);
        const r = await vmanctl(["board", "import", dtb, "-o", yaml, "--name", "lab", "--json"]);
        assert.equal(r.code, 0, r.stderr);
        const text = await Deno.readTextFile(yaml);
        assert.match(text, new RegExp(`^arch: ${arch}$`, "m"));
        assert.match(text, /# DEFAULT, review: the management partition keeps/);
        assert.equal((await vmanctl(["board", "check", yaml])).code, 0);
        const board = JSON.parse(
          (await vmanctl(["--plugin-dir", `${dir}/boards`, "board", "show", "lab", "--json"]))
            .stdout,
        );
        assert.equal(board.cores.length, hwids);
        assert.ok(
          board.devices.some((d: { console: boolean }) => d.console),
          "the console is found",
        );
        const s = ["--state-dir", `${dir}/state`, "--board", yaml];
        const c = await vmanctl([...s, "create", "p", "--cpus", "1", "--memory", "128M", "--json"]);
        assert.equal(c.code, 0, c.stderr);
        assert.deepEqual(JSON.parse(c.stdout).cores, [1]);
        const made = await vmanctl([...s, "dtb", "p", "-o", `${dir}/p.dtb`]);
        assert.equal(made.code, 0, made.stderr);
        const dtc = await new Deno.Command("dtc", {
          args: ["-I", "dtb", "-O", "dts", "-o", "/dev/null", `${dir}/p.dtb`],
          stderr: "piped",
        }).output();
        assert.equal(dtc.code, 0);
        const ours = new TextDecoder().decode(dtc.stderr).split("\n").filter((l) =>
          l.includes("Warning")
        );
        const base = await new Deno.Command("dtc", {
          args: ["-I", "dtb", "-O", "dts", "-o", "/dev/null", dtb],
          stderr: "piped",
        }).output();
        const boardWarnings = new TextDecoder().decode(base.stderr).replaceAll(dtb, "<stdout>");
        for (const w of ours) {
          assert.ok(boardWarnings.includes(w.replace(/^[^:]*: /, "")), `new warning: ${w}`);
        }
      });
    },
  });
}

Deno.test("board import refuses what is not a DTB, and a tree without RAM, naming what", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/x.dtb`, "not a device tree");
    let r = await vmanctl(["board", "import", `${dir}/x.dtb`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^vmanctl: not a device tree blob: .*magic.* \(.*x\.dtb\)\n$/);
    r = await vmanctl(["board", "import", `${dir}/none.dtb`]);
    assert.equal(r.code, 2);
    r = await vmanctl(["board", "import", `${dir}/x.dtb`, "--arch", "mips"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown architecture 'mips'/);
    if (!hasTool("dtc")) return;
    await Deno.writeTextFile(
      `${dir}/noram.dts`,
      `/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>; model = "x";\n` +
        `cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { device_type = "cpu"; ` +
        `compatible = "arm,cortex-a53"; reg = <0>; }; };\n` +
        `memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0>; }; };\n`,
    );
    const c = await new Deno.Command("dtc", {
      args: ["-I", "dts", "-O", "dtb", "-o", `${dir}/noram.dtb`, `${dir}/noram.dts`],
      stderr: "null",
    }).output();
    assert.equal(c.code, 0);
    r = await vmanctl(["board", "import", `${dir}/noram.dtb`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /gives no RAM .*size 0.* \(\/memory\)\n$/);
  });
});
