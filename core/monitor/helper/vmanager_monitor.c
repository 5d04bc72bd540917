/*
 * libvmanager_monitor: handles, the device backend (ioctl + mmap on the driver's
 * node) and the entry points of the sim. See vmanager_monitor.h.
 */
#define _GNU_SOURCE
#include "vmanager_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"
#include "vm_abi.h"

#define MAX_HANDLES 64
#define ROUND (64u << 20) /* a long device write goes in rounds of this many bytes */

struct handle {
	struct vm_sim *sim; /* the sim, or NULL for the device */
	int fd;		    /* the device's descriptor */
	char path[256];
};

static struct handle *handles[MAX_HANDLES];
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;


uint32_t vmh_abi_version(void)
{
	return VM_ABI_VERSION;
}

static int32_t add(struct handle *h, char *msg, uint32_t msglen)
{
	pthread_mutex_lock(&handles_lock);
	for (int32_t i = 0; i < MAX_HANDLES; i++)
		if (!handles[i]) {
			handles[i] = h;
			pthread_mutex_unlock(&handles_lock);
			return i;
		}
	pthread_mutex_unlock(&handles_lock);
	vm_say(msg, msglen, "too many open monitor handles (%d)", MAX_HANDLES);
	return -EMFILE;
}

static struct handle *get(int32_t i)
{
	return i >= 0 && i < MAX_HANDLES ? handles[i] : NULL;
}

int32_t vmh_open_sim(const char *state_dir, const char *platform_json, char *msg, uint32_t msglen)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h) {
		vm_say(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	h->fd = -1;
	h->sim = vm_sim_open(state_dir, platform_json, msg, msglen);
	if (!h->sim) {
		int err = errno ? errno : EIO;
		free(h);
		return -err;
	}
	int32_t i = add(h, msg, msglen);
	if (i < 0) {
		vm_sim_close(h->sim);
		free(h);
	}
	return i;
}

int32_t vmh_open_device(const char *path, char *msg, uint32_t msglen)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h) {
		vm_say(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	snprintf(h->path, sizeof h->path, "%s", path);
	h->fd = open(path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		int err = errno;
		vm_say(msg, msglen, "opening %s: %s%s", path, strerror(err),
		    err == ENOENT ? " (no monitor driver loaded, or no monitor with the vmanager ABI)"
		    : err == EPERM || err == EACCES ? " (it needs root with CAP_SYS_RAWIO)"
						    : "");
		free(h);
		return -err;
	}
	struct vm_version v;
	memset(&v, 0, sizeof v);
	if (ioctl(h->fd, VM_IOC_VERSION, &v) < 0) {
		int err = errno;
		vm_say(msg, msglen, "%s: VM_IOC_VERSION: %s (monitor code %" PRId32 ")", path,
		    strerror(err), v.monitor_code);
		close(h->fd);
		free(h);
		return -err;
	}
	if (v.monitor_version >> 16 != 1 || v.interface_version >> 16 != 1) {
		vm_say(msg, msglen,
		    "%s speaks monitor ABI %" PRIu32 ".%" PRIu32 ", ioctl interface %" PRIu32
		    ".%" PRIu32 "; this vmanager speaks 1.x",
		    path, v.monitor_version >> 16, v.monitor_version & 0xFFFF,
		    v.interface_version >> 16, v.interface_version & 0xFFFF);
		close(h->fd);
		free(h);
		return -EPROTO;
	}
	int32_t i = add(h, msg, msglen);
	if (i < 0) {
		close(h->fd);
		free(h);
	}
	return i;
}

void vmh_close(int32_t i)
{
	pthread_mutex_lock(&handles_lock);
	struct handle *h = get(i);
	if (h)
		handles[i] = NULL;
	pthread_mutex_unlock(&handles_lock);
	if (!h)
		return;
	if (h->sim)
		vm_sim_close(h->sim);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

int32_t vmh_request(int32_t i, uint32_t request, void *arg, char *msg, uint32_t msglen)
{
	struct handle *h = get(i);
	if (!h) {
		vm_say(msg, msglen, "no open monitor handle %" PRId32, i);
		return -EBADF;
	}
	if (msg && msglen)
		msg[0] = 0;
	int rc = h->sim ? vm_sim_ioctl(h->sim, request, arg, msg, msglen)
			: ioctl(h->fd, (unsigned long)request, arg);
	if (rc == 0)
		return 0;
	int err = errno ? errno : EIO;
	if (!h->sim || !msg || !msg[0])
		vm_say(msg, msglen, "%s", strerror(err));
	return -err;
}

void vmh_clean_dcache(void *p, uint64_t len)
{
#if defined(__aarch64__)
	uint64_t ctr;
	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	uintptr_t line = (uintptr_t)4 << ((ctr >> 16) & 0xF);
	uintptr_t a = (uintptr_t)p & ~(line - 1), e = (uintptr_t)p + (uintptr_t)len;
	for (; a < e; a += line)
		__asm__ volatile("dc civac, %0" : : "r"(a) : "memory");
	__asm__ volatile("dsb sy" : : : "memory");
#elif defined(__arm__)
	/* AArch32 user space has no DC by-VA operations: the cacheflush syscall cleans them. */
	__builtin___clear_cache((char *)p, (char *)p + len);
#else
	/* x86 is coherent; RISC-V's data side is coherent and the monitor does FENCE.I. */
	(void)p;
	(void)len;
#endif
}

/*
 * One round of a device write: VM_IOC_MAP_WINDOW on the exact range, mmap of the
 * page-rounded range, copy (from buf, or read(2) from src_fd), clean, munmap.
 */
static int32_t device_round(struct handle *h, uint32_t id, uint64_t address, const char *buf,
			    int src_fd, uint64_t len, int32_t *code, char *msg, uint32_t msglen)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct vm_range r = {id, 0, address, len};
	if (ioctl(h->fd, VM_IOC_MAP_WINDOW, &r) < 0) {
		int err = errno;
		*code = r.monitor_code;
		vm_say(msg, msglen, "VM_IOC_MAP_WINDOW 0x%" PRIx64 "+0x%" PRIx64 ": %s", address, len,
		    strerror(err));
		return -err;
	}
	uint64_t base = address & ~(page - 1);
	uint64_t end = (address + len + page - 1) & ~(page - 1);
	if (end - base > SIZE_MAX) {
		vm_say(msg, msglen, "0x%" PRIx64 " bytes do not fit this address space", end - base);
		return -EINVAL;
	}
	char *map = mmap(NULL, (size_t)(end - base), PROT_READ | PROT_WRITE, MAP_SHARED, h->fd,
			 (off_t)base);
	if (map == MAP_FAILED) {
		int err = errno;
		vm_say(msg, msglen, "mmap of %s at 0x%" PRIx64 ": %s", h->path, base, strerror(err));
		return -err;
	}
	char *at = map + (address - base);
	int32_t rc = 0;
	if (buf) {
		memcpy(at, buf, (size_t)len);
	} else {
		for (uint64_t done = 0; done < len;) {
			ssize_t n = read(src_fd, at + done, (size_t)(len - done));
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				vm_say(msg, msglen, "reading the file: %s",
				    n < 0 ? strerror(-rc) : "it is shorter than it was");
				break;
			}
			done += (uint64_t)n;
		}
	}
	vmh_clean_dcache(at, len);
	munmap(map, (size_t)(end - base));
	return rc;
}

