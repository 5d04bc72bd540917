/**
 * The `device` backend without a kernel driver: vmanctl runs with the helper's
 * LD_PRELOAD fake `/dev/vmanager-monitor` (core/monitor/helper/fake_device.c),
 * which logs the exact request numbers and struct bytes it receives and answers
 * from a sim. The log is compared with the ABI's worked example
 * (docs/monitor-abi.md), and the images land in the sim's memory through `mmap`.
 */
import assert from "node:assert/strict";
import { ROOT, vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { loadBoards } from "./boards.ts";
import { loadHelper } from "../../core/monitor/helper.ts";
import { SimMonitor } from "../../core/monitor/sim.ts";
import { fixturesDir } from "../../scripts/cache.ts";

loadHelper();
const boards = await loadBoards();
const FAKE = `${ROOT}/core/monitor/helper/build/x86_64-linux-gnu/libvmanager_fake_device.so`;
const KERNEL = `${fixturesDir()}/kernels/arm64/Image`;
const haveKernel = (() => {
  try {
    return Deno.statSync(KERNEL).isFile;
  } catch {
    return false;
  }
})();
if (!haveKernel) console.log(`skipping the device start: no ${KERNEL} (fetch-fixtures)`);
const isX86 = Deno.build.arch === "x86_64";
if (!isX86) console.log("skipping the fake device: it is built for x86_64 hosts");

/** Little-endian hex of u32/u64 fields, grouped in 8 bytes as the fake logs them. */
function struct(fields: [number, number | bigint][]): string {
  const bytes: number[] = [];
  for (const [width, value] of fields) {
    let v = BigInt(value);
    for (let i = 0; i < width; i++) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
  }
  const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  return hex.match(/.{1,16}/g)!.join(" ");
}

const request = (number: number, size: number, fields: [number, number | bigint][]) =>
  `ioctl 0x${number.toString(16).toUpperCase()} size ${size} in ${struct(fields)}`;
const partition = (number: number, id: number) => request(number, 8, [[4, id], [4, 0]]);
const range = (number: number, id: number, base: number, size: number) =>
  request(number, 24, [[4, id], [4, 0], [8, base], [8, size]]);
const page = (n: number) => Math.ceil(n / 4096) * 4096;

Deno.test({
  name: "device backend: the worked example's requests and structs, byte for byte",
  ignore: !haveKernel || !isX86,
  fn: async () => {
    await withTempDir(async (dir) => {
      // The fake device answers from a sim on its own state dir.
      const monitorDir = `${dir}/monitor`;
      new SimMonitor({ stateDir: monitorDir, board: boards["qemu-virt-arm64"] });
      const log = `${dir}/ioctl.log`;
      const env = {
        LD_PRELOAD: FAKE,
        VMAN_FAKE_DEVICE_STATE: monitorDir,
        VMAN_FAKE_DEVICE_LOG: log,
      };
      const initrd = `${dir}/initrd.img`;
      const initrdBytes = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 255);
      await Deno.writeFile(initrd, initrdBytes);
      const s = ["--state-dir", `${dir}/s`, "--board", "qemu-virt-arm64", "--backend", "device"];
      const created = await vmanctlProcess([
        ...s,
        "create",
        "p",
        "--cpu-ids",
        "2,3",
        "--memory",
        "512M",
        "--kernel",
        KERNEL,
        "--initrd",
        initrd,
        "--cmdline",
        "console=ttyAMA0",
      ], env);
      assert.equal(created.code, 0, created.stderr);
      const started = await vmanctlProcess([...s, "start", "p"], env);
      assert.equal(started.code, 0, started.stderr);

      const shown = JSON.parse((await vmanctlProcess([...s, "show", "p", "--json"])).stdout);
      const at = (name: string) =>
        (shown.boot.regions as { name: string; base: number; size: number }[]).find((r) =>
          r.name === name
        )!;
      const kernelSize = (await Deno.stat(KERNEL)).size;
      assert.equal(at("kernel").base, 0x50000000);
      assert.equal(at("dtb").base, 0x52200000);
      assert.equal(at("initrd").base, 0x52201000);
      const dtbSize = at("dtb").size;

      // (The node is closed when the process exits, which the fake may not see.)
      const lines = (await Deno.readTextFile(log)).trimEnd().split("\n")
        .filter((l) => !l.startsWith("close"));
      const version = "ioctl 0x801056A0 size 16 in " + struct([[4, 0], [4, 0], [4, 0], [4, 0]]);
      assert.deepEqual(lines, [
        "open /dev/vmanager-monitor",
        version, // the helper checks the versions
        version, // the backend learns the code family
        // start asks first whether a killed start left partition 1 behind (not recorded)
        request(0xC01056A8, 16, [[4, 1], [4, 0], [4, 0], [4, 0]]),
        partition(0xC00856A1, 1),
        request(0xC01056A3, 16, [[4, 1], [4, 0], [8, 0x2]]),
        request(0xC01056A3, 16, [[4, 1], [4, 0], [8, 0x3]]),
        range(0xC01856A4, 1, 0x50000000, 0x20000000),
        range(0xC01856A5, 1, 0x9000000, 0x1000),
        range(0xC01856AA, 1, 0x50000000, kernelSize),
        `mmap len 0x${page(kernelSize).toString(16)} offset 0x50000000`,
        `munmap len 0x${page(kernelSize).toString(16)}`,
        range(0xC01856AA, 1, 0x52201000, 0x100000),
        "mmap len 0x100000 offset 0x52201000",
        "munmap len 0x100000",
        range(0xC01856AA, 1, 0x52200000, dtbSize),
        "mmap len 0x1000 offset 0x52200000",
        "munmap len 0x1000",
        request(0xC02056A6, 32, [[4, 1], [4, 0], [8, 0x2], [8, 0x50000000], [8, 0x52200000]]),
      ]);
      // The doc's own example line, literally.
      assert.ok(lines.includes("ioctl 0xC01056A3 size 16 in 0100000000000000 0200000000000000"));

      // The images went through the mapping into the sim's memory.
      const image = await Deno.open(`${monitorDir}/memory.img`);
      const read = async (address: number, length: number) => {
        await image.seek(address - 0x40000000, Deno.SeekMode.Start);
        const out = new Uint8Array(length);
        for (let got = 0; got < length;) got += (await image.read(out.subarray(got)))!;
        return out;
      };
      assert.deepEqual(await read(0x50000000, kernelSize), await Deno.readFile(KERNEL));
      assert.deepEqual(await read(0x52201000, initrdBytes.length), initrdBytes);
      const dtb = await read(0x52200000, 4);
      assert.deepEqual([...dtb], [0xd0, 0x0d, 0xfe, 0xed], "the DTB's magic");
      image.close();

      // Stop: PARTITION_STATUS twice (does it run? does the monitor hold it?), then
      // PARTITION_STOP and PARTITION_DESTROY.
      await Deno.writeTextFile(log, "");
      const stopped = await vmanctlProcess([...s, "stop", "p"], env);
      assert.equal(stopped.code, 0, stopped.stderr);
      const stopLines = (await Deno.readTextFile(log)).trimEnd().split("\n");
      assert.deepEqual(stopLines.filter((l) => l.startsWith("ioctl 0xC")), [
        request(0xC01056A8, 16, [[8, 1], [8, 0]]),
        request(0xC01056A8, 16, [[8, 1], [8, 0]]),
        partition(0xC00856A7, 1),
        partition(0xC00856A2, 1),
      ]);
    });
  },
});

