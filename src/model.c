/* model.c: XGBoost JSON/UBJSON model loader and the flat-array predictor. */
#include "model.h"

#include "jsonx.h"
#include "util.h"
#include "tree.h"
#include "ubjson.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_FILE_BYTES ((size_t)256 << 20)
#define DEFAULT_MAX_TREES      100000
#define DEFAULT_MAX_DEPTH      64
/* XGBoost's documents nest about eight levels; anything far deeper is not a model. */
#define MODEL_JSON_DEPTH 64
#define MAX_NUM_FEATURE  0x7fffffffu
/*
 * A hard sanity cap on learner_model_param.num_class. Every row's output holds num_class
 * floats, so this (together with one tree per class, see load_trees()) keeps a corrupt or
 * hostile count from turning each request into a huge allocation. Generous: XGBoost
 * trains one tree per class and round, so a model near the cap is already enormous.
 */
#define MAX_NUM_CLASS   65536u
#define MAX_TOTAL_NODES 0x7ffffffeu
/*
 * Categorical sets are bitsets as long as the largest category in them (up to 2^24 bits,
 * 2 MiB, for one node): a cap on their total (16 MiB) keeps a small hostile file from
 * claiming a huge category in every node.
 */
#define MAX_CAT_WORDS ((size_t)1 << 22)
/* The sklearn wrapper's metadata (a JSON string inside the model) nests a few levels. */
#define SKLEARN_JSON_DEPTH 16
/* Rows per block; also the number of (row, tree) walks advanced in lockstep, which lets the
 * CPU overlap their dependent loads instead of waiting on one walk at a time. */
#define BLOCK_ROWS 32
#define WIDE_LANES 32

#define NODE_DEFAULT_LEFT 0x80000000u
#define NODE_FID_MASK     0x7fffffffu

/*
 * The compact predictor advances LANES independent walks together (LANES trees for one row,
 * or LANES rows through one tree), so their chains of dependent loads overlap.
 * Its layout (struct cnode) keeps a key slot times LANES in 16 bits and a child
 * offset in 16 bits: it serves models up to CNODE_MAX_FEATURE features whose trees never
 * place a left child more than 65535 nodes after its parent. Keys of LANES rows are
 * interleaved (slot-major, then row), and one such group, (2 * F + 1) * LANES uint32, fits
 * KEY_BUF, a stack buffer, so predicting never allocates.
 */
#define LANES             8
#define CNODE_MAX_FEATURE 1023u
#define CNODE_MAX_OFFSET  0xffffu
#define KEY_BUF           ((2 * CNODE_MAX_FEATURE + 1) * LANES)
/* Rows whose keys are built at once in the compact path (fewer when F is large). */
#define KEY_ROWS 64

/*
 * One node of the flattened forest; 16 bytes, so a node never straddles a cache line.
 * Internal nodes: left is the absolute index of the left child, the right child is at
 * left + 1. Leaves point at themselves with a NaN threshold and default-left set, which
 * always "goes left": a walk may take more steps than the leaf's depth and stay put, so
 * every walk in a tree runs the tree's full depth without testing for leaves.
 */
struct node {
	uint32_t left;
	uint32_t fid_dl;
	float threshold;
	float leaf; /* leaf value, already scaled by the dart weight */
};

/*
 * One node of the compact forest, 8 bytes. Comparisons are made on unsigned keys: a row's
 * value x becomes key(x), a uint32 ordered as the floats are (-0 and +0 alike), stored in
 * two slots: one where NaN is UINT32_MAX (always right; default-right nodes read it) and
 * one where NaN is 0 (always left; default-left nodes read it). An internal node holds
 * key(threshold) - 1, so "go right" is the single test key > val, and a step is
 * node += off + (key > val): a compare and an add-with-carry. A leaf has slot 0, always
 * key 0, which is never > val, and off 0, so it loops on itself; its val holds the leaf
 * value's bits (dart weight folded in).
 */
struct cnode {
	uint32_t val;
	uint16_t slot; /* key slot times LANES */
	uint16_t off;  /* left child - this node; 0 for a leaf */
};

enum margin_kind { PTM_IDENTITY, PTM_LOGIT, PTM_LOG };
enum transform_kind { TR_NONE, TR_SIGMOID, TR_HINGE, TR_EXP, TR_SOFTPROB, TR_SOFTMAX };

struct objective_def {
	const char *name;
	enum margin_kind ptm;
	enum transform_kind tr;
	bool multi;
};

/* The objectives whose prediction transform and base_score link we reproduce exactly. */
static const struct objective_def objectives[] = {
    {"binary:logistic", PTM_LOGIT, TR_SIGMOID, false},
    /* XGBoost's logitraw keeps base_score as a margin, unlike the other logistic kinds. */
    {"binary:logitraw", PTM_IDENTITY, TR_NONE, false},
    {"binary:hinge", PTM_IDENTITY, TR_HINGE, false},
    {"reg:squarederror", PTM_IDENTITY, TR_NONE, false},
    {"reg:linear", PTM_IDENTITY, TR_NONE, false},
    {"reg:squaredlogerror", PTM_IDENTITY, TR_NONE, false},
    {"reg:logistic", PTM_LOGIT, TR_SIGMOID, false},
    {"reg:pseudohubererror", PTM_IDENTITY, TR_NONE, false},
    {"reg:absoluteerror", PTM_IDENTITY, TR_NONE, false},
    {"count:poisson", PTM_LOG, TR_EXP, false},
    {"reg:gamma", PTM_LOG, TR_EXP, false},
    {"reg:tweedie", PTM_LOG, TR_EXP, false},
    {"multi:softprob", PTM_IDENTITY, TR_SOFTPROB, true},
    {"multi:softmax", PTM_IDENTITY, TR_SOFTMAX, true},
    /* Cox and AFT: std::log(base_score) and exp(margin) in float (aft_obj.cu, regression_obj.cu).
     */
    {"survival:cox", PTM_LOG, TR_EXP, false},
    {"survival:aft", PTM_LOG, TR_EXP, false},
    /* The LambdaRank objectives keep ObjFunction's identity PredTransform and ProbToMargin. */
    {"rank:pairwise", PTM_IDENTITY, TR_NONE, false},
    {"rank:ndcg", PTM_IDENTITY, TR_NONE, false},
    {"rank:map", PTM_IDENTITY, TR_NONE, false},
};

enum booster_kind { BOOSTER_TREES, BOOSTER_LINEAR };

struct model {
	atomic_size_t refs;
	struct model_info info;
	enum booster_kind kind;
	enum transform_kind tr;
	uint32_t num_feature;
	uint32_t num_group;
	float *base_margin;    /* num_group margins every row starts from */
	struct node *nodes;    /* the general layout, or NULL when cnodes serves */
	struct cnode *cnodes;  /* the compact layout, when the model fits it */
	uint32_t *roots;       /* tree roots, ordered by output group then by file order */
	uint32_t *depths;      /* depth of each tree in roots */
	uint32_t *span_depth;  /* deepest of roots[t .. t + LANES - 1] within t's group */
	size_t *group_start;   /* num_group + 1 offsets into roots */
	float *linear_weights; /* gblinear: (num_feature + 1) * num_group */
	/*
	 * The trees in XGBoost's numbering (tree.h), file order, over the v_* arrays: what
	 * TreeSHAP reads, and what the predictor walks when some split is categorical
	 * (categorical is set, nodes and cnodes are NULL).
	 */
	struct tree *trees;
	uint32_t *tree_group; /* output group of each tree, file order */
	float *tree_weight;   /* dart's weight_drop, file order; NULL for gbtree */
	uint32_t *order;      /* file index of each entry of roots (ascending per group) */
	bool categorical;
	int32_t *v_left, *v_right;
	uint32_t *v_fid;
	float *v_cond, *v_hess;
	uint8_t *v_dl, *v_st;
	uint32_t *v_coff, *v_clen, *v_cbits;
	char **feature_names; /* num_feature strings, or NULL */
	char **feature_types; /* num_feature strings, or NULL */
	double *classes;      /* info.num_classes labels, or NULL */
	char booster[16];
	char objective[64];
	char version[48];
};

static json_t *get_member(json_t *obj, const char *key, json_type type, const char *where, int *rc,
                          char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		*rc = util_fail(err, errlen, -EINVAL, "missing %s.%s", where, key);
		return NULL;
	}
	if (json_typeof(v) != type) {
		*rc = util_fail(err, errlen, -EINVAL, "%s.%s has the wrong type", where, key);
		return NULL;
	}
	return v;
}

/* XGBoost writes integer parameters as decimal strings ("30"); plain integers also pass. */
static int param_uint(json_t *obj, const char *key, bool required, uint64_t max, uint64_t *out,
                      const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			return util_fail(err, errlen, -EINVAL, "missing %s.%s", where, key);
		return 1;
	}
	uint64_t x;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return util_fail(err, errlen, -EINVAL, "%s.%s is negative", where, key);
		x = (uint64_t)i;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (*s < '0' || *s > '9')
			return util_fail(err, errlen, -EINVAL,
			                 "%s.%s is not a non-negative integer", where, key);
		errno = 0;
		unsigned long long u = strtoull(s, &end, 10);
		if (errno || *end)
			return util_fail(err, errlen, -EINVAL,
			                 "%s.%s is not a non-negative integer", where, key);
		x = u;
	} else {
		return util_fail(err, errlen, -EINVAL, "%s.%s has the wrong type", where, key);
	}
	if (x > max)
		return util_fail(err, errlen, -EINVAL, "%s.%s = %llu is out of range (max %llu)",
		                 where, key, (unsigned long long)x, (unsigned long long)max);
	*out = x;
	return 0;
}

/*
 * base_score is "5E-1" in 1.7 and "[5E-1]" (a vector) in later releases. It is read as
 * float directly, as XGBoost does, so that no double rounding creeps in.
 */
