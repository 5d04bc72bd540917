/**
 * Start-up (docs/architecture.md, "Start-up"): what the commands that only read
 * load — no zod, no YAML parser, no Node compatibility layer (setTimeout's) —,
 * that `--help`'s few plugins add the commands every plugin adds, and that a
 * one-word command's own module parses its command lines as the full command
 * table does. The times are `deno task bench --only startup`'s: no timed
 * assertion here.
 */
import assert from "node:assert/strict";
import { buildRegistry } from "../../core/registry/discover.ts";
import { BUILTIN_TABLE, builtinPlugins, commandPlugins } from "../../main.ts";
import { arm64Image, ROOT, vmanctl, VMANCTL_FLAGS, withTempDir } from "./helpers.ts";
import { type CommandSpec, parseArgs } from "../../core/cli/args.ts";
import type { CliContext } from "../../core/cli/context.ts";
import { GLOBAL_OPTIONS } from "../../core/cli/app.ts";
import {
  BUILTIN_NAMES,
  builtinCommands,
  commandWord,
  oneWordCommands,
} from "../../core/cli/builtins.ts";

/** The modules a vmanctl process loads (Deno's module loader log). */
async function loaded(args: string[]): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, ...args],
    env: { VMAN_PLUGIN_PATH: "", DENO_LOG: "deno::module_loader=debug" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `vmanctl ${args.join(" ")} failed`);
  const log = new TextDecoder().decode(out.stderr);
  return [...log.matchAll(/code cache (?:hit|miss) for ES module: ([^,\s]+)/g)].map((m) => m[1]);
}

const HEAVY = [/\/zod\//, /\/yaml\//, /^node:/, /^ext:deno_node/];

Deno.test("the commands that only read load no zod, no YAML parser, no Node timers", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir];
    const board = ["--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, ...board, "create", "a", "--cpus", "1"])).code, 0);
    await Deno.writeTextFile(`${dir}/config.yaml`, `state-dir: ${dir}\n`);
    const config = ["--config", `${dir}/config.yaml`];
    for (
      const args of [
        ["--version"],
        ["--help"],
        [...s, "list", "--json"],
        [...config, "list", "--json"],
        [...s, "show", "a"],
      ]
    ) {
      const modules = await loaded(args);
      assert.ok(modules.some((m) => m.endsWith("/main.ts")), "the log names no module");
      const heavy = modules.filter((m) => HEAVY.some((h) => h.test(m)));
      assert.deepEqual(heavy, [], `vmanctl ${args.join(" ")} loads them`);
    }
  });
});

/**
 * The built-in plugin modules (main.ts's table) a module list holds, as `kind/name`;
 * not the dry-run backend's, which the lifecycle imports for its plans.
 */
function pluginModules(modules: readonly string[]): string[] {
  const files: [string, RegExp][] = [
    ["arch/armv7", /\/arch\/armv7\/mod\.ts$/],
    ["arch/armv8", /\/arch\/armv8\/mod\.ts$/],
    ["arch/riscv", /\/arch\/riscv\/mod\.ts$/],
    ["feature/fdt", /\/plugins\/fdt\/plugin\.ts$/],
    ["feature/psci", /\/plugins\/psci\/mod\.ts$/],
    ["feature/sbi", /\/plugins\/sbi\/mod\.ts$/],
    ["feature/libvirt", /\/plugins\/libvirt\/plugin\.ts$/],
    ["monitor/sim", /\/core\/monitor\/sim\.ts$/],
    ["monitor/device", /\/core\/monitor\/device\.ts$/],
    ["monitor/qemu", /\/plugins\/qemu\/mod\.ts$/],
  ];
  return files.filter(([, file]) => modules.some((m) => file.test(m))).map(([id]) => id);
}

Deno.test("main.ts's table names each built-in plugin by its own kind and name", async () => {
  const plugins = await builtinPlugins();
  assert.deepEqual(
    plugins.map((p) => `${p.kind}/${p.name}`),
    BUILTIN_TABLE.map((e) => `${e.kind}/${e.name}`),
  );
});

Deno.test("dtb, start and show load only the plugins they need", async () => {
  await withTempDir(async (dir) => {
    const image = `${dir}/Image`;
    await Deno.writeFile(image, arm64Image());
    const s = ["--state-dir", dir];
    const create = [...s, "--board", "qemu-virt-arm64", "create"];
    assert.equal((await vmanctl([...create, "a", "--cpus", "1", "--device", "uart0"])).code, 0);
    assert.equal((await vmanctl([...create, "k", "--cpus", "1", "--kernel", image])).code, 0);
    const cases: [string[], string[]][] = [
      [[...s, "list"], []],
      [[...s, "show", "a"], ["feature/fdt", "feature/libvirt", "feature/psci", "feature/sbi"]],
      [[...s, "dtb", "a", "-o", `${dir}/a.dtb`], [
        "arch/armv8",
        "feature/fdt",
        "feature/psci",
        "feature/sbi",
        "feature/libvirt",
      ]],
      // A kernel is read by every arch plugin (one of another arch is named as such).
      [[...s, "dtb", "k", "-o", `${dir}/k.dtb`], [
        "arch/armv7",
        "arch/armv8",
        "arch/riscv",
        "feature/fdt",
        "feature/psci",
        "feature/sbi",
        "feature/libvirt",
      ]],
      // start asks the others only when the board's arch plugin cannot read the kernel.
      [[...s, "start", "k"], [
        "arch/armv8",
        "feature/fdt",
        "feature/psci",
        "feature/sbi",
        "feature/libvirt",
      ]],
    ];
    for (const [args, expected] of cases) {
      const modules = await loaded(args);
      assert.deepEqual(pluginModules(modules).sort(), [...expected].sort(), args.join(" "));
    }
  });
});

