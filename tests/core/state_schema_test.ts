/**
 * core/state/schema.ts: validateState names the first problem of a broken state
 * document by its JSON path, says that no command repairs it, and returns a good
 * document unchanged (unknown fields kept).
 */
import assert from "node:assert/strict";
import { StateDocumentError, validateState } from "../../core/state/schema.ts";
import { vmanctl, withTempDir } from "../cli/helpers.ts";

type Doc = Record<string, unknown> & {
  board: Record<string, unknown> & { reserved: { cores: number[] }[] };
  partitions: Record<string, unknown>[];
};

/** A real state document: two partitions, one with a kernel command line. */
async function goodDocument(): Promise<Doc> {
  return await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64"];
    assert.equal((await vmanctl([...s, "create", "a", "--cpu-ids", "1"])).code, 0);
    assert.equal((await vmanctl([...s, "create", "b", "--cmdline", "console=ttyAMA0"])).code, 0);
    assert.equal((await vmanctl([...s, "start", "a"])).code, 0);
    return JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
  });
}

const good = await goodDocument();
const FILE = "/var/lib/vmanager/state.json";

function broken(change: (doc: Doc) => unknown): StateDocumentError {
  const doc = structuredClone(good);
  const replaced = change(doc);
  let error: unknown;
  try {
    validateState(replaced === undefined ? doc : replaced, FILE);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof StateDocumentError, `refused: ${String(error)}`);
  assert.equal(error.exitCode, 1);
  assert.equal(error.where, FILE);
  assert.ok(!error.line().includes("\n"));
  return error;
}

Deno.test("a good state document is returned as it is, unknown fields kept", () => {
  const doc = structuredClone(good);
  assert.equal(validateState(doc, FILE), doc);
  assert.deepEqual(doc, good);
  const newer = structuredClone(good);
  (newer.partitions[0] as Record<string, unknown>).pending = {
    op: "start",
    since: "2026-12-07T00:00:00.000Z",
    pid: 42,
  };
  newer.board.someday = true;
  (newer.board.devices as Record<string, unknown>[])[0].someday = 1;
  newer.journal = [];
  assert.deepEqual(validateState(newer, FILE), newer);
});

Deno.test("a partition of {} names its first missing field and how to repair", () => {
  const error = broken((d) => {
    d.partitions = [{}];
  });
  assert.equal(error.path, "partitions[0].name");
  assert.equal(
    error.line(),
    "state field partitions[0].name: required; no vmanctl command repairs it: " +
      `fix or remove partitions[0] in the file by hand (${FILE})`,
  );
});

Deno.test("a partition without allocation, a board of {}, wrong types", () => {
  assert.match(
    broken((d) => {
      delete d.partitions[1].allocation;
    }).message,
    /^state field partitions\[1\]\.allocation: required; .*partitions\[1\]/,
  );
  assert.match(
    broken((d) => {
      d.board = {} as Doc["board"];
    }).message,
    /^state field board\.name: required; no vmanctl command repairs it: restore the board copy/,
  );
  assert.match(
    broken((d) => {
      (d.partitions[0].allocation as Record<string, unknown>).cores = "1";
    }).message,
    /^state field partitions\[0\]\.allocation\.cores: expected array, not a string;/,
  );
  assert.match(broken(() => []).message, /^state field \(the document\): expected an object/);
  assert.match(broken(() => null).message, /expected an object, not null/);
  assert.match(
    broken((d) => {
      d.partitions = {} as Doc["partitions"];
    }).message,
    /^state field partitions: expected array, not an object/,
  );
  assert.match(
    broken((d) => {
      d.partitions[0].state = "paused" as Doc["partitions"][0]["state"];
    }).message,
    /^state field partitions\[0\]\.state: /,
  );
  assert.match(
    broken((d) => {
      d.backend = 7;
    }).message,
    /^state field backend: expected string, not a number; .*fix the file by hand/,
  );
});

Deno.test("board rules, repeated names, a boot core outside the cores", () => {
  assert.match(
    broken((d) => {
      d.board.reserved[0].cores = [9];
    }).message,
    /^state field board\.reserved\[0\]\.cores\[0\]: core 9 is not a core of this board;/,
  );
  assert.match(
    broken((d) => {
      d.partitions[1].name = d.partitions[0].name;
    }).message,
    /^state field partitions\[1\]\.name: repeats partitions\[0\];/,
  );
  assert.match(
    broken((d) => {
      (d.partitions[0].allocation as Record<string, unknown>).bootCore = 3;
    }).message,
    /^state field partitions\[0\]\.allocation\.bootCore: is not one of the cores;/,
  );
});

Deno.test("a name with control characters is refused, and escaped in the line", () => {
  const error = broken((d) => {
    d.partitions[0].name = "a\nb\x1b[31m";
  });
  assert.match(error.line(), /partition name 'a\\nb\\x1b\[31m' must be/);
});
