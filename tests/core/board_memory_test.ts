import assert from "node:assert/strict";
import { boardMemory, parseIomem } from "../../core/board/memory.ts";
import { BoardImportError } from "../../core/board/import.ts";
import { readFdt } from "../../plugins/fdt/mod.ts";
import { GiB } from "../../core/units.ts";

const IOMEM = `00000000-3b3fffff : System RAM
  00000000-00000fff : reserved
  00210000-0124ffff : Kernel code
40000000-7fffffff : System RAM
80000000-fbffffff : System RAM
fe201000-fe2011ff : serial@7e201000
`;

Deno.test("/proc/iomem: the top-level System RAM ranges, touching ones merged", () => {
  assert.deepEqual(parseIomem(IOMEM, "/proc/iomem"), [
    { base: 0, size: 0x3b400000 },
    { base: 0x40000000, size: 0xbc000000 },
  ]);
});

Deno.test("/proc/iomem refusals name the file: hidden addresses, no RAM, too many ranges", () => {
  const hidden = IOMEM.replace(/^[0-9a-f]+-[0-9a-f]+/gm, "00000000-00000000");
  const tooMany = Array.from(
    { length: 300 },
    (_, i) =>
      `${(i * 0x200000).toString(16)}-${(i * 0x200000 + 0xfffff).toString(16)} : System RAM`,
  )
    .join("\n");
  for (
    const [text, message] of [
      [hidden, /reads as 0-0 .*run as root, or give --memory/],
      ["fe201000-fe2011ff : serial\n", /no System RAM listed/],
      [tooMany, /more than 256 System RAM ranges/],
      ["ffffffffffffff-ffffffffffffffff : System RAM\n", /not a range vmanager handles/],
    ] as const
  ) {
    assert.throws(() => parseIomem(text, "/r/proc/iomem"), (error: unknown) => {
      assert.ok(error instanceof BoardImportError);
      assert.match(error.message, message);
      assert.equal(error.where, "/r/proc/iomem");
      return true;
    });
  }
});

Deno.test("given RAM replaces the device tree's, with a note; none at all is refused", async () => {
  const tree = readFdt(
    await Deno.readFile(new URL("../../boards/qemu-virt-arm64.dtb", import.meta.url)),
  );
  const notes: string[] = [];
  const ram = boardMemory(
    tree,
    { ranges: [{ base: 0x40000000, size: GiB }], from: "--memory" },
    notes,
  );
  assert.deepEqual(ram, [{ name: "ram", base: 0x40000000, size: GiB }]);
  assert.deepEqual(notes, [
    "RAM from --memory, in place of the device tree's 0x40000000-0xbfffffff",
  ]);
  tree.root.children = tree.root.children.filter((c) => !c.name.startsWith("memory"));
  assert.throws(
    () => boardMemory(tree, undefined, []),
    /gives no RAM .*--memory BASE\+SIZE.*--live/,
  );
});
