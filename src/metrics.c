/* metrics.c: lock-free request counters and latency histograms, rendered as Prometheus text. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "repo.h"

/* Status codes we keep apart; anything else is "other" (the last slot). */
static const unsigned codes[] = {200, 400, 403, 404, 405, 413, 500, 503};
#define NCODES     (sizeof(codes) / sizeof(codes[0]))
#define CODE_SLOTS (NCODES + 1)

static const char *const ep_names[METRICS_EP_COUNT] = {
    [METRICS_EP_LIVE] = "live",
    [METRICS_EP_READY] = "ready",
    [METRICS_EP_SERVER_META] = "server_metadata",
    [METRICS_EP_MODEL_META] = "model_metadata",
    [METRICS_EP_MODEL_READY] = "model_ready",
    [METRICS_EP_INFER] = "infer",
    [METRICS_EP_METRICS] = "metrics",
    [METRICS_EP_REPOSITORY] = "repository",
    [METRICS_EP_OTHER] = "other",
};

/* Prometheus bucket bounds: in nanoseconds to compare, as text to render. */
static const uint64_t bucket_ns[] = {10000,    25000,    50000,     100000,    250000,
                                     500000,   1000000,  2500000,   5000000,   10000000,
                                     25000000, 50000000, 100000000, 250000000, 1000000000};
static const char *const bucket_le[] = {"0.00001", "0.000025", "0.00005", "0.0001", "0.00025",
                                        "0.0005",  "0.001",    "0.0025",  "0.005",  "0.01",
                                        "0.025",   "0.05",     "0.1",     "0.25",   "1"};
#define NBUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

/*
 * Quantiles come from a finer log-scale histogram: 4 sub-buckets per power of two, so any
 * estimate is within 12.5% of the truth. Values below 8 ns get exact slots.
 */
#define FINE_SUB   4
#define FINE_SLOTS (64 * FINE_SUB)

struct ep_stats {
	_Atomic uint64_t by_code[CODE_SLOTS];
	_Atomic uint64_t buckets[NBUCKETS + 1]; /* not cumulative; the last is +Inf */
	_Atomic uint64_t sum_ns;
};

static struct ep_stats stats[METRICS_EP_COUNT];
static _Atomic uint64_t fine[FINE_SLOTS];
static _Atomic uint64_t rows_total;
static struct timespec start_time;

int metrics_init(void)
{
	for (size_t e = 0; e < METRICS_EP_COUNT; e++) {
		for (size_t c = 0; c < CODE_SLOTS; c++)
			atomic_store(&stats[e].by_code[c], 0);
		for (size_t b = 0; b <= NBUCKETS; b++)
			atomic_store(&stats[e].buckets[b], 0);
		atomic_store(&stats[e].sum_ns, 0);
	}
	for (size_t i = 0; i < FINE_SLOTS; i++)
		atomic_store(&fine[i], 0);
	atomic_store(&rows_total, 0);
	if (clock_gettime(CLOCK_REALTIME, &start_time) < 0)
		return -errno;
	return 0;
}

void metrics_fini(void)
{
	/* Nothing is allocated; the counters live as long as the process. */
}

static size_t code_slot(unsigned status)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i] == status)
			return i;
	return NCODES;
}

static size_t fine_slot(uint64_t ns)
{
	unsigned e;

	if (ns < 2 * FINE_SUB)
		return (size_t)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	/* e >= 3 here: slot 4*(e-1) + the two bits after the leading one. */
	return FINE_SUB * (e - 1) + (size_t)((ns >> (e - 2)) & (FINE_SUB - 1));
}

/* The lower bound and width of a fine slot (inverse of fine_slot()). */
static void fine_bounds(size_t slot, uint64_t *lo, uint64_t *width)
{
	unsigned e;

	if (slot < 2 * FINE_SUB) {
		*lo = slot;
		*width = 1;
		return;
	}
	e = (unsigned)(slot / FINE_SUB) + 1;
	*width = (uint64_t)1 << (e - 2);
	*lo = (uint64_t)(FINE_SUB + slot % FINE_SUB) << (e - 2);
}

void metrics_observe(enum metrics_endpoint ep, unsigned status, uint64_t latency_ns)
{
	struct ep_stats *s;
	size_t b = 0;

	if ((unsigned)ep >= METRICS_EP_COUNT)
		ep = METRICS_EP_OTHER;
	s = &stats[ep];
	while (b < NBUCKETS && latency_ns > bucket_ns[b])
		b++;
	atomic_fetch_add_explicit(&s->by_code[code_slot(status)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, latency_ns, memory_order_relaxed);
	if (ep == METRICS_EP_INFER)
		atomic_fetch_add_explicit(&fine[fine_slot(latency_ns)], 1, memory_order_relaxed);
}

void metrics_add_rows(uint64_t rows)
{
	atomic_fetch_add_explicit(&rows_total, rows, memory_order_relaxed);
}

uint64_t metrics_requests_total(void)
{
	uint64_t n = 0;

	for (size_t e = 0; e < METRICS_EP_COUNT; e++)
		for (size_t c = 0; c < CODE_SLOTS; c++)
			n += atomic_load_explicit(&stats[e].by_code[c], memory_order_relaxed);
	return n;
}

uint64_t metrics_infer_quantile_ns(double q)
{
	uint64_t snap[FINE_SLOTS], total = 0, rank, seen = 0;

	for (size_t i = 0; i < FINE_SLOTS; i++) {
		snap[i] = atomic_load_explicit(&fine[i], memory_order_relaxed);
		total += snap[i];
	}
	if (total == 0)
		return 0;
	if (!(q > 0))
		q = 0;
	if (q > 1)
		q = 1;
	/* The rank of the wanted observation, 1-based, so q=1 is the largest. */
	rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total || rank == 0)
		rank++;
	if (rank > total)
		rank = total;
	for (size_t i = 0; i < FINE_SLOTS; i++) {
		seen += snap[i];
		if (seen >= rank) {
			uint64_t lo, width;
			fine_bounds(i, &lo, &width);
			/* The middle of the slot halves the worst-case error. */
			return lo + width / 2;
		}
	}
	return 0;
}

