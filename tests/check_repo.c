/* check_repo.c: building, validating, publishing and finding served model sets. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "model.h"
#include "repo.h"
#include "testutil.h"

/*
 * A one-tree regression model on 2 features, written by hand in XGBoost 1.7's JSON:
 * x0 < 0.5 (or missing) -> leaf 1.0, else leaf 2.0; base_score 0.5 is the starting margin
 * for reg:squarederror, so predict() is 1.5 or 2.5. (XGBoost 1.7.4 loads this file and
 * agrees; the expectations below are the arithmetic, not its output.)
 */
static const char tiny_model[] =
    "{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
    "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
    "\"num_trees\":\"1\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0],\"trees\":[{"
    "\"base_weights\":[0.0,1.0,2.0],\"categories\":[],\"categories_nodes\":[],"
    "\"categories_segments\":[],\"categories_sizes\":[],\"default_left\":[1,0,0],\"id\":0,"
    "\"left_children\":[1,-1,-1],\"loss_changes\":[1.0,0.0,0.0],"
    "\"parents\":[2147483647,0,0],\"right_children\":[2,-1,-1],"
    "\"split_conditions\":[0.5,1.0,2.0],\"split_indices\":[0,0,0],\"split_type\":[0,0,0],"
    "\"sum_hessian\":[2.0,1.0,1.0],\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"2\","
    "\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"}}]},\"name\":\"gbtree\"},"
    "\"learner_model_param\":{\"base_score\":\"5E-1\",\"boost_from_average\":\"1\","
    "\"num_class\":\"0\",\"num_feature\":\"2\",\"num_target\":\"1\"},"
    "\"objective\":{\"name\":\"reg:squarederror\",\"reg_loss_param\":"
    "{\"scale_pos_weight\":\"1\"}}},\"version\":[1,7,4]}\n";
#define TINY_FEATURES 2

static const char tiny_golden_ok[] = "{\"inputs\": [[0, 0], [1, 0], [null, 5], [0.49, 1]],"
                                     " \"predict\": [1.5, 2.5, 1.5, 1.5]}\n";
static const char tiny_golden_bad[] = "{\"inputs\": [[0, 0], [1, 0]],"
                                      " \"predict\": [1.5, 2.75]}\n";

static char *dir;
static char *tiny_path, *golden_ok_path, *golden_bad_path;

static void setup(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init("check_repo", LOG_LVL_INFO);
	dir = tu_mkdtemp();
	tiny_path = tu_write_file(dir, "tiny.json", tiny_model);
	golden_ok_path = tu_write_file(dir, "golden-ok.json", tiny_golden_ok);
	golden_bad_path = tu_write_file(dir, "golden-bad.json", tiny_golden_bad);
	ck_assert_int_eq(repo_init(), 0);
}

static void teardown(void)
{
	repo_fini();
	log_fini();
	tu_rmtree(dir);
	free(dir);
	free(tiny_path);
	free(golden_ok_path);
	free(golden_bad_path);
	dir = tiny_path = golden_ok_path = golden_bad_path = NULL;
}

/* A conf_model as conf.c would fill it (strings are not owned: nothing frees them). */
static struct conf_model cm(const char *name, const char *version, const char *path,
                            const char *golden, long num_feature)
{
	struct conf_model m = {
	    .name = (char *)name,
	    .path = (char *)path,
	    .version = (char *)version,
	    .golden = (char *)golden,
	    .tolerance = 1e-6,
	    .num_feature = num_feature,
	};
	return m;
}

static struct conf conf_of(struct conf_model *models, size_t n)
{
	struct conf c;

	memset(&c, 0, sizeof(c));
	c.models = models;
	c.n_models = n;
	c.log_level = LOG_LVL_INFO;
	return c;
}

