/**
 * The real virsh against a real daemon for what orchestrators call: `domcapabilities`,
 * `domifaddr`, `desc`, `metadata`, `suspend`/`resume`, `nodememstats`, `freecell`;
 * and `vmanctl show` printing what `desc` set.
 */
import assert from "node:assert/strict";
import { hasTool, vmanctl, withTempDir } from "../cli/helpers.ts";
import { boardNetwork } from "../../plugins/qemu/bridge.ts";
import { domainXml, HAVE_VIRSH, startDaemon, virsh, withDaemon } from "./helpers.ts";

if (!HAVE_VIRSH) console.log("skipping virsh tests: install libvirt-clients (scripts/setup.sh)");

/** virt-xml-validate works (it runs xmllint, of libxml2-utils). */
const HAVE_XMLLINT = hasTool("xmllint") && hasTool("virt-xml-validate");
if (!HAVE_XMLLINT) {
  console.log("skipping domcapabilities: install libxml2-utils (scripts/setup.sh)");
}

/** A file holding `text` in `dir`. */
async function file(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** `virsh nodememstats`' value of `field` in KiB. */
function memstat(text: string, field: string): number {
  return Number(new RegExp(`^${field}\\s*:\\s*(\\d+) KiB`, "m").exec(text)?.[1]);
}

Deno.test({
  name: "virsh: domcapabilities names the board, its arch and free cores; other arches are refused",
  ignore: !HAVE_VIRSH || !HAVE_XMLLINT,
  async fn() {
    await withDaemon(async (d, dir) => {
      const before = await virsh(d.uri, "domcapabilities");
      assert.equal(before.code, 0, before.stderr);
      assert.match(before.stdout, /<domain>vmanager<\/domain>/);
      assert.match(before.stdout, /<machine>qemu-virt-arm64<\/machine>/);
      assert.match(before.stdout, /<arch>aarch64<\/arch>/);
      assert.match(before.stdout, /<vcpu max='3'\/>/);
      assert.match(before.stdout, /<value>gpio0<\/value>/);
      // libvirt's own schema (virt-xml-validate runs xmllint with domaincaps.rng).
      const path = await file(dir, "caps.xml", before.stdout);
      const valid = await new Deno.Command("virt-xml-validate", {
        args: [path, "domaincaps"],
      }).output();
      assert.ok(valid.success, new TextDecoder().decode(valid.stderr));
      const xml = await file(dir, "c.xml", domainXml("c", "", "<vcpu cpuset='2-3'>2</vcpu>"));
      assert.equal((await virsh(d.uri, "define", xml)).code, 0);
      const after = await virsh(
        d.uri,
        "domcapabilities",
        "--arch",
        "aarch64",
        "--virttype",
        "vmanager",
        "--machine",
        "qemu-virt-arm64",
      );
      assert.equal(after.code, 0, after.stderr);
      assert.match(after.stdout, /<vcpu max='1'\/>/);
      for (const args of [["--arch", "x86_64"], ["--virttype", "kvm"], ["--machine", "pc"]]) {
        const refused = await virsh(d.uri, "domcapabilities", ...args);
        assert.equal(refused.code, 1, args.join(" "));
        assert.match(refused.stderr, /invalid argument: .* is not supported: vmanager's board/);
      }
    }, []);
  },
});

Deno.test({
  name: "virsh: domifaddr gives only the addresses vmanager knows",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withDaemon(async (d, dir) => {
      const lan = boardNetwork("lan").prefix;
      const onLan = "<devices><interface type='network'><source network='lan'/></interface>" +
        "</devices>";
      const docs: Record<string, string> = {
        bare: domainXml("bare"),
        user: domainXml("user", "<devices><interface type='user'/></devices>"),
        // The command line gives eth0 an address on the board network (the test guest's /init).
        lan: domainXml("lan", onLan).replace(
          "<os>",
          `<os><cmdline>console=ttyAMA0 vmanager.ip=${lan}.7/24</cmdline>`,
        ),
        dark: domainXml("dark", onLan), // on the board network, no address given
      };
      const up = async (name: string) => {
        const text = await file(dir, `${name}.xml`, docs[name]);
        const defined = await virsh(d.uri, "define", text);
        assert.equal(defined.code, 0, defined.stderr);
        if (name === "user") {
          const stopped = await virsh(d.uri, "domifaddr", "user");
          assert.equal(stopped.code, 1);
          assert.match(stopped.stderr, /domain is not running/);
        }
        assert.equal((await virsh(d.uri, "start", name)).code, 0, name);
      };
      const rows = async (name: string) => {
        const out = await virsh(d.uri, "domifaddr", name);
        assert.equal(out.code, 0, out.stderr);
        return out.stdout.split("\n").filter((l) => /ipv4/.test(l)).map((l) =>
          l.trim().split(/\s+/)
        );
      };
      for (const name of ["bare", "user", "lan"]) await up(name);
      assert.deepEqual(await rows("bare"), []);
      assert.deepEqual(await rows("user"), [["net0", "ipv4", "10.0.2.15/24"]]);
      assert.deepEqual(await rows("lan"), [["net0", "ipv4", `${lan}.7/24`]]);
      // The board has three free cores: bare makes room for dark.
      assert.equal((await virsh(d.uri, "destroy", "bare")).code, 0);
      assert.equal((await virsh(d.uri, "undefine", "bare")).code, 0);
      await up("dark");
      assert.deepEqual(await rows("dark"), []);
      const arp = await virsh(d.uri, "domifaddr", "user", "--source", "arp");
      assert.equal(arp.code, 0, arp.stderr);
      assert.doesNotMatch(arp.stdout, /ipv4/);
      const agent = await virsh(d.uri, "domifaddr", "user", "--source", "agent");
      assert.equal(agent.code, 1);
      assert.match(agent.stderr, /argument unsupported: a partition has no guest agent/);
    }, []);
  },
});

Deno.test({
  name: "virsh: desc and metadata are kept in the partition, dumpxml and a define of it",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withDaemon(async (d, dir) => {
      const xml = await file(dir, "m.xml", domainXml("m"));
      assert.equal((await virsh(d.uri, "define", xml)).code, 0);
      const none = await virsh(d.uri, "desc", "m");
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /No description for domain: m/);
      assert.equal((await virsh(d.uri, "desc", "m", "--title", "Real-time loop")).code, 0);
      assert.equal((await virsh(d.uri, "desc", "m", "Runs the motor control")).code, 0);
      const uri = "http://example.org/orchestrator/1";
      const set = await virsh(
        d.uri,
        "metadata",
        "m",
        uri,
        "--key",
        "orch",
        "--set",
        "<owner team='robots'><id>42</id></owner>",
      );
      assert.equal(set.code, 0, set.stderr);
      const read = async () => ({
        title: (await virsh(d.uri, "desc", "m", "--title")).stdout.trim(),
        desc: (await virsh(d.uri, "desc", "m")).stdout.trim(),
        meta: (await virsh(d.uri, "metadata", "m", uri)).stdout.trim(),
      });
      const first = await read();
      assert.deepEqual(first, {
        title: "Real-time loop",
        desc: "Runs the motor control",
        meta: '<owner team="robots"><id>42</id></owner>',
      });
      const show = await vmanctl(["--state-dir", d.stateDir, "show", "m"]);
      assert.match(show.stdout, /^Title: +Real-time loop$/m);
      assert.match(show.stdout, /^Desc\.: +Runs the motor control$/m);

      // dumpxml, undefine, define it again: all kept.
      const dumped = await virsh(d.uri, "dumpxml", "m");
      assert.match(dumped.stdout, /<title>Real-time loop<\/title>/);
      assert.match(dumped.stdout, /<orch:owner team="robots" xmlns:orch="http:\/\/example.org/);
      const again = await file(dir, "again.xml", dumped.stdout);
      assert.equal((await virsh(d.uri, "undefine", "m")).code, 0);
      assert.equal((await virsh(d.uri, "define", again)).code, 0);
      assert.deepEqual(await read(), first);

      const removed = await virsh(d.uri, "metadata", "m", uri, "--remove");
      assert.equal(removed.code, 0, removed.stderr);
      const gone = await virsh(d.uri, "metadata", "m", uri);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /metadata not found: Requested metadata element is not present/);
      const bad = await virsh(d.uri, "metadata", "m", uri, "--key", "1bad", "--set", "<a/>");
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /failed to validate prefix for a new XML namespace/);
      const live = await virsh(d.uri, "desc", "m", "--live", "--title", "x");
      assert.equal(live.code, 1);
      assert.match(live.stderr, /domain is not running/);
    }, []);
  },
});

