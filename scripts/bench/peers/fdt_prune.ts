/**
 * The libfdt peer of the device tree benchmark (fdt_prune.c beside this file):
 * built with `cc -O2 … -lfdt` (Debian's libfdt-dev) into the project's cache at
 * bench time, and timed by its own clock over a number of rounds.
 *
 * @module
 */
import { cacheDir } from "../../cache.ts";
import type { Timer } from "../measure.ts";

const SOURCE = new URL("./fdt_prune.c", import.meta.url).pathname;

/** The built peer's path, or why it could not be built. */
export type PeerBuild = { path: string } | { missing: string };

/** Builds the peer (again when its source is newer); says why when cc or libfdt is missing. */
export async function buildFdtPeer(): Promise<PeerBuild> {
  const dir = `${cacheDir()}/bench`;
  const path = `${dir}/fdt_prune`;
  const built = await Deno.stat(path).catch(() => undefined);
  const source = await Deno.stat(SOURCE);
  if (built?.mtime && source.mtime && built.mtime >= source.mtime) return { path };
  await Deno.mkdir(dir, { recursive: true });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("cc", {
      args: ["-O2", "-o", path, SOURCE, "-lfdt"],
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { missing: "no C compiler (cc)" };
    throw error;
  }
  if (out.code === 0) return { path };
  const why = new TextDecoder().decode(out.stderr);
  return {
    missing: why.includes("libfdt.h")
      ? "libfdt-dev is not installed"
      : `cc failed: ${why.trim().split("\n")[0]}`,
  };
}

/** What the peer prunes to: the partition's cores (hardware ids) and device paths. */
export interface PeerJob {
  /** The board's DTB file. */
  board: string;
  /** Where the peer writes its blob. */
  output: string;
  /** Hardware ids of the cores that stay. */
  hwids: number[];
  /** Paths of the devices that stay. */
  devices: string[];
}

/** A timer of the peer: the mean milliseconds per round over `rounds` rounds in one run. */
export function fdtPeerTimer(path: string, job: PeerJob, rounds: number): Timer {
  const args = [
    job.board,
    job.output,
    String(rounds),
    ...job.hwids.map((id) => `0x${id.toString(16)}`),
    "--",
    ...job.devices,
  ];
  return async () => {
    const out = await new Deno.Command(path, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout);
    const ms = Number(text.split(" ")[0]);
    if (out.code !== 0 || !Number.isFinite(ms)) {
      throw new Error(`fdt_prune: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    return ms;
  };
}
