/* check_conf.c: configuration loading, every error with its exact line, and the defaults. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "golden.h"
#include "log.h"

/* The documented top of limits.max_model_bytes (4 GiB), or what a 32-bit long holds. */
#if LONG_MAX > 4294967296
#define TOP_MODEL_BYTES      4294967296L
#define TOP_MODEL_BYTES_TEXT "4294967296L"
#else
#define TOP_MODEL_BYTES      LONG_MAX
#define TOP_MODEL_BYTES_TEXT "2147483647"
#endif

static char *tmpdir;  /* as created */
static char *realdir; /* realpath(tmpdir): what relative paths resolve against */

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
	ck_assert_int_ge(asprintf(&tmpl, "%s/check_conf.XXXXXX", base), 0);
	tmpdir = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(tmpdir);
	realdir = realpath(tmpdir, NULL);
	ck_assert_ptr_nonnull(realdir);
}

static void teardown(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	free(realdir);
	tmpdir = realdir = NULL;
}

/* Writes text to tmpdir/name; returns the malloc'd path. */
static char *write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* A minimal valid model list, appended to configs that test something else. */
#define ONE_MODEL "models = ( { name = \"m\"; path = \"m.json\"; } );\n"

/* Loads text as inferd.conf; the caller clears errs and frees *out. */
static int load_text(const char *text, struct conf **out, struct conf_errors *errs)
{
	char *path = write_file("inferd.conf", text);
	int rc = conf_load(path, out, errs);

	free(path);
	return rc;
}

/* Asserts error i is exactly msg at line in tmpdir/inferd.conf. */
static void assert_err(const struct conf_errors *errs, size_t i, int line, const char *msg)
{
	char *file;

	ck_assert_msg(i < errs->n, "expected error %zu (%s), only %zu errors", i, msg, errs->n);
	ck_assert_str_eq(errs->v[i].msg, msg);
	ck_assert_int_eq(errs->v[i].line, line);
	ck_assert_int_ge(asprintf(&file, "%s/inferd.conf", tmpdir), 0);
	ck_assert_str_eq(errs->v[i].file, file);
	free(file);
}

/* Loads text expecting failure with exactly one error msg at line. */
static void expect_one_error(const char *text, int line, const char *msg)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = (struct conf *)1;

	ck_assert_int_eq(load_text(text, &c, &errs), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 1);
	assert_err(&errs, 0, line, msg);
	conf_errors_clear(&errs);
}

static char *in_dir(const char *rel)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", realdir, rel), 0);
	return p;
}

static void assert_ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	ck_assert_msg(ls >= lx && strcmp(s + ls - lx, suffix) == 0,
	              "\"%s\" does not end with \"%s\"", s, suffix);
}

