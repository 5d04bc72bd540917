/**
 * The demo, `deno task demo`: on the emulated arm64 board (`qemu-virt-arm64`,
 * qemu backend) create two partitions — 1 core + 256 MiB and 2 cores + 512 MiB
 * — with Debian's arm64 kernel and a busybox initramfs, start both at once,
 * follow them booting, show from their consoles that each runs Linux on exactly
 * its cores and memory, type into linux1's console to start a web server on its
 * network card, fetch its page from the management side, and destroy them. Each
 * step is printed as the vmanctl command a person would type.
 *
 * Usage: deno task demo [--state-dir DIR]   (default: a fresh temporary dir)
 */
import { runCli } from "../core/cli/app.ts";
import { processHost } from "../main.ts";
import { VMANCTL_PERMISSIONS } from "./permissions.ts";
import { fixturesDir } from "./cache.ts";

const flag = Deno.args.indexOf("--state-dir");
const stateDir = flag >= 0
  ? Deno.args[flag + 1]
  : await Deno.makeTempDir({ prefix: "vmanager-demo-" });
const tty = Deno.stdout.isTerminal();
const bold = (text: string) => tty ? `\x1b[1m${text}\x1b[0m` : text;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const BOARD = "qemu-virt-arm64";
/** A free port on 127.0.0.1 for linux1's web server. */
const HTTP_PORT = (() => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
})();
const PARTITIONS = [
  { name: "rt1", cpus: "1", memory: "256M", kib: 256 * 1024 },
  { name: "linux1", cpus: "2", memory: "512M", kib: 512 * 1024 },
];

async function step(title: string, args: string[]): Promise<void> {
  console.log(`${title ? `\n${bold(`# ${title}`)}` : ""}\n$ vmanctl ${args.join(" ")}`);
  const code = await runCli(["--state-dir", stateDir, ...args], processHost);
  if (code !== 0) await fail(`'vmanctl ${args.join(" ")}' exited ${code}`);
}

/** Destroys what the demo made (its QEMU processes stay up otherwise) and exits. */
async function cleanUpAndExit(code: number): Promise<never> {
  for (const p of PARTITIONS) {
    await runCli(["--state-dir", stateDir, "destroy", p.name], {
      ...processHost,
      io: { out: () => {}, err: () => {} },
    });
  }
  if (flag < 0) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  Deno.exit(code);
}

function fail(message: string): Promise<never> {
  console.error(`demo: ${message}`);
  return cleanUpAndExit(1);
}

Deno.addSignalListener("SIGINT", () => {
  console.error("\ndemo: interrupted; destroying its partitions");
  cleanUpAndExit(130);
});

/** Runs vmanctl as its own process (as a person or a script would), quietly. */
async function vmanctl(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_PERMISSIONS, MAIN, "--state-dir", stateDir, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    await fail(`vmanctl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/**
 * Types `line` into a partition's console as a script does — `vmanctl console` with
 * its input piped — once its shell's prompt is there; returns what came back.
 */
async function typeInto(name: string, line: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_PERMISSIONS, MAIN, "--state-dir", stateDir, "console", name],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const input = child.stdin.getWriter();
  const output = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  await input.write(new TextEncoder().encode("\n"));
  while (!text.includes("vmanager-guest# ")) {
    const { value, done } = await output.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await input.write(new TextEncoder().encode(line + "\n"));
  await input.close();
  text = "";
  while (true) {
    const { value, done } = await output.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await child.status;
  // The shell's terminal queries (ESC [ 6 n) are not for the reader.
  // deno-lint-ignore no-control-regex
  return text.replace(/\r/g, "").replace(/\x1b\[[0-9;]*[a-zA-Z]/g, "");
}

/** Fetches a page, trying again for a few seconds while the server comes up. */
async function fetchPage(url: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const response = await fetch(url);
      return await response.text();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return "";
}

const fixtures = fixturesDir();
const kernel = `${fixtures}/kernels/arm64/Image`;
const initrd = `${fixtures}/initramfs/arm64.cpio.gz`;
for (const file of [kernel, initrd]) {
  try {
    await Deno.stat(file);
  } catch {
    await fail(`${file} is missing: run scripts/fetch-fixtures.sh (scripts/run.sh demo does)`);
  }
}

console.log(bold(`vmanager demo — state dir ${stateDir}`));
await step("The board: what the management partition keeps, what partitions may use", [
  "board",
  "show",
  BOARD,
]);
for (const [i, p] of PARTITIONS.entries()) {
  await step(`A ${p.cpus}-core partition with ${p.memory} that boots Linux`, [
    ...(i === 0 ? ["--board", BOARD, "--backend", "qemu"] : []),
    "create",
    p.name,
    "--cpus",
    p.cpus,
    "--memory",
    p.memory,
    "--kernel",
    kernel,
    "--initrd",
    initrd,
    "--cmdline",
    // linux1's /init gives its network card QEMU's user-network address.
    `console=ttyAMA0 vmanager.stay${
      p.name === "linux1" ? " vmanager.ip=10.0.2.15/24,10.0.2.2" : ""
    }`,
    // linux1 gets a network card on a virtio slot: QEMU's user networking, restricted
    // to this machine, with its port 80 forwarded to 127.0.0.1:HTTP_PORT here.
    ...(p.name === "linux1" ? ["--net", `user,forward=tcp:${HTTP_PORT}:80`] : []),
  ]);
}
await step("Where linux1's kernel, device tree and initramfs will go", ["plan", "linux1"]);

// Start both at once, each its own vmanctl process.
console.log(`\n${bold("# Start both at once")}`);
for (const p of PARTITIONS) console.log(`$ vmanctl start ${p.name} &`);
const t0 = performance.now();
const seconds = () => ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
await Promise.all(PARTITIONS.map(async (p) => {
  console.log(`[${seconds()} s] ${p.name}: loading its images into the board's memory file`);
  await vmanctl(["start", p.name]);
  console.log(`[${seconds()} s] ${p.name}: images loaded, boot core started`);
}));

