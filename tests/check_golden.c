/* check_golden.c: golden set parsing and checking a model against one. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "golden.h"
#include "model.h"

/*
 * A hand-written XGBoost 1.7 model: base_score 0.5 plus one stump on feature 0,
 * x0 < 1 (or missing) -> +0.25, else -0.5. reg:squarederror, so predict == margin:
 * 0.75 when x0 < 1 or missing, 0.0 otherwise. Every value is exact in float32.
 */
static const char stump_model[] =
    "{\"learner\": {\"attributes\": {}, \"feature_names\": [], \"feature_types\": [],\n"
    " \"gradient_booster\": {\"model\": {\"gbtree_model_param\": {\"num_parallel_tree\": \"1\",\n"
    "   \"num_trees\": \"1\", \"size_leaf_vector\": \"0\"},\n"
    "  \"tree_info\": [0],\n"
    "  \"trees\": [{\"base_weights\": [0.0, 0.25, -0.5], \"categories\": [],\n"
    "   \"categories_nodes\": [], \"categories_segments\": [], \"categories_sizes\": [],\n"
    "   \"default_left\": [1, 0, 0], \"id\": 0, \"left_children\": [1, -1, -1],\n"
    "   \"loss_changes\": [1.0, 0.0, 0.0], \"parents\": [2147483647, 0, 0],\n"
    "   \"right_children\": [2, -1, -1], \"split_conditions\": [1.0, 0.25, -0.5],\n"
    "   \"split_indices\": [0, 0, 0], \"split_type\": [0, 0, 0], \"sum_hessian\": [2.0, 1.0, "
    "1.0],\n"
    "   \"tree_param\": {\"num_deleted\": \"0\", \"num_feature\": \"2\", \"num_nodes\": \"3\",\n"
    "    \"size_leaf_vector\": \"0\"}}]},\n"
    "  \"name\": \"gbtree\"},\n"
    " \"learner_model_param\": {\"base_score\": \"5E-1\", \"boost_from_average\": \"1\",\n"
    "  \"num_class\": \"0\", \"num_feature\": \"2\", \"num_target\": \"1\"},\n"
    " \"objective\": {\"name\": \"reg:squarederror\",\n"
    "  \"reg_loss_param\": {\"scale_pos_weight\": \"1\"}}},\n"
    " \"version\": [1, 7, 4]}\n";

static char *tmpdir;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl;

	if (!base || !*base)
		base = "/tmp";
	ck_assert_int_ge(asprintf(&tmpl, "%s/check_golden.XXXXXX", base), 0);
	tmpdir = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(tmpdir);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	tmpdir = NULL;
}

static char *write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static int load_text(const char *text, struct golden *g, char *err, size_t errlen)
{
	char *path = write_file("golden.json", text);
	int rc = golden_load(path, g, err, errlen);

	free(path);
	return rc;
}

/* Asserts text is refused with -EINVAL, an error naming what (substring), and g left empty. */
static void expect_invalid(const char *text, const char *what)
{
	struct golden g;
	char err[512] = "";

	memset(&g, 0xa5, sizeof(g));
	ck_assert_int_eq(load_text(text, &g, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, what) != NULL, "error \"%s\" does not mention \"%s\"", err, what);
	ck_assert_msg(strstr(err, "golden.json") != NULL, "error \"%s\" does not name the file",
	              err);
	ck_assert_ptr_null(g.inputs);
	ck_assert_ptr_null(g.predict);
	ck_assert_ptr_null(g.margin);
	ck_assert_uint_eq(g.nrows, 0);
}

static struct model *load_stump(void)
{
	char *path = write_file("stump.json", stump_model);
	struct model *m = NULL;
	char err[256] = "";

	ck_assert_msg(model_load_file(path, NULL, &m, err, sizeof(err)) == 0, "stump: %s", err);
	free(path);
	return m;
}

