import assert from "node:assert/strict";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { assignable } from "../../core/board/assignable.ts";
import {
  type ArchSource,
  BoardFileError,
  boardPluginFromYaml,
  loadBoardYaml,
} from "../../core/board/load.ts";
import { BoardError, EXIT_USAGE, InputError } from "../../core/errors.ts";
import type { Board } from "../../core/model.ts";
import type { ArchPlugin } from "../../core/registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/plugin.ts";
import { Registry } from "../../core/registry/registry.ts";
import { GiB, MiB } from "../../core/units.ts";

const ARCHES: Record<string, ArchPlugin> = { armv7: armv7(), armv8: armv8(), riscv: riscv() };
const archOf = (name: string): ArchPlugin | undefined => ARCHES[name];

const BOARD_FILES = [
  "boards/qemu-virt-arm.yaml",
  "boards/qemu-virt-arm64.yaml",
  "boards/qemu-virt-riscv64.yaml",
];

function repoPath(relative: string): string {
  return new URL(`../../${relative}`, import.meta.url).pathname;
}

async function loadBuiltin(relative: string): Promise<Board> {
  return loadBoardYaml(await Deno.readTextFile(repoPath(relative)), relative, archOf).board;
}

/** The 1-based line of the first line of `text` containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split("\n").findIndex((line) => line.includes(needle));
  assert.ok(index >= 0, `fixture contains ${JSON.stringify(needle)}`);
  return index + 1;
}

/** Loads `text` expecting a BoardFileError; returns it. */
function refused(
  text: string,
  file = "test.yaml",
  arch: ArchSource | undefined = archOf,
): BoardFileError {
  let caught: unknown;
  try {
    loadBoardYaml(text, file, arch);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof BoardFileError, `expected BoardFileError, got ${String(caught)}`);
  assert.ok(caught instanceof BoardError);
  assert.ok(caught instanceof InputError);
  assert.equal(caught.exitCode, EXIT_USAGE);
  assert.ok(caught.problems.length >= 1);
  assert.equal(caught.where, caught.problems[0].where);
  assert.ok(!caught.line().includes("\n"), "one line");
  return caught;
}

/** Asserts the first problem is at the line marked `# HERE` with that field and message. */
function assertFirstProblem(
  text: string,
  expected: { field: string; message: RegExp },
  arch: ArchSource | undefined = archOf,
): BoardFileError {
  const error = refused(text, "test.yaml", arch);
  const line = lineOf(text, "# HERE");
  assert.equal(error.where, `test.yaml:${line}`, `${error.line()}`);
  assert.equal(error.problems[0].field, expected.field);
  assert.match(error.problems[0].message, expected.message);
  assert.equal(
    error.message,
    expected.field ? `board field ${expected.field}: ${error.problems[0].message}` : error.message,
  );
  assert.equal(error.line(), `${error.message} (test.yaml:${line})`);
  return error;
}

/** A small valid board; tests derive broken ones from it. */
const GOOD = `name: test-board
description: a test board
arch: armv8
monitor: { conduit: hvc, interface: psci }
cores:
  - { id: 0, hwid: 0x0 }
  - { id: 1, hwid: 0x1 }
  - { id: 2, hwid: 0x100 }
memory:
  - { name: ram, base: 0x40000000, size: 1G }
devices:
  - name: uart0
    reg: [{ base: 0x09000000, size: 0x1000 }]
    sharing: per-partition
  - name: rtc0
    reg: [{ base: 0x09010000, size: 0x1000 }]
reserved:
  - owner: management
    cores: [0]
    memory: [{ base: 0x40000000, size: 256M }]
`;

/** GOOD with `line` (by content) replaced. */
function edit(search: string, replacement: string, text = GOOD): string {
  assert.ok(text.includes(search), `fixture contains ${JSON.stringify(search)}`);
  return text.replace(search, replacement);
}

