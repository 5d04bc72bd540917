/**
 * Statistics through libvirt's clients: `virsh domstats`, `dominfo`'s CPU time,
 * `vcpuinfo`, `vcpucount`, `vcpupin` and python3-libvirt's `getAllDomainStats()`,
 * `domainListGetStats()`, `info()`, `vcpus()`, `getCPUMap()` — first against a
 * daemon in this process whose backend measures fixed CPU times (exact outputs and
 * the refusals' codes), then end to end: a daemon on the qemu backend, Linux
 * busy-looping in a partition, its CPU time growing in `virsh domstats`.
 */
import assert from "node:assert/strict";
import { ROOT, VMANCTL_FLAGS, vmanctlProcess, withTempDir } from "../cli/helpers.ts";
import { GUESTS, missing, waitForConsole } from "../qemu/helpers.ts";
import {
  domainXml,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  linuxDomainXml,
  python,
  sleep,
  startDaemon,
  virsh,
} from "./helpers.ts";
import {
  type InProcessDaemon,
  RawClient,
  readError,
  startInProcessDaemon,
} from "./console_helpers.ts";
import { dryRunMonitor } from "../../core/monitor/dry_run.ts";
import type { MonitorPlugin } from "../../core/registry/plugin.ts";
import { PLUGIN_API_VERSION } from "../../core/registry/plugin.ts";
import { ErrorCode, Status } from "../../plugins/libvirt/protocol.ts";
import { readDomain, writeDomain } from "../../plugins/libvirt/procedures.ts";
import {
  domainStatsParams,
  readTypedParams,
  type TypedParam,
  writeTypedParams,
} from "../../plugins/libvirt/stats.ts";
import { XdrReader, XdrWriter } from "../../plugins/libvirt/xdr.ts";
import type { DomainRef } from "../../plugins/libvirt/driver.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";

/** A backend that is dry-run plus statistics: core `c` has used `c` × 1.5 s. */
function fakeStatsPlugin(): MonitorPlugin {
  const dry = dryRunMonitor();
  return {
    kind: "monitor",
    name: "fake-stats",
    version: "1.0.0",
    apiVersion: PLUGIN_API_VERSION,
    description: "dry-run with fixed CPU times (tests)",
    create: (context) => dry.create(context),
    stats: (_context, _id, cores) =>
      Promise.resolve({
        cpuTimeNs: Object.fromEntries(cores.map((c) => [c, c * 1_500_000_000])),
        startedAt: "2026-01-01T00:00:00.000Z",
        consoleBytes: 42,
      }),
  };
}

/** Runs `fn` with an in-process daemon on the fake-stats backend. */
async function withFakeStats(fn: (d: InProcessDaemon) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const d = await startInProcessDaemon(dir, "fake-stats", [fakeStatsPlugin()]);
    try {
      await fn(d);
    } finally {
      await d.stop();
    }
  });
}

/** Defines `name` on cores `cpuset` (and starts it when `start`) through virsh. */
async function define(
  d: InProcessDaemon,
  dir: string,
  name: string,
  cpuset: string,
  start: boolean,
) {
  const count = cpuset.split(",").length;
  await Deno.writeTextFile(
    `${dir}/${name}.xml`,
    domainXml(name, "", `<vcpu cpuset='${cpuset}'>${count}</vcpu>`),
  );
  const defined = await virsh(d.uri, "define", `${dir}/${name}.xml`);
  assert.equal(defined.code, 0, defined.stderr);
  if (start) {
    const started = await virsh(d.uri, "start", name);
    assert.equal(started.code, 0, started.stderr);
  }
}

/** Writes `dom` and returns the writer, for the arguments that follow it. */
function domArgs(w: XdrWriter, dom: DomainRef): XdrWriter {
  writeDomain(w, dom);
  return w;
}

/** `virsh domstats` output as { domain: { key: value } }. */
function parseDomstats(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    const domain = line.match(/^Domain: '(.+)'$/);
    if (domain) out[domain[1]] = current = {};
    const pair = line.match(/^ {2}([^=]+)=(.*)$/);
    if (pair && current) current[pair[1]] = pair[2];
  }
  return out;
}

