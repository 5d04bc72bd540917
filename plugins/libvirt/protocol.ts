/**
 * The libvirt remote protocol's constants, message header and framing: a u32
 * big-endian length (counting itself), a 24-byte header, the XDR payload.
 * Numbers are libvirt's (`virnetprotocol.x`, `remote_protocol.x`,
 * `virkeepaliveprotocol.x`, `virerror.h`).
 *
 * @module
 */
import { XdrReader, XdrWriter } from "./xdr.ts";

/** The remote program. */
export const REMOTE_PROGRAM = 0x20008086;
/** The keepalive program. */
export const KEEPALIVE_PROGRAM = 0x6b656570;
/** The protocol version of both programs. */
export const PROTOCOL_VERSION = 1;

/** Largest whole message (length word included). */
export const MAX_MESSAGE = 16 * 1024 * 1024;
/** Largest string. */
export const MAX_STRING = 4 * 1024 * 1024;
/** Largest domain list. */
export const MAX_DOMAINS = 16384;
/** Length word plus header. */
export const HEADER_SIZE = 28;

/** Message types. */
export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
} as const;

/** Message status. */
export const Status = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

/** Keepalive procedures. */
export const KeepaliveProc = { PING: 1, PONG: 2 } as const;

/** The remote procedures vmanager answers (and a few it names in messages). */
export const Proc = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  CONNECT_GET_TYPE: 3,
  CONNECT_GET_VERSION: 4,
  CONNECT_GET_MAX_VCPUS: 5,
  NODE_GET_INFO: 6,
  CONNECT_GET_CAPABILITIES: 7,
  DOMAIN_CREATE: 9,
  DOMAIN_CREATE_XML: 10,
  DOMAIN_DEFINE_XML: 11,
  DOMAIN_DESTROY: 12,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_GET_AUTOSTART: 15,
  DOMAIN_GET_INFO: 16,
  DOMAIN_GET_MAX_MEMORY: 17,
  DOMAIN_GET_MAX_VCPUS: 18,
  DOMAIN_GET_OS_TYPE: 19,
  DOMAIN_GET_VCPUS: 20,
  CONNECT_LIST_DEFINED_DOMAINS: 21,
  DOMAIN_LOOKUP_BY_ID: 22,
  DOMAIN_LOOKUP_BY_NAME: 23,
  DOMAIN_LOOKUP_BY_UUID: 24,
  CONNECT_NUM_OF_DEFINED_DOMAINS: 25,
  DOMAIN_REBOOT: 27,
  DOMAIN_RESUME: 28,
  DOMAIN_SET_AUTOSTART: 29,
  DOMAIN_SHUTDOWN: 33,
  DOMAIN_SUSPEND: 34,
  DOMAIN_UNDEFINE: 35,
  CONNECT_LIST_DOMAINS: 37,
  CONNECT_NUM_OF_DOMAINS: 51,
  CONNECT_GET_HOSTNAME: 59,
  CONNECT_SUPPORTS_FEATURE: 60,
  AUTH_LIST: 66,
  NODE_GET_CELLS_FREE_MEMORY: 101,
  NODE_GET_FREE_MEMORY: 102,
  DOMAIN_IS_ACTIVE: 150,
  DOMAIN_IS_PERSISTENT: 151,
  CONNECT_IS_SECURE: 149,
  DOMAIN_OPEN_CONSOLE: 201,
  DOMAIN_GET_VCPUS_FLAGS: 200,
  DOMAIN_IS_UPDATED: 202,
  CONNECT_GET_LIB_VERSION: 157,
  DOMAIN_HAS_MANAGED_SAVE_IMAGE: 183,
  DOMAIN_CREATE_WITH_FLAGS: 196,
  DOMAIN_GET_STATE: 212,
  NODE_GET_MEMORY_STATS: 228,
  DOMAIN_GET_VCPU_PIN_INFO: 230,
  DOMAIN_UNDEFINE_FLAGS: 231,
  DOMAIN_DESTROY_FLAGS: 234,
  DOMAIN_RESET: 245,
  DOMAIN_SHUTDOWN_FLAGS: 258,
  DOMAIN_SET_METADATA: 264,
  DOMAIN_GET_METADATA: 265,
  CONNECT_LIST_ALL_DOMAINS: 273,
  NODE_GET_CPU_MAP: 293,
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: 316,
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: 317,
  DOMAIN_EVENT_CALLBACK_LIFECYCLE: 318,
  DOMAIN_EVENT_CALLBACK_REBOOT: 319,
  CONNECT_GET_DOMAIN_CAPABILITIES: 342,
  CONNECT_GET_ALL_DOMAIN_STATS: 344,
  DOMAIN_DEFINE_XML_FLAGS: 350,
  DOMAIN_INTERFACE_ADDRESSES: 353,
  CONNECT_REGISTER_CLOSE_CALLBACK: 360,
  CONNECT_UNREGISTER_CLOSE_CALLBACK: 361,
} as const;

