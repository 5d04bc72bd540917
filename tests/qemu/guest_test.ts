/**
 * The test guest itself (scripts/fetch-fixtures.sh's initramfs, tests/fixtures/guest/init)
 * with Debian's real kernels. It loads the kernel modules its devices need, from the
 * kernel's own package, and says which; the kernel lists them in /proc/modules. On
 * the Arm boards' qemu backend its power button — gpio-keys on the PL061, pressed by
 * QMP `system_powerdown` on the partition's QMP socket, as the product presses it —
 * powers it off (`list` shows it stopped), while a guest booted with
 * `vmanager.ignore-power` takes the key's interrupt and keeps running. A riscv64
 * partition with a network interface and a disk (virtio devices) loads virtio_mmio,
 * virtio_net and virtio_blk after what they depend on; so does each kernel in a plain
 * QEMU boot with virtio net and block devices.
 */
import assert from "node:assert/strict";
import {
  bootStaying,
  bootTest,
  type Guest,
  GUESTS,
  missing,
  ok,
  typeIntoConsole,
  waitForConsole,
  waitForState,
} from "./helpers.ts";
import { qmpCommand } from "../../plugins/qemu/qmp.ts";
import { qemuFiles } from "../../plugins/qemu/files.ts";

const MODULES_LINE = /vmanager-guest: modules loaded: (.*?)\r?$/m;
const VIRTIO = ["virtio_mmio", "failover", "net_failover", "virtio_net", "virtio_blk"];

/** The modules the guest says it loaded, in order, with none failing. */
function modulesLine(console: string): string[] {
  const line = console.match(MODULES_LINE);
  assert.ok(line, `no modules line on the console:\n${console}`);
  assert.doesNotMatch(console, /insmod failed/);
  return line[1].trim() === "none" ? [] : line[1].trim().split(/\s+/);
}

/**
 * The modules the guest says it loaded, each checked against the kernel's
 * /proc/modules (typed into its console); returns their names.
 */
async function loadedModules(state: string, name: string, console: string): Promise<string[]> {
  const names = modulesLine(console);
  const text = await typeIntoConsole(
    state,
    name,
    "cat /proc/modules; echo modules-$((6*7))\n",
    /^modules-42/m,
  );
  const kernel = new Set([...text.matchAll(/^(\w+) \d+ \d+ /gm)].map((m) => m[1]));
  assert.deepEqual([...kernel].sort(), [...names].sort(), "/proc/modules");
  return names;
}

/** The times the power button's interrupt fired (its /proc/interrupts line). */
async function buttonInterrupts(state: string, name: string): Promise<number> {
  const text = await typeIntoConsole(
    state,
    name,
    "cat /proc/interrupts; echo irqs-$((7*7))\n",
    /^irqs-49/m,
  );
  const line = text.split("\n").find((l) => /GPIO Key Poweroff/.test(l));
  assert.ok(line, `no power button in /proc/interrupts of ${name}:\n${text}`);
  // "IRQ:", a count per CPU, then the controller, its pin (a number too) and the name.
  const fields = line.trim().split(/\s+/).slice(1);
  const counts = fields.slice(0, fields.findIndex((f) => !/^\d+$/.test(f)));
  return counts.reduce((sum, n) => sum + Number(n), 0);
}

/** Presses the partition's power button as the product does: QMP system_powerdown. */
async function pressPowerButton(state: string, name: string): Promise<void> {
  const shown = JSON.parse(await ok(state, "--json", "show", name)) as { id: number };
  await qmpCommand(qemuFiles(state, shown.id).qmp, "system_powerdown");
}

/** Its console and its power button (gpio0, which a partition gets when it asks). */
const WITH_BUTTON = ["--device", "uart0", "--device", "gpio0"];

const ARM = [
  // gpio_keys is a module of Debian's arm64 kernel, built into its armmp one.
  { guest: GUESTS.arm64, power: ["gpio_keys", "evdev"] },
  { guest: GUESTS.armv7, power: ["evdev"] },
];

