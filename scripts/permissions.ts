/**
 * The permissions vmanctl runs with, everywhere it is run: the `vmanctl` task,
 * the compiled binary, the tests that run it as a process and the benchmarks.
 * What it uses; `--allow-net` only for local UNIX sockets (Deno asks net permission
 * for them): QEMU's QMP and the libvirt daemon's sockets.
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
  "--allow-net",
];

/**
 * The other `deno run` flags of vmanctl (not `deno compile`'s). Deno prepares the
 * whole graph of a program's statically named dynamic imports before it runs
 * (every plugin, board, zod…: about 6 ms); lazily, it prepares each when it is
 * imported. `deno compile` must not have it: it would leave them out of the binary.
 */
export const VMANCTL_RUN_FLAGS: readonly string[] = ["--unstable-lazy-dynamic-imports"];
