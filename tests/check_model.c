/* check_model.c: tests for the XGBoost JSON loader, its refusals and the predictor. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonx.h"
#include "model.h"
#include "testutil.h"
#include "tree.h"
#include "ubjson.h"

static char err[512];

/* A tree from its five arrays; num_nodes is counted from left_children. */
static char *tree(const char *left, const char *right, const char *fid, const char *cond,
                  const char *dl)
{
	size_t n = 1;
	for (const char *p = left; *p; p++)
		n += *p == ',';
	char *s;
	ck_assert_int_ge(
	    asprintf(&s,
	             "{\"base_weights\": [], \"categories\": [], \"categories_nodes\": [],"
	             " \"categories_segments\": [], \"categories_sizes\": [],"
	             " \"default_left\": %s, \"id\": 0, \"left_children\": %s,"
	             " \"right_children\": %s, \"split_indices\": %s,"
	             " \"split_conditions\": %s, \"tree_param\": {\"num_deleted\": \"0\","
	             " \"num_feature\": \"1\", \"num_nodes\": \"%zu\","
	             " \"size_leaf_vector\": \"0\"}}",
	             dl, left, right, fid, cond, n),
	    0);
	return s;
}

/* The usual stump: feature 0 < 0.5 goes left (leaf -1), else right (leaf 2). */
static char *stump(int default_left)
{
	return tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0.5, -1.0, 2.0]",
	            default_left ? "[1, 0, 0]" : "[0, 0, 0]");
}

/*
 * A whole gbtree document. trees is a JSON array body (without brackets) and takes
 * ownership of nothing; info is the tree_info array text.
 */
static char *gbtree_doc(const char *objective, int num_feature, int num_class,
                        const char *base_score, const char *trees, int ntrees, const char *info)
{
	char *s;
	ck_assert_int_ge(asprintf(&s,
	                          "{\"learner\": {\"attributes\": {}, \"feature_names\": [],"
	                          " \"feature_types\": [], \"gradient_booster\": {\"model\":"
	                          " {\"gbtree_model_param\": {\"num_parallel_tree\": \"1\","
	                          " \"num_trees\": \"%d\", \"size_leaf_vector\": \"0\"},"
	                          " \"tree_info\": %s, \"trees\": [%s]}, \"name\": \"gbtree\"},"
	                          " \"learner_model_param\": {\"base_score\": \"%s\","
	                          " \"boost_from_average\": \"1\", \"num_class\": \"%d\","
	                          " \"num_feature\": \"%d\", \"num_target\": \"1\"},"
	                          " \"objective\": {\"name\": \"%s\"}}, \"version\": [1, 7, 4]}",
	                          ntrees, info, trees, base_score, num_class, num_feature,
	                          objective),
	                 0);
	return s;
}

static int load(const char *text, struct model **m)
{
	err[0] = '\0';
	return model_load_buffer(text, strlen(text), NULL, m, err, sizeof(err));
}

static int load_lim(const char *text, const struct model_limits *lim, struct model **m)
{
	err[0] = '\0';
	return model_load_buffer(text, strlen(text), lim, m, err, sizeof(err));
}

/* Loads a stump model with one objective, or fails the test. */
static struct model *stump_model(const char *objective, const char *base_score, int dl)
{
	char *t = stump(dl);
	char *doc = gbtree_doc(objective, 1, 0, base_score, t, 1, "[0]");
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "load failed: %s", err);
	free(t);
	free(doc);
	return m;
}

static float margin1(const struct model *m, float x)
{
	float out = -12345.0f;
	model_predict(m, &x, 1, &out, NULL);
	return out;
}

static float predict1(const struct model *m, float x)
{
	float out = -12345.0f;
	model_predict(m, &x, 1, NULL, &out);
	return out;
}

START_TEST(stump_split_and_missing)
{
	struct model *m = stump_model("reg:squarederror", "5E-1", 1);
	/* Margins by hand: base 0.5 plus leaf -1 (left) or 2 (right). */
	ck_assert_float_eq(margin1(m, 0.4f), -0.5f);
	ck_assert_float_eq(margin1(m, 0.5f), 2.5f); /* equal to the threshold goes right */
	ck_assert_float_eq(margin1(m, nextafterf(0.5f, 0.0f)), -0.5f);
	ck_assert_float_eq(margin1(m, NAN), -0.5f); /* default_left */
	ck_assert_float_eq(margin1(m, -INFINITY), -0.5f);
	ck_assert_float_eq(margin1(m, INFINITY), 2.5f);
	ck_assert_float_eq(predict1(m, 0.7f), 2.5f); /* identity transform */
	model_unref(m);

	m = stump_model("reg:squarederror", "5E-1", 0);
	ck_assert_float_eq(margin1(m, NAN), 2.5f); /* default right */
	ck_assert_float_eq(margin1(m, 0.4f), -0.5f);
	model_unref(m);
}
END_TEST

START_TEST(info_fields)
{
	struct model *m = stump_model("binary:logistic", "5E-1", 1);
	const struct model_info *in = model_get_info(m);
	ck_assert_str_eq(in->booster, "gbtree");
	ck_assert_str_eq(in->objective, "binary:logistic");
	ck_assert_str_eq(in->xgboost_version, "1.7.4");
	ck_assert_uint_eq(in->num_feature, 1);
	ck_assert_uint_eq(in->num_group, 1);
	ck_assert_uint_eq(in->num_trees, 1);
	ck_assert_uint_eq(in->predict_width, 1);
	ck_assert_uint_eq(in->margin_width, 1);
	ck_assert_double_eq(in->base_score, 0.5);
	model_unref(m);
}
END_TEST

START_TEST(objective_transforms)
{
	struct model *m;
	float x;

	/* logit(0.5) = 0, so the margin is the leaf alone. */
	m = stump_model("binary:logistic", "5E-1", 1);
	ck_assert_float_eq(margin1(m, 0.9f), 2.0f);
	ck_assert_float_eq(predict1(m, 0.9f), 1.0f / (1.0f + expf(-2.0f)));
	ck_assert_float_eq(predict1(m, 0.1f), 1.0f / (1.0f + expf(1.0f)));
	model_unref(m);

	m = stump_model("reg:logistic", "2.5E-1", 1);
	/* logit(0.25) = -log(3). */
	ck_assert_float_eq_tol(margin1(m, 0.9f), 2.0f - logf(3.0f), 1e-6f);
	x = margin1(m, 0.9f);
	ck_assert_float_eq(predict1(m, 0.9f), 1.0f / (1.0f + expf(-x)));
	model_unref(m);

	/* logitraw keeps base_score as it is (XGBoost's behaviour, checked against it). */
	m = stump_model("binary:logitraw", "5E-1", 1);
	ck_assert_float_eq(margin1(m, 0.9f), 2.5f);
	ck_assert_float_eq(predict1(m, 0.9f), 2.5f);
	model_unref(m);

	m = stump_model("binary:hinge", "5E-1", 1);
	ck_assert_float_eq(predict1(m, 0.9f), 1.0f); /* 2.5 > 0 */
	ck_assert_float_eq(predict1(m, 0.1f), 0.0f); /* -0.5 */
	model_unref(m);

	m = stump_model("count:poisson", "2E0", 1);
	ck_assert_float_eq_tol(margin1(m, 0.9f), logf(2.0f) + 2.0f, 1e-6f);
	ck_assert_float_eq_tol(predict1(m, 0.9f), 2.0f * expf(2.0f), 1e-5f);
	model_unref(m);

	static const char *const log_link[] = {"reg:gamma", "reg:tweedie"};
	for (int i = 0; i < 2; i++) {
		m = stump_model(log_link[i], "1E0", 1);
		ck_assert_float_eq(margin1(m, 0.1f), -1.0f); /* log 1 = 0 */
		ck_assert_float_eq(predict1(m, 0.1f), expf(-1.0f));
		model_unref(m);
	}

	static const char *const identity[] = {"reg:squarederror", "reg:linear",
	                                       "reg:squaredlogerror", "reg:pseudohubererror",
	                                       "reg:absoluteerror"};
	for (int i = 0; i < 5; i++) {
		m = stump_model(identity[i], "1.5E0", 1);
		ck_assert_float_eq(margin1(m, 0.1f), 0.5f);
		ck_assert_float_eq(predict1(m, 0.9f), 3.5f);
		model_unref(m);
	}
}
END_TEST

/* Three classes, four trees: class 0 has two trees, 1 and 2 one each. */
static struct model *multiclass(const char *objective)
{
	char *t0 = tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0.0, 1.0, -1.0]", "[1, 0, 0]");
	char *t1 = tree("[-1]", "[-1]", "[0]", "[0.25]", "[0]");
	char *t2 =
	    tree("[1, -1, -1]", "[2, -1, -1]", "[1, 0, 0]", "[0.0, -0.5, 0.75]", "[0, 0, 0]");
	char *t3 = tree("[-1]", "[-1]", "[0]", "[0.5]", "[0]");
	char *trees;
	ck_assert_int_ge(asprintf(&trees, "%s, %s, %s, %s", t0, t1, t2, t3), 0);
	char *doc = gbtree_doc(objective, 2, 3, "5E-1", trees, 4, "[0, 1, 2, 0]");
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "load failed: %s", err);
	free(t0);
	free(t1);
	free(t2);
	free(t3);
	free(trees);
	free(doc);
	return m;
}