for (const { guest, power } of ARM) {
  const why = missing(guest);
  if (why) console.log(`skipping the ${guest.board} guest: ${why}`);

  bootTest(
    `${guest.board}: the guest loads its button's modules; the button (QMP system_powerdown) powers it off`,
    why !== undefined,
    async (state) => {
      const console = await bootStaying(state, guest, { args: WITH_BUTTON });
      // Its devices need them; with no virtio device, no virtio module.
      assert.deepEqual(await loadedModules(state, "p", console), power);
      const devices = await typeIntoConsole(
        state,
        "p",
        "cat /proc/bus/input/devices; echo devices-$((6*7))\n",
        /^devices-42/m,
      );
      assert.match(devices, /^N: Name="gpio-keys"\r?$/m);
      assert.match(devices, /^H: Handlers=.*\bevent\d+/m);
      await pressPowerButton(state, "p");
      await waitForConsole(state, "p", /^vmanager-guest: power button: powering off\r?$/m, 30_000);
      await waitForState(state, "p", "stopped");
    },
  );

  bootTest(
    `${guest.board}: a guest booted with vmanager.ignore-power takes the press and keeps running`,
    why !== undefined,
    async (state) => {
      await bootStaying(state, guest, { args: WITH_BUTTON, cmdline: "vmanager.ignore-power" });
      const before = await buttonInterrupts(state, "p");
      await pressPowerButton(state, "p");
      await new Promise((resolve) => setTimeout(resolve, 5000));
      await waitForState(state, "p", "running", 1000);
      const after = await buttonInterrupts(state, "p");
      assert.ok(after > before, `the press reached the guest: ${before} then ${after} interrupts`);
      assert.doesNotMatch(await ok(state, "console", "--log", "p"), /power button/);
    },
  );
}

const riscv = GUESTS.riscv64;
const riscvWhy = missing(riscv);
if (riscvWhy) console.log(`skipping the ${riscv.board} guest: ${riscvWhy}`);
bootTest(
  `${riscv.board}: a partition with a network interface and a disk loads the virtio modules`,
  riscvWhy !== undefined,
  async (state) => {
    const disk = `${state}/disk.img`;
    await Deno.writeFile(disk, new Uint8Array(1 << 20));
    const console = await bootStaying(state, riscv, { args: ["--net", "user", "--disk", disk] });
    // virtio_mmio, then what its devices need, each after what it depends on; with a
    // disk, the file system's module (ext4, for ext2/3/4) and what it needs.
    assert.deepEqual(await loadedModules(state, "p", console), [
      ...VIRTIO,
      "jbd2",
      "mbcache",
      "crc16",
      "ext4",
    ]);
  },
);

/** Plain QEMU per guest: the machine options of its board. */
const MACHINES: Record<string, string[]> = {
  "qemu-system-aarch64": ["-M", "virt", "-cpu", "cortex-a57"],
  "qemu-system-arm": ["-M", "virt", "-cpu", "cortex-a15"],
  "qemu-system-riscv64": ["-M", "virt"],
};

/** Boots `guest` in plain QEMU with a virtio net and a virtio block device; its output. */
async function bootWithVirtio(guest: Guest): Promise<string> {
  const child = new Deno.Command(guest.qemu, {
    // deno-fmt-ignore
    args: [...MACHINES[guest.qemu], "-smp", "1", "-m", "256M", "-nographic", "-nic", "none",
      "-device", "virtio-net-device",
      "-blockdev", "driver=null-co,node-name=disk,size=1048576",
      "-device", "virtio-blk-device,drive=disk",
      "-kernel", guest.kernel, "-initrd", guest.initrd, "-append", `console=${guest.console}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The guest powers off by itself; a hung one is killed.
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, `${guest.qemu}: ${new TextDecoder().decode(out.stderr)}\n${text}`);
    return text;
  } finally {
    clearTimeout(timer);
  }
}

for (const guest of [GUESTS.riscv64, GUESTS.arm64, GUESTS.armv7]) {
  const why = missing(guest);
  Deno.test({
    name: `${guest.board} kernel: virtio net and block devices load the virtio modules in order`,
    ignore: why !== undefined,
    fn: async () => {
      const names = modulesLine(await bootWithVirtio(guest));
      // QEMU's own device tree has the gpio-keys too: only the virtio modules are compared.
      assert.deepEqual(names.filter((n) => VIRTIO.includes(n)), VIRTIO);
    },
  });
}
