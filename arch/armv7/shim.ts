/**
 * The 32-bit Arm zImage boot shim. PSCI CPU_ON starts a core with r0 =
 * context_id (the partition's DTB), but a zImage wants r0 = 0, r1 = ~0 ("machine
 * type: use the device tree") and r2 = DTB (Linux `Documentation/arch/arm/booting.rst`).
 * These four A32 instructions, placed in the partition's window and given to the
 * monitor as the entry, move the registers into place and branch (PC-relative) to
 * the zImage. {@linkcode armv7ShimListing} prints them as GNU objdump does.
 *
 * @module
 */

/** Size of the boot shim in bytes: four A32 instructions. */
export const SHIM_SIZE = 16;

/** Byte offset of the shim's branch instruction. */
const BRANCH_AT = 12;
/** Reach of A32 `b`: a signed 24-bit word offset from the branch's address + 8. */
const BRANCH_REACH = 32 * 1024 * 1024;

/** Throws unless a `b` at {@linkcode BRANCH_AT} can reach `zimageOffset`. */
function validate(zimageOffset: number): void {
  const what = `armv7 boot shim: zImage offset ${zimageOffset}`;
  if (!Number.isSafeInteger(zimageOffset)) throw new Error(`${what} is not an integer`);
  if (zimageOffset % 4 !== 0) {
    throw new Error(`${what} is not 4-byte aligned (A32 branch targets are)`);
  }
  if (zimageOffset >= 0 && zimageOffset < SHIM_SIZE) {
    throw new Error(`${what} points into the ${SHIM_SIZE}-byte shim itself`);
  }
  const delta = zimageOffset - (BRANCH_AT + 8);
  if (delta < -BRANCH_REACH || delta > BRANCH_REACH - 4) {
    throw new Error(
      `${what} is out of reach of an A32 branch (±32 MiB: ` +
        `${BRANCH_AT + 8 - BRANCH_REACH}..${BRANCH_AT + 8 + BRANCH_REACH - 4} from the shim)`,
    );
  }
}

/** The shim's four instructions: encoding and objdump text. */
function assemble(zimageOffset: number): { word: number; text: string }[] {
  validate(zimageOffset);
  const imm24 = ((zimageOffset - (BRANCH_AT + 8)) / 4) & 0xffffff;
  const target = `0x${(zimageOffset >>> 0).toString(16)}`;
  return [
    { word: 0xe1a02000, text: "mov r2, r0" }, //           r2 = DTB (PSCI context_id)
    { word: 0xe3a00000, text: "mov r0, #0" }, //           r0 = 0
    { word: 0xe3e01000, text: "mvn r1, #0" }, //           r1 = ~0: machine type "use the DT"
    { word: (0xea000000 | imm24) >>> 0, text: `b ${target}` }, // b zImage (PC-relative)
  ];
}

/**
 * The boot shim (little-endian, {@linkcode SHIM_SIZE} bytes): `mov r2, r0`,
 * `mov r0, #0`, `mvn r1, #0`, `b zImage`, where `zimageOffset` is the byte
 * distance from the shim's start to the zImage (the zImage may lie either side,
 * outside the shim). Throws an `Error` when the offset is not a multiple of 4,
 * points into the shim, or is beyond the branch's ±32 MiB reach.
 */
export function armv7BootShim(zimageOffset: number): Uint8Array {
  const bytes = new Uint8Array(SHIM_SIZE);
  const view = new DataView(bytes.buffer);
  assemble(zimageOffset).forEach((insn, i) => view.setUint32(i * 4, insn.word, true));
  return bytes;
}

/**
 * The shim's listing as `arm-linux-gnueabihf-objdump -D -b binary -m arm` prints it
 * (mnemonic, one space, operands; the branch target relative to the shim's start,
 * as a 32-bit address).
 */
export function armv7ShimListing(zimageOffset: number): string[] {
  return assemble(zimageOffset).map((insn) => insn.text);
}
