/**
 * Consoles you can type into, tried as a person does: under tmux (send-keys,
 * capture-pane) `vmanctl console` reaches the busybox shell of a partition on each
 * board, runs `cat /proc/interrupts`, detaches with Ctrl-] (exit 0, the partition
 * still running), re-attaches and finds the shell; one writer at a time, `--force`
 * takes over, `--follow` readers see the same output; the terminal is restored
 * after a signal and when the partition stops; an attach before the start waits for
 * it; a flooding guest's capture stays within its limit.
 */
import assert from "node:assert/strict";
import { hasTool, vmanctlProcess } from "../cli/helpers.ts";
import {
  bootStaying,
  bootTest,
  createGuest,
  GUESTS,
  missing,
  ok,
  typeIntoConsole,
  uartInterrupts,
  waitForConsole,
  waitForState,
} from "./helpers.ts";
import { Tmux } from "./tmux.ts";

const PROMPT = /vmanager-guest# $/m;

/** Attaches under tmux, waits for the greeting and the shell's prompt. */
async function attach(state: string, ...flags: string[]): Promise<Tmux> {
  const t = await Tmux.start(Tmux.vmanctl(["--state-dir", state, "console", ...flags, "p"]));
  await t.waitFor(/escape character is \^\]/);
  await t.send("Enter");
  await t.waitFor(PROMPT);
  return t;
}

for (const [arch, guest] of Object.entries(GUESTS)) {
  const why = missing(guest) ?? (hasTool("tmux") ? undefined : "tmux is not installed");
  if (why) console.log(`skipping ${arch} console: ${why}`);
  bootTest(
    `console on ${guest.board}: attach under tmux, cat /proc/interrupts, Ctrl-] detaches, re-attach`,
    why !== undefined,
    async (state) => {
      await bootStaying(state, guest);
      const first = await attach(state);
      try {
        await first.send("cat /proc/interrupts", "Enter");
        const screen = await first.waitFor(/(pl011|ttyS)[^\n]*\n[\s\S]*vmanager-guest# $/m);
        const table = screen.slice(screen.lastIndexOf("cat /proc/interrupts"));
        assert.ok(uartInterrupts(table) > 0, table);
        await first.send("C-]");
        const after = await first.waitFor(/TTY -?icanon/);
        assert.match(after, /EXIT=0/);
        assert.match(after, /TTY icanon/, "the terminal is back in canonical mode");
      } finally {
        await first.kill();
      }
      await waitForState(state, "p", "running");
      const again = await attach(state);
      try {
        await again.send("echo again-$((2*3))", "Enter");
        await again.waitFor(/^again-6$/m);
      } finally {
        await again.kill();
      }
    },
  );
}

const arm64 = GUESTS.arm64;
const why = missing(arm64) ?? (hasTool("tmux") ? undefined : "tmux is not installed");

bootTest(
  "console: a second writer is refused with one line, --force takes over, readers follow",
  why !== undefined,
  async (state) => {
    await bootStaying(state, arm64);
    const first = await attach(state);
    let second: Tmux | undefined;
    try {
      const refused = await vmanctlProcess(["--state-dir", state, "console", "p"]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /^vmanctl: partition p's console is in use by vmanctl console \(pid \d+\); --force takes it over \(p\)\n$/,
      );
      // Two read-only followers see what the writer's command prints.
      const followers = [0, 1].map(() =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", `${Deno.cwd()}/main.ts`, "--state-dir", state, "console", "-f", "p"],
          stdout: "piped",
          stderr: "null",
        }).spawn()
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await first.send("echo seen-$((3*5))", "Enter");
      await first.waitFor(/^seen-15$/m);
      second = await attach(state, "--force");
      const taken = await first.waitFor(/TTY -?icanon/);
      assert.match(taken, /partition p's console was taken over by another session/);
      assert.match(taken, /EXIT=1/);
      assert.match(taken, /TTY icanon/);
      await second.send("echo mine-$((4*4))", "Enter");
      await second.waitFor(/^mine-16$/m);
      // The partition stops: the session ends, exit 0, the terminal restored.
      await ok(state, "stop", "p");
      const stopped = await second.waitFor(/TTY -?icanon/);
      assert.match(stopped, /partition p stopped/);
      assert.match(stopped, /EXIT=0/);
      assert.match(stopped, /TTY icanon/);
      for (const follower of followers) {
        const out = new TextDecoder().decode((await follower.output()).stdout);
        assert.match(out, /vmanager-guest: up cpus=1/, "a follower starts with the capture");
        assert.match(out, /^seen-15$/m, "and sees what comes");
      }
    } finally {
      await first.kill();
      await second?.kill();
    }
  },
);

bootTest(
  "console: a signal detaches and restores the terminal; an attach before start waits for it",
  why !== undefined,
  async (state) => {
    await createGuest(state, arm64, "p", "1", "256M", true);
    const t = await Tmux.start(Tmux.vmanctl(["--state-dir", state, "console", "p"]));
    try {
      await t.waitFor(/waiting for partition p to start/);
      await ok(state, "start", "p");
      await t.waitFor(/escape character is \^\]/);
      await t.waitFor(/staying up/, 60_000);
      await t.send("Enter");
      await t.waitFor(PROMPT);
      const pids = await new Deno.Command("pgrep", {
        args: ["-f", `${state} console p`],
        stdout: "piped",
      }).output();
      for (const pid of new TextDecoder().decode(pids.stdout).split("\n").filter(Boolean)) {
        Deno.kill(Number(pid), "SIGTERM");
      }
      const after = await t.waitFor(/TTY -?icanon/);
      assert.match(after, /detached from partition p's console on SIGTERM/);
      assert.match(after, /TTY icanon/);
      await waitForState(state, "p", "running");
    } finally {
      await t.kill();
    }
  },
);

bootTest(
  "console: a flooding guest's capture stays within its limit, and the console still answers",
  missing(arm64) !== undefined,
  async (state) => {
    await createGuest(state, arm64, "p", "1", "256M", true);
    const limit = 64 * 1024;
    const started = await vmanctlProcess(["--state-dir", state, "start", "p"], {
      VMAN_CONSOLE_LOG_LIMIT: String(limit),
    });
    assert.equal(started.code, 0, started.stderr);
    await waitForConsole(state, "p", /vmanager-guest: staying up/);
    await typeIntoConsole(
      state,
      "p",
      "yes flood-flood-flood | head -c 600000; echo done-$((8*8))\n",
      /done-64/,
      120_000,
    );
    const dir = `${state}/qemu/1`;
    for (const file of ["console.log", "console.log.1"]) {
      const size = Deno.statSync(`${dir}/${file}`).size;
      assert.ok(size <= limit, `${file} is ${size} bytes, over ${limit}`);
    }
    const log = await ok(state, "console", "--log", "p");
    assert.match(log, /flood-flood-flood/);
    await typeIntoConsole(state, "p", "echo still-$((9*9))\n", /still-81/);
  },
);
