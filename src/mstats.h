/* mstats.h: per-model inference statistics (counts, durations, rows), lock-free to record. */
#ifndef INFERD_MSTATS_H
#define INFERD_MSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Latency histogram bounds shared by every duration histogram (inferd_request_duration_
 * seconds and the per-model one), so that both read the same: nanoseconds to compare, text
 * to render. They reach 3600 s, the largest request_timeout, so no answered request falls
 * only in +Inf.
 */
#define MSTATS_NBUCKETS 24
extern const uint64_t mstats_bucket_ns[MSTATS_NBUCKETS];
extern const char *const mstats_bucket_le[MSTATS_NBUCKETS];
/* The bucket of a latency: the first bound it does not exceed, MSTATS_NBUCKETS for +Inf. */
size_t mstats_bucket(uint64_t ns);

/* Where one inference's time went, for Triton's statistics extension. */
struct mstats_times {
	uint64_t total_ns;  /* request line in to answer queued */
	uint64_t input_ns;  /* decoding the request */
	uint64_t infer_ns;  /* the predictor */
	uint64_t output_ns; /* encoding the answer */
};

/* One model version's counters, read at once (each field is read atomically). */
struct mstats_snap {
	uint64_t success, success_ns;
	uint64_t fail, fail_ns;
	uint64_t input_ns, infer_ns, output_ns;
	uint64_t inference_count; /* rows predicted */
	uint64_t execution_count; /* predictor runs (one per successful request) */
	uint64_t last_ms;         /* when the last successful inference ended, ms since epoch */
	uint64_t buckets[MSTATS_NBUCKETS + 1]; /* by mstats_bucket(total_ns), not cumulative */
	uint64_t sum_ns;                       /* total_ns of every request, success or not */
};

/*
 * Counts one infer request of model name, version: ok with rows predicted and its times,
 * or a failure (only t->total_ns is read). Thread-safe; lock-free once the model has a
 * slot. The table holds MSTATS_SLOTS model versions: beyond that new ones are not counted
 * (the metrics render only served models, so cardinality stays bounded either way).
 */
void mstats_record(const char *name, const char *version, bool ok, const struct mstats_times *t,
                   uint64_t rows);
/* The counters of name, version (all zero when never recorded). */
void mstats_get(const char *name, const char *version, struct mstats_snap *out);
/* Forgets every counter (tests, and metrics_init). */
void mstats_reset(void);

#define MSTATS_SLOTS 1024

#endif
