/* golden.h: golden sets (inputs plus XGBoost's outputs) and checking a model against them. */
#ifndef INFERD_GOLDEN_H
#define INFERD_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>

struct model;

/*
 * "Unset" tolerance, in the config (struct conf_model) and in a golden set: any negative
 * value. 0 is a real tolerance (exact equality), so it cannot stand for "unset".
 */
#define GOLDEN_TOLERANCE_UNSET (-1.0)
/* The tolerance used when neither the config nor the golden set gives one. */
#define GOLDEN_DEFAULT_TOLERANCE 1e-6

/* Which trees produced a golden set's outputs (its "trees" key). */
enum golden_trees {
	GOLDEN_TREES_ALL = 0, /* every tree (also when the key is absent) */
	GOLDEN_TREES_BEST,    /* iteration_range (0, best_iteration + 1), as sklearn predicts */
};

/*
 * An optional output with up to three dimensions per row: [N], [N][A], [N][A][B]. dims[]
 * holds the per-row shape (ndims of them, 0 for one number per row); width is their product.
 */
struct golden_tensor {
	double *v; /* nrows * width values, row-major; NULL when the key is absent */
	size_t ndims;
	size_t dims[2];
	size_t width;
};

/*
 * A golden set file (docs/golden.md):
 *   { "tolerance": 1e-6,                  optional, the config's tolerance wins when set;
 *                                         0 means exact equality
 *     "trees": "all" | "best",            optional, default "all"
 *     "inputs":  [[x, null, ...], ...],   rows; null means missing
 *     "predict": [y, ...] or [[p0, p1, ...], ...],   XGBoost's predict(), per row
 *     "margin":  [...],                   optional, predict(output_margin=True)
 *     "predict_proba": [[p0, p1, ...], ...],  optional, sklearn's predict_proba, K >= 2
 *     "label": [c, ...],                  optional, sklearn's predict (a class of classes_)
 *     "contribs": [[...], ...] or [[[...], ...], ...],  optional, pred_contribs=True:
 *                                         [N][F+1] or [N][G][F+1]
 *     "leaf": [[...], ...] or [[[...]]] } optional, pred_leaf=True: integers >= 0
 */
struct golden {
	size_t nrows, ncols;
	float *inputs; /* nrows * ncols, NaN = missing */
	size_t predict_width;
	double *predict;     /* nrows * predict_width */
	size_t margin_width; /* 0 when absent */
	double *margin;
	double tolerance; /* from the file, or GOLDEN_TOLERANCE_UNSET (< 0) when absent */
	enum golden_trees trees;
	struct golden_tensor predict_proba; /* [N][K], K >= 2 */
	struct golden_tensor label;         /* [N] */
	struct golden_tensor contribs;      /* [N][F+1] or [N][G][F+1] */
	struct golden_tensor leaf;          /* [N][T] or [N][T][P]; integers >= 0 */
};

/*
 * A model's outputs for the golden inputs, for golden_check_outputs: each NULL when the
 * engine does not produce it (that golden key is then left unchecked). Widths are values
 * per row and must equal the golden set's. The caller predicts with the trees g->trees says.
 */
struct golden_outputs {
	const float *predict_proba;
	size_t predict_proba_width;
	const float *label;
	size_t label_width;
	const float *contribs;
	size_t contribs_width;
	const float *leaf;
	size_t leaf_width;
};

/* Loads a golden set file. Returns 0 or a negative errno with a reason in err. */
int golden_load(const char *path, struct golden *g, char *err, size_t errlen);
/* Frees the arrays. */
void golden_free(struct golden *g);
/*
 * The tolerance to check with: the config's when set (>= 0), else the file's when set,
 * else GOLDEN_DEFAULT_TOLERANCE. One rule for the loader and inferctl smoke.
 */
double golden_tolerance(double config_tolerance, const struct golden *g);
/*
 * True when got matches want within tol. tol 0 is exact: the same value and the same
 * sign of zero (bitwise for float32 outputs); NaN matches NaN, +Inf matches +Inf.
 */
bool golden_match(double got, double want, double tol);
/*
 * Predicts the golden inputs with m and compares predict and margin. Returns 0 when every
 * output is within tolerance (see golden_tolerance; config_tolerance < 0 means unset),
 * -EDOM with the first mismatch in err otherwise, -EINVAL when shapes differ.
 * *max_diff receives the largest absolute difference seen (may be NULL).
 */
int golden_check(const struct golden *g, const struct model *m, double config_tolerance,
                 double *max_diff, char *err, size_t errlen);
/*
 * The hook for the outputs golden_check does not compute (predict_proba, label, contribs,
 * leaf): compares each one present in both g and out, with the same tolerance rule and
 * return values as golden_check. The caller (repo.c, once the engine gives these outputs)
 * predicts them for g->inputs with the trees g->trees names.
 */
int golden_check_outputs(const struct golden *g, const struct golden_outputs *out,
                         double config_tolerance, double *max_diff, char *err, size_t errlen);

#endif
