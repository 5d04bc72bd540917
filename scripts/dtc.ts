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

/** What dtc said about a DTB: its exit code and its message lines without the file name. */
export interface DtcVerdict {
  /** dtc's exit code (0: it read the blob). */
  code: number;
  /** Its non-empty stderr lines, each without the leading `FILE: `. */
  lines: string[];
}

/** Runs `dtc -I dtb -O dts -o /dev/null FILE`; throws when dtc is not installed. */
export async function dtcWarnings(file: string): Promise<DtcVerdict> {
  const r = await new Deno.Command("dtc", {
    args: ["-I", "dtb", "-O", "dts", "-o", "/dev/null", file],
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(r.stderr).split("\n").filter((l) => l.trim() !== "")
    .map((l) => l.startsWith(`${file}: `) ? l.slice(file.length + 2) : l);
  return { code: r.code, lines };
}
