/**
 * Ansible (Debian's `ansible`: ansible-core and its community.libvirt collection)
 * drives partitions through a real `vmanctl daemon`: `ansible-playbook` runs the
 * playbooks of tests/fixtures/ansible, whose tasks are community.libvirt.virt's
 * define, state=running, autostart, info, get_xml, list_vms, state=destroyed,
 * state=shutdown and undefine. What is asserted is what a user of Ansible sees —
 * each task's status and the play's recap — checked against virsh and vmanctl.
 *
 * The module's define is idempotent only when the daemon is libvirt's: it reads
 * XMLDesc(VIR_DOMAIN_XML_INACTIVE) of the domain of that name before and after
 * defineXML and reports a change only when they differ, and takes a libvirtError of
 * code 9 (VIR_ERR_OPERATION_FAILED: "domain … already exists with uuid …") from
 * defineXML as "already defined"; any other error fails the task.
 */
import assert from "node:assert/strict";
import { hasTool, ROOT } from "../cli/helpers.ts";
import { GUESTS, missing, waitForConsole } from "../qemu/helpers.ts";
import {
  field,
  HAVE_PYTHON_LIBVIRT,
  HAVE_VIRSH,
  partitions,
  PYTHON,
  virsh,
  withDaemon,
} from "./helpers.ts";

/** The playbooks and the domain template. */
const PLAYBOOKS = `${ROOT}/tests/fixtures/ansible`;

function why(): string | undefined {
  if (!hasTool("ansible-playbook")) return "ansible-playbook is not installed (Debian's ansible)";
  if (!HAVE_VIRSH) return "virsh is not installed";
  if (!HAVE_PYTHON_LIBVIRT) return "python3-libvirt is not installed";
  return undefined;
}
const skip = why();
if (skip) console.log(`skipping the Ansible tests: ${skip} (scripts/setup.sh installs it)`);
const skipQemu = skip ?? missing(GUESTS.arm64);
if (skipQemu && !skip) console.log(`skipping Ansible's shutdown on the qemu backend: ${skipQemu}`);

/** The counts of a play's recap line for localhost. */
interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** One task as ansible-playbook printed it. */
interface Task {
  /** Its name. */
  name: string;
  /** `ok`, `changed`, `fatal`, `skipping`. */
  status: string;
  /** The result it printed (a failure's, or the debug task's), else undefined. */
  result?: Record<string, unknown>;
}

/** One ansible-playbook run. */
interface Play {
  /** Exit code (0, or 2 when a task failed). */
  code: number;
  /** What it printed. */
  output: string;
  /** The recap of localhost. */
  recap: Recap;
  /** The tasks, in order. */
  tasks: Task[];
}

/**
 * Runs `ansible-playbook -i localhost, -c local PLAYBOOK -e VARS` with nothing from
 * this machine's or user's Ansible configuration: home, temp dirs and an empty
 * ansible.cfg under `dir`, python3-libvirt's Python as the interpreter.
 */
