/**
 * `console NAME [--follow]`: a partition's console as its backend captured it.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError, StateError } from "../../errors.ts";
import { observeRecords } from "../../partition/observe.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `console NAME [--follow]` */
export const consoleCommand: CommandSpec<CliContext> = {
  name: "console",
  summary: "Print a partition's console so far; --follow keeps printing until it stops.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [
    { name: "follow", short: "f", help: "keep printing what comes, until the partition stops" },
  ],
  async run(ctx, input) {
    const name = input.args.NAME!;
    const store = await ctx.store();
    const { getPartition } = await import("../../partition/lifecycle.ts");
    const { record, board, backend } = await getPartition(store, name);
    const registry = await ctx.registry({ boards: false });
    const plugin = registry.get("monitor", backend);
    if (!plugin.consoleLog) {
      throw new InputError(
        `backend ${backend} does not capture consoles (the qemu backend does)`,
        name,
      );
    }
    const context = { stateDir: store.dir, board };
    const path = plugin.consoleLog(context, record.id);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new StateError(`partition ${name} has no console yet: start it first`, name);
      }
      throw error;
    }
    const running = async () => {
      const doc = await store.read();
      const now = doc?.partitions.find((p) => p.name === name && p.id === record.id);
      if (!now) return false;
      const [seen] = await observeRecords([now], await ctx.observer(doc));
      return seen.state === "running";
    };
    // Whole lines go out as they complete; a last partial line at the end.
    const decoder = new TextDecoder();
    let pending = "";
    try {
      const chunk = new Uint8Array(64 * 1024);
      while (true) {
        const n = await file.read(chunk);
        if (n !== null && n > 0) {
          pending += decoder.decode(chunk.subarray(0, n), { stream: true }).replace(/\r/g, "");
          const lines = pending.split("\n");
          pending = lines.pop()!;
          for (const line of lines) ctx.io.out(line);
          continue;
        }
        if (!input.options.follow || !(await running())) break;
        await sleep(100);
      }
      pending += decoder.decode();
      if (pending) ctx.io.out(pending);
    } finally {
      file.close();
    }
    return 0;
  },
};