START_TEST(test_defaults_applied)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *model;

	ck_assert_int_eq(load_text(ONE_MODEL, &c, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c->file);
	assert_ends_with(c->file, "/inferd.conf");
	ck_assert_int_eq(c->socket_path[0], '/');
	assert_ends_with(c->socket_path, "/inferd/inferd.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_ptr_null(c->admin_group);
	ck_assert_int_eq(c->state_dir[0], '/');
	assert_ends_with(c->state_dir, "/lib/inferd");
	ck_assert_int_eq(c->max_body_bytes, 16 * 1024 * 1024);
	ck_assert_int_eq(c->max_connections, 256);
	ck_assert_int_eq(c->connection_timeout, 30);
	ck_assert_int_eq(c->max_rows, 100000);
	ck_assert_int_eq(c->max_json_depth, 32);
	ck_assert_int_eq(c->max_header_bytes, 16384);
	ck_assert_int_eq(c->max_headers, 64);
	ck_assert_int_eq(c->request_timeout, 10);
	ck_assert_int_eq(c->max_model_bytes, 256L * 1024 * 1024);
	ck_assert_int_eq(c->max_trees, 100000);
	ck_assert_int_eq(c->max_tree_depth, 64);
	ck_assert_ptr_null(c->listen_tcp);
	ck_assert_int_eq(c->threads, 0);
	ck_assert_int_eq(c->shutdown_grace, 10);
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	ck_assert_double_eq(c->smoke.timeout, 10.0);
	ck_assert_int_eq(c->smoke.requests, 200);
	ck_assert_double_eq(c->smoke.p99_ms, 50.0);
	ck_assert_str_eq(c->smoke.on_failure, "rollback");
	ck_assert_uint_eq(c->n_models, 1);
	ck_assert_str_eq(c->models[0].name, "m");
	ck_assert_str_eq(c->models[0].version, "1");
	/* Unset, which is not 0 (0 means exact equality). */
	ck_assert_double_eq(c->models[0].tolerance, CONF_TOLERANCE_UNSET);
	ck_assert_int_eq(c->models[0].num_feature, 0);
	ck_assert_ptr_null(c->models[0].golden);
	model = in_dir("m.json");
	ck_assert_str_eq(c->models[0].path, model);
	free(model);
	conf_free(c);
}
END_TEST

START_TEST(test_every_key)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	ck_assert_int_eq(
	    load_text("socket = {\n"
	              "  path = \"/tmp/x.sock\";\n"
	              "  mode = \"0600\";\n"
	              "  group = \"inferd\";\n"
	              "  admin_group = \"inferd-admin\";\n"
	              "};\n"
	              "limits = {\n"
	              "  max_body_bytes = 1024;\n"
	              "  max_connections = 65536;\n"
	              "  connection_timeout = 5;\n"
	              "  max_rows = 10000000;\n"
	              "  max_json_depth = 8;\n"
	              "  max_header_bytes = 1048576;\n"
	              "  max_headers = 1024;\n"
	              "  request_timeout = 3600;\n"
	              "  max_model_bytes = " TOP_MODEL_BYTES_TEXT ";\n"
	              "  max_trees = 10000000;\n"
	              "  max_tree_depth = 1024;\n"
	              "};\n"
	              "server = { threads = 64; shutdown_grace = 0; state_dir = \"/srv/st\"; };\n"
	              "log_level = \"debug\";\n"
	              "listen_tcp = \"[::1]:65535\";\n"
	              "models = (\n"
	              "  { name = \"a.B_c-9\"; path = \"/abs/model.json\"; version = 2147483647;\n"
	              "    golden = \"/abs/golden.json\"; tolerance = 1; num_feature = 30; },\n"
	              "  { name = \"a.B_c-9\"; path = \"/abs/v2.json\"; version = \"3\";\n"
	              "    tolerance = 0; num_feature = 1000000; }\n"
	              ");\n"
	              "smoke = { timeout = 1; requests = 1000000; p99_ms = 0.001;\n"
	              "          on_failure = \"warn\"; };\n",
	              &c, &errs),
	    0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_str_eq(c->socket_path, "/tmp/x.sock");
	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_str_eq(c->socket_group, "inferd");
	ck_assert_str_eq(c->admin_group, "inferd-admin");
	ck_assert_int_eq(c->max_body_bytes, 1024);
	ck_assert_int_eq(c->max_connections, 65536);
	ck_assert_int_eq(c->connection_timeout, 5);
	ck_assert_int_eq(c->max_rows, 10000000);
	ck_assert_int_eq(c->max_json_depth, 8);
	ck_assert_int_eq(c->max_header_bytes, 1048576);
	ck_assert_int_eq(c->max_headers, 1024);
	ck_assert_int_eq(c->request_timeout, 3600);
	ck_assert_int_eq(c->max_model_bytes, TOP_MODEL_BYTES);
	ck_assert_int_eq(c->max_trees, 10000000);
	ck_assert_int_eq(c->max_tree_depth, 1024);
	ck_assert_str_eq(c->listen_tcp, "[::1]:65535");
	ck_assert_int_eq(c->threads, 64);
	ck_assert_int_eq(c->shutdown_grace, 0);
	ck_assert_str_eq(c->state_dir, "/srv/st");
	ck_assert_int_eq(c->log_level, LOG_LVL_DEBUG);
	ck_assert_uint_eq(c->n_models, 2);
	ck_assert_str_eq(c->models[0].name, "a.B_c-9");
	ck_assert_str_eq(c->models[0].path, "/abs/model.json");
	ck_assert_str_eq(c->models[0].version, "2147483647");
	ck_assert_str_eq(c->models[0].golden, "/abs/golden.json");
	ck_assert_double_eq(c->models[0].tolerance, 1.0);
	ck_assert_int_eq(c->models[0].num_feature, 30);
	ck_assert_str_eq(c->models[1].version, "3");
	ck_assert_double_eq(c->models[1].tolerance, 0.0); /* set: exact */
	ck_assert_int_eq(c->models[1].num_feature, 1000000);
	ck_assert_ptr_null(c->models[1].golden);
	ck_assert_double_eq(c->smoke.timeout, 1.0);
	ck_assert_int_eq(c->smoke.requests, 1000000);
	ck_assert_double_eq(c->smoke.p99_ms, 0.001);
	ck_assert_str_eq(c->smoke.on_failure, "warn");
	/* Version 2147483647 is numerically higher than 3, though not as text. */
	ck_assert_ptr_eq(conf_find_model(c, "a.B_c-9"), &c->models[0]);
	ck_assert_ptr_null(conf_find_model(c, "nope"));
	ck_assert_ptr_null(conf_find_model(c, NULL));
	conf_free(c);
}
END_TEST

START_TEST(test_many_errors_all_reported)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char buf[512];

	ck_assert_int_eq(load_text("# a comment\n"
	                           "limits = {\n"
	                           "  max_rows = 0;\n"
	                           "  max_bdy = 5;\n"
	                           "};\n"
	                           "log_level = \"verbose\";\n"
	                           "socket = { mode = 0660; };\n" ONE_MODEL "smoke = {\n"
	                           "  on_failure = \"retry\";\n"
	                           "  timeout = \"soon\";\n"
	                           "};\n",
	                           &c, &errs),
	                 -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 6);
	assert_err(&errs, 0, 3, "limits.max_rows: 0 is out of range (1 .. 10000000)");
	assert_err(&errs, 1, 4,
	           "unknown setting \"limits.max_bdy\" (did you mean \"max_body_bytes\"?)");
	assert_err(&errs, 2, 6,
	           "log_level: \"verbose\" is not one of error, warning, notice, info, debug");
	assert_err(&errs, 3, 7,
	           "socket.mode: expected an octal string such as \"0660\", got an integer "
	           "(libconfig has no octal numbers, so quote the mode)");
	assert_err(&errs, 4, 10, "smoke.on_failure: \"retry\" is not one of rollback, fail, warn");
	assert_err(&errs, 5, 11, "smoke.timeout: expected a number, got a string");

	ck_assert_int_ge(snprintf(buf, sizeof(buf),
	                          "limits.max_rows: 0 is out of range (1 .. "
	                          "10000000) at line 3 in file %s/inferd.conf",
	                          tmpdir),
	                 0);
	ck_assert_str_eq(conf_error_str(&errs.v[0], buf + 256, 256), buf);
	conf_errors_clear(&errs);
	ck_assert_ptr_null(errs.v);
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

START_TEST(test_unknown_top_level)
{
	expect_one_error("log_levl = \"info\";\n" ONE_MODEL, 1,
	                 "unknown setting \"log_levl\" (did you mean \"log_level\"?)");
	expect_one_error(ONE_MODEL "\nfrobnicate = 1;\n", 3, "unknown setting \"frobnicate\"");
	expect_one_error(ONE_MODEL "smkoe = { };\n", 2,
	                 "unknown setting \"smkoe\" (did you mean \"smoke\"?)");
}
END_TEST

START_TEST(test_unknown_in_group)
{
	expect_one_error(ONE_MODEL "limits = {\n  max_rowz = 5;\n};\n", 3,
	                 "unknown setting \"limits.max_rowz\" (did you mean \"max_rows\"?)");
	expect_one_error(ONE_MODEL "server = { thread = 4; };\n", 2,
	                 "unknown setting \"server.thread\" (did you mean \"threads\"?)");
	expect_one_error(ONE_MODEL "socket = { owner = \"x\"; };\n", 2,
	                 "unknown setting \"socket.owner\"");
	/* A key that exists elsewhere is still unknown in the wrong group. */
	expect_one_error(ONE_MODEL "smoke = { max_rows = 5; };\n", 2,
	                 "unknown setting \"smoke.max_rows\"");
}
END_TEST

START_TEST(test_unknown_in_model)
{
	expect_one_error("models = (\n"
	                 "  { name = \"m\"; path = \"m.json\"; },\n"
	                 "  { name = \"n\";\n"
	                 "    path = \"n.json\";\n"
	                 "    tolerence = 0.1; }\n"
	                 ");\n",
	                 5,
	                 "unknown setting \"models[1].tolerence\" (did you mean \"tolerance\"?)");
}
END_TEST

START_TEST(test_wrong_types)
{
	expect_one_error(ONE_MODEL "limits = { max_rows = \"10\"; };\n", 2,
	                 "limits.max_rows: expected an integer, got a string");
	expect_one_error(ONE_MODEL "limits = { max_rows = 10.0; };\n", 2,
	                 "limits.max_rows: expected an integer, got a float");
	expect_one_error(ONE_MODEL "limits = 5;\n", 2, "limits: expected a group, got an integer");
	expect_one_error(ONE_MODEL "server = { state_dir = true; };\n", 2,
	                 "server.state_dir: expected a string, got a boolean");
	expect_one_error(ONE_MODEL "log_level = [1, 2];\n", 2,
	                 "log_level: expected a string, got an array");
	expect_one_error("models = ( { name = \"m\"; path = (\"a\"); } );\n", 1,
	                 "models[0].path: expected a string, got a list");
	expect_one_error("models = { name = \"m\"; path = \"m.json\"; };\n", 1,
	                 "models: expected a list of groups, ( { ... }, ... ), got a group");
	expect_one_error("models = ( \"m\" );\n", 1, "models[0]: expected a group, got a string");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; version = 1.5; } );\n", 1,
	                 "models[0].version: expected an integer or \"latest\", got a float");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; version = \"v2\"; } );\n", 1,
	                 "models[0].version: \"v2\" is neither a positive integer nor \"latest\"");
}
END_TEST

START_TEST(test_floats_accept_integers)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	ck_assert_int_eq(load_text("smoke = { timeout = 3; p99_ms = 7L; };\n" ONE_MODEL, &c, &errs),
	                 0);
	ck_assert_double_eq(c->smoke.timeout, 3.0);
	ck_assert_double_eq(c->smoke.p99_ms, 7.0);
	conf_free(c);
}
END_TEST

