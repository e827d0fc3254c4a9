/* check_repo.c: building, validating, publishing and finding served model sets. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Builds c with o and expects a refusal with code want (any negative when want is 0). */
static void expect_refused_o(const struct conf *c, const struct repo_build_opts *o, int want)
{
	struct repo_set *s = (struct repo_set *)1;
	int r = repo_build(c, o, &s);

	if (want)
		ck_assert_int_eq(r, want);
	else
		ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(s);
}

static void expect_refused(const struct conf *c, int want)
{
	expect_refused_o(c, NULL, want);
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
static int build_capturing(const struct conf *c, const struct repo_build_opts *o,
                           struct repo_set **s, char **log)
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
	r = repo_build(c, o, s);
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
	int r = build_capturing(&c, NULL, &s, &log);

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

	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
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
	int r = build_capturing(&c, NULL, &s, &log);

	ck_assert_int_eq(r, -EDOM);
	ck_assert_ptr_null(s);
	/* The refusal names the model for the operator. */
	ck_assert_ptr_nonnull(strstr(log, "error"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL=tiny"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL_VERSION=1"));
	free(log);
}
END_TEST

/*
 * The outputs key and the golden outputs beyond predict: the tiny tree's leaf ids (1 for
 * x0 < 0.5 or missing, else 2) and SHAP values by hand: the root's mean is 1.5 (leaves 1
 * and 2, equal covers), so feature 0 contributes leaf - 1.5, feature 1 nothing, and the
 * bias is 1.5 plus the base margin 0.5.
 */
START_TEST(test_outputs_and_golden_outputs)
{
	static const char ok[] =
	    "{\"inputs\": [[0, 0], [1, 0], [null, 5]], \"predict\": [1.5, 2.5, 1.5],"
	    " \"leaf\": [[1], [2], [1]],"
	    " \"contribs\": [[-0.5, 0, 2], [0.5, 0, 2], [-0.5, 0, 2]]}\n";
	static const char bad_leaf[] = "{\"inputs\": [[0, 0], [1, 0]], \"predict\": [1.5, 2.5],"
	                               " \"leaf\": [[1], [1]]}\n";
	static const char bad_contribs[] =
	    "{\"inputs\": [[0, 0]], \"predict\": [1.5], \"contribs\": [[-0.25, -0.25, 2]]}\n";
	char *g_ok = tu_write_file(dir, "g-out-ok.json", ok);
	char *g_leaf = tu_write_file(dir, "g-out-leaf.json", bad_leaf);
	char *g_ctb = tu_write_file(dir, "g-out-ctb.json", bad_contribs);
	struct conf_model m = cm("tiny", "1", tiny_path, g_ok, 0);
	struct conf c = conf_of(&m, 1);
	struct repo_set *s = NULL;

	/* Default outputs: predict and margin (not a classifier); no forest prepared. */
	m.golden = NULL;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_uint_eq(s->v[0].outputs, CONF_OUT_PREDICT | CONF_OUT_MARGIN);
	ck_assert_ptr_null(s->v[0].shap);
	ck_assert_uint_eq(s->v[0].tree_limit, 0);
	repo_set_free(s);

	/* Serving leaf and contribs: the golden set's leaf and contribs are checked. */
	m.golden = g_ok;
	m.outputs = CONF_OUT_PREDICT | CONF_OUT_LEAF | CONF_OUT_CONTRIBS;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_ptr_nonnull(s->v[0].shap);
	repo_set_free(s);
	m.golden = g_leaf;
	expect_refused(&c, -EDOM);
	m.golden = g_ctb;
	expect_refused(&c, -EDOM);
	/* Not served: that golden output is left unchecked. */
	m.outputs = CONF_OUT_PREDICT;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	repo_set_free(s);
	/* An output the model cannot give refuses the version. */
	m.golden = NULL;
	m.outputs = CONF_OUT_PREDICT | CONF_OUT_PROBA;
	expect_refused(&c, -EINVAL);
	free(g_ok);
	free(g_leaf);
	free(g_ctb);
}
END_TEST

