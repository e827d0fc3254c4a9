/* golden.h: golden sets (inputs plus XGBoost's outputs) and checking a model against them. */
#ifndef INFERD_GOLDEN_H
#define INFERD_GOLDEN_H

#include <stddef.h>

struct model;

/*
 * A golden set file:
 *   { "tolerance": 1e-6,                  optional, the config's tolerance wins when set
 *     "inputs":  [[x, null, ...], ...],   rows; null means missing
 *     "predict": [y, ...] or [[p0, p1, ...], ...],   XGBoost's predict(), per row
 *     "margin":  [...] }                  optional, predict(output_margin=True)
 */
struct golden {
	size_t nrows, ncols;
	float *inputs; /* nrows * ncols, NaN = missing */
	size_t predict_width;
	double *predict;     /* nrows * predict_width */
	size_t margin_width; /* 0 when absent */
	double *margin;
	double tolerance; /* from the file, or 0 when absent */
};

/* Loads a golden set file. Returns 0 or a negative errno with a reason in err. */
int golden_load(const char *path, struct golden *g, char *err, size_t errlen);
/* Frees the arrays. */
void golden_free(struct golden *g);
/*
 * Predicts the golden inputs with m and compares. Returns 0 when every output is within
 * tolerance, -EDOM with the first mismatch in err otherwise, -EINVAL when shapes differ.
 * *max_diff receives the largest absolute difference seen (may be NULL).
 */
int golden_check(const struct golden *g, const struct model *m, double tolerance, double *max_diff,
                 char *err, size_t errlen);

#endif
