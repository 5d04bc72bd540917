/**
 * How a partition's QEMU ended, as its console broker saw it: QEMU runs with
 * `-no-reboot` and a second QMP socket (`events.sock`) the broker listens on, so
 * a guest that powers off (PSCI SYSTEM_OFF, SBI system reset shutdown), one that
 * reboots (SYSTEM_RESET: QEMU exits instead of resetting a machine whose memory
 * holds a used kernel) and one that panics are told apart. QEMU's SHUTDOWN event
 * carries the reason (`guest-shutdown`, `guest-reset`, `guest-panic`); a kernel
 * panic on a board without a panic device is seen on the console (the kernel's
 * `Kernel panic - not syncing` line), after which the broker quits QEMU. What it
 * saw is written to `ended.json` for `observe` and the end policies.
 *
 * @module
 */
import { JsonLines } from "./qmp.ts";

/** What ended a partition: its OS powered off, rebooted, or crashed (panicked). */
export interface QemuEnd {
  /** `poweroff`, `reboot` or `crash`. */
  cause: "poweroff" | "reboot" | "crash";
  /** What QEMU or the console said, e.g. `guest-reset`, `kernel panic`. */
  detail: string;
  /** ISO time. */
  at: string;
}

/** The causes of QEMU's SHUTDOWN reasons that a guest makes. */
const GUEST_REASONS: Record<string, QemuEnd["cause"]> = {
  "guest-shutdown": "poweroff",
  "guest-reset": "reboot",
  "guest-panic": "crash",
};

/** The kernel's panic line on a console. */
export const PANIC_LINE = "Kernel panic - not syncing";

/** Writes what ended the partition (atomically) unless something was written already. */
export async function recordEnd(path: string, end: Omit<QemuEnd, "at">): Promise<void> {
  try {
    await Deno.lstat(path);
    return; // the first cause stands (a panic, then the reset it causes)
  } catch { /* none yet */ }
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify({ ...end, at: new Date().toISOString() }) + "\n");
  await Deno.rename(tmp, path);
}

/** What ended the partition, if its broker saw it. */
export async function readEnd(path: string): Promise<QemuEnd | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as QemuEnd;
  } catch {
    return undefined;
  }
}

/** A QMP connection that listens for QEMU's events and can ask it to quit. */
export class QemuEvents {
  private constructor(private readonly conn: Deno.UnixConn, private readonly lines: JsonLines) {}

  /** Connects to the events socket and negotiates capabilities. */
  static async connect(path: string): Promise<QemuEvents> {
    const conn = await Deno.connect({ transport: "unix", path });
    const events = new QemuEvents(conn, new JsonLines(conn));
    await events.lines.next(); // the greeting
    await events.send("qmp_capabilities");
    return events;
  }

  /** Sends a command (its reply comes back among the events and is skipped). */
  async send(execute: string): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify({ execute }) + "\n");
    let done = 0;
    while (done < bytes.length) done += await this.conn.write(bytes.subarray(done));
  }

  /** Records each guest-made SHUTDOWN at `ended` until the connection closes. */
  async watch(ended: string): Promise<void> {
    try {
      while (true) {
        const message = await this.lines.next();
        if (message.event !== "SHUTDOWN") continue;
        const reason = String((message.data as { reason?: string } | undefined)?.reason);
        const cause = GUEST_REASONS[reason];
        if (cause) await recordEnd(ended, { cause, detail: reason });
      }
    } catch {
      // QEMU closed the connection: it exited.
    }
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed already */ }
  }
}
