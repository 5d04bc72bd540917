/**
 * `vmanctl update NAME -f SPEC.yaml` and `vmanctl edit NAME`: a defined partition
 * is allocated again in place, a running one gets the new definition at its next
 * start; conflicts and bad edits change nothing.
 */
import assert from "node:assert/strict";
import type { PartitionSpec } from "../../core/model.ts";
import { vmanctl, withTempDir } from "./helpers.ts";

const MiB = 2 ** 20;

interface View {
  state: string;
  cores: number[];
  memory: { base: number; size: number };
  transient?: boolean;
}

async function show(dir: string, name: string): Promise<View> {
  const r = await vmanctl(["--state-dir", dir, "show", name, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as View;
}

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one error line expected, got:\n${stderr}`);
  assert.match(lines[0], /^vmanctl: .+/);
  assert.match(lines[0], pattern);
}

/** A state dir with partitions a (1 core, 128M) and b (core 3). */
async function setUp(dir: string): Promise<string[]> {
  const s = ["--state-dir", dir];
  const a = await vmanctl([...s, "--board", "qemu-virt-arm64", "create", "a", "--memory", "128M"]);
  assert.equal(a.code, 0, a.stderr);
  const b = await vmanctl([...s, "create", "b", "--cpu-ids", "3", "--memory", "128M"]);
  assert.equal(b.code, 0, b.stderr);
  return s;
}

Deno.test("update -f of a defined partition re-allocates it in place; a conflict or another name changes nothing", async () => {
  await withTempDir(async (dir) => {
    const s = await setUp(dir);
    const before = await show(dir, "b");
    await Deno.writeTextFile(`${dir}/b.yaml`, "cpu-ids: [3]\nmemory: 256M\n");
    const r = await vmanctl([...s, "update", "b", "-f", `${dir}/b.yaml`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Partition b updated: cores 3, memory 0x/);
    const after = await show(dir, "b");
    assert.equal(after.memory.size, 256 * MiB);
    assert.equal(after.memory.base, before.memory.base); // its own window does not conflict
    assert.deepEqual(after.cores, before.cores);
    const again = await vmanctl([...s, "update", "b", "-f", `${dir}/b.yaml`]);
    assert.equal(again.stdout, "Partition b unchanged\n");

    const state = await Deno.readTextFile(`${dir}/state.json`);
    await Deno.writeTextFile(`${dir}/busy.yaml`, "cpu-ids: [1, 3]\n");
    const busy = await vmanctl([...s, "update", "a", "-f", `${dir}/busy.yaml`]);
    assert.equal(busy.code, 1);
    assertOneLineError(busy.stderr, /core 3 is held by partition b/);
    await Deno.writeTextFile(`${dir}/other.yaml`, "name: b\ncpus: 1\n");
    const other = await vmanctl([...s, "update", "a", "-f", `${dir}/other.yaml`]);
    assert.equal(other.code, 2);
    assertOneLineError(other.stderr, /names partition 'b', not 'a'/);
    assert.equal(await Deno.readTextFile(`${dir}/state.json`), state);
  });
});

Deno.test("update of a running partition: it runs as it was, show names the next definition, its next start runs it", async () => {
  await withTempDir(async (dir) => {
    const s = await setUp(dir);
    assert.equal((await vmanctl([...s, "start", "a"])).code, 0);
    await Deno.writeTextFile(`${dir}/a.yaml`, "cpus: 2\nmemory: 256M\n");
    const r = await vmanctl([...s, "update", "a", "-f", `${dir}/a.yaml`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /keeps running as it is; its next start uses the new definition/);
    const running = await show(dir, "a");
    assert.equal(running.state, "running");
    assert.deepEqual(running.cores, [1]);
    assert.equal(running.memory.size, 128 * MiB);
    const text = (await vmanctl([...s, "show", "a"])).stdout;
    assert.match(text, /^Next: +cores 1,2, 256 MiB at /m);
    // What the next definition holds is held now: b cannot take core 2.
    await Deno.writeTextFile(`${dir}/b.yaml`, "cpu-ids: [2]\n");
    const busy = await vmanctl([...s, "update", "b", "-f", `${dir}/b.yaml`]);
    assert.equal(busy.code, 1);
    assertOneLineError(busy.stderr, /core 2 is held by partition a/);
    assert.equal((await vmanctl([...s, "stop", "a"])).code, 0);
    assert.equal((await vmanctl([...s, "start", "a"])).code, 0);
    const next = await show(dir, "a");
    assert.deepEqual(next.cores, [1, 2]);
    assert.equal(next.memory.size, 256 * MiB);
    assert.doesNotMatch((await vmanctl([...s, "show", "a"])).stdout, /^Next:/m);
  });
});

Deno.test("edit: a sed EDITOR changes the memory; an unchanged file changes nothing; a bad edit is one line, exit 2, nothing changed", async () => {
  await withTempDir(async (dir) => {
    const s = await setUp(dir);
    const edit = await vmanctl([...s, "edit", "a"], { EDITOR: "sed -i s/128M/512M/" });
    assert.equal(edit.code, 0, edit.stderr);
    assert.match(edit.stdout, /^Partition a updated/);
    assert.equal((await show(dir, "a")).memory.size, 512 * MiB);

    const state = await Deno.readTextFile(`${dir}/state.json`);
    const same = await vmanctl([...s, "edit", "a"], { EDITOR: "true", VISUAL: "" });
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, "Partition a: spec not changed\n");

    await Deno.writeTextFile(
      `${dir}/garbage.sh`,
      "#!/bin/sh\nprintf 'memory: [oops\\n' > \"$1\"\n",
    );
    await Deno.chmod(`${dir}/garbage.sh`, 0o755);
    const bad = await vmanctl([...s, "edit", "a"], { EDITOR: `${dir}/garbage.sh` });
    assert.equal(bad.code, 2);
    assertOneLineError(bad.stderr, /YAML|memory/);
    const unknown = await vmanctl([...s, "edit", "a"], { VISUAL: "sed -i s/^memory:/mem:/" });
    assert.equal(unknown.code, 2);
    assertOneLineError(unknown.stderr, /unknown field 'mem'/);
    const failing = await vmanctl([...s, "edit", "a"], { EDITOR: "false" });
    assert.equal(failing.code, 2);
    assertOneLineError(failing.stderr, /the editor exited with status 1; nothing was changed/);
    assert.equal(await Deno.readTextFile(`${dir}/state.json`), state);
    assert.equal((await vmanctl([...s, "edit", "nope"], { EDITOR: "true" })).code, 2);
  });
});

Deno.test("the spec file edit writes reads back as the same spec", async () => {
  const { specYaml } = await import("../../core/partition/spec_yaml.ts");
  const { readSpecFile, specFromText } = await import("../../core/partition/spec.ts");
  const spec: PartitionSpec = {
    name: "rt1",
    cpuIds: [2, 3],
    memory: 384 * MiB,
    memoryBase: 0x60000000,
    devices: ["uart0", "gpio0"],
    kernel: "/srv/Image",
    initrd: "/srv/initrd.img",
    cmdline: 'console=ttyAMA0 quote="x" # not a comment',
    onPoweroff: "restart",
    onReboot: "destroy",
    onCrash: "preserve",
    net: [{ mode: "user", forward: [{ host: 8080, guest: 80 }], device: "virtio1" }, {
      mode: "network",
      network: "lan",
    }],
    disks: [{ file: "/srv/rt1.img", readonly: true }],
  };
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/s.yaml`, specYaml(spec));
    const file = await readSpecFile(`${dir}/s.yaml`);
    assert.equal(file.name, "rt1");
    assert.deepEqual(specFromText("rt1", file.values), spec);
  });
});
