/**
 * virt-install (Debian's virtinst 4.1) creates partitions through a real
 * `vmanctl daemon`, unmodified: `--import --disk none --network none --graphics none
 * --virt-type vmanager --arch aarch64 --boot kernel=…,initrd=…,kernel_args=…`.
 * virt-install reads the capabilities (GET_CAPABILITIES: the guest's arch, machine
 * and domain type), checks the name is free (LOOKUP_BY_NAME), creates and starts
 * the domain with CREATE_XML (10) and makes it persistent with DEFINE_XML of the
 * same document, then reads its XML; `--transient` stops after CREATE_XML. The
 * XML it writes carries elements vmanager has no use for (`<currentMemory>`,
 * `<clock>`, `<console type='pty'>`) and libosinfo's metadata.
 */
import assert from "node:assert/strict";
import { hasTool, vmanctlProcess } from "../cli/helpers.ts";
import { GUESTS, missing, waitForConsole } from "../qemu/helpers.ts";
import {
  type ClientResult,
  type Daemon,
  field,
  HAVE_VIRSH,
  partitions,
  virsh,
  withDaemon,
} from "./helpers.ts";

const GUEST = GUESTS.arm64;

function why(): string | undefined {
  if (!hasTool("virt-install")) return "virt-install is not installed (scripts/setup.sh: virtinst)";
  if (!HAVE_VIRSH) return "virsh is not installed";
  try {
    Deno.statSync(GUEST.kernel);
    Deno.statSync(GUEST.initrd);
  } catch {
    return `${GUEST.kernel} or ${GUEST.initrd} is missing (run scripts/fetch-fixtures.sh)`;
  }
  return undefined;
}
const skip = why();
if (skip) console.log(`skipping the virt-install tests: ${skip}`);
const skipQemu = skip ?? missing(GUEST);
if (skipQemu && !skip) console.log(`skipping virt-install on the qemu backend: ${skipQemu}`);

/**
 * Runs `virt-install --connect URI --name NAME` with the options of an arm64
 * partition booting the fixture kernel, then `more`; its home (and log) under `dir`.
 */
