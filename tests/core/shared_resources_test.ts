/**
 * Shared SoC resources: the providers a partition's devices depend on
 * (core/devicetree/providers.ts), which of them others share or the board
 * reserves (core/partition/shared_resources.ts), and the protected command line
 * (core/partition/cmdline_protection.ts) — on a small made-up tree, on Debian's
 * i.MX8MQ EVK DTB and on the QEMU virt boards.
 */
import assert from "node:assert/strict";
import type { Board, BoardDevice } from "../../core/model.ts";
import { BoardError } from "../../core/errors.ts";
import type { FdtTree } from "../../core/devicetree/tree.ts";
import { node } from "../../core/devicetree/tree.ts";
import { cells, str, u32 } from "../../core/devicetree/values.ts";
import { providerKind, providerUses } from "../../core/devicetree/providers.ts";
import {
  refuseReserved,
  ReservedProviderError,
  sharedProviders,
  sharedWarning,
} from "../../core/partition/shared_resources.ts";
import { finalCmdline, protectCmdline } from "../../core/partition/cmdline_protection.ts";
import { MAX_CMDLINE_BYTES } from "../../core/partition/cmdline.ts";
import { importBoard } from "../../core/board/import.ts";
import { armv8 } from "../../arch/armv8/mod.ts";
import { loadBoardYaml } from "../../core/board/load.ts";
import { boardProblems } from "../../core/board/rules.ts";
import { readFdt } from "../../plugins/fdt/mod.ts";
import { debianImx8mqEvk } from "../cli/helpers.ts";

const CCM = 1, PINCTRL = 2, UART_PINS = 3, OSC = 4, SRC = 5;
const PROTECTION = "clk_ignore_unused pd_ignore_unused";

/** A SoC: clock, reset and pin controllers on /soc, three UARTs, a fixed oscillator. */
function socTree(): FdtTree {
  const prop = (name: string, value: Uint8Array) => ({ name, value });
  const dev = (base: number, props: { name: string; value: Uint8Array }[], status?: string) =>
    node(`serial@${base.toString(16)}`, [
      prop("compatible", str("test,uart")),
      prop("reg", cells([base, 0x1000], [1, 1])),
      ...props,
      ...(status ? [prop("status", str(status))] : []),
    ]);
  return {
    root: node("", [prop("#address-cells", u32(1)), prop("#size-cells", u32(1))], [
      node("osc", [
        prop("compatible", str("fixed-clock")),
        prop("#clock-cells", u32(0)),
        prop("phandle", u32(OSC)),
      ]),
      node("soc", [prop("ranges", new Uint8Array())], [
        node("clock-controller@1000", [
          prop("compatible", str("test,ccm")),
          prop("reg", cells([0x1000, 0x1000], [1, 1])),
          prop("#clock-cells", u32(1)),
          prop("clocks", u32(OSC)),
          prop("assigned-clocks", u32(CCM, 9)),
          prop("phandle", u32(CCM)),
        ]),
        node("reset-controller@2000", [
          prop("compatible", str("test,src")),
          prop("reg", cells([0x2000, 0x1000], [1, 1])),
          prop("#reset-cells", u32(1)),
          prop("phandle", u32(SRC)),
        ]),
        node("pinctrl@3000", [
          prop("compatible", str("test,iomuxc")),
          prop("reg", cells([0x3000, 0x1000], [1, 1])),
          prop("phandle", u32(PINCTRL)),
        ], [node("uartgrp", [prop("phandle", u32(UART_PINS))])]),
        dev(0x10000, [
          prop("clocks", u32(CCM, 1, OSC, CCM, 2)),
          prop("resets", u32(SRC, 4)),
          prop("pinctrl-0", u32(UART_PINS)),
        ]),
        dev(0x20000, [prop("clocks", u32(CCM, 3))]),
        // Disabled: its pin controller and reset controller are nobody else's.
        dev(0x30000, [prop("pinctrl-0", u32(UART_PINS)), prop("resets", u32(SRC, 5))], "disabled"),
      ]),
    ]),
    reservations: [],
    bootCpuidPhys: 0,
  };
}

function device(name: string, base: number): BoardDevice {
  return {
    name,
    compatible: ["test,uart"],
    reg: [{ base, size: 0x1000 }],
    interrupts: [],
    sharing: "exclusive",
    default: false,
    console: false,
    path: `/soc/serial@${base.toString(16)}`,
  };
}

