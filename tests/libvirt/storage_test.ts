/**
 * Disk image files as storage volumes (plugins/libvirt/storage.ts), through the real
 * virsh: an existing regular file is a volume of the pool `vmanager-files`, which
 * `pool-list` does not list; anything else is not found; nothing is created; the
 * read-only socket refuses the lookups.
 */
import assert from "node:assert/strict";
import { field, HAVE_VIRSH, virsh, withDaemon } from "./helpers.ts";

if (!HAVE_VIRSH) {
  console.log("skipping the storage tests: install libvirt-clients (scripts/setup.sh)");
}

Deno.test({
  name: "storage: an existing file is a volume (vol-info, vol-dumpxml, vol-path, vol-pool); " +
    "the pool is vmanager-files; a directory or a missing file is no volume",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withDaemon(async (d, dir) => {
      const raw = `${dir}/a&b.img`;
      await Deno.writeFile(raw, new Uint8Array(4096).fill(7));
      const qcow = `${dir}/q.qcow2`;
      await Deno.writeFile(qcow, new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));

      const info = await virsh(d.uri, "vol-info", raw);
      assert.equal(info.code, 0, info.stderr);
      assert.equal(field(info.stdout, "Name"), "a&b.img");
      assert.equal(field(info.stdout, "Type"), "file");
      assert.equal(field(info.stdout, "Capacity"), "4.00 KiB");
      const xml = await virsh(d.uri, "vol-dumpxml", raw);
      assert.equal(xml.code, 0, xml.stderr);
      assert.match(xml.stdout, /^<volume type='file'>/);
      assert.match(xml.stdout, new RegExp(`<key>${dir}/a&amp;b\\.img</key>`));
      assert.match(xml.stdout, new RegExp(`<path>${dir}/a&amp;b\\.img</path>`));
      assert.match(xml.stdout, /<capacity unit='bytes'>4096<\/capacity>/);
      assert.match(xml.stdout, /<format type='raw'\/>/);
      assert.match((await virsh(d.uri, "vol-dumpxml", qcow)).stdout, /<format type='qcow2'\/>/);
      assert.equal((await virsh(d.uri, "vol-path", raw)).stdout.trim(), raw);
      assert.equal((await virsh(d.uri, "vol-pool", raw)).stdout.trim(), "vmanager-files");
      assert.equal((await virsh(d.uri, "vol-key", raw)).stdout.trim(), raw);

      // The pool: found by name, not listed (vmanager defines no pools).
      const pool = await virsh(d.uri, "pool-dumpxml", "vmanager-files");
      assert.equal(pool.code, 0, pool.stderr);
      assert.match(pool.stdout, /^<pool type='dir'>/);
      assert.match(pool.stdout, /<target>\s*<path>\/<\/path>\s*<\/target>/);
      const poolInfo = await virsh(d.uri, "pool-info", "vmanager-files");
      assert.equal(poolInfo.code, 0, poolInfo.stderr);
      assert.equal(field(poolInfo.stdout, "State"), "running");
      const list = await virsh(d.uri, "pool-list", "--all", "--name");
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.stdout.trim(), "");
      const other = await virsh(d.uri, "pool-info", "default");
      assert.equal(other.code, 1);
      assert.match(other.stderr, /Storage pool not found/);

      for (const path of [dir, `${dir}/missing.img`, "relative.img"]) {
        const none = await virsh(d.uri, "vol-info", path);
        assert.equal(none.code, 1, path);
        assert.match(none.stderr, /Storage volume not found/, path);
      }

      // Nothing is created.
      const poolXml = `${dir}/pool.xml`;
      await Deno.writeTextFile(
        poolXml,
        `<pool type='dir'><name>p</name><target><path>${dir}</path></target></pool>`,
      );
      const define = await virsh(d.uri, "pool-define", poolXml);
      assert.equal(define.code, 1);
      assert.match(define.stderr, /creates no disk images/);

      // Not on the read-only socket.
      const ro = await virsh(d.roUri, "vol-info", raw);
      assert.equal(ro.code, 1);
      assert.match(ro.stderr, /read only access prevents STORAGE_VOL_LOOKUP_BY_PATH/);
    }, []);
  },
});
