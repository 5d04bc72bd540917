/**
 * `VMAN_MEMORY_DIR`: where a state dir's physical memory file is made. The state
 * dir's `memory.img` becomes a link to a new file there, the sim loads the kernel
 * into that file, destroy zeroes the window there, a memory file that exists
 * stays where it is, and a directory that is not one is refused at start with
 * one line, exit 2.
 */
import assert from "node:assert/strict";
import { vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { fixturesDir } from "../../scripts/cache.ts";
import { isFile, readAt } from "./files.ts";

const KERNEL = `${fixturesDir()}/kernels/arm64/Image`;
const RAM_BASE = 0x40000000;
const have = isFile(KERNEL);
if (!have) console.log(`skipping the VMAN_MEMORY_DIR tests: no ${KERNEL} (fetch-fixtures)`);

/** A partition `p` with the arm64 kernel on the sim backend in `state`. */
async function define(state: string): Promise<void> {
  const created = await vmanctlProcess([
    ...["--state-dir", state, "--board", "qemu-virt-arm64", "--backend", "sim"],
    ...["create", "p", "--cpu-ids", "1", "--memory", "256M", "--kernel", KERNEL],
  ]);
  assert.equal(created.code, 0, created.stderr);
}

Deno.test({
  name: "VMAN_MEMORY_DIR: the memory file is made there, loaded there and zeroed there",
  ignore: !have,
  fn: async () => {
    await withTempDir(async (dir) => {
      const [state, ram] = [`${dir}/state`, `${dir}/ram`];
      await Deno.mkdir(ram);
      await define(state);
      const env = { VMAN_MEMORY_DIR: ram };
      const started = await vmanctlProcess(["--state-dir", state, "start", "p"], env);
      assert.equal(started.code, 0, started.stderr);

      const link = await Deno.lstat(`${state}/memory.img`);
      assert.ok(link.isSymlink, "memory.img is a link");
      const target = await Deno.readLink(`${state}/memory.img`);
      assert.match(target, new RegExp(`^${ram}/vmanager-memory-[0-9a-f-]+\\.img$`));
      assert.deepEqual([...Deno.readDirSync(ram)].map((e) => e.name), [target.split("/").at(-1)]);

      const shown = JSON.parse(
        (await vmanctlProcess(["--state-dir", state, "show", "p", "--json"])).stdout,
      );
      const kernelRegion = (shown.boot.regions as { name: string; base: number }[])
        .find((r) => r.name === "kernel")!;
      const head = (await Deno.readFile(KERNEL)).subarray(0, 4096);
      assert.deepEqual(await readAt(target, kernelRegion.base - RAM_BASE, 4096), head);

      // Another command without the variable uses the file the link names.
      const destroyed = await vmanctlProcess(["--state-dir", state, "destroy", "p"]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
      const zeros = await readAt(target, kernelRegion.base - RAM_BASE, 4096);
      assert.ok(zeros.every((b) => b === 0), "the window reads as zeros after destroy");
      assert.ok((await Deno.lstat(`${state}/memory.img`)).isSymlink);
    });
  },
});

Deno.test({
  name: "VMAN_MEMORY_DIR: an existing memory file stays; a missing directory is one line, exit 2",
  ignore: !have,
  fn: async () => {
    await withTempDir(async (dir) => {
      const state = `${dir}/state`;
      await define(state);
      const missing = `${dir}/no-such-dir`;
      const refused = await vmanctlProcess(["--state-dir", state, "start", "p"], {
        VMAN_MEMORY_DIR: missing,
      });
      assert.equal(refused.code, 2);
      assert.equal(
        refused.stderr,
        `vmanctl: cannot place the memory file in ${missing}: no such file or directory ` +
          "(VMAN_MEMORY_DIR)\n",
      );
      await assert.rejects(Deno.lstat(`${state}/memory.img`), Deno.errors.NotFound);
      const after = JSON.parse(await Deno.readTextFile(`${state}/state.json`));
      assert.equal(after.partitions[0].state, "defined");
      assert.equal(after.partitions[0].pending, undefined, "no intent left");

      // Made in the state dir (no variable), the file stays there when one is given later.
      const started = await vmanctlProcess(["--state-dir", state, "start", "p"]);
      assert.equal(started.code, 0, started.stderr);
      await Deno.mkdir(`${dir}/ram`);
      const again = await vmanctlProcess(["--state-dir", state, "stop", "p"], {
        VMAN_MEMORY_DIR: `${dir}/ram`,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.ok((await Deno.lstat(`${state}/memory.img`)).isFile);
      assert.deepEqual([...Deno.readDirSync(`${dir}/ram`)], []);
    });
  },
});
