/**
 * core/files.ts: regular files only, limits checked by size and while reading, a
 * FIFO never blocks, every refusal a FileInputError naming the file.
 */
import assert from "node:assert/strict";
import {
  FileInputError,
  openWithin,
  readAtMost,
  readRegularFile,
  readRegularTextFile,
  statRegularFile,
} from "../../core/files.ts";
import { withTempDir } from "../cli/helpers.ts";

async function refusal(promise: Promise<unknown>): Promise<FileInputError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof FileInputError, `refused: ${String(error)}`);
  assert.equal(error.exitCode, 2);
  return error;
}

function mkfifo(path: string): void {
  const out = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("a regular file is read whole, up to and including its limit", () =>
  withTempDir(async (dir) => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) >> 3);
    await Deno.writeFile(`${dir}/f`, bytes);
    assert.deepEqual(await readRegularFile(`${dir}/f`, 100_000, "the file"), bytes);
    await Deno.writeTextFile(`${dir}/t`, "\ufeffname: x\n");
    assert.equal(await readRegularTextFile(`${dir}/t`, 100, "the file"), "name: x\n");
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assert.equal((await readRegularFile(`${dir}/empty`, 0, "the file")).length, 0);
  }));

Deno.test("a file over the limit is refused by its size, naming the limit and the file", () =>
  withTempDir(async (dir) => {
    const path = `${dir}/big`;
    using file = await Deno.create(path);
    await file.truncate(2 * 1024 * 1024);
    const error = await refusal(readRegularFile(path, 1024 * 1024, "the spec file"));
    assert.equal(error.problem, "too-large");
    assert.equal(error.message, "cannot read the spec file: 2 MiB is more than the limit of 1 MiB");
    assert.equal(error.where, path);
    await refusal(statRegularFile(path, 1024 * 1024, "the initrd"));
    await refusal(readRegularFile(path, 2 * 1024 * 1024 - 1, "the file"));
  }));

Deno.test("a file that grows while it is read stops at the limit", async () => {
  // What reading sees of a file growing faster than it is read (or of a /proc file,
  // whose size says 0): more bytes than its size said, without end.
  const endless = {
    reads: 0,
    read(into: Uint8Array): Promise<number | null> {
      this.reads++;
      into.fill(0x61);
      return Promise.resolve(into.length);
    },
  };
  const error = await refusal(readAtMost(endless, 10, 1024 * 1024, "the board file", "b.yaml"));
  assert.equal(error.problem, "too-large");
  assert.equal(error.message, "cannot read the board file: more than the limit of 1 MiB");
  assert.equal(error.where, "b.yaml");
  assert.ok(endless.reads < 20, `${endless.reads} reads`);
  // A reader that ends at the limit is read whole.
  let left = 1000;
  const bounded = {
    read(into: Uint8Array): Promise<number | null> {
      if (left === 0) return Promise.resolve(null);
      const n = Math.min(left, into.length, 7);
      left -= n;
      return Promise.resolve(n);
    },
  };
  assert.equal((await readAtMost(bounded, 0, 1000, "x", "x")).length, 1000);
});

Deno.test("a FIFO, a device and a directory are refused at once, naming what they are", () =>
  withTempDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    mkfifo(fifo);
    const started = performance.now();
    for (
      const [path, kind] of [
        [fifo, "a FIFO"],
        ["/dev/zero", "a character device"],
        [dir, "a directory"],
      ]
    ) {
      const error = await refusal(readRegularFile(path, 1024, "the DTB"));
      assert.equal(error.problem, "not-regular");
      assert.equal(error.message, `cannot read the DTB: not a regular file but ${kind}`);
      assert.equal(error.where, path);
      await refusal(statRegularFile(path, 1024, "the DTB"));
    }
    assert.ok(performance.now() - started < 1000, "no wait");
  }));

Deno.test("a missing file is 'missing', an unreadable one 'unreadable'", () =>
  withTempDir(async (dir) => {
    const missing = await refusal(readRegularFile(`${dir}/absent`, 10, "the configuration"));
    assert.equal(missing.problem, "missing");
    assert.equal(missing.message, "cannot read the configuration: no such file or directory");
    const through = await refusal(readRegularFile(`${dir}/absent/x`, 10, "the file"));
    assert.ok(["missing", "unreadable"].includes(through.problem));
  }));

Deno.test("opening a FIFO that blocks is given up after the timeout; the late open is closed", () =>
  withTempDir(async (dir) => {
    const fifo = `${dir}/fifo`;
    mkfifo(fifo);
    const started = performance.now();
    const error = await refusal(openWithin(fifo, 100, "the initrd"));
    const ms = performance.now() - started;
    assert.ok(ms >= 90 && ms < 1000, `${ms} ms`);
    assert.equal(error.problem, "not-regular");
    assert.match(error.message, /^cannot read the initrd: opening it did not finish within 100 ms/);
    // A writer lets the pending open complete, which closes it (no leaked resource).
    const writer = await Deno.open(fifo, { write: true });
    writer.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }));