START_TEST(multiclass_softprob)
{
	struct model *m = multiclass("multi:softprob");
	const struct model_info *in = model_get_info(m);
	ck_assert_uint_eq(in->num_group, 3);
	ck_assert_uint_eq(in->predict_width, 3);
	ck_assert_uint_eq(in->margin_width, 3);
	ck_assert_uint_eq(in->num_trees, 4);

	/* Row (-1, 1): class 0 = 0.5 + 1 + 0.5, class 1 = 0.5 + 0.25, class 2 = 0.5 + 0.75. */
	float rows[4] = {-1.0f, 1.0f, NAN, NAN};
	float margin[6], prob[6], prob_only[6];
	model_predict(m, rows, 2, margin, prob);
	ck_assert_float_eq(margin[0], 2.0f);
	ck_assert_float_eq(margin[1], 0.75f);
	ck_assert_float_eq(margin[2], 1.25f);
	/* Row (NaN, NaN): tree 0 default left (1), tree 2 default right (0.75). */
	ck_assert_float_eq(margin[3], 2.0f);
	ck_assert_float_eq(margin[4], 0.75f);
	ck_assert_float_eq(margin[5], 1.25f);
	double z = exp(2.0) + exp(0.75) + exp(1.25);
	ck_assert_double_eq_tol(prob[0], exp(2.0) / z, 1e-6);
	ck_assert_double_eq_tol(prob[1], exp(0.75) / z, 1e-6);
	ck_assert_double_eq_tol(prob[2], exp(1.25) / z, 1e-6);
	ck_assert_double_eq_tol(prob[0] + prob[1] + prob[2], 1.0, 1e-6);
	/* Without a margin buffer the probabilities come out the same. */
	model_predict(m, rows, 2, NULL, prob_only);
	ck_assert_mem_eq(prob, prob_only, sizeof(prob));
	model_unref(m);
}
END_TEST

START_TEST(multiclass_softmax)
{
	struct model *m = multiclass("multi:softmax");
	ck_assert_uint_eq(model_get_info(m)->predict_width, 1);
	float rows[6] = {-1.0f, 1.0f, 1.0f, 1.0f, 1.0f, -1.0f};
	float margin[9], cls[3], cls_only[3];
	model_predict(m, rows, 3, margin, cls);
	/* (1, 1): 0.5 - 1 + 0.5 = 0, 0.75, 1.25 -> class 2. (1, -1): 0, 0.75, 0 -> class 1. */
	ck_assert_float_eq(margin[3], 0.0f);
	ck_assert_float_eq(margin[5], 1.25f);
	ck_assert_float_eq(cls[0], 0.0f);
	ck_assert_float_eq(cls[1], 2.0f);
	ck_assert_float_eq(cls[2], 1.0f);
	model_predict(m, rows, 3, NULL, cls_only);
	ck_assert_mem_eq(cls, cls_only, sizeof(cls));
	model_unref(m);
}
END_TEST

START_TEST(dart_weights)
{
	char *t0 = stump(1), *t1 = tree("[-1]", "[-1]", "[0]", "[4.0]", "[0]");
	char *s;
	ck_assert_int_ge(
	    asprintf(&s,
	             "{\"learner\": {\"gradient_booster\": {\"gbtree\": {\"model\":"
	             " {\"gbtree_model_param\": {\"num_trees\": \"2\"}, \"tree_info\":"
	             " [0, 0], \"trees\": [%s, %s]}, \"name\": \"gbtree\"}, \"name\":"
	             " \"dart\", \"weight_drop\": [0.5, 0.25]}, \"learner_model_param\":"
	             " {\"base_score\": \"0\", \"num_class\": \"0\", \"num_feature\": \"1\"},"
	             " \"objective\": {\"name\": \"reg:squarederror\"}}}",
	             t0, t1),
	    0);
	struct model *m = NULL;
	ck_assert_msg(load(s, &m) == 0, "%s", err);
	ck_assert_str_eq(model_get_info(m)->booster, "dart");
	ck_assert_str_eq(model_get_info(m)->xgboost_version, "unknown");
	/* 0.5 * 2 + 0.25 * 4 and 0.5 * -1 + 0.25 * 4. */
	ck_assert_float_eq(margin1(m, 0.9f), 2.0f);
	ck_assert_float_eq(margin1(m, 0.1f), 0.5f);
	model_unref(m);

	/* weight_drop must have one weight per tree. */
	char *bad = strstr(s, "[0.5, 0.25]");
	memcpy(bad, "[0.5      ]", 11);
	ck_assert_int_eq(load(s, &m), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "weight_drop"));
	free(s);
	free(t0);
	free(t1);
}
END_TEST

#define LINEAR_FMT                                                                                 \
	"{\"learner\": {\"gradient_booster\": {\"model\": {\"boosted_rounds\": 1, \"weights\": "   \
	"%s},"                                                                                     \
	" \"name\": \"gblinear\"}, \"learner_model_param\": {\"base_score\": \"5E-1\","            \
	" \"num_class\": \"%d\", \"num_feature\": \"2\", \"num_target\": \"1\"},"                  \
	" \"objective\": {\"name\": \"%s\"}}, \"version\": [1, 7, 4]}"

START_TEST(gblinear_predicts)
{
	char *s;
	struct model *m = NULL;
	ck_assert_int_ge(asprintf(&s, LINEAR_FMT, "[2.0, -3.0, 0.25]", 0, "reg:squarederror"), 0);
	ck_assert_msg(load(s, &m) == 0, "%s", err);
	ck_assert_uint_eq(model_get_info(m)->num_trees, 0);
	float rows[6] = {1.0f, 1.0f, NAN, 2.0f, 0.5f, NAN};
	float out[3];
	model_predict(m, rows, 3, out, NULL);
	/* bias 0.25 + base 0.5 + 2 x0 - 3 x1, missing features contribute nothing. */
	ck_assert_float_eq(out[0], -0.25f);
	ck_assert_float_eq(out[1], -5.25f);
	ck_assert_float_eq(out[2], 1.75f);
	model_unref(m);
	free(s);

	/* Two classes: weights[f * 2 + g], biases last. */
	ck_assert_int_ge(
	    asprintf(&s, LINEAR_FMT, "[1.0, -1.0, 0.5, 0.5, 0.0, 1.0]", 2, "multi:softprob"), 0);
	ck_assert_msg(load(s, &m) == 0, "%s", err);
	float row[2] = {2.0f, 4.0f}, mg[2], pr[2];
	model_predict(m, row, 1, mg, pr);
	ck_assert_float_eq(mg[0], 0.5f + 2.0f + 2.0f);
	ck_assert_float_eq(mg[1], 1.5f - 2.0f + 2.0f);
	ck_assert_double_eq_tol(pr[0], 1.0 / (1.0 + exp(1.5 - 4.5)), 1e-6);
	model_unref(m);
	free(s);

	/* The weights array must hold (num_feature + 1) * num_group values. */
	ck_assert_int_ge(asprintf(&s, LINEAR_FMT, "[1.0, 2.0]", 0, "reg:squarederror"), 0);
	ck_assert_int_eq(load(s, &m), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "weights"));
	free(s);
}
END_TEST

START_TEST(xgboost2_format)
{
	/* 2.x writes base_score as a vector and size_leaf_vector 1 for scalar leaves. */
	char *t = tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0.5, -1.0, 2.0]",
	               "[true, false, false]");
	char *p = strstr(t, "\"size_leaf_vector\": \"0\"");
	ck_assert_ptr_nonnull(p);
	p[21] = '1';
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "[2.5E-1]", t, 1, "[0]");
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "%s", err);
	ck_assert_float_eq(margin1(m, NAN), -0.75f);
	ck_assert_double_eq(model_get_info(m)->base_score, 0.25);
	model_unref(m);
	free(t);
	free(doc);
}
END_TEST

/* Loads doc and expects rc with word somewhere in the error. */
static void expect_refusal(const char *doc, int rc, const char *word)
{
	struct model *m = (struct model *)&err; /* must be reset to NULL */
	int got = load(doc, &m);
	ck_assert_msg(got == rc, "expected %d, got %d (%s)", rc, got, err);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err, word) != NULL, "error \"%s\" does not mention \"%s\"", err, word);
}

static void refuse_tree(const char *left, const char *right, const char *fid, const char *cond,
                        const char *dl, int rc, const char *word)
{
	char *t = tree(left, right, fid, cond, dl);
	char *doc = gbtree_doc("reg:squarederror", 2, 0, "5E-1", t, 1, "[0]");
	expect_refusal(doc, rc, word);
	free(t);
	free(doc);
}

