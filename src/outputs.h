/* outputs.h: a served model's named outputs: which exist, their shapes, and computing them. */
#ifndef INFERD_OUTPUTS_H
#define INFERD_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model;
struct model_info;
struct shap_forest;

/*
 * What computing a served model's outputs needs: the model, the trees (tree_limit as
 * model_predict_ex() takes it: 0 = all), and the TreeSHAP forest prepared at load when
 * contribs is served by a tree booster (NULL otherwise).
 */
struct outputs_model {
	const struct model *model;
	size_t tree_limit;
	const struct shap_forest *shap;
};

/*
 * The CONF_OUT_* outputs model info can serve at all: predict, margin and contribs always;
 * predict_proba and label for scikit-learn classifiers (label not for a two-class
 * multi:softprob model, where sklearn answers a multi-label array); leaf for tree boosters.
 */
unsigned outputs_available(const struct model_info *mi);
/* The outputs served when the config names none: predict, margin, and the classifier's. */
unsigned outputs_default(const struct model_info *mi);
/* The trees a tree_limit stands for: tree_limit, or every tree when 0 or beyond them. */
size_t outputs_trees(const struct model_info *mi, size_t tree_limit);

/*
 * The per-row shape of output bit (a CONF_OUT_* value): *ndims (0 for one value per row,
 * else 1 or 2) and dims; returns the values per row (their product). predict and margin
 * are [W] with W the model's width ([] when 1), predict_proba [K], label [], contribs
 * [F + 1] or [G][F + 1], leaf [T] (T the trees counted). *int32 is set for leaf (INT32),
 * cleared for the FP32 outputs.
 */
size_t outputs_shape(const struct model_info *mi, size_t tree_limit, unsigned bit, size_t *ndims,
                     size_t dims[2], bool *int32);

/*
 * Computes the outputs in want (CONF_OUT_* bits) for nrows rows of the model's num_feature
 * floats: dst[i] receives output 1 << i (nrows * outputs_shape() values, float, or int32_t
 * for leaf); entries not in want are ignored. Bit-identical to XGBoost 1.7.4. Returns 0,
 * -ENOTSUP for an output the model cannot give (contribs by a tree booster without a
 * forest), or -ENOMEM.
 */
int outputs_compute(const struct outputs_model *om, const float *rows, size_t nrows, unsigned want,
                    void *const dst[]);

#endif