/** Features of CONNECT_SUPPORTS_FEATURE. */
export const Feature = {
  PROGRAM_KEEPALIVE: 10,
  REMOTE_EVENT_CALLBACK: 14,
  REMOTE_CLOSE_CALLBACK: 15,
} as const;

/** libvirt error codes (`virErrorNumber`). */
export const ErrorCode = {
  INTERNAL_ERROR: 1,
  NO_SUPPORT: 3,
  INVALID_ARG: 8,
  XML_ERROR: 27,
  DOM_EXIST: 28,
  OPERATION_DENIED: 29,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  OPERATION_INVALID: 55,
  OPERATION_FAILED: 9,
  CONFIG_UNSUPPORTED: 67,
  ARGUMENT_UNSUPPORTED: 74,
  NO_DOMAIN_METADATA: 80,
  OPERATION_UNSUPPORTED: 84,
} as const;

/** libvirt error domains (`virErrorDomain`). */
export const ErrorDomain = { DOM: 6, RPC: 7, REMOTE: 13, STREAMS: 38 } as const;

/** Domain states (`virDomainState`). */
export const DomainState = { NOSTATE: 0, RUNNING: 1, SHUTOFF: 5, CRASHED: 6 } as const;

/** The reasons of a running domain vmanager reports (`virDomainRunningReason`). */
export const RunningReason = { UNKNOWN: 0, BOOTED: 1, CRASHED: 9 } as const;

/** The reasons of a shut off domain vmanager reports (`virDomainShutoffReason`). */
export const ShutoffReason = { UNKNOWN: 0, SHUTDOWN: 1, DESTROYED: 2, CRASHED: 3 } as const;

/** The reasons of a crashed domain (`virDomainCrashedReason`). */
export const CrashedReason = { UNKNOWN: 0, PANICKED: 1 } as const;

/** Event ids of CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY (`virDomainEventID`). */
export const EventId = { LIFECYCLE: 0, REBOOT: 1 } as const;

/** Lifecycle event types (`virDomainEventType`). */
export const LifecycleEvent = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  RESUMED: 4,
  STOPPED: 5,
  CRASHED: 8,
} as const;

/** Details of the STOPPED event (`virDomainEventStoppedDetailType`). */
export const StoppedDetail = { SHUTDOWN: 0, DESTROYED: 1, CRASHED: 2, FAILED: 5 } as const;

/** The 24-byte message header. */
export interface Header {
  /** Program. */
  prog: number;
  /** Program version. */
  vers: number;
  /** Procedure. */
  proc: number;
  /** Message type. */
  type: number;
  /** Serial (echoed in replies). */
  serial: number;
  /** Status. */
  status: number;
}

/** Reads the header of a whole frame (length word included). */
export function decodeHeader(frame: Uint8Array): Header {
  const r = new XdrReader(frame.subarray(4, HEADER_SIZE));
  return {
    prog: r.uint(),
    vers: r.uint(),
    proc: r.int(),
    type: r.int(),
    serial: r.uint(),
    status: r.int(),
  };
}

/** A writer with room for the length word and the header, filled in by {@linkcode finishFrame}. */
export function frameWriter(): XdrWriter {
  return new XdrWriter(HEADER_SIZE);
}

/** Writes the length word and the header in front of a payload written with {@linkcode frameWriter}. */
export function finishFrame(w: XdrWriter, header: Header): Uint8Array {
  const bytes = w.bytes();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(0, bytes.length);
  view.setUint32(4, header.prog);
  view.setUint32(8, header.vers);
  view.setInt32(12, header.proc);
  view.setInt32(16, header.type);
  view.setUint32(20, header.serial);
  view.setInt32(24, header.status);
  return bytes;
}