/* Builds c and expects a refusal with code want (any negative when want is 0). */
static void expect_refused(const struct conf *c, int want)
{
	struct repo_set *s = (struct repo_set *)1;
	int r = repo_build(c, &s);

	if (want)
		ck_assert_int_eq(r, want);
	else
		ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(s);
}

/* The input width the file itself declares, read with jansson (not with model.c). */
static long declared_num_feature(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *v;
	long n;

	ck_assert_msg(root != NULL, "%s: %s", path, jerr.text);
	v = json_object_get(
	    json_object_get(json_object_get(root, "learner"), "learner_model_param"),
	    "num_feature");
	ck_assert(json_is_string(v));
	n = atol(json_string_value(v));
	json_decref(root);
	return n;
}

/* sha256 of a file by the sha256sum command, into out (65 bytes). */
static void sha256sum_cmd(const char *path, char out[65])
{
	char *cmd = NULL, line[256];
	FILE *p;

	ck_assert_int_ne(asprintf(&cmd, "sha256sum '%s'", path), -1);
	p = popen(cmd, "r");
	free(cmd);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_ge(strlen(line), 64);
	memcpy(out, line, 64);
	out[64] = '\0';
}

/* sha256 of a file with nettle, reading it here. */
static void sha256_nettle(const char *path, char out[65])
{
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE], buf[8192];
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	sha256_init(&ctx);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sha256_update(&ctx, n, buf);
	fclose(f);
	sha256_digest(&ctx, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Runs repo_build with stderr captured into a malloc'd string. */
static int build_capturing(const struct conf *c, struct repo_set **s, char **log)
{
	char *path = NULL;
	int saved, fd, r;
	FILE *f;
	long len;

	ck_assert_int_ne(asprintf(&path, "%s/stderr.log", dir), -1);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	r = repo_build(c, s);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);

	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	*log = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(*log);
	ck_assert_uint_eq(fread(*log, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	fputs(*log, stderr);
	free(path);
	return r;
}

START_TEST(test_bundled_model)
{
	struct conf_model m[] = {cm("breast-cancer", "1", TU_BUNDLED_MODEL, TU_BUNDLED_GOLDEN, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *s = NULL;
	const struct repo_entry *e;
	char want[65], nettle_hex[65], *log = NULL, *field = NULL;
	int r = build_capturing(&c, &s, &log);

	ck_assert_msg(r == 0, "repo_build: %d", r);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 1);
	e = repo_find(s, "breast-cancer", NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->name, "breast-cancer");
	ck_assert_str_eq(e->version, "1");
	ck_assert_str_eq(e->path, TU_BUNDLED_MODEL);
	ck_assert_ptr_nonnull(e->model);
	ck_assert_uint_eq(e->num_feature, (size_t)declared_num_feature(TU_BUNDLED_MODEL));

	/* Two independent computations of the digest must agree with the entry. */
	sha256sum_cmd(TU_BUNDLED_MODEL, want);
	sha256_nettle(TU_BUNDLED_MODEL, nettle_hex);
	ck_assert_str_eq(nettle_hex, want);
	ck_assert_str_eq(e->sha256, want);

	/* The load is logged with its structured fields (stderr sink: KEY=value). */
	ck_assert_ptr_nonnull(strstr(log, "MODEL=breast-cancer"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL_VERSION=1"));
	ck_assert_int_ne(asprintf(&field, "MODEL_SHA256=%s", want), -1);
	ck_assert_ptr_nonnull(strstr(log, field));
	free(field);
	ck_assert_ptr_nonnull(strstr(log, "MODEL_PATH=" TU_BUNDLED_MODEL));
	free(log);
	repo_set_free(s);
}
END_TEST

START_TEST(test_tiny_model_and_pins)
{
	char want[65];
	struct conf_model ok[] = {cm("tiny", "3", tiny_path, golden_ok_path, TINY_FEATURES)};
	struct conf_model wide[] = {cm("tiny", "3", tiny_path, NULL, TINY_FEATURES + 1)};
	struct conf_model narrow[] = {cm("tiny", "3", tiny_path, NULL, TINY_FEATURES - 1)};
	struct conf c = conf_of(ok, 1);
	struct repo_set *s = NULL;
	const struct repo_entry *e;

	ck_assert_int_eq(repo_build(&c, &s), 0);
	e = repo_find(s, "tiny", "3");
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->num_feature, TINY_FEATURES);
	sha256sum_cmd(tiny_path, want);
	ck_assert_str_eq(e->sha256, want);
	repo_set_free(s);

	c = conf_of(wide, 1);
	expect_refused(&c, -EINVAL);
	c = conf_of(narrow, 1);
	expect_refused(&c, -EINVAL);
}
END_TEST

START_TEST(test_golden_mismatch_refused)
{
	struct conf_model m[] = {cm("tiny", "1", tiny_path, golden_bad_path, 0)};
	struct conf c = conf_of(m, 1);
	char *log = NULL;
	struct repo_set *s = (struct repo_set *)1;
	int r = build_capturing(&c, &s, &log);

	ck_assert_int_eq(r, -EDOM);
	ck_assert_ptr_null(s);
	/* The refusal names the model for the operator. */
	ck_assert_ptr_nonnull(strstr(log, "error"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL=tiny"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL_VERSION=1"));
	free(log);
}
END_TEST

START_TEST(test_bad_files_refused)
{
	char *missing = NULL, *garbage = tu_write_file(dir, "garbage.json", "{\"learner\": [1,");
	struct conf_model m1[] = {cm("a", "1", tiny_path, NULL, 0), cm("b", "1", NULL, NULL, 0)};
	struct conf_model m2[] = {cm("a", "1", tiny_path, NULL, 0), cm("b", "1", garbage, NULL, 0)};
	struct conf_model m3[] = {cm("a", "1", tiny_path, NULL, 0),
	                          cm("b", "1", tiny_path, "/nonexistent/golden.json", 0)};
	struct conf c;

	ck_assert_int_ne(asprintf(&missing, "%s/no-such-model.json", dir), -1);
	m1[1].path = missing;
	/* One bad model spoils the whole set: nothing half-built is returned. */
	c = conf_of(m1, 2);
	expect_refused(&c, -ENOENT);
	c = conf_of(m2, 2);
	expect_refused(&c, 0);
	c = conf_of(m3, 2);
	expect_refused(&c, 0);
	/* A directory is not a model file. */
	m1[1].path = dir;
	c = conf_of(m1, 2);
	expect_refused(&c, 0);
	free(missing);
	free(garbage);
}
END_TEST

START_TEST(test_find_versions)
{
	struct conf_model m[] = {
	    cm("tiny", "2", tiny_path, NULL, 0),
	    cm("tiny", "10", tiny_path, NULL, 0),
	    cm("tiny", "1", tiny_path, NULL, 0),
	    cm("other", "7", tiny_path, NULL, 0),
	};
	struct conf c = conf_of(m, 4);
	struct repo_set *s = NULL;
	const struct repo_entry *e;

	ck_assert_int_eq(repo_build(&c, &s), 0);
	ck_assert_uint_eq(s->n, 4);
	/* Latest is numeric, not lexical: 10 > 2. */
	e = repo_find(s, "tiny", NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, "10");
	e = repo_find(s, "tiny", "2");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, "2");
	ck_assert_str_eq(e->name, "tiny");
	e = repo_find(s, "tiny", "1");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, "1");
	ck_assert_ptr_null(repo_find(s, "tiny", "3"));
	ck_assert_ptr_null(repo_find(s, "tin", NULL));
	ck_assert_ptr_null(repo_find(s, "tinyy", NULL));
	ck_assert_ptr_null(repo_find(s, "nope", NULL));
	e = repo_find(s, "other", NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, "7");
	ck_assert_ptr_null(repo_find(NULL, "tiny", NULL));
	repo_set_free(s);
}
END_TEST

START_TEST(test_publish_keeps_old_alive)
{
	struct conf_model ma[] = {cm("tiny", "1", tiny_path, NULL, 0)};
	struct conf_model mb[] = {cm("tiny", "2", tiny_path, NULL, 0)};
	struct conf ca = conf_of(ma, 1), cb = conf_of(mb, 1);
	struct repo_set *a = NULL, *b = NULL, *held, *now;

	ck_assert_ptr_null(repo_acquire()); /* nothing served yet */
	repo_release(NULL);
	ck_assert_int_eq(repo_build(&ca, &a), 0);
	ck_assert_int_eq(repo_build(&cb, &b), 0);

	repo_publish(a);
	held = repo_acquire();
	ck_assert_ptr_eq(held, a);

	repo_publish(b);
	now = repo_acquire();
	ck_assert_ptr_eq(now, b);
	/* The replaced set is still whole for the request holding it (ASan/memcheck would
	 * flag a use after free here). */
	ck_assert_uint_eq(held->n, 1);
	ck_assert_str_eq(held->v[0].version, "1");
	ck_assert_uint_eq(model_get_info(held->v[0].model)->num_feature, TINY_FEATURES);
	ck_assert_ptr_nonnull(repo_find(held, "tiny", "1"));
	ck_assert_ptr_null(repo_find(held, "tiny", "2"));
	repo_release(held); /* last user of a: freed here */
	repo_release(now);

	now = repo_acquire();
	ck_assert_ptr_eq(now, b);
	ck_assert_str_eq(repo_find(now, "tiny", NULL)->version, "2");
	repo_fini(); /* drops the repo's reference; ours keeps b alive */
	ck_assert_ptr_null(repo_acquire());
	ck_assert_str_eq(now->v[0].name, "tiny");
	repo_release(now);
}
END_TEST

static atomic_bool stop_readers;

static void *reader(void *arg)
{
	unsigned long *seen = arg;

	while (!atomic_load(&stop_readers)) {
		struct repo_set *s = repo_acquire();
		const struct repo_entry *e = repo_find(s, "tiny", NULL);

		if (e && model_get_info(e->model)->num_feature == TINY_FEATURES)
			(*seen)++;
		repo_release(s);
	}
	return NULL;
}

START_TEST(test_publish_under_load)
{
	struct conf_model m[] = {cm("tiny", "1", tiny_path, NULL, 0)};
	struct conf c = conf_of(m, 1);
	pthread_t t[4];
	unsigned long seen[4] = {0};
	struct repo_set *s = NULL;

	log_set_level(LOG_LVL_WARN); /* 50 loads would be noisy */
	ck_assert_int_eq(repo_build(&c, &s), 0);
	repo_publish(s);
	atomic_store(&stop_readers, false);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &seen[i]), 0);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(repo_build(&c, &s), 0);
		repo_publish(s);
		usleep(1000);
	}
	atomic_store(&stop_readers, true);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_uint_gt(seen[i], 0);
	}
}
END_TEST

START_TEST(test_empty_conf)
{
	struct conf c = conf_of(NULL, 0);
	struct repo_set *s = NULL;

	ck_assert_int_eq(repo_build(&c, &s), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_ptr_null(repo_find(s, "tiny", NULL));
	repo_set_free(s);
	repo_set_free(NULL);
}
END_TEST

static Suite *repo_suite(void)
{
	Suite *s = suite_create("repo");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bundled_model);
	tcase_add_test(tc, test_tiny_model_and_pins);
	tcase_add_test(tc, test_golden_mismatch_refused);
	tcase_add_test(tc, test_bad_files_refused);
	tcase_add_test(tc, test_find_versions);
	tcase_add_test(tc, test_publish_keeps_old_alive);
	tcase_add_test(tc, test_publish_under_load);
	tcase_add_test(tc, test_empty_conf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(repo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
