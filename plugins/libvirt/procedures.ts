/**
 * The procedure table: for each remote procedure vmanager answers, how its
 * arguments are read, what it does and how its reply is written (layouts of
 * libvirt's `remote_protocol.x`). A procedure that is not here gets NO_SUPPORT.
 *
 * @module
 */
import type { PartitionRecord } from "../../core/model.ts";
import type { ConsoleSession } from "../../core/monitor/console.ts";
import { capabilitiesXml, nodeInfo } from "./capabilities.ts";
import { domainXml } from "./domain_xml.ts";
import { inactive, isUpdated, XML_INACTIVE } from "./definitions.ts";
import type { DomainRef, Driver } from "./driver.ts";
import { refOf } from "./driver.ts";
import { ErrorCode, Feature, MAX_DOMAINS, MAX_STRING, Proc } from "./protocol.ts";
import { stateOf } from "./states.ts";
import type { XdrReader, XdrWriter } from "./xdr.ts";
import { RpcError } from "./errors.ts";
import { openConsole } from "./console.ts";
import {
  getAllDomainStats,
  getVcpuPinInfo,
  getVcpus,
  getVcpusFlags,
  nodeGetCpuMap,
  totalCpuNs,
  unsupportedFlags,
} from "./stats.ts";
import { getDomainCapabilities } from "./domain_capabilities.ts";
import { interfaceAddresses } from "./interfaces.ts";
import { getMetadata, setMetadata } from "./metadata.ts";
import { nodeGetCellsFreeMemory, nodeGetFreeMemory, nodeGetMemoryStats } from "./node_memory.ts";
import { STORAGE_PROCEDURES } from "./storage.ts";

export { RpcError };

/** One registered event callback of a connection. */
export interface EventCallback {
  /** The event id (0: lifecycle). */
  eventID: number;
  /** Only this domain's events, when given. */
  uuid?: string;
}

/** What a connection knows about itself. */
export interface Session {
  /** CONNECT_OPEN has been answered. */
  open: boolean;
  /** Mutations are refused. */
  readOnly: boolean;
  /** Event callbacks by id. */
  callbacks: Map<number, EventCallback>;
}

/** What a procedure runs with. */
export interface CallContext {
  /** The domains. */
  driver: Driver;
  /** The calling connection. */
  session: Session;
  /** The host's UUID, for capabilities. */
  hostUuid: string;
  /** vmanager's version (the hypervisor version clients see). */
  version: string;
  /** A new event callback id, unique in the daemon. */
  nextCallbackId(): number;
  /** Who calls, for the refusal another console session gets (set by the connection). */
  client?: string;
  /**
   * Carries `session` as the stream of this call, from when its reply is sent until
   * the client finishes it, it ends or the connection closes (set by the connection).
   */
  stream?(session: ConsoleSession): void;
}

/** A procedure. */
export interface Procedure {
  /** libvirt's name, for messages. */
  name: string;
  /** Changes something: refused on read-only connections. */
  mutates?: boolean;
  /** May be called before CONNECT_OPEN. */
  beforeOpen?: boolean;
  /** Reads the arguments, does the work and writes the reply payload. */
  run(ctx: CallContext, args: XdrReader, ret: XdrWriter): Promise<void> | void;
}

/** The libvirt version vmanager's protocol matches (the API level clients may use). */
export const LIBVIRT_COMPAT_VERSION = 9_000_000;

/** `major·1e6 + minor·1e3 + micro` of a version string. */
export function versionNumber(version: string): number {
  const [major = 0, minor = 0, micro = 0] = version.split(".").map((p) =>
    Number.parseInt(p, 10) || 0
  );
  return major * 1_000_000 + minor * 1_000 + micro;
}

