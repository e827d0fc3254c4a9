/* check_fingerprint.c: unit tests of the manifest's parts and of the diff between two. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "fingerprint.h"
#include "testutil.h"

/* A manifest as inferctl writes one, by hand; variants are made by editing its text. */
static const char base_manifest[] =
    "{\"inferd\": {\"version\": \"0.1.0\", \"build_id\": \"abc\"},"
    " \"libraries\": {\"jansson\": \"2.14\", \"libc\": \"2.36\", \"nettle\": \"3.8\"},"
    " \"config\": {\"file\": \"/etc/inferd/inferd.conf\", \"sha256\": \"aa\","
    "   \"effective\": {\"limits\": {\"max_trees\": 100000, \"max_tree_depth\": 64},"
    "                 \"threads\": 2}},"
    " \"models\": [{\"name\": \"breast-cancer\", \"version\": \"1\", \"sha256\": \"s1\"},"
    "             {\"name\": \"iris\", \"version\": \"3\", \"sha256\": \"s3\"}],"
    " \"kernel\": {\"sysname\": \"Linux\", \"release\": \"6.1.0-18-amd64\", \"machine\": "
    "\"x86_64\"},"
    " \"package\": {\"name\": \"inferd\", \"version\": null}}";

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ck_assert_msg(j != NULL, "test JSON: %s: %s", e.text, text);
	return j;
}

static json_t *base(void)
{
	return parse(base_manifest);
}

/* Sets a member found by a path of keys ("a", "b", NULL) in o. */
static void set_at(json_t *o, json_t *v, const char *k1, const char *k2, const char *k3)
{
	const char *keys[] = {k1, k2, k3};
	size_t n = k3 ? 3 : k2 ? 2 : 1;

	for (size_t i = 0; i + 1 < n; i++) {
		o = json_object_get(o, keys[i]);
		ck_assert_ptr_nonnull(o);
	}
	ck_assert_int_eq(json_object_set_new(o, keys[n - 1], v), 0);
}

static json_t *model(json_t *m, size_t i)
{
	json_t *e = json_array_get(json_object_get(m, "models"), i);

	ck_assert_ptr_nonnull(e);
	return e;
}

/* The diff's lines joined by '\n' (empty string for none). Frees the manifests. */
static char *diff_text(json_t *a, json_t *b, const char *const *ignore, size_t n_ignore)
{
	struct fingerprint_lines l = {0};
	char *text = NULL;
	size_t cap = 0;
	FILE *f = open_memstream(&text, &cap);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fingerprint_diff(a, b, ignore, n_ignore, &l), 0);
	for (size_t i = 0; i < l.n; i++)
		fprintf(f, "%s%s", i ? "\n" : "", l.v[i]);
	fclose(f);
	fingerprint_lines_free(&l);
	ck_assert_ptr_null(l.v);
	json_decref(a);
	json_decref(b);
	return text;
}

static void expect_diff(json_t *a, json_t *b, const char *const *ignore, size_t n_ignore,
                        const char *expected)
{
	char *got = diff_text(a, b, ignore, n_ignore);

	ck_assert_str_eq(got, expected);
	free(got);
}

START_TEST(identical_gives_no_line)
{
	expect_diff(base(), base(), NULL, 0, "");
	expect_diff(parse("{}"), parse("{}"), NULL, 0, "");
	expect_diff(parse("{\"a\": [], \"b\": null}"), parse("{\"b\": null, \"a\": []}"), NULL, 0,
	            "");
}
END_TEST

START_TEST(changed_model_version_is_one_line)
{
	json_t *b = base();

	set_at(model(b, 0), json_string("2"), "version", NULL, NULL);
	expect_diff(base(), b, NULL, 0, "models[breast-cancer].version: \"1\" -> \"2\"");
}
END_TEST

START_TEST(library_change)
{
	json_t *b = base();

	set_at(b, json_string("2.13"), "libraries", "jansson", NULL);
	expect_diff(base(), b, NULL, 0, "libraries.jansson: \"2.14\" -> \"2.13\"");
}
END_TEST

