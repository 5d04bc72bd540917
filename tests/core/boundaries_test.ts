/**
 * The module boundaries (docs/architecture.md): `core/` imports nothing from
 * `plugins/` or `arch/` (only main.ts imports plugins), and the modules every
 * command loads do not load the libvirt server (it loads when `daemon` runs).
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** One import of a module. */
interface Import {
  /** The specifier as written. */
  specifier: string;
  /** `import(...)`: loaded when the code runs it. */
  dynamic: boolean;
  /** `import type` / `export type`: erased. */
  typeOnly: boolean;
}

/** The text without comments (JSDoc examples hold imports that are not imports). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** Every import and re-export of a module's text, static and dynamic. */
export function importsOf(text: string): Import[] {
  const source = code(text);
  const found: Import[] = [];
  const staticForm =
    /(?:^|[;}\n])\s*(import|export)(\s+type)?\s+(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g;
  for (const m of source.matchAll(staticForm)) {
    found.push({ specifier: m[3], dynamic: false, typeOnly: m[2] !== undefined });
  }
  for (const m of source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) {
    found.push({ specifier: m[1], dynamic: true, typeOnly: false });
  }
  return found;
}

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* tsFiles(path);
    else if (/\.(ts|js|mjs)$/.test(entry.name)) yield path;
  }
}

/** Where a relative specifier of `file` leads (undefined for bare or remote ones). */
function resolve(file: string, specifier: string): string | undefined {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return join(dirname(file), specifier);
  }
  if (specifier.startsWith("file://")) return new URL(specifier).pathname;
  return specifier.startsWith("/") ? specifier : undefined;
}

Deno.test("the import scanner sees static, re-exported, type-only and dynamic imports, not comments", () => {
  const found = importsOf(`/**
 * import { x } from "./example.ts";
 */
// import { y } from "./commented.ts";
import { a } from "./a.ts";
import type { B } from "./b.ts";
export { c } from "./c.ts";
export * from "./d.ts";
import "./e.ts";
import {
  f,
  g,
} from "./fg.ts";
const h = await import(
  "./h.ts"
);
`);
  assert.deepEqual(found.map((i) => [i.specifier, i.dynamic, i.typeOnly]), [
    ["./a.ts", false, false],
    ["./b.ts", false, true],
    ["./c.ts", false, false],
    ["./d.ts", false, false],
    ["./e.ts", false, false],
    ["./fg.ts", false, false],
    ["./h.ts", true, false],
  ]);
});

Deno.test("no module under core/ imports from plugins/ or arch/", async () => {
  const offenders: string[] = [];
  let files = 0;
  for await (const file of tsFiles(join(ROOT, "core"))) {
    files++;
    for (const { specifier } of importsOf(await Deno.readTextFile(file))) {
      const target = resolve(file, specifier);
      if (target === undefined) continue;
      const where = relative(ROOT, target);
      if (/^(plugins|arch)\//.test(where)) offenders.push(`${relative(ROOT, file)}: ${specifier}`);
    }
  }
  assert.ok(files > 50, `core/ has its modules (${files})`);
  assert.deepEqual(offenders, []);
});

/** The modules `entry` loads when it is imported: static, non-type imports, transitively. */
async function loadedBy(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const todo = [join(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const i of importsOf(await Deno.readTextFile(file))) {
      const target = i.dynamic || i.typeOnly ? undefined : resolve(file, i.specifier);
      if (target !== undefined) todo.push(target);
    }
  }
  return new Set([...seen].map((f) => relative(ROOT, f)));
}

Deno.test("the CLI and the libvirt plugin's registration do not load the libvirt server", async () => {
  for (const entry of ["core/cli/app.ts", "plugins/libvirt/plugin.ts"]) {
    const loaded = await loadedBy(entry);
    const libvirt = [...loaded].filter((f) => f.startsWith("plugins/libvirt/")).sort();
    assert.ok(
      libvirt.every((f) => ["plugins/libvirt/plugin.ts", "plugins/libvirt/command.ts"].includes(f)),
      `${entry} loads ${libvirt.join(", ")}`,
    );
  }
  assert.ok((await loadedBy("plugins/libvirt/mod.ts")).has("plugins/libvirt/server.ts"));
});
