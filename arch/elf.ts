/**
 * A small ELF reader for kernels and bare-metal payloads: the file header and
 * the loadable (PT_LOAD) program headers of a little-endian ELF32 or ELF64 file.
 * Each arch plugin reads its own machine's ELF files through
 * {@linkcode elfKernel}.
 *
 * @example
 * ```ts
 * import { EM_AARCH64, elfKernel } from "../elf.ts";
 * const kernel = elfKernel(await Deno.readFile("payload.elf"), "payload.elf", "armv8", EM_AARCH64);
 * console.log(kernel?.entry, kernel?.segments);
 * ```
 * @module
 */
import type { ArchName } from "../core/model.ts";
import type { ElfSegment, KernelImage } from "../core/boot/types.ts";
import { KernelImageError } from "../core/boot/types.ts";
import { formatHex } from "../core/units.ts";

/** e_machine of AArch64. */
export const EM_AARCH64 = 183;
/** e_machine of 32-bit Arm. */
export const EM_ARM = 40;
/** e_machine of RISC-V (rv32 and rv64). */
export const EM_RISCV = 243;

const PT_LOAD = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const ELF_TYPES: Record<number, string> = { 0: "ET_NONE", 1: "ET_REL", 4: "ET_CORE" };

/** What {@linkcode readElf} reads from an ELF file. */
export interface ElfFile {
  /** e_machine. */
  machine: number;
  /** ELFCLASS32 or ELFCLASS64. */
  class: 32 | 64;
  /** e_entry (a virtual address). */
  entry: number;
  /** The PT_LOAD segments with bytes in memory, in file order. */
  segments: ElfSegment[];
  /** Each segment's virtual address (p_vaddr), in the order of `segments`. */
  vaddrs: number[];
}

/** Reads ELF header fields of one class at fixed offsets, little-endian. */
class Fields {
  constructor(
    private readonly view: DataView,
    private readonly is64: boolean,
    private readonly file: string,
  ) {}

  /** A u16. */
  half(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  /** A u32. */
  word(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** An address or offset: u32 (ELF32) or u64 (ELF64); refuses values beyond 2^53. */
  addr(offset: number, field: string): number {
    if (!this.is64) return this.word(offset);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new KernelImageError(`ELF ${field} 0x${value.toString(16)} is out of range`, this.file);
    }
    return Number(value);
  }
}

/** The ELF magic: 0x7f 'E' 'L' 'F'. */
function hasElfMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46;
}

/**
 * Reads an ELF file's header and loadable segments.
 *
 * Returns undefined without the ELF magic. Throws {@linkcode KernelImageError}
 * (`where` = `file`) for a truncated header, an unknown class, a big-endian file
 * (only little-endian ELF is read), a relocatable object or core dump, program
 * headers beyond the end of the file, a segment whose file bytes are beyond the
 * end of the file or larger than its memory size, overlapping segments, or no
 * PT_LOAD segment. PT_LOAD segments with no bytes in memory are skipped.
 *
 * @param bytes The (decompressed) file.
 * @param file The file's name, for messages.
 */
