/**
 * The kernel command line a partition's device tree carries in `/chosen/bootargs`,
 * bounded by what Linux reads of it.
 *
 * @module
 */
import { InputError } from "../errors.ts";

/**
 * Linux's `COMMAND_LINE_SIZE` on arm64 (arch/arm64/include/uapi/asm/setup.h), the
 * largest of vmanager's architectures (32-bit Arm and RISC-V have 1024): the
 * command line with its terminating NUL. So a command line is at most
 * {@linkcode MAX_CMDLINE_BYTES} bytes.
 */
export const COMMAND_LINE_SIZE = 2048;
/** Longest kernel command line accepted, in bytes of UTF-8: 2047. */
export const MAX_CMDLINE_BYTES = COMMAND_LINE_SIZE - 1;

/**
 * Throws {@linkcode InputError} (at `where`) when `cmdline` is longer than
 * {@linkcode MAX_CMDLINE_BYTES} bytes (the length is checked before the text is
 * encoded) or holds a NUL, which would end the device tree string early.
 */
export function validateCmdline(cmdline: string, where = "--cmdline"): void {
  // UTF-8 has at least one byte per UTF-16 unit: a long string is refused unencoded.
  const size = cmdline.length > MAX_CMDLINE_BYTES
    ? `at least ${cmdline.length}`
    : new TextEncoder().encode(cmdline).length;
  if (typeof size === "string" || size > MAX_CMDLINE_BYTES) {
    throw new InputError(
      `the kernel command line is ${size} bytes, more than ${MAX_CMDLINE_BYTES} ` +
        `(Linux's COMMAND_LINE_SIZE, ${COMMAND_LINE_SIZE} with the final NUL)`,
      where,
    );
  }
  if (cmdline.includes("\0")) {
    throw new InputError("the kernel command line holds a NUL character", where);
  }
}
