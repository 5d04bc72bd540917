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
import { existsSync } from "../../core/files.ts";
import type { QemuFiles } from "./files.ts";
import type { BrokerConfig } from "./console_broker.ts";
import { QmpSession } from "./qmp.ts";

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

/** How long a failed start waits for QEMU's exit status to be recorded. */
const EXIT_GRACE_MS = 2000;

/** How often a launch looks whether the broker is up. */
const POLL_MS = 5;

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

/** Removes what a previous run of the partition's QEMU and broker left, before either starts. */
async function clearRunFiles(files: QemuFiles): Promise<void> {
  const stale = [files.exit, files.pid, files.qmp, files.consoleSocket, files.ended];
  await Promise.all(stale.map((file) => Deno.remove(file).catch(() => {})));
}

/** Runs `setsid -f ARGS` (a detached process); a `MonitorError` naming `what` when it cannot. */
async function detached(args: string[], what: string): Promise<void> {
  try {
    await new Deno.Command("setsid", {
      args: ["-f", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (error) {
    throw new MonitorError(
      `cannot run setsid to launch ${what}: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

/** Starts QEMU detached under its supervisor (it starts paused, `-S`); does not wait for it. */
async function spawnQemu(files: QemuFiles, binary: string, args: string[]): Promise<void> {
  await detached(
    ["sh", "-c", SUPERVISOR, "sh", files.exit, files.messages, files.runLock, binary, ...args],
    binary,
  );
}

/**
 * Opens a QMP session on the QEMU {@linkcode spawnQemu} started, once QEMU serves
 * its socket and answers on it. Throws a `MonitorError` with QEMU's own last
 * message when it exits first, and one with the reason when it does not come up
 * (it does not answer within `ms`; the caller kills it).
 */
async function qemuUp(files: QemuFiles, binary: string, ms: number): Promise<QmpSession> {
  try {
    return await QmpSession.open(files.qmp, ms, undefined, files.exit);
  } catch (error) {
    // QEMU may have exited just now (a connection it accepted is reset as it goes):
    // its supervisor records the status a moment later.
    const status = await waitExit(files, EXIT_GRACE_MS);
    if (status !== undefined && status >= 0) {
      const said = (await lastLines(files.messages, 3)).join("; ");
      throw new MonitorError(
        `${describeStatus(binary, status)} at start${said ? `: ${said}` : ""}`,
      );
    }
    throw new MonitorError(
      `${binary} did not come up: ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

/** How the console broker is run. */
export interface BrokerLaunch {
  /** The command that runs a broker, before its JSON configuration. */
  command: readonly string[];
  /** The size of one console capture file. */
  logLimit: number;
  /** What the broker starts once QEMU has exited, if anything. */
  hook?: string[];
}

/**
 * Starts the console broker detached (`command` plus its JSON configuration); it
 * connects to QEMU's sockets as soon as QEMU serves them, so it may start with
 * QEMU. Does not wait for it.
 */
async function spawnBroker(files: QemuFiles, broker: BrokerLaunch): Promise<void> {
  const [program, ...args] = broker.command;
  const config: BrokerConfig = {
    serial: files.serial,
    socket: files.consoleSocket,
    log: files.console,
    limit: broker.logLimit,
    events: files.events,
    ended: files.ended,
    exit: files.exit,
    hook: broker.hook,
    hookLog: files.brokerMessages,
  };
  await detached(
    [
      "sh",
      "-c",
      'log=$1; shift; exec "$@" </dev/null >"$log" 2>&1',
      "sh",
      files.brokerMessages,
      program,
      ...args,
      JSON.stringify(config),
    ],
    "the console broker",
  );
}

/**
 * Waits until the broker serves its socket, so that nothing the partition prints
 * after `cont` is lost. Throws a `MonitorError` with the broker's last message when
 * it does not come up in time, or once QEMU has exited (the broker then gives up).
 */
async function waitBroker(files: QemuFiles, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (existsSync(files.consoleSocket)) return;
    if (existsSync(files.exit)) break;
    await sleep(POLL_MS);
  }
  const said = (await lastLines(files.brokerMessages, 2)).join("; ");
  const why = existsSync(files.exit) ? "QEMU exited first" : `not within ${ms} ms`;
  throw new MonitorError(`the console broker did not come up (${why})${said ? `: ${said}` : ""}`);
}

/** QEMU and the broker up: how long each took from the launch, and QEMU's QMP session. */
export interface Launched {
  /** From QEMU's launch to its first answer on QMP (it has started: its main loop runs). */
  qemu: number;
  /** From the launch (of both) to the broker's socket. */
  broker: number;
  /** The QMP session that negotiated with QEMU, open for `cont`; the caller closes it. */
  qmp: QmpSession;
}

/**
 * Launches QEMU and the console broker at once and waits for both: the broker
 * connects to QEMU's sockets as soon as they are served, and QEMU waits paused
 * (`-S`) for `cont`, so nothing the partition prints is lost. QEMU is up when it
 * answers on QMP (it serves the socket before it has finished starting). When
 * either fails the error is QEMU's when it has one; the caller kills QEMU, and a
 * broker left waiting gives up once QEMU's exit is recorded.
 */
export async function launchTogether(
  files: QemuFiles,
  qemu: { binary: string; args: string[] },
  broker: BrokerLaunch,
  ms: number,
): Promise<Launched> {
  await clearRunFiles(files);
  const begin = performance.now();
  await spawnQemu(files, qemu.binary, qemu.args);
  await spawnBroker(files, broker);
  const since = () => performance.now() - begin;
  const [up, served] = await Promise.allSettled([
    qemuUp(files, qemu.binary, ms).then((qmp) => ({ qmp, ms: since() })),
    waitBroker(files, ms).then(since),
  ]);
  if (up.status === "rejected") throw up.reason;
  if (served.status === "rejected") {
    up.value.qmp.close();
    throw served.reason;
  }
  return { qemu: up.value.ms, broker: served.value, qmp: up.value.qmp };
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
