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
 * vmanctl's V8 flags, for `deno run` and `deno compile` alike:
 * - `--no-lazy`: V8 compiles every function of a module when it compiles the
 *   module, so the code cache Deno keeps of each module holds them all; lazily,
 *   each function a command calls is parsed and compiled again in every process
 *   (`list` 2.4 ms, `dtb` 4.6 ms of a 20–45 ms run; `deno task bench --only startup`).
 * - `--max-semi-space-size=1` (MiB): a small young generation. The daemon's grew
 *   with its request rate to tens of MiB that it kept; with 1 MiB it serves
 *   define/start/destroy/undefine cycles faster too (240 against 160 a second).
 * - `--expose-gc`: the daemon collects its garbage while it serves calls
 *   (plugins/libvirt/call_gc.ts).
 * - `--invocation-count-for-maglev=3000` (V8's default 400, TurboFan's 3000): a
 *   command lives a few milliseconds, too short for what Maglev's compilations of
 *   its hottest functions cost to pay back (`list` 1.2 ms, `show` 0.9 ms less); a
 *   daemon still gets its optimized code.
 */
export const V8_FLAGS =
  "--no-lazy,--max-semi-space-size=1,--expose-gc,--invocation-count-for-maglev=3000";

/**
 * The other `deno run` flags of vmanctl: its V8 flags ({@linkcode V8_FLAGS}, which
 * `deno compile` bakes in too), and `--unstable-lazy-dynamic-imports`. Deno
 * prepares the whole graph of a program's statically named dynamic imports before
 * it runs (every plugin, board, zod…: about 6 ms); lazily, it prepares each when
 * it is imported. `deno compile` must not have that one: it would leave them out
 * of the binary.
 */
export const VMANCTL_RUN_FLAGS: readonly string[] = [
  "--unstable-lazy-dynamic-imports",
  `--v8-flags=${V8_FLAGS}`,
];
