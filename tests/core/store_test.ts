import assert from "node:assert/strict";
import { armv8 } from "../../arch/armv8/mod.ts";
import { loadBoardYaml } from "../../core/board/load.ts";
import { exitCodeOf, VmanError } from "../../core/errors.ts";
import type { PartitionRecord } from "../../core/model.ts";
import {
  STATE_FORMAT,
  type StateDocument,
  StateStore,
  StateStoreError,
} from "../../core/state/store.ts";
import { MiB } from "../../core/units.ts";

const BOARD = loadBoardYaml(
  await Deno.readTextFile(new URL("../../boards/qemu-virt-arm64.yaml", import.meta.url)),
  "boards/qemu-virt-arm64.yaml",
  () => armv8(),
).board;

function record(name: string, cmdline = ""): PartitionRecord {
  return {
    name,
    id: 1,
    state: "defined",
    spec: { name, cpus: 1, cmdline },
    allocation: {
      cores: [1],
      bootCore: 1,
      memory: { base: 0x50000000, size: 256 * MiB },
      devices: ["uart0"],
    },
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
    monitorCalls: [],
  };
}

function documentWith(...partitions: PartitionRecord[]): StateDocument {
  return { format: STATE_FORMAT, board: BOARD, backend: "dry-run", partitions };
}

