/**
 * The qemu backend's lifecycle with real Linux on the arm64 board: two partitions
 * at once on one memory file, destroying one leaves the other running; a bad
 * kernel fails `start` before any QEMU; a killed QEMU shows as crashed with its
 * console and starts again; `console --follow` ends when the guest powers off.
 */
import assert from "node:assert/strict";
import { ROOT, vmanctl, withTempDir } from "../cli/helpers.ts";
import { waitFor } from "../libvirt/console_helpers.ts";
import { sleep } from "../libvirt/helpers.ts";
import { SimMonitor } from "../../core/monitor/sim.ts";
import { MonitorError } from "../../core/errors.ts";
import { qmpCommand, QmpSession } from "../../plugins/qemu/qmp.ts";
import {
  bootTest,
  createGuest,
  destroyAll,
  GUESTS,
  missing,
  ok,
  waitForConsole,
  waitForReason,
  waitForState,
} from "./helpers.ts";

const guest = GUESTS.arm64;
const why = missing(guest);
if (why) console.log(`skipping qemu lifecycle tests: ${why}`);

/** The QEMU processes whose command line names this state dir: pid and arguments. */
async function qemuProcesses(state: string): Promise<{ pid: number; args: string }[]> {
  const out = await new Deno.Command("pgrep", { args: ["-a", "-f", `^${guest.qemu} .*${state}/`] })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l).map((line) => {
    const space = line.indexOf(" ");
    return { pid: Number(line.slice(0, space)), args: line.slice(space + 1) };
  });
}

/** The pids of QEMU processes whose command line names this state dir. */
async function qemuPids(state: string): Promise<number[]> {
  return (await qemuProcesses(state)).map((p) => p.pid);
}

/** Creates `p` (one core, 256M) with `kernel` on the qemu backend with `board`. */
async function createOnQemu(state: string, board: string, kernel: string): Promise<void> {
  await ok(
    state,
    "--board",
    board,
    "--backend",
    "qemu",
    "create",
    "p",
    "--cpus",
    "1",
    "--memory",
    "256M",
    "--kernel",
    kernel,
  );
}

/**
 * Starts `p`, which must fail with exit `code` and one line matching `line`; no
 * QEMU of the state dir runs after, and `p` stays defined (then it is destroyed).
 */
async function startRefused(state: string, code: number, ...lines: RegExp[]): Promise<void> {
  const result = await vmanctl(["--state-dir", state, "start", "p"]);
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  for (const line of lines) assert.match(result.stderr, line);
  assert.equal((await qemuPids(state)).length, 0);
  await assert.rejects(Deno.stat(`${state}/qemu/1/qemu.pid`));
  const list = JSON.parse(await ok(state, "--json", "list"));
  assert.equal(list[0].state, "defined");
  await ok(state, "destroy", "p");
}

Deno.test({
  name: "qemu: two partitions run at once on one memory file; destroying one leaves the other",
  ignore: why !== undefined,
  fn: () =>
    withTempDir(async (state) => {
      try {
        await createGuest(state, guest, "a", "1", "256M", true);
        await createGuest(state, guest, "b", "2,3", "512M", true);
        await ok(state, "start", "a");
        await ok(state, "start", "b");
        const a = await waitForConsole(state, "a", /vmanager-guest: staying up/);
        const b = await waitForConsole(state, "b", /vmanager-guest: staying up/);
        assert.match(a, /up cpus=1 online=0 /);
        assert.match(b, /up cpus=2 online=0-1 /);
        const processes = await qemuProcesses(state);
        assert.equal(processes.length, 2);
        for (const { args } of processes) {
          assert.ok(args.includes(`mem-path=${state}/memory.img,share=on`), args);
        }
        await ok(state, "destroy", "a");
        assert.equal((await qemuPids(state)).length, 1);
        const list = JSON.parse(await ok(state, "--json", "list"));
        assert.deepEqual(list.map((p: { name: string; state: string }) => [p.name, p.state]), [
          ["b", "running"],
        ]);
      } finally {
        await destroyAll(state);
      }
      assert.equal((await qemuPids(state)).length, 0, "no QEMU left behind");
    }),
});

