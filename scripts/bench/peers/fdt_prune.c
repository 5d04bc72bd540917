/*
 * The benchmark's C peer of vmanager's partition device tree, on libfdt (dtc's;
 * Debian's libfdt-dev): a read, prune and write of the same board blob.
 *
 *   fdt_prune BOARD.dtb OUT.dtb ROUNDS CORE_HWID... -- DEVICE_PATH...
 *
 * Each round:
 * - checks the blob (fdt_check_header) and walks every node and every property
 *   (fdt_next_node, fdt_for_each_property_offset, fdt_getprop_by_offset: name
 *   and value), noting each node's phandle (fdt_get_phandle);
 * - decides every node: a cpu node stays when its reg is one of CORE_HWID, a
 *   memory node goes, a node with reg on a bus (a parent with ranges) stays when
 *   its path is one of DEVICE_PATH, a cpu-map entry goes with its cpu, a bus or
 *   cpu-map cluster stays when something under it stays, anything else stays;
 * - writes the nodes that stay, with their properties, with libfdt's
 *   sequential-write API (fdt_create ... fdt_finish).
 * It does not follow or fix references, nor add /memory, /chosen or PSCI:
 * vmanager does more per round. It writes the last round's blob to OUT.dtb and
 * prints the mean milliseconds per round (CLOCK_MONOTONIC) and the number of
 * properties walked.
 */
#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PHANDLES 65536
#define MAX_PATH 1024

/* What stays: the partition's cores (hardware ids) and devices (paths). */
struct job {
	const uint32_t *hwids;
	int nhwids;
	char *const *devices;
	int ndevices;
	uint8_t *keep;    /* per structure-block offset: 1 when the node there stays */
	uint8_t *deleted; /* per phandle: 1 when its node goes */
};

static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	void *data = malloc(*size);
	if (data && fread(data, 1, *size, f) != *size) {
		free(data);
		data = NULL;
	}
	fclose(f);
	return data;
}

/* Walks every node and property; returns how many properties it read. */
static long walk(const void *fdt, int *phandles)
{
	long props = 0;
	int depth = 0;
	for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
		int prop;
		fdt_for_each_property_offset(prop, fdt, node) {
			const char *name;
			int len;
			if (fdt_getprop_by_offset(fdt, prop, &name, &len) && name)
				props++;
		}
		uint32_t ph = fdt_get_phandle(fdt, node);
		if (ph && ph < MAX_PHANDLES)
			phandles[ph] = node;
	}
	return props;
}

static int is_cpu(const void *fdt, int node)
{
	const char *type = fdt_getprop(fdt, node, "device_type", NULL);
	return type && strcmp(type, "cpu") == 0;
}

static int wanted_core(const void *fdt, int node, const struct job *job)
{
	int len;
	const fdt32_t *reg = fdt_getprop(fdt, node, "reg", &len);
	if (!reg || len < 4)
		return 0;
	uint32_t hwid = fdt32_to_cpu(reg[0]);
	for (int i = 0; i < job->nhwids; i++)
		if (job->hwids[i] == hwid)
			return 1;
	return 0;
}

static int wanted_device(const char *path, const struct job *job)
{
	for (int i = 0; i < job->ndevices; i++)
		if (strcmp(job->devices[i], path) == 0)
			return 1;
	return 0;
}

static int is_memory(const char *name)
{
	return strncmp(name, "memory", 6) == 0 && (name[6] == 0 || name[6] == '@');
}

/* A cpu-map entry whose cpu goes. */
static int entry_of_deleted_cpu(const void *fdt, int node, const struct job *job)
{
	int len;
	const fdt32_t *cpu = fdt_getprop(fdt, node, "cpu", &len);
	if (!cpu || len != 4)
		return 0;
	uint32_t ph = fdt32_to_cpu(cpu[0]);
	return ph < MAX_PHANDLES && job->deleted[ph];
}

