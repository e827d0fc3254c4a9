/* shap.h: TreeSHAP contributions and leaf indices, bit-identical to XGBoost 1.7.4's CPU predictor.
 */
#ifndef INFERD_SHAP_H
#define INFERD_SHAP_H

#include <stddef.h>
#include <stdint.h>

struct tree; /* tree.h */

/* Deeper trees are refused by shap_prepare() (-E2BIG): the walk recurses once per level. */
#define SHAP_MAX_DEPTH 1024

/*
 * What shap_prepare() needs of a tree booster (gbtree or dart). trees[i] belongs to output
 * group tree_group[i] (XGBoost's tree_info, each < n_groups); weights is dart's weight_drop
 * (one per tree) or NULL for gbtree. Every split_index must be < n_features, which is the
 * model's num_feature: contributions have n_features + 1 columns, the last being the bias.
 * table_bytes is the memory the forest may spend on per-leaf tables that make small trees
 * several times faster with the same bits: a leaf L deep costs 2^L times its distinct path
 * features floats, so a depth-6 tree takes about 100 KB; a tree whose tables would pass
 * 256 KB (most trees deeper than 7) gets none. 0 for none; trees get tables in order until
 * the budget is spent (SHAP_TABLE_BYTES is a fair one). Building them costs about 0.3 ms
 * per depth-6 tree at shap_prepare().
 */
#define SHAP_TABLE_BYTES ((size_t)32 << 20)

/* What shap_prepare() needs of a tree booster: see above. */
struct shap_model {
	const struct tree *trees;
	size_t n_trees;
	const int32_t *tree_group;
	uint32_t n_groups;
	uint32_t n_features;
	const float *weights;
	size_t table_bytes;
};

/* A tree booster prepared for TreeSHAP (node mean values, cover ratios, feature slots). */
struct shap_forest;

/*
 * Prepares m once, at load time, so that later calls do no allocation of their own and
 * share nothing writable: after it, any number of threads may call shap_contribs() and
 * shap_leaf() on the forest at once, each with its own scratch. The forest keeps pointers
 * into m->trees' arrays (for categorical sets) and copies the rest: the trees' arrays must
 * outlive it, m itself need not. Returns 0, -EINVAL for a malformed tree (bad child index,
 * a cycle, a split feature >= n_features, a group >= n_groups), -E2BIG for a tree deeper
 * than SHAP_MAX_DEPTH, -ENOMEM.
 */
int shap_prepare(const struct shap_model *m, struct shap_forest **out);

/* Frees a forest from shap_prepare(); NULL is a no-op. */
void shap_free(struct shap_forest *f);

/*
 * The bytes of scratch one shap_contribs() call needs (path buffers and one tree's
 * contributions), so that a caller can keep one buffer per thread and never allocate.
 */
size_t shap_scratch_size(const struct shap_forest *f);

/*
 * XGBoost's pred_contribs=True for nrows rows of n_features floats each (NaN is missing),
 * written to out as [nrows][n_groups][n_features + 1]: per group, the SHAP value of each
 * feature and last the bias (the trees' expected values plus the base margin). Only trees
 * [0, tree_end) count, as XGBoost's iteration_range end does (tree_end = iteration end *
 * n_groups * num_parallel_tree; 0 or more than the trees means all); dart weights apply as
 * in XGBoost. The base margin of row r and group g is base_margin[r * base_stride + g]:
 * base_stride 0 gives every row the same n_groups values (the model's base_score in
 * margin space). scratch is shap_scratch_size() bytes, or NULL to allocate it per call.
 * Returns 0 or -ENOMEM (only with scratch NULL).
 */
int shap_contribs(const struct shap_forest *f, const float *rows, size_t nrows, size_t tree_end,
                  const float *base_margin, size_t base_stride, void *scratch, float *out);

/*
 * XGBoost's pred_leaf=True: for nrows rows, the XGBoost node id of the leaf each row
 * reaches in each of the trees [0, tree_end) (0 or too many means all), written to out as
 * [nrows][tree_end]. Dart weights do not apply, as in XGBoost. Returns the number of
 * trees written per row.
 */
size_t shap_leaf(const struct shap_forest *f, const float *rows, size_t nrows, size_t tree_end,
                 int32_t *out);

/*
 * XGBoost's pred_contribs=True for gblinear: weights is the model's "weights" array,
 * [n_features + 1][n_groups] (the last row the biases). Writes
 * [nrows][n_groups][n_features + 1]: w * x for present features, 0 for missing (NaN) ones,
 * and bias + base margin last (base_margin and base_stride as in shap_contribs()).
 */
void shap_linear_contribs(const float *weights, uint32_t n_features, uint32_t n_groups,
                          const float *rows, size_t nrows, const float *base_margin,
                          size_t base_stride, float *out);

#endif