static int parse_base_score(json_t *v, uint32_t ngroup, float *out, char *err, size_t errlen)
{
	if (json_is_number(v)) {
		for (uint32_t g = 0; g < ngroup; g++)
			out[g] = (float)json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return util_fail(err, errlen, -EINVAL,
		                 "learner_model_param.base_score has the wrong type");
	const char *s = json_string_value(v);
	bool bracket = false;
	while (*s == ' ')
		s++;
	if (*s == '[') {
		bracket = true;
		s++;
	}
	size_t n = 0;
	for (;;) {
		char *end;
		while (*s == ' ')
			s++;
		errno = 0;
		float f = strtof(s, &end);
		if (end == s || errno == ERANGE)
			goto bad;
		if (n < ngroup)
			out[n] = f;
		n++;
		s = end;
		while (*s == ' ')
			s++;
		if (bracket && *s == ',') {
			s++;
			continue;
		}
		break;
	}
	if (bracket) {
		if (*s != ']')
			goto bad;
		s++;
	}
	while (*s == ' ')
		s++;
	if (*s)
		goto bad;
	if (n == 1) {
		for (uint32_t g = 1; g < ngroup; g++)
			out[g] = out[0];
	} else if (n != ngroup) {
		return util_fail(
		    err, errlen, -EINVAL,
		    "learner_model_param.base_score has %zu values for %u output groups "
		    "(1 or num_class are accepted)",
		    n, ngroup);
	}
	return 0;
bad:
	return util_fail(err, errlen, -EINVAL,
	                 "learner_model_param.base_score is not a number: \"%.40s\"",
	                 json_string_value(v));
}

/* The objective's ProbToMargin, in float as XGBoost computes it. */
static int base_to_margin(enum margin_kind k, float b, float *out, char *err, size_t errlen)
{
	switch (k) {
	case PTM_LOGIT:
		if (!(b > 0.0f && b < 1.0f))
			return util_fail(err, errlen, -EINVAL,
			                 "base_score %g must be in (0, 1) for a logistic objective",
			                 (double)b);
		*out = -logf(1.0f / b - 1.0f);
		return 0;
	case PTM_LOG:
		if (!(b > 0.0f) || isinf(b))
			return util_fail(err, errlen, -EINVAL,
			                 "base_score %g must be positive for a log-link objective",
			                 (double)b);
		*out = logf(b);
		return 0;
	case PTM_IDENTITY:
		break;
	}
	if (!isfinite(b))
		return util_fail(err, errlen, -EINVAL, "base_score is not finite");
	*out = b;
	return 0;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* Per-tree scratch, sized for the largest tree seen so far. */
struct scratch {
	size_t cap;
	int64_t *left, *right, *fid;
	float *cond, *hess;
	uint8_t *dl, *st;
	uint8_t *seen;
	uint32_t *queue;
	uint32_t *depth;
};

static void scratch_free(struct scratch *s)
{
	free(s->left);
	free(s->right);
	free(s->fid);
	free(s->cond);
	free(s->hess);
	free(s->dl);
	free(s->st);
	free(s->seen);
	free(s->queue);
	free(s->depth);
	memset(s, 0, sizeof(*s));
}

static int scratch_reserve(struct scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	scratch_free(s);
	s->left = malloc(n * sizeof(*s->left));
	s->right = malloc(n * sizeof(*s->right));
	s->fid = malloc(n * sizeof(*s->fid));
	s->cond = malloc(n * sizeof(*s->cond));
	s->hess = malloc(n * sizeof(*s->hess));
	s->dl = malloc(n);
	s->st = malloc(n);
	s->seen = malloc(n);
	s->queue = malloc(n * sizeof(*s->queue));
	s->depth = malloc(n * sizeof(*s->depth));
	if (!s->left || !s->right || !s->fid || !s->cond || !s->hess || !s->dl || !s->st ||
	    !s->seen || !s->queue || !s->depth) {
		scratch_free(s);
		return -ENOMEM;
	}
	s->cap = n;
	return 0;
}

static json_t *node_array(json_t *tree, const char *key, size_t n, size_t t, int *rc, char *err,
                          size_t errlen)
{
	json_t *a = json_object_get(tree, key);
	if (!a || !json_is_array(a)) {
		*rc = util_fail(err, errlen, -EINVAL, "tree %zu: %s is %s", t, key,
		                a ? "not an array" : "missing");
		return NULL;
	}
	if (json_array_size(a) != n) {
		*rc = util_fail(err, errlen, -EINVAL,
		                "tree %zu: %s has %zu entries, num_nodes is %zu", t, key,
		                json_array_size(a), n);
		return NULL;
	}
	return a;
}

static int read_int_array(json_t *a, int64_t *out, size_t t, const char *key, char *err,
                          size_t errlen)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (json_is_integer(v))
			out[i] = json_integer_value(v);
		else if (json_is_boolean(v))
			out[i] = json_is_true(v);
		else
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: %s[%zu] is %s, not an integer", t, key, i,
			                 json_kind(v));
	}
	return 0;
}

/* A JSON array of integers at tree.key, or NULL (no error) when the key is absent. */
static int cat_array(json_t *tree, const char *key, size_t t, json_t **out, char *err,
                     size_t errlen)
{
	json_t *a = json_object_get(tree, key);
	*out = NULL;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return util_fail(err, errlen, -EINVAL, "tree %zu: %s is not an array", t, key);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v))
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: %s[%zu] is not an integer", t, key, i);
	}
	*out = a;
	return 0;
}

/*
 * The views (tree.h) and the build of the whole forest: the raw arrays of every tree in
 * file order, appended as each tree is read; tree t's nodes start at vbase[t].
 */
struct forest_build {
	struct node *nodes;
	size_t nnodes, cap;
	uint32_t *roots; /* in file order */
	uint32_t *depths;
	struct scratch s;
	size_t vn, vcap; /* view nodes so far and room */
	int32_t *left, *right;
	uint32_t *fid;
	float *cond, *hess;
	uint8_t *dl, *st;
	uint32_t *coff, *clen;
	uint32_t *cbits;
	size_t ncbits, cbits_cap;
	size_t *vbase;
	uint8_t *tree_cat; /* tree t has a categorical split */
	bool any_cat;
};

static void *grow(void *p, size_t n, size_t size, bool *ok)
{
	void *q = realloc(p, n * size);
	if (!q) {
		*ok = false;
		return p;
	}
	return q;
}

static int views_reserve(struct forest_build *fb, size_t n)
{
	if (fb->vn + n <= fb->vcap)
		return 0;
	size_t cap = fb->vcap ? fb->vcap : 1024;
	while (cap < fb->vn + n)
		cap *= 2;
	bool ok = true;
	fb->left = grow(fb->left, cap, sizeof(*fb->left), &ok);
	fb->right = grow(fb->right, cap, sizeof(*fb->right), &ok);
	fb->fid = grow(fb->fid, cap, sizeof(*fb->fid), &ok);
	fb->cond = grow(fb->cond, cap, sizeof(*fb->cond), &ok);
	fb->hess = grow(fb->hess, cap, sizeof(*fb->hess), &ok);
	fb->dl = grow(fb->dl, cap, 1, &ok);
	fb->st = grow(fb->st, cap, 1, &ok);
	fb->coff = grow(fb->coff, cap, sizeof(*fb->coff), &ok);
	fb->clen = grow(fb->clen, cap, sizeof(*fb->clen), &ok);
	if (!ok)
		return -ENOMEM;
	fb->vcap = cap;
	return 0;
}

/*
 * Reads tree t's split_type and categorical sets into the views at vb, as XGBoost's
 * RegTree::LoadCategoricalSplit does: categories_nodes (ascending node ids) names the
 * nodes with a set; categories[segments[k] .. + sizes[k]) are node k's categories, which
 * become a bitset just long enough for the largest (bit c = category c goes right).
 */
static int read_categories(struct forest_build *fb, json_t *tree, size_t n, size_t t, size_t vb,
                           bool *has_cat, char *err, size_t errlen)
{
	struct scratch *s = &fb->s;
	json_t *st, *nodes, *segs, *sizes, *cats;
	int rc;
	*has_cat = false;
	memset(s->st, 0, n);
	if ((rc = cat_array(tree, "split_type", t, &st, err, errlen)) < 0 ||
	    (rc = cat_array(tree, "categories_nodes", t, &nodes, err, errlen)) < 0 ||
	    (rc = cat_array(tree, "categories_segments", t, &segs, err, errlen)) < 0 ||
	    (rc = cat_array(tree, "categories_sizes", t, &sizes, err, errlen)) < 0 ||
	    (rc = cat_array(tree, "categories", t, &cats, err, errlen)) < 0)
		return rc;
	if (st) {
		if (json_array_size(st) != n)
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: split_type has %zu entries, num_nodes is %zu",
			                 t, json_array_size(st), n);
		for (size_t i = 0; i < n; i++) {
			json_int_t v = json_integer_value(json_array_get(st, i));
			if (v != 0 && v != 1)
				return util_fail(
				    err, errlen, -EINVAL,
				    "tree %zu: split_type[%zu] = %lld is neither 0 (numerical) "
				    "nor 1 (categorical)",
				    t, i, (long long)v);
			s->st[i] = (uint8_t)v;
			if (v)
				*has_cat = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		fb->coff[vb + i] = fb->clen[vb + i] = 0;
	size_t k = nodes ? json_array_size(nodes) : 0;
	if (k == 0)
		return 0;
	if (!segs || !sizes || !cats || json_array_size(segs) != k || json_array_size(sizes) != k)
		return util_fail(
		    err, errlen, -EINVAL,
		    "tree %zu: categories_nodes, categories_segments and categories_sizes "
		    "must have the same length (and categories must be present)",
		    t);
	size_t ncat = json_array_size(cats);
	json_int_t prev = -1;
	for (size_t j = 0; j < k; j++) {
		json_int_t node = json_integer_value(json_array_get(nodes, j));
		json_int_t beg = json_integer_value(json_array_get(segs, j));
		json_int_t cnt = json_integer_value(json_array_get(sizes, j));
		if (node <= prev || (uint64_t)node >= n)
			return util_fail(
			    err, errlen, -EINVAL,
			    "tree %zu: categories_nodes[%zu] = %lld is out of order or range", t, j,
			    (long long)node);
		prev = node;
		if (beg < 0 || cnt <= 0 || (uint64_t)beg > ncat ||
		    (uint64_t)cnt > ncat - (size_t)beg)
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: node %lld's categories [%lld, +%lld) are not a "
			                 "non-empty range of categories (%zu entries)",
			                 t, (long long)node, (long long)beg, (long long)cnt, ncat);
		json_int_t max = 0;
		for (json_int_t c = beg; c < beg + cnt; c++) {
			json_int_t v = json_integer_value(json_array_get(cats, (size_t)c));
			if (v < 0 || v >= (json_int_t)TREE_MAX_CAT)
				return util_fail(
				    err, errlen, -EINVAL,
				    "tree %zu: category %lld is out of range (0 .. 2^24 - 1)", t,
				    (long long)v);
			if (v > max)
				max = v;
		}
		size_t words = ((size_t)max + 1 + 31) / 32;
		if (fb->ncbits + words > MAX_CAT_WORDS)
			return util_fail(err, errlen, -EFBIG,
			                 "tree %zu: categorical sets need more than %zu words", t,
			                 MAX_CAT_WORDS);
		if (fb->ncbits + words > fb->cbits_cap) {
			size_t cap = fb->cbits_cap ? fb->cbits_cap : 256;
			while (cap < fb->ncbits + words)
				cap *= 2;
			bool ok = true;
			fb->cbits = grow(fb->cbits, cap, sizeof(*fb->cbits), &ok);
			if (!ok)
				return util_fail(err, errlen, -ENOMEM, "out of memory");
			fb->cbits_cap = cap;
		}
		uint32_t *bits = fb->cbits + fb->ncbits;
		memset(bits, 0, words * sizeof(*bits));
		for (json_int_t c = beg; c < beg + cnt; c++) {
			uint32_t v = (uint32_t)json_integer_value(json_array_get(cats, (size_t)c));
			bits[v / 32] |= 1u << (v % 32);
		}
		fb->coff[vb + (size_t)node] = (uint32_t)fb->ncbits;
		fb->clen[vb + (size_t)node] = (uint32_t)words;
		fb->ncbits += words;
	}
	return 0;
}

