/**
 * A real `vmanctl daemon` on the sim backend (board qemu-virt-arm64) for a test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withTempDir } from "../cli/helpers.ts";
import { type Daemon, startDaemon } from "./helpers.ts";

/** Runs `fn` with a sim-backend daemon in a temporary directory; stops it after (exit 0). */
export async function withSimDaemon(fn: (d: Daemon, dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const d = await startDaemon(dir, ["--backend", "sim"]);
    try {
      await fn(d, dir);
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });
}
