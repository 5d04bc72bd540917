/**
 * Monitor ABI 1.0 as TypeScript sees it (docs/monitor-abi.md): the ioctl request
 * numbers, the byte layouts of their structs, the return codes of both code
 * families and the partition states. The C helper's `vm_abi.h` is the same
 * specification in C.
 *
 * @module
 */
import type { MonitorPartitionState } from "./monitor.ts";

/** `VM_ABI_VERSION`: monitor ABI 1.0. */
export const ABI_VERSION = 0x00010000;

/** The ioctl request numbers (`_IOR`/`_IOWR('V', 0xA0 + n, struct …)`). */
export const REQUEST = {
  VERSION: 0x801056a0,
  PARTITION_CREATE: 0xc00856a1,
  PARTITION_DESTROY: 0xc00856a2,
  PARTITION_ADD_CORE: 0xc01056a3,
  PARTITION_ADD_MEMORY: 0xc01856a4,
  PARTITION_ADD_DEVICE: 0xc01856a5,
  CORE_START: 0xc02056a6,
  PARTITION_STOP: 0xc00856a7,
  PARTITION_STATUS: 0xc01056a8,
  FEATURES: 0xc01056a9,
  MAP_WINDOW: 0xc01856aa,
  SIM_CALL: 0xc05056af,
} as const;

/** A request's name. */
export type RequestName = keyof typeof REQUEST;

/** The struct size a request number encodes (bits 29:16). */
export function requestSize(request: number): number {
  return (request >>> 16) & 0x3fff;
}

/** `code_family` of `struct vm_version`: which codes `monitor_code` holds. */
export type CodeFamily = "psci" | "sbi";

/** `VM_CODES_PSCI` and `VM_CODES_SBI`. */
export const CODE_FAMILY: Record<number, CodeFamily> = { 1: "psci", 2: "sbi" };

/** PSCI return codes by value. */
export const PSCI_CODES: Record<number, string> = {
  0: "SUCCESS",
  [-1]: "NOT_SUPPORTED",
  [-2]: "INVALID_PARAMETERS",
  [-3]: "DENIED",
  [-4]: "ALREADY_ON",
  [-5]: "ON_PENDING",
  [-6]: "INTERNAL_FAILURE",
  [-7]: "NOT_PRESENT",
  [-8]: "DISABLED",
  [-9]: "INVALID_ADDRESS",
};

/** SBI error codes by value. */
export const SBI_CODES: Record<number, string> = {
  0: "SBI_SUCCESS",
  [-1]: "SBI_ERR_FAILED",
  [-2]: "SBI_ERR_NOT_SUPPORTED",
  [-3]: "SBI_ERR_INVALID_PARAM",
  [-4]: "SBI_ERR_DENIED",
  [-5]: "SBI_ERR_INVALID_ADDRESS",
  [-6]: "SBI_ERR_ALREADY_AVAILABLE",
  [-7]: "SBI_ERR_ALREADY_STARTED",
  [-8]: "SBI_ERR_ALREADY_STOPPED",
  [-10]: "SBI_ERR_INVALID_STATE",
};

/** A code's name in its family, e.g. `DENIED (-3)`. */
export function codeName(family: CodeFamily, code: number): string {
  const name = (family === "sbi" ? SBI_CODES : PSCI_CODES)[code] ?? "unknown code";
  return `${name} (${code})`;
}

/** Linux errno names the driver and the helper report. */
export const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  22: "EINVAL",
  24: "EMFILE",
  25: "ENOTTY",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  71: "EPROTO",
  95: "EOPNOTSUPP",
};

/** `VM_STATE_*` as the `Monitor` interface names them. */
export const STATES: readonly MonitorPartitionState[] = [
  "absent",
  "configured",
  "running",
  "stopped",
];

/** A struct of the ABI as bytes, with typed access to its fields. */
export class AbiStruct {
  /** The bytes handed to the helper. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  /** A zeroed struct of `size` bytes. */
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Writes a u32 at a byte offset. */
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }

  /** Writes a u64 at a byte offset. */
  u64(offset: number, value: number | bigint): this {
    this.view.setBigUint64(offset, BigInt(value), true);
    return this;
  }

  /** Reads a u32. */
  getU32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** Reads an s32 (`monitor_code`). */
  getS32(offset: number): number {
    return this.view.getInt32(offset, true);
  }

  /** Reads a u64. */
  getU64(offset: number): bigint {
    return this.view.getBigUint64(offset, true);
  }

  /** Reads a u64 as a signed value (a raw register holding a negative code). */
  getS64(offset: number): bigint {
    return this.view.getBigInt64(offset, true);
  }

  /** `monitor_code`, at offset 4 in every struct that names a partition. */
  get monitorCode(): number {
    return this.getS32(4);
  }
}

/** `struct vm_partition {id}`. */
export function partitionStruct(id: number): AbiStruct {
  return new AbiStruct(8).u32(0, id);
}

/** `struct vm_core {id, hwid}`. */
export function coreStruct(id: number, hwid: number): AbiStruct {
  return new AbiStruct(16).u32(0, id).u64(8, hwid);
}

/** `struct vm_range {id, base, size}`. */
export function rangeStruct(id: number, base: number, size: number): AbiStruct {
  return new AbiStruct(24).u32(0, id).u64(8, base).u64(16, size);
}

/** `struct vm_core_start {id, hwid, entry, context}`. */
export function coreStartStruct(
  id: number,
  hwid: number,
  entry: number,
  context: number,
): AbiStruct {
  return new AbiStruct(32).u32(0, id).u64(8, hwid).u64(16, entry).u64(24, context);
}

/** `struct vm_status {id}`; the state comes back at offset 8. */
export function statusStruct(id: number): AbiStruct {
  return new AbiStruct(16).u32(0, id);
}

/** `struct vm_version`, all out. */
export function versionStruct(): AbiStruct {
  return new AbiStruct(16);
}

/** A call a partition's core makes, for `VM_IOC_SIM_CALL`. */
export interface SimCall {
  /** The calling core's hwid (MPIDR affinity value or hartid). */
  callerHwid: number;
  /** RISC-V: the extension id (a7); Arm: 0 (the default). */
  eid?: number;
  /** RISC-V: the function id (a6); Arm: the SMCCC function ID (w0). */
  fid: number;
  /** Arguments: x1.. (Arm), a0.. (RISC-V); up to 6. */
  args?: readonly (number | bigint)[];
}

/** The raw result registers of a `SimCall`. */
export interface SimCallResult {
  /** x0 (Arm) or a0 (RISC-V): the code, sign-extended (PSCI's raw results, e.g. AFFINITY_INFO, also here). */
  ret0: bigint;
  /** x1 (Arm) or a1 (RISC-V): the value. */
  ret1: bigint;
}

/** `struct vm_sim_call`. */
export function simCallStruct(call: SimCall): AbiStruct {
  const s = new AbiStruct(80).u32(0, call.eid ?? 0).u32(4, call.fid).u64(8, call.callerHwid);
  (call.args ?? []).slice(0, 6).forEach((a, i) => s.u64(16 + 8 * i, a));
  return s;
}

/** Hex for messages: `0x2`. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
