/* check_jsonx.c: tests for the depth bound, NaN/Infinity tokens and error positions. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "jsonx.h"

/* A file in a fresh temporary directory (the testutil helpers need a daemon build). */
static char *write_temp(char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static char err[512];

static int parse(const char *text, unsigned depth, int nonfinite, json_t **out)
{
	err[0] = '\0';
	return jsonx_parse(text, strlen(text), depth, nonfinite, out, err, sizeof(err));
}

/* Builds n '[' then n ']' (depth n). */
static char *nested(unsigned n)
{
	char *s = malloc(2 * (size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	return s;
}

START_TEST(depth_edge)
{
	json_t *v = NULL;
	char *ok = nested(8), *deep = nested(9);

	ck_assert_int_eq(parse(ok, 8, 0, &v), 0);
	ck_assert_ptr_nonnull(v);
	json_decref(v);
	ck_assert_int_eq(parse(deep, 8, 0, &v), -EINVAL);
	ck_assert_ptr_null(v);
	/* The ninth '[' is the offender: line 1, column 9 (counted by hand). */
	ck_assert_str_eq(err, "nesting deeper than 8 at line 1 column 9");
	free(ok);
	free(deep);
}
END_TEST

START_TEST(depth_objects_and_lines)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("{\"a\": {\"b\": [1]}}", 3, 0, &v), 0);
	json_decref(v);
	ck_assert_int_eq(parse("{\"a\":\n {\"b\": [1]}}", 2, 0, &v), -EINVAL);
	ck_assert_str_eq(err, "nesting deeper than 2 at line 2 column 8");
}
END_TEST

START_TEST(depth_ignores_brackets_in_strings)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("[\"[[[[{{{{\", \"]]\\\"[[[[\"]", 1, 0, &v), 0);
	ck_assert_int_eq(json_array_size(v), 2);
	ck_assert_str_eq(json_string_value(json_array_get(v, 1)), "]]\"[[[[");
	json_decref(v);
}
END_TEST

