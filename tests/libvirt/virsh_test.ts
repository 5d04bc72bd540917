/**
 * The real virsh (libvirt-clients) against a real `vmanctl daemon`: every command
 * of the acceptance list, vmanctl and virsh seeing each other's domains, events,
 * the read-only socket, XML errors that change nothing.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { domainXml, field, HAVE_VIRSH, startDaemon, virsh } from "./helpers.ts";

if (!HAVE_VIRSH) console.log("skipping virsh tests: install libvirt-clients (scripts/setup.sh)");

Deno.test({
  name: "virsh: version, hostname, nodeinfo, capabilities describe the board",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const version = await virsh(d.uri, "version");
        assert.equal(version.code, 0, version.stderr);
        assert.match(version.stdout, /Running hypervisor: VMANAGER 0\.1\.0/);
        const hostname = await virsh(d.uri, "hostname");
        assert.equal(hostname.code, 0, hostname.stderr);
        assert.equal(hostname.stdout.trim(), Deno.hostname());
        const nodeinfo = await virsh(d.uri, "nodeinfo");
        assert.equal(nodeinfo.code, 0, nodeinfo.stderr);
        assert.equal(field(nodeinfo.stdout, "CPU model"), "aarch64");
        assert.equal(field(nodeinfo.stdout, "CPU\\(s\\)"), "4");
        assert.equal(field(nodeinfo.stdout, "Memory size"), "2097152 KiB");
        const caps = await virsh(d.uri, "capabilities");
        assert.equal(caps.code, 0, caps.stderr);
        assert.match(caps.stdout, /<arch>aarch64<\/arch>/);
        assert.match(caps.stdout, /<domain type='vmanager'\/>/);
        assert.match(caps.stdout, /<cpus num='4'>/);
        // Any connection name reaches the daemon: tools that only know qemu://, or none at all.
        const qemu = await virsh(d.uri.replace("vmanager+unix", "qemu+unix"), "hostname");
        assert.equal(qemu.code, 0, qemu.stderr);
        const byDefault = await new Deno.Command("virsh", {
          args: ["hostname"],
          env: { LIBVIRT_DEFAULT_URI: d.uri },
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(byDefault.code, 0, new TextDecoder().decode(byDefault.stderr));
        assert.equal(new TextDecoder().decode(byDefault.stdout).trim(), Deno.hostname());
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "virsh: define, list, start, dominfo, domstate, dumpxml, destroy, undefine",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const file = `${dir}/rt1.xml`;
        await Deno.writeTextFile(
          file,
          domainXml(
            "rt1",
            "\n  <uuid>6f2b3c1e-8d4a-4e59-9c1b-2a3d4e5f6a7b</uuid>",
            "<vcpu cpuset='2-3'>2</vcpu>",
          ),
        );
        const define = await virsh(d.uri, "define", file);
        assert.equal(define.code, 0, define.stderr);
        assert.match(define.stdout, /Domain 'rt1' defined/);

        let list = await virsh(d.uri, "list", "--all");
        assert.equal(list.code, 0, list.stderr);
        assert.match(list.stdout, /^\s*-\s+rt1\s+shut off\s*$/m);

        const start = await virsh(d.uri, "start", "rt1");
        assert.equal(start.code, 0, start.stderr);
        assert.match(start.stdout, /Domain 'rt1' started/);

        const info = await virsh(d.uri, "dominfo", "rt1");
        assert.equal(info.code, 0, info.stderr);
        assert.equal(field(info.stdout, "Name"), "rt1");
        assert.equal(field(info.stdout, "UUID"), "6f2b3c1e-8d4a-4e59-9c1b-2a3d4e5f6a7b");
        assert.equal(field(info.stdout, "State"), "running");
        assert.equal(field(info.stdout, "CPU\\(s\\)"), "2");
        assert.equal(field(info.stdout, "Max memory"), "131072 KiB");
        assert.equal(field(info.stdout, "Persistent"), "yes");
        const id = field(info.stdout, "Id");
        assert.match(id ?? "", /^\d+$/);

        const state = await virsh(d.uri, "domstate", "rt1");
        assert.equal(state.code, 0, state.stderr);
        assert.equal(state.stdout.trim(), "running");

        list = await virsh(d.uri, "list");
        assert.match(list.stdout, new RegExp(`^\\s*${id}\\s+rt1\\s+running\\s*$`, "m"));

        const xml = await virsh(d.uri, "dumpxml", "rt1");
        assert.equal(xml.code, 0, xml.stderr);
        assert.match(xml.stdout, new RegExp(`<domain type='vmanager' id='${id}'>`));
        assert.match(xml.stdout, /<uuid>6f2b3c1e-8d4a-4e59-9c1b-2a3d4e5f6a7b<\/uuid>/);
        assert.match(xml.stdout, /<memory unit='KiB'>131072<\/memory>/);
        assert.match(xml.stdout, /<vcpu placement='static' cpuset='2-3'>2<\/vcpu>/);
        // The allocated window, as vmanctl reports it.
        const shown = JSON.parse(
          (await vmanctlProcess(["--state-dir", d.stateDir, "show", "rt1", "--json"])).stdout,
        );
        const base = `0x${shown.memory.base.toString(16)}`;
        assert.match(xml.stdout, new RegExp(`<vmanager:window base='${base}' size='0x8000000'/>`));

        const destroy = await virsh(d.uri, "destroy", "rt1");
        assert.equal(destroy.code, 0, destroy.stderr);
        assert.equal((await virsh(d.uri, "domstate", "rt1")).stdout.trim(), "shut off");
        const again = await virsh(d.uri, "destroy", "rt1");
        assert.equal(again.code, 1);
        assert.match(again.stderr, /not running/);

        const undefine = await virsh(d.uri, "undefine", "rt1");
        assert.equal(undefine.code, 0, undefine.stderr);
        list = await virsh(d.uri, "list", "--all");
        assert.doesNotMatch(list.stdout, /rt1/);
        const gone = await virsh(d.uri, "dominfo", "rt1");
        assert.equal(gone.code, 1);
        assert.match(gone.stderr, /failed to get domain 'rt1'/);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "virsh and vmanctl see each other's partitions through the shared state",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const created = await vmanctlProcess([
          "--state-dir",
          d.stateDir,
          "--board",
          "qemu-virt-arm64",
          "create",
          "fromcli",
          "--cpus",
          "1",
          "--memory",
          "64M",
        ]);
        assert.equal(created.code, 0, created.stderr);
        const list = await virsh(d.uri, "list", "--all");
        assert.match(list.stdout, /^\s*-\s+fromcli\s+shut off\s*$/m);
        const info = await virsh(d.uri, "dominfo", "fromcli");
        assert.equal(field(info.stdout, "Max memory"), "65536 KiB");
        const uuid = field(info.stdout, "UUID")!;
        assert.match(uuid, /^[0-9a-f-]{36}$/);
        // The UUID is kept: the same on every look.
        assert.equal(field((await virsh(d.uri, "dominfo", uuid)).stdout, "Name"), "fromcli");

        await Deno.writeTextFile(`${dir}/v.xml`, domainXml("fromvirsh"));
        assert.equal((await virsh(d.uri, "define", `${dir}/v.xml`)).code, 0);
        assert.equal((await virsh(d.uri, "start", "fromvirsh")).code, 0);
        const shown = await vmanctlProcess(["--state-dir", d.stateDir, "list", "--json"]);
        const rows = JSON.parse(shown.stdout) as { name: string; state: string }[];
        assert.deepEqual(
          rows.map((r) => [r.name, r.state]),
          [["fromcli", "defined"], ["fromvirsh", "running"]],
        );
        // vmanctl starts what virsh defined; virsh sees it running.
        assert.equal(
          (await vmanctlProcess(["--state-dir", d.stateDir, "start", "fromcli"])).code,
          0,
        );
        assert.equal((await virsh(d.uri, "domstate", "fromcli")).stdout.trim(), "running");
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "virsh: bad XML gets an XML error and changes nothing",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        const cases: [string, RegExp][] = [
          ["<domain type='vmanager'><name>x</name>", /XML error: malformed XML/],
          [
            `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>` +
            `<domain type='vmanager'><name>&b;</name></domain>`,
            /DOCTYPE or entity declaration is not allowed/,
          ],
          [
            `<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><domain type='vmanager'><name>&x;</name></domain>`,
            /DOCTYPE or entity declaration is not allowed/,
          ],
          [
            domainXml("big", `<description>${"x".repeat(1024 * 1024)}</description>`),
            /limit is 1048576/,
          ],
          [domainXml("k").replace("vmanager", "kvm"), /domain type 'kvm' is not supported/],
          [domainXml("arch").replace("aarch64", "riscv64"), /does not match board/],
        ];
        for (const [i, [xml, message]] of cases.entries()) {
          const file = `${dir}/bad${i}.xml`;
          await Deno.writeTextFile(file, xml);
          const out = await virsh(d.uri, "define", file);
          assert.equal(out.code, 1, `case ${i}`);
          assert.match(out.stderr, message, `case ${i}`);
        }
        const list = await virsh(d.uri, "list", "--all", "--name");
        assert.equal(list.stdout.trim(), "");
        // A new state dir stays empty: no state document was written.
        await assert.rejects(Deno.stat(`${d.stateDir}/state.json`), Deno.errors.NotFound);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name: "virsh: the read-only socket reads but cannot change anything",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        await Deno.writeTextFile(`${dir}/a.xml`, domainXml("a"));
        assert.equal((await virsh(d.uri, "define", `${dir}/a.xml`)).code, 0);
        assert.equal((await Deno.stat(d.socket)).mode! & 0o777, 0o600);
        const list = await virsh(d.roUri, "list", "--all", "--name");
        assert.equal(list.code, 0, list.stderr);
        assert.equal(list.stdout.trim(), "a");
        for (const args of [["start", "a"], ["undefine", "a"], ["define", `${dir}/a.xml`]]) {
          const out = await virsh(d.roUri, ...args);
          assert.equal(out.code, 1, args.join(" "));
          assert.match(out.stderr, /read only access prevents/);
        }
        // virsh -r on the read-write socket is read-only too.
        const ro = await virsh(d.uri, "-r", "start", "a");
        assert.equal(ro.code, 1);
        assert.match(ro.stderr, /read only access prevents/);
        assert.equal((await virsh(d.uri, "domstate", "a")).stdout.trim(), "shut off");
      } finally {
        assert.equal(await d.stop(), 0);
      }
    });
  },
});

Deno.test({
  name:
    "virsh: autostart is kept and honoured when the daemon starts; unsupported procedures get NO_SUPPORT",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir);
      try {
        await Deno.writeTextFile(`${dir}/a.xml`, domainXml("a"));
        assert.equal((await virsh(d.uri, "define", `${dir}/a.xml`)).code, 0);
        assert.equal((await virsh(d.uri, "autostart", "a")).code, 0);
        assert.equal(field((await virsh(d.uri, "dominfo", "a")).stdout, "Autostart"), "enable");
        assert.match((await virsh(d.uri, "list", "--all", "--autostart")).stdout, / a /);
        assert.doesNotMatch((await virsh(d.uri, "list", "--all", "--no-autostart")).stdout, / a /);
        assert.equal((await virsh(d.uri, "autostart", "--disable", "a")).code, 0);
        assert.equal(field((await virsh(d.uri, "dominfo", "a")).stdout, "Autostart"), "disable");
        const suspend = await virsh(d.uri, "suspend", "a");
        assert.equal(suspend.code, 1);
        assert.match(suspend.stderr, /not supported/);
        // A domain marked autostart is started when the daemon starts.
        await Deno.writeTextFile(`${dir}/b.xml`, domainXml("b"));
        assert.equal((await virsh(d.uri, "define", `${dir}/b.xml`)).code, 0);
        assert.equal((await virsh(d.uri, "autostart", "b")).code, 0);
      } finally {
        assert.equal(await d.stop(), 0);
      }
      const again = await startDaemon(dir);
      try {
        assert.equal((await virsh(again.uri, "domstate", "b")).stdout.trim(), "running");
        assert.equal((await virsh(again.uri, "domstate", "a")).stdout.trim(), "shut off");
      } finally {
        assert.equal(await again.stop(), 0);
      }
    });
  },
});
