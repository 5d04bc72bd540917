import assert from "node:assert/strict";
import { compactSeed, fuzz, fuzzInput, generatedSeeds } from "../../../plugins/fdt/fuzz.ts";
import { readFdt, writeFdt } from "../../../plugins/fdt/mod.ts";
import { qemuDumps } from "./tools.ts";

const RUNS = 10_000;

async function seeds(): Promise<{ blobs: Uint8Array[]; from: string }> {
  const dumps = await qemuDumps();
  const blobs: Uint8Array[] = [];
  for (const dump of dumps.values()) {
    blobs.push(compactSeed(dump), writeFdt(readFdt(dump)));
  }
  if (dumps.size === 0) console.log("no QEMU dumps: fuzzing generated blobs only");
  blobs.push(...generatedSeeds(dumps.size === 0 ? 12 : 4, 7));
  return { blobs, from: `${dumps.size} QEMU dumps + generated trees` };
}

Deno.test("compactSeed keeps a QEMU dump's layout and content but drops the 1 MiB padding", async () => {
  const dumps = await qemuDumps();
  const blobs = dumps.size > 0 ? [...dumps.values()] : generatedSeeds(3, 1);
  for (const blob of blobs) {
    const seed = compactSeed(blob);
    assert.ok(seed.length <= blob.length);
    assert.ok(seed.length < 64 * 1024, `compact seed of ${seed.length} bytes`);
    assert.deepStrictEqual(readFdt(seed), readFdt(blob));
  }
});

Deno.test(`fuzz: ${RUNS} damaged blobs are each read or refused with FdtError, quickly`, async () => {
  const { blobs, from } = await seeds();
  const started = performance.now();
  const report = fuzz(blobs, RUNS, 0x5eed);
  const seconds = (performance.now() - started) / 1000;
  const tally = [...report.outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
  console.log(
    `fuzz: ${report.runs} inputs from ${from} in ${seconds.toFixed(1)} s, slowest ` +
      `${report.slowestMs.toFixed(1)} ms: ${tally.join(", ")}`,
  );
  assert.equal(report.runs, RUNS);
  assert.ok((report.outcomes.get("accepted") ?? 0) > 0, "some damage is harmless and must be read");
  const codes = [...report.outcomes.keys()].filter((k) => k !== "accepted");
  for (
    const code of [
      "bad-magic",
      "bad-version",
      "truncated",
      "bad-offset",
      "bad-alignment",
      "bad-token",
      "bad-structure",
    ] as const
  ) {
    assert.ok(
      codes.includes(code),
      `the fuzzer should reach ${code} (reached ${codes.join(", ")})`,
    );
  }
  assert.ok(report.slowestMs < 2000, `slowest input ${report.slowestMs} ms`);
  assert.ok(seconds < 60, `the fuzz run took ${seconds} s`);
});

Deno.test("fuzzInput classifies outcomes and flags a reader that breaks the contract", () => {
  assert.equal(fuzzInput(generatedSeeds(1, 3)[0]), "accepted");
  assert.equal(fuzzInput(new Uint8Array(2)), "truncated");
  assert.equal(fuzzInput(new Uint8Array(64)), "bad-magic");
  const rangeError = (blob: Uint8Array) => {
    new DataView(blob.buffer).getUint32(blob.length);
    return readFdt(blob);
  };
  assert.throws(() => fuzzInput(new Uint8Array(8), rangeError), /contract violation: RangeError/);
  const lossy = (blob: Uint8Array) => {
    const tree = readFdt(blob);
    tree.root.props.push({ name: `p${Math.random()}`, value: new Uint8Array(1) });
    return tree;
  };
  assert.throws(() => fuzzInput(generatedSeeds(1, 3)[0], lossy), /did not round-trip/);
});

Deno.test("plugins/fdt/fuzz.ts runs from the command line and prints counts per outcome", async () => {
  const script = new URL("../../../plugins/fdt/fuzz.ts", import.meta.url).pathname;
  const decoder = new TextDecoder();
  const ok = await new Deno.Command(Deno.execPath(), {
    args: ["run", script, "--count", "300", "--seed", "5"],
    cwd: new URL("../../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(ok.stdout);
  assert.equal(ok.code, 0, decoder.decode(ok.stderr));
  assert.match(text, /^300 inputs from 16 seeds in [\d.]+ s \(seed 5; slowest input/);
  assert.match(text, /\n {2}accepted: \d+/);
  assert.match(text, /\n {2}refused [a-z-]+: \d+/);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", script, "--count", "many"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(decoder.decode(bad.stderr), /--count needs a whole number/);
});
