/**
 * Monitor stubs and the armv7 boot shim, checked against Debian's cross objdump:
 * each blob is disassembled and its code must be exactly the intended
 * instructions, every literal load must point into the literal pool, and the pool
 * must hold the parameters. Each objdump test is skipped, with the reason printed,
 * when its objdump is not installed (`apt-get install -y binutils-aarch64-linux-gnu
 * binutils-arm-linux-gnueabihf binutils-riscv64-linux-gnu`).
 */
import assert from "node:assert/strict";
import type { StubOptions } from "../../core/registry/plugin.ts";
import { armv8MonitorStub, armv8StubListing } from "../../arch/armv8/stub.ts";
import { armv7MonitorStub, armv7StubListing } from "../../arch/armv7/stub.ts";
import { armv7BootShim, armv7ShimListing, SHIM_SIZE } from "../../arch/armv7/shim.ts";
import { riscvMonitorStub, riscvStubListing } from "../../arch/riscv/stub.ts";

/** A cross objdump and the `-m` machine it disassembles. */
interface Disassembler {
  tool: string;
  machine: string;
}

const AARCH64: Disassembler = { tool: "/usr/bin/aarch64-linux-gnu-objdump", machine: "aarch64" };
const ARM: Disassembler = { tool: "/usr/bin/arm-linux-gnueabihf-objdump", machine: "arm" };
const RISCV: Disassembler = { tool: "/usr/bin/riscv64-linux-gnu-objdump", machine: "riscv:rv64" };

/** Why a disassembler's tests are skipped, or undefined when it is installed. */
function missing(d: Disassembler): string | undefined {
  try {
    Deno.statSync(d.tool);
    return undefined;
  } catch {
    const reason = `${d.tool} is not installed (apt-get install -y binutils-*-linux-gnu*)`;
    console.log(`skipping ${d.machine} disassembly tests: ${reason}`);
    return reason;
  }
}

const SKIP_AARCH64 = missing(AARCH64) !== undefined;
const SKIP_ARM = missing(ARM) !== undefined;
const SKIP_RISCV = missing(RISCV) !== undefined;

/** One disassembled line. */
interface Disassembled {
  /** Offset in the blob. */
  address: number;
  /** The instruction bits as objdump prints them (hex, no spaces). */
  encoding: string;
  /** Mnemonic, one space, operands; objdump's trailing comment removed. */
  text: string;
  /** objdump's trailing comment (`@ 0x20`, `# 0x28`), if any. */
  comment?: string;
}

