/* model.h: XGBoost JSON models loaded into flat, immutable, thread-safe predictors. */
#ifndef INFERD_MODEL_H
#define INFERD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An immutable loaded model. Reference counted so requests in flight keep theirs. */
struct model;

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
};

/*
 * Loads a model from XGBoost's JSON format (1.7 and 2.x). Unsupported features
 * (categorical splits, multi-target trees, UBJSON) and corrupt structure are refused.
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

#endif
