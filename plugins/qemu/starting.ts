/**
 * Connecting to a QEMU that is still starting. QEMU creates each socket it serves
 * (binds it) a moment before it listens there, so a connection in between is
 * refused even though the file is there.
 *
 * @module
 */
import { existsSync } from "../../core/files.ts";

/** How often a refused connection is tried again. */
const RETRY_MS = 5;

/** Whether `error` is a connection QEMU has not served yet (no socket, or not listening). */
function notServedYet(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused;
}

/**
 * Runs `connect`, trying again every {@linkcode RETRY_MS} while QEMU has not served
 * the socket yet; gives up after `ms`, or at once when QEMU has exited (its
 * supervisor wrote the file `exit`). Other errors are thrown at once.
 *
 * @example
 * ```ts
 * import { whileQemuStarts } from "./starting.ts";
 * const conn = await whileQemuStarts(
 *   () => Deno.connect({ transport: "unix", path: "/run/vmanager/qemu/p/qmp.sock" }),
 *   "/run/vmanager/qemu/p/exit",
 *   5000,
 * );
 * conn.close();
 * ```
 */
export async function whileQemuStarts<T>(
  connect: () => Promise<T>,
  exit: string,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    try {
      return await connect();
    } catch (error) {
      if (!notServedYet(error) || Date.now() > deadline || existsSync(exit)) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}
