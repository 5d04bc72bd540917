/**
 * Soak of `vmanctl daemon`: 50 concurrent virsh clients, each running `dominfo`,
 * `list --all` and `domstate` in a loop for 30 s; then 50 python3-libvirt
 * connections calling as fast as they can for 30 s (hundreds of thousands of
 * calls). Prints the calls made, every error, and the daemon's resident memory
 * over time (it must level off, not climb).
 *
 * Usage: deno task bench --only libvirt_soak [--clients N] [--seconds S]
 */
import { rssKiB, startVmanager } from "./libvirt_peers.ts";
import { countFlag } from "./measure.ts";

const CLIENTS = countFlag("--clients", 50);
const SECONDS = countFlag("--seconds", 30);

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

  const script = `
import sys, threading, time, libvirt
uri, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
calls, errors = [0] * clients, []
def work(i):
    try:
        conn = libvirt.open(uri)
        end = time.time() + seconds
        while time.time() < end:
            dom = conn.lookupByName("b0")
            dom.info(); dom.XMLDesc(); conn.listAllDomains()
            calls[i] += 4
        conn.close()
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(sum(calls), len(errors), errors[:3])
`;
  const pyRss: number[] = [await rssKiB(daemon.pid!)];
  const pySampler = setInterval(async () => pyRss.push(await rssKiB(daemon.pid!)), 5000);
  const out = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", script, daemon.uri, String(CLIENTS), String(SECONDS)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  clearInterval(pySampler);
  pyRss.push(await rssKiB(daemon.pid!));
  const [calls, pyErrors, ...firstErrors] = new TextDecoder().decode(out.stdout).trim().split(" ");
  console.log(`\n${CLIENTS} python3-libvirt connections for ${SECONDS} s`);
  console.log(`  calls: ${calls} (${(Number(calls) / SECONDS).toFixed(0)}/s), errors: ${pyErrors}`);
  if (Number(pyErrors) > 0 || !out.success) {
    console.log(`    ${firstErrors.join(" ")}${new TextDecoder().decode(out.stderr)}`);
  }
  console.log(`  daemon RSS every 5 s (KiB): ${pyRss.join(" → ")}`);
} finally {
  await daemon.stop();
}
