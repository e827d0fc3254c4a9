/* golden.c: golden sets (inputs plus XGBoost's own outputs) and checking a model against one. */
#include "golden.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "model.h"
#include "num.h"
#include "util.h"

/* Golden sets are a few hundred rows; anything near this is a mistake, not a test set. */
#define GOLDEN_MAX_BYTES (64u * 1024 * 1024)
/* object -> outputs -> row -> value is three levels; leave room, refuse pathologies. */
#define GOLDEN_MAX_DEPTH 16

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
		util_fail(err, errlen, 0, "\"inputs\" must be a non-empty array of rows");
		return -EINVAL;
	}
	nrows = json_array_size(inputs);
	if (!json_is_array(json_array_get(inputs, 0)) ||
	    json_array_size(json_array_get(inputs, 0)) == 0) {
		util_fail(err, errlen, 0, "inputs[0] must be a non-empty array of numbers");
		return -EINVAL;
	}
	ncols = json_array_size(json_array_get(inputs, 0));
	if (nrows > SIZE_MAX / sizeof(float) / ncols) {
		util_fail(err, errlen, 0, "\"inputs\" is too large");
		return -EINVAL;
	}
	g->inputs = malloc(nrows * ncols * sizeof(float));
	if (!g->inputs) {
		util_fail(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	for (size_t r = 0; r < nrows; r++) {
		const json_t *row = json_array_get(inputs, r);

		if (!json_is_array(row) || json_array_size(row) != ncols) {
			util_fail(err, errlen, 0, "inputs[%zu] must be an array of %zu numbers", r,
			          ncols);
			return -EINVAL;
		}
		for (size_t c = 0; c < ncols; c++) {
			double v;

			if (read_value(json_array_get(row, c), true, &v) < 0) {
				util_fail(err, errlen, 0,
				          "inputs[%zu][%zu] must be a number or null", r, c);
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
		util_fail(err, errlen, 0, "\"%s\" must be an array of %zu rows, like \"inputs\"",
		          what, nrows);
		return -EINVAL;
	}
	lists = json_is_array(json_array_get(a, 0));
	w = lists ? json_array_size(json_array_get(a, 0)) : 1;
	if (w == 0) {
		util_fail(err, errlen, 0, "%s[0] must not be empty", what);
		return -EINVAL;
	}
	if (nrows > SIZE_MAX / sizeof(double) / w) {
		util_fail(err, errlen, 0, "\"%s\" is too large", what);
		return -EINVAL;
	}
	*out = malloc(nrows * w * sizeof(double));
	if (!*out) {
		util_fail(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	for (size_t r = 0; r < nrows; r++) {
		const json_t *row = json_array_get(a, r);

		if (!lists) {
			if (read_value(row, false, &(*out)[r]) < 0) {
				util_fail(err, errlen, 0, "%s[%zu] must be a number, as %s[0] is",
				          what, r, what);
				return -EINVAL;
			}
			continue;
		}
		if (!json_is_array(row) || json_array_size(row) != w) {
			util_fail(err, errlen, 0,
			          "%s[%zu] must be an array of %zu numbers, as %s[0] is", what, r,
			          w, what);
			return -EINVAL;
		}
		for (size_t k = 0; k < w; k++) {
			if (read_value(json_array_get(row, k), false, &(*out)[r * w + k]) < 0) {
				util_fail(err, errlen, 0, "%s[%zu][%zu] must be a number", what, r,
				          k);
				return -EINVAL;
			}
		}
	}
	*width = w;
	return 0;
}

/* Reads one row's nested arrays (depth levels below the row) into out, checking the shape. */
static int read_nested(const json_t *v, const size_t *dims, size_t ndims, double *out, size_t *n)
{
	if (ndims == 0) {
		if (jsonx_number(v, &out[*n]) < 0)
			return -EINVAL;
		(*n)++;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) != dims[0])
		return -EINVAL;
	for (size_t i = 0; i < dims[0]; i++)
		if (read_nested(json_array_get(v, i), dims + 1, ndims - 1, out, n) < 0)
			return -EINVAL;
	return 0;
}

/* Describes a per-row shape for messages: "a number", "an array of 3 numbers", ... */
static void shape_text(char *buf, size_t len, const struct golden_tensor *t)
{
	if (t->ndims == 0)
		snprintf(buf, len, "a number");
	else if (t->ndims == 1)
		snprintf(buf, len, "an array of %zu numbers", t->dims[0]);
	else
		snprintf(buf, len, "an array of %zu arrays of %zu numbers", t->dims[0], t->dims[1]);
}

/*
 * Reads an optional output of up to max_ndims dimensions per row into t: the shape comes
 * from row 0 (every list non-empty), and every row must have exactly that shape.
 */
static int load_tensor(const json_t *a, const char *what, size_t nrows, size_t max_ndims,
                       struct golden_tensor *t, char *err, size_t errlen)
{
	const json_t *v;
	char shape[96];

	if (!json_is_array(a) || json_array_size(a) != nrows) {
		util_fail(err, errlen, 0, "\"%s\" must be an array of %zu rows, like \"inputs\"",
		          what, nrows);
		return -EINVAL;
	}
	t->ndims = 0;
	t->width = 1;
	for (v = json_array_get(a, 0); json_is_array(v); v = json_array_get(v, 0)) {
		if (t->ndims == max_ndims) {
			util_fail(err, errlen, 0, "%s[0] is nested too deeply (at most %zu levels)",
			          what, max_ndims);
			return -EINVAL;
		}
		if (json_array_size(v) == 0) {
			util_fail(err, errlen, 0, "%s[0] must not contain an empty array", what);
			return -EINVAL;
		}
		t->dims[t->ndims++] = json_array_size(v);
		if (t->width > SIZE_MAX / sizeof(double) / nrows / json_array_size(v)) {
			util_fail(err, errlen, 0, "\"%s\" is too large", what);
			return -EINVAL;
		}
		t->width *= json_array_size(v);
	}
	t->v = malloc(nrows * t->width * sizeof(double));
	if (!t->v) {
		util_fail(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	for (size_t r = 0; r < nrows; r++) {
		size_t n = r * t->width;

		if (read_nested(json_array_get(a, r), t->dims, t->ndims, t->v, &n) < 0) {
			shape_text(shape, sizeof(shape), t);
			util_fail(err, errlen, 0, "%s[%zu] must be %s, as %s[0] is", what, r, shape,
			          what);
			return -EINVAL;
		}
	}
	return 0;
}

/* Checks the shapes and values of the optional outputs that have rules beyond load_tensor. */
static int check_optional(const struct golden *g, char *err, size_t errlen)
{
	const struct golden_tensor *c = &g->contribs, *l = &g->leaf;

	if (g->predict_proba.v && (g->predict_proba.ndims != 1 || g->predict_proba.dims[0] < 2)) {
		util_fail(err, errlen, 0,
		          "\"predict_proba\" rows must be arrays of K >= 2 class probabilities");
		return -EINVAL;
	}
	if (g->label.v && g->label.ndims != 0) {
		util_fail(err, errlen, 0, "\"label\" rows must be single numbers (a class label)");
		return -EINVAL;
	}
	if (c->v && (c->ndims == 0 || c->dims[c->ndims - 1] != g->ncols + 1)) {
		util_fail(err, errlen, 0,
		          "\"contribs\" rows must end in arrays of %zu numbers (one per feature, "
		          "then the bias)",
		          g->ncols + 1);
		return -EINVAL;
	}
	if (l->v && l->ndims == 0) {
		util_fail(err, errlen, 0, "\"leaf\" rows must be arrays of leaf indices");
		return -EINVAL;
	}
	for (size_t i = 0; l->v && i < g->nrows * l->width; i++) {
		if (!(l->v[i] >= 0) || l->v[i] != floor(l->v[i]) || l->v[i] > 2147483647.0) {
			util_fail(err, errlen, 0,
			          "leaf[%zu] holds %g, not a node index (an integer >= 0)",
			          i / l->width, l->v[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Reads "trees": "all" or "best"; absent means "all". */
static int load_trees(const json_t *t, struct golden *g, char *err, size_t errlen)
{
	const char *s = json_string_value(t);

	g->trees = GOLDEN_TREES_ALL;
	if (!t)
		return 0;
	if (s && strcmp(s, "all") == 0)
		return 0;
	if (s && strcmp(s, "best") == 0) {
		g->trees = GOLDEN_TREES_BEST;
		return 0;
	}
	util_fail(err, errlen, 0, "\"trees\" must be \"all\" or \"best\"");
	return -EINVAL;
}

/* Reads the optional tensors (predict_proba, label, contribs, leaf) present in root. */
static int load_tensors(const json_t *root, struct golden *g, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t max_ndims;
		size_t off;
	} keys[] = {
	    {"predict_proba", 1, offsetof(struct golden, predict_proba)},
	    {"label", 0, offsetof(struct golden, label)},
	    {"contribs", 2, offsetof(struct golden, contribs)},
	    {"leaf", 2, offsetof(struct golden, leaf)},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *a = json_object_get(root, keys[i].key);
		struct golden_tensor *t = (struct golden_tensor *)((char *)g + keys[i].off);
		int rc;

		if (!a || json_is_null(a))
			continue;
		rc = load_tensor(a, keys[i].key, g->nrows, keys[i].max_ndims, t, err, errlen);
		if (rc < 0)
			return rc;
	}
	return check_optional(g, err, errlen);
}

static int load_root(const json_t *root, struct golden *g, char *err, size_t errlen)
{
	const json_t *tol, *margin;
	int rc;

	if (!json_is_object(root)) {
		util_fail(err, errlen, 0, "a golden set must be a JSON object");
		return -EINVAL;
	}
	tol = json_object_get(root, "tolerance");
	g->tolerance = GOLDEN_TOLERANCE_UNSET;
	if (tol && (jsonx_number(tol, &g->tolerance) < 0 || !(g->tolerance >= 0) ||
	            !isfinite(g->tolerance))) {
		util_fail(err, errlen, 0, "\"tolerance\" must be a finite number >= 0");
		return -EINVAL;
	}
	rc = load_trees(json_object_get(root, "trees"), g, err, errlen);
	if (rc < 0)
		return rc;
	rc = load_inputs(json_object_get(root, "inputs"), g, err, errlen);
	if (rc < 0)
		return rc;
	if (!json_object_get(root, "predict")) {
		util_fail(err, errlen, 0, "\"predict\" is missing");
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
	if (rc < 0)
		return rc;
	return load_tensors(root, g, err, errlen);
}

int golden_load(const char *path, struct golden *g, char *err, size_t errlen)
{
	json_t *root = NULL;
	char why[256];
	int rc;

	memset(g, 0, sizeof(*g));
	g->tolerance = GOLDEN_TOLERANCE_UNSET;
	rc = jsonx_load_file(path, GOLDEN_MAX_BYTES, GOLDEN_MAX_DEPTH, 1, &root, why, sizeof(why));
	if (rc < 0) {
		util_fail(err, errlen, 0, "%s: %s", path, why);
		return rc;
	}
	rc = load_root(root, g, why, sizeof(why));
	json_decref(root);
	if (rc < 0) {
		util_fail(err, errlen, 0, "%s: %s", path, why);
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
	free(g->predict_proba.v);
	free(g->label.v);
	free(g->contribs.v);
	free(g->leaf.v);
	memset(g, 0, sizeof(*g));
	g->tolerance = GOLDEN_TOLERANCE_UNSET;
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

bool golden_match(double got, double want, double tol)
{
	if (tol > 0)
		return difference(got, want) <= tol;
	/* Exact: a float32 output and a double that holds a float32 exactly compare bitwise. */
	if (isnan(got) || isnan(want))
		return isnan(got) && isnan(want);
	return got == want && signbit(got) == signbit(want);
}

double golden_tolerance(double config_tolerance, const struct golden *g)
{
	if (config_tolerance >= 0)
		return config_tolerance;
	if (g && g->tolerance >= 0)
		return g->tolerance;
	return GOLDEN_DEFAULT_TOLERANCE;
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
			if (golden_match(g, w, cmp->tol) || cmp->mismatch)
				continue;
			cmp->mismatch = true;
			shortest(gs, g, true);
			shortest(ws, w, false);
			util_fail(cmp->err, cmp->errlen, 0,
			          "row %zu %s %zu: got %s, expected %s (tolerance %g)", r, what, k,
			          gs, ws, cmp->tol);
		}
	}
}

int golden_check(const struct golden *g, const struct model *m, double config_tolerance,
                 double *max_diff, char *err, size_t errlen)
{
	const struct model_info *info = model_get_info(m);
	struct compare cmp = {.err = err, .errlen = errlen};
	float *predict, *margin = NULL;

	if (max_diff)
		*max_diff = 0;
	if (g->ncols != info->num_feature) {
		util_fail(err, errlen, 0,
		          "golden inputs have %zu columns, the model takes %zu features", g->ncols,
		          info->num_feature);
		return -EINVAL;
	}
	if (g->predict_width != info->predict_width) {
		util_fail(err, errlen, 0,
		          "golden predict has %zu values per row, the model gives %zu",
		          g->predict_width, info->predict_width);
		return -EINVAL;
	}
	if (g->margin && g->margin_width != info->margin_width) {
		util_fail(err, errlen, 0,
		          "golden margin has %zu values per row, the model gives %zu",
		          g->margin_width, info->margin_width);
		return -EINVAL;
	}
	cmp.tol = golden_tolerance(config_tolerance, g);

	predict = calloc(g->nrows * g->predict_width, sizeof(float));
	if (g->margin)
		margin = calloc(g->nrows * g->margin_width, sizeof(float));
	if (!predict || (g->margin && !margin)) {
		free(predict);
		free(margin);
		util_fail(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	if (g->trees == GOLDEN_TREES_BEST) {
		struct model_outputs o = {.margin = margin, .predict = predict};
		if (model_predict_ex(m, g->inputs, g->nrows, info->best_tree_limit, &o) < 0) {
			free(predict);
			free(margin);
			util_fail(err, errlen, 0, "out of memory");
			return -ENOMEM;
		}
	} else {
		model_predict(m, g->inputs, g->nrows, margin, predict);
	}
	compare_outputs(&cmp, "output", predict, g->predict, g->nrows, g->predict_width);
	if (margin)
		compare_outputs(&cmp, "margin", margin, g->margin, g->nrows, g->margin_width);
	free(predict);
	free(margin);
	if (max_diff)
		*max_diff = cmp.max_diff;
	return cmp.mismatch ? -EDOM : 0;
}

/* Compares one optional output when both the golden set and the model have it. */
static int compare_tensor(struct compare *cmp, const char *what, const struct golden_tensor *want,
                          const float *got, size_t got_width, size_t nrows)
{
	if (!want->v || !got)
		return 0;
	if (got_width != want->width) {
		util_fail(cmp->err, cmp->errlen, 0,
		          "golden %s has %zu values per row, the model gives %zu", what,
		          want->width, got_width);
		return -EINVAL;
	}
	compare_outputs(cmp, what, got, want->v, nrows, want->width);
	return 0;
}

int golden_check_outputs(const struct golden *g, const struct golden_outputs *out,
                         double config_tolerance, double *max_diff, char *err, size_t errlen)
{
	struct compare cmp = {.err = err, .errlen = errlen};
	int rc;

	if (max_diff)
		*max_diff = 0;
	cmp.tol = golden_tolerance(config_tolerance, g);
	rc = compare_tensor(&cmp, "predict_proba", &g->predict_proba, out->predict_proba,
	                    out->predict_proba_width, g->nrows);
	if (rc == 0)
		rc = compare_tensor(&cmp, "label", &g->label, out->label, out->label_width,
		                    g->nrows);
	if (rc == 0)
		rc = compare_tensor(&cmp, "contribs", &g->contribs, out->contribs,
		                    out->contribs_width, g->nrows);
	if (rc == 0)
		rc = compare_tensor(&cmp, "leaf", &g->leaf, out->leaf, out->leaf_width, g->nrows);
	if (rc < 0)
		return rc;
	if (max_diff)
		*max_diff = cmp.max_diff;
	return cmp.mismatch ? -EDOM : 0;
}
