/**
 * Helpers of the boot tests on the qemu backend: the fixtures (Debian kernels and
 * busybox initramfs from scripts/fetch-fixtures.sh), waiting for a guest's
 * console line, and the guest's own report.
 */
import assert from "node:assert/strict";
import { hasTool, ROOT, vmanctl, VMANCTL_FLAGS, withTempDir } from "../cli/helpers.ts";
import { loadHelper } from "../../core/monitor/helper.ts";
import { fixturesDir } from "../../scripts/cache.ts";
import { isFile } from "../monitor/files.ts";

// The qemu backend's monitor calls go to the sim, through the C helper: load it once
// per process, before the tests (the resource sanitizer counts a library load).
loadHelper();

/** The fixtures cache. */
export const FIXTURES = fixturesDir();

/** One architecture's boot fixtures and console. */
export interface Guest {
  /** Board name. */
  board: string;
  /** Kernel file. */
  kernel: string;
  /** Initramfs file. */
  initrd: string;
  /** The console device on the kernel command line. */
  console: string;
  /** The QEMU program. */
  qemu: string;
}

/** The guests per board. */
export const GUESTS: Record<"arm64" | "armv7" | "riscv64", Guest> = {
  arm64: {
    board: "qemu-virt-arm64",
    kernel: `${FIXTURES}/kernels/arm64/Image`,
    initrd: `${FIXTURES}/initramfs/arm64.cpio.gz`,
    console: "ttyAMA0",
    qemu: "qemu-system-aarch64",
  },
  armv7: {
    board: "qemu-virt-arm",
    kernel: `${FIXTURES}/kernels/armhf/zImage`,
    initrd: `${FIXTURES}/initramfs/armhf.cpio.gz`,
    console: "ttyAMA0",
    qemu: "qemu-system-arm",
  },
  riscv64: {
    board: "qemu-virt-riscv64",
    kernel: `${FIXTURES}/kernels/riscv64/Image`,
    initrd: `${FIXTURES}/initramfs/riscv64.cpio.gz`,
    console: "ttyS0",
    qemu: "qemu-system-riscv64",
  },
};

/** Why a guest cannot boot here (printed by the skipping test), or undefined. */
export function missing(guest: Guest): string | undefined {
  if (!hasTool(guest.qemu)) return `${guest.qemu} is not installed`;
  for (const file of [guest.kernel, guest.initrd]) {
    if (!isFile(file)) return `${file} is missing (run scripts/fetch-fixtures.sh)`;
  }
  return undefined;
}

/** Runs vmanctl on a state dir and fails on a non-zero exit. */
export async function ok(state: string, ...args: string[]): Promise<string> {
  const result = await vmanctl(["--state-dir", state, ...args]);
  if (result.code !== 0) {
    throw new Error(`vmanctl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Creates a partition booting `guest` on the qemu backend. */
export async function createGuest(
  state: string,
  guest: Guest,
  name: string,
  cpuIds: string,
  memory: string,
  stay = false,
  more: { cmdline?: string; args?: string[] } = {},
): Promise<void> {
  const cmdline = [`console=${guest.console}`, stay ? "vmanager.stay" : "", more.cmdline ?? ""];
  await ok(
    state,
    "--board",
    guest.board,
    "--backend",
    "qemu",
    "create",
    name,
    "--cpu-ids",
    cpuIds,
    "--memory",
    memory,
    "--kernel",
    guest.kernel,
    "--initrd",
    guest.initrd,
    "--cmdline",
    cmdline.filter(Boolean).join(" "),
    ...(more.args ?? []),
  );
}

/**
 * Creates `p` on `guest` (core 1, 256 MiB, `vmanager.stay`, and `more`), starts it
 * and waits for the guest's `staying up`; returns the console.
 */
export async function bootStaying(
  state: string,
  guest: Guest,
  more: { cmdline?: string; args?: string[] } = {},
): Promise<string> {
  await createGuest(state, guest, "p", "1", "256M", true, more);
  await ok(state, "start", "p");
  return await waitForConsole(state, "p", /vmanager-guest: staying up/);
}

/**
 * Waits until the partition's console has `count` lines matching `pattern` (the
 * capture goes on across starts); returns the console.
 */
export async function waitForConsole(
  state: string,
  name: string,
  pattern: RegExp,
  timeoutMs = 120_000,
  count = 1,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const all = new RegExp(
    pattern.source,
    pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g",
  );
  let text = "";
  while (Date.now() < deadline) {
    text = await ok(state, "console", "--log", name);
    if ((text.match(all) ?? []).length >= count) return text;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no console line matching ${pattern} from ${name} in ${timeoutMs} ms:\n${text}`);
}

/** What the guest's /init reported. */
export interface GuestReport {
  /** CPUs in /proc/cpuinfo. */
  cpus: number;
  /** /sys/devices/system/cpu/online. */
  online: string;
  /** MemTotal in KiB. */
  memTotalKb: number;
  /** The total in the kernel's "Memory: …K/…K available" line, in KiB. */
  memoryKb: number;
}

/** Parses the guest's report from its console. */
export function report(console: string): GuestReport {
  const up = console.match(/vmanager-guest: up cpus=(\d+) online=(\S+) memtotal_kb=(\d+)/);
  const memory = console.match(/Memory: \d+K\/(\d+)K available/);
  if (!up || !memory) throw new Error(`no guest report in the console:\n${console}`);
  return {
    cpus: Number(up[1]),
    online: up[2],
    memTotalKb: Number(up[3]),
    memoryKb: Number(memory[1]),
  };
}

/** Destroys every partition of a state dir (ends their QEMU processes). */
export async function destroyAll(state: string): Promise<void> {
  const names = (await vmanctl(["--state-dir", state, "list", "--name"])).stdout.split("\n");
  for (const name of names.filter((n) => n)) {
    await vmanctl(["--state-dir", state, "destroy", name]);
  }
}

/** Waits until `list` shows the partition in `wanted` state. */
export async function waitForState(
  state: string,
  name: string,
  wanted: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (Date.now() < deadline) {
    const list = JSON.parse(await ok(state, "--json", "list")) as { name: string; state: string }[];
    seen = list.find((p) => p.name === name)?.state ?? "absent";
    if (seen === wanted) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} is ${seen}, not ${wanted}, after ${timeoutMs} ms`);
}

/**
 * Waits until the state records the partition in `wanted` state for `reason`: its
 * end policy applied (by its watcher when its emulator exits).
 */
export async function waitForReason(
  state: string,
  name: string,
  wanted: string,
  reason: string,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let shown: Record<string, unknown> = {};
  while (Date.now() < deadline) {
    shown = JSON.parse(await ok(state, "--json", "show", name));
    if (shown.state === wanted && shown.reason === reason) return shown;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${name} is not ${wanted} (${reason}) after ${timeoutMs} ms: ${JSON.stringify(shown)}`,
  );
}