Deno.test("the small fixture board is valid (so that each broken variant fails for one reason)", () => {
  const { board, version } = loadBoardYaml(GOOD, "test.yaml", archOf);
  assert.equal(board.name, "test-board");
  assert.equal(version, "1.0.0");
  assert.deepEqual(board.cores.map((c) => c.hwid), [0, 1, 0x100]);
  assert.deepEqual(board.memory, [{ name: "ram", base: 0x40000000, size: GiB }]);
  assert.deepEqual(board.devices[1], {
    name: "rtc0",
    compatible: [],
    reg: [{ base: 0x09010000, size: 0x1000 }],
    interrupts: [],
    sharing: "exclusive",
    default: false,
    console: false,
  });
  assert.deepEqual(board.reserved, [{
    owner: "management",
    cores: [0],
    memory: [{ base: 0x40000000, size: 256 * MiB }],
    devices: [],
  }]);
});

for (const file of BOARD_FILES) {
  Deno.test(`built-in board ${file} loads and validates with its arch plugin`, async () => {
    const text = await Deno.readTextFile(repoPath(file));
    const { board } = loadBoardYaml(text, file, archOf);
    assert.equal(`boards/${board.name}.yaml`, file, "the file is named after the board");
    assert.equal(board.cores.length, 4);
    assert.deepEqual(board.cores.map((c) => c.id), [0, 1, 2, 3]);
    assert.equal(board.memory.length, 1);
    assert.equal(board.memory[0].size, 2 * GiB);
    assert.ok(board.devices.some((d) => d.name === "uart0" && d.console && d.default));
    assert.equal(board.monitor.interface, ARCHES[board.arch].powerInterface);

    const plugin = boardPluginFromYaml(text, file, archOf);
    assert.equal(plugin.kind, "board");
    assert.equal(plugin.name, board.name);
    assert.equal(plugin.apiVersion, PLUGIN_API_VERSION);
    assert.equal(plugin.version, "1.0.0");
    assert.equal(plugin.description, board.description);
    assert.deepEqual(plugin.board, board);

    // And the registry accepts it next to its arch plugin.
    const registry = new Registry();
    registry.register(ARCHES[board.arch], "built-in");
    registry.register(plugin, file);
    assert.equal(registry.get("board", board.name).board.arch, board.arch);
  });
}

Deno.test("built-in boards: arch and memory bases are the QEMU virt ones", async () => {
  const [arm, arm64, rv] = await Promise.all(BOARD_FILES.map(loadBuiltin));
  assert.equal(arm.arch, "armv7");
  assert.equal(arm64.arch, "armv8");
  assert.equal(rv.arch, "riscv");
  assert.equal(arm.memory[0].base, 0x40000000);
  assert.equal(arm64.memory[0].base, 0x40000000);
  assert.equal(rv.memory[0].base, 0x80000000);
  assert.equal(rv.monitor.conduit, "ecall");
});

Deno.test("a misspelled optional field is refused on its own line", () => {
  const text = edit("    sharing: per-partition\n", "    sharng: per-partition # HERE\n");
  const error = assertFirstProblem(text, {
    field: "devices[0].sharng",
    message: /^unknown field 'sharng'$/,
  });
  assert.equal(error.problems.length, 1);
});

Deno.test("a misspelled top-level field is refused on its own line", () => {
  const text = edit("reserved:\n", "reservd: # HERE\n");
  assertFirstProblem(text, { field: "reservd", message: /unknown field 'reservd'/ });
});

Deno.test("a misspelled `cores:` is reported at the `coers:` line among the problems", () => {
  const text = edit("cores:\n", "coers: # HERE\n");
  const error = refused(text);
  const line = lineOf(text, "# HERE");
  assert.ok(
    error.problems.some((p) =>
      p.field === "coers" && p.where === `test.yaml:${line}` &&
      /unknown field 'coers'/.test(p.message)
    ),
    JSON.stringify(error.problems),
  );
});

