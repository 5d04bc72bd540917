import assert from "node:assert/strict";
import type { PartitionView } from "../../core/cli/output.ts";
import { vmanctl, withTempDir } from "./helpers.ts";

type Json = Record<string, unknown>;

function parseList(stdout: string): PartitionView[] {
  return JSON.parse(stdout) as PartitionView[];
}

function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one error line expected, got:\n${stderr}`);
  assert.match(lines[0], /^vmanctl: .+ \(.+\)$/);
  assert.match(lines[0], pattern);
}

Deno.test("acceptance: create, conflicts, bad sizes and destroy on qemu-virt-arm64", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir];
    let r = await vmanctl([
      ...s,
      "--board",
      "qemu-virt-arm64",
      "create",
      "b",
      "--cpu-ids",
      "1",
      "--memory",
      "256M",
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await vmanctl([...s, "create", "a", "--cpus", "2", "--memory", "512M"]);
    assert.equal(r.code, 0, r.stderr);

    const list = parseList((await vmanctl([...s, "list", "--json"])).stdout);
    assert.deepEqual(list.map((p) => p.name), ["b", "a"]);
    const [b, a] = list;
    assert.deepEqual(b.cores, [1]);
    assert.deepEqual(a.cores, [2, 3]);
    assert.equal(b.memory.size, 256 * 2 ** 20);
    assert.equal(a.memory.size, 512 * 2 ** 20);
    assert.ok(
      b.memory.base + b.memory.size <= a.memory.base ||
        a.memory.base + a.memory.size <= b.memory.base,
    );
    for (const p of list) {
      assert.ok(p.memory.base >= 0x50000000, "outside the management partition's first 256 MiB");
      assert.equal(p.memory.base % (2 * 2 ** 20), 0);
    }
    const before = (await vmanctl([...s, "list", "--json"])).stdout;

    r = await vmanctl([...s, "create", "c", "--cpus", "4"]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /core 0 is held by the management partition/);
    assert.match(r.stderr, /core 1 by partition b/);
    assert.match(r.stderr, /cores 2,3 by partition a/);
    assert.equal((await vmanctl([...s, "list", "--json"])).stdout, before);

    r = await vmanctl([...s, "create", "x", "--memory", "12Q"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /12Q.*--memory/);
    assert.equal((await vmanctl([...s, "list", "--json"])).stdout, before);

    r = await vmanctl([...s, "destroy", "a"]);
    assert.equal(r.code, 0, r.stderr);
    r = await vmanctl([...s, "create", "c", "--cpus", "2", "--memory", "512M", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as PartitionView;
    assert.deepEqual(c.cores, a.cores, "a's cores are free again");
    assert.deepEqual(c.memory, a.memory, "a's window is free again");
  });
});

Deno.test("lifecycle: defined → running → stopped → running, destroy of a running partition", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir];
    assert.equal(
      (await vmanctl([...s, "--board", "qemu-virt-riscv64", "create", "p", "--cpu-ids", "2-3"]))
        .code,
      0,
    );
    const state = async () =>
      (JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json).state;
    assert.equal(await state(), "defined");
    let r = await vmanctl([...s, "stop", "p"]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /not running/);
    assert.equal((await vmanctl([...s, "start", "p"])).code, 0);
    assert.equal(await state(), "running");
    r = await vmanctl([...s, "start", "p"]);
    assert.equal(r.code, 1);
    assertOneLineError(r.stderr, /already running/);
    assert.equal((await vmanctl([...s, "stop", "p"])).code, 0);
    assert.equal(await state(), "stopped");
    assert.equal((await vmanctl([...s, "start", "p"])).code, 0);
    r = await vmanctl([...s, "destroy", "p", "--json"]);
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.stdout) as Json).state, "destroyed");
    assert.deepEqual(JSON.parse((await vmanctl([...s, "list", "--json"])).stdout), []);
  });
});

Deno.test("dry-run: show and plan print the monitor calls of a start", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
    assert.equal(
      (await vmanctl([...s, "create", "p", "--cpu-ids", "2,3", "--memory-base", "0x60000000"]))
        .code,
      0,
    );
    const plan = JSON.parse((await vmanctl([...s, "plan", "p", "--json"])).stdout) as Json;
    const expected = [
      { call: "partition_create", args: { partition: 1 } },
      { call: "partition_add_core", args: { partition: 1, hwid: 2 } },
      { call: "partition_add_core", args: { partition: 1, hwid: 3 } },
      {
        call: "partition_add_memory",
        args: { partition: 1, base: 0x60000000, size: 256 * 2 ** 20 },
      },
      {
        call: "partition_add_device",
        args: { partition: 1, device: "uart0", base: 0x09000000, size: 0x1000 },
      },
      { call: "core_start", args: { partition: 1, hwid: 2, entry: 0x60000000, context: 0 } },
    ];
    assert.deepEqual(plan.monitorCalls, expected);
    assert.equal(plan.state, "defined", "plan changes nothing");
    const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
    assert.deepEqual(shown.monitorCalls, [], "nothing was started yet");
    assert.equal((await vmanctl([...s, "start", "p"])).code, 0);
    const started = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
    assert.deepEqual(started.monitorCalls, expected);
    assert.deepEqual(started.memoryMap, [
      { name: "device uart0", base: 0x09000000, size: 0x1000, content: "arm,pl011 MMIO, console" },
      {
        name: "window",
        base: 0x60000000,
        size: 256 * 2 ** 20,
        content: "RAM window (no images: the boot core starts at its base)",
      },
    ]);
    const text = (await vmanctl([...s, "show", "p"])).stdout;
    assert.match(text, /core_start partition=1 hwid=0x2 entry=0x60000000 context=0x0/);
    assert.equal((await vmanctl([...s, "stop", "p"])).code, 0);
    const stopped = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
    assert.deepEqual((stopped.monitorCalls as Json[]).map((c) => c.call), [
      "partition_stop",
      "partition_destroy",
    ]);
  });
});

Deno.test("plan -f SPEC.yaml shows what a spec would get and records nothing", async () => {
  await withTempDir(async (dir) => {
    const spec = `${dir}/rt1.yaml`;
    await Deno.writeTextFile(
      spec,
      "name: rt1\ncpu-ids: [2, 3]\nmemory: 512M\ndevices: [uart0, rtc0]\n",
    );
    const s = ["--state-dir", `${dir}/state`, "--board", "qemu-virt-arm64"];
    const r = await vmanctl([...s, "plan", "-f", spec, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as Json;
    assert.equal(plan.name, "rt1");
    assert.deepEqual(plan.cores, [2, 3]);
    assert.deepEqual(plan.devices, ["uart0", "rtc0"]);
    assert.equal((plan.memoryMap as Json[]).length, 3);
    assert.deepEqual(JSON.parse((await vmanctl([...s, "list", "--json"])).stdout), []);
    // The same spec file creates the partition; options override the file.
    const c = await vmanctl([...s, "create", "rt1", "-f", spec, "--memory", "1G", "--json"]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal((JSON.parse(c.stdout) as PartitionView).memory.size, 2 ** 30);
  });
});

Deno.test("spec files: an unknown field or a bad value names the file and line", async () => {
  await withTempDir(async (dir) => {
    const spec = `${dir}/bad.yaml`;
    await Deno.writeTextFile(spec, "cpus: 1\nmemroy: 512M\n");
    let r = await vmanctl([
      "--state-dir",
      dir,
      "--board",
      "qemu-virt-arm64",
      "create",
      "p",
      "-f",
      spec,
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, new RegExp(`unknown field 'memroy'.*\\(${spec}:2\\)`));
    await Deno.writeTextFile(spec, "cpus: 1\nmemory: lots\n");
    r = await vmanctl([
      "--state-dir",
      dir,
      "--board",
      "qemu-virt-arm64",
      "create",
      "p",
      "-f",
      spec,
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, new RegExp(`'lots' is not a size.*\\(${spec}:2\\)`));
    assert.equal((await vmanctl(["--state-dir", dir, "list", "--name"])).stdout, "");
  });
});

Deno.test("the state dir remembers board and backend; a different --board is refused", async () => {
  await withTempDir(async (dir) => {
    assert.equal(
      (await vmanctl(["--state-dir", dir, "--board", "qemu-virt-arm", "create", "p"])).code,
      0,
    );
    const r = await vmanctl(["--state-dir", dir, "--board", "qemu-virt-arm64", "create", "q"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /set up for board qemu-virt-arm, not qemu-virt-arm64/);
    const env = { VMAN_STATE_DIR: dir };
    const q = await vmanctl(["create", "q", "--json"], env);
    assert.equal(q.code, 0, q.stderr);
    const shown = JSON.parse((await vmanctl(["show", "q", "--json"], env)).stdout) as Json;
    assert.equal(shown.board, "qemu-virt-arm");
    assert.equal(shown.backend, "dry-run");
    const b = await vmanctl(["--state-dir", dir, "--backend", "sim", "list"]);
    assert.equal(b.code, 0, "list does not need the backend");
    const s = await vmanctl(["--state-dir", dir, "--backend", "sim", "start", "q"]);
    assert.equal(s.code, 2);
    assertOneLineError(s.stderr, /set up for backend dry-run, not sim/);
  });
});

Deno.test("a new state dir needs a board; an unknown backend is refused", async () => {
  await withTempDir(async (dir) => {
    let r = await vmanctl(["--state-dir", dir, "create", "p"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /no board yet: give --board/);
    r = await vmanctl(["--state-dir", dir, "--board", "nope", "create", "p"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /no board plugin named 'nope'/);
    r = await vmanctl([
      "--state-dir",
      dir,
      "--board",
      "qemu-virt-arm64",
      "--backend",
      "warp",
      "create",
      "p",
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /no monitor plugin named 'warp' \(known: .*dry-run.*\)/);
    assert.equal((await vmanctl(["--state-dir", dir, "list", "--json"])).stdout.trim(), "[]");
  });
});

Deno.test("the configuration file names board, backend and state dir", async () => {
  await withTempDir(async (dir) => {
    const config = `${dir}/config.yaml`;
    await Deno.writeTextFile(
      config,
      `board: qemu-virt-riscv64\nbackend: dry-run\nstate-dir: ${dir}/state\n`,
    );
    const r = await vmanctl(["--config", config, "create", "p", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse(
      (await vmanctl(["--state-dir", `${dir}/state`, "show", "p", "--json"])).stdout,
    ) as Json;
    assert.equal(shown.board, "qemu-virt-riscv64");
    await Deno.writeTextFile(config, "board: qemu-virt-riscv64\nbackedn: dry-run\n");
    const bad = await vmanctl(["--config", config, "list"]);
    assert.equal(bad.code, 2);
    assertOneLineError(bad.stderr, new RegExp(`unknown field 'backedn'.*\\(${config}:2\\)`));
    const missing = await vmanctl(["--config", `${dir}/none.yaml`, "list"]);
    assert.equal(missing.code, 2);
  });
});

Deno.test("bad input: each gets one line and exit code 2, and changes nothing", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, "create", "keep", "--cpu-ids", "1"])).code, 0);
    const before = await Deno.readTextFile(`${dir}/state.json`);
    const cases: [string[], RegExp][] = [
      [["create", "x", "--cpu-ids", "9"], /no core 9/],
      [["create", "x", "--cpu-ids", "2,2"], /listed twice/],
      [["create", "x", "--cpus", "two"], /not a whole number/],
      [["create", "x", "--cpus", "0"], /at least 1/],
      [["create", "x", "--cpus", "9"], /has only 4 cores/],
      [["create", "x", "--cpus", "1", "--cpu-ids", "2"], /either a core count or core ids/],
      [["create", "x", "--memory", "1000"], /multiple of 4 KiB/],
      [["create", "x", "--memory-base", "0x60000001"], /not 4 KiB aligned/],
      [["create", "x", "--memory-base", "0x10000000"], /not inside the RAM/],
      [["create", "x", "--device", "nic9"], /no device 'nic9'/],
      [["create", "bad name!"], /partition name/],
      [["create", "x", "--kernel", `${dir}/no-such-Image`], /kernel/],
      [["create", "x", "--frobnicate"], /unknown option --frobnicate/],
      [["create"], /has no name: give NAME/],
      [["create", "x", "--memory"], /needs a value/],
      [["show", "nobody"], /no partition named 'nobody'/],
      [["start", "nobody"], /no partition named 'nobody'/],
      [["destroy", "nobody"], /no partition named 'nobody'/],
      [["frobnicate"], /unknown command/],
    ];
    for (const [args, pattern] of cases) {
      const r = await vmanctl([...s, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assertOneLineError(r.stderr, pattern);
      assert.equal(
        await Deno.readTextFile(`${dir}/state.json`),
        before,
        `${args.join(" ")} changed the state`,
      );
    }
  });
});

Deno.test("conflicts: exit code 1 naming the holder", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
    assert.equal(
      (await vmanctl([
        ...s,
        "create",
        "a",
        "--cpu-ids",
        "1",
        "--device",
        "uart0",
        "--device",
        "rtc0",
      ])).code,
      0,
    );
    const cases: [string[], RegExp][] = [
      [["create", "a", "--cpu-ids", "2"], /partition 'a' already exists/],
      [["create", "x", "--cpu-ids", "0"], /core 0 is held by the management partition/],
      [["create", "x", "--cpu-ids", "1,2"], /core 1 is held by partition a/],
      [
        ["create", "x", "--cpus", "1", "--memory-base", "0x40000000"],
        /held by the management partition/,
      ],
      [["create", "x", "--cpus", "1", "--memory-base", "0x50000000"], /held by partition a/],
      [["create", "x", "--cpus", "1", "--device", "rtc0"], /device rtc0 is held by partition a/],
      [["create", "x", "--cpus", "1", "--memory", "2G"], /no free 2 GiB window/],
    ];
    for (const [args, pattern] of cases) {
      const r = await vmanctl([...s, ...args]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertOneLineError(r.stderr, pattern);
    }
    // uart0 is a per-partition console on the emulated board: every partition has one.
    const r = await vmanctl([...s, "create", "y", "--cpus", "1", "--device", "uart0", "--json"]);
    assert.equal(r.code, 0, r.stderr);
  });
});

Deno.test("a kernel that is no kernel is refused at start before any monitor call", async () => {
  await withTempDir(async (dir) => {
    const kernel = `${dir}/Image`;
    await Deno.writeFile(kernel, new Uint8Array(4096));
    const s = ["--state-dir", `${dir}/s`, "--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, "create", "k", "--cpus", "1", "--kernel", kernel])).code, 0);
    const shown = JSON.parse((await vmanctl([...s, "show", "k", "--json"])).stdout) as Json;
    assert.equal(shown.kernel, kernel);
    const r = await vmanctl([...s, "start", "k"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /not a kernel image vmanager can read/);
    assert.match(r.stderr, new RegExp(`\\(${kernel}\\)`));
    const after = JSON.parse((await vmanctl([...s, "show", "k", "--json"])).stdout) as Json;
    assert.equal(after.state, "defined");
    assert.deepEqual(after.monitorCalls, []);
  });
});

Deno.test("-v adds the cause chain; without it there is no stack trace", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/state.json`, "{ not json");
    const quiet = await vmanctl(["--state-dir", dir, "list"]);
    assert.equal(quiet.code, 1);
    assertOneLineError(quiet.stderr, /not valid JSON/);
    const loud = await vmanctl(["--state-dir", dir, "-v", "list"]);
    assert.equal(loud.code, 1);
    assert.ok(loud.stderr.split("\n").length > 2);
    assert.match(loud.stderr, /StateStoreError/);
  });
});