Deno.test("typed parameters: every type of remote_typed_param_value round-trips", () => {
  const params: TypedParam[] = [
    { field: "a.int", type: "int", value: -7 },
    { field: "a.uint", type: "uint", value: 4_000_000_000 },
    { field: "a.llong", type: "llong", value: -(2n ** 40n) },
    { field: "a.ullong", type: "ullong", value: 2n ** 63n + 5n },
    { field: "a.double", type: "double", value: 0.25 },
    { field: "a.boolean", type: "boolean", value: true },
    { field: "a.string", type: "string", value: "vmanager" },
  ];
  const w = new XdrWriter();
  writeTypedParams(w, params);
  const bytes = w.bytes();
  // count, then "a.int" (4 + 8), discriminant INT (1), -7
  assert.deepEqual([...bytes.subarray(0, 24)], [
    0,
    0,
    0,
    7,
    0,
    0,
    0,
    5,
    97,
    46,
    105,
    110,
    116,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    255,
    255,
    255,
    249,
  ]);
  assert.deepEqual(readTypedParams(new XdrReader(bytes)), params);
});

Deno.test("domstats parameters: names and types of libvirt's qemu driver, running and shut off", () => {
  const record = {
    name: "p",
    id: 1,
    state: "running",
    allocation: { cores: [2, 3], bootCore: 2, memory: { base: 0x50000000, size: 256 << 20 } },
  } as unknown as ObservedRecord;
  const stats = { cpuTimeNs: { 2: 10, 3: 32 } };
  assert.deepEqual(domainStatsParams(record, stats, 0xf), [
    { field: "state.state", type: "int", value: 1 },
    { field: "state.reason", type: "int", value: 1 },
    { field: "cpu.time", type: "ullong", value: 42n },
    { field: "balloon.current", type: "ullong", value: 262144n },
    { field: "balloon.maximum", type: "ullong", value: 262144n },
    { field: "vcpu.current", type: "uint", value: 2 },
    { field: "vcpu.maximum", type: "uint", value: 2 },
    { field: "vcpu.0.state", type: "int", value: 1 },
    { field: "vcpu.0.time", type: "ullong", value: 10n },
    { field: "vcpu.1.state", type: "int", value: 1 },
    { field: "vcpu.1.time", type: "ullong", value: 32n },
  ]);
  // Not measured: no times; shut off: no cpu.time, no vcpu.<n>.*; only the groups asked for.
  assert.deepEqual(
    domainStatsParams(record, undefined, 2 | 8).map((p) => p.field),
    ["vcpu.current", "vcpu.maximum", "vcpu.0.state", "vcpu.1.state"],
  );
  const off = { ...record, state: "defined" } as ObservedRecord;
  assert.deepEqual(
    domainStatsParams(off, stats, 0xf).map((p) => `${p.field}=${p.value}`),
    [
      "state.state=5",
      "state.reason=0",
      "balloon.current=262144",
      "balloon.maximum=262144",
      "vcpu.current=2",
      "vcpu.maximum=2",
    ],
  );
});

