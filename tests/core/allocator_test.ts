import assert from "node:assert/strict";
import fc from "fast-check";
import { armv7 } from "../../arch/armv7/mod.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { riscv } from "../../arch/riscv/mod.ts";
import { loadBoardYaml } from "../../core/board/load.ts";
import { ConflictError, InputError } from "../../core/errors.ts";
import type { Board, PartitionSpec, Range } from "../../core/model.ts";
import {
  allocate,
  DEFAULT_MEMORY,
  type Holder,
  PAGE,
  WINDOW_ALIGNMENT,
} from "../../core/partition/allocate.ts";
import { contains, formatRange, overlaps, rangeEnd } from "../../core/ranges.ts";
import type { ArchPlugin } from "../../core/registry/plugin.ts";
import { alignUp, GiB, KiB, MiB } from "../../core/units.ts";

const ARCHES: Record<string, ArchPlugin> = { armv7: armv7(), armv8: armv8(), riscv: riscv() };

const BOARD_FILES = [
  "boards/qemu-virt-arm.yaml",
  "boards/qemu-virt-arm64.yaml",
  "boards/qemu-virt-riscv64.yaml",
];

async function loadBoard(file: string): Promise<Board> {
  const text = await Deno.readTextFile(new URL(`../../${file}`, import.meta.url));
  return loadBoardYaml(text, file, (name) => ARCHES[name]).board;
}

const [ARM, ARM64, RISCV] = await Promise.all(BOARD_FILES.map(loadBoard));
const BOARDS = [ARM, ARM64, RISCV];

/** Runs `run` expecting an error of `type` whose message matches; returns it. */
function throwsOf<E extends Error>(
  run: () => unknown,
  type: new (...args: never[]) => E,
  message: RegExp,
): E {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.match(caught.message, message);
  return caught;
}

/** Allocates and appends to `holders`. */
function add(board: Board, holders: Holder[], spec: PartitionSpec): Holder {
  const holder = { name: spec.name, allocation: allocate(board, holders, spec) };
  holders.push(holder);
  return holder;
}

Deno.test("the default allocation: lowest free core, 256 MiB above the reservation, default devices", () => {
  for (const board of BOARDS) {
    const a = allocate(board, [], { name: "a" });
    assert.deepEqual(a.cores, [1]);
    assert.equal(a.bootCore, 1);
    assert.equal(a.memory.size, DEFAULT_MEMORY);
    assert.equal(DEFAULT_MEMORY, 256 * MiB);
    assert.deepEqual(a.devices, ["uart0"]);
  }
  assert.deepEqual(allocate(ARM64, [], { name: "a" }).memory, {
    base: 0x50000000,
    size: 256 * MiB,
  });
  assert.deepEqual(allocate(RISCV, [], { name: "a" }).memory, {
    base: 0x90000000,
    size: 256 * MiB,
  });
});

Deno.test("a core count picks the lowest free cores", () => {
  const holders: Holder[] = [];
  assert.deepEqual(add(ARM64, holders, { name: "a", cpus: 2 }).allocation.cores, [1, 2]);
  assert.deepEqual(add(ARM64, holders, { name: "b", cpus: 1 }).allocation.cores, [3]);
  holders.splice(0, 1); // destroy a
  const c = add(ARM64, holders, { name: "c", cpus: 1 }).allocation;
  assert.deepEqual(c.cores, [1]);
  assert.equal(c.bootCore, 1);
});

Deno.test("explicit core ids are sorted and the lowest boots", () => {
  const a = allocate(RISCV, [], { name: "a", cpuIds: [3, 2] });
  assert.deepEqual(a.cores, [2, 3]);
  assert.equal(a.bootCore, 2);
});

Deno.test("core ids held by the management partition are refused naming it", () => {
  const error = throwsOf(
    () => allocate(ARM64, [], { name: "a", cpuIds: [0, 1] }),
    ConflictError,
    /^core 0 is held by the management partition$/,
  );
  assert.equal(error.exitCode, 1);
  assert.equal(error.where, "a");
});

