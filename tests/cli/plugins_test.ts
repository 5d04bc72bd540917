import assert from "node:assert/strict";
import { ROOT, vmanctl, vmanctlProcess, withTempDir } from "./helpers.ts";

type Json = Record<string, unknown>;

/** A monitor plugin that records its calls in the state dir and fails at core_start. */
function failingMonitor(): string {
  return `
const log = (ctx, call) => Deno.writeTextFileSync(ctx.stateDir + "/flaky-calls.log", call + "\\n", { append: true });
export const plugin = {
  kind: "monitor", name: "flaky", version: "0.0.1", apiVersion: 1,
  description: "fails at core_start (test)",
  create(ctx) {
    return {
      backend: "flaky",
      partitionCreate: async () => log(ctx, "partition_create"),
      partitionAddCore: async () => log(ctx, "partition_add_core"),
      partitionAddMemory: async () => log(ctx, "partition_add_memory"),
      partitionAddDevice: async () => log(ctx, "partition_add_device"),
      memoryWrite: async () => log(ctx, "memory_write"),
      coreStart: async () => { log(ctx, "core_start"); throw new Error("core refused by the test monitor"); },
      partitionStop: async () => log(ctx, "partition_stop"),
      partitionDestroy: async () => log(ctx, "partition_destroy"),
      partitionStatus: async () => "absent",
    };
  },
};
`;
}

async function boardVariant(
  name: string,
  edit: (text: string) => string = (t) => t,
): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}/boards/qemu-virt-arm64.yaml`);
  return edit(text.replace("name: qemu-virt-arm64", `name: ${name}`));
}

Deno.test("an external board YAML appears in board list and hosts a partition; broken plugins are refused alone", async () => {
  await withTempDir(async (dir) => {
    const plugins = `${dir}/plugins`;
    await Deno.mkdir(plugins);
    await Deno.writeTextFile(`${plugins}/lab-board.yaml`, await boardVariant("lab-board"));
    await Deno.copyFile(`${ROOT}/boards/qemu-virt-arm64.dtb`, `${plugins}/qemu-virt-arm64.dtb`);
    await Deno.writeTextFile(
      `${plugins}/broken-board.yaml`,
      await boardVariant("broken", (t) => t.replace("cores:", "coers:")),
    );
    await Deno.writeTextFile(
      `${plugins}/broken-module.ts`,
      "export const plugin = { kind: 'monitor', name: 'x', apiVersion: 7 };\n",
    );
    await Deno.writeTextFile(`${plugins}/syntax.ts`, "export const plugin = {{;\n");
    await Deno.writeTextFile(`${plugins}/flaky.ts`, failingMonitor());
    await Deno.writeTextFile(`${plugins}/README.txt`, "not a plugin\n");

    const env = { VMAN_PLUGIN_PATH: plugins };
    const boards = await vmanctl(["board", "list", "--json"], env);
    assert.equal(boards.code, 0);
    const names = (JSON.parse(boards.stdout) as Json[]).map((b) => b.name);
    assert.ok(names.includes("lab-board"));
    assert.ok(names.includes("qemu-virt-arm64"));
    assert.ok(!names.includes("broken"));
    const warnings = boards.stderr.trimEnd().split("\n");
    assert.equal(warnings.length, 3, boards.stderr);
    assert.match(
      warnings[0],
      /plugin refused: board field coers: unknown field 'coers' \(did you mean 'cores'\?\) \(.*broken-board\.yaml:\d+\)/,
    );
    assert.match(warnings[1], /plugin refused: .*API 7.*broken-module\.ts/);
    assert.match(warnings[2], /plugin refused: cannot load module.*syntax\.ts/);

    const listed = JSON.parse((await vmanctl(["plugins", "--json"], env)).stdout) as Json[];
    const lab = listed.find((p) => p.name === "lab-board")!;
    assert.equal(lab.kind, "board");
    assert.equal(lab.source, `${plugins}/lab-board.yaml`);
    assert.equal(listed.find((p) => p.name === "flaky")!.source, `${plugins}/flaky.ts`);
    assert.equal(listed.find((p) => p.name === "armv8")!.source, "built-in");

    const s = ["--state-dir", `${dir}/s`, "--plugin-dir", plugins];
    const c = await vmanctl([...s, "--board", "lab-board", "create", "p", "--cpus", "2", "--json"]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual((JSON.parse(c.stdout) as Json).cores, [1, 2]);
  });
});

Deno.test("a start that fails midway is rolled back: monitor calls undone, state unchanged", async () => {
  await withTempDir(async (dir) => {
    const plugins = `${dir}/plugins`;
    await Deno.mkdir(plugins);
    await Deno.writeTextFile(`${plugins}/flaky.ts`, failingMonitor());
    const state = `${dir}/state`;
    const s = ["--state-dir", state, "--plugin-dir", plugins];
    assert.equal(
      (await vmanctl([...s, "--board", "qemu-virt-arm64", "--backend", "flaky", "create", "p"]))
        .code,
      0,
    );
    const before = await Deno.readTextFile(`${state}/state.json`);
    const r = await vmanctl([...s, "start", "p"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^vmanctl: starting p failed: core refused by the test monitor; rolled back \(p\)\n$/,
    );
    assert.equal(await Deno.readTextFile(`${state}/state.json`), before);
    const calls = (await Deno.readTextFile(`${state}/flaky-calls.log`)).trim().split("\n");
    assert.deepEqual(calls, [
      "partition_create",
      "partition_add_core",
      "partition_add_memory",
      "partition_add_device",
      "core_start",
      "partition_destroy",
    ]);
  });
});

Deno.test("board check: a misspelled field and overlapping ranges are refused with file:line", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/b.yaml`;
    const text = await boardVariant("lab");
    await Deno.writeTextFile(
      file,
      text.replace(
        "  - { name: ram, base: 0x40000000, size: 2G }",
        "  - { name: ram, base: 0x40000000, size: 2G }\n  - { name: ram2, base: 0x80000000, size: 1G }",
      ),
    );
    const line = (await Deno.readTextFile(file)).split("\n").findIndex((l) => l.includes("ram2")) +
      1;
    let r = await vmanctl(["board", "check", file]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `vmanctl: board field memory[1]: memory range 'ram2' 0x80000000-0xbfffffff overlaps 'ram' 0x40000000-0xbfffffff (${file}:${line})\n`,
    );

    await Deno.writeTextFile(
      file,
      text.replace(
        "    interrupts: [7]\n    sharing: per-partition",
        "    interrupts: [7]\n    sharing: per-partition\n    sharng: exclusive",
      ),
    );
    const line2 = (await Deno.readTextFile(file)).split("\n").findIndex((l) =>
      l.includes("sharng")
    ) + 1;
    r = await vmanctl(["board", "check", file, "--json"]);
    assert.equal(r.code, 2);
    const report = JSON.parse(r.stdout) as { valid: boolean; problems: Json[] };
    assert.equal(report.valid, false);
    assert.deepEqual(report.problems[0], {
      where: `${file}:${line2}`,
      field: "devices[2].sharng",
      message: "unknown field 'sharng'",
    });

    await Deno.writeTextFile(file, text);
    r = await vmanctl(["board", "check", file]);
    assert.equal(r.code, 0, r.stderr);
    // --board FILE uses a board file directly, with the same checks.
    await Deno.writeTextFile(file, text.replace("base: 0x09030000", "base: 0x09000800"));
    r = await vmanctl(["--state-dir", `${dir}/s`, "--board", file, "create", "p"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /overlaps device 'uart0'.*b\.yaml:\d+\)$/m);
  });
});

