/*
 * C unit tests of libvmanager_monitor: the sim's rules and codes (PSCI on an armv8
 * platform, SBI on riscv), its persistence, writes and file loads into memory.img,
 * partition-originated calls, and the cache maintenance routine. Built for every
 * target by `deno task helper`; run natively and under qemu-user.
 *
 * Usage: test_sim [TMPDIR]   — prints "N passed, M failed", exits 1 on a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_abi.h"
#include "vmanager_monitor.h"

static int passed, failed;
static char msg[512];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond)                                                                          \
			passed++;                                                                  \
		else {                                                                             \
			failed++;                                                                  \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
			printf(__VA_ARGS__);                                                       \
			printf(" (msg: %s)\n", msg);                                               \
		}                                                                                  \
	} while (0)

static const char *ARM =
	"{\"board\":\"test-arm64\",\"arch\":\"armv8\",\"interface\":\"psci\","
	"\"functionBase\":\"0x5600\",\"ramBase\":\"0x40000000\","
	"\"ram\":[{\"base\":\"0x40000000\",\"size\":\"0x80000000\"}],"
	"\"cores\":[\"0x0\",\"0x1\",\"0x2\",\"0x3\"],"
	"\"devices\":[{\"base\":\"0x9000000\",\"size\":\"0x1000\",\"shared\":true},"
	"{\"base\":\"0x9010000\",\"size\":\"0x1000\",\"shared\":false}],"
	"\"management\":{\"cores\":[\"0x0\"],\"memory\":[{\"base\":\"0x40000000\",\"size\":"
	"\"0x10000000\"}],\"devices\":[]},"
	"\"monitor\":{\"cores\":[],\"memory\":[],\"devices\":[]}}";

static const char *RISCV =
	"{\"board\":\"test-riscv\",\"arch\":\"riscv\",\"interface\":\"sbi\","
	"\"sbiExtension\":\"0xa00564d\",\"ramBase\":\"0x80000000\","
	"\"ram\":[{\"base\":\"0x80000000\",\"size\":\"0x80000000\"}],"
	"\"cores\":[\"0x0\",\"0x1\",\"0x2\",\"0x3\"],"
	"\"devices\":[{\"base\":\"0x10000000\",\"size\":\"0x100\",\"shared\":true}],"
	"\"management\":{\"cores\":[\"0x0\"],\"memory\":[{\"base\":\"0x80200000\",\"size\":"
	"\"0xfe00000\"}],\"devices\":[]},"
	"\"monitor\":{\"cores\":[],\"memory\":[{\"base\":\"0x80000000\",\"size\":\"0x200000\"}],"
	"\"devices\":[]}}";

static int32_t part(int32_t h, uint32_t request, uint32_t id, int32_t *code)
{
	struct vm_partition s = {id, 0};
	int32_t rc = vmh_request(h, request, &s, msg, sizeof msg);
	*code = s.monitor_code;
	return rc;
}

static int32_t add_core(int32_t h, uint32_t id, uint64_t hwid)
{
	struct vm_core s = {id, 0, hwid};
	vmh_request(h, VM_IOC_PARTITION_ADD_CORE, &s, msg, sizeof msg);
	return s.monitor_code;
}

static int32_t range(int32_t h, uint32_t request, uint32_t id, uint64_t base, uint64_t size)
{
	struct vm_range s = {id, 0, base, size};
	vmh_request(h, request, &s, msg, sizeof msg);
	return s.monitor_code;
}

static int32_t start(int32_t h, uint32_t id, uint64_t hwid, uint64_t entry, uint64_t context)
{
	struct vm_core_start s = {id, 0, hwid, entry, context};
	vmh_request(h, VM_IOC_CORE_START, &s, msg, sizeof msg);
	return s.monitor_code;
}

static uint32_t status(int32_t h, uint32_t id)
{
	struct vm_status s = {id, 0, 99, 0};
	vmh_request(h, VM_IOC_PARTITION_STATUS, &s, msg, sizeof msg);
	return s.state;
}

static int64_t call(int32_t h, uint32_t eid, uint32_t fid, uint64_t caller, uint64_t a0,
		    uint64_t a1, uint64_t a2, int32_t *rc)
{
	struct vm_sim_call c;
	memset(&c, 0, sizeof c);
	c.eid = eid;
	c.fid = fid;
	c.caller_hwid = caller;
	c.args[0] = a0;
	c.args[1] = a1;
	c.args[2] = a2;
	*rc = vmh_request(h, VM_IOC_SIM_CALL, &c, msg, sizeof msg);
	return (int64_t)c.ret[0];
}

static void read_at(const char *dir, uint64_t offset, char *out, size_t len)
{
	char path[600];
	snprintf(path, sizeof path, "%s/memory.img", dir);
	int fd = open(path, O_RDONLY);
	memset(out, 0x55, len);
	if (fd >= 0) {
		if (pread(fd, out, len, (off_t)offset) < 0)
			memset(out, 0x55, len);
		close(fd);
	}
}

static void test_arm(const char *dir)
{
	int32_t code, rc;
	int32_t h = vmh_open_sim(dir, ARM, msg, sizeof msg);
	CHECK(h >= 0, "open sim: %d", h);
	struct vm_version v = {0, 0, 0, 0};
	CHECK(vmh_request(h, VM_IOC_VERSION, &v, msg, sizeof msg) == 0 &&
		      v.monitor_version == 0x10000 && v.code_family == VM_CODES_PSCI,
	      "version");
	CHECK(part(h, VM_IOC_PARTITION_CREATE, 1, &code) == 0 && code == 0, "create 1");
	CHECK(part(h, VM_IOC_PARTITION_CREATE, 1, &code) == -EEXIST && code == -4, "create 1 again");
	CHECK(part(h, VM_IOC_PARTITION_CREATE, 0, &code) == -EPERM && code == -3, "create 0");
	CHECK(part(h, VM_IOC_PARTITION_DESTROY, 9, &code) == -ENOENT && code == -7, "destroy 9");
	CHECK(part(h, VM_IOC_PARTITION_CREATE, 2, &code) == 0, "create 2");
	CHECK(add_core(h, 1, 0x2) == 0, "core 2 to 1");
	CHECK(add_core(h, 1, 0x3) == 0, "core 3 to 1");
	CHECK(add_core(h, 1, 0x2) == -4, "core 2 to 1 again: ALREADY_ON");
	CHECK(add_core(h, 2, 0x2) == -3, "core 2 to 2: DENIED");
	CHECK(strstr(msg, "belongs to partition 1") != NULL, "reason names the owner");
	CHECK(add_core(h, 2, 0x0) == -3, "management core: DENIED");
	CHECK(add_core(h, 2, 0x7) == -2, "core not on board: INVALID_PARAMETERS");
	CHECK(add_core(h, 2, 0x1000000000000ull) == -2, "hwid outside affinity fields");
	CHECK(add_core(h, 2, 0x1) == 0, "core 1 to 2");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 1, 0x50000000, 0x20000000) == 0, "window 1");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0x48000000, 0x10000000) == -3,
	      "window overlapping the management partition's: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0x60000000, 0x1000) == -3,
	      "window overlapping partition 1's: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0xC0000000, 0x1000) == -9,
	      "window outside RAM: INVALID_ADDRESS");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0x70000800, 0x1000) == -2,
	      "unaligned window: INVALID_PARAMETERS");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0x70000000, 0x10000000) == 0, "window 2");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 1, 0x9000000, 0x1000) == 0, "uart to 1");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 2, 0x9000000, 0x1000) == 0,
	      "shared uart to 2 too");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 1, 0x9010000, 0x1000) == 0, "rtc to 1");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 2, 0x9010800, 0x10) == -3,
	      "rtc's page to 2: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 2, 0x8000000, 0x10) == -9,
	      "not a device: INVALID_ADDRESS");

	const char text[] = "kernel bytes";
	rc = vmh_write(h, 1, 0x50000000, text, sizeof text, &code, msg, sizeof msg);
	CHECK(rc == 0 && code == 0, "write into window: %d", rc);
	char back[64];
	read_at(dir, 0x10000000, back, sizeof text);
	CHECK(memcmp(back, text, sizeof text) == 0, "bytes at address - RAM base");
	rc = vmh_write(h, 1, 0x6ffffff8, text, sizeof text, &code, msg, sizeof msg);
	CHECK(rc == -ERANGE && code == -9, "write across the window's end: INVALID_ADDRESS");
	rc = vmh_write(h, 1, 0x70000000, text, sizeof text, &code, msg, sizeof msg);
	CHECK(rc == -ERANGE && code == -9, "write into partition 2's window: INVALID_ADDRESS");

	char file[600];
	snprintf(file, sizeof file, "%s/initrd.bin", dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char big[200000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + 3);
	CHECK(fd >= 0 && write(fd, big, sizeof big) == (ssize_t)sizeof big, "write file");
	close(fd);
	uint64_t loaded = 0;
	rc = vmh_load_file(h, 1, 0x52201000, file, &loaded, &code, msg, sizeof msg);
	CHECK(rc == 0 && loaded == sizeof big, "load file: %d", rc);
	static char got[200000];
	read_at(dir, 0x12201000, got, sizeof got);
	CHECK(memcmp(got, big, sizeof big) == 0, "file bytes at address - RAM base");

	/* A range of a file: its bytes from the offset; one past the file's end is refused. */
	rc = vmh_load_file_range(h, 1, 0x52101000, file, 70000, 5000, &loaded, &code, msg,
				 sizeof msg);
	CHECK(rc == 0 && loaded == 5000, "load a range: %d %s", rc, msg);
	read_at(dir, 0x12101000, got, 5000);
	CHECK(memcmp(got, big + 70000, 5000) == 0, "the range's bytes at address - RAM base");
	rc = vmh_load_file_range(h, 1, 0x52101000, file, 199000, 1001, &loaded, &code, msg,
				 sizeof msg);
	CHECK(rc == -EINVAL && strstr(msg, "shorter"), "a range past the end: EINVAL: %d", rc);
	rc = vmh_load_file_range(h, 1, 0x52101000, file, 150000, UINT64_MAX, &loaded, &code, msg,
				 sizeof msg);
	CHECK(rc == 0 && loaded == 50000, "a range to the end: %d", rc);

	/* Anything but a regular file is refused at once, naming it: a FIFO does not block. */
	char fifo[600];
	snprintf(fifo, sizeof fifo, "%s/initrd.fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
	rc = vmh_load_file(h, 1, 0x52201000, fifo, &loaded, &code, msg, sizeof msg);
	CHECK(rc == -EINVAL && strstr(msg, fifo) && strstr(msg, "not a regular file"),
	      "load a FIFO: EINVAL naming it, without waiting for a writer: %d %s", rc, msg);
	unlink(fifo);
	rc = vmh_load_file(h, 1, 0x52201000, dir, &loaded, &code, msg, sizeof msg);
	CHECK(rc == -EINVAL && strstr(msg, "not a regular file"), "load a directory: EINVAL");

	CHECK(start(h, 1, 0x1, 0x50000000, 0) == -3, "start partition 2's core in 1: DENIED");
	CHECK(strstr(msg, "partition 2's") != NULL, "reason names the owner");
	CHECK(start(h, 1, 0x2, 0x40000000, 0) == -9, "entry outside window: INVALID_ADDRESS");
	CHECK(start(h, 1, 0x2, 0x50000002, 0) == -9, "misaligned entry: INVALID_ADDRESS");
	CHECK(start(h, 1, 0x2, 0x50000000, 0x52200000) == 0, "start core 2");
	CHECK(status(h, 1) == VM_STATE_RUNNING, "running");
	CHECK(start(h, 1, 0x2, 0x50000000, 0) == -4, "start again: ALREADY_ON");
	rc = vmh_write(h, 1, 0x50000000, text, sizeof text, &code, msg, sizeof msg);
	CHECK(rc == -EPERM && code == -3, "write into a running partition: DENIED");
	rc = vmh_load_file(h, 1, 0x52201000, file, &loaded, &code, msg, sizeof msg);
	CHECK(rc == -EPERM && code == -3, "load into a running partition: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_DEVICE, 1, 0x9000000, 0x1000) == -3,
	      "configure running: DENIED");
	CHECK(part(h, VM_IOC_PARTITION_DESTROY, 1, &code) == -EPERM && code == -3,
	      "destroy running: DENIED");

	/* partition-originated calls */
	CHECK(call(h, 0, 0xC4000003, 0x2, 0x1, 0x50000000, 0, &rc) == -2 && rc == 0,
	      "CPU_ON of partition 2's core from 1: INVALID_PARAMETERS");
	CHECK(call(h, 0, 0xC4000003, 0x2, 0x3, 0x40000000, 0, &rc) == -9,
	      "CPU_ON outside the window: INVALID_ADDRESS");
	CHECK(call(h, 0, 0xC4000003, 0x2, 0x3, 0x50001000, 7, &rc) == 0, "CPU_ON of core 3");
	CHECK(call(h, 0, 0xC4000003, 0x2, 0x3, 0x50001000, 7, &rc) == -4, "CPU_ON again");
	CHECK(call(h, 0, 0xC4000004, 0x2, 0x3, 0, 0, &rc) == 0, "AFFINITY_INFO on");
	CHECK(call(h, 0, 0xC2005603, 0x2, 2, 0x1, 0, &rc) == -3, "ABI call from a partition");
	CHECK(call(h, 0, 0xC2005600, 0x0, 0, 0, 0, &rc) == -1, "SMC64 VERSION: NOT_SUPPORTED");
	CHECK(call(h, 0, 0x84000000, 0x0, 0, 0, 0, &rc) == 0x10000, "PSCI_VERSION");
	call(h, 0, 0x84000000, 0x1, 0, 0, 0, &rc);
	CHECK(rc == -EINVAL, "a caller core that is off: EINVAL");
	CHECK(call(h, 0, 0x84000002, 0x3, 0, 0, 0, &rc) == 0, "CPU_OFF of core 3");
	CHECK(status(h, 1) == VM_STATE_RUNNING, "still running");
	vmh_close(h);

	/* persistence: a new handle sees the same table */
	h = vmh_open_sim(dir, ARM, msg, sizeof msg);
	CHECK(h >= 0 && status(h, 1) == VM_STATE_RUNNING && status(h, 2) == VM_STATE_CONFIGURED &&
		      status(h, 5) == VM_STATE_ABSENT && status(h, 0) == VM_STATE_RUNNING,
	      "states after reopening");
	CHECK(call(h, 0, 0x84000008, 0x2, 0, 0, 0, &rc) == 0 && status(h, 1) == VM_STATE_STOPPED,
	      "SYSTEM_OFF from the partition stops it");
	rc = vmh_write(h, 1, 0x50000000, "X", 1, &code, msg, sizeof msg);
	CHECK(rc == 0, "write into a stopped partition");
	CHECK(start(h, 1, 0x2, 0x50000000, 0x52200000) == 0, "start again");
	CHECK(part(h, VM_IOC_PARTITION_STOP, 1, &code) == 0 && status(h, 1) == VM_STATE_STOPPED,
	      "stop");
	CHECK(part(h, VM_IOC_PARTITION_STOP, 1, &code) == 0, "stop again");
	CHECK(part(h, VM_IOC_PARTITION_DESTROY, 1, &code) == 0 && status(h, 1) == VM_STATE_ABSENT,
	      "destroy");
	read_at(dir, 0x12201000, got, 16);
	CHECK(memcmp(got, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "window zeroed");
	CHECK(add_core(h, 2, 0x2) == 0, "core 2 free again");
	vmh_close(h);

	h = vmh_open_sim(dir, RISCV, msg, sizeof msg);
	CHECK(h == -EINVAL && strstr(msg, "test-arm64") != NULL, "another board's platform: %d", h);
}

static void test_riscv(const char *dir)
{
	int32_t code, rc;
	int32_t h = vmh_open_sim(dir, RISCV, msg, sizeof msg);
	CHECK(h >= 0, "open riscv sim");
	part(h, VM_IOC_PARTITION_CREATE, 1, &code);
	part(h, VM_IOC_PARTITION_CREATE, 2, &code);
	CHECK(part(h, VM_IOC_PARTITION_CREATE, 1, &code) == -EEXIST && code == -6,
	      "ALREADY_AVAILABLE");
	CHECK(part(h, VM_IOC_PARTITION_STOP, 7, &code) == -EINVAL && code == -3,
	      "unknown id: INVALID_PARAM");
	CHECK(add_core(h, 1, 2) == 0 && add_core(h, 1, 3) == 0 && add_core(h, 2, 1) == 0, "cores");
	CHECK(add_core(h, 2, 2) == -4, "core of another partition: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 1, 0x80100000, 0x100000) == -4,
	      "monitor's memory: DENIED");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 1, 0x90000000, 0x20000000) == 0, "window");
	CHECK(range(h, VM_IOC_PARTITION_ADD_MEMORY, 2, 0xB0000000, 0x1000000) == 0, "window 2");
	CHECK(range(h, VM_IOC_MAP_WINDOW, 1, 0x8ffff000, 0x2000) == -5,
	      "outside window: INVALID_ADDRESS");
	CHECK(start(h, 1, 2, 0x90000001, 0) == -5, "misaligned: INVALID_ADDRESS");
	CHECK(start(h, 1, 1, 0x90000000, 0) == -4, "other partition's hart: DENIED");
	CHECK(start(h, 1, 2, 0x90000000, 0x92400000) == 0, "start hart 2");
	CHECK(start(h, 1, 2, 0x90000000, 0) == -7, "again: ALREADY_STARTED");
	rc = vmh_write(h, 1, 0x90000000, "x", 1, &code, msg, sizeof msg);
	CHECK(rc == -EBUSY && code == -10, "write running: INVALID_STATE");
	CHECK(part(h, VM_IOC_PARTITION_DESTROY, 1, &code) == -EBUSY && code == -10,
	      "destroy running: INVALID_STATE");
	CHECK(call(h, 0x48534D, 0, 2, 1, 0x90000000, 0, &rc) == -3,
	      "hart_start of another partition's hart: INVALID_PARAM");
	CHECK(call(h, 0x48534D, 0, 2, 3, 0xB0000000, 0, &rc) == -5,
	      "hart_start outside the window: INVALID_ADDRESS");
	CHECK(call(h, 0x48534D, 0, 2, 3, 0x90000000, 0, &rc) == 0, "hart_start of hart 3");
	CHECK(call(h, 0x48534D, 0, 2, 3, 0x90000000, 0, &rc) == -6, "again: ALREADY_AVAILABLE");
	CHECK(call(h, 0xA00564D, 3, 2, 2, 1, 0, &rc) == -4, "ABI call from a partition: DENIED");
	CHECK(call(h, 0x10, 0, 0, 0, 0, 0, &rc) == 0, "get_spec_version");
	CHECK(call(h, 0x53525354, 0, 3, 0, 0, 0, &rc) == 0 && status(h, 1) == VM_STATE_STOPPED,
	      "system_reset stops the partition");
	vmh_close(h);
}

