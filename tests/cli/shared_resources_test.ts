/**
 * `plan`, `create`, `show` and `dtb` on shared SoC resources: an imported i.MX8MQ
 * EVK (Debian's DTB, fetched by scripts/fetch-fixtures.sh) whose partition keeps a
 * device clocked by the shared clock controller is warned and protected; a board
 * that reserves the controller to the management partition refuses it; QEMU virt
 * boards get neither.
 */
import assert from "node:assert/strict";
import { debianImx8mqEvk, vmanctl, withTempDir } from "./helpers.ts";

const CCM = "/soc@0/bus@30000000/clock-controller@30380000";
const PROTECTION = "clk_ignore_unused pd_ignore_unused";
const SPEC = ["p", "--cpus", "1", "--memory", "256M", "--device", "gpu0"];

const IMX8MQ = debianImx8mqEvk();
if (!IMX8MQ) console.log("skipping the i.MX8MQ EVK CLI tests: run scripts/fetch-fixtures.sh");

/** Imports the EVK into `dir`; returns the board YAML's path. */
async function importEvk(dir: string): Promise<string> {
  const yaml = `${dir}/imx8mq-evk.yaml`;
  const r = await vmanctl(["board", "import", IMX8MQ!, "-o", yaml, "--name", "imx8mq-evk"]);
  assert.equal(r.code, 0, r.stderr);
  return yaml;
}

Deno.test({
  name: "i.MX8MQ EVK: plan and create name the shared clock controller; the cmdline is protected",
  ignore: !IMX8MQ,
  fn: async () => {
    await withTempDir(async (dir) => {
      const s = ["--state-dir", `${dir}/state`, "--board", await importEvk(dir)];
      const plan = await vmanctl([...s, "plan", ...SPEC, "--cmdline", "console=ttymxc0"]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(
        plan.stderr,
        new RegExp(
          `^vmanctl: warning: device gpu0: clock controller ${CCM} \\(clocks\\) is shared`,
        ),
      );
      assert.match(plan.stdout, new RegExp(`^Cmdline: +console=ttymxc0 ${PROTECTION}$`, "m"));

      const create = await vmanctl([...s, "--json", "create", ...SPEC]);
      assert.equal(create.code, 0, create.stderr);
      const view = JSON.parse(create.stdout);
      assert.equal(view.cmdline, PROTECTION);
      assert.ok(view.warnings.some((w: string) => w.includes(CCM)), create.stdout);
      assert.match(
        (await vmanctl([...s, "show", "p"])).stdout,
        new RegExp(`Cmdline: +${PROTECTION}`),
      );
      const dts = await vmanctl([...s, "dtb", "p", "--dts"]);
      assert.match(dts.stdout, new RegExp(`bootargs = "${PROTECTION}";`));
    });
  },
});

Deno.test({
  name: "i.MX8MQ EVK: a clock controller reserved to the management partition refuses (exit 2)",
  ignore: !IMX8MQ,
  fn: async () => {
    await withTempDir(async (dir) => {
      const yaml = await importEvk(dir);
      const text = await Deno.readTextFile(yaml);
      const reserved = text.replace(
        /^( {4}memory: \[\{ base: 0x40000000, size: 0x10000000 \}\])$/m,
        `$1\n    providers: ["${CCM}"]`,
      );
      assert.notEqual(reserved, text);
      await Deno.writeTextFile(yaml, reserved);
      const s = ["--state-dir", `${dir}/state`, "--board", yaml];
      for (const command of ["plan", "create"]) {
        const r = await vmanctl([...s, command, ...SPEC]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(`device gpu0 needs clock controller ${CCM} \\(clocks\\)`),
        );
      }
      // A partition without such a device is fine; updated to have one, it is refused.
      const ok = await vmanctl([...s, "create", "q", "--cpus", "1", "--memory", "256M"]);
      assert.equal(ok.code, 0, ok.stderr);
      await Deno.writeTextFile(`${dir}/q.yaml`, "cpus: 1\nmemory: 256M\ndevices: [gpu0]\n");
      const update = await vmanctl([...s, "update", "q", "-f", `${dir}/q.yaml`]);
      assert.equal(update.code, 2, update.stderr);
      assert.match(update.stderr, /device gpu0 needs clock controller/);
    });
  },
});

for (const board of ["qemu-virt-arm64", "qemu-virt-riscv64"]) {
  Deno.test(`${board}: plan gives no shared-resource warning and keeps the cmdline`, async () => {
    await withTempDir(async (dir) => {
      const s = ["--state-dir", `${dir}/state`, "--board", board];
      const r = await vmanctl([
        ...s,
        "plan",
        "p",
        "--cpus",
        "1",
        "--memory",
        "128M",
        "--device",
        "uart0",
        "--cmdline",
        "console=ttyS0",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, /^Cmdline: +console=ttyS0$/m);
    });
  });
}
