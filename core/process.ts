/**
 * Whether a process exists, by pid. Deno offers no signal 0 and lets only
 * `--allow-all` read `/proc/<pid>`, so this sends SIGCONT, which changes nothing
 * for a process that runs; a process of another user answers EPERM and exists.
 *
 * @module
 */

/** True when a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch (error) {
    return error instanceof Deno.errors.PermissionDenied;
  }
}