START_TEST(test_out_of_range)
{
	expect_one_error(ONE_MODEL "limits = { max_rows = 10000001; };\n", 2,
	                 "limits.max_rows: 10000001 is out of range (1 .. 10000000)");
	expect_one_error(ONE_MODEL "limits = { max_json_depth = 7; };\n", 2,
	                 "limits.max_json_depth: 7 is out of range (8 .. 1024)");
	expect_one_error(ONE_MODEL "limits = { max_json_depth = 1025; };\n", 2,
	                 "limits.max_json_depth: 1025 is out of range (8 .. 1024)");
	expect_one_error(ONE_MODEL "limits = { max_body_bytes = 1023; };\n", 2,
	                 "limits.max_body_bytes: 1023 is out of range (1024 .. 1073741824)");
	expect_one_error(ONE_MODEL "limits = { max_body_bytes = 2147483648L; };\n", 2,
	                 "limits.max_body_bytes: 2147483648 is out of range (1024 .. 1073741824)");
	expect_one_error(ONE_MODEL "limits = { max_header_bytes = 1023; };\n", 2,
	                 "limits.max_header_bytes: 1023 is out of range (1024 .. 1048576)");
	expect_one_error(ONE_MODEL "limits = { max_header_bytes = 1048577; };\n", 2,
	                 "limits.max_header_bytes: 1048577 is out of range (1024 .. 1048576)");
	expect_one_error(ONE_MODEL "limits = { max_headers = 7; };\n", 2,
	                 "limits.max_headers: 7 is out of range (8 .. 1024)");
	expect_one_error(ONE_MODEL "limits = { max_headers = 1025; };\n", 2,
	                 "limits.max_headers: 1025 is out of range (8 .. 1024)");
	expect_one_error(ONE_MODEL "limits = { request_timeout = 0; };\n", 2,
	                 "limits.request_timeout: 0 is out of range (1 .. 3600)");
	expect_one_error(ONE_MODEL "limits = { request_timeout = 3601; };\n", 2,
	                 "limits.request_timeout: 3601 is out of range (1 .. 3600)");
	expect_one_error(ONE_MODEL "limits = { max_model_bytes = 1023; };\n", 2,
	                 "limits.max_model_bytes: 1023 is out of range (1024 .. 4294967296)");
	expect_one_error(ONE_MODEL "limits = { max_model_bytes = 4294967297L; };\n", 2,
	                 "limits.max_model_bytes: 4294967297 is out of range (1024 .. 4294967296)");
	expect_one_error(ONE_MODEL "limits = { max_trees = 0; };\n", 2,
	                 "limits.max_trees: 0 is out of range (1 .. 10000000)");
	expect_one_error(ONE_MODEL "limits = { max_trees = 10000001; };\n", 2,
	                 "limits.max_trees: 10000001 is out of range (1 .. 10000000)");
	expect_one_error(ONE_MODEL "limits = { max_tree_depth = 0; };\n", 2,
	                 "limits.max_tree_depth: 0 is out of range (1 .. 1024)");
	expect_one_error(ONE_MODEL "limits = { max_tree_depth = 1025; };\n", 2,
	                 "limits.max_tree_depth: 1025 is out of range (1 .. 1024)");
	expect_one_error(ONE_MODEL "server = { threads = -1; };\n", 2,
	                 "server.threads: -1 is out of range (0 .. 64)");
	expect_one_error(ONE_MODEL "server = { shutdown_grace = 301; };\n", 2,
	                 "server.shutdown_grace: 301 is out of range (0 .. 300)");
	expect_one_error(ONE_MODEL "smoke = { timeout = 0.05; };\n", 2,
	                 "smoke.timeout: 0.05 is out of range (0.1 .. 3600)");
	expect_one_error(ONE_MODEL "smoke = { p99_ms = 60000.5; };\n", 2,
	                 "smoke.p99_ms: 60000.5 is out of range (0.001 .. 60000)");
	expect_one_error(ONE_MODEL "smoke = { requests = 0; };\n", 2,
	                 "smoke.requests: 0 is out of range (1 .. 1000000)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; tolerance = 1.5; } );\n", 1,
	                 "models[0].tolerance: 1.5 is out of range (0 .. 1)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; tolerance = -0.5; } );\n", 1,
	                 "models[0].tolerance: -0.5 is out of range (0 .. 1)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; version = 0; } );\n", 1,
	                 "models[0].version: 0 is out of range (1 .. 2147483647)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; version = 2147483648L; } );\n",
	                 1, "models[0].version: 2147483648 is out of range (1 .. 2147483647)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; num_feature = 0; } );\n", 1,
	                 "models[0].num_feature: 0 is out of range (1 .. 1000000)");
}
END_TEST

/* The trees and outputs keys: values, defaults, the effective JSON, and every bad form. */
START_TEST(test_trees_outputs)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	json_t *j, *m;

	ck_assert_int_eq(
	    load_text("models = ( { name = \"a\"; path = \"p\"; },\n"
	              "  { name = \"b\"; path = \"p\"; trees = \"best\";\n"
	              "    outputs = [ \"leaf\", \"predict\", \"contribs\" ]; },\n"
	              "  { name = \"c\"; path = \"p\"; trees = \"all\";\n"
	              "    outputs = ( \"label\", \"predict_proba\", \"margin\" ); } );\n",
	              &c, &errs),
	    0);
	ck_assert_int_eq(c->models[0].trees, CONF_TREES_ALL);
	ck_assert_uint_eq(c->models[0].outputs, 0);
	ck_assert_int_eq(c->models[1].trees, CONF_TREES_BEST);
	ck_assert_uint_eq(c->models[1].outputs,
	                  CONF_OUT_LEAF | CONF_OUT_PREDICT | CONF_OUT_CONTRIBS);
	ck_assert_int_eq(c->models[2].trees, CONF_TREES_ALL);
	ck_assert_uint_eq(c->models[2].outputs, CONF_OUT_LABEL | CONF_OUT_PROBA | CONF_OUT_MARGIN);
	j = conf_effective_json(c);
	m = json_array_get(json_object_get(j, "models"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(m, "trees")), "best");
	/* Listed in the order outputs are answered: predict, ..., contribs, leaf. */
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "outputs"), 0)),
	                 "predict");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "outputs"), 2)),
	                 "leaf");
	ck_assert(json_is_null(
	    json_object_get(json_array_get(json_object_get(j, "models"), 0), "outputs")));
	json_decref(j);
	conf_free(c);

	expect_one_error("models = ( { name = \"m\"; path = \"p\"; trees = \"some\"; } );\n", 1,
	                 "models[0].trees: \"some\" is not one of all, best");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; trees = 3; } );\n", 1,
	                 "models[0].trees: expected a string, got an integer");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; outputs = \"predict\"; } );\n",
	                 1,
	                 "models[0].outputs: expected a list of output names, [ \"predict\", ... "
	                 "], got a string");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; outputs = [ ]; } );\n", 1,
	                 "models[0].outputs: must name at least one output (predict, margin, "
	                 "predict_proba, label, contribs, leaf)");
	expect_one_error(
	    "models = ( { name = \"m\"; path = \"p\"; outputs = [ \"shap\" ]; } );\n", 1,
	    "models[0].outputs[0]: \"shap\" is not an output (predict, margin, predict_proba, "
	    "label, contribs, leaf)");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; outputs = [ \"leaf\", "
	                 "\"leaf\" ]; } );\n",
	                 1, "models[0].outputs[1]: \"leaf\" is listed twice");
	expect_one_error("models = ( { name = \"m\"; path = \"p\"; outputs = ( 1 ); } );\n", 1,
	                 "models[0].outputs[0]: expected a string, got an integer");
}
END_TEST

START_TEST(test_mode)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	expect_one_error(ONE_MODEL "socket = { mode = \"0999\"; };\n", 2,
	                 "socket.mode: \"0999\" is not an octal mode (\"0000\" .. \"0777\")");
	expect_one_error(ONE_MODEL "socket = { mode = \"rw-rw----\"; };\n", 2,
	                 "socket.mode: \"rw-rw----\" is not an octal mode (\"0000\" .. \"0777\")");
	expect_one_error(ONE_MODEL "socket = { mode = \"1777\"; };\n", 2,
	                 "socket.mode: \"1777\" is not an octal mode (\"0000\" .. \"0777\")");
	expect_one_error(ONE_MODEL "socket = { mode = \"\"; };\n", 2,
	                 "socket.mode: \"\" is not an octal mode (\"0000\" .. \"0777\")");
	ck_assert_int_eq(load_text(ONE_MODEL "socket = { mode = \"0777\"; };\n", &c, &errs), 0);
	ck_assert_uint_eq(c->socket_mode, 0777);
	conf_free(c);
	ck_assert_int_eq(load_text(ONE_MODEL "socket = { mode = \"640\"; };\n", &c, &errs), 0);
	ck_assert_uint_eq(c->socket_mode, 0640);
	conf_free(c);
	ck_assert_int_eq(load_text(ONE_MODEL "socket = { mode = \"0000\"; };\n", &c, &errs), 0);
	ck_assert_uint_eq(c->socket_mode, 0);
	conf_free(c);
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

START_TEST(test_strings)
{
	char text[512];
	char longpath[200];

	expect_one_error(ONE_MODEL "server = { state_dir = \"\"; };\n", 2,
	                 "server.state_dir: must not be empty");
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	snprintf(text, sizeof(text), ONE_MODEL "socket = { path = \"%s\"; };\n", longpath);
	expect_one_error(text, 2, "socket.path: longer than 107 bytes");
}
END_TEST