Deno.test("board show lists what partitions may use; --json includes it", async () => {
  const r = await vmanctl(["board", "show", "qemu-virt-riscv64", "--json"]);
  assert.equal(r.code, 0);
  const board = JSON.parse(r.stdout) as {
    assignable: { cores: number[]; memory: Json[]; devices: string[] };
  };
  assert.deepEqual(board.assignable.cores, [1, 2, 3]);
  // Around the 2 MiB at 0xbfe00000 where QEMU puts OpenSBI's device tree.
  assert.deepEqual(board.assignable.memory, [
    { base: 0x90000000, size: 0x2fe00000 },
    { base: 0xc0000000, size: 0x40000000 },
  ]);
  const text = (await vmanctl(["board", "show", "qemu-virt-arm64"])).stdout;
  assert.match(text, /management: cores 0; memory 0x40000000-0x4fffffff \(256 MiB\)/);
  assert.equal((await vmanctl(["board", "show", "nope"])).code, 2);
});

Deno.test("bash completion completes commands, subcommands, options and partition names", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/vmanctl.bash`;
    await Deno.writeTextFile(script, (await vmanctl(["completion", "bash"])).stdout);
    // A vmanctl on PATH for the completion's own calls.
    await Deno.writeTextFile(
      `${dir}/vmanctl`,
      `#!/bin/sh\nexec "${Deno.execPath()}" run -A "${ROOT}/main.ts" "$@"\n`,
      { mode: 0o755 },
    );
    assert.equal(
      (await vmanctl(["--state-dir", `${dir}/s`, "--board", "qemu-virt-arm64", "create", "web1"]))
        .code,
      0,
    );
    const complete = async (words: string[]) => {
      const cmd = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); ` +
        `COMP_CWORD=${words.length - 1}; _vmanctl; echo "\${COMPREPLY[@]}"`;
      const out = await new Deno.Command("bash", {
        args: ["-c", cmd],
        env: {
          PATH: `${dir}:${Deno.env.get("PATH")}`,
          VMAN_STATE_DIR: `${dir}/s`,
          VMAN_PLUGIN_PATH: "",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout).trim();
    };
    assert.equal(await complete(["vmanctl", "cr"]), "create");
    assert.equal(await complete(["vmanctl", "board", "s"]), "show");
    assert.equal(await complete(["vmanctl", "create", "x", "--mem"]), "--memory --memory-base");
    assert.equal(await complete(["vmanctl", "start", "w"]), "web1");
    assert.equal(await complete(["vmanctl", "--state-dir", `${dir}/s`, "start", "w"]), "web1");
    assert.equal(await complete(["vmanctl", "--board", "qemu-virt-arm6"]), "qemu-virt-arm64");
    assert.equal(await complete(["vmanctl", "board", "show", "qemu-virt-r"]), "qemu-virt-riscv64");
    const none = await vmanctl(["completion", "zsh"]);
    assert.equal(none.code, 2);
  });
});

Deno.test("as a real process: exit codes and one-line errors on stderr", async () => {
  await withTempDir(async (dir) => {
    const ok = await vmanctlProcess([
      "--state-dir",
      dir,
      "--board",
      "qemu-virt-arm64",
      "create",
      "p",
      "--json",
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual((JSON.parse(ok.stdout) as Json).cores, [1]);
    const busy = await vmanctlProcess(["--state-dir", dir, "create", "q", "--cpu-ids", "1"]);
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, "vmanctl: core 1 is held by partition p (q)\n");
    const bad = await vmanctlProcess(["--state-dir", dir, "create", "q", "--memory", "12Q"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
  });
});