for (
  const bad of [
    {
      what: "a riscv64 kernel",
      make: async (file: string) => {
        await Deno.copyFile(GUESTS.riscv64.kernel, file);
      },
      line: /riscv/,
    },
    {
      what: "a truncated kernel",
      make: async (file: string) => {
        const bytes = await Deno.readFile(guest.kernel);
        await Deno.writeFile(file, bytes.subarray(0, 100));
      },
      line: /truncat|short|too small/i,
    },
  ]
) {
  Deno.test({
    name:
      `qemu: ${bad.what} fails start with one line before any QEMU; the partition stays defined`,
    ignore: why !== undefined ||
      (bad.what.includes("riscv") && missing(GUESTS.riscv64) !== undefined),
    fn: () =>
      withTempDir(async (state) => {
        const kernel = `${state}/Image`;
        await Deno.copyFile(guest.kernel, kernel);
        await createOnQemu(state, guest.board, kernel);
        await bad.make(kernel);
        await startRefused(state, 2, bad.line, /Image/);
      }),
  });
}

Deno.test({
  name: "qemu: a QEMU that refuses its arguments fails start with its own message; nothing runs",
  ignore: why !== undefined,
  fn: () =>
    withTempDir(async (dir) => {
      // The arm64 board, but with a CPU model QEMU does not know.
      const yaml = (await Deno.readTextFile(`${ROOT}/boards/qemu-virt-arm64.yaml`))
        .replace(/^name: .*$/m, "name: bad-cpu-arm64")
        .replace(/^devicetree: .*$/m, `devicetree: ${ROOT}/boards/qemu-virt-arm64.dtb`)
        .replace("-cpu, cortex-a53", "-cpu, no-such-cpu");
      assert.match(yaml, /no-such-cpu/);
      await Deno.writeTextFile(`${dir}/bad-cpu-arm64.yaml`, yaml);
      const state = `${dir}/state`;
      await createOnQemu(state, `${dir}/bad-cpu-arm64.yaml`, guest.kernel);
      await startRefused(
        state,
        1,
        /qemu-system-aarch64 exited with status 1 at start: .*no-such-cpu/,
      );
    }),
});

bootTest(
  "qemu: a killed QEMU is stopped (crashed, on_crash destroy) with its console; it starts again",
  why !== undefined,
  async (state) => {
    await createGuest(state, guest, "p", "1", "256M", true);
    await ok(state, "start", "p");
    await waitForConsole(state, "p", /vmanager-guest: staying up/);
    const [pid] = await qemuPids(state);
    Deno.kill(pid, "SIGKILL");
    // The default on_crash policy (destroy, as libvirt's) clears it and says why.
    const shown = await waitForReason(state, "p", "stopped", "crashed") as {
      policies: { onCrash: string };
      runtime: { state: string; reason: string; console: string[] };
    };
    assert.equal(shown.policies.onCrash, "destroy");
    assert.equal(shown.runtime.state, "crashed");
    assert.match(shown.runtime.reason, /killed by signal 9/);
    assert.ok(shown.runtime.console.some((l: string) => l.includes("staying up")));
    const text = await ok(state, "show", "p");
    assert.match(text, /Ended: +qemu-system-aarch64 was killed by signal 9/);
    await ok(state, "start", "p");
    await waitForState(state, "p", "running");
    await waitForConsole(state, "p", /vmanager-guest: staying up/);
  },
);

bootTest(
  "qemu: console --follow prints until the guest powers off; stop and start again",
  why !== undefined,
  async (state) => {
    await createGuest(state, guest, "p", "2", "256M");
    await ok(state, "start", "p");
    const followed = await ok(state, "console", "--follow", "p");
    assert.match(followed, /Booting Linux on physical CPU 0x0000000002 /);
    assert.match(followed, /vmanager-guest: powering off/);
    // Its OS powered off: its on_poweroff policy (destroy) marked it stopped.
    await waitForReason(state, "p", "stopped", "shutdown");
    await ok(state, "start", "p");
    // The capture goes on across starts: a second boot follows the first.
    await waitForConsole(state, "p", /vmanager-guest: powering off/, 120_000, 2);
  },
);

