import assert from "node:assert/strict";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { boardPluginFromYaml, loadBoardYaml } from "../../core/board/load.ts";
import { EXIT_USAGE, InputError, PluginError } from "../../core/errors.ts";
import { dryRunMonitor } from "../../core/monitor/dry_run.ts";
import { buildRegistry, DEFAULT_PLUGIN_DIR, pluginDirs } from "../../core/registry/discover.ts";
import type { BoardFile } from "../../core/registry/discover.ts";
import {
  type ArchPlugin,
  checkPlugin,
  type MonitorPlugin,
  type Plugin,
  PLUGIN_API_VERSION,
  Registry,
} from "../../core/registry/mod.ts";

const BOARD_FILES = [
  "boards/qemu-virt-arm.yaml",
  "boards/qemu-virt-arm64.yaml",
  "boards/qemu-virt-riscv64.yaml",
];

function repoPath(relative: string): string {
  return new URL(`../../${relative}`, import.meta.url).pathname;
}

async function builtinBoardFiles(): Promise<BoardFile[]> {
  return await Promise.all(
    BOARD_FILES.map(async (file) => ({ file, text: await Deno.readTextFile(repoPath(file)) })),
  );
}

function builtins(): Plugin[] {
  return [armv7(), armv8(), riscv(), dryRunMonitor()];
}

function fullRegistry(): Registry {
  const registry = new Registry();
  for (const plugin of builtins()) registry.register(plugin, "built-in");
  return registry;
}

/** Runs `run` expecting a one-line PluginError naming `source`; returns it. */
function refusedPlugin(run: () => unknown, source: string, message: RegExp): PluginError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof PluginError, `expected a PluginError, got ${String(caught)}`);
  assert.ok(caught instanceof InputError);
  assert.equal(caught.exitCode, EXIT_USAGE);
  assert.equal(caught.where, source);
  assert.match(caught.message, message);
  assert.ok(!caught.line().includes("\n"), `one line: ${caught.line()}`);
  assert.ok(caught.line().endsWith(`(${source})`), caught.line());
  return caught;
}

const MONITOR: MonitorPlugin = {
  kind: "monitor",
  name: "test-monitor",
  version: "0.0.1",
  apiVersion: PLUGIN_API_VERSION,
  description: "a monitor for tests",
  create: () => dryRunMonitor().create({ stateDir: "/nonexistent", board: undefined as never }),
};

Deno.test("registering the arch plugins and the dry-run monitor; typed lookups", () => {
  const registry = new Registry();
  const returned = registry.register(armv8(), "built-in");
  assert.equal(returned.name, "armv8");
  registry.register(armv7(), "built-in");
  registry.register(riscv(), "built-in");
  registry.register(dryRunMonitor(), "built-in");

  const v8: ArchPlugin = registry.get("arch", "armv8");
  assert.equal(v8.bits, 64);
  assert.equal(v8.validateCoreId(0x1000000) !== undefined, true);
  assert.equal(registry.get("arch", "armv7").bits, 32);
  assert.equal(registry.get("arch", "riscv").powerInterface, "sbi");

  const monitor: MonitorPlugin = registry.get("monitor", "dry-run");
  const backend = monitor.create({ stateDir: "/nonexistent", board: undefined as never });
  assert.equal(backend.backend, "dry-run");

  assert.equal(registry.has("arch", "armv8"), true);
  assert.equal(registry.has("monitor", "armv8"), false, "names are per kind");
  assert.equal(registry.has("board", "qemu-virt-arm64"), false);
});

Deno.test("list gives entries sorted by name, grouped by kind, with their sources", () => {
  const registry = new Registry();
  registry.register(dryRunMonitor(), "built-in");
  registry.register(riscv(), "built-in");
  registry.register(armv8(), "/plugins/armv8.ts");
  registry.register(armv7(), "built-in");
  registry.register(
    { kind: "feature", name: "psci", version: "1", apiVersion: 1, description: "d" },
    "built-in",
  );
  assert.deepEqual(registry.list("arch").map((e) => e.plugin.name), ["armv7", "armv8", "riscv"]);
  assert.deepEqual(
    registry.list().map((e) => `${e.plugin.kind}:${e.plugin.name}:${e.source}`),
    [
      "arch:armv7:built-in",
      "arch:armv8:/plugins/armv8.ts",
      "arch:riscv:built-in",
      "feature:psci:built-in",
      "monitor:dry-run:built-in",
    ],
  );
  assert.deepEqual(registry.list("board"), []);
});

