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
#include "mstats.h"
#include "procstat.h"
#include "repo.h"

/*
 * Every status code 100..599 is counted as itself (slot = code); anything outside that is
 * "other" (slot 0). These are rendered always, so their series exist from the start; any
 * other code once it has been answered.
 */
static const unsigned codes[] = {200, 400, 403, 404, 405, 413, 500, 503};
#define NCODES     (sizeof(codes) / sizeof(codes[0]))
#define CODE_SLOTS 600

static const char *const ep_names[METRICS_EP_COUNT] = {
    [METRICS_EP_LIVE] = "live",
    [METRICS_EP_READY] = "ready",
    [METRICS_EP_SERVER_META] = "server_metadata",
    [METRICS_EP_MODEL_META] = "model_metadata",
    [METRICS_EP_MODEL_READY] = "model_ready",
    [METRICS_EP_INFER] = "infer",
    [METRICS_EP_METRICS] = "metrics",
    [METRICS_EP_REPOSITORY] = "repository",
    [METRICS_EP_MODEL_CONFIG] = "model_config",
    [METRICS_EP_STATS] = "model_stats",
    [METRICS_EP_MODEL_LIST] = "model_list",
    [METRICS_EP_OTHER] = "other",
};

/* Prometheus bucket bounds (mstats.h): up to 3600 s, the largest request_timeout. */
#define NBUCKETS  MSTATS_NBUCKETS
#define bucket_le mstats_bucket_le

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
static _Atomic uint64_t reloads_ok, reloads_failed, rollbacks;
static _Atomic int last_reload_ok;
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
	atomic_store(&reloads_ok, 0);
	atomic_store(&reloads_failed, 0);
	atomic_store(&rollbacks, 0);
	/* The configuration in force at startup loaded, or we would not be running. */
	atomic_store(&last_reload_ok, 1);
	mstats_reset();
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
	return status >= 100 && status < CODE_SLOTS ? status : 0;
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
	b = mstats_bucket(latency_ns);
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

/* True for the codes whose series are always rendered. */
static bool is_listed_code(size_t c)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i] == c)
			return true;
	return false;
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
			if (n == 0 && c != 0 && !is_listed_code(c))
				continue;
			fprintf(f, "inferd_requests_total{endpoint=\"%s\",code=\"", ep_names[e]);
			if (c != 0)
				fprintf(f, "%zu", c);
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

/* Writes a model and version label pair: model="...",version="..." */
static void put_model_labels(FILE *f, const struct repo_entry *e)
{
	fputs("model=\"", f);
	put_label(f, e->name);
	fputs("\",version=\"", f);
	put_label(f, e->version);
	fputc('"', f);
}

/*
 * Per-model requests, latency and rows from mstats, for the served models only: the
 * label values come from the configuration, never from request paths, so the series are
 * bounded by what is served.
 */
static void render_model_traffic(FILE *f, const struct repo_set *s)
{
	struct mstats_snap st;

	fputs("# HELP inferd_model_requests_total Infer requests answered, by model version and "
	      "result.\n"
	      "# TYPE inferd_model_requests_total counter\n",
	      f);
	for (size_t i = 0; s && i < s->n; i++) {
		mstats_get(s->v[i].name, s->v[i].version, &st);
		fputs("inferd_model_requests_total{", f);
		put_model_labels(f, &s->v[i]);
		fprintf(f, ",result=\"success\"} %" PRIu64 "\n", st.success);
		fputs("inferd_model_requests_total{", f);
		put_model_labels(f, &s->v[i]);
		fprintf(f, ",result=\"failure\"} %" PRIu64 "\n", st.fail);
	}
	fputs("# HELP inferd_model_rows_total Rows predicted, by model version.\n"
	      "# TYPE inferd_model_rows_total counter\n",
	      f);
	for (size_t i = 0; s && i < s->n; i++) {
		mstats_get(s->v[i].name, s->v[i].version, &st);
		fputs("inferd_model_rows_total{", f);
		put_model_labels(f, &s->v[i]);
		fprintf(f, "} %" PRIu64 "\n", st.inference_count);
	}
	fputs("# HELP inferd_model_request_duration_seconds Infer request latency, by model "
	      "version.\n"
	      "# TYPE inferd_model_request_duration_seconds histogram\n",
	      f);
	for (size_t i = 0; s && i < s->n; i++) {
		uint64_t cum = 0;
		mstats_get(s->v[i].name, s->v[i].version, &st);
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += st.buckets[b];
			fputs("inferd_model_request_duration_seconds_bucket{", f);
			put_model_labels(f, &s->v[i]);
			fprintf(f, ",le=\"%s\"} %" PRIu64 "\n",
			        b < NBUCKETS ? bucket_le[b] : "+Inf", cum);
		}
		fputs("inferd_model_request_duration_seconds_sum{", f);
		put_model_labels(f, &s->v[i]);
		fprintf(f, "} %" PRIu64 ".%09" PRIu64 "\n", st.sum_ns / 1000000000u,
		        st.sum_ns % 1000000000u);
		fputs("inferd_model_request_duration_seconds_count{", f);
		put_model_labels(f, &s->v[i]);
		fprintf(f, "} %" PRIu64 "\n", cum);
	}
}

/* Reloads, rollbacks, and the model versions the last build refused (from its index). */
static void render_reloads(FILE *f)
{
	struct repo_index idx = {0};

	fprintf(f,
	        "# HELP inferd_reloads_total Configuration reloads, by result.\n"
	        "# TYPE inferd_reloads_total counter\n"
	        "inferd_reloads_total{result=\"success\"} %" PRIu64 "\n"
	        "inferd_reloads_total{result=\"failure\"} %" PRIu64 "\n"
	        "# HELP inferd_rollbacks_total Rollbacks to the last known good set.\n"
	        "# TYPE inferd_rollbacks_total counter\n"
	        "inferd_rollbacks_total %" PRIu64 "\n"
	        "# HELP inferd_config_last_reload_successful Whether the last configuration "
	        "reload succeeded.\n"
	        "# TYPE inferd_config_last_reload_successful gauge\n"
	        "inferd_config_last_reload_successful %d\n",
	        atomic_load(&reloads_ok), atomic_load(&reloads_failed), atomic_load(&rollbacks),
	        atomic_load(&last_reload_ok));
	fputs("# HELP inferd_model_refused Model versions the last build refused (1 each).\n"
	      "# TYPE inferd_model_refused gauge\n",
	      f);
	if (repo_index_get(&idx) < 0)
		return;
	for (size_t i = 0; i < idx.n; i++) {
		if (!idx.v[i].refused)
			continue;
		fputs("inferd_model_refused{model=\"", f);
		put_label(f, idx.v[i].name);
		fputs("\",version=\"", f);
		put_label(f, idx.v[i].version);
		fputs("\"} 1\n", f);
	}
	repo_index_free(&idx);
}

void metrics_reload_done(bool ok)
{
	atomic_fetch_add(ok ? &reloads_ok : &reloads_failed, 1);
	atomic_store(&last_reload_ok, ok ? 1 : 0);
}

void metrics_rollback_done(void)
{
	atomic_fetch_add(&rollbacks, 1);
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
	render_model_traffic(f, s);
	render_reloads(f);
	procstat_render(f);
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
