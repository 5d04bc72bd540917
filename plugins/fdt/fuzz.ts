/**
 * Fuzzer for the DTB reader. Damages valid blobs at random and checks the reader's
 * contract on each: {@linkcode readFdt} returns a tree or throws {@linkcode FdtError}
 * (nothing else), quickly; and whatever it accepts, {@linkcode writeFdt} either
 * refuses with `bad-value` or writes a blob that reads back and rewrites to the same
 * bytes.
 *
 * Run longer campaigns than the test suite does:
 *
 * ```sh
 * deno run plugins/fdt/fuzz.ts --count 1000000 --seed 42
 * deno run --allow-read plugins/fdt/fuzz.ts --count 100000 --seed 7 --dtb board.dtb
 * ```
 *
 * It prints how many inputs were accepted and how many were refused per error code,
 * and exits 1 with the failing case on the first contract violation.
 *
 * @module
 */
import fc from "fast-check";
import {
  fdtTreeArbitrary,
  mutatedBlob,
  type MutationCase,
  mutationCaseArbitrary,
} from "./arbitrary.ts";
import { FdtError, type FdtErrorCode } from "../../core/devicetree/errors.ts";
import { HEADER, HEADER_SIZE } from "./format.ts";
import { readFdt } from "./read.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { writeFdt } from "./write.ts";

/** What the reader did with one input. */
export type FuzzOutcome = "accepted" | FdtErrorCode;

/** Longest time one input may take before it counts as a hang, in milliseconds. */
export const FUZZ_TIME_LIMIT_MS = 2000;

/**
 * Runs the reader on `blob` and checks its contract; returns the outcome. Throws a
 * plain `Error` describing the violation when the reader throws anything but an
 * {@linkcode FdtError}, takes over {@linkcode FUZZ_TIME_LIMIT_MS}, or accepts a tree
 * that does not survive write → read → write unchanged. `reader` is there so tests
 * can check the checker with a broken reader.
 */
export function fuzzInput(
  blob: Uint8Array,
  reader: (blob: Uint8Array) => FdtTree = readFdt,
): FuzzOutcome {
  const started = performance.now();
  let outcome: FuzzOutcome;
  try {
    const tree = reader(blob);
    outcome = "accepted";
    let written: Uint8Array | undefined;
    try {
      written = writeFdt(tree);
    } catch (error) {
      if (!(error instanceof FdtError && error.code === "bad-value")) throw error;
    }
    if (written) {
      const again = writeFdt(reader(written));
      if (!sameBytes(again, written)) throw new Error("an accepted tree did not round-trip");
    }
  } catch (error) {
    if (!(error instanceof FdtError)) {
      throw new Error(`contract violation: ${String(error)}`, { cause: error });
    }
    outcome = error.code;
  }
  const elapsed = performance.now() - started;
  if (elapsed > FUZZ_TIME_LIMIT_MS) {
    throw new Error(`input took ${elapsed.toFixed(0)} ms (limit ${FUZZ_TIME_LIMIT_MS} ms)`);
  }
  return outcome;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A seed made from a real blob: the same layout, with totalsize cut down to the end
 * of its last block so that fuzzing does not waste time on padding (QEMU pads its
 * dumps to 1 MiB). Returns the blob unchanged when its header does not parse.
 */
export function compactSeed(blob: Uint8Array): Uint8Array {
  if (blob.length < HEADER_SIZE) return blob;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const rsvmap = view.getUint32(HEADER.offMemRsvmap);
  let rsvEnd = rsvmap;
  while (rsvEnd + 16 <= blob.length) {
    const last = view.getBigUint64(rsvEnd) === 0n && view.getBigUint64(rsvEnd + 8) === 0n;
    rsvEnd += 16;
    if (last) break;
  }
  const end = Math.max(
    rsvEnd,
    view.getUint32(HEADER.offDtStruct) + view.getUint32(HEADER.sizeDtStruct),
    view.getUint32(HEADER.offDtStrings) + view.getUint32(HEADER.sizeDtStrings),
  );
  if (end > blob.length) return blob;
  const out = blob.slice(0, end);
  new DataView(out.buffer).setUint32(HEADER.totalsize, end);
  return out;
}

/** `count` blobs written from random trees (seeded), to fuzz from when no real blob is at hand. */
export function generatedSeeds(count: number, seed: number): Uint8Array[] {
  return fc.sample(fdtTreeArbitrary(), { numRuns: count, seed }).map(writeFdt);
}

/** Tally of one fuzzing run. */
export interface FuzzReport {
  /** Inputs run. */
  runs: number;
  /** Outcome counts: `accepted` or the error code. */
  outcomes: Map<FuzzOutcome, number>;
  /** Slowest single input, in milliseconds. */
  slowestMs: number;
}

/**
 * Runs `count` mutated inputs built from `seeds` with fast-check's `seed`; throws
 * (with fast-check's counterexample report) on the first contract violation.
 */
export function fuzz(seeds: Uint8Array[], count: number, seed: number): FuzzReport {
  const report: FuzzReport = { runs: 0, outcomes: new Map(), slowestMs: 0 };
  let failed = false;
  fc.assert(
    fc.property(mutationCaseArbitrary(seeds.length), (input: MutationCase) => {
      const blob = mutatedBlob(seeds, input);
      const started = performance.now();
      let outcome: FuzzOutcome;
      try {
        outcome = fuzzInput(blob);
      } catch (error) {
        failed = true;
        throw error;
      }
      if (!failed) {
        report.runs++;
        report.outcomes.set(outcome, (report.outcomes.get(outcome) ?? 0) + 1);
        report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
      }
    }),
    { numRuns: count, seed },
  );
  return report;
}

function parseArgs(args: string[]): { count: number; seed: number; dtbs: string[] } {
  const options = { count: 10_000, seed: 1, dtbs: [] as string[] };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--count" || flag === "--seed") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a whole number`);
      options[flag === "--count" ? "count" : "seed"] = n;
    } else if (flag === "--dtb") {
      options.dtbs.push(value);
    } else {
      throw new Error(`unknown option ${flag} (use --count N --seed S [--dtb FILE]...)`);
    }
  }
  return options;
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseArgs(Deno.args);
  } catch (error) {
    console.error(`fuzz: ${(error as Error).message}`);
    return 2;
  }
  const seeds = [...generatedSeeds(16, options.seed)];
  for (const file of options.dtbs) seeds.push(compactSeed(await Deno.readFile(file)));
  const started = performance.now();
  try {
    const report = fuzz(seeds, options.count, options.seed);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${report.runs} inputs from ${seeds.length} seeds in ${seconds.toFixed(1)} s ` +
        `(seed ${options.seed}; slowest input ${report.slowestMs.toFixed(1)} ms)`,
    );
    const rows = [...report.outcomes].sort((a, b) => b[1] - a[1]);
    for (const [outcome, n] of rows) {
      console.log(`  ${outcome === "accepted" ? "accepted" : `refused ${outcome}`}: ${n}`);
    }
    return 0;
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