Deno.test("core ids held by another partition are refused naming the holder", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "web", cpuIds: [2, 3] });
  throwsOf(
    () => allocate(ARM64, holders, { name: "db", cpuIds: [1, 2, 3] }),
    ConflictError,
    /^cores 2,3 are held by partition web$/,
  );
  throwsOf(
    () => allocate(ARM64, holders, { name: "db", cpuIds: [0, 3] }),
    ConflictError,
    /core 0 is held by the management partition; core 3 by partition web/,
  );
});

Deno.test("a core count larger than what is free is a conflict naming the holders", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a", cpus: 2 });
  throwsOf(
    () => allocate(ARM64, holders, { name: "b", cpus: 2 }),
    ConflictError,
    /2 cores requested, 1 free: core 0 is held by the management partition; cores 1,2 by partition a/,
  );
});

Deno.test("bad core requests are InputErrors", () => {
  throwsOf(() => allocate(ARM64, [], { name: "a", cpus: 5 }), InputError, /has only 4 cores/);
  throwsOf(() => allocate(ARM64, [], { name: "a", cpus: 0 }), InputError, /at least 1/);
  throwsOf(() => allocate(ARM64, [], { name: "a", cpus: 1.5 }), InputError, /whole number/);
  throwsOf(() => allocate(ARM64, [], { name: "a", cpuIds: [] }), InputError, /list is empty/);
  throwsOf(() => allocate(ARM64, [], { name: "a", cpuIds: [7] }), InputError, /has no core 7/);
  throwsOf(() => allocate(ARM64, [], { name: "a", cpuIds: [2, 2] }), InputError, /listed twice/);
  throwsOf(
    () => allocate(ARM64, [], { name: "a", cpus: 1, cpuIds: [1] }),
    InputError,
    /either a core count or core ids/,
  );
});

Deno.test("memory by base overlapping a reservation is a conflict naming it", () => {
  const error = throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 512 * MiB, memoryBase: 0x4ff00000 }),
    ConflictError,
    /window 0x4ff00000-0x6fefffff overlaps 0x40000000-0x4fffffff held by the management partition/,
  );
  assert.equal(error.exitCode, 1);
  throwsOf(
    () => allocate(RISCV, [], { name: "a", memory: 4 * MiB, memoryBase: 0x80000000 }),
    ConflictError,
    /held by the monitor/,
  );
});

Deno.test("memory by base overlapping another partition is a conflict naming it", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "first", memory: 64 * MiB, memoryBase: 0x60000000 });
  throwsOf(
    () => allocate(ARM64, holders, { name: "b", memory: 8 * MiB, memoryBase: 0x63fff000 }),
    ConflictError,
    /held by partition first/,
  );
  // Touching is fine.
  const b = allocate(ARM64, holders, { name: "b", memory: 8 * MiB, memoryBase: 0x64000000 });
  assert.deepEqual(b.memory, { base: 0x64000000, size: 8 * MiB });
});

Deno.test("memory base outside RAM is an InputError", () => {
  throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 16 * MiB, memoryBase: 0x10000000 }),
    InputError,
    /is not inside the RAM of board qemu-virt-arm64/,
  );
  throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 16 * MiB, memoryBase: 0xbf800000 }),
    InputError,
    /window 0xbf800000-0xc07fffff is not inside the RAM of board qemu-virt-arm64 \(0x40000000-0xbfffffff\)/,
  );
  const crossing = throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 32 * MiB, memoryBase: 0xbf000000 }),
    InputError,
    /is not inside the RAM/,
  );
  assert.ok(!(crossing instanceof ConflictError));
  assert.equal(crossing.where, "--memory-base");
  // The last 16 MiB of RAM are fine.
  const last = allocate(ARM64, [], { name: "a", memory: 16 * MiB, memoryBase: 0xbf000000 });
  assert.equal(rangeEnd(last.memory), 0xc0000000);
});

