/**
 * core/config_lines.ts: the configuration read without the YAML parser gives what
 * the parser gives — on the usual files, and on thousands of files made of tricky
 * lines — or nothing (the parser then reads the file).
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { readConfigLines } from "../../core/config_lines.ts";
import { loadConfig } from "../../core/config.ts";
import { withTempDir } from "../cli/helpers.ts";
import { random } from "./random.ts";

const NAMES: Record<string, string> = {
  board: "board",
  backend: "backend",
  "state-dir": "stateDir",
  "plugin-dirs": "pluginDirs",
};

/** What the YAML parser makes of `text`, as configuration fields (the parser's view). */
function parsed(text: string): Record<string, unknown> | "error" {
  let value: unknown;
  try {
    value = parse(text, { uniqueKeys: true });
  } catch {
    return "error";
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) return "error";
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [NAMES[k] ?? `?${k}`, v]),
  );
}

Deno.test("the usual files are read as the YAML parser reads them", () => {
  const text = "# vmanager\nboard: qemu-virt-arm64\nbackend: qemu   # the real one\n\n" +
    "state-dir: /var/lib/vmanager\n";
  const config = readConfigLines(text);
  assert.deepEqual(config, {
    board: "qemu-virt-arm64",
    backend: "qemu",
    stateDir: "/var/lib/vmanager",
  });
  assert.deepEqual(config, parsed(text));
  assert.deepEqual(readConfigLines(""), {});
});

Deno.test("what is not of the simplest form is left to the YAML parser", async () => {
  for (
    const text of [
      "plugin-dirs: [/etc/vmanager/plugins]\n",
      "board: true\n",
      "backend: 'dry-run'\n",
      "board: a\nboard: b\n",
      "---\nboard: a\n",
      "board: a\r\n",
      "colour: blue\n",
    ]
  ) assert.equal(readConfigLines(text), undefined, text);
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/c.yaml`, "plugin-dirs: [/p]\nboard: 'b'\n");
    assert.deepEqual(await loadConfig(`${dir}/c.yaml`), { pluginDirs: ["/p"], board: "b" });
    await Deno.writeTextFile(`${dir}/c.yaml`, "board: b # x\nstate-dir: /s\n");
    assert.deepEqual(await loadConfig(`${dir}/c.yaml`), { board: "b", stateDir: "/s" });
  });
});

const KEYS = ["board", "backend", "state-dir", "plugin-dirs", "Board", "board ", "x", "'board'"];
const VALUES = [
  "a",
  "qemu-virt-arm64",
  "/var/lib/v",
  "dry-run",
  "true",
  "False",
  "NULL",
  "null",
  "~",
  "yes",
  "1",
  "0x10",
  "1e3",
  ".inf",
  "a b",
  "a #c",
  "a#c",
  "'q'",
  '"q"',
  "[x]",
  "{a: b}",
  "a: b",
  "-a",
  "@a",
  "&a",
  "*a",
  "!t a",
  "|",
  ">",
  "%a",
  "",
  "a\t",
  "a:b",
  "/a:b",
  "e5",
  "a+b@c",
];
const EXTRA = ["", "# note", "  # note", "---", "...", "- a", "  board: a", "\t", "%YAML 1.1"];

Deno.test("whatever it reads, it reads as the YAML parser does (made-up files)", () => {
  const next = random(0xc0f1);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)];
  let read = 0;
  for (let i = 0; i < 5000; i++) {
    const lines = Array.from(
      { length: 1 + Math.floor(next() * 4) },
      () => next() < 0.2 ? pick(EXTRA) : `${pick(KEYS)}:${next() < 0.9 ? " " : ""}${pick(VALUES)}`,
    );
    const text = lines.join("\n") + (next() < 0.5 ? "\n" : "");
    const config = readConfigLines(text);
    if (config === undefined) continue;
    read++;
    assert.deepEqual(config, parsed(text), JSON.stringify(text));
  }
  assert.ok(read > 100, `only ${read} files were read: the test tests little`);
});
