/**
 * PSCI function IDs (SMC calling convention, Arm DEN 0022) and return codes.
 *
 * @module
 */

/** PSCI function IDs: 32-bit (SMC32) and, where they differ, 64-bit (SMC64). */
export const PSCI_FN = {
  /** PSCI_VERSION. */
  version: 0x84000000,
  /** CPU_SUSPEND, SMC32. */
  cpuSuspend32: 0x84000001,
  /** CPU_SUSPEND, SMC64. */
  cpuSuspend64: 0xc4000001,
  /** CPU_OFF. */
  cpuOff: 0x84000002,
  /** CPU_ON, SMC32. */
  cpuOn32: 0x84000003,
  /** CPU_ON, SMC64. */
  cpuOn64: 0xc4000003,
  /** AFFINITY_INFO, SMC32. */
  affinityInfo32: 0x84000004,
  /** AFFINITY_INFO, SMC64. */
  affinityInfo64: 0xc4000004,
  /** MIGRATE_INFO_TYPE. */
  migrateInfoType: 0x84000006,
  /** SYSTEM_OFF. */
  systemOff: 0x84000008,
  /** SYSTEM_RESET. */
  systemReset: 0x84000009,
  /** PSCI_FEATURES. */
  features: 0x8400000a,
} as const;

/** PSCI return codes. */
export const PSCI_RET = {
  /** SUCCESS. */
  success: 0,
  /** NOT_SUPPORTED. */
  notSupported: -1,
  /** INVALID_PARAMETERS. */
  invalidParameters: -2,
  /** DENIED. */
  denied: -3,
  /** ALREADY_ON. */
  alreadyOn: -4,
  /** ON_PENDING. */
  onPending: -5,
  /** INTERNAL_FAILURE. */
  internalFailure: -6,
  /** NOT_PRESENT. */
  notPresent: -7,
  /** DISABLED. */
  disabled: -8,
  /** INVALID_ADDRESS. */
  invalidAddress: -9,
} as const;
