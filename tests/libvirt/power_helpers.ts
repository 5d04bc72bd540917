/**
 * Helpers for the libvirt power tests: a fake monitor plugin whose guests power
 * off a moment after their power button is pressed (or ignore it), observed as
 * the qemu backend observes its partitions, and a daemon in this process on any
 * board and backend, with the timing of its shutdown waits chosen by the test.
 *
 * @module
 */
import type { RuntimeObservation } from "../../core/model.ts";
import { DryRunMonitor } from "../../core/monitor/dry_run.ts";
import type { Monitor } from "../../core/monitor/monitor.ts";
import type { MonitorPlugin, Plugin } from "../../core/registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/plugin.ts";
import type { PowerOptions } from "../../plugins/libvirt/power.ts";
import { type InProcessDaemon, startInProcessDaemon } from "./console_helpers.ts";
import { domainXml } from "./helpers.ts";

/** What a fake guest that powered off looks like to its backend. */
export const POWERED_OFF: RuntimeObservation = {
  state: "stopped",
  cause: "poweroff",
  reason: "its OS powered off",
  console: [],
};

/**
 * The fake backend's guests (monitor plugin `fake-power`): dry-run's monitor, a
 * partition runs from its `core_start` on, and a press of its power button powers
 * it off `delayMs` later unless `ignore` is set.
 */
export class FakeGuests {
  /** What each partition id looks like (running when absent). */
  readonly seen = new Map<number, RuntimeObservation>();
  /** The ids whose button was pressed, in order. */
  readonly presses: number[] = [];
  /** Guests ignore the button. */
  ignore = false;
  /** How long a guest takes to power off. */
  delayMs = 300;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  /** The monitor plugin. */
  plugin(): MonitorPlugin {
    const seen = this.seen;
    const create = (): Monitor => {
      const monitor: Monitor = new DryRunMonitor();
      monitor.coreStart = (id) => {
        seen.set(id, { state: "running" });
        return Promise.resolve();
      };
      return monitor;
    };
    return {
      kind: "monitor",
      name: "fake-power",
      version: "1.0.0",
      apiVersion: PLUGIN_API_VERSION,
      description: "dry-run with guests that honour a power button (tests)",
      create,
      observe: (_context, id) => Promise.resolve(seen.get(id) ?? { state: "running" }),
      requestShutdown: (_context, id) => {
        this.presses.push(id);
        if (!this.ignore) {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            seen.set(id, POWERED_OFF);
          }, this.delayMs);
          this.timers.add(timer);
        }
        return Promise.resolve();
      },
    };
  }

  /** Cancels the power-offs still to come. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/**
 * Starts the daemon in this process on `dir` with `board` and `backend`, its
 * driver reaching the monitor plugins of the registry (built-ins and `extra`) and
 * awaiting shutdowns with `power`.
 */
export function startPowerDaemon(
  dir: string,
  options: { board?: string; backend: string; extra?: Plugin[]; power?: PowerOptions },
): Promise<InProcessDaemon> {
  return startInProcessDaemon(dir, options.backend, options.extra, {
    board: options.board,
    power: options.power,
    pollMs: 50,
  });
}

/** The record of `name` in the state dir's document, as written. */
export async function stateRecord(
  stateDir: string,
  name: string,
): Promise<Record<string, unknown> | undefined> {
  const doc = JSON.parse(await Deno.readTextFile(`${stateDir}/state.json`));
  return (doc.partitions as Record<string, unknown>[]).find((p) => p.name === name);
}

/** A `virsh event --loop --all` watcher: what it printed so far, and how to stop it. */
export interface EventWatcher {
  /** Everything printed so far. */
  text(): string;
  /** Waits until the text matches `pattern` (false after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<boolean>;
  /** Stops virsh (SIGINT, then SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/**
 * Starts `virsh event --loop --all` on `uri` and returns once it hears events: a
 * probe domain is defined (from `dir`/probe.xml) and undefined until its events come.
 */
export async function watchEvents(uri: string, dir: string): Promise<EventWatcher> {
  const child = new Deno.Command("virsh", {
    args: ["-c", uri, "event", "--loop", "--all"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let seen = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) seen += decoder.decode(chunk, { stream: true });
  })();
  const waitFor = async (pattern: RegExp, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(seen)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  };
  const stop = async () => {
    try {
      child.kill("SIGINT");
    } catch {
      // exited
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      child.status.then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 3000)),
    ]);
    clearTimeout(timer);
    if (!ended) child.kill("SIGKILL");
    await child.status;
    await reading;
    await child.stderr.cancel().catch(() => {});
  };
  const virsh = (...args: string[]) =>
    new Deno.Command("virsh", { args: ["-c", uri, ...args], stdout: "null", stderr: "null" })
      .output();
  await Deno.writeTextFile(`${dir}/probe.xml`, domainXml("probe"));
  let registered = false;
  try {
    for (let i = 0; i < 40 && !registered; i++) {
      await virsh("define", `${dir}/probe.xml`);
      registered = await waitFor(/domain '?probe'?: Defined Added/, 250);
      await virsh("undefine", "probe");
    }
  } catch (error) {
    await stop();
    throw error;
  }
  if (!registered) {
    await stop();
    throw new Error(`virsh event never heard of the probe: ${seen}`);
  }
  await waitFor(/domain '?probe'?: Undefined Removed/);
  return { text: () => seen, waitFor, stop };
}
