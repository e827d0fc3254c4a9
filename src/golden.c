/* golden.c: golden sets (inputs plus XGBoost's own outputs) and checking a model against one. */
#include "golden.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "model.h"
#include "num.h"

/* Golden sets are a few hundred rows; anything near this is a mistake, not a test set. */
#define GOLDEN_MAX_BYTES (64u * 1024 * 1024)
/* object -> outputs -> row -> value is three levels; leave room, refuse pathologies. */
#define GOLDEN_MAX_DEPTH  16
#define DEFAULT_TOLERANCE 1e-6

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Reads a number or null (NaN: a missing input). */
static int read_value(const json_t *v, bool null_ok, double *out)
{
	if (null_ok && json_is_null(v)) {
		*out = NAN;
		return 0;
	}
	return jsonx_number(v, out);
}

static int load_inputs(const json_t *inputs, struct golden *g, char *err, size_t errlen)
{
	size_t nrows, ncols;

	if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
		set_err(err, errlen, "\"inputs\" must be a non-empty array of rows");
		return -EINVAL;
	}
	nrows = json_array_size(inputs);
	if (!json_is_array(json_array_get(inputs, 0)) ||
	    json_array_size(json_array_get(inputs, 0)) == 0) {
		set_err(err, errlen, "inputs[0] must be a non-empty array of numbers");
		return -EINVAL;
	}
	ncols = json_array_size(json_array_get(inputs, 0));
	if (nrows > SIZE_MAX / sizeof(float) / ncols) {
		set_err(err, errlen, "\"inputs\" is too large");
		return -EINVAL;
	}
	g->inputs = malloc(nrows * ncols * sizeof(float));
	if (!g->inputs) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t r = 0; r < nrows; r++) {
		const json_t *row = json_array_get(inputs, r);

		if (!json_is_array(row) || json_array_size(row) != ncols) {
			set_err(err, errlen, "inputs[%zu] must be an array of %zu numbers", r,
			        ncols);
			return -EINVAL;
		}
		for (size_t c = 0; c < ncols; c++) {
			double v;

			if (read_value(json_array_get(row, c), true, &v) < 0) {
				set_err(err, errlen, "inputs[%zu][%zu] must be a number or null", r,
				        c);
				return -EINVAL;
			}
			/* The model sees float32, exactly what an FP32 request carries. */
			g->inputs[r * ncols + c] = (float)v;
		}
	}
	g->nrows = nrows;
	g->ncols = ncols;
	return 0;
}

/*
 * Reads per-row outputs: either one number per row (width 1) or one list per row, every
 * list the same length.
 */
static int load_outputs(const json_t *a, const char *what, size_t nrows, double **out,
                        size_t *width, char *err, size_t errlen)
{
	size_t w;
	bool lists;

	if (!json_is_array(a) || json_array_size(a) != nrows) {
		set_err(err, errlen, "\"%s\" must be an array of %zu rows, like \"inputs\"", what,
		        nrows);
		return -EINVAL;
	}
	lists = json_is_array(json_array_get(a, 0));
	w = lists ? json_array_size(json_array_get(a, 0)) : 1;
	if (w == 0) {
		set_err(err, errlen, "%s[0] must not be empty", what);
		return -EINVAL;
	}
	if (nrows > SIZE_MAX / sizeof(double) / w) {
		set_err(err, errlen, "\"%s\" is too large", what);
		return -EINVAL;
	}
	*out = malloc(nrows * w * sizeof(double));
	if (!*out) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t r = 0; r < nrows; r++) {
		const json_t *row = json_array_get(a, r);

		if (!lists) {
			if (read_value(row, false, &(*out)[r]) < 0) {
				set_err(err, errlen, "%s[%zu] must be a number, as %s[0] is", what,
				        r, what);
				return -EINVAL;
			}
			continue;
		}
		if (!json_is_array(row) || json_array_size(row) != w) {
			set_err(err, errlen, "%s[%zu] must be an array of %zu numbers, as %s[0] is",
			        what, r, w, what);
			return -EINVAL;
		}
		for (size_t k = 0; k < w; k++) {
			if (read_value(json_array_get(row, k), false, &(*out)[r * w + k]) < 0) {
				set_err(err, errlen, "%s[%zu][%zu] must be a number", what, r, k);
				return -EINVAL;
			}
		}
	}
	*width = w;
	return 0;
}

static int load_root(const json_t *root, struct golden *g, char *err, size_t errlen)
{
	const json_t *tol, *margin;
	int rc;

	if (!json_is_object(root)) {
		set_err(err, errlen, "a golden set must be a JSON object");
		return -EINVAL;
	}
	tol = json_object_get(root, "tolerance");
	if (tol && (jsonx_number(tol, &g->tolerance) < 0 || !(g->tolerance >= 0) ||
	            !isfinite(g->tolerance))) {
		set_err(err, errlen, "\"tolerance\" must be a finite number >= 0");
		return -EINVAL;
	}
	rc = load_inputs(json_object_get(root, "inputs"), g, err, errlen);
	if (rc < 0)
		return rc;
	if (!json_object_get(root, "predict")) {
		set_err(err, errlen, "\"predict\" is missing");
		return -EINVAL;
	}
	rc = load_outputs(json_object_get(root, "predict"), "predict", g->nrows, &g->predict,
	                  &g->predict_width, err, errlen);
	if (rc < 0)
		return rc;
	margin = json_object_get(root, "margin");
	if (margin && !json_is_null(margin))
		rc = load_outputs(margin, "margin", g->nrows, &g->margin, &g->margin_width, err,
		                  errlen);
	return rc;
}