export function readElf(bytes: Uint8Array, file: string): ElfFile | undefined {
  if (!hasElfMagic(bytes)) return undefined;
  const fail = (message: string) => new KernelImageError(message, file);
  if (bytes.length < 16) throw fail(`truncated ELF header: ${bytes.length} bytes`);
  const elfClass = bytes[4] === 1 ? 32 : bytes[4] === 2 ? 64 : undefined;
  if (elfClass === undefined) throw fail(`unknown ELF class ${bytes[4]} (EI_CLASS)`);
  if (bytes[5] === 2) {
    throw fail("big-endian ELF (EI_DATA 2): vmanager reads little-endian ELF files only");
  }
  if (bytes[5] !== 1) throw fail(`unknown ELF data encoding ${bytes[5]} (EI_DATA)`);
  const is64 = elfClass === 64;
  const headerSize = is64 ? 64 : 52;
  if (bytes.length < headerSize) {
    throw fail(
      `truncated ELF header: ${bytes.length} bytes, an ELF${elfClass} header is ${headerSize}`,
    );
  }
  const f = new Fields(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), is64, file);
  const type = f.half(16);
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw fail(`ELF file of type ${ELF_TYPES[type] ?? type}, not an executable`);
  }
  const machine = f.half(18);
  const entry = f.addr(24, "e_entry");
  const phoff = f.addr(is64 ? 32 : 28, "e_phoff");
  const phentsize = f.half(is64 ? 54 : 42);
  const phnum = f.half(is64 ? 56 : 44);
  const minEntry = is64 ? 56 : 32;
  if (phnum === 0) throw fail("ELF file has no program headers (no PT_LOAD segment)");
  if (phentsize < minEntry) {
    throw fail(`ELF e_phentsize ${phentsize} is smaller than a program header (${minEntry})`);
  }
  if (phoff + phnum * phentsize > bytes.length) {
    throw fail(
      `ELF program headers (${phnum} × ${phentsize} bytes at offset ${phoff}) ` +
        `are out of bounds: the file has ${bytes.length} bytes`,
    );
  }
  const segments: ElfSegment[] = [];
  const vaddrs: number[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (f.word(ph) !== PT_LOAD) continue;
    const offset = f.addr(ph + (is64 ? 8 : 4), "p_offset");
    const vaddr = f.addr(ph + (is64 ? 16 : 8), "p_vaddr");
    const paddr = f.addr(ph + (is64 ? 24 : 12), "p_paddr");
    const fileSize = f.addr(ph + (is64 ? 32 : 16), "p_filesz");
    const memSize = f.addr(ph + (is64 ? 40 : 20), "p_memsz");
    if (offset + fileSize > bytes.length) {
      throw fail(
        `ELF segment ${i} (PT_LOAD) file data is out of bounds: ${fileSize} bytes at offset ` +
          `${offset}, the file has ${bytes.length}`,
      );
    }
    if (fileSize > memSize) {
      throw fail(
        `ELF segment ${i} has more bytes in the file (${fileSize}) than in memory (${memSize})`,
      );
    }
    if (memSize === 0) continue;
    segments.push({ offset, fileSize, memSize, paddr });
    vaddrs.push(vaddr);
  }
  if (segments.length === 0) throw fail("ELF file has no PT_LOAD segment");
  const sorted = [...segments].sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.paddr + prev.memSize > sorted[i].paddr) {
      throw fail(
        `ELF segments overlap: ${formatHex(prev.paddr, 1)}+${formatHex(prev.memSize, 1)} ` +
          `and ${formatHex(sorted[i].paddr, 1)}`,
      );
    }
  }
  return { machine, class: elfClass, entry, segments, vaddrs };
}

/** The name people know a machine by, as `checkKernelArch` messages print it. */
export function elfMachineName(machine: number, elfClass: 32 | 64): string {
  switch (machine) {
    case EM_AARCH64:
      return "aarch64";
    case EM_ARM:
      return "arm (32-bit)";
    case EM_RISCV:
      return elfClass === 64 ? "riscv64" : "riscv32";
    default:
      return `ELF machine ${machine}`;
  }
}

/**
 * Reads an ELF kernel for one architecture.
 *
 * Returns undefined when the bytes are not ELF or are ELF for another machine (so
 * that another arch plugin's reader may take it). Throws what {@linkcode readElf}
 * throws, and when the entry point is in no loadable segment.
 *
 * The result: format "elf" (label "ELF", `archLabel` the machine's name),
 * `segments` = the PT_LOAD segments (at their p_paddr), `imageSize` = the span
 * from the lowest p_paddr to the highest p_paddr + p_memsz,
 * `entry` = the physical entry address — e_entry itself when the segment holding
 * it has p_vaddr = p_paddr (as a bare-metal link gives), otherwise e_entry moved
 * by that segment's p_paddr - p_vaddr — and `entryOffset` = `entry` - the lowest
 * p_paddr. `details.e_entry` keeps e_entry as written.
 *
 * @param bytes The (decompressed) file.
 * @param file The file's name, for messages.
 * @param arch The architecture of the reading plugin.
 * @param machine The e_machine it reads (EM_AARCH64, EM_ARM, EM_RISCV).
 */
export function elfKernel(
  bytes: Uint8Array,
  file: string,
  arch: ArchName,
  machine: number,
): KernelImage | undefined {
  const elf = readElf(bytes, file);
  if (!elf || elf.machine !== machine) return undefined;
  const { segments, vaddrs } = elf;
  const low = Math.min(...segments.map((s) => s.paddr));
  const high = Math.max(...segments.map((s) => s.paddr + s.memSize));
  const holder = segments.findIndex((s, i) =>
    elf.entry >= vaddrs[i] && elf.entry < vaddrs[i] + s.memSize
  );
  if (holder < 0) {
    throw new KernelImageError(
      `ELF entry point ${formatHex(elf.entry, 1)} is in no loadable segment`,
      file,
    );
  }
  const entry = elf.entry - vaddrs[holder] + segments[holder].paddr;
  const machineName = elfMachineName(elf.machine, elf.class);
  return {
    file,
    format: "elf",
    label: "ELF",
    arch,
    archLabel: machineName,
    bytes,
    imageSize: high - low,
    entryOffset: entry - low,
    entry,
    segments,
    details: {
      machine: machineName,
      e_machine: elf.machine,
      class: `ELF${elf.class}`,
      e_entry: formatHex(elf.entry, 1),
      entry: formatHex(entry, 1),
      segments: segments.length,
      span: `${formatHex(low, 1)}-${formatHex(high, 1)}`,
    },
  };
}