/*
 * Validates one tree and appends it breadth-first so that siblings are adjacent. Nodes not
 * reachable from the root (XGBoost's pruned, "deleted" nodes) are dropped.
 */
static int add_tree(struct forest_build *fb, json_t *tree, size_t t, uint32_t num_feature,
                    unsigned max_depth, float scale, bool scaled, char *err, size_t errlen)
{
	int rc = 0;
	if (!json_is_object(tree))
		return util_fail(err, errlen, -EINVAL, "tree %zu is not an object", t);
	json_t *tp = json_object_get(tree, "tree_param");
	if (!tp || !json_is_object(tp))
		return util_fail(err, errlen, -EINVAL,
		                 "tree %zu: tree_param is missing or not an object", t);
	uint64_t n, slv = 0;
	rc = param_uint(tp, "num_nodes", true, INT32_MAX, &n, "tree_param", err, errlen);
	if (rc < 0)
		return rc;
	if (n == 0)
		return util_fail(err, errlen, -EINVAL, "tree %zu has no nodes", t);
	rc = param_uint(tp, "size_leaf_vector", false, UINT32_MAX, &slv, "tree_param", err, errlen);
	if (rc < 0)
		return rc;
	/* 1.7 writes 0 and 2.x writes 1 for scalar leaves; more is a vector-leaf tree. */
	if (slv > 1)
		return util_fail(
		    err, errlen, -ENOTSUP,
		    "tree %zu: multi-target trees (size_leaf_vector %llu) are not supported", t,
		    (unsigned long long)slv);
	json_t *al = node_array(tree, "left_children", n, t, &rc, err, errlen);
	json_t *ar = al ? node_array(tree, "right_children", n, t, &rc, err, errlen) : NULL;
	json_t *af = ar ? node_array(tree, "split_indices", n, t, &rc, err, errlen) : NULL;
	json_t *ac = af ? node_array(tree, "split_conditions", n, t, &rc, err, errlen) : NULL;
	json_t *ad = ac ? node_array(tree, "default_left", n, t, &rc, err, errlen) : NULL;
	if (!ad)
		return rc;
	if (scratch_reserve(&fb->s, n) < 0 || views_reserve(fb, n) < 0)
		return util_fail(err, errlen, -ENOMEM, "out of memory");
	struct scratch *s = &fb->s;
	size_t vb = fb->vn;
	bool has_cat;
	if ((rc = read_categories(fb, tree, n, t, vb, &has_cat, err, errlen)) < 0)
		return rc;
	/* Each node's cover, for TreeSHAP; XGBoost always writes it, older tools may not. */
	json_t *ah = json_object_get(tree, "sum_hessian");
	if (ah && !(ah = node_array(tree, "sum_hessian", n, t, &rc, err, errlen)))
		return rc;
	if ((rc = read_int_array(al, s->left, t, "left_children", err, errlen)) < 0 ||
	    (rc = read_int_array(ar, s->right, t, "right_children", err, errlen)) < 0 ||
	    (rc = read_int_array(af, s->fid, t, "split_indices", err, errlen)) < 0)
		return rc;
	size_t i;
	json_t *v;
	json_array_foreach(ac, i, v)
	{
		double d;
		if (jsonx_number(v, &d) < 0)
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: split_conditions[%zu] is %s, not a number", t,
			                 i, json_kind(v));
		s->cond[i] = (float)d;
	}
	for (i = 0; i < n; i++) {
		double d = 0.0;
		if (ah && jsonx_number(json_array_get(ah, i), &d) < 0)
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: sum_hessian[%zu] is not a number", t, i);
		s->hess[i] = (float)d;
	}
	json_array_foreach(ad, i, v)
	{
		if (json_is_boolean(v))
			s->dl[i] = json_is_true(v);
		else if (json_is_integer(v) &&
		         (json_integer_value(v) == 0 || json_integer_value(v) == 1))
			s->dl[i] = (uint8_t)json_integer_value(v);
		else
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: default_left[%zu] is not 0 or 1", t, i);
	}

	if (fb->nnodes + n > MAX_TOTAL_NODES)
		return util_fail(err, errlen, -EFBIG, "model has more than %u nodes",
		                 MAX_TOTAL_NODES);
	if (fb->nnodes + n > fb->cap) {
		size_t cap = fb->cap ? fb->cap : 1024;
		while (cap < fb->nnodes + n)
			cap *= 2;
		struct node *p = realloc(fb->nodes, cap * sizeof(*p));
		if (!p)
			return util_fail(err, errlen, -ENOMEM, "out of memory");
		fb->nodes = p;
		fb->cap = cap;
	}

	memset(s->seen, 0, n);
	size_t base = fb->nnodes, head = 0, tail = 1;
	uint32_t tree_depth = 0;
	s->queue[0] = 0;
	s->depth[0] = 0;
	s->seen[0] = 1;
	while (head < tail) {
		uint32_t old = s->queue[head];
		struct node *out = &fb->nodes[base + head];
		head++;
		int64_t l = s->left[old], r = s->right[old];
		if (l == -1) {
			if (r != -1)
				return util_fail(
				    err, errlen, -EINVAL,
				    "tree %zu: node %u has a right child but no left child", t,
				    old);
			out->left = (uint32_t)(base + head - 1);
			out->fid_dl = NODE_DEFAULT_LEFT;
			out->threshold = NAN;
			/* As dart does: the tree's output (0 + leaf) times its weight, in float. */
			out->leaf = scaled ? (0.0f + s->cond[old]) * scale : s->cond[old];
			if (s->depth[old] > tree_depth)
				tree_depth = s->depth[old];
			continue;
		}
		if (l <= 0 || (uint64_t)l >= n || r <= 0 || (uint64_t)r >= n)
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: node %u has a child index out of range", t,
			                 old);
		if (l == r || s->seen[l] || s->seen[r])
			return util_fail(
			    err, errlen, -EINVAL,
			    "tree %zu: node %lld is reached twice (cycle or shared node)", t,
			    (long long)(s->seen[l] || l == r ? l : r));
		if (s->fid[old] < 0 || (uint64_t)s->fid[old] >= num_feature)
			return util_fail(
			    err, errlen, -EINVAL,
			    "tree %zu: node %u splits on feature %lld, num_feature is %u", t, old,
			    (long long)s->fid[old], num_feature);
		if (isnan(s->cond[old]) && !s->st[old])
			return util_fail(err, errlen, -EINVAL,
			                 "tree %zu: node %u has a NaN split condition", t, old);
		uint32_t d = s->depth[old] + 1;
		if (d > max_depth)
			return util_fail(err, errlen, -EFBIG,
			                 "tree %zu is deeper than the limit of %u", t, max_depth);
		s->seen[l] = s->seen[r] = 1;
		s->depth[l] = s->depth[r] = d;
		out->left = (uint32_t)(base + tail);
		out->fid_dl = (uint32_t)s->fid[old] | (s->dl[old] ? NODE_DEFAULT_LEFT : 0);
		/* Categorical nodes are walked through the views; the layout only holds a place. */
		out->threshold = s->st[old] ? 0.0f : s->cond[old];
		out->leaf = 0.0f;
		s->queue[tail++] = (uint32_t)l;
		s->queue[tail++] = (uint32_t)r;
	}
	/* The views keep XGBoost's numbering; unreachable (deleted) nodes become leaves. */
	for (i = 0; i < n; i++) {
		bool live = s->seen[i];
		bool leaf = !live || s->left[i] == -1;
		fb->left[vb + i] = leaf ? -1 : (int32_t)s->left[i];
		fb->right[vb + i] = leaf ? -1 : (int32_t)s->right[i];
		fb->fid[vb + i] = leaf ? 0 : (uint32_t)s->fid[i];
		fb->cond[vb + i] = live ? s->cond[i] : 0.0f;
		fb->hess[vb + i] = s->hess[i];
		fb->dl[vb + i] = s->dl[i];
		fb->st[vb + i] = leaf ? 0 : s->st[i];
	}
	fb->vn += n;
	fb->vbase[t] = vb;
	fb->tree_cat[t] = has_cat;
	if (has_cat)
		fb->any_cat = true;
	fb->roots[t] = (uint32_t)base;
	fb->depths[t] = tree_depth;
	fb->nnodes += tail;
	return 0;
}

/* A float's bits as a uint32 ordered as the floats are; -0 and +0 alike. Not for NaN. */
static inline uint32_t float_key(float x)
{
	uint32_t b;
	memcpy(&b, &x, sizeof(b));
	uint32_t mag = b & 0x7fffffffu;
	return b >> 31 ? 0x80000000u - mag : 0x80000000u + mag;
}

/*
 * Re-lays the forest in the compact layout when it fits (see struct cnode); otherwise, or
 * without the memory, the general layout stays and serves.
 */