START_TEST(refuse_structure)
{
	/* Child index past the end. */
	refuse_tree("[1, -1, -1]", "[5, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "out of range");
	/* Negative child other than the leaf marker. */
	refuse_tree("[-2, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "out of range");
	/* A child pointing back at the root. */
	refuse_tree("[1, -1, -1]", "[0, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "out of range");
	/* Node 1 points at itself: a cycle. */
	refuse_tree("[1, 1, -1]", "[2, 2, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "reached twice");
	/* Both children the same node. */
	refuse_tree("[1, -1, -1]", "[1, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "reached twice");
	/* Feature 2 with num_feature 2. */
	refuse_tree("[1, -1, -1]", "[2, -1, -1]", "[2, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "feature");
	/* Arrays shorter than num_nodes. */
	refuse_tree("[1, -1, -1]", "[2, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "right_children");
	refuse_tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0]", -EINVAL,
	            "default_left");
	/* Wrong element types. */
	refuse_tree("[1, \"x\", -1]", "[2, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 0, 0]", -EINVAL,
	            "left_children");
	refuse_tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0, {}, 2]", "[0, 0, 0]", -EINVAL,
	            "split_conditions");
	refuse_tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0, 1, 2]", "[0, 7, 0]", -EINVAL,
	            "default_left");
	/* A leaf with only a right child. */
	refuse_tree("[-1]", "[0]", "[0]", "[0]", "[0]", -EINVAL, "right child");
}
END_TEST

START_TEST(refuse_model_level)
{
	char *t = stump(1), *doc;

	/* tree_info length and group range. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0, 0]");
	expect_refusal(doc, -EINVAL, "tree_info");
	free(doc);
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[1]");
	expect_refusal(doc, -EINVAL, "tree_info");
	free(doc);
	/* num_trees disagrees with the trees array. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 2, "[0]");
	expect_refusal(doc, -EINVAL, "num_trees");
	free(doc);
	/* Wrong types at the document level. */
	expect_refusal("{\"learner\": []}", -EINVAL, "learner");
	expect_refusal("[1, 2]", -ENOTSUP, "JSON");
	doc = gbtree_doc("reg:squarederror", 1, 0, "half", t, 1, "[0]");
	expect_refusal(doc, -EINVAL, "base_score");
	free(doc);
	doc = gbtree_doc("binary:logistic", 1, 0, "1.5", t, 1, "[0]");
	expect_refusal(doc, -EINVAL, "base_score");
	free(doc);
	doc = gbtree_doc("reg:squarederror", 0, 0, "5E-1", t, 1, "[0]");
	expect_refusal(doc, -EINVAL, "num_feature");
	free(doc);
	/* The feature count is a string of digits or an integer, nothing else. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	char *nf = strstr(doc, "\"num_feature\": \"1\", \"num_target\"");
	ck_assert_ptr_nonnull(nf);
	memcpy(nf + 15, "[] ", 3);
	expect_refusal(doc, -EINVAL, "num_feature");
	free(doc);
	/* Unknown objective, named in the error. */
	doc = gbtree_doc("rank:nosuch", 1, 0, "5E-1", t, 1, "[0]");
	expect_refusal(doc, -ENOTSUP, "rank:nosuch");
	free(doc);
	/* Truncated document. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	doc[strlen(doc) / 2] = '\0';
	expect_refusal(doc, -EINVAL, "JSON");
	free(doc);
	expect_refusal("  \n", -EINVAL, "empty");
	free(t);
}
END_TEST

static void append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A multi:softprob document of ntrees one-leaf trees (leaf t / 8) with the given tree_info. */
static char *leaves_doc(int num_class, int ntrees, const char *info)
{
	char *all = NULL;
	for (int t = 0; t < ntrees; t++) {
		char cond[32];
		snprintf(cond, sizeof(cond), "[%g]", t / 8.0);
		char *tj = tree("[-1]", "[-1]", "[0]", cond, "[0]");
		append(&all, "%s%s", t ? ", " : "", tj);
		free(tj);
	}
	char *doc =
	    gbtree_doc("multi:softprob", 2, num_class, "5E-1", all ? all : "", ntrees, info);
	free(all);
	return doc;
}

START_TEST(refuse_class_bounds)
{
	char *doc, *s;
	struct model *m = NULL;

	/* One tree per class (what XGBoost writes for one round): loads, widths follow. */
	doc = leaves_doc(3, 3, "[0, 1, 2]");
	ck_assert_msg(load(doc, &m) == 0, "%s", err);
	ck_assert_uint_eq(model_get_info(m)->predict_width, 3);
	ck_assert_uint_eq(model_get_info(m)->margin_width, 3);
	model_unref(m);
	free(doc);
	/* The fixture with an uneven split of trees (2, 1, 1) also loads. */
	m = multiclass("multi:softprob");
	ck_assert_uint_eq(model_get_info(m)->num_group, 3);
	model_unref(m);

	/* A huge num_class with 3 trees: over the hard cap, refused before any allocation. */
	doc = leaves_doc(INT32_MAX, 3, "[0, 1, 2]");
	expect_refusal(doc, -EINVAL, "learner_model_param.num_class = 2147483647 is out of range");
	ck_assert_ptr_nonnull(strstr(err, "max 65536"));
	free(doc);
	doc = leaves_doc(65537, 3, "[0, 1, 2]");
	expect_refusal(doc, -EINVAL, "num_class = 65537 is out of range (max 65536)");
	free(doc);
	/* 2^32 would wrap a 32-bit count: refused all the same. */
	doc = leaves_doc(7, 3, "[0, 1, 2]");
	char *at = strstr(doc, "\"num_class\": \"7\"");
	ck_assert_ptr_nonnull(at);
	ck_assert_int_ge(asprintf(&s, "%.*s\"num_class\": \"4294967296\"%s", (int)(at - doc), doc,
	                          at + strlen("\"num_class\": \"7\"")),
	                 0);
	expect_refusal(s, -EINVAL, "num_class = 4294967296 is out of range (max 65536)");
	free(s);
	free(doc);

	/* Within the cap but more classes than trees: the memory bomb the cap alone allows. */
	doc = leaves_doc(65536, 3, "[0, 1, 2]");
	expect_refusal(doc, -EINVAL, "num_class is 65536 but the model has 3 trees");
	ck_assert_ptr_nonnull(strstr(err, "num_class <= num_trees"));
	free(doc);
	doc = leaves_doc(4, 3, "[0, 1, 2]");
	expect_refusal(doc, -EINVAL, "num_class is 4 but the model has 3 trees");
	free(doc);

	/* A tree_info value naming a class at or past num_class, and a negative one. */
	doc = leaves_doc(3, 4, "[0, 1, 2, 3]");
	expect_refusal(doc, -EINVAL, "tree_info[3] = 3 is out of range (0 .. num_class - 1 = 2)");
	free(doc);
	doc = leaves_doc(3, 3, "[0, -1, 2]");
	expect_refusal(doc, -EINVAL, "tree_info[1] = -1 is out of range (0 .. num_class - 1 = 2)");
	free(doc);
	doc = leaves_doc(3, 3, "[0, \"1\", 2]");
	expect_refusal(doc, -EINVAL, "tree_info[1] is a string, not an integer");
	free(doc);
	/* A base_score vector holds 1 or num_class values. */
	doc = leaves_doc(3, 3, "[0, 1, 2]");
	at = strstr(doc, "\"base_score\": \"5E-1\"");
	ck_assert_ptr_nonnull(at);
	ck_assert_int_ge(asprintf(&s, "%.*s\"base_score\": \"[5E-1, 5E-1]\"%s", (int)(at - doc),
	                          doc, at + strlen("\"base_score\": \"5E-1\"")),
	                 0);
	expect_refusal(s, -EINVAL, "base_score has 2 values for 3 output groups");
	free(s);
	free(doc);
	/* Enough trees, but one class owns none of them. */
	doc = leaves_doc(3, 4, "[0, 1, 1, 0]");
	expect_refusal(doc, -EINVAL, "class 2 has no tree");
	free(doc);

	/* gblinear: exactly (num_feature + 1) * num_class weights, here (2 + 1) * 3 = 9. */
	static const char *const wrong[] = {"[1, 2, 3, 4, 5, 6, 7, 8]",
	                                    "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", "[]"};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		ck_assert_int_ge(asprintf(&s, LINEAR_FMT, wrong[i], 3, "multi:softprob"), 0);
		expect_refusal(s, -EINVAL,
		               "exactly (num_feature + 1) * num_class = (2 + 1) * 3 = 9");
		free(s);
	}
	ck_assert_int_ge(
	    asprintf(&s, LINEAR_FMT, "[1, 2, 3, 4, 5, 6, 7, 8, 9]", 3, "multi:softprob"), 0);
	ck_assert_msg(load(s, &m) == 0, "%s", err);
	ck_assert_uint_eq(model_get_info(m)->margin_width, 3);
	model_unref(m);
	free(s);
	/* The gblinear class count is under the same cap. */
	ck_assert_int_ge(asprintf(&s, LINEAR_FMT, "[1, 2, 3]", 70000, "multi:softprob"), 0);
	expect_refusal(s, -EINVAL, "num_class = 70000 is out of range (max 65536)");
	free(s);
}
END_TEST

START_TEST(refuse_unsupported)
{
	char *t, *doc;

	t = stump(1);
	/* Vector leaves. */
	char *p = strstr(t, "\"size_leaf_vector\": \"0\"");
	p[21] = '3';
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	expect_refusal(doc, -ENOTSUP, "multi-target");
	free(doc);
	p[21] = '0';
	/* num_target > 1. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	p = strstr(doc, "\"num_target\": \"1\"");
	p[15] = '2';
	expect_refusal(doc, -ENOTSUP, "multi-target");
	free(doc);
	/* Boosters we do not know. */
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	p = strstr(doc, "\"name\": \"gbtree\"");
	memcpy(p + 9, "gbxxxx", 6);
	expect_refusal(doc, -ENOTSUP, "gbxxxx");
	free(doc);
	free(t);

	/* A truncated UBJSON document ('{' then a length marker) is refused as UBJSON. */
	static const char ubj[] = "{L\0\0\0\0\0\0\0\7learner{";
	struct model *m = NULL;
	ck_assert_int_eq(model_load_buffer(ubj, sizeof(ubj) - 1, NULL, &m, err, sizeof(err)),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "UBJSON"));
	/* The old binary format: refused with what to do about it. */
	static const char bin[] = "binf\0\0\0\x3f";
	ck_assert_int_eq(model_load_buffer(bin, sizeof(bin) - 1, NULL, &m, err, sizeof(err)),
	                 -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "save_model('model.json')"));
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(limits)
{
	char *t = stump(1), *two, *doc;
	struct model *m = NULL;
	struct model_limits lim = {0};

	ck_assert_int_ge(asprintf(&two, "%s, %s", t, t), 0);
	doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", two, 2, "[0, 0]");
	ck_assert_int_eq(load_lim(doc, &lim, &m), 0);
	model_unref(m);
	lim.max_trees = 1;
	ck_assert_int_eq(load_lim(doc, &lim, &m), -EFBIG);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "trees"));
	lim.max_trees = 0;
	lim.max_file_bytes = strlen(doc) - 1;
	ck_assert_int_eq(load_lim(doc, &lim, &m), -EFBIG);
	lim.max_file_bytes = strlen(doc);
	ck_assert_int_eq(load_lim(doc, &lim, &m), 0);
	model_unref(m);
	free(doc);

	/* Depth 2: root -> node 2 -> leaves 3, 4. A stump (depth 1) passes a limit of 1. */
	char *deep = tree("[1, -1, 3, -1, -1]", "[2, -1, 4, -1, -1]", "[0, 0, 0, 0, 0]",
	                  "[0.5, 1, 0.7, 2, 3]", "[0, 0, 0, 0, 0]");
	doc = gbtree_doc("reg:squarederror", 1, 0, "0", deep, 1, "[0]");
	lim = (struct model_limits){.max_depth = 2};
	ck_assert_int_eq(load_lim(doc, &lim, &m), 0);
	ck_assert_float_eq(margin1(m, 0.6f), 2.0f);
	ck_assert_float_eq(margin1(m, 0.8f), 3.0f);
	ck_assert_float_eq(margin1(m, 0.1f), 1.0f);
	model_unref(m);
	lim.max_depth = 1;
	ck_assert_int_eq(load_lim(doc, &lim, &m), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "deeper"));
	free(doc);
	doc = gbtree_doc("reg:squarederror", 1, 0, "0", t, 1, "[0]");
	ck_assert_int_eq(load_lim(doc, &lim, &m), 0);
	model_unref(m);
	free(doc);
	free(deep);
	free(two);
	free(t);
}
END_TEST

