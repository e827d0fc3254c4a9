/* check_shap.c: tests for TreeSHAP contributions, leaf indices and gblinear contributions. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shap.h"
#include "tree.h"

/*
 * The stump used throughout: x0 < 0.5 goes left to leaf -1 (cover 3), else right to leaf 2
 * (cover 1); missing goes left. By hand: the tree's mean is (-1 * 3 + 2 * 1) / 4 = -0.25;
 * x0 = 0 gives phi0 = -1 - (-0.25) = -0.75, x0 = 1 gives phi0 = 2 - (-0.25) = 2.25 (one
 * feature, so its SHAP value is the whole change from the mean); all dyadic, so exact.
 */
static const int32_t S_LEFT[] = {1, -1, -1}, S_RIGHT[] = {2, -1, -1};
static const uint32_t S_IDX[] = {0, 0, 0};
static const float S_COND[] = {0.5f, -1.0f, 2.0f}, S_HESS[] = {4.0f, 3.0f, 1.0f};
static const uint8_t S_DL[] = {1, 0, 0};

static struct tree stump(void)
{
	return (struct tree){.n = 3,
	                     .left = S_LEFT,
	                     .right = S_RIGHT,
	                     .split_index = S_IDX,
	                     .split_cond = S_COND,
	                     .default_left = S_DL,
	                     .sum_hess = S_HESS};
}

/* Per-leaf tables for the next prep() calls (0: none). */
static size_t table_bytes;

