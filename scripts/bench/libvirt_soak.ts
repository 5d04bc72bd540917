/**
 * Soak of `vmanctl daemon`: 50 concurrent virsh clients, each running `dominfo`,
 * `list --all` and `domstate` in a loop for 30 s. Prints the calls made, every
 * error, and the daemon's resident memory over time (it must stay flat).
 *
 * Usage: deno task bench --only libvirt_soak [--clients N] [--seconds S]
 */
import { rssKiB, startVmanager } from "./libvirt_peers.ts";

const flag = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const CLIENTS = flag("--clients", 50);
const SECONDS = flag("--seconds", 30);

const daemon = await startVmanager();
try {
  const commands = [["dominfo", "b0"], ["list", "--all"], ["domstate", "b1"]];
  let runs = 0;
  const errors: string[] = [];
  const rss: number[] = [await rssKiB(daemon.pid!)];
  const end = Date.now() + SECONDS * 1000;
  const sampler = setInterval(async () => rss.push(await rssKiB(daemon.pid!)), 5000);
  const client = async (n: number) => {
    for (let i = n; Date.now() < end; i++) {
      const args = commands[i % commands.length];
      const out = await new Deno.Command("virsh", {
        args: ["-c", daemon.uri, ...args],
        stdout: "null",
        stderr: "piped",
      }).output();
      runs++;
      if (!out.success) {
        errors.push(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  clearInterval(sampler);
  rss.push(await rssKiB(daemon.pid!));
  console.log(`${CLIENTS} concurrent virsh clients for ${SECONDS} s against vmanctl daemon`);
  console.log(`  virsh runs: ${runs} (${(runs / SECONDS).toFixed(0)}/s), errors: ${errors.length}`);
  for (const e of errors.slice(0, 5)) console.log(`    ${e}`);
  console.log(`  daemon RSS every 5 s (KiB): ${rss.join(" → ")}`);
  console.log(`  growth from the first 5 s to the end: ${rss.at(-1)! - rss[1]} KiB`);
} finally {
  await daemon.stop();
}
