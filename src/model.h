/* model.h: XGBoost JSON/UBJSON models loaded into flat, immutable, thread-safe predictors. */
#ifndef INFERD_MODEL_H
#define INFERD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An immutable loaded model. Reference counted so requests in flight keep theirs. */
struct model;
/* One tree in XGBoost's numbering, defined in tree.h (for TreeSHAP and leaf indices). */
struct tree;

/* Bounds enforced while loading; 0 means the built-in default. */
struct model_limits {
	size_t max_file_bytes; /* default 256 MiB */
	size_t max_trees;      /* default 100000 */
	unsigned max_depth;    /* default 64 */
};

/* What an API caller needs to describe the model. */
struct model_info {
	const char *booster;   /* "gbtree", "dart" or "gblinear" */
	const char *objective; /* e.g. "binary:logistic" */
	size_t num_feature;
	size_t num_group;     /* margins per row: num_class for multi:*, else 1 */
	size_t num_trees;     /* 0 for gblinear */
	size_t predict_width; /* values per row of predict: 1, or num_class for multi:softprob */
	size_t margin_width;  /* values per row of margin: num_group */
	double base_score;    /* as written in the file (probability space) */
	const char *xgboost_version; /* "1.7.4" from the file's "version" */
	size_t num_parallel_tree;    /* trees per output group and round (1 unless a forest) */
	/*
	 * Early stopping: the file's learner.attributes.best_iteration, or -1 when there is
	 * none. best_tree_limit is the tree_limit that predicts as the sklearn wrapper does
	 * by default, iteration_range (0, best_iteration + 1): (best_iteration + 1) *
	 * num_parallel_tree * num_group trees, capped at num_trees; 0 (all trees) without a
	 * best_iteration and for gblinear (whose predictions ignore any range).
	 */
	long long best_iteration;
	size_t best_tree_limit;
	bool categorical; /* some split is categorical (feature values are category codes) */
	/* learner.feature_names / feature_types ("q", "c", "int", "float", "i"): num_feature
	 * strings each, or NULL when the file has none. */
	const char *const *feature_names;
	const char *const *feature_types;
	/*
	 * A scikit-learn XGBClassifier (its save_model() stores attributes.scikit_learn with
	 * _estimator_type "classifier"): predict_proba and label are then available.
	 * num_classes is n_classes_ (2 for a binary model), classes its classes_ (NULL when the
	 * file has none: the class index is the label), proba_width num_classes.
	 */
	bool classifier;
	size_t num_classes;
	const double *classes;
	size_t proba_width;
};

/*
 * Loads a model saved by XGBoost's save_model() as JSON or UBJSON (1.7 and 2.x), told
 * apart by content (ubjson_sniff()). Every 1.7 objective, gbtree, dart and gblinear, and
 * categorical splits are supported; multi-target trees (2.x), the old binary format and
 * corrupt structure are refused.
 * Returns 0 and a model holding one reference, or a negative errno with a reason in err:
 * -ENOENT/-EACCES (file), -EFBIG (too large), -EINVAL (bad JSON or structure),
 * -ENOTSUP (a feature we do not support yet, named in err).
 */
int model_load_file(const char *path, const struct model_limits *lim, struct model **out, char *err,
                    size_t errlen);
/* As model_load_file(), from a buffer (used by the fuzzer and the tests). */
int model_load_buffer(const char *buf, size_t len, const struct model_limits *lim,
                      struct model **out, char *err, size_t errlen);

/* Takes another reference. */
struct model *model_ref(struct model *m);
/* Drops a reference; frees on the last one. NULL is fine. */
void model_unref(struct model *m);

/* Describes the model; the strings live as long as the model. */
const struct model_info *model_get_info(const struct model *m);

/*
 * Predicts nrows rows of info->num_feature float32 values (row-major, NaN = missing).
 * margin (nrows * margin_width) and predict (nrows * predict_width) may each be NULL.
 * Results are bit-for-bit what XGBoost 1.7's CPU predictor returns. Thread-safe.
 */
void model_predict(const struct model *m, const float *rows, size_t nrows, float *margin,
                   float *predict);

/*
 * The outputs model_predict_ex() can write; each may be NULL. Widths per row:
 * margin: info->margin_width (Booster.predict(output_margin=True));
 * predict: info->predict_width (Booster.predict());
 * proba: info->proba_width (XGBClassifier.predict_proba(): [1 - p, p] for binary; for
 *   multi:softmax scipy's softmax of the margin, with numpy's float32 exp as x86-64
 *   numpy 1.24 computes it (its AVX2/AVX512F kernel, not libm's expf));
 * label: 1 (XGBClassifier.predict(): classes_[class] as a number).
 */
struct model_outputs {
	float *margin;
	float *predict;
	float *proba;
	float *label;
};

/*
 * Predicts nrows rows as model_predict() does, writing every output o asks for, from the
 * first tree_limit trees in file order (0 = all; info->best_tree_limit for "best"; a
 * limit beyond num_trees means all; gblinear ignores it, as XGBoost does). Bit-for-bit
 * what XGBoost 1.7.4 and its sklearn wrapper return. Returns 0; -ENOTSUP when proba or
 * label is asked of a model that is not a classifier (or label of a two-class
 * multi:softprob one, where sklearn answers a 2-D multi-label array); -ENOMEM; -EINVAL for
 * bad arguments.
 * Thread-safe.
 */
int model_predict_ex(const struct model *m, const float *rows, size_t nrows, size_t tree_limit,
                     const struct model_outputs *o);

/*
 * For TreeSHAP and leaf indices (shap.c): the model's trees in file order as tree.h views
 * (*n of them; NULL and 0 for gblinear). Leaf values are raw, not dart-scaled. The arrays
 * live as long as the model.
 */
const struct tree *model_trees(const struct model *m, size_t *n);
/* Each tree's output group (tree_info), file order; NULL for gblinear. */
const uint32_t *model_tree_groups(const struct model *m);
/* dart's per-tree weights (weight_drop), file order; NULL unless the booster is dart. */
const float *model_tree_weights(const struct model *m);
/*
 * gblinear's weights, (num_feature + 1) * num_group floats: feature f of group g at
 * [f * num_group + g], the bias of group g at [num_feature * num_group + g]; NULL for trees.
 */
const float *model_linear_weights(const struct model *m);
/* The margin every row of group g starts from (base_score through ProbToMargin); num_group. */
const float *model_base_margin(const struct model *m);

#endif