Deno.test("unaligned sizes and bases are InputErrors", () => {
  throwsOf(() => allocate(ARM64, [], { name: "a", memory: 1000 }), InputError, /multiple of 4 KiB/);
  throwsOf(() => allocate(ARM64, [], { name: "a", memory: 0 }), InputError, /positive multiple/);
  throwsOf(() => allocate(ARM64, [], { name: "a", memory: -4096 }), InputError, /positive/);
  throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 4 * KiB + 1 }),
    InputError,
    /multiple of 4 KiB/,
  );
  throwsOf(
    () => allocate(ARM64, [], { name: "a", memory: 4 * MiB, memoryBase: 0x60000800 }),
    InputError,
    /0x60000800 is not 4 KiB aligned/,
  );
  // 4 KiB granules are enough for sizes and explicit bases.
  const a = allocate(ARM64, [], { name: "a", memory: 12 * KiB, memoryBase: 0x60001000 });
  assert.deepEqual(a.memory, { base: 0x60001000, size: 12 * KiB });
});

Deno.test("unknown and repeated devices are InputErrors", () => {
  throwsOf(
    () => allocate(ARM64, [], { name: "a", devices: ["uart0", "nic7"] }),
    InputError,
    /board qemu-virt-arm64 has no device 'nic7' \(devices: uart0, rtc0, gpio0, virtio0/,
  );
  throwsOf(
    () => allocate(RISCV, [], { name: "a", devices: ["gpio0"] }),
    InputError,
    /has no device 'gpio0'/,
  );
  throwsOf(
    () => allocate(ARM64, [], { name: "a", devices: ["rtc0", "rtc0"] }),
    InputError,
    /device 'rtc0' is listed twice/,
  );
});

Deno.test("an exclusive device taken by another partition is a conflict naming it", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a", devices: ["uart0", "virtio0"] });
  throwsOf(
    () => allocate(ARM64, holders, { name: "b", devices: ["virtio0"] }),
    ConflictError,
    /^device virtio0 is held by partition a$/,
  );
  const b = allocate(ARM64, holders, { name: "b", devices: ["virtio1"] });
  assert.deepEqual(b.devices, ["virtio1"]);
});

Deno.test("the per-partition uart0 is shared by every partition", () => {
  const holders: Holder[] = [];
  for (const name of ["a", "b", "c"]) {
    assert.deepEqual(add(RISCV, holders, { name, memory: 64 * MiB }).allocation.devices, ["uart0"]);
  }
  assert.deepEqual(
    allocate(ARM, holders.slice(0, 2), { name: "d", devices: ["uart0", "rtc0"] }).devices,
    ["uart0", "rtc0"],
  );
});

Deno.test("a partition may ask for no devices at all", () => {
  assert.deepEqual(allocate(ARM64, [], { name: "a", devices: [] }).devices, []);
});

Deno.test("a duplicate name is a conflict", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a" });
  const error = throwsOf(
    () => allocate(ARM64, holders, { name: "a" }),
    ConflictError,
    /^partition 'a' already exists$/,
  );
  assert.equal(error.exitCode, 1);
});

Deno.test("a bad partition name is an InputError", () => {
  for (const name of ["", "-a", "a b", "a/b", "x".repeat(65)]) {
    throwsOf(() => allocate(ARM64, [], { name }), InputError, /partition name/);
  }
});

Deno.test("windows the allocator picks are 2 MiB aligned, even after 4 KiB-granular windows", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "odd", memory: 4 * KiB, memoryBase: 0x50000000 });
  const a = add(ARM64, holders, { name: "a", memory: 12 * KiB }).allocation.memory;
  assert.equal(a.base % WINDOW_ALIGNMENT, 0);
  assert.equal(a.base, 0x50200000);
  const b = add(ARM64, holders, { name: "b", memory: 2 * MiB }).allocation.memory;
  assert.equal(b.base, 0x50400000);
  assert.equal(WINDOW_ALIGNMENT, 2 * MiB);
  assert.equal(PAGE, 4 * KiB);
});

Deno.test("the allocator fills a gap left by a destroyed partition", () => {
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a", memory: 256 * MiB });
  add(ARM64, holders, { name: "b", memory: 256 * MiB });
  assert.deepEqual(holders.map((h) => h.allocation.memory.base), [0x50000000, 0x60000000]);
  holders.shift();
  assert.equal(
    add(ARM64, holders, { name: "c", memory: 128 * MiB }).allocation.memory.base,
    0x50000000,
  );
});