START_TEST(files)
{
	char *dir = tu_mkdtemp();
	char *t = stump(1);
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", t, 1, "[0]");
	char *path = tu_write_file(dir, "m.json", doc);
	struct model *m = NULL;
	struct model_limits lim = {.max_file_bytes = 64};

	ck_assert_int_eq(model_load_file(path, NULL, &m, err, sizeof(err)), 0);
	ck_assert_float_eq(margin1(m, 0.1f), -0.5f);
	model_unref(m);
	ck_assert_int_eq(model_load_file(path, &lim, &m, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_null(m);

	doc[strlen(doc) - 3] = '\0';
	char *trunc = tu_write_file(dir, "trunc.json", doc);
	ck_assert_int_eq(model_load_file(trunc, NULL, &m, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "trunc.json"));

	char *missing;
	ck_assert_int_ge(asprintf(&missing, "%s/nope.json", dir), 0);
	ck_assert_int_eq(model_load_file(missing, NULL, &m, err, sizeof(err)), -ENOENT);
	ck_assert_int_eq(model_load_file(dir, NULL, &m, err, sizeof(err)), -EINVAL);
	tu_rmtree(dir);
	free(missing);
	free(trunc);
	free(path);
	free(doc);
	free(t);
	free(dir);
}
END_TEST

START_TEST(refcount)
{
	struct model *m = stump_model("reg:squarederror", "5E-1", 1);
	ck_assert_ptr_eq(model_ref(m), m);
	model_unref(m);
	/* Still alive: one reference left. */
	ck_assert_float_eq(margin1(m, 0.1f), -0.5f);
	model_unref(m);
	model_unref(NULL);
	ck_assert_ptr_null(model_ref(NULL));
}
END_TEST

/* A random forest built in the test, traversed by hand as the reference. */
struct ref_tree {
	int left[15], right[15], fid[15], dl[15];
	float cond[15];
};

static float ref_eval(const struct ref_tree *t, const float *x)
{
	int n = 0;
	while (t->left[n] != -1) {
		float v = x[t->fid[n]];
		if (isnan(v))
			n = t->dl[n] ? t->left[n] : t->right[n];
		else
			n = v < t->cond[n] ? t->left[n] : t->right[n];
	}
	return t->cond[n];
}

/* Appends "[a, b, ...]" of n ints or floats to a growing string. */
static void append(char **s, const char *fmt, ...)
{
	char *add, *old = *s;
	va_list ap;
	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&add, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(s, "%s%s", old ? old : "", add), 0);
	free(old);
	free(add);
}

static char *ints(const int *v, int n)
{
	char *s = NULL;
	append(&s, "[");
	for (int i = 0; i < n; i++)
		append(&s, "%s%d", i ? ", " : "", v[i]);
	append(&s, "]");
	return s;
}

static char *floats(const float *v, int n)
{
	char *s = NULL;
	append(&s, "[");
	for (int i = 0; i < n; i++)
		append(&s, "%s%.9g", i ? ", " : "", (double)v[i]);
	append(&s, "]");
	return s;
}

/* Not a multiple of the predictor's 8 walks in flight: the short last span is covered. */
#define NTREES 43
#define NFEAT  5
#define NROWS  300

static struct model *forest;
static float forest_rows[NROWS * NFEAT];
static float forest_margin[NROWS];

/* Full depth-3 trees with nodes stored in a shuffled order, so the loader must re-lay them. */
static void build_forest(void)
{
	struct ref_tree *trees = calloc(NTREES, sizeof(*trees));
	char *all = NULL, *info = NULL;
	unsigned seed = 12345;
	ck_assert_ptr_nonnull(trees);
	append(&info, "[");
	for (int t = 0; t < NTREES; t++) {
		struct ref_tree *r = &trees[t];
		int perm[15];
		/* Node k of the implicit heap (children 2k+1, 2k+2) is stored at perm[k]. */
		for (int k = 0; k < 15; k++)
			perm[k] = k;
		for (int k = 14; k > 1; k--) {
			int j = 1 + (int)(rand_r(&seed) % (unsigned)k);
			int tmp = perm[k];
			perm[k] = perm[j];
			perm[j] = tmp;
		}
		for (int k = 0; k < 15; k++) {
			int at = perm[k];
			if (k < 7) {
				r->left[at] = perm[2 * k + 1];
				r->right[at] = perm[2 * k + 2];
				r->fid[at] = (int)(rand_r(&seed) % NFEAT);
				r->dl[at] = (int)(rand_r(&seed) % 2);
				r->cond[at] = (float)(rand_r(&seed) % 200) / 100.0f - 1.0f;
			} else {
				r->left[at] = r->right[at] = -1;
				r->cond[at] = (float)(rand_r(&seed) % 1000) / 999.0f - 0.5f;
			}
		}
		char *l = ints(r->left, 15), *rr = ints(r->right, 15), *f = ints(r->fid, 15);
		char *c = floats(r->cond, 15), *d = ints(r->dl, 15);
		char *tj = tree(l, rr, f, c, d);
		append(&all, "%s%s", t ? ", " : "", tj);
		append(&info, "%s0", t ? ", " : "");
		free(l);
		free(rr);
		free(f);
		free(c);
		free(d);
		free(tj);
	}
	append(&info, "]");
	char *doc = gbtree_doc("reg:squarederror", NFEAT, 0, "2.5E-1", all, NTREES, info);
	ck_assert_msg(load(doc, &forest) == 0, "%s", err);
	for (int i = 0; i < NROWS * NFEAT; i++) {
		unsigned k = rand_r(&seed) % 10;
		/* Some missing values, some exactly on a threshold grid value. */
		forest_rows[i] = k == 0   ? NAN
		                 : k == 1 ? (float)(rand_r(&seed) % 200) / 100.0f - 1.0f
		                          : (float)rand_r(&seed) / (float)RAND_MAX * 2.4f - 1.2f;
	}
	for (int i = 0; i < NROWS; i++) {
		float acc = 0.25f;
		for (int t = 0; t < NTREES; t++)
			acc += ref_eval(&trees[t], forest_rows + i * NFEAT);
		forest_margin[i] = acc;
	}
	free(trees);
	free(all);
	free(info);
	free(doc);
}

START_TEST(forest_matches_reference)
{
	float out[NROWS];
	build_forest();
	model_predict(forest, forest_rows, NROWS, out, NULL);
	/* Same float additions in the same order as the reference: bit-identical. */
	ck_assert_mem_eq(out, forest_margin, sizeof(out));
	/* Row by row, and in odd batch sizes, gives the same bits. */
	for (int i = 0; i < NROWS; i++) {
		float one;
		model_predict(forest, forest_rows + i * NFEAT, 1, &one, NULL);
		ck_assert_mem_eq(&one, &forest_margin[i], sizeof(one));
	}
	model_predict(forest, forest_rows + 7 * NFEAT, 37, out, NULL);
	ck_assert_mem_eq(out, forest_margin + 7, 37 * sizeof(float));
	model_unref(forest);
}
END_TEST

static void *predict_thread(void *arg)
{
	float *out = arg;
	for (int k = 0; k < 50; k++)
		model_predict(forest, forest_rows, NROWS, out, NULL);
	return NULL;
}

START_TEST(concurrent_predict)
{
	build_forest();
	pthread_t th[4];
	float *outs = calloc(4 * NROWS, sizeof(float));
	ck_assert_ptr_nonnull(outs);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, predict_thread, outs + i * NROWS), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_mem_eq(outs + i * NROWS, forest_margin, NROWS * sizeof(float));
	free(outs);
	model_unref(forest);
}
END_TEST

/*
 * Thresholds and values where an ordering shortcut could go wrong: signed zeros, the
 * smallest subnormals, the float extremes. Tree t splits feature 0 at thr[t / 2], default
 * left when t is odd, and adds 2^t going right, so every margin is an exact sum that tells
 * which trees went right.
 */
static const float special_thr[] = {-FLT_MAX, -1.5f,     -FLT_MIN, -0x1p-149f, -0.0f,
                                    0.0f,     0x1p-149f, FLT_MIN,  1.5f,       FLT_MAX};
#define NSPECIAL      (int)(sizeof(special_thr) / sizeof(special_thr[0]))
#define SPECIAL_TREES (2 * NSPECIAL)

static struct model *special_model(int num_feature)
{
	char *all = NULL, *info = NULL;
	append(&info, "[");
	for (int t = 0; t < SPECIAL_TREES; t++) {
		char cond[96], dl[32];
		snprintf(cond, sizeof(cond), "[%.9g, 0, %.9g]", (double)special_thr[t / 2],
		         ldexp(1.0, t));
		snprintf(dl, sizeof(dl), "[%d, 0, 0]", t % 2);
		char *tj = tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", cond, dl);
		append(&all, "%s%s", t ? ", " : "", tj);
		append(&info, "%s0", t ? ", " : "");
		free(tj);
	}
	append(&info, "]");
	char *doc = gbtree_doc("reg:squarederror", num_feature, 0, "0E0", all, SPECIAL_TREES, info);
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "%s", err);
	free(all);
	free(info);
	free(doc);
	return m;
}

