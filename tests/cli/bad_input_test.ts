/**
 * Bad input through the real CLI (`deno run main.ts`, as a user runs it): one line
 * `vmanctl: <what> (<where>)` on stderr, nothing on stdout, the documented exit
 * code, an answer within a second, and the state dir unchanged. Files are read as
 * regular files within their limits (a device or a FIFO never blocks or grows
 * memory), core lists and command lines are bounded before they are used, names
 * are echoed with their control characters escaped, YAML alias bombs are refused
 * at their line, and a broken state.json is one line naming the field.
 */
import assert from "node:assert/strict";
import { ROOT, VMANCTL_FLAGS, withTempDir } from "./helpers.ts";
import { fixturesDir } from "../../scripts/cache.ts";

/** What a run produced, and how long it took. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs vmanctl as its own process; killed after 20 s, so a regression fails and does not hang. */
async function run(args: string[], cwd?: string): Promise<Run> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20_000);
  const started = performance.now();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, ...args],
      cwd,
      env: { VMAN_PLUGIN_PATH: "" },
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts one error line (exactly `line`, or matching it), the exit code and the time. */
function assertRefused(r: Run, code: number, line: string | RegExp): void {
  const lines = r.stderr.split("\n");
  assert.equal(lines.pop(), "", `stderr ends with a newline: ${JSON.stringify(r.stderr)}`);
  assert.equal(lines.length, 1, `one line: ${r.stderr.slice(0, 2000)}`);
  assert.match(lines[0], /^vmanctl: .+ \(.+\)$/);
  assert.ok([...lines[0]].every((c) => c.charCodeAt(0) >= 0x20), "no control characters");
  if (typeof line === "string") assert.equal(lines[0], line);
  else assert.match(lines[0], line);
  assert.equal(r.stdout, "", "nothing on stdout");
  assert.equal(r.code, code, lines[0]);
  assert.ok(r.ms < 1000, `answered in ${Math.round(r.ms)} ms: ${lines[0]}`);
}