/* Removes the sim's files from a state dir. */
static void unlink_all(const char *dir)
{
	const char *files[] = {"memory.img", "monitor.json", "monitor.lock"};
	char path[700];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
}

/* An armv8 platform with `ncores` cores and `nram` RAM ranges of 1 MiB each. */
static char *platform_with(int ncores, int nram)
{
	size_t cap = 256 + (size_t)ncores * 16 + (size_t)nram * 64;
	char *p = malloc(cap);
	size_t at = (size_t)snprintf(p, cap,
				     "{\"board\":\"test-limits\",\"arch\":\"armv8\",\"interface\":"
				     "\"psci\",\"ramBase\":\"0x40000000\",\"ram\":[");
	for (int i = 0; i < nram; i++)
		at += (size_t)snprintf(p + at, cap - at,
				       "%s{\"base\":\"0x%x\",\"size\":\"0x100000\"}", i ? "," : "",
				       0x40000000 + i * 0x100000);
	at += (size_t)snprintf(p + at, cap - at, "],\"cores\":[");
	for (int i = 0; i < ncores; i++)
		at += (size_t)snprintf(p + at, cap - at, "%s\"0x%x\"", i ? "," : "", i);
	snprintf(p + at, cap - at,
		 "],\"devices\":[],\"management\":{\"cores\":[\"0x0\"],\"memory\":[],"
		 "\"devices\":[]},\"monitor\":{\"cores\":[],\"memory\":[],\"devices\":[]}}");
	return p;
}

