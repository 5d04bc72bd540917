/**
 * One DTB of the board import survey (scripts/import_survey.ts), through the real
 * CLI in this process: `board import FILE -o B.yaml` (with `--memory` when the DTB
 * has no RAM), `--board B.yaml create p --cpus 2 --memory 128M`, `dtb p -o p.dtb`,
 * then `dtc` on p.dtb and on the board's DTB. Run as a worker, so that the driver
 * can end a DTB that hangs.
 *
 * A DTB without RAM, or with less than {@linkcode ENOUGH_RAM} (a placeholder the
 * bootloader corrects), gets `--memory BASE+1G`, BASE the first of these where the
 * 1 GiB covers no device's registers and leaves room for the partition: the base
 * of its own RAM, the unit address of its memory node (`memory@80000000`), the
 * 1 GiB holding a static /reserved-memory region, then the DRAM bases SoCs use
 * most ({@linkcode COMMON_BASES}); when every one covers some, the first that
 * leaves room. A guess of where the RAM is, not the board's real RAM: it shows
 * what import does with the DTB once it has RAM.
 *
 * @module
 */
import { runCli } from "../core/cli/app.ts";
import { formatHex, GiB, MiB } from "../core/units.ts";
import { builtinBoards, builtinPlugins } from "../main.ts";
import { readFdt } from "../plugins/fdt/mod.ts";
import { getProp } from "../core/devicetree/tree.ts";
import type { FdtNode, FdtTree } from "../core/devicetree/tree.ts";
import { readCells, readString } from "../core/devicetree/values.ts";
import { cellCounts } from "../core/devicetree/partition.ts";
import { treeMemory } from "../core/board/memory.ts";
import { dtcWarnings } from "./dtc.ts";

/** Where one DTB got to. */
export type Stage = "out-of-scope" | "import" | "create" | "dtb" | "dtc" | "ok";

/** The stages a DTB goes through, in order (for a hang: the one it did not finish). */
export type Step = "read" | "import" | "create" | "dtb" | "dtc";

/** One DTB's outcome. */
export interface Outcome {
  /** The DTB, relative to its package's DTB directory. */
  file: string;
  /** The last stage reached: `ok`, or the one that failed. */
  stage: Stage;
  /** Why it stopped there (a refusal's line, shortened to group alike ones). */
  reason?: string;
  /** The `--memory` given, when the DTB has no RAM or too little. */
  memory?: string;
  /** The DTB's own RAM: none, less than {@linkcode ENOUGH_RAM}, or enough. */
  ram?: "none" | "small" | "enough";
  /** The cores of the partition planned. */
  cores?: number;
  /** The first new dtc warning as dtc wrote it (paths kept). */
  detail?: string;
}

/**
 * Less RAM than this in a DTB is taken for a placeholder the bootloader corrects
 * (128 or 256 MiB, on boards sold with 1 GiB or more): 512 MiB, the management
 * partition's 256 MiB, a 128 MiB partition and room for the firmware's.
 */
export const ENOUGH_RAM = 512 * MiB;

/** The DRAM bases SoCs use most, tried in this order after the DTB's own hints. */
export const COMMON_BASES = [
  0x40000000,
  0x80000000,
  0x0,
  0x10000000,
  0x20000000,
  0x60000000,
  0xc0000000,
  0x100000000,
];

/** Runs vmanctl in this process. */
async function vmanctl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    io: { out: (t) => out.push(t), err: (t) => err.push(t) },
    env: () => undefined,
    builtins: builtinPlugins,
    boardFiles: builtinBoards,
  });
  return { code, out: out.join("\n"), err: err.join("\n").replace(/^vmanctl: /, "") };
}

function stringOf(node: FdtNode | undefined, name: string): string | undefined {
  const prop = node && getProp(node, name);
  return prop && prop.value.at(-1) === 0 ? readString(prop.value) : undefined;
}

/** The cpu nodes of /cpus. */
function coreCount(tree: FdtTree): number {
  const cpus = tree.root.children.find((c) => c.name === "cpus");
  return cpus?.children.filter((c) => stringOf(c, "device_type") === "cpu").length ?? 0;
}

/**
 * The `--memory` values to try, best first: none when the DTB's own RAM is
 * {@linkcode ENOUGH_RAM} or more, else 1 GiB at each of {@linkcode ramGuesses}.
 */
function memoryAttempts(tree: FdtTree): (string | undefined)[] {
  const own = treeMemory(tree, []);
  if (own.reduce((sum, r) => sum + r.size, 0) >= ENOUGH_RAM) return [undefined];
  return ramGuesses(tree, own).map((at) => `${formatHex(at, 1)}+1G`);
}

/** Where to try 1 GiB of RAM for a DTB without (enough) RAM, best guess first. */
function ramGuesses(tree: FdtTree, own: readonly { base: number }[]): number[] {
  const hints: number[] = own.map((r) => r.base);
  for (const node of tree.root.children) {
    const unit = /^memory@([0-9a-f]+)$/i.exec(node.name);
    if (unit) hints.push(parseInt(unit[1], 16));
  }
  const reserved = tree.root.children.find((c) => c.name === "reserved-memory");
  const [ac, sc] = reserved ? cellCounts(reserved) : [0, 0];
  for (const region of reserved?.children ?? []) {
    const reg = getProp(region, "reg");
    try {
      const first = reg ? readCells(reg.value, [ac, sc])[0] : undefined;
      if (first) hints.push(Math.floor(Number(first[0]) / GiB) * GiB);
    } catch {
      // A malformed region is no hint.
    }
  }
  return [...new Set([...hints, ...COMMON_BASES])];
}

