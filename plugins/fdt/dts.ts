/**
 * DTS text from a tree, in the layout `dtc -I dtb -O dts` prints, so that our output
 * and dtc's diff cleanly and `dtc -I dts -O dtb` compiles it back to the same tree.
 * The one deliberate difference: string lists print as `"a", "b"` where dtc 1.6
 * prints `"a\0b"`.
 *
 * @example
 * ```ts
 * import { printDts } from "./dts.ts";
 * import { node } from "../../core/devicetree/tree.ts";
 * import { str } from "../../core/devicetree/values.ts";
 * printDts({ root: node("", [{ name: "model", value: str("x") }]), reservations: [], bootCpuidPhys: 0 });
 * // "/dts-v1/;\n\n/ {\n\tmodel = \"x\";\n};\n"
 * ```
 * @module
 */
import type { FdtNode, FdtTree } from "../../core/devicetree/tree.ts";

const ESCAPES: Record<number, string> = {
  0x07: "\\a",
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0b: "\\v",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\",
};

/** dtc's `isstring`: printable ASCII, NUL, or one of \a \b \t \n \v \f \r. */
function isStringByte(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || c === 0 || (c >= 0x07 && c <= 0x0d);
}

/**
 * dtc's guess for a value read from a blob: a string list when it ends in NUL, every
 * byte is string-like and NULs are no more than half of it; cells when its length
 * is a multiple of 4; bytes otherwise.
 */
function valueKind(value: Uint8Array): "strings" | "cells" | "bytes" {
  let nuls = 0;
  let stringLike = value[value.length - 1] === 0;
  for (let i = 0; stringLike && i < value.length; i++) {
    const c = value[i];
    if (!isStringByte(c)) stringLike = false;
    if (c === 0) nuls++;
  }
  // An empty string inside a list (two NULs in a row, or a leading NUL) is not
  // text: `<0x384000>` is a clock frequency, not "", "8@".
  const emptyString = value[0] === 0 || value.some((c, i) => c === 0 && value[i + 1] === 0);
  if (stringLike && !emptyString && nuls <= value.length - nuls) return "strings";
  return value.length % 4 === 0 ? "cells" : "bytes";
}

function formatStrings(value: Uint8Array): string {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === 0) {
      parts.push(`"${current}"`);
      current = "";
    } else {
      current += ESCAPES[c] ?? (c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : hexEscape(c));
    }
  }
  return parts.join(", ");
}

function hexEscape(c: number): string {
  return `\\x${c.toString(16).padStart(2, "0")}`;
}

function formatCells(value: Uint8Array): string {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: string[] = [];
  for (let pos = 0; pos < value.length; pos += 4) {
    out.push(`0x${view.getUint32(pos).toString(16).padStart(2, "0")}`);
  }
  return `<${out.join(" ")}>`;
}

function formatBytes(value: Uint8Array): string {
  return `[${Array.from(value, (b) => b.toString(16).padStart(2, "0")).join(" ")}]`;
}

/** One property as a DTS statement without indentation: `name;` or `name = value;`. */
export function formatProperty(name: string, value: Uint8Array): string {
  if (value.length === 0) return `${name};`;
  const kind = valueKind(value);
  const text = kind === "strings"
    ? formatStrings(value)
    : kind === "cells"
    ? formatCells(value)
    : formatBytes(value);
  return `${name} = ${text};`;
}

function printNode(current: FdtNode, depth: number, lines: string[]): void {
  const indent = "\t".repeat(depth);
  lines.push(`${indent}${depth === 0 ? "/" : current.name} {`);
  for (const prop of current.props) {
    lines.push(`${indent}\t${formatProperty(prop.name, prop.value)}`);
  }
  for (const child of current.children) {
    lines.push("");
    printNode(child, depth + 1, lines);
  }
  lines.push(`${indent}};`);
}

/**
 * The tree as DTS source in dtc's layout: `/dts-v1/;`, a blank line, one
 * `/memreserve/\t0x%016x 0x%016x;` line per reservation, then the nodes indented
 * with tabs, properties before children, a blank line before each child. Values
 * print as dtc guesses them: `name;` when empty, `"a", "b"` for printable
 * NUL-terminated string lists (escaping `"`, `\` and control characters), `<0x00 0x40000000>`
 * cells when the length is a multiple of 4, `[01 02]` bytes otherwise.
 * boot_cpuid_phys is not part of DTS (dtc takes it from `-b`).
 */
export function printDts(tree: FdtTree): string {
  const lines = ["/dts-v1/;", ""];
  for (const { address, size } of tree.reservations) {
    lines.push(`/memreserve/\t0x${hex64(address)} 0x${hex64(size)};`);
  }
  printNode(tree.root, 0, lines);
  return lines.join("\n") + "\n";
}

function hex64(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}
