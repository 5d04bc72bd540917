/**
 * Kernels that are not read whole: a plan's writes of the kernel's own bytes are
 * ranges of the kernel file, which the helper loads (`vmh_load_file_range`); on the
 * sim the memory file then holds the file's exact bytes at the load address, and
 * `start -v` prints one line per stage.
 */
import assert from "node:assert/strict";
import { kernelLoads } from "../../core/boot/sources.ts";
import type { BootPlan, KernelImage } from "../../core/boot/types.ts";
import { describeSource } from "../../core/monitor/monitor.ts";
import { vmanctl, withTempDir } from "../cli/helpers.ts";
import { isFile, readAt } from "./files.ts";
import { fixturesDir } from "../../scripts/cache.ts";
import { loadHelper } from "../../core/monitor/helper.ts";

loadHelper(); // once per process, before the tests (the sanitizer counts a library load)

const IMAGE = `${fixturesDir()}/kernels/arm64/Image`;
const INITRD = `${fixturesDir()}/initramfs/arm64.cpio.gz`;
const HAVE = isFile(IMAGE) && isFile(INITRD);
if (!HAVE) console.log(`skipping the sim load of a real Image: no ${IMAGE} or ${INITRD}`);

function image(bytes: Uint8Array, head?: number): KernelImage {
  return {
    file: "/k/Image",
    format: "arm-zimage",
    label: "zImage",
    arch: "armv7",
    archLabel: "arm (32-bit)",
    bytes,
    imageSize: bytes.length,
    entryOffset: 0,
    details: {},
    ...(head === undefined ? {} : { head }),
  };
}

function plan(writes: BootPlan["writes"]): BootPlan {
  return { regions: [], writes, entry: 0, context: 0, registers: {} };
}

Deno.test("kernelLoads: views of a kernel read in part are file ranges; other bytes stay", () => {
  const bytes = new Uint8Array(1 << 20);
  const shim = new Uint8Array(16);
  const loads = kernelLoads(
    image(bytes, 65536),
    plan([
      { address: 0x1000, region: "shim", bytes: shim },
      { address: 0x8000, region: "kernel", bytes: bytes.subarray(0, 900_000) },
      { address: 0x200000, region: "segment", bytes: bytes.subarray(4096, 8192) },
      { address: 0x300000, region: "reserved" },
    ]),
  );
  assert.deepEqual(loads, [
    { address: 0x1000, region: "shim", source: { bytes: shim } },
    {
      address: 0x8000,
      region: "kernel",
      source: { path: "/k/Image", offset: 0, length: 900_000 },
    },
    {
      address: 0x200000,
      region: "segment",
      source: { path: "/k/Image", offset: 4096, length: 4096 },
    },
  ]);
  assert.equal(describeSource(loads[1].source), "/k/Image (900000 bytes from offset 0)");
});

Deno.test("kernelLoads: a kernel read whole keeps its bytes", () => {
  const bytes = new Uint8Array(100);
  const loads = kernelLoads(image(bytes), plan([{ address: 0, region: "kernel", bytes }]));
  assert.deepEqual(loads, [{ address: 0, region: "kernel", source: { bytes } }]);
});

Deno.test({
  name: "sim: start loads the Image from its file; memory.img holds its bytes; -v prints stages",
  ignore: !HAVE,
  fn: () =>
    withTempDir(async (dir) => {
      const s = ["--state-dir", dir];
      const created = await vmanctl([
        ...s,
        ...["--board", "qemu-virt-arm64", "--backend", "sim", "create", "p", "--cpu-ids", "1"],
        ...["--memory", "256M", "--kernel", IMAGE, "--initrd", INITRD],
      ]);
      assert.equal(created.code, 0, created.stderr);
      const started = await vmanctl([...s, "-v", "start", "p"]);
      assert.equal(started.code, 0, started.stderr);
      const stages = started.stderr.split("\n").filter((l) => l.startsWith("stage "));
      for (const name of ["startup", "kernel read", "kernel write", "initrd write", "total"]) {
        assert.ok(stages.some((l) => new RegExp(`^stage ${name} +\\d+\\.\\d ms$`).test(l)), name);
      }
      const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout);
      const at = (name: string) =>
        (shown.boot.regions as { name: string; base: number }[]).find((r) => r.name === name)!
          .base;
      const calls = shown.monitorCalls as { call: string; args: Record<string, unknown> }[];
      const kernelWrite = calls.find((c) => c.call === "memory_write")!;
      assert.match(String(kernelWrite.args.source), /Image \(\d+ bytes from offset 0\)$/);
      const ramBase = 0x40000000; // qemu-virt-arm64's
      for (const [file, region] of [[IMAGE, "kernel"], [INITRD, "initrd"]]) {
        const want = await Deno.readFile(file);
        const got = await readAt(`${dir}/memory.img`, at(region) - ramBase, want.length);
        assert.equal(got.length, want.length, `${region}: the memory file is too short`);
        assert.ok(got.every((b, i) => b === want[i]), `${region}: the file's bytes`);
      }
      assert.equal((await vmanctl([...s, "destroy", "p"])).code, 0);
    }),
});