Deno.test("help: --help everywhere exits 0; no command is one line and exit 2", async () => {
  const main = await vmanctl(["--help"]);
  assert.equal(main.code, 0);
  for (const name of ["create", "board list", "plan", "completion"]) {
    assert.match(main.stdout, new RegExp(name));
  }
  for (
    const args of [["create", "--help"], ["board", "show", "-h"], ["list", "--help"], [
      "plan",
      "--help",
    ]]
  ) {
    const r = await vmanctl(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /^Usage: vmanctl/);
  }
  const none = await vmanctl([]);
  assert.equal(none.code, 2);
  assert.equal(none.stderr, "vmanctl: no command given (vmanctl --help lists the commands)\n");
  assert.match((await vmanctl(["--version"])).stdout, /^vmanctl \d+\.\d+\.\d+/);
});

Deno.test("an option means what the command named before it says: --name is a flag of list", async () => {
  await withTempDir(async (dir) => {
    assert.equal(
      (await vmanctl(["--state-dir", dir, "--board", "qemu-virt-arm64", "create", "web1"])).code,
      0,
    );
    const r = await vmanctl(["--state-dir", dir, "list", "--name"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "web1\n");
  });
});

Deno.test("an initrd without a kernel is refused at create", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/initrd`, "x");
    const r = await vmanctl([
      "--state-dir",
      dir,
      "--board",
      "qemu-virt-arm64",
      "create",
      "p",
      "--initrd",
      `${dir}/initrd`,
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /an initrd needs a kernel/);
  });
});