/** The 16 bytes of a UUID string. */
export function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** The UUID string of 16 bytes. */
export function uuidString(bytes: Uint8Array): string {
  const h = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads a `remote_nonnull_domain`. */
export function readDomain(r: XdrReader): DomainRef {
  const name = r.string(MAX_STRING);
  const uuid = uuidString(r.fixedOpaque(16));
  const id = r.int();
  return { name, uuid, id };
}

/** Writes a `remote_nonnull_domain`. */
export function writeDomain(w: XdrWriter, dom: DomainRef): void {
  w.string(dom.name).fixedOpaque(uuidBytes(dom.uuid)).int(dom.id);
}

async function domainArg(ctx: CallContext, r: XdrReader): Promise<PartitionRecord> {
  return await ctx.driver.resolve(readDomain(r));
}

export { stateOf };

// VIR_CONNECT_LIST_DOMAINS_* filter bits.
const LIST = {
  ACTIVE: 1 << 0,
  INACTIVE: 1 << 1,
  PERSISTENT: 1 << 2,
  TRANSIENT: 1 << 3,
  RUNNING: 1 << 4,
  PAUSED: 1 << 5,
  SHUTOFF: 1 << 6,
  OTHER: 1 << 7,
  MANAGEDSAVE: 1 << 8,
  NO_MANAGEDSAVE: 1 << 9,
  AUTOSTART: 1 << 10,
  NO_AUTOSTART: 1 << 11,
  HAS_SNAPSHOT: 1 << 12,
  NO_SNAPSHOT: 1 << 13,
  HAS_CHECKPOINT: 1 << 14,
  NO_CHECKPOINT: 1 << 15,
};

function pair(flags: number, yes: number, no: number, value: boolean): boolean {
  if ((flags & (yes | no)) === 0 || (flags & (yes | no)) === (yes | no)) return true;
  return value ? (flags & yes) !== 0 : (flags & no) !== 0;
}

/** Whether a record passes CONNECT_LIST_ALL_DOMAINS's filter flags. */
export function listed(record: PartitionRecord, flags: number): boolean {
  const running = record.state === "running";
  const states = LIST.RUNNING | LIST.PAUSED | LIST.SHUTOFF | LIST.OTHER;
  // A partition kept crashed is in libvirt's "other" states.
  const bit = running ? LIST.RUNNING : record.state === "crashed" ? LIST.OTHER : LIST.SHUTOFF;
  const state = (flags & states) === 0 || (flags & bit) !== 0;
  return state && pair(flags, LIST.ACTIVE, LIST.INACTIVE, running) &&
    pair(flags, LIST.PERSISTENT, LIST.TRANSIENT, record.transient !== true) &&
    pair(flags, LIST.MANAGEDSAVE, LIST.NO_MANAGEDSAVE, false) &&
    pair(flags, LIST.AUTOSTART, LIST.NO_AUTOSTART, record.autostart === true) &&
    pair(flags, LIST.HAS_SNAPSHOT, LIST.NO_SNAPSHOT, false) &&
    pair(flags, LIST.HAS_CHECKPOINT, LIST.NO_CHECKPOINT, false);
}

function boundedCount(n: number, what: string): number {
  if (n < 0 || n > MAX_DOMAINS) {
    throw new RpcError(ErrorCode.RPC, `${what} ${n} is out of range (0–${MAX_DOMAINS})`);
  }
  return n;
}

const define: Procedure["run"] = async (ctx, r, w) => {
  const xml = r.string(MAX_STRING);
  writeDomain(w, refOf(await ctx.driver.define(xml)));
};

/** `remote_domain_create_xml_args { xml_desc; flags }` → `{ dom }`: a transient domain, started. */
const createXml: Procedure["run"] = async (ctx, r, w) => {
  const xml = r.string(MAX_STRING);
  if (r.uint() & 1) {
    throw new RpcError(ErrorCode.NO_SUPPORT, "vmanager cannot start a partition paused");
  }
  writeDomain(w, refOf(await ctx.driver.createTransient(xml)));
};

const destroy: Procedure["run"] = async (ctx, r) => {
  await ctx.driver.stop(await domainArg(ctx, r));
};

// virDomainShutdownFlagValues / virDomainRebootFlagValues.
const POWER_ACPI_BUTTON = 1 << 0;
const POWER_GUEST_AGENT = 1 << 1;

/**
 * The flags of a shutdown or reboot: DEFAULT (0) and ACPI_POWER_BTN (1) press the
 * partition's power button; GUEST_AGENT (2) alone is refused as libvirt's qemu
 * driver refuses it without an agent (ARGUMENT_UNSUPPORTED; with ACPI_POWER_BTN it
 * falls back to the button, as there); any other mode (INITCTL, SIGNAL, PARAVIRT)
 * is refused as the qemu driver's flag check does (INVALID_ARG).
 */
function powerFlags(flags: number, fn: string): void {
  unsupportedFlags(flags, POWER_ACPI_BUTTON | POWER_GUEST_AGENT, fn);
  if ((flags & POWER_GUEST_AGENT) && !(flags & POWER_ACPI_BUTTON)) {
    throw new RpcError(
      ErrorCode.ARGUMENT_UNSUPPORTED,
      "argument unsupported: a partition has no guest agent; its power button asks its OS " +
        "(--mode acpi)",
    );
  }
}

/** A shutdown or reboot: `remote_domain_shutdown_flags_args`/`remote_domain_reboot_args`. */
function powerCall(fn: string, act: (driver: Driver, record: PartitionRecord) => Promise<unknown>) {
  return async (ctx: CallContext, r: XdrReader): Promise<void> => {
    const dom = readDomain(r);
    powerFlags(r.uint(), fn);
    await act(ctx.driver, await ctx.driver.resolve(dom));
  };
}

/**
 * DOMAIN_SUSPEND (34) and DOMAIN_RESUME (28), `{ dom }`: a partition cannot be paused,
 * so they are refused with NO_SUPPORT (3), the code libvirt gives for an API a driver
 * does not have (`virReportUnsupportedError`), saying why.
 */
function cannotPause(fn: string): Procedure["run"] {
  return async (ctx, r) => {
    const record = await domainArg(ctx, r);
    throw new RpcError(
      ErrorCode.NO_SUPPORT,
      `this function is not supported by the connection driver: ${fn}: partition ` +
        `'${record.name}' cannot be paused: its cores run on their own, with no hypervisor ` +
        `to stop them (shut it down or destroy it instead)`,
    );
  };
}

const undefine: Procedure["run"] = async (ctx, r) => {
  await ctx.driver.undefine(await domainArg(ctx, r));
};

/** Every procedure vmanager answers, by number. */
export const PROCEDURES: ReadonlyMap<number, Procedure> = new Map<number, Procedure>([
  [Proc.AUTH_LIST, {
    name: "AUTH_LIST",
    beforeOpen: true,
    run: (_ctx, _r, w) => void w.uint(1).int(0), // [REMOTE_AUTH_NONE]
  }],
  [Proc.CONNECT_SUPPORTS_FEATURE, {
    name: "CONNECT_SUPPORTS_FEATURE",
    beforeOpen: true,
    run: (_ctx, r, w) => {
      const feature = r.int();
      const supported: number[] = [
        Feature.PROGRAM_KEEPALIVE,
        Feature.REMOTE_EVENT_CALLBACK,
        Feature.REMOTE_CLOSE_CALLBACK,
      ];
      w.int(supported.includes(feature) ? 1 : 0);
    },
  }],
  [Proc.CONNECT_OPEN, {
    name: "CONNECT_OPEN",
    beforeOpen: true,
    run: (ctx, r) => {
      r.optional((x) => x.string(MAX_STRING)); // any name: vmanager:///system, qemu:///system…
      const flags = r.uint();
      if (flags & 1) ctx.session.readOnly = true; // VIR_CONNECT_RO
      ctx.session.open = true;
    },
  }],
  [Proc.CONNECT_CLOSE, { name: "CONNECT_CLOSE", beforeOpen: true, run: () => {} }],
  [Proc.CONNECT_REGISTER_CLOSE_CALLBACK, {
    name: "CONNECT_REGISTER_CLOSE_CALLBACK",
    run: () => {},
  }],
  [Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK, {
    name: "CONNECT_UNREGISTER_CLOSE_CALLBACK",
    run: () => {},
  }],
  [Proc.CONNECT_GET_TYPE, {
    name: "CONNECT_GET_TYPE",
    run: (_c, _r, w) => void w.string("VMANAGER"),
  }],
  [Proc.CONNECT_GET_VERSION, {
    name: "CONNECT_GET_VERSION",
    run: (ctx, _r, w) => void w.uhyper(versionNumber(ctx.version)),
  }],
  [Proc.CONNECT_GET_LIB_VERSION, {
    name: "CONNECT_GET_LIB_VERSION",
    run: (_c, _r, w) => void w.uhyper(LIBVIRT_COMPAT_VERSION),
  }],
  [Proc.CONNECT_IS_SECURE, {
    name: "CONNECT_IS_SECURE",
    run: (_c, _r, w) => void w.int(1), // a local UNIX socket
  }],
  [Proc.CONNECT_GET_HOSTNAME, {
    name: "CONNECT_GET_HOSTNAME",
    run: (_c, _r, w) => void w.string(Deno.hostname()),
  }],
  [Proc.CONNECT_GET_MAX_VCPUS, {
    name: "CONNECT_GET_MAX_VCPUS",
    run: async (ctx, r, w) => {
      r.optional((x) => x.string(MAX_STRING));
      w.int((await ctx.driver.board()).cores.length);
    },
  }],
  [Proc.NODE_GET_INFO, {
    name: "NODE_GET_INFO",
    run: async (ctx, _r, w) => {
      const board = await ctx.driver.board();
      const info = nodeInfo(board, await ctx.driver.arch(board));
      w.chars(info.model, 32).uhyper(info.memoryKiB).int(info.cpus).int(info.mhz).int(info.nodes)
        .int(info.sockets).int(info.cores).int(info.threads);
    },
  }],
  [Proc.CONNECT_GET_CAPABILITIES, {
    name: "CONNECT_GET_CAPABILITIES",
    run: async (ctx, _r, w) => {
      const board = await ctx.driver.board();
      w.string(capabilitiesXml(board, ctx.hostUuid, await ctx.driver.arch(board)));
    },
  }],
  [Proc.CONNECT_LIST_ALL_DOMAINS, {
    name: "CONNECT_LIST_ALL_DOMAINS",
    run: async (ctx, r, w) => {
      const needResults = r.int();
      const flags = r.uint();
      const records = (await ctx.driver.records()).filter((rec) => listed(rec, flags));
      if (records.length > MAX_DOMAINS) {
        throw new RpcError(ErrorCode.RPC, `too many domains (${records.length})`);
      }
      if (needResults) {
        w.uint(records.length);
        for (const rec of records) writeDomain(w, refOf(rec));
      } else w.uint(0);
      w.uint(records.length);
    },
  }],
  [Proc.CONNECT_NUM_OF_DOMAINS, {
    name: "CONNECT_NUM_OF_DOMAINS",
    run: async (ctx, _r, w) =>
      void w.int((await ctx.driver.records()).filter((rec) => rec.state === "running").length),
  }],
  [Proc.CONNECT_LIST_DOMAINS, {
    name: "CONNECT_LIST_DOMAINS",
    run: async (ctx, r, w) => {
      const max = boundedCount(r.int(), "maxids");
      const ids = (await ctx.driver.records()).filter((rec) => rec.state === "running")
        .map((rec) => rec.id).slice(0, max);
      w.uint(ids.length);
      for (const id of ids) w.int(id);
    },
  }],
  [Proc.CONNECT_NUM_OF_DEFINED_DOMAINS, {
    name: "CONNECT_NUM_OF_DEFINED_DOMAINS",
    run: async (ctx, _r, w) =>
      void w.int((await ctx.driver.records()).filter((rec) => rec.state !== "running").length),
  }],
  [Proc.CONNECT_LIST_DEFINED_DOMAINS, {
    name: "CONNECT_LIST_DEFINED_DOMAINS",
    run: async (ctx, r, w) => {
      const max = boundedCount(r.int(), "maxnames");
      const names = (await ctx.driver.records()).filter((rec) => rec.state !== "running")
        .map((rec) => rec.name).slice(0, max);
      w.uint(names.length);
      for (const name of names) w.string(name);
    },
  }],
  [Proc.DOMAIN_LOOKUP_BY_NAME, {
    name: "DOMAIN_LOOKUP_BY_NAME",
    run: async (ctx, r, w) => writeDomain(w, refOf(await ctx.driver.byName(r.string(MAX_STRING)))),
  }],
  [Proc.DOMAIN_LOOKUP_BY_UUID, {
    name: "DOMAIN_LOOKUP_BY_UUID",
    run: async (ctx, r, w) =>
      writeDomain(w, refOf(await ctx.driver.byUuid(uuidString(r.fixedOpaque(16))))),
  }],
  [Proc.DOMAIN_LOOKUP_BY_ID, {
    name: "DOMAIN_LOOKUP_BY_ID",
    run: async (ctx, r, w) => writeDomain(w, refOf(await ctx.driver.byId(r.int()))),
  }],
  [Proc.DOMAIN_DEFINE_XML, { name: "DOMAIN_DEFINE_XML", mutates: true, run: define }],
  [Proc.DOMAIN_CREATE_XML, { name: "DOMAIN_CREATE_XML", mutates: true, run: createXml }],
  [Proc.DOMAIN_DEFINE_XML_FLAGS, {
    name: "DOMAIN_DEFINE_XML_FLAGS",
    mutates: true,
    run: async (ctx, r, w) => {
      const xml = r.string(MAX_STRING);
      r.uint(); // flags (VALIDATE: the XML is always checked)
      writeDomain(w, refOf(await ctx.driver.define(xml)));
    },
  }],
  [Proc.DOMAIN_CREATE, {
    name: "DOMAIN_CREATE",
    mutates: true,
    run: async (ctx, r) => void await ctx.driver.start(await domainArg(ctx, r)),
  }],
  [Proc.DOMAIN_CREATE_WITH_FLAGS, {
    name: "DOMAIN_CREATE_WITH_FLAGS",
    mutates: true,
    run: async (ctx, r, w) => {
      const record = await domainArg(ctx, r);
      const flags = r.uint();
      if (flags & 1) {
        throw new RpcError(ErrorCode.NO_SUPPORT, "vmanager cannot start a partition paused");
      }
      writeDomain(w, refOf(await ctx.driver.start(record)));
    },
  }],
  [Proc.DOMAIN_DESTROY, { name: "DOMAIN_DESTROY", mutates: true, run: destroy }],
  [Proc.DOMAIN_DESTROY_FLAGS, { name: "DOMAIN_DESTROY_FLAGS", mutates: true, run: destroy }],
  [Proc.DOMAIN_SHUTDOWN, {
    name: "DOMAIN_SHUTDOWN",
    mutates: true,
    run: async (ctx, r) => void await ctx.driver.shutdown(await domainArg(ctx, r)),
  }],
  [Proc.DOMAIN_SHUTDOWN_FLAGS, {
    name: "DOMAIN_SHUTDOWN_FLAGS",
    mutates: true,
    run: powerCall("virDomainShutdownFlags", (driver, record) => driver.shutdown(record)),
  }],
  [Proc.DOMAIN_REBOOT, {
    name: "DOMAIN_REBOOT",
    mutates: true,
    run: powerCall("virDomainReboot", (driver, record) => driver.reboot(record)),
  }],
  [Proc.DOMAIN_RESET, {
    name: "DOMAIN_RESET",
    mutates: true,
    run: async (ctx, r) => {
      const dom = readDomain(r);
      unsupportedFlags(r.uint(), 0, "virDomainReset");
      await ctx.driver.reset(await ctx.driver.resolve(dom));
    },
  }],
  [Proc.DOMAIN_UNDEFINE, { name: "DOMAIN_UNDEFINE", mutates: true, run: undefine }],
  [Proc.DOMAIN_UNDEFINE_FLAGS, { name: "DOMAIN_UNDEFINE_FLAGS", mutates: true, run: undefine }],
  [Proc.DOMAIN_GET_INFO, {
    name: "DOMAIN_GET_INFO",
    run: async (ctx, r, w) => {
      const record = await domainArg(ctx, r);
      const kib = BigInt(Math.floor(record.allocation.memory.size / 1024));
      // cpuTime: the CPU time of its cores while it runs (0 when the backend does not measure it).
      const cpuTime = totalCpuNs(record, await ctx.driver.stats(record));
      w.uint(stateOf(record)[0]).uhyper(kib).uhyper(kib).uint(record.allocation.cores.length)
        .uhyper(cpuTime);
    },
  }],
  [Proc.DOMAIN_GET_STATE, {
    name: "DOMAIN_GET_STATE",
    run: async (ctx, r, w) => {
      const [state, reason] = stateOf(await domainArg(ctx, r));
      w.int(state).int(reason);
    },
  }],
  [Proc.DOMAIN_GET_OS_TYPE, {
    name: "DOMAIN_GET_OS_TYPE",
    run: async (ctx, r, w) => {
      await domainArg(ctx, r);
      w.string("hvm");
    },
  }],
  [Proc.DOMAIN_GET_XML_DESC, {
    name: "DOMAIN_GET_XML_DESC",
    run: async (ctx, r, w) => {
      const record = await domainArg(ctx, r);
      const shown = r.uint() & XML_INACTIVE ? inactive(record) : record;
      const board = await ctx.driver.board();
      w.string(domainXml(shown, board, await ctx.driver.backend(), await ctx.driver.arch(board)));
    },
  }],
  [Proc.DOMAIN_GET_MAX_MEMORY, {
    name: "DOMAIN_GET_MAX_MEMORY",
    run: async (ctx, r, w) =>
      void w.uhyper(BigInt(Math.floor((await domainArg(ctx, r)).allocation.memory.size / 1024))),
  }],
  [Proc.DOMAIN_GET_MAX_VCPUS, {
    name: "DOMAIN_GET_MAX_VCPUS",
    run: async (ctx, r, w) => void w.int((await domainArg(ctx, r)).allocation.cores.length),
  }],
  [Proc.DOMAIN_GET_VCPUS, { name: "DOMAIN_GET_VCPUS", run: getVcpus }],
  [Proc.DOMAIN_GET_VCPUS_FLAGS, { name: "DOMAIN_GET_VCPUS_FLAGS", run: getVcpusFlags }],
  [Proc.DOMAIN_GET_VCPU_PIN_INFO, { name: "DOMAIN_GET_VCPU_PIN_INFO", run: getVcpuPinInfo }],
  [Proc.NODE_GET_CPU_MAP, { name: "NODE_GET_CPU_MAP", run: nodeGetCpuMap }],
  [Proc.CONNECT_GET_ALL_DOMAIN_STATS, {
    name: "CONNECT_GET_ALL_DOMAIN_STATS",
    run: getAllDomainStats,
  }],
  [Proc.CONNECT_GET_DOMAIN_CAPABILITIES, {
    name: "CONNECT_GET_DOMAIN_CAPABILITIES",
    run: getDomainCapabilities,
  }],
  [Proc.DOMAIN_INTERFACE_ADDRESSES, {
    name: "DOMAIN_INTERFACE_ADDRESSES",
    run: interfaceAddresses,
  }],
  [Proc.DOMAIN_SET_METADATA, { name: "DOMAIN_SET_METADATA", mutates: true, run: setMetadata }],
  [Proc.DOMAIN_GET_METADATA, { name: "DOMAIN_GET_METADATA", run: getMetadata }],
  [Proc.NODE_GET_FREE_MEMORY, { name: "NODE_GET_FREE_MEMORY", run: nodeGetFreeMemory }],
  [Proc.NODE_GET_CELLS_FREE_MEMORY, {
    name: "NODE_GET_CELLS_FREE_MEMORY",
    run: nodeGetCellsFreeMemory,
  }],
  [Proc.NODE_GET_MEMORY_STATS, { name: "NODE_GET_MEMORY_STATS", run: nodeGetMemoryStats }],
  [Proc.DOMAIN_SUSPEND, {
    name: "DOMAIN_SUSPEND",
    mutates: true,
    run: cannotPause("virDomainSuspend"),
  }],
  [Proc.DOMAIN_RESUME, {
    name: "DOMAIN_RESUME",
    mutates: true,
    run: cannotPause("virDomainResume"),
  }],
  [Proc.DOMAIN_GET_AUTOSTART, {
    name: "DOMAIN_GET_AUTOSTART",
    run: async (ctx, r, w) => void w.int((await domainArg(ctx, r)).autostart ? 1 : 0),
  }],
  [Proc.DOMAIN_SET_AUTOSTART, {
    name: "DOMAIN_SET_AUTOSTART",
    mutates: true,
    run: async (ctx, r) => {
      const record = await domainArg(ctx, r);
      await ctx.driver.autostart(record, r.int() !== 0);
    },
  }],
  [Proc.DOMAIN_IS_ACTIVE, {
    name: "DOMAIN_IS_ACTIVE",
    run: async (ctx, r, w) => void w.int((await domainArg(ctx, r)).state === "running" ? 1 : 0),
  }],
  [Proc.DOMAIN_IS_PERSISTENT, {
    name: "DOMAIN_IS_PERSISTENT",
    run: async (ctx, r, w) => void w.int((await domainArg(ctx, r)).transient ? 0 : 1),
  }],
  [Proc.DOMAIN_IS_UPDATED, {
    name: "DOMAIN_IS_UPDATED",
    run: async (ctx, r, w) => void w.int(isUpdated(await domainArg(ctx, r)) ? 1 : 0),
  }],
  [Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE, {
    name: "DOMAIN_HAS_MANAGED_SAVE_IMAGE",
    run: async (ctx, r, w) => {
      await domainArg(ctx, r);
      w.int(0);
    },
  }],
  [Proc.DOMAIN_OPEN_CONSOLE, {
    name: "DOMAIN_OPEN_CONSOLE",
    mutates: true, // libvirt refuses it on read-only connections
    run: async (ctx, r) => {
      const dom = readDomain(r);
      const devName = r.optional((x) => x.string(MAX_STRING));
      await openConsole(ctx, dom, devName, r.uint());
    },
  }],
  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, {
    name: "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
    run: (ctx, r, w) => {
      const eventID = r.int();
      const dom = r.optional(readDomain);
      if (ctx.session.callbacks.size >= 1024) {
        throw new RpcError(
          ErrorCode.OPERATION_INVALID,
          "too many event callbacks on this connection",
        );
      }
      const id = ctx.nextCallbackId();
      ctx.session.callbacks.set(id, { eventID, uuid: dom?.uuid });
      w.int(id);
    },
  }],
  [Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, {
    name: "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY",
    run: (ctx, r) => {
      const id = r.int();
      if (!ctx.session.callbacks.delete(id)) {
        throw new RpcError(ErrorCode.INVALID_ARG, `no event callback ${id} on this connection`);
      }
    },
  }],
  // Disk image files as storage volumes, for virt-install's --disk PATH (storage.ts).
  ...STORAGE_PROCEDURES,
]);
