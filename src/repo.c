/* repo.c: the set of served models, swapped atomically and reference counted. */
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "golden.h"
#include "log.h"
#include "model.h"
#include "outputs.h"
#include "shap.h"
#include "util.h"

/* The same cap the model loader applies by default; checked before reading anything. */

/* Guards current and every published set's refs. Held only for a few instructions. */
static pthread_mutex_t repo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repo_set *current;
/* The last build's repository index; also guarded by repo_lock. */
static struct repo_index last_index;

static void index_clear(struct repo_index *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->v[i].name);
		free(ix->v[i].version);
		free(ix->v[i].reason);
	}
	free(ix->v);
	memset(ix, 0, sizeof(*ix));
}

int repo_init(void)
{
	pthread_mutex_lock(&repo_lock);
	current = NULL;
	index_clear(&last_index);
	pthread_mutex_unlock(&repo_lock);
	return 0;
}

void repo_fini(void)
{
	repo_publish(NULL);
	pthread_mutex_lock(&repo_lock);
	index_clear(&last_index);
	pthread_mutex_unlock(&repo_lock);
}

static void forest_put(struct repo_shap *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		shap_free(s->forest);
		free(s);
	}
}

static struct repo_shap *forest_get(struct repo_shap *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

static void entry_clear(struct repo_entry *e)
{
	forest_put(e->shap);
	free(e->name);
	free(e->version);
	free(e->path);
	free(e->golden);
	model_unref(e->model);
	memset(e, 0, sizeof(*e));
}

void repo_set_free(struct repo_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_clear(&s->v[i]);
	free(s->v);
	free(s);
}

/* Versions are positive integers as text; anything else sorts lowest. */
static unsigned long long version_num(const char *v)
{
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || *v == '-')
		return 0;
	return n;
}

/* ---- roots: where model files may come from ---- */

/* True when real (a realpath) is root itself or below it, component-wise. */
static bool path_inside(const char *real, const char *root)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return real[0] == '/';
	return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* What one build works with and produces. */
/* The file size bound when the config leaves it unset (limits.max_model_bytes' default). */
#define REPO_DEFAULT_MAX_BYTES ((size_t)256 << 20)

struct build {
	const struct conf *c;
	const struct repo_build_opts *o;
	char **roots; /* realpath of each configured root that exists */
	size_t n_roots;
	bool *pin_used;
	bool *fallback_used;
	struct repo_entry *v; /* the new set's entries */
	size_t n, cap;
	struct repo_index index;      /* this build's rows */
	struct repo_index prev_index; /* the last build's, for models copied unchanged */
	int first;                    /* first error of a model that has nothing to serve */
	bool oom;
};

static void build_free(struct build *b)
{
	for (size_t i = 0; i < b->n_roots; i++)
		free(b->roots[i]);
	free(b->roots);
	free(b->pin_used);
	free(b->fallback_used);
	for (size_t i = 0; i < b->n; i++)
		entry_clear(&b->v[i]);
	free(b->v);
	index_clear(&b->index);
	index_clear(&b->prev_index);
}

static int resolve_roots(struct build *b)
{
	const struct conf *c = b->c;

	if (!c->n_repository)
		return 0;
	b->roots = calloc(c->n_repository, sizeof(*b->roots));
	if (!b->roots)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_repository; i++) {
		char *r = realpath(c->repository[i], NULL);

		/* A missing root holds nothing; a file under it cannot exist either. */
		if (!r) {
			if (errno == ENOMEM)
				return -ENOMEM;
			log_debug("repository root %s: %s", c->repository[i], strerror(errno));
			continue;
		}
		b->roots[b->n_roots++] = r;
	}
	return 0;
}

/*
 * The path to open for a file the configuration points at: when roots are configured it
 * must resolve inside one of them, and the resolved path is what gets opened, so a
 * symlink swapped after the check cannot lead elsewhere. 0 or -errno with a reason.
 */