Deno.test("a misspelled `cores:` is the first problem, at its own line, with a suggestion", () => {
  const text = edit("cores:\n", "coers: # HERE\n");
  const error = assertFirstProblem(text, {
    field: "coers",
    message: /^unknown field 'coers' \(did you mean 'cores'\?\)$/,
  });
  // The missing `cores` is still listed, after the unknown field.
  assert.ok(
    error.problems.slice(1).some((p) => p.field === "cores"),
    JSON.stringify(error.problems),
  );
});

Deno.test("an unknown field far from any missing one gets no suggestion", () => {
  const text = edit("reserved:\n", "colour: blue # HERE\nreserved:\n");
  assertFirstProblem(text, { field: "colour", message: /^unknown field 'colour'$/ });
});

Deno.test("overlapping memory ranges are refused at the second range's line", () => {
  const text = edit(
    "  - { name: ram, base: 0x40000000, size: 1G }\n",
    "  - { name: ram, base: 0x40000000, size: 1G }\n" +
      "  - { name: ram2, base: 0x7ff00000, size: 16M } # HERE\n",
  );
  assertFirstProblem(text, {
    field: "memory[1]",
    message: /memory range 'ram2' 0x7ff00000-0x80efffff overlaps 'ram' 0x40000000-0x7fffffff/,
  });
});

Deno.test("touching memory ranges are accepted", () => {
  const text = edit(
    "  - { name: ram, base: 0x40000000, size: 1G }\n",
    "  - { name: ram, base: 0x40000000, size: 1G }\n" +
      "  - { name: ram2, base: 0x80000000, size: 16M }\n",
  );
  assert.equal(loadBoardYaml(text, "t.yaml", archOf).board.memory.length, 2);
});

Deno.test("a memory range of size 0 is refused", () => {
  const text = edit(
    "  - { name: ram, base: 0x40000000, size: 1G }\n",
    "  - { name: ram, base: 0x40000000, size: 1G }\n" +
      "  - { name: empty, base: 0x90000000, size: 0 } # HERE\n",
  );
  assertFirstProblem(text, { field: "memory[1].size", message: /size must be greater than 0/ });
});

Deno.test("overlapping device reg ranges are refused at the later reg's line", () => {
  const text = edit(
    "    reg: [{ base: 0x09010000, size: 0x1000 }]\n",
    "    reg: [{ base: 0x09000800, size: 0x1000 }] # HERE\n",
  );
  assertFirstProblem(text, {
    field: "devices[1].reg[0]",
    message: /0x09000800-0x090017ff overlaps device 'uart0' at 0x09000000-0x09000fff/,
  });
});

Deno.test("a device reg inside RAM is refused", () => {
  const text = edit(
    "    reg: [{ base: 0x09010000, size: 0x1000 }]\n",
    "    reg: [{ base: 0x50000000, size: 0x1000 }] # HERE\n",
  );
  assertFirstProblem(text, { field: "devices[1].reg[0]", message: /overlaps memory 'ram'/ });
});

Deno.test("a repeated device name is refused at the repeat", () => {
  const text = edit("  - name: rtc0\n", "  - name: uart0 # HERE\n");
  assertFirstProblem(text, {
    field: "devices[1].name",
    message: /device 'uart0' repeats devices\[0\]/,
  });
});

Deno.test("a duplicate core id is refused at the repeated core's line", () => {
  const text = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 1, hwid: 0x100 } # HERE\n");
  const error = assertFirstProblem(text, {
    field: "cores[2].id",
    message: /core id 1 repeats cores\[1\]/,
  });
  assert.equal(error.problems.length, 1);
});

Deno.test("a duplicate hwid is refused at the repeated core's line", () => {
  const text = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 2, hwid: 0x1 } # HERE\n");
  assertFirstProblem(text, { field: "cores[2].hwid", message: /hwid 0x1 repeats cores\[1\]/ });
});

