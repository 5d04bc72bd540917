/**
 * What the libvirt benchmarks run: a `vmanctl daemon` with a few domains, and
 * the peer — a real libvirtd with its test driver on a private socket (or, where
 * libvirtd cannot run, virsh's in-process `test:///default`).
 *
 * @module
 */
import { vmanctlArgs } from "./measure.ts";

/** A server the clients are pointed at. */
export interface Served {
  /** The URI. */
  uri: string;
  /** The domain to look at. */
  domain: string;
  /** Its pid (undefined for the in-process peer). */
  pid?: number;
  /** Stops it and removes its files. */
  stop(): Promise<void>;
}

/** Waits until `path` takes connections; kills `child` and throws if it does not within 30 s. */
async function waitFor(path: string, child: Deno.ChildProcess, what: string): Promise<void> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let i = 0; i < 300 && !exited; i++) {
    try {
      const c = await Deno.connect({ transport: "unix", path });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!exited) child.kill("SIGKILL");
  await child.status;
  throw new Error(`${what} did not listen on ${path}`);
}

/** Runs a command; throws with its stderr when it fails. */
export async function must(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * `vmanctl daemon` (with vmanctl's flags, as it runs day to day) on the state dir
 * `<dir>/state`, serving `<dir>/sock`, once it listens; `globals` go before
 * `daemon`. Its stop removes `dir`.
 */
export async function spawnDaemon(dir: string, ...globals: string[]): Promise<Served> {
  const socket = `${dir}/sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: vmanctlArgs(`${dir}/state`, ...globals, "daemon", "--socket", socket),
    env: { VMAN_PLUGIN_PATH: "" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor(socket, child, "vmanctl daemon");
  return {
    uri: `vmanager+unix:///system?socket=${socket}`,
    domain: "b0",
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A `vmanctl daemon` on a new state dir with `domains` partitions b0, b1…, of which b0 runs. */
export async function startVmanager(domains = 3): Promise<Served> {
  const dir = await Deno.makeTempDir({ prefix: "vman-bench-libvirt-" });
  const served = await spawnDaemon(dir, "--board", "qemu-virt-arm64");
  for (let i = 0; i < domains; i++) {
    const file = `${dir}/b${i}.xml`;
    await Deno.writeTextFile(
      file,
      `<domain type='vmanager'><name>b${i}</name><memory unit='MiB'>64</memory>` +
        `<vcpu>1</vcpu><os><type arch='aarch64'>hvm</type></os></domain>`,
    );
    await must("virsh", ["-c", served.uri, "define", file]);
  }
  await must("virsh", ["-c", served.uri, "start", "b0"]);
  return served;
}

/** libvirtd with its test driver (domain `test`), or virsh's in-process test driver. */
export async function startPeer(): Promise<Served & { kind: string }> {
  const dir = await Deno.makeTempDir({ prefix: "vman-bench-libvirtd-" });
  const conf = `${dir}/libvirtd.conf`;
  await Deno.writeTextFile(
    conf,
    `unix_sock_dir = "${dir}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n`,
  );
  try {
    const child = new Deno.Command("libvirtd", {
      args: ["-f", conf, "-p", `${dir}/libvirtd.pid`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(`${dir}/libvirt-sock`, child, "libvirtd");
    return {
      kind: "libvirtd (test driver)",
      uri: `test+unix:///default?socket=${dir}/libvirt-sock`,
      domain: "test",
      pid: child.pid,
      async stop() {
        child.kill("SIGTERM");
        await child.status;
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    console.log(`libvirtd cannot run here (${(error as Error).message.split("\n")[0]}):`);
    console.log("the peer is virsh's in-process test:///default instead\n");
    await Deno.remove(dir, { recursive: true });
    return {
      kind: "test:///default",
      uri: "test:///default",
      domain: "test",
      stop: async () => {},
    };
  }
}

/** The resident set size of a process in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  // ps (procps), as Deno lets only --allow-all read /proc/<pid>; NaN without it.
  try {
    const out = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(pid)] })
      .output();
    return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
  } catch {
    return NaN;
  }
}
