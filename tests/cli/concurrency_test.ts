import assert from "node:assert/strict";
import type { StateDocument } from "../../core/state/store.ts";
import { ROOT, VMANCTL_FLAGS, withTempDir } from "./helpers.ts";

const WORKERS = 8;
const EACH = 20;

Deno.test(`${WORKERS} processes each create ${EACH} and destroy ${EACH / 2} partitions on one state dir`, async () => {
  await withTempDir(async (dir) => {
    const board = `${ROOT}/tests/fixtures/boards/test-big-arm64.yaml`;
    const [state, plugins] = [`${dir}/state`, `${dir}/plugins`];
    await Deno.mkdir(plugins);
    const workers = Array.from({ length: WORKERS }, (_, id) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...VMANCTL_FLAGS,
          `${ROOT}/tests/fixtures/churn.ts`,
          state,
          plugins,
          board,
          String(id),
          String(EACH),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output());
    const results = await Promise.all(workers);
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, `worker ${i}: ${new TextDecoder().decode(r.stderr)}`);
    }
    const doc = JSON.parse(await Deno.readTextFile(`${state}/state.json`)) as StateDocument;
    const names = doc.partitions.map((p) => p.name).sort();
    const expected = Array.from(
      { length: WORKERS },
      (_, i) => Array.from({ length: EACH / 2 }, (_, k) => `w${i}-${2 * k}`),
    ).flat().sort();
    assert.deepEqual(names, expected, "nothing lost, nothing duplicated, every destroy applied");

    const cores = doc.partitions.flatMap((p) => p.allocation.cores);
    assert.equal(new Set(cores).size, cores.length, "no core double-booked");
    assert.ok(!cores.includes(0), "the management partition's core stays free");
    const ids = doc.partitions.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, "monitor ids unique");
    const windows = doc.partitions.map((p) => p.allocation.memory).sort((a, b) => a.base - b.base);
    for (let i = 1; i < windows.length; i++) {
      assert.ok(
        windows[i - 1].base + windows[i - 1].size <= windows[i].base,
        "no memory byte double-booked",
      );
    }
    assert.ok(
      windows[0].base >= 0x80000000 + 256 * 2 ** 20,
      "the management partition's memory stays free",
    );
    const leftovers = [...Deno.readDirSync(state)].map((e) => e.name).filter((n) =>
      n.endsWith(".tmp")
    );
    assert.deepEqual(leftovers, [], "no temporary files left");
  });
});
