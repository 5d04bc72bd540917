/*
 * The sim: the reference model of the monitor ABI (docs/monitor-abi.md, "The sim
 * backend"). It answers the ioctl requests of vm_abi.h from files in a state dir —
 * monitor.json (the table), memory.img (physical memory), monitor.lock — making
 * the checks of the ABI in the order the ABI gives, with the board's code family.
 */
#ifndef VMANAGER_MONITOR_SIM_H
#define VMANAGER_MONITOR_SIM_H

#include <stddef.h>
#include <stdint.h>

struct vm_sim;

/*
 * Opens the sim on `state_dir`. `platform_json` is the platform object (the board
 * as the monitor knows it); the first open writes it to monitor.json and creates
 * memory.img, later opens must give the same one (EINVAL otherwise). NULL uses the
 * one in monitor.json, which must exist. Returns NULL with errno set and a message.
 */
struct vm_sim *vm_sim_open(const char *state_dir, const char *platform_json, char *msg,
			   size_t msglen);

/* Closes the sim. */
void vm_sim_close(struct vm_sim *sim);

/*
 * One request, with ioctl's contract: 0, or -1 with errno set. `monitor_code` in the
 * struct carries the monitor's code as the device's driver would report it; `msg`
 * says why a request was refused.
 */
int vm_sim_ioctl(struct vm_sim *sim, unsigned long request, void *arg, char *msg, size_t msglen);

/*
 * Writes `len` bytes into partition `id`'s window at physical `address` — from `buf`,
 * or (when `buf` is NULL) from file descriptor `src_fd` at its offset `src_off` —
 * after MEMORY_ACCESS's checks on the exact range. Returns 0 or -errno; a refusal
 * leaves the monitor's code in `*code`.
 */
int vm_sim_write(struct vm_sim *sim, uint32_t id, uint64_t address, const void *buf, int src_fd,
		 uint64_t src_off, uint64_t len, int32_t *code, char *msg, size_t msglen);

/* The memory file's descriptor (for the fake device's mmap). */
int vm_sim_memory_fd(const struct vm_sim *sim);

/* The board's RAM base: memory.img's offset 0. */
uint64_t vm_sim_ram_base(const struct vm_sim *sim);

/* Writes a formatted message into msg (len bytes, NUL-terminated); nothing when msg is NULL. */
void vm_say(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* VMANAGER_MONITOR_SIM_H */
