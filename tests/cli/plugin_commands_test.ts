/**
 * Commands from plugins: the libvirt plugin's `daemon`, and a plugin directory's
 * feature that adds a command.
 */
import assert from "node:assert/strict";
import { vmanctl, withTempDir } from "./helpers.ts";
import { defaults } from "../../plugins/libvirt/plugin.ts";

type Json = Record<string, unknown>;

Deno.test("vmanctl plugins lists libvirt as a built-in feature plugin that adds daemon", async () => {
  const text = await vmanctl(["plugins"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^feature +libvirt +0\.1\.0 +built-in +libvirt remote protocol/m);
  const json = await vmanctl(["plugins", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const libvirt = (JSON.parse(json.stdout) as Json[]).find((p) => p.name === "libvirt");
  assert.deepEqual(libvirt, {
    kind: "feature",
    name: "libvirt",
    version: "0.1.0",
    apiVersion: 1,
    description: "libvirt remote protocol: vmanctl daemon serves virsh and libvirt clients",
    source: "built-in",
    commands: ["daemon"],
  });
});

Deno.test("the libvirt plugin's default socket is the server's", async () => {
  // Imported here: the server's modules load only for this test.
  const { DEFAULT_SOCKET } = await import("../../plugins/libvirt/mod.ts");
  assert.equal(defaults.socket, DEFAULT_SOCKET);
});

Deno.test("daemon is in help and completion as before, with its options", async () => {
  const help = (await vmanctl(["--help"])).stdout;
  const commands = help.split("\n").filter((l) => /^ {2}\w/.test(l)).map((l) => l.trim());
  const at = (name: string) => commands.findIndex((l) => l.startsWith(`${name} `));
  assert.ok(at("dtb") >= 0 && at("daemon") === at("dtb") + 1, help);
  assert.equal(at("completion"), at("daemon") + 1);
  const daemon = await vmanctl(["daemon", "--help"]);
  assert.equal(daemon.code, 0);
  assert.match(
    daemon.stdout,
    /^Usage: vmanctl \[global options\] daemon \[--socket PATH\] \[--ro-socket PATH\]/,
  );
  assert.match(
    daemon.stdout,
    /--socket PATH +read-write socket \(default \/run\/vmanager\/libvirt-sock\)/,
  );
  const script = (await vmanctl(["completion", "bash"])).stdout;
  assert.match(script, /"daemon"\) opts="--socket --ro-socket"; arg="" ;;/);
  assert.match(script, /compgen -W "board plugins .*dtb daemon completion /);
  const bad = await vmanctl(["daemon", "--sockett", "x"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "vmanctl: unknown option --sockett (vmanctl daemon)\n");
});

const GREET = `export const plugin = {
  kind: "feature", name: "greet", version: "1.0.0", apiVersion: 1,
  description: "says hello (test)",
  commands: () => [{
    name: "hello", summary: "Say hello.", args: [{ name: "WHO", required: false }],
    options: [{ name: "loud", help: "shout" }],
    run: async (ctx, input) => {
      const text = "hello " + (input.args.WHO ?? "world");
      ctx.io.out(input.options.loud ? text.toUpperCase() : text);
      return 0;
    },
  }],
};
`;

const LISTER = `export const plugin = {
  kind: "feature", name: "lister", version: "1.0.0", apiVersion: 1, description: "d",
  commands: () => [{ name: "list", summary: "s", args: [], options: [], run: async () => 0 }],
};
`;

Deno.test("a plugin directory's feature adds a command; one taking a built-in's name is refused", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/greet.ts`, GREET);
    await Deno.writeTextFile(`${dir}/lister.ts`, LISTER);
    const env = { VMAN_PLUGIN_PATH: dir, VMAN_STATE_DIR: `${dir}/state` };
    const refusal = `vmanctl: warning: plugin refused: feature plugin 'lister': ` +
      `command 'list' is taken by the built-in command 'list' (${dir}/lister.ts)\n`;

    const run = await vmanctl(["hello", "--loud", "you"], env);
    assert.deepEqual(run, { code: 0, stdout: "HELLO YOU\n", stderr: refusal });
    const flags = await vmanctl(["--plugin-dir", dir, "hello"], { VMAN_STATE_DIR: `${dir}/s` });
    assert.equal(flags.stdout, "hello world\n");
    const help = await vmanctl(["--help"], env);
    assert.match(help.stdout, /^ {2}hello +Say hello\.$/m);
    assert.equal(help.stderr, refusal);
    const plugins = await vmanctl(["plugins", "--json"], env);
    const greet = (JSON.parse(plugins.stdout) as Json[]).find((p) => p.name === "greet")!;
    assert.deepEqual(greet.commands, ["hello"]);
    assert.equal(plugins.stderr, refusal);

    // A built-in command loads no plugins to be parsed: no warning, the built-in list runs.
    const list = await vmanctl(["list", "--json"], env);
    assert.deepEqual(list, { code: 0, stdout: "[]\n", stderr: "" });
    const unknown = await vmanctl(["helo"], env);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /vmanctl: unknown command 'helo' \(vmanctl --help lists the commands\)\n$/,
    );
  });
});