static int exists(const char *dir, const char *name)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/*
 * A monitor.json on ARM's platform whose table is `nparts` partitions, the first
 * with `ncores` cores and `ndevices` device ranges.
 */
static void write_table(const char *dir, int nparts, int ncores, int ndevices)
{
	size_t cap = 4096 + (size_t)nparts * 128 + (size_t)ncores * 48 + (size_t)ndevices * 64;
	char *t = malloc(cap);
	size_t at = (size_t)snprintf(t, cap, "{\"format\":1,\"abi\":\"1.0\",\"platform\":%s,"
					     "\"partitions\":[", ARM);
	for (int i = 0; i < nparts; i++) {
		at += (size_t)snprintf(t + at, cap - at,
				       "%s{\"id\":%d,\"state\":\"configured\",\"cores\":[", i ? "," : "",
				       i + 1);
		for (int c = 0; i == 0 && c < ncores; c++)
			at += (size_t)snprintf(t + at, cap - at, "%s{\"hwid\":\"0x%x\",\"power\":\"off\"}",
					       c ? "," : "", c + 1);
		at += (size_t)snprintf(t + at, cap - at, "],\"memory\":null,\"devices\":[");
		for (int d = 0; i == 0 && d < ndevices; d++)
			at += (size_t)snprintf(t + at, cap - at,
					       "%s{\"base\":\"0x%x\",\"size\":\"0x1000\"}", d ? "," : "",
					       0x9000000 + d * 0x1000);
		at += (size_t)snprintf(t + at, cap - at, "]}");
	}
	snprintf(t + at, cap - at, "]}");
	char path[700];
	snprintf(path, sizeof path, "%s/monitor.json", dir);
	FILE *f = fopen(path, "w");
	fputs(t, f);
	fclose(f);
	free(t);
}