/*
 * A golden set made with the sklearn wrapper's best trees mismatches a model with early
 * stopping unless it says "trees": "best"; the refusal suggests that. The tiny tree twice
 * (best_iteration 0): all trees predict 0.5 + 1 + 1 = 2.5 for x0 < 0.5, the best one 1.5.
 */
START_TEST(test_golden_best_trees)
{
	char *two = strdup(tiny_model), *p, *text, *mpath, *g_all, *g_best;
	const char *tree = strstr(tiny_model, "{\"base_weights\"");
	size_t tlen = (size_t)(strstr(tree, "}}]") + 2 - tree);
	struct conf_model m;
	struct conf c;
	struct repo_set *s = NULL;
	char err[1024];

	/* attributes, tree count, tree_info and a second copy of the tree (id 1). */
	p = strstr(two, "\"trees\":[{");
	*p = '\0';
	text = tu_xasprintf("%s\"trees\":[%.*s,%.*s%s", two, (int)tlen, tree, (int)tlen, tree,
	                    p + strlen("\"trees\":[") + tlen);
	free(two);
	two = text;
	text = tu_xasprintf("%.*s\"attributes\":{\"best_iteration\":\"0\"}%s",
	                    (int)(strstr(two, "\"attributes\":{}") - two), two,
	                    strstr(two, "\"attributes\":{}") + strlen("\"attributes\":{}"));
	free(two);
	two = text;
	p = strstr(two, "\"num_trees\":\"1\"");
	p[strlen("\"num_trees\":\"")] = '2';
	p = strstr(two, "\"tree_info\":[0]");
	text = tu_xasprintf("%.*s\"tree_info\":[0,0]%s", (int)(p - two), two,
	                    p + strlen("\"tree_info\":[0]"));
	free(two);
	/* The second copy's id: the last "id":0 in the text. */
	p = NULL;
	for (char *q = strstr(text, "\"id\":0"); q; q = strstr(q + 1, "\"id\":0"))
		p = q;
	ck_assert_ptr_nonnull(p);
	p[5] = '1';
	mpath = tu_write_file(dir, "two.json", text);
	g_all =
	    tu_write_file(dir, "g-two-all.json", "{\"inputs\": [[0, 0]], \"predict\": [1.5]}\n");
	g_best = tu_write_file(dir, "g-two-best.json",
	                       "{\"trees\": \"best\", \"inputs\": [[0, 0]], \"predict\": [1.5]}\n");
	m = cm("two", "1", mpath, g_best, 0);
	c = conf_of(&m, 1);
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_uint_eq(s->v[0].tree_limit, 0); /* trees = "all" serves both trees */
	repo_set_free(s);
	m.trees = CONF_TREES_BEST;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_uint_eq(s->v[0].tree_limit, 1);
	repo_set_free(s);
	m.golden = g_all;
	expect_refused(&c, -EDOM);
	{
		struct repo_index ix = {0};
		bool hint = false;
		ck_assert_int_eq(repo_index_get(&ix), 0);
		for (size_t i = 0; i < ix.n; i++)
			if (strstr(ix.v[i].reason, "trees = \"best\"") &&
			    strstr(ix.v[i].reason, "best_iteration 0"))
				hint = true;
		snprintf(err, sizeof err, "%s", ix.n ? ix.v[0].reason : "");
		repo_index_free(&ix);
		ck_assert_msg(hint, "no trees = \"best\" hint: %s", err);
	}
	free(text);
	free(mpath);
	free(g_all);
	free(g_best);
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

	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
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
	ck_assert_int_eq(repo_build(&ca, NULL, &a), 0);
	ck_assert_int_eq(repo_build(&cb, NULL, &b), 0);

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
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	repo_publish(s);
	atomic_store(&stop_readers, false);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, &seen[i]), 0);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
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

	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->n, 0);
	ck_assert_ptr_null(repo_find(s, "tiny", NULL));
	repo_set_free(s);
	repo_set_free(NULL);
}
END_TEST

/* ---- the versioned repository ---- */

