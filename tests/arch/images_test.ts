/**
 * Kernel image readers on Debian's real kernels — the arm64 Image (and a gzip of
 * it), the armhf zImage, the riscv64 Image from `scripts/fetch-fixtures.sh` under
 * `<fixtures>/kernels/` (scripts/cache.ts) — and on ELF files
 * made with the cross binutils. Header fields are checked against the raw bytes
 * read here independently and against `file -b`. Tests whose inputs or tools are
 * missing are skipped, with the reason printed.
 */
import assert from "node:assert/strict";
import type { ArchName } from "../../core/model.ts";
import type { KernelImage } from "../../core/boot/types.ts";
import { KernelImageError } from "../../core/boot/types.ts";
import {
  checkKernelArch,
  KERNEL_HEAD_BYTES,
  type KernelReader,
  readKernelFile,
} from "../../core/boot/kernel.ts";
import { readArm64Image } from "../../arch/armv8/image.ts";
import { readZImage } from "../../arch/armv7/zimage.ts";
import { readRiscvImage } from "../../arch/riscv/image.ts";
import { elfKernel, EM_AARCH64, EM_ARM, EM_RISCV, readElf } from "../../arch/elf.ts";
import { fixturesDir } from "../../scripts/cache.ts";

const READERS: KernelReader[] = [
  { arch: "armv7", read: (b, f) => readZImage(b, f) ?? elfKernel(b, f, "armv7", EM_ARM) },
  { arch: "armv8", read: (b, f) => readArm64Image(b, f) ?? elfKernel(b, f, "armv8", EM_AARCH64) },
  { arch: "riscv", read: (b, f) => readRiscvImage(b, f) ?? elfKernel(b, f, "riscv", EM_RISCV) },
];
const ARCHES: ArchName[] = ["armv7", "armv8", "riscv"];

const FIXTURES = fixturesDir();
const KERNELS = `${FIXTURES}/kernels`;
const ARM64 = `${KERNELS}/arm64/Image`;
const ARM64_GZ = `${KERNELS}/arm64/Image.gz`;
const ZIMAGE = `${KERNELS}/armhf/zImage`;
const RISCV64 = `${KERNELS}/riscv64/Image`;

const FETCH = "run scripts/fetch-fixtures.sh";

/** True when `path` exists; otherwise prints why the tests needing it are skipped and the fix. */
function present(path: string, why: string, fix = FETCH): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    console.log(`skipping ${why}: ${path} is missing (${fix})`);
    return false;
  }
}

const HAVE_ARM64 = present(ARM64, "arm64 Image tests");
const HAVE_ARM64_GZ = present(ARM64_GZ, "arm64 Image.gz tests");
const HAVE_ZIMAGE = present(ZIMAGE, "zImage tests");
const HAVE_RISCV64 = present(RISCV64, "riscv64 Image tests");
const HAVE_ALL = HAVE_ARM64 && HAVE_ZIMAGE && HAVE_RISCV64;
const HAVE_FILE = present("/usr/bin/file", "comparisons with file(1)", "apt-get install -y file");

/** Little-endian u32 at `at`, read byte by byte. */
function le32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** Little-endian u64 at `at` (below 2^53), read byte by byte. */
function le64(b: Uint8Array, at: number): number {
  return le32(b, at) + le32(b, at + 4) * 2 ** 32;
}

