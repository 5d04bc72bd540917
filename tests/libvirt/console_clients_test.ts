/**
 * The real clients on the console stream, against a daemon in this process on a
 * fake backend with scripted consoles: `virsh console` in tmux (attach, a command
 * and its answer, Ctrl-] detaches with exit 0, re-attach, a second session refused,
 * `--force` takes over, the partition stopping ends it) and python3-libvirt's
 * blocking virStream (`dom.openConsole(None, st, 0)`, `st.send`, `st.recv`).
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { domainXml, HAVE_PYTHON_LIBVIRT, HAVE_VIRSH, python, virsh } from "./helpers.ts";
import {
  FAKE_INTERRUPTS,
  FakeConsoles,
  type InProcessDaemon,
  startInProcessDaemon,
  Tmux,
  waitFor,
} from "./console_helpers.ts";
import { hasTool } from "../cli/helpers.ts";

const HAVE_TMUX = hasTool("tmux");

/** Runs `fn` with a daemon on the fake backend where domain `name` runs. */
async function withDomain(
  name: string,
  fn: (d: InProcessDaemon, fake: FakeConsoles, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const fake = new FakeConsoles();
    const d = await startInProcessDaemon(dir, "fake-console", [fake.plugin()]);
    try {
      await Deno.writeTextFile(`${dir}/${name}.xml`, domainXml(name));
      const define = await virsh(d.uri, "define", `${dir}/${name}.xml`);
      assert.equal(define.code, 0, define.stderr);
      const start = await virsh(d.uri, "start", name);
      assert.equal(start.code, 0, start.stderr);
      await fn(d, fake, dir);
    } finally {
      for (const session of fake.sessions) session.close();
      await d.stop();
    }
  });
}

Deno.test({
  name: "virsh console: attach, run a command, Ctrl-] detaches (exit 0), re-attach; busy; --force",
  ignore: !HAVE_VIRSH || !HAVE_TMUX,
  async fn() {
    await withDomain("vc", async (d, fake, dir) => {
      const tmux = new Tmux(`${dir}/tmux.sock`);
      try {
        const virshConsole = (extra = "") => `virsh -c '${d.uri}' console vc ${extra}`;
        await tmux.start("one", virshConsole());
        await tmux.waitScreen("one", /Escape character is \^\] \(Ctrl \+ \]\)/);
        await tmux.keys("one", "Enter");
        await tmux.waitScreen("one", /fake-guest# $/m);
        await tmux.keys("one", "cat /proc/interrupts", "Enter");
        await tmux.waitScreen("one", /arch_timer/);
        assert.ok((await tmux.screen("one")).includes(FAKE_INTERRUPTS.trim()));
        await tmux.keys("one", "C-]");
        await waitFor(async () => (await tmux.exitStatus("one")) !== undefined, 10_000, "exit");
        assert.equal(await tmux.exitStatus("one"), 0);
        assert.equal(await fake.sessions[0].ended, "closed");
        assert.equal((await virsh(d.uri, "domstate", "vc")).stdout.trim(), "running");

        // Re-attach finds the shell.
        await tmux.start("two", virshConsole());
        await tmux.waitScreen("two", /Escape character/);
        await tmux.keys("two", "Enter");
        await tmux.waitScreen("two", /fake-guest# $/m);

        // A second session is refused while one is attached.
        await tmux.start("busy", virshConsole());
        await waitFor(async () => (await tmux.exitStatus("busy")) !== undefined, 10_000, "busy");
        assert.equal(await tmux.exitStatus("busy"), 1);
        assert.match(
          await tmux.screen("busy"),
          /error: operation failed: Active console session exists for this domain/,
        );

        // --force takes over: the first session ends.
        await tmux.start("force", virshConsole("--force"));
        await tmux.waitScreen("force", /Escape character/);
        await waitFor(async () => (await tmux.exitStatus("two")) !== undefined, 10_000, "taken");
        const lost = await tmux.screen("two");
        assert.match(lost, /stream had I\/O failure/);
        assert.equal(await fake.sessions[1].ended, "taken-over");
        await tmux.keys("force", "cat /proc/interrupts", "Enter");
        await tmux.waitScreen("force", /arch_timer/);

        // The partition stops: virsh sees the end of the console and exits 0.
        fake.stop(fake.sessions.at(-1)!.id);
        await waitFor(async () => (await tmux.exitStatus("force")) !== undefined, 10_000, "eof");
        assert.equal(await tmux.exitStatus("force"), 0, await tmux.screen("force"));
      } finally {
        await tmux.kill();
      }
    });
  },
});

const PY_CONSOLE = String.raw`
import libvirt, sys, time
uri, name = sys.argv[1], sys.argv[2]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
st = conn.newStream(0)
dom.openConsole(None, st, 0)
def read_until(text, seconds=20):
    seen = b""
    deadline = time.time() + seconds
    while text not in seen:
        if time.time() > deadline:
            raise SystemExit("timed out waiting for %r, got %r" % (text, seen))
        chunk = st.recv(4096)
        if not chunk:
            raise SystemExit("end of stream after %r" % seen)
        seen += chunk
    return seen
read_until(b"fake-guest# ")
st.send(b"cat /proc/interrupts\r")
out = read_until(b"arch_timer")
print(out.decode(errors="replace"))
# A second console while this one is open is refused.
st2 = conn.newStream(0)
try:
    dom.openConsole(None, st2, 0)
    print("second: opened")
except libvirt.libvirtError as e:
    print("second:", e.get_error_code(), e.get_error_message())
st.finish()
conn.close()
`;

Deno.test({
  name: "python3-libvirt: openConsole on a blocking stream, send a command, recv its answer",
  ignore: !HAVE_PYTHON_LIBVIRT,
  async fn() {
    await withDomain("py", async (d, fake) => {
      const result = await python(PY_CONSOLE, d.uri, "py");
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /cat \/proc\/interrupts\r?\n/);
      assert.match(result.stdout, /arch_timer/);
      assert.match(
        result.stdout,
        /second: 9 operation failed: Active console session exists for this domain/,
      );
      assert.equal(fake.sessions[0].written, "cat /proc/interrupts\r");
      assert.equal(await fake.sessions[0].ended, "closed");
    });
  },
});