Deno.test({
  name: "virsh domstats, dominfo, vcpuinfo, vcpucount, vcpupin on a backend that measures CPU time",
  ignore: !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      await withFakeStats(async (d) => {
        await define(d, dir, "st1", "1,2", true);
        await define(d, dir, "off1", "3", false);
        const stats = await virsh(d.uri, "domstats");
        assert.equal(stats.code, 0, stats.stderr);
        assert.deepEqual(parseDomstats(stats.stdout), {
          st1: {
            "state.state": "1",
            "state.reason": "1",
            "cpu.time": "4500000000",
            "balloon.current": "131072",
            "balloon.maximum": "131072",
            "vcpu.current": "2",
            "vcpu.maximum": "2",
            "vcpu.0.state": "1",
            "vcpu.0.time": "1500000000",
            "vcpu.1.state": "1",
            "vcpu.1.time": "3000000000",
          },
          off1: {
            "state.state": "5",
            "state.reason": "0",
            "balloon.current": "131072",
            "balloon.maximum": "131072",
            "vcpu.current": "1",
            "vcpu.maximum": "1",
          },
        });
        // One domain, groups, list filters.
        const one = await virsh(d.uri, "domstats", "--cpu-total", "--vcpu", "st1");
        assert.equal(one.code, 0, one.stderr);
        assert.deepEqual(Object.keys(parseDomstats(one.stdout).st1), [
          "cpu.time",
          "vcpu.current",
          "vcpu.maximum",
          "vcpu.0.state",
          "vcpu.0.time",
          "vcpu.1.state",
          "vcpu.1.time",
        ]);
        const active = await virsh(d.uri, "domstats", "--state", "--list-active");
        assert.deepEqual(Object.keys(parseDomstats(active.stdout)), ["st1"]);
        const inactive = await virsh(d.uri, "domstats", "--state", "--list-inactive");
        assert.deepEqual(Object.keys(parseDomstats(inactive.stdout)), ["off1"]);
        // A group vmanager does not report: left out, or refused with --enforce.
        const block = await virsh(d.uri, "domstats", "--block", "st1");
        assert.equal(block.code, 0, block.stderr);
        assert.deepEqual(parseDomstats(block.stdout), { st1: {} });
        const enforced = await virsh(d.uri, "domstats", "--block", "--enforce", "st1");
        assert.equal(enforced.code, 1);
        assert.match(enforced.stderr, /Stats types bits 0x20 are not supported by this daemon/);

        const info = await virsh(d.uri, "dominfo", "st1");
        assert.match(info.stdout, /^CPU time: +4\.5s$/m);
        assert.doesNotMatch((await virsh(d.uri, "dominfo", "off1")).stdout, /CPU time/);

        const vcpus = await virsh(d.uri, "vcpuinfo", "st1");
        assert.equal(vcpus.code, 0, vcpus.stderr);
        assert.match(
          vcpus.stdout,
          /^VCPU: +0\nCPU: +1\nState: +running\nCPU time: +1\.5s\nCPU Affinity: +-y--\n\nVCPU: +1\nCPU: +2\nState: +running\nCPU time: +3\.0s\nCPU Affinity: +--y-\n/,
        );
        // Shut off: virsh falls back to the pinning (DOMAIN_GET_VCPU_PIN_INFO).
        const offVcpus = await virsh(d.uri, "vcpuinfo", "off1");
        assert.equal(offVcpus.code, 0, offVcpus.stderr);
        assert.match(offVcpus.stdout, /^VCPU: +0\nCPU: +N\/A\n[\s\S]*CPU Affinity: +---y\n/);

        const count = await virsh(d.uri, "vcpucount", "st1");
        assert.equal(count.code, 0, count.stderr);
        assert.match(
          count.stdout,
          /^maximum +config +2\nmaximum +live +2\ncurrent +config +2\ncurrent +live +2\n/,
        );
        const pin = await virsh(d.uri, "vcpupin", "st1");
        assert.equal(pin.code, 0, pin.stderr);
        assert.match(pin.stdout, /^ 0 +1\n 1 +2\n/m);
      });
    });
  },
});

const PY_STATS = `
import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
out = {}
out["all"] = {d.name(): s for d, s in conn.getAllDomainStats()}
dom = conn.lookupByName("st1")
out["list"] = [[d.name(), s] for d, s in conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_VCPU)]
out["info"] = dom.info()
out["vcpus"] = dom.vcpus()
out["count"] = dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
out["pin"] = dom.vcpuPinInfo(0)
out["cpumap"] = conn.getCPUMap()
try:
    conn.lookupByName("off1").vcpus()
except libvirt.libvirtError as e:
    out["offVcpus"] = [e.get_error_code(), str(e)]
conn.close()
print(json.dumps(out))
`;

