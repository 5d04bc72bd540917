/**
 * The registry's hook checks: every hook of every kind, from the kinds' tables in
 * core/registry/descriptor.ts, and the commands feature plugins add.
 */
import assert from "node:assert/strict";
import { armv8 } from "../../arch/armv8/mod.ts";
import { PluginError } from "../../core/errors.ts";
import { dryRunMonitor } from "../../core/monitor/dry_run.ts";
import { buildRegistry } from "../../core/registry/discover.ts";
import {
  checkPlugin,
  type FeaturePlugin,
  HOOKS,
  PLUGIN_API_VERSION,
  PLUGIN_KINDS,
  type PluginCommand,
  type PluginKind,
  Registry,
  type ReservedNames,
} from "../../core/registry/mod.ts";

const base = (kind: PluginKind, name: string) => ({
  kind,
  name,
  version: "0.0.1",
  apiVersion: PLUGIN_API_VERSION,
  description: "for tests",
});

/** A well-formed plugin of each kind (what checkPlugin checks; boards are not ruled here). */
const GOOD: Record<PluginKind, Record<string, unknown>> = {
  arch: { ...armv8() },
  feature: base("feature", "feat"),
  monitor: { ...dryRunMonitor(), name: "mon" },
  board: { ...base("board", "brd"), board: {} },
};

/** A value of another type than a hook's. */
function wrongValue(type: string): unknown {
  return type === "function" ? 1 : () => 1;
}

/** Runs `run`, expecting a one-line PluginError naming `source`; returns its line. */
function refused(run: () => unknown, source: string): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof PluginError, `a PluginError, not ${String(error)}`);
    const line = error.line();
    assert.ok(!line.includes("\n"), line);
    assert.ok(line.endsWith(`(${source})`), line);
    return line;
  }
  assert.fail("not refused");
}

Deno.test("the well-formed plugin of each kind passes", () => {
  for (const kind of PLUGIN_KINDS) checkPlugin(GOOD[kind], "good.ts");
});

Deno.test("every hook of every kind is checked: a value of the wrong type is refused, naming plugin and hook", () => {
  for (const kind of PLUGIN_KINDS) {
    const rules: Record<string, { type: string; optional: boolean }> = HOOKS[kind];
    for (const [hook, rule] of Object.entries(rules)) {
      const plugin = { ...GOOD[kind], [hook]: wrongValue(rule.type) };
      const line = refused(() => checkPlugin(plugin, "bad.ts"), "bad.ts");
      assert.ok(line.startsWith(`${kind} plugin '${plugin.name}'`), line);
      assert.ok(line.includes(`'${hook}'`), line);
      if (!rule.optional) {
        const { [hook]: _gone, ...without } = GOOD[kind];
        refused(() => checkPlugin(without, "bad.ts"), "bad.ts");
      }
    }
  }
});

Deno.test("a bad hook on each kind is refused at registration with one line", () => {
  const registry = new Registry();
  const cases: [Record<string, unknown>, string][] = [
    [{ ...GOOD.monitor, observe: 1 }, "monitor plugin 'mon': 'observe' must be a function"],
    [{ ...GOOD.monitor, stats: {} }, "monitor plugin 'mon': 'stats' must be a function"],
    [{ ...GOOD.arch, planBoot: "x" }, "arch plugin 'armv8': 'planBoot' must be a function"],
    [
      { ...GOOD.arch, powerInterface: "spi" },
      "arch plugin 'armv8': 'powerInterface' must be psci or sbi",
    ],
    [{ ...GOOD.arch, bits: 16 }, "arch plugin 'armv8': 'bits' must be 32 or 64"],
    [
      { ...GOOD.arch, windowAlignment: 0 },
      "arch plugin 'armv8': 'windowAlignment' must be a positive number",
    ],
    [
      { ...GOOD.feature, partitionTree: 1 },
      "feature plugin 'feat': 'partitionTree' must be a function",
    ],
    [{ ...GOOD.feature, commands: [] }, "feature plugin 'feat': 'commands' must be a function"],
    [
      { ...GOOD.feature, devicetree: { read: () => 1 } },
      "feature plugin 'feat': 'devicetree' needs read, write and dts functions",
    ],
    [{ ...GOOD.board, devicetree: "x.dtb" }, "board plugin 'brd': 'devicetree' must be an object"],
    [{ ...GOOD.board, devicetree: [1] }, "board plugin 'brd': 'devicetree' must be a Uint8Array"],
    [{ ...GOOD.board, board: null }, "board plugin 'brd' needs 'board' (an object)"],
  ];
  for (const [plugin, message] of cases) {
    assert.equal(refused(() => registry.register(plugin, "p.ts"), "p.ts"), `${message} (p.ts)`);
  }
  assert.deepEqual(registry.list(), []);
});

