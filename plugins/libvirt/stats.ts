/**
 * Statistics procedures — `virsh domstats`, `vcpuinfo`, `vcpucount`, `vcpupin`,
 * `dominfo`'s CPU time and python's `getAllDomainStats()`, `vcpus()`: what the
 * backend measures of a running partition (its monitor plugin's `stats` hook: CPU
 * time per core) in libvirt's shapes. A partition's vCPU `n` is its `n`-th core
 * (ascending core ids); the physical CPU it runs on, and is pinned to, is that core:
 * host CPUs are the board's cores, by core id, as `virsh capabilities` lists them.
 *
 * Layouts from libvirt's `remote_protocol.x`; the `domstats` field names and types
 * are those of libvirt's qemu driver (`qemuDomainGetStats*`).
 *
 * @module
 */
import type { Board } from "../../core/model.ts";
import type { ObservedRecord } from "../../core/partition/observe.ts";
import type { PartitionStats } from "../../core/registry/plugin.ts";
import { refOf } from "./driver.ts";
import { RpcError } from "./errors.ts";
import type { CallContext } from "./procedures.ts";
import { listed, readDomain, stateOf, writeDomain } from "./procedures.ts";
import { ErrorCode, MAX_DOMAINS } from "./protocol.ts";
import { notRunning } from "./transactions.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";

/** `REMOTE_VCPUINFO_MAX`: most vCPU infos (and cpumaps) in one call. */
export const VCPUINFO_MAX = 16384;
/** `REMOTE_CPUMAPS_MAX`: most bytes of cpumaps in one reply. */
export const CPUMAPS_MAX = 8388608;

/** `virTypedParameterType`: the discriminant of `remote_typed_param_value`. */
export const TypedParamType = {
  INT: 1,
  UINT: 2,
  LLONG: 3,
  ULLONG: 4,
  DOUBLE: 5,
  BOOLEAN: 6,
  STRING: 7,
} as const;

/** A typed parameter (`virTypedParameter`). */
export type TypedParam =
  | { field: string; type: "int" | "uint" | "double"; value: number }
  | { field: string; type: "llong" | "ullong"; value: bigint }
  | { field: string; type: "boolean"; value: boolean }
  | { field: string; type: "string"; value: string };

const TYPE_CODE = {
  int: TypedParamType.INT,
  uint: TypedParamType.UINT,
  llong: TypedParamType.LLONG,
  ullong: TypedParamType.ULLONG,
  double: TypedParamType.DOUBLE,
  boolean: TypedParamType.BOOLEAN,
  string: TypedParamType.STRING,
} as const;

/** Writes `remote_typed_param params<>`: a count, then each field and its discriminated value. */
export function writeTypedParams(w: XdrWriter, params: readonly TypedParam[]): void {
  w.uint(params.length);
  for (const p of params) {
    w.string(p.field).int(TYPE_CODE[p.type]);
    switch (p.type) {
      case "int":
        w.int(p.value);
        break;
      case "uint":
        w.uint(p.value);
        break;
      case "llong":
        w.hyper(p.value);
        break;
      case "ullong":
        w.uhyper(p.value);
        break;
      case "double": {
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setFloat64(0, p.value);
        w.fixedOpaque(bytes);
        break;
      }
      case "boolean":
        w.int(p.value ? 1 : 0);
        break;
      case "string":
        w.string(p.value);
        break;
    }
  }
}

/** Reads `remote_typed_param params<max>` (what {@linkcode writeTypedParams} writes). */
export function readTypedParams(r: XdrReader, max = 4096): TypedParam[] {
  const n = r.uint();
  if (n > max) throw new RpcError(ErrorCode.RPC, `${n} typed parameters exceed ${max}`);
  const params: TypedParam[] = [];
  for (let i = 0; i < n; i++) {
    const field = r.string(80);
    const type = r.int();
    switch (type) {
      case TypedParamType.INT:
        params.push({ field, type: "int", value: r.int() });
        break;
      case TypedParamType.UINT:
        params.push({ field, type: "uint", value: r.uint() });
        break;
      case TypedParamType.LLONG:
        params.push({ field, type: "llong", value: r.hyper() });
        break;
      case TypedParamType.ULLONG:
        params.push({ field, type: "ullong", value: r.uhyper() });
        break;
      case TypedParamType.DOUBLE: {
        const bytes = r.fixedOpaque(8);
        params.push({ field, type: "double", value: new DataView(bytes.buffer).getFloat64(0) });
        break;
      }
      case TypedParamType.BOOLEAN:
        params.push({ field, type: "boolean", value: r.int() !== 0 });
        break;
      case TypedParamType.STRING:
        params.push({ field, type: "string", value: r.string(4 * 1024 * 1024) });
        break;
      default:
        throw new RpcError(ErrorCode.RPC, `unknown typed parameter type ${type} of ${field}`);
    }
  }
  return params;
}