START_TEST(deep_limit_uses_heap)
{
	json_t *v = NULL;
	char *s = nested(1500);

	ck_assert_int_eq(parse(s, 1499, 0, &v), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nesting deeper than 1499"));
	ck_assert_int_eq(parse(s, 1500, 0, &v), 0);
	json_decref(v);
	free(s);
}
END_TEST

START_TEST(nonfinite_rewritten_outside_strings)
{
	json_t *v = NULL;
	double d;

	ck_assert_int_eq(
	    parse("[NaN, Infinity, -Infinity, \"NaN is a word\", \"-Infinity and Infinity\", 1]", 8,
	          1, &v),
	    0);
	ck_assert_int_eq(json_array_size(v), 6);
	ck_assert_str_eq(json_string_value(json_array_get(v, 0)), JSONX_NAN);
	ck_assert_str_eq(json_string_value(json_array_get(v, 1)), JSONX_INF);
	ck_assert_str_eq(json_string_value(json_array_get(v, 2)), JSONX_NEG_INF);
	ck_assert_str_eq(json_string_value(json_array_get(v, 3)), "NaN is a word");
	ck_assert_str_eq(json_string_value(json_array_get(v, 4)), "-Infinity and Infinity");
	ck_assert_int_eq(jsonx_number(json_array_get(v, 0), &d), 0);
	ck_assert(isnan(d));
	ck_assert_int_eq(jsonx_number(json_array_get(v, 1), &d), 0);
	ck_assert(isinf(d) && d > 0);
	ck_assert_int_eq(jsonx_number(json_array_get(v, 2), &d), 0);
	ck_assert(isinf(d) && d < 0);
	ck_assert_int_eq(jsonx_number(json_array_get(v, 3), &d), -EINVAL);
	json_decref(v);
}
END_TEST

START_TEST(nonfinite_in_objects)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("{\"b\":[1,-Infinity],\"c\":{\"d\":[Infinity]}}", 8, 1, &v), 0);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "b"), 1)),
	                 JSONX_NEG_INF);
	ck_assert_str_eq(
	    json_string_value(json_array_get(json_object_get(json_object_get(v, "c"), "d"), 0)),
	    JSONX_INF);
	json_decref(v);
	/*
	 * Only as an array element: an object member (an infer request's "id": NaN) or a
	 * top-level token must not pass for the string "NaN".
	 */
	ck_assert_int_eq(parse("{\"a\":NaN}", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("{\"c\":{\"d\":Infinity}}", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("NaN", 8, 1, &v), -EINVAL);
	/* A bare token is never a key. */
	ck_assert_int_eq(parse("{NaN: 1}", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("{\"a\": 1, Infinity: 1}", 8, 1, &v), -EINVAL);
	/* Nor part of another word or number. */
	ck_assert_int_eq(parse("[NaNa]", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("[1NaN]", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("[Infinityx]", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("[nan]", 8, 1, &v), -EINVAL);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(nonfinite_refused_when_not_allowed)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("[1, NaN]", 8, 0, &v), -EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err, "line 1 column 5: NaN is not a JSON number");
	ck_assert_int_eq(parse("[\n-Infinity]", 8, 0, &v), -EINVAL);
	ck_assert_str_eq(err, "line 2 column 1: -Infinity is not a JSON number");
	/* Inside strings they are just text. */
	ck_assert_int_eq(parse("[\"NaN\", \"Infinity\"]", 8, 0, &v), 0);
	json_decref(v);
}
END_TEST

START_TEST(escaped_quotes)
{
	json_t *v = NULL;

	/* The escaped quotes must not end the string, so NaN inside stays text. */
	ck_assert_int_eq(parse("[\"a\\\"NaN\\\"b\", NaN, \"c\\\\\", Infinity]", 8, 1, &v), 0);
	ck_assert_str_eq(json_string_value(json_array_get(v, 0)), "a\"NaN\"b");
	ck_assert_str_eq(json_string_value(json_array_get(v, 1)), JSONX_NAN);
	ck_assert_str_eq(json_string_value(json_array_get(v, 2)), "c\\");
	ck_assert_str_eq(json_string_value(json_array_get(v, 3)), JSONX_INF);
	json_decref(v);
}
END_TEST

START_TEST(duplicates_refused)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("{\"a\": 1, \"a\": 2}", 8, 0, &v), -EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "duplicate"));
	ck_assert_int_eq(parse("{\"a\": NaN, \"a\": NaN}", 8, 1, &v), -EINVAL);
}
END_TEST

START_TEST(trailing_garbage_and_empty)
{
	json_t *v = NULL;

	ck_assert_int_eq(parse("{} x", 8, 0, &v), -EINVAL);
	ck_assert_int_eq(parse("{}{}", 8, 0, &v), -EINVAL);
	ck_assert_int_eq(parse("[NaN] NaN", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("", 8, 0, &v), -EINVAL);
	ck_assert_int_eq(strncmp(err, "line 1 column 0: ", 17), 0);
	ck_assert_int_eq(parse("  \n ", 8, 0, &v), -EINVAL);
	ck_assert_int_eq(jsonx_parse(NULL, 0, 8, 0, &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(parse("[1, \"abc", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("[NaN, \"abc\\", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("[NaN, \"abc\\\"", 8, 1, &v), -EINVAL);
	ck_assert_int_eq(parse("]]]]", 8, 1, &v), -EINVAL);
	/* Trailing whitespace is fine. */
	ck_assert_int_eq(parse("{}\n\t ", 8, 0, &v), 0);
	json_decref(v);
}
END_TEST

START_TEST(embedded_nul_refused)
{
	json_t *v = NULL;
	static const char a[] = "[1]\0";
	static const char b[] = "[\"a\\u0000b\"]";

	ck_assert_int_eq(jsonx_parse(a, sizeof(a) - 1, 8, 0, &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(parse(b, 8, 0, &v), -EINVAL);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(error_line_column)
{
	json_t *v = NULL;
	char ref[512];

	/* The bad token is on line 3 (by hand). */
	ck_assert_int_eq(parse("[1,\n2,\nx]", 8, 0, &v), -EINVAL);
	ck_assert_int_eq(strncmp(err, "line 3 column ", 14), 0);
	/*
	 * After a rewrite, positions still refer to the original text: the same error behind a
	 * 3-byte NaN reads exactly as jansson reports it behind a 3-byte number.
	 */
	ck_assert_int_eq(parse("[123, 4, x]", 8, 1, &v), -EINVAL);
	snprintf(ref, sizeof(ref), "%s", err);
	ck_assert_int_eq(parse("[NaN, 4, x]", 8, 1, &v), -EINVAL);
	ck_assert_str_eq(err, ref);
	ck_assert_int_eq(parse("[\"\xc3\xa9\", 12345678,\n 123, 4, x]", 8, 1, &v), -EINVAL);
	snprintf(ref, sizeof(ref), "%s", err);
	ck_assert_int_eq(parse("[\"\xc3\xa9\", Infinity,\n NaN, 4, x]", 8, 1, &v), -EINVAL);
	ck_assert_str_eq(err, ref);
	ck_assert_int_eq(strncmp(err, "line 2 column ", 14), 0);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(numbers)
{
	json_t *v = json_pack("[i, f, s, s, b, n, {}]", 42, 2.5, "nan", "Infinity ", 1);
	double d = 0;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(jsonx_number(json_array_get(v, 0), &d), 0);
	ck_assert(d == 42.0);
	ck_assert_int_eq(jsonx_number(json_array_get(v, 1), &d), 0);
	ck_assert(d == 2.5);
	for (size_t i = 2; i < json_array_size(v); i++)
		ck_assert_int_eq(jsonx_number(json_array_get(v, i), &d), -EINVAL);
	json_decref(v);
}
END_TEST

START_TEST(load_file)
{
	const char *tmp = getenv("TMPDIR");
	char *dir, *good, *bad;
	char *missing;
	json_t *v = NULL;
	size_t n = strlen("{\"a\": [NaN, 1]}\n");

	ck_assert_int_ge(asprintf(&dir, "%s/check_jsonx.XXXXXX", tmp && *tmp ? tmp : "/tmp"), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	good = write_temp(dir, "good.json", "{\"a\": [NaN, 1]}\n");
	bad = write_temp(dir, "bad.json", "{\"a\": }");

	ck_assert_int_eq(jsonx_load_file(good, n, 8, 1, &v, err, sizeof(err)), 0);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(v, "a"), 0)), JSONX_NAN);
	json_decref(v);
	ck_assert_int_eq(jsonx_load_file(good, n - 1, 8, 1, &v, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(jsonx_load_file(good, n, 8, 0, &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(jsonx_load_file(bad, 1000, 8, 0, &v, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(strncmp(err, "line 1 column ", 14), 0);
	ck_assert_int_eq(asprintf(&missing, "%s/missing.json", dir), (int)strlen(dir) + 13);
	ck_assert_int_eq(jsonx_load_file(missing, 1000, 8, 0, &v, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	/* A directory cannot be read as a file. */
	ck_assert_int_eq(jsonx_load_file(dir, 1000, 8, 0, &v, err, sizeof(err)), -EISDIR);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(unlink(good), 0);
	ck_assert_int_eq(unlink(bad), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(missing);
	free(good);
	free(bad);
	free(dir);
}
END_TEST

static Suite *jsonx_suite(void)
{
	Suite *s = suite_create("jsonx");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, depth_edge);
	tcase_add_test(tc, depth_objects_and_lines);
	tcase_add_test(tc, depth_ignores_brackets_in_strings);
	tcase_add_test(tc, deep_limit_uses_heap);
	tcase_add_test(tc, nonfinite_rewritten_outside_strings);
	tcase_add_test(tc, nonfinite_in_objects);
	tcase_add_test(tc, nonfinite_refused_when_not_allowed);
	tcase_add_test(tc, escaped_quotes);
	tcase_add_test(tc, duplicates_refused);
	tcase_add_test(tc, trailing_garbage_and_empty);
	tcase_add_test(tc, embedded_nul_refused);
	tcase_add_test(tc, error_line_column);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, load_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jsonx_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