/** A refusal's line with its particulars cut, so alike refusals group. */
export function reasonOf(line: string): string {
  return line.split("\n")[0]
    .replace(/\(\/[^)]*\)$|\([^)]*\.(yaml|dtb)[^)]*\)$/, "")
    .replace(/cpu node \S+/g, "cpu node X").replace(/cpu \S+ is/, "cpu X is")
    .replace(/'[^']*'|"[^"]*"/g, "'…'").replace(/0x[0-9a-f]+(-0x[0-9a-f]+)?/gi, "ADDR")
    .replace(/\/[\w,.@/-]+/g, "/PATH").replace(/\d+ MiB/g, "N MiB").trim();
}

/**
 * Surveys one DTB in the scratch directory `dir`; `step` hears each step as it
 * starts. With guessed RAM, the first guess whose RAM covers no device's
 * registers and leaves room for the partition wins; when none does, the first
 * guess that leaves room; when none does, the first guess's outcome is reported.
 */
export async function surveyOne(
  file: string,
  name: string,
  dir: string,
  step: (s: Step) => void = () => {},
): Promise<Outcome> {
  step("read");
  const tree = readFdt(await Deno.readFile(file));
  const count = coreCount(tree);
  if (count < 2) return { file: name, stage: "out-of-scope", reason: "fewer than 2 cores" };
  // Two cores, or the one left beside the management partition's on a 2-core board.
  const cores = Math.min(2, count - 1);
  const attempts = memoryAttempts(tree);
  const own = treeMemory(tree, []).reduce((sum, r) => sum + r.size, 0);
  const ram = own === 0 ? "none" : own < ENOUGH_RAM ? "small" : "enough";
  let first: Outcome | undefined;
  for (const clean of [true, false]) {
    for (const [k, memory] of attempts.entries()) {
      const at = `${dir}/${clean ? "c" : "d"}${k}`;
      await Deno.mkdir(at, { recursive: true });
      const planned = await plan(file, at, memory, cores, clean, step);
      if (planned === "ok") return { ...await check(file, name, at, memory, cores, step), ram };
      if (planned.stage === "out-of-scope") return { ...planned, file: name };
      first ??= { ...planned, file: name, memory, ram };
    }
    if (attempts.length === 1) break;
  }
  return first!;
}

/** Imports the DTB (with `memory`) and plans the partition in `dir`. */
async function plan(
  file: string,
  dir: string,
  memory: string | undefined,
  cores: number,
  clean: boolean,
  step: (s: Step) => void,
): Promise<"ok" | Omit<Outcome, "file">> {
  step("import");
  const yaml = `${dir}/b.yaml`;
  const given = memory ? ["--memory", memory] : [];
  const imported = await vmanctl(["--json", "board", "import", file, ...given, "-o", yaml]);
  if (imported.code !== 0) {
    if (/older than ARMv7/.test(imported.err)) {
      return { stage: "out-of-scope", reason: "cores older than ARMv7" };
    }
    return { stage: "import", reason: reasonOf(imported.err) };
  }
  const notes: string[] = JSON.parse(imported.out).notes;
  if (clean && memory && notes.some((n) => n.includes("registers inside RAM"))) {
    return { stage: "import", reason: "the guessed RAM covers device registers" };
  }
  step("create");
  const s = ["--state-dir", `${dir}/s`, "--board", yaml];
  const created = await vmanctl([...s, "create", "p", "--cpus", `${cores}`, "--memory", "128M"]);
  return created.code === 0 ? "ok" : { stage: "create", reason: reasonOf(created.err) };
}

/** The partition's DTB, made and checked with dtc against the board's. */
async function check(
  file: string,
  name: string,
  dir: string,
  memory: string | undefined,
  cores: number,
  step: (s: Step) => void,
): Promise<Outcome> {
  step("dtb");
  const s = ["--state-dir", `${dir}/s`];
  const made = await vmanctl([...s, "dtb", "p", "-o", `${dir}/p.dtb`]);
  if (made.code !== 0) return { file: name, stage: "dtb", reason: reasonOf(made.err), memory };
  step("dtc");
  const [ours, theirs] = await Promise.all([dtcWarnings(`${dir}/p.dtb`), dtcWarnings(file)]);
  const added = ours.lines.filter((l) => !theirs.lines.includes(l));
  if (ours.code !== 0 || added.length > 0) {
    const detail = added[0] ?? "dtc refuses";
    return { file: name, stage: "dtc", reason: detail.replace(/\/\S*/g, "/PATH"), memory, detail };
  }
  return { file: name, stage: "ok", memory, cores };
}

/** A job for the worker: one DTB. */
export interface SurveyJob {
  /** The DTB's path. */
  path: string;
  /** Its name in the report. */
  name: string;
  /** A scratch directory of its own. */
  dir: string;
}

/** A worker's message: a step started, or the outcome. */
export type SurveyMessage = { step: Step } | { outcome: Outcome };

// As a worker: surveys each DTB it is sent, saying each step as it starts, so that
// the driver can tell where one that never answers hangs.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as {
    onmessage: (e: MessageEvent<SurveyJob>) => void;
    postMessage: (m: SurveyMessage) => void;
  };
  scope.onmessage = async ({ data }) => {
    const post = (m: SurveyMessage) => scope.postMessage(m);
    let outcome: Outcome;
    try {
      outcome = await surveyOne(data.path, data.name, data.dir, (step) => post({ step }));
    } catch (error) {
      outcome = { file: data.name, stage: "import", reason: `crash: ${error}` };
    }
    post({ outcome });
  };
}