async function virtInstall(
  dir: string,
  d: Daemon,
  name: string,
  more: string[] = [],
  vcpus = "1",
): Promise<ClientResult> {
  const home = `${dir}/virt-install`;
  await Deno.mkdir(home, { recursive: true });
  const out = await new Deno.Command("virt-install", {
    args: [
      "--connect",
      d.uri,
      "--name",
      name,
      "--memory",
      "256",
      "--vcpus",
      vcpus,
      "--import",
      "--disk",
      "none",
      "--network",
      "none",
      "--graphics",
      "none",
      "--virt-type",
      "vmanager",
      "--arch",
      "aarch64",
      "--osinfo",
      "linux2022",
      "--noautoconsole",
      "--boot",
      `kernel=${GUEST.kernel},initrd=${GUEST.initrd},` +
      `kernel_args="console=${GUEST.console} vmanager.stay"`,
      ...more,
    ],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      XDG_CACHE_HOME: `${home}/cache`,
      XDG_CONFIG_HOME: `${home}/config`,
      LC_ALL: "C.UTF-8",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function names(d: Daemon): Promise<string[]> {
  const list = await virsh(d.uri, "list", "--all", "--name");
  assert.equal(list.code, 0, list.stderr);
  return list.stdout.split("\n").map((line) => line.trim()).filter((line) => line);
}

Deno.test({
  name: "virt-install creates and starts a persistent partition, refuses its name again, " +
    "--dry-run and --print-xml create nothing, --transient makes a transient one",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const created = await virtInstall(dir, d, "v1");
      assert.equal(created.code, 0, created.stdout + created.stderr);
      assert.match(created.stdout, /Domain creation completed\./);
      const list = await virsh(d.uri, "list");
      assert.match(list.stdout, /^\s*\d+\s+v1\s+running\s*$/m, list.stdout);
      const info = await virsh(d.uri, "dominfo", "v1");
      assert.equal(info.code, 0, info.stderr);
      assert.equal(field(info.stdout, "State"), "running");
      assert.equal(field(info.stdout, "Persistent"), "yes");
      assert.equal(field(info.stdout, "Max memory"), "262144 KiB");
      assert.equal(field(info.stdout, "CPU\\(s\\)"), "1");
      assert.deepEqual(
        (await partitions(d)).map((p) => [p.name, p.state]),
        [["v1", "running"]],
      );
      // The XML it sent, as the domain keeps it: boot images, command line and
      // libosinfo's metadata (what virt-manager shows as the OS).
      for (const flags of [[], ["--inactive"]]) {
        const xml = await virsh(d.uri, "dumpxml", ...flags, "v1");
        assert.equal(xml.code, 0, xml.stderr);
        assert.match(xml.stdout, new RegExp(`<kernel>${GUEST.kernel}</kernel>`));
        assert.match(xml.stdout, new RegExp(`<initrd>${GUEST.initrd}</initrd>`));
        assert.match(xml.stdout, /<cmdline>console=ttyAMA0 vmanager\.stay<\/cmdline>/);
        assert.match(
          xml.stdout,
          /<libosinfo:os id=["']http:\/\/libosinfo\.org\/linux\/2022["']\/>/,
        );
      }

      // The name is taken: virt-install says so and changes nothing.
      const again = await virtInstall(dir, d, "v1");
      assert.equal(again.code, 1, again.stdout + again.stderr);
      assert.match(again.stderr, /Guest name 'v1' is already in use/);
      assert.deepEqual(await names(d), ["v1"]);

      // --dry-run and --print-xml create nothing; the printed XML defines.
      const dry = await virtInstall(dir, d, "v2", ["--dry-run"]);
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /Dry run completed successfully/);
      const printed = await virtInstall(dir, d, "v3", ["--print-xml"]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stdout, /^<domain type="vmanager">/);
      assert.deepEqual(await names(d), ["v1"]);
      await Deno.writeTextFile(`${dir}/v3.xml`, printed.stdout);
      const define = await virsh(d.uri, "define", `${dir}/v3.xml`);
      assert.equal(define.code, 0, define.stderr);
      assert.equal((await virsh(d.uri, "undefine", "v3")).code, 0);

      // Cores another partition holds: virt-install fails, nothing is left.
      const v1Cores = /<vcpu placement='static' cpuset='(\d+)'>/.exec(
        (await virsh(d.uri, "dumpxml", "v1")).stdout,
      )?.[1];
      assert.ok(v1Cores);
      const held = await virtInstall(dir, d, "v4", [], `1,cpuset=${v1Cores}`);
      assert.equal(held.code, 1, held.stdout + held.stderr);
      assert.match(held.stderr, new RegExp(`core ${v1Cores} .*\\bv1\\b`));
      assert.deepEqual(await names(d), ["v1"]);

      // --transient: created and started, not persistent; gone once destroyed.
      const transient = await virtInstall(dir, d, "t1", ["--transient"]);
      assert.equal(transient.code, 0, transient.stdout + transient.stderr);
      const tinfo = await virsh(d.uri, "dominfo", "t1");
      assert.equal(tinfo.code, 0, tinfo.stderr);
      assert.equal(field(tinfo.stdout, "State"), "running");
      assert.equal(field(tinfo.stdout, "Persistent"), "no");
      assert.equal((await partitions(d)).find((p) => p.name === "t1")?.state, "running");
      const destroy = await virsh(d.uri, "destroy", "t1");
      assert.equal(destroy.code, 0, destroy.stderr);
      assert.deepEqual(await names(d), ["v1"]);
      assert.deepEqual((await partitions(d)).map((p) => p.name), ["v1"]);

      assert.equal((await virsh(d.uri, "destroy", "v1")).code, 0);
      assert.equal((await virsh(d.uri, "undefine", "v1")).code, 0);
      assert.deepEqual(await names(d), []);
    }, ["--backend", "dry-run"]);
  },
});