static struct shap_forest *prep(const struct tree *t, size_t n, const int32_t *grp, uint32_t ng,
                                uint32_t nf, const float *w)
{
	struct shap_model m = {t, n, grp, ng, nf, w, table_bytes};
	struct shap_forest *f = NULL;
	ck_assert_int_eq(shap_prepare(&m, &f), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

START_TEST(stump_contribs)
{
	struct tree t = stump();
	int32_t g = 0;
	struct shap_forest *f = prep(&t, 1, &g, 1, 2, NULL);
	float rows[] = {0.0f, 7.0f, 1.0f, 7.0f, NAN, NAN}, out[9], base = 0.5f;
	ck_assert_int_eq(shap_contribs(f, rows, 3, 0, &base, 0, NULL, out), 0);
	/* Feature 1 is never split on: 0. Bias is the mean plus the base margin. */
	const float want[9] = {-0.75f, 0.0f, 0.25f, 2.25f, 0.0f, 0.25f, -0.75f, 0.0f, 0.25f};
	for (int i = 0; i < 9; i++)
		ck_assert_float_eq(out[i], want[i]);
	/* A caller's scratch gives the same. */
	void *scratch = malloc(shap_scratch_size(f));
	float out2[9];
	ck_assert_int_eq(shap_contribs(f, rows, 3, 0, &base, 0, scratch, out2), 0);
	ck_assert_mem_eq(out, out2, sizeof out);
	free(scratch);
	shap_free(f);
}
END_TEST

START_TEST(dart_weights_and_limit)
{
	/* Two stumps, weights 0.5 and 0.25; tree_end 1 keeps the first only. */
	struct tree t[2] = {stump(), stump()};
	int32_t g[2] = {0, 0};
	float w[2] = {0.5f, 0.25f}, row[1] = {0.0f}, out[2], base = 0.0f;
	struct shap_forest *f = prep(t, 2, g, 1, 1, w);
	ck_assert_int_eq(shap_contribs(f, row, 1, 0, &base, 0, NULL, out), 0);
	ck_assert_float_eq(out[0], -0.75f * 0.5f + -0.75f * 0.25f);
	ck_assert_float_eq(out[1], -0.25f * 0.5f + -0.25f * 0.25f);
	ck_assert_int_eq(shap_contribs(f, row, 1, 1, &base, 0, NULL, out), 0);
	ck_assert_float_eq(out[0], -0.375f);
	ck_assert_float_eq(out[1], -0.125f);
	shap_free(f);
}
END_TEST

START_TEST(groups_and_base_rows)
{
	/* Two groups, one stump each; per-row base margins [row][group]. */
	struct tree t[2] = {stump(), stump()};
	int32_t g[2] = {1, 0};
	float rows[2] = {0.0f, 1.0f}, out[8], base[4] = {1, 2, 3, 4};
	struct shap_forest *f = prep(t, 2, g, 2, 1, NULL);
	ck_assert_int_eq(shap_contribs(f, rows, 2, 0, base, 2, NULL, out), 0);
	const float want[8] = {-0.75f, 0.75f, -0.75f, 1.75f, 2.25f, 2.75f, 2.25f, 3.75f};
	for (int i = 0; i < 8; i++)
		ck_assert_float_eq(out[i], want[i]);
	/* tree_end 1: group 0 has no tree, its bias is the base margin alone. */
	ck_assert_int_eq(shap_contribs(f, rows, 1, 1, base, 2, NULL, out), 0);
	ck_assert_float_eq(out[0], 0.0f);
	ck_assert_float_eq(out[1], 1.0f);
	ck_assert_float_eq(out[2], -0.75f);
	ck_assert_float_eq(out[3], 1.75f);
	shap_free(f);
}
END_TEST

/*
 * A categorical root on feature 0 whose set {1, 3} goes right (leaf 5), else left
 * (leaf 4 on a numeric split of feature 1 < 0: leaves -2 / 3); missing goes right.
 */
static const int32_t C_LEFT[] = {1, 3, -1, -1, -1}, C_RIGHT[] = {2, 4, -1, -1, -1};
static const uint32_t C_IDX[] = {0, 1, 0, 0, 0};
static const float C_COND[] = {0.0f, 0.0f, 5.0f, -2.0f, 3.0f},
                   C_HESS[] = {8.0f, 4.0f, 4.0f, 2.0f, 2.0f};
static const uint8_t C_DL[] = {0, 1, 0, 0, 0}, C_TYPE[] = {1, 0, 0, 0, 0};
static const uint32_t C_OFF[] = {0, 0, 0, 0, 0}, C_LEN[] = {1, 0, 0, 0, 0},
                      C_BITS[] = {(1u << 1) | (1u << 3)};

static struct tree cat_tree(void)
{
	return (struct tree){.n = 5,
	                     .left = C_LEFT,
	                     .right = C_RIGHT,
	                     .split_index = C_IDX,
	                     .split_cond = C_COND,
	                     .default_left = C_DL,
	                     .sum_hess = C_HESS,
	                     .split_type = C_TYPE,
	                     .cat_off = C_OFF,
	                     .cat_len = C_LEN,
	                     .cat_bits = C_BITS};
}

START_TEST(leaf_indices)
{
	struct tree t[2] = {stump(), cat_tree()};
	int32_t g[2] = {0, 0};
	struct shap_forest *f = prep(t, 2, g, 1, 2, NULL);
	/* x0 in {1, 3} right (node 2); 2, -1, 33 (beyond the set's word), 2^24 left; NaN right. */
	float rows[] = {1, 0, 3, 0, 2, -1, -1, 5, 33, NAN, 16777216.0f, 0, NAN, 0};
	int32_t out[14];
	ck_assert_uint_eq(shap_leaf(f, rows, 7, 0, out), 2);
	const int32_t want[14] = {2, 2, 2, 2, 2, 3, 1, 4, 2, 3, 2, 4, 1, 2};
	for (int i = 0; i < 14; i++)
		ck_assert_int_eq(out[i], want[i]);
	ck_assert_uint_eq(shap_leaf(f, rows, 1, 1, out), 1);
	ck_assert_int_eq(out[0], 2);
	shap_free(f);
}
END_TEST

/* v(S) of TreeSHAP's definition: features in S follow x, the others average by cover. */
static double cond_exp(const struct tree *t, uint32_t i, const float *x, unsigned set)
{
	if (t->left[i] == -1)
		return t->split_cond[i];
	uint32_t fi = t->split_index[i];
	if (set >> fi & 1)
		return cond_exp(t, (uint32_t)tree_next(t, i, x[fi]), x, set);
	uint32_t l = (uint32_t)t->left[i], r = (uint32_t)t->right[i];
	return (t->sum_hess[l] * cond_exp(t, l, x, set) + t->sum_hess[r] * cond_exp(t, r, x, set)) /
	       t->sum_hess[i];
}

/*
 * Random trees over 4 features (repeated features, missing values, a categorical split)
 * against the Shapley values from their definition, in double: the weighted sum over all
 * subsets S of the other features of v(S + i) - v(S). Also checks that the contributions
 * add up to the prediction, which is what XGBoost's own tests check.
 */
#define NF 4
static int32_t r_left[31], r_right[31];
static uint32_t r_idx[31];
static float r_cond[31], r_hess[31];
static uint8_t r_dl[31], r_type[31];
static uint32_t r_off[31], r_len[31], r_bits[31];

static float build(uint32_t *n, unsigned depth, unsigned *seed)
{
	uint32_t i = (*n)++;
	if (depth == 0 || rand_r(seed) % 5 == 0) {
		r_left[i] = r_right[i] = -1;
		r_cond[i] = (float)(rand_r(seed) % 2001 - 1000) / 256.0f;
		r_hess[i] = (float)(1 + rand_r(seed) % 20);
		return r_hess[i];
	}
	r_idx[i] = (uint32_t)(rand_r(seed) % NF);
	r_cond[i] = (float)(rand_r(seed) % 5) - 2.0f;
	r_dl[i] = (uint8_t)(rand_r(seed) % 2);
	r_type[i] = r_idx[i] == 3;
	r_off[i] = i;
	r_len[i] = 1;
	r_bits[i] = (uint32_t)rand_r(seed) & 0x1f;
	r_left[i] = (int32_t)*n;
	float h = build(n, depth - 1, seed);
	r_right[i] = (int32_t)*n;
	h += build(n, depth - 1, seed);
	r_hess[i] = h;
	return h;
}

START_TEST(shapley_definition)
{
	unsigned seed = 12345;
	double fact[NF + 1] = {1, 1, 2, 6, 24};
	for (int round = 0; round < 200; round++) {
		uint32_t n = 0;
		build(&n, 4, &seed);
		struct tree t = {n,      r_left, r_right, r_idx, r_cond, r_dl,
		                 r_hess, r_type, r_off,   r_len, r_bits};
		int32_t g = 0;
		struct shap_forest *f = prep(&t, 1, &g, 1, NF, NULL);
		float x[NF], out[NF + 1], base = 0;
		for (int k = 0; k < NF; k++)
			x[k] = rand_r(&seed) % 4 == 0 ? NAN : (float)(rand_r(&seed) % 7) - 3.0f;
		ck_assert_int_eq(shap_contribs(f, x, 1, 0, &base, 0, NULL, out), 0);
		double sum = 0;
		for (int fi = 0; fi < NF; fi++) {
			double phi = 0;
			for (unsigned s = 0; s < (1u << NF); s++) {
				if (s >> fi & 1)
					continue;
				int sz = __builtin_popcount(s);
				double wgt = fact[sz] * fact[NF - sz - 1] / fact[NF];
				phi += wgt *
				       (cond_exp(&t, 0, x, s | 1u << fi) - cond_exp(&t, 0, x, s));
			}
			ck_assert_double_eq_tol(out[fi], phi, 1e-4 * (1 + fabs(phi)));
			sum += out[fi];
		}
		ck_assert_double_eq_tol(out[NF], cond_exp(&t, 0, x, 0), 1e-5);
		uint32_t i = 0;
		while (t.left[i] != -1)
			i = (uint32_t)tree_next(&t, i, x[t.split_index[i]]);
		ck_assert_double_eq_tol(sum + out[NF], t.split_cond[i], 1e-4);
		shap_free(f);
	}
}
END_TEST

/*
 * A chain 20 deep, each split on its own feature, so a leaf's path has up to 20 distinct
 * features (five vector chunks; no table past 12 deep): the contributions must still add
 * up to the prediction. Deeper, XGBoost's float arithmetic itself drifts (0.006 at 30,
 * 23 at 40): exactness_shap.py matches it bit for bit on a 40-deep chain instead.
 */
START_TEST(deep_chain)
{
	enum { DEPTH = 20, N = 2 * DEPTH + 1 };
	int32_t l[N], r[N];
	uint32_t idx[N];
	float cond[N], hess[N];
	uint8_t dl[N];
	unsigned seed = 99;
	for (uint32_t i = 0; i < N; i++) {
		l[i] = r[i] = -1;
		idx[i] = 0;
		dl[i] = (uint8_t)(i % 2);
		cond[i] = (float)(rand_r(&seed) % 200 - 100) / 64.0f;
		hess[i] = (float)(1 + rand_r(&seed) % 9);
	}
	/* Node 2i splits on feature i: left is a leaf (2i + 1), right goes on (2i + 2). */
	for (uint32_t i = 0; i < DEPTH; i++) {
		l[2 * i] = (int32_t)(2 * i + 1);
		r[2 * i] = (int32_t)(2 * i + 2);
		idx[2 * i] = i;
		cond[2 * i] = 0.0f;
	}
	for (int32_t i = 2 * DEPTH - 2; i >= 0; i -= 2)
		hess[i] = hess[i + 1] + hess[i + 2];
	struct tree t = {N, l, r, idx, cond, dl, hess, NULL, NULL, NULL, NULL};
	int32_t g = 0;
	table_bytes = 1 << 20;
	struct shap_forest *f = prep(&t, 1, &g, 1, DEPTH, NULL);
	table_bytes = 0;
	float x[DEPTH], out[DEPTH + 1], base = 0;
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < DEPTH; k++)
			x[k] = rand_r(&seed) % 10 == 0 ? NAN : (float)(rand_r(&seed) % 100) / 90.0f;
		ck_assert_int_eq(shap_contribs(f, x, 1, 0, &base, 0, NULL, out), 0);
		double sum = 0;
		for (int k = 0; k <= DEPTH; k++)
			sum += out[k];
		uint32_t i = 0;
		while (t.left[i] != -1)
			i = (uint32_t)tree_next(&t, i, x[t.split_index[i]]);
		ck_assert_double_eq_tol(sum, t.split_cond[i], 1e-3);
	}
	shap_free(f);
}
END_TEST

