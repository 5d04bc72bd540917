/**
 * `deno task helper`: builds the monitor helper (core/monitor/helper) with the host
 * gcc and Debian's cross gcc for aarch64, armhf and riscv64, into
 * `core/monitor/helper/build/<triple>/`:
 *
 * - `libvmanager_monitor.so` — the library vmanager loads over FFI, built with
 *   `-fvisibility=hidden` so that it exports only the `vmh_*` API (`VMH_API`);
 * - `test_sim` — the C unit tests (run natively, and under qemu-user for the others);
 * - `libvmanager_fake_device.so` (host only) — the LD_PRELOAD fake
 *   `/dev/vmanager-monitor` the device backend's tests use.
 *
 * cJSON comes from Debian's source package, fetched once by `scripts/fetch-cjson.sh`
 * into `${XDG_CACHE_HOME:-~/.cache}/vmanager/src/cjson` (or give a directory holding
 * `cJSON.c` with CJSON_DIR); the directory is this script's choice, never read back
 * from the fetch's output. Every source is compiled with `-Wall -Wextra -Werror`.
 *
 * Usage: deno task helper [--target TRIPLE]... [--quiet]
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const HELPER = `${ROOT}/core/monitor/helper`;
/** The targets: Debian's GNU triples. */
const TRIPLES = [
  "x86_64-linux-gnu",
  "aarch64-linux-gnu",
  "arm-linux-gnueabihf",
  "riscv64-linux-gnu",
];
const FLAGS = ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-fPIC"];

const quiet = Deno.args.includes("--quiet");
const requested = Deno.args.flatMap((arg, i) => Deno.args[i - 1] === "--target" ? [arg] : []);
for (const t of requested) {
  if (!TRIPLES.includes(t)) {
    console.error(`helper: no target ${t}; targets: ${TRIPLES.join(", ")}`);
    Deno.exit(2);
  }
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const d = new TextDecoder();
    return { ok: r.success, out: (d.decode(r.stdout) + d.decode(r.stderr)).trim() };
  } catch (error) {
    return { ok: false, out: error instanceof Error ? error.message : String(error) };
  }
}

const host = (await run("gcc", ["-dumpmachine"])).out;
const triples = requested.length > 0 ? requested : TRIPLES;

/** Where cJSON's source is kept: CJSON_DIR, else the user's cache. */
function cjsonDir(): string {
  const given = Deno.env.get("CJSON_DIR");
  if (given) return given;
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  return `${cache}/vmanager/src/cjson`;
}

const cjson = cjsonDir();
if (!Deno.env.get("CJSON_DIR")) {
  // The fetch says what it resolved on stderr (passed through); the directory is ours.
  const fetched = await new Deno.Command("bash", {
    args: [`${ROOT}/scripts/fetch-cjson.sh`, cjson],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!fetched.success) {
    console.error("helper: cannot get cJSON's source from Debian (the line above says why)");
    Deno.exit(1);
  }
}

const LIB = ["vmanager_monitor.c", "sim.c"].map((f) => `${HELPER}/${f}`);
let failed = false;
for (const triple of triples) {
  const cc = triple === host ? "gcc" : `${triple}-gcc`;
  const out = `${HELPER}/build/${triple}`;
  await Deno.mkdir(out, { recursive: true });
  const common = [...FLAGS, `-I${HELPER}`, `-I${cjson}`];
  const steps: [string, string[]][] = [
    ["libvmanager_monitor.so", [
      ...common,
      "-D_FILE_OFFSET_BITS=64",
      "-shared",
      "-fvisibility=hidden", // only the VMH_API functions are exported
      "-o",
      `${out}/libvmanager_monitor.so`,
      ...LIB,
      `${cjson}/cJSON.c`,
      "-lpthread",
    ]],
    ["test_sim", [
      ...common,
      "-D_FILE_OFFSET_BITS=64",
      "-o",
      `${out}/test_sim`,
      `${HELPER}/test_sim.c`,
      ...LIB,
      `${cjson}/cJSON.c`,
      "-lpthread",
    ]],
  ];
  if (triple === host) {
    steps.push(["libvmanager_fake_device.so", [
      ...common, // open/open64 and mmap/mmap64 are separate symbols only without _FILE_OFFSET_BITS
      "-shared",
      "-o",
      `${out}/libvmanager_fake_device.so`,
      `${HELPER}/fake_device.c`,
      `${HELPER}/sim.c`,
      `${cjson}/cJSON.c`,
      "-ldl",
      "-lpthread",
    ]]);
  }
  for (const [name, args] of steps) {
    const r = await run(cc, args);
    if (!r.ok) {
      failed = true;
      console.error(
        `helper: ${cc} could not build ${name} for ${triple}` +
          (r.out.includes("No such file") && !r.out.includes(".c:")
            ? ` (is ${cc} installed? bash scripts/setup.sh installs it)`
            : "") +
          `:\n${r.out}`,
      );
      break;
    }
    if (!quiet) console.log(`helper: ${out.slice(ROOT.length + 1)}/${name}`);
  }
}
Deno.exit(failed ? 1 : 0);
