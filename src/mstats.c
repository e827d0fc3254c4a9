/* mstats.c: per-model inference statistics in a fixed open-addressing table of atomics. */
#include "mstats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "util.h"

const uint64_t mstats_bucket_ns[MSTATS_NBUCKETS] = {
    10000ull,       25000ull,        50000ull,        100000ull,       250000ull,
    500000ull,      1000000ull,      2500000ull,      5000000ull,      10000000ull,
    25000000ull,    50000000ull,     100000000ull,    250000000ull,    500000000ull,
    1000000000ull,  2500000000ull,   5000000000ull,   10000000000ull,  30000000000ull,
    60000000000ull, 300000000000ull, 900000000000ull, 3600000000000ull};
const char *const mstats_bucket_le[MSTATS_NBUCKETS] = {
    "0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
    "0.005",   "0.01",     "0.025",   "0.05",   "0.1",     "0.25",   "0.5",   "1",
    "2.5",     "5",        "10",      "30",     "60",      "300",    "900",   "3600"};

struct slot {
	_Atomic int used; /* set (release) once name and version are written */
	char name[UTIL_NAME_MAX + 1];
	char version[UTIL_NAME_MAX + 1];
	_Atomic uint64_t success, success_ns, fail, fail_ns;
	_Atomic uint64_t input_ns, infer_ns, output_ns, rows, execs, last_ms;
	_Atomic uint64_t buckets[MSTATS_NBUCKETS + 1];
	_Atomic uint64_t sum_ns;
};

static struct slot table[MSTATS_SLOTS];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;

size_t mstats_bucket(uint64_t ns)
{
	size_t b = 0;

	while (b < MSTATS_NBUCKETS && ns > mstats_bucket_ns[b])
		b++;
	return b;
}

/* FNV-1a over name, a separator and version: the table's probe start. */
static size_t hash_of(const char *name, const char *version)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xffu) * 1099511628211ull;
	for (const char *p = version; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return (size_t)(h % MSTATS_SLOTS);
}

static bool slot_is(const struct slot *s, const char *name, const char *version)
{
	return strcmp(s->name, name) == 0 && strcmp(s->version, version) == 0;
}

/* The slot of name, version; created when create is true and there is room; else NULL. */
static struct slot *find(const char *name, const char *version, bool create)
{
	size_t h = hash_of(name, version);
	struct slot *found = NULL;

	if (strlen(name) > UTIL_NAME_MAX || strlen(version) > UTIL_NAME_MAX)
		return NULL;
	/* Lock-free lookup: slots are only ever added, and published with release. */
	for (size_t i = 0; i < MSTATS_SLOTS; i++) {
		struct slot *s = &table[(h + i) % MSTATS_SLOTS];
		if (!atomic_load_explicit(&s->used, memory_order_acquire))
			break;
		if (slot_is(s, name, version))
			return s;
	}
	if (!create)
		return NULL;
	pthread_mutex_lock(&insert_lock);
	for (size_t i = 0; i < MSTATS_SLOTS && found == NULL; i++) {
		struct slot *s = &table[(h + i) % MSTATS_SLOTS];
		if (!atomic_load_explicit(&s->used, memory_order_acquire)) {
			strcpy(s->name, name);
			strcpy(s->version, version);
			atomic_store_explicit(&s->used, 1, memory_order_release);
			found = s;
		} else if (slot_is(s, name, version)) {
			found = s;
		}
	}
	pthread_mutex_unlock(&insert_lock);
	return found;
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void mstats_record(const char *name, const char *version, bool ok, const struct mstats_times *t,
                   uint64_t rows)
{
	struct slot *s = find(name, version, true);
	struct timespec now;

	if (s == NULL)
		return;
	add(&s->buckets[mstats_bucket(t->total_ns)], 1);
	add(&s->sum_ns, t->total_ns);
	if (!ok) {
		add(&s->fail, 1);
		add(&s->fail_ns, t->total_ns);
		return;
	}
	add(&s->success, 1);
	add(&s->success_ns, t->total_ns);
	add(&s->input_ns, t->input_ns);
	add(&s->infer_ns, t->infer_ns);
	add(&s->output_ns, t->output_ns);
	add(&s->rows, rows);
	add(&s->execs, 1);
	clock_gettime(CLOCK_REALTIME, &now);
	atomic_store_explicit(&s->last_ms,
	                      (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u,
	                      memory_order_relaxed);
}

void mstats_get(const char *name, const char *version, struct mstats_snap *out)
{
	struct slot *s = find(name, version, false);

	memset(out, 0, sizeof *out);
	if (s == NULL)
		return;
	out->success = get(&s->success);
	out->success_ns = get(&s->success_ns);
	out->fail = get(&s->fail);
	out->fail_ns = get(&s->fail_ns);
	out->input_ns = get(&s->input_ns);
	out->infer_ns = get(&s->infer_ns);
	out->output_ns = get(&s->output_ns);
	out->inference_count = get(&s->rows);
	out->execution_count = get(&s->execs);
	out->last_ms = get(&s->last_ms);
	for (size_t b = 0; b <= MSTATS_NBUCKETS; b++)
		out->buckets[b] = get(&s->buckets[b]);
	out->sum_ns = get(&s->sum_ns);
}

void mstats_reset(void)
{
	pthread_mutex_lock(&insert_lock);
	for (size_t i = 0; i < MSTATS_SLOTS; i++) {
		struct slot *s = &table[i];
		atomic_store(&s->used, 0);
		s->name[0] = s->version[0] = '\0';
		atomic_store(&s->success, 0);
		atomic_store(&s->success_ns, 0);
		atomic_store(&s->fail, 0);
		atomic_store(&s->fail_ns, 0);
		atomic_store(&s->input_ns, 0);
		atomic_store(&s->infer_ns, 0);
		atomic_store(&s->output_ns, 0);
		atomic_store(&s->rows, 0);
		atomic_store(&s->execs, 0);
		atomic_store(&s->last_ms, 0);
		for (size_t b = 0; b <= MSTATS_NBUCKETS; b++)
			atomic_store(&s->buckets[b], 0);
		atomic_store(&s->sum_ns, 0);
	}
	pthread_mutex_unlock(&insert_lock);
}