START_TEST(test_model_names)
{
	char text[512];
	char name[66];

	expect_one_error("models = ( { name = \"a b\"; path = \"p\"; } );\n", 1,
	                 "models[0].name: \"a b\" must match [A-Za-z0-9_.-]{1,64}");
	expect_one_error("models = ( { name = \"\"; path = \"p\"; } );\n", 1,
	                 "models[0].name: \"\" must match [A-Za-z0-9_.-]{1,64}");
	expect_one_error("models = ( { name = \"x/y\"; path = \"p\"; } );\n", 1,
	                 "models[0].name: \"x/y\" must match [A-Za-z0-9_.-]{1,64}");
	/* "." and ".." match the pattern but would name the repository or its parent. */
	expect_one_error("models = ( { name = \".\"; path = \"p\"; } );\n", 1,
	                 "models[0].name: \".\" must match [A-Za-z0-9_.-]{1,64} and not be \".\" "
	                 "or \"..\"");
	expect_one_error("models = ( { name = \"..\"; path = \"p\"; } );\n", 1,
	                 "models[0].name: \"..\" must match [A-Za-z0-9_.-]{1,64} and not be \".\" "
	                 "or \"..\"");
	memset(name, 'n', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "models = ( { name = \"%s\"; path = \"p\"; } );\n", name);
	{
		char want[200];

		snprintf(want, sizeof(want),
		         "models[0].name: \"%s\" must match [A-Za-z0-9_.-]{1,64}", name);
		expect_one_error(text, 1, want);
	}
	/* 64 characters is the limit, inclusive. */
	name[64] = '\0';
	snprintf(text, sizeof(text), "models = ( { name = \"%s\"; path = \"p\"; } );\n", name);
	{
		struct conf_errors errs = {NULL, 0};
		struct conf *c = NULL;

		ck_assert_int_eq(load_text(text, &c, &errs), 0);
		ck_assert_str_eq(c->models[0].name, name);
		conf_free(c);
	}
}
END_TEST

START_TEST(test_duplicate_model)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	expect_one_error("models = (\n"
	                 "  { name = \"m\"; path = \"a.json\"; },\n"
	                 "  { name = \"n\"; path = \"b.json\"; },\n"
	                 "  {\n"
	                 "    path = \"c.json\";\n"
	                 "    name = \"m\";\n"
	                 "    version = 1;\n"
	                 "  }\n"
	                 ");\n",
	                 6, "models[2]: duplicate model \"m\" version 1 (first defined at line 2)");
	/* The same name with another version is a second version, not a duplicate. */
	ck_assert_int_eq(load_text("models = (\n"
	                           "  { name = \"m\"; path = \"a.json\"; version = 2; },\n"
	                           "  { name = \"m\"; path = \"b.json\"; },\n"
	                           "  { name = \"m\"; path = \"c.json\"; version = \"10\"; }\n"
	                           ");\n",
	                           &c, &errs),
	                 0);
	ck_assert_uint_eq(c->n_models, 3);
	ck_assert_ptr_eq(conf_find_model(c, "m"), &c->models[2]);
	conf_free(c);
}
END_TEST

START_TEST(test_required_keys)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	ck_assert_int_eq(load_text("models = (\n"
	                           "  { name = \"m\"; path = \"a.json\"; },\n"
	                           "  {\n"
	                           "    name = \"n\";\n"
	                           "  },\n"
	                           "  { golden = \"g.json\"; }\n"
	                           ");\n",
	                           &c, &errs),
	                 -EINVAL);
	ck_assert_uint_eq(errs.n, 3);
	assert_err(&errs, 0, 3, "models[1]: no path and no repository roots to find it in");
	assert_err(&errs, 1, 6, "models[2]: name is required");
	assert_err(&errs, 2, 6, "models[2]: no path and no repository roots to find it in");
	conf_errors_clear(&errs);

	expect_one_error("log_level = \"info\";\nmodels = ();\n", 2,
	                 "models: at least one model is required");
	expect_one_error("log_level = \"info\";\n", 0, "models: at least one model is required");
}
END_TEST

START_TEST(test_syntax_error)
{
	expect_one_error(ONE_MODEL "limits = {\n  max_rows = 5;\n  max_connections = = 3;\n};\n", 4,
	                 "syntax error");
	expect_one_error(ONE_MODEL "smoke = {\n  timeout = 1;\n", 4, "syntax error");
	expect_one_error(ONE_MODEL "threads = 1;\nthreads = 2;\n", 3, "duplicate setting name");
}
END_TEST

START_TEST(test_missing_file)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = (struct conf *)1;
	char *path, *want;
	char buf[512];

	ck_assert_int_ge(asprintf(&path, "%s/absent.conf", tmpdir), 0);
	ck_assert_int_eq(conf_load(path, &c, &errs), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 0);
	ck_assert_str_eq(errs.v[0].file, path);
	ck_assert_str_eq(errs.v[0].msg, strerror(ENOENT));
	ck_assert_int_ge(asprintf(&want, "%s in file %s", strerror(ENOENT), path), 0);
	ck_assert_str_eq(conf_error_str(&errs.v[0], buf, sizeof(buf)), want);
	conf_errors_clear(&errs);
	free(want);

	/* A directory is not a config file. */
	ck_assert_int_eq(conf_load(tmpdir, &c, &errs), -EISDIR);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].msg, strerror(EISDIR));
	conf_errors_clear(&errs);
	free(path);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *path, *want;

	{
		char *sub;

		ck_assert_int_ge(asprintf(&sub, "%s/etc", tmpdir), 0);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
		free(sub);
	}
	path = write_file("etc/inferd.conf",
	                  "models = ( { name = \"m\"; path = \"models/m/1/model.json\";\n"
	                  "             golden = \"../g.json\"; },\n"
	                  "           { name = \"a\"; path = \"/abs/model.json\"; } );\n");
	ck_assert_int_eq(conf_load(path, &c, &errs), 0);
	want = in_dir("etc/models/m/1/model.json");
	ck_assert_str_eq(c->models[0].path, want);
	free(want);
	want = in_dir("etc/../g.json");
	ck_assert_str_eq(c->models[0].golden, want);
	free(want);
	ck_assert_str_eq(c->models[1].path, "/abs/model.json");
	ck_assert_str_eq(c->file, path);
	conf_free(c);

	/* A relative config path works from the config's directory, too. */
	{
		char cwd[PATH_MAX];

		ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
		ck_assert_int_eq(chdir(tmpdir), 0);
		ck_assert_int_eq(conf_load("etc/inferd.conf", &c, &errs), 0);
		ck_assert_int_eq(chdir(cwd), 0);
		want = in_dir("etc/models/m/1/model.json");
		ck_assert_str_eq(c->models[0].path, want);
		free(want);
		conf_free(c);
	}
	ck_assert_uint_eq(errs.n, 0);
	free(path);
}
END_TEST

