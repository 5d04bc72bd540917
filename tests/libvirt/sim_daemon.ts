/**
 * A real `vmanctl daemon` on the sim backend (board qemu-virt-arm64) for a test.
 *
 * @module
 */
import { type Daemon, withDaemon } from "./helpers.ts";

/** Runs `fn` with a sim-backend daemon in a temporary directory; stops it after (exit 0). */
export function withSimDaemon(fn: (d: Daemon, dir: string) => Promise<void>): Promise<void> {
  return withDaemon(fn, ["--backend", "sim"]);
}