/* Reads a whole file into a malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* root/name/version/file as a malloc'd path (the directories are created). */
static char *vpath(const char *root, const char *name, const char *version, const char *file)
{
	char *p = NULL;

	ck_assert_int_ne(asprintf(&p, "%s/%s", root, name), -1);
	mkdir(p, 0755);
	free(p);
	ck_assert_int_ne(asprintf(&p, "%s/%s/%s", root, name, version), -1);
	mkdir(p, 0755);
	free(p);
	ck_assert_int_ne(asprintf(&p, "%s/%s/%s/%s", root, name, version, file), -1);
	return p;
}

/* Copies the first len bytes of src (all of it when len is SIZE_MAX) to dst. */
static void copy_prefix(const char *src, const char *dst, size_t len)
{
	size_t n;
	char *buf = slurp(src, &n);

	spit(dst, buf, len < n ? len : n);
	free(buf);
}

/* Puts the bundled model (and its golden set) in as root/name/version. */
static void add_version(const char *root, const char *name, const char *version, bool golden)
{
	char *m = vpath(root, name, version, "model.json");

	copy_prefix(TU_BUNDLED_MODEL, m, SIZE_MAX);
	free(m);
	if (golden) {
		m = vpath(root, name, version, "golden.json");
		copy_prefix(TU_BUNDLED_GOLDEN, m, SIZE_MAX);
		free(m);
	}
}

/* A repository root holding breast-cancer versions 1, 2 and 10. */
static char *make_repo(void)
{
	char *root = NULL;

	ck_assert_int_ne(asprintf(&root, "%s/repo", dir), -1);
	ck_assert_int_eq(mkdir(root, 0755), 0);
	add_version(root, "bc", "1", true);
	add_version(root, "bc", "2", true);
	add_version(root, "bc", "10", true);
	return root;
}

/* The repository index row for name/version (NULL when absent); idx is the parsed index. */
static json_t *index_row(json_t *idx, const char *name, const char *version)
{
	size_t i;
	json_t *row;

	json_array_foreach(idx, i, row)
	{
		if (strcmp(json_string_value(json_object_get(row, "name")), name) == 0 &&
		    strcmp(json_string_value(json_object_get(row, "version")), version) == 0)
			return row;
	}
	return NULL;
}

/*
 * The last build's index as the JSON rows the repository extension shows, checking every
 * row has its strings and that a refused row is never READY.
 */
static json_t *get_index(void)
{
	struct repo_index ix = {0};
	json_t *idx = json_array();

	ck_assert_int_eq(repo_index_get(&ix), 0);
	ck_assert_ptr_nonnull(idx);
	for (size_t i = 0; i < ix.n; i++) {
		const struct repo_index_row *v = &ix.v[i];

		ck_assert_ptr_nonnull(v->name);
		ck_assert_ptr_nonnull(v->version);
		ck_assert_ptr_nonnull(v->reason);
		ck_assert(!(v->ready && v->refused));
		ck_assert_int_eq(
		    json_array_append_new(
		        idx, json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", v->name, "version",
		                       v->version, "state", v->ready ? "READY" : "UNAVAILABLE",
		                       "reason", v->reason, "refused", v->refused)),
		    0);
	}
	repo_index_free(&ix);
	return idx;
}

/* Asserts the row exists with state and (when given) a reason containing part. */
static void assert_row(json_t *idx, const char *name, const char *version, const char *state,
                       const char *part)
{
	json_t *row = index_row(idx, name, version);
	const char *reason;

	ck_assert_msg(row != NULL, "no index row for %s %s", name, version);
	ck_assert_str_eq(json_string_value(json_object_get(row, "state")), state);
	reason = json_string_value(json_object_get(row, "reason"));
	if (part)
		ck_assert_msg(strstr(reason, part) != NULL, "reason \"%s\" lacks \"%s\"", reason,
		              part);
	else
		ck_assert_str_eq(reason, "");
}

/* The served entry of name, asserting it is the file root/name/version/model.json. */
static const struct repo_entry *assert_serves(const struct repo_set *s, const char *root,
                                              const char *name, const char *version)
{
	const struct repo_entry *e = repo_find(s, name, NULL);
	char *want = NULL;

	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->version, version);
	ck_assert_int_ne(asprintf(&want, "%s/%s/%s/model.json", root, name, version), -1);
	ck_assert_str_eq(e->path, want);
	free(want);
	ck_assert_ptr_nonnull(e->model);
	return e;
}

