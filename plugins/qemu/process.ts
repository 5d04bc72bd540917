/**
 * A partition's QEMU process: launched detached (it outlives the vmanctl that
 * started it) under a small shell that records QEMU's exit status in a file, so
 * that a later vmanctl can tell a partition that powered itself off (status 0)
 * from one whose QEMU died.
 *
 * Whether it runs is told by a lock, not by a pid: the shell takes an exclusive
 * `flock` on `run.lock` before it starts QEMU, and QEMU inherits it, so the lock
 * is held exactly while either lives. A pid reused by another process after a
 * crash or a host restart holds no such lock, so it is never taken for QEMU and
 * never killed.
 *
 * @module
 */
import { MonitorError } from "../../core/errors.ts";
import type { QemuFiles } from "./files.ts";
import type { BrokerConfig } from "./console_broker.ts";

/** The shell that supervises QEMU: `sh -c SCRIPT sh EXIT LOG LOCK QEMU ARGS…`. */
const SUPERVISOR = 'exit_file=$1; log=$2; exec 9>>"$3"; shift 3; flock -n 9 || exit 75; ' +
  '"$@" </dev/null >"$log" 2>&1; echo $? >"$exit_file.tmp"; mv "$exit_file.tmp" "$exit_file"';

/** How long to wait for QEMU to come up or go down, in milliseconds. */
export interface Timeouts {
  /** From launch to QMP socket. */
  start: number;
  /** From `quit` to exit. */
  stop: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The last non-empty lines of a text file (none when it is missing). */
export async function lastLines(path: string, count: number): Promise<string[]> {
  const text = await readText(path);
  if (text === undefined) return [];
  return text.replace(/\r/g, "").split("\n").filter((l) => l.trim() !== "").slice(-count);
}

/** QEMU's exit status, once it has exited (undefined while it runs or before it started). */
export async function exitStatus(files: QemuFiles): Promise<number | undefined> {
  const text = await readText(files.exit);
  return text === undefined ? undefined : Number(text.trim());
}

/** QEMU's pid, from its pidfile. */
export async function qemuPid(files: QemuFiles): Promise<number | undefined> {
  const text = await readText(files.pid);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True while QEMU (or its supervising shell) runs: someone holds `run.lock`. Taking
 * the lock for a moment is how that is asked; a lock file nobody holds means
 * nothing of this partition runs, whatever pid its pidfile names.
 */
export async function running(files: QemuFiles): Promise<boolean> {
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(files.runLock, { read: true });
  } catch {
    return false; // never started (or its files are gone)
  }
  try {
    if (!(await lock.tryLock(true))) return true;
    await lock.unlock();
    return false;
  } finally {
    lock.close();
  }
}

/** Describes an exit status the way a shell reports it. */
export function describeStatus(binary: string, status: number): string {
  return status > 128
    ? `${binary} was killed by signal ${status - 128}`
    : `${binary} exited with status ${status}`;
}

/**
 * Launches QEMU detached and waits until its QMP socket is up (it starts paused,
 * `-S`). Throws a `MonitorError` with QEMU's own last message when it exits
 * first or does not come up in time (and then kills it).
 */
export async function launch(
  files: QemuFiles,
  binary: string,
  args: string[],
  timeouts: Timeouts,
): Promise<void> {
  for (const stale of [files.exit, files.pid, files.qmp]) await Deno.remove(stale).catch(() => {});
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("setsid", {
      args: [
        "-f",
        "sh",
        "-c",
        SUPERVISOR,
        "sh",
        files.exit,
        files.messages,
        files.runLock,
        binary,
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    throw new MonitorError(
      `cannot run setsid to launch ${binary}: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
  await child.status;
  const deadline = Date.now() + timeouts.start;
  while (Date.now() < deadline) {
    const status = await exitStatus(files);
    if (status !== undefined) {
      const said = (await lastLines(files.messages, 3)).join("; ");
      throw new MonitorError(
        `${describeStatus(binary, status)} at start${said ? `: ${said}` : ""}`,
      );
    }
    if (await exists(files.qmp) && await qemuPid(files) !== undefined && await running(files)) {
      return;
    }
    await sleep(10);
  }
  await kill(files);
  throw new MonitorError(`${binary} did not come up within ${timeouts.start} ms; killed it`);
}

/**
 * Launches the console broker detached (`command` plus its JSON configuration) and
 * waits until it serves its socket, so that nothing the partition prints after
 * `cont` is lost. `hook` is what the broker starts once QEMU has exited. Throws a
 * `MonitorError` with the broker's last message when it does not come up in time.
 */
export async function launchBroker(
  files: QemuFiles,
  command: readonly string[],
  options: { logLimit: number; hook?: string[] },
  ms: number,
): Promise<void> {
  await Deno.remove(files.consoleSocket).catch(() => {});
  await Deno.remove(files.ended).catch(() => {});
  const [program, ...args] = command;
  const config: BrokerConfig = {
    serial: files.serial,
    socket: files.consoleSocket,
    log: files.console,
    limit: options.logLimit,
    events: files.events,
    ended: files.ended,
    exit: files.exit,
    hook: options.hook,
    hookLog: files.brokerMessages,
  };
  try {
    await new Deno.Command("setsid", {
      args: [
        "-f",
        "sh",
        "-c",
        'log=$1; shift; exec "$@" </dev/null >"$log" 2>&1',
        "sh",
        files.brokerMessages,
        program,
        ...args,
        JSON.stringify(config),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (error) {
    throw new MonitorError(
      `cannot run setsid to launch the console broker: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await exists(files.consoleSocket)) return;
    await sleep(10);
  }
  const said = (await lastLines(files.brokerMessages, 2)).join("; ");
  throw new MonitorError(
    `the console broker did not come up within ${ms} ms${said ? `: ${said}` : ""}`,
  );
}

/** Waits until QEMU has exited and its supervisor recorded the status. */
export async function waitExit(files: QemuFiles, ms: number): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const status = await exitStatus(files);
    if (status !== undefined) return status;
    if (!(await running(files))) {
      // Exited, and its supervisor too: the status was written just now, or never (killed).
      return await exitStatus(files) ?? -1;
    }
    await sleep(10);
  }
  return undefined;
}

/** Kills QEMU (SIGKILL) and waits for it to be gone. */
export async function kill(files: QemuFiles): Promise<void> {
  // Only while its lock is held is the pid in its pidfile QEMU's own.
  if (!(await running(files))) return;
  const pid = (await qemuPid(files))!;
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    return; // gone meanwhile
  }
  await waitExit(files, 5000);
}