/* The sim's table limits refuse what does not fit (EINVAL, naming the limit): no cut. */
static void test_limits(const char *dir)
{
	char *p = platform_with(513, 1);
	int32_t h = vmh_open_sim(dir, p, msg, sizeof msg);
	CHECK(h == -EINVAL, "513 cores: EINVAL, not cut to 512 (%d)", h);
	CHECK(strstr(msg, "the platform's cores has 513 entries, more than the sim's limit of 512"),
	      "the message names the list and the limit");
	CHECK(!exists(dir, "monitor.json") && !exists(dir, "memory.img"), "nothing made");
	if (h >= 0)
		vmh_close(h);
	free(p);

	p = platform_with(4, 513);
	h = vmh_open_sim(dir, p, msg, sizeof msg);
	CHECK(h == -EINVAL && strstr(msg, "the platform's ram has 513 entries"),
	      "513 RAM ranges: EINVAL (%d)", h);
	if (h >= 0)
		vmh_close(h);
	free(p);

	p = platform_with(512, 512);
	h = vmh_open_sim(dir, p, msg, sizeof msg);
	CHECK(h >= 0, "512 cores and 512 RAM ranges fit (%d)", h);
	if (h >= 0) {
		int32_t code;
		CHECK(part(h, VM_IOC_PARTITION_CREATE, 1, &code) == 0, "create on the big board");
		CHECK(add_core(h, 1, 511) == 0, "the 512th core is there");
		vmh_close(h);
	}
	free(p);
	unlink_all(dir);

	/* monitor.json tables beyond the limits: every request refuses, nothing is written. */
	const struct {
		int nparts, ncores, ndevices;
		const char *says;
	} tables[] = {
		{65, 0, 0, "monitor.json's partitions has 65 entries, more than the sim's limit of 64"},
		{64, 0, 0, NULL},
		{1, 257, 0, "partition 1's cores has 257 entries, more than the sim's limit of 256"},
		{1, 256, 0, NULL},
		{1, 0, 65, "partition 1's devices has 65 entries, more than the sim's limit of 64"},
		{1, 0, 64, NULL},
	};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		write_table(dir, tables[i].nparts, tables[i].ncores, tables[i].ndevices);
		h = vmh_open_sim(dir, ARM, msg, sizeof msg);
		CHECK(h >= 0, "open on table %zu (%d)", i, h);
		struct vm_status st = {1, 0, 0, 0};
		msg[0] = 0;
		int32_t rc = vmh_request(h, VM_IOC_PARTITION_STATUS, &st, msg, sizeof msg);
		if (tables[i].says) {
			CHECK(rc == -EINVAL && strstr(msg, tables[i].says), "table %zu refused (%d)", i,
			      rc);
			int32_t code;
			CHECK(part(h, VM_IOC_PARTITION_DESTROY, 1, &code) == -EINVAL,
			      "table %zu: a change is refused too", i);
		} else {
			CHECK(rc == 0 && st.state == VM_STATE_CONFIGURED, "table %zu at the limit (%d)", i,
			      rc);
		}
		vmh_close(h);
	}
	unlink_all(dir);
}

int main(int argc, char **argv)
{
	char arm[512], riscv[512], limits[512];
	const char *tmp = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(arm, sizeof arm, "%s/vmh-test-arm-%ld", tmp, (long)getpid());
	snprintf(riscv, sizeof riscv, "%s/vmh-test-riscv-%ld", tmp, (long)getpid());
	test_arm(arm);
	test_riscv(riscv);
	snprintf(limits, sizeof limits, "%s/vmh-test-limits-%ld", tmp, (long)getpid());
	test_limits(limits);
	rmdir(limits);

	char buffer[256];
	memset(buffer, 1, sizeof buffer);
	vmh_clean_dcache(buffer, sizeof buffer);
	CHECK(buffer[100] == 1, "cache maintenance leaves the bytes");
	CHECK(vmh_abi_version() == 0x10000, "abi version");

	const char *files[] = {"memory.img", "monitor.json", "monitor.lock", "initrd.bin"};
	for (int d = 0; d < 2; d++) {
		char path[700];
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			snprintf(path, sizeof path, "%s/%s", d ? riscv : arm, files[i]);
			unlink(path);
		}
		rmdir(d ? riscv : arm);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
