/**
 * The codec against the reference tools: QEMU 7.2 virt DTBs decompiled by dtc
 * before and after our read → write, fdtget (libfdt) reading our blobs, and blobs
 * dtc compiled from DTS read exactly.
 */
import assert from "node:assert/strict";
import {
  cells,
  empty,
  type FdtTree,
  findNode,
  getProp,
  node,
  readFdt,
  readStrings,
  readU32s,
  str,
  strs,
  u32,
  writeFdt,
} from "../../../plugins/fdt/mod.ts";
import { boardTree } from "./fixtures.ts";
import { QEMU_MACHINES, qemuDumps, run, skipUnless, TOOLS, withTempDir } from "./tools.ts";

/** dtc's warnings, one per line, with the file name it prints in front dropped. */
function warnings(stderr: string): string[] {
  return stderr.split("\n").filter((line) => line.includes("Warning")).map((line) =>
    line.replace(/^[^:]*: /, "")
  ).sort();
}

async function decompile(file: string): Promise<{ dts: string; warnings: string[] }> {
  const result = await run("dtc", ["-I", "dtb", "-O", "dts", file]);
  assert.equal(result.code, 0, `dtc failed on ${file}: ${result.stderr}`);
  return { dts: result.stdout, warnings: warnings(result.stderr) };
}

const FDTGET_QUERIES: [string, string, string][] = [
  ["/memory", "reg", "x"],
  ["/cpus/cpu@0", "reg", "x"],
  ["/chosen", "stdout-path", "s"],
  ["/", "compatible", "s"],
  ["/cpus", "#address-cells", "u"],
];

for (const machine of QEMU_MACHINES) {
  const ok = machine.available && TOOLS.dtc;
  Deno.test({
    name:
      `QEMU ${machine.name} virt DTB: dtc decompiles our rewrite to the same DTS, no new warnings`,
    ignore: skipUnless(ok, `${machine.binary} or dtc is not installed`),
    fn: async () => {
      const original = (await qemuDumps()).get(machine.name);
      assert.ok(original, `no ${machine.name} dump`);
      const tree = readFdt(original);
      const ours = writeFdt(tree);
      assert.ok(ours.length < original.length, "no padding: smaller than QEMU's 1 MiB dump");
      await withTempDir(async (dir) => {
        await Deno.writeFile(`${dir}/original.dtb`, original);
        await Deno.writeFile(`${dir}/ours.dtb`, ours);
        const before = await decompile(`${dir}/original.dtb`);
        const after = await decompile(`${dir}/ours.dtb`);
        assert.ok(before.dts.includes("cpu@0"), "dtc printed a real tree");
        assert.equal(after.dts, before.dts);
        const fresh = after.warnings.filter((line) => !before.warnings.includes(line));
        assert.deepEqual(fresh, [], "warnings dtc prints only for our blob");
      });
    },
  });

  Deno.test({
    name: `QEMU ${machine.name} virt DTB: fdtget (libfdt) reads the same values from our rewrite`,
    ignore: skipUnless(machine.available && TOOLS.fdtget, `${machine.binary} or fdtget is missing`),
    fn: async () => {
      const original = (await qemuDumps()).get(machine.name);
      assert.ok(original, `no ${machine.name} dump`);
      const tree = readFdt(original);
      await withTempDir(async (dir) => {
        await Deno.writeFile(`${dir}/original.dtb`, original);
        await Deno.writeFile(`${dir}/ours.dtb`, writeFdt(tree));
        for (const [path, prop, type] of FDTGET_QUERIES) {
          const args = ["-t", type, "", path, prop];
          const want = await run("fdtget", args.with(2, `${dir}/original.dtb`));
          const got = await run("fdtget", args.with(2, `${dir}/ours.dtb`));
          assert.equal(want.code, 0, `fdtget ${path} ${prop} on the original: ${want.stderr}`);
          assert.deepEqual(got, want, `fdtget ${path} ${prop}`);
          const value = getProp(findNode(tree, path)!, prop)!.value;
          const ourText = type === "s"
            ? readStrings(value).join(" ")
            : readU32s(value).map((n) => type === "x" ? n.toString(16) : String(n)).join(" ");
          assert.equal(got.stdout.trim(), ourText, `our own ${path} ${prop}`);
        }
        const listing = await run("fdtget", ["-l", `${dir}/ours.dtb`, "/cpus"]);
        assert.deepEqual(
          listing.stdout.trim().split("\n").filter((name) => name.startsWith("cpu@")),
          ["cpu@0", "cpu@1", "cpu@2", "cpu@3"],
        );
      });
    },
  });
}

