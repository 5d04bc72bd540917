/**
 * Disk image files as libvirt storage volumes, for the clients that look a disk's
 * path up before they write it into a domain: virt-install (virtinst) resolves every
 * `--disk PATH` through libvirt's storage API and, finding no storage support, writes
 * no `<disk>` at all (`Device type 'disk' requires a path`).
 *
 * vmanager has no storage pools to manage: a partition's disk is a raw image file
 * that exists (docs/libvirt.md, "Backings"). So CONNECT_LIST_ALL_STORAGE_POOLS lists
 * none, and an existing regular file, named by its absolute path, is a volume — its
 * key and target path that path, its name the file's name, type `file`, format `raw`
 * (`qcow2` for a file with QCOW's magic, which a define then refuses) — of the one
 * pool `vmanager-files` (type `dir`, target `/`), which the volume lookups return.
 * Nothing here creates, changes or deletes a file: defining or creating a pool or
 * a volume (what virt-install does for a path that does not exist, or a `size=`) is
 * refused with NO_SUPPORT, saying to make the image first; any other storage
 * procedure is NO_SUPPORT as every procedure not answered.
 *
 * These calls reveal whether a file exists and its size, so they are refused on
 * read-only connections (the read-only socket is open to every user); libvirtd
 * answers them there, but only for the files of the pools its administrator defined.
 *
 * Procedure numbers and layouts from libvirt's `remote_protocol.x`:
 * `remote_nonnull_storage_pool { string name; uuid }`,
 * `remote_nonnull_storage_vol { string pool; string name; string key }`.
 *
 * @module
 */
import { RpcError } from "./errors.ts";
import { type Procedure, uuidBytes, uuidString } from "./procedures.ts";
import { ErrorCode, MAX_STRING } from "./protocol.ts";
import { unsupportedFlags } from "./stats.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";
import { escape } from "./xml_escape.ts";

/** The storage procedures answered here. */
const StorageProc = {
  STORAGE_POOL_CREATE_XML: 76,
  STORAGE_POOL_DEFINE_XML: 77,
  STORAGE_POOL_LOOKUP_BY_NAME: 84,
  STORAGE_POOL_LOOKUP_BY_UUID: 85,
  STORAGE_POOL_LOOKUP_BY_VOLUME: 86,
  STORAGE_POOL_GET_INFO: 87,
  STORAGE_POOL_GET_XML_DESC: 88,
  STORAGE_POOL_GET_AUTOSTART: 89,
  STORAGE_VOL_CREATE_XML: 93,
  STORAGE_VOL_LOOKUP_BY_KEY: 96,
  STORAGE_VOL_LOOKUP_BY_PATH: 97,
  STORAGE_VOL_GET_INFO: 98,
  STORAGE_VOL_GET_XML_DESC: 99,
  STORAGE_VOL_GET_PATH: 100,
  STORAGE_POOL_IS_ACTIVE: 154,
  STORAGE_POOL_IS_PERSISTENT: 155,
  CONNECT_LIST_ALL_STORAGE_POOLS: 281,
} as const;

/** The one pool the volumes are in. */
const POOL_NAME = "vmanager-files";
/** Its UUID (fixed: the pool is the same in every daemon). */
const POOL_UUID = "5d2c1f0e-7b3a-4c69-8e4d-766d616e6167";

const VOL_FILE = 0; // virStorageVolType
const POOL_RUNNING = 2; // virStoragePoolState

/** A volume: an existing regular file. */
interface Volume {
  /** Its absolute path (key and target path). */
  path: string;
  /** Its size in bytes. */
  capacity: number;
  /** Bytes it takes on disk. */
  allocation: number;
}

/** A volume's format: `raw`, or `qcow2` for a file with QCOW's magic. */
type VolumeFormat = "raw" | "qcow2";

function noVolume(what: string): RpcError {
  return new RpcError(ErrorCode.NO_STORAGE_VOL, `Storage volume not found: ${what}`);
}

/** The volume of `path`, or NO_STORAGE_VOL when it is no existing regular file. */
async function volumeAt(path: string): Promise<Volume> {
  const missing = () => noVolume(`no storage vol with matching path '${path}'`);
  if (!path.startsWith("/") || path.includes("\0")) throw missing();
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw missing();
  }
  if (!info.isFile) throw missing();
  const blocks = info.blocks ?? null;
  return {
    path,
    capacity: info.size,
    allocation: blocks === null ? info.size : blocks * 512,
  };
}

