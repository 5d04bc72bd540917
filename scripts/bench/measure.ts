/**
 * What every benchmark section measures with and how it prints a target: samples
 * taken interleaved with their peer's (so drift hits both alike), min/median/max,
 * the ratio of medians against the peer, and "ok" or "missed" against the target.
 *
 * @example
 * ```ts
 * import { interleave, processTimer, targetLine } from "./measure.ts";
 * const runs = await interleave({
 *   ours: processTimer("deno", ["eval", "1"]),
 *   peer: processTimer("true", []),
 * }, { runs: 20, warmup: 2 });
 * console.log(targetLine("deno eval vs true", runs.ours, runs.peer, { ratio: 100 }));
 * ```
 * @module
 */
import { VMANCTL_PERMISSIONS, VMANCTL_RUN_FLAGS } from "../permissions.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A promise of `ms` milliseconds from now. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** vmanctl's `deno run` command line on the state dir `state`, with `args` after. */
export function vmanctlArgs(state: string, ...args: string[]): string[] {
  return [
    "run",
    ...VMANCTL_PERMISSIONS,
    ...VMANCTL_RUN_FLAGS,
    `${ROOT}/main.ts`,
    "--state-dir",
    state,
    ...args,
  ];
}

/** The load averages (1, 5, 15 minutes), two decimals each, e.g. `0.52 0.61 0.70`. */
export function loadAverage(): string {
  return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
}

/** min/median/max of a sample set, in its unit. */
export interface Summary {
  /** Smallest sample. */
  min: number;
  /** Median (the lower middle for an even count). */
  median: number;
  /** Largest sample. */
  max: number;
  /** How many samples. */
  count: number;
}

/** Summarises samples. Throws on an empty set. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    min: sorted[0],
    median: sorted[Math.floor((sorted.length - 1) / 2)],
    max: sorted[sorted.length - 1],
    count: sorted.length,
  };
}

/** The value after `name` on the bench's command line (`--board NAME`), if given. */
export function flag(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Deno.args[at + 1] : undefined;
}

/** The positive whole number after `name` on the bench's command line, else `fallback`. */
export function countFlag(name: string, fallback: number): number {
  const value = Number(flag(name) ?? fallback);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** The `--runs N` of the bench's command line, else `fallback`. */
export function runsFlag(fallback: number): number {
  return countFlag("--runs", fallback);
}

/** One measurement: returns its value (milliseconds, bytes, …). */
export type Timer = () => Promise<number>;

/** Runs every timer once per round, in turn, for `warmup` + `runs` rounds; keeps the last `runs`. */
export async function interleave<K extends string>(
  timers: Record<K, Timer>,
  options: { runs: number; warmup?: number },
): Promise<Record<K, number[]>> {
  const names = Object.keys(timers) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const warmup = options.warmup ?? 0;
  for (let round = 0; round < warmup + options.runs; round++) {
    for (const name of names) {
      const value = await timers[name]();
      if (round >= warmup) samples[name].push(value);
    }
  }
  return samples;
}

/** A timer of one whole process's wall time in ms; throws with its stderr when it fails. */
export function processTimer(cmd: string, args: string[], env?: Record<string, string>): Timer {
  return async () => {
    const start = performance.now();
    const out = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" })
      .output();
    const elapsed = performance.now() - start;
    if (out.code !== 0) {
      throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return elapsed;
  };
}

/** A target: a bound on the ratio of medians, and/or on our median itself. */
export interface Target {
  /** Our median over the peer's must be at most this. */
  ratio?: number;
  /** Our median must be at most this (in the samples' unit). */
  atMost?: number;
}

/** How a value prints: milliseconds by default. */
export type Unit = (value: number) => string;

/** Milliseconds, one decimal. */
export const ms: Unit = (v: number): string => `${v.toFixed(v < 10 ? 2 : 1)} ms`;
/** Bytes as MiB. */
export const mib: Unit = (v: number): string => `${(v / 1048576).toFixed(1)} MiB`;

function range(s: Summary, unit: Unit): string {
  return `${unit(s.median)} (min ${unit(s.min)}, max ${unit(s.max)}, n=${s.count})`;
}

/** True when `ours` (and its ratio to `peer`, if any) meets `target`. */
export function meets(ours: Summary, peer: Summary | undefined, target: Target): boolean {
  if (target.ratio !== undefined && peer && ours.median / peer.median > target.ratio) return false;
  if (target.atMost !== undefined && ours.median > target.atMost) return false;
  return true;
}

/**
 * One target's line: our min/median/max, the peer's, the ratio of medians and the
 * verdict, e.g. `list --json: 52.1 ms (…) | deno empty: 47.0 ms (…) | 1.11x (target ≤ 1.15x) ok`.
 */
export function targetLine(
  label: string,
  ours: readonly number[],
  peer: { label: string; samples: readonly number[] } | undefined,
  target: Target,
  unit: Unit = ms,
): string {
  const o = summarize(ours);
  const p = peer ? summarize(peer.samples) : undefined;
  const parts = [`${label}: ${range(o, unit)}`];
  if (peer && p) {
    parts.push(`${peer.label}: ${range(p, unit)}`, `${(o.median / p.median).toFixed(2)}x`);
  }
  const wanted = [
    target.ratio !== undefined ? `≤ ${target.ratio}x` : "",
    target.atMost !== undefined ? `≤ ${unit(target.atMost)}` : "",
  ].filter(Boolean).join(", ");
  parts.push(`target ${wanted || "none"} ${meets(o, p, target) ? "ok" : "missed"}`);
  return parts.join(" | ");
}
