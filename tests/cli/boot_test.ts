/**
 * Starting partitions with real Debian kernels (fetched by scripts/fetch-fixtures.sh)
 * on the dry-run backend: the plan each arch makes, the monitor calls, the DTB's
 * initrd range, and refusals before any monitor call.
 */
import assert from "node:assert/strict";
import { vmanctl, withTempDir } from "./helpers.ts";
import { isFile } from "../monitor/files.ts";
import { fixturesDir } from "../../scripts/cache.ts";

type Json = Record<string, unknown>;
interface Region {
  name: string;
  base: number;
  size: number;
}

const KERNELS = `${fixturesDir()}/kernels`;
const HAVE = ["arm64/Image", "arm64/Image.gz", "armhf/zImage", "riscv64/Image"].every((k) =>
  isFile(`${KERNELS}/${k}`)
);
if (!HAVE) {
  console.log(`skipping boots of real kernels: none in ${KERNELS} (run scripts/fetch-fixtures.sh)`);
}

const CASES = [
  { board: "qemu-virt-arm64", kernel: "arm64/Image", entryIs: "kernel" },
  { board: "qemu-virt-arm64", kernel: "arm64/Image.gz", entryIs: "kernel" },
  { board: "qemu-virt-arm", kernel: "armhf/zImage", entryIs: "shim" },
  { board: "qemu-virt-riscv64", kernel: "riscv64/Image", entryIs: "kernel" },
];

for (const c of CASES) {
  Deno.test({
    name:
      `${c.board} with Debian's ${c.kernel}: start writes kernel, initrd and DTB where the plan says`,
    ignore: !HAVE,
    fn: async () => {
      await withTempDir(async (dir) => {
        const initrd = `${dir}/initrd.img`;
        await Deno.writeFile(initrd, new Uint8Array(3 * 1024 * 1024 + 5));
        const s = ["--state-dir", `${dir}/s`, "--board", c.board];
        const created = await vmanctl([
          ...s,
          "create",
          "p",
          "--cpu-ids",
          "2,3",
          "--memory",
          "512M",
          "--kernel",
          `${KERNELS}/${c.kernel}`,
          "--initrd",
          initrd,
          "--cmdline",
          "console=ttyX",
        ]);
        assert.equal(created.code, 0, created.stderr);
        const plan = JSON.parse((await vmanctl([...s, "plan", "p", "--json"])).stdout) as Json;
        const regions = (plan.memoryMap as Region[]).filter((r) => !r.name.startsWith("device"));
        const window = regions.find((r) => r.name === "window")!;
        const inner = regions.filter((r) => r.name !== "window");
        for (const r of inner) {
          assert.ok(r.base >= window.base && r.base + r.size <= window.base + window.size, r.name);
        }
        const sorted = [...inner].sort((a, b) => a.base - b.base);
        for (let i = 1; i < sorted.length; i++) {
          assert.ok(sorted[i - 1].base + sorted[i - 1].size <= sorted[i].base);
        }
        const at = (name: string) => inner.find((r) => r.name === name)!;
        assert.equal(at("initrd").size, 3 * 1024 * 1024 + 5);

        const r = await vmanctl([...s, "start", "p"]);
        assert.equal(r.code, 0, r.stderr);
        const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
        const boot = shown.boot as { entry: number; context: number };
        assert.equal(boot.entry, at(c.entryIs).base);
        assert.equal(boot.context, at("dtb").base);
        const calls = shown.monitorCalls as {
          call: string;
          args: Record<string, number | string>;
        }[];
        const writes = calls.filter((x) => x.call === "memory_write").map((x) => x.args.address);
        for (const name of ["kernel", "initrd", "dtb"]) {
          assert.ok(writes.includes(at(name).base), `${name} written`);
        }
        const start = calls.at(-1)!;
        assert.deepEqual(start, {
          call: "core_start",
          args: { partition: 1, hwid: 2, entry: at(c.entryIs).base, context: at("dtb").base },
        });

        // The DTB start wrote says where the initrd is.
        const dts = (await vmanctl([...s, "dtb", "p", "--dts"])).stdout;
        const hex = (n: number) => `0x${n.toString(16)}`;
        const initrdEnd = at("initrd").base + at("initrd").size;
        assert.match(dts, new RegExp(`linux,initrd-start = <(0x00 )?${hex(at("initrd").base)}>`));
        assert.match(dts, new RegExp(`linux,initrd-end = <(0x00 )?${hex(initrdEnd)}>`));
        assert.match(dts, /bootargs = "console=ttyX"/);
      });
    },
  });
}

