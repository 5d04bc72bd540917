/**
 * Binding the daemon's UNIX sockets.
 *
 * @module
 */
import { VmanError } from "../../core/errors.ts";

/** Thrown when the daemon cannot listen. */
export class DaemonError extends VmanError {}

/**
 * Listens on `path` and gives the socket `mode` at once (the default umask leaves
 * it writable by its owner alone meanwhile). A stale socket is replaced; a live
 * one (another daemon) is an error.
 */
export async function bind(path: string, mode: number): Promise<Deno.Listener> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new DaemonError(`cannot create the socket directory: ${(error as Error).message}`, dir);
  }
  try {
    const probe = await Deno.connect({ transport: "unix", path });
    probe.close();
    throw new DaemonError("another daemon is listening on this socket", path);
  } catch (error) {
    if (error instanceof DaemonError) throw error;
    if (error instanceof Deno.errors.NotCapable) throw notCapable(path);
  }
  // Only a stale socket is replaced, never another kind of file.
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isSocket) {
    throw new DaemonError("the socket path is taken by a file that is not a socket", path);
  }
  if (existing) await Deno.remove(path).catch(() => {});
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw notCapable(path);
    throw new DaemonError(`cannot bind the socket: ${(error as Error).message}`, path);
  }
  try {
    await Deno.chmod(path, mode);
  } catch (error) {
    listener.close();
    throw new DaemonError(`cannot set the socket's mode: ${(error as Error).message}`, path);
  }
  return listener;
}

function notCapable(path: string): DaemonError {
  return new DaemonError(
    `vmanctl may not use this socket: run it with --allow-net=unix:${path}`,
    path,
  );
}