static void compact_forest(struct model *m, size_t nnodes)
{
	uint32_t F = m->num_feature;
	if (!nnodes || F > CNODE_MAX_FEATURE)
		return;
	struct cnode *c = malloc(nnodes * sizeof(*c));
	if (!c)
		return;
	for (size_t i = 0; i < nnodes; i++) {
		const struct node *nd = &m->nodes[i];
		if (nd->left == i) {
			memcpy(&c[i].val, &nd->leaf, sizeof(c[i].val));
			c[i].slot = 0;
			c[i].off = 0;
			continue;
		}
		size_t off = nd->left - i;
		if (off > CNODE_MAX_OFFSET) {
			free(c);
			return;
		}
		uint32_t fid = nd->fid_dl & NODE_FID_MASK;
		uint32_t slot = 1 + fid + (nd->fid_dl & NODE_DEFAULT_LEFT ? F : 0);
		/* Thresholds are never NaN: key - 1 stays above 0 and below UINT32_MAX. */
		c[i].val = float_key(nd->threshold) - 1;
		c[i].slot = (uint16_t)(slot * LANES);
		c[i].off = (uint16_t)off;
	}
	free(m->nodes);
	m->nodes = NULL;
	m->cnodes = c;
}

static int load_trees(struct model *m, json_t *gb, bool dart, const struct model_limits *lim,
                      char *err, size_t errlen)
{
	int rc = 0;
	json_t *holder = gb;
	if (dart) {
		holder =
		    get_member(gb, "gbtree", JSON_OBJECT, "gradient_booster", &rc, err, errlen);
		if (!holder)
			return rc;
	}
	json_t *model =
	    get_member(holder, "model", JSON_OBJECT, "gradient_booster", &rc, err, errlen);
	if (!model)
		return rc;
	json_t *trees = get_member(model, "trees", JSON_ARRAY, "model", &rc, err, errlen);
	json_t *info =
	    trees ? get_member(model, "tree_info", JSON_ARRAY, "model", &rc, err, errlen) : NULL;
	json_t *param =
	    info ? get_member(model, "gbtree_model_param", JSON_OBJECT, "model", &rc, err, errlen)
	         : NULL;
	if (!param)
		return rc;
	size_t ntrees = json_array_size(trees);
	if (ntrees > lim->max_trees)
		return util_fail(err, errlen, -EFBIG, "model has %zu trees, the limit is %zu",
		                 ntrees, lim->max_trees);
	uint64_t declared, slv = 0;
	rc = param_uint(param, "num_trees", true, UINT32_MAX, &declared, "gbtree_model_param", err,
	                errlen);
	if (rc < 0)
		return rc;
	if (declared != ntrees)
		return util_fail(err, errlen, -EINVAL,
		                 "gbtree_model_param.num_trees is %llu but %zu trees",
		                 (unsigned long long)declared, ntrees);
	rc = param_uint(param, "size_leaf_vector", false, UINT32_MAX, &slv, "gbtree_model_param",
	                err, errlen);
	if (rc < 0)
		return rc;
	if (slv > 1)
		return util_fail(err, errlen, -ENOTSUP, "multi-target trees are not supported");
	uint64_t npt = 1;
	rc = param_uint(param, "num_parallel_tree", false, UINT32_MAX, &npt, "gbtree_model_param",
	                err, errlen);
	if (rc < 0)
		return rc;
	m->info.num_parallel_tree = npt ? (size_t)npt : 1;
	if (json_array_size(info) != ntrees)
		return util_fail(err, errlen, -EINVAL, "tree_info has %zu entries for %zu trees",
		                 json_array_size(info), ntrees);
	/*
	 * XGBoost grows one tree per class in every round, so a real multi-class model has at
	 * least num_class trees. Requiring it ties the output width (num_class floats per row)
	 * to what the file itself paid for, instead of to a number it merely claims.
	 */
	uint32_t G = m->num_group;
	if (G > 1 && ntrees < G)
		return util_fail(
		    err, errlen, -EINVAL,
		    "learner_model_param.num_class is %u but the model has %zu trees: a "
		    "multi-class tree model needs at least one tree per class "
		    "(num_class <= num_trees)",
		    G, ntrees);
	json_t *wd = NULL;
	if (dart) {
		wd =
		    get_member(gb, "weight_drop", JSON_ARRAY, "gradient_booster", &rc, err, errlen);
		if (!wd)
			return rc;
		if (json_array_size(wd) != ntrees)
			return util_fail(err, errlen, -EINVAL,
			                 "weight_drop has %zu entries for %zu trees",
			                 json_array_size(wd), ntrees);
	}

	uint32_t *group = malloc((ntrees ? ntrees : 1) * sizeof(*group));
	struct forest_build fb = {0};
	fb.roots = malloc((ntrees ? ntrees : 1) * sizeof(*fb.roots));
	fb.depths = malloc((ntrees ? ntrees : 1) * sizeof(*fb.depths));
	fb.vbase = malloc((ntrees ? ntrees : 1) * sizeof(*fb.vbase));
	fb.tree_cat = malloc(ntrees ? ntrees : 1);
	m->group_start = calloc((size_t)G + 1, sizeof(*m->group_start));
	m->roots = malloc((ntrees ? ntrees : 1) * sizeof(*m->roots));
	m->depths = malloc((ntrees ? ntrees : 1) * sizeof(*m->depths));
	m->order = malloc((ntrees ? ntrees : 1) * sizeof(*m->order));
	m->trees = calloc(ntrees ? ntrees : 1, sizeof(*m->trees));
	if (wd)
		m->tree_weight = malloc(ntrees * sizeof(*m->tree_weight) + 1);
	if (!group || !fb.roots || !fb.depths || !fb.vbase || !fb.tree_cat || !m->group_start ||
	    !m->roots || !m->depths || !m->order || !m->trees || (wd && !m->tree_weight)) {
		rc = util_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t t = 0; t < ntrees; t++) {
		json_t *gv = json_array_get(info, t);
		if (!json_is_integer(gv)) {
			rc = util_fail(err, errlen, -EINVAL, "tree_info[%zu] is %s, not an integer",
			               t, json_kind(gv));
			goto out;
		}
		if (json_integer_value(gv) < 0 || json_integer_value(gv) >= (json_int_t)G) {
			rc = util_fail(
			    err, errlen, -EINVAL,
			    "tree_info[%zu] = %lld is out of range (0 .. num_class - 1 = %u)", t,
			    (long long)json_integer_value(gv), G - 1);
			goto out;
		}
		group[t] = (uint32_t)json_integer_value(gv);
		float w = 1.0f;
		if (wd) {
			double d;
			if (jsonx_number(json_array_get(wd, t), &d) < 0) {
				rc = util_fail(err, errlen, -EINVAL,
				               "weight_drop[%zu] is not a number", t);
				goto out;
			}
			w = (float)d;
			m->tree_weight[t] = w;
		}
		rc = add_tree(&fb, json_array_get(trees, t), t, m->num_feature, lim->max_depth, w,
		              wd != NULL, err, errlen);
		if (rc < 0)
			goto out;
	}
	/* Stable grouping keeps each group's file order, the order XGBoost sums in. */
	for (size_t t = 0; t < ntrees; t++)
		m->group_start[group[t] + 1]++;
	for (uint32_t g = 0; g < G; g++) {
		/* A class without trees is no model XGBoost writes (see the check above). */
		if (G > 1 && m->group_start[g + 1] == 0) {
			rc =
			    util_fail(err, errlen, -EINVAL,
			              "tree_info: class %u has no tree; each of the num_class = %u "
			              "classes needs at least one",
			              g, G);
			goto out;
		}
		m->group_start[g + 1] += m->group_start[g];
	}
	{
		size_t *fill = calloc(G, sizeof(*fill));
		if (!fill) {
			rc = util_fail(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t t = 0; t < ntrees; t++) {
			size_t at = m->group_start[group[t]] + fill[group[t]]++;
			m->roots[at] = fb.roots[t];
			m->depths[at] = fb.depths[t];
			m->order[at] = (uint32_t)t;
		}
		free(fill);
	}
	m->span_depth = malloc((ntrees ? ntrees : 1) * sizeof(*m->span_depth));
	if (!m->span_depth) {
		rc = util_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t g = 0; g < G; g++) {
		size_t end = m->group_start[g + 1];
		for (size_t t = m->group_start[g]; t < end; t++) {
			uint32_t d = 0;
			for (size_t j = t; j < end && j < t + LANES; j++)
				d = m->depths[j] > d ? m->depths[j] : d;
			m->span_depth[t] = d;
		}
	}
	if (fb.nnodes && fb.nnodes < fb.cap) {
		struct node *p = realloc(fb.nodes, fb.nnodes * sizeof(*p));
		if (p)
			fb.nodes = p;
	}
	/* The views: the arrays move to the model, each tree points into them. */
	m->v_left = fb.left;
	m->v_right = fb.right;
	m->v_fid = fb.fid;
	m->v_cond = fb.cond;
	m->v_hess = fb.hess;
	m->v_dl = fb.dl;
	m->v_st = fb.st;
	m->v_coff = fb.coff;
	m->v_clen = fb.clen;
	m->v_cbits = fb.cbits;
	fb.left = fb.right = NULL;
	fb.fid = fb.coff = fb.clen = fb.cbits = NULL;
	fb.cond = fb.hess = NULL;
	fb.dl = fb.st = NULL;
	for (size_t t = 0; t < ntrees; t++) {
		struct tree *tr = &m->trees[t];
		size_t vb = fb.vbase[t];
		tr->n = (uint32_t)((t + 1 < ntrees ? fb.vbase[t + 1] : fb.vn) - vb);
		tr->left = m->v_left + vb;
		tr->right = m->v_right + vb;
		tr->split_index = m->v_fid + vb;
		tr->split_cond = m->v_cond + vb;
		tr->default_left = m->v_dl + vb;
		tr->sum_hess = m->v_hess + vb;
		if (fb.tree_cat[t]) {
			tr->split_type = m->v_st + vb;
			tr->cat_off = m->v_coff + vb;
			tr->cat_len = m->v_clen + vb;
			tr->cat_bits = m->v_cbits;
		}
	}
	m->tree_group = group;
	group = NULL;
	if (fb.any_cat) {
		/* Categorical splits: predict walks the views (see cat_group_margin()). */
		m->categorical = true;
	} else {
		free(m->v_st);
		free(m->v_coff);
		free(m->v_clen);
		m->v_st = NULL;
		m->v_coff = m->v_clen = NULL;
		m->nodes = fb.nodes;
		fb.nodes = NULL;
		compact_forest(m, fb.nnodes);
	}
	m->info.num_trees = ntrees;
	rc = 0;
out:
	free(fb.nodes);
	free(fb.roots);
	free(fb.depths);
	free(fb.vbase);
	free(fb.tree_cat);
	free(fb.left);
	free(fb.right);
	free(fb.fid);
	free(fb.cond);
	free(fb.hess);
	free(fb.dl);
	free(fb.st);
	free(fb.coff);
	free(fb.clen);
	free(fb.cbits);
	scratch_free(&fb.s);
	free(group);
	return rc;
}

static int load_linear(struct model *m, json_t *gb, char *err, size_t errlen)
{
	int rc = 0;
	json_t *model = get_member(gb, "model", JSON_OBJECT, "gradient_booster", &rc, err, errlen);
	json_t *w =
	    model ? get_member(model, "weights", JSON_ARRAY, "model", &rc, err, errlen) : NULL;
	if (!w)
		return rc;
	/* The only accepted length; overflow-checked, so no wrapped count can match it. */
	size_t want;
	if (__builtin_mul_overflow((size_t)m->num_feature + 1, (size_t)m->num_group, &want) ||
	    want > SIZE_MAX / sizeof(float))
		return util_fail(
		    err, errlen, -EFBIG,
		    "gblinear: (num_feature + 1) * num_class = (%u + 1) * %u weights are too "
		    "many",
		    m->num_feature, m->num_group);
	if (json_array_size(w) != want)
		return util_fail(
		    err, errlen, -EINVAL,
		    "gblinear weights has %zu entries; exactly (num_feature + 1) * num_class "
		    "= (%u + 1) * %u = %zu are accepted",
		    json_array_size(w), m->num_feature, m->num_group, want);
	m->linear_weights = malloc(want * sizeof(float));
	if (!m->linear_weights)
		return util_fail(err, errlen, -ENOMEM, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(w, i, v)
	{
		double d;
		if (jsonx_number(v, &d) < 0)
			return util_fail(err, errlen, -EINVAL,
			                 "gblinear weights[%zu] is not a number", i);
		m->linear_weights[i] = (float)d;
	}
	return 0;
}

static void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->base_margin);
	free(m->nodes);
	free(m->cnodes);
	free(m->roots);
	free(m->depths);
	free(m->span_depth);
	free(m->group_start);
	free(m->linear_weights);
	free(m->trees);
	free(m->tree_group);
	free(m->tree_weight);
	free(m->order);
	free(m->v_left);
	free(m->v_right);
	free(m->v_fid);
	free(m->v_cond);
	free(m->v_hess);
	free(m->v_dl);
	free(m->v_st);
	free(m->v_coff);
	free(m->v_clen);
	free(m->v_cbits);
	for (size_t f = 0; m->feature_names && f < m->num_feature; f++)
		free(m->feature_names[f]);
	for (size_t f = 0; m->feature_types && f < m->num_feature; f++)
		free(m->feature_types[f]);
	free(m->feature_names);
	free(m->feature_types);
	free(m->classes);
	free(m);
}