START_TEST(test_include_errors_name_their_file)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *inc, *want;

	inc = write_file("limits.conf", "# included\nlimits = { max_rows = -3; };\n");
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"limits.conf\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 2);
	ck_assert_str_eq(errs.v[0].msg, "limits.max_rows: -3 is out of range (1 .. 10000000)");
	want = in_dir("limits.conf");
	ck_assert_str_eq(errs.v[0].file, want);
	free(want);
	conf_errors_clear(&errs);
	free(inc);

	/* Syntax errors inside an included file name it too. */
	inc = write_file("bad.conf", "limits = {\n  max_rows = ;\n};\n");
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"bad.conf\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 2);
	ck_assert_str_eq(errs.v[0].msg, "syntax error");
	want = in_dir("bad.conf");
	ck_assert_str_eq(errs.v[0].file, want);
	free(want);
	conf_errors_clear(&errs);
	free(inc);

	ck_assert_int_eq(load_text(ONE_MODEL "@include \"absent.conf\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	assert_err(&errs, 0, 2, "cannot open include file");
	conf_errors_clear(&errs);
}
END_TEST

/*
 * libconfig 1.5 exit()s the process when an @include names a directory and blocks on a
 * FIFO: such directives are refused before libconfig runs, with the directive's own line.
 */
START_TEST(test_include_must_be_a_regular_file)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *sub, *fifo, *want, *inc, *self;
	char many[20 * sizeof("@include \"self.conf\"\n")] = "";

	ck_assert_int_ge(asprintf(&sub, "%s/conf.d", tmpdir), 0);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"conf.d\"\n", &c, &errs), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 2);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "@include \"conf.d\": "));
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "is a directory"));
	conf_errors_clear(&errs);

	/* The empty name and "." are the config's own directory. */
	ck_assert_int_eq(load_text(ONE_MODEL "\n  @include \"\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 3);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "is a directory"));
	conf_errors_clear(&errs);
	ck_assert_int_eq(load_text(ONE_MODEL "\t@include\t\".\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	conf_errors_clear(&errs);

	/* A FIFO would block the reload forever: refused without opening it. */
	ck_assert_int_ge(asprintf(&fifo, "%s/pipe", tmpdir), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"pipe\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "is a FIFO"));
	conf_errors_clear(&errs);

	/* Inside an included file, the error names that file and its line. */
	inc = write_file("nested.conf", "# nested\n\n@include \"conf.d\"\n");
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"nested.conf\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].line, 3);
	want = in_dir("nested.conf");
	ck_assert_str_eq(errs.v[0].file, want);
	free(want);
	conf_errors_clear(&errs);

	/* A file including itself 20 times per level would multiply to 20^10 reads. */
	for (int i = 0; i < 20; i++)
		strcat(many, "@include \"self.conf\"\n");
	self = write_file("self.conf", many);
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"self.conf\"\n", &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0].msg, "more than 256 @include directives"));
	conf_errors_clear(&errs);

	/* A regular file is still included, and so is one named in a comment. */
	free(inc);
	inc = write_file("ok.conf", "log_level = \"debug\";\n");
	ck_assert_int_eq(load_text(ONE_MODEL "@include \"ok.conf\"\n", &c, &errs), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(errs.n, 0);
	conf_free(c);

	unlink(fifo);
	unlink(self);
	unlink(inc);
	rmdir(sub);
	free(fifo);
	free(self);
	free(inc);
	free(sub);
}
END_TEST

START_TEST(test_log_levels)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
	    {"error", LOG_LVL_ERR}, {"warning", LOG_LVL_WARN}, {"notice", LOG_LVL_NOTICE},
	    {"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct conf_errors errs = {NULL, 0};
		struct conf *c = NULL;
		char text[256];

		snprintf(text, sizeof(text), "log_level = \"%s\";\n" ONE_MODEL, levels[i].name);
		ck_assert_int_eq(load_text(text, &c, &errs), 0);
		ck_assert_int_eq(c->log_level, levels[i].level);
		conf_free(c);
	}
}
END_TEST

START_TEST(test_null_errs)
{
	struct conf *c = (struct conf *)1;

	ck_assert_int_eq(load_text("limits = { max_rows = 0; bogus = 1; };\n", &c, NULL), -EINVAL);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_errors_append)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	ck_assert_int_eq(load_text("bogus = 1;\n" ONE_MODEL, &c, &errs), -EINVAL);
	ck_assert_int_eq(load_text(ONE_MODEL "\n\nlimits = { max_rows = 0; };\n", &c, &errs),
	                 -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	assert_err(&errs, 0, 1, "unknown setting \"bogus\"");
	assert_err(&errs, 1, 4, "limits.max_rows: 0 is out of range (1 .. 10000000)");
	conf_errors_clear(&errs);
	conf_errors_clear(&errs);
	conf_errors_clear(NULL);
}
END_TEST

START_TEST(test_error_str)
{
	struct conf_error e = {.file = "/etc/inferd/inferd.conf", .line = 12, .msg = "bad thing"};
	char buf[64], small[6];

	ck_assert_str_eq(conf_error_str(&e, buf, sizeof(buf)),
	                 "bad thing at line 12 in file /etc/inferd/inferd.conf");
	/* Truncated, but still terminated. */
	ck_assert_str_eq(conf_error_str(&e, small, sizeof(small)), "bad t");
}
END_TEST

/* sha256 of a file by the sha256sum command (not nettle, which conf.c uses). */
static void sha256sum_file(const char *path, char out[65])
{
	char *cmd, line[256];
	FILE *p;

	ck_assert_int_ge(asprintf(&cmd, "sha256sum '%s'", path), 0);
	p = popen(cmd, "r");
	free(cmd);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_ge(strlen(line), 64);
	memcpy(out, line, 64);
	out[64] = '\0';
}

static void sha256_cmd_text(const char *text, char out[65])
{
	char *path = write_file("hashed.txt", text);

	sha256sum_file(path, out);
	free(path);
}

START_TEST(test_repository)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *want, *path, sum[65];

	/* An array, relative roots resolved like paths; models found there by name. */
	ck_assert_int_eq(load_text("repository = [ \"/srv/models\", \"local/models\" ];\n"
	                           "models = (\n"
	                           "  { name = \"a\"; },\n"
	                           "  { name = \"b\"; version = 3; golden = \"g.json\"; },\n"
	                           "  { name = \"c\"; version = \"latest\"; tolerance = 0.5; },\n"
	                           "  { name = \"d\"; path = \"d.json\"; }\n"
	                           ");\n",
	                           &c, &errs),
	                 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_uint_eq(c->n_repository, 2);
	ck_assert_str_eq(c->repository[0], "/srv/models");
	want = in_dir("local/models");
	ck_assert_str_eq(c->repository[1], want);
	free(want);
	ck_assert_uint_eq(c->n_models, 4);
	ck_assert_ptr_null(c->models[0].path);
	ck_assert_str_eq(c->models[0].version, "latest");
	ck_assert_ptr_null(c->models[0].golden);
	ck_assert_ptr_null(c->models[1].path);
	ck_assert_str_eq(c->models[1].version, "3");
	want = in_dir("g.json");
	ck_assert_str_eq(c->models[1].golden, want);
	free(want);
	ck_assert_str_eq(c->models[2].version, "latest");
	ck_assert_double_eq(c->models[2].tolerance, 0.5);
	/* With a path the version is a number, 1 unless given. */
	ck_assert_str_eq(c->models[3].version, "1");
	want = in_dir("d.json");
	ck_assert_str_eq(c->models[3].path, want);
	free(want);
	/* The sha256 is of the file's bytes. */
	ck_assert_int_ge(asprintf(&path, "%s/inferd.conf", tmpdir), 0);
	sha256sum_file(path, sum);
	ck_assert_str_eq(c->sha256, sum);
	free(path);
	conf_free(c);

	/* A list works too, and the key may come after the models that need it. */
	ck_assert_int_eq(load_text("models = ( { name = \"a\"; } );\n"
	                           "repository = ( \"/r\" );\n",
	                           &c, &errs),
	                 0);
	ck_assert_uint_eq(c->n_repository, 1);
	ck_assert_str_eq(c->repository[0], "/r");
	conf_free(c);

	/* Without the key there are no roots (explicit paths only). */
	ck_assert_int_eq(load_text(ONE_MODEL, &c, &errs), 0);
	ck_assert_uint_eq(c->n_repository, 0);
	ck_assert_ptr_null(c->repository);
	conf_free(c);
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

START_TEST(test_repository_errors)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *text, longroot[PATH_MAX + 1], want[128];

	expect_one_error(ONE_MODEL "repository = \"/srv/models\";\n", 2,
	                 "repository: expected a list of strings, [ \"...\", ... ], got a string");
	expect_one_error(ONE_MODEL "repository = { a = \"/x\"; };\n", 2,
	                 "repository: expected a list of strings, [ \"...\", ... ], got a group");
	expect_one_error(ONE_MODEL "repository = [ 7 ];\n", 2,
	                 "repository[0]: expected a string, got an integer");
	expect_one_error(ONE_MODEL "repository = (\n  \"/a\",\n  5,\n  \"/b\"\n);\n", 4,
	                 "repository[1]: expected a string, got an integer");
	expect_one_error(ONE_MODEL "repository = [ \"/a\", \"\" ];\n", 2,
	                 "repository[1]: must not be empty");
	/* PATH_MAX bytes do not fit PATH_MAX with the terminating NUL. */
	memset(longroot, 'r', PATH_MAX);
	longroot[0] = '/';
	longroot[PATH_MAX] = '\0';
	ck_assert_int_ge(asprintf(&text, ONE_MODEL "repository = [ \"%s\" ];\n", longroot), 0);
	snprintf(want, sizeof(want), "repository[0]: longer than %d bytes", PATH_MAX - 1);
	expect_one_error(text, 2, want);
	free(text);
	longroot[PATH_MAX - 1] = '\0';
	ck_assert_int_ge(asprintf(&text, ONE_MODEL "repository = [ \"%s\" ];\n", longroot), 0);
	ck_assert_int_eq(load_text(text, &c, &errs), 0);
	ck_assert_uint_eq(strlen(c->repository[0]), PATH_MAX - 1);
	conf_free(c);
	free(text);
	ck_assert_uint_eq(errs.n, 0);

	/* Every problem at once, each at its line. */
	ck_assert_int_eq(load_text("repository = [ ];\n"
	                           "models = (\n"
	                           "  { name = \"a\"; },\n"
	                           "  { name = \"b\"; path = \"b.json\";\n"
	                           "    version = \"latest\"; },\n"
	                           "  { name = \"c\"; version = \"latest\"; },\n"
	                           "  { name = \"c\"; version = \"latest\"; }\n"
	                           ");\n",
	                           &c, &errs),
	                 -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 5);
	assert_err(&errs, 0, 3, "models[0]: no path and no repository roots to find it in");
	assert_err(&errs, 1, 5,
	           "models[1].version: \"latest\" is only for models found in the repository "
	           "(without path); give an integer");
	assert_err(&errs, 2, 6, "models[2]: no path and no repository roots to find it in");
	assert_err(&errs, 3, 7, "models[3]: no path and no repository roots to find it in");
	assert_err(&errs, 4, 7,
	           "models[3]: duplicate model \"c\" version latest (first defined at line 6)");
	conf_errors_clear(&errs);

	/* A malformed repository is one error, not one more per model. */
	expect_one_error(
	    "repository = 5;\nmodels = ( { name = \"a\"; } );\n", 1,
	    "repository: expected a list of strings, [ \"...\", ... ], got an integer");
	expect_one_error("repository = [ \"/r\" ];\n"
	                 "models = ( { name = \"a\"; version = 0; } );\n",
	                 2, "models[0].version: 0 is out of range (1 .. 2147483647)");
	expect_one_error(
	    "repository = [ \"/r\" ];\n"
	    "models = ( { name = \"a\"; version = \"Latest\"; } );\n",
	    2, "models[0].version: \"Latest\" is neither a positive integer nor \"latest\"");
}
END_TEST

START_TEST(test_sha256_of_bytes)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *a = NULL, *b = NULL;
	char *path, sum[65];

	/* The same settings written differently are different files. */
	ck_assert_int_eq(load_text(ONE_MODEL, &a, &errs), 0);
	ck_assert_int_eq(load_text("# a comment\n" ONE_MODEL, &b, &errs), 0);
	ck_assert_str_ne(a->sha256, b->sha256);
	ck_assert_int_ge(asprintf(&path, "%s/inferd.conf", tmpdir), 0);
	sha256sum_file(path, sum);
	ck_assert_str_eq(b->sha256, sum);
	ck_assert_uint_eq(strlen(a->sha256), 64);
	conf_free(a);
	conf_free(b);
	free(path);

	/* libconfig reads a C string: a NUL byte would hide the rest, so it is refused. */
	{
		static const char text[] =
		    "models = ( { name = \"m\"; path = \"p\"; } );\n\0bogus = 1;\n";
		FILE *f;

		ck_assert_int_ge(asprintf(&path, "%s/inferd.conf", tmpdir), 0);
		f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_int_eq(conf_load(path, &a, &errs), -EINVAL);
		ck_assert_ptr_null(a);
		ck_assert_uint_eq(errs.n, 1);
		ck_assert_str_eq(errs.v[0].msg, "contains a NUL byte");
		ck_assert_int_eq(errs.v[0].line, 0);
		conf_errors_clear(&errs);
		free(path);
	}
}
END_TEST