START_TEST(special_values_compare_as_floats)
{
	/* Each threshold, its float neighbours, the infinities and NaNs of both signs. */
	float vals[3 * NSPECIAL + 4];
	int nv = 0;
	for (int i = 0; i < NSPECIAL; i++) {
		vals[nv++] = special_thr[i];
		vals[nv++] = nextafterf(special_thr[i], INFINITY);
		vals[nv++] = nextafterf(special_thr[i], -INFINITY);
	}
	vals[nv++] = INFINITY;
	vals[nv++] = -INFINITY;
	vals[nv++] = NAN;
	vals[nv++] = -NAN;
	float want[3 * NSPECIAL + 4];
	for (int r = 0; r < nv; r++) {
		float acc = 0.0f;
		for (int t = 0; t < SPECIAL_TREES; t++) {
			float v = vals[r];
			int right = isnan(v) ? !(t % 2) : !(v < special_thr[t / 2]);
			acc += right ? ldexpf(1.0f, t) : 0.0f;
		}
		want[r] = acc;
	}
	/* One feature (the compact predictor), then 1100 (too many for it: the general one). */
	int widths[2] = {1, 1100};
	for (int w = 0; w < 2; w++) {
		int F = widths[w];
		struct model *m = special_model(F);
		float *rows = calloc((size_t)nv * (size_t)F, sizeof(float));
		float out[3 * NSPECIAL + 4], one;
		ck_assert_ptr_nonnull(rows);
		for (int r = 0; r < nv; r++)
			rows[(size_t)r * (size_t)F] = vals[r];
		model_predict(m, rows, (size_t)nv, out, NULL);
		for (int r = 0; r < nv; r++) {
			ck_assert_msg(out[r] == want[r], "F=%d value %a: margin %a, want %a", F,
			              (double)vals[r], (double)out[r], (double)want[r]);
			model_predict(m, rows + (size_t)r * (size_t)F, 1, &one, NULL);
			ck_assert_mem_eq(&one, &want[r], sizeof(one));
		}
		free(rows);
		model_unref(m);
	}
}
END_TEST

/* Walks a tree given as XGBoost's arrays to its leaf: the reference for the big tree below. */
static int ref_leaf(const int *left, const int *right, const int *fid, const float *cond,
                    const int *dl, const float *x)
{
	int n = 0;
	while (left[n] != -1) {
		float v = x[fid[n]];
		if (isnan(v))
			n = dl[n] ? left[n] : right[n];
		else
			n = v < cond[n] ? left[n] : right[n];
	}
	return n;
}

#define BIG_LEVELS 16
#define BIG_NODES  ((1 << (BIG_LEVELS + 1)) + 1)

/*
 * A tree whose level 16 is full (65536 nodes) and whose first node there splits again:
 * laid out breadth first, that node's children land 65536 places after it, past what the
 * compact predictor's 16-bit child offsets hold, so this model takes the general one. A
 * stump before it checks that the whole model moved.
 */
START_TEST(wide_tree_falls_back)
{
	int n = BIG_NODES, first16 = (1 << BIG_LEVELS) - 1;
	int *left = malloc((size_t)n * sizeof(int)), *right = malloc((size_t)n * sizeof(int));
	int *fid = malloc((size_t)n * sizeof(int)), *dl = malloc((size_t)n * sizeof(int));
	float *cond = malloc((size_t)n * sizeof(float));
	ck_assert(left && right && fid && dl && cond);
	for (int k = 0; k < n; k++) {
		int internal = k < first16 || k == first16;
		int level = 0;
		for (int j = k + 1; j > 1; j >>= 1)
			level++;
		left[k] = internal ? (k == first16 ? n - 2 : 2 * k + 1) : -1;
		right[k] = internal ? (k == first16 ? n - 1 : 2 * k + 2) : -1;
		fid[k] = internal ? level : 0;
		dl[k] = internal ? (k % 3 == 0) : 0;
		/* Leaves: distinct multiples of 1/4, exact in float. */
		cond[k] = internal ? 0.5f : (float)(k % 4096) * 0.25f - 512.0f;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	const int *iarr[4] = {left, right, fid, dl};
	const char *names[4] = {"left_children", "right_children", "split_indices", "default_left"};
	fprintf(f,
	        "{\"base_weights\": [], \"id\": 1, \"tree_param\": {\"num_deleted\": \"0\","
	        " \"num_feature\": \"17\", \"num_nodes\": \"%d\", \"size_leaf_vector\": \"0\"}",
	        n);
	for (int a = 0; a < 4; a++) {
		fprintf(f, ", \"%s\": [", names[a]);
		for (int k = 0; k < n; k++)
			fprintf(f, "%s%d", k ? "," : "", iarr[a][k]);
		fprintf(f, "]");
	}
	fprintf(f, ", \"split_conditions\": [");
	for (int k = 0; k < n; k++)
		fprintf(f, "%s%.9g", k ? "," : "", (double)cond[k]);
	fprintf(f, "]}");
	ck_assert_int_eq(fclose(f), 0);
	char *st = stump(1), *all = NULL;
	append(&all, "%s, %s", st, buf);
	char *doc = gbtree_doc("reg:squarederror", 17, 0, "0E0", all, 2, "[0, 0]");
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "%s", err);

	enum { NR = 200 };
	float *rows = malloc(NR * 17 * sizeof(float)), out[NR], one;
	ck_assert_ptr_nonnull(rows);
	unsigned seed = 777;
	for (int r = 0; r < NR; r++) {
		for (int j = 0; j < 17; j++) {
			unsigned k = rand_r(&seed) % 32;
			/* Mostly left, so that many rows reach the deep node; some NaN. */
			rows[r * 17 + j] = k == 0 ? NAN : k == 1 ? 1.0f : 0.0f;
		}
	}
	model_predict(m, rows, NR, out, NULL);
	int deep = 0;
	for (int r = 0; r < NR; r++) {
		const float *x = rows + r * 17;
		/* The stump: feature 0 < 0.5 -> -1, else 2; NaN default left. */
		float s0 = isnan(x[0]) || x[0] < 0.5f ? -1.0f : 2.0f;
		int leaf = ref_leaf(left, right, fid, cond, dl, x);
		float want = 0.0f + s0;
		want += cond[leaf];
		ck_assert_mem_eq(&out[r], &want, sizeof(want));
		model_predict(m, x, 1, &one, NULL);
		ck_assert_mem_eq(&one, &want, sizeof(want));
		deep += leaf >= n - 2;
	}
	/* Both kinds of walk were checked: through the far node and not. */
	ck_assert_int_gt(deep, 0);
	ck_assert_int_lt(deep, NR);
	model_unref(m);
	free(rows);
	free(doc);
	free(all);
	free(st);
	free(buf);
	free(left);
	free(right);
	free(fid);
	free(dl);
	free(cond);
}
END_TEST

/* Reads a JSON array of numbers (null = NaN) into floats. */
static float *read_floats(json_t *a, size_t *n)
{
	*n = json_array_size(a);
	float *v = calloc(*n ? *n : 1, sizeof(float));
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < *n; i++) {
		json_t *e = json_array_get(a, i);
		double d = NAN;
		if (!json_is_null(e))
			ck_assert_int_eq(jsonx_number(e, &d), 0);
		v[i] = (float)d;
	}
	return v;
}

START_TEST(bundled_model)
{
	if (access(TU_BUNDLED_MODEL, R_OK) != 0) {
		fprintf(stderr, "bundled_model: %s is absent, skipped\n", TU_BUNDLED_MODEL);
		return;
	}
	struct model *m = NULL;
	ck_assert_msg(model_load_file(TU_BUNDLED_MODEL, NULL, &m, err, sizeof(err)) == 0, "%s",
	              err);
	const struct model_info *in = model_get_info(m);
	ck_assert_str_eq(in->objective, "binary:logistic");
	ck_assert_uint_eq(in->num_feature, 30);
	ck_assert_uint_gt(in->num_trees, 0);
	if (access(TU_BUNDLED_GOLDEN, R_OK) == 0) {
		/* The golden set holds XGBoost's own outputs for its inputs. */
		json_t *g = NULL;
		ck_assert_msg(
		    jsonx_load_file(TU_BUNDLED_GOLDEN, 1 << 26, 64, 1, &g, err, sizeof(err)) == 0,
		    "%s", err);
		json_t *inputs = json_object_get(g, "inputs");
		size_t nrows = json_array_size(inputs), n;
		ck_assert_uint_gt(nrows, 0);
		float *rows = calloc(nrows * 30, sizeof(float));
		ck_assert_ptr_nonnull(rows);
		for (size_t r = 0; r < nrows; r++) {
			float *row = read_floats(json_array_get(inputs, r), &n);
			ck_assert_uint_eq(n, 30);
			memcpy(rows + r * 30, row, 30 * sizeof(float));
			free(row);
		}
		float *want_p = read_floats(json_object_get(g, "predict"), &n);
		ck_assert_uint_eq(n, nrows);
		float *want_m = read_floats(json_object_get(g, "margin"), &n);
		ck_assert_uint_eq(n, nrows);
		float *mg = calloc(nrows, sizeof(float)), *pr = calloc(nrows, sizeof(float));
		ck_assert(mg && pr);
		model_predict(m, rows, nrows, mg, pr);
		for (size_t r = 0; r < nrows; r++) {
			ck_assert_float_eq_tol(pr[r], want_p[r], 1e-6f);
			ck_assert_float_eq_tol(mg[r], want_m[r],
			                       1e-5f * fmaxf(1.0f, fabsf(want_m[r])));
		}
		free(mg);
		free(pr);
		free(want_p);
		free(want_m);
		free(rows);
		json_decref(g);
	}
	model_unref(m);
}
END_TEST