Deno.test({
  name: "a wrong-arch or truncated kernel fails start with one line, before any monitor call",
  ignore: !HAVE,
  fn: async () => {
    await withTempDir(async (dir) => {
      const truncated = `${dir}/Image`;
      await Deno.writeFile(
        truncated,
        (await Deno.readFile(`${KERNELS}/arm64/Image`)).subarray(0, 40),
      );
      const cases: [string, string, RegExp][] = [
        [
          "qemu-virt-riscv64",
          `${KERNELS}/arm64/Image`,
          /^vmanctl: Image is arm64 but partition p is riscv \(/,
        ],
        [
          "qemu-virt-arm64",
          `${KERNELS}/armhf/zImage`,
          /^vmanctl: zImage is arm \(32-bit\) but partition p is armv8 \(/,
        ],
        ["qemu-virt-arm64", truncated, /^vmanctl: .*\(.*Image\)$/],
      ];
      for (const [i, [board, kernel, pattern]] of cases.entries()) {
        const s = ["--state-dir", `${dir}/s${i}`, "--board", board];
        assert.equal((await vmanctl([...s, "create", "p", "--kernel", kernel])).code, 0);
        const r = await vmanctl([...s, "start", "p"]);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trimEnd().split("\n").length, 1);
        assert.match(r.stderr.trimEnd(), pattern);
        const shown = JSON.parse((await vmanctl([...s, "show", "p", "--json"])).stdout) as Json;
        assert.equal(shown.state, "defined");
        assert.deepEqual(shown.monitorCalls, []);
      }
    });
  },
});

Deno.test({
  name: "images that do not fit the window: start refuses, saying by how much",
  ignore: !HAVE,
  fn: async () => {
    await withTempDir(async (dir) => {
      const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
      assert.equal(
        (await vmanctl([
          ...s,
          "create",
          "p",
          "--memory",
          "16M",
          "--kernel",
          `${KERNELS}/arm64/Image`,
        ])).code,
        0,
      );
      const r = await vmanctl([...s, "start", "p"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /MiB short \(a window of at least 36 MiB fits\)/);
    });
  },
});

Deno.test("armv7 windows are 128 MiB aligned, as zImages need", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm"];
    for (const name of ["a", "b"]) {
      const r = await vmanctl([...s, "create", name, "--cpus", "1", "--memory", "100M", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout).memory.base as number) % (128 * 1024 * 1024), 0);
    }
  });
});

Deno.test({
  name: "plan with a kernel on a new state dir plans on the board's device tree and writes nothing",
  ignore: !HAVE,
  fn: () =>
    withTempDir(async (dir) => {
      const state = `${dir}/new`;
      const out = await vmanctl([
        "--state-dir",
        state,
        "--board",
        "qemu-virt-arm64",
        "plan",
        "p",
        "--cpus",
        "1",
        "--memory",
        "256M",
        "--kernel",
        `${KERNELS}/arm64/Image`,
        "--json",
      ]);
      assert.equal(out.code, 0, out.stderr);
      const plan = JSON.parse(out.stdout) as { memoryMap: { name: string }[] };
      assert.ok(plan.memoryMap.some((r) => r.name === "dtb"), out.stdout);
      await assert.rejects(Deno.stat(state), Deno.errors.NotFound);
    }),
});