/* Two threads on one forest, each with its own scratch, give what one thread gives. */
struct job {
	const struct shap_forest *f;
	const float *rows;
	float *out;
	void *scratch;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	for (int rep = 0; rep < 50; rep++)
		shap_contribs(j->f, j->rows, 64, 0, (const float[]){0.5f}, 0, j->scratch, j->out);
	return NULL;
}

START_TEST(threads)
{
	unsigned seed = 7;
	uint32_t n = 0;
	build(&n, 4, &seed);
	struct tree t[2] = {
	    {n, r_left, r_right, r_idx, r_cond, r_dl, r_hess, r_type, r_off, r_len, r_bits},
	    cat_tree()};
	int32_t g[2] = {0, 0};
	for (int tables = 0; tables < 2; tables++) {
		table_bytes = tables ? 1 << 20 : 0;
		struct shap_forest *f = prep(t, 2, g, 1, NF, NULL);
		table_bytes = 0;
		float rows[64 * NF], want[64 * (NF + 1)], got[2][64 * (NF + 1)], base = 0.5f;
		for (int k = 0; k < 64 * NF; k++)
			rows[k] = rand_r(&seed) % 5 == 0 ? NAN : (float)(rand_r(&seed) % 9) - 4.0f;
		ck_assert_int_eq(shap_contribs(f, rows, 64, 0, &base, 0, NULL, want), 0);
		struct job jobs[2];
		pthread_t tid[2];
		for (int k = 0; k < 2; k++) {
			jobs[k] = (struct job){f, rows, got[k], malloc(shap_scratch_size(f))};
			ck_assert_int_eq(pthread_create(&tid[k], NULL, job_run, &jobs[k]), 0);
		}
		for (int k = 0; k < 2; k++) {
			pthread_join(tid[k], NULL);
			free(jobs[k].scratch);
			ck_assert_mem_eq(got[k], want, sizeof want);
		}
		shap_free(f);
	}
}
END_TEST

