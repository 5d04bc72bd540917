/**
 * The C helper as `deno task helper` builds it: its C unit tests pass natively and
 * under qemu-user for aarch64, riscv64 and armhf; each library is an ELF shared
 * object for its machine whose dynamic symbol table exports exactly the `vmh_*`
 * API (readelf --dyn-syms); a missing helper is one clear line.
 */
import assert from "node:assert/strict";
import { hasTool, ROOT, vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { HELPER_FILE } from "../../core/monitor/helper.ts";

const HELPER = `${ROOT}/core/monitor/helper`;
const BUILD = `${HELPER}/build`;

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Builds the helper when a build output is missing or older than a source. */
async function ensureBuilt(): Promise<void> {
  const sources = [...Deno.readDirSync(HELPER)].filter((e) => /\.[ch]$/.test(e.name))
    .map((e) => mtime(`${HELPER}/${e.name}`));
  const outputs = [
    "x86_64-linux-gnu",
    "aarch64-linux-gnu",
    "arm-linux-gnueabihf",
    "riscv64-linux-gnu",
  ]
    .flatMap((t) => [`${BUILD}/${t}/${HELPER_FILE}`, `${BUILD}/${t}/test_sim`]).map(mtime);
  if (Math.min(...outputs) > Math.max(...sources)) return;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/scripts/build_helper.ts`, "--quiet"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

const ready = ensureBuilt();

/** ELF e_machine of a file. */
function machine(path: string): number {
  const head = Deno.readFileSync(path).subarray(0, 20);
  assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${path} is ELF`);
  assert.equal(head[16], 3, `${path} is a shared object (ET_DYN)`);
  return head[18] | (head[19] << 8);
}

const TARGETS = [
  { triple: "x86_64-linux-gnu", machine: 62, qemu: undefined, elfClass: 2 },
  { triple: "aarch64-linux-gnu", machine: 183, qemu: "qemu-aarch64", elfClass: 2 },
  { triple: "riscv64-linux-gnu", machine: 243, qemu: "qemu-riscv64", elfClass: 2 },
  { triple: "arm-linux-gnueabihf", machine: 40, qemu: "qemu-arm", elfClass: 1 },
];

/** The helper's API: what vmanager_monitor.h declares with VMH_API. */
const API = [
  "vmh_abi_version",
  "vmh_clean_dcache",
  "vmh_close",
  "vmh_load_file",
  "vmh_load_file_range",
  "vmh_open_device",
  "vmh_open_sim",
  "vmh_request",
  "vmh_write",
];

/** The symbols a shared object defines in its dynamic symbol table, as `TYPE name`. */
function exported(readelf: string, lib: string): string[] {
  const out = new Deno.Command(readelf, { args: ["--dyn-syms", "-W", lib], stdout: "piped" })
    .outputSync();
  assert.ok(out.success, `${readelf} --dyn-syms ${lib}`);
  const defined: string[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    // Num: Value Size Type Bind Vis Ndx Name
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^\d+:$/.test(f[0]) || f[6] === "UND") continue;
    if (f[3] === "SECTION" || f[3] === "FILE") continue;
    defined.push(`${f[3]} ${f[7].replace(/@.*/, "")}`);
  }
  return defined.sort();
}

Deno.test("the header's VMH_API functions are the API the build test expects", () => {
  const header = Deno.readTextFileSync(`${HELPER}/vmanager_monitor.h`);
  const declared = [...header.matchAll(/^VMH_API [^(]*?\b(vmh_\w+)\(/gm)].map((m) => m[1]);
  assert.deepEqual(declared.sort(), API);
});

for (const t of TARGETS) {
  const readelf = [`${t.triple}-readelf`, "readelf"].find(hasTool);
  if (!readelf) console.log(`skipping the export check for ${t.triple}: no readelf (binutils)`);
  Deno.test({
    name: `helper for ${t.triple}: ELF machine ${t.machine}, exports exactly the vmh_* API`,
    ignore: !readelf,
    fn: async () => {
      await ready;
      const lib = `${BUILD}/${t.triple}/${HELPER_FILE}`;
      assert.equal(machine(lib), t.machine);
      assert.equal(Deno.readFileSync(lib)[4], t.elfClass, "ELF class");
      // Nothing else: not the sim's vm_sim_*, not the bundled cJSON_*.
      assert.deepEqual(exported(readelf!, lib), API.map((name) => `FUNC ${name}`));
    },
  });

  const tool = t.qemu;
  const missing = tool !== undefined && !hasTool(tool);
  if (missing) console.log(`skipping the C unit tests for ${t.triple}: ${tool} is not installed`);
  Deno.test({
    name: `helper's C unit tests pass ${tool ? `under ${tool}` : "natively"} (${t.triple})`,
    ignore: missing,
    fn: async () => {
      await ready;
      await withTempDir(async (dir) => {
        const binary = `${BUILD}/${t.triple}/test_sim`;
        const out = await new Deno.Command(tool ?? binary, {
          args: tool ? ["-L", `/usr/${t.triple}`, binary, dir] : [dir],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stdout = new TextDecoder().decode(out.stdout);
        assert.equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
        const [, passed, failed] = stdout.match(/(\d+) passed, (\d+) failed/)!;
        assert.equal(failed, "0");
        assert.ok(Number(passed) >= 90, `${passed} C checks ran`);
      });
    },
  });
}

Deno.test("a missing helper is one line naming where it was looked for and how to build it", async () => {
  await withTempDir(async (dir) => {
    const s = ["--state-dir", dir, "--board", "qemu-virt-arm64", "--backend", "sim"];
    assert.equal((await vmanctlProcess([...s, "create", "p", "--cpu-ids", "1"])).code, 0);
    const r = await vmanctlProcess([...s, "start", "p"], { VMAN_HELPER: `${dir}/nothing.so` });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vmanctl: the monitor helper ${HELPER_FILE} cannot be loaded: tried ${dir}/nothing.so (missing); ` +
        `build it with 'deno task helper' or give its path in VMAN_HELPER\n`,
    );
    await Deno.writeTextFile(`${dir}/bad.so`, "not a library");
    const bad = await vmanctlProcess([...s, "start", "p"], { VMAN_HELPER: `${dir}/bad.so` });
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^vmanctl: the monitor helper .* cannot be loaded: tried .*bad\.so \(.+\); build it/,
    );
    assert.equal(bad.stderr.trimEnd().split("\n").length, 1);
  });
});
