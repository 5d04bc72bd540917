import assert from "node:assert/strict";
import { hasTool, vmanctl, withTempDir } from "../cli/helpers.ts";

const decoder = new TextDecoder();

async function tool(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: r.code, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
}

const TOOLS = hasTool("dtc") && hasTool("fdtget") && hasTool("fdtdump");
if (!TOOLS) {
  console.log("skipping device tree checks with dtc/fdtget: install device-tree-compiler");
}

/** dtc's warnings for a DTB, with the file name taken out. */
async function warnings(file: string): Promise<Set<string>> {
  const r = await tool("dtc", ["-I", "dtb", "-O", "dts", "-o", "/dev/null", file]);
  assert.equal(r.code, 0, r.err);
  return new Set(
    r.err.split("\n").filter((l) => l.includes("Warning")).map((l) => l.replace(/^[^:]*: /, "")),
  );
}

async function fdtget(file: string, ...args: string[]): Promise<string> {
  const r = await tool("fdtget", [file, ...args]);
  assert.equal(r.code, 0, `fdtget ${args.join(" ")}: ${r.err}`);
  return r.out.trim();
}

interface Shape {
  cores: number[];
  devices: string[];
}

const BOARDS: { board: string; console: string; uart: string; shapes: Shape[] }[] = [
  {
    board: "qemu-virt-arm64",
    console: "/pl011@9000000",
    uart: "uart0",
    shapes: [
      { cores: [1], devices: ["uart0"] },
      { cores: [3], devices: [] },
      { cores: [2, 3], devices: ["uart0", "rtc0"] },
      { cores: [1, 2, 3], devices: ["uart0", "gpio0", "virtio0", "virtio3"] },
      { cores: [1, 3], devices: ["rtc0"] },
    ],
  },
  {
    board: "qemu-virt-arm",
    console: "/pl011@9000000",
    uart: "uart0",
    shapes: [
      { cores: [2], devices: ["uart0"] },
      { cores: [1, 2, 3], devices: ["uart0", "rtc0", "gpio0"] },
      { cores: [2, 3], devices: [] },
    ],
  },
  {
    board: "qemu-virt-riscv64",
    console: "/soc/serial@10000000",
    uart: "uart0",
    shapes: [
      { cores: [1], devices: ["uart0"] },
      { cores: [2, 3], devices: ["uart0", "rtc0", "virtio1"] },
      { cores: [1, 2, 3], devices: [] },
      { cores: [3], devices: ["virtio0"] },
    ],
  },
];