START_TEST(test_conf_default)
{
	struct conf *c = NULL;

	ck_assert_int_eq(conf_default(&c), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->file);
	ck_assert_int_eq(c->socket_path[0], '/');
	assert_ends_with(c->socket_path, "/inferd/inferd.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_ptr_null(c->admin_group);
	assert_ends_with(c->state_dir, "/lib/inferd");
	ck_assert_int_eq(c->max_body_bytes, 16777216);
	ck_assert_int_eq(c->max_connections, 256);
	ck_assert_int_eq(c->connection_timeout, 30);
	ck_assert_int_eq(c->max_rows, 100000);
	ck_assert_int_eq(c->max_json_depth, 32);
	ck_assert_int_eq(c->max_header_bytes, 16384);
	ck_assert_int_eq(c->max_headers, 64);
	ck_assert_int_eq(c->request_timeout, 10);
	ck_assert_int_eq(c->max_model_bytes, 268435456);
	ck_assert_int_eq(c->max_trees, 100000);
	ck_assert_int_eq(c->max_tree_depth, 64);
	ck_assert_ptr_null(c->listen_tcp);
	ck_assert_int_eq(c->threads, 0);
	ck_assert_int_eq(c->shutdown_grace, 10);
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	ck_assert_str_eq(c->smoke.on_failure, "rollback");
	ck_assert_uint_eq(c->n_models, 1);
	ck_assert_str_eq(c->models[0].name, "breast-cancer");
	/* Found in the repository, newest valid version first: an update needs no edit. */
	ck_assert_str_eq(c->models[0].version, "latest");
	ck_assert_ptr_null(c->models[0].path);
	ck_assert_ptr_null(c->models[0].golden);
	ck_assert_uint_eq(c->n_repository, 2);
	ck_assert_int_eq(c->repository[0][0], '/');
	assert_ends_with(c->repository[0], "/lib/inferd/models");
	ck_assert_int_eq(c->repository[1][0], '/');
	assert_ends_with(c->repository[1], "/inferd/models");
	ck_assert_str_ne(c->repository[0], c->repository[1]);
	/* The sha256 of the fixed text that stands for the default (sha256sum agrees). */
	{
		char want[65];

		sha256_cmd_text("built-in default " PACKAGE_VERSION, want);
		ck_assert_str_eq(c->sha256, want);
	}
	ck_assert_double_eq(c->models[0].tolerance, CONF_TOLERANCE_UNSET);
	ck_assert_int_eq(c->models[0].num_feature, 0);
	ck_assert_ptr_eq(conf_find_model(c, "breast-cancer"), &c->models[0]);
	conf_free(c);
	conf_free(NULL);
}
END_TEST

/* The lower edge of every bound is accepted, one below it is refused (test_out_of_range). */
START_TEST(test_limits_lower_edges)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;

	ck_assert_int_eq(load_text(ONE_MODEL "limits = {\n"
	                                     "  max_header_bytes = 1024;\n"
	                                     "  max_headers = 8;\n"
	                                     "  request_timeout = 1;\n"
	                                     "  max_model_bytes = 1024;\n"
	                                     "  max_trees = 1;\n"
	                                     "  max_tree_depth = 1;\n"
	                                     "};\n",
	                           &c, &errs),
	                 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_int_eq(c->max_header_bytes, 1024);
	ck_assert_int_eq(c->max_headers, 8);
	ck_assert_int_eq(c->request_timeout, 1);
	ck_assert_int_eq(c->max_model_bytes, 1024);
	ck_assert_int_eq(c->max_trees, 1);
	ck_assert_int_eq(c->max_tree_depth, 1);
	conf_free(c);
}
END_TEST

START_TEST(test_listen_tcp)
{
	static const char *const good[] = {"127.0.0.1:8080", "0.0.0.0:1",   "[::1]:65535",
	                                   "[::]:80",        "[fe80::1]:9", "10.1.2.3:443"};
	static const char *const bad[] = {"127.0.0.1",       "127.0.0.1:",      "127.0.0.1:0",
	                                  "127.0.0.1:65536", "127.0.0.1:08080", "127.0.0.1:+80",
	                                  "127.0.0.1:8x",    "localhost:8080",  "::1:8080",
	                                  "[::1]8080",       "[::1]:",          "[127.0.0.1]:80",
	                                  ":8080",           "1.2.3.4.5:80",    "[::1:80",
	                                  "127.0.0.1: 80",   " 127.0.0.1:80"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct conf_errors errs = {NULL, 0};
		struct conf *c = NULL;
		char *text;

		ck_assert_int_ge(asprintf(&text, ONE_MODEL "listen_tcp = \"%s\";\n", good[i]), 0);
		ck_assert_msg(load_text(text, &c, &errs) == 0, "%s refused", good[i]);
		ck_assert_str_eq(c->listen_tcp, good[i]);
		conf_free(c);
		free(text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text, *msg;

		ck_assert_int_ge(asprintf(&text, ONE_MODEL "\nlisten_tcp = \"%s\";\n", bad[i]), 0);
		ck_assert_int_ge(asprintf(&msg,
		                          "listen_tcp: \"%s\" is not ADDR:PORT (a numeric IPv4 "
		                          "address or [IPv6 address], port 1 .. 65535)",
		                          bad[i]),
		                 0);
		expect_one_error(text, 3, msg);
		free(text);
		free(msg);
	}
	expect_one_error(ONE_MODEL "listen_tcp = 8080;\n", 2,
	                 "listen_tcp: expected a string, got an integer");
	expect_one_error(ONE_MODEL "limits = { listen_tcp = \"127.0.0.1:80\"; };\n", 2,
	                 "unknown setting \"limits.listen_tcp\"");
}
END_TEST

/*
 * tolerance: unset is distinct from 0 (exact); a set value, 0 included, wins over the
 * golden file's own; the effective config shows unset as null and 0 as 0.
 */
START_TEST(test_tolerance_unset_zero_wins)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	struct golden g;
	char err[256] = "";
	char *gpath = write_file("golden.json", "{\"tolerance\": 0.01, \"inputs\": [[1]], "
	                                        "\"predict\": [0.5]}");
	json_t *j, *ms;

	ck_assert_msg(golden_load(gpath, &g, err, sizeof(err)) == 0, "%s", err);
	free(gpath);
	ck_assert_int_eq(load_text("models = (\n"
	                           "  { name = \"a\"; path = \"m.json\"; tolerance = 0; },\n"
	                           "  { name = \"b\"; path = \"m.json\"; tolerance = 0.0; },\n"
	                           "  { name = \"c\"; path = \"m.json\"; },\n"
	                           "  { name = \"d\"; path = \"m.json\"; tolerance = 1e-3; }\n"
	                           ");\n",
	                           &c, &errs),
	                 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_double_eq(c->models[0].tolerance, 0.0);
	ck_assert_double_eq(c->models[1].tolerance, 0.0);
	ck_assert(c->models[2].tolerance < 0);
	ck_assert_double_eq(c->models[3].tolerance, 1e-3);
	/* The config's 0 wins over the file's 0.01; unset takes the file's; 1e-3 wins. */
	ck_assert_double_eq(golden_tolerance(c->models[0].tolerance, &g), 0.0);
	ck_assert_double_eq(golden_tolerance(c->models[1].tolerance, &g), 0.0);
	ck_assert_double_eq(golden_tolerance(c->models[2].tolerance, &g), 0.01);
	ck_assert_double_eq(golden_tolerance(c->models[3].tolerance, &g), 1e-3);
	/* Neither set: 1e-6. */
	g.tolerance = GOLDEN_TOLERANCE_UNSET;
	ck_assert_double_eq(golden_tolerance(c->models[2].tolerance, &g), 1e-6);
	golden_free(&g);

	j = conf_effective_json(c);
	ck_assert_ptr_nonnull(j);
	ms = json_object_get(j, "models");
	ck_assert(json_is_real(json_object_get(json_array_get(ms, 0), "tolerance")));
	ck_assert_double_eq(json_real_value(json_object_get(json_array_get(ms, 0), "tolerance")),
	                    0.0);
	ck_assert(json_is_null(json_object_get(json_array_get(ms, 2), "tolerance")));
	ck_assert_double_eq(json_real_value(json_object_get(json_array_get(ms, 3), "tolerance")),
	                    1e-3);
	json_decref(j);
	conf_free(c);
}
END_TEST

/* The effective configuration mirrors the schema: every key, with what was read. */
START_TEST(test_effective_json)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	json_t *j, *lim, *m;
	char *model;

	ck_assert_int_eq(load_text("socket = { mode = \"0640\"; };\n"
	                           "limits = { max_headers = 9; };\n"
	                           "listen_tcp = \"127.0.0.1:8081\";\n"
	                           "log_level = \"notice\";\n" ONE_MODEL,
	                           &c, &errs),
	                 0);
	j = conf_effective_json(c);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "socket"), "mode")),
	                 "0640");
	ck_assert(json_is_null(json_object_get(json_object_get(j, "socket"), "group")));
	lim = json_object_get(j, "limits");
	ck_assert_uint_eq(json_object_size(lim), 11);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_headers")), 9);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_header_bytes")), 16384);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "request_timeout")), 10);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_model_bytes")), 268435456);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_trees")), 100000);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_tree_depth")), 64);
	ck_assert_int_eq(json_integer_value(json_object_get(lim, "max_body_bytes")), 16777216);
	ck_assert_str_eq(json_string_value(json_object_get(j, "listen_tcp")), "127.0.0.1:8081");
	ck_assert_str_eq(json_string_value(json_object_get(j, "log_level")), "notice");
	ck_assert_uint_eq(json_object_size(json_object_get(j, "server")), 3);
	ck_assert_uint_eq(json_object_size(json_object_get(j, "smoke")), 4);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "smoke"), "on_failure")),
	    "rollback");
	ck_assert(json_is_array(json_object_get(j, "repository")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "repository")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "models")), 1);
	m = json_array_get(json_object_get(j, "models"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "m");
	ck_assert_str_eq(json_string_value(json_object_get(m, "version")), "1");
	model = in_dir("m.json");
	ck_assert_str_eq(json_string_value(json_object_get(m, "path")), model);
	free(model);
	ck_assert(json_is_null(json_object_get(m, "golden")));
	ck_assert(json_is_null(json_object_get(m, "num_feature")));
	/* Unset reads as null, like num_feature (0 would mean exact). */
	ck_assert(json_is_null(json_object_get(m, "tolerance")));
	/* socket, limits, server, log_level, listen_tcp, repository, models, smoke. */
	ck_assert_uint_eq(json_object_size(j), 8);
	json_decref(j);
	conf_free(c);
	ck_assert_ptr_null(conf_effective_json(NULL));
}
END_TEST