Deno.test("a reservation naming a core the board lacks is refused at that line", () => {
  const text = edit("    cores: [0]\n", "    cores: [0, 7] # HERE\n");
  assertFirstProblem(text, {
    field: "reserved[0].cores[1]",
    message: /core 7 is not a core of this board/,
  });
});

Deno.test("a reservation naming a device the board lacks is refused at that line", () => {
  const text = edit("    cores: [0]\n", "    cores: [0]\n    devices: [gpio9] # HERE\n");
  assertFirstProblem(text, { field: "reserved[0].devices[0]", message: /no device 'gpio9'/ });
});

Deno.test("a reserved memory range outside RAM is refused at its line", () => {
  const text = edit(
    "    memory: [{ base: 0x40000000, size: 256M }]\n",
    "    memory: [{ base: 0x7ff00000, size: 2M }] # HERE\n",
  );
  assertFirstProblem(text, {
    field: "reserved[0].memory[0]",
    message: /0x7ff00000-0x800fffff is not inside the board's memory/,
  });
});

Deno.test("two owners keeping the same core: refused at the second owner's core", () => {
  const text = GOOD + "  - owner: monitor\n    cores: [0] # HERE\n";
  assertFirstProblem(text, {
    field: "reserved[1].cores[0]",
    message: /core 0 is already kept by management/,
  });
});

Deno.test("two owners keeping overlapping memory: refused at the second range", () => {
  const text = GOOD + "  - owner: monitor\n    memory: [{ base: 0x4ff00000, size: 2M }] # HERE\n";
  assertFirstProblem(text, {
    field: "reserved[1].memory[0]",
    message: /overlaps memory kept by management at 0x40000000-0x4fffffff/,
  });
});

Deno.test("an owner listed twice is refused", () => {
  const text = GOOD + "  - owner: management # HERE\n    cores: [1]\n";
  assertFirstProblem(text, {
    field: "reserved[1].owner",
    message: /owner 'management' is listed twice/,
  });
});

Deno.test("a board whose every core is reserved is refused, pointing at the core list", () => {
  const text = edit("    cores: [0]\n", "    cores: [0, 1, 2]\n");
  const error = refused(text);
  assert.equal(error.problems[0].field, "cores");
  assert.match(error.message, /every core is reserved: no core is left for partitions/);
  // The problem is the whole list: its location is the list's key.
  assert.equal(error.where, `test.yaml:${lineOf(text, "cores:")}`);
});

Deno.test("a power interface other than the arch's is refused at its line", () => {
  const text = edit(
    "monitor: { conduit: hvc, interface: psci }\n",
    "monitor: { conduit: hvc, interface: sbi } # HERE\n",
  );
  assertFirstProblem(text, {
    field: "monitor.interface",
    message: /armv8 partitions use psci, not sbi/,
  });
  // Without the arch plugin the board itself is consistent.
  assert.equal(loadBoardYaml(text, "t.yaml").board.monitor.interface, "sbi");
});

Deno.test("a malformed size is refused with the units message at its line", () => {
  const text = edit(
    "  - { name: ram, base: 0x40000000, size: 1G }\n",
    "  - { name: ram, base: 0x40000000, size: 12Q } # HERE\n",
  );
  assertFirstProblem(text, { field: "memory[0].size", message: /unknown unit 'Q'/ });
});

Deno.test("an arch no plugin registers is refused at its line", () => {
  const text = edit("arch: armv8\n", "arch: mips # HERE\n");
  assertFirstProblem(text, {
    field: "arch",
    message: /^needs arch plugin 'mips', which is not registered \(known: armv7, armv8, riscv\)$/,
  }, Object.values(ARCHES));
  const upper = edit("arch: armv8\n", "arch: ARMv8 # HERE\n");
  assertFirstProblem(upper, { field: "arch", message: /arch plugin's name/ });
});

Deno.test("several problems are all listed, in document order", () => {
  const text = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 1, hwid: 0x100 }\n").replace(
    "    cores: [0]\n",
    "    cores: [0, 9]\n",
  );
  const error = refused(text);
  assert.deepEqual(error.problems.map((p) => p.field), ["cores[2].id", "reserved[0].cores[1]"]);
  assert.deepEqual(error.problems.map((p) => p.where), [
    `test.yaml:${lineOf(text, "{ id: 1, hwid: 0x100 }")}`,
    `test.yaml:${lineOf(text, "cores: [0, 9]")}`,
  ]);
});

