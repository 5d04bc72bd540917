/*
 * A fake /dev/vmanager-monitor for testing the device backend without a kernel
 * driver: an LD_PRELOAD library that intercepts open, ioctl, mmap, munmap and
 * close of that path. It logs every request number with the exact bytes of the
 * struct it receives (before the answer) to $VMAN_FAKE_DEVICE_LOG, and answers from
 * the sim on $VMAN_FAKE_DEVICE_STATE (a state dir whose monitor.json exists),
 * behaving as the ABI's driver does: VM_IOC_SIM_CALL is ENOTTY, VM_IOC_MAP_WINDOW
 * rounds to pages and arms one mmap of exactly that range, which maps the sim's
 * memory.img at the physical address minus RAM base.
 *
 * Log lines:  ioctl 0xC01056A3 size 16 in 0100000000000000 0200000000000000
 *             mmap len 0x1000 offset 0x52200000
 *             munmap len 0x1000
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim.h"
#include "vm_abi.h"

#define DEVICE "/dev/vmanager-monitor"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fake_fd = -1;
static struct vm_sim *sim;
static uint64_t armed_base, armed_size;
static int armed;
static void *mapped;
static size_t mapped_len;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	const char *path = getenv("VMAN_FAKE_DEVICE_LOG");
	if (!path)
		return;
	static int (*real_open)(const char *, int, ...);
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	int fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
		n = 0;
	close(fd);
}

static int open_fake(void)
{
	int (*real_open)(const char *, int, ...) =
		(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	const char *dir = getenv("VMAN_FAKE_DEVICE_STATE");
	char msg[512] = "";
	if (!dir) {
		errno = ENOENT;
		return -1;
	}
	pthread_mutex_lock(&lock);
	if (!sim)
		sim = vm_sim_open(dir, NULL, msg, sizeof msg);
	if (!sim) {
		int err = errno;
		pthread_mutex_unlock(&lock);
		logf_("open failed: %s\n", msg);
		errno = err;
		return -1;
	}
	int fd = real_open("/dev/null", O_RDWR | O_CLOEXEC);
	fake_fd = fd;
	pthread_mutex_unlock(&lock);
	logf_("open %s\n", DEVICE);
	return fd;
}

int open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (strcmp(path, DEVICE) == 0)
		return open_fake();
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	return real(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (strcmp(path, DEVICE) == 0)
		return open_fake();
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
	return real(path, flags, mode);
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd != fake_fd) {
		if (!real)
			real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
		return real(fd, request, arg);
	}
	size_t size = _IOC_SIZE(request);
	char hex[1024] = "";
	for (size_t i = 0, at = 0; i < size && at + 4 < sizeof hex; i++) {
		if (i && i % 8 == 0)
			hex[at++] = ' ';
		at += (size_t)snprintf(hex + at, sizeof hex - at, "%02x", ((unsigned char *)arg)[i]);
	}
	logf_("ioctl 0x%08lX size %zu in %s\n", request, size, hex);
	if (request == VM_IOC_SIM_CALL) {
		errno = ENOTTY; /* the driver does not implement it */
		return -1;
	}
	char msg[512] = "";
	pthread_mutex_lock(&lock);
	int rc;
	if (request == VM_IOC_MAP_WINDOW) {
		/* As the driver: round to pages, ask MEMORY_ACCESS, arm one mmap. */
		struct vm_range *r = arg;
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
		struct vm_range rounded = *r;
		rounded.base = r->base & ~(page - 1);
		rounded.size = ((r->base + r->size + page - 1) & ~(page - 1)) - rounded.base;
		rc = vm_sim_ioctl(sim, request, &rounded, msg, sizeof msg);
		r->monitor_code = rounded.monitor_code;
		armed = rc == 0;
		armed_base = rounded.base;
		armed_size = rounded.size;
	} else {
		rc = vm_sim_ioctl(sim, request, arg, msg, sizeof msg);
	}
	int err = errno;
	pthread_mutex_unlock(&lock);
	if (rc < 0)
		logf_("  refused: errno %d: %s\n", err, msg);
	errno = err;
	return rc;
}

static void *fake_mmap(void *addr, size_t len, int prot, int flags, off_t offset,
		       void *(*real)(void *, size_t, int, int, int, off_t))
{
	logf_("mmap len 0x%zx offset 0x%" PRIx64 "\n", len, (uint64_t)offset);
	pthread_mutex_lock(&lock);
	int ok = armed && (uint64_t)offset == armed_base && len == armed_size &&
		 (flags & MAP_SHARED);
	armed = 0;
	void *p = MAP_FAILED;
	if (ok) {
		p = real(addr, len, prot, flags, vm_sim_memory_fd(sim),
			 (off_t)((uint64_t)offset - vm_sim_ram_base(sim)));
		if (p != MAP_FAILED) {
			mapped = p;
			mapped_len = len;
		}
	}
	pthread_mutex_unlock(&lock);
	if (!ok)
		errno = EINVAL;
	return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);
	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	if (fd < 0 || fd != fake_fd)
		return real(addr, len, prot, flags, fd, offset);
	return fake_mmap(addr, len, prot, flags, offset, real);
}

#if defined(__x86_64__) || defined(__aarch64__) || (defined(__riscv) && __riscv_xlen == 64)
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	return mmap(addr, len, prot, flags, fd, offset);
}
#endif

int munmap(void *addr, size_t len)
{
	static int (*real)(void *, size_t);
	if (!real)
		real = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
	if (mapped && addr == mapped) {
		logf_("munmap len 0x%zx\n", len);
		mapped = NULL;
	}
	return real(addr, len);
}

int close(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd == fake_fd) {
		fake_fd = -1;
		logf_("close %s\n", DEVICE);
	}
	return real(fd);
}
