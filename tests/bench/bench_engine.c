/* bench_engine.c: inferd's engine against libxgboost's C API, in process, on the same rows. */
#include "model.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <xgboost/c_api.h>

#define MAX_REPS  64
#define TOLERANCE 1e-6
#define INNER     3 /* batch calls per engine and repetition */

/* libxgboost's in-place prediction config: plain predictions, no cache, NaN is missing. */
static const char XGB_CONFIG[] = "{\"type\":0,\"training\":false,\"iteration_begin\":0,"
                                 "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0,"
                                 "\"missing\":NaN}";

struct bench {
	const char *model_path;
	struct model *m;
	size_t nfeat, width, nrows;
	float *rows;
	BoosterHandle xgb;
	DMatrixHandle proxy;
	char **row_ifaces; /* one __array_interface__ per row, built before timing */
	char *batch_iface[2];
	size_t batch;
};

/* One figure per repetition; the summary is the median with min..max. */
struct series {
	double v[MAX_REPS];
	unsigned n;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time used so far: far below wall time means other work shared the cores. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void series_add(struct series *s, double v)
{
	if (s->n < MAX_REPS)
		s->v[s->n++] = v;
}

static void series_print(const char *name, const struct series *s, int last)
{
	double t[MAX_REPS], med;
	unsigned i;

	memcpy(t, s->v, s->n * sizeof(double));
	qsort(t, s->n, sizeof(double), cmp_double);
	med = s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
	printf("    \"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"runs\": [", name,
	       med, t[0], t[s->n - 1]);
	for (i = 0; i < s->n; i++)
		printf("%s%.6g", i ? ", " : "", s->v[i]);
	printf("]}%s\n", last ? "" : ",");
}

/* Nearest-rank percentile of a sorted sample. */
static double pct(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1];
}

static int read_rows(const char *path, size_t nfeat, float **out, size_t *nrows)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	float *r;
	size_t n;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 ||
	    (size_t)st.st_size % (nfeat * sizeof(float))) {
		fclose(f);
		return -EINVAL;
	}
	n = (size_t)st.st_size / (nfeat * sizeof(float));
	r = malloc((size_t)st.st_size);
	if (!r || fread(r, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(r);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = r;
	*nrows = n;
	return 0;
}

static char *make_iface(const float *p, size_t n, size_t nfeat)
{
	char *s = malloc(160);

	if (s)
		snprintf(s, 160,
		         "{\"data\":[%llu,true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\","
		         "\"version\":3}",
		         (unsigned long long)(uintptr_t)p, n, nfeat);
	return s;
}

/* Predicts through libxgboost; copies the n * width results into out. */
static int xgb_predict(struct bench *b, const char *iface, size_t n, float *out)
{
	const bst_ulong *shape;
	bst_ulong dim, total = 1, i;
	const float *res;

	if (XGBoosterPredictFromDense(b->xgb, iface, XGB_CONFIG, b->proxy, &shape, &dim, &res) !=
	    0) {
		fprintf(stderr, "bench_engine: xgboost: %s\n", XGBGetLastError());
		return -EIO;
	}
	for (i = 0; i < dim; i++)
		total *= shape[i];
	if (total != n * b->width)
		return -EPROTO;
	if (out)
		memcpy(out, res, total * sizeof(float));
	return 0;
}

static int xgb_threads(struct bench *b, int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", n);
	return XGBoosterSetParam(b->xgb, "nthread", v) == 0 ? 0 : -EIO;
}

static int differs(float a, float b)
{
	if (isnan(a) || isnan(b))
		return !(isnan(a) && isnan(b));
	return fabs((double)a - (double)b) > TOLERANCE;
}

/*
 * Before any timing: every row through both engines in one batch, and the first rows one at
 * a time (which also proves the reused proxy does not hand back a stale result).
 */
static int check(struct bench *b, double *max_diff, size_t *identical)
{
	size_t n = b->nrows * b->width, single = b->nrows < 500 ? b->nrows : 500, i;
	float *a = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
	char *iface = make_iface(b->rows, b->nrows, b->nfeat);
	int r = -ENOMEM;

	*max_diff = 0;
	*identical = 0;
	if (!a || !x || !iface)
		goto out;
	model_predict(b->m, b->rows, b->nrows, NULL, a);
	r = xgb_predict(b, iface, b->nrows, x);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)x[i]);

		if (differs(a[i], x[i])) {
			fprintf(stderr,
			        "bench_engine: MISMATCH %s row %zu: inferd %.9g, xgboost %.9g\n",
			        b->model_path, i / b->width, a[i], x[i]);
			r = -EDOM;
			goto out;
		}
		if (d > *max_diff)
			*max_diff = d;
		if (memcmp(&a[i], &x[i], sizeof(float)) == 0)
			(*identical)++;
	}
	for (i = 0; i < single; i++) {
		float one[64], xone[64];

		if (b->width > 64) {
			r = -ENOTSUP;
			goto out;
		}
		model_predict(b->m, b->rows + i * b->nfeat, 1, NULL, one);
		r = xgb_predict(b, b->row_ifaces[i], 1, xone);
		if (r < 0)
			goto out;
		for (size_t k = 0; k < b->width; k++) {
			if (differs(one[k], a[i * b->width + k]) ||
			    differs(xone[k], x[i * b->width + k])) {
				fprintf(stderr,
				        "bench_engine: MISMATCH %s row %zu: single-row %.9g/%.9g "
				        "vs batch %.9g/%.9g (inferd/xgboost)\n",
				        b->model_path, i, one[k], xone[k], a[i * b->width + k],
				        x[i * b->width + k]);
				r = -EDOM;
				goto out;
			}
		}
	}
	r = 0;
