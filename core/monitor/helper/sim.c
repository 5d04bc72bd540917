/*
 * The sim backend: the reference model of monitor ABI 1.0. See sim.h and
 * docs/monitor-abi.md ("The rules", "Rule violations and their codes",
 * "Partition-originated calls", "The sim backend").
 */
#define _GNU_SOURCE
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cJSON.h"
#include "vm_abi.h"

#define MAX_LIST 512	  /* cores, RAM ranges, device ranges of a platform */
#define MAX_PARTITIONS 64 /* the sim's partition table */
#define MAX_PART_CORES 256
#define MAX_PART_DEVICES 64
#define GRANULE 0x1000u

enum arch { ARCH_ARMV7, ARCH_ARMV8, ARCH_RISCV };

/* The refusals, by meaning; code() gives each family's number. */
enum err {
	OK,
	E_NOT_SUPPORTED,
	E_INVALID_PARAM,
	E_DENIED,
	E_ALREADY,	   /* ALREADY_ON / SBI_ERR_ALREADY_AVAILABLE */
	E_ALREADY_STARTED, /* ALREADY_ON / SBI_ERR_ALREADY_STARTED */
	E_INVALID_STATE,   /* DENIED / SBI_ERR_INVALID_STATE */
	E_FAILED,
	E_NOT_PRESENT, /* NOT_PRESENT / SBI_ERR_INVALID_PARAM */
	E_INVALID_ADDRESS,
};

struct range {
	uint64_t base, size;
	int shared;
};

struct list {
	uint64_t hwids[MAX_LIST];
	int ncores;
	struct range memory[MAX_LIST];
	int nmemory;
	struct range devices[MAX_LIST];
	int ndevices;
};

struct core {
	uint64_t hwid, entry, context;
	int on;
};

struct partition {
	uint32_t id;
	uint32_t state; /* VM_STATE_* */
	struct core cores[MAX_PART_CORES];
	int ncores;
	int has_memory;
	struct range memory;
	struct range devices[MAX_PART_DEVICES];
	int ndevices;
};

struct vm_sim {
	char dir[4096];
	int lock_fd, memory_fd;
	cJSON *platform;
	/* the platform, decoded */
	char board[256];
	enum arch arch;
	int sbi;
	uint64_t function_base, sbi_extension, ram_base, ram_end;
	struct list board_res, management, monitor;
	/* the table, loaded for each request */
	struct partition parts[MAX_PARTITIONS];
	int nparts;
	char *reason; /* where the current request explains a refusal */
	size_t reasonlen;
};

void vm_say(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (!msg || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

#define WHY(sim, ...) vm_say((sim)->reason, (sim)->reasonlen, __VA_ARGS__)

static int32_t code(const struct vm_sim *sim, enum err e)
{
	static const int32_t psci[] = {0, -1, -2, -3, -4, -4, -3, -6, -7, -9};
	static const int32_t sbi[] = {0, -2, -3, -4, -6, -7, -10, -1, -3, -5};
	return sim->sbi ? sbi[e] : psci[e];
}

/* The errno the driver reports with a monitor code (the ABI's code table). */
static int errno_of(const struct vm_sim *sim, int32_t c)
{
	if (sim->sbi) {
		switch (c) {
		case -2: return EOPNOTSUPP;
		case -3: return EINVAL;
		case -4: return EPERM;
		case -6:
		case -7: return EEXIST;
		case -10: return EBUSY;
		case -5: return ERANGE;
		default: return EIO;
		}
	}
	switch (c) {
	case -1: return EOPNOTSUPP;
	case -2: return EINVAL;
	case -3: return EPERM;
	case -4: return EEXIST;
	case -5: return EBUSY;
	case -7: return ENOENT;
	case -9: return ERANGE;
	default: return EIO;
	}
}

/* ---- JSON ---------------------------------------------------------------- */

static uint64_t hex(const cJSON *item)
{
	return cJSON_IsString(item) ? strtoull(item->valuestring, NULL, 16) : 0;
}

static cJSON *hexval(uint64_t v)
{
	char text[24];
	snprintf(text, sizeof text, "0x%" PRIx64, v);
	return cJSON_CreateString(text);
}

/*
 * The sim's tables have fixed room; a list longer than its room is refused (EINVAL,
 * naming the list and the limit), never cut short.
 */
static int too_many(const cJSON *array, int max, const char *what, char *msg, size_t msglen)
{
	int n = cJSON_GetArraySize(array); /* 0 for NULL; an object's members count too */
	if (n <= max)
		return 0;
	vm_say(msg, msglen, "%s has %d entries, more than the sim's limit of %d", what, n, max);
	return -EINVAL;
}

/* Reads a list of ranges into `out`: their number, or -EINVAL when more than `max`. */
static int read_ranges(const cJSON *array, struct range *out, int max, const char *what, char *msg,
		       size_t msglen)
{
	int n = too_many(array, max, what, msg, msglen);
	const cJSON *item;
	if (n < 0)
		return n;
	cJSON_ArrayForEach(item, array)
	{
		out[n].base = hex(cJSON_GetObjectItemCaseSensitive(item, "base"));
		out[n].size = hex(cJSON_GetObjectItemCaseSensitive(item, "size"));
		out[n].shared = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "shared"));
		n++;
	}
	return n;
}

/* Reads a list of hwids into `out`: their number, or -EINVAL when more than `max`. */
static int read_hwids(const cJSON *array, uint64_t *out, int max, const char *what, char *msg,
		      size_t msglen)
{
	int n = too_many(array, max, what, msg, msglen);
	const cJSON *item;
	if (n < 0)
		return n;
	cJSON_ArrayForEach(item, array)
		out[n++] = hex(item);
	return n;
}

/* Reads `obj`'s cores, memory and devices (`name` says whose, for messages). */
static int read_list(const cJSON *obj, struct list *l, const char *name, char *msg, size_t msglen)
{
	char what[3][64];
	snprintf(what[0], sizeof what[0], "%s cores", name);
	snprintf(what[1], sizeof what[1], "%s memory", name);
	snprintf(what[2], sizeof what[2], "%s devices", name);
	l->ncores = read_hwids(cJSON_GetObjectItemCaseSensitive(obj, "cores"), l->hwids, MAX_LIST,
			       what[0], msg, msglen);
	if (l->ncores < 0)
		return l->ncores;
	l->nmemory = read_ranges(cJSON_GetObjectItemCaseSensitive(obj, "memory"), l->memory,
				 MAX_LIST, what[1], msg, msglen);
	if (l->nmemory < 0)
		return l->nmemory;
	l->ndevices = read_ranges(cJSON_GetObjectItemCaseSensitive(obj, "devices"), l->devices,
				  MAX_LIST, what[2], msg, msglen);
	return l->ndevices < 0 ? l->ndevices : 0;
}

