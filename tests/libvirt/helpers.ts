/**
 * Helpers for the libvirt tests: a real `vmanctl daemon` process on sockets in a
 * temporary directory, and the real clients (`virsh`, `/usr/bin/python3` with
 * python3-libvirt) pointed at it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { destroyAll, GUESTS } from "../qemu/helpers.ts";
import { hasTool, ROOT, VMANCTL_FLAGS, vmanctlProcess, withTempDir } from "../cli/helpers.ts";

/** The Python that imports Debian's python3-libvirt. */
export const PYTHON = "/usr/bin/python3";

/** True when virsh runs. */
export const HAVE_VIRSH = hasTool("virsh");

/** True when `/usr/bin/python3` imports libvirt. */
export const HAVE_PYTHON_LIBVIRT = (() => {
  try {
    return new Deno.Command(PYTHON, {
      args: ["-c", "import libvirt"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

/** A running daemon. */
export interface Daemon {
  /** The state dir. */
  stateDir: string;
  /** The read-write socket. */
  socket: string;
  /** The read-only socket. */
  roSocket: string;
  /** The URI virsh and python use for the read-write socket. */
  uri: string;
  /** The URI of the read-only socket. */
  roUri: string;
  /** The daemon's pid. */
  pid: number;
  /** What the daemon logged so far. */
  log(): string;
  /** Stops it (SIGTERM) and returns its exit code. */
  stop(): Promise<number>;
}

/**
 * Starts `vmanctl daemon` on `dir` (board qemu-virt-arm64 for a new state dir).
 * `wrap` runs it under a command (e.g. `["prlimit", "--nofile=64:64", "--"]`).
 */
export async function startDaemon(
  dir: string,
  extra: string[] = [],
  wrap: string[] = [],
): Promise<Daemon> {
  const stateDir = `${dir}/state`;
  const socket = `${dir}/sock`;
  const roSocket = `${dir}/sock-ro`;
  const [cmd, ...prefix] = [...wrap, Deno.execPath()];
  const child = new Deno.Command(cmd, {
    args: [
      ...prefix,
      "run",
      ...VMANCTL_FLAGS,
      `${ROOT}/main.ts`,
      "--state-dir",
      stateDir,
      "--board",
      "qemu-virt-arm64",
      ...extra,
      "daemon",
      "--socket",
      socket,
      "--ro-socket",
      roSocket,
    ],
    env: { VMAN_PLUGIN_PATH: "" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const { promise: ready, resolve, reject } = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes("listening on")) resolve();
    }
    reject(new Error(`the daemon exited before listening: ${text}`));
  })();
  const status = child.status;
  const timeout = setTimeout(
    () => reject(new Error(`the daemon did not listen in 30 s: ${text}`)),
    30_000,
  );
  try {
    await ready;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await status;
    await reading;
    throw error;
  } finally {
    clearTimeout(timeout);
  }
  const uri = (path: string) => `vmanager+unix:///system?socket=${path}`;
  return {
    stateDir,
    socket,
    roSocket,
    uri: uri(socket),
    roUri: uri(roSocket),
    pid: child.pid,
    log: () => text,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      const { code } = await status;
      await reading;
      return code;
    },
  };
}

/**
 * Runs `fn` with a daemon started with `extra` (default: the sim backend; `[]`: a
 * new state dir's default, dry-run) in a temporary directory, then stops it and
 * asserts it exited 0. On the qemu backend every partition is destroyed first, so
 * no QEMU outlives the test.
 */
export async function withDaemon(
  fn: (d: Daemon, dir: string) => Promise<void>,
  extra: string[] = ["--backend", "sim"],
): Promise<void> {
  const backend = extra.indexOf("--backend");
  const qemu = backend >= 0 && extra[backend + 1] === "qemu";
  await withTempDir(async (dir) => {
    const d = await startDaemon(dir, extra);
    try {
      await fn(d, dir);
    } finally {
      if (qemu) await destroyAll(d.stateDir);
      assert.equal(await d.stop(), 0);
    }
  });
}

/** The value of `name` in a `Name: value` listing (virsh dominfo, vol-info…). */
export function field(text: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, "m").exec(text)?.[1].trim();
}

/** `vmanctl list --json` of the daemon's state dir. */
export async function partitions(d: Daemon): Promise<{ name: string; state: string }[]> {
  const list = await vmanctlProcess(["--state-dir", d.stateDir, "--json", "list"]);
  assert.equal(list.code, 0, list.stderr);
  return JSON.parse(list.stdout);
}

/** What a client run produced. */
export interface ClientResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** How {@link run} runs a client. */
export interface RunOptions {
  /** What it reads on its standard input (none when undefined). */
  stdin?: string;
  /** Variables set for it (added to this process's, unless `clearEnv`). */
  env?: Record<string, string>;
  /** Gives it only `env`, nothing of this process's environment. */
  clearEnv?: boolean;
}

/** Runs a client to its end, with `options`' input and environment. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<ClientResult> {
  const { stdin, env, clearEnv } = options;
  const child = new Deno.Command(cmd, {
    args,
    env,
    clearEnv,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs the real virsh against `uri`. */
export function virsh(uri: string, ...args: string[]): Promise<ClientResult> {
  return run("virsh", ["-c", uri, ...args]);
}

/** Runs the real virsh against `uri`, killed (exit 124) when it takes over `seconds`. */
export function virshWithin(
  seconds: number,
  uri: string,
  ...args: string[]
): Promise<ClientResult> {
  return run("timeout", ["-s", "KILL", String(seconds), "virsh", "-c", uri, ...args]);
}

/** Runs a Python script with `/usr/bin/python3` (python3-libvirt); `args` become sys.argv[1:]. */
export function python(script: string, ...args: string[]): Promise<ClientResult> {
  return run(PYTHON, ["-", ...args], { stdin: script });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The daemon's resident set size in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  // ps (procps), as Deno lets only --allow-all read /proc/<pid>; NaN without it.
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] })
      .output();
    return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
  } catch {
    return NaN;
  }
}

