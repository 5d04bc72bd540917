/* The monitor ABI 1.0 header the helper and the kernel driver share (docs/monitor-abi.md). */
#ifndef VMANAGER_MONITOR_ABI_H
#define VMANAGER_MONITOR_ABI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VM_IOC_MAGIC 'V'
#define VM_INTERFACE_VERSION 0x00010000u /* ioctl interface 1.0 */
#define VM_ABI_VERSION 0x00010000u       /* monitor ABI 1.0 */

#define VM_CODES_PSCI 1u /* monitor_code values are PSCI codes (Arm) */
#define VM_CODES_SBI 2u  /* monitor_code values are SBI error codes (RISC-V) */

#define VM_STATE_ABSENT 0u
#define VM_STATE_CONFIGURED 1u
#define VM_STATE_RUNNING 2u
#define VM_STATE_STOPPED 3u

struct vm_version {            /* 16 bytes */
	__u32 monitor_version;     /*  0 out: VERSION's value, major << 16 | minor */
	__s32 monitor_code;        /*  4 out */
	__u32 interface_version;   /*  8 out: VM_INTERFACE_VERSION */
	__u32 code_family;         /* 12 out: VM_CODES_PSCI or VM_CODES_SBI */
};

struct vm_partition {          /* 8 bytes */
	__u32 id;                  /*  0 in */
	__s32 monitor_code;        /*  4 out */
};

struct vm_core {               /* 16 bytes */
	__u32 id;                  /*  0 in */
	__s32 monitor_code;        /*  4 out */
	__u64 hwid;                /*  8 in: MPIDR affinity value or hartid */
};

struct vm_range {              /* 24 bytes */
	__u32 id;                  /*  0 in */
	__s32 monitor_code;        /*  4 out */
	__u64 base;                /*  8 in: physical address */
	__u64 size;                /* 16 in: bytes */
};

struct vm_core_start {         /* 32 bytes */
	__u32 id;                  /*  0 in */
	__s32 monitor_code;        /*  4 out */
	__u64 hwid;                /*  8 in */
	__u64 entry;               /* 16 in: physical address */
	__u64 context;             /* 24 in: x0 / r0 (Arm), a1 (RISC-V) at entry */
};

struct vm_status {             /* 16 bytes */
	__u32 id;                  /*  0 in */
	__s32 monitor_code;        /*  4 out */
	__u32 state;               /*  8 out: VM_STATE_* */
	__u32 reserved;            /* 12 in: 0 */
};

struct vm_features {           /* 16 bytes */
	__u32 function;            /*  0 in: function number n (0..10) */
	__s32 monitor_code;        /*  4 out: NOT_SUPPORTED if not implemented */
	__u32 flags;               /*  8 out: feature flags, 0 in 1.0 */
	__u32 reserved;            /* 12 in: 0 */
};

struct vm_sim_call {           /* 80 bytes; sim only */
	__u32 eid;                 /*  0 in: RISC-V a7; Arm: 0 */
	__u32 fid;                 /*  4 in: RISC-V a6; Arm: the SMCCC function ID (w0) */
	__u64 caller_hwid;         /*  8 in: the core that makes the call */
	__u64 args[6];             /* 16 in: x1..x6 (Arm), a0..a5 (RISC-V) */
	__u64 ret[2];              /* 64 out: x0, x1 (Arm), a0, a1 (RISC-V), raw */
};

#define VM_IOC_VERSION _IOR(VM_IOC_MAGIC, 0xA0, struct vm_version)
#define VM_IOC_PARTITION_CREATE _IOWR(VM_IOC_MAGIC, 0xA1, struct vm_partition)
#define VM_IOC_PARTITION_DESTROY _IOWR(VM_IOC_MAGIC, 0xA2, struct vm_partition)
#define VM_IOC_PARTITION_ADD_CORE _IOWR(VM_IOC_MAGIC, 0xA3, struct vm_core)
#define VM_IOC_PARTITION_ADD_MEMORY _IOWR(VM_IOC_MAGIC, 0xA4, struct vm_range)
#define VM_IOC_PARTITION_ADD_DEVICE _IOWR(VM_IOC_MAGIC, 0xA5, struct vm_range)
#define VM_IOC_CORE_START _IOWR(VM_IOC_MAGIC, 0xA6, struct vm_core_start)
#define VM_IOC_PARTITION_STOP _IOWR(VM_IOC_MAGIC, 0xA7, struct vm_partition)
#define VM_IOC_PARTITION_STATUS _IOWR(VM_IOC_MAGIC, 0xA8, struct vm_status)
#define VM_IOC_FEATURES _IOWR(VM_IOC_MAGIC, 0xA9, struct vm_features)
#define VM_IOC_MAP_WINDOW _IOWR(VM_IOC_MAGIC, 0xAA, struct vm_range)
#define VM_IOC_SIM_CALL _IOWR(VM_IOC_MAGIC, 0xAF, struct vm_sim_call)

#endif /* VMANAGER_MONITOR_ABI_H */