function socBoard(providers?: string[]): Board {
  return {
    name: "soc",
    description: "a made-up SoC",
    arch: "armv8",
    monitor: { conduit: "smc", interface: "psci" },
    cores: [{ id: 0, hwid: 0 }, { id: 1, hwid: 1 }],
    memory: [{ name: "ram", base: 0x40000000, size: 0x40000000 }],
    devices: [device("uart0", 0x10000), device("uart1", 0x20000), device("uart2", 0x30000)],
    reserved: [{
      owner: "management",
      cores: [0],
      memory: [],
      devices: [],
      ...(providers ? { providers } : {}),
    }],
  };
}

Deno.test("providerKind: clocks, assigned clocks, resets, power domains, pinctrl states", () => {
  assert.equal(providerKind("clocks"), "clock");
  assert.equal(providerKind("assigned-clocks"), "clock");
  assert.equal(providerKind("resets"), "reset");
  assert.equal(providerKind("power-domains"), "power-domain");
  assert.equal(providerKind("pinctrl-1"), "pinctrl");
  assert.equal(providerKind("pinctrl-names"), undefined);
  assert.equal(providerKind("interrupt-parent"), undefined);
});

Deno.test("providerUses: one entry per device, provider and kind; fixed clocks left out", () => {
  const uses = providerUses(socTree(), ["/soc/serial@10000"]);
  assert.deepEqual(uses.map((u) => [u.kind, u.provider, u.targets, u.consumers]), [
    ["clock", "/soc/clock-controller@1000", ["/soc/clock-controller@1000"], [
      "/soc/serial@20000",
    ]],
    ["reset", "/soc/reset-controller@2000", ["/soc/reset-controller@2000"], []],
    // The pin group is its pin controller's; the disabled UART does not count.
    ["pinctrl", "/soc/pinctrl@3000", ["/soc/pinctrl@3000/uartgrp"], []],
  ]);
});

Deno.test("sharedProviders: names who shares — the management partition or another partition", () => {
  const board = socBoard();
  const alone = sharedProviders(socTree(), board, { devices: ["uart0"] });
  assert.deepEqual(alone.map(sharedWarning), [
    "device uart0: clock controller /soc/clock-controller@1000 (clocks) is shared with " +
    "the management partition",
  ]);
  assert.equal(alone[0].dropped, false);
  const other = sharedProviders(socTree(), board, { devices: ["uart0"] }, [
    { name: "web", allocation: { devices: ["uart1"] } },
  ]);
  assert.deepEqual(other.map((s) => s.sharedWith), [["partition web"]]);
  // Both UARTs in one partition: the clock controller is nobody else's.
  assert.deepEqual(sharedProviders(socTree(), board, { devices: ["uart0", "uart1"] }), []);
});

Deno.test("refuseReserved: a provider the board reserves to the management partition refuses", async () => {
  const board = socBoard(["/soc/pinctrl@3000"]);
  const tree = socTree();
  await assert.rejects(
    () => refuseReserved(board, { devices: ["uart0"] }, () => Promise.resolve(tree)),
    (error: Error) => {
      assert.ok(error instanceof ReservedProviderError);
      assert.equal(
        error.message,
        "device uart0 needs pin controller /soc/pinctrl@3000 (pinctrl-0), which board soc " +
          "reserves to the management partition",
      );
      return true;
    },
  );
  await refuseReserved(board, { devices: ["uart1"] }, () => Promise.resolve(tree));
  // A reserved path the tree lacks is the board's error, not a silent pass.
  await assert.rejects(
    () =>
      refuseReserved(
        socBoard(["/soc/pinctrl"]),
        { devices: ["uart1"] },
        () => Promise.resolve(tree),
      ),
    BoardError,
  );
  // No reserved providers: the tree is not even loaded.
  await refuseReserved(socBoard(), { devices: ["uart0"] }, () => {
    throw new Error("loaded");
  });
});