START_TEST(test_repo_latest_is_numeric)
{
	char *root = make_repo(), *golden = NULL, want[65];
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *s = NULL;
	const struct repo_entry *e;
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_uint_eq(s->n, 1);
	/* 10 > 2 as numbers, though not as text. */
	e = assert_serves(s, root, "bc", "10");
	sha256sum_cmd(TU_BUNDLED_MODEL, want);
	ck_assert_str_eq(e->sha256, want);
	/* The golden.json beside the version is its golden set. */
	ck_assert_int_ne(asprintf(&golden, "%s/bc/10/golden.json", root), -1);
	ck_assert_str_eq(e->golden, golden);
	free(golden);
	idx = get_index();
	ck_assert_uint_eq(json_array_size(idx), 3);
	assert_row(idx, "bc", "10", "READY", NULL);
	assert_row(idx, "bc", "2", "UNAVAILABLE", "superseded by version 10");
	assert_row(idx, "bc", "1", "UNAVAILABLE", "superseded by version 10");
	json_decref(idx);
	repo_set_free(s);

	/* Pinned: only that version, wherever it sorts. */
	m[0].version = "2";
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_uint_eq(s->n, 1);
	assert_serves(s, root, "bc", "2");
	idx = get_index();
	assert_row(idx, "bc", "2", "READY", NULL);
	assert_row(idx, "bc", "10", "UNAVAILABLE", "version 2 is pinned");
	json_decref(idx);
	repo_set_free(s);

	/* A pinned version that is not there, and a name that is not there. */
	m[0].version = "7";
	expect_refused(&c, -ENOENT);
	idx = get_index();
	assert_row(idx, "bc", "7", "UNAVAILABLE", "not found");
	json_decref(idx);
	m[0].version = "latest";
	m[0].name = "nope";
	expect_refused(&c, -ENOENT);
	free(root);
}
END_TEST

START_TEST(test_repo_ignores_non_versions)
{
	char *root = make_repo(), *p = NULL;
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *s = NULL;
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	/* Leading zeros, words, too large for the API's int32, and a plain file. */
	add_version(root, "bc", "011", true);
	add_version(root, "bc", "v12", true);
	add_version(root, "bc", "2147483648", true);
	ck_assert_int_ne(asprintf(&p, "%s/bc/13", root), -1);
	spit(p, "not a directory", 15);
	free(p);
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	assert_serves(s, root, "bc", "10");
	idx = get_index();
	ck_assert_uint_eq(json_array_size(idx), 3);
	json_decref(idx);
	repo_set_free(s);
	/* The highest a version may be is still one. */
	add_version(root, "bc", "2147483647", true);
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	assert_serves(s, root, "bc", "2147483647");
	repo_set_free(s);
	free(root);
}
END_TEST