Deno.test("get of an unknown name is an InputError listing the known names", () => {
  const registry = fullRegistry();
  assert.throws(
    () => registry.get("arch", "mips"),
    (error: unknown) =>
      error instanceof InputError && error.exitCode === 2 &&
      error.message === "no arch plugin named 'mips' (known: armv7, armv8, riscv)",
  );
  assert.throws(
    () => registry.get("board", "x"),
    (error: unknown) => error instanceof InputError && /\(known: none\)$/.test(error.message),
  );
});

Deno.test("a duplicate name is refused with a PluginError naming both sources", () => {
  const registry = fullRegistry();
  const error = refusedPlugin(
    () => registry.register(armv8(), "/etc/vmanager/plugins/armv8.ts"),
    "/etc/vmanager/plugins/armv8.ts",
    /^arch plugin 'armv8' is already registered from built-in$/,
  );
  assert.equal(
    error.line(),
    "arch plugin 'armv8' is already registered from built-in (/etc/vmanager/plugins/armv8.ts)",
  );
  // The first registration stays.
  assert.equal(registry.list("arch").find((e) => e.plugin.name === "armv8")!.source, "built-in");

  registry.register(MONITOR, "/a/one.ts");
  refusedPlugin(
    () => registry.register({ ...MONITOR }, "/b/two.ts"),
    "/b/two.ts",
    /monitor plugin 'test-monitor' is already registered from \/a\/one\.ts/,
  );
});

Deno.test("a wrong apiVersion is refused, naming both versions", () => {
  const registry = new Registry();
  refusedPlugin(
    () => registry.register({ ...armv8(), apiVersion: 2 }, "p.ts"),
    "p.ts",
    /arch plugin 'armv8' is written for plugin API 2, this vmanager speaks API 1/,
  );
  refusedPlugin(
    () => registry.register({ ...MONITOR, apiVersion: "1" }, "p.ts"),
    "p.ts",
    /plugin API "1"/,
  );
  const { apiVersion: _, ...noVersion } = MONITOR;
  refusedPlugin(() => registry.register(noVersion, "p.ts"), "p.ts", /written for plugin API/);
  assert.equal(registry.has("arch", "armv8"), false);
  assert.equal(registry.has("monitor", "test-monitor"), false);
});

Deno.test("missing hooks are refused, naming the hook and its type", () => {
  const registry = new Registry();
  const { validateCoreId: _v, ...noValidate } = armv8();
  refusedPlugin(
    () => registry.register(noValidate, "a.ts"),
    "a.ts",
    /^arch plugin 'armv8' needs 'validateCoreId' \(a function\)$/,
  );
  refusedPlugin(
    () => registry.register({ ...armv8(), bits: "64" }, "a.ts"),
    "a.ts",
    /needs 'bits' \(a number\)/,
  );
  const { create: _c, ...noCreate } = MONITOR;
  refusedPlugin(
    () => registry.register(noCreate, "m.ts"),
    "m.ts",
    /^monitor plugin 'test-monitor' needs 'create' \(a function\)$/,
  );
  refusedPlugin(
    () =>
      registry.register(
        { kind: "board", name: "b", version: "1", apiVersion: 1, description: "d", board: null },
        "b.yaml",
      ),
    "b.yaml",
    /board plugin 'b' needs 'board'/,
  );
  refusedPlugin(
    () => registry.register({ ...MONITOR, version: 1 }, "m.ts"),
    "m.ts",
    /has no string 'version'/,
  );
  refusedPlugin(
    () => registry.register({ ...MONITOR, description: undefined }, "m.ts"),
    "m.ts",
    /has no string 'description'/,
  );
  assert.deepEqual(registry.list(), []);
});