Deno.test({
  name: "vmanctl update -f and edit keep the title, description and metadata virsh set",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withDaemon(async (d, dir) => {
      assert.equal(
        (await virsh(d.uri, "define", await file(dir, "m.xml", domainXml("m")))).code,
        0,
      );
      assert.equal((await virsh(d.uri, "desc", "m", "--title", "Real-time loop")).code, 0);
      assert.equal((await virsh(d.uri, "desc", "m", "Runs the motor control")).code, 0);
      const uri = "http://example.org/orchestrator/1";
      const meta = "<owner team='robots'><id>42</id></owner>";
      assert.equal((await virsh(d.uri, "metadata", "m", uri, "--key", "o", "--set", meta)).code, 0);
      const read = async () => ({
        title: (await virsh(d.uri, "desc", "m", "--title")).stdout.trim(),
        desc: (await virsh(d.uri, "desc", "m")).stdout.trim(),
        meta: (await virsh(d.uri, "metadata", "m", uri)).stdout.trim(),
        memory: (await virsh(d.uri, "dominfo", "m")).stdout.match(/^Max memory: +(\d+) KiB/m)?.[1],
      });
      const before = await read();
      assert.equal(before.title, "Real-time loop");
      const s = ["--state-dir", d.stateDir];
      const spec = await file(dir, "m.yaml", "cpus: 1\nmemory: 256M\n");
      const updated = await vmanctl([...s, "update", "m", "-f", spec]);
      assert.equal(updated.code, 0, updated.stderr);
      assert.deepEqual(await read(), { ...before, memory: String(256 * 1024) });
      const edited = await vmanctl([...s, "edit", "m"], { EDITOR: "sed -i s/256M/128M/" });
      assert.equal(edited.code, 0, edited.stderr);
      assert.deepEqual(await read(), before);
    }, []);
  },
});

