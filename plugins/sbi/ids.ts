/**
 * RISC-V SBI extension and function IDs, error codes and HSM hart states.
 *
 * @module
 */

/** SBI extension IDs. */
export const SBI_EXT = {
  /** Base extension. */
  base: 0x10,
  /** Hart State Management. */
  hsm: 0x48534d,
  /** System Reset. */
  srst: 0x53525354,
  /** First of the firmware-specific range (low 24 bits: the SBI implementation ID). */
  firmwareFirst: 0x0a000000,
} as const;

/** HSM function IDs. */
export const SBI_HSM_FN = {
  /** hart_start(hartid, start_addr, opaque). */
  hartStart: 0,
  /** hart_stop(). */
  hartStop: 1,
  /** hart_get_status(hartid). */
  hartGetStatus: 2,
  /** hart_suspend(type, resume_addr, opaque). */
  hartSuspend: 3,
} as const;

/** SBI error codes. */
export const SBI_ERR = {
  /** SUCCESS. */
  success: 0,
  /** FAILED. */
  failed: -1,
  /** NOT_SUPPORTED. */
  notSupported: -2,
  /** INVALID_PARAM. */
  invalidParam: -3,
  /** DENIED. */
  denied: -4,
  /** INVALID_ADDRESS. */
  invalidAddress: -5,
  /** ALREADY_AVAILABLE. */
  alreadyAvailable: -6,
  /** ALREADY_STARTED. */
  alreadyStarted: -7,
  /** ALREADY_STOPPED. */
  alreadyStopped: -8,
} as const;

/** HSM hart states. */
export const SBI_HSM_STATE = {
  /** STARTED. */
  started: 0,
  /** STOPPED. */
  stopped: 1,
  /** START_PENDING. */
  startPending: 2,
  /** STOP_PENDING. */
  stopPending: 3,
} as const;
