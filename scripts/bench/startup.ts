/**
 * Start-up, `deno task bench --only startup`: each command as a whole process
 * (`deno run` of main.ts with vmanctl's flags) against the floor of any Deno
 * process here, a `deno run` of an empty module with the same flags, measured
 * interleaved in the same rounds. Target: within 1.15× of the floor for the
 * commands that only read (`--version`, `--help`, `list --json` with 32
 * partitions, `show`); the commands that load plugins or boards to do their work
 * get their ratio printed, no target. `list --json` is also set against
 * `virsh -c test:///default list --all` (target ≤ 1.3×).
 *
 * Then, per command, which modules it loads (Deno's module loader log) and what
 * each costs (module_cost.ts imports them one by one, dependencies first): the
 * heaviest, so that a module that joins a command's start-up shows.
 *
 * Usage: deno task bench --only startup [--runs N]
 * @module
 */
import {
  interleave,
  loadAverage,
  processTimer,
  runsFlag,
  targetLine,
  type Timer,
} from "./measure.ts";
import { VMANCTL_PERMISSIONS, VMANCTL_RUN_FLAGS } from "../permissions.ts";
import { loadedModules, moduleCosts } from "./module_load.ts";
import { runCli } from "../../core/cli/app.ts";
import { builtinBoards, builtinPlugins } from "../../main.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const RUNS = runsFlag(20);
const TARGET = 1.15;
const FLAGS = [...VMANCTL_PERMISSIONS, ...VMANCTL_RUN_FLAGS];

/** A command measured: its arguments, and whether it is held to the target. */
interface Command {
  label: string;
  args: string[];
  /** Why it has no target: the work it does. */
  work?: string;
}

const dir = await Deno.makeTempDir({ prefix: "vman-bench-startup-" });
const state = `${dir}/state`;
const env = { VMAN_PLUGIN_PATH: "", NO_COLOR: "1" };
try {
  await createPartitions(state, 32);
  const empty = `${dir}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const s = ["--state-dir", state];
  const config = `${dir}/config.yaml`;
  await Deno.writeTextFile(config, `state-dir: ${state}\n`);
  const commands: Command[] = [
    { label: "--version", args: ["--version"] },
    { label: "--help", args: ["--help"] },
    { label: "list --json (32 partitions)", args: [...s, "list", "--json"] },
    {
      label: "list --json, state dir from a config file",
      args: ["--config", config, "list", "--json"],
    },
    { label: "show p0", args: [...s, "show", "p0"] },
    { label: "plan p0", args: [...s, "plan", "p0"], work: "allocates, prepares the boot" },
    { label: "board list", args: ["board", "list"], work: "loads every board and plugin" },
    { label: "plugins", args: ["plugins"], work: "loads every plugin" },
  ];
  const vmanctl = (args: string[]) =>
    processTimer(Deno.execPath(), ["run", ...FLAGS, `${ROOT}/main.ts`, ...args], env);
  const timers: Record<string, Timer> = {
    floor: processTimer(Deno.execPath(), ["run", ...FLAGS, "--config", `${ROOT}/deno.json`, empty]),
  };
  for (const c of commands) timers[c.label] = vmanctl(c.args);
  const virsh = hasVirsh();
  if (virsh) timers.virsh = processTimer("virsh", ["-c", "test:///default", "list", "--all"]);

  console.log(
    `Start-up: whole process, ${RUNS} interleaved runs each (Deno ${Deno.version.deno}; ` +
      `load ${loadAverage()})\n`,
  );
  const runs = await interleave(timers, { runs: RUNS, warmup: 3 });
  const floor = { label: "floor (deno run empty.ts)", samples: runs.floor };
  for (const c of commands) {
    const label = c.work ? `${c.label} [${c.work}]` : c.label;
    console.log(targetLine(label, runs[c.label], floor, c.work ? {} : { ratio: TARGET }));
  }
  if (virsh) {
    const peer = { label: "virsh -c test:///default list --all", samples: runs.virsh };
    const list = "list --json (32 partitions)";
    console.log(targetLine(list, runs[list], peer, { ratio: 1.3 }));
  } else console.log("virsh not found (install libvirt-clients): its line is skipped");

  console.log("\nModules each command loads, and the heaviest (ms of own load and evaluation)");
  for (const c of commands) {
    const args = ["run", ...FLAGS, `${ROOT}/main.ts`, ...c.args];
    const modules = await loadedModules(args, env);
    const costs = await moduleCosts(modules, FLAGS, ROOT);
    console.log(`\n${c.label}: ${costs.summary}`);
    for (const line of costs.heaviest) console.log(`  ${line}`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

/** Creates `count` partitions on the dry-run backend, in process. */
async function createPartitions(stateDir: string, count: number): Promise<void> {
  const host = {
    io: { out: () => {}, err: (t: string) => console.error(t) },
    env: () => undefined,
    builtins: builtinPlugins,
    boardFiles: builtinBoards,
  };
  const board = `${ROOT}/tests/fixtures/boards/test-big-arm64.yaml`;
  for (let i = 0; i < count; i++) {
    const code = await runCli([
      ...["--state-dir", stateDir, "--board", board, "--backend", "dry-run"],
      ...["create", `p${i}`, "--cpus", "1", "--memory", "64M"],
    ], host);
    if (code !== 0) throw new Error(`creating p${i} failed`);
  }
}

function hasVirsh(): boolean {
  try {
    new Deno.Command("virsh", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}