Deno.test("no room for a window is a conflict naming the largest free window", () => {
  throwsOf(
    () => allocate(RISCV, [], { name: "a", memory: 2 * GiB }),
    ConflictError,
    /no free 2 GiB window on board qemu-virt-riscv64: the largest free 2 MiB-aligned window is 1 GiB/,
  );
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a", memory: 1 * GiB });
  throwsOf(
    () => allocate(ARM64, holders, { name: "b", memory: 1 * GiB }),
    ConflictError,
    /largest free 2 MiB-aligned window is 768 MiB/,
  );
  assert.equal(allocate(ARM64, holders, { name: "b", memory: 768 * MiB }).memory.base, 0x90000000);
});

Deno.test("allocate is pure: it does not change the board or the holders", () => {
  const before = JSON.stringify(ARM64);
  const holders: Holder[] = [];
  add(ARM64, holders, { name: "a", cpus: 2, devices: ["uart0", "rtc0"] });
  const snapshot = JSON.stringify(holders);
  allocate(ARM64, holders, { name: "b" });
  try {
    allocate(ARM64, holders, { name: "c", devices: ["rtc0"] });
  } catch {
    // expected conflict
  }
  assert.equal(JSON.stringify(ARM64), before);
  assert.equal(JSON.stringify(holders), snapshot);
});

// ---------------------------------------------------------------------------
// The property test: random sequences of creates and destroys on every board.

type Op =
  | {
    kind: "create";
    cores:
      | { cpus: number }
      | { cpuIds: number[] }
      | { picks: number[] }
      | { both: true }
      | undefined;
    memory: number | undefined;
    /** Offset of an explicit base from the board's RAM base (may fall outside RAM). */
    baseOffset: number | undefined;
    devices: { picks: number[]; unknown: boolean } | undefined;
    /** Reuse the name of an existing partition (index modulo their count). */
    reuseName: number | undefined;
  }
  | { kind: "destroy"; index: number };

const memoryArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 512 }).map((n) => n * 2 * MiB) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 64 * 1024 }).map((n) => n * 4 * KiB) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1024 }).map((n) => n * 2 * MiB) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 * MiB }) }, // mostly unaligned
);

const baseOffsetArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: -16 * 1024, max: (2 * GiB + 64 * MiB) / PAGE }).map((n) =>
      n * PAGE
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -64, max: 1024 }).map((n) => n * 2 * MiB) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * GiB }) }, // mostly unaligned
);

const coresArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }).map((cpus) => ({ cpus })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 4, 5).map((cpus) => ({ cpus })) },
  {
    // Free-looking cores: picks into the board's assignable core ids (deduplicated).
    weight: 6,
    arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }).map((picks) => ({ picks })),
  },
  {
    // Any ids, including the management partition's core 0 and ids the board lacks.
    weight: 1,
    arbitrary: fc.shuffledSubarray([0, 1, 2, 3, 4, 99]).map((cpuIds) => ({ cpuIds })),
  },
  { weight: 1, arbitrary: fc.constant({ both: true as const }) },
);

/** Device choices as indexes into the board's device list, sometimes with an unknown name. */
const devicesArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6], { maxLength: 3 }).map((picks) => ({
      picks,
      unknown: false,
    })),
  },
  {
    weight: 1,
    arbitrary: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6]).map((picks) => ({
      picks,
      unknown: true,
    })),
  },
);

const createArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant("create" as const),
  cores: coresArb,
  memory: memoryArb,
  baseOffset: baseOffsetArb,
  devices: devicesArb,
  reuseName: fc.oneof(
    { weight: 19, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.nat() },
  ),
});

const destroyArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant("destroy" as const),
  index: fc.nat(),
});

const opsArb = fc.array(
  fc.oneof({ weight: 2, arbitrary: createArb }, { weight: 1, arbitrary: destroyArb }),
  { minLength: 1, maxLength: 40, size: "max" },
);