Deno.test("a bad kind is refused, listing the kinds", () => {
  const registry = new Registry();
  refusedPlugin(
    () => registry.register({ ...MONITOR, kind: "widget" }, "w.ts"),
    "w.ts",
    /^plugin kind "widget" is not one of arch, feature, monitor, board$/,
  );
  const { kind: _, ...noKind } = MONITOR;
  refusedPlugin(() => registry.register(noKind, "w.ts"), "w.ts", /plugin kind undefined/);
});

Deno.test("a bad name is refused", () => {
  const registry = new Registry();
  for (const name of ["Bad", "bad_name", "-lead", "", "a".repeat(64), "white space", 7, null]) {
    refusedPlugin(
      () => registry.register({ ...MONITOR, name }, "n.ts"),
      "n.ts",
      /^monitor plugin name .* must be lowercase letters, digits and dashes$/,
    );
  }
  registry.register({ ...MONITOR, name: "a".repeat(63) }, "n.ts");
  registry.register({ ...MONITOR, name: "0-x-1" }, "n.ts");
  assert.equal(registry.list("monitor").length, 2);
});

Deno.test("non-objects are refused", () => {
  const registry = new Registry();
  for (const value of [null, undefined, "plugin", 42, true]) {
    refusedPlugin(() => registry.register(value, "x.ts"), "x.ts", /^a plugin must be an object$/);
  }
});

Deno.test("the set of architectures is open: any well-formed arch plugin registers", () => {
  const registry = fullRegistry();
  registry.register({ ...armv8(), name: "mips64" }, "mips.ts");
  assert.equal(registry.get("arch", "mips64").unameMachine, "aarch64");
  assert.deepEqual(
    registry.list("arch").map((e) => e.plugin.name),
    ["armv7", "armv8", "mips64", "riscv"],
  );
});

Deno.test("an arch plugin's conduits, uname name and qemu hints are checked", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ conduits: undefined }, /needs 'conduits' \(an object\)/],
    [{ conduits: [] }, /'conduits' must be a non-empty array/],
    [{ conduits: ["SMC"] }, /'conduits' must hold lowercase words/],
    [{ conduits: ["smc", "smc"] }, /'conduits' must not repeat/],
    [{ unameMachine: "" }, /'unameMachine' must be a lowercase word/],
    [{ detectCpu: "arm" }, /'detectCpu' must be a function/],
    [{ importConduit: 1 }, /'importConduit' must be a function/],
    [{ qemu: { stubLoad: "bios" } }, /'qemu' stubLoad must be kernel or loader/],
    [{ qemu: { stubLoad: "kernel", oneAtATime: 1 } }, /'qemu' oneAtATime must be a string/],
  ];
  for (const [change, message] of bad) {
    refusedPlugin(() => checkPlugin({ ...armv8(), ...change }, "a.ts"), "a.ts", message);
  }
});

Deno.test("a board plugin whose arch is not registered is refused", async () => {
  const text = await Deno.readTextFile(repoPath("boards/qemu-virt-riscv64.yaml"));
  const plugin = boardPluginFromYaml(text, "boards/qemu-virt-riscv64.yaml");
  const registry = new Registry();
  registry.register(armv8(), "built-in");
  refusedPlugin(
    () => registry.register(plugin, "boards/qemu-virt-riscv64.yaml"),
    "boards/qemu-virt-riscv64.yaml",
    /^board 'qemu-virt-riscv64' needs arch plugin 'riscv', which is not registered$/,
  );
  assert.equal(registry.has("board", "qemu-virt-riscv64"), false);
  registry.register(riscv(), "built-in");
  registry.register(plugin, "boards/qemu-virt-riscv64.yaml");
  assert.equal(registry.get("board", "qemu-virt-riscv64").board.arch, "riscv");
});

