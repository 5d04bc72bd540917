/**
 * The sim with an external arch plugin (tests/fixtures/plugins/arch-arm64-variant):
 * its partitions start, and the monitor's platform names the architecture as the
 * ABI knows it, the plugin's `abiArch`.
 */
import assert from "node:assert/strict";
import { arm64Image, ROOT, vmanctl, withTempDir } from "../cli/helpers.ts";
import { loadHelper } from "../../core/monitor/helper.ts";

// The helper stays loaded for the process (as in vmanctl): load it before the tests,
// so that the resource sanitizer does not count it against the test.
loadHelper();

type Json = Record<string, unknown>;

const DIR = `${ROOT}/tests/fixtures/plugins/arch-arm64-variant`;

Deno.test("an external arch plugin's partition starts on the sim, which knows it by its abiArch", async () => {
  await withTempDir(async (dir) => {
    const kernel = `${dir}/Image`;
    await Deno.writeFile(kernel, arm64Image());
    const s = ["--state-dir", `${dir}/s`, "--plugin-dir", DIR];
    const create = ["--board", "acme-alt-arm64", "--backend", "sim", "create", "p"];
    const created = await vmanctl([...s, ...create, "--cpus", "1", "--kernel", kernel]);
    assert.equal(created.code, 0, created.stderr);
    const started = await vmanctl([...s, "start", "p"]);
    assert.equal(started.code, 0, started.stderr);
    const platform = JSON.parse(await Deno.readTextFile(`${dir}/s/monitor.json`)) as {
      platform: Json;
    };
    assert.equal(platform.platform.arch, "armv8");
    assert.equal(platform.platform.board, "acme-alt-arm64");
    assert.equal((await vmanctl([...s, "stop", "p"])).code, 0);
  });
});
