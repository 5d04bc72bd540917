import assert from "node:assert/strict";
import { type FdtNode, readFdt, writeFdt } from "../../../plugins/fdt/mod.ts";
import { syntheticTree } from "./fixtures.ts";
import { qemuDumps } from "./tools.ts";

/** Per-call time of `fn` in microseconds: the fastest of `batches` batches after a warm-up, and the median. */
function timeIt(
  fn: () => unknown,
  { warmup = 200, batch = 20, batches = 25 } = {},
): { best: number; median: number } {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) fn();
    samples.push(((performance.now() - started) / batch) * 1000);
  }
  samples.sort((a, b) => a - b);
  return { best: samples[0], median: samples[samples.length >> 1] };
}

function count(n: FdtNode): { nodes: number; props: number } {
  return n.children.map(count).reduce(
    (sum, c) => ({ nodes: sum.nodes + c.nodes, props: sum.props + c.props }),
    { nodes: 1, props: n.props.length },
  );
}

const fmt = (t: { best: number; median: number }) =>
  `${t.best.toFixed(0)} µs best, ${t.median.toFixed(0)} µs median`;

Deno.test("performance: read/write of QEMU dumps and a 2000-node tree (timings logged)", async () => {
  for (const [machine, blob] of await qemuDumps()) {
    const tree = readFdt(blob);
    const read = timeIt(() => readFdt(blob));
    const write = timeIt(() => writeFdt(tree));
    const { nodes, props } = count(tree.root);
    console.log(
      `QEMU ${machine} (${nodes} nodes, ${props} props): read ${fmt(read)}; write ${fmt(write)}`,
    );
    assert.ok(read.median < 2000 && write.median < 2000, "a QEMU DTB takes well under 2 ms");
  }
  const tree = syntheticTree(2000);
  const blob = writeFdt(tree);
  const { nodes, props } = count(tree.root);
  assert.equal(nodes, 2000);
  const read = timeIt(() => readFdt(blob));
  const write = timeIt(() => writeFdt(tree));
  console.log(
    `synthetic ${nodes} nodes, ${props} props, ${blob.length} bytes: ` +
      `read ${fmt(read)}; write ${fmt(write)}`,
  );
  // Generous bounds for loaded CI machines; typical figures are logged above.
  assert.ok(read.best < 5000, `read of 2000 nodes: ${fmt(read)}`);
  assert.ok(write.best < 5000, `write of 2000 nodes: ${fmt(write)}`);
});

Deno.test("performance: read and write stay linear (20 000 nodes vs 2000)", () => {
  const small = syntheticTree(2000);
  const large = syntheticTree(20_000);
  const smallBlob = writeFdt(small);
  const largeBlob = writeFdt(large);
  const few = { warmup: 5, batch: 1, batches: 8 };
  const readRatio = timeIt(() => readFdt(largeBlob), few).best /
    timeIt(() => readFdt(smallBlob), { warmup: 50, batch: 5 }).best;
  const writeRatio = timeIt(() => writeFdt(large), few).best /
    timeIt(() => writeFdt(small), { warmup: 50, batch: 5 }).best;
  console.log(`10× the nodes: read ×${readRatio.toFixed(1)}, write ×${writeRatio.toFixed(1)}`);
  // Linear is ×10; garbage collection and cache misses on the bigger heap add up to
  // about ×3 more. Anything quadratic would be ×100.
  assert.ok(readRatio < 60, `read grows ×${readRatio.toFixed(1)} for 10× the nodes`);
  assert.ok(writeRatio < 60, `write grows ×${writeRatio.toFixed(1)} for 10× the nodes`);
});