/** `virDomainStatsTypes` groups vmanager reports. */
export const StatsGroup = { STATE: 1, CPU_TOTAL: 2, BALLOON: 4, VCPU: 8 } as const;
/** Every group vmanager reports. */
export const SUPPORTED_GROUPS = 0xf;

/** `VIR_CONNECT_GET_ALL_DOMAINS_STATS_*` flags beyond the list filters (bits 0–7). */
export const StatsFlag = {
  FILTERS: 0xff,
  NOWAIT: 1 << 29,
  BACKING: 1 << 30,
  ENFORCE_STATS: 2 ** 31,
} as const;

/** `VIR_VCPU_RUNNING`. */
const VCPU_RUNNING = 1;

/** The measured CPU time of each of `record`'s cores, ns (undefined: not measured). */
function coreTimes(
  record: ObservedRecord,
  stats: PartitionStats | undefined,
): (number | undefined)[] {
  return record.allocation.cores.map((core) => stats?.cpuTimeNs[core]);
}

/** The CPU time of all of `record`'s measured cores, ns (0 when none is). */
export function totalCpuNs(record: ObservedRecord, stats: PartitionStats | undefined): bigint {
  return coreTimes(record, stats).reduce<bigint>(
    (sum, ns) => sum + BigInt(Math.round(ns ?? 0)),
    0n,
  );
}

/**
 * One domain's `virDomainStatsRecord` parameters for `groups`, named and typed as
 * libvirt's qemu driver does: `state.state`, `state.reason`; `cpu.time` (ns, while
 * running and measured); `balloon.current`, `balloon.maximum` (the window, KiB);
 * `vcpu.current`, `vcpu.maximum` and, while running, `vcpu.<n>.state` and
 * `vcpu.<n>.time` (ns, when measured).
 */
export function domainStatsParams(
  record: ObservedRecord,
  stats: PartitionStats | undefined,
  groups: number,
): TypedParam[] {
  const params: TypedParam[] = [];
  const running = record.state === "running";
  const times = coreTimes(record, stats);
  if (groups & StatsGroup.STATE) {
    const [state, reason] = stateOf(record);
    params.push(
      { field: "state.state", type: "int", value: state },
      { field: "state.reason", type: "int", value: reason },
    );
  }
  if ((groups & StatsGroup.CPU_TOTAL) && running && times.some((t) => t !== undefined)) {
    params.push({ field: "cpu.time", type: "ullong", value: totalCpuNs(record, stats) });
  }
  if (groups & StatsGroup.BALLOON) {
    const kib = BigInt(Math.floor(record.allocation.memory.size / 1024));
    params.push(
      { field: "balloon.current", type: "ullong", value: kib },
      { field: "balloon.maximum", type: "ullong", value: kib },
    );
  }
  if (groups & StatsGroup.VCPU) {
    const n = record.allocation.cores.length;
    params.push(
      { field: "vcpu.current", type: "uint", value: n },
      { field: "vcpu.maximum", type: "uint", value: n },
    );
    if (running) {
      times.forEach((ns, i) => {
        params.push({ field: `vcpu.${i}.state`, type: "int", value: VCPU_RUNNING });
        if (ns !== undefined) {
          params.push({ field: `vcpu.${i}.time`, type: "ullong", value: BigInt(Math.round(ns)) });
        }
      });
    }
  }
  return params;
}

/** The bytes of a cpumap of `maplen` bytes with the bit of physical CPU `cpu` set. */
function cpumap(maplen: number, cpu: number): Uint8Array {
  const map = new Uint8Array(maplen);
  if (cpu >= 0 && cpu < maplen * 8) map[cpu >> 3] |= 1 << (cpu & 7);
  return map;
}

/** One cpumap of `maplen` bytes per core of `cores`, each with that core's bit, back to back. */
function cpumaps(cores: readonly number[], maplen: number): Uint8Array {
  const maps = new Uint8Array(cores.length * maplen);
  cores.forEach((core, i) => maps.set(cpumap(maplen, core), i * maplen));
  return maps;
}

/**
 * The limits of a call asking for `count` cpumaps (`name`, its argument) of `maplen`
 * bytes, as libvirt's remote driver checks them (INTERNAL_ERROR).
 */