out:
	free(a);
	free(x);
	free(iface);
	return r;
}

/* Times `calls` single-row predictions on distinct rows starting at `first`. */
static int time_single(struct bench *b, int use_xgb, size_t first, size_t calls, uint64_t *ns)
{
	float out[64];
	size_t i;

	for (i = 0; i < calls; i++) {
		size_t row = (first + i) % b->nrows;
		uint64_t t0 = now_ns();

		if (use_xgb) {
			if (xgb_predict(b, b->row_ifaces[row], 1, out) < 0)
				return -EIO;
		} else {
			model_predict(b->m, b->rows + row * b->nfeat, 1, NULL, out);
		}
		ns[i] = now_ns() - t0;
	}
	qsort(ns, calls, sizeof(*ns), cmp_u64);
	return 0;
}

struct part {
	const struct model *m;
	const float *rows;
	size_t n;
	float *out;
};

static void *part_run(void *arg)
{
	struct part *p = arg;

	model_predict(p->m, p->rows, p->n, NULL, p->out);
	return NULL;
}

/* inferd over `threads` pthreads, each predicting its share of the rows. */
static int inferd_batch(struct bench *b, const float *rows, size_t n, float *out, int threads)
{
	struct part parts[2];
	pthread_t tid;
	size_t half;

	if (threads == 1) {
		model_predict(b->m, rows, n, NULL, out);
		return 0;
	}
	half = n / 2;
	parts[0] = (struct part){b->m, rows, half, out};
	parts[1] = (struct part){b->m, rows + half * b->nfeat, n - half, out + half * b->width};
	if (pthread_create(&tid, NULL, part_run, &parts[1]) != 0)
		return -EAGAIN;
	part_run(&parts[0]);
	pthread_join(tid, NULL);
	return 0;
}

/* Rows per second for one batch call; the two disjoint blocks alternate between calls. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Rows per second for one batch call, by the wall clock and by the process's CPU time (all
 * threads; time taken by other work on the host is not in it). The two disjoint blocks
 * alternate between calls.
 */
static int time_batch(struct bench *b, int use_xgb, int threads, int block, float *out, double *rps,
                      double *rps_cpu)
{
	const float *rows = b->rows + (size_t)block * b->batch * b->nfeat;
	uint64_t t0, t1, c0, c1;
	int r;

	if (use_xgb && (r = xgb_threads(b, threads)) < 0)
		return r;
	c0 = cpu_ns();
	t0 = now_ns();
	if (use_xgb)
		r = xgb_predict(b, b->batch_iface[block], b->batch, out);
	else
		r = inferd_batch(b, rows, b->batch, out, threads);
	t1 = now_ns();
	c1 = cpu_ns();
	if (use_xgb && xgb_threads(b, 1) < 0)
		return -EIO;
	*rps = (double)b->batch / ((double)(t1 - t0) / 1e9);
	*rps_cpu = (double)b->batch / ((double)(c1 - c0) / 1e9);
	return r;
}

static double median3(double *v)
{
	qsort(v, INNER, sizeof(double), cmp_double);
	return v[INNER / 2];
}

/*
 * One repetition's batch figure per engine: INNER calls each, alternating inferd and xgboost
 * (A B A B A B), summarised by their median, so one preempted call does not decide it.
 */