const LABELLED_DTS = `/dts-v1/;
/memreserve/ 0x40000000 0x1000;
/memreserve/ 0x7fff0000 0x10000;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	compatible = "acme,board", "acme,soc";
	interrupt-parent = <&gic>;
	model = "Acme \\"quoted\\" board";

	chosen {
		bootargs = "console=ttyS0";
		stdout-path = &uart;
	};

	gic: interrupt-controller@8000000 {
		compatible = "arm,gic-400", "arm,cortex-a15-gic";
		#interrupt-cells = <3>;
		interrupt-controller;
		reg = <0x0 0x8000000 0x0 0x10000>;
	};

	uart: serial@9000000 {
		compatible = "ns16550a";
		reg = <0x0 0x9000000 0x0 0x1000>;
		interrupts = <0 1 4>;
		clocks = <&clk>, <&clk>;
		clock-names = "uartclk", "apb_pclk";
		mac = [00 11 22 33 44 55];
	};

	clk: clock {
		compatible = "fixed-clock";
		#clock-cells = <0>;
		clock-frequency = <24000000>;
		clock-output-names = "clk24mhz";
	};
};
`;

/** What dtc makes of {@linkcode LABELLED_DTS}: labels become `phandle` properties. */
const LABELLED_TREE: FdtTree = {
  root: node("", [
    { name: "#address-cells", value: u32(2) },
    { name: "#size-cells", value: u32(2) },
    { name: "compatible", value: strs(["acme,board", "acme,soc"]) },
    { name: "interrupt-parent", value: u32(1) },
    { name: "model", value: str('Acme "quoted" board') },
  ], [
    node("chosen", [
      { name: "bootargs", value: str("console=ttyS0") },
      { name: "stdout-path", value: str("/serial@9000000") },
    ]),
    node("interrupt-controller@8000000", [
      { name: "compatible", value: strs(["arm,gic-400", "arm,cortex-a15-gic"]) },
      { name: "#interrupt-cells", value: u32(3) },
      { name: "interrupt-controller", value: empty() },
      { name: "reg", value: cells([0x8000000, 0x10000], [2, 2]) },
      { name: "phandle", value: u32(1) },
    ]),
    node("serial@9000000", [
      { name: "compatible", value: str("ns16550a") },
      { name: "reg", value: cells([0x9000000, 0x1000], [2, 2]) },
      { name: "interrupts", value: u32(0, 1, 4) },
      { name: "clocks", value: u32(2, 2) },
      { name: "clock-names", value: strs(["uartclk", "apb_pclk"]) },
      { name: "mac", value: new Uint8Array([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]) },
    ]),
    node("clock", [
      { name: "compatible", value: str("fixed-clock") },
      { name: "#clock-cells", value: u32(0) },
      { name: "clock-frequency", value: u32(24000000) },
      { name: "clock-output-names", value: str("clk24mhz") },
      { name: "phandle", value: u32(2) },
    ]),
  ]),
  reservations: [
    { address: 0x40000000n, size: 0x1000n },
    { address: 0x7fff0000n, size: 0x10000n },
  ],
  bootCpuidPhys: 3,
};

Deno.test({
  name: "dtc-compiled DTS with /memreserve/, labels, phandles and string lists reads exactly",
  ignore: skipUnless(TOOLS.dtc, "dtc is not installed"),
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/board.dts`, LABELLED_DTS);
      const result = await run("dtc", [
        "-I",
        "dts",
        "-O",
        "dtb",
        "-b",
        "3",
        "-o",
        `${dir}/board.dtb`,
        `${dir}/board.dts`,
      ]);
      assert.equal(result.code, 0, result.stderr);
      const tree = readFdt(await Deno.readFile(`${dir}/board.dtb`));
      assert.deepStrictEqual(tree, LABELLED_TREE);
    });
  },
});

Deno.test({
  name: "dtc reads our blob of a hand-made tree and compiles it back to the same tree",
  ignore: skipUnless(TOOLS.dtc, "dtc is not installed"),
  fn: async () => {
    const tree = boardTree();
    await withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/ours.dtb`, writeFdt(tree));
      const back = await run("dtc", [
        "-I",
        "dtb",
        "-O",
        "dtb",
        "-b",
        String(tree.bootCpuidPhys),
        "-o",
        `${dir}/back.dtb`,
        `${dir}/ours.dtb`,
      ]);
      assert.equal(back.code, 0, back.stderr);
      assert.deepStrictEqual(readFdt(await Deno.readFile(`${dir}/back.dtb`)), tree);
    });
  },
});