Deno.test("a YAML syntax error names its line", () => {
  const text = edit("    cores: [0]\n", "    cores: [0 # HERE\n");
  const error = refused(text);
  assert.equal(error.problems[0].field, "");
  assert.match(error.message, /^YAML: /);
  // The parser reports the unterminated flow sequence at or after the line that opens it.
  const where = Number(error.where!.split(":")[1]);
  assert.ok(where >= lineOf(text, "# HERE"), error.line());
  assert.match(error.where!, /^test\.yaml:\d+$/);
});

Deno.test("YAML syntax errors on a line of their own are reported at that line", () => {
  for (
    const bad of [
      "description: a: b # HERE\n", // a nested mapping in a compact one
      "\tdescription: tab-indented # HERE\n",
    ]
  ) {
    const text = edit("description: a test board\n", bad);
    const error = refused(text);
    assert.match(error.message, /^YAML: /);
    assert.equal(error.where, `test.yaml:${lineOf(text, "# HERE")}`, error.line());
  }
});

Deno.test("a repeated key is a YAML error naming its line", () => {
  const text = edit("arch: armv8\n", "arch: armv8\narch: armv7 # HERE\n");
  const error = refused(text);
  assert.match(error.message, /^YAML: /);
  assert.equal(error.where, `test.yaml:${lineOf(text, "# HERE")}`);
});

Deno.test("an empty or non-map document is refused", () => {
  for (const text of ["", "just a string\n", "- a\n- b\n"]) {
    const error = refused(text);
    assert.match(error.where!, /^test\.yaml:\d+$/);
  }
});

Deno.test("armv7 rejects an MPIDR above 24 bits, at the core's line", () => {
  const text = edit("arch: armv8\n", "arch: armv7\n").replace(
    "  - { id: 2, hwid: 0x100 }\n",
    "  - { id: 2, hwid: 0x1000000 } # HERE\n",
  );
  assertFirstProblem(text, { field: "cores[2].hwid", message: /MPIDR 0x1000000 sets bits 31:24/ });
  const aff3 = text.replace("hwid: 0x1000000", "hwid: 0x100000000");
  const error = refused(aff3);
  assert.equal(error.problems[0].field, "cores[2].hwid");
  assert.match(error.message, /bits above 23/);
});

Deno.test("armv8 rejects an MPIDR with bits 31:24 set and accepts Aff3", () => {
  const text = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 2, hwid: 0x2000000 } # HERE\n");
  assertFirstProblem(text, { field: "cores[2].hwid", message: /sets bits 31:24/ });
  const aff3 = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 2, hwid: 0x100000000 }\n");
  assert.equal(loadBoardYaml(aff3, "t.yaml", archOf).board.cores[2].hwid, 2 ** 32);
  // armv7 refuses that same Aff3 core id.
  const v7 = aff3.replace("arch: armv8", "arch: armv7");
  assert.equal(refused(v7).problems[0].field, "cores[2].hwid");
});

Deno.test("without an arch plugin, core ids are not checked against MPIDR rules", () => {
  const text = edit("  - { id: 2, hwid: 0x100 }\n", "  - { id: 2, hwid: 0x2000000 }\n");
  assert.equal(loadBoardYaml(text, "t.yaml").board.cores[2].hwid, 0x2000000);
  assert.equal(loadBoardYaml(text, "t.yaml", () => undefined).board.cores[2].hwid, 0x2000000);
});

