/* tree.h: one regression tree in XGBoost's node numbering, shared by the predictor and TreeSHAP. */
#ifndef INFERD_TREE_H
#define INFERD_TREE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a node's split chooses a child. */
enum tree_split { TREE_NUMERIC = 0, TREE_CATEGORICAL = 1 };

/*
 * One tree in XGBoost's own node numbering (node 0 is the root); every array has n
 * entries and is owned by whoever built the tree (the model, which is immutable).
 * A leaf has left[i] == -1, and its value is split_cond[i], where XGBoost stores it.
 * sum_hess is the node's cover (training hessian sum): TreeSHAP weighs paths by it.
 * split_type is NULL when the tree has no categorical split. For a categorical node,
 * cat_bits[cat_off[i] .. cat_off[i] + cat_len[i]) is the set of categories that go
 * RIGHT, bit c of the set being (cat_bits[cat_off[i] + c / 32] >> (c % 32)) & 1; every
 * other category (and any value that is not a valid category) goes left.
 */
struct tree {
	uint32_t n;
	const int32_t *left;
	const int32_t *right;
	const uint32_t *split_index;
	const float *split_cond;
	const uint8_t *default_left;
	const float *sum_hess;
	const uint8_t *split_type;
	const uint32_t *cat_off;
	const uint32_t *cat_len;
	const uint32_t *cat_bits;
};

/* XGBoost's largest valid category plus one (16777216): values from here on are invalid. */
#define TREE_MAX_CAT 16777216.0f

/*
 * True when the categorical node i sends x (not NaN) right: x is a valid category
 * (0 <= x < TREE_MAX_CAT, truncated toward zero as XGBoost's cast does) in the node's set.
 */
static inline bool tree_cat_right(const struct tree *t, uint32_t i, float x)
{
	if (!(x >= 0.0f) || x >= TREE_MAX_CAT)
		return false;
	uint32_t c = (uint32_t)x;
	if (c / 32 >= t->cat_len[i])
		return false;
	return (t->cat_bits[t->cat_off[i] + c / 32] >> (c % 32)) & 1u;
}

/* The child of the inner node i that x goes to (NaN is missing): XGBoost 1.7's decision. */
static inline int32_t tree_next(const struct tree *t, uint32_t i, float x)
{
	if (isnan(x))
		return t->default_left[i] ? t->left[i] : t->right[i];
	if (t->split_type && t->split_type[i] == TREE_CATEGORICAL)
		return tree_cat_right(t, i, x) ? t->right[i] : t->left[i];
	return x < t->split_cond[i] ? t->left[i] : t->right[i];
}

#endif
