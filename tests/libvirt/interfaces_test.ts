/** What `domifaddr` tells of a partition's interfaces: only what vmanager knows. */
import assert from "node:assert/strict";
import type { PartitionRecord } from "../../core/model.ts";
import { boardNetwork } from "../../plugins/qemu/bridge.ts";
import { commandLineAddress, knownAddresses } from "../../plugins/libvirt/interfaces.ts";

function record(spec: Partial<PartitionRecord["spec"]>): PartitionRecord {
  return {
    name: "p",
    id: 1,
    state: "running",
    spec: { name: "p", ...spec },
    allocation: { cores: [1], bootCore: 1, memory: { base: 0, size: 1 }, devices: [] },
    created: "",
    updated: "",
    monitorCalls: [],
  };
}

Deno.test("interfaces: vmanager.ip= of the command line, checked", () => {
  assert.deepEqual(commandLineAddress("console=ttyAMA0 vmanager.ip=10.0.2.15/24,10.0.2.2"), {
    address: "10.0.2.15",
    prefix: 24,
  });
  assert.deepEqual(commandLineAddress("vmanager.ip=192.168.1.9/16"), {
    address: "192.168.1.9",
    prefix: 16,
  });
  for (
    const bad of [
      "vmanager.ip=10.0.2.256/24",
      "vmanager.ip=10.0.2.1",
      "vmanager.ip=a/8",
      "vmanager.ip=10.0.0.1/33",
      "xvmanager.ip=10.0.2.15/24",
      undefined,
    ]
  ) {
    assert.equal(commandLineAddress(bad), undefined, String(bad));
  }
});

Deno.test("interfaces: user networking's guest address, a board network's from the command line", () => {
  const lan = boardNetwork("lan").prefix;
  const net = [{ mode: "user" as const }, { mode: "network" as const, network: "lan" }];
  assert.deepEqual(knownAddresses(record({ net })), [
    { name: "net0", addresses: [{ address: "10.0.2.15", prefix: 24 }] },
    { name: "net1", addresses: [] },
  ]);
  const onLan = record({ net, cmdline: `vmanager.ip=${lan}.9/24` });
  assert.deepEqual(knownAddresses(onLan, ["52:54:00:00:01:1f", "52:54:00:00:01:1e"]), [
    { name: "net0", mac: "52:54:00:00:01:1f", addresses: [{ address: "10.0.2.15", prefix: 24 }] },
    { name: "net1", mac: "52:54:00:00:01:1e", addresses: [{ address: `${lan}.9`, prefix: 24 }] },
  ]);
  // The command line's address on the user network replaces QEMU's default.
  assert.deepEqual(knownAddresses(record({ net, cmdline: "vmanager.ip=10.0.2.30/24" }))[0], {
    name: "net0",
    addresses: [{ address: "10.0.2.30", prefix: 24 }],
  });
  assert.deepEqual(knownAddresses(record({})), []);
});