Deno.test({
  name: "virsh: suspend and resume say a partition cannot pause; nodememstats and freecell",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withDaemon(async (d, dir) => {
      const stats0 = await virsh(d.uri, "nodememstats");
      assert.equal(stats0.code, 0, stats0.stderr);
      assert.equal(memstat(stats0.stdout, "total"), 2048 * 1024);
      assert.equal(memstat(stats0.stdout, "free"), 1792 * 1024);
      const xml = await file(dir, "s.xml", domainXml("s"));
      assert.equal((await virsh(d.uri, "define", xml)).code, 0);
      const cell = await virsh(d.uri, "freecell");
      assert.equal(cell.code, 0, cell.stderr);
      assert.match(cell.stdout, /Total: 1703936 KiB/); // 1792 MiB less s's 128 MiB
      const all = await virsh(d.uri, "freecell", "--all");
      assert.match(all.stdout, /0: +1703936 KiB/);
      assert.equal(memstat((await virsh(d.uri, "nodememstats")).stdout, "free"), 1703936);
      assert.equal((await virsh(d.uri, "nodememstats", "--cell", "1")).code, 1);

      assert.equal((await virsh(d.uri, "start", "s")).code, 0);
      for (const command of ["suspend", "resume"]) {
        const refused = await virsh(d.uri, command, "s");
        assert.equal(refused.code, 1, command);
        assert.match(
          refused.stderr,
          /this function is not supported by the connection driver: virDomain(Suspend|Resume): partition 's' cannot be paused/,
        );
      }
      const state = await virsh(d.uri, "domstate", "s");
      assert.equal(state.stdout.trim(), "running");

      // Redefined while it runs: what its next definition holds is not free either.
      const vcpuMax = async () =>
        Number(/<vcpu max='(\d+)'\/>/.exec((await virsh(d.uri, "domcapabilities")).stdout)?.[1]);
      const cores = await vcpuMax();
      const bigger = domainXml("s", "", "<vcpu>2</vcpu>")
        .replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>256</memory>");
      assert.equal((await virsh(d.uri, "define", await file(dir, "s2.xml", bigger))).code, 0);
      assert.match((await virsh(d.uri, "freecell")).stdout, /Total: 1572864 KiB/); // less 256 MiB
      assert.equal(memstat((await virsh(d.uri, "nodememstats")).stdout, "free"), 1572864);
      assert.equal(await vcpuMax(), cores - 1);
    }, []);
  },
});

Deno.test({
  name: "virsh: on the qemu backend dumpxml names each interface's MAC (none on dry-run)",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const two = "<devices><interface type='user'/><interface type='network'>" +
        "<source network='lan'/></interface></devices>";
      for (const backend of ["qemu", "dry-run"]) {
        const d = await startDaemon(`${dir}/${backend}`, ["--backend", backend]);
        try {
          const xml = await file(dir, `${backend}.xml`, domainXml("macs", two));
          const defined = await virsh(d.uri, "define", xml);
          assert.equal(defined.code, 0, defined.stderr);
          const dumped = await virsh(d.uri, "dumpxml", "macs");
          const macs = [...dumped.stdout.matchAll(/<mac address='([0-9a-f:]+)'\/>/g)].map((m) =>
            m[1]
          );
          if (backend === "dry-run") assert.deepEqual(macs, []);
          else {
            // QEMU's: 52:54:00, the partition id (1), the virtio-mmio bus of its slot.
            assert.equal(macs.length, 2);
            for (const mac of macs) assert.match(mac, /^52:54:00:00:01:[0-9a-f]{2}$/);
            assert.notEqual(macs[0], macs[1]);
          }
        } finally {
          assert.equal(await d.stop(), 0);
        }
      }
    });
  },
});
