/**
 * Helpers for CLI tests: run vmanctl in-process (fast, exact exit codes and
 * output) or as a real process (`deno run main.ts`).
 *
 * @module
 */
import { runCli } from "../../core/cli/app.ts";
import { BUILTIN_TABLE, builtinBoards, builtinPlugins } from "../../main.ts";
import { VMANCTL_PERMISSIONS, VMANCTL_RUN_FLAGS } from "../../scripts/permissions.ts";
import { fixturesDir } from "../../scripts/cache.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** What a vmanctl run produced. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs vmanctl in this process with the given environment (nothing from the real one). */
export async function vmanctl(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    io: { out: (t) => out.push(t + "\n"), err: (t) => err.push(t + "\n") },
    env: (name) => env[name],
    builtins: builtinPlugins,
    // As a real process: each command loads the built-ins it needs.
    builtinTable: BUILTIN_TABLE,
    boardFiles: builtinBoards,
  });
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** The `deno run` flags vmanctl runs with (as `deno task vmanctl`): permissions, run flags. */
export const VMANCTL_FLAGS: readonly string[] = [...VMANCTL_PERMISSIONS, ...VMANCTL_RUN_FLAGS];

/** True when `name --version` runs: a tool a test needs is installed. */
export function hasTool(name: string): boolean {
  try {
    new Deno.Command(name, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Runs vmanctl as its own process (`deno run main.ts ARGS`). */
export async function vmanctlProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, ...args],
    env: { VMAN_PLUGIN_PATH: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Makes a temporary directory and removes it after `fn`. A partition's watcher may
 * still be converging its state dir for a moment after the test (it runs when the
 * partition's QEMU exits): the removal is tried again while the directory refills.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vman-test-" });
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

/** Removes a directory tree, again while something still writes into it (5 s at most). */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      return await Deno.remove(dir, { recursive: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A minimal arm64 Image: the 64-byte header (text_offset 0, image_size 1 MiB) and zeros. */
export function arm64Image(): Uint8Array {
  const bytes = new Uint8Array(64 * 1024);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0x10, 0x10_0000n, true); // image_size
  view.setBigUint64(0x18, 0xan, true); // little-endian, 4 KiB pages, anywhere
  view.setUint32(0x38, 0x644d5241, true); // "ARM\x64"
  return bytes;
}

/** The arm64 kernel package's DTB directory in the fixtures, if fetched. */
export function debianArm64Dtbs(): string | undefined {
  const pkgs = `${fixturesDir()}/pkgs`;
  try {
    for (const pkg of Deno.readDirSync(pkgs)) {
      if (!/^linux-image-.*-arm64$/.test(pkg.name)) continue;
      for (const lib of Deno.readDirSync(`${pkgs}/${pkg.name}/usr/lib`)) {
        if (lib.name.startsWith("linux-image-")) return `${pkgs}/${pkg.name}/usr/lib/${lib.name}`;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return undefined;
}

/** The i.MX8MQ EVK's DTB from the arm64 kernel package in the fixtures, if fetched. */
export function debianImx8mqEvk(): string | undefined {
  const dtbs = debianArm64Dtbs();
  if (!dtbs) return undefined;
  const file = `${dtbs}/freescale/imx8mq-evk.dtb`;
  try {
    Deno.statSync(file);
    return file;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return undefined;
  }
}