static int decode_platform(struct vm_sim *sim, char *msg, size_t msglen)
{
	const cJSON *p = sim->platform;
	const cJSON *board = cJSON_GetObjectItemCaseSensitive(p, "board");
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(p, "arch");
	const cJSON *iface = cJSON_GetObjectItemCaseSensitive(p, "interface");
	if (!cJSON_IsString(board) || !cJSON_IsString(arch) || !cJSON_IsString(iface)) {
		vm_say(msg, msglen, "the platform has no board, arch or interface");
		return -EINVAL;
	}
	snprintf(sim->board, sizeof sim->board, "%s", board->valuestring);
	if (strcmp(arch->valuestring, "armv7") == 0)
		sim->arch = ARCH_ARMV7;
	else if (strcmp(arch->valuestring, "armv8") == 0)
		sim->arch = ARCH_ARMV8;
	else if (strcmp(arch->valuestring, "riscv") == 0)
		sim->arch = ARCH_RISCV;
	else {
		vm_say(msg, msglen, "the platform's arch '%s' is not armv7, armv8 or riscv",
		    arch->valuestring);
		return -EINVAL;
	}
	sim->sbi = strcmp(iface->valuestring, "sbi") == 0;
	sim->function_base = hex(cJSON_GetObjectItemCaseSensitive(p, "functionBase"));
	if (!sim->function_base)
		sim->function_base = 0x5600;
	sim->sbi_extension = hex(cJSON_GetObjectItemCaseSensitive(p, "sbiExtension"));
	if (!sim->sbi_extension)
		sim->sbi_extension = 0x0A00564D;
	sim->ram_base = hex(cJSON_GetObjectItemCaseSensitive(p, "ramBase"));
	int rc = read_list(p, &sim->board_res, "the platform's", msg, msglen);
	if (rc < 0)
		return rc;
	sim->board_res.nmemory = read_ranges(cJSON_GetObjectItemCaseSensitive(p, "ram"),
					     sim->board_res.memory, MAX_LIST, "the platform's ram",
					     msg, msglen);
	if (sim->board_res.nmemory < 0)
		return sim->board_res.nmemory;
	rc = read_list(cJSON_GetObjectItemCaseSensitive(p, "management"), &sim->management,
		       "the management partition's", msg, msglen);
	if (rc < 0)
		return rc;
	rc = read_list(cJSON_GetObjectItemCaseSensitive(p, "monitor"), &sim->monitor,
		       "the monitor's", msg, msglen);
	if (rc < 0)
		return rc;
	sim->ram_end = sim->ram_base;
	for (int i = 0; i < sim->board_res.nmemory; i++) {
		const struct range *r = &sim->board_res.memory[i];
		if (r->base < sim->ram_base) {
			vm_say(msg, msglen, "RAM at 0x%" PRIx64 " is below ramBase", r->base);
			return -EINVAL;
		}
		if (r->base + r->size > sim->ram_end)
			sim->ram_end = r->base + r->size;
	}
	if (sim->board_res.nmemory == 0) {
		vm_say(msg, msglen, "the platform has no RAM");
		return -EINVAL;
	}
	return 0;
}

static const char *state_name(uint32_t s)
{
	return s == VM_STATE_RUNNING ? "running" : s == VM_STATE_STOPPED ? "stopped" : "configured";
}

static int path_of(const struct vm_sim *sim, char *out, size_t len, const char *name)
{
	int n = snprintf(out, len, "%s/%s", sim->dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Largest monitor.json read: far above any real platform description. */
#define MAX_TEXT_BYTES (64 << 20)

/*
 * Reads a regular file of at most MAX_TEXT_BYTES, NUL-terminated. Opened with
 * O_NONBLOCK, so a FIFO in its place does not block; it is then refused (EINVAL),
 * as is a larger file (EFBIG).
 */
static char *read_text(const char *path, int *err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *text;
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_TEXT_BYTES) {
		*err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		close(fd);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		*err = ENOMEM;
		return NULL;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n <= 0) {
			*err = n < 0 ? errno : EIO;
			free(text);
			close(fd);
			return NULL;
		}
		got += (size_t)n;
	}
	text[got] = 0;
	close(fd);
	return text;
}

/* Loads the partition table from monitor.json. */
static int load(struct vm_sim *sim, char *msg, size_t msglen)
{
	char path[4200];
	int err = 0;
	path_of(sim, path, sizeof path, "monitor.json");
	char *text = read_text(path, &err);
	if (!text) {
		vm_say(msg, msglen, "reading %s: %s", path, strerror(err));
		return -err;
	}
	cJSON *doc = cJSON_Parse(text);
	free(text);
	if (!doc) {
		vm_say(msg, msglen, "%s is not JSON", path);
		return -EINVAL;
	}
	sim->nparts = 0;
	char what[64] = "monitor.json's partitions";
	const cJSON *partitions = cJSON_GetObjectItemCaseSensitive(doc, "partitions");
	int rc = too_many(partitions, MAX_PARTITIONS, what, msg, msglen);
	const cJSON *item;
	cJSON_ArrayForEach(item, partitions)
	{
		if (rc < 0)
			break;
		struct partition *p = &sim->parts[sim->nparts++];
		memset(p, 0, sizeof *p);
		p->id = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(item, "id"));
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "state"));
		p->state = state && strcmp(state, "running") == 0   ? VM_STATE_RUNNING
			   : state && strcmp(state, "stopped") == 0 ? VM_STATE_STOPPED
								    : VM_STATE_CONFIGURED;
		snprintf(what, sizeof what, "partition %" PRIu32 "'s cores", p->id);
		const cJSON *cores = cJSON_GetObjectItemCaseSensitive(item, "cores");
		rc = too_many(cores, MAX_PART_CORES, what, msg, msglen);
		if (rc < 0)
			break;
		const cJSON *c;
		cJSON_ArrayForEach(c, cores)
		{
			struct core *core = &p->cores[p->ncores++];
			core->hwid = hex(cJSON_GetObjectItemCaseSensitive(c, "hwid"));
			const char *power =
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "power"));
			core->on = power && strcmp(power, "on") == 0;
			core->entry = hex(cJSON_GetObjectItemCaseSensitive(c, "entry"));
			core->context = hex(cJSON_GetObjectItemCaseSensitive(c, "context"));
		}
		const cJSON *memory = cJSON_GetObjectItemCaseSensitive(item, "memory");
		if (cJSON_IsObject(memory)) {
			p->has_memory = 1;
			p->memory.base = hex(cJSON_GetObjectItemCaseSensitive(memory, "base"));
			p->memory.size = hex(cJSON_GetObjectItemCaseSensitive(memory, "size"));
		}
		snprintf(what, sizeof what, "partition %" PRIu32 "'s devices", p->id);
		p->ndevices = read_ranges(cJSON_GetObjectItemCaseSensitive(item, "devices"), p->devices,
					  MAX_PART_DEVICES, what, msg, msglen);
		if (p->ndevices < 0)
			rc = p->ndevices;
	}
	cJSON_Delete(doc);
	if (rc < 0)
		sim->nparts = 0;
	return rc < 0 ? rc : 0;
}