START_TEST(added_and_removed_model)
{
	json_t *b = base();

	ck_assert_int_eq(json_array_append_new(json_object_get(b, "models"),
	                                       json_pack("{s:s, s:s, s:s}", "name", "churn",
	                                                 "version", "3", "sha256", "s9")),
	                 0);
	expect_diff(base(), json_deep_copy(b), NULL, 0, "+ models[churn]");
	expect_diff(b, base(), NULL, 0, "- models[churn]");
}
END_TEST

/* Matching by name: the same models in another order are the same set. */
START_TEST(reordered_models_are_no_difference)
{
	json_t *b = base(), *models = json_object_get(b, "models");
	json_t *first = json_incref(json_array_get(models, 0));

	ck_assert_int_eq(json_array_remove(models, 0), 0);
	ck_assert_int_eq(json_array_append_new(models, first), 0);
	ck_assert_str_eq(json_string_value(json_object_get(model(b, 0), "name")), "iris");
	expect_diff(base(), b, NULL, 0, "");
}
END_TEST

START_TEST(one_model_replaced_by_another_and_changed)
{
	json_t *b = base();

	/* iris goes, churn comes, breast-cancer changes bytes: lines in path order. */
	ck_assert_int_eq(json_array_remove(json_object_get(b, "models"), 1), 0);
	ck_assert_int_eq(json_array_append_new(json_object_get(b, "models"),
	                                       json_pack("{s:s}", "name", "churn")),
	                 0);
	set_at(model(b, 0), json_string("s2"), "sha256", NULL, NULL);
	expect_diff(base(), b, NULL, 0,
	            "models[breast-cancer].sha256: \"s1\" -> \"s2\"\n"
	            "+ models[churn]\n"
	            "- models[iris]");
}
END_TEST

START_TEST(nested_change)
{
	json_t *b = base();

	set_at(json_object_get(json_object_get(b, "config"), "effective"), json_integer(200000),
	       "limits", "max_trees", NULL);
	expect_diff(base(), b, NULL, 0, "config.effective.limits.max_trees: 100000 -> 200000");
}
END_TEST

START_TEST(member_added_and_removed)
{
	json_t *b = base();

	set_at(b, json_string("8.0"), "libraries", "libcurl", NULL);
	ck_assert_int_eq(json_object_del(json_object_get(b, "libraries"), "nettle"), 0);
	expect_diff(base(), b, NULL, 0, "+ libraries.libcurl\n- libraries.nettle");
}
END_TEST

START_TEST(type_change)
{
	json_t *b = base();

	/* A string version that became a number, a null that became a string. */
	set_at(model(b, 1), json_integer(3), "version", NULL, NULL);
	set_at(b, json_string("0.1.0-1"), "package", "version", NULL);
	expect_diff(base(), b, NULL, 0,
	            "models[iris].version: \"3\" -> 3\n"
	            "package.version: null -> \"0.1.0-1\"");
	/* An integer and a real of the same value differ in type; so do objects and scalars. */
	expect_diff(parse("{\"x\": 1, \"y\": {\"b\": 1, \"a\": [true]}}"),
	            parse("{\"x\": 1.5, \"y\": \"flat\"}"), NULL, 0,
	            "x: 1 -> 1.5\ny: {\"a\":[true],\"b\":1} -> \"flat\"");
	expect_diff(parse("{\"x\": 2}"), parse("{\"x\": 2.0}"), NULL, 0, "x: 2 -> 2.0");
	expect_diff(parse("{\"x\": true}"), parse("{\"x\": false}"), NULL, 0, "x: true -> false");
	/* An array that became an object is one change, not a walk of either. */
	expect_diff(parse("{\"x\": [1]}"), parse("{\"x\": {\"0\": 1}}"), NULL, 0,
	            "x: [1] -> {\"0\":1}");
}
END_TEST