START_TEST(test_repo_bad_newest_refused)
{
	char *root = make_repo(), *p, *log = NULL, *field = NULL, want[65];
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *s = NULL;
	json_error_t jerr;
	json_t *idx, *g, *pred;
	size_t len;
	double v0;

	c.repository = roots;
	c.n_repository = 1;
	/* v11: the model cut off halfway, as a copy interrupted mid-write leaves it. */
	{
		char *buf = slurp(TU_BUNDLED_MODEL, &len);

		free(buf);
	}
	p = vpath(root, "bc", "11", "model.json");
	copy_prefix(TU_BUNDLED_MODEL, p, len / 2);
	sha256sum_cmd(p, want);
	free(p);
	ck_assert_int_eq(build_capturing(&c, NULL, &s, &log), 0);
	assert_serves(s, root, "bc", "10");
	repo_set_free(s);
	/* The refusal is logged with its fields, the digest of the bytes actually read. */
	ck_assert_ptr_nonnull(strstr(log, "refusing model bc version 11"));
	ck_assert_int_ne(asprintf(&field, "MODEL_SHA256=%s", want), -1);
	ck_assert_ptr_nonnull(strstr(log, field));
	ck_assert_ptr_nonnull(strstr(log, "MODEL=bc"));
	ck_assert_ptr_nonnull(strstr(log, "MODEL_VERSION=11"));
	free(field);
	free(log);
	idx = get_index();
	assert_row(idx, "bc", "11", "UNAVAILABLE", "/bc/11/model.json");
	assert_row(idx, "bc", "10", "READY", NULL);
	assert_row(idx, "bc", "2", "UNAVAILABLE", "superseded by version 10");
	json_decref(idx);

	/* v12: a valid model whose golden set expects another answer for row 0. */
	add_version(root, "bc", "12", false);
	g = json_load_file(TU_BUNDLED_GOLDEN, 0, &jerr);
	ck_assert_ptr_nonnull(g);
	pred = json_object_get(g, "predict");
	v0 = json_real_value(json_array_get(pred, 0));
	ck_assert(v0 > 0.9); /* so 1 - v0 is far outside any tolerance */
	ck_assert_int_eq(json_array_set_new(pred, 0, json_real(1.0 - v0)), 0);
	p = vpath(root, "bc", "12", "golden.json");
	ck_assert_int_eq(json_dump_file(g, p, 0), 0);
	json_decref(g);
	free(p);
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	assert_serves(s, root, "bc", "10");
	repo_set_free(s);
	idx = get_index();
	assert_row(idx, "bc", "12", "UNAVAILABLE", "golden");
	assert_row(idx, "bc", "11", "UNAVAILABLE", "/bc/11/model.json");
	assert_row(idx, "bc", "10", "READY", NULL);
	json_decref(idx);

	/* Pinned to the broken one: refused, nothing to fall back to. */
	m[0].version = "12";
	expect_refused(&c, -EDOM);
	free(root);
}
END_TEST

START_TEST(test_repo_roots_confine)
{
	char *root = make_repo(), *other = tu_mkdtemp(), *outside, *link, *sibling = NULL, *p;
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "1", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *s = NULL;
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	outside = tu_write_file(other, "model.json", tiny_model);

	/* An explicit path in another directory. */
	m[0].path = outside;
	expect_refused(&c, -EPERM);
	idx = get_index();
	assert_row(idx, "bc", "1", "UNAVAILABLE", "is outside the configured repository roots");
	json_decref(idx);
	/* The same file is fine without roots: the check is only the roots'. */
	c.n_repository = 0;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	repo_set_free(s);
	c.n_repository = 1;

	/* A sibling whose name merely starts with the root's is not inside it. */
	ck_assert_int_ne(asprintf(&sibling, "%sx", root), -1);
	ck_assert_int_eq(mkdir(sibling, 0755), 0);
	p = tu_write_file(sibling, "model.json", tiny_model);
	m[0].path = p;
	expect_refused(&c, -EPERM);
	free(p);
	/* An explicit path inside the root is served. */
	p = vpath(root, "bc", "1", "model.json");
	m[0].path = p;
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	ck_assert_str_eq(repo_find(s, "bc", NULL)->path, p);
	repo_set_free(s);
	free(p);

	/* A version whose model.json is a symlink out of the root is refused; 10 serves. */
	m[0].path = NULL;
	m[0].version = "latest";
	link = vpath(root, "bc", "20", "model.json");
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(repo_build(&c, NULL, &s), 0);
	assert_serves(s, root, "bc", "10");
	repo_set_free(s);
	idx = get_index();
	assert_row(idx, "bc", "20", "UNAVAILABLE", "is outside the configured repository roots");
	json_decref(idx);
	/* So is a golden set that leads out. */
	m[0].version = "10";
	m[0].golden = outside;
	expect_refused(&c, -EPERM);
	free(link);
	tu_rmtree(other);
	free(other);
	free(outside);
	free(sibling);
	free(root);
}
END_TEST