Deno.test("boardPluginFromYaml takes the version from the file when it has one", () => {
  const plugin = boardPluginFromYaml(
    edit("arch: armv8\n", "arch: armv8\nversion: 2.3.4\n"),
    "t.yaml",
  );
  assert.equal(plugin.version, "2.3.4");
  assert.equal(plugin.description, "a test board");
});

Deno.test("boardPluginFromYaml refuses what loadBoardYaml refuses", () => {
  assert.throws(
    () => boardPluginFromYaml(edit("    cores: [0]\n", "    cores: [0, 7]\n"), "x.yaml", archOf),
    (error: unknown) => error instanceof BoardFileError && /x\.yaml:\d+/.test(error.line()),
  );
});

Deno.test("assignable on qemu-virt-arm64: cores 1-3, RAM above the management's 256 MiB, all devices", async () => {
  const board = await loadBuiltin("boards/qemu-virt-arm64.yaml");
  const a = assignable(board);
  assert.deepEqual(a.cores, [1, 2, 3]);
  assert.deepEqual(a.memory, [{ base: 0x50000000, size: 1792 * MiB }]);
  assert.deepEqual(a.devices, board.devices.map((d) => d.name));
  assert.ok(a.devices.includes("uart0") && a.devices.includes("virtio3"));
});

Deno.test("assignable on qemu-virt-riscv64: cores 1-3, memory from 0x90000000 around QEMU's DTB", async () => {
  const board = await loadBuiltin("boards/qemu-virt-riscv64.yaml");
  const a = assignable(board);
  assert.deepEqual(a.cores, [1, 2, 3]);
  // 0xbfe00000 + 2 MiB holds the device tree QEMU gives OpenSBI.
  assert.deepEqual(a.memory, [
    { base: 0x90000000, size: 0xbfe00000 - 0x90000000 },
    { base: 0xc0000000, size: 1 * GiB },
  ]);
  assert.deepEqual(a.devices, ["uart0", "rtc0", "virtio0", "virtio1", "virtio2", "virtio3"]);
});

Deno.test("assignable on qemu-virt-arm matches its reservations", async () => {
  const board = await loadBuiltin("boards/qemu-virt-arm.yaml");
  const a = assignable(board);
  assert.deepEqual(a.cores, [1, 2, 3]);
  assert.deepEqual(a.memory, [{ base: 0x50000000, size: 1792 * MiB }]);
});

Deno.test("assignable leaves out reserved devices and a reservation in the middle of RAM", () => {
  const text = GOOD + "  - owner: monitor\n    devices: [rtc0]\n" +
    "    memory: [{ base: 0x60000000, size: 16M }]\n";
  const board = loadBoardYaml(text, "t.yaml", archOf).board;
  const a = assignable(board);
  assert.deepEqual(a.cores, [1, 2]);
  assert.deepEqual(a.devices, ["uart0"]);
  assert.deepEqual(a.memory, [
    { base: 0x50000000, size: 256 * MiB },
    { base: 0x61000000, size: 0x1f000000 },
  ]);
});

Deno.test("a conduit the architecture cannot use is refused", () => {
  const text = edit(
    "monitor: { conduit: hvc, interface: psci }\n",
    "monitor: { conduit: ecall, interface: psci } # HERE\n",
  );
  assertFirstProblem(text, {
    field: "monitor.conduit",
    message: /reached with smc or hvc, not ecall/,
  });
});

Deno.test("a reserved device cannot be a default device", () => {
  const text = edit(
    "    sharing: per-partition\n",
    "    sharing: per-partition\n    default: true\n",
    edit("    cores: [0]\n", "    cores: [0]\n    devices: [uart0]\n"),
  );
  const error = refused(text);
  assert.equal(
    error.problems.some((p) => /kept by management, so it cannot be a default/.test(p.message)),
    true,
  );
});