/** The format of the file at `path`, from its first bytes (its XML tells it). */
async function formatOf(path: string): Promise<VolumeFormat> {
  try {
    using file = await Deno.open(path, { read: true });
    const magic = new Uint8Array(4);
    if ((await file.read(magic)) === 4 && magic.every((b, i) => b === QCOW_MAGIC[i])) {
      return "qcow2";
    }
  } catch {
    // unreadable: its format is what the define that names it will find out
  }
  return "raw";
}

const QCOW_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"

function writePool(w: XdrWriter): void {
  w.string(POOL_NAME).fixedOpaque(uuidBytes(POOL_UUID));
}

function writeVolume(w: XdrWriter, vol: Volume): void {
  w.string(POOL_NAME).string(vol.path.slice(vol.path.lastIndexOf("/") + 1)).string(vol.path);
}

/** Reads a `remote_nonnull_storage_pool`: vmanager's pool, else NO_STORAGE_POOL. */
function readPool(r: XdrReader): void {
  const name = r.string(MAX_STRING);
  const uuid = uuidString(r.fixedOpaque(16));
  if (name !== POOL_NAME || uuid !== POOL_UUID) {
    throw noPool(`no storage pool with matching name '${name}'`);
  }
}

function noPool(what: string): RpcError {
  return new RpcError(ErrorCode.NO_STORAGE_POOL, `Storage pool not found: ${what}`);
}

/** Reads a `remote_nonnull_storage_vol` and finds its file (by its key, the path). */
async function readVolume(r: XdrReader): Promise<Volume> {
  const pool = r.string(MAX_STRING);
  r.string(MAX_STRING); // name
  const key = r.string(MAX_STRING);
  if (pool !== POOL_NAME) throw noVolume(`no storage vol with matching key '${key}'`);
  return await volumeAt(key);
}

/** The pool's XML (libvirt's storage pool format). */
export function poolXml(): string {
  return `<pool type='dir'>
  <name>${POOL_NAME}</name>
  <uuid>${POOL_UUID}</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
  </source>
  <target>
    <path>/</path>
  </target>
</pool>
`;
}

/** A volume's XML (libvirt's storage volume format), its file being of `format`. */
function volumeXml(vol: Volume, format: VolumeFormat): string {
  const path = escape(vol.path);
  return `<volume type='file'>
  <name>${escape(vol.path.slice(vol.path.lastIndexOf("/") + 1))}</name>
  <key>${path}</key>
  <capacity unit='bytes'>${vol.capacity}</capacity>
  <allocation unit='bytes'>${vol.allocation}</allocation>
  <target>
    <path>${path}</path>
    <format type='${format}'/>
  </target>
</volume>
`;
}

/** A procedure refused on read-only connections (it tells which files exist). */
function guarded(name: string, run: Procedure["run"]): Procedure {
  return { name, mutates: true, run };
}

/** Defining or creating storage: refused, saying what to do instead. */
function noCreation(name: string, fn: string): Procedure {
  return {
    name,
    mutates: true,
    run: () => {
      throw new RpcError(
        ErrorCode.NO_SUPPORT,
        `this function is not supported by the connection driver: ${fn}: vmanager manages no ` +
          `storage and creates no disk images; give an existing raw image file ` +
          `(made with e.g. 'truncate -s 1G FILE')`,
      );
    },
  };
}

