/**
 * `virsh -c vmanager` through a `uri_aliases` entry, as docs/libvirt.md says, run
 * as an unprivileged user (so virsh reads the user's libvirt.conf): that user
 * reaches the read-only socket (mode 0666) and not the read-write one (0600).
 */
import assert from "node:assert/strict";
import { hasTool, withTempDir } from "../cli/helpers.ts";
import { type ClientResult, domainXml, HAVE_VIRSH, run, startDaemon, virsh } from "./helpers.ts";

const ROOT_USER = Deno.uid() === 0;
const skip = !HAVE_VIRSH
  ? "virsh is not installed"
  : ROOT_USER && !hasTool("setpriv")
  ? "setpriv (util-linux) is not installed"
  : undefined;
if (skip) console.log(`skipping the uri_aliases test: ${skip}`);

/** virsh as an unprivileged user (nobody when the tests run as root) with `config` as XDG dir. */
function virshAs(config: string, ...args: string[]): Promise<ClientResult> {
  const env = { HOME: config, XDG_CONFIG_HOME: config, XDG_CACHE_HOME: config };
  return ROOT_USER
    ? run("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "virsh", ...args], {
      env,
    })
    : run("virsh", args, { env });
}

Deno.test({
  name: "virsh -c vmanager works through uri_aliases; others reach only the read-only socket",
  ignore: skip !== undefined,
  async fn() {
    await withTempDir(async (dir) => {
      await Deno.chmod(dir, 0o755);
      const d = await startDaemon(dir);
      try {
        await Deno.writeTextFile(`${dir}/a.xml`, domainXml("aliased"));
        assert.equal((await virsh(d.uri, "define", `${dir}/a.xml`)).code, 0);
        const config = `${dir}/config`;
        await Deno.mkdir(`${config}/libvirt`, { recursive: true, mode: 0o755 });
        await Deno.chmod(config, 0o777);
        await Deno.writeTextFile(
          `${config}/libvirt/libvirt.conf`,
          `uri_aliases = [\n  "vmanager=vmanager+unix:///system?socket=${d.roSocket}",\n` +
            `  "vmanager-rw=vmanager+unix:///system?socket=${d.socket}",\n]\n`,
        );
        const list = await virshAs(config, "-c", "vmanager", "list", "--all", "--name");
        assert.equal(list.code, 0, list.stderr);
        assert.equal(list.stdout.trim(), "aliased");
        if (ROOT_USER) {
          const rw = await virshAs(config, "-c", "vmanager-rw", "list", "--all");
          assert.equal(rw.code, 1);
          assert.match(rw.stderr, /Permission denied/);
        }
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
