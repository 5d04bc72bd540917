/**
 * Helpers for the FDT tests: finding the real tools (dtc, fdtget, QEMU), running
 * them, temp dirs, and QEMU 7.2 virt-board DTB dumps shared by the test files.
 *
 * @module
 */

/** True when `name` is an executable file on PATH. */
export async function hasTool(name: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Whether each real tool the tests use is installed. */
export const TOOLS = {
  dtc: await hasTool("dtc"),
  fdtget: await hasTool("fdtget"),
  qemuAarch64: await hasTool("qemu-system-aarch64"),
  qemuArm: await hasTool("qemu-system-arm"),
  qemuRiscv64: await hasTool("qemu-system-riscv64"),
};

/** Output of one finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and returns its exit code and decoded output. */
export async function run(command: string, args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs `fn` with a fresh temp dir that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "vmanager-fdt-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One QEMU virt machine to dump a DTB of. */
interface QemuMachine {
  name: string;
  binary: string;
  available: boolean;
  args: string[];
}

const COMMON = ["-smp", "4", "-m", "2G", "-nographic", "-nic", "none"];

/** The three QEMU virt boards the project targets, as the tests dump them. */
export const QEMU_MACHINES: QemuMachine[] = [
  {
    name: "aarch64",
    binary: "qemu-system-aarch64",
    available: TOOLS.qemuAarch64,
    args: ["-cpu", "cortex-a53", ...COMMON],
  },
  {
    name: "arm",
    binary: "qemu-system-arm",
    available: TOOLS.qemuArm,
    args: ["-cpu", "cortex-a15", ...COMMON],
  },
  {
    name: "riscv64",
    binary: "qemu-system-riscv64",
    available: TOOLS.qemuRiscv64,
    args: COMMON,
  },
];

let dumps: Promise<Map<string, Uint8Array>> | undefined;

/**
 * DTBs of the available QEMU virt boards by machine name (`aarch64`, `arm`,
 * `riscv64`), dumped once per test process with `-M virt,dumpdtb=FILE`. A machine
 * whose QEMU is missing or fails is left out and logged.
 */
export function qemuDumps(): Promise<Map<string, Uint8Array>> {
  dumps ??= withTempDir(async (dir) => {
    const out = new Map<string, Uint8Array>();
    for (const machine of QEMU_MACHINES) {
      if (!machine.available) continue;
      const file = `${dir}/${machine.name}.dtb`;
      const result = await run(machine.binary, ["-M", `virt,dumpdtb=${file}`, ...machine.args]);
      if (result.code !== 0) {
        console.log(`${machine.binary} could not dump its DTB: ${result.stderr.trim()}`);
        continue;
      }
      out.set(machine.name, await Deno.readFile(file));
    }
    return out;
  });
  return dumps;
}

/** Logs why a test is skipped when `ok` is false; returns `!ok` for `Deno.test`'s `ignore`. */
export function skipUnless(ok: boolean, reason: string): boolean {
  if (!ok) console.log(`skipping: ${reason}`);
  return !ok;
}