/** The storage procedures, to be added to the procedure table. */
export const STORAGE_PROCEDURES: ReadonlyArray<readonly [number, Procedure]> = [
  [
    StorageProc.STORAGE_POOL_DEFINE_XML,
    noCreation("STORAGE_POOL_DEFINE_XML", "virStoragePoolDefineXML"),
  ],
  [
    StorageProc.STORAGE_POOL_CREATE_XML,
    noCreation("STORAGE_POOL_CREATE_XML", "virStoragePoolCreateXML"),
  ],
  [
    StorageProc.STORAGE_VOL_CREATE_XML,
    noCreation("STORAGE_VOL_CREATE_XML", "virStorageVolCreateXML"),
  ],
  // { int need_results; unsigned flags } → { remote_nonnull_storage_pool pools<>; unsigned ret }
  [StorageProc.CONNECT_LIST_ALL_STORAGE_POOLS, {
    name: "CONNECT_LIST_ALL_STORAGE_POOLS",
    run: (_ctx, r, w) => {
      r.int(); // need_results
      r.uint(); // flags: filters of pools, and there are none
      w.uint(0).uint(0);
    },
  }],
  // { string path } → { vol }
  [
    StorageProc.STORAGE_VOL_LOOKUP_BY_PATH,
    guarded("STORAGE_VOL_LOOKUP_BY_PATH", async (_ctx, r, w) => {
      writeVolume(w, await volumeAt(r.string(MAX_STRING)));
    }),
  ],
  // { string key } → { vol }
  [
    StorageProc.STORAGE_VOL_LOOKUP_BY_KEY,
    guarded("STORAGE_VOL_LOOKUP_BY_KEY", async (_ctx, r, w) => {
      const key = r.string(MAX_STRING);
      try {
        writeVolume(w, await volumeAt(key));
      } catch {
        throw noVolume(`no storage vol with matching key ${key}`);
      }
    }),
  ],
  // { vol } → { char type; unsigned hyper capacity; unsigned hyper allocation }
  [
    StorageProc.STORAGE_VOL_GET_INFO,
    guarded("STORAGE_VOL_GET_INFO", async (_ctx, r, w) => {
      const vol = await readVolume(r);
      w.int(VOL_FILE).uhyper(vol.capacity).uhyper(vol.allocation);
    }),
  ],
  // { vol; unsigned flags } → { string xml }
  [
    StorageProc.STORAGE_VOL_GET_XML_DESC,
    guarded("STORAGE_VOL_GET_XML_DESC", async (_ctx, r, w) => {
      const vol = await readVolume(r);
      unsupportedFlags(r.uint(), 0, "virStorageVolGetXMLDesc");
      w.string(volumeXml(vol, await formatOf(vol.path)));
    }),
  ],
  // { vol } → { string name }
  [
    StorageProc.STORAGE_VOL_GET_PATH,
    guarded("STORAGE_VOL_GET_PATH", async (_ctx, r, w) => {
      w.string((await readVolume(r)).path);
    }),
  ],
  // { vol } → { pool }
  [
    StorageProc.STORAGE_POOL_LOOKUP_BY_VOLUME,
    guarded("STORAGE_POOL_LOOKUP_BY_VOLUME", async (_ctx, r, w) => {
      await readVolume(r);
      writePool(w);
    }),
  ],
  // { string name } → { pool }
  [StorageProc.STORAGE_POOL_LOOKUP_BY_NAME, {
    name: "STORAGE_POOL_LOOKUP_BY_NAME",
    run: (_ctx, r, w) => {
      const name = r.string(MAX_STRING);
      if (name !== POOL_NAME) throw noPool(`no storage pool with matching name '${name}'`);
      writePool(w);
    },
  }],
  // { uuid } → { pool }
  [StorageProc.STORAGE_POOL_LOOKUP_BY_UUID, {
    name: "STORAGE_POOL_LOOKUP_BY_UUID",
    run: (_ctx, r, w) => {
      const uuid = uuidString(r.fixedOpaque(16));
      if (uuid !== POOL_UUID) throw noPool(`no storage pool with matching uuid '${uuid}'`);
      writePool(w);
    },
  }],
  // { pool; unsigned flags } → { string xml }
  [StorageProc.STORAGE_POOL_GET_XML_DESC, {
    name: "STORAGE_POOL_GET_XML_DESC",
    run: (_ctx, r, w) => {
      readPool(r);
      unsupportedFlags(r.uint(), 1, "virStoragePoolGetXMLDesc"); // INACTIVE: the same
      w.string(poolXml());
    },
  }],
  // { pool } → { unsigned char state; unsigned hyper capacity, allocation, available }
  [StorageProc.STORAGE_POOL_GET_INFO, {
    name: "STORAGE_POOL_GET_INFO",
    run: (_ctx, r, w) => {
      readPool(r);
      w.uint(POOL_RUNNING).uhyper(0).uhyper(0).uhyper(0);
    },
  }],
  // { pool } → { int autostart }
  [StorageProc.STORAGE_POOL_GET_AUTOSTART, {
    name: "STORAGE_POOL_GET_AUTOSTART",
    run: (_ctx, r, w) => {
      readPool(r);
      w.int(1);
    },
  }],
  // { pool } → { int active }
  [StorageProc.STORAGE_POOL_IS_ACTIVE, {
    name: "STORAGE_POOL_IS_ACTIVE",
    run: (_ctx, r, w) => {
      readPool(r);
      w.int(1);
    },
  }],
  // { pool } → { int persistent }
  [StorageProc.STORAGE_POOL_IS_PERSISTENT, {
    name: "STORAGE_POOL_IS_PERSISTENT",
    run: (_ctx, r, w) => {
      readPool(r);
      w.int(1);
    },
  }],
];