/* Reads a whole file into a malloc'd string. */
static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int ch;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(out);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, out);
	fclose(f);
	fclose(out);
	return buf;
}

/*
 * The shipped example must load, and with every commented-out "#key = value;" line
 * enabled it must still load and give the documented defaults: the comments cannot drift
 * from the code.
 */
START_TEST(test_example_config)
{
	char *text = read_all(TOP_SRCDIR "/src/inferd.conf.example");
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char *p, *line;
	int enabled = 0;

	ck_assert_int_eq(load_text(text, &c, &errs), 0);
	ck_assert_uint_eq(c->n_models, 1);
	/* As shipped it is the built-in default's repository and policy. */
	ck_assert_str_eq(c->models[0].version, "latest");
	ck_assert_ptr_null(c->models[0].path);
	ck_assert_ptr_null(c->models[0].golden);
	ck_assert_uint_eq(c->n_repository, 2);
	ck_assert_str_eq(c->repository[0], "/var/lib/inferd/models");
	ck_assert_str_eq(c->repository[1], "/usr/share/inferd/models");
	ck_assert_ptr_null(c->listen_tcp);
	conf_free(c);

	for (line = text; line && *line; line = p ? p + 1 : NULL) {
		char *hash = line + strspn(line, " ");

		p = strchr(line, '\n');
		if (hash[0] == '#' && hash[1] >= 'a' && hash[1] <= 'z' && strstr(hash, " = ") &&
		    (!p || p[-1] == ';')) {
			*hash = ' ';
			enabled++;
		}
	}
	/*
	 * 4 socket, 11 limits, 3 server, log_level, listen_tcp, 6 model (path is only
	 * described), 4 smoke.
	 */
	ck_assert_int_eq(enabled, 30);
	ck_assert_int_eq(load_text(text, &c, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	assert_ends_with(c->socket_path, "/inferd/inferd.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_str_eq(c->socket_group, "inferd");
	ck_assert_str_eq(c->admin_group, "inferd-admin");
	ck_assert_int_eq(c->max_body_bytes, 16777216);
	ck_assert_int_eq(c->max_connections, 256);
	ck_assert_int_eq(c->connection_timeout, 30);
	ck_assert_int_eq(c->max_rows, 100000);
	ck_assert_int_eq(c->max_json_depth, 32);
	ck_assert_int_eq(c->max_header_bytes, 16384);
	ck_assert_int_eq(c->max_headers, 64);
	ck_assert_int_eq(c->request_timeout, 10);
	ck_assert_int_eq(c->max_model_bytes, 268435456);
	ck_assert_int_eq(c->max_trees, 100000);
	ck_assert_int_eq(c->max_tree_depth, 64);
	/* Off by default; the example shows a loopback address. */
	ck_assert_str_eq(c->listen_tcp, "127.0.0.1:8080");
	ck_assert_int_eq(c->threads, 0);
	ck_assert_int_eq(c->shutdown_grace, 10);
	assert_ends_with(c->state_dir, "/lib/inferd");
	ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
	ck_assert_str_eq(c->models[0].name, "breast-cancer");
	ck_assert_str_eq(c->models[0].version, "latest");
	ck_assert_ptr_null(c->models[0].path);
	ck_assert_str_eq(c->models[0].golden, "/var/lib/inferd/models/breast-cancer/golden.json");
	ck_assert_double_eq(c->models[0].tolerance, 1e-6);
	ck_assert_int_eq(c->models[0].num_feature, 30);
	ck_assert_double_eq(c->smoke.timeout, 10.0);
	ck_assert_int_eq(c->smoke.requests, 200);
	ck_assert_double_eq(c->smoke.p99_ms, 50.0);
	ck_assert_str_eq(c->smoke.on_failure, "rollback");
	conf_free(c);
	free(text);
}
END_TEST

/* conf_key_text: dotted keys into the effective config, values as a shell reads them. */
START_TEST(test_key_text)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	json_t *j, *doc;
	char *v = NULL;

	ck_assert_int_eq(load_text("socket = { path = \"/x/s.sock\"; mode = \"0640\"; };\n"
	                           "repository = [ \"/r1\", \"/r2\" ];\n"
	                           "smoke = { on_failure = \"warn\"; };\n" ONE_MODEL,
	                           &c, &errs),
	                 0);
	j = conf_effective_json(c);
	ck_assert_int_eq(conf_key_text(j, "socket.path", &v), 0);
	ck_assert_str_eq(v, "/x/s.sock");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "socket.mode", &v), 0);
	ck_assert_str_eq(v, "0640");
	free(v);
	/* Unset: the empty string. Defaults: the documented ones (inferd.conf(5)). */
	ck_assert_int_eq(conf_key_text(j, "socket.group", &v), 0);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "limits.max_rows", &v), 0);
	ck_assert_str_eq(v, "100000");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "smoke.on_failure", &v), 0);
	ck_assert_str_eq(v, "warn");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "repository", &v), 0);
	ck_assert_str_eq(v, "/r1\n/r2");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "models.0.name", &v), 0);
	ck_assert_str_eq(v, "m");
	free(v);
	ck_assert_int_eq(conf_key_text(j, "server", &v), 0);
	ck_assert_ptr_nonnull(strstr(v, "\"shutdown_grace\":10"));
	free(v);
	/* Unknown keys, bad paths. */
	ck_assert_int_eq(conf_key_text(j, "socket.nope", &v), -ENOENT);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(conf_key_text(j, "models.1.name", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, "models.x", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, "socket.", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, "socket..path", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, ".socket", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, "socket.path.x", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(j, "", &v), -ENOENT);
	ck_assert_int_eq(conf_key_text(NULL, "socket", &v), -ENOENT);
	json_decref(j);
	conf_free(c);

	/* Any JSON: booleans and numbers as JSON, a list of strings one a line. */
	doc = json_loads("{\"ok\": true, \"n\": 1.5, \"t\": [\"a\", \"b c\"], \"e\": []}", 0, NULL);
	ck_assert_int_eq(conf_key_text(doc, "ok", &v), 0);
	ck_assert_str_eq(v, "true");
	free(v);
	ck_assert_int_eq(conf_key_text(doc, "n", &v), 0);
	ck_assert_str_eq(v, "1.5");
	free(v);
	ck_assert_int_eq(conf_key_text(doc, "t", &v), 0);
	ck_assert_str_eq(v, "a\nb c");
	free(v);
	ck_assert_int_eq(conf_key_text(doc, "e", &v), 0);
	ck_assert_str_eq(v, "");
	free(v);
	json_decref(doc);
}
END_TEST