const RESERVED: ReservedNames = {
  commands: ["list", "board list", "completion"],
  options: ["json", "state-dir", "v", "verbose"],
};

function command(name: string, extra: Partial<PluginCommand> = {}): PluginCommand {
  return {
    name,
    summary: `${name} (test)`,
    args: [{ name: "NAME", required: false, complete: "partition" }],
    options: [{ name: "to", value: "WHO", help: "whom" }],
    run: () => Promise.resolve(0),
    ...extra,
  };
}

function feature(name: string, commands: () => unknown): FeaturePlugin {
  return { ...base("feature", name), commands } as FeaturePlugin;
}

Deno.test("a feature plugin's commands are registered and listed", () => {
  const registry = new Registry({ reserved: RESERVED });
  registry.register(feature("greet", () => [command("hello"), command("greet all")]), "g.ts");
  registry.register(feature("other", () => [command("zap")]), "o.ts");
  assert.deepEqual(registry.commands().map((c) => c.name), ["hello", "greet all", "zap"]);
  assert.deepEqual(registry.list("feature")[0].commands?.map((c) => c.name), [
    "hello",
    "greet all",
  ]);
});

Deno.test("bad commands are refused with one line naming plugin and command", () => {
  const registry = new Registry({ reserved: RESERVED });
  registry.register(feature("first", () => [command("hello")]), "first.ts");
  const cases: [() => unknown, string][] = [
    [() => [command("list")], "command 'list' is taken by the built-in command 'list'"],
    [
      () => [command("board zap")],
      "command 'board zap' is taken by the built-in command 'board list'",
    ],
    [
      () => [command("hello")],
      "command 'hello' is already added by feature plugin 'first' from first.ts",
    ],
    [() => [command("Bad Name!")], "command 'Bad Name!' must be named by one or two words"],
    [() => [command("x", { run: undefined as never })], "command 'x' must have a function 'run'"],
    [() => [command("x", { summary: 1 as never })], "command 'x' must have a string 'summary'"],
    [
      () => [command("x", { options: [{ name: "json", help: "mine" }] })],
      "command 'x' option --json hides the global option --json",
    ],
    [
      () => [command("x", { options: [{ name: "loud", short: "v", help: "" }] })],
      "command 'x' option --loud hides the global option -v",
    ],
    [
      () => [command("x", { options: [{ name: "help", help: "" }] })],
      "command 'x' option --help hides the global option --help",
    ],
    [
      () => [command("x", { args: [{ name: "A" } as never] })],
      "command 'x' argument A needs a boolean 'required'",
    ],
    [() => [command("x"), command("x")], "command 'x' is given twice"],
    [() => "daemon", "'commands' must return an array of commands"],
    [() => [7], "command 0 must be an object"],
    [() => {
      throw new Error("boom");
    }, "'commands' threw: boom"],
  ];
  for (const [commands, message] of cases) {
    const line = refused(() => registry.register(feature("bad", commands), "bad.ts"), "bad.ts");
    assert.ok(line.startsWith(`feature plugin 'bad': ${message}`), line);
  }
  assert.deepEqual(registry.list("feature").map((e) => e.plugin.name), ["first"]);
  assert.deepEqual(registry.commands().map((c) => c.name), ["hello"]);
});

Deno.test("buildRegistry: a plugin dir's feature adds a command; one taking a built-in name is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vman-hooks-" });
  try {
    const module = (name: string, commandName: string) =>
      `export const plugin = { kind: "feature", name: "${name}", version: "1", apiVersion: 1,
  description: "d", commands: () => [{ name: "${commandName}", summary: "s", args: [],
  options: [], run: async () => 0 }] };\n`;
    await Deno.writeTextFile(`${dir}/a.ts`, module("hello", "hello"));
    await Deno.writeTextFile(`${dir}/b.ts`, module("lister", "list"));
    await Deno.writeTextFile(
      `${dir}/c.ts`,
      `export const plugin = { ...${
        JSON.stringify(base("monitor", "m"))
      }, create: () => ({}), observe: 1 };\n`,
    );
    const warnings: string[] = [];
    const registry = await buildRegistry({
      builtins: [armv8(), dryRunMonitor()],
      boardFiles: [],
      pluginDirs: [dir],
      reserved: RESERVED,
      warn: (line) => warnings.push(line),
    });
    assert.deepEqual(registry.commands().map((c) => c.name), ["hello"]);
    assert.deepEqual(warnings, [
      `plugin refused: feature plugin 'lister': command 'list' is taken by the built-in command 'list' (${dir}/b.ts)`,
      `plugin refused: monitor plugin 'm': 'observe' must be a function (${dir}/c.ts)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