Deno.test("a board plugin is checked against its arch's core id rules and its own name", async () => {
  const text = await Deno.readTextFile(repoPath("boards/qemu-virt-arm.yaml"));
  const { board } = loadBoardYaml(text, "arm.yaml");
  const registry = fullRegistry();
  const bad = {
    ...boardPluginFromYaml(text, "arm.yaml"),
    board: { ...board, cores: [...board.cores.slice(0, 3), { id: 3, hwid: 0x1000000 }] },
  };
  refusedPlugin(
    () => registry.register(bad, "mod.ts"),
    "mod.ts",
    /^board 'qemu-virt-arm': cores\[3\]\.hwid: MPIDR 0x1000000 sets bits 31:24/,
  );
  refusedPlugin(
    () => registry.register({ ...boardPluginFromYaml(text, "arm.yaml"), name: "other" }, "o.ts"),
    "o.ts",
    /board plugin 'other' describes board 'qemu-virt-arm'/,
  );
});

Deno.test("pluginDirs: the default only when neither flags nor VMAN_PLUGIN_PATH give a dir", () => {
  assert.equal(DEFAULT_PLUGIN_DIR, "/etc/vmanager/plugins");
  assert.deepEqual(pluginDirs([], undefined), { dirs: ["/etc/vmanager/plugins"], isDefault: true });
  assert.deepEqual(pluginDirs([], ""), { dirs: ["/etc/vmanager/plugins"], isDefault: true });
  assert.deepEqual(pluginDirs([], ":::"), { dirs: ["/etc/vmanager/plugins"], isDefault: true });
  assert.deepEqual(pluginDirs(["/a"], undefined), { dirs: ["/a"], isDefault: false });
  assert.deepEqual(pluginDirs([], "/b"), { dirs: ["/b"], isDefault: false });
  assert.deepEqual(pluginDirs(["/a", "/z"], "/b::/c:"), {
    dirs: ["/a", "/z", "/b", "/c"],
    isDefault: false,
  });
});

/** A temp plugin dir holding good and bad plugins. */
async function makePluginDir(): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "vman-plugins-" });
  // The copy's device tree lies beside it, as it does beside the original.
  await Deno.copyFile(repoPath("boards/qemu-virt-arm64.dtb"), `${dir}/qemu-virt-arm64.dtb`);
  const arm64 = await Deno.readTextFile(repoPath("boards/qemu-virt-arm64.yaml"));
  const renamed = arm64.replace(/^name: qemu-virt-arm64$/m, "name: my-board");
  assert.notEqual(renamed, arm64);
  const files: Record<string, string> = {
    "my-board.yaml": renamed,
    "broken.yaml": "name: broken\ndescription: [unclosed\narch: armv8\n",
    "good-monitor.ts": `export const plugin = {
  kind: "monitor",
  name: "test-null",
  version: "0.0.1",
  apiVersion: 1,
  description: "a monitor from a plugin dir",
  create: () => ({ backend: "test-null" }),
};
`,
    "syntax-error.ts": "export const plugin = { kind: 'monitor', name: ;\n",
    "nothing.ts": "export const unrelated = 42;\n",
    "old-api.ts": `export const plugins = [{
  kind: "feature", name: "old", version: "1", apiVersion: 0, description: "old",
}];
`,
    "README.txt": "not a plugin\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return { dir, files };
}

