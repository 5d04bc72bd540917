import assert from "node:assert/strict";
import { ROOT, VMANCTL_FLAGS, withTempDir } from "./cli/helpers.ts";

const decoder = new TextDecoder();

async function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { VMAN_PLUGIN_PATH: "" },
  })
    .output();
  return { code: r.code, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
}

Deno.test("deno task bundle makes one JS file that runs every command away from the checkout", async () => {
  await withTempDir(async (dir) => {
    const bundle = `${dir}/vmanctl.js`;
    const built = await run(
      Deno.execPath(),
      ["bundle", "--quiet", "-o", bundle, `${ROOT}/main.ts`],
      ROOT,
    );
    assert.equal(built.code, 0, built.err);
    // Run it from a directory without the sources: everything must be inside the file.
    const vmanctl = (...args: string[]) =>
      run(Deno.execPath(), [
        "run",
        ...VMANCTL_FLAGS,
        "--no-config",
        bundle,
        "--state-dir",
        `${dir}/s`,
        ...args,
      ], dir);
    const plugins = JSON.parse((await vmanctl("plugins", "--json")).out) as {
      kind: string;
      name: string;
    }[];
    assert.deepEqual(
      plugins.map((p) => `${p.kind}:${p.name}`),
      [
        "arch:armv7",
        "arch:armv8",
        "arch:riscv",
        "feature:fdt",
        "feature:libvirt",
        "feature:psci",
        "feature:sbi",
        "monitor:device",
        "monitor:dry-run",
        "monitor:qemu",
        "monitor:sim",
        "board:qemu-virt-arm",
        "board:qemu-virt-arm64",
        "board:qemu-virt-riscv64",
      ],
    );
    await Deno.writeTextFile(`${dir}/spec.yaml`, "cpus: 2\nmemory: 512M\n");
    const steps: string[][] = [
      ["board", "list"],
      ["board", "show", "qemu-virt-riscv64"],
      ["board", "check", `${ROOT}/boards/qemu-virt-arm.yaml`],
      ["--board", "qemu-virt-riscv64", "create", "a", "-f", `${dir}/spec.yaml`],
      ["plan", "a"],
      ["plan", "b", "--cpus", "1"],
      ["start", "a"],
      ["show", "a"],
      ["list", "--json"],
      ["dtb", "a", "--dts"],
      ["dtb", "a", "-o", `${dir}/a.dtb`],
      ["stop", "a"],
      ["destroy", "a"],
      ["completion", "bash"],
      ["--help"],
      ["daemon", "--help"],
    ];
    for (const step of steps) {
      const r = await vmanctl(...step);
      assert.equal(r.code, 0, `${step.join(" ")}: ${r.err}`);
      assert.ok(r.out.length > 0, step.join(" "));
    }
    const bad = await vmanctl("create", "x", "--memory", "12Q");
    assert.equal(bad.code, 2);
  });
});

Deno.test("deno task compile builds the binary or says how to give it the runtime", async () => {
  await withTempDir(async (dir) => {
    const r = await run(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}/scripts/compile.ts`,
      "--target",
      "aarch64-unknown-linux-gnu",
    ], dir);
    if (r.code === 0) {
      const info = await Deno.stat(`${ROOT}/dist/vmanctl-aarch64-unknown-linux-gnu`);
      assert.ok(info.size > 1_000_000);
    } else {
      assert.equal(r.code, 1);
      const lines = r.err.trim().split("\n");
      assert.equal(lines.length, 1, r.err);
      assert.match(
        lines[0],
        /^compile: no vmanctl for aarch64-unknown-linux-gnu: .*DENORT_BIN=\/path\/to\/denort/,
      );
    }
    const wrong = await run(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}/scripts/compile.ts`,
      "--target",
      "riscv64gc-unknown-linux-gnu",
    ], dir);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /no Deno runtime for riscv64gc-unknown-linux-gnu/);
  });
});

Deno.test("deno task vmanctl runs main.ts with vmanctl's permissions and run flags", async () => {
  const { VMANCTL_PERMISSIONS, VMANCTL_RUN_FLAGS } = await import("../scripts/permissions.ts");
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.equal(
    config.tasks.vmanctl,
    ["deno run", ...VMANCTL_PERMISSIONS, ...VMANCTL_RUN_FLAGS, "main.ts"].join(" "),
  );
});
