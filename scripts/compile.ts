/**
 * `deno task compile`: one self-contained vmanctl binary per target with
 * `deno compile`, into dist/. Deno builds for x86_64 and aarch64 Linux hosts only
 * (no armv7, no riscv64 host build), so the binary targets aarch64 management
 * partitions (and x86_64 for development).
 *
 * `deno compile` needs the `denort` runtime of each target. Where it cannot be
 * downloaded, give one with DENORT_BIN=/path/to/denort (it is used for the
 * target named by --target, default the host's).
 *
 * Usage: deno task compile [--target x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu]...
 */
import { V8_FLAGS, VMANCTL_PERMISSIONS } from "./permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];
const HOST = Deno.build.target;

const requested = Deno.args.flatMap((arg, i) => Deno.args[i - 1] === "--target" ? [arg] : []);
const denort = Deno.env.get("DENORT_BIN");
const targets = requested.length > 0 ? requested : denort ? [HOST] : TARGETS;
for (const target of targets) {
  if (!TARGETS.includes(target)) {
    console.error(`compile: no Deno runtime for ${target}; targets: ${TARGETS.join(", ")}`);
    Deno.exit(2);
  }
}
if (denort && targets.length > 1) {
  console.error("compile: DENORT_BIN is one runtime; name its target with --target");
  Deno.exit(2);
}

let failed = false;
for (const target of targets) {
  const output = `${ROOT}/dist/vmanctl-${target}`;
  // The monitor helper for the target, embedded (core/monitor/helper.ts finds it).
  const helper = `${ROOT}/core/monitor/helper/build/${
    target.replace("-unknown-linux-gnu", "-linux-gnu")
  }/libvmanager_monitor.so`;
  try {
    Deno.statSync(helper);
  } catch {
    console.error(`compile: no monitor helper for ${target} at ${helper}: run deno task helper`);
    failed = true;
    continue;
  }
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--quiet",
      "--target",
      target,
      ...VMANCTL_PERMISSIONS, // baked into the binary
      `--v8-flags=${V8_FLAGS}`, // as `deno run` has them (permissions.ts)
      "--include",
      helper,
      "--output",
      output,
      `${ROOT}/main.ts`,
    ],
    stdout: "inherit",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.code === 0) {
    console.log(`compile: ${output}`);
    continue;
  }
  failed = true;
  // Deno's error: its first line and the innermost cause ("dns error", "404"…).
  const lines = stderr.split("\n").map((l) => l.trim());
  const causes = lines.slice(lines.indexOf("Caused by:") + 1, lines.indexOf("Stack backtrace:"))
    .filter((l) => /^\d+: /.test(l)).map((l) => l.replace(/^\d+: /, ""));
  const said = [
    lines.find((l) => l !== ""),
    causes.find((c) => /request|download|url/i.test(c)) ?? causes.at(-1),
  ]
    .filter(Boolean).join(": ");
  if (denort === undefined) {
    console.error(
      `compile: no vmanctl for ${target}: deno compile needs the Deno runtime (denort) for it, ` +
        `which it downloads; where that fails, give it with DENORT_BIN=/path/to/denort --target ${target} ` +
        `(deno compile said: ${said})`,
    );
  } else {
    console.error(`compile: deno compile for ${target} with DENORT_BIN=${denort} failed: ${said}`);
  }
}
Deno.exit(failed ? 1 : 0);
