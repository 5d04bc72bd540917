/**
 * Nothing lost, nothing stuck: `create`, `start`, `stop` and `destroy` — on the sim
 * and the qemu backend, with real kernels — are killed (SIGKILL, by an LD_PRELOAD
 * fault injector) before each durable write they make, that is before each rename
 * onto a file of the state dir (the state, the board's DTB, the sim's table). After
 * each kill, on the same state dir: `list` and `show` agree with the monitor,
 * `destroy` of every partition succeeds, the same cores and window are created and
 * started again, and nothing is left in the state dir but what belongs there. The
 * same holds with the state dir on a 96 MiB tmpfs filled to a few KiB before each
 * operation (real ENOSPC).
 */
import assert from "node:assert/strict";
import { ROOT, VMANCTL_FLAGS, vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { GUESTS, missing } from "./helpers.ts";
import { faultLibrary, monitorView } from "../fixtures/fault/mod.ts";

const guest = GUESTS.arm64;
const skip = missing(guest);
if (skip) console.log(`skipping crash tests: ${skip}`);

type Op = "create" | "start" | "stop" | "destroy";
const OPS: Op[] = ["create", "start", "stop", "destroy"];
const BACKENDS = ["sim", "qemu"] as const;
/** The partition every case works on: fixed cores and window, so a re-create must get them. */
const SPEC = ["--cpu-ids", "1", "--memory-base", "0x50000000", "--memory", "256M"];

const fault = faultLibrary;

async function run(state: string, args: string[], env: Record<string, string> = {}) {
  return await vmanctlProcess(["--state-dir", state, ...args], env);
}

async function must(state: string, args: string[]): Promise<string> {
  const r = await run(state, args);
  assert.equal(r.code, 0, `vmanctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Creates (and, for stop and destroy, starts) the partition an operation works on. */
async function prepare(state: string, backend: string, op: Op): Promise<void> {
  if (op === "create") return;
  await must(state, [
    ...command(backend, "create"),
    "--cmdline",
    `console=${guest.console} vmanager.stay`,
  ]);
  if (op !== "start") await must(state, ["start", "p"]);
}

/** The operation's own command line. */
function command(backend: string, op: Op): string[] {
  if (op !== "create") return [op, "p"];
  return [
    "--board",
    guest.board,
    "--backend",
    backend,
    "create",
    "p",
    ...SPEC,
    "--kernel",
    guest.kernel,
    "--initrd",
    guest.initrd,
  ];
}

/**
 * Runs the operation under the fault injector: killed before the `at`-th rename
 * (0: never), or with `enospc` that rename failing as on a full disk.
 */
async function faulted(
  state: string,
  backend: string,
  op: Op,
  at: number,
  log?: string,
  action: "kill" | "enospc" = "kill",
) {
  const env: Record<string, string> = {
    LD_PRELOAD: await fault(),
    VMAN_FAULT_RENAME: `${state}/`,
    VMAN_FAULT_AT: String(at),
    VMAN_FAULT_ACTION: action,
  };
  if (log) env.VMAN_FAULT_LOG = log;
  return await run(state, command(backend, op), env);
}

/** How many durable writes the operation makes when nothing goes wrong. */
async function durableWrites(backend: string, op: Op): Promise<number> {
  return await withTempDir(async (state) => {
    await prepare(state, backend, op);
    const log = `${state}.writes`;
    const r = await faulted(state, backend, op, 0, log);
    assert.equal(r.code, 0, r.stderr);
    const count = (await Deno.readTextFile(log)).split("\n").filter(Boolean).length;
    await Deno.remove(log);
    await destroyAll(state);
    return count;
  });
}

async function destroyAll(state: string): Promise<void> {
  const list = await run(state, ["list", "--name"]);
  for (const name of list.stdout.split("\n").filter(Boolean)) {
    const r = await run(state, ["destroy", name]);
    assert.equal(r.code, 0, `destroy ${name}: ${r.stderr}`);
  }
}

const ALLOWED = new Set([
  "state.json",
  "state.lock",
  "board.dtb",
  "memory.img",
  "monitor.json",
  "monitor.lock",
  "qemu",
]);
const ALLOWED_RUN_FILES = /^(console\.log(\.1)?|qemu\.log|broker\.log)$/;

/** What a state dir holds beyond what belongs there, once no partition runs. */
async function leftovers(state: string): Promise<string[]> {
  const extra: string[] = [];
  for await (const entry of Deno.readDir(state)) {
    if (!ALLOWED.has(entry.name)) extra.push(entry.name);
  }
  try {
    for await (const dir of Deno.readDir(`${state}/qemu`)) {
      for await (const file of Deno.readDir(`${state}/qemu/${dir.name}`)) {
        if (!ALLOWED_RUN_FILES.test(file.name)) extra.push(`qemu/${dir.name}/${file.name}`);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return extra;
}

/**
 * What the next commands must find after a kill or a failure, and that they converge.
 * On the qemu backend a QEMU the operation killed may still be ending, and its end
 * hook converges the state in the background: the checks are retried until they hold
 * (for at most 10 s), so what is asserted is where the state settles.
 */
async function converges(state: string, backend: string, what: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await agrees(state, backend, what);
      break;
    } catch (error) {
      if (backend !== "qemu" || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  await destroyAll(state);
  assert.deepEqual(await monitorView(state), new Map(), `${what}: the monitor is empty`);
  await prepare(state, backend, "stop"); // the same cores and window, created and started
  await destroyAll(state);
  assert.deepEqual(await leftovers(state), [], `${what}: left in the state dir`);
}

/** list, show and the monitor agree on every partition. */
async function agrees(state: string, backend: string, what: string): Promise<void> {
  const listed = await run(state, ["--json", "list"]);
  assert.equal(listed.code, 0, `${what}: list: ${listed.stderr}`);
  const list = JSON.parse(listed.stdout) as { name: string; id: number; state: string }[];
  const monitor = await monitorView(state);
  for (const p of list) {
    const inMonitor = monitor.get(p.id) ?? "absent";
    if (p.state === "running") {
      assert.equal(inMonitor, "running", `${what}: list says running, the monitor ${inMonitor}`);
    } else if (p.state === "defined" || (p.state === "stopped" && backend === "sim")) {
      assert.equal(inMonitor, "absent", `${what}: list says ${p.state}, the monitor ${inMonitor}`);
    }
    const shown = await run(state, ["show", p.name]);
    assert.equal(shown.code, 0, `${what}: show: ${shown.stderr}`);
    assert.match(
      shown.stdout,
      new RegExp(`State: +${p.state}`),
      `${what}: show agrees with list (${p.state})`,
    );
  }
  for (const id of monitor.keys()) {
    assert.ok(list.some((p) => p.id === id), `${what}: the monitor holds partition ${id} alone`);
  }
}

for (const backend of BACKENDS) {
  for (const op of OPS) {
    Deno.test({
      name: `crash: ${op} on the ${backend} backend killed before each durable write converges`,
      ignore: skip !== undefined,
      async fn() {
        const writes = await durableWrites(backend, op);
        assert.ok(writes >= 1, `${op} makes durable writes`);
        for (let at = 1; at <= writes; at++) {
          await withTempDir(async (state) => {
            try {
              await prepare(state, backend, op);
              const r = await faulted(state, backend, op, at);
              assert.equal(r.code, 137, `killed at write ${at}: ${r.stderr}`);
              await converges(state, backend, `${op} killed before write ${at} of ${writes}`);
            } finally {
              await destroyAll(state).catch(() => {});
            }
          });
        }
      },
    });
  }
}

for (const backend of BACKENDS) {
  for (const op of OPS) {
    Deno.test({
      name: `enospc: ${op} on the ${backend} backend whose durable writes fail in turn with ` +
        `ENOSPC fails with one line and converges`,
      ignore: skip !== undefined,
      async fn() {
        const writes = await durableWrites(backend, op);
        for (let at = 1; at <= writes; at++) {
          await withTempDir(async (state) => {
            try {
              await prepare(state, backend, op);
              const r = await faulted(state, backend, op, at, undefined, "enospc");
              assert.equal(r.code, 1, `write ${at} failing: ${r.stderr}`);
              assert.match(r.stderr, /^vmanctl: [^\n]*No space left on device[^\n]*\n$/);
              await converges(state, backend, `${op} with write ${at} of ${writes} failing`);
            } finally {
              await destroyAll(state).catch(() => {});
            }
          });
        }
      },
    });
  }
}

/** Mounts a 96 MiB tmpfs for `fn` (a state dir inside it); unmounts it after. */
async function withTmpfs(fn: (state: string, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "vman-tmpfs-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=96m", "none", root],
    stderr: "piped",
  }).output();
  assert.ok(mount.success, `mount a tmpfs: ${new TextDecoder().decode(mount.stderr)}`);
  try {
    await fn(`${root}/state`, root);
  } finally {
    await new Deno.Command("umount", { args: ["-l", root] }).output();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** Fills the file system of `root` up to a few KiB with one file; returns its path. */
async function fill(root: string): Promise<string> {
  const filler = `${root}/filler`;
  // A guest that runs meanwhile takes pages of the memory file: measure again and retry.
  for (let attempt = 0; attempt < 10; attempt++) {
    const df = await new Deno.Command("df", {
      args: ["-B1", "--output=avail", root],
      stdout: "piped",
    }).output();
    const avail = Number(new TextDecoder().decode(df.stdout).trim().split("\n").at(-1));
    const size = Math.max(0, avail - 8 * 1024 * (attempt + 1));
    const out = await new Deno.Command("fallocate", { args: ["-l", String(size), filler] })
      .output();
    if (out.success) return filler;
  }
  throw new Error(`cannot fill ${root}`);
}

const canMount = Deno.uid() === 0;
for (const backend of BACKENDS) {
  for (const op of OPS) {
    Deno.test({
      name: `full disk: ${op} on the ${backend} backend in a full 96 MiB tmpfs fails cleanly or ` +
        `succeeds, and the state converges`,
      ignore: skip !== undefined || !canMount,
      async fn() {
        await withTmpfs(async (state, root) => {
          try {
            await prepare(state, backend, op);
            const filler = await fill(root);
            const r = await run(state, command(backend, op));
            if (r.code !== 0 && r.code < 128) {
              assert.equal(r.code, 1, `${op} on a full disk: ${r.stderr}`);
              assert.match(r.stderr, /^vmanctl: [^\n]+\n$/, "one line");
            }
            await Deno.remove(filler);
            await converges(state, backend, `${op} on a full disk (exit ${r.code})`);
          } finally {
            await destroyAll(state).catch(() => {});
          }
        });
      },
    });
  }
}

Deno.test({
  name: "lock: a command waits VMAN_LOCK_TIMEOUT for a stuck holder, then fails naming it",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir(async (state) => {
      await prepare(state, "sim", "start");
      // A start stopped (SIGSTOP) before its first durable write holds the state lock.
      const stuck = new Deno.Command(Deno.execPath(), {
        args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, "--state-dir", state, "start", "p"],
        env: {
          LD_PRELOAD: await fault(),
          VMAN_FAULT_RENAME: `${state}/`,
          VMAN_FAULT_AT: "1",
          VMAN_FAULT_ACTION: "stop",
        },
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitStopped(stuck.pid);
        const t0 = performance.now();
        const r = await run(state, ["destroy", "p"], { VMAN_LOCK_TIMEOUT: "1" });
        const seconds = (performance.now() - t0) / 1000;
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          new RegExp(
            `^vmanctl: the state is busy: pid ${stuck.pid} \\(vmanctl --state-dir \\S+ start p\\) ` +
              `holds its lock, for \\d+ s; waited 1 s \\(VMAN_LOCK_TIMEOUT sets how long\\) ` +
              `\\(\\S+/state.lock\\)\\n$`,
          ),
        );
        assert.ok(seconds < 10, `gave up after ${seconds} s`);
      } finally {
        stuck.kill("SIGKILL");
        await stuck.status;
      }
      await converges(state, "sim", "after the stuck start was killed");
    });
  },
});

/** Waits until process `pid` is stopped (state T in ps). */
async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ps = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-p", String(pid)],
      stdout: "piped",
    })
      .output();
    if (new TextDecoder().decode(ps.stdout).trim().startsWith("T")) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`process ${pid} did not stop`);
}

Deno.test({
  name: "liveness: after its processes vanished, a planted qemu.pid of another process is " +
    "neither running nor killed",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir(async (state) => {
      const sleeper = new Deno.Command("sleep", { args: ["600"] }).spawn();
      try {
        await prepare(state, "qemu", "stop"); // created and started
        const dir = `${state}/qemu/1`;
        const qemu = Number((await Deno.readTextFile(`${dir}/qemu.pid`)).trim());
        const ps = await new Deno.Command("ps", {
          args: ["-o", "ppid=", "-p", String(qemu)],
          stdout: "piped",
        })
          .output();
        const supervisor = Number(new TextDecoder().decode(ps.stdout).trim());
        // As a host restart would: every process of the partition gone without a word.
        for (const pid of [supervisor, qemu]) Deno.kill(pid, "SIGKILL");
        await new Deno.Command("pkill", { args: ["-KILL", "-f", `${dir}/serial.sock`] }).output();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await Deno.writeTextFile(`${dir}/qemu.pid`, `${sleeper.pid}\n`);
        const list = JSON.parse(await must(state, ["--json", "list"])) as { state: string }[];
        assert.equal(list[0].state, "stopped");
        assert.match(await must(state, ["show", "p"]), /the host restarted/);
        await must(state, ["destroy", "p"]);
        Deno.kill(sleeper.pid, "SIGCONT"); // throws if destroy killed it
        await converges(state, "qemu", "after a planted pid");
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
    });
  },
});
