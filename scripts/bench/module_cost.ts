/**
 * `deno run … module_cost.ts LIST.json`: imports the modules LIST names, in its
 * order (dependencies first), and prints how long each import took as JSON,
 * `[[specifier, ms], …]`: each module's own fetching, compiling and evaluation,
 * its dependencies being loaded already. startup.ts runs it on the modules a
 * command loads.
 *
 * @module
 */
const list = JSON.parse(await Deno.readTextFile(Deno.args[0])) as string[];
const costs: [string, number][] = [];
for (const specifier of list) {
  const start = performance.now();
  await import(specifier);
  costs.push([specifier, performance.now() - start]);
}
console.log(JSON.stringify(costs));