START_TEST(test_load_scalar_outputs)
{
	struct golden g;
	char err[256] = "";

	ck_assert_msg(load_text("{\"model\": \"x\", \"xgboost_version\": \"1.7.4\",\n"
	                        " \"tolerance\": 0.001,\n"
	                        " \"inputs\": [[1, null, 2.5], [-3, 4e2, null]],\n"
	                        " \"predict\": [0.25, 0.5],\n"
	                        " \"margin\": [-1.5, 0]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(g.nrows, 2);
	ck_assert_uint_eq(g.ncols, 3);
	ck_assert_float_eq(g.inputs[0], 1.0f);
	ck_assert(isnan(g.inputs[1]));
	ck_assert_float_eq(g.inputs[2], 2.5f);
	ck_assert_float_eq(g.inputs[3], -3.0f);
	ck_assert_float_eq(g.inputs[4], 400.0f);
	ck_assert(isnan(g.inputs[5]));
	ck_assert_uint_eq(g.predict_width, 1);
	ck_assert_double_eq(g.predict[0], 0.25);
	ck_assert_double_eq(g.predict[1], 0.5);
	ck_assert_uint_eq(g.margin_width, 1);
	ck_assert_double_eq(g.margin[0], -1.5);
	ck_assert_double_eq(g.margin[1], 0.0);
	ck_assert_double_eq(g.tolerance, 0.001);
	golden_free(&g);
	ck_assert_ptr_null(g.inputs);
	ck_assert_ptr_null(g.predict);
	ck_assert_ptr_null(g.margin);
	golden_free(&g);
	golden_free(NULL);
}
END_TEST

START_TEST(test_load_inputs_are_float32)
{
	struct golden g;
	char err[256] = "";

	/* 0.1 is not a float32; the golden input must be the float32 nearest to it. */
	ck_assert_msg(load_text("{\"inputs\": [[0.1]], \"predict\": [1]}", &g, err, sizeof(err)) ==
	                  0,
	              "%s", err);
	ck_assert(g.inputs[0] == 0.1f);
	/* No "tolerance" key: unset (negative), not 0, which would mean exact. */
	ck_assert(g.tolerance < 0);
	ck_assert_int_eq(g.trees, GOLDEN_TREES_ALL);
	ck_assert_ptr_null(g.predict_proba.v);
	ck_assert_ptr_null(g.label.v);
	ck_assert_ptr_null(g.contribs.v);
	ck_assert_ptr_null(g.leaf.v);
	ck_assert_ptr_null(g.margin);
	ck_assert_uint_eq(g.margin_width, 0);
	golden_free(&g);
}
END_TEST

START_TEST(test_load_list_outputs)
{
	struct golden g;
	char err[256] = "";

	ck_assert_msg(load_text("{\"inputs\": [[1], [2]],\n"
	                        " \"predict\": [[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]],\n"
	                        " \"margin\": [[1, 2, 3], [4, 5, 6]]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(g.predict_width, 3);
	ck_assert_double_eq(g.predict[2], 0.7);
	ck_assert_double_eq(g.predict[3], 0.3);
	ck_assert_uint_eq(g.margin_width, 3);
	ck_assert_double_eq(g.margin[5], 6.0);
	golden_free(&g);

	/* A list of one per row is width 1, like a plain number. */
	ck_assert_msg(load_text("{\"inputs\": [[1], [2]], \"predict\": [[0.5], [0.25]], "
	                        "\"margin\": null}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(g.predict_width, 1);
	ck_assert_double_eq(g.predict[1], 0.25);
	ck_assert_ptr_null(g.margin);
	golden_free(&g);
}
END_TEST

START_TEST(test_load_nonfinite_tokens)
{
	struct golden g;
	char err[256] = "";

	/* XGBoost writes bare NaN; in inputs it means missing, like null. */
	ck_assert_msg(load_text("{\"inputs\": [[NaN, 1]], \"predict\": [Infinity]}", &g, err,
	                        sizeof(err)) == 0,
	              "%s", err);
	ck_assert(isnan(g.inputs[0]));
	ck_assert_float_eq(g.inputs[1], 1.0f);
	ck_assert(isinf(g.predict[0]) && g.predict[0] > 0);
	golden_free(&g);
}
END_TEST

START_TEST(test_load_invalid)
{
	expect_invalid("[1, 2]", "object");
	expect_invalid("{\"predict\": [1]}", "inputs");
	expect_invalid("{\"inputs\": [], \"predict\": []}", "inputs");
	expect_invalid("{\"inputs\": [[]], \"predict\": [1]}", "inputs[0]");
	expect_invalid("{\"inputs\": [1, 2], \"predict\": [1, 2]}", "inputs[0]");
	expect_invalid("{\"inputs\": [[1, 2], [3]], \"predict\": [1, 2]}", "inputs[1]");
	expect_invalid("{\"inputs\": [[1, 2], [3, \"x\"]], \"predict\": [1, 2]}", "inputs[1][1]");
	expect_invalid("{\"inputs\": [[1, 2], [3, true]], \"predict\": [1, 2]}", "inputs[1][1]");
	expect_invalid("{\"inputs\": [[1], [2]]}", "predict");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [1]}", "predict");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": 1}", "predict");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [1, null]}", "predict[1]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [1, [2]]}", "predict[1]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [[1, 2], [3]]}", "predict[1]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [[1, 2], 3]}", "predict[1]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [[], []]}", "predict[0]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [[1], [\"a\"]]}", "predict[1][0]");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [1, 2], \"margin\": [1]}", "margin");
	expect_invalid("{\"inputs\": [[1], [2]], \"predict\": [1, 2], \"margin\": [[1], [1, 2]]}",
	               "margin[1]");
	expect_invalid("{\"inputs\": [[1]], \"predict\": [1], \"tolerance\": -1}", "tolerance");
	expect_invalid("{\"inputs\": [[1]], \"predict\": [1], \"tolerance\": \"big\"}",
	               "tolerance");
	/* A bare token is JSON only as an array element (jsonx.h): a syntax error here. */
	expect_invalid("{\"inputs\": [[1]], \"predict\": [1], \"tolerance\": Infinity}",
	               "line 1 column 55: invalid token");
	expect_invalid("{\"inputs\": [[1]], \"predict\": [1],", "golden.json");
	expect_invalid("", "golden.json");
}
END_TEST

START_TEST(test_load_missing_file)
{
	struct golden g;
	char err[512] = "";
	char *path;

	ck_assert_int_ge(asprintf(&path, "%s/absent.json", tmpdir), 0);
	ck_assert_int_eq(golden_load(path, &g, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "absent.json") != NULL, "%s", err);
	ck_assert_ptr_null(g.inputs);
	free(path);
}
END_TEST

START_TEST(test_check_match)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "";
	double max_diff = -1;

	/* Outputs worked out by hand from the stump (see stump_model). */
	ck_assert_msg(load_text("{\"inputs\": [[0.5, 0], [2, 0], [null, 3], [1, 0]],\n"
	                        " \"predict\": [0.75, 0, 0.75, 0],\n"
	                        " \"margin\": [0.75, 0, 0.75, 0]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_msg(golden_check(&g, m, 0, &max_diff, err, sizeof(err)) == 0, "%s", err);
	ck_assert_double_eq(max_diff, 0.0);
	ck_assert_int_eq(golden_check(&g, m, 1e-12, NULL, err, sizeof(err)), 0);
	golden_free(&g);
	model_unref(m);
}
END_TEST

START_TEST(test_check_mismatch)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "";
	double max_diff = -1;

	ck_assert_msg(load_text("{\"inputs\": [[0.5, 0], [2, 0], [null, 3]],\n"
	                        " \"predict\": [0.75, 0, 0.5],\n"
	                        " \"margin\": [0.75, 0.125, 0.75]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)),
	                 -EDOM);
	/* The first mismatch is reported; the largest difference is |0.75 - 0.5|. */
	ck_assert_str_eq(err, "row 2 output 0: got 0.75, expected 0.5 (tolerance 1e-06)");
	ck_assert_double_eq(max_diff, 0.25);
	golden_free(&g);

	/* A margin-only mismatch is caught too. */
	ck_assert_msg(load_text("{\"inputs\": [[0.5, 0], [2, 0]],\n"
	                        " \"predict\": [0.75, 0],\n"
	                        " \"margin\": [0.75, 0.125]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(golden_check(&g, m, 0.01, &max_diff, err, sizeof(err)), -EDOM);
	ck_assert_str_eq(err, "row 1 margin 0: got 0, expected 0.125 (tolerance 0.01)");
	ck_assert_double_eq(max_diff, 0.125);
	golden_free(&g);
	model_unref(m);
}
END_TEST

START_TEST(test_check_tolerance_precedence)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "";
	double max_diff = -1;

	/* Off by 2^-10 (exact in binary): within the file's 1e-2, outside 1e-4 and 1e-6. */
	ck_assert_msg(load_text("{\"tolerance\": 0.01, \"inputs\": [[0.5, 0]],\n"
	                        " \"predict\": [0.7509765625]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_msg(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_double_eq(max_diff, 0.0009765625);
	/* The caller's (the config's) tolerance wins over the file's. */
	ck_assert_int_eq(golden_check(&g, m, 1e-4, &max_diff, err, sizeof(err)), -EDOM);
	ck_assert_str_eq(err, "row 0 output 0: got 0.75, expected 0.7509765625 (tolerance 0.0001)");
	ck_assert_int_eq(golden_check(&g, m, 0.001, NULL, err, sizeof(err)), 0);
	/* The config's 0 (exact) wins over the file's 0.01 too. */
	ck_assert_int_eq(golden_check(&g, m, 0, NULL, err, sizeof(err)), -EDOM);
	ck_assert_str_eq(err, "row 0 output 0: got 0.75, expected 0.7509765625 (tolerance 0)");
	/* Neither set: 1e-6. */
	g.tolerance = GOLDEN_TOLERANCE_UNSET;
	ck_assert_int_eq(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, NULL, err, sizeof(err)),
	                 -EDOM);
	ck_assert_str_eq(err, "row 0 output 0: got 0.75, expected 0.7509765625 (tolerance 1e-06)");
	golden_free(&g);
	model_unref(m);
}
END_TEST

START_TEST(test_check_nonfinite)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "";
	double max_diff = -1;

	ck_assert_msg(
	    load_text("{\"inputs\": [[0.5, 0]], \"predict\": [NaN]}", &g, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(golden_check(&g, m, 0.5, &max_diff, err, sizeof(err)), -EDOM);
	ck_assert(isinf(max_diff));
	ck_assert_str_eq(err, "row 0 output 0: got 0.75, expected nan (tolerance 0.5)");
	golden_free(&g);
	model_unref(m);
}
END_TEST

START_TEST(test_check_shapes)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "";

	ck_assert_int_eq(
	    load_text("{\"inputs\": [[0.5, 0, 1]], \"predict\": [0.75]}", &g, err, sizeof(err)), 0);
	ck_assert_int_eq(golden_check(&g, m, 0, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "golden inputs have 3 columns, the model takes 2 features");
	golden_free(&g);

	ck_assert_int_eq(load_text("{\"inputs\": [[0.5, 0]], \"predict\": [[0.25, 0.75]]}", &g, err,
	                           sizeof(err)),
	                 0);
	ck_assert_int_eq(golden_check(&g, m, 0, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "golden predict has 2 values per row, the model gives 1");
	golden_free(&g);

	ck_assert_int_eq(load_text("{\"inputs\": [[0.5, 0]], \"predict\": [0.75], "
	                           "\"margin\": [[0.75, 0.75]]}",
	                           &g, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(golden_check(&g, m, 0, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "golden margin has 2 values per row, the model gives 1");
	golden_free(&g);
	model_unref(m);
}
END_TEST

/* The bundled model against its own golden set: outputs made by XGBoost itself. */
START_TEST(test_check_bundled)
{
	const char *model_path = TOP_SRCDIR "/src/models/breast-cancer/1/model.json";
	const char *golden_path = TOP_SRCDIR "/src/models/breast-cancer/1/golden.json";
	struct model *m = NULL;
	struct golden g;
	char err[512] = "";
	double max_diff = -1;

	ck_assert_msg(model_load_file(model_path, NULL, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(golden_load(golden_path, &g, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(g.ncols, 30);
	ck_assert_uint_eq(g.predict_width, 1);
	ck_assert_uint_eq(g.margin_width, 1);
	ck_assert_double_eq(g.tolerance, 1e-6);
	ck_assert_msg(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_double_le(max_diff, 1e-6);
	golden_free(&g);
	model_unref(m);
}
END_TEST

/* Tolerance 0 is exact: one float32 ulp off is refused; unset (1e-6) lets it pass. */
START_TEST(test_check_exact_ulp)
{
	struct model *m = load_stump();
	struct golden g;
	char err[256] = "", text[256], want[40];
	double max_diff = -1;
	/* The stump predicts 0.75 for x0 = 0.5; the next float32 up is 0.75 + 2^-24. */
	float up = nextafterf(0.75f, 1.0f);

	ck_assert_double_eq((double)up - 0.75, ldexp(1.0, -24));
	snprintf(want, sizeof(want), "%.17g", (double)up);
	snprintf(text, sizeof(text), "{\"inputs\": [[0.5, 0]], \"predict\": [%s]}", want);
	ck_assert_msg(load_text(text, &g, err, sizeof(err)) == 0, "%s", err);
	ck_assert(g.tolerance < 0);
	/* Unset everywhere: 1e-6, and 2^-24 is within it. */
	ck_assert_msg(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_double_eq(max_diff, ldexp(1.0, -24));
	/* The config's 0: exact, refused, and the message shows both values in full. */
	ck_assert_int_eq(golden_check(&g, m, 0, &max_diff, err, sizeof(err)), -EDOM);
	ck_assert_str_eq(err,
	                 "row 0 output 0: got 0.75, expected 0.7500000596046448 (tolerance 0)");
	golden_free(&g);

	/* The file's 0 with the config unset: exact too. */
	snprintf(text, sizeof(text),
	         "{\"tolerance\": 0, \"inputs\": [[0.5, 0]], \"predict\": [%s]}", want);
	ck_assert_msg(load_text(text, &g, err, sizeof(err)) == 0, "%s", err);
	ck_assert_double_eq(g.tolerance, 0.0);
	ck_assert_int_eq(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, NULL, err, sizeof(err)),
	                 -EDOM);
	/* The config's value wins over the file's 0. */
	ck_assert_int_eq(golden_check(&g, m, 1e-6, NULL, err, sizeof(err)), 0);
	golden_free(&g);

	/* The exact value itself passes with 0. */
	ck_assert_int_eq(load_text("{\"tolerance\": 0, \"inputs\": [[0.5, 0], [3, 1]], "
	                           "\"predict\": [0.75, 0]}",
	                           &g, err, sizeof(err)),
	                 0);
	ck_assert_msg(golden_check(&g, m, GOLDEN_TOLERANCE_UNSET, NULL, err, sizeof(err)) == 0,
	              "%s", err);
	golden_free(&g);
	model_unref(m);
}
END_TEST

/* golden_match and golden_tolerance: the rules, value by value. */
START_TEST(test_match_rules)
{
	struct golden g = {.tolerance = GOLDEN_TOLERANCE_UNSET};

	ck_assert(golden_match(0.75, 0.75, 0));
	ck_assert(!golden_match(0.75, (double)nextafterf(0.75f, 1.0f), 0));
	ck_assert(!golden_match(0.0, -0.0, 0)); /* bitwise: the sign of zero counts */
	ck_assert(golden_match(0.0, -0.0, 1e-6));
	ck_assert(golden_match(NAN, NAN, 0)); /* NaN matches NaN (both missing/undefined) */
	ck_assert(golden_match(NAN, NAN, 1e-6));
	ck_assert(!golden_match(NAN, 1.0, 0));
	ck_assert(!golden_match(1.0, NAN, 0.5));
	ck_assert(golden_match(INFINITY, INFINITY, 0));
	ck_assert(!golden_match(INFINITY, -INFINITY, 0));
	ck_assert(!golden_match(INFINITY, 1e300, 0.5));
	ck_assert(golden_match(1.0, 1.0 + 1e-7, 1e-6));
	ck_assert(!golden_match(1.0, 1.0 + 1e-5, 1e-6));

	ck_assert_double_eq(golden_tolerance(GOLDEN_TOLERANCE_UNSET, &g), 1e-6);
	ck_assert_double_eq(golden_tolerance(GOLDEN_TOLERANCE_UNSET, NULL), 1e-6);
	ck_assert_double_eq(golden_tolerance(0, &g), 0.0);
	g.tolerance = 0;
	ck_assert_double_eq(golden_tolerance(GOLDEN_TOLERANCE_UNSET, &g), 0.0);
	ck_assert_double_eq(golden_tolerance(1e-3, &g), 1e-3);
	g.tolerance = 0.01;
	ck_assert_double_eq(golden_tolerance(0, &g), 0.0);
	ck_assert_double_eq(golden_tolerance(GOLDEN_TOLERANCE_UNSET, &g), 0.01);
}
END_TEST

/* The optional outputs load with their shapes; "trees" is read. */
START_TEST(test_load_optional_keys)
{
	struct golden g;
	char err[256] = "";

	ck_assert_msg(load_text("{\"trees\": \"best\", \"inputs\": [[1, 2], [3, null]],\n"
	                        " \"predict\": [0.75, 0.5],\n"
	                        " \"predict_proba\": [[0.25, 0.75], [0.5, 0.5]],\n"
	                        " \"label\": [1, 0],\n"
	                        " \"contribs\": [[0.5, -0.25, 0.5], [0, 1, -1]],\n"
	                        " \"leaf\": [[1, 4, 2], [2, 3, 0]]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(g.trees, GOLDEN_TREES_BEST);
	ck_assert_uint_eq(g.predict_proba.ndims, 1);
	ck_assert_uint_eq(g.predict_proba.dims[0], 2);
	ck_assert_uint_eq(g.predict_proba.width, 2);
	ck_assert_double_eq(g.predict_proba.v[1], 0.75);
	ck_assert_double_eq(g.predict_proba.v[2], 0.5);
	ck_assert_uint_eq(g.label.ndims, 0);
	ck_assert_uint_eq(g.label.width, 1);
	ck_assert_double_eq(g.label.v[0], 1.0);
	ck_assert_double_eq(g.label.v[1], 0.0);
	ck_assert_uint_eq(g.contribs.ndims, 1);
	ck_assert_uint_eq(g.contribs.width, 3);
	ck_assert_double_eq(g.contribs.v[1], -0.25);
	ck_assert_double_eq(g.contribs.v[5], -1.0);
	ck_assert_uint_eq(g.leaf.width, 3);
	ck_assert_double_eq(g.leaf.v[1], 4.0);
	ck_assert_double_eq(g.leaf.v[5], 0.0);
	golden_free(&g);
	ck_assert_ptr_null(g.contribs.v);

	/* Multi-class contributions: [N][G][F+1]; "trees": "all"; null keys are absent. */
	ck_assert_msg(load_text("{\"trees\": \"all\", \"inputs\": [[1], [2]],\n"
	                        " \"predict\": [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]],\n"
	                        " \"contribs\": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], "
	                        "[11, 12]]],\n"
	                        " \"leaf\": [[[1], [2], [3]], [[4], [5], [6]]],\n"
	                        " \"label\": null}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(g.trees, GOLDEN_TREES_ALL);
	ck_assert_uint_eq(g.contribs.ndims, 2);
	ck_assert_uint_eq(g.contribs.dims[0], 3);
	ck_assert_uint_eq(g.contribs.dims[1], 2);
	ck_assert_uint_eq(g.contribs.width, 6);
	ck_assert_double_eq(g.contribs.v[6], 7.0);
	ck_assert_double_eq(g.contribs.v[11], 12.0);
	ck_assert_uint_eq(g.leaf.ndims, 2);
	ck_assert_uint_eq(g.leaf.width, 3);
	ck_assert_double_eq(g.leaf.v[5], 6.0);
	ck_assert_ptr_null(g.label.v);
	golden_free(&g);
}
END_TEST

START_TEST(test_load_optional_invalid)
{
#define HEAD "{\"inputs\": [[1, 2], [3, 4]], \"predict\": [1, 2], "
	expect_invalid(HEAD "\"trees\": \"some\"}", "\"trees\" must be");
	expect_invalid(HEAD "\"trees\": 1}", "\"trees\" must be");
	expect_invalid(HEAD "\"predict_proba\": [0.5, 0.5]}", "predict_proba");
	expect_invalid(HEAD "\"predict_proba\": [[1], [1]]}", "K >= 2");
	expect_invalid(HEAD "\"predict_proba\": [[0.5, 0.5]]}", "2 rows");
	expect_invalid(HEAD "\"predict_proba\": [[0.5, 0.5], [1]]}", "predict_proba[1]");
	expect_invalid(HEAD "\"predict_proba\": [[0.5, 0.5], [1, null]]}", "predict_proba[1]");
	expect_invalid(HEAD "\"predict_proba\": [[[0.5], [0.5]], [[1], [0]]]}", "nested");
	expect_invalid(HEAD "\"predict_proba\": {}}", "predict_proba");
	expect_invalid(HEAD "\"label\": [[1], [0]]}", "label");
	expect_invalid(HEAD "\"label\": [1, \"cat\"]}", "label[1]");
	expect_invalid(HEAD "\"contribs\": [[1, 2], [3, 4]]}", "3 numbers");
	expect_invalid(HEAD "\"contribs\": [1, 2]}", "contribs");
	expect_invalid(HEAD "\"contribs\": [[1, 2, 3], [1, 2]]}", "contribs[1]");
	expect_invalid(HEAD "\"contribs\": [[[1, 2, 3]], [[1, 2, 3], [1, 2, 3]]]}", "contribs[1]");
	expect_invalid(HEAD "\"contribs\": [[[[1, 2, 3]]], [[[1, 2, 3]]]]}", "nested");
	expect_invalid(HEAD "\"contribs\": [[], []]}", "empty");
	expect_invalid(HEAD "\"leaf\": [1, 2]}", "leaf");
	expect_invalid(HEAD "\"leaf\": [[1, -1], [2, 3]]}", "leaf[0]");
	expect_invalid(HEAD "\"leaf\": [[1, 2], [2.5, 3]]}", "leaf[1]");
	expect_invalid(HEAD "\"leaf\": [[1, 2], [NaN, 3]]}", "leaf[1]");
#undef HEAD
}
END_TEST

/* The hook for engine outputs: compares what both sides have, with the same rules. */
START_TEST(test_check_outputs_hook)
{
	struct golden g;
	struct golden_outputs out = {0};
	char err[256] = "";
	double max_diff = -1;
	const float proba[] = {0.25f, 0.75f, 0.5f, 0.5f};
	const float label[] = {1, 0};
	const float contribs_bad[] = {0.5f, -0.25f, 0.5f, 0, 1, -0.5f};
	const float contribs[] = {0.5f, -0.25f, 0.5f, 0, 1, -1};
	const float leaf[] = {1, 4, 3, 3};

	ck_assert_msg(load_text("{\"tolerance\": 0, \"inputs\": [[1, 2], [3, null]],\n"
	                        " \"predict\": [0.75, 0.5],\n"
	                        " \"predict_proba\": [[0.25, 0.75], [0.5, 0.5]],\n"
	                        " \"label\": [1, 0],\n"
	                        " \"contribs\": [[0.5, -0.25, 0.5], [0, 1, -1]],\n"
	                        " \"leaf\": [[1, 4], [2, 3]]}",
	                        &g, err, sizeof(err)) == 0,
	              "%s", err);
	/* Nothing from the engine yet: nothing to compare, so nothing fails. */
	ck_assert_int_eq(
	    golden_check_outputs(&g, &out, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)), 0);
	out = (struct golden_outputs){proba, 2, label, 1, contribs, 3, NULL, 0};
	ck_assert_msg(golden_check_outputs(&g, &out, GOLDEN_TOLERANCE_UNSET, &max_diff, err,
	                                   sizeof(err)) == 0,
	              "%s", err);
	ck_assert_double_eq(max_diff, 0.0);
	out.contribs = contribs_bad;
	ck_assert_int_eq(
	    golden_check_outputs(&g, &out, GOLDEN_TOLERANCE_UNSET, &max_diff, err, sizeof(err)),
	    -EDOM);
	ck_assert_str_eq(err, "row 1 contribs 2: got -0.5, expected -1 (tolerance 0)");
	ck_assert_double_eq(max_diff, 0.5);
	/* The config's 0.5 wins over the file's 0. */
	ck_assert_int_eq(golden_check_outputs(&g, &out, 0.5, NULL, err, sizeof(err)), 0);
	/* Leaf: the golden row has 2, the engine 1 value per row (-EINVAL), then a mismatch. */
	out.contribs = contribs;
	out.leaf = leaf;
	out.leaf_width = 1;
	ck_assert_int_eq(
	    golden_check_outputs(&g, &out, GOLDEN_TOLERANCE_UNSET, NULL, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, "golden leaf has 2 values per row, the model gives 1");
	out.leaf_width = 2;
	ck_assert_int_eq(
	    golden_check_outputs(&g, &out, GOLDEN_TOLERANCE_UNSET, NULL, err, sizeof(err)), -EDOM);
	ck_assert_str_eq(err, "row 1 leaf 0: got 3, expected 2 (tolerance 0)");
	golden_free(&g);
}
END_TEST

static Suite *golden_suite(void)
{
	Suite *s = suite_create("golden");
	TCase *load = tcase_create("load");
	TCase *check = tcase_create("check");

	tcase_add_checked_fixture(load, setup, teardown);
	tcase_add_test(load, test_load_scalar_outputs);
	tcase_add_test(load, test_load_inputs_are_float32);
	tcase_add_test(load, test_load_list_outputs);
	tcase_add_test(load, test_load_nonfinite_tokens);
	tcase_add_test(load, test_load_invalid);
	tcase_add_test(load, test_load_missing_file);
	tcase_add_test(load, test_load_optional_keys);
	tcase_add_test(load, test_load_optional_invalid);
	suite_add_tcase(s, load);

	tcase_add_checked_fixture(check, setup, teardown);
	tcase_add_test(check, test_check_match);
	tcase_add_test(check, test_check_mismatch);
	tcase_add_test(check, test_check_tolerance_precedence);
	tcase_add_test(check, test_check_nonfinite);
	tcase_add_test(check, test_check_shapes);
	tcase_add_test(check, test_check_bundled);
	tcase_add_test(check, test_check_exact_ulp);
	tcase_add_test(check, test_match_rules);
	tcase_add_test(check, test_check_outputs_hook);
	suite_add_tcase(s, check);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(golden_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
