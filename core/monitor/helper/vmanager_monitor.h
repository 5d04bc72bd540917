/*
 * libvmanager_monitor: what vmanager calls over Deno FFI. A handle is a small
 * number naming an open backend: the sim (on a state dir) or the device
 * (/dev/vmanager-monitor). Every function that can fail returns 0 or -errno and
 * writes a one-line reason into `msg` (errno is not read across FFI); a monitor's
 * refusal also leaves its code (PSCI or SBI) in `*code` or the struct's monitor_code.
 */
#ifndef VMANAGER_MONITOR_H
#define VMANAGER_MONITOR_H

#include <stdint.h>

/*
 * The library is built with -fvisibility=hidden: these functions are its only
 * exports (the sim's vm_sim_* and the bundled cJSON stay inside).
 */
#define VMH_API __attribute__((visibility("default")))

/* The ABI version the library speaks (VM_ABI_VERSION); a trivial call. */
VMH_API uint32_t vmh_abi_version(void);

/* Opens the sim on a state dir with the platform (JSON; NULL: the one in monitor.json). */
VMH_API int32_t vmh_open_sim(const char *state_dir, const char *platform_json, char *msg,
			     uint32_t msglen);

/* Opens the device node and checks its versions (monitor ABI and ioctl interface 1.x). */
VMH_API int32_t vmh_open_device(const char *path, char *msg, uint32_t msglen);

/* Closes a handle. */
VMH_API void vmh_close(int32_t handle);

/* One ioctl request of vm_abi.h on the struct at `arg`. */
VMH_API int32_t vmh_request(int32_t handle, uint32_t request, void *arg, char *msg,
			    uint32_t msglen);

/* Writes `len` bytes from `buf` into partition `id`'s window at physical `address`. */
VMH_API int32_t vmh_write(int32_t handle, uint32_t id, uint64_t address, const void *buf,
			  uint64_t len, int32_t *code, char *msg, uint32_t msglen);

/*
 * Loads the file at `path` into partition `id`'s window at physical `address`,
 * without its bytes passing through the caller; `*loaded` gets its length.
 */
VMH_API int32_t vmh_load_file(int32_t handle, uint32_t id, uint64_t address, const char *path,
			      uint64_t *loaded, int32_t *code, char *msg, uint32_t msglen);

/*
 * Loads `length` bytes of the file at `path` from `offset` (UINT64_MAX: to its end)
 * into partition `id`'s window at physical `address`, the same way; a file shorter
 * than offset + length is refused (EINVAL) before anything is written.
 */
VMH_API int32_t vmh_load_file_range(int32_t handle, uint32_t id, uint64_t address,
				    const char *path, uint64_t offset, uint64_t length,
				    uint64_t *loaded, int32_t *code, char *msg, uint32_t msglen);

/* Cleans and invalidates [p, p + len) to the Point of Coherency (Arm); no-op elsewhere. */
VMH_API void vmh_clean_dcache(void *p, uint64_t len);

#endif /* VMANAGER_MONITOR_H */