bootTest(
  "qemu: what a start killed midway left in the monitor is cleared by the next start",
  why !== undefined,
  async (state) => {
    await createGuest(state, guest, "p", "1", "256M");
    // A start killed after its first monitor calls: the sim holds partition 1 with
    // core 1, the state still says defined.
    const doc = JSON.parse(await Deno.readTextFile(`${state}/state.json`));
    const sim = new SimMonitor({ stateDir: state, board: doc.board });
    await sim.partitionCreate(1);
    await sim.partitionAddCore(1, 1);
    assert.equal((await sim.table()).length, 1);
    await ok(state, "start", "p");
    await waitForConsole(state, "p", /vmanager-guest: powering off/);
    await waitForReason(state, "p", "stopped", "shutdown");
    // Its on_poweroff policy (destroy) cleared it from the monitor.
    assert.deepEqual(await sim.table(), []);
    // A leftover of a stopped partition goes with its destroy.
    await sim.partitionCreate(1);
    await ok(state, "destroy", "p");
    assert.deepEqual(await sim.table(), []);
  },
);

Deno.test("qmp: a QEMU that accepts but never answers is a MonitorError after the timeout", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/qmp.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn);
    })();
    try {
      const started = Date.now();
      await assert.rejects(qmpCommand(path, "quit", undefined, 300), (error: Error) => {
        assert.ok(error instanceof MonitorError);
        assert.match(error.message, /QEMU did not answer quit within 300 ms/);
        return true;
      });
      assert.ok(Date.now() - started < 5000);
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    }
  });
});

/**
 * A stand-in for QEMU's QMP socket as QEMU sets it up: bound (the file is there)
 * but not listening until a line comes on its stdin, then a greeting and an
 * answer to each command.
 */
function bindThenListen(path: string): Deno.ChildProcess {
  const script = `
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
sys.stdin.readline()
s.listen(1)
c, _ = s.accept()
c.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\\n')
f = c.makefile("rb")
for line in f:
    c.sendall(b'{"return": {}}\\n')
`;
  return new Deno.Command("python3", { args: ["-c", script, path], stdin: "piped" }).spawn();
}

Deno.test("qmp: a QMP socket bound but not yet listening is refused, and waited for while QEMU starts", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/qmp.sock`;
    const exit = `${dir}/exit`;
    const child = bindThenListen(path);
    const stdin = child.stdin.getWriter();
    try {
      await waitFor(
        () => Deno.lstat(path).then(() => true, () => false),
        10_000,
        "the bound socket",
      );
      await assert.rejects(QmpSession.open(path, 2000), (error: Error) => {
        assert.ok(error instanceof MonitorError);
        assert.match(error.message, /cannot reach QEMU's QMP socket: Connection refused/);
        return true;
      });
      const opening = QmpSession.open(path, 5000, undefined, exit);
      await sleep(50); // refused a few times meanwhile
      await stdin.write(new TextEncoder().encode("listen\n"));
      const session = await opening;
      try {
        assert.deepEqual(await session.command("cont"), {});
      } finally {
        session.close();
      }
    } finally {
      await stdin.close().catch(() => {});
      child.kill();
      await child.status;
    }
  });
});

Deno.test("qmp: while QEMU starts, a refused QMP socket is given up at once when QEMU has exited", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/qmp.sock`;
    const exit = `${dir}/exit`;
    await Deno.writeTextFile(exit, "1\n");
    const started = Date.now();
    await assert.rejects(QmpSession.open(path, 5000, undefined, exit), MonitorError);
    assert.ok(Date.now() - started < 1000, "it waited although QEMU had exited");
  });
});

Deno.test("qemu: a board without a qemu: section is refused at create, exit 2, nothing made", async () => {
  await withTempDir(async (dir) => {
    const state = `${dir}/state`;
    const result = await vmanctl([
      "--state-dir",
      state,
      "--board",
      `${ROOT}/tests/fixtures/boards/test-big-arm64.yaml`,
      "--backend",
      "qemu",
      "create",
      "p",
      "--cpus",
      "1",
      "--memory",
      "256M",
    ]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split("\n").length, 1);
    assert.match(result.stderr, /board test-big-arm64 has no qemu: section/);
    await assert.rejects(Deno.stat(state));
  });
});
