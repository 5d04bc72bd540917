/**
 * core/yaml_doc.ts: an alias bomb is a syntax problem at the alias that passes
 * the limit (file:line), not an exception without a place.
 */
import assert from "node:assert/strict";
import { MAX_ALIAS_COUNT, parseLocatedYaml } from "../../core/yaml_doc.ts";

/** A "billion laughs" document: each level's anchor holds nine aliases of the one before. */
function aliasBomb(levels = 9): string {
  const lines = ["name: bomb", `l0: &l0 [${Array(9).fill('"lol"').join(",")}]`];
  for (let i = 1; i < levels; i++) {
    lines.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(",")}]`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("an alias bomb is a syntax problem at the alias past the limit, found at once", () => {
  const started = performance.now();
  const doc = parseLocatedYaml(aliasBomb(), "bomb.yaml");
  assert.ok(performance.now() - started < 500);
  assert.ok("syntax" in doc, "refused");
  assert.deepEqual(doc.syntax, [{
    where: "bomb.yaml:5",
    message: "Excessive alias count indicates a resource exhaustion attack " +
      `(aliases may stand for at most ${MAX_ALIAS_COUNT} nodes)`,
  }]);
});

Deno.test("aliases within the limit read as before", () => {
  const doc = parseLocatedYaml("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n", "ok.yaml");
  assert.ok(!("syntax" in doc));
  assert.deepEqual(doc.value, { a: [1, 2], b: [1, 2], c: [[1, 2], [1, 2]] });
  // An anchor counts once for itself and once for each use: 99 uses of a scalar at most.
  const many = parseLocatedYaml(`a: &x 1\nb: [${Array(99).fill("*x").join(",")}]\n`, "m.yaml");
  assert.ok(!("syntax" in many), JSON.stringify(many).slice(0, 200));
  const tooMany = parseLocatedYaml(`a: &x 1\nb: [${Array(100).fill("*x").join(",")}]\n`, "m.yaml");
  assert.ok("syntax" in tooMany);
  assert.equal(tooMany.syntax[0].where, "m.yaml:2");
});

Deno.test("an alias to an anchor defined later is a syntax problem with a line", () => {
  const doc = parseLocatedYaml("a: 1\nb: *nowhere\n", "u.yaml");
  assert.ok("syntax" in doc);
  assert.match(doc.syntax[0].where, /^u\.yaml:\d+$/);
});