Deno.test("buildRegistry: good plugin files register, each bad one gives one warning naming it", async () => {
  const { dir } = await makePluginDir();
  try {
    const warnings: string[] = [];
    const registry = await buildRegistry({
      builtins: builtins(),
      boardFiles: await builtinBoardFiles(),
      pluginDirs: [dir],
      warn: (line) => warnings.push(line),
    });

    // The good ones registered, with their files as sources.
    const board = registry.list("board").find((e) => e.plugin.name === "my-board");
    assert.ok(board, "my-board registered");
    assert.equal(board.source, `${dir}/my-board.yaml`);
    assert.equal(registry.get("board", "my-board").board.arch, "armv8");
    const monitor = registry.list("monitor").find((e) => e.plugin.name === "test-null");
    assert.ok(monitor, "test-null registered");
    assert.equal(monitor.source, `${dir}/good-monitor.ts`);
    assert.equal(
      registry.get("monitor", "test-null").create({ stateDir: dir, board: board.plugin.board })
        .backend,
      "test-null",
    );

    // The built-ins are unaffected.
    assert.deepEqual(
      registry.list("board").map((e) => e.plugin.name),
      ["my-board", "qemu-virt-arm", "qemu-virt-arm64", "qemu-virt-riscv64"],
    );
    assert.deepEqual(registry.list("arch").map((e) => e.plugin.name), ["armv7", "armv8", "riscv"]);
    assert.ok(registry.has("monitor", "dry-run"));
    assert.equal(registry.has("feature", "old"), false);

    // One warning per bad file, each one line naming its file; none for the good ones.
    const bad = ["broken.yaml", "syntax-error.ts", "nothing.ts", "old-api.ts"];
    assert.equal(warnings.length, bad.length, warnings.join("\n"));
    for (const line of warnings) {
      assert.ok(!line.includes("\n"), `one line: ${JSON.stringify(line)}`);
      assert.match(line, /^plugin refused: /);
    }
    for (const name of bad) {
      const naming = warnings.filter((line) => line.includes(`${dir}/${name}`));
      assert.equal(naming.length, 1, `${name}: ${warnings.join(" | ")}`);
    }
    for (const name of ["my-board.yaml", "good-monitor.ts", "README.txt"]) {
      assert.ok(!warnings.some((line) => line.includes(name)), `no warning for ${name}`);
    }
    const about = (name: string) => warnings.find((line) => line.includes(`${dir}/${name}`))!;
    assert.match(about("broken.yaml"), new RegExp(`YAML: .*\\(${dir}/broken\\.yaml:\\d+\\)$`));
    assert.match(about("syntax-error.ts"), /cannot load module/);
    assert.match(about("nothing.ts"), /exports neither 'plugin' nor 'plugins'/);
    assert.match(about("old-api.ts"), /written for plugin API 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildRegistry: a plugin-dir board repeating a built-in name is refused, the built-in kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vman-plugins-" });
  try {
    const arm64 = await Deno.readTextFile(repoPath("boards/qemu-virt-arm64.yaml"));
    await Deno.copyFile(repoPath("boards/qemu-virt-arm64.dtb"), `${dir}/qemu-virt-arm64.dtb`);
    await Deno.writeTextFile(`${dir}/copy.yaml`, arm64);
    const warnings: string[] = [];
    const registry = await buildRegistry({
      builtins: builtins(),
      boardFiles: await builtinBoardFiles(),
      pluginDirs: [dir],
      warn: (line) => warnings.push(line),
    });
    assert.deepEqual(warnings, [
      `plugin refused: board plugin 'qemu-virt-arm64' is already registered from built-in (${dir}/copy.yaml)`,
    ]);
    assert.equal(
      registry.list("board").find((e) => e.plugin.name === "qemu-virt-arm64")!.source,
      "built-in",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildRegistry: a missing plugin dir is warned about unless it is the default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vman-plugins-" });
  try {
    const missing = `${dir}/does-not-exist`;
    const warnings: string[] = [];
    const registry = await buildRegistry({
      builtins: builtins(),
      boardFiles: [],
      pluginDirs: [missing],
      warn: (line) => warnings.push(line),
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^plugin dir skipped: .*\(.*does-not-exist\)$/);
    assert.equal(registry.list("arch").length, 3);

    const quiet: string[] = [];
    await buildRegistry({
      builtins: builtins(),
      boardFiles: [],
      pluginDirs: [missing],
      defaultDirs: true,
      warn: (line) => quiet.push(line),
    });
    assert.deepEqual(quiet, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildRegistry: a bad built-in throws instead of warning", async () => {
  await assert.rejects(
    buildRegistry({
      builtins: [armv8(), armv8()],
      boardFiles: [],
      pluginDirs: [],
      warn: () => assert.fail("no warning for built-ins"),
    }),
    PluginError,
  );
  await assert.rejects(
    buildRegistry({
      builtins: [armv8()],
      boardFiles: await builtinBoardFiles(), // qemu-virt-arm needs armv7
      pluginDirs: [],
      warn: () => assert.fail("no warning for built-ins"),
    }),
    /needs arch plugin 'armv7'/,
  );
});