START_TEST(ignore_skips_a_path_prefix)
{
	json_t *b = base();
	static const char *const kernel_release[] = {"kernel.release"};
	static const char *const kernel[] = {"kernel"};
	static const char *const partial[] = {"kernel.rel"};
	static const char *const both[] = {"models[churn]", "kernel.release"};

	set_at(b, json_string("6.1.0-20-amd64"), "kernel", "release", NULL);
	set_at(b, json_string("aarch64"), "kernel", "machine", NULL);
	expect_diff(base(), json_deep_copy(b), kernel_release, 1,
	            "kernel.machine: \"x86_64\" -> \"aarch64\"");
	expect_diff(base(), json_deep_copy(b), kernel, 1, "");
	/* A prefix is a whole path step, not any string prefix. */
	expect_diff(base(), json_deep_copy(b), partial, 1,
	            "kernel.machine: \"x86_64\" -> \"aarch64\"\n"
	            "kernel.release: \"6.1.0-18-amd64\" -> \"6.1.0-20-amd64\"");
	/* Added entries are skipped as well. */
	ck_assert_int_eq(json_array_append_new(json_object_get(b, "models"),
	                                       json_pack("{s:s}", "name", "churn")),
	                 0);
	expect_diff(base(), b, both, 2, "kernel.machine: \"x86_64\" -> \"aarch64\"");
}
END_TEST

START_TEST(ignore_everything_below_a_model)
{
	json_t *b = base();
	static const char *const bc[] = {"models[breast-cancer]"};

	set_at(model(b, 0), json_string("2"), "version", NULL, NULL);
	set_at(model(b, 0), json_string("s2"), "sha256", NULL, NULL);
	set_at(model(b, 1), json_string("4"), "version", NULL, NULL);
	expect_diff(base(), b, bc, 1, "models[iris].version: \"3\" -> \"4\"");
}
END_TEST

/* Arrays of plain values, or of objects without distinct names, go by index. */
START_TEST(arrays_by_index)
{
	expect_diff(parse("{\"t\": [\"a\", \"b\"]}"), parse("{\"t\": [\"a\", \"c\", \"d\"]}"), NULL,
	            0, "t[1]: \"b\" -> \"c\"\n+ t[2]");
	expect_diff(parse("{\"t\": [1, 2, 3]}"), parse("{\"t\": [1]}"), NULL, 0, "- t[1]\n- t[2]");
	/* Two entries named alike: names cannot match them, indexes do. */
	expect_diff(parse("{\"m\": [{\"name\": \"a\", \"v\": 1}, {\"name\": \"a\", \"v\": 2}]}"),
	            parse("{\"m\": [{\"name\": \"a\", \"v\": 1}, {\"name\": \"a\", \"v\": 3}]}"),
	            NULL, 0, "m[1].v: 2 -> 3");
	/* One element without a name: the array goes by index. */
	expect_diff(parse("{\"m\": [{\"name\": \"a\"}, {\"v\": 1}]}"),
	            parse("{\"m\": [{\"name\": \"a\"}, {\"v\": 2}]}"), NULL, 0, "m[1].v: 1 -> 2");
	/* From nothing to a named list: the entries by name. */
	expect_diff(parse("{\"m\": []}"), parse("{\"m\": [{\"name\": \"x\"}, {\"name\": \"w\"}]}"),
	            NULL, 0, "+ m[w]\n+ m[x]");
}
END_TEST

/* Keys and names that would read as path syntax are quoted. */
START_TEST(odd_keys_are_quoted)
{
	expect_diff(parse("{\"c\": {\"socket.path\": \"/a\", \"\": 1, \"x y\": 1}}"),
	            parse("{\"c\": {\"socket.path\": \"/b\", \"\": 2, \"x y\": 2}}"), NULL, 0,
	            "c[\"\"]: 1 -> 2\n"
	            "c[\"socket.path\"]: \"/a\" -> \"/b\"\n"
	            "c[\"x y\"]: 1 -> 2");
	expect_diff(parse("{\"m\": [{\"name\": \"a]b\"}, {\"name\": \"v1.2\"}]}"),
	            parse("{\"m\": []}"), NULL, 0, "- m[\"a]b\"]\n- m[v1.2]");
}
END_TEST

START_TEST(whole_documents_of_other_types)
{
	expect_diff(parse("[1]"), parse("{}"), NULL, 0, "(root): [1] -> {}");
}
END_TEST

