/**
 * The permissions vmanctl runs with, everywhere it is run: the `vmanctl` task,
 * the compiled binary, the tests that run it as a process and the benchmarks.
 * What it uses, and no network.
 *
 * @module
 */

/** `deno run` / `deno compile` permission flags of vmanctl. */
export const VMANCTL_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
];
