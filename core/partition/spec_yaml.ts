/**
 * A partition spec written as the spec file `create -f` and `update -f` read
 * (core/partition/spec.ts): what `vmanctl edit` opens in the editor. Reading the
 * text back gives the same spec.
 *
 * @module
 */
import type { Allocation, DiskBacking, NetBacking, PartitionSpec } from "../model.ts";
import { formatRange } from "../ranges.ts";
import { GiB, KiB, MiB } from "../units.ts";

/** A size as `512M`, `1G`, `64K`, or bytes. */
function sizeText(bytes: number): string {
  for (const [unit, factor] of [["G", GiB], ["M", MiB], ["K", KiB]] as const) {
    if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** A `--net` value of a backing. */
function netText(net: NetBacking): string {
  const head = net.mode === "user" ? "user" : `network=${net.network}`;
  const forwards = (net.forward ?? []).map((f) => `forward=tcp:${f.host}:${f.guest}`);
  const device = net.device !== undefined ? [`device=${net.device}`] : [];
  return [head, ...forwards, ...device].join(",");
}

/** A `--disk` value of a backing. */
function diskText(disk: DiskBacking): string {
  const options = [
    ...(disk.readonly ? ["ro"] : []),
    ...(disk.device ? [`device=${disk.device}`] : []),
  ];
  return [disk.file, ...options].join(",");
}

/** A YAML scalar or flow list (JSON's strings are YAML's double-quoted ones). */
const q = (value: string | number | readonly (string | number)[]) => JSON.stringify(value);

/**
 * The spec file of `spec`, headed by comments naming the partition and, when
 * given, what it was allocated.
 */
export function specYaml(spec: PartitionSpec, allocation?: Allocation): string {
  const lines = [
    `# Partition ${spec.name}: save to apply it (as 'vmanctl update ${spec.name} -f FILE');`,
    `# leave it unchanged to change nothing.`,
  ];
  if (allocation) {
    lines.push(
      `# Allocated: cores ${allocation.cores.join(",")}, memory ${formatRange(allocation.memory)}`,
    );
  }
  const field = (key: string, value: Parameters<typeof q>[0] | undefined) => {
    if (value !== undefined) lines.push(`${key}: ${q(value)}`);
  };
  field("name", spec.name);
  field("cpus", spec.cpus);
  field("cpu-ids", spec.cpuIds);
  field("memory", spec.memory === undefined ? undefined : sizeText(spec.memory));
  field(
    "memory-base",
    spec.memoryBase === undefined ? undefined : `0x${spec.memoryBase.toString(16)}`,
  );
  field("devices", spec.devices);
  field("kernel", spec.kernel);
  field("initrd", spec.initrd);
  field("cmdline", spec.cmdline);
  field("on-poweroff", spec.onPoweroff);
  field("on-reboot", spec.onReboot);
  field("on-crash", spec.onCrash);
  field("net", spec.net?.map(netText));
  field("disks", spec.disks?.map(diskText));
  return lines.join("\n") + "\n";
}