int golden_load(const char *path, struct golden *g, char *err, size_t errlen)
{
	json_t *root = NULL;
	char why[256];
	int rc;

	memset(g, 0, sizeof(*g));
	rc = jsonx_load_file(path, GOLDEN_MAX_BYTES, GOLDEN_MAX_DEPTH, 1, &root, why, sizeof(why));
	if (rc < 0) {
		set_err(err, errlen, "%s: %s", path, why);
		return rc;
	}
	rc = load_root(root, g, why, sizeof(why));
	json_decref(root);
	if (rc < 0) {
		set_err(err, errlen, "%s: %s", path, why);
		golden_free(g);
	}
	return rc;
}

void golden_free(struct golden *g)
{
	if (!g)
		return;
	free(g->inputs);
	free(g->predict);
	free(g->margin);
	memset(g, 0, sizeof(*g));
}

/* Returns |got - want|, treating equal non-finite values (NaN and NaN, +Inf and +Inf) as 0. */
static double difference(double got, double want)
{
	if (isnan(got) || isnan(want))
		return isnan(got) && isnan(want) ? 0 : INFINITY;
	if (isinf(got) || isinf(want))
		return got == want ? 0 : INFINITY;
	return fabs(got - want);
}

/*
 * Formats v with the fewest digits that read back as the same value (as float when
 * as_float), so a message shows 0.7 rather than 0.69999999999999996, yet never hides a
 * difference by rounding.
 */
static void shortest(char buf[NUM_FMT_MAX], double v, bool as_float)
{
	if (as_float)
		num_format_float((float)v, buf);
	else
		num_format_double(v, buf);
}

struct compare {
	double tol;
	double max_diff;
	bool mismatch;
	char *err;
	size_t errlen;
};

static void compare_outputs(struct compare *cmp, const char *what, const float *got,
                            const double *want, size_t nrows, size_t width)
{
	for (size_t r = 0; r < nrows; r++) {
		for (size_t k = 0; k < width; k++) {
			double g = got[r * width + k], w = want[r * width + k];
			double d = difference(g, w);
			char gs[NUM_FMT_MAX], ws[NUM_FMT_MAX];

			if (d > cmp->max_diff)
				cmp->max_diff = d;
			if (d <= cmp->tol || cmp->mismatch)
				continue;
			cmp->mismatch = true;
			shortest(gs, g, true);
			shortest(ws, w, false);
			set_err(cmp->err, cmp->errlen,
			        "row %zu %s %zu: got %s, expected %s (tolerance %g)", r, what, k,
			        gs, ws, cmp->tol);
		}
	}
}

int golden_check(const struct golden *g, const struct model *m, double tolerance, double *max_diff,
                 char *err, size_t errlen)
{
	const struct model_info *info = model_get_info(m);
	struct compare cmp = {.err = err, .errlen = errlen};
	float *predict, *margin = NULL;

	if (max_diff)
		*max_diff = 0;
	if (g->ncols != info->num_feature) {
		set_err(err, errlen, "golden inputs have %zu columns, the model takes %zu features",
		        g->ncols, info->num_feature);
		return -EINVAL;
	}
	if (g->predict_width != info->predict_width) {
		set_err(err, errlen, "golden predict has %zu values per row, the model gives %zu",
		        g->predict_width, info->predict_width);
		return -EINVAL;
	}
	if (g->margin && g->margin_width != info->margin_width) {
		set_err(err, errlen, "golden margin has %zu values per row, the model gives %zu",
		        g->margin_width, info->margin_width);
		return -EINVAL;
	}
	cmp.tol = tolerance > 0 ? tolerance : g->tolerance > 0 ? g->tolerance : DEFAULT_TOLERANCE;

	predict = calloc(g->nrows * g->predict_width, sizeof(float));
	if (g->margin)
		margin = calloc(g->nrows * g->margin_width, sizeof(float));
	if (!predict || (g->margin && !margin)) {
		free(predict);
		free(margin);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	model_predict(m, g->inputs, g->nrows, margin, predict);
	compare_outputs(&cmp, "output", predict, g->predict, g->nrows, g->predict_width);
	if (margin)
		compare_outputs(&cmp, "margin", margin, g->margin, g->nrows, g->margin_width);
	free(predict);
	free(margin);
	if (max_diff)
		*max_diff = cmp.max_diff;
	return cmp.mismatch ? -EDOM : 0;
}
