/* shap_load.h: a test-only reader of XGBoost JSON models into struct tree, for the SHAP tests. */
#ifndef INFERD_SHAP_LOAD_H
#define INFERD_SHAP_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "shap.h"
#include "tree.h"

/* One model as the SHAP engine wants it; everything is owned by the struct. */
struct sl_model {
	int linear;         /* gblinear */
	struct tree *trees; /* gbtree and dart */
	size_t n_trees;
	int32_t *tree_group;
	float *weights;        /* dart's weight_drop, else NULL */
	float *linear_weights; /* gblinear's [(n_features + 1) * n_groups] */
	uint32_t n_groups, n_features;
	float base_margin;        /* base_score in margin space */
	uint32_t trees_per_layer; /* n_groups * num_parallel_tree */
};

/*
 * Reads the XGBoost 1.7 JSON model at path (gbtree, dart or gblinear, categorical splits
 * included) so that the tests need not go through the daemon's loader. Returns 0 or -1
 * with a message on stderr.
 */
int sl_load(const char *path, struct sl_model *m);

/* The shap_model view of a tree model loaded by sl_load(). */
struct shap_model sl_shap_model(const struct sl_model *m);

/* Frees what sl_load() allocated. */
void sl_free(struct sl_model *m);

#endif
