/**
 * libvirt consoles end to end on the qemu backend: one Linux boot (the fixture
 * guest with `vmanager.stay` keeps a busybox shell on its console), then, through
 * the daemon, `virsh console` under tmux reaches the shell, runs
 * `cat /proc/interrupts` and sees the UART's line, detaches with Ctrl-] (exit 0,
 * the domain still running) and re-attaches; a second `virsh console` is refused
 * while one is attached and `--force` takes over (the first virsh ends); and
 * python3-libvirt's blocking virStream reads the console and gets the answer of a
 * command it writes; `virsh destroy` ends an attached `virsh console` (exit 0).
 * The partition is destroyed and the daemon stopped at the end, whatever happens.
 */
import assert from "node:assert/strict";
import { hasTool, withTempDir } from "../cli/helpers.ts";
import { destroyAll, GUESTS, missing, uartInterrupts, waitForConsole } from "../qemu/helpers.ts";
import { HAVE_PYTHON_LIBVIRT, HAVE_VIRSH, linuxDomainXml, python, virsh } from "./helpers.ts";
import { startInProcessDaemon, Tmux, waitFor } from "./console_helpers.ts";

const GUEST = GUESTS.arm64;
const PROMPT = /vmanager-guest# $/m;

function why(): string | undefined {
  if (!HAVE_VIRSH) return "virsh is not installed";
  if (!HAVE_PYTHON_LIBVIRT) return "python3-libvirt is not installed";
  if (!hasTool("tmux")) return "tmux is not installed";
  return missing(GUEST);
}
const skip = why();
if (skip) console.log(`skipping libvirt consoles on the qemu backend: ${skip}`);

const PY_CONSOLE = String.raw`
import libvirt, sys, time
uri, name = sys.argv[1], sys.argv[2]
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
st = conn.newStream(0)
dom.openConsole(None, st, 0)
seen = b""
def read_until(text, seconds=30):
    global seen
    deadline = time.time() + seconds
    while text not in seen:
        if time.time() > deadline:
            raise SystemExit("timed out waiting for %r, got %r" % (text, seen))
        chunk = st.recv(4096)
        if not chunk:
            raise SystemExit("end of stream after %r" % seen)
        seen += chunk
st.send(b"\r")
read_until(b"vmanager-guest# ")
seen = b""
st.send(b"echo py-$((6*7)); cat /proc/interrupts\r")
read_until(b"py-42\r\n")
read_until(b"vmanager-guest# ")
sys.stdout.write(seen.decode(errors="replace"))
st.finish()
conn.close()
`;

Deno.test({
  name:
    "virsh console and python3-libvirt reach the shell of a Linux partition on the qemu backend",
  ignore: skip !== undefined,
  async fn(t) {
    await withTempDir(async (dir) => {
      const d = await startInProcessDaemon(dir, "qemu");
      const tmux = new Tmux(`${dir}/tmux.sock`);
      try {
        await Deno.writeTextFile(
          `${dir}/linux.xml`,
          linuxDomainXml({ name: "linux", vcpu: "<vcpu cpuset='1'>1</vcpu>" }),
        );
        assert.equal((await virsh(d.uri, "define", `${dir}/linux.xml`)).code, 0);
        const start = await virsh(d.uri, "start", "linux");
        assert.equal(start.code, 0, start.stderr);
        await waitForConsole(d.stateDir, "linux", /vmanager-guest: staying up/);
        const attach = async (window: string, ...flags: string[]) => {
          await tmux.start(window, `virsh -c '${d.uri}' console ${flags.join(" ")} linux`);
          await tmux.waitScreen(window, /Escape character is \^\]/);
          await tmux.keys(window, "Enter");
          await tmux.waitScreen(window, PROMPT, 30_000);
        };
        const exited = async (window: string) => {
          await waitFor(async () => (await tmux.exitStatus(window)) !== undefined, 15_000, window);
          return await tmux.exitStatus(window);
        };

        await t.step(
          "virsh console: cat /proc/interrupts, Ctrl-] detaches, re-attach",
          async () => {
            await attach("one");
            await tmux.keys("one", "cat /proc/interrupts", "Enter");
            const screen = await tmux.waitScreen(
              "one",
              /(pl011|uart)[^\n]*\n[\s\S]*vmanager-guest# $/m,
            );
            const table = screen.slice(screen.lastIndexOf("cat /proc/interrupts"));
            assert.ok(uartInterrupts(table) > 0, table);
            await tmux.keys("one", "C-]");
            assert.equal(await exited("one"), 0, await tmux.screen("one"));
            assert.equal((await virsh(d.uri, "domstate", "linux")).stdout.trim(), "running");
            await attach("two");
            await tmux.keys("two", "echo again-$((40+2))", "Enter");
            await tmux.waitScreen("two", /^again-42$/m);
          },
        );

        await t.step("a second virsh console is refused; --force takes over", async () => {
          await tmux.start("busy", `virsh -c '${d.uri}' console linux`);
          assert.equal(await exited("busy"), 1);
          assert.match(
            await tmux.screen("busy"),
            /error: operation failed: Active console session exists for this domain/,
          );
          await attach("force", "--force");
          assert.equal(await exited("two"), 1);
          assert.match(await tmux.screen("two"), /stream had I\/O failure/);
          await tmux.keys("force", "C-]");
          assert.equal(await exited("force"), 0, await tmux.screen("force"));
        });

        await t.step("python3-libvirt: openConsole, send a command, recv its answer", async () => {
          const result = await python(PY_CONSOLE, d.uri, "linux");
          assert.equal(result.code, 0, result.stderr + result.stdout);
          assert.match(result.stdout, /^py-42\r?$/m);
          assert.ok(uartInterrupts(result.stdout) > 0, result.stdout);
          assert.equal((await virsh(d.uri, "domstate", "linux")).stdout.trim(), "running");
        });

        await t.step("virsh destroy ends an attached virsh console (exit 0)", async () => {
          await attach("last");
          const destroy = await virsh(d.uri, "destroy", "linux");
          assert.equal(destroy.code, 0, destroy.stderr);
          assert.equal(await exited("last"), 0, await tmux.screen("last"));
        });
      } finally {
        await tmux.kill();
        await virsh(d.uri, "destroy", "linux");
        await d.stop();
        await destroyAll(d.stateDir);
      }
    });
  },
});