/* Decides `node` (at `path`) and its subtree; returns whether it stays. */
static int decide(const void *fdt, int node, char *path, int on_bus, int in_map,
		  const struct job *job)
{
	const char *name = fdt_get_name(fdt, node, NULL);
	int keep;
	if (is_cpu(fdt, node)) {
		keep = wanted_core(fdt, node, job);
		uint32_t ph = fdt_get_phandle(fdt, node);
		if (!keep && ph && ph < MAX_PHANDLES)
			job->deleted[ph] = 1;
	} else if (node > 0 && is_memory(name)) {
		keep = 0;
	} else if (on_bus && fdt_getprop(fdt, node, "reg", NULL)) {
		keep = wanted_device(path, job);
	} else if (in_map && fdt_getprop(fdt, node, "cpu", NULL)) {
		keep = !entry_of_deleted_cpu(fdt, node, job);
	} else {
		int bus = fdt_getprop(fdt, node, "ranges", NULL) != NULL;
		int map = in_map || strcmp(name, "cpu-map") == 0;
		int any = 0, children = 0;
		size_t length = strlen(path);
		int child;
		fdt_for_each_subnode(child, fdt, node) {
			const char *child_name = fdt_get_name(fdt, child, NULL);
			snprintf(path + length, MAX_PATH - length, "%s%s", length > 1 ? "/" : "",
				 child_name);
			any |= decide(fdt, child, path, bus, map, job);
			children++;
		}
		path[length] = 0;
		keep = node == 0 || !(bus || map) || any || children == 0;
	}
	job->keep[node] = (uint8_t)keep;
	return keep;
}

/* Writes `node` and the nodes under it that stay. */
static int emit(const void *fdt, int node, void *out, const struct job *job)
{
	int err = fdt_begin_node(out, node == 0 ? "" : fdt_get_name(fdt, node, NULL));
	int prop;
	fdt_for_each_property_offset(prop, fdt, node) {
		const char *name;
		int len;
		const void *value = fdt_getprop_by_offset(fdt, prop, &name, &len);
		if (!err)
			err = fdt_property(out, name, value, len);
	}
	int child;
	fdt_for_each_subnode(child, fdt, node) {
		if (!err && job->keep[child])
			err = emit(fdt, child, out, job);
	}
	return err ? err : fdt_end_node(out);
}

/* One round: walk, decide, write into `out` (of `size` bytes). */
static int round_once(const void *blob, void *out, int size, struct job *job, long *props)
{
	static int phandles[MAX_PHANDLES];
	char path[MAX_PATH] = "/";
	if (fdt_check_header(blob) != 0)
		return -FDT_ERR_BADMAGIC;
	*props += walk(blob, phandles);
	memset(job->deleted, 0, MAX_PHANDLES);
	decide(blob, 0, path, 0, 0, job);
	int err = fdt_create(out, size);
	for (int i = 0; !err && i < fdt_num_mem_rsv(blob); i++) {
		uint64_t address, length;
		fdt_get_mem_rsv(blob, i, &address, &length);
		err = fdt_add_reservemap_entry(out, address, length);
	}
	if (!err)
		err = fdt_finish_reservemap(out);
	if (!err)
		err = emit(blob, 0, out, job);
	return err ? err : fdt_finish(out);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s BOARD.dtb OUT.dtb ROUNDS CORE_HWID... -- DEVICE_PATH...\n",
			argv[0]);
		return 2;
	}
	size_t size;
	void *blob = read_file(argv[1], &size);
	if (!blob || fdt_check_header(blob) != 0) {
		fprintf(stderr, "%s: not a device tree blob\n", argv[1]);
		return 1;
	}
	int rounds = atoi(argv[3]);
	uint32_t hwids[1024];
	static uint8_t deleted[MAX_PHANDLES];
	struct job job = { hwids, 0, NULL, 0, calloc(size, 1), deleted };
	int i = 4;
	for (; i < argc && strcmp(argv[i], "--") != 0 && job.nhwids < 1024; i++)
		hwids[job.nhwids++] = (uint32_t)strtoul(argv[i], NULL, 0);
	if (i < argc) {
		job.devices = &argv[i + 1];
		job.ndevices = argc - i - 1;
	}
	void *out = malloc(size);
	long props = 0;
	double start = now_ms();
	for (int r = 0; r < rounds; r++) {
		int err = round_once(blob, out, (int)size, &job, &props);
		if (err) {
			fprintf(stderr, "libfdt: %s\n", fdt_strerror(err));
			return 1;
		}
	}
	double elapsed = now_ms() - start;
	FILE *file = fopen(argv[2], "wb");
	if (!file || fwrite(out, 1, fdt_totalsize(out), file) != fdt_totalsize(out)) {
		fprintf(stderr, "cannot write %s\n", argv[2]);
		return 1;
	}
	fclose(file);
	free(out);
	free(job.keep);
	free(blob);
	printf("%.6f %ld\n", elapsed / (rounds > 0 ? rounds : 1), props);
	return 0;
}