function specOf(
  board: Board,
  op: Extract<Op, { kind: "create" }>,
  holders: Holder[],
  step: number,
) {
  const name = op.reuseName !== undefined && holders.length > 0
    ? holders[op.reuseName % holders.length].name
    : `p${step}`;
  const spec: PartitionSpec = { name };
  if (op.cores && "cpus" in op.cores) spec.cpus = op.cores.cpus;
  if (op.cores && "cpuIds" in op.cores) spec.cpuIds = op.cores.cpuIds;
  if (op.cores && "picks" in op.cores) {
    const kept = new Set(board.reserved.flatMap((r) => r.cores));
    const free = board.cores.map((c) => c.id).filter((id) => !kept.has(id));
    spec.cpuIds = [...new Set(op.cores.picks.map((p) => free[p % free.length]))];
  }
  if (op.cores && "both" in op.cores) {
    spec.cpus = 1;
    spec.cpuIds = [1];
  }
  if (op.memory !== undefined) spec.memory = op.memory;
  if (op.baseOffset !== undefined) spec.memoryBase = board.memory[0].base + op.baseOffset;
  if (op.devices !== undefined) {
    const known = op.devices.picks.filter((i) => i < board.devices.length);
    spec.devices = known.map((i) => board.devices[i].name);
    if (op.devices.unknown) spec.devices.push("nosuch");
  }
  return spec;
}

/** The lowest 2 MiB-aligned base where `size` bytes fit clear of `used`, or undefined. */
function lowestFit(board: Board, used: readonly Range[], size: number): number | undefined {
  let best: number | undefined;
  for (const ram of board.memory) {
    const candidates = [ram.base, ...used.map(rangeEnd)].map((a) => alignUp(a, WINDOW_ALIGNMENT));
    for (const base of candidates) {
      const window = { base, size };
      if (!contains(ram, window) || used.some((u) => overlaps(u, window))) continue;
      if (best === undefined || base < best) best = base;
    }
  }
  return best;
}

interface Reserved {
  cores: Set<number>;
  devices: Set<string>;
  memory: Range[];
}

function reservedOf(board: Board): Reserved {
  return {
    cores: new Set(board.reserved.flatMap((r) => r.cores)),
    devices: new Set(board.reserved.flatMap((r) => r.devices)),
    memory: board.reserved.flatMap((r) => r.memory),
  };
}

/** Every invariant of a set of allocations on a board. */
function checkInvariants(
  board: Board,
  reserved: Reserved,
  holders: readonly Holder[],
  pickedBase: ReadonlySet<string>,
): void {
  const boardCores = new Set(board.cores.map((c) => c.id));
  const exclusive = new Set(
    board.devices.filter((d) => d.sharing === "exclusive").map((d) => d.name),
  );
  const coreHolder = new Map<number, string>();
  const deviceHolder = new Map<string, string>();
  const names = new Set<string>();
  holders.forEach((h, i) => {
    const { cores, bootCore, memory, devices } = h.allocation;
    assert.ok(!names.has(h.name), `name ${h.name} is unique`);
    names.add(h.name);

    assert.ok(cores.length > 0, `${h.name} has a core`);
    assert.deepEqual(cores, [...cores].sort((a, b) => a - b), "cores ascending");
    assert.equal(bootCore, cores[0]);
    for (const core of cores) {
      assert.ok(boardCores.has(core), `core ${core} exists`);
      assert.ok(!reserved.cores.has(core), `${h.name} holds reserved core ${core}`);
      const other = coreHolder.get(core);
      assert.equal(other, undefined, `core ${core} held by ${other} and ${h.name}`);
      coreHolder.set(core, h.name);
    }

    assert.ok(memory.size > 0);
    assert.equal(memory.base % PAGE, 0, `${h.name} base 4 KiB aligned`);
    assert.equal(memory.size % PAGE, 0, `${h.name} size 4 KiB aligned`);
    if (pickedBase.has(h.name)) {
      assert.equal(memory.base % WINDOW_ALIGNMENT, 0, `${h.name}: picked base 2 MiB aligned`);
    }
    assert.ok(board.memory.some((ram) => contains(ram, memory)), `${h.name} window inside RAM`);
    for (const kept of reserved.memory) {
      assert.ok(!overlaps(kept, memory), `${h.name} ${formatRange(memory)} touches reserved`);
    }
    for (const other of holders.slice(0, i)) {
      assert.ok(
        !overlaps(other.allocation.memory, memory),
        `${other.name} ${formatRange(other.allocation.memory)} and ${h.name} ${
          formatRange(memory)
        } overlap`,
      );
    }

    assert.equal(new Set(devices).size, devices.length, "no device twice");
    for (const device of devices) {
      assert.ok(board.devices.some((d) => d.name === device), `device ${device} exists`);
      assert.ok(!reserved.devices.has(device), `${h.name} holds reserved device ${device}`);
      if (exclusive.has(device)) {
        const other = deviceHolder.get(device);
        assert.equal(other, undefined, `exclusive ${device} held by ${other} and ${h.name}`);
        deviceHolder.set(device, h.name);
      }
    }
  });
}

