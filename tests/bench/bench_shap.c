/* bench_shap.c: inferd's SHAP contributions against libxgboost's own (pred_contribs), in process.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "shap.h"
#include "shap_load.h"

#define MAX_REPS 64
#define INNER    3 /* batch calls per engine and repetition */

/* libxgboost's contributions (type 2): XGBoosterPredictFromDMatrix, all trees. */
static const char XGB_CONFIG[] = "{\"type\":2,\"training\":false,\"iteration_begin\":0,"
                                 "\"iteration_end\":0,\"strict_shape\":false,\"cache_id\":0}";

struct bench {
	struct sl_model m;
	struct shap_forest *f;
	void *scratch;
	float *base;
	size_t nfeat, width, nrows, batch, calls;
	float *rows;
	BoosterHandle xgb;
	DMatrixHandle *single; /* one DMatrix per single row, built before timing */
	DMatrixHandle block[2];
};

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

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

	memcpy(t, s->v, s->n * sizeof(double));
	qsort(t, s->n, sizeof(double), cmp_double);
	med = s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
	printf("    \"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}%s\n", name, med, t[0],
	       t[s->n - 1], last ? "" : ",");
}

static int read_rows(const char *path, size_t nfeat, float **out, size_t *nrows)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || st.st_size <= 0 ||
	    (size_t)st.st_size % (nfeat * sizeof(float))) {
		fclose(f);
		return -EINVAL;
	}
	float *r = malloc((size_t)st.st_size);
	if (!r || fread(r, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(r);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = r;
	*nrows = (size_t)st.st_size / (nfeat * sizeof(float));
	return 0;
}

/* libxgboost's contributions for a prepared DMatrix of n rows, copied to out. */
static int xgb_contribs(struct bench *b, DMatrixHandle d, size_t n, float *out)
{
	const bst_ulong *shape;
	bst_ulong dim, total = 1;
	const float *res;

	if (XGBoosterPredictFromDMatrix(b->xgb, d, XGB_CONFIG, &shape, &dim, &res) != 0) {
		fprintf(stderr, "bench_shap: xgboost: %s\n", XGBGetLastError());
		return -EIO;
	}
	for (bst_ulong i = 0; i < dim; i++)
		total *= shape[i];
	if (total != n * b->width)
		return -EPROTO;
	memcpy(out, res, total * sizeof(float));
	return 0;
}

static void ours(struct bench *b, const float *rows, size_t n, float *out)
{
	shap_contribs(b->f, rows, n, 0, b->base, 0, b->scratch, out);
}

/*
 * Before timing: the first batch through both, bit for bit, and every single-row DMatrix
 * against the batch (so a cached or stale answer would show).
 */
static int check(struct bench *b, size_t *identical)
{
	size_t n = b->batch * b->width;
	float *a = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
	float *one = malloc(b->width * sizeof(float)), *xone = malloc(b->width * sizeof(float));
	int r = -ENOMEM;

	*identical = 0;
	if (!a || !x || !one || !xone)
		goto out;
	ours(b, b->rows, b->batch, a);
	if ((r = xgb_contribs(b, b->block[0], b->batch, x)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		*identical += memcmp(&a[i], &x[i], sizeof(float)) == 0;
	r = *identical == n ? 0 : -EDOM;
	if (r)
		fprintf(stderr, "bench_shap: %zu of %zu values differ from libxgboost\n",
		        n - *identical, n);
	for (size_t i = 0; r == 0 && i < b->calls; i++) {
		size_t row = i % b->batch;
		ours(b, b->rows + row * b->nfeat, 1, one);
		if ((r = xgb_contribs(b, b->single[i], 1, xone)) < 0)
			break;
		if (memcmp(one, a + row * b->width, b->width * sizeof(float)) ||
		    memcmp(xone, x + row * b->width, b->width * sizeof(float))) {
			fprintf(stderr, "bench_shap: single row %zu differs from the batch\n", row);
			r = -EDOM;
		}
	}
out:
	free(a);
	free(x);
	free(one);
	free(xone);
	return r;
}

/* This thread's CPU time: a batch call long enough to be preempted is timed by it. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Median ns of one single-row call over b->calls distinct rows, by the wall clock and by
 * this thread's CPU time (*cpu): calls of milliseconds get preempted on a loaded host.
 */
static double time_single(struct bench *b, int use_xgb, float *out, double *cpu)
{
	double *ns = malloc(2 * b->calls * sizeof *ns), med, *cns = ns + b->calls;

	for (size_t i = 0; i < b->calls; i++) {
		uint64_t c0 = cpu_ns(), t0 = now_ns();
		if (use_xgb)
			xgb_contribs(b, b->single[i], 1, out);
		else
			ours(b, b->rows + (i % b->batch) * b->nfeat, 1, out);
		ns[i] = (double)(now_ns() - t0);
		cns[i] = (double)(cpu_ns() - c0);
	}
	qsort(ns, b->calls, sizeof *ns, cmp_double);
	qsort(cns, b->calls, sizeof *cns, cmp_double);
	med = ns[b->calls / 2];
	*cpu = cns[b->calls / 2];
	free(ns);
	return med;
}

/* Rows per CPU second of one batch call on block k (libxgboost runs on this thread too). */
static double time_batch(struct bench *b, int use_xgb, int k, float *out)
{
	uint64_t t0 = cpu_ns();
	if (use_xgb)
		xgb_contribs(b, b->block[k], b->batch, out);
	else
		ours(b, b->rows + (size_t)k * b->batch * b->nfeat, b->batch, out);
	return (double)b->batch / ((double)(cpu_ns() - t0) / 1e9);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_shap -m MODEL.json -r ROWS.f32 [-n REPS] [-s CALLS] [-b ROWS] [-T "
	           "BYTES]\n"
	           "  ROWS.f32: float32 rows (NaN = missing), at least 2 x ROWS of them\n"
	           "  -n repetitions (5), -s single-row calls per repetition (200), -b batch\n"
	           "  rows (1000), -T per-leaf table budget (SHAP_TABLE_BYTES; 0 for none).\n"
	           "  Checks both agree bit for bit, then prints one JSON object.\n");
}

/*
 * Loads the model both ways, builds every DMatrix before timing, checks the outputs agree
 * bit for bit, then runs the interleaved repetitions and prints their medians as JSON.
 */
int main(int argc, char **argv)
{
	struct bench b = {.batch = 1000, .calls = 200};
	size_t table_bytes = SHAP_TABLE_BYTES;
	const char *model = NULL, *rows_path = NULL;
	unsigned reps = 5;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "m:r:n:s:b:T:h")) != -1) {
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case 'r':
			rows_path = optarg;
			break;
		case 'n':
			reps = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			b.calls = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			b.batch = strtoul(optarg, NULL, 10);
			break;
		case 'T':
			table_bytes = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!model || !rows_path || reps < 1 || reps > MAX_REPS || b.calls < 10 || b.batch < 2) {
		usage(stderr);
		return 2;
	}
	if (sl_load(model, &b.m) || b.m.linear) {
		fprintf(stderr, "bench_shap: %s: not a tree model this loader reads\n", model);
		return 1;
	}
	struct shap_model sm = sl_shap_model(&b.m);
	sm.table_bytes = table_bytes;
	if (shap_prepare(&sm, &b.f) < 0) {
		fprintf(stderr, "bench_shap: shap_prepare failed\n");
		return 1;
	}
	b.scratch = malloc(shap_scratch_size(b.f));
	b.base = malloc(b.m.n_groups * sizeof(float));
	for (uint32_t g = 0; g < b.m.n_groups; g++)
		b.base[g] = b.m.base_margin;
	b.nfeat = b.m.n_features;
	b.width = b.m.n_groups * (b.nfeat + 1);
	float *out = malloc(b.batch * b.width * sizeof(float));
	struct series lat[2] = {{{0}, 0}, {{0}, 0}}, lat_ratio = {{0}, 0};
	struct series lat_cpu[2] = {{{0}, 0}, {{0}, 0}}, lat_cpu_ratio = {{0}, 0};
	struct series rps[2] = {{{0}, 0}, {{0}, 0}}, rps_ratio = {{0}, 0};
	size_t identical = 0;
	if (read_rows(rows_path, b.nfeat, &b.rows, &b.nrows) < 0 || b.nrows < 2 * b.batch) {
		fprintf(stderr, "bench_shap: %s: need %zu rows of %zu float32\n", rows_path,
		        2 * b.batch, b.nfeat);
		goto out;
	}
	if (XGBoosterCreate(NULL, 0, &b.xgb) != 0 || XGBoosterLoadModel(b.xgb, model) != 0 ||
	    XGBoosterSetParam(b.xgb, "nthread", "1") != 0)
		goto xgb_fail;
	b.single = calloc(b.calls, sizeof *b.single);
	for (size_t i = 0; i < b.calls; i++)
		if (XGDMatrixCreateFromMat(b.rows + (i % b.batch) * b.nfeat, 1, b.nfeat, NAN,
		                           &b.single[i]) != 0)
			goto xgb_fail;
	for (int k = 0; k < 2; k++)
		if (XGDMatrixCreateFromMat(b.rows + (size_t)k * b.batch * b.nfeat, b.batch, b.nfeat,
		                           NAN, &b.block[k]) != 0)
			goto xgb_fail;
	if (check(&b, &identical) < 0)
		goto out;
	double unused;
	time_single(&b, 0, out, &unused); /* warm-up */
	time_single(&b, 1, out, &unused);
	for (unsigned rep = 0; rep < reps; rep++) {
		double l[2], lc[2], t[2][INNER];
		for (int e = 0; e < 2; e++) {
			l[e] = time_single(&b, e, out, &lc[e]);
			series_add(&lat[e], l[e]);
			series_add(&lat_cpu[e], lc[e]);
		}
		series_add(&lat_ratio, l[1] / l[0]);
		series_add(&lat_cpu_ratio, lc[1] / lc[0]);
		for (int k = 0; k < INNER; k++)
			for (int e = 0; e < 2; e++)
				t[e][k] = time_batch(&b, e, (int)(rep + (unsigned)k) % 2, out);
		for (int e = 0; e < 2; e++) {
			qsort(t[e], INNER, sizeof(double), cmp_double);
			series_add(&rps[e], t[e][INNER / 2]);
		}
		series_add(&rps_ratio, t[0][INNER / 2] / t[1][INNER / 2]);
	}
	printf("{\n  \"model\": \"%s\",\n  \"num_feature\": %zu,\n  \"num_trees\": %zu,\n"
	       "  \"groups\": %u,\n  \"table_bytes\": %zu,\n  \"reps\": %u,\n  "
	       "\"single_row_calls\": %zu,\n"
	       "  \"batch_rows\": %zu,\n  \"check\": {\"values\": %zu, \"bit_identical\": %zu},\n",
	       model, b.nfeat, b.m.n_trees, b.m.n_groups, table_bytes, reps, b.calls, b.batch,
	       b.batch * b.width, identical);
	printf("  \"single_row\": {\n");
	series_print("inferd_p50_ns", &lat[0], 0);
	series_print("xgboost_p50_ns", &lat[1], 0);
	series_print("speedup_p50", &lat_ratio, 0);
	series_print("inferd_p50_cpu_ns", &lat_cpu[0], 0);
	series_print("xgboost_p50_cpu_ns", &lat_cpu[1], 0);
	series_print("speedup_p50_cpu", &lat_cpu_ratio, 1);
	printf("  },\n  \"batch_1t\": {\n");
	series_print("inferd_rows_per_cpu_s", &rps[0], 0);
	series_print("xgboost_rows_per_cpu_s", &rps[1], 0);
	series_print("ratio", &rps_ratio, 1);
	printf("  }\n}\n");
	rc = 0;
	goto out;
xgb_fail:
	fprintf(stderr, "bench_shap: xgboost: %s\n", XGBGetLastError());
out:
	if (b.single)
		for (size_t i = 0; i < b.calls; i++)
			if (b.single[i])
				XGDMatrixFree(b.single[i]);
	free(b.single);
	for (int k = 0; k < 2; k++)
		if (b.block[k])
			XGDMatrixFree(b.block[k]);
	if (b.xgb)
		XGBoosterFree(b.xgb);
	free(out);
	free(b.rows);
	free(b.scratch);
	free(b.base);
	shap_free(b.f);
	sl_free(&b.m);
	return rc;
}