/**
 * Every file of `dir`: kind, size, mtime and (for files up to 16 MiB) SHA-256.
 * `state.lock` only by name: taking the lock records its holder in it, which is
 * no change of the state.
 */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = `${at}/${entry.name}`;
      const info = await Deno.lstat(path);
      if (entry.name === "state.lock") {
        out.push(`${path} lock`);
        continue;
      }
      let hash = "";
      if (info.isFile && info.size <= 16 << 20) {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
        hash = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
      }
      out.push(
        `${path} ${info.isDirectory ? "d" : "f"} ${info.size} ${info.mtime?.getTime()} ${hash}`,
      );
      if (info.isDirectory) await walk(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/** How {@linkcode withState} sets up its state dir. */
interface Setup {
  /** The command that sets it up (default: `create base --cpu-ids 1`). */
  create?: string[];
  /** Its backend (default dry-run). */
  backend?: string;
  /** A change made before the state dir is taken as the one that must not change. */
  prepare?: (dir: string) => Promise<void>;
}

/**
 * A temp dir with a state dir `s` set up on qemu-virt-arm64 (with one partition,
 * which also warms the module cache), and a check after `fn` that the state dir
 * did not change.
 */
function withState(
  fn: (dir: string, s: string[]) => Promise<void>,
  setup: Setup = {},
): Promise<void> {
  return withTempDir(async (dir) => {
    const state = `${dir}/s`;
    const created = await run([
      "--state-dir",
      state,
      "--board",
      "qemu-virt-arm64",
      "--backend",
      setup.backend ?? "dry-run",
      ...setup.create ?? ["create", "base", "--cpu-ids", "1"],
    ]);
    assert.equal(created.code, 0, created.stderr);
    await setup.prepare?.(dir);
    const before = await snapshot(state);
    await fn(dir, ["--state-dir", state]);
    assert.deepEqual(await snapshot(state), before, "the state dir is unchanged");
  });
}

/** `text` as a regular expression matching it literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function mkfifo(path: string): void {
  const out = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** A sparse file of `size` bytes. */
async function sparse(path: string, size: number): Promise<string> {
  using file = await Deno.create(path);
  await file.truncate(size);
  return path;
}

Deno.test("a device, a FIFO or a directory given as a file is refused at once, naming the path", () =>
  withState(async (dir, s) => {
    const fifo = `${dir}/fifo`;
    mkfifo(fifo);
    const kinds = [["/dev/zero", "a character device"], [fifo, "a FIFO"], [dir, "a directory"]];
    for (const [path, kind] of kinds) {
      const not = `not a regular file but ${kind} (${path})`;
      for (
        const [args, what] of [
          [["create", "x", "-f", path], "the spec file"],
          [["plan", "x", "-f", path], "the spec file"],
          [["board", "import", path], "the DTB"],
          [["board", "check", path], "the board file"],
          [["--config", path, "board", "list"], "the configuration"],
          [["create", "x", "--kernel", path], "the kernel"],
        ] as const
      ) {
        assertRefused(await run([...s, ...args]), 2, `vmanctl: cannot read ${what}: ${not}`);
      }
    }
  }));

Deno.test("files over their limits are refused by their size: spec and board 1 MiB, DTB 16 MiB", () =>
  withState(async (dir, s) => {
    const spec = await sparse(`${dir}/spec.yaml`, 50 * 1024 * 1024);
    assertRefused(
      await run([...s, "create", "x", "-f", spec]),
      2,
      `vmanctl: cannot read the spec file: 50 MiB is more than the limit of 1 MiB (${spec})`,
    );
    const justOver = await sparse(`${dir}/over.yaml`, 1024 * 1024 + 1);
    assertRefused(
      await run([...s, "plan", "x", "-f", justOver]),
      2,
      "vmanctl: cannot read the spec file: 1048577 bytes is more than the limit of 1048576 bytes " +
        `(${justOver})`,
    );
    const board = await sparse(`${dir}/board.yaml`, 2 * 1024 * 1024);
    assertRefused(
      await run([...s, "board", "check", board]),
      2,
      `vmanctl: cannot read the board file: 2 MiB is more than the limit of 1 MiB (${board})`,
    );
    const dtb = await sparse(`${dir}/big.dtb`, 17 * 1024 * 1024);
    assertRefused(
      await run([...s, "board", "import", dtb]),
      2,
      `vmanctl: cannot read the DTB: 17 MiB is more than the limit of 16 MiB (${dtb})`,
    );
  }));

Deno.test("core lists are bounded before they are expanded: ids up to 4095, 4096 in all", () =>
  withState(async (dir, s) => {
    const over = (id: string) =>
      `vmanctl: core id ${id} is over 4095, the highest vmanager handles (--cpu-ids)`;
    for (const command of ["create", "plan"]) {
      assertRefused(
        await run([...s, command, "x", "--cpu-ids", "99999999999999999999"]),
        2,
        over("99999999999999999999"),
      );
      assertRefused(
        await run([...s, command, "x", "--cpu-ids", "1-99999999"]),
        2,
        over("99999999"),
      );
      assertRefused(
        await run([...s, command, "x", "--cpu-ids", "0-4095,0-4095"]),
        2,
        "vmanctl: the core list names more than 4096 cores (--cpu-ids)",
      );
    }
    const spec = `${dir}/spec.yaml`;
    await Deno.writeTextFile(spec, `name: x\ncpu-ids: "1-99999999"\n`);
    assertRefused(
      await run([...s, "create", "x", "-f", spec]),
      2,
      `vmanctl: core id 99999999 is over 4095, the highest vmanager handles (${spec}:2)`,
    );
    await Deno.writeTextFile(spec, `cpu-ids: [${Array(5000).fill(1).join(",")}]\n`);
    assertRefused(
      await run([...s, "plan", "x", "-f", spec]),
      2,
      `vmanctl: the core list names more than 4096 cores (${spec}:1)`,
    );
  }));

Deno.test("the kernel command line is at most 2047 bytes", () =>
  withState(async (dir, s) => {
    const limit = "(Linux's COMMAND_LINE_SIZE, 2048 with the final NUL)";
    assertRefused(
      await run([...s, "create", "x", "--cmdline", "x".repeat(100 * 1024)]),
      2,
      `vmanctl: the kernel command line is at least 102400 bytes, more than 2047 ${limit} (--cmdline)`,
    );
    assertRefused(
      await run([...s, "plan", "x", "--cmdline", "é".repeat(1024)]),
      2,
      `vmanctl: the kernel command line is 2048 bytes, more than 2047 ${limit} (--cmdline)`,
    );
    const spec = `${dir}/spec.yaml`;
    await Deno.writeTextFile(spec, `name: x\ncmdline: "${"y".repeat(900 * 1024)}"\n`);
    assertRefused(
      await run([...s, "create", "x", "-f", spec]),
      2,
      `vmanctl: the kernel command line is at least 921600 bytes, more than 2047 ${limit} (${spec}:2)`,
    );
    const fits = await run([...s, "plan", "x", "--cmdline", "z".repeat(2047)]);
    assert.equal(fits.code, 0, fits.stderr);
  }));

Deno.test("a name with a newline or ANSI escapes is refused, and echoed escaped", () =>
  withState(async (dir, s) => {
    const name = "a\nb\x1b[31mred\x1b[0m";
    const shown = "a\\nb\\x1b[31mred\\x1b[0m";
    const rules = "must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";
    assertRefused(
      await run([...s, "create", name]),
      2,
      `vmanctl: partition name '${shown}' ${rules} (NAME)`,
    );
    assertRefused(
      await run([...s, "plan", name, "--cpus", "1"]),
      2,
      `vmanctl: partition name '${shown}' ${rules} (NAME)`,
    );
    for (const command of [["start"], ["stop"], ["destroy"], ["show"], ["dtb", "--dts"]]) {
      assertRefused(
        await run([...s, command[0], name, ...command.slice(1)]),
        2,
        `vmanctl: no partition named '${shown}' (NAME)`,
      );
    }
    const long = await run([...s, "create", "n".repeat(100_000)]);
    assertRefused(long, 2, /^vmanctl: partition name 'n{64}…' must be/);
    const spec = `${dir}/spec.yaml`;
    await Deno.writeTextFile(spec, `name: "x\\ny\\u001b[2J"\ncpus: 1\n`);
    assertRefused(
      await run([...s, "plan", "-f", spec]),
      2,
      `vmanctl: partition name 'x\\ny\\x1b[2J' ${rules} (${spec}:1)`,
    );
  }));

/** A "billion laughs" YAML: each level's anchor holds nine aliases of the one before. */
function aliasBomb(): string {
  const lines = ["name: bomb", `l0: &l0 [${Array(9).fill('"lol"').join(",")}]`];
  for (let i = 1; i < 9; i++) {
    lines.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(",")}]`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("a YAML alias bomb is bad input at its line, in spec, board and configuration files", () =>
  withState(async (dir, s) => {
    const bomb = `${dir}/bomb.yaml`;
    await Deno.writeTextFile(bomb, aliasBomb());
    const line = "vmanctl: YAML: Excessive alias count indicates a resource exhaustion attack " +
      `(aliases may stand for at most 100 nodes) (${bomb}:5)`;
    assertRefused(await run([...s, "create", "x", "-f", bomb]), 2, line);
    assertRefused(await run([...s, "plan", "-f", bomb]), 2, line);
    assertRefused(await run([...s, "board", "check", bomb]), 2, line);
    assertRefused(await run([...s, "--config", bomb, "board", "list"]), 2, line);
  }));

const KERNEL = `${fixturesDir()}/kernels/arm64/Image`;
const HAVE_KERNEL = (() => {
  try {
    return Deno.statSync(KERNEL).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "start, plan and dtb never block on a kernel or initrd swapped for a FIFO after create",
  ignore: !HAVE_KERNEL,
  fn: () =>
    withTempDir(async (dir) => {
      const kernel = `${dir}/Image`;
      const initrd = `${dir}/initrd.img`;
      await Deno.symlink(KERNEL, kernel);
      await Deno.writeFile(initrd, new Uint8Array(1024 * 1024));
      const fifo = "not a regular file but a FIFO";
      await withState(async (_, s) => {
        for (const args of [["start", "p"], ["plan", "p"], ["dtb", "p", "-o", `${dir}/p.dtb`]]) {
          assertRefused(
            await run([...s, ...args]),
            2,
            `vmanctl: cannot read the initrd: ${fifo} (${initrd})`,
          );
        }
        await Deno.remove(initrd);
        await Deno.writeFile(initrd, new Uint8Array(1024 * 1024));
        await Deno.remove(kernel);
        mkfifo(kernel);
        assertRefused(
          await run([...s, "start", "p"]),
          2,
          `vmanctl: cannot read the kernel: ${fifo} (${kernel})`,
        );
      }, {
        create: ["create", "p", "--cpu-ids", "2", "--kernel", kernel, "--initrd", initrd],
        backend: "sim",
        prepare: async () => {
          await Deno.remove(initrd);
          mkfifo(initrd);
        },
      });
    }),
});

/**
 * Passes once core/state/store.ts's decode() calls validateState
 * (core/state/schema.ts).
 */
Deno.test("a broken state.json is one line naming the field, for list, show and create", async () => {
  const cases: [string, (doc: Record<string, unknown>) => void][] = [
    ["partitions[0].name", (doc) => doc.partitions = [{}]],
    [
      "partitions[0].allocation",
      (doc) => delete (doc.partitions as Record<string, unknown>[])[0].allocation,
    ],
    ["board.name", (doc) => doc.board = {}],
  ];
  for (const [field, change] of cases) {
    let file = "";
    await withState(async (_, s) => {
      for (const args of [["list"], ["show", "base"], ["create", "y", "--cpus", "1"]]) {
        assertRefused(
          await run([...s, ...args]),
          1,
          new RegExp(
            `^vmanctl: state field ${literal(field)}: required; no vmanctl command repairs it: ` +
              `.* \\(${literal(file)}\\)$`,
          ),
        );
      }
    }, {
      prepare: async (dir) => {
        file = `${dir}/s/state.json`;
        const doc = JSON.parse(await Deno.readTextFile(file));
        change(doc);
        await Deno.writeTextFile(file, JSON.stringify(doc, null, 2));
      },
    });
  }
});