/** Runs `objdump -D -b binary -m MACHINE` on `bytes` and parses the instruction lines. */
async function disassemble(d: Disassembler, bytes: Uint8Array): Promise<Disassembled[]> {
  const file = await Deno.makeTempFile({ suffix: ".bin" });
  try {
    await Deno.writeFile(file, bytes);
    const out = await new Deno.Command(d.tool, {
      args: ["-D", "-b", "binary", "-m", d.machine, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const lines: Disassembled[] = [];
    for (const line of stdout.split("\n")) {
      const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$/.exec(line);
      if (!m) continue;
      const body = m[3].replace("\t", " ");
      const c = /\s+((?:@|#|\/\/)\s.*)$/.exec(body);
      lines.push({
        address: parseInt(m[1], 16),
        encoding: m[2].replace(/ /g, ""),
        text: (c ? body.slice(0, c.index) : body).trim(),
        comment: c?.[1],
      });
    }
    return lines;
  } finally {
    await Deno.remove(file);
  }
}

/** Splits a listing into its instruction lines and its literal pool values. */
function splitListing(listing: string[]): { code: string[]; pool: bigint[] } {
  const code = listing.filter((l) => !l.startsWith("."));
  const pool = listing.filter((l) => l.startsWith(".")).map((l) => BigInt(l.split(" ")[1]));
  assert.deepEqual(listing, [...code, ...listing.slice(code.length)], "code before the pool");
  return { code, pool };
}

/** What a literal load must load: the register and the value. */
type Load = [register: string, value: number];

/** How an ISA's loads look in objdump's text. */
interface LoadSyntax {
  /** Bytes per literal. */
  width: 4 | 8;
  /** The register and the referenced address of a literal load, or undefined. */
  parse(line: Disassembled): { register: string; address: number } | undefined;
}

const A64_LOADS: LoadSyntax = {
  width: 8,
  parse(line) {
    const m = /^ldr (x\d+), 0x([0-9a-f]+)$/.exec(line.text);
    return m ? { register: m[1], address: parseInt(m[2], 16) } : undefined;
  },
};

const A32_LOADS: LoadSyntax = {
  width: 4,
  parse(line) {
    const m = /^ldr (r\d+|pc), \[pc(?:, #(\d+))?\]$/.exec(line.text);
    if (!m) return undefined;
    const address = line.address + 8 + Number(m[2] ?? "0");
    assert.equal(line.comment, `@ 0x${address.toString(16)}`, "objdump's computed address");
    return { register: m[1], address };
  },
};

const RV_LOADS: LoadSyntax = {
  width: 8,
  parse(line) {
    // t0 holds the address of the `auipc t0,0x0` at offset 0 (checked below)
    const m = /^ld ([a-z]\d),(-?\d+)\(t0\)$/.exec(line.text);
    return m ? { register: m[1], address: Number(m[2]) } : undefined;
  },
};

/**
 * Disassembles `bytes` and checks: the code is exactly `expected` (and the
 * listing), the encodings match the blob, each literal load reads an aligned slot
 * in the pool after the code holding the value `loads` says, in order, and the
 * pool is exactly the listing's pool.
 */
async function checkStub(
  d: Disassembler,
  syntax: LoadSyntax,
  bytes: Uint8Array,
  listing: string[],
  expected: string[],
  loads: Load[],
): Promise<void> {
  const { code, pool } = splitListing(listing);
  assert.deepEqual(code, expected, "listing");
  const codeSize = code.length * 4;
  assert.equal(bytes.length, codeSize + pool.length * syntax.width, "blob = code + pool");
  assert.equal(codeSize % syntax.width, 0, "pool aligned");

  const lines = (await disassemble(d, bytes)).filter((l) => l.address < codeSize);
  assert.deepEqual(lines.map((l) => l.text), expected, "objdump's disassembly");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  lines.forEach((l, i) => {
    assert.equal(l.address, i * 4);
    assert.equal(parseInt(l.encoding, 16), view.getUint32(i * 4, true), `encoding at ${i * 4}`);
  });

  const seen: Load[] = [];
  for (const line of lines) {
    const load = syntax.parse(line);
    if (!load) continue;
    assert.ok(load.address >= codeSize, `${line.text}: literal inside the pool`);
    assert.ok(load.address + syntax.width <= bytes.length, `${line.text}: literal in the blob`);
    assert.equal(load.address % syntax.width, 0, `${line.text}: literal aligned`);
    const value = syntax.width === 8
      ? Number(view.getBigUint64(load.address, true))
      : view.getUint32(load.address, true);
    seen.push([load.register, value]);
  }
  assert.deepEqual(seen, loads, "literal loads");

  const words = pool.map((_, i) =>
    syntax.width === 8
      ? view.getBigUint64(codeSize + i * 8, true)
      : BigInt(view.getUint32(codeSize + i * 4, true))
  );
  assert.deepEqual(words, pool, "pool = listing");
}

// ---------------------------------------------------------------- armv8

const A64_CPU_ON = [
  "ldr x0, 0x20",
  "ldr x1, 0x28",
  "ldr x2, 0x30",
  "ldr x3, 0x38",
  "hvc #0x0",
  "ldr x0, 0x40",
  "hvc #0x0",
  "b 0x1c",
];
const A64_SELF = [
  "ldr x0, 0x18",
  "mov x1, xzr",
  "mov x2, xzr",
  "mov x3, xzr",
  "ldr x4, 0x20",
  "br x4",
];

const A64_CASES: StubOptions[] = [
  { selfHwid: 0, targetHwid: 0x100, entry: 0x60000000, context: 0x68000000 },
  { selfHwid: 0, targetHwid: 1, entry: 0x40080000, context: 0x48000000 },
  // Aff3 set; entry and context with bits 52..32 set (2^53 - 4096, and near 2^53)
  { selfHwid: 0x100, targetHwid: 0xff00010203, entry: 0x1ffffffffff000, context: 0x1fedcba9876540 },
  { selfHwid: 3, targetHwid: 0, entry: 0, context: 0 },
];

for (const o of A64_CASES) {
  Deno.test({
    name: `armv8 stub: CPU_ON ${JSON.stringify(o)}`,
    ignore: SKIP_AARCH64,
    fn: () =>
      checkStub(AARCH64, A64_LOADS, armv8MonitorStub(o), armv8StubListing(o), A64_CPU_ON, [
        ["x0", 0xc4000003],
        ["x1", o.targetHwid],
        ["x2", o.entry],
        ["x3", o.context],
        ["x0", 0x84000002],
      ]),
  });
}

for (
  const o of [
    { selfHwid: 0x100, targetHwid: 0x100, entry: 0x60000000, context: 0x68000000 },
    { selfHwid: 0xff00000000, targetHwid: 0xff00000000, entry: 0x1ffffffffffffc, context: 2 ** 40 },
  ]
) {
  Deno.test({
    name: `armv8 stub: self-target ${JSON.stringify(o)}`,
    ignore: SKIP_AARCH64,
    fn: () =>
      checkStub(AARCH64, A64_LOADS, armv8MonitorStub(o), armv8StubListing(o), A64_SELF, [
        ["x0", o.context],
        ["x4", o.entry],
      ]),
  });
}

// ---------------------------------------------------------------- armv7

const A32_CPU_ON = [
  "ldr r0, [pc, #24]",
  "ldr r1, [pc, #24]",
  "ldr r2, [pc, #24]",
  "ldr r3, [pc, #24]",
  "hvc 0",
  "ldr r0, [pc, #20]",
  "hvc 0",
  "b 0x1c",
];
const A32_SELF = ["ldr r0, [pc]", "ldr pc, [pc]"];

const A32_CASES: StubOptions[] = [
  { selfHwid: 0, targetHwid: 0x100, entry: 0x60000000, context: 0x68000000 },
  { selfHwid: 0, targetHwid: 2, entry: 0x41fff000, context: 0x48000000 },
  // every affinity byte set; entry and context with bit 31 set; a Thumb entry
  { selfHwid: 0, targetHwid: 0xffffff, entry: 0xfffffffc, context: 0x80000008 },
  { selfHwid: 1, targetHwid: 0, entry: 0x80000001, context: 0xffffffff },
];

for (const o of A32_CASES) {
  Deno.test({
    name: `armv7 stub: CPU_ON ${JSON.stringify(o)}`,
    ignore: SKIP_ARM,
    fn: () =>
      checkStub(ARM, A32_LOADS, armv7MonitorStub(o), armv7StubListing(o), A32_CPU_ON, [
        ["r0", 0x84000003],
        ["r1", o.targetHwid],
        ["r2", o.entry],
        ["r3", o.context],
        ["r0", 0x84000002],
      ]),
  });
}

for (
  const o of [
    { selfHwid: 0x100, targetHwid: 0x100, entry: 0x60000000, context: 0x68000000 },
    { selfHwid: 0, targetHwid: 0, entry: 0xfffffffc, context: 0x80000000 },
  ]
) {
  Deno.test({
    name: `armv7 stub: self-target ${JSON.stringify(o)}`,
    ignore: SKIP_ARM,
    fn: () =>
      checkStub(ARM, A32_LOADS, armv7MonitorStub(o), armv7StubListing(o), A32_SELF, [
        ["r0", o.context],
        ["pc", o.entry],
      ]),
  });
}

// ---------------------------------------------------------------- armv7 boot shim

const BRANCH_MAX = 20 + 32 * 1024 * 1024 - 4; // b at 12 reaches PC + 8 + (2^25 - 4)
const BRANCH_MIN = 20 - 32 * 1024 * 1024; //     … and PC + 8 - 2^25

for (const offset of [0x1000, SHIM_SIZE, 0x1ff0000, BRANCH_MAX, -4, BRANCH_MIN]) {
  Deno.test({
    name: `armv7 boot shim: zImage at ${offset}`,
    ignore: SKIP_ARM,
    async fn() {
      const bytes = armv7BootShim(offset);
      assert.equal(bytes.length, SHIM_SIZE);
      const target = `0x${(offset >>> 0).toString(16)}`;
      const expected = ["mov r2, r0", "mov r0, #0", "mvn r1, #0", `b ${target}`];
      assert.deepEqual(armv7ShimListing(offset), expected);
      const lines = await disassemble(ARM, bytes);
      assert.deepEqual(lines.map((l) => l.text), expected);
      assert.deepEqual(lines.map((l) => l.address), [0, 4, 8, 12]);
    },
  });
}

Deno.test("armv7 boot shim: encodings of the fixed instructions", () => {
  const view = new DataView(armv7BootShim(0x1000).buffer);
  assert.deepEqual(
    [0, 4, 8, 12].map((at) => view.getUint32(at, true)),
    [0xe1a02000, 0xe3a00000, 0xe3e01000, 0xea0003fb],
  );
});

Deno.test("armv7 boot shim: invalid offsets throw", () => {
  for (
    const [offset, message] of [
      [0x1001, /not 4-byte aligned/],
      [0x1002, /not 4-byte aligned/],
      [-2, /not 4-byte aligned/],
      [BRANCH_MAX + 4, /out of reach/],
      [BRANCH_MIN - 4, /out of reach/],
      [0x40000000, /out of reach/],
      [0, /into the 16-byte shim/],
      [12, /into the 16-byte shim/],
      [1.5, /not an integer/],
      [NaN, /not an integer/],
      [2 ** 60, /not an integer/],
    ] as const
  ) {
    assert.throws(() => armv7BootShim(offset), message, String(offset));
    assert.throws(() => armv7ShimListing(offset), message, String(offset));
  }
});

// ---------------------------------------------------------------- riscv

/** One program for every case: the running hart (a0) is compared with the target at run time. */
const RV_STUB = [
  "auipc t0,0x0",
  "ld t1,64(t0)",
  "bne a0,t1,0x18",
  "ld a1,72(t0)",
  "ld t1,80(t0)",
  "jr t1",
  "ld a7,88(t0)",
  "li a6,0",
  "ld a0,64(t0)",
  "ld a1,80(t0)",
  "ld a2,72(t0)",
  "ecall",
  "li a6,1",
  "ecall",
  "j 0x38",
  "nop",
];

const RV_CASES: StubOptions[] = [
  { selfHwid: 0, targetHwid: 3, entry: 0x60000000, context: 0x68000000 },
  { selfHwid: 0, targetHwid: 1, entry: 0x80200000, context: 0x88000000 },
  // the running hart is not known in advance: selfHwid does not change the stub
  { selfHwid: 3, targetHwid: 3, entry: 0x60000000, context: 0x68000000 },
  // hartids are XLEN-wide: bits 52..32 set everywhere
  { selfHwid: 0, targetHwid: 0x1fffffffffffff, entry: 0x1ffffffffffffe, context: 0x10000000000 },
  { selfHwid: 2 ** 52, targetHwid: 2 ** 52, entry: 0x1ffffffffffff0, context: 0x123456789abc },
];

for (const o of RV_CASES) {
  Deno.test({
    name: `riscv stub: jump when a0 is the target, else hart_start ${JSON.stringify(o)}`,
    ignore: SKIP_RISCV,
    fn: () =>
      checkStub(RISCV, RV_LOADS, riscvMonitorStub(o), riscvStubListing(o), RV_STUB, [
        ["t1", o.targetHwid],
        ["a1", o.context],
        ["t1", o.entry],
        ["a7", 0x48534d],
        ["a0", o.targetHwid],
        ["a1", o.entry],
        ["a2", o.context],
      ]),
  });
}

/** With idle harts: each (but the running one) is started at the parking code first. */
const RV_PARKING_STUB = [
  "auipc t0,0x0",
  "mv t2,a0",
  "ld a7,152(t0)",
  "li a6,0",
  "ld a2,152(t0)",
  "ld a0,160(t0)",
  "beq a0,t2,0x24",
  "add a1,t0,112",
  "ecall",
  "ld a0,168(t0)",
  "beq a0,t2,0x34",
  "add a1,t0,112",
  "ecall",
  "mv a0,t2",
  "ld t1,128(t0)",
  "bne a0,t1,0x4c",
  "ld a1,136(t0)",
  "ld t1,144(t0)",
  "jr t1",
  "ld a7,152(t0)",
  "li a6,0",
  "ld a0,128(t0)",
  "ld a1,144(t0)",
  "ld a2,136(t0)",
  "ecall",
  "li a6,1",
  "ecall",
  "j 0x6c",
  "mv a7,a1",
  "li a6,1",
  "ecall",
  "j 0x7c",
];

Deno.test({
  name: "riscv stub: idle harts are started at code that stops them, the running one skipped",
  ignore: SKIP_RISCV,
  fn: () => {
    const o = { selfHwid: 0, targetHwid: 2, entry: 0x80200000, context: 0x82200000 };
    const parking = { ...o, idleHwids: [0, 1] };
    return checkStub(
      RISCV,
      RV_LOADS,
      riscvMonitorStub(parking),
      riscvStubListing(parking),
      RV_PARKING_STUB,
      [
        ["a7", 0x48534d],
        ["a2", 0x48534d],
        ["a0", 0],
        ["a0", 1],
        ["t1", o.targetHwid],
        ["a1", o.context],
        ["t1", o.entry],
        ["a7", 0x48534d],
        ["a0", o.targetHwid],
        ["a1", o.entry],
        ["a2", o.context],
      ],
    );
  },
});

Deno.test("riscv stub: the target cannot be idle; idle hartids are checked like the others", () => {
  const o = { selfHwid: 0, targetHwid: 2, entry: 0x80200000, context: 0x82200000 };
  assert.throws(() => riscvMonitorStub({ ...o, idleHwids: [2] }), /cannot also be idle/);
  assert.throws(
    () => riscvMonitorStub({ ...o, idleHwids: [-1] }),
    /idleHwids -1 is not an integer/,
  );
});

Deno.test("riscv stub: the same bytes whichever hart runs it", () => {
  const o = { selfHwid: 0, targetHwid: 2, entry: 0x90000000, context: 0x92400000 };
  assert.deepEqual(riscvMonitorStub(o), riscvMonitorStub({ ...o, selfHwid: 2 }));
});

// ---------------------------------------------------------------- invalid inputs

const GOOD: StubOptions = { selfHwid: 0, targetHwid: 1, entry: 0x60000000, context: 0x68000000 };

Deno.test("stubs: values a JS number cannot hold exactly, negatives and fractions throw", () => {
  const bad: [keyof StubOptions, number][] = [
    ["targetHwid", 2 ** 53],
    ["targetHwid", 2 ** 64],
    ["entry", 2 ** 53 + 8],
    ["context", -1],
    ["context", 1.5],
    ["selfHwid", NaN],
    ["entry", Infinity],
  ];
  for (const [key, value] of bad) {
    const o = { ...GOOD, [key]: value };
    for (const make of [armv8MonitorStub, armv8StubListing, riscvMonitorStub, riscvStubListing]) {
      assert.throws(() => make(o), new RegExp(`${key} .* is not an integer in 0\\.\\.2\\^53-1`));
    }
    assert.throws(() => armv7MonitorStub(o), new RegExp(`${key} .* is not a 32-bit unsigned`));
  }
});

Deno.test("stubs: the largest safe integer is accepted on 64-bit architectures", () => {
  const max = Number.MAX_SAFE_INTEGER;
  const o = { ...GOOD, targetHwid: max, context: max };
  const view = new DataView(armv8MonitorStub(o).buffer);
  assert.equal(view.getBigUint64(0x28, true), 2n ** 53n - 1n);
  assert.equal(view.getBigUint64(0x38, true), 2n ** 53n - 1n);
  const rv = new DataView(riscvMonitorStub(o).buffer);
  assert.equal(rv.getBigUint64(64, true), 2n ** 53n - 1n);
  assert.equal(rv.getBigUint64(72, true), 2n ** 53n - 1n);
});

Deno.test("stubs: armv7 values beyond 32 bits throw", () => {
  for (const key of ["selfHwid", "targetHwid", "entry", "context"] as const) {
    assert.throws(() => armv7MonitorStub({ ...GOOD, [key]: 2 ** 32 }), /not a 32-bit unsigned/);
    assert.throws(() => armv7StubListing({ ...GOOD, [key]: 2 ** 32 + 4 }), /32-bit/);
  }
});

Deno.test("stubs: misaligned entries throw", () => {
  assert.throws(() => armv8MonitorStub({ ...GOOD, entry: 0x60000002 }), /not 4-byte aligned/);
  assert.throws(() => armv8MonitorStub({ ...GOOD, entry: 0x60000001 }), /not 4-byte aligned/);
  assert.throws(() => armv7MonitorStub({ ...GOOD, entry: 0x60000002 }), /neither ARM code/);
  assert.throws(() => riscvMonitorStub({ ...GOOD, entry: 0x60000001 }), /not 2-byte aligned/);
  // self-target paths validate too
  const self = { ...GOOD, targetHwid: 0, entry: 0x60000002 };
  assert.throws(() => armv8MonitorStub(self), /not 4-byte aligned/);
  assert.throws(() => armv7MonitorStub(self), /neither ARM code/);
});

Deno.test("stubs: the blob is deterministic and follows its parameters", () => {
  for (const make of [armv8MonitorStub, armv7MonitorStub, riscvMonitorStub]) {
    assert.deepEqual(make(GOOD), make({ ...GOOD }));
    assert.notDeepEqual(make(GOOD), make({ ...GOOD, entry: 0x60001000 }));
  }
});