Deno.test({
  name:
    "python3-libvirt: getAllDomainStats, domainListGetStats, info, vcpus, vcpuPinInfo, getCPUMap",
  ignore: !HAVE_PYTHON_LIBVIRT || !HAVE_VIRSH,
  async fn() {
    await withTempDir(async (dir) => {
      await withFakeStats(async (d) => {
        await define(d, dir, "st1", "1,2", true);
        await define(d, dir, "off1", "3", false);
        const run = await python(PY_STATS, d.uri);
        assert.equal(run.code, 0, run.stderr);
        const out = JSON.parse(run.stdout);
        assert.deepEqual(out.all.st1, {
          "state.state": 1,
          "state.reason": 1,
          "cpu.time": 4500000000,
          "balloon.current": 131072,
          "balloon.maximum": 131072,
          "vcpu.current": 2,
          "vcpu.maximum": 2,
          "vcpu.0.state": 1,
          "vcpu.0.time": 1500000000,
          "vcpu.1.state": 1,
          "vcpu.1.time": 3000000000,
        });
        assert.deepEqual(Object.keys(out.all.off1).sort(), [
          "balloon.current",
          "balloon.maximum",
          "state.reason",
          "state.state",
          "vcpu.current",
          "vcpu.maximum",
        ]);
        assert.deepEqual(out.list, [["st1", {
          "vcpu.current": 2,
          "vcpu.maximum": 2,
          "vcpu.0.state": 1,
          "vcpu.0.time": 1500000000,
          "vcpu.1.state": 1,
          "vcpu.1.time": 3000000000,
        }]]);
        assert.deepEqual(out.info, [1, 131072, 131072, 2, 4500000000]);
        assert.deepEqual(out.vcpus, [
          [[0, 1, 1500000000, 1], [1, 1, 3000000000, 2]],
          [[false, true, false, false], [false, false, true, false]],
        ]);
        assert.equal(out.count, 2);
        assert.deepEqual(out.pin, [[false, true, false, false], [false, false, true, false]]);
        assert.deepEqual(out.cpumap, [4, [true, true, true, true], 4]);
        assert.equal(out.offVcpus[0], ErrorCode.OPERATION_INVALID);
        assert.match(out.offVcpus[1], /inactive domain/);
      });
    });
  },
});

Deno.test("statistics procedures on the wire: node CPU map, refusals and their codes", async () => {
  await withFakeStats(async (d) => {
    const client = await RawClient.open(d.socket);
    try {
      const defined = await client.call(
        11,
        (w) => w.string(domainXml("w1", "", "<vcpu cpuset='2'>1</vcpu>")),
      );
      assert.equal(defined.header.status, Status.OK);
      const dom = readDomain(new XdrReader(defined.body));
      // 293: need_map, need_online → cpumap (cores 0-3), online 4, ret 4.
      const map = await client.call(293, (w) => w.int(1).int(1).uint(0));
      assert.equal(map.header.status, Status.OK);
      const r = new XdrReader(map.body);
      assert.deepEqual([...r.opaque(16)], [0x0f]);
      assert.deepEqual([r.uint(), r.int()], [4, 4]);
      const codeOf = async (proc: number, write: (w: XdrWriter) => void) => {
        const reply = await client.call(proc, write);
        assert.equal(reply.header.status, Status.ERROR);
        return readError(reply.body);
      };
      // 20 of a shut-off domain; 200 LIVE of one; 200 GUEST; unknown flags.
      assert.equal((await codeOf(20, (w) => domArgs(w, dom).int(1).int(1))).code, 55);
      assert.equal((await codeOf(200, (w) => domArgs(w, dom).uint(1))).code, 55);
      assert.equal((await codeOf(200, (w) => domArgs(w, dom).uint(3))).code, 8);
      assert.equal((await codeOf(200, (w) => domArgs(w, dom).uint(2 | 8))).code, 74);
      assert.equal((await codeOf(230, (w) => domArgs(w, dom).int(1).int(1).uint(64))).code, 8);
      // 344: ENFORCE_STATS with a group vmanager does not report; an unknown flag.
      const enforce = await codeOf(344, (w) => w.uint(0).uint(32).uint(2 ** 31));
      assert.equal(enforce.code, ErrorCode.ARGUMENT_UNSUPPORTED);
      assert.match(enforce.message ?? "", /bits 0x20/);
      assert.equal((await codeOf(344, (w) => w.uint(0).uint(0).uint(1 << 20))).code, 8);
      // 344 with a domain that no longer exists: left out.
      const gone = { name: "gone", uuid: "00000000-0000-4000-8000-0000000000ff", id: -1 };
      const none = await client.call(344, (w) => domArgs(w.uint(1), gone).uint(1).uint(0));
      assert.equal(none.header.status, Status.OK);
      assert.equal(new XdrReader(none.body).uint(), 0);
    } finally {
      await client.close();
    }
  });
});

// --- End to end on the qemu backend ---