/* A one-split categorical stump: categories cats go right (leaf 2), others left (-1). */
static char *cat_stump(const char *cats, int ncats, int default_left)
{
	char *s;
	ck_assert_int_ge(
	    asprintf(&s,
	             "{\"base_weights\": [], \"categories\": %s, \"categories_nodes\": [0],"
	             " \"categories_segments\": [0], \"categories_sizes\": [%d],"
	             " \"default_left\": [%d, 0, 0], \"id\": 0, \"left_children\": [1, -1, -1],"
	             " \"right_children\": [2, -1, -1], \"split_indices\": [0, 0, 0],"
	             " \"split_conditions\": [NaN, -1.0, 2.0], \"split_type\": [1, 0, 0],"
	             " \"sum_hessian\": [10.0, 4.0, 6.0],"
	             " \"tree_param\": {\"num_deleted\": \"0\", \"num_feature\": \"1\","
	             " \"num_nodes\": \"3\", \"size_leaf_vector\": \"0\"}}",
	             cats, ncats, default_left),
	    0);
	return s;
}

static struct model *cat_model(const char *cats, int ncats, int default_left)
{
	char *t = cat_stump(cats, ncats, default_left);
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", t, 1, "[0]");
	struct model *m = NULL;
	ck_assert_msg(load(doc, &m) == 0, "load failed: %s", err);
	free(t);
	free(doc);
	return m;
}

/*
 * XGBoost 1.7.4's decision (categorical.h Decision, predict_fn.h GetNextNode), derived by
 * hand: a missing value takes the default child; an invalid category (negative, or 2^24
 * and above) and one past the node's bitset go left; a valid one goes right exactly when
 * it is in the node's set; the value is truncated toward zero first.
 */
