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
 * net: ["user,forward=tcp:8080:80"]   # as --net: user[,forward=tcp:HOST:GUEST]…, network=NAME
 * disks: ["/srv/rt1.img,ro"]          # as --disk: FILE[,ro]; either may add ,device=virtioN
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
import type { DiskBacking, EndPolicy, NetBacking, PartitionSpec } from "../model.ts";
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
  /** Network backings, as `--net` gives them. */
  net?: string[];
  /** Disk backings, as `--disk` gives them. */
  disks?: string[];
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
  net: "net",
  disks: "disks",
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
    if (field === "devices" || field === "net" || field === "disks") {
      if (!Array.isArray(raw) || raw.some((d) => typeof d !== "string")) {
        throw new InputError(
          field === "devices"
            ? "devices must be a list of device names"
            : `${field} must be a list of strings, as --${field === "net" ? "net" : "disk"} takes`,
          where,
        );
      }
      values[field] = raw as string[];
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
  if (values.net !== undefined) spec.net = values.net.map(parseNet);
  if (values.disks !== undefined) spec.disks = values.disks.map(parseDisk);
  return spec;
}

/** Most backings of each kind one partition may have. */
const MAX_BACKINGS = 16;

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new InputError(`'${text}' is not a TCP port (1-65535) in ${what}`, "--net");
  }
  return Number(text);
}

/**
 * Parses one `--net` value: `user[,forward=tcp:HOSTPORT:GUESTPORT]…` or
 * `network=NAME`, either with `,device=SLOT`.
 */
export function parseNet(text: string): NetBacking {
  const [head, ...options] = text.split(",");
  let net: NetBacking;
  if (head === "user") net = { mode: "user" };
  else if (head.startsWith("network=")) {
    const network = head.slice("network=".length);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(network)) {
      throw new InputError(
        `'${network}' is not a network name (letters, digits, '.', '_', '-'; at most 64)`,
        "--net",
      );
    }
    net = { mode: "network", network };
  } else {
    throw new InputError(
      `'${text}' is not a network: give user[,forward=tcp:HOSTPORT:GUESTPORT]… or network=NAME`,
      "--net",
    );
  }
  for (const option of options) {
    const forward = /^forward=tcp:([^:]*):([^:]*)$/.exec(option);
    if (forward && net.mode === "user") {
      const host = parsePort(forward[1], `'${option}'`);
      const guest = parsePort(forward[2], `'${option}'`);
      if (net.forward?.some((f) => f.host === host)) {
        throw new InputError(`host port ${host} is forwarded twice`, "--net");
      }
      net.forward = [...(net.forward ?? []), { host, guest }];
    } else if (option.startsWith("device=") && net.device === undefined) {
      net.device = option.slice("device=".length);
    } else {
      throw new InputError(
        `'${option}' is not an option of --net ${head} (${
          net.mode === "user" ? "forward=tcp:HOSTPORT:GUESTPORT, " : ""
        }device=SLOT)`,
        "--net",
      );
    }
  }
  return net;
}

/** Parses one `--disk` value: `FILE[,ro][,device=SLOT]`. */
export function parseDisk(text: string): DiskBacking {
  const [file, ...options] = text.split(",");
  if (file === "") throw new InputError("--disk needs a file: FILE[,ro]", "--disk");
  const disk: DiskBacking = { file };
  for (const option of options) {
    if (option === "ro" && !disk.readonly) disk.readonly = true;
    else if (option.startsWith("device=") && disk.device === undefined) {
      disk.device = option.slice("device=".length);
    } else {
      throw new InputError(
        `'${option}' is not an option of --disk (ro, device=SLOT; a file name has no comma)`,
        "--disk",
      );
    }
  }
  return disk;
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
  if (spec.disks !== undefined) {
    out.disks = [];
    for (const disk of spec.disks) {
      const absolute = disk.file.startsWith("/") ? disk.file : `${Deno.cwd()}/${disk.file}`;
      await statDisk(absolute);
      // The file itself, so that two names of one image are seen as one (allocate.ts).
      out.disks.push({ ...disk, file: await Deno.realPath(absolute) });
    }
  }
  for (const [list, flag] of [[spec.net, "--net"], [spec.disks, "--disk"]] as const) {
    if ((list?.length ?? 0) > MAX_BACKINGS) {
      throw new InputError(`at most ${MAX_BACKINGS} of ${flag}`, flag);
    }
  }
  return out;
}

/** A disk image must be a regular file (not a device, a FIFO or a directory). */
async function statDisk(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`disk image ${path} does not exist`, "--disk");
    }
    throw new InputError(`disk image ${path}: ${(error as Error).message}`, "--disk");
  }
  if (!info.isFile) {
    throw new InputError(
      `disk image ${path} is not a regular file (${
        info.isDirectory ? "a directory" : "a special file"
      })`,
      "--disk",
    );
  }
}