/* Writes a label value escaped per the text format (backslash, quote, newline). */
static void put_label(FILE *f, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		switch (*p) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '"':
			fputs("\\\"", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		default:
			fputc(*p, f);
			break;
		}
	}
}

static void render_requests(FILE *f)
{
	fputs("# HELP inferd_requests_total Requests answered, by endpoint and status code.\n"
	      "# TYPE inferd_requests_total counter\n",
	      f);
	for (size_t e = 0; e < METRICS_EP_COUNT; e++) {
		for (size_t c = 0; c < CODE_SLOTS; c++) {
			uint64_t n =
			    atomic_load_explicit(&stats[e].by_code[c], memory_order_relaxed);
			fprintf(f, "inferd_requests_total{endpoint=\"%s\",code=\"", ep_names[e]);
			if (c < NCODES)
				fprintf(f, "%u", codes[c]);
			else
				fputs("other", f);
			fprintf(f, "\"} %" PRIu64 "\n", n);
		}
	}
}

static void render_durations(FILE *f)
{
	fputs("# HELP inferd_request_duration_seconds Time from request to response, by endpoint.\n"
	      "# TYPE inferd_request_duration_seconds histogram\n",
	      f);
	for (size_t e = 0; e < METRICS_EP_COUNT; e++) {
		uint64_t cum = 0, sum;
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += atomic_load_explicit(&stats[e].buckets[b], memory_order_relaxed);
			fprintf(f,
			        "inferd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"} "
			        "%" PRIu64 "\n",
			        ep_names[e], b < NBUCKETS ? bucket_le[b] : "+Inf", cum);
		}
		sum = atomic_load_explicit(&stats[e].sum_ns, memory_order_relaxed);
		/* Exact decimal seconds from integer nanoseconds. */
		fprintf(f,
		        "inferd_request_duration_seconds_sum{endpoint=\"%s\"} %" PRIu64
		        ".%09" PRIu64 "\n",
		        ep_names[e], sum / 1000000000u, sum % 1000000000u);
		/* _count must equal the +Inf bucket, so both come from the same reads. */
		fprintf(f, "inferd_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n",
		        ep_names[e], cum);
	}
}

static void render_models(FILE *f, const struct repo_set *s)
{
	fputs("# HELP inferd_model_info The models served, one series per model version.\n"
	      "# TYPE inferd_model_info gauge\n",
	      f);
	for (size_t i = 0; s && i < s->n; i++) {
		const struct repo_entry *r = &s->v[i];
		const struct model_info *mi = r->model ? model_get_info(r->model) : NULL;
		fputs("inferd_model_info{model=\"", f);
		put_label(f, r->name);
		fputs("\",version=\"", f);
		put_label(f, r->version);
		fputs("\",sha256=\"", f);
		put_label(f, r->sha256);
		fputs("\",objective=\"", f);
		put_label(f, mi ? mi->objective : "");
		fputs("\",booster=\"", f);
		put_label(f, mi ? mi->booster : "");
		fputs("\"} 1\n", f);
	}
}

int metrics_render(const struct repo_set *s, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	bool bad;

	*out = NULL;
	*outlen = 0;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	render_requests(f);
	render_durations(f);
	fprintf(f,
	        "# HELP inferd_rows_total Rows predicted.\n"
	        "# TYPE inferd_rows_total counter\n"
	        "inferd_rows_total %" PRIu64 "\n",
	        atomic_load_explicit(&rows_total, memory_order_relaxed));
	render_models(f, s);
	fprintf(f,
	        "# HELP inferd_start_time_seconds When the daemon started, in seconds since the "
	        "epoch.\n"
	        "# TYPE inferd_start_time_seconds gauge\n"
	        "inferd_start_time_seconds %lld.%03ld\n",
	        (long long)start_time.tv_sec, start_time.tv_nsec / 1000000);
	fputs("# HELP inferd_build_info The running build.\n"
	      "# TYPE inferd_build_info gauge\n"
	      "inferd_build_info{version=\"",
	      f);
	put_label(f, PACKAGE_VERSION);
	fputs("\"} 1\n", f);
	bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*outlen = len;
	return 0;
}
