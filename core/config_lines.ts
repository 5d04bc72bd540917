/**
 * The configuration file in its simplest form — `key: value` lines of the scalar
 * fields, comments and blank lines — read without the YAML parser: the `yaml`
 * package runs on Deno's Node compatibility layer, tens of milliseconds that
 * every command would pay on a host with a configuration file. Conservative: it
 * reads only lines whose meaning in YAML is plain (a value that starts with a
 * letter or `/`, of letters, digits and `_./@+-`, not `true`, `false` or `null`)
 * and answers undefined for anything else, which the YAML parser then reads
 * (core/config.ts). tests/core/config_lines_test.ts holds it to the parser.
 *
 * @example
 * ```ts
 * import { readConfigLines } from "./config_lines.ts";
 * readConfigLines("board: qemu-virt-arm64\n# here\nstate-dir: /var/lib/vmanager\n");
 * // { board: "qemu-virt-arm64", stateDir: "/var/lib/vmanager" }
 * ```
 * @module
 */
import type { VmanConfig } from "./config.ts";

/** The scalar fields, by their name in the file. */
const FIELDS: Readonly<Record<string, "board" | "backend" | "stateDir">> = {
  board: "board",
  backend: "backend",
  "state-dir": "stateDir",
};

const LINE = /^([a-z-]+):[ ]+([A-Za-z/][A-Za-z0-9_./@+-]*)[ ]*(?:[ ]#.*)?$/;
const BLANK = /^[ ]*(?:#.*)?$/;

/** The configuration of `text`, or undefined when it is not of the simplest form. */
export function readConfigLines(text: string): VmanConfig | undefined {
  const config: VmanConfig = {};
  for (const line of text.split("\n")) {
    if (BLANK.test(line)) continue;
    const match = LINE.exec(line);
    if (!match) return undefined;
    const [, key, value] = match;
    const field = Object.hasOwn(FIELDS, key) ? FIELDS[key] : undefined;
    if (!field || config[field] !== undefined) return undefined;
    if (/^(?:true|false|null)$/i.test(value)) return undefined;
    config[field] = value;
  }
  return config;
}