static int confine(const struct build *b, const char *path, bool exempt, char **open_path,
                   char *err, size_t errlen)
{
	char *real;

	*open_path = NULL;
	if (exempt || !b->c->n_repository) {
		*open_path = strdup(path);
		if (!*open_path) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	real = realpath(path, NULL);
	if (!real) {
		int r = -errno;

		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	for (size_t i = 0; i < b->n_roots; i++) {
		if (path_inside(real, b->roots[i])) {
			*open_path = real;
			return 0;
		}
	}
	if (strcmp(real, path) != 0)
		snprintf(err, errlen, "%s (%s) is outside the configured repository roots", path,
		         real);
	else
		snprintf(err, errlen, "%s is outside the configured repository roots", path);
	free(real);
	return -EPERM;
}

/* ---- the repository index ---- */

/* Appends a row (copies of the strings). 0 or -ENOMEM. */
static int index_append(struct repo_index *ix, const char *name, const char *version,
                        const char *reason, bool ready, bool refused)
{
	struct repo_index_row *row;

	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 8;
		struct repo_index_row *v = realloc(ix->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ix->v = v;
		ix->cap = cap;
	}
	row = &ix->v[ix->n];
	row->name = strdup(name);
	row->version = strdup(version);
	row->reason = strdup(reason ? reason : "");
	row->ready = ready;
	row->refused = refused;
	if (!row->name || !row->version || !row->reason) {
		free(row->name);
		free(row->version);
		free(row->reason);
		return -ENOMEM;
	}
	ix->n++;
	return 0;
}

/* A deep copy of src into dst (empty on failure). 0 or -ENOMEM. */
static int index_copy(struct repo_index *dst, const struct repo_index *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		const struct repo_index_row *r = &src->v[i];

		if (index_append(dst, r->name, r->version, r->reason, r->ready, r->refused) < 0) {
			index_clear(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

static struct repo_index_row *index_row_of(struct repo_index *ix, const char *name,
                                           const char *version)
{
	for (size_t i = 0; i < ix->n; i++)
		if (strcmp(ix->v[i].name, name) == 0 && strcmp(ix->v[i].version, version) == 0)
			return &ix->v[i];
	return NULL;
}

/* Replaces a row's reason; sets b->oom when out of memory. */
static void index_set_reason(struct build *b, struct repo_index_row *row, const char *reason)
{
	char *r = strdup(reason);

	if (!r) {
		b->oom = true;
		return;
	}
	free(row->reason);
	row->reason = r;
}

/*
 * Adds a row; a version seen twice keeps its first row unless the new one is READY.
 * refused marks a version that failed validation, as opposed to one not served by
 * policy (superseded, pinned away, unloaded), so callers can report only real refusals.
 */
static void index_add(struct build *b, const char *name, const char *version, const char *reason,
                      bool refused)
{
	struct repo_index_row *it = index_row_of(&b->index, name, version);

	if (it) {
		if (reason)
			return;
		it->ready = true;
		it->refused = false;
		index_set_reason(b, it, "");
		return;
	}
	if (index_append(&b->index, name, version, reason, !reason, reason && refused) < 0)
		b->oom = true;
}

/*
 * The row of a version served from a fallback pin. A refusal of the same version keeps its
 * own row (the fallback does not make the configured file any better); a row saying why
 * the version was not tried (superseded, pinned away) becomes the served one.
 */
static void index_add_fallback(struct build *b, const char *name, const char *version)
{
	for (size_t i = 0; i < b->index.n; i++) {
		struct repo_index_row *it = &b->index.v[i];

		if (strcmp(it->name, name) != 0 || strcmp(it->version, version) != 0 || it->refused)
			continue;
		it->ready = true;
		index_set_reason(b, it, REPO_FALLBACK_REASON);
		return;
	}
	if (index_append(&b->index, name, version, REPO_FALLBACK_REASON, true, false) < 0)
		b->oom = true;
}

/* ---- one candidate file ---- */

/* A file that may become a served version. */
struct cand {
	const struct conf_model *cm;
	const char *version;
	const char *path;   /* the model file, as configured or found */
	const char *golden; /* its golden set, or NULL */
	const char *sha256; /* required digest (pins), or NULL */
	bool pinned;        /* a snapshot in the state dir: exempt from the roots */
	bool fallback;      /* a fallback pin: served because the configured files were refused */
};

/*
 * The golden outputs beyond predict and margin that the file has and e serves (the hook
 * golden_check_outputs), predicted with the trees the file names. 0 or -errno with why.
 */
static int check_golden_outputs(const struct golden *g, const struct repo_entry *e,
                                double tolerance, char *why, size_t whylen)
{
	const struct model_info *mi = model_get_info(e->model);
	struct outputs_model om = {e->model,
	                           g->trees == GOLDEN_TREES_BEST ? mi->best_tree_limit : 0,
	                           e->shap ? e->shap->forest : NULL};
	const struct golden_tensor *want[CONF_N_OUTPUTS] = {
	    NULL, NULL, &g->predict_proba, &g->label, &g->contribs, &g->leaf};
	void *dst[CONF_N_OUTPUTS] = {0};
	size_t width[CONF_N_OUTPUTS] = {0};
	struct golden_outputs out = {0};
	unsigned bits = 0;
	int r = 0;

	for (unsigned i = 2; i < CONF_N_OUTPUTS; i++) {
		size_t nd, dims[2];
		bool i32;

		if (!want[i]->v || !(e->outputs & (1u << i)))
			continue;
		width[i] = outputs_shape(mi, om.tree_limit, 1u << i, &nd, dims, &i32);
		dst[i] = calloc(g->nrows * width[i] + 1, sizeof(float));
		if (!dst[i]) {
			r = -ENOMEM;
			goto out;
		}
		bits |= 1u << i;
	}
	if (!bits)
		return 0;
	r = outputs_compute(&om, g->inputs, g->nrows, bits, dst);
	if (r < 0)
		goto out;
	if (dst[5]) {
		/* Leaf indices are int32; the golden comparison reads floats (exact below 2^24). */
		int32_t *li = dst[5];
		float *lf = dst[5];
		for (size_t k = 0; k < g->nrows * width[5]; k++)
			lf[k] = (float)li[k];
	}
	out.predict_proba = dst[2];
	out.predict_proba_width = width[2];
	out.label = dst[3];
	out.label_width = width[3];
	out.contribs = dst[4];
	out.contribs_width = width[4];
	out.leaf = dst[5];
	out.leaf_width = width[5];
	r = golden_check_outputs(g, &out, tolerance, NULL, why, whylen);
out:
	if (r == -ENOMEM)
		snprintf(why, whylen, "out of memory");
	for (unsigned i = 0; i < CONF_N_OUTPUTS; i++)
		free(dst[i]);
	return r;
}

/* Checks e's model against a golden set. 0 or -errno with a reason. */
static int check_golden(const char *path, const char *shown, double tolerance,
                        const struct repo_entry *e, char *err, size_t errlen)
{
	const struct model_info *mi = model_get_info(e->model);
	struct golden g;
	char why[512];
	double max_diff = 0;
	int r;

	memset(&g, 0, sizeof(g));
	why[0] = '\0';
	r = golden_load(path, &g, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "golden set: %s", why); /* why names the file */
		return r;
	}
	r = golden_check(&g, e->model, tolerance, &max_diff, why, sizeof(why));
	if (r == 0)
		r = check_golden_outputs(&g, e, tolerance, why, sizeof(why));
	if (r < 0 && g.trees == GOLDEN_TREES_ALL && mi->best_iteration >= 0 &&
	    mi->best_tree_limit != 0 && mi->best_tree_limit < mi->num_trees)
		snprintf(err, errlen,
		         "golden set %s does not match: %s (the model has best_iteration %lld: "
		         "if these outputs come from the sklearn wrapper, they use its best "
		         "trees; say \"trees\": \"best\" in the golden set and trees = \"best\" "
		         "in the model's config)",
		         shown, why, mi->best_iteration);
	else if (r < 0)
		snprintf(err, errlen, "golden set %s does not match: %s", shown, why);
	golden_free(&g);
	return r;
}

/*
 * Resolves the outputs and trees keys of cm for e's model: the outputs served (each one
 * the model can give, else a reason naming it), the tree limit, and the TreeSHAP forest
 * when contribs or leaf is served by a tree booster (old's when it serves the same model).
 */
static int resolve_outputs(const struct conf_model *cm, const struct repo_entry *old,
                           struct repo_entry *e, char *err, size_t errlen)
{
	const struct model_info *mi = model_get_info(e->model);
	unsigned avail = outputs_available(mi);
	struct shap_model sm;
	const struct tree *trees;
	size_t n_trees;
	int r;

	e->outputs = cm->outputs ? cm->outputs : outputs_default(mi);
	for (unsigned i = 0; i < CONF_N_OUTPUTS; i++) {
		if ((e->outputs & (1u << i)) && !(avail & (1u << i))) {
			const char *why = "it is not a scikit-learn classifier";

			if (i == 5)
				why = "gblinear has no leaves";
			else if (mi->classifier)
				why = "sklearn answers a two-class multi:softprob model's label as "
				      "a multi-label array";
			snprintf(err, errlen,
			         "outputs: \"%s\" is not available for this model (%s)",
			         conf_output_names[i], why);
			return -EINVAL;
		}
	}
	e->trees = cm->trees;
	e->tree_limit = cm->trees == CONF_TREES_BEST ? mi->best_tree_limit : 0;
	if (!(e->outputs & (CONF_OUT_CONTRIBS | CONF_OUT_LEAF)) || model_linear_weights(e->model))
		return 0;
	if (old && old->shap && old->model == e->model) {
		e->shap = forest_get(old->shap);
		return 0;
	}
	e->shap = calloc(1, sizeof(*e->shap));
	if (!e->shap) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->shap->refs = 1;
	trees = model_trees(e->model, &n_trees);
	sm = (struct shap_model){.trees = trees,
	                         .n_trees = n_trees,
	                         .tree_group = (const int32_t *)model_tree_groups(e->model),
	                         .n_groups = (uint32_t)mi->num_group,
	                         .n_features = (uint32_t)mi->num_feature,
	                         .weights = model_tree_weights(e->model),
	                         .table_bytes = SHAP_TABLE_BYTES};
	r = shap_prepare(&sm, &e->shap->forest);
	if (r < 0)
		snprintf(err, errlen, "outputs: contribs and leaf: cannot prepare TreeSHAP: %s",
		         r == -E2BIG    ? "a tree is too deep"
		         : r == -ENOMEM ? "out of memory"
		                        : "malformed tree");
	return r;
}

/* The served entry a candidate can reuse: same model, same file, same bytes. */
static const struct repo_entry *reusable(const struct build *b, const struct cand *k,
                                         const char *sha256)
{
	const struct repo_set *cur = b->o ? b->o->current : NULL;

	if (!cur)
		return NULL;
	for (size_t i = 0; i < cur->n; i++) {
		const struct repo_entry *e = &cur->v[i];

		if (e->model && e->name && strcmp(e->name, k->cm->name) == 0 && e->path &&
		    strcmp(e->path, k->path) == 0 && strcmp(e->sha256, sha256) == 0)
			return e;
	}
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * Loads and validates k into e. *hashed is set once the file's sha256 is in e (for the
 * refusal's log line). 0 or -errno with a reason.
 */
static int load_cand(const struct build *b, const struct cand *k, struct repo_entry *e,
                     bool *hashed, char *err, size_t errlen)
{
	struct model_limits lim = {.max_file_bytes = (size_t)b->c->max_model_bytes,
	                           .max_trees = (size_t)b->c->max_trees,
	                           .max_depth = (unsigned)b->c->max_tree_depth};
	const struct repo_entry *old;
	const struct model_info *info;
	char why[512];
	char *open_path = NULL, *buf = NULL;
	size_t len = 0;
	int r;

	*hashed = false;
	e->name = strdup(k->cm->name);
	e->version = strdup(k->version);
	e->path = strdup(k->path);
	e->golden = k->golden ? strdup(k->golden) : NULL;
	if (!e->name || !e->version || !e->path || (k->golden && !e->golden)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = confine(b, k->path, k->pinned, &open_path, err, errlen);
	if (r < 0)
		return r;
	/* Hash and parse one buffer, so a file replaced meanwhile cannot make them disagree. */
	/* 0 (a conf built without conf_load) means the engine's default, as for model_limits. */
	/* A confined path is already resolved and a snapshot is ours: neither is a symlink. */
	r = util_read_file(
	    open_path, lim.max_file_bytes ? lim.max_file_bytes : REPO_DEFAULT_MAX_BYTES,
	    k->pinned || b->c->n_repository ? UTIL_NOFOLLOW : 0, &buf, &len, err, errlen);
	free(open_path);
	if (r == -EFBIG)
		snprintf(err + strlen(err), errlen - strlen(err), " (limits.max_model_bytes)");
	if (r < 0)
		return r;
	util_sha256_hex(buf, len, e->sha256);
	*hashed = true;
	if (k->sha256 && strcmp(k->sha256, e->sha256) != 0) {
		free(buf);
		snprintf(err, errlen,
		         "snapshot changed since it was marked good: %s has sha256 %s, expected %s",
		         k->path, e->sha256, k->sha256);
		return -ESTALE;
	}
	old = reusable(b, k, e->sha256);
	if (old) {
		free(buf);
		e->model = model_ref(old->model);
	} else {
		why[0] = '\0';
		r = model_load_buffer(buf, len, &lim, &e->model, why, sizeof(why));
		free(buf);
		if (r < 0) {
			e->model = NULL;
			snprintf(err, errlen, "%s: %s", k->path, why);
			return r;
		}
	}
	info = model_get_info(e->model);
	e->num_feature = info->num_feature;
	if (k->cm->num_feature > 0 && (size_t)k->cm->num_feature != info->num_feature) {
		snprintf(err, errlen, "num_feature is pinned to %ld but %s has %zu features",
		         k->cm->num_feature, k->path, info->num_feature);
		return -EINVAL;
	}
	r = resolve_outputs(k->cm, old, e, err, errlen);
	if (r < 0)
		return r;
	/* The same bytes already passed this very golden set, for the same outputs. */
	if (!k->golden || (old && same_str(old->golden, k->golden) && old->outputs == e->outputs))
		return 0;
	r = confine(b, k->golden, k->pinned, &open_path, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "golden set: %s", why);
		return r;
	}
	r = check_golden(open_path, k->golden, k->cm->tolerance, e, err, errlen);
	free(open_path);
	return r;
}

/* Appends an empty entry to the new set. */
static struct repo_entry *new_entry(struct build *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4;
		struct repo_entry *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		b->v = v;
		b->cap = cap;
	}
	memset(&b->v[b->n], 0, sizeof(b->v[b->n]));
	return &b->v[b->n++];
}

/*
 * Tries one candidate: on success it is the last entry of the set and READY in the index;
 * otherwise it is refused in the log and the index. Returns 0 or -errno.
 */
static int try_cand(struct build *b, const struct cand *k)
{
	struct repo_entry *e = new_entry(b);
	char err[1536];
	bool hashed = false;
	int r;

	if (!e) {
		b->oom = true;
		return -ENOMEM;
	}
	err[0] = '\0';
	r = load_cand(b, k, e, &hashed, err, sizeof(err));
	if (r < 0) {
		struct log_field f[] = {
		    {"MODEL", k->cm->name},
		    {"MODEL_VERSION", k->version},
		    {"MODEL_PATH", k->path},
		    {"MODEL_SHA256", e->sha256},
		};

		log_fields(LOG_LVL_ERR, f, hashed ? 4 : 3, "refusing model %s version %s: %s",
		           k->cm->name, k->version, err);
		index_add(b, k->cm->name, k->version, err, true);
		entry_clear(e);
		b->n--;
		if (r == -ENOMEM)
			b->oom = true;
		return r;
	}
	if (k->fallback) {
		struct log_field f[] = {
		    {"MODEL", e->name},
		    {"MODEL_VERSION", e->version},
		    {"MODEL_SHA256", e->sha256},
		    {"MODEL_PATH", e->path},
		};

		/* An error, not a notice: what is configured is not what serves. */
		e->fallback = true;
		log_fields(LOG_LVL_ERR, f, 4,
		           "model %s: the configured version was refused; serving its last known "
		           "good version %s (sha256 %s) from %s",
		           e->name, e->version, e->sha256, e->path);
		index_add_fallback(b, e->name, e->version);
		return 0;
	}
	{
		const struct model_info *info = model_get_info(e->model);
		struct log_field f[] = {
		    {"MODEL", e->name},
		    {"MODEL_VERSION", e->version},
		    {"MODEL_SHA256", e->sha256},
		    {"MODEL_PATH", e->path},
		};

		log_fields(LOG_LVL_INFO, f, 4,
		           "loaded model %s version %s (%s, %zu features, %zu trees%s)", e->name,
		           e->version, info->objective ? info->objective : "?", info->num_feature,
		           info->num_trees, e->golden ? ", golden set matched" : "");
		if (info->best_iteration >= 0 && info->best_tree_limit != 0 &&
		    info->best_tree_limit < info->num_trees)
			log_fields(
			    LOG_LVL_NOTICE, f, 4,
			    "model %s version %s has best_iteration %lld (its best %zu of %zu "
			    "trees); serving %s trees (the model's trees key: \"all\" is "
			    "Booster.predict, \"best\" the sklearn wrapper's default)",
			    e->name, e->version, info->best_iteration, info->best_tree_limit,
			    info->num_trees, e->trees == CONF_TREES_BEST ? "the best" : "all");
	}
	index_add(b, e->name, e->version, NULL, false);
	return 0;
}

/* ---- versions in the repository ---- */

/* A version directory name: a positive integer, no leading zeros, at most INT32_MAX. */
static bool parse_version(const char *s, unsigned long *out)
{
	size_t n = strspn(s, "0123456789");
	unsigned long v = 0;

	if (n == 0 || n > 10 || s[n] != '\0' || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v > 2147483647UL)
		return false;
	*out = v;
	return true;
}

static int cmp_desc(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The versions under dir, highest first. 0 or -errno with a reason. */
static int list_versions(const char *dir, unsigned long **out, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned long *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		int r = -errno;

		snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		unsigned long num;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!parse_version(de->d_name, &num) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			log_debug("ignoring %s/%s: not a version directory (a positive integer)",
			          dir, de->d_name);
			continue;
		}
		if (*n == cap) {
			unsigned long *nv;

			cap = cap ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = num;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_desc);
	*out = v;
	return 0;
}

/* The first root with a directory for name, as a malloc'd path; NULL when none. */
static char *find_model_dir(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_repository; i++) {
		struct stat st;
		char *dir;

		if (asprintf(&dir, "%s/%s", c->repository[i], name) < 0)
			return NULL;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return dir;
		free(dir);
	}
	return NULL;
}

/* Refuses a model as a whole (no candidate to try) in the log and the index. */
static void refuse_model(struct build *b, const struct conf_model *cm, const char *err)
{
	struct log_field f[] = {
	    {"MODEL", cm->name},
	    {"MODEL_VERSION", cm->version},
	};

	log_fields(LOG_LVL_ERR, f, 2, "refusing model %s version %s: %s", cm->name, cm->version,
	           err);
	index_add(b, cm->name, cm->version, err, true);
}

static bool is_latest(const struct conf_model *cm)
{
	return strcmp(cm->version, "latest") == 0;
}

/* Serves cm from the repository. 0 or -errno (nothing served). */
static int build_from_repository(struct build *b, const struct conf_model *cm)
{
	char *dir = find_model_dir(b->c, cm->name);
	unsigned long *vers = NULL;
	size_t n = 0, i;
	char err[1024], served[16] = "";
	int r = 0, first = 0;

	if (!dir) {
		snprintf(err, sizeof(err), "no directory %s in the repository roots", cm->name);
		refuse_model(b, cm, err);
		return -ENOENT;
	}
	r = list_versions(dir, &vers, &n, err, sizeof(err));
	if (r == 0 && n == 0) {
		snprintf(err, sizeof(err), "no version directories in %s", dir);
		r = -ENOENT;
	}
	if (r < 0) {
		refuse_model(b, cm, err);
		free(dir);
		return r;
	}
	for (i = 0; i < n; i++) {
		char version[16], *path = NULL, *golden = NULL;
		struct cand k = {.cm = cm};
		struct stat st;

		snprintf(version, sizeof(version), "%lu", vers[i]);
		if (!is_latest(cm) && strcmp(version, cm->version) != 0)
			continue;
		if (asprintf(&path, "%s/%s/model.json", dir, version) < 0) {
			r = -ENOMEM;
			break;
		}
		if (cm->golden) {
			golden = strdup(cm->golden);
		} else if (asprintf(&golden, "%s/%s/golden.json", dir, version) < 0) {
			golden = NULL;
		} else if (stat(golden, &st) < 0 && errno == ENOENT) {
			free(golden);
			golden = NULL;
		}
		k.version = version;
		k.path = path;
		k.golden = golden;
		r = try_cand(b, &k);
		free(path);
		free(golden);
		if (r == 0) {
			snprintf(served, sizeof(served), "%s", version);
			break;
		}
		if (!first)
			first = r;
		if (r == -ENOMEM)
			break;
	}
	/* Every version seen is in the index, those not tried with why not. */
	for (size_t j = 0; j < n; j++) {
		char version[16];

		snprintf(version, sizeof(version), "%lu", vers[j]);
		if (!is_latest(cm) && strcmp(version, cm->version) != 0)
			snprintf(err, sizeof(err), "version %s is pinned", cm->version);
		else if (served[0] && j > i)
			snprintf(err, sizeof(err), "superseded by version %s", served);
		else
			continue;
		index_add(b, cm->name, version, err, false);
	}
	if (!served[0] && !first) {
		/* A pinned version that is not there. */
		snprintf(err, sizeof(err), "version %s not found in %s", cm->version, dir);
		refuse_model(b, cm, err);
		first = -ENOENT;
	}
	free(vers);
	free(dir);
	if (r == -ENOMEM)
		return r;
	return served[0] ? 0 : first;
}

/* ---- one configured model ---- */

/* The unused pin of pins[0..n) for cm: its version if there, else any of its name. */
static const struct repo_pin *find_pin(const struct repo_pin *pins, size_t n, bool *used,
                                       const struct conf_model *cm)
{
	const struct repo_pin *any = NULL;
	size_t any_i = 0;

	if (!pins || !used)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct repo_pin *p = &pins[i];

		if (used[i] || !p->name || strcmp(p->name, cm->name) != 0)
			continue;
		if (p->version && strcmp(p->version, cm->version) == 0) {
			used[i] = true;
			return p;
		}
		if (!any) {
			any = p;
			any_i = i;
		}
	}
	/* "latest" (or a changed pin) matches the snapshot of whatever was served. */
	if (any)
		used[any_i] = true;
	return any;
}

/* True when another entry of cm's name asks for exactly this version. */
static bool claimed_elsewhere(const struct conf *c, const struct conf_model *cm,
                              const char *version)
{
	for (size_t i = 0; i < c->n_models; i++) {
		const struct conf_model *m = &c->models[i];

		if (m != cm && strcmp(m->name, cm->name) == 0 && strcmp(m->version, version) == 0)
			return true;
	}
	return false;
}

/* The entry of current that cm served, if any. */
static const struct repo_entry *current_of(const struct build *b, const struct conf_model *cm)
{
	const struct repo_set *cur = b->o ? b->o->current : NULL;
	const struct repo_entry *best = NULL;

	if (!cur)
		return NULL;
	if (!is_latest(cm))
		return repo_find(cur, cm->name, cm->version);
	for (size_t i = 0; i < cur->n; i++) {
		const struct repo_entry *e = &cur->v[i];

		if (!e->name || strcmp(e->name, cm->name) != 0 ||
		    claimed_elsewhere(b->c, cm, e->version))
			continue;
		if (!best || version_num(e->version) > version_num(best->version))
			best = e;
	}
	return best;
}

static int copy_entry(struct repo_entry *dst, const struct repo_entry *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->fallback = src->fallback;
	dst->name = strdup(src->name);
	dst->version = strdup(src->version);
	dst->path = src->path ? strdup(src->path) : NULL;
	dst->golden = src->golden ? strdup(src->golden) : NULL;
	memcpy(dst->sha256, src->sha256, sizeof(dst->sha256));
	dst->num_feature = src->num_feature;
	dst->outputs = src->outputs;
	dst->trees = src->trees;
	dst->tree_limit = src->tree_limit;
	dst->shap = forest_get(src->shap);
	dst->model = model_ref(src->model);
	if (!dst->name || !dst->version || (src->path && !dst->path) ||
	    (src->golden && !dst->golden)) {
		entry_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

static int keep_entry(struct build *b, const struct repo_entry *src)
{
	struct repo_entry *e = new_entry(b);

	if (!e || copy_entry(e, src) < 0) {
		if (e)
			b->n--;
		b->oom = true;
		return -ENOMEM;
	}
	return 0;
}

/* Tries a pin (a snapshot file) for cm. 0 or -errno; refusals are logged and indexed. */
static int try_pin(struct build *b, const struct conf_model *cm, const struct repo_pin *pin,
                   bool fallback)
{
	struct cand k = {
	    .cm = cm,
	    .version = pin->version ? pin->version : cm->version,
	    .path = pin->path,
	    .golden = pin->golden,
	    .sha256 = pin->sha256,
	    .pinned = true,
	    .fallback = fallback,
	};

	if (!pin->path) {
		refuse_model(b, cm, "the pin names no file");
		return -EINVAL;
	}
	return try_cand(b, &k);
}

/*
 * Builds the entry for one configured model, falling back to its current version (a
 * reload) or, at startup, to its fallback pin.
 */
static void build_model(struct build *b, const struct conf_model *cm)
{
	const struct repo_build_opts *o = b->o;
	const struct repo_pin *pin = o ? find_pin(o->pins, o->n_pins, b->pin_used, cm) : NULL;
	const struct repo_entry *old;
	int r;

	if (pin) {
		r = try_pin(b, cm, pin, false);
	} else if (cm->path) {
		struct cand k = {
		    .cm = cm, .version = cm->version, .path = cm->path, .golden = cm->golden};

		r = try_cand(b, &k);
	} else {
		r = build_from_repository(b, cm);
	}
	if (r == 0 || r == -ENOMEM)
		return;
	if (o && !o->current) {
		const struct repo_pin *fb =
		    find_pin(o->fallback, o->n_fallback, b->fallback_used, cm);

		/* The refusal that sent us here is what the caller reports if this fails too. */
		if (fb && try_pin(b, cm, fb, true) == 0)
			return;
		if (b->oom)
			return;
	}
	old = current_of(b, cm);
	if (old && keep_entry(b, old) == 0) {
		struct log_field f[] = {
		    {"MODEL", old->name},
		    {"MODEL_VERSION", old->version},
		    {"MODEL_SHA256", old->sha256},
		};

		log_fields(LOG_LVL_WARN, f, 3,
		           "model %s: nothing new passed validation, keeping version %s%s",
		           old->name, old->version, old->fallback ? " (last known good)" : "");
		if (old->fallback)
			index_add_fallback(b, old->name, old->version);
		else
			index_add(b, old->name, old->version, NULL, false);
		return;
	}
	if (!b->first)
		b->first = r;
}

/* Copies name's entries and index rows from the current set: an untouched model. */
static void copy_model(struct build *b, const char *name)
{
	const struct repo_set *cur = b->o->current;
	bool rows = false;
	size_t i;

	/* Several entries may share a name: copy once. */
	for (i = 0; i < b->index.n; i++)
		if (strcmp(b->index.v[i].name, name) == 0)
			return;
	for (size_t j = 0; j < b->n; j++)
		if (strcmp(b->v[j].name, name) == 0)
			return;
	for (i = 0; i < b->prev_index.n; i++) {
		const struct repo_index_row *it = &b->prev_index.v[i];

		if (strcmp(it->name, name) != 0)
			continue;
		rows = true;
		if (index_append(&b->index, it->name, it->version, it->reason, it->ready,
		                 it->refused) < 0)
			b->oom = true;
	}
	for (i = 0; i < cur->n; i++) {
		if (!cur->v[i].name || strcmp(cur->v[i].name, name) != 0)
			continue;
		if (keep_entry(b, &cur->v[i]) < 0)
			return;
		if (!rows)
			index_add(b, name, cur->v[i].version, NULL, false);
	}
}

/* Leaves name out; its current versions show as unloaded. */
static void drop_model(struct build *b, const char *name)
{
	const struct repo_set *cur = b->o->current;

	for (size_t i = 0; cur && i < cur->n; i++)
		if (cur->v[i].name && strcmp(cur->v[i].name, name) == 0)
			index_add(b, name, cur->v[i].version, "unloaded", false);
}

static bool configured(const struct conf *c, const char *name)
{
	return conf_find_model(c, name) != NULL;
}

static bool in_set(const struct repo_set *s, const char *name)
{
	return s && repo_find(s, name, NULL) != NULL;
}

/* Keeps one entry per (name, version): two config entries may land on the same version. */
static void dedupe(struct build *b)
{
	for (size_t i = 0; i < b->n; i++) {
		for (size_t j = i + 1; j < b->n;) {
			if (strcmp(b->v[i].name, b->v[j].name) != 0 ||
			    strcmp(b->v[i].version, b->v[j].version) != 0) {
				j++;
				continue;
			}
			log_notice("model %s version %s is configured twice; serving it once",
			           b->v[j].name, b->v[j].version);
			entry_clear(&b->v[j]);
			memmove(&b->v[j], &b->v[j + 1], (b->n - j - 1) * sizeof(b->v[j]));
			b->n--;
		}
	}
}

/*
 * One build: every configured model is tried (so one reload reports every problem), or
 * copied or dropped for a single load or unload; the index replaces the last build's even
 * when the build fails, so its refusals can be shown; see repo.h.
 */
int repo_build(const struct conf *c, const struct repo_build_opts *o, struct repo_set **out)
{
	const struct repo_set *cur = o ? o->current : NULL;
	struct build b;
	struct repo_set *s;
	int r;

	*out = NULL;
	if (!c)
		return -EINVAL;
	if (o && o->only && !configured(c, o->only))
		return -ENOENT;
	if (o && o->drop && !(cur ? in_set(cur, o->drop) : configured(c, o->drop)))
		return -ENOENT;
	memset(&b, 0, sizeof(b));
	b.c = c;
	b.o = o;
	if (o && o->n_pins) {
		b.pin_used = calloc(o->n_pins, sizeof(*b.pin_used));
		if (!b.pin_used) {
			build_free(&b);
			return -ENOMEM;
		}
	}
	if (o && !cur && o->n_fallback) {
		b.fallback_used = calloc(o->n_fallback, sizeof(*b.fallback_used));
		if (!b.fallback_used) {
			build_free(&b);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&repo_lock);
	r = index_copy(&b.prev_index, &last_index);
	pthread_mutex_unlock(&repo_lock);
	if (r == 0)
		r = resolve_roots(&b);
	if (r < 0) {
		build_free(&b);
		return r;
	}
	/* Every model is tried, so one reload reports every problem, not only the first. */
	for (size_t i = 0; i < c->n_models && !b.oom; i++) {
		const struct conf_model *cm = &c->models[i];

		if (o && o->drop && strcmp(cm->name, o->drop) == 0)
			drop_model(&b, cm->name);
		/* An unload or a single load leaves every other model as it is served. */
		else if (cur && ((o->only && strcmp(cm->name, o->only) != 0) || o->drop))
			copy_model(&b, cm->name);
		else
			build_model(&b, cm);
	}
	dedupe(&b);
	if (b.oom) {
		build_free(&b);
		return -ENOMEM;
	}
	pthread_mutex_lock(&repo_lock);
	index_clear(&last_index);
	last_index = b.index;
	pthread_mutex_unlock(&repo_lock);
	memset(&b.index, 0, sizeof(b.index));
	if (b.first) {
		r = b.first;
		build_free(&b);
		return r;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		build_free(&b);
		return -ENOMEM;
	}
	s->v = b.v;
	s->n = b.n;
	b.v = NULL;
	b.n = 0;
	build_free(&b);
	*out = s;
	return 0;
}

int repo_index_get(struct repo_index *out)
{
	int r;

	pthread_mutex_lock(&repo_lock);
	r = index_copy(out, &last_index);
	pthread_mutex_unlock(&repo_lock);
	return r;
}

void repo_index_free(struct repo_index *ix)
{
	if (ix)
		index_clear(ix);
}

void repo_publish(struct repo_set *s)
{
	struct repo_set *old;
	int drop = 0;

	pthread_mutex_lock(&repo_lock);
	old = current;
	current = s;
	if (s)
		s->refs = 1; /* the repo's own reference */
	if (old && --old->refs == 0)
		drop = 1;
	pthread_mutex_unlock(&repo_lock);
	if (drop)
		repo_set_free(old);
}

struct repo_set *repo_acquire(void)
{
	struct repo_set *s;

	pthread_mutex_lock(&repo_lock);
	s = current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&repo_lock);
	return s;
}

void repo_release(struct repo_set *s)
{
	int drop;

	if (!s)
		return;
	pthread_mutex_lock(&repo_lock);
	drop = --s->refs == 0;
	pthread_mutex_unlock(&repo_lock);
	if (drop)
		repo_set_free(s);
}

const struct repo_entry *repo_find(const struct repo_set *s, const char *name, const char *version)
{
	const struct repo_entry *best = NULL;

	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct repo_entry *e = &s->v[i];

		if (!e->name || strcmp(e->name, name) != 0)
			continue;
		if (version) {
			if (strcmp(e->version, version) == 0)
				return e;
			continue;
		}
		if (!best || version_num(e->version) > version_num(best->version))
			best = e;
	}
	return best;
}
