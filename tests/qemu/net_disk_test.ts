/**
 * Backings on virtio-mmio slots (qemu backend): `--net user,forward=tcp:PORT:80` and
 * `--disk IMG` give a partition a virtio-net and a virtio-blk device on the slots the
 * allocator gave it, in its own QEMU, on real Debian kernels (arm64, armv7, riscv64):
 * busybox httpd in the partition answers `curl` on the management side, and a file
 * written on the mounted disk is in the image afterwards. Bad backings are refused
 * at create with one line and exit 2, changing nothing. Two partitions on one board
 * network (`--net network=lan`, a bridge on this machine) ping each other and the
 * management side, which reaches them too.
 */
import assert from "node:assert/strict";
import { hasTool, ROOT, vmanctl, VMANCTL_FLAGS, withTempDir } from "../cli/helpers.ts";
import {
  bootTest,
  createGuest,
  GUESTS,
  missing,
  ok,
  typeIntoConsole,
  waitForConsole,
} from "./helpers.ts";
import type { Board } from "../../core/model.ts";
import { backingArgs, virtioBus } from "../../plugins/qemu/backings.ts";
import { boardNetwork, tapName } from "../../plugins/qemu/bridge.ts";

/** A TCP port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: r.code, out: text.decode(r.stdout) + text.decode(r.stderr) };
}

async function board(name: string): Promise<Board> {
  const r = await vmanctl(["--json", "board", "show", name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Board;
}

// --- Slots and QEMU's buses ------------------------------------------------------

for (const guest of [GUESTS.arm64, GUESTS.armv7, GUESTS.riscv64]) {
  Deno.test({
    name: `${guest.board}: each virtio slot's bus is QEMU's transport at its address (info qtree)`,
    ignore: !hasTool(guest.qemu),
    async fn() {
      const b = await board(guest.board);
      const r = await new Deno.Command(guest.qemu, {
        args: [...b.qemu!.args, "-nodefaults", "-display", "none", "-S", "-monitor", "stdio"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = r.stdin.getWriter();
      await writer.write(new TextEncoder().encode("info qtree\nquit\n"));
      await writer.close();
      const out = new TextDecoder().decode((await r.output()).stdout).replaceAll("\r", "");
      // Each transport: its mmio line, then its bus line.
      const buses = new Map<string, number>();
      for (
        const m of out.matchAll(/mmio ([0-9a-f]+)\/[0-9a-f]+\n\s+bus: (virtio-mmio-bus\.\d+)/g)
      ) {
        buses.set(m[2], parseInt(m[1], 16));
      }
      const slots = b.devices.filter((d) => d.compatible.includes("virtio,mmio"));
      assert.ok(slots.length > 0);
      for (const slot of slots) {
        const bus = virtioBus(b, slot.name);
        assert.equal(buses.get(bus), slot.reg[0].base, `${slot.name} on ${bus}`);
      }
    },
  });
}

// --- Bad backings ----------------------------------------------------------------

/** The state dir's files, to show that a refused create changed nothing. */
async function snapshot(state: string): Promise<string> {
  const files: string[] = [];
  for await (const e of Deno.readDir(state)) {
    if (!e.isFile || e.name.endsWith(".lock")) continue;
    files.push(`${e.name}:${await Deno.readTextFile(`${state}/${e.name}`).catch(() => "?")}`);
  }
  return files.sort().join("\n");
}