// Follow both consoles: print each partition's milestones as they appear.
const MILESTONES = [
  /Booting Linux on physical CPU \S+/,
  /Memory: \d+K\/\d+K available/,
  /smp: Brought up .*/,
  /Run \/init as init process/,
  /vmanager-guest: up .*/,
];
const seen = new Map(PARTITIONS.map((p) => [p.name, 0]));
const consoles = new Map<string, string>();
const deadline = Date.now() + 180_000;
while ([...seen.values()].some((n) => n < MILESTONES.length)) {
  if (Date.now() > deadline) await fail("the partitions did not boot within 180 s");
  for (const p of PARTITIONS) {
    const text = await vmanctl(["console", "--log", p.name]);
    consoles.set(p.name, text);
    let n = seen.get(p.name)!;
    while (n < MILESTONES.length) {
      const match = text.match(MILESTONES[n]);
      if (!match) break;
      console.log(`[${seconds()} s] ${p.name}: ${match[0]}`);
      n++;
    }
    seen.set(p.name, n);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

console.log(`\n${bold("# What each partition's Linux sees")}`);
for (const p of PARTITIONS) {
  const text = consoles.get(p.name)!;
  const up = text.match(/vmanager-guest: up cpus=(\d+) online=(\S+) memtotal_kb=(\d+)/)!;
  const total = Number(text.match(/Memory: \d+K\/(\d+)K available/)![1]);
  const cpuOk = up[1] === p.cpus;
  const memOk = total === p.kib;
  console.log(
    `${p.name}: ${up[1]} CPUs online (${up[2]}) — asked for ${p.cpus} ${cpuOk ? "✓" : "✗"}; ` +
      `RAM ${total / 1024} MiB (MemTotal ${(Number(up[3]) / 1024).toFixed(0)} MiB) — ` +
      `window ${p.memory} ${memOk ? "✓" : "✗"}`,
  );
  if (!cpuOk || !memOk) await fail(`${p.name} did not get exactly its cores and memory`);
}
await step("Both running, on disjoint cores and windows", ["list"]);

// Type into linux1's console as a script does (a person runs `vmanctl console linux1`).
const typed = "uname -m; grep -c ^processor /proc/cpuinfo; " +
  "mkdir -p /www; echo hello from linux1 > /www/index.html; httpd -p 80 -h /www";
console.log(
  `\n${bold("# Type into linux1's console")}\n$ echo '${typed}' | vmanctl console linux1`,
);
const answered = await typeInto("linux1", typed);
console.log(answered.trimEnd());
if (!/^aarch64$/m.test(answered) || !/^2$/m.test(answered)) {
  await fail("linux1's shell did not answer on its console");
}

// The management side fetches the page linux1 serves.
console.log(`\n${bold("# Fetch linux1's web page")}\n$ curl http://127.0.0.1:${HTTP_PORT}/`);
const page = await fetchPage(`http://127.0.0.1:${HTTP_PORT}/`);
console.log(page.trimEnd());
if (!page.includes("hello from linux1")) await fail("linux1's web server did not answer");

await step("The last lines of rt1's console", ["show", "rt1"]);
await step("Destroy both: their QEMU processes end, their resources are free again", [
  "destroy",
  "rt1",
]);
await step("", ["destroy", "linux1"]);
await step("", ["list"]);
if (flag < 0) await Deno.remove(stateDir, { recursive: true });
Deno.exit(0); // the SIGINT listener would keep the process alive
