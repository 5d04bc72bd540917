/**
 * Partition specs from a YAML file (`-f SPEC.yaml`) and from command-line values,
 * merged (command line wins) and checked. Every error names the field and, for
 * files, the line.
 *
 * A spec file:
 * ```yaml
 * name: rt1            # optional when the command line names the partition
 * cpus: 2              # or cpu-ids: [2, 3]
 * memory: 512M
 * memory-base: 0x60000000   # optional
 * devices: [uart0, rtc0]    # optional: the board's default devices
 * kernel: /boot/Image
 * initrd: /boot/initrd.img
 * cmdline: console=ttyAMA0
 * ```
 * @module
 */
import { InputError } from "../errors.ts";
import { parseCpuList } from "../cpu_list.ts";
import {
  MAX_INITRD_BYTES,
  MAX_KERNEL_BYTES,
  MAX_SPEC_BYTES,
  readRegularTextFile,
  statRegularFile,
} from "../files.ts";
import type { EndPolicy, PartitionSpec } from "../model.ts";
import { parseAddress, parseSize } from "../units.ts";
import { validateCmdline } from "./cmdline.ts";
import { validateName } from "./name.ts";

/** Spec values as text, as the command line gives them. */
export interface SpecText {
  /** Core count. */
  cpus?: string;
  /** Comma-separated core ids, ranges allowed: `1,2`, `2-3`. */
  cpuIds?: string;
  /** Size. */
  memory?: string;
  /** Address. */
  memoryBase?: string;
  /** Device names. */
  devices?: string[];
  /** Kernel path. */
  kernel?: string;
  /** Initrd path. */
  initrd?: string;
  /** Kernel command line. */
  cmdline?: string;
  /** End policies: `destroy`, `restart` or `preserve`. */
  onPoweroff?: string;
  /** When its OS reboots. */
  onReboot?: string;
  /** When it crashes. */
  onCrash?: string;
}

const FILE_KEYS: Record<string, keyof SpecText | "name"> = {
  name: "name",
  cpus: "cpus",
  "cpu-ids": "cpuIds",
  memory: "memory",
  "memory-base": "memoryBase",
  devices: "devices",
  kernel: "kernel",
  initrd: "initrd",
  cmdline: "cmdline",
  "on-poweroff": "onPoweroff",
  "on-reboot": "onReboot",
  "on-crash": "onCrash",
};

function parseCount(text: string, where: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InputError(`'${text}' is not a whole number`, where);
  return Number(text);
}

/**
 * Reads a spec file's YAML text into a name and spec values. The file must be a
 * regular file of at most {@linkcode MAX_SPEC_BYTES}.
 */
export async function readSpecFile(path: string): Promise<{ name?: string; values: SpecText }> {
  const text = await readRegularTextFile(path, MAX_SPEC_BYTES, "the spec file");
  const { parseLocatedYaml } = await import("../yaml_doc.ts");
  const doc = parseLocatedYaml(text, path);
  if ("syntax" in doc) throw new InputError(`YAML: ${doc.syntax[0].message}`, doc.syntax[0].where);
  if (typeof doc.value !== "object" || doc.value === null || Array.isArray(doc.value)) {
    throw new InputError("a spec file must be a map of fields", `${path}:1`);
  }
  const values: SpecText = {};
  let name: string | undefined;
  for (const [key, raw] of Object.entries(doc.value as Record<string, unknown>)) {
    const field = FILE_KEYS[key];
    const where = doc.where([key], key);
    if (!field) {
      throw new InputError(
        `unknown field '${key}' (fields: ${Object.keys(FILE_KEYS).join(", ")})`,
        where,
      );
    }
    if (field === "devices") {
      if (!Array.isArray(raw) || raw.some((d) => typeof d !== "string")) {
        throw new InputError("devices must be a list of device names", where);
      }
      values.devices = raw as string[];
    } else if (field === "cpuIds") {
      values.cpuIds = Array.isArray(raw) ? raw.join(",") : String(raw);
    } else if (typeof raw === "string" || typeof raw === "number") {
      if (field === "name") name = String(raw);
      else values[field] = String(raw);
    } else {
      throw new InputError(`field '${key}' must be a string or a number`, where);
    }
    // Values from a file are checked where they stand, so errors point at the line.
    try {
      if (field === "name") validateName(name!);
      else specFromText("x", { [field]: values[field] } as SpecText);
    } catch (error) {
      if (error instanceof InputError) throw new InputError(error.message, where);
      throw error;
    }
  }
  return { name, values };
}

const POLICIES: readonly EndPolicy[] = ["destroy", "restart", "preserve"];

/** An end policy by name. */
function policy(text: string, where: string): EndPolicy {
  if (!(POLICIES as readonly string[]).includes(text)) {
    throw new InputError(`'${text}' is not a policy (${POLICIES.join(", ")})`, where);
  }
  return text as EndPolicy;
}

/** Turns text values into a spec; numbers are parsed and checked here. */
export function specFromText(name: string, values: SpecText): PartitionSpec {
  const spec: PartitionSpec = { name };
  if (values.cpus !== undefined) spec.cpus = parseCount(values.cpus, "--cpus");
  if (values.cpuIds !== undefined) spec.cpuIds = parseCpuList(values.cpuIds, "--cpu-ids");
  if (values.memory !== undefined) spec.memory = parseSize(values.memory, "--memory");
  if (values.memoryBase !== undefined) {
    spec.memoryBase = parseAddress(values.memoryBase, "--memory-base");
  }
  if (values.devices !== undefined) spec.devices = values.devices;
  if (values.kernel !== undefined) spec.kernel = values.kernel;
  if (values.initrd !== undefined) spec.initrd = values.initrd;
  if (values.cmdline !== undefined) {
    validateCmdline(values.cmdline, "--cmdline");
    spec.cmdline = values.cmdline;
  }
  if (values.onPoweroff !== undefined) spec.onPoweroff = policy(values.onPoweroff, "--on-poweroff");
  if (values.onReboot !== undefined) spec.onReboot = policy(values.onReboot, "--on-reboot");
  if (values.onCrash !== undefined) spec.onCrash = policy(values.onCrash, "--on-crash");
  return spec;
}

/**
 * Makes image paths absolute and checks that they are regular files within their
 * limits ({@linkcode MAX_KERNEL_BYTES}, {@linkcode MAX_INITRD_BYTES}); their contents
 * are read by `start`, `plan` and `dtb`.
 */
export async function resolveImages(spec: PartitionSpec): Promise<PartitionSpec> {
  if (spec.initrd !== undefined && spec.kernel === undefined) {
    throw new InputError("an initrd needs a kernel: give --kernel too", "--initrd");
  }
  const out = { ...spec };
  for (const field of ["kernel", "initrd"] as const) {
    const path = spec[field];
    if (path === undefined) continue;
    const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
    await statRegularFile(
      absolute,
      field === "kernel" ? MAX_KERNEL_BYTES : MAX_INITRD_BYTES,
      `the ${field}`,
    );
    out[field] = absolute;
  }
  return out;
}
