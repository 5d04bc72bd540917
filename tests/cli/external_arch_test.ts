/**
 * An external arch plugin in a plugin directory (tests/fixtures/plugins/
 * arch-arm64-variant: `armv8-alt`, an arm64 variant with its own kernel name and
 * cpu detection, and a board of that arch) registers, is listed, hosts a
 * partition whose kernel it reads and plans, and takes the boards `board import`
 * finds its cpus in.
 */
import assert from "node:assert/strict";
import { arm64Image, ROOT, vmanctl, withTempDir } from "./helpers.ts";
import { readFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import { setProp } from "../../core/devicetree/tree.ts";
import { strs } from "../../core/devicetree/values.ts";

type Json = Record<string, unknown>;

const DIR = `${ROOT}/tests/fixtures/plugins/arch-arm64-variant`;

/** qemu-virt-arm64's device tree with every cpu made an `acme,alt-a53`. */
async function acmeDtb(): Promise<Uint8Array> {
  const tree = readFdt(await Deno.readFile(`${ROOT}/boards/qemu-virt-arm64.dtb`));
  const cpus = tree.root.children.find((c) => c.name === "cpus")!;
  for (const cpu of cpus.children.filter((c) => c.name.startsWith("cpu@"))) {
    setProp(cpu, "compatible", strs(["acme,alt-a53"]));
  }
  return writeFdt(tree);
}

Deno.test("an external arch plugin is listed with its board, from its plugin dir", async () => {
  const r = await vmanctl(["--plugin-dir", DIR, "plugins", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const listed = JSON.parse(r.stdout) as Json[];
  const alt = listed.find((p) => p.kind === "arch" && p.name === "armv8-alt")!;
  assert.ok(alt, r.stdout);
  assert.equal(alt.source, `${DIR}/armv8_alt.ts`);
  const board = listed.find((p) => p.kind === "board" && p.name === "acme-alt-arm64")!;
  assert.equal(board.source, `${DIR}/acme-alt-arm64.yaml`);
  // Without the plugin dir neither is there, and the board's arch is unknown.
  const bare = JSON.parse((await vmanctl(["plugins", "--json"])).stdout) as Json[];
  assert.ok(!bare.some((p) => p.name === "armv8-alt" || p.name === "acme-alt-arm64"));
  const check = await vmanctl(["board", "check", `${DIR}/acme-alt-arm64.yaml`]);
  assert.equal(check.code, 2);
  assert.match(
    check.stderr,
    /arch: needs arch plugin 'armv8-alt', which is not registered \(known: armv7, armv8, riscv\) \(.*acme-alt-arm64\.yaml:\d+\)/,
  );
});

Deno.test("an external arch plugin reads, plans and starts a kernel (dry-run)", async () => {
  await withTempDir(async (dir) => {
    const kernel = `${dir}/Image`;
    await Deno.writeFile(kernel, arm64Image());
    const s = ["--state-dir", `${dir}/s`, "--plugin-dir", DIR];
    const created = await vmanctl([
      ...s,
      "--board",
      "acme-alt-arm64",
      "create",
      "p",
      "--cpu-ids",
      "2,3",
      "--memory",
      "256M",
      "--kernel",
      kernel,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const plan = JSON.parse((await vmanctl([...s, "plan", "p", "--json"])).stdout) as Json;
    assert.equal(plan.arch, "armv8-alt");
    const regions = plan.memoryMap as { name: string; base: number; content: string }[];
    const region = regions.find((r) => r.name === "kernel")!;
    assert.match(region.content, /^armv8-alt Image \(/);
    const boot = plan.boot as { entry: number; registers: Record<string, string> };
    assert.equal(boot.entry, region.base);
    assert.equal(boot.registers.x1, "0");

    const started = await vmanctl([...s, "start", "p"]);
    assert.equal(started.code, 0, started.stderr);
    const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
    assert.equal(shown.state, "running");
    const calls = shown.monitorCalls as { call: string; args: Json }[];
    assert.deepEqual(calls.at(-1), {
      call: "core_start",
      args: { partition: 1, hwid: 2, entry: region.base, context: (plan.boot as Json).context },
    });
  });
});

Deno.test("board import gives an external arch plugin the cpus it detects, and --arch lists it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/acme.dtb`, await acmeDtb());
    const r = await vmanctl(["--plugin-dir", DIR, "board", "import", `${dir}/acme.dtb`, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const { board } = JSON.parse(r.stdout) as { board: Json };
    assert.equal(board.arch, "armv8-alt");
    assert.deepEqual(board.monitor, { conduit: "hvc", interface: "psci" });

    // Without the plugin no arch takes ACME's cpus; --arch names the registered ones.
    const bare = await vmanctl(["board", "import", `${dir}/acme.dtb`]);
    assert.equal(bare.code, 2);
    assert.match(
      bare.stderr,
      /cannot tell the architecture from cpu compatible "acme,alt-a53"; give --arch \(armv7, armv8, riscv\)/,
    );
    const unknown = await vmanctl(["board", "import", `${dir}/acme.dtb`, "--arch", "armv8-alt"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown architecture 'armv8-alt' \(armv7, armv8, riscv\)/);
    const given = await vmanctl([
      "board",
      "import",
      `${dir}/acme.dtb`,
      "--arch",
      "armv8",
      "--json",
    ]);
    assert.equal(given.code, 0, given.stderr);
    assert.equal((JSON.parse(given.stdout) as { board: Json }).board.arch, "armv8");
  });
});
