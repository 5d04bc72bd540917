/**
 * The compiled binary's copy-out of its embedded helper (`copyOutHelper`, which
 * `loadHelper` calls when the library cannot be loaded where it is): the copy is
 * named by the full SHA-256 of the bytes, reused only when its own bytes match
 * that name, and replaced when anything in it differs — even one byte at the same
 * size.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withTempDir } from "../cli/helpers.ts";
import { builtHelperPath, copyOutHelper, HELPER_FILE } from "../../core/monitor/helper.ts";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

Deno.test("helper copy-out: named by the full SHA-256, verified on reuse", async () => {
  await withTempDir(async (dir) => {
    const cache = `${dir}/cache`;
    const source = `${dir}/${HELPER_FILE}`;
    const bytes = new Uint8Array(10_000).map((_, i) => (i * 13) & 255);
    await Deno.writeFile(source, bytes);

    const copy = copyOutHelper(source, cache);
    assert.equal(copy, `${cache}/${sha256(bytes)}-${HELPER_FILE}`);
    assert.deepEqual(await Deno.readFile(copy!), bytes);
    assert.equal((await Deno.stat(copy!)).mode! & 0o777, 0o755);

    // Reused as it is: the same path, the file not rewritten.
    const inode = (await Deno.stat(copy!)).ino;
    assert.equal(copyOutHelper(source, cache), copy);
    assert.equal((await Deno.stat(copy!)).ino, inode, "not rewritten");

    // One byte changed at the same size (never the 7th-byte sample): replaced.
    const damaged = bytes.slice();
    damaged[1] ^= 0xff;
    await Deno.writeFile(copy!, damaged);
    assert.equal(copyOutHelper(source, cache), copy);
    assert.deepEqual(await Deno.readFile(copy!), bytes, "the damaged copy is replaced");

    // A truncated copy is replaced too.
    await Deno.writeFile(copy!, bytes.subarray(0, 100));
    assert.equal(copyOutHelper(source, cache), copy);
    assert.deepEqual(await Deno.readFile(copy!), bytes);

    // Another build of the same size gets its own name; both stay.
    const other = bytes.slice();
    other[7] ^= 1;
    await Deno.writeFile(source, other);
    const otherCopy = copyOutHelper(source, cache);
    assert.equal(otherCopy, `${cache}/${sha256(other)}-${HELPER_FILE}`);
    assert.notEqual(otherCopy, copy);
    assert.deepEqual(await Deno.readFile(otherCopy!), other);
    assert.deepEqual(await Deno.readFile(copy!), bytes);
    const names = [...Deno.readDirSync(cache)].map((e) => e.name).sort();
    assert.equal(names.length, 2, `no temporary files left: ${names}`);

    // Nothing to copy: undefined, not a throw.
    assert.equal(copyOutHelper(`${dir}/missing.so`, cache), undefined);
  });
});

Deno.test("helper copy-out: the copy of the built helper loads and answers", async () => {
  await withTempDir((dir) => {
    const copy = copyOutHelper(builtHelperPath(), dir);
    assert.ok(copy, "copied");
    const lib = Deno.dlopen(copy, { vmh_abi_version: { parameters: [], result: "u32" } });
    try {
      assert.equal(lib.symbols.vmh_abi_version(), 0x10000);
    } finally {
      lib.close();
    }
    return Promise.resolve();
  });
});