/**
 * A test that runs in a fresh state dir and destroys every partition there
 * afterwards, whatever happens (so no QEMU outlives it); ignored when `skip`.
 */
export function bootTest(
  name: string,
  skip: boolean,
  fn: (state: string) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: skip,
    fn: () =>
      withTempDir(async (state) => {
        try {
          await fn(state);
        } finally {
          await destroyAll(state);
        }
      }),
  });
}

/**
 * Types `input` into the partition's console as a script does — `vmanctl console
 * NAME` with its standard input piped — and returns what the console printed once
 * it matches `until`; then ends the input, and the session detaches.
 */
export async function typeIntoConsole(
  state: string,
  name: string,
  input: string,
  until: RegExp,
  timeoutMs = 60_000,
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, "--state-dir", state, "console", name],
    env: { VMAN_PLUGIN_PATH: "" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  const readUntil = async (pattern: RegExp) => {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  };
  try {
    // As a person does: Enter first, and type once the shell's prompt is there (what
    // is typed before the shell set its terminal up would be flushed).
    await writer.write(new TextEncoder().encode("\n"));
    await readUntil(/vmanager-guest# /);
    text = "";
    await writer.write(new TextEncoder().encode(input));
    await readUntil(until);
  } finally {
    clearTimeout(timer);
    await writer.close().catch(() => {});
    await reader.cancel().catch(() => {});
  }
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    new Uint8Array(await new Response(child.stderr).arrayBuffer()),
  );
  assert.match(text, until, `console of ${name} (exit ${status.code}, stderr: ${stderr})`);
  assert.equal(status.code, 0, `vmanctl console ${name}: ${stderr}`);
  return text;
}

/** The interrupts the console UART took, from /proc/interrupts (PL011 or 16550). */
export function uartInterrupts(procInterrupts: string): number {
  const line = procInterrupts.split("\n").find((l) => /pl011|ttyS|serial|uart/i.test(l));
  assert.ok(line, `no UART in /proc/interrupts:\n${procInterrupts}`);
  const counts = line.trim().split(/\s+/).slice(1).filter((f) => /^\d+$/.test(f));
  return counts.reduce((sum, n) => sum + Number(n), 0);
}

/**
 * What a user checks on a booted partition that stays up: a line typed into its
 * console is answered by its shell, and its console UART took interrupts; then
 * `poweroff -f` typed there powers it off and `list` shows it stopped. Returns what
 * the console answered, with `/proc/cpuinfo`.
 */
export async function checkConsole(state: string, name: string): Promise<string> {
  const text = await typeIntoConsole(
    state,
    name,
    "echo typed-$((6*7)); cat /proc/interrupts; cat /proc/cpuinfo; echo end-$((7*7))\n",
    /end-49/,
  );
  assert.match(text, /typed-42/, "the shell's answer to a typed line");
  const table = text.slice(text.indexOf("typed-42"), text.indexOf("end-49"));
  assert.ok(uartInterrupts(table) > 0, `the UART took no interrupt:\n${table}`);
  await typeIntoConsole(state, name, "poweroff -f\n", /poweroff -f/);
  await waitForState(state, name, "stopped");
  return text;
}