Deno.test({
  name: "device backend: a refusal comes back as the monitor's code with the driver's errno",
  ignore: !isX86,
  fn: async () => {
    await withTempDir(async (dir) => {
      const monitorDir = `${dir}/monitor`;
      const sim = new SimMonitor({ stateDir: monitorDir, board: boards["qemu-virt-arm64"] });
      await sim.partitionCreate(5);
      await sim.partitionAddCore(5, 1); // core 1 is someone else's
      const env = { LD_PRELOAD: FAKE, VMAN_FAKE_DEVICE_STATE: monitorDir };
      const s = ["--state-dir", `${dir}/s`, "--board", "qemu-virt-arm64", "--backend", "device"];
      assert.equal((await vmanctlProcess([...s, "create", "p", "--cpu-ids", "1"], env)).code, 0);
      const r = await vmanctlProcess([...s, "start", "p"], env);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^vmanctl: starting p failed: monitor refused partition_add_core\(1, 0x1\): DENIED \(-3\): Operation not permitted; rolled back/,
      );
      assert.deepEqual(await sim.partitionStatus(1), "absent", "rolled back on the monitor");
    });
  },
});

Deno.test("device backend: no device node is one line saying so", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64", "--backend", "device"];
    assert.equal((await vmanctlProcess([...s, "create", "p", "--cpu-ids", "1"])).code, 0);
    const r = await vmanctlProcess([...s, "start", "p"]);
    assert.equal(r.code, 1);
    // The first monitor call (start's status query) fails before anything was changed.
    assert.equal(
      r.stderr,
      "vmanctl: the monitor device cannot be used: opening /dev/vmanager-monitor: No such file " +
        "or directory (no monitor driver loaded, or no monitor with the vmanager ABI) " +
        "(/dev/vmanager-monitor)\n",
    );
    const listed = await vmanctlProcess([...s, "show", "p", "--json"]);
    assert.equal(JSON.parse(listed.stdout).state, "defined", "nothing changed");
  });
});

/** Runs tests/monitor/device_loop.ts under the fake device on a fresh sim. */
async function deviceLoop(dir: string, count: number, mode: "close" | "leak") {
  const monitorDir = `${dir}/monitor-${mode}`;
  new SimMonitor({ stateDir: monitorDir, board: boards["qemu-virt-arm64"] });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/tests/monitor/device_loop.ts`, String(count), mode],
    env: { LD_PRELOAD: FAKE, VMAN_FAKE_DEVICE_STATE: monitorDir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    worked: number;
    failure?: string;
    fdsAfterFirst: number;
    fdsAfter: number;
  };
}

Deno.test({
  name: "device backend: 100 monitors made and closed one after another all work, no fd leaks",
  ignore: !isX86,
  fn: async () => {
    await withTempDir(async (dir) => {
      const closed = await deviceLoop(dir, 100, "close");
      assert.equal(closed.failure, undefined);
      assert.equal(closed.worked, 100);
      assert.equal(closed.fdsAfter, closed.fdsAfterFirst, "descriptors after 100 monitors");
      // The same loop without close() runs out of helper handles: what close() prevents.
      const leaked = await deviceLoop(dir, 100, "leak");
      assert.equal(leaked.worked, 64);
      assert.match(leaked.failure ?? "", /^monitor #65: .*too many open monitor handles \(64\)/);
    });
  },
});