/* ---- the client's parts ---- */

static char *tmpdir;

static void setup_dir(void)
{
	tmpdir = tu_mkdtemp();
}

static void teardown_dir(void)
{
	tu_rmtree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

static const char *member(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

START_TEST(os_release_is_read_as_the_shell_would)
{
	char *path = tu_write_file(tmpdir, "os-release",
	                           "# a comment\n"
	                           "ID=debian\n"
	                           "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
	                           "VERSION_ID='12'\n"
	                           "  VERSION_CODENAME=\"a\\\"b\\\\c\\$d\"\n"
	                           "ID=ubuntu\n"
	                           "NAME=\"ignored\"\n"
	                           "NOT_AN_ASSIGNMENT\n");
	json_t *o;

	ck_assert_int_eq(fingerprint_os_release(path, &o), 0);
	ck_assert_int_eq(json_object_size(o), 4);
	/* The last assignment wins, as when the file is sourced. */
	ck_assert_str_eq(member(o, "id"), "ubuntu");
	ck_assert_str_eq(member(o, "pretty_name"), "Debian GNU/Linux 12 (bookworm)");
	ck_assert_str_eq(member(o, "version_id"), "12");
	ck_assert_str_eq(member(o, "version_codename"), "a\"b\\c$d");
	json_decref(o);
	free(path);
}
END_TEST

START_TEST(os_release_missing_values_are_null)
{
	char *path = tu_write_file(tmpdir, "os-release", "ID=alpine\nVERSION_ID=3.19.1 # x\n");
	char *missing = NULL;
	char *latin1 = tu_write_file(tmpdir, "latin1", "PRETTY_NAME=\"Caf\xe9 OS\"\n");
	json_t *o;

	ck_assert_int_eq(fingerprint_os_release(latin1, &o), 0);
	ck_assert_str_eq(member(o, "pretty_name"), "Caf? OS");
	json_decref(o);
	free(latin1);
	ck_assert_int_eq(fingerprint_os_release(path, &o), 0);
	ck_assert_str_eq(member(o, "id"), "alpine");
	ck_assert_str_eq(member(o, "version_id"), "3.19.1");
	ck_assert(json_is_null(json_object_get(o, "version_codename")));
	ck_assert(json_is_null(json_object_get(o, "pretty_name")));
	json_decref(o);
	ck_assert_int_ge(asprintf(&missing, "%s/none", tmpdir), 0);
	ck_assert_int_eq(fingerprint_os_release(missing, &o), -ENOENT);
	ck_assert_ptr_null(o);
	free(missing);
	free(path);
}
END_TEST

START_TEST(run_capture_takes_stdout_without_a_shell)
{
	/* Shell syntax in an argument stays text: no shell ever sees it. */
	const char *const echo[] = {"printf", "%s", "$(echo no); `x` | y", NULL};
	const char *const fails[] = {"false", NULL};
	const char *const none[] = {"/nonexistent/inferd-test-command", NULL};
	const char *const big[] = {"head", "-c", "100000", "/dev/zero", NULL};
	char *out;

	ck_assert_int_eq(fingerprint_run_capture(echo, 100, &out), 0);
	ck_assert_str_eq(out, "$(echo no); `x` | y");
	free(out);
	ck_assert_int_eq(fingerprint_run_capture(echo, 5, &out), 0);
	ck_assert_str_eq(out, "$(ech");
	free(out);
	/* More output than kept: read to the end anyway, so the child exits 0. */
	ck_assert_int_eq(fingerprint_run_capture(big, 10, &out), 0);
	ck_assert_mem_eq(out, "\0\0\0\0\0\0\0\0\0\0", 11);
	free(out);
	ck_assert_int_eq(fingerprint_run_capture(fails, 100, &out), -EIO);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(fingerprint_run_capture(none, 100, &out), -ENOENT);
	ck_assert_ptr_null(out);
}
END_TEST

/* Runs a stand-in for dpkg-query that prints text; returns the version found. */
static json_t *package_from(const char *text)
{
	const char *const argv[] = {"printf", "%s", text, NULL};
	json_t *v;

	ck_assert_int_eq(fingerprint_package_version(argv, &v), 0);
	ck_assert_ptr_nonnull(v);
	return v;
}

START_TEST(package_version_by_status)
{
	const char *const fails[] = {"false", NULL};
	const char *const none[] = {"/nonexistent/dpkg-query", NULL};
	json_t *v;

	v = package_from("installed 0.1.0-1\n");
	ck_assert_str_eq(json_string_value(v), "0.1.0-1");
	json_decref(v);
	/* During its own postinst the package is half-configured, and there. */
	v = package_from("half-configured 1:2.0~rc1-3+b1");
	ck_assert_str_eq(json_string_value(v), "1:2.0~rc1-3+b1");
	json_decref(v);
	/* Bytes that are not UTF-8 are replaced, not a reason to fail the manifest. */
	v = package_from("installed 1.0\xff-1");
	ck_assert_str_eq(json_string_value(v), "1.0?-1");
	json_decref(v);
	v = package_from("config-files 0.1.0-1");
	ck_assert(json_is_null(v));
	json_decref(v);
	v = package_from("not-installed ");
	ck_assert(json_is_null(v));
	json_decref(v);
	v = package_from("");
	ck_assert(json_is_null(v));
	json_decref(v);
	/* dpkg-query exits 1 for an unknown package; no dpkg at all is the same answer. */
	ck_assert_int_eq(fingerprint_package_version(fails, &v), 0);
	ck_assert(json_is_null(v));
	ck_assert_int_eq(fingerprint_package_version(none, &v), 0);
	ck_assert(json_is_null(v));
}
END_TEST

START_TEST(manifest_merges_both_parts)
{
	char *osr = tu_write_file(tmpdir, "os-release", "ID=debian\nVERSION_ID=\"12\"\n");
	const char *const pkg[] = {"printf", "%s", "installed 9.9-1", NULL};
	struct fingerprint_sources src = {.inferctl_version = "7.7.7",
	                                  .libcurl_version = "7.88.1",
	                                  .os_release = osr,
	                                  .pkg_query = pkg};
	json_t *daemon =
	    parse("{\"inferd\": {\"version\": \"7.7.7\"},"
	          " \"models\": [{\"name\": \"z\"}, {\"name\": \"a\"}, {\"name\": \"m\"}]}");
	json_t *m, *k;
	struct utsname u;

	ck_assert_int_eq(fingerprint_manifest(daemon, NULL, &src, &m), 0);
	/* The daemon's part is copied, not taken: its models keep their order there. */
	ck_assert_str_eq(member(model(daemon, 0), "name"), "z");
	ck_assert_str_eq(member(model(m, 0), "name"), "a");
	ck_assert_str_eq(member(model(m, 1), "name"), "m");
	ck_assert_str_eq(member(model(m, 2), "name"), "z");
	ck_assert_str_eq(member(json_object_get(m, "inferd"), "version"), "7.7.7");
	ck_assert_ptr_null(json_object_get(m, "error"));
	ck_assert_str_eq(member(json_object_get(m, "inferctl"), "version"), "7.7.7");
	ck_assert_str_eq(member(json_object_get(m, "inferctl"), "libcurl"), "7.88.1");
	ck_assert_str_eq(member(json_object_get(m, "os"), "id"), "debian");
	ck_assert_str_eq(member(json_object_get(m, "os"), "version_id"), "12");
	ck_assert_str_eq(member(json_object_get(m, "package"), "name"), "inferd");
	ck_assert_str_eq(member(json_object_get(m, "package"), "version"), "9.9-1");
	ck_assert_int_eq(uname(&u), 0);
	k = json_object_get(m, "kernel");
	ck_assert_str_eq(member(k, "sysname"), u.sysname);
	ck_assert_str_eq(member(k, "release"), u.release);
	ck_assert_str_eq(member(k, "machine"), u.machine);
	/* The daemon's two members and the client's four. */
	ck_assert_int_eq(json_object_size(m), 6);
	json_decref(m);
	json_decref(daemon);
	free(osr);
}
END_TEST

START_TEST(manifest_without_the_daemon_records_why)
{
	const char *const pkg[] = {"false", NULL};
	char *missing = NULL;
	struct fingerprint_sources src = {.pkg_query = pkg};
	json_t *m, *again;

	ck_assert_int_ge(asprintf(&missing, "%s/no-os-release", tmpdir), 0);
	src.os_release = missing;
	ck_assert_int_eq(
	    fingerprint_manifest(NULL, "GET /v2/admin/fingerprint: HTTP 403: denied", &src, &m), 0);
	ck_assert_str_eq(member(m, "error"), "GET /v2/admin/fingerprint: HTTP 403: denied");
	ck_assert_str_eq(member(json_object_get(m, "inferctl"), "version"), PACKAGE_VERSION);
	ck_assert(json_is_null(json_object_get(json_object_get(m, "inferctl"), "libcurl")));
	ck_assert(json_is_null(json_object_get(m, "os")));
	ck_assert(json_is_null(json_object_get(json_object_get(m, "package"), "version")));
	ck_assert_ptr_null(json_object_get(m, "models"));
	ck_assert_ptr_nonnull(json_object_get(m, "kernel"));
	/* No timestamp: the same installation gives the same manifest twice. */
	ck_assert_int_eq(
	    fingerprint_manifest(NULL, "GET /v2/admin/fingerprint: HTTP 403: denied", &src, &again),
	    0);
	expect_diff(m, again, NULL, 0, "");
	free(missing);
}
END_TEST

START_TEST(load_refuses_what_is_not_a_manifest)
{
	char *good = tu_write_file(tmpdir, "good.json", "{\"a\": 1}");
	char *notjson = tu_write_file(tmpdir, "bad.json", "{\"a\": ");
	char *array = tu_write_file(tmpdir, "array.json", "[1, 2]");
	char *missing = NULL, err[1024];
	json_t *j;

	ck_assert_int_eq(fingerprint_load(good, &j, err, sizeof(err)), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	ck_assert_int_eq(fingerprint_load(notjson, &j, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "bad.json"));
	ck_assert_int_eq(fingerprint_load(array, &j, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a manifest"));
	ck_assert_int_ge(asprintf(&missing, "%s/none.json", tmpdir), 0);
	ck_assert_int_eq(fingerprint_load(missing, &j, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "none.json"));
	free(missing);
	free(good);
	free(notjson);
	free(array);
}
END_TEST

static Suite *fingerprint_suite(void)
{
	Suite *s = suite_create("fingerprint");
	TCase *d = tcase_create("diff"), *p = tcase_create("parts");

	tcase_add_test(d, identical_gives_no_line);
	tcase_add_test(d, changed_model_version_is_one_line);
	tcase_add_test(d, library_change);
	tcase_add_test(d, added_and_removed_model);
	tcase_add_test(d, reordered_models_are_no_difference);
	tcase_add_test(d, one_model_replaced_by_another_and_changed);
	tcase_add_test(d, nested_change);
	tcase_add_test(d, member_added_and_removed);
	tcase_add_test(d, type_change);
	tcase_add_test(d, ignore_skips_a_path_prefix);
	tcase_add_test(d, ignore_everything_below_a_model);
	tcase_add_test(d, arrays_by_index);
	tcase_add_test(d, odd_keys_are_quoted);
	tcase_add_test(d, whole_documents_of_other_types);
	suite_add_tcase(s, d);
	tcase_add_checked_fixture(p, setup_dir, teardown_dir);
	tcase_add_test(p, os_release_is_read_as_the_shell_would);
	tcase_add_test(p, os_release_missing_values_are_null);
	tcase_add_test(p, run_capture_takes_stdout_without_a_shell);
	tcase_add_test(p, package_version_by_status);
	tcase_add_test(p, manifest_merges_both_parts);
	tcase_add_test(p, manifest_without_the_daemon_records_why);
	tcase_add_test(p, load_refuses_what_is_not_a_manifest);
	suite_add_tcase(s, p);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fingerprint_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