/* conf_load_partial: a refused file that parsed still gives the values it set. */
START_TEST(test_load_partial)
{
	struct conf_errors errs = {NULL, 0};
	char *path;
	struct conf *c = NULL;

	path = write_file("inferd.conf",
	                  "limits = { max_row = 5; };\n"
	                  "smoke = { on_failure = \"fail\"; p99_ms = -1.0; };\n" ONE_MODEL);
	ck_assert_int_eq(conf_load(path, &c, &errs), -EINVAL);
	ck_assert_ptr_null(c);
	conf_errors_clear(&errs);
	ck_assert_int_eq(conf_load_partial(path, &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->smoke.on_failure, "fail");
	/* The setting in error keeps its default. */
	ck_assert_double_eq(c->smoke.p99_ms, 50.0);
	conf_free(c);
	conf_errors_clear(&errs);
	free(path);

	/* A syntax error, or no file: nothing to read. */
	path = write_file("inferd.conf", "smoke = { on_failure = \"fail\" \n");
	ck_assert_int_eq(conf_load_partial(path, &c, &errs), -EINVAL);
	ck_assert_ptr_null(c);
	conf_errors_clear(&errs);
	free(path);
	ck_assert_int_lt(conf_load_partial("/nonexistent/inferd.conf", &c, &errs), 0);
	ck_assert_ptr_null(c);
	conf_errors_clear(&errs);

	/* A valid file: as conf_load. */
	path = write_file("inferd.conf", ONE_MODEL);
	ck_assert_int_eq(conf_load_partial(path, &c, &errs), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(errs.n, 0);
	conf_free(c);
	free(path);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_applied);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_many_errors_all_reported);
	tcase_add_test(tc, test_unknown_top_level);
	tcase_add_test(tc, test_unknown_in_group);
	tcase_add_test(tc, test_unknown_in_model);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_floats_accept_integers);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_mode);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_model_names);
	tcase_add_test(tc, test_duplicate_model);
	tcase_add_test(tc, test_required_keys);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_relative_paths);
	tcase_add_test(tc, test_include_errors_name_their_file);
	tcase_add_test(tc, test_include_must_be_a_regular_file);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_null_errs);
	tcase_add_test(tc, test_errors_append);
	tcase_add_test(tc, test_error_str);
	tcase_add_test(tc, test_conf_default);
	tcase_add_test(tc, test_repository);
	tcase_add_test(tc, test_repository_errors);
	tcase_add_test(tc, test_sha256_of_bytes);
	tcase_add_test(tc, test_example_config);
	tcase_add_test(tc, test_limits_lower_edges);
	tcase_add_test(tc, test_listen_tcp);
	tcase_add_test(tc, test_trees_outputs);
	tcase_add_test(tc, test_effective_json);
	tcase_add_test(tc, test_tolerance_unset_zero_wins);
	tcase_add_test(tc, test_key_text);
	tcase_add_test(tc, test_load_partial);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