function cpumapLimits(count: number, maplen: number, name: string): void {
  if (count > VCPUINFO_MAX) {
    throw new RpcError(ErrorCode.INTERNAL_ERROR, `internal error: ${name} > REMOTE_VCPUINFO_MAX`);
  }
  if (maplen < 0 || count * maplen > CPUMAPS_MAX) {
    throw new RpcError(
      ErrorCode.INTERNAL_ERROR,
      "internal error: maxinfo * maplen > REMOTE_CPUMAPS_MAX",
    );
  }
}

/** libvirt's INVALID_ARG refusal saying `message`. */
export function invalidArgument(message: string): RpcError {
  return new RpcError(ErrorCode.INVALID_ARG, `invalid argument: ${message}`);
}

/** Refuses flags outside `known` as libvirt's `virCheckFlags` does (INVALID_ARG, naming `fn`). */
export function unsupportedFlags(flags: number, known: number, fn: string): void {
  const unknown = (flags & ~known) >>> 0;
  if (unknown) {
    throw invalidArgument(`unsupported flags (0x${unknown.toString(16)}) in function ${fn}`);
  }
}

/** `virDomainModificationImpact`: the live definition. */
export const AFFECT_LIVE = 1;
/** `virDomainModificationImpact`: the persistent definition. */
export const AFFECT_CONFIG = 2;

/** The checks of `VIR_DOMAIN_AFFECT_*` flags, as libvirt's `virDomainObjGetDefs`. */
function affect(record: ObservedRecord, flags: number): void {
  if ((flags & AFFECT_LIVE) && (flags & AFFECT_CONFIG)) {
    throw invalidArgument(
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
    );
  }
  if ((flags & AFFECT_LIVE) && record.state !== "running") throw notRunning();
}

function positive(value: number, name: string, fn: string): void {
  if (value <= 0) {
    throw invalidArgument(`${name} in ${fn} must be greater than zero`);
  }
}

/**
 * DOMAIN_GET_VCPUS (20) — `remote_domain_get_vcpus_args { dom; int maxinfo; int
 * maplen }` → `{ remote_vcpu_info info<>; opaque cpumaps<> }`: per vCPU its number,
 * state (running), CPU time (ns, 0 when not measured) and the physical CPU (its
 * core id); each cpumap has that core's bit. Running partitions only (as libvirt).
 */
export async function getVcpus(ctx: CallContext, r: XdrReader, w: XdrWriter): Promise<void> {
  const dom = readDomain(r);
  const maxinfo = r.int();
  const maplen = r.int();
  cpumapLimits(maxinfo, maplen, "maxinfo");
  positive(maxinfo, "maxinfo", "virDomainGetVcpus");
  const record = await ctx.driver.resolve(dom);
  if (record.state !== "running") {
    throw notRunning("cannot retrieve vcpu information for inactive domain");
  }
  const times = coreTimes(record, await ctx.driver.stats(record));
  const cores = record.allocation.cores.slice(0, maxinfo);
  w.uint(cores.length);
  cores.forEach((core, i) => {
    w.uint(i).int(VCPU_RUNNING).uhyper(BigInt(Math.round(times[i] ?? 0))).int(core);
  });
  w.opaque(cpumaps(cores, maplen));
}

// virDomainVcpuFlags.
const VCPU_MAXIMUM = 4;
const VCPU_GUEST = 8;
const VCPU_HOTPLUGGABLE = 16;

/**
 * DOMAIN_GET_VCPUS_FLAGS (200) — `{ dom; unsigned flags }` → `int num`: the number
 * of vCPUs, current or maximum alike (a partition's cores are fixed). `GUEST` (ask
 * the guest agent) is not supported: partitions have no agent.
 */
export async function getVcpusFlags(ctx: CallContext, r: XdrReader, w: XdrWriter): Promise<void> {
  const dom = readDomain(r);
  const flags = r.uint();
  unsupportedFlags(
    flags,
    AFFECT_LIVE | AFFECT_CONFIG | VCPU_MAXIMUM | VCPU_GUEST | VCPU_HOTPLUGGABLE,
    "virDomainGetVcpusFlags",
  );
  const record = await ctx.driver.resolve(dom);
  affect(record, flags);
  if (flags & VCPU_GUEST) {
    throw new RpcError(
      ErrorCode.ARGUMENT_UNSUPPORTED,
      "argument unsupported: a partition has no guest agent to ask for its vCPUs",
    );
  }
  w.int(record.allocation.cores.length);
}

/**
 * DOMAIN_GET_VCPU_PIN_INFO (230) — `{ dom; int ncpumaps; int maplen; unsigned
 * flags }` → `{ opaque cpumaps<>; int num }`: each vCPU is pinned to its core (the
 * only physical CPU it can run on), running or not; `virsh vcpuinfo` of a shut-off
 * domain and `virsh vcpupin` read it.
 */
