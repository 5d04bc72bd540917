/**
 * dtc reading a DTB back, for the checks that compare vmanctl's device trees with
 * dtc's verdict (the import survey, the benchmarks, the tests).
 *
 * @example
 * ```ts
 * import { dtcWarnings } from "./dtc.ts";
 * const { code, lines } = await dtcWarnings("p.dtb"); // lines: "Warning (…): /node: …"
 * ```
 * @module
 */

/** What dtc said about a DTB: its exit code and its message lines. */
export interface DtcVerdict {
  /** dtc's exit code (0: it read the blob). */
  code: number;
  /** Its non-empty stderr lines, each without the leading `/dev/null: ` (dtc names its output). */
  lines: string[];
}

/** The output dtc writes to, and names at the start of each message. */
const OUTPUT = "/dev/null";

/**
 * Runs `dtc -I dtb -O dts -o /dev/null` on a DTB: the file at `source`, or the
 * blob `source` given on stdin. Throws when dtc is not installed.
 */
export async function dtcWarnings(source: string | Uint8Array): Promise<DtcVerdict> {
  const blob = typeof source === "string" ? undefined : source;
  const child = new Deno.Command("dtc", {
    args: ["-I", "dtb", "-O", "dts", "-o", OUTPUT, blob ? "-" : source as string],
    stdin: blob ? "piped" : "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (blob) {
    const writer = child.stdin.getWriter();
    await writer.write(blob);
    await writer.close();
  }
  const r = await child.output();
  const lines = new TextDecoder().decode(r.stderr).split("\n").filter((l) => l.trim() !== "")
    .map((l) => l.startsWith(`${OUTPUT}: `) ? l.slice(OUTPUT.length + 2) : l);
  return { code: r.code, lines };
}