Deno.test({
  name: "virt-install --disk PATH: an existing raw image is looked up as a storage volume " +
    "and becomes the partition's disk; a missing one is refused, nothing created",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const image = `${dir}/v5.img`;
      await Deno.writeFile(image, new Uint8Array(0));
      await Deno.truncate(image, 16 * 1024 * 1024);
      // virtinst picks bus 'sd' for an arm guest of a driver it does not know as qemu.
      // A board device, which --hostdev cannot name, as XML (docs/libvirt.md).
      const created = await virtInstall(dir, d, "v5", [
        "--disk",
        `${image},bus=virtio`,
        ...["xpath.create=./devices/hostdev", "./devices/hostdev/@mode=subsystem"]
          .flatMap((edit) => ["--xml", edit]),
        ...["./devices/hostdev/@type=vmanager", "./devices/hostdev/source/@name=gpio0"]
          .flatMap((edit) => ["--xml", edit]),
      ]);
      assert.equal(created.code, 0, created.stdout + created.stderr);
      const xml = (await virsh(d.uri, "dumpxml", "v5")).stdout;
      assert.match(xml, new RegExp(`<source file='${image}'/>`));
      assert.match(xml, /<driver name='qemu' type='raw'\/>/);
      assert.match(xml, /<target dev='vda' bus='virtio'\/>/);
      assert.match(xml, /<hostdev mode='subsystem' type='vmanager'>\s*<source name='gpio0'\/>/);
      const shown = await vmanctlProcess(["--state-dir", d.stateDir, "--json", "show", "v5"]);
      assert.equal(shown.code, 0, shown.stderr);
      const backings = JSON.parse(shown.stdout).backings as { kind: string; file: string }[];
      assert.deepEqual(backings.map((b) => [b.kind, b.file]), [["disk", image]]);

      // The same lookups through virsh; not on the read-only socket (they tell which
      // files exist).
      const vol = await virsh(d.uri, "vol-info", image);
      assert.equal(vol.code, 0, vol.stderr);
      assert.equal(field(vol.stdout, "Name"), "v5.img");
      assert.equal(field(vol.stdout, "Type"), "file");
      assert.equal(field(vol.stdout, "Capacity"), "16.00 MiB");
      const ro = await virsh(d.roUri, "vol-info", image);
      assert.equal(ro.code, 1);
      assert.match(ro.stderr, /read only access prevents STORAGE_VOL_LOOKUP_BY_PATH/);

      // virt-install would make a pool and a volume for a file that does not exist.
      const missingImage = await virtInstall(dir, d, "v6", [
        "--disk",
        `${dir}/missing.img,bus=virtio`,
      ]);
      assert.equal(missingImage.code, 1, missingImage.stdout + missingImage.stderr);
      assert.match(missingImage.stderr, /creates no disk images; give an existing raw image/);
      assert.deepEqual(await names(d), ["v5"]);
      assert.equal((await virsh(d.uri, "destroy", "v5")).code, 0);
      assert.equal((await virsh(d.uri, "undefine", "v5")).code, 0);
    }, ["--backend", "dry-run"]);
  },
});

Deno.test({
  name: "virt-install boots Linux in a partition on the qemu backend",
  ignore: skipQemu !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const created = await virtInstall(dir, d, "linux", [], "1,cpuset=2");
      assert.equal(created.code, 0, created.stdout + created.stderr);
      const text = await waitForConsole(d.stateDir, "linux", /vmanager-guest: staying up/);
      assert.match(text, /Booting Linux on physical CPU 0x0*2 /);
      assert.equal((await virsh(d.uri, "domstate", "linux")).stdout.trim(), "running");
      assert.equal((await virsh(d.uri, "destroy", "linux")).code, 0);
      assert.equal((await virsh(d.uri, "undefine", "linux")).code, 0);
    }, ["--backend", "qemu"]);
  },
});
