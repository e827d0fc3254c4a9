/* fuzz_model.c: fuzz harness for model_load_buffer() and, on success, model_predict(). */
#include "model.h"

#include "jsonx.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fuzz_model_one(const uint8_t *data, size_t size);

/* A broken property is a bug like a crash: abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz_model: check failed: %s\n", __FILE__,         \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* More rows than one predictor block (32), so a block boundary is crossed. */
#define NROWS 40
/* Models wider than this load but are not predicted (the rows would not fit in memory). */
#define MAX_ROW_ELEMENTS ((size_t)1 << 20)

static const struct model_limits limits = {
    .max_file_bytes = (size_t)4 << 20,
    .max_trees = 10000,
    .max_depth = 64,
};

static bool same_float(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Split thresholds found in the model, so rows land exactly on (and just beside) them. */
#define MAX_POOL 256
struct pool {
	float v[MAX_POOL];
	size_t n;
};

static void collect_thresholds(const json_t *v, unsigned depth, struct pool *p)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > 16 || p->n == MAX_POOL)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, child) collect_thresholds(child, depth + 1, p);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child)
		{
			if (strcmp(key, "split_conditions") == 0 && json_is_array(child)) {
				json_array_foreach(child, i, v)
				{
					double d;
					if (p->n < MAX_POOL && jsonx_number(v, &d) == 0)
						p->v[p->n++] = (float)d;
				}
			} else {
				collect_thresholds(child, depth + 1, p);
			}
		}
	}
}

/* Row r: the named edge rows first, then a deterministic mix. */
static float cell(size_t r, const struct pool *p, uint32_t *seed)
{
	static const float mix[] = {0.0f,  -0.0f,  0.5f,  -0.5f,  1.0f, -1.0f, 2.0f, 3.0f,
	                            10.0f, 100.0f, 1e-3f, -1e-3f, 1e6f, -1e6f, NAN,  FLT_MAX};
	uint32_t pick;

	switch (r) {
	case 0:
		return 0.0f;
	case 1:
		return NAN;
	case 2:
		return 1e30f;
	case 3:
		return -1e30f;
	case 4:
		return INFINITY;
	case 5:
		return -INFINITY;
	case 6:
		return FLT_TRUE_MIN;
	case 7:
		return -FLT_MAX;
	default:
		break;
	}
	*seed = *seed * 1103515245u + 12345u;
	pick = *seed >> 16;
	if (p->n && pick % 4 != 0) {
		/* A threshold itself, or the float on either side of it. */
		float t = p->v[(pick >> 2) % p->n];
		switch ((pick >> 10) % 3) {
		case 0:
			return t;
		case 1:
			return nextafterf(t, INFINITY);
		default:
			return nextafterf(t, -INFINITY);
		}
	}
	if (pick & 1)
		return mix[(pick >> 4) % (sizeof(mix) / sizeof(mix[0]))];
	/* Something in [-4, 4) with a varied fraction, near where small trees split. */
	return (float)((int32_t)(*seed >> 8) % 4096) / 512.0f;
}

static void check_info(const struct model_info *info)
{
	FUZZ_CHECK(info);
	FUZZ_CHECK(info->booster && info->objective && info->xgboost_version);
	FUZZ_CHECK(info->num_group >= 1);
	FUZZ_CHECK(info->margin_width == info->num_group);
	FUZZ_CHECK(info->predict_width == 1 || info->predict_width == info->num_group);
	if (strcmp(info->booster, "gblinear") == 0)
		FUZZ_CHECK(info->num_trees == 0);
}

static void predict_rows(const struct model *m, const struct model_info *info,
                         const struct pool *pool)
{
	size_t F = info->num_feature, G = info->margin_width, P = info->predict_width;
	float *rows, *margin, *pred, *pred2, *lone_m, *lone_p;
	uint32_t seed = 2166136261u;

	if (F > MAX_ROW_ELEMENTS / NROWS || G > MAX_ROW_ELEMENTS / NROWS)
		return;
	rows = malloc((F ? F : 1) * NROWS * sizeof(float));
	margin = malloc(G * NROWS * sizeof(float));
	pred = malloc(P * NROWS * sizeof(float));
	/* predict without a margin buffer may use its own as scratch of the margin's width. */
	pred2 = malloc(G * NROWS * sizeof(float));
	lone_m = malloc(G * sizeof(float));
	lone_p = malloc(G * sizeof(float));
	if (!rows || !margin || !pred || !pred2 || !lone_m || !lone_p)
		goto out;
	for (size_t r = 0; r < NROWS; r++)
		for (size_t j = 0; j < F; j++)
			rows[r * F + j] = cell(r, pool, &seed);

	model_predict(m, rows, NROWS, margin, pred);
	/* The same predictions without a margin buffer. */
	model_predict(m, rows, NROWS, NULL, pred2);
	for (size_t k = 0; k < NROWS * P; k++)
		FUZZ_CHECK(same_float(pred[k], pred2[k]));
	/* One row alone takes the single-row walk; in the batch it took the lanes. */
	for (size_t r = 0; r < NROWS; r++) {
		model_predict(m, rows + r * F, 1, lone_m, lone_p);
		for (size_t g = 0; g < G; g++)
			FUZZ_CHECK(same_float(lone_m[g], margin[r * G + g]));
		for (size_t k = 0; k < P; k++)
			FUZZ_CHECK(same_float(lone_p[k], pred[r * P + k]));
	}
	/* Margins only, the call a margin-only request makes. */
	model_predict(m, rows, NROWS, pred2, NULL);
	for (size_t k = 0; k < NROWS * G; k++)
		FUZZ_CHECK(same_float(pred2[k], margin[k]));
out:
	free(rows);
	free(margin);
	free(pred);
	free(pred2);
	free(lone_m);
	free(lone_p);
}

int fuzz_model_one(const uint8_t *data, size_t size)
{
	struct model *m = NULL;
	char err[256];
	int r;

	err[0] = '\0';
	r = model_load_buffer((const char *)data, size, &limits, &m, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(!m);
		FUZZ_CHECK(r == -EINVAL || r == -ENOTSUP || r == -EFBIG || r == -ENOMEM);
		FUZZ_CHECK(r == -ENOMEM || err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(r == 0 && m);
	check_info(model_get_info(m));
	/* A second reference keeps the model alive past the first unref. */
	FUZZ_CHECK(model_ref(m) == m);
	model_unref(m);
	{
		struct pool pool = {.n = 0};
		json_t *root = NULL;
		char jerr[160];
		if (jsonx_parse((const char *)data, size, 64, 1, &root, jerr, sizeof(jerr)) == 0)
			collect_thresholds(root, 0, &pool);
		json_decref(root);
		predict_rows(m, model_get_info(m), &pool);
	}
	model_unref(m);
	return 0;
}

#if defined(FUZZ_HARNESS_MODEL) && !defined(FUZZ_NO_MAIN)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_model_one(data, size);
}
#endif