START_TEST(test_repo_keeps_current)
{
	char *root = make_repo(), *p;
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *cur = NULL, *s = NULL;
	struct repo_build_opts o = {0};
	const struct repo_entry *e;
	size_t len;
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	ck_assert_int_eq(repo_build(&c, NULL, &cur), 0);
	assert_serves(cur, root, "bc", "10");
	/* Every version on disk breaks (cut in half in place). */
	{
		char *buf = slurp(TU_BUNDLED_MODEL, &len);

		free(buf);
	}
	for (int v = 0; v < 3; v++) {
		static const char *const vs[] = {"1", "2", "10"};

		p = vpath(root, "bc", vs[v], "model.json");
		copy_prefix(TU_BUNDLED_MODEL, p, len / 2);
		free(p);
	}
	/* Without a current set there is nothing to serve. */
	expect_refused(&c, 0);
	/* With one, the model keeps what it serves: the same loaded model. */
	o.current = cur;
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_uint_eq(s->n, 1);
	e = assert_serves(s, root, "bc", "10");
	ck_assert_ptr_eq(e->model, cur->v[0].model);
	ck_assert_str_eq(e->sha256, cur->v[0].sha256);
	idx = get_index();
	assert_row(idx, "bc", "10", "READY", NULL);
	assert_row(idx, "bc", "2", "UNAVAILABLE", "/bc/2/model.json");
	assert_row(idx, "bc", "1", "UNAVAILABLE", "/bc/1/model.json");
	json_decref(idx);
	/* The kept entry is a copy that outlives the set it came from. */
	repo_set_free(cur);
	ck_assert_uint_eq(model_get_info(e->model)->num_feature,
	                  (size_t)declared_num_feature(TU_BUNDLED_MODEL));
	repo_set_free(s);
	free(root);
}
END_TEST

START_TEST(test_repo_only_and_drop)
{
	char *root = make_repo();
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0),
	                         cm("ab", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 2);
	struct repo_set *cur = NULL, *s = NULL, *s2 = NULL;
	struct repo_build_opts o = {0};
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	add_version(root, "ab", "3", true);
	ck_assert_int_eq(repo_build(&c, NULL, &cur), 0);
	ck_assert_uint_eq(cur->n, 2);
	assert_serves(cur, root, "bc", "10");
	assert_serves(cur, root, "ab", "3");

	/* New versions of both; only ab is rebuilt. */
	add_version(root, "bc", "11", true);
	add_version(root, "ab", "4", true);
	o.current = cur;
	o.only = "ab";
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_uint_eq(s->n, 2);
	assert_serves(s, root, "ab", "4");
	ck_assert_ptr_eq(assert_serves(s, root, "bc", "10")->model, cur->v[0].model);
	idx = get_index();
	assert_row(idx, "ab", "4", "READY", NULL);
	assert_row(idx, "ab", "3", "UNAVAILABLE", "superseded by version 4");
	/* bc's rows are the last build's: 11 was not looked at. */
	assert_row(idx, "bc", "10", "READY", NULL);
	ck_assert_ptr_null(index_row(idx, "bc", "11"));
	json_decref(idx);

	/* Unload bc: it is left out, shown unloaded; ab stays as served. */
	o.current = s;
	o.only = NULL;
	o.drop = "bc";
	ck_assert_int_eq(repo_build(&c, &o, &s2), 0);
	ck_assert_uint_eq(s2->n, 1);
	ck_assert_ptr_null(repo_find(s2, "bc", NULL));
	ck_assert_ptr_eq(assert_serves(s2, root, "ab", "4")->model,
	                 repo_find(s, "ab", NULL)->model);
	idx = get_index();
	assert_row(idx, "bc", "10", "UNAVAILABLE", "unloaded");
	assert_row(idx, "ab", "4", "READY", NULL);
	json_decref(idx);

	/* Names that are not configured or not served. */
	o.current = s2;
	o.drop = "bc";
	expect_refused_o(&c, &o, -ENOENT);
	o.drop = "nope";
	expect_refused_o(&c, &o, -ENOENT);
	o.drop = NULL;
	o.only = "nope";
	expect_refused_o(&c, &o, -ENOENT);

	/* Loading bc again brings its newest version back. */
	o.only = "bc";
	repo_set_free(s);
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_uint_eq(s->n, 2);
	assert_serves(s, root, "bc", "11");
	assert_serves(s, root, "ab", "4");
	repo_set_free(s);
	repo_set_free(s2);
	repo_set_free(cur);
	free(root);
}
END_TEST

