/**
 * Every board DTB of Debian's arm64 and armhf kernel packages (fetched by
 * scripts/fetch-fixtures.sh into a cache outside the repository): the codec
 * round-trips it, dtc reads our rewrite as the same tree with no new warnings,
 * and `board import` makes a valid board of it or names what it cannot handle.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { readFdt, writeFdt } from "../../plugins/fdt/mod.ts";
import { BoardImportError, importBoard } from "../../core/board/import.ts";
import { boardProblems } from "../../core/board/rules.ts";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import type { ArchPlugin } from "../../core/registry/plugin.ts";
import { hasTool } from "../cli/helpers.ts";
import { fixturesDir } from "../../scripts/cache.ts";

const CACHE = fixturesDir();

async function findDtbs(dir: string, out: string[] = []): Promise<string[]> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await findDtbs(path, out);
      else if (entry.name.endsWith(".dtb")) out.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

const DTBS = (await findDtbs(`${CACHE}/pkgs`)).sort();
const HAS_DTC = hasTool("dtc");
if (DTBS.length === 0) {
  console.log(`skipping Debian DTB tests: no DTBs in ${CACHE} (run scripts/fetch-fixtures.sh)`);
}
if (!HAS_DTC) console.log("skipping the dtc comparison: install device-tree-compiler");

Deno.test({
  name: "Debian's board DTBs: read(write(read(blob))) equals read(blob)",
  ignore: DTBS.length === 0,
  fn: async () => {
    const failures: string[] = [];
    for (const file of DTBS) {
      const tree = readFdt(await Deno.readFile(file));
      if (!isDeepStrictEqual(readFdt(writeFdt(tree)), tree)) failures.push(file);
    }
    console.log(`${DTBS.length} Debian DTBs: ${DTBS.length - failures.length} round-trip equal`);
    assert.deepEqual(failures, []);
  },
});

Deno.test({
  name: "Debian's board DTBs: dtc reads our rewrite as the same tree, with no new warnings",
  ignore: DTBS.length === 0 || !HAS_DTC,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "vman-dtbs-" });
    try {
      const pairs = await Promise.all(DTBS.map(async (file, i) => {
        const ours = `${dir}/${i}.dtb`;
        await Deno.writeFile(ours, writeFdt(readFdt(await Deno.readFile(file))));
        return `${file} ${ours}`;
      }));
      // dtc twice per DTB, compared by a shell loop: 4 loops side by side.
      const script = `while read -r orig ours; do
  dtc -I dtb -O dts "$orig" >"$W.a" 2>"$W.ae"; dtc -I dtb -O dts "$ours" >"$W.b" 2>"$W.be"
  if ! cmp -s "$W.a" "$W.b"; then echo "DIFF $orig";
  elif [ -n "$(sort -u "$W.be" | comm -13 <(sort -u "$W.ae") -)" ]; then echo "WARN $orig";
  else echo "OK $orig"; fi
done`;
      const chunks = [0, 1, 2, 3].map((k) => pairs.filter((_, i) => i % 4 === k).join("\n") + "\n");
      const results = await Promise.all(chunks.map(async (chunk, k) => {
        const child = new Deno.Command("bash", {
          args: ["-c", script],
          env: { W: `${dir}/w${k}` },
          stdin: "piped",
          stdout: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(chunk));
        await writer.close();
        return new TextDecoder().decode((await child.output()).stdout);
      }));
      const lines = results.join("").trim().split("\n");
      const bad = lines.filter((l) => !l.startsWith("OK "));
      console.log(
        `${lines.length} Debian DTBs through dtc: ${
          lines.length - bad.length
        } same tree, ${bad.length} not`,
      );
      assert.equal(lines.length, DTBS.length);
      assert.deepEqual(bad, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Debian's board DTBs: board import makes a valid board or names what it cannot handle",
  ignore: DTBS.length === 0,
  fn: async () => {
    const arches: Record<string, ArchPlugin> = { armv7: armv7(), armv8: armv8(), riscv: riscv() };
    const refused = new Map<string, number>();
    let valid = 0;
    const invalid: string[] = [];
    for (const file of DTBS) {
      const tree = readFdt(await Deno.readFile(file));
      try {
        const { board } = importBoard(tree, "imported", Object.values(arches));
        const problems = boardProblems(board, arches[board.arch]);
        if (problems.length === 0) valid++;
        else invalid.push(`${file}: ${problems[0].path.join(".")}: ${problems[0].message}`);
      } catch (error) {
        assert.ok(error instanceof BoardImportError, `${file}: ${error}`);
        assert.ok(error.where, `${file}: the refusal names where`);
        const reason = error.message.replace(/cpu \S+/, "cpu X").split(":")[0];
        refused.set(reason, (refused.get(reason) ?? 0) + 1);
      }
    }
    console.log(`${DTBS.length} Debian DTBs: ${valid} imported as valid boards; refused:`);
    for (const [reason, count] of [...refused].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${count} × ${reason}`);
    }
    assert.deepEqual(invalid, [], "an imported board always passes the board rules");
    assert.ok(valid > DTBS.length / 4, `only ${valid} of ${DTBS.length} imported`);
  },
});
