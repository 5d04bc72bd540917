/**
 * Benchmarks, `deno task bench`. Each section is a module under `scripts/bench/`
 * that prints its numbers and its ratio against a peer measured in the same run.
 *
 * Usage: deno task bench [--runs N] [--only NAME[,NAME…]]
 *
 * Sections:
 * - `boot`: `vmanctl start` to the guest's userspace marker on the qemu backend
 *   against a plain `qemu-system-* -kernel` boot of the same images.
 * - `helper`: loading a 256 MiB image into the sim's memory.img through the
 *   monitor helper against `dd`/`cp`; FFI call overhead.
 * - `startup`: each command's whole-process start-up against a `deno run` of an
 *   empty module (and `list --json` against `virsh -c test:///default`); the
 *   modules each command loads and what they cost.
 * - `cli_dtb`: device-tree generation against `dtc`.
 * - `libvirt`: `virsh dominfo` and python3-libvirt round trips against `vmanctl daemon`
 *   and libvirtd's test driver.
 * - `libvirt_soak`: 50 concurrent virsh clients for 30 s; errors and daemon memory.
 * - `start`: `vmanctl start` of the 32 MiB arm64 Image and its initrd (sim and qemu
 *   backends), exec to "boot core started", and its peak RSS, against an empty
 *   module and `cp` of the same images; the `-v` stage times.
 * - `daemon_memory`: `vmanctl daemon`'s idle RSS against libvirtd's, and its growth
 *   over 10,000 define/start/destroy/undefine cycles (python3-libvirt, dry-run).
 */
const SECTIONS: string[] = [
  "boot",
  "startup",
  "cli_dtb",
  "libvirt",
  "libvirt_soak",
  "helper",
  "start",
  "daemon_memory",
];

const onlyFlag = Deno.args.indexOf("--only");
const only = onlyFlag >= 0 ? Deno.args[onlyFlag + 1].split(",") : SECTIONS;
for (const name of only) {
  if (!SECTIONS.includes(name)) {
    console.error(`bench: no section ${name} (sections: ${SECTIONS.join(", ")})`);
    Deno.exit(2);
  }
}
for (const name of SECTIONS.filter((s) => only.includes(s))) {
  console.log(`\n## ${name}\n`);
  await import(`./bench/${name}.ts`);
}
