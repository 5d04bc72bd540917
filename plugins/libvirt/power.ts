/**
 * What the daemon does after it pressed a partition's power button: libvirt's
 * shutdown and reboot only ask the guest and return at once, so the daemon
 * awaits the power-off in the background, never on the client's connection.
 *
 * One task per domain (by UUID) polls the partition as its backend observes it,
 * without the state lock:
 *
 * - once its OS has powered off, the intent is converged (`convergedState`: the
 *   partition is recorded stopped, reason `shutdown`) unless its watcher did it
 *   first; for a reboot the partition is then started again
 *   ({@linkcode restartDomain}: images loaded again, reason `restarted`) — libvirt's
 *   qemu driver reboots the same way, a shutdown followed by a restart ("fake reboot");
 * - if it has not powered off within the timeout (60 s, as `vmanctl shutdown`), the
 *   intent is dropped ({@linkcode abandonDomainShutdown}) and it keeps running, as a
 *   guest that ignores libvirt's request does;
 * - a destroy, reset or undefine of the domain cancels its task first.
 *
 * While a reboot is under way the domain is shown running ({@linkcode PowerTasks.overlay}),
 * as libvirt shows a domain during its fake reboot: clients see no shut off in
 * between, and hear one REBOOT event once it runs again.
 *
 * @module
 */
import type { PartitionRecord } from "../../core/model.ts";
import type { LifecycleContext } from "../../core/partition/lifecycle.ts";
import { uuidOf } from "../../core/partition/lifecycle.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";
import { DEFAULT_SHUTDOWN_TIMEOUT } from "../../core/partition/power.ts";
import { convergedState } from "../../core/partition/transaction.ts";
import { NoDomainError } from "./driver.ts";
import { abandonDomainShutdown, restartDomain } from "./transactions.ts";

/** What the tasks need from the driver. */
export interface PowerHost {
  /** The lifecycle context. */
  lc: LifecycleContext;
  /** Every partition as its backend observes it (no overlay). */
  observed(): Promise<ObservedRecord[]>;
  /** Called when a task changed something or ended (the daemon looks for events). */
  changed(): void;
  /** Logs a line. */
  log(line: string): void;
}

/** Timing of the tasks. */
export interface PowerOptions {
  /** How long a guest has to power off, in ms (default 60 000). */
  timeoutMs?: number;
  /** How often a task looks, in ms (default 200). */
  pollMs?: number;
}

/** One domain's task. */
interface Task {
  /** Start it again once it powered off (a reboot). */
  restart: boolean;
  /** The record when the button was pressed (what is shown during a reboot). */
  before: PartitionRecord;
  /** Set to stop the task at its next look. */
  cancelled: boolean;
  /** Settles when the task has ended. */
  done: Promise<void>;
}

/** The result of {@linkcode PowerTasks.cancel}. */
export interface Cancelled {
  /** The task was a reboot. */
  restart: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The daemon's shutdown and reboot tasks. */
export class PowerTasks {
  private readonly tasks = new Map<string, Task>();
  /** Domains shown as they were while a restart of theirs is being made (a reset). */
  private readonly held = new Map<string, ObservedRecord>();
  private readonly timeoutMs: number;
  private readonly pollMs: number;

  /** Tasks over `host`'s partitions. */
  constructor(private readonly host: PowerHost, options: PowerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT;
    this.pollMs = options.pollMs ?? 200;
  }

  /**
   * Awaits the power-off of `record` (whose button was just pressed), then, with
   * `restart`, starts it again. A task already awaiting it goes on (a reboot asked
   * meanwhile makes it restart the partition).
   */
  watch(record: PartitionRecord, restart: boolean): void {
    const uuid = uuidOf(record);
    const running = this.tasks.get(uuid);
    if (running && !running.cancelled) {
      running.restart ||= restart;
      return;
    }
    const task: Task = { restart, before: record, cancelled: false, done: Promise.resolve() };
    this.tasks.set(uuid, task);
    task.done = this.run(uuid, task)
      .catch((error) => {
        if (error instanceof NoDomainError) return; // undefined meanwhile
        const what = task.restart ? "reboot" : "shutdown";
        this.host.log(`${what} of ${record.name}: ${(error as Error).message}`);
      })
      .finally(() => {
        if (this.tasks.get(uuid) === task) this.tasks.delete(uuid);
        this.host.changed();
      });
  }

  /** Stops the task of `uuid`, if any, once its current step is done; says what it was. */
  async cancel(uuid: string): Promise<Cancelled | undefined> {
    const task = this.tasks.get(uuid);
    if (!task) return undefined;
    task.cancelled = true;
    await task.done;
    return { restart: task.restart };
  }

  /** Stops every task (the daemon stops); a step under way (a start) completes. */
  async close(): Promise<void> {
    const tasks = [...this.tasks.values()];
    for (const task of tasks) task.cancelled = true;
    await Promise.all(tasks.map((t) => t.done));
  }

  /**
   * Runs `work`, a restart of `record` made in steps (a reset: stopped, then
   * started), showing the domain as `record` until it is done: clients see it
   * restart (a REBOOT event), not stop and start.
   */
  async holding<T>(record: ObservedRecord, work: () => Promise<T>): Promise<T> {
    const uuid = uuidOf(record);
    this.held.set(uuid, record);
    try {
      return await work();
    } finally {
      if (this.held.get(uuid) === record) this.held.delete(uuid);
    }
  }

  /**
   * `records` with each domain being rebooted shown as it was when its reboot was
   * asked (running, its start time and reason) until it runs again, and each domain
   * being reset as it was until the reset is done.
   */
  overlay(records: ObservedRecord[]): ObservedRecord[] {
    if (this.tasks.size === 0 && this.held.size === 0) return records;
    return records.map((record) => {
      const held = this.held.get(uuidOf(record));
      if (held) return held;
      const task = this.tasks.get(uuidOf(record));
      if (!task?.restart || task.cancelled || record.state === "running") return record;
      const { runtime: _, pending: __, ...rest } = record;
      return {
        ...rest,
        state: "running",
        started: task.before.started,
        reason: task.before.reason,
        ending: task.before.ending,
      };
    });
  }

  private async run(uuid: string, task: Task): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (!task.cancelled) {
      const record = (await this.host.observed()).find((r) => uuidOf(r) === uuid);
      if (!record) return;
      if (record.pending?.op !== "shutdown") {
        // The intent is gone: the power-off was recorded (stopped, reason shutdown), or a
        // stop, start or undefine made by someone else replaced it.
        if (task.restart && record.state === "stopped" && record.reason === "shutdown") {
          await restartDomain(this.host.lc, uuid);
          this.host.changed();
        }
        return;
      }
      if (record.runtime) {
        // It powered off: record it now (its watcher may be a moment behind).
        await convergedState(this.host.lc);
      } else if (Date.now() >= deadline) {
        await abandonDomainShutdown(this.host.lc, uuid);
        this.host.log(
          `${record.name} did not power off within ${this.timeoutMs / 1000} s; ` +
            `it keeps running${task.restart ? " (not rebooted)" : ""}`,
        );
        return;
      }
      await sleep(this.pollMs);
    }
  }
}