Deno.test("bad backings are refused at create with one line and exit 2, changing nothing", () =>
  withTempDir(async (dir) => {
    const state = `${dir}/state`;
    const disk = `${dir}/disk.img`;
    await Deno.writeFile(disk, new Uint8Array(1 << 20));
    const fifo = `${dir}/fifo`;
    assert.equal((await run("mkfifo", [fifo])).code, 0);
    await Deno.symlink(disk, `${dir}/link.img`);
    await Deno.writeFile(`${dir}/other.img`, new Uint8Array(4096));
    const port = freePort();
    const base = ["--state-dir", state, "--board", "qemu-virt-arm64", "--backend", "qemu"];
    let r = await vmanctl([...base, "create", "a", "--cpu-ids", "1"]);
    assert.equal(r.code, 0, r.stderr);
    r = await vmanctl([
      ...base,
      "create",
      "web",
      "--cpu-ids",
      "2",
      "--net",
      `user,forward=tcp:${port}:80`,
      "--disk",
      disk,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const before = await snapshot(state);
    const cases: [string[], RegExp][] = [
      [["--disk", `${dir}/absent.img`], /disk image .*absent\.img does not exist \(--disk\)/],
      [["--disk", dir], /is not a regular file \(a directory\)/],
      [["--disk", fifo], /is not a regular file/],
      [
        ["--net", `user,forward=tcp:${port}:22`],
        new RegExp(`host port ${port} is forwarded to partition web`),
      ],
      [["--net", "user,device=rtc0"], /device rtc0 is not a virtio slot/],
      [["--disk", `${dir}/other.img,device=uart0`], /device uart0 is not a virtio slot/],
      [["--net", "user,device=virtio9"], /has no device 'virtio9'/],
      // web has virtio0 and virtio1: three backings need one slot more than is free.
      [
        ["--net", "user", "--net", "user", "--disk", `${dir}/other.img`],
        /no free virtio slot for --disk: board qemu-virt-arm64 has virtio0, virtio1, virtio2, virtio3; held: virtio0 by partition web, virtio1 by partition web \(--disk\)/,
      ],
      [["--net", "tap"], /is not a network/],
      [["--net", "user,forward=tcp:0:80"], /is not a TCP port/],
      [["--disk", `${disk},rw`], /is not an option of --disk/],
      [["--disk", `${disk},ro`], /disk image .*disk\.img is partition web's: an image is written/],
      [["--disk", `${dir}/link.img`], /disk image .*disk\.img is partition web's/],
      [
        ["--disk", `${dir}/other.img,ro`, "--disk", `${dir}/other.img`],
        /other\.img is given twice/,
      ],
    ];
    for (const [args, message] of cases) {
      r = await vmanctl([...base, "create", "b", "--cpu-ids", "3", ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.equal(await snapshot(state), before, `${args.join(" ")} changed the state dir`);
    }
    // A slot named that another partition holds: a conflict, as with --device.
    r = await vmanctl([...base, "create", "b", "--cpu-ids", "3", "--net", "user,device=virtio1"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /device virtio1 is held by partition web/);
    assert.equal(await snapshot(state), before);
  }));

Deno.test("slots in pages of their own go to different partitions; no slot twice", () =>
  withTempDir(async (dir) => {
    const state = `${dir}/state`;
    const disk = `${dir}/disk.img`;
    await Deno.writeFile(disk, new Uint8Array(1 << 20));
    await Deno.writeFile(`${dir}/c.img`, new Uint8Array(4096));
    const base = ["--state-dir", state, "--board", "qemu-virt-riscv64", "--backend", "qemu"];
    let r = await vmanctl([
      ...base,
      "create",
      "a",
      "--cpu-ids",
      "1",
      "--net",
      "user",
      "--disk",
      `${disk},ro`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // Shared read-only.
    r = await vmanctl([
      ...base,
      "create",
      "b",
      "--cpu-ids",
      "2",
      "--net",
      "user",
      "--disk",
      `${disk},ro`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const shown = JSON.parse((await vmanctl(["--state-dir", state, "--json", "show", "b"])).stdout);
    assert.deepEqual(shown.devices, ["uart0", "virtio2", "virtio3"]);
    assert.deepEqual(shown.backings, [
      { device: "virtio2", kind: "net", mode: "user" },
      { device: "virtio3", kind: "disk", file: disk, readonly: true },
    ]);
    r = await vmanctl([...base, "create", "c", "--cpu-ids", "3", "--disk", `${dir}/c.img`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^vmanctl: no free virtio slot for --disk: board qemu-virt-riscv64 has/);
    r = await vmanctl([...base, "create", "c", "--cpu-ids", "3", "--net", "user,device=virtio0"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /device virtio0 is held by partition a/);
  }));

Deno.test("spec files name backings; plan and show print them on their slots", () =>
  withTempDir(async (dir) => {
    const state = `${dir}/state`;
    const disk = `${dir}/d.img`;
    await Deno.writeFile(disk, new Uint8Array(4096));
    await Deno.writeTextFile(
      `${dir}/web.yaml`,
      `name: web\ncpus: 1\nnet: ["user,forward=tcp:18081:80", "network=lan,device=virtio3"]\n` +
        `disks: ["${disk},ro"]\n`,
    );
    const base = ["--state-dir", state, "--board", "qemu-virt-riscv64"];
    const plan = await vmanctl([...base, "plan", "-f", `${dir}/web.yaml`]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /Backings: virtio0: net user \(restricted\), tcp 127\.0\.0\.1:18081 -> 80/,
    );
    assert.match(plan.stdout, /virtio3: net on board network lan/);
    assert.match(plan.stdout, /virtio1: disk .*d\.img \(read-only\)/);
    const created = await vmanctl([...base, "create", "-f", `${dir}/web.yaml`]);
    assert.equal(created.code, 0, created.stderr);
    const shown = JSON.parse(
      (await vmanctl(["--state-dir", state, "--json", "show", "web"])).stdout,
    );
    assert.deepEqual(shown.devices, ["uart0", "virtio3", "virtio0", "virtio1"]);
    assert.deepEqual(shown.backings.map((b: { device: string }) => b.device), [
      "virtio0",
      "virtio3",
      "virtio1",
    ]);
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(bad, `name: x\nnet: user\n`);
    const r = await vmanctl([...base, "create", "-f", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /net must be a list of strings.*bad\.yaml:2/);
  }));

// --- Real kernels: a web server and a disk ---------------------------------------

for (
  const [arch, guest] of [
    ["arm64", GUESTS.arm64],
    ["armv7", GUESTS.armv7],
    ["riscv64", GUESTS.riscv64],
  ] as const
) {
  const why = missing(guest) ??
    (!hasTool("curl") ? "curl is not installed" : undefined) ??
    (!hasTool("mkfs.ext2") || !hasTool("debugfs") ? "e2fsprogs is not installed" : undefined);
  if (why) console.log(`skipping ${arch} net and disk boots: ${why}`);
  bootTest(
    `${arch}: --net user,forward serves the partition's httpd to curl; --disk is mounted and written`,
    why !== undefined,
    async (state) => {
      const port = freePort();
      const disk = `${state}/disk.img`;
      const mkfs = await run("sh", ["-c", `truncate -s 8M '${disk}' && mkfs.ext2 -q -F '${disk}'`]);
      assert.equal(mkfs.code, 0, mkfs.out);
      await createGuest(state, guest, "web", "1", "256M", true, {
        args: ["--net", `user,forward=tcp:${port}:80`, "--disk", disk],
      });
      const shown = JSON.parse(await ok(state, "--json", "show", "web"));
      assert.deepEqual(shown.backings.map((b: { device: string }) => b.device), [
        "virtio0",
        "virtio1",
      ]);
      await ok(state, "start", "web");
      await waitForConsole(state, "web", /vmanager-guest: staying up/);
      // The user's path: the address of QEMU's user network, then the server.
      await typeIntoConsole(
        state,
        "web",
        "ip addr add 10.0.2.15/24 dev eth0; ip link set eth0 up; mkdir /www; " +
          "echo hello-from-partition > /www/index.html; httpd -p 80 -h /www; echo up-$((6*7))\n",
        /up-42/,
      );
      let page = "";
      for (let i = 0; i < 40 && !page.includes("hello-from-partition"); i++) {
        const r = await run("curl", ["-s", "-m", "5", `http://127.0.0.1:${port}/`]);
        page = r.out;
        if (!page.includes("hello-from-partition")) await new Promise((f) => setTimeout(f, 250));
      }
      assert.equal(page.trim(), "hello-from-partition");
      // The disk: the partition's first virtio-blk device is /dev/vda.
      await typeIntoConsole(
        state,
        "web",
        "mount /dev/vda /mnt; echo written > /mnt/f; umount /mnt; " +
          "echo synced-$((7*7))\n",
        /synced-49/,
      );
      await typeIntoConsole(state, "web", "poweroff -f\n", /poweroff -f/);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const list = JSON.parse(await ok(state, "--json", "list")) as { state: string }[];
        if (list.length === 0 || list[0].state !== "running") break;
        await new Promise((f) => setTimeout(f, 200));
      }
      const file = await run("debugfs", ["-R", "cat /f", disk]);
      assert.match(file.out, /^written$/m, file.out);
    },
  );
}

// --- Board networks: a bridge on this machine -------------------------------------

Deno.test("a board network is a bridge with a tap per interface; names fit in 15 characters", async () => {
  const lan = boardNetwork("lan");
  assert.match(lan.bridge, /^vmbr-[0-9a-f]{8}$/);
  assert.match(lan.address, /^10\.([1-9]\d*)\.\d+\.1$/);
  assert.equal(lan.address, `${lan.prefix}.1`);
  assert.notEqual(boardNetwork("lan2").bridge, lan.bridge);
  const long = boardNetwork("n".repeat(64));
  assert.ok(long.bridge.length <= 15);
  const tap = tapName("/var/lib/vmanager", 999, 31);
  assert.ok(tap.length <= 15, tap);
  assert.notEqual(tapName("/var/lib/vmanager", 1, 0), tapName("/tmp/other", 1, 0));
  const b = await board("qemu-virt-arm64");
  const args = backingArgs(b, "/var/lib/vmanager", 3, {
    name: "p",
    net: [{ mode: "network", network: "lan" }],
  }, [
    "virtio2",
  ]);
  assert.deepEqual(args.slice(0, 2), [
    "-netdev",
    `tap,id=vnet0,ifname=${tapName("/var/lib/vmanager", 3, 16)},script=no,downscript=no`,
  ]);
});

{
  // A user namespace of its own: vmanctl is not root there, and makes no link.
  const unshare = (await run("unshare", ["-U", "true"]).catch(() => ({ code: 127 }))).code === 0;
  bootTest(
    "without root, starting a partition on a board network fails with one line",
    missing(GUESTS.arm64) !== undefined || !unshare,
    async (state) => {
      await createGuest(state, GUESTS.arm64, "a", "1", "256M", true, {
        args: ["--net", "network=lan"],
      });
      const r = await run("unshare", [
        "-U",
        Deno.execPath(),
        "run",
        ...VMANCTL_FLAGS,
        `${ROOT}/main.ts`,
        "--state-dir",
        state,
        "start",
        "a",
      ]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /board network lan needs root: .*bridge \(vmbr-[0-9a-f]{8}\)/);
      assert.equal(r.out.trimEnd().split("\n").length, 1, r.out);
      assert.equal(await ports(boardNetwork("lan").bridge), undefined);
    },
  );
}

/** The links enslaved to `bridge`, or undefined when it does not exist. */
async function ports(bridge: string): Promise<string[] | undefined> {
  if ((await run("ip", ["link", "show", "dev", bridge])).code !== 0) return undefined;
  const r = await run("ip", ["-o", "link", "show", "master", bridge]);
  return r.out.split("\n").filter((l) => l.trim()).map((l) => l.split(/:\s+/)[1].split("@")[0]);
}

/** Whether this machine reaches `address` on TCP port `port` with `text` served there. */
async function fetchFrom(address: string, port: number, text: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    try {
      const r = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(3000) });
      if ((await r.text()).trim() === text) return true;
    } catch {
      // Not up yet.
    }
    await new Promise((f) => setTimeout(f, 250));
  }
  return false;
}

{
  const guest = GUESTS.arm64;
  const why = missing(guest) ??
    (Deno.uid() !== 0 ? "a board network needs root" : undefined) ??
    ((await run("ip", ["-V"]).catch(() => ({ code: 127 }))).code !== 0
      ? "iproute2's ip is not installed"
      : undefined);
  if (why) console.log(`skipping the board network boot: ${why}`);
  const hasPing = (await run("ping", ["-V"]).catch(() => ({ code: 127 }))).code === 0;
  if (!why && !hasPing) {
    console.log(
      "ping is not installed (Debian package iputils-ping): the management side reaches the " +
        "partitions by TCP (their httpd) instead",
    );
  }
  bootTest(
    "arm64: two partitions on --net network=lan ping each other and the management side",
    why !== undefined,
    async (state) => {
      const lan = boardNetwork("lan");
      // The built-in board: its virtio slots lie one per 4 KiB page, so each partition has one.
      const boardArgs = guest;
      {
        await createGuest(state, boardArgs, "a", "1", "256M", true, {
          args: ["--net", "network=lan"],
        });
        await createGuest(state, boardArgs, "b", "2", "256M", true, {
          args: ["--net", "network=lan"],
        });
        const slots = JSON.parse(await ok(state, "--json", "show", "b")).backings;
        assert.deepEqual(slots, [{
          device: "virtio1",
          kind: "net",
          mode: "network",
          network: "lan",
        }]);
        assert.equal(await ports(lan.bridge), undefined, `${lan.bridge} before any start`);
        await ok(state, "start", "a");
        await ok(state, "start", "b");
        assert.equal((await ports(lan.bridge))?.length, 2, `${lan.bridge}: a tap each`);
        const addr = (await run("ip", ["-o", "-4", "addr", "show", "dev", lan.bridge])).out;
        assert.match(addr, new RegExp(` ${lan.address.replaceAll(".", "\\.")}/24 `), addr);
        await waitForConsole(state, "a", /vmanager-guest: staying up/);
        await waitForConsole(state, "b", /vmanager-guest: staying up/);
        const [ipA, ipB] = [`${lan.prefix}.2`, `${lan.prefix}.3`];
        await typeIntoConsole(
          state,
          "a",
          `ip addr add ${ipA}/24 dev eth0; ip link set eth0 up; mkdir /www; ` +
            "echo hello-from-a > /www/index.html; httpd -p 80 -h /www; echo a-$((6*7))\n",
          /a-42/,
        );
        // b reaches a and the management side.
        let text = await typeIntoConsole(
          state,
          "b",
          `ip addr add ${ipB}/24 dev eth0; ip link set eth0 up; ` +
            `ping -c 2 -W 3 ${ipA} && ping -c 1 -W 3 ${lan.address} && echo reached-$((7*7))\n`,
          /reached-49|100% packet loss/,
        );
        assert.match(text, /reached-49/, text);
        // a reaches b and the management side.
        text = await typeIntoConsole(
          state,
          "a",
          `ping -c 1 -W 3 ${ipB} && ping -c 1 -W 3 ${lan.address} && echo reached-$((8*8))\n`,
          /reached-64|100% packet loss/,
        );
        assert.match(text, /reached-64/, text);
        // The management side reaches both.
        if (hasPing) {
          for (const address of [ipA, ipB]) {
            const r = await run("ping", ["-c", "1", "-W", "2", address]);
            assert.equal(r.code, 0, r.out);
          }
        }
        assert.ok(await fetchFrom(ipA, 80, "hello-from-a"), `http://${ipA}/ from this machine`);
        // A stop removes the partition's tap; the last one, the bridge.
        await ok(state, "stop", "a");
        assert.equal((await ports(lan.bridge))?.length, 1, `${lan.bridge} after a's stop`);
        await ok(state, "stop", "b");
        assert.equal(await ports(lan.bridge), undefined, `${lan.bridge} after the last tap`);
      }
    },
  );
}