function whyNot(): string | undefined {
  if (!HAVE_VIRSH) return "virsh is not installed";
  return missing(GUESTS.arm64);
}
const skipQemu = whyNot();
if (skipQemu) console.log(`skipping libvirt statistics on the qemu backend: ${skipQemu}`);

/** `echo LINE | vmanctl console NAME`: what the console printed until it was quiet. */
async function typeLine(stateDir: string, name: string, line: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...VMANCTL_FLAGS, `${ROOT}/main.ts`, "--state-dir", stateDir, "console", name],
    env: { VMAN_PLUGIN_PATH: "" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${line}\n`));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  return decoder.decode(out.stdout);
}

Deno.test({
  name:
    "virsh domstats on the qemu backend: a busy-looping partition's cpu.time grows with the wall time",
  ignore: skipQemu !== undefined,
  async fn() {
    await withTempDir(async (dir) => {
      const d = await startDaemon(dir, ["--backend", "qemu"]);
      const cli = ["--state-dir", d.stateDir];
      try {
        await Deno.writeTextFile(
          `${dir}/hot.xml`,
          linuxDomainXml({ name: "hot", vcpu: "<vcpu cpuset='1'>1</vcpu>" }),
        );
        assert.equal((await virsh(d.uri, "define", `${dir}/hot.xml`)).code, 0);
        const start = await virsh(d.uri, "start", "hot");
        assert.equal(start.code, 0, start.stderr);
        const text = await waitForConsole(d.stateDir, "hot", /vmanager-guest: staying up/);
        assert.match(text, /vmanager-guest: staying up/);
        // As a script types it: `echo LINE | vmanctl console hot`.
        const typed = await typeLine(d.stateDir, "hot", "while :; do :; done &");
        assert.match(typed, /done &[\s\S]*vmanager-guest# /);
        await sleep(500);

        const reading = async () => {
          const before = Date.now();
          const run = await virsh(d.uri, "domstats", "hot");
          assert.equal(run.code, 0, run.stderr);
          return { at: (before + Date.now()) / 2, stats: parseDomstats(run.stdout).hot };
        };
        const a = await reading();
        await sleep(3000);
        const b = await reading();
        for (const s of [a.stats, b.stats]) {
          assert.equal(s["state.state"], "1");
          assert.equal(s["state.reason"], "1");
          assert.equal(s["balloon.maximum"], "262144");
          assert.equal(s["balloon.current"], "262144");
          assert.equal(s["vcpu.current"], "1");
          assert.equal(s["vcpu.maximum"], "1");
          assert.equal(s["vcpu.0.state"], "1");
          assert.match(s["vcpu.0.time"], /^\d+$/);
          assert.equal(s["cpu.time"], s["vcpu.0.time"]);
        }
        const wallNs = (b.at - a.at) * 1e6;
        const used = Number(b.stats["cpu.time"]) - Number(a.stats["cpu.time"]);
        assert.ok(used > 0.3 * wallNs, `cpu.time grew ${used} ns in ${wallNs} ns`);

        const info = await virsh(d.uri, "dominfo", "hot");
        const cpu = info.stdout.match(/^CPU time: +([\d.]+)s$/m);
        assert.ok(cpu && Number(cpu[1]) > 0, info.stdout);
        const vcpus = await virsh(d.uri, "vcpuinfo", "hot");
        assert.equal(vcpus.code, 0, vcpus.stderr);
        assert.match(
          vcpus.stdout,
          /^VCPU: +0\nCPU: +1\nState: +running\nCPU time: +[\d.]+s\nCPU Affinity: +-y--$/m,
        );
        if (HAVE_PYTHON_LIBVIRT) {
          const py = await python(
            `import json, sys, libvirt
conn = libvirt.open(sys.argv[1])
print(json.dumps({d.name(): s for d, s in conn.getAllDomainStats()}))`,
            d.uri,
          );
          assert.equal(py.code, 0, py.stderr);
          const all = JSON.parse(py.stdout);
          assert.deepEqual(Object.keys(all.hot).sort(), Object.keys(b.stats).sort());
          assert.ok(all.hot["cpu.time"] >= Number(b.stats["cpu.time"]));
        }
      } finally {
        await vmanctlProcess([...cli, "destroy", "hot"]);
        assert.equal(await d.stop(), 0);
      }
    });
  },
});