START_TEST(test_repo_pins)
{
	char *root = make_repo(), *snap = tu_mkdtemp(), *model, *golden, want[65], bad[65];
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *cur = NULL, *s = NULL;
	struct repo_pin pin;
	struct repo_build_opts o = {0};
	const struct repo_entry *e;
	json_t *idx;

	c.repository = roots;
	c.n_repository = 1;
	/* A snapshot outside the roots (it lives in the state dir). */
	model = tu_write_file(snap, "model.json", "");
	golden = tu_write_file(snap, "golden.json", "");
	copy_prefix(TU_BUNDLED_MODEL, model, SIZE_MAX);
	copy_prefix(TU_BUNDLED_GOLDEN, golden, SIZE_MAX);
	sha256sum_cmd(model, want);
	memcpy(bad, want, sizeof(bad));
	bad[0] = bad[0] == '0' ? '1' : '0';
	pin = (struct repo_pin){"bc", "2", model, golden, want};
	o.pins = &pin;
	o.n_pins = 1;
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_uint_eq(s->n, 1);
	e = repo_find(s, "bc", NULL);
	ck_assert_str_eq(e->version, "2");
	ck_assert_str_eq(e->path, model);
	ck_assert_str_eq(e->golden, golden);
	ck_assert_str_eq(e->sha256, want);
	repo_set_free(s);

	/* A snapshot whose bytes changed is refused; without a current set the build fails. */
	pin.sha256 = bad;
	expect_refused_o(&c, &o, -ESTALE);
	idx = get_index();
	assert_row(idx, "bc", "2", "UNAVAILABLE", "snapshot changed since it was marked good");
	json_decref(idx);
	/* With one, the model keeps its current version. */
	ck_assert_int_eq(repo_build(&c, NULL, &cur), 0);
	o.current = cur;
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	assert_serves(s, root, "bc", "10");
	repo_set_free(s);
	repo_set_free(cur);
	tu_rmtree(snap);
	free(snap);
	free(model);
	free(golden);
	free(root);
}
END_TEST

START_TEST(test_repo_reuse)
{
	char *root = make_repo(), *p, *buf;
	char *roots[] = {root};
	struct conf_model m[] = {cm("bc", "latest", NULL, NULL, 0)};
	struct conf c = conf_of(m, 1);
	struct repo_set *cur = NULL, *s = NULL;
	struct repo_build_opts o = {0};
	size_t len;

	c.repository = roots;
	c.n_repository = 1;
	ck_assert_int_eq(repo_build(&c, NULL, &cur), 0);
	o.current = cur;
	/* Unchanged file: the very same loaded model. */
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_ptr_eq(repo_find(s, "bc", NULL)->model, cur->v[0].model);
	repo_set_free(s);
	/* Changed in place (one more byte, still valid JSON): loaded afresh. */
	p = vpath(root, "bc", "10", "model.json");
	buf = slurp(p, &len);
	buf[len] = '\n';
	spit(p, buf, len + 1);
	free(buf);
	free(p);
	ck_assert_int_eq(repo_build(&c, &o, &s), 0);
	ck_assert_ptr_ne(repo_find(s, "bc", NULL)->model, cur->v[0].model);
	ck_assert_str_ne(repo_find(s, "bc", NULL)->sha256, cur->v[0].sha256);
	ck_assert_str_eq(repo_find(s, "bc", NULL)->version, "10");
	repo_set_free(s);
	repo_set_free(cur);
	free(root);
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
	tcase_add_test(tc, test_outputs_and_golden_outputs);
	tcase_add_test(tc, test_golden_best_trees);
	tcase_add_test(tc, test_bad_files_refused);
	tcase_add_test(tc, test_find_versions);
	tcase_add_test(tc, test_publish_keeps_old_alive);
	tcase_add_test(tc, test_publish_under_load);
	tcase_add_test(tc, test_empty_conf);
	tcase_add_test(tc, test_repo_latest_is_numeric);
	tcase_add_test(tc, test_repo_ignores_non_versions);
	tcase_add_test(tc, test_repo_bad_newest_refused);
	tcase_add_test(tc, test_repo_roots_confine);
	tcase_add_test(tc, test_repo_keeps_current);
	tcase_add_test(tc, test_repo_only_and_drop);
	tcase_add_test(tc, test_repo_pins);
	tcase_add_test(tc, test_repo_reuse);
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