Deno.test("board rules: only the management partition's reservation lists providers", () => {
  const board = socBoard();
  board.reserved.push({
    owner: "monitor",
    cores: [],
    memory: [],
    devices: [],
    providers: ["/soc/clock-controller@1000"],
  });
  assert.deepEqual(boardProblems(board), [{
    path: ["reserved", 1, "providers"],
    message: "only the management partition's reservation lists providers",
  }]);
  assert.deepEqual(boardProblems(socBoard(["/soc/clock-controller@1000"])), []);
});

Deno.test("protectCmdline: appends what is missing, before init's arguments", () => {
  assert.equal(protectCmdline(undefined, "p"), PROTECTION);
  assert.equal(protectCmdline("console=ttymxc0", "p"), `console=ttymxc0 ${PROTECTION}`);
  assert.equal(
    protectCmdline("clk_ignore_unused console=ttymxc0", "p"),
    "clk_ignore_unused console=ttymxc0 pd_ignore_unused",
  );
  assert.equal(protectCmdline(`ro ${PROTECTION}`, "p"), `ro ${PROTECTION}`);
  assert.equal(
    protectCmdline("ro -- clk_ignore_unused", "p"),
    `ro ${PROTECTION} -- clk_ignore_unused`,
  );
  assert.throws(() => protectCmdline("x".repeat(MAX_CMDLINE_BYTES - 10), "p"), /more than 2047/);
});

Deno.test("finalCmdline: protected for a shared clock controller, not for a shared reset", () => {
  const board = socBoard();
  assert.equal(
    finalCmdline(socTree(), board, { devices: ["uart0"] }, "ro", "p"),
    `ro ${PROTECTION}`,
  );
  assert.equal(finalCmdline(socTree(), board, { devices: ["uart2"] }, "ro", "p"), "ro");
});

for (const name of ["qemu-virt-arm", "qemu-virt-arm64", "qemu-virt-riscv64"]) {
  Deno.test(`${name}: no shared providers, the command line unchanged`, async () => {
    const dir = new URL("../../boards/", import.meta.url);
    const { board } = loadBoardYaml(
      await Deno.readTextFile(new URL(`${name}.yaml`, dir)),
      `${name}.yaml`,
    );
    const tree = readFdt(await Deno.readFile(new URL(`${name}.dtb`, dir)));
    const devices = board.devices.map((d) => d.name);
    assert.deepEqual(sharedProviders(tree, board, { devices }), []);
    assert.equal(finalCmdline(tree, board, { devices }, "console=ttyS0", "p"), "console=ttyS0");
  });
}

const IMX8MQ = debianImx8mqEvk();
if (!IMX8MQ) console.log("skipping the i.MX8MQ EVK tests: run scripts/fetch-fixtures.sh");

const CCM_PATH = "/soc@0/bus@30000000/clock-controller@30380000";

Deno.test({
  name: "i.MX8MQ EVK: a UART clocked by the CCM shares it with the management partition",
  ignore: !IMX8MQ,
  fn: async () => {
    const tree = readFdt(await Deno.readFile(IMX8MQ!));
    const { board } = importBoard(tree, "imx8mq-evk", armv8());
    // A finer board than the import's: the UARTs listed themselves, not their AIPS bus.
    const uart = (name: string, base: number): BoardDevice => ({
      ...device(name, base),
      compatible: ["fsl,imx8mq-uart"],
      path: `/soc@0/bus@30800000/serial@${base.toString(16)}`,
    });
    board.devices = [
      ...board.devices.filter((d) => !d.name.startsWith("bus")),
      uart("uart1", 0x30860000),
      uart("uart2", 0x30890000),
    ];
    const shared = sharedProviders(tree, board, { devices: ["uart2"] });
    assert.deepEqual(shared.map(sharedWarning), [
      `device uart2: clock controller ${CCM_PATH} (clocks) is shared with the management partition`,
    ]);
    assert.equal(shared[0].dropped, false); // its tree keeps the CCM: its Linux drives it
    assert.equal(
      finalCmdline(tree, board, { devices: ["uart2"] }, "console=ttymxc1", "p"),
      `console=ttymxc1 ${PROTECTION}`,
    );
    board.reserved[0].providers = [CCM_PATH];
    await assert.rejects(
      () => refuseReserved(board, { devices: ["uart2"] }, () => Promise.resolve(tree)),
      new RegExp(`device uart2 needs clock controller ${CCM_PATH} \\(clocks\\), which board`),
    );
  },
});
