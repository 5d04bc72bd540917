/**
 * Boot time on the qemu backend: from `vmanctl start` (a whole process) to the
 * guest's userspace marker on its console, against a plain `qemu-system-* -kernel`
 * boot of the same kernel, initramfs and command line with the same cores and
 * memory, to the same marker, in the same run (interleaved). Target ≤ 1.1×.
 *
 * Usage: deno task bench --only boot [--runs N] [--board NAME] [--memory-dir DIR]
 *   (default 20 boots each, on every board; --board measures one of them;
 *   --memory-dir DIR runs vmanctl with VMAN_MEMORY_DIR=DIR: /dev/shm measures
 *   a tmpfs-backed memory file; by default it is in the state dir, in the temp dir)
 */
import { fixturesDir } from "../cache.ts";
import { flag, interleave, runsFlag, sleep, targetLine, vmanctlArgs } from "./measure.ts";

const RUNS = runsFlag(20);
const BOARD = flag("--board") ?? "";
const MEMORY_DIR = flag("--memory-dir");
const FIXTURES = fixturesDir();
const MARKER = "vmanager-guest: up";

const GUESTS = [
  {
    board: "qemu-virt-arm64",
    kernel: "kernels/arm64/Image",
    initrd: "initramfs/arm64.cpio.gz",
    console: "ttyAMA0",
    qemu: ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53"],
  },
  {
    board: "qemu-virt-arm",
    kernel: "kernels/armhf/zImage",
    initrd: "initramfs/armhf.cpio.gz",
    console: "ttyAMA0",
    qemu: ["qemu-system-arm", "-M", "virt", "-cpu", "cortex-a15"],
  },
  {
    board: "qemu-virt-riscv64",
    kernel: "kernels/riscv64/Image",
    initrd: "initramfs/riscv64.cpio.gz",
    console: "ttyS0",
    qemu: ["qemu-system-riscv64", "-M", "virt"],
  },
];
const CORES = "2,3";
const MEMORY_MIB = 512;

const decoder = new TextDecoder();

async function vmanctl(state: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: vmanctlArgs(state, ...args),
    env: MEMORY_DIR ? { VMAN_MEMORY_DIR: MEMORY_DIR } : {},
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`vmanctl ${args.join(" ")}: ${decoder.decode(out.stderr)}`);
}

/** How many times the marker is in the partition's console capture (it goes on across starts). */
async function markers(log: string): Promise<number> {
  return (await Deno.readTextFile(log).catch(() => "")).split(MARKER).length - 1;
}

/** Milliseconds from `vmanctl start` to this boot's marker in the partition's console log. */
async function vmanagerBoot(state: string): Promise<number> {
  const log = `${state}/qemu/1/console.log`;
  const before = await markers(log);
  const start = performance.now();
  await vmanctl(state, "start", "p");
  while (true) {
    if (await markers(log) > before) break;
    if (performance.now() - start > 180_000) throw new Error(`no marker in ${log}`);
    await sleep(5);
  }
  const elapsed = performance.now() - start;
  await vmanctl(state, "stop", "p");
  return elapsed;
}

/** Milliseconds from spawning plain QEMU with -kernel to the marker on its serial. */
async function plainBoot(guest: typeof GUESTS[number]): Promise<number> {
  const [binary, ...machine] = guest.qemu;
  const start = performance.now();
  const child = new Deno.Command(binary, {
    args: [
      ...machine,
      "-smp",
      "2",
      "-m",
      `${MEMORY_MIB}M`,
      "-nodefaults",
      "-display",
      "none",
      "-nic",
      "none",
      "-serial",
      "stdio",
      "-kernel",
      `${FIXTURES}/${guest.kernel}`,
      "-initrd",
      `${FIXTURES}/${guest.initrd}`,
      "-append",
      `console=${guest.console} vmanager.stay`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const reader = child.stdout.getReader();
  try {
    while (!text.includes(MARKER)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${binary} ended without the marker`);
      text += decoder.decode(value, { stream: true });
    }
    return performance.now() - start;
  } finally {
    child.kill("SIGKILL");
    await reader.cancel().catch(() => {});
    await child.status;
  }
}

if (BOARD && !GUESTS.some((g) => g.board === BOARD)) {
  console.error(`boot: no board ${BOARD} (boards: ${GUESTS.map((g) => g.board).join(", ")})`);
  Deno.exit(2);
}

/**
 * Removes the memory file a state dir's link names, when it has one (made in
 * `--memory-dir`): by `rm`, as Deno asks for every permission to touch `/dev`.
 */
async function removeMemoryFile(state: string): Promise<void> {
  const target = await Deno.readLink(`${state}/memory.img`).catch(() => undefined);
  if (target) await new Deno.Command("rm", { args: ["-f", "--", target] }).output();
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

console.log(
  `Boot to userspace (${RUNS} boots each, interleaved): partition on cores {${CORES}} with ` +
    `${MEMORY_MIB} MiB vs plain QEMU -kernel with -smp 2 -m ${MEMORY_MIB}M; ` +
    `memory file in ${MEMORY_DIR ?? "the state dir (temp dir)"}`,
);
for (const guest of GUESTS.filter((g) => !BOARD || g.board === BOARD)) {
  const missing = [guest.kernel, guest.initrd].filter((f) => {
    try {
      Deno.statSync(`${FIXTURES}/${f}`);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    console.log(`  ${guest.board}: skipped, missing ${missing.join(", ")} in ${FIXTURES}`);
    continue;
  }
  const state = await Deno.makeTempDir({ prefix: "vman-bench-boot-" });
  try {
    await vmanctl(
      state,
      "--board",
      guest.board,
      "--backend",
      "qemu",
      "create",
      "p",
      "--cpu-ids",
      CORES,
      "--memory",
      `${MEMORY_MIB}M`,
      "--kernel",
      `${FIXTURES}/${guest.kernel}`,
      "--initrd",
      `${FIXTURES}/${guest.initrd}`,
      "--cmdline",
      `console=${guest.console} vmanager.stay`,
    );
    const runs = await interleave({
      ours: () => vmanagerBoot(state),
      plain: () => plainBoot(guest),
    }, { runs: RUNS });
    console.log(
      "  " + targetLine(
        `${guest.board} vmanctl start → marker`,
        runs.ours,
        { label: "plain qemu -kernel", samples: runs.plain },
        { ratio: 1.1 },
        seconds,
      ),
    );
  } finally {
    await vmanctl(state, "destroy", "p").catch(() => {});
    await removeMemoryFile(state);
    await Deno.remove(state, { recursive: true });
  }
}
