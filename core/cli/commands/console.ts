/**
 * `console NAME [--force]`: attach to a partition's console read-write, as
 * `virsh console` does (Ctrl-] detaches); `--follow`: print it read-only, from the
 * capture so far, until the partition stops; `--log`: print the capture so far.
 *
 * @module
 */
import type { CommandSpec } from "../args.ts";
import type { CliContext } from "../context.ts";
import { InputError, StateError } from "../../errors.ts";
import type { MonitorPlugin } from "../../registry/plugin.ts";
import type { MonitorContext } from "../../monitor/monitor.ts";
import type { PartitionRecord } from "../../model.ts";
import { observeRecords } from "../../partition/observe.ts";
import { type AttachEnd, attachTerminal } from "./console_attach.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the console commands work on. */
interface ConsoleTarget {
  name: string;
  plugin: MonitorPlugin;
  context: MonitorContext;
  /** The partition's record as the backend observes it now. */
  current(): Promise<PartitionRecord>;
}

async function target(ctx: CliContext, name: string): Promise<ConsoleTarget> {
  const store = await ctx.store();
  const { partitionIn } = await import("../../state/lookup.ts");
  const { board, backend } = partitionIn(await ctx.converged(), name);
  const registry = await ctx.registry({ monitor: backend });
  const plugin = registry.get("monitor", backend);
  if (!plugin.consoleLog || !plugin.openConsole) {
    throw new InputError(`backend ${backend} has no consoles (the qemu backend has)`, name);
  }
  const current = async () => {
    const { record, doc } = partitionIn(await ctx.converged(), name);
    const [seen] = await observeRecords([record], await ctx.observer(doc));
    return seen;
  };
  return { name, plugin, context: { stateDir: store.dir, board }, current };
}

/** `--log`: the capture so far, line by line. */
async function printLog(ctx: CliContext, t: ConsoleTarget): Promise<number> {
  const record = await t.current();
  const parts: Uint8Array[] = [];
  for (const file of t.plugin.consoleLog!(t.context, record.id)) {
    try {
      parts.push(await Deno.readFile(file));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  if (parts.length === 0) {
    throw new StateError(`partition ${t.name} has no console yet: start it first`, t.name);
  }
  const decoder = new TextDecoder();
  const text = parts.map((p) => decoder.decode(p, { stream: true })).join("") + decoder.decode();
  const lines = text.replace(/\r/g, "").split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) ctx.io.out(line);
  return 0;
}

/** `--follow`: the capture so far and what comes, read-only, until the partition stops. */
async function follow(ctx: CliContext, t: ConsoleTarget): Promise<number> {
  const record = await t.current();
  if (record.state !== "running") return await printLog(ctx, t);
  const session = await t.plugin.openConsole!(t.context, record.id, {
    mode: "read",
    replay: true,
    who: `vmanctl console --follow (pid ${Deno.pid})`,
    name: t.name,
  });
  // Whole lines go out as they complete; a last partial line at the end.
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of session.output) {
    pending += decoder.decode(chunk, { stream: true }).replace(/\r/g, "");
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) ctx.io.out(line);
  }
  pending += decoder.decode();
  if (pending) ctx.io.out(pending);
  return 0;
}

/** Waits until the partition runs (saying so once), then opens the writing session. */
async function openWhenRunning(ctx: CliContext, t: ConsoleTarget, force: boolean) {
  let said = false;
  while (true) {
    const record = await t.current();
    if (record.state === "running") {
      try {
        return await t.plugin.openConsole!(t.context, record.id, {
          mode: "write",
          force,
          who: `vmanctl console (pid ${Deno.pid})`,
          name: t.name,
        });
      } catch (error) {
        // Between the state and the console (a start or stop under way): look again.
        if (!(error instanceof StateError) || error.constructor !== StateError) throw error;
      }
    }
    if (!said) ctx.io.err(`waiting for partition ${t.name} to start (Ctrl-C gives up)`);
    said = true;
    await sleep(250);
  }
}

/** How an attached session's end is reported: the exit code, after a line. */
function reportEnd(ctx: CliContext, name: string, end: AttachEnd): number {
  switch (end) {
    case "taken-over":
      throw new StateError(`partition ${name}'s console was taken over by another session`, name);
    case "stopped":
      ctx.io.err(`partition ${name} stopped`);
      return 0;
    case "detached":
    case "input-ended":
    case "closed":
      return 0;
    default:
      ctx.io.err(`detached from partition ${name}'s console on ${end}`);
      return 1;
  }
}

/** The interactive session. */
async function attach(ctx: CliContext, t: ConsoleTarget, force: boolean): Promise<number> {
  const terminal = ctx.io.terminal;
  if (!terminal) throw new InputError("console needs a terminal or standard input", t.name);
  const session = await openWhenRunning(ctx, t, force);
  if (terminal.isTerminal()) {
    ctx.io.err(`Connected to partition ${t.name}'s console; escape character is ^] (Ctrl + ])`);
  }
  const end = await attachTerminal(session, terminal);
  if (end === "detached") ctx.io.err("");
  return reportEnd(ctx, t.name, end);
}

/** `console NAME [--force | --follow | --log]` */
export const consoleCommand: CommandSpec<CliContext> = {
  name: "console",
  summary: "Attach to a partition's console (Ctrl-] detaches); --follow or --log only print it.",
  args: [{ name: "NAME", required: true, complete: "partition" }],
  options: [
    { name: "force", help: "take the console over from the session attached now" },
    { name: "follow", short: "f", help: "print it read-only, from the start, until it stops" },
    { name: "log", help: "print what was captured so far and exit" },
  ],
  async run(ctx, input) {
    const name = input.args.NAME!;
    const { force, follow: following, log } = input.options;
    if ([force, following, log].filter(Boolean).length > 1) {
      throw new InputError("--force, --follow and --log go alone", "console");
    }
    const t = await target(ctx, name);
    if (log) return await printLog(ctx, t);
    if (following) return await follow(ctx, t);
    return await attach(ctx, t, force === true);
  },
};