async function playbook(
  dir: string,
  name: string,
  vars: Record<string, unknown>,
): Promise<Play> {
  const home = `${dir}/ansible`;
  await Deno.mkdir(`${home}/tmp`, { recursive: true });
  await Deno.writeTextFile(`${home}/ansible.cfg`, "");
  const out = await new Deno.Command("ansible-playbook", {
    args: ["-i", "localhost,", "-c", "local", `${PLAYBOOKS}/${name}`, "-e", JSON.stringify(vars)],
    cwd: home,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      LC_ALL: "C.UTF-8",
      ANSIBLE_CONFIG: `${home}/ansible.cfg`,
      ANSIBLE_LOCAL_TEMP: `${home}/tmp`,
      ANSIBLE_REMOTE_TEMP: `${home}/tmp`,
      ANSIBLE_NOCOWS: "1",
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      ANSIBLE_PYTHON_INTERPRETER: PYTHON,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const output = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  const line = /^localhost\s*:\s*(.*)$/m.exec(output.split(/^PLAY RECAP \**$/m)[1] ?? "");
  assert.ok(line, `no recap from ansible-playbook ${name}:\n${output}`);
  const counts = Object.fromEntries(
    [...line[1].matchAll(/(\w+)=(\d+)/g)].map(([, key, value]) => [key, Number(value)]),
  );
  const tasks = output.split(/^TASK \[/m).slice(1).map((section): Task => {
    const name = section.slice(0, section.indexOf("]"));
    const found = /^(ok|changed|fatal|skipping|failed): \[localhost\](?:: FAILED!)?(?: => (.*))?$/m
      .exec(section);
    let result: Record<string, unknown> | undefined;
    if (found?.[2]) {
      // One line ({…} of a failure) or an indented document up to its closing "}".
      const start = section.indexOf(found[2], found.index);
      const text = found[2] === "{"
        ? section.slice(start, section.indexOf("\n}", start) + 2)
        : found[2];
      result = JSON.parse(text);
    }
    return { name, status: found?.[1] ?? "none", result };
  });
  return { code: out.code, output, recap: counts as unknown as Recap, tasks };
}

/** The task named `name` of a run. */
function task(play: Play, name: string): Task {
  const found = play.tasks.find((t) => t.name === name);
  assert.ok(found, `no task '${name}' in:\n${play.output}`);
  return found;
}

/** Asserts a run that failed nothing, with `changed` changes. */
function succeeded(play: Play, changed: number | "some", what: string): void {
  assert.equal(play.code, 0, `${what}:\n${play.output}`);
  assert.equal(play.recap.failed, 0, `${what}:\n${play.output}`);
  assert.equal(play.recap.unreachable, 0, `${what}:\n${play.output}`);
  assert.ok(play.recap.ok > 0, `${what}:\n${play.output}`);
  if (changed === "some") assert.ok(play.recap.changed > 0, `${what}:\n${play.output}`);
  else assert.equal(play.recap.changed, changed, `${what}:\n${play.output}`);
}

const UUID = "0b9f4c3e-6a71-4d2e-9a8b-5c4d3e2f1a0b";
const OTHER_UUID = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";

Deno.test({
  name: "ansible: community.libvirt.virt defines, starts, reports, stops and undefines a " +
    "partition; a second run changes nothing; a define of held cores fails the play",
  ignore: skip !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const vars = { uri: d.uri, vm: "p1", uuid: UUID, cpuset: "2" };

      // The first run defines p1, starts it and marks it autostart.
      const first = await playbook(dir, "present.yml", vars);
      succeeded(first, "some", "the first run");
      assert.equal(task(first, "Define the partition").status, "changed", first.output);
      assert.equal(task(first, "Start it").status, "changed", first.output);
      assert.equal(
        task(first, "Start it when the daemon starts").status,
        "changed",
        first.output,
      );
      assert.equal(first.recap.changed, 3, first.output);
      const reported = task(first, "What the module reported").result?.msg as {
        info: Record<string, unknown>;
        xml: string;
        all: string[];
        running: string[];
      };
      assert.ok(reported, first.output);
      assert.equal(reported.info.state, "running");
      assert.equal(reported.info.autostart, 1);
      assert.equal(reported.info.maxMem, String(256 * 1024));
      assert.equal(reported.info.nrVirtCpu, 1);
      assert.match(reported.xml, /<name>p1<\/name>/);
      assert.match(reported.xml, new RegExp(`<uuid>${UUID}</uuid>`));
      assert.match(reported.xml, /<vcpu placement='static' cpuset='2'>1<\/vcpu>/);
      assert.deepEqual(reported.all, ["p1"]);
      assert.deepEqual(reported.running, ["p1"]);
      // virsh and vmanctl see what Ansible made.
      const info = await virsh(d.uri, "dominfo", "p1");
      assert.equal(info.code, 0, info.stderr);
      assert.equal(field(info.stdout, "State"), "running");
      assert.equal(field(info.stdout, "UUID"), UUID);
      assert.equal(field(info.stdout, "Autostart"), "enable");
      assert.equal((await partitions(d)).find((p) => p.name === "p1")?.state, "running");

      // The same play again: define finds the same inactive XML, nothing changes.
      const second = await playbook(dir, "present.yml", vars);
      succeeded(second, 0, "the second run");
      assert.equal(task(second, "Define the partition").status, "ok", second.output);

      // The name with another UUID: defineXML fails with libvirt's "domain 'p1' already
      // exists with uuid …" (OPERATION_FAILED, 9), which the module takes as "already
      // defined": ok, nothing changed, the domain keeps its UUID.
      const other = await playbook(dir, "present.yml", { ...vars, uuid: OTHER_UUID });
      succeeded(other, 0, "the run with another UUID");
      assert.equal(task(other, "Define the partition").status, "ok", other.output);
      assert.equal((await virsh(d.uri, "domuuid", "p1")).stdout.trim(), UUID);
      // The template without a UUID: nothing changes either (vmanager takes it as the
      // definition of the domain of that name, whose inactive XML stays the same).
      const { uuid: _, ...withoutUuid } = vars;
      succeeded(await playbook(dir, "present.yml", withoutUuid), 0, "the run without a UUID");
      assert.equal((await virsh(d.uri, "domuuid", "p1")).stdout.trim(), UUID);

      // A changed configuration: define reports the change ("config changed"); as in
      // libvirt it is the next start's, the running domain keeps its own.
      const changed = await playbook(dir, "present.yml", { ...vars, on_crash: "restart" });
      succeeded(changed, 1, "the run with a changed on_crash");
      assert.equal(task(changed, "Define the partition").status, "changed", changed.output);
      const inactive = await virsh(d.uri, "dumpxml", "--inactive", "p1");
      assert.equal(inactive.code, 0, inactive.stderr);
      assert.match(inactive.stdout, /<on_crash>restart<\/on_crash>/);
      assert.match((await virsh(d.uri, "dumpxml", "p1")).stdout, /<on_crash>destroy<\/on_crash>/);
      succeeded(
        await playbook(dir, "present.yml", { ...vars, on_crash: "restart" }),
        0,
        "the changed configuration again",
      );

      // Another partition on p1's core: define fails, the play stops there.
      const held = await playbook(dir, "present.yml", { uri: d.uri, vm: "p2", cpuset: "2" });
      assert.equal(held.code, 2, held.output);
      assert.equal(held.recap.failed, 1, held.output);
      assert.equal(held.recap.changed, 0, held.output);
      const define = task(held, "Define the partition");
      assert.equal(define.status, "fatal", held.output);
      assert.match(String(define.result?.msg), /^libvirtError: .*core 2.*\bp1\b/, held.output);
      assert.equal(held.tasks.length, 1, held.output);
      assert.doesNotMatch((await virsh(d.uri, "list", "--all", "--name")).stdout, /\bp2\b/);

      // state=shutdown asks the OS, which dry-run cannot: the task fails, saying so.
      const shutdown = await playbook(dir, "shutdown.yml", { uri: d.uri, vm: "p1" });
      assert.equal(shutdown.recap.failed, 1, shutdown.output);
      const asked = task(shutdown, "Shut it down");
      assert.equal(asked.status, "fatal", shutdown.output);
      assert.match(String(asked.result?.msg), /cannot ask the OS of domain 'p1' to power off/);
      assert.equal((await virsh(d.uri, "domstate", "p1")).stdout.trim(), "running");

      // state=destroyed, then undefine: gone for virsh and vmanctl; again, nothing to do.
      const absent = await playbook(dir, "absent.yml", { uri: d.uri, vm: "p1" });
      succeeded(absent, 1, "absent.yml");
      assert.equal(task(absent, "Stop it").status, "changed", absent.output);
      assert.equal(task(absent, "Undefine it").status, "ok", absent.output);
      const list = await virsh(d.uri, "list", "--all", "--name");
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.stdout.trim(), "");
      assert.deepEqual(await partitions(d), []);
      const again = await playbook(dir, "absent.yml", { uri: d.uri, vm: "p1" });
      succeeded(again, 0, "absent.yml again");
      assert.equal(task(again, "Undefine it").status, "skipping", again.output);
    }, ["--backend", "dry-run"]);
  },
});

