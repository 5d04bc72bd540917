/**
 * The monitor helper (`deno task bench --only helper`):
 *
 * - Loading a 256 MiB image into a sim's `memory.img` through the helper (the
 *   `memory_write` of a file a start makes: mapped and written with `pwrite` in C,
 *   no bytes through JavaScript) against `dd … of=memory.img seek=… conv=notrunc` of the
 *   same bytes into the same file at the same offset, and `cp` of them into a new
 *   file beside it (cp cannot write at an offset). Same run, interleaved; the
 *   source is in the page cache for all, every destination starts as a hole (the
 *   sim's destroy punches the window, dd's range is punched, cp's file is new),
 *   nothing is fsynced. Target: the helper ≥ 0.9× their throughput. The helper's
 *   write of the same bytes from a JS Uint8Array (zero-copy `buffer`) is shown too.
 * - FFI call overhead: ns per call of a trivial exported function
 *   (`vmh_abi_version`) next to a plain JS function call, and one whole sim
 *   request (`partitionStatus`: lock, read monitor.json, answer).
 *
 * Usage: deno task bench --only helper [--runs N]   (runs default 5, at most 10)
 */
import { loadHelper } from "../../core/monitor/helper.ts";
import { SimMonitor } from "../../core/monitor/sim.ts";
import { buildRegistry } from "../../core/registry/discover.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";
import { runsFlag } from "./measure.ts";

const RUNS = Math.min(10, runsFlag(5));
const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const BASE = 0x50000000; // the window's base on qemu-virt-arm64 (RAM base 0x40000000)
const OFFSET = BASE - 0x40000000;

const registry = await buildRegistry({
  builtins: await builtinPlugins(),
  boardFiles: await builtinBoards(),
  pluginDirs: [],
  defaultDirs: true,
  warn: () => {},
});
const board = registry.get("board", "qemu-virt-arm64").board;
const helper = loadHelper();

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const dir = await Deno.makeTempDir({ prefix: "vman-bench-helper-" });
try {
  // A 256 MiB image of pseudo-random bytes (not zeros, which a copy could skip).
  const image = `${dir}/image.bin`;
  const bytes = new Uint8Array(SIZE);
  let x = 0x12345678;
  const words = new Uint32Array(bytes.buffer);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  await Deno.writeFile(image, bytes);
  await run("cat", [image]); // in the page cache for every method alike

  const state = `${dir}/state`;
  const sim = new SimMonitor({ stateDir: state, board });
  const memory = sim.memory.path;
  const ms: Record<string, number[]> = { helper: [], "helper (bytes)": [], dd: [], cp: [] };

  const viaHelper = async (
    source: { path: string } | { bytes: Uint8Array },
  ): Promise<number> => {
    await sim.partitionCreate(1);
    await sim.partitionAddMemory(1, { base: BASE, size: 512 * MiB });
    const start = performance.now();
    await sim.memoryWrite(1, BASE, source);
    const elapsed = performance.now() - start;
    await sim.partitionDestroy(1); // punches the window: a hole again
    return elapsed;
  };

  for (let i = 0; i < RUNS + 1; i++) {
    const warm = i === 0;
    const t1 = await viaHelper({ path: image });

    await run("fallocate", ["-p", "-o", String(OFFSET), "-l", String(SIZE), memory]);
    let start = performance.now();
    await run("dd", [
      `if=${image}`,
      `of=${memory}`,
      "bs=4M",
      `seek=${OFFSET / (4 * MiB)}`,
      "conv=notrunc",
      "status=none",
    ]);
    const t2 = performance.now() - start;
    await run("fallocate", ["-p", "-o", String(OFFSET), "-l", String(SIZE), memory]);

    const copy = `${dir}/copy.bin`;
    start = performance.now();
    await run("cp", [image, copy]);
    const t3 = performance.now() - start;
    await Deno.remove(copy);

    const t4 = await viaHelper({ bytes });
    if (warm) continue;
    ms.helper.push(t1);
    ms.dd.push(t2);
    ms.cp.push(t3);
    ms["helper (bytes)"].push(t4);
  }

  const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const rate = (t: number) => SIZE / MiB / (t / 1000);
  console.log(`Loading a 256 MiB image into memory.img (${RUNS} runs, median; MiB/s):`);
  for (const [name, samples] of Object.entries(ms)) {
    console.log(
      `  ${name.padEnd(16)} ${median(samples).toFixed(1).padStart(8)} ms  ${
        rate(median(samples)).toFixed(0).padStart(6)
      } MiB/s`,
    );
  }
  const h = rate(median(ms.helper));
  for (const peer of ["dd", "cp"]) {
    const ratio = h / rate(median(ms[peer]));
    console.log(
      `  helper / ${peer}: ${ratio.toFixed(2)}× throughput (target ≥ 0.9×) ${
        ratio >= 0.9 ? "ok" : "MISSED"
      }`,
    );
  }

  // FFI call overhead.
  const N = 1_000_000;
  const plain = (() => {
    let v = 0;
    return () => (v = (v + 0x10000) & 0xffff0000) || 0x10000;
  })();
  let sink = 0;
  const time = (fn: () => number) => {
    for (let i = 0; i < 10_000; i++) sink ^= fn();
    const start = performance.now();
    for (let i = 0; i < N; i++) sink ^= fn();
    return (performance.now() - start) * 1e6 / N;
  };
  // Alternated, best of five each (the machine is shared).
  let [ffi, js] = [Infinity, Infinity];
  for (let round = 0; round < 5; round++) {
    ffi = Math.min(ffi, time(() => helper.abiVersion()));
    js = Math.min(js, time(plain));
  }
  console.log(`\nFFI call overhead (${N} calls):`);
  console.log(`  vmh_abi_version over FFI  ${ffi.toFixed(1).padStart(7)} ns/call`);
  console.log(`  plain JS function         ${js.toFixed(1).padStart(7)} ns/call`);
  console.log(`  difference                ${(ffi - js).toFixed(1).padStart(7)} ns/call`);
  await sim.partitionCreate(1);
  const M = 2000;
  const start = performance.now();
  for (let i = 0; i < M; i++) await sim.partitionStatus(1);
  const request = (performance.now() - start) * 1000 / M;
  console.log(
    `  a whole sim request (partitionStatus: open, lock, read monitor.json): ${
      request.toFixed(1)
    } µs`,
  );
  if (sink === 0.5) console.log(sink);
} finally {
  await Deno.remove(dir, { recursive: true });
}