/** `file -b` (or `file -bz`) of a file. */
async function fileOf(path: string, uncompress = false): Promise<string> {
  const out = await new Deno.Command("file", { args: [uncompress ? "-bz" : "-b", path] }).output();
  assert.ok(out.success, `file ${path} failed`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** Runs a command; throws with its stderr when it fails. */
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Runs `fn` with a temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vman-images-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Expects readKernelFile(path) to fail with a KernelImageError naming `path`. */
async function refused(path: string, message: RegExp | string, readers = READERS): Promise<void> {
  const error = await readKernelFile(path, readers).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof KernelImageError, `${path} was read: ${String(error)}`);
  assert.equal(error.where, path);
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
}

/** Writes `bytes` to `dir/name` and returns the path. */
async function put(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

/** True when both hold the same bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The checkKernelArch message for `image` in a partition `rt1` of `arch`, or undefined. */
function archMessage(image: KernelImage, arch: ArchName): string | undefined {
  try {
    checkKernelArch(image, arch, "rt1");
    return undefined;
  } catch (error) {
    assert.ok(error instanceof KernelImageError);
    assert.equal(error.where, image.file);
    assert.equal(error.line(), `${error.message} (${image.file})`);
    assert.ok(!error.line().includes("\n"));
    return error.message;
  }
}

Deno.test({
  name: "arm64 Image: header fields equal the raw bytes and file(1)",
  ignore: !HAVE_ARM64,
  fn: async () => {
    const raw = await Deno.readFile(ARM64);
    const image = await readKernelFile(ARM64, READERS);
    assert.equal(image.format, "arm64-image");
    assert.equal(image.label, "Image");
    assert.equal(image.archLabel, "arm64");
    assert.equal(image.arch, "armv8");
    assert.equal(image.compression, undefined);
    assert.equal(image.bytes.length, raw.length);
    assert.equal(le32(raw, 0x38), 0x644d5241);
    assert.equal(image.textOffset, le64(raw, 0x08));
    assert.equal(image.imageSize, le64(raw, 0x10));
    assert.equal(image.flags, le64(raw, 0x18));
    assert.ok(image.imageSize >= raw.length);
    assert.equal(image.entryOffset, 0);
    const flags = le64(raw, 0x18);
    assert.equal(image.details.endianness, flags & 1 ? "big" : "little");
    assert.equal(image.details.page_size, ["unspecified", "4K", "16K", "64K"][(flags >> 1) & 3]);
    assert.equal(image.details.image_size, `0x${le64(raw, 0x10).toString(16)}`);
    assert.match(
      String(image.details.physical_placement),
      flags & 8 ? /anywhere/ : /near the start/,
    );
    if (!HAVE_FILE) return;
    const file = await fileOf(ARM64);
    assert.match(file, /^Linux kernel ARM64 boot executable Image, (little|big)-endian/);
    assert.ok(file.includes(`${image.details.endianness}-endian`), file);
    const pages = /(\d+K) pages/.exec(file);
    assert.equal(pages?.[1] ?? "unspecified", image.details.page_size, file);
  },
});

Deno.test({
  name: "arm64 Image.gz: the same fields, compression gzip, the same bytes",
  ignore: !HAVE_ARM64 || !HAVE_ARM64_GZ,
  fn: async () => {
    const plain = await readKernelFile(ARM64, READERS);
    const gz = await readKernelFile(ARM64_GZ, READERS);
    assert.equal(gz.compression, "gzip");
    assert.equal(gz.file, ARM64_GZ);
    // The plain Image is read only as far as its headers (the monitor loads it from
    // the file); the gzip one is decompressed whole.
    assert.equal(plain.head, KERNEL_HEAD_BYTES);
    assert.equal(gz.head, undefined);
    const { bytes: a, file: _fa, compression: _ca, head: _ha, ...restPlain } = plain;
    const { bytes: b, file: _fb, compression: _cb, ...restGz } = gz;
    assert.deepEqual(restGz, restPlain);
    assert.equal(a.length, b.length);
    assert.ok(sameBytes(a.subarray(0, plain.head), b.subarray(0, plain.head)), "headers differ");
    assert.ok(sameBytes(await Deno.readFile(ARM64), b), "decompressed bytes differ from the Image");
    if (!HAVE_FILE) return;
    assert.match(await fileOf(ARM64_GZ), /^gzip compressed data/);
    assert.match(await fileOf(ARM64_GZ, true), /^Linux kernel ARM64 boot executable Image.*gzip/);
  },
});

Deno.test({
  name: "zImage: start, end and size equal the raw bytes and file(1)",
  ignore: !HAVE_ZIMAGE,
  fn: async () => {
    const raw = await Deno.readFile(ZIMAGE);
    const image = await readKernelFile(ZIMAGE, READERS);
    assert.equal(image.format, "arm-zimage");
    assert.equal(image.label, "zImage");
    assert.equal(image.archLabel, "arm (32-bit)");
    assert.equal(image.arch, "armv7");
    assert.equal(le32(raw, 0x24), 0x016f2818);
    const start = le32(raw, 0x28);
    const end = le32(raw, 0x2c);
    assert.equal(image.imageSize, end - start);
    assert.ok(image.imageSize <= raw.length);
    assert.equal(image.details.start, `0x${start.toString(16)}`);
    assert.equal(image.details.end, `0x${end.toString(16)}`);
    assert.equal(image.details.endianness, "little");
    assert.equal(image.entryOffset, 0);
    assert.equal(image.textOffset, undefined);
    if (!HAVE_FILE) return;
    const file = await fileOf(ZIMAGE);
    assert.match(file, /^Linux kernel ARM boot executable zImage/);
    assert.ok(file.includes(`(${image.details.endianness}-endian)`), file);
  },
});

Deno.test({
  name: "RISC-V Image: header fields equal the raw bytes and file(1)",
  ignore: !HAVE_RISCV64,
  fn: async () => {
    const raw = await Deno.readFile(RISCV64);
    const image = await readKernelFile(RISCV64, READERS);
    assert.equal(image.format, "riscv-image");
    assert.equal(image.label, "Image");
    assert.equal(image.archLabel, "riscv64");
    assert.equal(image.arch, "riscv");
    assert.equal(le32(raw, 0x38), 0x05435352);
    assert.equal(image.textOffset, le64(raw, 0x08));
    assert.equal(image.textOffset, 0x200000, "an rv64 kernel's text_offset");
    assert.equal(image.imageSize, le64(raw, 0x10));
    assert.ok(image.imageSize >= raw.length);
    assert.equal(image.flags, le64(raw, 0x18));
    const version = le32(raw, 0x20);
    assert.equal(image.details.version, `${version >>> 16}.${version & 0xffff}`);
    assert.equal(image.details.endianness, le64(raw, 0x18) & 1 ? "big" : "little");
    assert.equal(image.entryOffset, 0);
    if (!HAVE_FILE) return;
    const file = await fileOf(RISCV64);
    // file 5.44 names Debian's vmlinuz by its EFI stub (PE32+ … RISC-V 64-bit).
    assert.match(file, /RISC-V/);
    if (/^PE32\+/.test(file)) {
      assert.match(file, /RISC-V 64-bit/);
      assert.equal(image.details.endianness, "little");
    } else {
      assert.ok(file.includes(`${image.details.endianness}-endian`), file);
    }
  },
});

Deno.test({
  name: "checkKernelArch: every wrong-arch pairing of the real kernels, one exact line",
  ignore: !HAVE_ALL,
  fn: async () => {
    const expected: [string, string, Record<ArchName, string | undefined>][] = [
      [ARM64, "Image is arm64", { armv8: undefined, armv7: "", riscv: "" }],
      [ZIMAGE, "zImage is arm (32-bit)", { armv7: undefined, armv8: "", riscv: "" }],
      [RISCV64, "Image is riscv64", { riscv: undefined, armv7: "", armv8: "" }],
    ];
    for (const [path, what, pairs] of expected) {
      const image = await readKernelFile(path, READERS);
      for (const arch of ARCHES) {
        const want = pairs[arch] === undefined ? undefined : `${what} but partition rt1 is ${arch}`;
        assert.equal(archMessage(image, arch), want, `${path} in a ${arch} partition`);
      }
    }
  },
});

Deno.test({
  name: "truncated kernels and inconsistent headers: KernelImageError naming the file",
  ignore: !HAVE_ALL,
  fn: () =>
    withTempDir(async (dir) => {
      const arm64 = await Deno.readFile(ARM64);
      const zimage = await Deno.readFile(ZIMAGE);
      const riscv = await Deno.readFile(RISCV64);
      const short = /^not a kernel image vmanager can read \(.*\): only 20 bytes$/;
      for (const [name, bytes] of [["Image", arm64], ["zImage", zimage], ["rv", riscv]] as const) {
        await refused(await put(dir, `${name}.20`, bytes.slice(0, 20)), short);
      }
      await refused(
        await put(dir, "Image.63", arm64.slice(0, 63)),
        "truncated arm64 Image: 63 bytes, the header alone is 64",
      );
      await refused(
        await put(dir, "rv.63", riscv.slice(0, 63)),
        "truncated RISC-V Image: 63 bytes, the header alone is 64",
      );
      const size = le32(zimage, 0x2c) - le32(zimage, 0x28);
      await refused(
        await put(dir, "zImage.63", zimage.slice(0, 63)),
        `truncated zImage: the header says ${size} bytes (end - start) but the file has 63`,
      );
      const cut = zimage.slice(0, zimage.length - 4096);
      await refused(
        await put(dir, "zImage.cut", cut),
        /^truncated zImage: .* but the file has \d+$/,
      );
      const beyond = zimage.slice(0, 4096);
      new DataView(beyond.buffer).setUint32(0x2c, 0x10000000, true);
      await refused(
        await put(dir, "zImage.end", beyond),
        /^truncated zImage: the header says 268435456/,
      );
      const backwards = zimage.slice(0, 4096);
      new DataView(backwards.buffer).setUint32(0x28, 0x20000000, true);
      await refused(await put(dir, "zImage.back", backwards), /end 0x[0-9a-f]+ is not above start/);
      const be = zimage.slice(0, 4096);
      new DataView(be.buffer).setUint32(0x24, 0x016f2818, false);
      await refused(await put(dir, "zImage.be", be), /^big-endian zImage/);
      const small = arm64.slice();
      new DataView(small.buffer).setBigUint64(0x10, 0x1000n, true);
      await refused(
        await put(dir, "Image.small", small),
        /image_size 0x1000 .* smaller than the file/,
      );
      await refused(
        await put(dir, "Image.cut", arm64.slice(0, 100)),
        "truncated arm64 Image: 100 bytes, its PE/COFF headers are cut off",
      );
      await refused(
        await put(dir, "rv.cut", riscv.slice(0, riscv.length - 4096)),
        /^truncated RISC-V Image: \d+ bytes, its PE\/COFF sections end at \d+ bytes$/,
      );
      const rvZero = riscv.slice(0, 4096);
      new DataView(rvZero.buffer).setBigUint64(0x10, 0n, true);
      await refused(
        await put(dir, "rv.zero", rvZero),
        /image_size 0; the boot protocol makes it mandatory/,
      );
    }),
});

Deno.test({
  name: "arm64 Image with image_size 0 (before 3.17): text_offset 0x80000, size rounded to 2 MiB",
  ignore: !HAVE_ARM64,
  fn: async () => {
    const old = (await Deno.readFile(ARM64)).slice(0, 3 * 1024 * 1024 + 5);
    const view = new DataView(old.buffer);
    view.setBigUint64(0x08, 0x12345n, true);
    view.setBigUint64(0x10, 0n, true);
    old[0] = 0; // no EFI stub (whose PE/COFF sections would show the cut)
    const image = readArm64Image(old, "old-Image");
    assert.equal(image?.textOffset, 0x80000);
    assert.equal(image?.imageSize, 4 * 1024 * 1024);
    assert.equal(image?.flags, 0);
    assert.equal(image?.details.page_size, "unspecified");
  },
});

Deno.test({
  name: "gzip: corrupt, truncated and oversized data are refused naming the file",
  ignore: !HAVE_ARM64_GZ,
  fn: () =>
    withTempDir(async (dir) => {
      const gz = await Deno.readFile(ARM64_GZ);
      await refused(await put(dir, "cut.gz", gz.slice(0, 1 << 20)), /^corrupt gzip data: /);
      const flipped = gz.slice(0, 1 << 20);
      for (let i = 4096; i < 8192; i++) flipped[i] ^= 0x5a;
      await refused(await put(dir, "flipped.gz", flipped), /^corrupt gzip data: /);
      await refused(await put(dir, "header.gz", gz.slice(0, 2)), /^corrupt gzip data: /);
      const error = await readKernelFile(ARM64_GZ, READERS, 16 << 20).catch((e: unknown) => e);
      assert.ok(error instanceof KernelImageError);
      assert.equal(error.where, ARM64_GZ);
      assert.match(error.message, /decompresses to more than 16 MiB/);
    }),
});

Deno.test("random bytes, a missing file and a directory are refused naming the file", () =>
  withTempDir(async (dir) => {
    const noise = crypto.getRandomValues(new Uint8Array(4096));
    noise[0] = 0; // neither gzip nor ELF
    await refused(
      await put(dir, "noise", noise),
      "not a kernel image vmanager can read (no arch plugin here takes it: armv7, armv8, riscv)",
    );
    await refused(`${dir}/absent`, "cannot read the kernel: no such file or directory");
    await refused(dir, "cannot read the kernel: not a regular file but a directory");
    await refused(
      await put(dir, "empty", new Uint8Array()),
      /^not a kernel image .*: only 0 bytes$/,
    );
  }));

/** One cross toolchain and what its ELF must read as. */
interface Toolchain {
  prefix: string;
  arch: ArchName;
  machine: number;
  elfClass: 32 | 64;
  branch: string;
  name: string;
}

const TOOLCHAINS: Toolchain[] = [
  {
    prefix: "aarch64-linux-gnu",
    arch: "armv8",
    machine: 183,
    elfClass: 64,
    branch: "b",
    name: "aarch64",
  },
  {
    prefix: "arm-linux-gnueabihf",
    arch: "armv7",
    machine: 40,
    elfClass: 32,
    branch: "b",
    name: "arm (32-bit)",
  },
  {
    prefix: "riscv64-linux-gnu",
    arch: "riscv",
    machine: 243,
    elfClass: 64,
    branch: "j",
    name: "riscv64",
  },
];

/** Assembles and links a tiny program (code, data, bss) at 0x60000000; returns the ELF and object. */
async function buildElf(t: Toolchain, dir: string): Promise<{ elf: string; object: string }> {
  const source = `${dir}/${t.prefix}.s`;
  await Deno.writeTextFile(
    source,
    `.global _start\n.text\n_start: ${t.branch} _start\n.data\nv: .word 1\n.bss\nbuf: .space 4096\n`,
  );
  const object = `${dir}/${t.prefix}.o`;
  const elf = `${dir}/${t.prefix}.elf`;
  await run(`/usr/bin/${t.prefix}-as`, ["-o", object, source]);
  await run(`/usr/bin/${t.prefix}-ld`, ["-Ttext=0x60000000", "-o", elf, object]);
  return { elf, object };
}

/** The LOAD program headers as readelf prints them. */
async function readelfLoads(t: Toolchain, elf: string) {
  const text = await run(`/usr/bin/${t.prefix}-readelf`, ["-lW", elf]);
  return text.split("\n").filter((l) => /^\s+LOAD\s/.test(l)).map((l) => {
    const [, offset, _vaddr, paddr, fileSize, memSize] = l.trim().split(/\s+/).map((v) =>
      Number(v)
    );
    return { offset, fileSize, memSize, paddr };
  });
}

for (const t of TOOLCHAINS) {
  const binutils = `apt-get install -y binutils-${t.prefix}`;
  const have = present(`/usr/bin/${t.prefix}-ld`, `${t.name} ELF tests`, binutils) &&
    present(`/usr/bin/${t.prefix}-as`, `${t.name} ELF tests`, binutils);
  Deno.test({
    name: `ELF from ${t.prefix}-ld: machine, entry, segments as readelf sees them; wrong arches`,
    ignore: !have,
    fn: () =>
      withTempDir(async (dir) => {
        const { elf } = await buildElf(t, dir);
        const bytes = await Deno.readFile(elf);
        const parsed = readElf(bytes, elf);
        assert.equal(parsed?.machine, t.machine);
        assert.equal(parsed?.class, t.elfClass);
        assert.equal(parsed?.entry, 0x60000000);
        const image = await readKernelFile(elf, READERS);
        assert.equal(image.format, "elf");
        assert.equal(image.label, "ELF");
        assert.equal(image.archLabel, t.name);
        assert.equal(image.arch, t.arch);
        assert.equal(image.entry, 0x60000000);
        assert.equal(image.details.machine, t.name);
        const loads = await readelfLoads(t, elf);
        assert.ok(loads.length >= 2, "code and data segments");
        assert.deepEqual(image.segments, loads);
        const low = Math.min(...loads.map((s) => s.paddr));
        const high = Math.max(...loads.map((s) => s.paddr + s.memSize));
        assert.equal(image.imageSize, high - low);
        assert.equal(image.entryOffset, 0x60000000 - low);
        const header = await run(`/usr/bin/${t.prefix}-readelf`, ["-hW", elf]);
        assert.match(header, /Entry point address:\s+0x60000000/);
        if (HAVE_FILE) {
          assert.match(await fileOf(elf), new RegExp(`^ELF ${t.elfClass}-bit LSB executable`));
        }
        for (const arch of ARCHES) {
          const want = arch === t.arch
            ? undefined
            : `ELF is ${t.name} but partition rt1 is ${arch}`;
          assert.equal(archMessage(image, arch), want);
        }
        const others = READERS.filter((r) => r.arch !== t.arch);
        await refused(
          elf,
          new RegExp(`an ELF file for e_machine ${t.machine}, which no arch plugin`),
          others,
        );
      }),
  });

  Deno.test({
    name: `ELF from ${t.prefix}-ld: broken copies are refused naming the file`,
    ignore: !have,
    fn: () =>
      withTempDir(async (dir) => {
        const { elf, object } = await buildElf(t, dir);
        const good = await Deno.readFile(elf);
        const is64 = t.elfClass === 64;
        const view = (b: Uint8Array) => new DataView(b.buffer);
        const phoff = is64
          ? Number(view(good).getBigUint64(32, true))
          : view(good).getUint32(28, true);
        const phentsize = view(good).getUint16(is64 ? 54 : 42, true);
        const phnum = view(good).getUint16(is64 ? 56 : 44, true);
        const setAddr = (b: Uint8Array, at: number, v: number) =>
          is64 ? view(b).setBigUint64(at, BigInt(v), true) : view(b).setUint32(at, v, true);
        await refused(await put(dir, "head", good.slice(0, 40)), /^truncated ELF header: 40 bytes/);
        const farPh = good.slice();
        setAddr(farPh, is64 ? 32 : 28, good.length);
        await refused(await put(dir, "farph", farPh), /program headers .* are out of bounds/);
        const farData = good.slice();
        const firstLoad = [...Array(phnum).keys()].map((i) => phoff + i * phentsize)
          .find((ph) => view(good).getUint32(ph, true) === 1)!;
        setAddr(farData, firstLoad + (is64 ? 8 : 4), good.length);
        await refused(
          await put(dir, "fardata", farData),
          /segment \d+ \(PT_LOAD\) file data is out of bounds/,
        );
        const be = good.slice();
        be[5] = 2;
        await refused(await put(dir, "be", be), /^big-endian ELF/);
        const noLoad = good.slice();
        for (let i = 0; i < phnum; i++) {
          const ph = phoff + i * phentsize;
          if (view(noLoad).getUint32(ph, true) === 1) view(noLoad).setUint32(ph, 0, true);
        }
        await refused(await put(dir, "noload", noLoad), "ELF file has no PT_LOAD segment");
        await refused(object, "ELF file of type ET_REL, not an executable");
      }),
  });
}