/** Checks that a successful allocation gives what the spec asked for. */
function checkMatchesSpec(board: Board, spec: PartitionSpec, holder: Holder): void {
  const a = holder.allocation;
  if (spec.cpuIds) assert.deepEqual(a.cores, [...spec.cpuIds].sort((x, y) => x - y));
  else assert.equal(a.cores.length, spec.cpus ?? 1);
  assert.equal(a.memory.size, spec.memory ?? DEFAULT_MEMORY);
  if (spec.memoryBase !== undefined) assert.equal(a.memory.base, spec.memoryBase);
  assert.deepEqual(
    a.devices,
    spec.devices ?? board.devices.filter((d) => d.default).map((d) => d.name),
  );
}

type ConflictKind = "name" | "core-count" | "core-ids" | "window" | "no-window" | "device";

/** Checks that a conflict is justified (the resource really is held); returns its kind. */
function checkConflictJustified(
  board: Board,
  reserved: Reserved,
  holders: readonly Holder[],
  spec: PartitionSpec,
  error: ConflictError,
): ConflictKind {
  const heldCores = new Set([...reserved.cores, ...holders.flatMap((h) => h.allocation.cores)]);
  const used = [...reserved.memory, ...holders.map((h) => h.allocation.memory)];
  const size = spec.memory ?? DEFAULT_MEMORY;
  const m = error.message;
  assert.equal(error.where, spec.name, "a conflict names the partition being created");
  if (/already exists/.test(m)) {
    assert.ok(holders.some((h) => h.name === spec.name), m);
    return "name";
  }
  if (/cores? requested/.test(m)) {
    const free = board.cores.filter((c) => !heldCores.has(c.id)).length;
    assert.ok(spec.cpuIds === undefined && free < (spec.cpus ?? 1), m);
    return "core-count";
  }
  if (/^cores? [\d,]+ (is|are) held/.test(m)) {
    assert.ok(spec.cpuIds!.some((id) => heldCores.has(id)), m);
    return "core-ids";
  }
  if (/^window .* overlaps/.test(m)) {
    assert.ok(spec.memoryBase !== undefined, m);
    const window = { base: spec.memoryBase, size };
    assert.ok(used.some((u) => overlaps(u, window)), m);
    return "window";
  }
  if (/^no free .* window/.test(m)) {
    assert.equal(spec.memoryBase, undefined);
    assert.equal(lowestFit(board, used, size), undefined, `a ${size}-byte window fits: ${m}`);
    return "no-window";
  }
  if (/^device .* is held by/.test(m)) {
    const name = /^device (\S+)/.exec(m)![1];
    const held = reserved.devices.has(name) ||
      holders.some((h) =>
        h.allocation.devices.includes(name) &&
        board.devices.find((d) => d.name === name)!.sharing === "exclusive"
      );
    assert.ok(held, m);
    return "device";
  }
  assert.fail(`unexpected conflict message: ${m}`);
}

