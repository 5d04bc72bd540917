/**
 * The demo, `deno task demo`: on the emulated arm64 board (`qemu-virt-arm64`,
 * dry-run backend) create two partitions — 1 core + 256 MiB and 2 cores +
 * 512 MiB — show their memory maps, start both, list them, show the monitor
 * calls a start made, and destroy them. Each step is printed as the vmanctl
 * command a person would type.
 *
 * Usage: deno task demo [--state-dir DIR]   (default: a fresh temporary dir)
 */
import { runCli } from "../core/cli/app.ts";
import { processHost } from "../main.ts";

const flag = Deno.args.indexOf("--state-dir");
const stateDir = flag >= 0
  ? Deno.args[flag + 1]
  : await Deno.makeTempDir({ prefix: "vmanager-demo-" });
const bold = (text: string) => Deno.stdout.isTerminal() ? `\x1b[1m${text}\x1b[0m` : text;

async function step(title: string, args: string[]): Promise<void> {
  console.log(`${title ? `\n${bold(`# ${title}`)}` : ""}\n$ vmanctl ${args.join(" ")}`);
  const code = await runCli(["--state-dir", stateDir, ...args], processHost);
  if (code !== 0) {
    console.error(`demo: 'vmanctl ${args.join(" ")}' exited ${code}`);
    Deno.exit(code);
  }
}

// With the test fixtures fetched (scripts/fetch-fixtures.sh), the partitions get Debian's
// arm64 kernel, so the plans show where kernel, DTB and initrd go.
const fixtures = Deno.env.get("VMAN_FIXTURES") ??
  `${Deno.env.get("HOME")}/.cache/vmanager/fixtures`;
const kernel = `${fixtures}/kernels/arm64/Image.gz`;
let images: string[] = [];
try {
  await Deno.stat(kernel);
  const initrd = `${stateDir}/initrd.img`;
  await Deno.mkdir(stateDir, { recursive: true });
  await Deno.writeFile(initrd, new Uint8Array(1024 * 1024));
  images = ["--kernel", kernel, "--initrd", initrd, "--cmdline", "console=ttyAMA0"];
} catch {
  console.log(`(no kernel at ${kernel}: the partitions are made without images)`);
}

console.log(bold(`vmanager demo — state dir ${stateDir}`));
await step("The board: what the management partition keeps, what partitions may use", [
  "board",
  "show",
  "qemu-virt-arm64",
]);
await step("A 1-core partition with 256 MiB", [
  "--board",
  "qemu-virt-arm64",
  "--backend",
  "dry-run",
  "create",
  "rt1",
  "--cpus",
  "1",
  "--memory",
  "256M",
  ...images,
]);
await step("A 2-core partition with 512 MiB", [
  "create",
  "linux1",
  "--cpus",
  "2",
  "--memory",
  "512M",
  ...images,
]);
await step("rt1's memory map and the monitor calls a start would make", ["plan", "rt1"]);
await step("linux1's memory map and the monitor calls a start would make", ["plan", "linux1"]);
await step("Start both", ["start", "rt1"]);
await step("", ["start", "linux1"]);
await step("Both running, on disjoint cores and windows", ["list"]);
await step("What the monitor was told for linux1", ["show", "linux1"]);
await step("linux1's device tree: its cores, its memory, its console", ["dtb", "linux1", "--dts"]);
await step("Destroy both; their resources are free again", ["destroy", "rt1"]);
await step("", ["destroy", "linux1"]);
await step("", ["list"]);
if (flag < 0) await Deno.remove(stateDir, { recursive: true });