export async function getVcpuPinInfo(ctx: CallContext, r: XdrReader, w: XdrWriter): Promise<void> {
  const dom = readDomain(r);
  const ncpumaps = r.int();
  const maplen = r.int();
  const flags = r.uint();
  cpumapLimits(ncpumaps, maplen, "ncpumaps");
  positive(ncpumaps, "ncpumaps", "virDomainGetVcpuPinInfo");
  positive(maplen, "maplen", "virDomainGetVcpuPinInfo");
  unsupportedFlags(flags, AFFECT_LIVE | AFFECT_CONFIG, "virDomainGetVcpuPinInfo");
  const record = await ctx.driver.resolve(dom);
  affect(record, flags);
  const cores = record.allocation.cores.slice(0, ncpumaps);
  w.opaque(cpumaps(cores, maplen)).int(cores.length);
}

/** The host CPUs as libvirt counts them: the board's core ids, so one past the highest. */
export function hostCpuCount(board: Board): number {
  return Math.max(...board.cores.map((c) => c.id)) + 1;
}

/**
 * NODE_GET_CPU_MAP (293) — `{ int need_map; int need_online; unsigned flags }` →
 * `{ opaque cpumap<>; unsigned online; int ret }`: the host CPUs are the board's
 * cores (bits by core id), all online; `ret` is the number of CPUs the map covers.
 */
export async function nodeGetCpuMap(ctx: CallContext, r: XdrReader, w: XdrWriter): Promise<void> {
  const needMap = r.int() !== 0;
  const needOnline = r.int() !== 0;
  unsupportedFlags(r.uint(), 0, "virNodeGetCPUMap");
  const board = await ctx.driver.board();
  const count = hostCpuCount(board);
  const map = new Uint8Array(Math.ceil(count / 8));
  for (const core of board.cores) map[core.id >> 3] |= 1 << (core.id & 7);
  w.opaque(needMap ? map : new Uint8Array(0)).uint(needOnline ? board.cores.length : 0).int(
    count,
  );
}

/**
 * CONNECT_GET_ALL_DOMAIN_STATS (344) — `{ remote_nonnull_domain doms<>; unsigned
 * stats; unsigned flags }` → `{ remote_domain_stats_record retStats<> }`, each
 * `{ dom; remote_typed_param params<> }`. No domains: every domain passing the list
 * filters in `flags` (`virConnectGetAllDomainStats`); else those named that still
 * exist (`virDomainListGetStats`). `stats` 0 asks for every group vmanager reports
 * (state, cpu-total, balloon, vcpu); others are left out, or refused with
 * `ENFORCE_STATS`.
 */
export async function getAllDomainStats(
  ctx: CallContext,
  r: XdrReader,
  w: XdrWriter,
): Promise<void> {
  const count = r.uint();
  if (count > MAX_DOMAINS) {
    throw new RpcError(ErrorCode.RPC, `${count} domains exceed the limit of ${MAX_DOMAINS}`);
  }
  const doms = Array.from({ length: count }, () => readDomain(r));
  const stats = r.uint();
  const flags = r.uint();
  unsupportedFlags(
    flags,
    StatsFlag.FILTERS | StatsFlag.NOWAIT | StatsFlag.BACKING | StatsFlag.ENFORCE_STATS,
    "virConnectGetAllDomainStats",
  );
  const unsupported = (stats & ~SUPPORTED_GROUPS) >>> 0;
  if ((flags & StatsFlag.ENFORCE_STATS) && unsupported) {
    throw new RpcError(
      ErrorCode.ARGUMENT_UNSUPPORTED,
      `argument unsupported: Stats types bits 0x${
        unsupported.toString(16)
      } are not supported by this daemon`,
    );
  }
  const groups = stats === 0 ? SUPPORTED_GROUPS : stats & SUPPORTED_GROUPS;
  const all = await ctx.driver.records();
  const chosen = doms.length === 0
    ? all
    : doms.flatMap((dom) => all.filter((rec) => refOf(rec).uuid === dom.uuid));
  const records = chosen.filter((rec) => listed(rec, flags & StatsFlag.FILTERS));
  const measure = (groups & (StatsGroup.CPU_TOTAL | StatsGroup.VCPU)) !== 0;
  const measured = await Promise.all(
    records.map((rec) => measure ? ctx.driver.stats(rec) : Promise.resolve(undefined)),
  );
  w.uint(records.length);
  records.forEach((rec, i) => {
    writeDomain(w, refOf(rec));
    writeTypedParams(w, domainStatsParams(rec, measured[i], groups));
  });
}