/** A domain XML document for the qemu-virt-arm64 board. */
export function domainXml(name: string, extra = "", vcpu = "<vcpu>1</vcpu>"): string {
  return `<domain type='vmanager'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  ${vcpu}
  <os><type arch='aarch64'>hvm</type></os>${extra}
</domain>
`;
}

/** What a Linux domain of the fixture arm64 guest has. */
export interface LinuxDomain {
  /** Its name. */
  name: string;
  /** The `<vcpu>` element (default one core, the allocator's pick). */
  vcpu?: string;
  /** A shell on its console (`vmanager.stay`), default true. */
  stay?: boolean;
  /** More elements after `<os>` (end policies…). */
  extra?: string;
  /** Board devices it gets as hostdevs (default: the board's defaults). */
  devices?: string[];
}

/**
 * A domain XML document booting the fixture arm64 kernel and initramfs
 * (scripts/fetch-fixtures.sh) with 256 MiB on qemu-virt-arm64.
 */
export function linuxDomainXml(domain: LinuxDomain): string {
  const guest = GUESTS.arm64;
  const cmdline = `console=${guest.console}${domain.stay === false ? "" : " vmanager.stay"}`;
  const hostdevs = (domain.devices ?? []).map((device) =>
    `<hostdev mode='subsystem' type='vmanager'><source name='${device}'/></hostdev>`
  ).join("");
  return `<domain type='vmanager'>
  <name>${domain.name}</name>
  <memory unit='MiB'>256</memory>
  ${domain.vcpu ?? "<vcpu>1</vcpu>"}
  <os>
    <type arch='aarch64'>hvm</type>
    <kernel>${guest.kernel}</kernel>
    <initrd>${guest.initrd}</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  ${domain.extra ?? ""}
  <devices>${hostdevs}</devices>
</domain>
`;
}