/* learner.feature_names or feature_types: NULL when absent or empty, else num_feature strings. */
static int load_names(struct model *m, json_t *learner, const char *key, char ***out, char *err,
                      size_t errlen)
{
	json_t *a = json_object_get(learner, key);
	if (!a || json_is_null(a) || (json_is_array(a) && json_array_size(a) == 0))
		return 0;
	if (!json_is_array(a) || json_array_size(a) != m->num_feature)
		return util_fail(err, errlen, -EINVAL,
		                 "learner.%s must be an array of num_feature = %u strings", key,
		                 m->num_feature);
	char **v = calloc(m->num_feature, sizeof(*v));
	if (!v)
		return util_fail(err, errlen, -ENOMEM, "out of memory");
	*out = v;
	for (size_t f = 0; f < m->num_feature; f++) {
		json_t *e = json_array_get(a, f);
		if (!json_is_string(e))
			return util_fail(err, errlen, -EINVAL, "learner.%s[%zu] is not a string",
			                 key, f);
		if (!(v[f] = strdup(json_string_value(e))))
			return util_fail(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

/* A non-negative decimal integer string (XGBoost's attribute values); -1 when not one. */
static long long attr_uint(json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	long long x = strtoll(s, &end, 10);
	return errno || *end ? -1 : x;
}

/*
 * Python's json.dumps() writes NaN, Infinity and -Infinity bare (the wrapper's "missing":
 * NaN): a copy of the text with those tokens, outside strings, turned into null.
 */
static char *nonfinite_to_null(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 2 + 1), *o = out;
	if (!out)
		return NULL;
	bool in_str = false;
	for (size_t i = 0; i < n;) {
		if (in_str) {
			if (s[i] == '\\' && i + 1 < n) {
				*o++ = s[i++];
			} else if (s[i] == '"') {
				in_str = false;
			}
			*o++ = s[i++];
			continue;
		}
		static const char *const toks[] = {"-Infinity", "Infinity", "NaN"};
		size_t k;
		for (k = 0; k < 3; k++)
			if (!strncmp(s + i, toks[k], strlen(toks[k])))
				break;
		if (k < 3) {
			memcpy(o, "null", 4);
			o += 4;
			i += strlen(toks[k]);
			continue;
		}
		if (s[i] == '"')
			in_str = true;
		*o++ = s[i++];
	}
	*o = '\0';
	return out;
}

/*
 * The sklearn wrapper's metadata, a JSON string in attributes.scikit_learn: a classifier
 * has _estimator_type "classifier", n_classes_ and classes_. Only a classifier whose class
 * count matches the model's outputs (2 for one margin, num_class otherwise) gets proba and
 * label; anything else in the string is ignored.
 */
static int load_sklearn(struct model *m, json_t *attrs, char *err, size_t errlen)
{
	const char *meta = json_string_value(json_object_get(attrs, "scikit_learn"));
	if (!meta)
		return 0;
	json_t *j;
	char jerr[160];
	char *text = nonfinite_to_null(meta);
	if (!text)
		return util_fail(err, errlen, -ENOMEM, "out of memory");
	int prc = jsonx_parse(text, strlen(text), SKLEARN_JSON_DEPTH, 0, &j, jerr, sizeof(jerr));
	free(text);
	if (prc < 0)
		return util_fail(err, errlen, -EINVAL, "attributes.scikit_learn is not JSON: %s",
		                 jerr);
	int rc = 0;
	const char *type = json_string_value(json_object_get(j, "_estimator_type"));
	json_t *nc = json_object_get(j, "n_classes_");
	json_t *cl = json_object_get(j, "classes_");
	if (!type || strcmp(type, "classifier") || !json_is_integer(nc))
		goto out;
	json_int_t k = json_integer_value(nc);
	if (k != (m->num_group == 1 ? 2 : (json_int_t)m->num_group))
		goto out;
	if (json_is_array(cl)) {
		if (json_array_size(cl) != (size_t)k) {
			rc = util_fail(
			    err, errlen, -EINVAL,
			    "attributes.scikit_learn: classes_ has %zu entries, n_classes_ is %lld",
			    json_array_size(cl), (long long)k);
			goto out;
		}
		if (!(m->classes = malloc((size_t)k * sizeof(double)))) {
			rc = util_fail(err, errlen, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t c = 0; c < (size_t)k; c++) {
			if (jsonx_number(json_array_get(cl, c), &m->classes[c]) < 0) {
				rc = util_fail(
				    err, errlen, -EINVAL,
				    "attributes.scikit_learn: classes_[%zu] is not a number", c);
				goto out;
			}
		}
	}
	m->info.classifier = true;
	m->info.num_classes = (size_t)k;
	m->info.proba_width = (size_t)k;
	m->info.classes = m->classes;
out:
	json_decref(j);
	return rc;
}

/* What the info says beyond the predictor: names, types, best iteration, sklearn's classes. */
static int load_extras(struct model *m, json_t *learner, char *err, size_t errlen)
{
	int rc;
	if ((rc = load_names(m, learner, "feature_names", &m->feature_names, err, errlen)) < 0 ||
	    (rc = load_names(m, learner, "feature_types", &m->feature_types, err, errlen)) < 0)
		return rc;
	m->info.feature_names = (const char *const *)m->feature_names;
	m->info.feature_types = (const char *const *)m->feature_types;
	m->info.best_iteration = -1;
	json_t *attrs = json_object_get(learner, "attributes");
	if (!json_is_object(attrs))
		return 0;
	json_t *bi = json_object_get(attrs, "best_iteration");
	if (bi) {
		long long b = attr_uint(bi);
		if (b < 0)
			return util_fail(err, errlen, -EINVAL,
			                 "attributes.best_iteration is not a non-negative integer");
		m->info.best_iteration = b;
		if (m->kind == BOOSTER_TREES) {
			/* iteration_range (0, b + 1): b + 1 layers of num_parallel_tree * groups.
			 */
			unsigned __int128 lim =
			    (unsigned __int128)(b + 1) * m->info.num_parallel_tree * m->num_group;
			if (lim < m->info.num_trees)
				m->info.best_tree_limit = (size_t)lim;
		}
	}
	return load_sklearn(m, attrs, err, errlen);
}

static int load_root(json_t *root, const struct model_limits *lim, struct model **out, char *err,
                     size_t errlen)
{
	int rc = 0;
	if (!json_is_object(root))
		return util_fail(err, errlen, -EINVAL, "model is not a JSON object");
	json_t *learner = get_member(root, "learner", JSON_OBJECT, "model", &rc, err, errlen);
	if (!learner)
		return rc;
	json_t *gb =
	    get_member(learner, "gradient_booster", JSON_OBJECT, "learner", &rc, err, errlen);
	json_t *gbname =
	    gb ? get_member(gb, "name", JSON_STRING, "gradient_booster", &rc, err, errlen) : NULL;
	json_t *obj =
	    gbname ? get_member(learner, "objective", JSON_OBJECT, "learner", &rc, err, errlen)
	           : NULL;
	json_t *objname =
	    obj ? get_member(obj, "name", JSON_STRING, "objective", &rc, err, errlen) : NULL;
	json_t *lmp = objname ? get_member(learner, "learner_model_param", JSON_OBJECT, "learner",
	                                   &rc, err, errlen)
	                      : NULL;
	if (!lmp)
		return rc;

	const char *bname = json_string_value(gbname);
	bool dart = !strcmp(bname, "dart");
	bool linear = !strcmp(bname, "gblinear");
	if (!dart && !linear && strcmp(bname, "gbtree"))
		return util_fail(err, errlen, -ENOTSUP, "booster \"%.40s\" is not supported",
		                 bname);
	const char *oname = json_string_value(objname);
	const struct objective_def *od = NULL;
	for (size_t i = 0; i < sizeof(objectives) / sizeof(objectives[0]); i++)
		if (!strcmp(objectives[i].name, oname))
			od = &objectives[i];
	if (!od)
		return util_fail(err, errlen, -ENOTSUP, "objective \"%.60s\" is not supported",
		                 oname);

	uint64_t nfeat, nclass = 0, ntarget = 1;
	if ((rc = param_uint(lmp, "num_feature", true, MAX_NUM_FEATURE, &nfeat,
	                     "learner_model_param", err, errlen)) < 0 ||
	    (rc = param_uint(lmp, "num_class", false, MAX_NUM_CLASS, &nclass, "learner_model_param",
	                     err, errlen)) < 0 ||
	    (rc = param_uint(lmp, "num_target", false, UINT32_MAX, &ntarget, "learner_model_param",
	                     err, errlen)) < 0)
		return rc;
	if (nfeat == 0)
		return util_fail(err, errlen, -EINVAL, "learner_model_param.num_feature is 0");
	if (ntarget > 1)
		return util_fail(err, errlen, -ENOTSUP,
		                 "multi-target models (num_target %llu) are not supported",
		                 (unsigned long long)ntarget);
	if (od->multi && nclass == 0)
		return util_fail(err, errlen, -EINVAL, "objective %s needs num_class", od->name);
	if (!od->multi && nclass > 1)
		return util_fail(err, errlen, -ENOTSUP,
		                 "num_class %llu with objective %s is not supported",
		                 (unsigned long long)nclass, od->name);
	json_t *bs = json_object_get(lmp, "base_score");
	if (!bs)
		return util_fail(err, errlen, -EINVAL, "missing learner_model_param.base_score");

	struct model *m = calloc(1, sizeof(*m));
	if (!m)
		return util_fail(err, errlen, -ENOMEM, "out of memory");
	atomic_init(&m->refs, 1);
	m->num_feature = (uint32_t)nfeat;
	m->num_group = nclass ? (uint32_t)nclass : 1;
	m->tr = od->tr;
	m->kind = linear ? BOOSTER_LINEAR : BOOSTER_TREES;
	m->base_margin = malloc(m->num_group * sizeof(float));
	if (!m->base_margin) {
		rc = util_fail(err, errlen, -ENOMEM, "out of memory");
		goto bad;
	}
	rc = parse_base_score(bs, m->num_group, m->base_margin, err, errlen);
	if (rc < 0)
		goto bad;
	m->info.base_score = m->base_margin[0];
	for (uint32_t g = 0; g < m->num_group; g++) {
		rc = base_to_margin(od->ptm, m->base_margin[g], &m->base_margin[g], err, errlen);
		if (rc < 0)
			goto bad;
	}

	m->info.num_parallel_tree = 1;
	rc = linear ? load_linear(m, gb, err, errlen) : load_trees(m, gb, dart, lim, err, errlen);
	if (rc < 0)
		goto bad;
	rc = load_extras(m, learner, err, errlen);
	if (rc < 0)
		goto bad;
	m->info.categorical = m->categorical;

	snprintf(m->booster, sizeof(m->booster), "%s", bname);
	snprintf(m->objective, sizeof(m->objective), "%s", od->name);
	snprintf(m->version, sizeof(m->version), "unknown");
	json_t *ver = json_object_get(root, "version");
	if (json_is_array(ver) && json_array_size(ver) == 3 &&
	    json_is_integer(json_array_get(ver, 0)) && json_is_integer(json_array_get(ver, 1)) &&
	    json_is_integer(json_array_get(ver, 2)))
		snprintf(m->version, sizeof(m->version), "%lld.%lld.%lld",
		         (long long)json_integer_value(json_array_get(ver, 0)),
		         (long long)json_integer_value(json_array_get(ver, 1)),
		         (long long)json_integer_value(json_array_get(ver, 2)));
	m->info.booster = m->booster;
	m->info.objective = m->objective;
	m->info.xgboost_version = m->version;
	m->info.num_feature = m->num_feature;
	m->info.num_group = m->num_group;
	m->info.margin_width = m->num_group;
	m->info.predict_width = od->tr == TR_SOFTPROB ? m->num_group : 1;
	*out = m;
	return 0;
bad:
	model_free(m);
	return rc;
}

int model_load_buffer(const char *buf, size_t len, const struct model_limits *lim,
                      struct model **out, char *err, size_t errlen)
{
	struct model_limits l = {0};
	if (lim)
		l = *lim;
	if (!l.max_file_bytes)
		l.max_file_bytes = DEFAULT_MAX_FILE_BYTES;
	if (!l.max_trees)
		l.max_trees = DEFAULT_MAX_TREES;
	if (!l.max_depth)
		l.max_depth = DEFAULT_MAX_DEPTH;
	*out = NULL;
	if (!buf)
		return util_fail(err, errlen, -EINVAL, "no model data");
	if (len > l.max_file_bytes)
		return util_fail(err, errlen, -EFBIG, "model is %zu bytes, the limit is %zu", len,
		                 l.max_file_bytes);
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i == len)
		return util_fail(err, errlen, -EINVAL, "model file is empty");
	if (buf[i] != '{')
		return util_fail(
		    err, errlen, -ENOTSUP,
		    "not a JSON or UBJSON model (XGBoost's old binary format?): load it in "
		    "XGBoost and re-save it with save_model('model.json')");
	json_t *root;
	char jerr[160];
	int rc;
	/* UBJSON also opens with '{', then a key-length marker where JSON has '"' or space. */
	if (i == 0 && ubjson_sniff(buf, len)) {
		rc = ubjson_parse(buf, len, MODEL_JSON_DEPTH, &root, jerr, sizeof(jerr));
		if (rc < 0)
			return util_fail(err, errlen, rc, "bad UBJSON: %s", jerr);
	} else {
		rc = jsonx_parse(buf, len, MODEL_JSON_DEPTH, 1, &root, jerr, sizeof(jerr));
		if (rc < 0)
			return util_fail(err, errlen, rc, "bad JSON: %s", jerr);
	}
	rc = load_root(root, &l, out, err, errlen);
	json_decref(root);
	return rc;
}

int model_load_file(const char *path, const struct model_limits *lim, struct model **out, char *err,
                    size_t errlen)
{
	size_t max = lim && lim->max_file_bytes ? lim->max_file_bytes : DEFAULT_MAX_FILE_BYTES;
	char *buf;
	size_t len;
	int rc;

	*out = NULL;
	rc = util_read_file(path, max, 0, &buf, &len, err, errlen);
	/* Any file that is not a regular one, a directory too, is -EINVAL here (model.h). */
	if (rc == -EISDIR)
		rc = -EINVAL;
	if (rc < 0)
		return rc;
	rc = model_load_buffer(buf, len, lim, out, err, errlen);
	free(buf);
	if (rc < 0 && err && errlen) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", path, tmp);
	}
	return rc;
}

struct model *model_ref(struct model *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void model_unref(struct model *m)
{
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		model_free(m);
}

const struct model_info *model_get_info(const struct model *m)
{
	return &m->info;
}

/*
 * One step down a tree, without branches. For a number, x >= t and !(x < t) agree; for NaN
 * both comparisons are false, so NaN goes right exactly when default_left is clear.
 */
static inline uint32_t step(const struct node *nodes, uint32_t at, const float *x)
{
	const struct node *nd = &nodes[at];
	uint32_t fd = nd->fid_dl;
	float v = x[fd & NODE_FID_MASK];
	uint32_t ge = v >= nd->threshold;
	uint32_t nlt = !(v < nd->threshold);
	uint32_t right = ge | (nlt & ((fd >> 31) ^ 1u));
	return nd->left + right;
}

/*
 * Margins of output group g for n <= BLOCK_ROWS rows. Walks of several trees and rows
 * advance together, but each row's leaves are added in file order, XGBoost's order.
 */
static void block_group_margin(const struct model *m, const float *rows, size_t n, uint32_t g,
                               size_t end, float *acc)
{
	size_t F = m->num_feature;
	float base = m->base_margin[g];
	if (m->kind == BOOSTER_LINEAR) {
		size_t G = m->num_group;
		const float *w = m->linear_weights;
		for (size_t i = 0; i < n; i++) {
			const float *x = rows + i * F;
			float psum = w[F * G + g] + base;
			for (size_t f = 0; f < F; f++) {
				if (!isnan(x[f]))
					psum += x[f] * w[f * G + g];
			}
			acc[i] = psum;
		}
		return;
	}
	for (size_t i = 0; i < n; i++)
		acc[i] = base;
	const struct node *nodes = m->nodes;
	size_t t = m->group_start[g];
	size_t per_chunk = n >= WIDE_LANES ? 1 : WIDE_LANES / n;
	uint32_t at[WIDE_LANES];
	if (n == 1) {
		/* One row, the latency case: a plain walk whose direction is branch-free and
		 * whose end is predicted lets the CPU run ahead into the next trees. Only leaves
		 * have a NaN threshold (split thresholds are never NaN, see add_tree()). */
		float a = acc[0];
		for (; t < end; t++) {
			const struct node *nd = &nodes[m->roots[t]];
			while (!isnan(nd->threshold)) {
				uint32_t fd = nd->fid_dl;
				float v = rows[fd & NODE_FID_MASK];
				uint32_t right = (fd & NODE_DEFAULT_LEFT) ? (v >= nd->threshold)
				                                          : !(v < nd->threshold);
				nd = &nodes[nd->left + right];
			}
			a += nd->leaf;
		}
		acc[0] = a;
		return;
	}
	while (t < end) {
		size_t k = end - t < per_chunk ? end - t : per_chunk;
		uint32_t depth = 0;
		for (size_t j = 0; j < k; j++) {
			if (m->depths[t + j] > depth)
				depth = m->depths[t + j];
			for (size_t i = 0; i < n; i++)
				at[j * n + i] = m->roots[t + j];
		}
		for (uint32_t d = 0; d < depth; d++) {
			for (size_t j = 0; j < k; j++)
				for (size_t i = 0; i < n; i++)
					at[j * n + i] = step(nodes, at[j * n + i], rows + i * F);
		}
		for (size_t j = 0; j < k; j++)
			for (size_t i = 0; i < n; i++)
				acc[i] += nodes[at[j * n + i]].leaf;
		t += k;
	}
}

typedef uint32_t u32x4 __attribute__((vector_size(16)));

/* The NaN-right (hi) and NaN-left (lo) keys of 4 floats given as bits (see struct cnode). */
static inline void keys4(u32x4 b, u32x4 *hi, u32x4 *lo)
{
	u32x4 mag = b & 0x7fffffffu, neg = -(b >> 31);
	/* float_key() without branches: the magnitude added to or taken from 2^31. */
	u32x4 key = 0x80000000u + ((mag ^ neg) - neg);
	u32x4 nan = (u32x4)(mag > 0x7f800000u);
	*hi = key | nan;
	*lo = key & ~nan;
}

/* One row's keys (see struct cnode) at k[slot * LANES]: slot 0, F NaN-right, F NaN-left. */
static void row_keys(const float *x, uint32_t F, uint32_t *k)
{
	u32x4 b, hi, lo;
	uint32_t f = 0;
	k[0] = 0;
	for (; f + 4 <= F; f += 4) {
		memcpy(&b, x + f, sizeof(b));
		keys4(b, &hi, &lo);
#pragma GCC unroll 4
		for (uint32_t j = 0; j < 4; j++) {
			k[(1 + f + j) * LANES] = hi[j];
			k[(1 + F + f + j) * LANES] = lo[j];
		}
	}
	if (f < F) {
		b = (u32x4){0, 0, 0, 0};
		memcpy(&b, x + f, (F - f) * sizeof(float));
		keys4(b, &hi, &lo);
		for (uint32_t j = 0; f + j < F; j++) {
			k[(1 + f + j) * LANES] = hi[j];
			k[(1 + F + f + j) * LANES] = lo[j];
		}
	}
}

/*
 * One step down a compact tree for the row in lane j of the key group k; a leaf stays
 * where it is. Written so that it compiles to a compare and an add-with-carry, with j as
 * an addressing displacement.
 */
static inline const struct cnode *cstep(const struct cnode *p, const uint32_t *k, size_t j)
{
	uint32_t off = p->off;
	off += p->val < k[(size_t)p->slot + j];
	return p + off;
}

static inline float cleaf(const struct cnode *p)
{
	float f;
	memcpy(&f, &p->val, sizeof(f));
	return f;
}

/* Stands in for the missing trees of a short last span: a leaf, so it stays put. */
static const struct cnode pad_leaf;

/*
 * Adds trees [t, end) for one row to a. LANES trees are walked together, to the deepest of
 * their depths (a walk that reached its leaf stays there), then their leaves are added in
 * file order.
 */
static float row_trees(const struct model *m, const uint32_t *k, size_t t, size_t end, float a)
{
	const struct cnode *nd = m->cnodes;
	const uint32_t *roots = m->roots;
	const struct cnode *at[LANES];
	for (; t + LANES <= end; t += LANES) {
		uint32_t depth = m->span_depth[t];
#pragma GCC unroll 8
		for (size_t j = 0; j < LANES; j++)
			at[j] = nd + roots[t + j];
		for (uint32_t d = 0; d < depth; d++) {
#pragma GCC unroll 8
			for (size_t j = 0; j < LANES; j++)
				at[j] = cstep(at[j], k, 0);
		}
#pragma GCC unroll 8
		for (size_t j = 0; j < LANES; j++)
			a += cleaf(at[j]);
	}
	if (t < end) {
		size_t cnt = end - t;
		uint32_t depth = m->span_depth[t];
		for (size_t j = 0; j < LANES; j++)
			at[j] = j < cnt ? nd + roots[t + j] : &pad_leaf;
		for (uint32_t d = 0; d < depth; d++) {
#pragma GCC unroll 8
			for (size_t j = 0; j < LANES; j++)
				at[j] = cstep(at[j], k, 0);
		}
		for (size_t j = 0; j < cnt; j++)
			a += cleaf(at[j]);
	}
	return a;
}

/*
 * Adds one tree to the acc of the LANES rows of key group kb, their walks taken together to
 * the tree's depth. Kept out of line: inlined into the loops around it, the compiler turns
 * the lanes' key addresses into spilled induction variables instead of displacements.
 */
__attribute__((noinline)) static void tree_lanes(const struct cnode *root, uint32_t depth,
                                                 const uint32_t *kb, float *acc)
{
	const struct cnode *at[LANES];
#pragma GCC unroll 8
	for (size_t j = 0; j < LANES; j++)
		at[j] = root;
	for (uint32_t d = 0; d < depth; d++) {
#pragma GCC unroll 8
		for (size_t j = 0; j < LANES; j++)
			at[j] = cstep(at[j], kb, j);
	}
#pragma GCC unroll 8
	for (size_t j = 0; j < LANES; j++)
		acc[j] += cleaf(at[j]);
}

/*
 * Adds trees [t, end) to n rows' acc; keys holds their key groups, gs apart. Each tree takes
 * all the rows' full groups in turn, so its nodes stay in cache for the whole block.
 */
static void block_trees(const struct model *m, const uint32_t *keys, size_t gs, size_t n, size_t t,
                        size_t end, float *acc)
{
	const struct cnode *nd = m->cnodes;
	size_t full = n / LANES * LANES;
	for (size_t tt = t; tt < end; tt++) {
		const struct cnode *root = nd + m->roots[tt];
		uint32_t depth = m->depths[tt];
		for (size_t i = 0; i < full; i += LANES)
			tree_lanes(root, depth, keys + i / LANES * gs, acc + i);
	}
	/* The rows of a partial group: one at a time, several trees at once. */
	for (size_t i = full; i < n; i++)
		acc[i] = row_trees(m, keys + i / LANES * gs + i % LANES, t, end, acc[i]);
}

/*
 * Margins of output group g for n rows from the trees of roots[group_start[g] .. end),
 * walking XGBoost's own node arrays with tree_next(), XGBoost 1.7's decision (predict_fn.h
 * GetNextNode, categorical.h Decision): the path for models with categorical splits, kept
 * apart so the numeric layouts never test a split's type. With inplace set, a dart tree
 * adds what Dart::InplacePredict (the sklearn wrapper's path) adds: the tree's prediction
 * from base_score minus base_score, times its weight, ((b + leaf) - b) * w, instead of
 * PredictBatch's (0 + leaf) * w.
 */
static void view_group_margin(const struct model *m, const float *rows, size_t n, uint32_t g,
                              size_t end, bool inplace, float *acc)
{
	size_t F = m->num_feature;
	float b0 = m->base_margin[0];
	for (size_t i = 0; i < n; i++) {
		const float *x = rows + i * F;
		float a = m->base_margin[g];
		for (size_t k = m->group_start[g]; k < end; k++) {
			uint32_t ti = m->order[k];
			const struct tree *tr = &m->trees[ti];
			uint32_t nd = 0;
			while (tr->left[nd] != -1)
				nd = (uint32_t)tree_next(tr, nd, x[tr->split_index[nd]]);
			float v = tr->split_cond[nd];
			if (!m->tree_weight)
				a += v;
			else if (inplace)
				a += ((b0 + v) - b0) * m->tree_weight[ti];
			else
				a += (0.0f + v) * m->tree_weight[ti];
		}
		acc[i] = a;
	}
}

/* Margins of output group g for n rows, from their keys (compact) or values (otherwise). */
static void group_margin(const struct model *m, const float *x, const uint32_t *keys, size_t S,
                         size_t n, uint32_t g, size_t end, bool inplace, float *acc)
{
	if (inplace) {
		view_group_margin(m, x, n, g, end, true, acc);
		return;
	}
	if (!m->cnodes) {
		if (m->categorical)
			view_group_margin(m, x, n, g, end, false, acc);
		else
			block_group_margin(m, x, n, g, end, acc);
		return;
	}
	size_t t = m->group_start[g];
	float base = m->base_margin[g];
	if (n == 1) {
		acc[0] = row_trees(m, keys, t, end, base);
		return;
	}
	for (size_t i = 0; i < n; i++)
		acc[i] = base;
	block_trees(m, keys, S, n, t, end, acc);
}

static inline float sigmoid(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

/* XGBoost's softmax: max subtracted in float, exps summed in double. */
static void softmax_row(const float *in, float *out, size_t k)
{
	float wmax = in[0];
	for (size_t j = 1; j < k; j++)
		wmax = fmaxf(in[j], wmax);
	double wsum = 0.0;
	for (size_t j = 0; j < k; j++) {
		out[j] = expf(in[j] - wmax);
		wsum += out[j];
	}
	for (size_t j = 0; j < k; j++)
		out[j] /= (float)wsum;
}

/* Transforms n rows of margins (width num_group) into predictions; out may alias in. */
static void transform_rows(const struct model *m, const float *in, size_t n, float *out)
{
	size_t G = m->num_group;
	switch (m->tr) {
	case TR_NONE:
		if (out != in)
			memcpy(out, in, n * G * sizeof(float));
		break;
	case TR_SIGMOID:
		for (size_t i = 0; i < n; i++)
			out[i] = sigmoid(in[i]);
		break;
	case TR_HINGE:
		for (size_t i = 0; i < n; i++)
			out[i] = in[i] > 0.0f ? 1.0f : 0.0f;
		break;
	case TR_EXP:
		for (size_t i = 0; i < n; i++)
			out[i] = expf(in[i]);
		break;
	case TR_SOFTPROB:
		for (size_t i = 0; i < n; i++)
			softmax_row(in + i * G, out + i * G, G);
		break;
	case TR_SOFTMAX:
		for (size_t i = 0; i < n; i++) {
			const float *r = in + i * G;
			size_t best = 0;
			for (size_t j = 1; j < G; j++)
				if (r[j] > r[best])
					best = j;
			out[i] = (float)best;
		}
		break;
	}
}

/* The end in roots of group g's first trees in file order, fewer than limit (0 = all). */
static size_t group_end(const struct model *m, uint32_t g, size_t limit)
{
	if (m->kind == BOOSTER_LINEAR)
		return 0;
	size_t lo = m->group_start[g], hi = m->group_start[g + 1];
	if (!limit || limit >= m->info.num_trees)
		return hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->order[mid] < limit)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * margin and/or predict of nrows rows from the first `limit` trees (0 = all); inplace: as
 * XGBoost's inplace_predict sums dart trees (see view_group_margin()).
 */
static void predict_core(const struct model *m, const float *rows, size_t nrows, size_t limit,
                         bool inplace, float *margin, float *predict)
{
	size_t F = m->num_feature, G = m->num_group, pw = m->info.predict_width;
	/* S: the distance between key groups of LANES rows. */
	size_t S = (2 * F + 1) * LANES, block = BLOCK_ROWS;
	float acc[KEY_ROWS];
	uint32_t keys[KEY_BUF];
	if (m->cnodes) {
		block = KEY_BUF / S * LANES;
		if (block > KEY_ROWS)
			block = KEY_ROWS;
	}
	for (size_t r0 = 0; r0 < nrows; r0 += block) {
		size_t n = nrows - r0 < block ? nrows - r0 : block;
		const float *x = rows + r0 * F;
		if (m->cnodes)
			for (size_t i = 0; i < n; i++)
				row_keys(x + i * F, (uint32_t)F, keys + i / LANES * S + i % LANES);
		if (!margin && m->tr == TR_SOFTMAX) {
			/* Argmax streamed over groups: no num_class-sized scratch needed. */
			float best[KEY_ROWS];
			for (uint32_t g = 0; g < G; g++) {
				group_margin(m, x, keys, S, n, g, group_end(m, g, limit), inplace,
				             acc);
				for (size_t i = 0; i < n; i++) {
					if (g == 0 || acc[i] > best[i]) {
						best[i] = acc[i];
						predict[r0 + i] = (float)g;
					}
				}
			}
			continue;
		}
		/* Without a margin buffer, predict has the margin's width and is used in place. */
		float *dst = margin ? margin + r0 * G : predict + r0 * pw;
		if (G == 1) {
			group_margin(m, x, keys, S, n, 0, group_end(m, 0, limit), inplace, dst);
		} else {
			for (uint32_t g = 0; g < G; g++) {
				group_margin(m, x, keys, S, n, g, group_end(m, g, limit), inplace,
				             acc);
				for (size_t i = 0; i < n; i++)
					dst[i * G + g] = acc[i];
			}
		}
		if (predict)
			transform_rows(m, dst, n, predict + r0 * pw);
	}
}

void model_predict(const struct model *m, const float *rows, size_t nrows, float *margin,
                   float *predict)
{
	if (!m || !rows || (!margin && !predict))
		return;
	predict_core(m, rows, nrows, 0, false, margin, predict);
}

/*
 * numpy's float32 sum of a row of n values, as np.sum(axis=1) reduces it: numpy's
 * pairwise_sum (below 8 values a plain loop from 0, up to 128 eight accumulators combined
 * as a tree, beyond that halves summed recursively).
 */
static float np_pairwise(const float *a, size_t n)
{
	if (n < 8) {
		float r = 0.0f;
		for (size_t i = 0; i < n; i++)
			r += a[i];
		return r;
	}
	if (n <= 128) {
		float r[8];
		for (size_t j = 0; j < 8; j++)
			r[j] = a[j];
		size_t i;
		for (i = 8; i < n - n % 8; i += 8)
			for (size_t j = 0; j < 8; j++)
				r[j] += a[i + j];
		float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return np_pairwise(a, n2) + np_pairwise(a + n2, n - n2);
}

/*
 * numpy's float32 exp on x86-64 with AVX2 or AVX512F (numpy 1.24, which Debian 12 ships,
 * dispatches np.exp on float32 to a SIMD kernel that is not libm's expf): x = k ln2 + y
 * with k = rint(x log2e) and a two-part (Cody-Waite) ln2, then exp(y) as a ratio of a
 * degree-5 and a degree-2 minimax polynomial in fused multiply-adds, scaled by 2^k. The
 * constants are that kernel's (npy_simd_data.h); fmaf() keeps every step as the SIMD
 * code rounds it, on any architecture.
 */
static float numpy_expf(float x)
{
	static const float log2e = 1.442695040888963407359924681001892137f;
	static const float magic = 0x1.8p+23f, ln2_hi = -6.93145752e-1f, ln2_lo = -1.42860677e-6f;
	static const float p[6] = {9.999999999980870924916e-01f, 7.257664613233124478488e-01f,
	                           2.473615434895520810817e-01f, 5.114512081637298353406e-02f,
	                           6.757896990527504603057e-03f, 5.082762527590693718096e-04f};
	static const float q[3] = {1.0f, -2.742335390411667452936e-01f,
	                           2.159509375685829852307e-02f};
	if (isnan(x))
		return x;
	if (x >= 88.72283935546875f)
		return INFINITY;
	if (x <= -103.97208404541015625f)
		return 0.0f;
	float k = x * log2e;
	k = k + magic;
	k = k - magic;
	float y = fmaf(k, ln2_hi, x);
	y = fmaf(k, ln2_lo, y);
	float num = fmaf(p[5], y, p[4]);
	num = fmaf(num, y, p[3]);
	num = fmaf(num, y, p[2]);
	num = fmaf(num, y, p[1]);
	num = fmaf(num, y, p[0]);
	float den = fmaf(q[2], y, q[1]);
	den = fmaf(den, y, q[0]);
	return scalbnf(num / den, (int)k);
}

/* scipy.special.softmax of one float32 row, as XGBClassifier.predict_proba does for softmax. */
static void scipy_softmax(const float *in, float *out, size_t k)
{
	float mx = in[0];
	for (size_t j = 1; j < k; j++)
		if (in[j] > mx || isnan(in[j]))
			mx = isnan(mx) ? mx : in[j];
	for (size_t j = 0; j < k; j++)
		out[j] = numpy_expf(in[j] - mx);
	float sum = np_pairwise(out, k);
	for (size_t j = 0; j < k; j++)
		out[j] = out[j] / sum;
}

/* The class index XGBClassifier.predict picks for one row (see model_predict_ex()). */
static size_t class_index(const struct model *m, const float *pred)
{
	if (m->num_group == 1)
		return pred[0] > 0.5f;
	/* np.argmax: the first maximum; a NaN wins at once. */
	size_t best = 0;
	for (size_t j = 0; j < m->num_group; j++) {
		if (isnan(pred[j]))
			return j;
		if (pred[j] > pred[best])
			best = j;
	}
	return best;
}

/*
 * Computes the requested outputs of nrows rows (see model.h). The sklearn outputs (proba,
 * label) follow XGBClassifier 1.7.4: binary proba is [1 - p, p] in float32 from predict's
 * p; multi:softprob's proba is predict; multi:softmax's is scipy's softmax of the margin;
 * label is classes_[class] with class = p > 0.5 (binary) or argmax of predict, except
 * multi:softmax, whose label is predict itself. Needs predict internally: when the caller
 * gives no predict buffer, one is allocated per block of rows.
 */
int model_predict_ex(const struct model *m, const float *rows, size_t nrows, size_t tree_limit,
                     const struct model_outputs *o)
{
	if (!m || !o || (!rows && nrows))
		return -EINVAL;
	if ((o->proba || o->label) && !m->info.classifier)
		return -ENOTSUP;
	/* Two classes through multi:softprob: XGBClassifier.predict returns a 2-D multi-label
	 * answer there, not one label per row. */
	if (o->label && m->num_group == 2 && m->tr == TR_SOFTPROB)
		return -ENOTSUP;
	/*
	 * The sklearn wrapper predicts dart through inplace_predict, which sums the trees
	 * differently from Booster.predict: then margin and predict (Booster.predict's) are
	 * computed on their own, and proba and label from scratch buffers.
	 */
	bool inplace = m->tree_weight != NULL;
	if ((!o->proba && !o->label) || inplace) {
		if (o->margin || o->predict)
			predict_core(m, rows, nrows, tree_limit, false, o->margin, o->predict);
		if (!o->proba && !o->label)
			return 0;
	}
	float *own_predict = inplace ? NULL : o->predict;
	float *own_margin = inplace ? NULL : o->margin;
	size_t F = m->num_feature, G = m->num_group, pw = m->info.predict_width;
	size_t K = m->info.proba_width;
	bool softmax = m->tr == TR_SOFTMAX;
	/* Blocks of rows bound the scratch; the caller's buffers are used when given. */
	size_t block = 256;
	float *tmp_pred = NULL, *tmp_margin = NULL;
	if (!own_predict && !(tmp_pred = malloc(block * pw * sizeof(float))))
		return -ENOMEM;
	if (softmax && o->proba && !own_margin &&
	    !(tmp_margin = malloc(block * G * sizeof(float)))) {
		free(tmp_pred);
		return -ENOMEM;
	}
	for (size_t r0 = 0; r0 < nrows; r0 += block) {
		size_t n = nrows - r0 < block ? nrows - r0 : block;
		float *pred = own_predict ? own_predict + r0 * pw : tmp_pred;
		float *mar = own_margin ? own_margin + r0 * G : tmp_margin;
		predict_core(m, rows + r0 * F, n, tree_limit, inplace,
		             (softmax && o->proba) || own_margin ? mar : NULL, pred);
		for (size_t i = 0; i < n; i++) {
			const float *p = pred + i * pw;
			if (o->proba) {
				float *q = o->proba + (r0 + i) * K;
				if (softmax)
					scipy_softmax(mar + i * G, q, G);
				else if (G == 1) {
					q[0] = 1.0f - p[0];
					q[1] = p[0];
				} else {
					memcpy(q, p, G * sizeof(float));
				}
			}
			if (o->label) {
				if (softmax) {
					o->label[r0 + i] = p[0];
				} else {
					size_t c = class_index(m, p);
					o->label[r0 + i] =
					    m->classes ? (float)m->classes[c] : (float)c;
				}
			}
		}
	}
	free(tmp_pred);
	free(tmp_margin);
	return 0;
}

const struct tree *model_trees(const struct model *m, size_t *n)
{
	*n = m->kind == BOOSTER_TREES ? m->info.num_trees : 0;
	return *n ? m->trees : NULL;
}

const uint32_t *model_tree_groups(const struct model *m)
{
	return m->kind == BOOSTER_TREES && m->info.num_trees ? m->tree_group : NULL;
}

const float *model_tree_weights(const struct model *m)
{
	return m->tree_weight;
}

const float *model_linear_weights(const struct model *m)
{
	return m->linear_weights;
}

const float *model_base_margin(const struct model *m)
{
	return m->base_margin;
}