START_TEST(categorical_splits)
{
	struct model *m = cat_model("[1, 3]", 2, 1);
	ck_assert(model_get_info(m)->categorical);
	ck_assert_float_eq(margin1(m, 1.0f), 2.0f);
	ck_assert_float_eq(margin1(m, 3.0f), 2.0f);
	ck_assert_float_eq(margin1(m, 1.75f), 2.0f);
	ck_assert_float_eq(margin1(m, 3.5f), 2.0f);
	ck_assert_float_eq(margin1(m, 0.0f), -1.0f);
	ck_assert_float_eq(margin1(m, -0.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 2.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 4.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 31.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 33.0f), -1.0f); /* past the one-word bitset */
	ck_assert_float_eq(margin1(m, -1.0f), -1.0f);
	ck_assert_float_eq(margin1(m, -0.5f), -1.0f);
	ck_assert_float_eq(margin1(m, 16777216.0f), -1.0f);
	ck_assert_float_eq(margin1(m, INFINITY), -1.0f);
	ck_assert_float_eq(margin1(m, -INFINITY), -1.0f);
	ck_assert_float_eq(margin1(m, NAN), -1.0f); /* default left */
	/* Many rows take the same path as one. */
	float rows[40], out[40];
	for (int i = 0; i < 40; i++)
		rows[i] = (float)i;
	model_predict(m, rows, 40, out, NULL);
	for (int i = 0; i < 40; i++)
		ck_assert_float_eq(out[i], i == 1 || i == 3 ? 2.0f : -1.0f);
	/* The view TreeSHAP reads: XGBoost's numbering, cover and the set. */
	size_t n;
	const struct tree *t = model_trees(m, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(t->n, 3);
	ck_assert_int_eq(t->left[0], 1);
	ck_assert_int_eq(t->right[0], 2);
	ck_assert_int_eq(t->left[1], -1);
	ck_assert_float_eq(t->sum_hess[0], 10.0f);
	ck_assert_float_eq(t->split_cond[2], 2.0f);
	ck_assert_ptr_nonnull(t->split_type);
	ck_assert_int_eq(t->split_type[0], TREE_CATEGORICAL);
	ck_assert(tree_cat_right(t, 0, 3.0f));
	ck_assert(!tree_cat_right(t, 0, 2.0f));
	ck_assert_int_eq(tree_next(t, 0, NAN), 1);
	ck_assert_uint_eq(model_tree_groups(m)[0], 0);
	ck_assert_ptr_null(model_tree_weights(m));
	model_unref(m);

	/* Default right; a set reaching into the second word. */
	m = cat_model("[40, 0]", 2, 0);
	ck_assert_float_eq(margin1(m, NAN), 2.0f);
	ck_assert_float_eq(margin1(m, 40.0f), 2.0f);
	ck_assert_float_eq(margin1(m, 0.0f), 2.0f);
	ck_assert_float_eq(margin1(m, 8.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 39.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 64.0f), -1.0f);
	model_unref(m);

	/* A categorical node without a set sends every valid category left. */
	char *t2 = cat_stump("[]", 0, 1);
	char *c = strstr(t2, "\"categories_nodes\": [0]");
	memcpy(c, "\"categories_nodes\": [ ]", 23);
	c = strstr(t2, "\"categories_segments\": [0]");
	memcpy(c, "\"categories_segments\": [ ]", 26);
	c = strstr(t2, "\"categories_sizes\": [0]");
	memcpy(c, "\"categories_sizes\": [ ]", 23);
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", t2, 1, "[0]");
	ck_assert_msg(load(doc, &m) == 0, "load failed: %s", err);
	ck_assert_float_eq(margin1(m, 0.0f), -1.0f);
	ck_assert_float_eq(margin1(m, 5.0f), -1.0f);
	model_unref(m);
	free(doc);
	free(t2);
}
END_TEST

START_TEST(categorical_refusals)
{
	static const struct {
		const char *cats;
		int n;
		const char *word;
	} bad[] = {
	    {"[-1]", 1, "category -1"},
	    {"[16777216]", 1, "category 16777216"},
	    {"[1, 2]", 3, "non-empty range"},
	    {"[1]", 0, "non-empty range"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *t = cat_stump(bad[i].cats, bad[i].n, 1);
		char *doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", t, 1, "[0]");
		expect_refusal(doc, -EINVAL, bad[i].word);
		free(doc);
		free(t);
	}
	char *t = cat_stump("[1]", 1, 1);
	char *p = strstr(t, "\"split_type\": [1");
	p[15] = '2';
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", t, 1, "[0]");
	expect_refusal(doc, -EINVAL, "split_type[0]");
	free(doc);
	p[15] = '1';
	p = strstr(t, "\"categories_nodes\": [0]");
	p[21] = '7';
	doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", t, 1, "[0]");
	expect_refusal(doc, -EINVAL, "categories_nodes");
	free(doc);
	free(t);
	/* A huge category in many nodes would cost megabytes each: capped. */
	char *trees = NULL;
	for (int i = 0; i < 40; i++) {
		char *one = cat_stump("[16777215]", 1, 1);
		append(&trees, "%s%s", i ? ", " : "", one);
		free(one);
	}
	char *info = NULL;
	for (int i = 0; i < 40; i++)
		append(&info, "%s0", i ? ", " : "[");
	append(&info, "]");
	doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", trees, 40, info);
	expect_refusal(doc, -EFBIG, "categorical sets");
	free(doc);
	free(trees);
	free(info);
}
END_TEST

/* Two stumps a round; tree_limit keeps the first trees in file order. */
START_TEST(tree_limit_and_best)
{
	char *t1 = stump(1);
	char *t2 = tree("[-1]", "[-1]", "[0]", "[0.25]", "[0]");
	char *trees;
	ck_assert_int_ge(asprintf(&trees, "%s, %s, %s", t1, t2, t2), 0);
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "0E0", trees, 3, "[0, 0, 0]");
	char *a = strstr(doc, "\"attributes\": {}");
	ck_assert_ptr_nonnull(a);
	char *doc2;
	ck_assert_int_ge(asprintf(&doc2, "%.*s\"attributes\": {\"best_iteration\": \"1\"}%s",
	                          (int)(a - doc), doc, a + 16),
	                 0);
	struct model *m = NULL;
	ck_assert_msg(load(doc2, &m) == 0, "load failed: %s", err);
	const struct model_info *info = model_get_info(m);
	ck_assert_int_eq(info->best_iteration, 1);
	ck_assert_uint_eq(info->best_tree_limit, 2);
	ck_assert_uint_eq(info->num_parallel_tree, 1);
	float x = 1.0f, out = 0.0f;
	struct model_outputs o = {.margin = &out};
	ck_assert_int_eq(model_predict_ex(m, &x, 1, 0, &o), 0);
	ck_assert_float_eq(out, 2.5f);
	ck_assert_int_eq(model_predict_ex(m, &x, 1, 1, &o), 0);
	ck_assert_float_eq(out, 2.0f);
	ck_assert_int_eq(model_predict_ex(m, &x, 1, info->best_tree_limit, &o), 0);
	ck_assert_float_eq(out, 2.25f);
	ck_assert_int_eq(model_predict_ex(m, &x, 1, 99, &o), 0);
	ck_assert_float_eq(out, 2.5f);
	/* Not a classifier: no proba or label. */
	float p[2];
	struct model_outputs po = {.proba = p};
	ck_assert_int_eq(model_predict_ex(m, &x, 1, 0, &po), -ENOTSUP);
	model_unref(m);
	free(doc2);
	/* best_iteration must be a count. */
	ck_assert_int_ge(asprintf(&doc2, "%.*s\"attributes\": {\"best_iteration\": \"x\"}%s",
	                          (int)(a - doc), doc, a + 16),
	                 0);
	expect_refusal(doc2, -EINVAL, "best_iteration");
	free(doc2);
	free(doc);
	free(trees);
	free(t1);
	free(t2);
}
END_TEST

/* A binary XGBClassifier's outputs, by hand from XGBClassifier.predict/predict_proba. */
START_TEST(classifier_outputs)
{
	char *t = stump(1);
	char *doc = gbtree_doc("binary:logistic", 1, 0, "5E-1", t, 1, "[0]");
	char *a = strstr(doc, "\"attributes\": {}, \"feature_names\": [],"
	                      " \"feature_types\": []");
	ck_assert_ptr_nonnull(a);
	char *doc2;
	ck_assert_int_ge(
	    asprintf(
	        &doc2,
	        "%.*s\"attributes\": {\"scikit_learn\": \"{\\\"_estimator_type\\\":"
	        " \\\"classifier\\\", \\\"n_classes_\\\": 2, \\\"classes_\\\": [3, 7]}\"},"
	        " \"feature_names\": [\"age\"], \"feature_types\": [\"q\"]%s",
	        (int)(a - doc), doc,
	        a + strlen("\"attributes\": {}, \"feature_names\": [], \"feature_types\": []")),
	    0);
	struct model *m = NULL;
	ck_assert_msg(load(doc2, &m) == 0, "load failed: %s", err);
	const struct model_info *info = model_get_info(m);
	ck_assert(info->classifier);
	ck_assert_uint_eq(info->num_classes, 2);
	ck_assert_uint_eq(info->proba_width, 2);
	ck_assert(info->classes[0] == 3.0 && info->classes[1] == 7.0);
	ck_assert_str_eq(info->feature_names[0], "age");
	ck_assert_str_eq(info->feature_types[0], "q");
	ck_assert_int_eq(info->best_iteration, -1);
	float x[2] = {0.0f, 1.0f}, pred[2], proba[4], label[2];
	struct model_outputs o = {.predict = pred, .proba = proba, .label = label};
	ck_assert_int_eq(model_predict_ex(m, x, 2, 0, &o), 0);
	/* Row 0: margin -1 -> p = 1 / (1 + e); row 1: margin 2. */
	float p0 = 1.0f / (1.0f + expf(1.0f)), p1 = 1.0f / (1.0f + expf(-2.0f));
	ck_assert_float_eq(pred[0], p0);
	ck_assert_float_eq(proba[0], 1.0f - p0);
	ck_assert_float_eq(proba[1], p0);
	ck_assert_float_eq(proba[3], p1);
	ck_assert_float_eq(label[0], 3.0f);
	ck_assert_float_eq(label[1], 7.0f);
	/* Without a predict buffer the outputs are the same. */
	struct model_outputs o2 = {.label = label, .proba = proba};
	memset(proba, 0, sizeof(proba));
	ck_assert_int_eq(model_predict_ex(m, x, 2, 0, &o2), 0);
	ck_assert_float_eq(proba[2], 1.0f - p1);
	ck_assert_float_eq(label[1], 7.0f);
	model_unref(m);
	free(doc2);
	free(doc);
	free(t);
}
END_TEST

/* doc with attributes.scikit_learn set to a classifier's meta of n classes (classes_ c). */
static char *with_sklearn(const char *doc, int n, const char *classes)
{
	const char *a = strstr(doc, "\"attributes\": {}");
	ck_assert_ptr_nonnull(a);
	char *out;
	ck_assert_int_ge(
	    asprintf(&out,
	             "%.*s\"attributes\": {\"scikit_learn\": \"{\\\"_estimator_type\\\":"
	             " \\\"classifier\\\", \\\"n_classes_\\\": %d, \\\"classes_\\\": %s,"
	             " \\\"missing\\\": NaN}\"}%s",
	             (int)(a - doc), doc, n, classes, a + 16),
	    0);
	return out;
}

/* Multi-class classifiers, by hand from XGBClassifier.predict / predict_proba 1.7.4. */
START_TEST(classifier_multiclass)
{
	char *t0 = tree("[1, -1, -1]", "[2, -1, -1]", "[0, 0, 0]", "[0.0, 1.0, -1.0]", "[1, 0, 0]");
	char *t1 = tree("[-1]", "[-1]", "[0]", "[0.25]", "[0]");
	char *t2 =
	    tree("[1, -1, -1]", "[2, -1, -1]", "[1, 0, 0]", "[0.0, -0.5, 0.75]", "[0, 0, 0]");
	char *trees;
	ck_assert_int_ge(asprintf(&trees, "%s, %s, %s", t0, t1, t2), 0);
	char *doc = gbtree_doc("multi:softprob", 2, 3, "5E-1", trees, 3, "[0, 1, 2]");
	char *sk = with_sklearn(doc, 3, "[10, 20, 30]");
	struct model *m = NULL;
	ck_assert_msg(load(sk, &m) == 0, "load failed: %s", err);
	ck_assert(model_get_info(m)->classifier);
	ck_assert_uint_eq(model_get_info(m)->proba_width, 3);
	/* Margins (0.5 - 1, 0.5 + 0.25, 0.5 + 0.75): class 2 wins, so the label is 30. */
	float x[2] = {0.5f, 0.5f}, pred[3], proba[3], label;
	struct model_outputs o = {.predict = pred, .proba = proba, .label = &label};
	ck_assert_int_eq(model_predict_ex(m, x, 1, 0, &o), 0);
	ck_assert_mem_eq(pred, proba, sizeof(pred)); /* proba is predict itself */
	ck_assert_float_eq(label, 30.0f);
	/* Row (-1, -1): margins (0.5 + 1, 0.75, 0.5 - 0.5): class 0, label 10. */
	x[0] = x[1] = -1.0f;
	ck_assert_int_eq(model_predict_ex(m, x, 1, 0, &o), 0);
	ck_assert_float_eq(label, 10.0f);
	model_unref(m);
	free(sk);
	free(doc);

	/* Two classes through multi:softprob: proba yes, label (2-D in sklearn) no. */
	char *two;
	ck_assert_int_ge(asprintf(&two, "%s, %s", t0, t1), 0);
	doc = gbtree_doc("multi:softprob", 2, 2, "5E-1", two, 2, "[0, 1]");
	sk = with_sklearn(doc, 2, "[0, 1]");
	ck_assert_msg(load(sk, &m) == 0, "load failed: %s", err);
	struct model_outputs po = {.proba = proba};
	ck_assert_int_eq(model_predict_ex(m, x, 1, 0, &po), 0);
	struct model_outputs lo = {.label = &label};
	ck_assert_int_eq(model_predict_ex(m, x, 1, 0, &lo), -ENOTSUP);
	model_unref(m);
	free(sk);
	free(doc);
	/* A class count that disagrees with the model's outputs: not a classifier. */
	doc = gbtree_doc("multi:softprob", 2, 3, "5E-1", trees, 3, "[0, 1, 2]");
	sk = with_sklearn(doc, 4, "[0, 1, 2, 3]");
	ck_assert_msg(load(sk, &m) == 0, "load failed: %s", err);
	ck_assert(!model_get_info(m)->classifier);
	model_unref(m);
	free(sk);
	free(doc);
	free(two);
	free(trees);
	free(t0);
	free(t1);
	free(t2);
}
END_TEST

static void be(char **b, size_t *n, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		(*b)[(*n)++] = (char)(v >> (8 * i));
}

/* Encodes v as XGBoost's UBJWriter does (typed arrays for all-int/all-real arrays). */
static void ubj_encode(json_t *v, char **b, size_t *n, size_t *cap)
{
	if (*n + 64 > *cap) {
		*cap = *cap * 2 + 64;
		*b = realloc(*b, *cap);
		ck_assert_ptr_nonnull(*b);
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		(*b)[(*n)++] = '{';
		json_object_foreach(v, k, e)
		{
			size_t kl = strlen(k);
			while (*n + kl + 64 > *cap) {
				*cap = *cap * 2;
				*b = realloc(*b, *cap);
			}
			(*b)[(*n)++] = 'L';
			be(b, n, kl, 8);
			memcpy(*b + *n, k, kl);
			*n += kl;
			ubj_encode(e, b, n, cap);
		}
		(*b)[(*n)++] = '}';
		break;
	}
	case JSON_ARRAY: {
		size_t i, len = json_array_size(v), ints = 0, reals = 0;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			ints += json_is_integer(e);
			reals += json_is_real(e) ||
			         (json_is_string(e) && !strcmp(json_string_value(e), JSONX_NAN));
		}
		(*b)[(*n)++] = '[';
		if (len && (ints == len || reals == len)) {
			(*b)[(*n)++] = '$';
			(*b)[(*n)++] = ints == len ? 'l' : 'd';
			(*b)[(*n)++] = '#';
			(*b)[(*n)++] = 'L';
			be(b, n, len, 8);
			json_array_foreach(v, i, e)
			{
				while (*n + 64 > *cap) {
					*cap = *cap * 2;
					*b = realloc(*b, *cap);
				}
				if (ints == len) {
					be(b, n, (uint32_t)json_integer_value(e), 4);
				} else {
					float f = json_is_real(e) ? (float)json_real_value(e) : NAN;
					uint32_t u;
					memcpy(&u, &f, 4);
					be(b, n, u, 4);
				}
			}
		} else {
			(*b)[(*n)++] = '#';
			(*b)[(*n)++] = 'L';
			be(b, n, len, 8);
			json_array_foreach(v, i, e) ubj_encode(e, b, n, cap);
		}
		break;
	}
	case JSON_STRING: {
		size_t l = strlen(json_string_value(v));
		while (*n + l + 64 > *cap) {
			*cap = *cap * 2;
			*b = realloc(*b, *cap);
		}
		(*b)[(*n)++] = 'S';
		(*b)[(*n)++] = 'L';
		be(b, n, l, 8);
		memcpy(*b + *n, json_string_value(v), l);
		*n += l;
		break;
	}
	case JSON_INTEGER:
		(*b)[(*n)++] = 'L';
		be(b, n, (uint64_t)json_integer_value(v), 8);
		break;
	case JSON_REAL: {
		float f = (float)json_real_value(v);
		uint32_t u;
		memcpy(&u, &f, 4);
		(*b)[(*n)++] = 'd';
		be(b, n, u, 4);
		break;
	}
	case JSON_TRUE:
	case JSON_FALSE:
		(*b)[(*n)++] = json_is_true(v) ? 'T' : 'F';
		break;
	case JSON_NULL:
		(*b)[(*n)++] = 'Z';
		break;
	}
}

