/**
 * `vmanctl daemon`'s memory on the dry-run backend:
 *
 * - idle: its resident set a moment after it came up (sampled 20 times), against
 *   libvirtd's with its test driver (target ≤ 64 MiB);
 * - growth: 10,000 define/start/destroy/undefine cycles through python3-libvirt
 *   (one connection, the loop in Python), its resident set sampled every 1,000
 *   cycles, then 20 times once they are done, against its own resident set at
 *   cycle 0 (target < 5% growth, a ratio of medians under 1.05).
 *
 * Usage: deno task bench --only daemon_memory [--runs N] [--cycles N]
 */
import {
  countFlag,
  loadAverage,
  mib,
  runsFlag,
  sleep,
  targetLine,
  vmanctlArgs,
} from "./measure.ts";
import { must, rssKiB, type Served, spawnDaemon, startPeer } from "./libvirt_peers.ts";

const RUNS = runsFlag(20);
const CYCLES = countFlag("--cycles", 10_000);
const PYTHON = "/usr/bin/python3";
const IDLE_TARGET = 64 * 1048576;

/**
 * `vmanctl daemon` as it runs day to day: on a state dir that has its board and
 * a partition already (made by `vmanctl create`), dry-run backend; no client yet.
 */
async function startDaemon(): Promise<Served> {
  const dir = await Deno.makeTempDir({ prefix: "vman-bench-daemon-memory-" });
  await must(
    Deno.execPath(),
    vmanctlArgs(`${dir}/state`, "--board", "qemu-virt-arm64", "create", "b0", "--memory", "64M"),
  );
  return await spawnDaemon(dir);
}

/** `count` samples of a process's resident set in bytes, `everyMs` apart. */
async function rssSamples(pid: number, count: number, everyMs = 50): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    samples.push(await rssKiB(pid) * 1024);
    await sleep(everyMs);
  }
  return samples;
}

/**
 * The cycles, in Python: one connection, each cycle defines a domain, starts it,
 * destroys it and undefines it; every `step` cycles it prints the cycle and the
 * daemon's VmRSS, RssAnon and RssFile in KiB (from /proc). Errors end it with
 * their message.
 */
const CYCLE_SCRIPT = `
import sys, libvirt
uri, pid, cycles, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rss():
    kib = {}
    for line in open("/proc/%s/status" % pid):
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            kib[key] = line.split()[1]
    return " ".join([kib["VmRSS"], kib["RssAnon"], kib["RssFile"]])
conn = libvirt.open(uri)
print(0, rss(), flush=True)
for i in range(1, cycles + 1):
    name = "c%d" % (i % 7)
    xml = ("<domain type='vmanager'><name>%s</name><memory unit='MiB'>64</memory>"
           "<vcpu>1</vcpu><os><type arch='aarch64'>hvm</type></os></domain>") % name
    dom = conn.defineXML(xml)
    dom.create()
    dom.destroy()
    dom.undefine()
    if i % step == 0:
        print(i, rss(), flush=True)
conn.close()
`;

/** A checkpoint of the cycles: the cycle, and the daemon's resident memory in bytes. */
interface Checkpoint {
  cycle: number;
  rss: number;
  /** Anonymous resident memory (the heaps). */
  anon: number;
  /** File-backed resident memory (the pages of the deno binary and libraries it touched). */
  file: number;
}

/** Runs the cycles against `daemon`; returns its checkpoints. */
async function cycle(daemon: Served): Promise<Checkpoint[]> {
  const step = Math.max(1, Math.floor(CYCLES / 10));
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", CYCLE_SCRIPT, daemon.uri, String(daemon.pid), String(CYCLES), String(step)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`the cycles failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text.split("\n").map((line) => {
    const [cycle, rss, anon, file] = line.split(" ").map(Number);
    return { cycle, rss: rss * 1024, anon: anon * 1024, file: file * 1024 };
  });
}

/** Idle resident sets of the daemon and of libvirtd's test driver, interleaved in time. */
async function idle(daemon: Served): Promise<void> {
  const peer = await startPeer();
  try {
    if (peer.pid === undefined) {
      console.log(`idle: no peer (${peer.kind} runs in virsh)`);
      console.log(
        targetLine("vmanctl daemon idle RSS", await rssSamples(daemon.pid!, RUNS), undefined, {
          atMost: IDLE_TARGET,
        }, mib),
      );
      return;
    }
    await sleep(500);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await rssKiB(daemon.pid!) * 1024);
      theirs.push(await rssKiB(peer.pid) * 1024);
      await sleep(50);
    }
    const label = `${peer.kind} idle RSS`;
    console.log(
      targetLine("vmanctl daemon idle RSS", ours, { label, samples: theirs }, {
        atMost: IDLE_TARGET,
      }, mib),
    );
  } finally {
    await peer.stop();
  }
}

async function main(): Promise<void> {
  console.log(`load average: ${loadAverage()}`);
  const daemon = await startDaemon();
  try {
    await sleep(1000);
    await idle(daemon);
    const before = await rssSamples(daemon.pid!, RUNS);
    const started = performance.now();
    const checkpoints = await cycle(daemon);
    const seconds = (performance.now() - started) / 1000;
    await sleep(1000);
    const after = await rssSamples(daemon.pid!, RUNS);
    console.log(
      `${CYCLES} define/start/destroy/undefine cycles (python3-libvirt, one connection, ` +
        `dry-run): ${seconds.toFixed(1)} s, ${(CYCLES / seconds).toFixed(0)} cycles/s`,
    );
    const by = (field: "rss" | "anon" | "file") =>
      checkpoints.map((c) => `${c.cycle}: ${mib(c[field])}`).join(", ");
    console.log(`  RSS by cycle: ${by("rss")}`);
    console.log(`    of which anonymous (heaps): ${by("anon")}`);
    console.log(`    of which file-backed (the binary's pages it touched): ${by("file")}`);
    console.log(
      targetLine(
        `daemon RSS after ${CYCLES} cycles`,
        after,
        {
          label: "at cycle 0",
          samples: before,
        },
        { ratio: 1.05 },
        mib,
      ),
    );
    // The same growth from the first checkpoint on: what warming up (V8 compiling the
    // hot paths, its young generation sized to the request rate) does not explain.
    const warm = checkpoints.find((c) => c.cycle > 0);
    if (warm) {
      const last = checkpoints.at(-1)!;
      console.log(
        `  from cycle ${warm.cycle} (${mib(warm.rss)}) to ${last.cycle} (${mib(last.rss)}): ` +
          `${((last.rss / warm.rss - 1) * 100).toFixed(1)}%`,
      );
    }
  } finally {
    await daemon.stop();
  }
}

await main();