static cJSON *range_json(const struct range *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "base", hexval(r->base));
	cJSON_AddItemToObject(o, "size", hexval(r->size));
	return o;
}

/*
 * Replaces monitor.json atomically: a temporary file, then rename. Not fsynced: the
 * table a real monitor keeps in its own memory does not survive a power loss either,
 * and a killed process leaves the old table or the new one, never a torn one. (On
 * ext4 vmanager's own fsync of state.json, after its monitor calls, commits these
 * renames too.)
 */
static int save(struct vm_sim *sim, char *msg, size_t msglen)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "format", 1);
	cJSON_AddStringToObject(doc, "abi", "1.0");
	cJSON_AddItemToObject(doc, "platform", cJSON_Duplicate(sim->platform, 1));
	cJSON *parts = cJSON_AddArrayToObject(doc, "partitions");
	for (int i = 0; i < sim->nparts; i++) {
		const struct partition *p = &sim->parts[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", p->id);
		cJSON_AddStringToObject(o, "state", state_name(p->state));
		cJSON *cores = cJSON_AddArrayToObject(o, "cores");
		for (int c = 0; c < p->ncores; c++) {
			cJSON *core = cJSON_CreateObject();
			cJSON_AddItemToObject(core, "hwid", hexval(p->cores[c].hwid));
			cJSON_AddStringToObject(core, "power", p->cores[c].on ? "on" : "off");
			if (p->cores[c].on) {
				cJSON_AddItemToObject(core, "entry", hexval(p->cores[c].entry));
				cJSON_AddItemToObject(core, "context", hexval(p->cores[c].context));
			}
			cJSON_AddItemToArray(cores, core);
		}
		cJSON_AddItemToObject(o, "memory",
				      p->has_memory ? range_json(&p->memory) : cJSON_CreateNull());
		cJSON *devices = cJSON_AddArrayToObject(o, "devices");
		for (int d = 0; d < p->ndevices; d++)
			cJSON_AddItemToArray(devices, range_json(&p->devices[d]));
		cJSON_AddItemToArray(parts, o);
	}
	char *text = cJSON_Print(doc);
	cJSON_Delete(doc);
	if (!text) {
		vm_say(msg, msglen, "out of memory writing monitor.json");
		return -ENOMEM;
	}
	char tmp[4300], path[4200];
	snprintf(tmp, sizeof tmp, "%s/monitor.json.%ld.tmp", sim->dir, (long)getpid());
	path_of(sim, path, sizeof path, "monitor.json");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;
	if (fd < 0) {
		err = errno;
	} else {
		size_t len = strlen(text), done = 0;
		while (done < len && !err) {
			ssize_t n = write(fd, text + done, len - done);
			if (n < 0)
				err = errno;
			else
				done += (size_t)n;
		}
		if (!err && write(fd, "\n", 1) != 1)
			err = errno ? errno : EIO;
		close(fd);
		if (!err && rename(tmp, path) < 0)
			err = errno;
		if (err)
			unlink(tmp);
	}
	free(text);
	if (err) {
		vm_say(msg, msglen, "writing %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/* ---- opening ------------------------------------------------------------- */

struct vm_sim *vm_sim_open(const char *state_dir, const char *platform_json, char *msg,
			   size_t msglen)
{
	struct vm_sim *sim = calloc(1, sizeof *sim);
	char path[4200];
	int err = 0;
	if (!sim) {
		vm_say(msg, msglen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	sim->lock_fd = sim->memory_fd = -1;
	if (snprintf(sim->dir, sizeof sim->dir, "%s", state_dir) >= (int)sizeof sim->dir) {
		vm_say(msg, msglen, "state dir path too long");
		err = ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
		err = errno;
		vm_say(msg, msglen, "making %s: %s", state_dir, strerror(err));
		goto fail;
	}
	path_of(sim, path, sizeof path, "monitor.lock");
	sim->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sim->lock_fd < 0 || flock(sim->lock_fd, LOCK_EX) < 0) {
		err = errno;
		vm_say(msg, msglen, "locking %s: %s", path, strerror(err));
		goto fail;
	}
	cJSON *given = NULL;
	if (platform_json) {
		given = cJSON_Parse(platform_json);
		if (!cJSON_IsObject(given)) {
			cJSON_Delete(given);
			vm_say(msg, msglen, "the platform description is not a JSON object");
			err = EINVAL;
			goto unlock;
		}
	}
	path_of(sim, path, sizeof path, "monitor.json");
	char *text = read_text(path, &err);
	if (text) {
		cJSON *doc = cJSON_Parse(text);
		free(text);
		cJSON *stored = cJSON_DetachItemFromObjectCaseSensitive(doc, "platform");
		cJSON_Delete(doc);
		if (!cJSON_IsObject(stored)) {
			cJSON_Delete(given);
			cJSON_Delete(stored);
			vm_say(msg, msglen, "%s has no platform", path);
			err = EINVAL;
			goto unlock;
		}
		if (given && !cJSON_Compare(given, stored, 1)) {
			const char *was = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(stored, "board"));
			const char *is = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(given, "board"));
			vm_say(msg, msglen, "%s was made for %s%s%s, not this board's description", path,
			    was ? "board " : "another board", was ? was : "",
			    was && is && strcmp(was, is) == 0 ? " as it was described then" : "");
			cJSON_Delete(given);
			cJSON_Delete(stored);
			err = EINVAL;
			goto unlock;
		}
		cJSON_Delete(given);
		sim->platform = stored;
		err = -decode_platform(sim, msg, msglen);
		if (err)
			goto unlock;
	} else if (err == ENOENT && given) {
		sim->platform = given;
		err = -decode_platform(sim, msg, msglen);
		if (err)
			goto unlock;
		sim->nparts = 0;
		err = -save(sim, msg, msglen);
		if (err)
			goto unlock;
	} else {
		cJSON_Delete(given);
		vm_say(msg, msglen, "reading %s: %s", path, strerror(err));
		goto unlock;
	}
	path_of(sim, path, sizeof path, "memory.img");
	sim->memory_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	uint64_t size = sim->ram_end - sim->ram_base;
	if (sim->memory_fd < 0 || fstat(sim->memory_fd, &st) < 0 ||
	    ((uint64_t)st.st_size < size && ftruncate(sim->memory_fd, (off_t)size) < 0)) {
		err = errno;
		vm_say(msg, msglen, "making %s (%" PRIu64 " bytes, sparse): %s", path, size,
		    strerror(err));
		goto unlock;
	}
	flock(sim->lock_fd, LOCK_UN);
	return sim;
unlock:
	flock(sim->lock_fd, LOCK_UN);
fail:
	vm_sim_close(sim);
	errno = err;
	return NULL;
}

void vm_sim_close(struct vm_sim *sim)
{
	if (!sim)
		return;
	if (sim->lock_fd >= 0)
		close(sim->lock_fd);
	if (sim->memory_fd >= 0)
		close(sim->memory_fd);
	cJSON_Delete(sim->platform);
	free(sim);
}

int vm_sim_memory_fd(const struct vm_sim *sim)
{
	return sim->memory_fd;
}

uint64_t vm_sim_ram_base(const struct vm_sim *sim)
{
	return sim->ram_base;
}

/* ---- the rules ----------------------------------------------------------- */

static int inside(uint64_t base, uint64_t size, const struct range *r)
{
	return base >= r->base && size <= r->size && base - r->base <= r->size - size;
}

static int overlaps(uint64_t base, uint64_t size, const struct range *r)
{
	return base < r->base + r->size && r->base < base + size;
}

static struct partition *find(struct vm_sim *sim, uint32_t id)
{
	for (int i = 0; i < sim->nparts; i++)
		if (sim->parts[i].id == id)
			return &sim->parts[i];
	return NULL;
}

static int board_has_core(const struct vm_sim *sim, uint64_t hwid)
{
	for (int i = 0; i < sim->board_res.ncores; i++)
		if (sim->board_res.hwids[i] == hwid)
			return 1;
	return 0;
}

static int list_has_core(const struct list *l, uint64_t hwid)
{
	for (int i = 0; i < l->ncores; i++)
		if (l->hwids[i] == hwid)
			return 1;
	return 0;
}

static struct core *core_of(struct partition *p, uint64_t hwid)
{
	for (int i = 0; i < p->ncores; i++)
		if (p->cores[i].hwid == hwid)
			return &p->cores[i];
	return NULL;
}

/* The partition that owns a core, or NULL. */
static struct partition *owner_of(struct vm_sim *sim, uint64_t hwid)
{
	for (int i = 0; i < sim->nparts; i++)
		if (core_of(&sim->parts[i], hwid))
			return &sim->parts[i];
	return NULL;
}

static int any_on(const struct partition *p)
{
	for (int i = 0; i < p->ncores; i++)
		if (p->cores[i].on)
			return 1;
	return 0;
}

static void stop_all(struct partition *p)
{
	for (int i = 0; i < p->ncores; i++)
		p->cores[i].on = 0;
	p->state = VM_STATE_STOPPED;
}

/* The platform device range holding [base, base + size), or NULL. */
static const struct range *platform_device(const struct vm_sim *sim, uint64_t base, uint64_t size)
{
	for (int i = 0; i < sim->board_res.ndevices; i++)
		if (inside(base, size, &sim->board_res.devices[i]))
			return &sim->board_res.devices[i];
	return NULL;
}

static struct range rounded(uint64_t base, uint64_t size)
{
	struct range r;
	r.base = base & ~(uint64_t)(GRANULE - 1);
	r.size = ((base + size + GRANULE - 1) & ~(uint64_t)(GRANULE - 1)) - r.base;
	r.shared = 0;
	return r;
}

/* Whether a held device range conflicts with a new one (rule 3). */
static int device_conflict(const struct vm_sim *sim, const struct range *mine, const struct range *held)
{
	struct range a = rounded(mine->base, mine->size), b = rounded(held->base, held->size);
	if (!overlaps(a.base, a.size, &b))
		return 0;
	const struct range *pa = platform_device(sim, mine->base, mine->size);
	const struct range *pb = platform_device(sim, held->base, held->size);
	return !(pa && pa == pb && pa->shared);
}

static uint64_t entry_alignment(const struct vm_sim *sim, uint64_t entry)
{
	if (sim->arch == ARCH_RISCV)
		return 2;
	if (sim->arch == ARCH_ARMV7 && (entry & 1))
		return 1; /* T32: bit 0 selects the instruction set, the address is entry - 1 */
	return 4;
}

static uint64_t entry_address(const struct vm_sim *sim, uint64_t entry)
{
	return sim->arch == ARCH_ARMV7 ? entry & ~(uint64_t)1 : entry;
}

/* An Arm hwid with bits outside the MPIDR affinity fields. */
static int bad_hwid(const struct vm_sim *sim, uint64_t hwid)
{
	if (sim->arch == ARCH_ARMV8)
		return (hwid & ~(uint64_t)0xFF00FFFFFFull) != 0;
	if (sim->arch == ARCH_ARMV7)
		return (hwid & ~(uint64_t)0xFFFFFFull) != 0;
	return 0;
}

enum fn {
	FN_VERSION,
	FN_CREATE,
	FN_DESTROY,
	FN_ADD_CORE,
	FN_ADD_MEMORY,
	FN_ADD_DEVICE,
	FN_CORE_START,
	FN_STOP,
	FN_STATUS,
	FN_FEATURES,
	FN_MEMORY_ACCESS,
	FN_COUNT
};

/*
 * One function of the ABI, called by partition `caller` (0: the management
 * partition), with the checks in the ABI's order. Sets *changed when the table changed.
 */
static enum err abi_call(struct vm_sim *sim, uint32_t caller, unsigned n, const uint64_t a[4],
			 uint64_t *value, int *changed)
{
	*value = 0;
	if (n >= FN_COUNT) {
		WHY(sim, "function %u is not implemented", n);
		return E_NOT_SUPPORTED;
	}
	if (caller != 0) {
		WHY(sim, "partition %" PRIu32 " may not call the management functions", caller);
		return E_DENIED;
	}
	int has_id = n != FN_VERSION && n != FN_FEATURES;
	if (has_id && (a[0] >> 32) != 0) {
		WHY(sim, "partition id 0x%" PRIx64 " has bits 63:32 set", a[0]);
		return E_INVALID_PARAM;
	}
	if ((n == FN_ADD_CORE || n == FN_CORE_START) && bad_hwid(sim, a[1])) {
		WHY(sim, "hwid 0x%" PRIx64 " has bits outside the MPIDR affinity fields", a[1]);
		return E_INVALID_PARAM;
	}
	uint32_t id = (uint32_t)a[0];
	if (has_id && id == 0) {
		if (n == FN_STATUS) {
			*value = VM_STATE_RUNNING;
			return OK;
		}
		WHY(sim, "partition 0 is the management partition");
		return E_DENIED;
	}
	struct partition *p = has_id ? find(sim, id) : NULL;
	if (has_id && !p && n != FN_CREATE) {
		if (n == FN_STATUS) {
			*value = VM_STATE_ABSENT;
			return OK;
		}
		WHY(sim, "partition %" PRIu32 " does not exist", id);
		return E_NOT_PRESENT;
	}
	int running = p && p->state == VM_STATE_RUNNING;
	switch (n) {
	case FN_VERSION:
		*value = VM_ABI_VERSION;
		return OK;
	case FN_FEATURES:
		if (a[0] >= FN_COUNT) {
			WHY(sim, "function %" PRIu64 " is not implemented", a[0]);
			return E_NOT_SUPPORTED;
		}
		return OK;
	case FN_STATUS:
		*value = p->state;
		return OK;
	case FN_CREATE:
		if (p) {
			WHY(sim, "partition %" PRIu32 " exists", id);
			return E_ALREADY;
		}
		if (sim->nparts == MAX_PARTITIONS) {
			WHY(sim, "the partition table is full (%d)", MAX_PARTITIONS);
			return E_FAILED;
		}
		{
			int at = sim->nparts;
			while (at > 0 && sim->parts[at - 1].id > id) {
				sim->parts[at] = sim->parts[at - 1];
				at--;
			}
			memset(&sim->parts[at], 0, sizeof sim->parts[at]);
			sim->parts[at].id = id;
			sim->parts[at].state = VM_STATE_CONFIGURED;
			sim->nparts++;
		}
		*changed = 1;
		return OK;
	case FN_DESTROY:
		if (running) {
			WHY(sim, "partition %" PRIu32 " is running: stop it first", id);
			return E_INVALID_STATE;
		}
		if (p->has_memory) {
			off_t off = (off_t)(p->memory.base - sim->ram_base);
			if (fallocate(sim->memory_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
				      (off_t)p->memory.size) < 0) {
				static const char zeros[65536];
				for (uint64_t done = 0; done < p->memory.size;) {
					uint64_t n2 = p->memory.size - done;
					size_t chunk = n2 < sizeof zeros ? (size_t)n2 : sizeof zeros;
					if (pwrite(sim->memory_fd, zeros, chunk, off + (off_t)done) <= 0) {
						WHY(sim, "zeroing the window: %s", strerror(errno));
						return E_FAILED;
					}
					done += chunk;
				}
			}
		}
		{
			int at = (int)(p - sim->parts);
			memmove(&sim->parts[at], &sim->parts[at + 1],
				(size_t)(sim->nparts - at - 1) * sizeof sim->parts[0]);
			sim->nparts--;
		}
		*changed = 1;
		return OK;
	case FN_ADD_CORE: {
		uint64_t hwid = a[1];
		if (running) {
			WHY(sim, "partition %" PRIu32 " is running", id);
			return E_INVALID_STATE;
		}
		if (!board_has_core(sim, hwid)) {
			WHY(sim, "core 0x%" PRIx64 " is not a core of board %s", hwid, sim->board);
			return E_INVALID_PARAM;
		}
		if (core_of(p, hwid)) {
			WHY(sim, "core 0x%" PRIx64 " is already partition %" PRIu32 "'s", hwid, id);
			return E_ALREADY;
		}
		struct partition *owner = owner_of(sim, hwid);
		if (owner || list_has_core(&sim->management, hwid) ||
		    list_has_core(&sim->monitor, hwid)) {
			if (owner)
				WHY(sim, "core 0x%" PRIx64 " belongs to partition %" PRIu32, hwid,
				    owner->id);
			else
				WHY(sim, "core 0x%" PRIx64 " belongs to the %s", hwid,
				    list_has_core(&sim->monitor, hwid) ? "monitor"
								       : "management partition");
			return E_DENIED;
		}
		if (p->ncores == MAX_PART_CORES) {
			WHY(sim, "partition %" PRIu32 " has %d cores already", id, MAX_PART_CORES);
			return E_FAILED;
		}
		struct core *c = &p->cores[p->ncores++];
		memset(c, 0, sizeof *c);
		c->hwid = hwid;
		*changed = 1;
		return OK;
	}
	case FN_ADD_MEMORY: {
		uint64_t base = a[1], size = a[2];
		if (running) {
			WHY(sim, "partition %" PRIu32 " is running", id);
			return E_INVALID_STATE;
		}
		if (p->has_memory) {
			WHY(sim, "partition %" PRIu32 " already has a window", id);
			return E_ALREADY;
		}
		if (size == 0 || base % GRANULE || size % GRANULE || base + size < base) {
			WHY(sim, "window 0x%" PRIx64 "+0x%" PRIx64 " is empty, unaligned or overflows",
			    base, size);
			return E_INVALID_PARAM;
		}
		int in_ram = 0;
		for (int i = 0; i < sim->board_res.nmemory; i++)
			in_ram |= inside(base, size, &sim->board_res.memory[i]);
		if (!in_ram) {
			WHY(sim, "window 0x%" PRIx64 "+0x%" PRIx64 " is not inside one RAM range", base,
			    size);
			return E_INVALID_ADDRESS;
		}
		for (int i = 0; i < sim->nparts; i++) {
			const struct partition *o = &sim->parts[i];
			if (o != p && o->has_memory && overlaps(base, size, &o->memory)) {
				WHY(sim, "window overlaps partition %" PRIu32 "'s", o->id);
				return E_DENIED;
			}
		}
		for (int i = 0; i < sim->management.nmemory; i++)
			if (overlaps(base, size, &sim->management.memory[i])) {
				WHY(sim, "window overlaps the management partition's memory");
				return E_DENIED;
			}
		for (int i = 0; i < sim->monitor.nmemory; i++)
			if (overlaps(base, size, &sim->monitor.memory[i])) {
				WHY(sim, "window overlaps the monitor's memory");
				return E_DENIED;
			}
		p->has_memory = 1;
		p->memory.base = base;
		p->memory.size = size;
		*changed = 1;
		return OK;
	}
	case FN_ADD_DEVICE: {
		struct range r = {a[1], a[2], 0};
		if (running) {
			WHY(sim, "partition %" PRIu32 " is running", id);
			return E_INVALID_STATE;
		}
		if (r.size == 0 || r.base + r.size < r.base) {
			WHY(sim, "device range 0x%" PRIx64 "+0x%" PRIx64 " is empty or overflows", r.base,
			    r.size);
			return E_INVALID_PARAM;
		}
		if (!platform_device(sim, r.base, r.size)) {
			WHY(sim, "0x%" PRIx64 "+0x%" PRIx64 " is not inside a device range of board %s",
			    r.base, r.size, sim->board);
			return E_INVALID_ADDRESS;
		}
		for (int i = 0; i < p->ndevices; i++)
			if (p->devices[i].base == r.base && p->devices[i].size == r.size) {
				WHY(sim, "partition %" PRIu32 " already has 0x%" PRIx64 "+0x%" PRIx64, id,
				    r.base, r.size);
				return E_ALREADY;
			}
		for (int i = 0; i < sim->nparts; i++) {
			const struct partition *o = &sim->parts[i];
			for (int d = 0; o != p && d < o->ndevices; d++)
				if (device_conflict(sim, &r, &o->devices[d])) {
					WHY(sim, "0x%" PRIx64 "+0x%" PRIx64 " is held by partition %" PRIu32,
					    r.base, r.size, o->id);
					return E_DENIED;
				}
		}
		for (int d = 0; d < sim->management.ndevices; d++)
			if (device_conflict(sim, &r, &sim->management.devices[d])) {
				WHY(sim, "0x%" PRIx64 "+0x%" PRIx64 " is the management partition's",
				    r.base, r.size);
				return E_DENIED;
			}
		for (int d = 0; d < sim->monitor.ndevices; d++)
			if (device_conflict(sim, &r, &sim->monitor.devices[d])) {
				WHY(sim, "0x%" PRIx64 "+0x%" PRIx64 " is the monitor's", r.base, r.size);
				return E_DENIED;
			}
		if (p->ndevices == MAX_PART_DEVICES) {
			WHY(sim, "no protection entries left for partition %" PRIu32, id);
			return E_FAILED;
		}
		p->devices[p->ndevices++] = r;
		*changed = 1;
		return OK;
	}
	case FN_CORE_START: {
		uint64_t hwid = a[1], entry = a[2], context = a[3];
		if (!board_has_core(sim, hwid)) {
			WHY(sim, "core 0x%" PRIx64 " is not a core of board %s", hwid, sim->board);
			return E_INVALID_PARAM;
		}
		struct core *c = core_of(p, hwid);
		if (!c) {
			struct partition *owner = owner_of(sim, hwid);
			if (owner)
				WHY(sim, "core 0x%" PRIx64 " is partition %" PRIu32 "'s, not %" PRIu32,
				    hwid, owner->id, id);
			else
				WHY(sim, "core 0x%" PRIx64 " is not in partition %" PRIu32, hwid, id);
			return E_DENIED;
		}
		uint64_t at = entry_address(sim, entry);
		if (!p->has_memory || !inside(at, 1, &p->memory) ||
		    at % entry_alignment(sim, entry)) {
			if (!p->has_memory)
				WHY(sim, "partition %" PRIu32 " has no window", id);
			else
				WHY(sim,
				    "entry 0x%" PRIx64 " is outside the window 0x%" PRIx64 "+0x%" PRIx64
				    " or misaligned",
				    entry, p->memory.base, p->memory.size);
			return E_INVALID_ADDRESS;
		}
		if (c->on) {
			WHY(sim, "core 0x%" PRIx64 " is already on", hwid);
			return E_ALREADY_STARTED;
		}
		c->on = 1;
		c->entry = entry;
		c->context = context;
		p->state = VM_STATE_RUNNING;
		*changed = 1;
		return OK;
	}
	case FN_STOP:
		if (running) {
			stop_all(p);
			*changed = 1;
		}
		return OK;
	case FN_MEMORY_ACCESS: {
		uint64_t base = a[1], size = a[2];
		if (running) {
			WHY(sim, "partition %" PRIu32 " is running: its window cannot be written", id);
			return E_INVALID_STATE;
		}
		if (size == 0 || base + size < base) {
			WHY(sim, "range 0x%" PRIx64 "+0x%" PRIx64 " is empty or overflows", base, size);
			return E_INVALID_PARAM;
		}
		if (!p->has_memory || !inside(base, size, &p->memory)) {
			if (!p->has_memory)
				WHY(sim, "partition %" PRIu32 " has no window", id);
			else
				WHY(sim,
				    "0x%" PRIx64 "+0x%" PRIx64 " is outside the window 0x%" PRIx64
				    "+0x%" PRIx64,
				    base, size, p->memory.base, p->memory.size);
			return E_INVALID_ADDRESS;
		}
		return OK;
	}
	}
	return E_NOT_SUPPORTED;
}

/* ---- partition-originated calls ----------------------------------------- */

#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_SUSPEND 0x84000001u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0x84000003u
#define PSCI_AFFINITY_INFO 0x84000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000Au
#define SMC64 0x40000000u

#define SBI_BASE 0x10u
#define SBI_HSM 0x48534Du
#define SBI_SRST 0x53525354u

/* Arm: the ABI function number of a SiP function ID, or -1 (SMC64 IDs only where listed). */
static int abi_number(const struct vm_sim *sim, uint32_t fid)
{
	if ((fid & ~(SMC64 | 0xFFFFu)) != 0x82000000u)
		return -1;
	uint32_t low = fid & 0xFFFFu;
	if (low < sim->function_base || low > sim->function_base + 10)
		return -1;
	int n = (int)(low - sim->function_base);
	if ((fid & SMC64) && n != FN_ADD_CORE && n != FN_ADD_MEMORY && n != FN_ADD_DEVICE &&
	    n != FN_CORE_START && n != FN_MEMORY_ACCESS)
		return -1;
	return n;
}

static int psci_implemented(const struct vm_sim *sim, uint32_t fid)
{
	switch (fid) {
	case PSCI_VERSION:
	case PSCI_FEATURES:
	case PSCI_CPU_ON:
	case PSCI_CPU_ON | SMC64:
	case PSCI_CPU_OFF:
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO | SMC64:
	case PSCI_MIGRATE_INFO_TYPE:
	case PSCI_SYSTEM_OFF:
	case PSCI_SYSTEM_RESET:
		return 1;
	}
	return abi_number(sim, fid) >= 0;
}

/* The window of the caller's partition (management: each of its memory ranges). */
static int in_caller_memory(const struct vm_sim *sim, const struct partition *p, uint64_t addr)
{
	if (p)
		return p->has_memory && inside(addr, 1, &p->memory);
	for (int i = 0; i < sim->management.nmemory; i++)
		if (inside(addr, 1, &sim->management.memory[i]))
			return 1;
	return 0;
}

/* CPU_ON / hart_start from partition p (NULL: the management partition). */
static enum err start_from(struct vm_sim *sim, struct partition *p, uint64_t target, uint64_t entry,
			   uint64_t context, int *changed)
{
	struct core *c = p ? core_of(p, target) : NULL;
	if (p ? !c : !list_has_core(&sim->management, target)) {
		WHY(sim, "core 0x%" PRIx64 " is not a core of the caller's partition", target);
		return E_INVALID_PARAM;
	}
	if (!in_caller_memory(sim, p, entry_address(sim, entry))) {
		WHY(sim, "entry 0x%" PRIx64 " is outside the caller's window", entry);
		return E_INVALID_ADDRESS;
	}
	if (!c || c->on) {
		WHY(sim, "core 0x%" PRIx64 " is already on", target);
		return E_ALREADY; /* ALREADY_ON / SBI_ERR_ALREADY_AVAILABLE */
	}
	c->on = 1;
	c->entry = entry;
	c->context = context;
	*changed = 1;
	return OK;
}

/* The calling core goes off; the last one makes its partition STOPPED. */
static void core_off(struct partition *p, uint64_t hwid, int *changed)
{
	struct core *c = p ? core_of(p, hwid) : NULL;
	if (!c)
		return;
	c->on = 0;
	if (!any_on(p))
		p->state = VM_STATE_STOPPED;
	*changed = 1;
}

static void system_off(struct partition *p, int *changed)
{
	if (!p)
		return; /* the management partition's own business */
	stop_all(p);
	*changed = 1;
}

static int sim_call(struct vm_sim *sim, struct vm_sim_call *call, int *changed)
{
	uint64_t hwid = call->caller_hwid;
	struct partition *p = owner_of(sim, hwid);
	if (p ? !core_of(p, hwid)->on : !list_has_core(&sim->management, hwid)) {
		WHY(sim, "core 0x%" PRIx64 " is not on and not a management core", hwid);
		errno = EINVAL;
		return -1;
	}
	uint32_t caller = p ? p->id : 0;
	uint64_t a[6], value = 0;
	for (int i = 0; i < 6; i++)
		a[i] = call->args[i];
	enum err e = OK;
	int64_t raw = 0;
	int have_raw = 0;
	if (!sim->sbi) {
		uint32_t fid = call->fid;
		uint64_t m = (fid & SMC64) ? ~(uint64_t)0 : 0xFFFFFFFFull;
		uint64_t x[4] = {a[0] & m, a[1] & m, a[2] & m, a[3] & m};
		int n = abi_number(sim, fid);
		if (n >= 0) {
			if (n == FN_FEATURES)
				x[0] = abi_number(sim, (uint32_t)x[0]) >= 0
					       ? (uint64_t)abi_number(sim, (uint32_t)x[0])
					       : FN_COUNT;
			e = abi_call(sim, caller, (unsigned)n, x, &value, changed);
		} else
			switch (fid) {
			case PSCI_VERSION: value = 0x00010000; have_raw = 1; raw = 0x00010000; break;
			case PSCI_FEATURES:
				have_raw = 1;
				raw = psci_implemented(sim, (uint32_t)x[0]) ? 0 : -1;
				break;
			case PSCI_MIGRATE_INFO_TYPE: have_raw = 1; raw = 2; break;
			case PSCI_CPU_ON:
			case PSCI_CPU_ON | SMC64: e = start_from(sim, p, x[0], x[1], x[2], changed); break;
			case PSCI_CPU_OFF: core_off(p, hwid, changed); break;
			case PSCI_AFFINITY_INFO:
			case PSCI_AFFINITY_INFO | SMC64: {
				struct core *c = p ? core_of(p, x[0]) : NULL;
				if (p ? !c : !list_has_core(&sim->management, x[0])) {
					WHY(sim, "core 0x%" PRIx64 " is not a core of the caller's partition", x[0]);
					e = E_INVALID_PARAM;
				} else {
					have_raw = 1;
					raw = !c || c->on ? 0 : 1;
				}
				break;
			}
			case PSCI_SYSTEM_OFF:
			case PSCI_SYSTEM_RESET: system_off(p, changed); break;
			default:
				WHY(sim, "function 0x%" PRIx32 " is not implemented", fid);
				e = E_NOT_SUPPORTED;
			}
		call->ret[0] = have_raw ? (uint64_t)raw : (uint64_t)(int64_t)code(sim, e);
		call->ret[1] = have_raw ? 0 : e == OK ? value : 0;
		return 0;
	}
	if (call->eid == sim->sbi_extension) {
		e = abi_call(sim, caller, call->fid, a, &value, changed);
	} else if (call->eid == SBI_BASE && call->fid == 0) {
		value = 0x02000000;
	} else if (call->eid == SBI_BASE && call->fid == 3) {
		value = a[0] == SBI_BASE || a[0] == SBI_HSM || a[0] == SBI_SRST ||
			a[0] == sim->sbi_extension;
	} else if (call->eid == SBI_HSM && call->fid == 0) {
		e = start_from(sim, p, a[0], a[1], a[2], changed);
	} else if (call->eid == SBI_HSM && call->fid == 1) {
		core_off(p, hwid, changed);
	} else if (call->eid == SBI_HSM && call->fid == 2) {
		struct core *c = p ? core_of(p, a[0]) : NULL;
		if (p ? !c : !list_has_core(&sim->management, a[0])) {
			WHY(sim, "hart 0x%" PRIx64 " is not a hart of the caller's partition", a[0]);
			e = E_INVALID_PARAM;
		} else
			value = !c || c->on ? 0 : 1; /* STARTED, STOPPED */
	} else if (call->eid == SBI_SRST && call->fid == 0) {
		system_off(p, changed);
	} else {
		WHY(sim, "extension 0x%" PRIx32 " function %" PRIu32 " is not implemented", call->eid,
		    call->fid);
		e = E_NOT_SUPPORTED;
	}
	call->ret[0] = (uint64_t)(int64_t)code(sim, e);
	call->ret[1] = e == OK ? value : 0;
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

static int begin(struct vm_sim *sim, char *msg, size_t msglen)
{
	sim->reason = msg;
	sim->reasonlen = msglen;
	if (flock(sim->lock_fd, LOCK_EX) < 0) {
		int err = errno;
		vm_say(msg, msglen, "locking monitor.lock: %s", strerror(err));
		return -err;
	}
	int rc = load(sim, msg, msglen);
	if (rc < 0)
		flock(sim->lock_fd, LOCK_UN);
	return rc;
}

static int end(struct vm_sim *sim, int changed, char *msg, size_t msglen)
{
	int rc = changed ? save(sim, msg, msglen) : 0;
	flock(sim->lock_fd, LOCK_UN);
	return rc;
}

/* A function's result as a request's: 0, or -1 with errno and monitor_code. */
static int finish(struct vm_sim *sim, enum err e, int32_t *monitor_code)
{
	*monitor_code = code(sim, e);
	if (e == OK)
		return 0;
	errno = errno_of(sim, *monitor_code);
	return -1;
}

/* A request whose reserved field is not 0: EINVAL, no monitor code. */
static int refuse_reserved(int32_t *monitor_code, char *msg, size_t msglen)
{
	vm_say(msg, msglen, "reserved field is not 0");
	*monitor_code = 0;
	errno = EINVAL;
	return -1;
}

int vm_sim_ioctl(struct vm_sim *sim, unsigned long request, void *arg, char *msg, size_t msglen)
{
	int changed = 0, rc = begin(sim, msg, msglen);
	uint64_t value = 0, a[4] = {0, 0, 0, 0};
	enum err e = OK;
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	switch (request) {
	case VM_IOC_VERSION: {
		struct vm_version *v = arg;
		e = abi_call(sim, 0, FN_VERSION, a, &value, &changed);
		v->monitor_version = (uint32_t)value;
		v->interface_version = VM_INTERFACE_VERSION;
		v->code_family = sim->sbi ? VM_CODES_SBI : VM_CODES_PSCI;
		rc = finish(sim, e, &v->monitor_code);
		break;
	}
	case VM_IOC_PARTITION_CREATE:
	case VM_IOC_PARTITION_DESTROY:
	case VM_IOC_PARTITION_STOP: {
		struct vm_partition *s = arg;
		a[0] = s->id;
		e = abi_call(sim, 0,
			     request == VM_IOC_PARTITION_CREATE    ? FN_CREATE
			     : request == VM_IOC_PARTITION_DESTROY ? FN_DESTROY
								   : FN_STOP,
			     a, &value, &changed);
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_PARTITION_ADD_CORE: {
		struct vm_core *s = arg;
		a[0] = s->id;
		a[1] = s->hwid;
		e = abi_call(sim, 0, FN_ADD_CORE, a, &value, &changed);
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_PARTITION_ADD_MEMORY:
	case VM_IOC_PARTITION_ADD_DEVICE:
	case VM_IOC_MAP_WINDOW: {
		struct vm_range *s = arg;
		a[0] = s->id;
		a[1] = s->base;
		a[2] = s->size;
		e = abi_call(sim, 0,
			     request == VM_IOC_PARTITION_ADD_MEMORY   ? FN_ADD_MEMORY
			     : request == VM_IOC_PARTITION_ADD_DEVICE ? FN_ADD_DEVICE
								      : FN_MEMORY_ACCESS,
			     a, &value, &changed);
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_CORE_START: {
		struct vm_core_start *s = arg;
		a[0] = s->id;
		a[1] = s->hwid;
		a[2] = s->entry;
		a[3] = s->context;
		e = abi_call(sim, 0, FN_CORE_START, a, &value, &changed);
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_PARTITION_STATUS: {
		struct vm_status *s = arg;
		if (s->reserved) {
			rc = refuse_reserved(&s->monitor_code, msg, msglen);
			break;
		}
		a[0] = s->id;
		e = abi_call(sim, 0, FN_STATUS, a, &value, &changed);
		s->state = (uint32_t)value;
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_FEATURES: {
		struct vm_features *s = arg;
		if (s->reserved) {
			rc = refuse_reserved(&s->monitor_code, msg, msglen);
			break;
		}
		a[0] = s->function;
		e = abi_call(sim, 0, FN_FEATURES, a, &value, &changed);
		s->flags = 0;
		rc = finish(sim, e, &s->monitor_code);
		break;
	}
	case VM_IOC_SIM_CALL:
		rc = sim_call(sim, arg, &changed);
		break;
	default:
		vm_say(msg, msglen, "unknown request 0x%lx", request);
		errno = ENOTTY;
		rc = -1;
	}
	int saved = errno;
	int src = end(sim, changed, msg, msglen);
	if (src < 0) {
		errno = -src;
		return -1;
	}
	errno = saved;
	return rc;
}

int vm_sim_write(struct vm_sim *sim, uint32_t id, uint64_t address, const void *buf, int src_fd,
		 uint64_t src_off, uint64_t len, int32_t *monitor_code, char *msg, size_t msglen)
{
	int changed = 0, rc = begin(sim, msg, msglen);
	uint64_t value, a[4] = {id, address, len, 0};
	*monitor_code = 0;
	if (rc < 0)
		return rc;
	enum err e = abi_call(sim, 0, FN_MEMORY_ACCESS, a, &value, &changed);
	if (e != OK) {
		*monitor_code = code(sim, e);
		rc = -errno_of(sim, *monitor_code);
		goto out;
	}
	off_t out = (off_t)(address - sim->ram_base);
	uint64_t done = 0;
	if (buf) {
		while (done < len) {
			uint64_t left = len - done;
			size_t chunk = left > (1u << 30) ? (1u << 30) : (size_t)left;
			ssize_t n = pwrite(sim->memory_fd, (const char *)buf + done, chunk,
					   out + (off_t)done);
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				vm_say(msg, msglen, "writing memory.img: %s", strerror(-rc));
				goto out;
			}
			done += (uint64_t)n;
		}
		goto out;
	}
	/*
	 * A file: copied in the kernel (copy_file_range: from the source's page cache into
	 * memory.img's, nothing mapped into this process, so its resident memory does not
	 * grow with the file), else read and written in chunks.
	 */
	loff_t in_off = (loff_t)src_off, out_off = out;
	while (done < len) {
		uint64_t left = len - done;
		size_t chunk = left > (1u << 30) ? (1u << 30) : (size_t)left;
		ssize_t n = copy_file_range(src_fd, &in_off, sim->memory_fd, &out_off, chunk, 0);
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP || errno == EBADF))
			break;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			vm_say(msg, msglen, "copying into memory.img: %s",
			    n < 0 ? strerror(-rc) : "the file is shorter than it was");
			goto out;
		}
		done += (uint64_t)n;
	}
	if (done < len) {
		static __thread char chunk[1 << 20];
		while (done < len) {
			uint64_t left = len - done;
			size_t want = left > sizeof chunk ? sizeof chunk : (size_t)left;
			ssize_t n = pread(src_fd, chunk, want, (off_t)(src_off + done));
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				vm_say(msg, msglen, "reading the file: %s",
				    n < 0 ? strerror(-rc) : "it is shorter than it was");
				goto out;
			}
			for (ssize_t w = 0; w < n;) {
				ssize_t k = pwrite(sim->memory_fd, chunk + w, (size_t)(n - w),
						   out + (off_t)done + w);
				if (k <= 0) {
					rc = k < 0 ? -errno : -EIO;
					vm_say(msg, msglen, "writing memory.img: %s", strerror(-rc));
					goto out;
				}
				w += k;
			}
			done += (uint64_t)n;
		}
	}
out:
	end(sim, 0, NULL, 0);
	return rc;
}