Deno.test({
  name: "ansible: state=shutdown powers a Linux partition off on the qemu backend",
  ignore: skipQemu !== undefined,
  async fn() {
    await withDaemon(async (d, dir) => {
      const vars = {
        uri: d.uri,
        vm: "linux",
        cpuset: "1",
        kernel: GUESTS.arm64.kernel,
        initrd: GUESTS.arm64.initrd,
        cmdline: `console=${GUESTS.arm64.console} vmanager.stay`,
        devices: ["uart0", "gpio0"],
      };
      succeeded(await playbook(dir, "present.yml", vars), "some", "present.yml");
      await waitForConsole(d.stateDir, "linux", /vmanager-guest: staying up/);

      // The module presses the power button, then polls `status` until shut off.
      const shutdown = await playbook(dir, "shutdown.yml", { uri: d.uri, vm: "linux" });
      succeeded(shutdown, 1, "shutdown.yml");
      assert.equal(task(shutdown, "Shut it down").status, "changed", shutdown.output);
      assert.equal(task(shutdown, "Wait until it is off").status, "ok", shutdown.output);
      const state = await virsh(d.uri, "domstate", "--reason", "linux");
      assert.equal(state.stdout.trim(), "shut off (shutdown)", state.stderr);
      assert.equal((await partitions(d)).find((p) => p.name === "linux")?.state, "stopped");

      // Shut off already: state=destroyed has nothing to do; undefine removes it.
      const absent = await playbook(dir, "absent.yml", { uri: d.uri, vm: "linux" });
      succeeded(absent, 0, "absent.yml");
      assert.equal(task(absent, "Stop it").status, "ok", absent.output);
      assert.deepEqual(await partitions(d), []);
    }, ["--backend", "qemu"]);
  },
});