START_TEST(linear)
{
	/* 2 features, 2 groups: weights [feature][group], then the biases. */
	const float w[6] = {2.0f, -1.0f, 0.5f, 4.0f, 0.25f, -0.25f};
	float rows[4] = {3.0f, NAN, -2.0f, 1.0f}, out[12], base[2] = {1.0f, 0.5f};
	shap_linear_contribs(w, 2, 2, rows, 2, base, 0, out);
	const float want[12] = {6.0f,  0.0f, 1.25f, -3.0f, 0.0f, 0.25f,
	                        -4.0f, 0.5f, 1.25f, 2.0f,  4.0f, 0.25f};
	for (int i = 0; i < 12; i++)
		ck_assert_float_eq(out[i], want[i]);
}
END_TEST

START_TEST(refusals)
{
	struct shap_forest *f = (struct shap_forest *)1;
	int32_t g = 0, g2 = 2;
	struct tree t = stump();
	struct shap_model m = {&t, 1, &g, 1, 1, NULL, 0};
	/* A split feature beyond n_features. */
	m.n_features = 0;
	ck_assert_int_eq(shap_prepare(&m, &f), -EINVAL);
	ck_assert_ptr_null(f);
	m.n_features = 1;
	/* A group beyond n_groups. */
	m.tree_group = &g2;
	ck_assert_int_eq(shap_prepare(&m, &f), -EINVAL);
	m.tree_group = &g;
	/* A child out of range, a cycle, a node shared by two parents. */
	const int32_t bad_l[][3] = {{1, -1, -1}, {1, 0, -1}, {1, -1, -1}};
	const int32_t bad_r[][3] = {{3, -1, -1}, {2, 0, -1}, {1, -1, -1}};
	for (int k = 0; k < 3; k++) {
		t.left = bad_l[k];
		t.right = bad_r[k];
		ck_assert_int_eq(shap_prepare(&m, &f), -EINVAL);
	}
	/* A chain deeper than SHAP_MAX_DEPTH. */
	uint32_t n = 2 * SHAP_MAX_DEPTH + 3;
	int32_t *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
	uint32_t *idx = calloc(n, sizeof *idx);
	float *cond = calloc(n, sizeof *cond), *hess = calloc(n, sizeof *hess);
	uint8_t *dl = calloc(n, 1);
	for (uint32_t i = 0; i < n; i++)
		l[i] = r[i] = -1;
	for (uint32_t i = 0; 2 * i + 2 < n; i++) {
		l[2 * i] = (int32_t)(2 * i + 1);
		r[2 * i] = (int32_t)(2 * i + 2);
	}
	struct tree deep = {n, l, r, idx, cond, dl, hess, NULL, NULL, NULL, NULL};
	m.trees = &deep;
	ck_assert_int_eq(shap_prepare(&m, &f), -E2BIG);
	ck_assert_ptr_null(f);
	free(l);
	free(r);
	free(idx);
	free(cond);
	free(hess);
	free(dl);
	shap_free(NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("shap");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, stump_contribs);
	tcase_add_test(tc, dart_weights_and_limit);
	tcase_add_test(tc, groups_and_base_rows);
	tcase_add_test(tc, leaf_indices);
	tcase_add_test(tc, shapley_definition);
	tcase_add_test(tc, deep_chain);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, linear);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