Deno.test("list and show load neither the lifecycle nor what only other commands need", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir];
    const board = ["--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, ...board, "create", "a", "--cpus", "1"])).code, 0);
    const lazy = [
      /\/core\/partition\/lifecycle\.ts$/,
      /\/core\/partition\/transaction\.ts$/,
      /\/core\/cli\/commands\/completion\.ts$/,
      /\/core\/cli\/command_table\.ts$/,
      /\/core\/process\.ts$/,
      /\/scripts\/permissions\.ts$/,
    ];
    // show reads the configuration's plugin dirs for the device tree codec (its devices).
    const listOnly = [
      /\/core\/cli\/commands\/query\.ts$/,
      /\/core\/partition\/allocate\.ts$/,
      /\/core\/config\.ts$/,
    ];
    for (
      const [args, unwanted] of [[[...s, "list", "--json"], [...lazy, ...listOnly]], [[
        ...s,
        "show",
        "a",
      ], lazy]] as const
    ) {
      const modules = await loaded([...args]);
      const found = modules.filter((m) => unwanted.some((u) => u.test(m)));
      assert.deepEqual(found, [], `vmanctl ${args.join(" ")} loads them`);
    }
  });
});

Deno.test("the plugins --help loads add the commands every built-in plugin adds", async () => {
  const commands = async (builtins: Awaited<ReturnType<typeof builtinPlugins>>) =>
    (await buildRegistry({
      builtins,
      boardFiles: [],
      pluginDirs: [],
      boards: false,
      warn: (line) => assert.fail(line),
    })).commands().map((c) => c.name);
  assert.deepEqual(await commands(await commandPlugins()), await commands(await builtinPlugins()));
});

const completionStub: CommandSpec<CliContext> = {
  name: "completion",
  summary: "",
  args: [],
  options: [],
  run: () => Promise.resolve(0),
};

Deno.test("the built-in command names are those of the commands' modules, in help order", async () => {
  const all = await builtinCommands(completionStub);
  assert.deepEqual(all.map((c) => c.name), [...BUILTIN_NAMES]);
  for (const name of BUILTIN_NAMES.filter((n) => !n.includes(" "))) {
    const own = await oneWordCommands(name, completionStub);
    assert.ok(own?.some((c) => c === all.find((a) => a.name === name)), name);
  }
  assert.equal(await oneWordCommands("board", completionStub), undefined);
  assert.equal(await oneWordCommands("daemon", completionStub), undefined);
});

Deno.test("a one-word command's own commands parse its command lines as the full table does", async () => {
  const all = await builtinCommands(completionStub);
  const parse = (argv: string[], table: readonly CommandSpec<CliContext>[]) => {
    try {
      const p = parseArgs(argv, table, GLOBAL_OPTIONS);
      return JSON.stringify([p.command?.name, p.globals, p.options, p.args, p.help]);
    } catch (error) {
      return (error as Error).message;
    }
  };
  const lines = [
    ["--state-dir", "/s", "list", "--json"],
    ["list", "--name"],
    ["--json", "show", "a"],
    ["create", "a", "--cpus", "2", "--memory", "1G", "--device", "uart0"],
    ["start", "a", "-v"],
    ["plan", "b", "--cpus", "1", "-f", "x.yaml"],
    ["dtb", "a", "-o", "x.dtb", "--dts"],
    ["stats", "--json"],
    ["console", "a", "--force"],
    ["update", "a", "-f", "s.yaml"],
    ["--backend=qemu", "create", "x"],
    ["-h", "list"],
    ["list", "--cpus", "2"],
    ["create", "--bogus"],
    ["show", "a", "b"],
    ["completion", "bash"],
    ["__converge"],
    ["reset", "a", "--json"],
    ["--", "list", "x"],
  ];
  for (const argv of lines) {
    const word = commandWord(argv, GLOBAL_OPTIONS);
    const own = word === undefined ? undefined : await oneWordCommands(word, completionStub);
    assert.ok(own, `no own table for ${argv.join(" ")}`);
    assert.equal(parse(argv, own), parse(argv, all), argv.join(" "));
  }
  for (const argv of [["--cpus", "2", "list"], ["board", "list"], ["--help"], ["--state-dir"]]) {
    const word = commandWord(argv, GLOBAL_OPTIONS);
    const own = word === undefined ? undefined : await oneWordCommands(word, completionStub);
    assert.equal(own, undefined, `${argv.join(" ")}: the full table decides`);
  }
});