for (const { board, console, shapes } of BOARDS) {
  Deno.test({
    name: `${board}: partition DTBs of every shape pass dtc and read back with fdtget`,
    ignore: !TOOLS,
    fn: async () => {
      await withTempDir(async (dir) => {
        const boardDtb = new URL(`../../boards/${board}.dtb`, import.meta.url).pathname;
        const boardWarnings = await warnings(boardDtb);
        for (const [i, shape] of shapes.entries()) {
          const name = `p${i}`;
          const spec = `${dir}/${name}.yaml`;
          await Deno.writeTextFile(
            spec,
            `cpu-ids: [${shape.cores.join(", ")}]\nmemory: 64M\ndevices: [${
              shape.devices.join(", ")
            }]\n` +
              `cmdline: "console=ttyX root=/dev/ram0 p=${name}"\n`,
          );
          const s = ["--state-dir", `${dir}/state-${i}`, "--board", board];
          const created = await vmanctl([...s, "create", name, "-f", spec, "--json"]);
          assert.equal(created.code, 0, created.stderr);
          const window = JSON.parse(created.stdout).memory as { base: number; size: number };
          const file = `${dir}/${name}.dtb`;
          const made = await vmanctl([...s, "dtb", name, "-o", file]);
          assert.equal(made.code, 0, made.stderr);
          const what = `${board} ${name} cores ${shape.cores} devices ${shape.devices}`;

          for (const w of await warnings(file)) {
            assert.ok(boardWarnings.has(w), `${what}: new dtc warning ${w}`);
          }

          const cpus = (await fdtget(file, "-l", "/cpus")).split("\n").filter((n) =>
            n.startsWith("cpu@")
          );
          assert.deepEqual(cpus, shape.cores.map((c) => `cpu@${c}`), what);
          for (const c of shape.cores) {
            assert.equal(Number(await fdtget(file, "-t", "i", `/cpus/cpu@${c}`, "reg")), c);
          }
          const header = (await tool("fdtdump", ["-s", file])).out;
          assert.match(
            header,
            new RegExp(`boot_cpuid_phys:\\s+0x${shape.cores[0].toString(16)}\\b`),
            what,
          );

          const memNode = `/memory@${window.base.toString(16)}`;
          const reg = (await fdtget(file, "-t", "x", memNode, "reg")).split(/\s+/).map((x) =>
            parseInt(x, 16)
          );
          assert.deepEqual(reg, [0, window.base, 0, window.size], what);
          const memories = (await fdtget(file, "-l", "/")).split("\n").filter((n) =>
            n.startsWith("memory")
          );
          assert.deepEqual(memories, [memNode.slice(1)], `${what}: one memory node`);

          assert.equal(
            await fdtget(file, "-t", "s", "/chosen", "bootargs"),
            `console=ttyX root=/dev/ram0 p=${name}`,
          );
          const stdout = await tool("fdtget", ["-t", "s", file, "/chosen", "stdout-path"]);
          if (shape.devices.includes("uart0")) assert.equal(stdout.out.trim(), console, what);
          else assert.notEqual(stdout.code, 0, `${what}: no console without the UART`);
          for (const seed of ["rng-seed", "kaslr-seed"]) {
            assert.notEqual(
              (await tool("fdtget", [file, "/chosen", seed])).code,
              0,
              `${what}: ${seed} dropped`,
            );
          }

          // Devices: exactly the partition's own of the board's assignable devices.
          const boardJson = JSON.parse(
            (await vmanctl(["board", "show", board, "--json"])).stdout,
          ) as {
            devices: { name: string; path: string }[];
          };
          for (const device of boardJson.devices) {
            const present = (await tool("fdtget", ["-l", file, device.path])).code === 0;
            assert.equal(
              present,
              shape.devices.includes(device.name),
              `${what}: ${device.name} at ${device.path}`,
            );
          }

          if (board.includes("riscv")) await checkRiscv(file, shape, what);
          else await checkArm(file, shape, what);
        }
      });
    },
  });
}

async function checkArm(file: string, shape: Shape, what: string): Promise<void> {
  assert.equal(await fdtget(file, "-t", "s", "/psci", "method"), "hvc", what);
  assert.match(
    await fdtget(file, "-t", "s", "/psci", "compatible"),
    /^arm,psci-1\.0 arm,psci-0\.2$/,
  );
  for (const c of shape.cores) {
    assert.equal(await fdtget(file, "-t", "s", `/cpus/cpu@${c}`, "enable-method"), "psci", what);
  }
  // The GIC, the timer and the clock the UART needs stay; the cpu-map names only our cores.
  await fdtget(file, "-l", "/intc@8000000");
  await fdtget(file, "-t", "s", "/timer", "compatible");
  const map = (await tool("fdtget", ["-l", file, "/cpus/cpu-map/socket0/cluster0"])).out.trim()
    .split("\n");
  assert.deepEqual(map, shape.cores.map((c) => `core${c}`), what);
  assert.notEqual(
    (await tool("fdtget", ["-l", file, "/gpio-keys"])).code === 0,
    !shape.devices.includes("gpio0"),
  );
}

async function checkRiscv(file: string, shape: Shape, what: string): Promise<void> {
  const intc = new Set<number>();
  for (const c of shape.cores) {
    assert.equal(await fdtget(file, "-t", "s", `/cpus/cpu@${c}`, "status"), "okay", what);
    intc.add(
      Number(await fdtget(file, "-t", "u", `/cpus/cpu@${c}/interrupt-controller`, "phandle")),
    );
  }
  // CLINT and PLIC keep all 8 entries (an M and an S one per hart, positional: entry i is
  // PLIC context i); those of other harts name one of ours with 0xffffffff (not connected).
  for (const node of ["/soc/clint@2000000", "/soc/plic@c000000"]) {
    const cells = (await fdtget(file, "-t", "u", node, "interrupts-extended")).split(/\s+/).map(
      Number,
    );
    assert.equal(cells.length, 16, `${what}: ${node}`);
    for (let i = 0; i < cells.length; i += 2) {
      assert.ok(intc.has(cells[i]), `${what}: ${node} entry ${cells[i]}`);
      const hart = i >> 2;
      if (!shape.cores.includes(hart)) assert.equal(cells[i + 1], 0xffffffff, `${what}: ${node}`);
    }
  }
}