/** Runs `fn` with a fresh temp dir that is removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vman-state-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function rejectsWithStoreError(
  promise: Promise<unknown>,
  where: string,
  message: RegExp,
): Promise<StateStoreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof StateStoreError, `expected StateStoreError, got ${String(caught)}`);
  assert.ok(caught instanceof VmanError);
  assert.equal(caught.exitCode, 1);
  assert.equal(exitCodeOf(caught), 1);
  assert.equal(caught.where, where);
  assert.match(caught.message, message);
  assert.ok(!caught.line().includes("\n"), caught.line());
  assert.ok(caught.line().endsWith(`(${where})`));
  return caught;
}

Deno.test("read on an empty dir, or a dir that does not exist, is undefined", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await new StateStore(dir).read(), undefined);
    assert.equal(await new StateStore(`${dir}/missing/deeper`).read(), undefined);
    assert.deepEqual(await namesIn(dir), [], "reading creates nothing");
  });
});

Deno.test("the state file is state.json in the state dir", () => {
  assert.equal(new StateStore("/var/lib/vmanager").file, "/var/lib/vmanager/state.json");
  assert.equal(new StateStore("/var/lib/vmanager").dir, "/var/lib/vmanager");
});

Deno.test("update creates the dir, writes state.json atomically and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    const stateDir = `${dir}/state`;
    const store = new StateStore(stateDir);
    let seen: StateDocument | undefined | "unset" = "unset";
    const result = await store.update((doc) => {
      seen = doc;
      return { doc: documentWith(record("a")), result: 42 };
    });
    assert.equal(result, 42);
    assert.equal(seen, undefined, "the first update sees no document");

    const names = await namesIn(stateDir);
    assert.ok(names.includes("state.json"));
    assert.deepEqual(names.filter((n) => n.endsWith(".tmp")), []);
    assert.deepEqual(names.filter((n) => n !== "state.lock"), ["state.json"]);

    const text = await Deno.readTextFile(store.file);
    assert.ok(text.endsWith("\n"));
    assert.deepEqual(JSON.parse(text), documentWith(record("a")));
    assert.deepEqual(await store.read(), documentWith(record("a")));

    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(store.file)).mode! & 0o777, 0o600, "state.json is private");
      assert.equal((await Deno.stat(stateDir)).mode! & 0o777, 0o700, "the state dir is private");
    }
  });
});

Deno.test("an update sees the document the previous one wrote", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    await store.update(() => ({ doc: documentWith(record("a")), result: undefined }));
    const names = await store.update((doc) => {
      assert.ok(doc);
      return {
        doc: { ...doc, partitions: [...doc.partitions, record("b")] },
        result: doc.partitions.map((p) => p.name),
      };
    });
    assert.deepEqual(names, ["a"]);
    assert.deepEqual((await store.read())!.partitions.map((p) => p.name), ["a", "b"]);
  });
});

Deno.test("an update returning no document writes nothing", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    assert.equal(await store.update(() => ({ result: "read only" })), "read only");
    assert.equal(await store.read(), undefined);
    assert.ok(!(await namesIn(dir)).includes("state.json"));

    await store.update(() => ({ doc: documentWith(record("a")), result: undefined }));
    const before = await Deno.readTextFile(store.file);
    const mtime = (await Deno.stat(store.file)).mtime;
    await store.update(() => ({ doc: undefined, result: undefined }));
    assert.equal(await Deno.readTextFile(store.file), before);
    assert.deepEqual((await Deno.stat(store.file)).mtime, mtime);
  });
});

Deno.test("an update whose change throws writes nothing and passes the error on", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    const boom = new Error("boom");
    await assert.rejects(
      store.update(() => {
        throw boom;
      }),
      (error) => error === boom,
    );
    assert.equal(await store.read(), undefined);
    assert.deepEqual((await namesIn(dir)).filter((n) => n !== "state.lock"), []);

    await store.update(() => ({ doc: documentWith(record("a")), result: undefined }));
    const before = await Deno.readTextFile(store.file);
    await assert.rejects(
      store.update(async (doc) => {
        await Promise.resolve();
        doc!.partitions.push(record("b")); // mutates the copy it was given, then fails
        throw new Error("late failure");
      }),
      /late failure/,
    );
    assert.equal(await Deno.readTextFile(store.file), before);
    assert.deepEqual((await store.read())!.partitions.map((p) => p.name), ["a"]);
    assert.deepEqual((await namesIn(dir)).filter((n) => n.endsWith(".tmp")), []);
  });
});

Deno.test("the lock is released after a failed change, so the next update runs", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    await assert.rejects(store.update(() => Promise.reject(new Error("no"))), /no/);
    const result = await store.update(() => ({ doc: documentWith(), result: "ran" }));
    assert.equal(result, "ran");
  });
});

Deno.test("a document in another format version is a StateStoreError naming the file", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    const future = { ...documentWith(record("a")), format: 99 };
    await Deno.writeTextFile(store.file, JSON.stringify(future));
    await rejectsWithStoreError(
      store.read(),
      store.file,
      /format 99; this vmanager reads format 1/,
    );
    // update refuses it too and does not overwrite it.
    let called = false;
    await rejectsWithStoreError(
      store.update(() => {
        called = true;
        return { doc: documentWith(), result: undefined };
      }),
      store.file,
      /format 99/,
    );
    assert.equal(called, false, "change is not run on an unreadable state");
    assert.equal(JSON.parse(await Deno.readTextFile(store.file)).format, 99);
  });
});

Deno.test("corrupt JSON is a StateStoreError naming the file", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    await Deno.writeTextFile(store.file, '{"format": 1, "partitions": [');
    const error = await rejectsWithStoreError(store.read(), store.file, /is not valid JSON/);
    assert.ok(error.line().includes(`${dir}/state.json`));
    await rejectsWithStoreError(
      store.update(() => ({ doc: documentWith(), result: undefined })),
      store.file,
      /not valid JSON/,
    );
    assert.equal(await Deno.readTextFile(store.file), '{"format": 1, "partitions": [');
  });
});

Deno.test("documents without a format, or missing parts, are refused", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    const cases: [unknown, RegExp][] = [
      [null, /no format version/],
      [[], /no format version/],
      [42, /no format version/],
      [{ partitions: [] }, /no format version/],
      [{ format: "1", board: BOARD, backend: "dry-run", partitions: [] }, /no format version/],
      [{ format: 1, board: BOARD, backend: "dry-run" }, /missing board, backend or partitions/],
      [{ format: 1, board: BOARD, partitions: [] }, /missing board, backend or partitions/],
      [{ format: 1, backend: "dry-run", partitions: [] }, /missing board, backend or partitions/],
    ];
    for (const [doc, message] of cases) {
      await Deno.writeTextFile(store.file, JSON.stringify(doc));
      await rejectsWithStoreError(store.read(), store.file, message);
    }
  });
});

Deno.test("an unreadable state path is a StateStoreError, not NotFound", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    await Deno.mkdir(store.file); // state.json is a directory
    await rejectsWithStoreError(store.read(), store.file, /cannot read the state/);
  });
});

Deno.test("a state dir that cannot be created is a StateStoreError naming it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a dir");
    const store = new StateStore(`${dir}/file/state`);
    await rejectsWithStoreError(
      store.update(() => ({ doc: documentWith(), result: undefined })),
      `${dir}/file/state`,
      /cannot create the state dir/,
    );
  });
});

Deno.test("50 concurrent updates in one process lose nothing", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    await store.update(() => ({ doc: documentWith(record("counter", "0")), result: undefined }));
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        store.update(async (doc) => {
          assert.ok(doc);
          const value = Number(doc.partitions[0].spec.cmdline);
          // Yield between read and write, so that an unlocked store would interleave.
          await new Promise((resolve) => setTimeout(resolve, 1));
          const next = value + 1;
          const partitions = [{
            ...doc.partitions[0],
            spec: { ...doc.partitions[0].spec, cmdline: String(next) },
          }];
          return { doc: { ...doc, partitions }, result: next };
        })),
    );
    assert.deepEqual(
      results.sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
      "every update saw the previous one's result",
    );
    assert.equal((await store.read())!.partitions[0].spec.cmdline, "50");
    assert.deepEqual((await namesIn(dir)).filter((n) => n.endsWith(".tmp")), []);
  });
});

Deno.test("concurrent updates through separate store objects on one dir lose nothing", async () => {
  await withTempDir(async (dir) => {
    await new StateStore(dir).update(() => ({ doc: documentWith(), result: undefined }));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new StateStore(dir).update(async (doc) => {
          await new Promise((resolve) => setTimeout(resolve, 0));
          return {
            doc: { ...doc!, partitions: [...doc!.partitions, record(`p${i}`)] },
            result: undefined,
          };
        })),
    );
    const names = (await new StateStore(dir).read())!.partitions.map((p) => p.name).sort();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `p${i}`).sort());
  });
});

Deno.test("concurrent readers never see a half-written document", async () => {
  await withTempDir(async (dir) => {
    const store = new StateStore(dir);
    const big = (n: number) =>
      documentWith(...Array.from({ length: 200 }, (_, i) => record(`p${i}`, `gen ${n}`)));
    await store.update(() => ({ doc: big(0), result: undefined }));
    const writers = Array.from(
      { length: 10 },
      (_, n) => store.update(() => ({ doc: big(n + 1), result: undefined })),
    );
    const readers = Array.from({ length: 30 }, async () => {
      const doc = await store.read();
      assert.ok(doc);
      assert.equal(doc.partitions.length, 200);
      const generations = new Set(doc.partitions.map((p) => p.spec.cmdline));
      assert.equal(generations.size, 1, "one generation per document");
    });
    await Promise.all([...writers, ...readers]);
  });
});