static int32_t device_write(struct handle *h, uint32_t id, uint64_t address, const void *buf,
			    int src_fd, uint64_t len, int32_t *code, char *msg, uint32_t msglen)
{
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done > ROUND ? ROUND : len - done;
		int32_t rc = device_round(h, id, address + done, buf ? (const char *)buf + done : NULL,
					  src_fd, n, code, msg, msglen);
		if (rc < 0)
			return rc;
		done += n;
	}
	return 0;
}

int32_t vmh_write(int32_t i, uint32_t id, uint64_t address, const void *buf, uint64_t len,
		  int32_t *code, char *msg, uint32_t msglen)
{
	struct handle *h = get(i);
	int32_t ignored;
	if (!code)
		code = &ignored;
	*code = 0;
	if (!h) {
		vm_say(msg, msglen, "no open monitor handle %" PRId32, i);
		return -EBADF;
	}
	if (len == 0)
		return 0;
	if (h->sim)
		return vm_sim_write(h->sim, id, address, buf, -1, 0, len, code, msg, msglen);
	return device_write(h, id, address, buf, -1, len, code, msg, msglen);
}

int32_t vmh_load_file_range(int32_t i, uint32_t id, uint64_t address, const char *path,
			    uint64_t offset, uint64_t length, uint64_t *loaded, int32_t *code,
			    char *msg, uint32_t msglen)
{
	struct handle *h = get(i);
	int32_t ignored;
	if (!code)
		code = &ignored;
	*code = 0;
	if (loaded)
		*loaded = 0;
	if (!h) {
		vm_say(msg, msglen, "no open monitor handle %" PRId32, i);
		return -EBADF;
	}
	/*
	 * O_NONBLOCK: opening a FIFO (a file swapped for one after it was checked) must
	 * not wait for a writer; only a regular file is read. For a regular file the flag
	 * changes nothing.
	 */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		vm_say(msg, msglen, "%s: %s", path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		vm_say(msg, msglen, "%s is not a regular file", path);
		return -EINVAL;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (offset > size || (length != UINT64_MAX && length > size - offset)) {
		close(fd);
		vm_say(msg, msglen, "%s is %" PRIu64 " bytes, shorter than it was", path, size);
		return -EINVAL;
	}
	uint64_t len = length == UINT64_MAX ? size - offset : length;
	if (loaded)
		*loaded = len;
	posix_fadvise(fd, (off_t)offset, (off_t)len, POSIX_FADV_SEQUENTIAL);
	int32_t rc = 0;
	if (len > 0 && h->sim) {
		rc = vm_sim_write(h->sim, id, address, NULL, fd, offset, len, code, msg, msglen);
	} else if (len > 0) {
		/* The device's rounds read(2) the file from its position. */
		rc = lseek(fd, (off_t)offset, SEEK_SET) < 0
			     ? -errno
			     : device_write(h, id, address, NULL, fd, len, code, msg, msglen);
	}
	close(fd);
	return rc;
}

int32_t vmh_load_file(int32_t i, uint32_t id, uint64_t address, const char *path,
		      uint64_t *loaded, int32_t *code, char *msg, uint32_t msglen)
{
	return vmh_load_file_range(i, id, address, path, 0, UINT64_MAX, loaded, code, msg, msglen);
}