static char *to_ubj(const char *text, size_t *len)
{
	json_t *j;
	char jerr[160];
	ck_assert_int_eq(jsonx_parse(text, strlen(text), 64, 1, &j, jerr, sizeof(jerr)), 0);
	size_t n = 0, cap = 256;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	ubj_encode(j, &b, &n, &cap);
	json_decref(j);
	*len = n;
	return b;
}

/* The same model as JSON and as UBJSON predicts the same; every prefix is refused cleanly. */
START_TEST(ubjson_models)
{
	char *t = cat_stump("[1, 3]", 2, 1);
	char *t2 = stump(0);
	char *trees;
	ck_assert_int_ge(asprintf(&trees, "%s, %s", t, t2), 0);
	char *doc = gbtree_doc("reg:squarederror", 1, 0, "5E-1", trees, 2, "[0, 0]");
	size_t len;
	char *ubj = to_ubj(doc, &len);
	ck_assert(ubjson_sniff(ubj, len));
	ck_assert(!ubjson_sniff(doc, strlen(doc)));
	struct model *mj = NULL, *mu = NULL;
	ck_assert_msg(load(doc, &mj) == 0, "json: %s", err);
	ck_assert_msg(model_load_buffer(ubj, len, NULL, &mu, err, sizeof(err)) == 0, "ubj: %s",
	              err);
	float xs[] = {0.0f, 1.0f, 3.0f, 0.4f, 0.6f, NAN, -1.0f, 40.0f};
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		ck_assert_float_eq(margin1(mj, xs[i]), margin1(mu, xs[i]));
	ck_assert_str_eq(model_get_info(mu)->xgboost_version, "1.7.4");
	model_unref(mj);
	model_unref(mu);
	/* Every truncation is refused, never a crash (valgrind/ASan watch the reads). */
	for (size_t cut = 0; cut < len; cut++) {
		char *p = malloc(cut ? cut : 1);
		memcpy(p, ubj, cut);
		mu = NULL;
		ck_assert_int_lt(model_load_buffer(p, cut, NULL, &mu, err, sizeof(err)), 0);
		ck_assert_ptr_null(mu);
		free(p);
	}
	free(ubj);
	free(doc);
	free(trees);
	free(t);
	free(t2);
}
END_TEST

static int ubj(const char *b, size_t n, const char *word)
{
	json_t *j = NULL;
	char e[256] = "";
	int rc = ubjson_parse(b, n, 8, &j, e, sizeof(e));
	if (rc == 0) {
		json_decref(j);
		return 0;
	}
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(e, word), "\"%s\" lacks \"%s\"", e, word);
	return rc;
}

#define UBJ(lit, word) ubj(lit, sizeof(lit) - 1, word)

START_TEST(ubjson_decoder)
{
	json_t *j;
	char e[256];
	/* A document using every supported form. */
	static const char good[] = "{i\x01"
	                           "a[$d#i\x02"
	                           "\x3f\x80\0\0\xff\xc0\0\0"
	                           "i\x01"
	                           "b[#U\x02"
	                           "TF"
	                           "i\x01"
	                           "c[SU\x02"
	                           "hiZI\x01\x00]"
	                           "U\x01"
	                           "dC#"
	                           "i\x01"
	                           "e[$L#i\x01"
	                           "\x80\0\0\0\0\0\0\0"
	                           "i\x01"
	                           "f{#i\x01"
	                           "i\x01"
	                           "gD\x40\x09\x21\xfb\x54\x44\x2d\x18}";
	ck_assert_int_eq(ubjson_parse(good, sizeof(good) - 1, 8, &j, e, sizeof(e)), 0);
	json_t *a = json_object_get(j, "a");
	ck_assert_double_eq(json_real_value(json_array_get(a, 0)), 1.0);
	ck_assert_str_eq(json_string_value(json_array_get(a, 1)), JSONX_NAN);
	ck_assert(json_is_true(json_array_get(json_object_get(j, "b"), 0)));
	ck_assert(json_is_false(json_array_get(json_object_get(j, "b"), 1)));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "c"), 0)), "hi");
	ck_assert(json_is_null(json_array_get(json_object_get(j, "c"), 1)));
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(j, "c"), 2)), 256);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "d")), '#');
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(j, "e"), 0)), INT64_MIN);
	ck_assert_double_eq(json_real_value(json_object_get(json_object_get(j, "f"), "g")),
	                    3.141592653589793);
	json_decref(j);
	/* Every prefix of it is refused. */
	for (size_t cut = 0; cut < sizeof(good) - 1; cut++)
		ck_assert_int_eq(ubjson_parse(good, cut, 8, &j, e, sizeof(e)), -EINVAL);

	/* Counts the bytes left cannot hold, whatever their width. */
	ck_assert_int_eq(UBJ("[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff", "count"), -EINVAL);
	ck_assert_int_eq(UBJ("[$d#l\0\0\0\x03\0\0\0\0\0\0\0\0", "count"), -EINVAL);
	ck_assert_int_eq(UBJ("[#L\0\0\x10\0\0\0\0\0ZZ", "count"), -EINVAL);
	ck_assert_int_eq(UBJ("[#i\xff", "negative"), -EINVAL);
	ck_assert_int_eq(UBJ("{#L\x7f\0\0\0\0\0\0\0", "count"), -EINVAL);
	ck_assert_int_eq(UBJ("SL\0\0\0\0\xff\xff\xff\xff", "string length"), -EINVAL);
	ck_assert_int_eq(UBJ("{L\x40\0\0\0\0\0\0\0", "key length"), -EINVAL);
	/* Markers. */
	ck_assert_int_eq(UBJ("X", "unknown marker 'X'"), -EINVAL);
	ck_assert_int_eq(UBJ("\x01", "unknown marker 0x01"), -EINVAL);
	ck_assert_int_eq(UBJ("H", "high-precision"), -EINVAL);
	ck_assert_int_eq(UBJ("N", "no-op"), -EINVAL);
	ck_assert_int_eq(UBJ("[$S#i\x01"
	                     "i\x01"
	                     "a",
	                     "typed array of 'S'"),
	                 -EINVAL);
	ck_assert_int_eq(UBJ("[$T#L\x7f\0\0\0\0\0\0\0", "typed array of 'T'"), -EINVAL);
	ck_assert_int_eq(UBJ("[$di\x01", "without a '#'"), -EINVAL);
	ck_assert_int_eq(UBJ("{$i#i\x01", "typed objects"), -EINVAL);
	ck_assert_int_eq(UBJ("{Si\x01"
	                     "aZ}",
	                     "not an integer marker"),
	                 -EINVAL);
	ck_assert_int_eq(UBJ("{i\x01"
	                     "aZi\x01"
	                     "aT}",
	                     "duplicate key"),
	                 -EINVAL);
	ck_assert_int_eq(UBJ("{i\x01"
	                     "\0Z}",
	                     "NUL"),
	                 -EINVAL);
	ck_assert_int_eq(UBJ("SU\x02\xc3\x28", "UTF-8"), -EINVAL);
	ck_assert_int_eq(UBJ("ZZ", "follow"), -EINVAL);
	ck_assert_int_eq(UBJ("", "empty"), -EINVAL);
	ck_assert_int_eq(UBJ("[", "truncated"), -EINVAL);
	ck_assert_int_eq(UBJ("{", "truncated"), -EINVAL);
	ck_assert_int_eq(UBJ("d\x3f\x80", "truncated"), -EINVAL);
	/* Nesting: 8 levels pass, the 9th is refused; deep input never recurses further. */
	ck_assert_int_eq(UBJ("[[[[[[[[]]]]]]]]", ""), 0);
	ck_assert_int_eq(UBJ("[[[[[[[[[]]]]]]]]]", "deeper than 8"), -EINVAL);
	char deep[100000];
	memset(deep, '[', sizeof(deep));
	ck_assert_int_eq(ubj(deep, sizeof(deep), "deeper"), -EINVAL);
	memset(deep, '{', sizeof(deep));
	ck_assert_int_eq(ubjson_parse(deep, sizeof(deep), 64, &j, e, sizeof(e)), -EINVAL);
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stump_split_and_missing);
	tcase_add_test(tc, info_fields);
	tcase_add_test(tc, objective_transforms);
	tcase_add_test(tc, multiclass_softprob);
	tcase_add_test(tc, multiclass_softmax);
	tcase_add_test(tc, dart_weights);
	tcase_add_test(tc, gblinear_predicts);
	tcase_add_test(tc, xgboost2_format);
	tcase_add_test(tc, refuse_structure);
	tcase_add_test(tc, refuse_model_level);
	tcase_add_test(tc, refuse_class_bounds);
	tcase_add_test(tc, refuse_unsupported);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, files);
	tcase_add_test(tc, refcount);
	tcase_add_test(tc, forest_matches_reference);
	tcase_add_test(tc, concurrent_predict);
	tcase_add_test(tc, special_values_compare_as_floats);
	tcase_add_test(tc, wide_tree_falls_back);
	tcase_add_test(tc, bundled_model);
	tcase_add_test(tc, categorical_splits);
	tcase_add_test(tc, categorical_refusals);
	tcase_add_test(tc, tree_limit_and_best);
	tcase_add_test(tc, classifier_outputs);
	tcase_add_test(tc, classifier_multiclass);
	tcase_add_test(tc, ubjson_models);
	tcase_add_test(tc, ubjson_decoder);
	suite_add_tcase(s, tc);
	return s;
}

int main(void);

int main(void)
{
	SRunner *sr = srunner_create(model_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