static int batch_pair(struct bench *b, int threads, unsigned rep, float *out, double rps[2],
                      double rps_cpu[2])
{
	double t[2][INNER], c[2][INNER];
	unsigned k;
	int e;

	for (k = 0; k < INNER; k++)
		for (e = 0; e < 2; e++)
			if (time_batch(b, e, threads, (int)((rep + k + (unsigned)e) % 2), out,
			               &t[e][k], &c[e][k]) < 0)
				return -EIO;
	for (e = 0; e < 2; e++) {
		rps[e] = median3(t[e]);
		rps_cpu[e] = median3(c[e]);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: bench_engine -m MODEL.json -r ROWS.f32 [-n REPS] [-s CALLS] [-b ROWS]\n"
	        "  ROWS.f32: float32 rows (row-major, NaN = missing), at least 2 x ROWS of them\n"
	        "  -n repetitions (default 5), -s single-row calls per repetition (default "
	        "2000),\n"
	        "  -b batch rows (default 10000). Prints one JSON object.\n");
}

int main(int argc, char **argv)
{
	struct bench b = {.batch = 10000};
	const char *rows_path = NULL;
	unsigned reps = 5, rep;
	size_t calls = 2000, identical, i;
	struct series s_lat[2][2], s_lat_ratio, s_b1[2], s_b1_ratio, s_b2[2], s_b2_ratio;
	struct series s_b1_cpu[2], s_b1_cpu_ratio;
	uint64_t *ns = NULL, timer_ns, t_start = now_ns();
	float *out = NULL;
	double max_diff;
	char err[256];
	int c, r, rc = 1;

	memset(s_lat, 0, sizeof(s_lat));
	memset(&s_lat_ratio, 0, sizeof(s_lat_ratio));
	memset(s_b1, 0, sizeof(s_b1));
	memset(&s_b1_cpu_ratio, 0, sizeof(s_b1_cpu_ratio));
	memset(s_b1_cpu, 0, sizeof(s_b1_cpu));
	memset(&s_b1_ratio, 0, sizeof(s_b1_ratio));
	memset(s_b2, 0, sizeof(s_b2));
	memset(&s_b2_ratio, 0, sizeof(s_b2_ratio));
	while ((c = getopt(argc, argv, "m:r:n:s:b:h")) != -1) {
		switch (c) {
		case 'm':
			b.model_path = optarg;
			break;
		case 'r':
			rows_path = optarg;
			break;
		case 'n':
			reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			calls = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			b.batch = strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!b.model_path || !rows_path || reps < 1 || reps > MAX_REPS || calls < 100 ||
	    b.batch < 2) {
		usage(stderr);
		return 2;
	}
	r = model_load_file(b.model_path, NULL, &b.m, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "bench_engine: %s: %s\n", b.model_path, err);
		return 1;
	}
	b.nfeat = model_get_info(b.m)->num_feature;
	b.width = model_get_info(b.m)->predict_width;
	r = read_rows(rows_path, b.nfeat, &b.rows, &b.nrows);
	if (r < 0 || b.nrows < 2 * b.batch) {
		fprintf(stderr, "bench_engine: %s: need at least %zu rows of %zu float32 (%s)\n",
		        rows_path, 2 * b.batch, b.nfeat, r < 0 ? strerror(-r) : "too few");
		goto out;
	}
	if (XGBoosterCreate(NULL, 0, &b.xgb) != 0 || XGBoosterLoadModel(b.xgb, b.model_path) != 0 ||
	    xgb_threads(&b, 1) < 0 || XGProxyDMatrixCreate(&b.proxy) != 0) {
		fprintf(stderr, "bench_engine: xgboost: %s\n", XGBGetLastError());
		goto out;
	}
	b.row_ifaces = calloc(b.nrows, sizeof(char *));
	if (!b.row_ifaces)
		goto out;
	for (i = 0; i < b.nrows; i++)
		if (!(b.row_ifaces[i] = make_iface(b.rows + i * b.nfeat, 1, b.nfeat)))
			goto out;
	for (i = 0; i < 2; i++)
		if (!(b.batch_iface[i] =
		          make_iface(b.rows + i * b.batch * b.nfeat, b.batch, b.nfeat)))
			goto out;

	r = check(&b, &max_diff, &identical);
	if (r < 0) {
		fprintf(stderr, "bench_engine: %s: outputs differ or prediction failed (%s)\n",
		        b.model_path, strerror(-r));
		goto out;
	}

	ns = malloc(calls * sizeof(*ns));
	out = malloc(b.batch * b.width * sizeof(float));
	if (!ns || !out)
		goto out;
	/* What one pair of clock reads costs: it is inside every single-row figure. */
	for (i = 0; i < calls; i++) {
		uint64_t t0 = now_ns();

		ns[i] = now_ns() - t0;
	}
	qsort(ns, calls, sizeof(*ns), cmp_u64);
	timer_ns = ns[calls / 2];
	/* Warm both up (page faults, lazy init) without recording. */
	if (time_single(&b, 0, 0, calls / 4, ns) < 0 || time_single(&b, 1, 0, calls / 4, ns) < 0)
		goto out;

	/* A B A B: each repetition measures inferd then xgboost, and ratios are per repetition. */
	for (rep = 0; rep < reps; rep++) {
		size_t first = (size_t)rep * calls;
		double p50[2], rps[2], rps_cpu[2];
		int e;

		for (e = 0; e < 2; e++) {
			if (time_single(&b, e, first, calls, ns) < 0)
				goto out;
			p50[e] = pct(ns, calls, 50);
			series_add(&s_lat[e][0], p50[e]);
			series_add(&s_lat[e][1], pct(ns, calls, 99));
		}
		series_add(&s_lat_ratio, p50[1] / p50[0]);
		if (batch_pair(&b, 1, rep, out, rps, rps_cpu) < 0)
			goto out;
		series_add(&s_b1_cpu[0], rps_cpu[0]);
		series_add(&s_b1_cpu[1], rps_cpu[1]);
		series_add(&s_b1_cpu_ratio, rps_cpu[0] / rps_cpu[1]);
		series_add(&s_b1[0], rps[0]);
		series_add(&s_b1[1], rps[1]);
		series_add(&s_b1_ratio, rps[0] / rps[1]);
		if (batch_pair(&b, 2, rep, out, rps, rps_cpu) < 0)
			goto out;
		series_add(&s_b2[0], rps[0]);
		series_add(&s_b2[1], rps[1]);
		series_add(&s_b2_ratio, rps[0] / rps[1]);
	}

	printf("{\n  \"model\": \"%s\",\n  \"num_feature\": %zu,\n  \"num_trees\": %zu,\n"
	       "  \"rows\": %zu,\n  \"reps\": %u,\n  \"single_row_calls\": %zu,\n"
	       "  \"batch_rows\": %zu,\n  \"timer_overhead_ns\": %llu,\n"
	       "  \"check\": {\"rows\": %zu, \"values\": %zu, \"bit_identical\": %zu, "
	       "\"max_abs_diff\": %.3g, \"tolerance\": %g},\n",
	       b.model_path, b.nfeat, model_get_info(b.m)->num_trees, b.nrows, reps, calls, b.batch,
	       (unsigned long long)timer_ns, b.nrows, b.nrows * b.width, identical, max_diff,
	       TOLERANCE);
	printf("  \"single_row\": {\n");
	series_print("inferd_p50_ns", &s_lat[0][0], 0);
	series_print("inferd_p99_ns", &s_lat[0][1], 0);
	series_print("xgboost_p50_ns", &s_lat[1][0], 0);
	series_print("xgboost_p99_ns", &s_lat[1][1], 0);
	series_print("speedup_p50", &s_lat_ratio, 1);
	printf("  },\n  \"batch_1t\": {\n");
	series_print("inferd_rows_per_s", &s_b1[0], 0);
	series_print("xgboost_rows_per_s", &s_b1[1], 0);
	series_print("ratio", &s_b1_ratio, 0);
	series_print("inferd_rows_per_cpu_s", &s_b1_cpu[0], 0);
	series_print("xgboost_rows_per_cpu_s", &s_b1_cpu[1], 0);
	series_print("ratio_by_cpu_time", &s_b1_cpu_ratio, 1);
	printf("  },\n  \"batch_2t\": {\n");
	series_print("inferd_rows_per_s", &s_b2[0], 0);
	series_print("xgboost_rows_per_s", &s_b2[1], 0);
	series_print("ratio", &s_b2_ratio, 1);
	printf("  },\n  \"wall_s\": %.3f,\n  \"cpu_s\": %.3f\n}\n",
	       (double)(now_ns() - t_start) / 1e9, cpu_seconds());
	rc = 0;
out:
	free(ns);
	free(out);
	if (b.row_ifaces)
		for (i = 0; i < b.nrows; i++)
			free(b.row_ifaces[i]);
	free(b.row_ifaces);
	free(b.batch_iface[0]);
	free(b.batch_iface[1]);
	if (b.proxy)
		XGDMatrixFree(b.proxy);
	if (b.xgb)
		XGBoosterFree(b.xgb);
	free(b.rows);
	model_unref(b.m);
	return rc;
}
