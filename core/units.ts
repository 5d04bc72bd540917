/**
 * Sizes and addresses as users write them: `512M`, `512MiB`, `1G`, `0x20000000`,
 * `268435456`. Binary units throughout (M = MiB), as `virsh` and `xl` read them.
 *
 * @example
 * ```ts
 * import { parseSize, formatSize } from "./units.ts";
 * parseSize("512M"); // 536870912
 * formatSize(536870912); // "512 MiB"
 * ```
 * @module
 */
import { InputError } from "./errors.ts";

/** 1 KiB. */
export const KiB = 1024;
/** 1 MiB. */
export const MiB = 1024 * KiB;
/** 1 GiB. */
export const GiB = 1024 * MiB;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: KiB,
  kib: KiB,
  kb: KiB,
  m: MiB,
  mib: MiB,
  mb: MiB,
  g: GiB,
  gib: GiB,
  gb: GiB,
  t: GiB * 1024,
  tib: GiB * 1024,
  tb: GiB * 1024,
};

/**
 * Parses a size: a decimal or hex number with an optional binary unit
 * (K, M, G, T, with or without `iB`/`B`). Throws {@linkcode InputError}
 * naming `where` when the text is not a size.
 */
export function parseSize(text: string | number, where = "size"): number {
  if (typeof text === "number") return checkInteger(text, text, where);
  const trimmed = text.trim();
  const hex = /^0x([0-9a-f]+)$/i.exec(trimmed);
  if (hex) return checkInteger(parseInt(hex[1], 16), text, where);
  const match = /^0x/i.test(trimmed) ? null : /^(\d+)\s*([a-z]*)$/i.exec(trimmed);
  if (!match) {
    throw new InputError(`'${text}' is not a size (use e.g. 512M, 1G, 0x20000000)`, where);
  }
  const unit = UNITS[match[2].toLowerCase()];
  if (unit === undefined) {
    throw new InputError(
      `size '${text}' has an unknown unit '${match[2]}' (use K, M, G or T)`,
      where,
    );
  }
  return checkInteger(Number(match[1]) * unit, text, where);
}

/** Parses an address: hex (`0x60000000`) or decimal. */
export function parseAddress(text: string | number, where = "address"): number {
  if (typeof text === "number") return checkInteger(text, text, where);
  const trimmed = text.trim();
  const hex = /^0x([0-9a-f]+)$/i.exec(trimmed);
  if (hex) return checkInteger(parseInt(hex[1], 16), text, where);
  if (/^\d+$/.test(trimmed)) return checkInteger(Number(trimmed), text, where);
  throw new InputError(`'${text}' is not an address (use e.g. 0x60000000)`, where);
}

function checkInteger(value: number, text: string | number, where: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InputError(`'${text}' is out of range (0 to 2^53-1)`, where);
  }
  return value;
}

/** Formats a byte count in the largest binary unit not above it, to 2 decimals: `512 MiB`, `1.5 GiB`. */
export function formatSize(bytes: number): string {
  for (
    const [unit, factor] of [["TiB", GiB * 1024], ["GiB", GiB], ["MiB", MiB], ["KiB", KiB]] as const
  ) {
    if (bytes >= factor) {
      const value = bytes / factor;
      return Number.isInteger(value) ? `${value} ${unit}` : `${+value.toFixed(2)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

/** Formats an address as `0x` and at least 8 hex digits. */
export function formatHex(value: number, digits = 8): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

/** True when `value` is a multiple of `alignment`. */
export function isAligned(value: number, alignment: number): boolean {
  return value % alignment === 0;
}

/** Rounds `value` up to a multiple of `alignment`. */
export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