/** Checks that an InputError about memory is justified by the spec. */
function checkInputJustified(board: Board, spec: PartitionSpec, error: InputError): void {
  const m = error.message;
  assert.ok(!m.includes("\n"), "one line");
  const size = spec.memory ?? DEFAULT_MEMORY;
  if (/^memory size/.test(m)) {
    assert.ok(size <= 0 || size % PAGE !== 0, m);
  } else if (/^memory base .* not 4 KiB aligned/.test(m)) {
    assert.ok(spec.memoryBase! % PAGE !== 0, m);
  } else if (/is not inside the RAM/.test(m)) {
    const window = { base: spec.memoryBase!, size };
    assert.ok(!board.memory.some((ram) => contains(ram, window)), m);
  }
}

interface Outcomes {
  successes: number;
  inputErrors: number;
  conflicts: Record<ConflictKind, number>;
}

/** Runs random create/destroy sequences on `board`, checking every invariant after every step. */
function runAllocatorProperty(board: Board): Outcomes {
  const reserved = reservedOf(board);
  const outcomes: Outcomes = {
    successes: 0,
    inputErrors: 0,
    conflicts: {
      "name": 0,
      "core-count": 0,
      "core-ids": 0,
      "window": 0,
      "no-window": 0,
      "device": 0,
    },
  };
  fc.assert(
    fc.property(opsArb, (ops) => {
      const holders: Holder[] = [];
      const picked = new Set<string>();
      ops.forEach((op, step) => {
        if (op.kind === "destroy") {
          if (holders.length > 0) {
            const [gone] = holders.splice(op.index % holders.length, 1);
            picked.delete(gone.name);
          }
        } else {
          const spec = specOf(board, op, holders, step);
          const before = JSON.stringify(holders);
          let allocation;
          try {
            allocation = allocate(board, holders, spec);
          } catch (error) {
            // Only the two user-facing kinds of refusal; anything else is a bug.
            if (error instanceof ConflictError) {
              outcomes.conflicts[checkConflictJustified(board, reserved, holders, spec, error)]++;
            } else if (error instanceof InputError) {
              checkInputJustified(board, spec, error);
              outcomes.inputErrors++;
            } else {
              throw error;
            }
            assert.equal(JSON.stringify(holders), before, "a failed allocate changes nothing");
          }
          if (allocation) {
            const holder = { name: spec.name, allocation };
            checkMatchesSpec(board, spec, holder);
            if (spec.memoryBase === undefined) picked.add(spec.name);
            holders.push(holder);
            outcomes.successes++;
          }
        }
        checkInvariants(board, reserved, holders, picked);
      });
    }),
    { seed: 42, numRuns: 300 },
  );
  return outcomes;
}

for (const board of BOARDS) {
  Deno.test(`property: random creates and destroys on ${board.name} never double-allocate`, () => {
    const outcomes = runAllocatorProperty(board);
    // The generators reach both outcomes and the main kinds of conflict.
    assert.ok(outcomes.successes > 1000, JSON.stringify(outcomes));
    assert.ok(outcomes.inputErrors > 1000, JSON.stringify(outcomes));
    for (
      const kind of ["name", "core-count", "core-ids", "window", "no-window", "device"] as const
    ) {
      assert.ok(outcomes.conflicts[kind] > 0, `${kind}: ${JSON.stringify(outcomes)}`);
    }
  });
}

Deno.test("property: on a 32-core variant of qemu-virt-arm64, memory runs out but never double-allocates", async () => {
  // More cores than the built-in boards have, so that memory, not cores, is what runs out.
  const text = await Deno.readTextFile(
    new URL("../../boards/qemu-virt-arm64.yaml", import.meta.url),
  );
  const cores = Array.from({ length: 32 }, (_, i) => `  - { id: ${i}, hwid: 0x${i.toString(16)} }`);
  const wide = text.replace(/^cores:\n( {2}- .*\n)+/m, `cores:\n${cores.join("\n")}\n`)
    .replace(/^name: .*$/m, "name: wide-arm64");
  const board = loadBoardYaml(wide, "wide.yaml", (name) => ARCHES[name]).board;
  assert.equal(board.cores.length, 32);
  const outcomes = runAllocatorProperty(board);
  assert.ok(outcomes.successes > 1200, JSON.stringify(outcomes));
  assert.ok(outcomes.conflicts["no-window"] > 50, JSON.stringify(outcomes));
  assert.ok(outcomes.conflicts["window"] > 150, JSON.stringify(outcomes));
});
