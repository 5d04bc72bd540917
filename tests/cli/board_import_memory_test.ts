/**
 * `board import --memory` and `board import --live` (with a fake root directory),
 * and their refusals: one line naming what and where, exit 2, nothing written.
 */
import assert from "node:assert/strict";
import { ROOT, vmanctl, withTempDir } from "./helpers.ts";

const DTB = `${ROOT}/boards/qemu-virt-arm64.dtb`;

const IOMEM = `09000000-09000fff : pl011@9000000
40000000-4fffffff : System RAM
  40210000-41ffffff : Kernel code
50000000-bfffffff : System RAM
`;

/** A fake root with the running board's files: the arm64 virt DTB and `iomem`. */
async function fakeRoot(dir: string, iomem: string | undefined): Promise<string> {
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/sys/firmware`, { recursive: true });
  await Deno.mkdir(`${root}/proc`, { recursive: true });
  await Deno.copyFile(DTB, `${root}/sys/firmware/fdt`);
  if (iomem !== undefined) await Deno.writeTextFile(`${root}/proc/iomem`, iomem);
  return root;
}

Deno.test("board import --memory gives the RAM in place of the DTB's, and says so", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/lab`);
    const r = await vmanctl([
      "--json",
      "board",
      "import",
      DTB,
      "--memory",
      "0x40000000+512M,0x80000000+0x40000000",
      "-o",
      `${dir}/lab/lab.yaml`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      JSON.parse(r.stdout).notes[0],
      "RAM from --memory, in place of the device tree's 0x40000000-0xbfffffff",
    );
    const yaml = await Deno.readTextFile(`${dir}/lab/lab.yaml`);
    assert.match(yaml, /^ {2}- \{ name: "ram", base: 0x40000000, size: 0x20000000 \} # 512 MiB$/m);
    assert.match(yaml, /^ {2}- \{ name: "ram1", base: 0x80000000, size: 0x40000000 \} # 1 GiB$/m);
    assert.equal((await vmanctl(["board", "check", `${dir}/lab/lab.yaml`])).code, 0);
  });
});

Deno.test("board import refuses a bad --memory with one line, exit 2, nothing written", async () => {
  await withTempDir(async (dir) => {
    for (
      const [memory, message] of [
        ["0x40000000", /'0x40000000' is not a range: give BASE\+SIZE/],
        ["0x40000000+1Q", /size '1Q' has an unknown unit/],
        ["0x40000000+0", /has a size of 0/],
        ["0x40000000+1G,0x50000000+1G", /overlaps/],
        [Array(300).fill("0x0+1").join(","), /more than 256 ranges/],
        ["0x0+4K", /no 128 MiB of RAM in one piece is left for the management partition/],
      ] as const
    ) {
      const r = await vmanctl(["board", "import", DTB, "--memory", memory, "-o", `${dir}/b.yaml`]);
      assert.equal(r.code, 2, memory.slice(0, 30));
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^vmanctl: [^\n]*\((--memory|\/memory)\)\n$/);
      assert.equal(r.stdout, "");
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  });
});

Deno.test("board import --live reads the running board's fdt and /proc/iomem's System RAM", async () => {
  await withTempDir(async (dir) => {
    const root = await fakeRoot(dir, IOMEM);
    await Deno.mkdir(`${dir}/lab`);
    const live = ["board", "import", "--live", "--root", root, "-o", `${dir}/lab/live.yaml`];
    const r = await vmanctl([...live, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).board, "linux-dummy-virt");
    const yaml = await Deno.readTextFile(`${dir}/lab/live.yaml`);
    assert.match(
      yaml,
      /^# Imported by vmanctl board import from the running board \(.*\/sys\/firmware\/fdt\)\.$/m,
    );
    assert.match(
      yaml,
      /^# {3}RAM from \/proc\/iomem, in place of the device tree's 0x40000000-0xbfffffff$/m,
    );
    assert.match(yaml, /^name: linux-dummy-virt$/m);
    assert.match(yaml, /^ {2}- \{ name: "ram", base: 0x40000000, size: 0x80000000 \} # 2 GiB$/m);
    assert.match(yaml, /^devicetree: "linux-dummy-virt.dtb"$/m);
    assert.deepEqual(
      await Deno.readFile(`${dir}/lab/linux-dummy-virt.dtb`),
      await Deno.readFile(DTB),
    );
    const shown = await vmanctl([
      "--plugin-dir",
      `${dir}/lab`,
      "board",
      "show",
      "linux-dummy-virt",
    ]);
    assert.equal(shown.code, 0, shown.stderr);
    // --memory still wins over what the running board says.
    const m = await vmanctl([...live, "--memory", "0x40000000+1G"]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(
      await Deno.readTextFile(`${dir}/lab/live.yaml`),
      /^ {2}- \{ name: "ram", base: 0x40000000, size: 0x40000000 \} # 1 GiB$/m,
    );
  });
});

Deno.test("board import --live refusals: hidden addresses, a missing file, FILE and --live", async () => {
  await withTempDir(async (dir) => {
    const out = ["-o", `${dir}/x.yaml`];
    const hidden = IOMEM.replace(/^(\s*)[0-9a-f]+-[0-9a-f]+/gm, "$100000000-00000000");
    let root = await fakeRoot(`${dir}/a`, hidden);
    let r = await vmanctl(["board", "import", "--live", "--root", root, ...out]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^vmanctl: System RAM reads as 0-0 .*run as root.*\(.*\/proc\/iomem\)\n$/,
    );
    root = await fakeRoot(`${dir}/big`, "x".repeat(1024 * 1024 + 1));
    r = await vmanctl(["board", "import", "--live", "--root", root, ...out]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^vmanctl: cannot read the memory map: .*more than the limit of 1048576 bytes \(.*\/proc\/iomem\)\n$/,
    );
    root = await fakeRoot(`${dir}/b`, undefined);
    r = await vmanctl(["board", "import", "--live", "--root", root, ...out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^vmanctl: cannot read the memory map: .*\(.*\/proc\/iomem\)\n$/);
    r = await vmanctl(["board", "import", "--live", "--root", `${dir}/none`, ...out]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /cannot read the running board's device tree: .*sys\/firmware\/fdt\)\n$/,
    );
    r = await vmanctl(["board", "import", DTB, "--live", ...out]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--live imports the running board's device tree, not .*: give one of them/,
    );
    r = await vmanctl(["board", "import"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give the DTB to import, or --live/);
    r = await vmanctl(["board", "import", DTB, "--root", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--root goes with --live/);
    r = await vmanctl(["board", "import", "--live", "--root", root]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--live copies the running board's device tree beside the YAML: give -o/,
    );
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name === "x.yaml"), "nothing written");
  });
});
