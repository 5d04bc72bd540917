import assert from "node:assert/strict";
import fc from "fast-check";
import { fdtTreeArbitrary } from "../../../plugins/fdt/arbitrary.ts";
import {
  cells,
  empty,
  type FdtTree,
  formatProperty,
  node,
  printDts,
  readFdt,
  str,
  strs,
  u32,
} from "../../../plugins/fdt/mod.ts";
import { boardTree } from "./fixtures.ts";
import { QEMU_MACHINES, qemuDumps, run, skipUnless, TOOLS, withTempDir } from "./tools.ts";

const bytes = (...list: number[]) => new Uint8Array(list);

Deno.test("printDts writes dtc's layout: header, memreserve lines, tabs, blank line before children", () => {
  const tree: FdtTree = {
    root: node("", [{ name: "#address-cells", value: u32(2) }], [
      node("cpus", [{ name: "#size-cells", value: u32(0) }], [
        node("cpu@0", [{ name: "reg", value: u32(0) }]),
      ]),
      node("chosen"),
    ]),
    reservations: [{ address: 0x40000000n, size: 0x1000n }],
    bootCpuidPhys: 0,
  };
  assert.equal(
    printDts(tree),
    [
      "/dts-v1/;",
      "",
      "/memreserve/\t0x0000000040000000 0x0000000000001000;",
      "/ {",
      "\t#address-cells = <0x02>;",
      "",
      "\tcpus {",
      "\t\t#size-cells = <0x00>;",
      "",
      "\t\tcpu@0 {",
      "\t\t\treg = <0x00>;",
      "\t\t};",
      "\t};",
      "",
      "\tchosen {",
      "\t};",
      "};",
      "",
    ].join("\n"),
  );
});

Deno.test("formatProperty guesses value kinds as dtc does", () => {
  assert.equal(formatProperty("dma-coherent", empty()), "dma-coherent;");
  assert.equal(formatProperty("status", str("okay")), 'status = "okay";');
  assert.equal(formatProperty("compatible", strs(["a,b", "c"])), 'compatible = "a,b", "c";');
  assert.equal(formatProperty("s", str('q"\\\t\n\x07')), 's = "q\\"\\\\\\t\\n\\a";');
  assert.equal(
    formatProperty("e", strs(["", "ab"])),
    "e = <0x616200>;",
    "an empty string is not text",
  );
  assert.equal(formatProperty("f", bytes(0x00, 0x38, 0x40, 0x00)), "f = <0x384000>;");
  assert.equal(
    formatProperty("reg", cells([0x40000000, 0x80000000], [2, 2])),
    "reg = <0x00 0x40000000 0x00 0x80000000>;",
  );
  assert.equal(
    formatProperty("n", bytes(0, 0)),
    "n = [00 00];",
    "more NULs than text is not a string",
  );
  assert.equal(formatProperty("z", bytes(0, 0, 0, 0)), "z = <0x00>;");
  assert.equal(
    formatProperty("u", bytes(0xc3, 0xbc, 0x41, 0)),
    "u = <0xc3bc4100>;",
    "non-ASCII is not a string",
  );
  assert.equal(formatProperty("t", bytes(0x61, 0x62)), "t = [61 62];", "no NUL: not a string");
  assert.equal(
    formatProperty("mac", bytes(0, 0x11, 0x22, 0x33, 0x44, 0x55)),
    "mac = [00 11 22 33 44 55];",
  );
});

/** dtc 1.6 prints string lists as one string with `\0` inside; rewrite that as `", "`. */
function splitDtcStringLists(dts: string): string {
  return dts.split("\n").map((line) => {
    if (!/^\t*[^\s]+ = ".*";$/.test(line)) return line;
    return line.replace(/((?:^|[^\\])(?:\\\\)*)\\0/g, '$1", "').replace(
      /((?:^|[^\\])(?:\\\\)*)\\0/g,
      '$1", "',
    );
  }).join("\n");
}

for (const machine of QEMU_MACHINES) {
  Deno.test({
    name: `QEMU ${machine.name} virt DTB: printDts compiles with dtc back to the same tree`,
    ignore: skipUnless(machine.available && TOOLS.dtc, `${machine.binary} or dtc is not installed`),
    fn: async () => {
      const blob = (await qemuDumps()).get(machine.name);
      assert.ok(blob, `no ${machine.name} dump`);
      const tree = readFdt(blob);
      const text = printDts(tree);
      await withTempDir(async (dir) => {
        await Deno.writeTextFile(`${dir}/ours.dts`, text);
        const compiled = await run("dtc", [
          "-I",
          "dts",
          "-O",
          "dtb",
          "-b",
          String(tree.bootCpuidPhys),
          "-o",
          `${dir}/back.dtb`,
          `${dir}/ours.dts`,
        ]);
        assert.equal(compiled.code, 0, compiled.stderr);
        assert.deepStrictEqual(readFdt(await Deno.readFile(`${dir}/back.dtb`)), tree);

        await Deno.writeFile(`${dir}/original.dtb`, blob);
        const dtc = await run("dtc", ["-I", "dtb", "-O", "dts", `${dir}/original.dtb`]);
        // dtc prints a clock frequency whose bytes happen to be printable as "\08@";
        // we print it as the number it is.
        const dtcText = splitDtcStringLists(dtc.stdout).replace('"", "8@"', "<0x384000>");
        assert.equal(text, dtcText, "same text as dtc, string lists aside");
      });
    },
  });
}

Deno.test({
  name: "printDts of random trees compiles with dtc back to the same tree",
  ignore: skipUnless(TOOLS.dtc, "dtc is not installed"),
  fn: async () => {
    const trees = fc.sample(fdtTreeArbitrary({ maxDepth: 3 }), { numRuns: 25, seed: 99 });
    trees.push(boardTree());
    await withTempDir(async (dir) => {
      for (const [i, tree] of trees.entries()) {
        await Deno.writeTextFile(`${dir}/${i}.dts`, printDts(tree));
        // -f: random names break dtc's semantic checks (not its syntax), which is fine here.
        const compiled = await run("dtc", [
          "-f",
          "-q",
          "-I",
          "dts",
          "-O",
          "dtb",
          "-b",
          String(tree.bootCpuidPhys),
          "-o",
          `${dir}/${i}.dtb`,
          `${dir}/${i}.dts`,
        ]);
        assert.equal(compiled.code, 0, `tree ${i}: ${compiled.stderr}`);
        assert.deepStrictEqual(readFdt(await Deno.readFile(`${dir}/${i}.dtb`)), tree, `tree ${i}`);
      }
    });
  },
});
