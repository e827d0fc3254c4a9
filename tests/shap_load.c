/* shap_load.c: a test-only reader of XGBoost JSON models into struct tree, for the SHAP tests. */
#include "shap_load.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The arrays one tree owns: struct tree points into them. */
struct owned {
	int32_t *left, *right;
	uint32_t *split_index;
	float *split_cond, *sum_hess;
	uint8_t *default_left, *split_type;
	uint32_t *cat_off, *cat_len, *cat_bits;
};

static int fail(const char *what)
{
	fprintf(stderr, "shap_load: %s\n", what);
	return -1;
}

static json_t *arr(json_t *o, const char *key, size_t n)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a) || (n != (size_t)-1 && json_array_size(a) != n))
		return NULL;
	return a;
}

static double num(json_t *v)
{
	if (json_is_null(v))
		return NAN;
	if (json_is_string(v))
		return strtod(json_string_value(v), NULL);
	return json_number_value(v);
}

/*
 * One tree: the node arrays, and the categorical sets turned into bitsets of
 * ceil((max category + 1) / 32) words per categorical node, as XGBoost sizes them.
 */
static int load_tree(json_t *jt, struct tree *t, uint32_t n_features)
{
	json_t *lc = arr(jt, "left_children", (size_t)-1);
	if (!lc)
		return fail("tree without left_children");
	size_t n = json_array_size(lc);
	json_t *rc = arr(jt, "right_children", n), *si = arr(jt, "split_indices", n),
	       *sc = arr(jt, "split_conditions", n), *dl = arr(jt, "default_left", n),
	       *sh = arr(jt, "sum_hessian", n), *st = arr(jt, "split_type", n);
	if (!rc || !si || !sc || !dl || !sh || !st || n == 0)
		return fail("tree arrays missing or of different lengths");
	struct owned *o = calloc(1, sizeof *o);
	o->left = calloc(n, sizeof(int32_t));
	o->right = calloc(n, sizeof(int32_t));
	o->split_index = calloc(n, sizeof(uint32_t));
	o->split_cond = calloc(n, sizeof(float));
	o->sum_hess = calloc(n, sizeof(float));
	o->default_left = calloc(n, 1);
	o->split_type = calloc(n, 1);
	o->cat_off = calloc(n, sizeof(uint32_t));
	o->cat_len = calloc(n, sizeof(uint32_t));
	int any_cat = 0;
	for (size_t i = 0; i < n; i++) {
		o->left[i] = (int32_t)json_integer_value(json_array_get(lc, i));
		o->right[i] = (int32_t)json_integer_value(json_array_get(rc, i));
		o->split_index[i] = (uint32_t)json_integer_value(json_array_get(si, i));
		o->split_cond[i] = (float)num(json_array_get(sc, i));
		o->sum_hess[i] = (float)num(json_array_get(sh, i));
		o->default_left[i] = json_integer_value(json_array_get(dl, i)) != 0;
		o->split_type[i] = (uint8_t)json_integer_value(json_array_get(st, i));
		any_cat |= o->split_type[i] == TREE_CATEGORICAL;
	}
	json_t *cats = arr(jt, "categories", (size_t)-1),
	       *cn = arr(jt, "categories_nodes", (size_t)-1),
	       *cs = arr(jt, "categories_segments", (size_t)-1),
	       *cz = arr(jt, "categories_sizes", (size_t)-1);
	size_t words = 0;
	if (any_cat) {
		if (!cats || !cn || !cs || !cz || json_array_size(cs) != json_array_size(cn) ||
		    json_array_size(cz) != json_array_size(cn))
			return fail("categorical tree without its category arrays");
		for (size_t k = 0; k < json_array_size(cn); k++) {
			size_t node = (size_t)json_integer_value(json_array_get(cn, k));
			size_t seg = (size_t)json_integer_value(json_array_get(cs, k));
			size_t sz = (size_t)json_integer_value(json_array_get(cz, k));
			if (node >= n || seg + sz > json_array_size(cats))
				return fail("bad categories_nodes/segments");
			long max = -1;
			for (size_t c = seg; c < seg + sz; c++) {
				long v = (long)json_integer_value(json_array_get(cats, c));
				if (v > max)
					max = v;
			}
			o->cat_off[node] = (uint32_t)words;
			o->cat_len[node] = (uint32_t)((max + 1 + 31) / 32);
			words += o->cat_len[node];
		}
		o->cat_bits = calloc(words ? words : 1, sizeof(uint32_t));
		for (size_t k = 0; k < json_array_size(cn); k++) {
			size_t node = (size_t)json_integer_value(json_array_get(cn, k));
			size_t seg = (size_t)json_integer_value(json_array_get(cs, k));
			size_t sz = (size_t)json_integer_value(json_array_get(cz, k));
			for (size_t c = seg; c < seg + sz; c++) {
				uint32_t v = (uint32_t)json_integer_value(json_array_get(cats, c));
				o->cat_bits[o->cat_off[node] + v / 32] |= 1u << (v % 32);
			}
		}
	}
	(void)n_features;
	*t = (struct tree){.n = (uint32_t)n,
	                   .left = o->left,
	                   .right = o->right,
	                   .split_index = o->split_index,
	                   .split_cond = o->split_cond,
	                   .default_left = o->default_left,
	                   .sum_hess = o->sum_hess,
	                   .split_type = any_cat ? o->split_type : NULL,
	                   .cat_off = o->cat_off,
	                   .cat_len = o->cat_len,
	                   .cat_bits = o->cat_bits};
	if (!any_cat)
		free(o->split_type);
	free(o);
	return 0;
}

/* base_score in margin space, as the objective's ProbToMargin turns it in XGBoost 1.7.4. */
static float margin_base(const char *objective, float base)
{
	if (!strcmp(objective, "binary:logistic") || !strcmp(objective, "reg:logistic"))
		return -logf(1.0f / base - 1.0f);
	if (!strcmp(objective, "count:poisson") || !strcmp(objective, "reg:gamma") ||
	    !strcmp(objective, "reg:tweedie") || !strcmp(objective, "survival:cox"))
		return logf(base);
	return base;
}

/*
 * The file's text with every bare NaN (after '[', ',' or ':', as XGBoost writes a
 * categorical node's split condition) turned into null, which jansson reads.
 */
static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	char chunk[65536];
	while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (len + got + 1 > cap) {
			cap = (len + got + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, got);
		len += got;
	}
	fclose(fp);
	if (!buf)
		return NULL;
	buf[len] = 0;
	/* At most one more byte per NaN. */
	size_t nans = 0;
	for (const char *p = buf; (p = strstr(p, "NaN")) != NULL; p += 3)
		nans++;
	char *out = malloc(len + nans + 1), *w = out;
	if (!out) {
		free(buf);
		return NULL;
	}
	for (const char *p = buf; *p;) {
		const char *q = p;
		while (q > buf && (q[-1] == ' ' || q[-1] == '\n'))
			q--;
		if (!strncmp(p, "NaN", 3) && q > buf && strchr("[,:", q[-1])) {
			memcpy(w, "null", 4);
			w += 4;
			p += 3;
		} else {
			*w++ = *p++;
		}
	}
	*w = 0;
	free(buf);
	return out;
}

/*
 * Reads learner_model_param (features, classes, base_score through the objective's
 * ProbToMargin), then gblinear's weights or the trees, tree_info and dart's weight_drop.
 */
int sl_load(const char *path, struct sl_model *m)
{
	memset(m, 0, sizeof *m);
	json_error_t err;
	char *text = read_text(path);
	if (!text)
		return fail("cannot read the model");
	json_t *root = json_loads(text, 0, &err);
	free(text);
	if (!root)
		return fail(err.text);
	int rc = -1;
	json_t *learner = json_object_get(root, "learner");
	json_t *lmp = json_object_get(learner, "learner_model_param");
	json_t *gb = json_object_get(learner, "gradient_booster");
	const char *obj =
	    json_string_value(json_object_get(json_object_get(learner, "objective"), "name"));
	const char *name = json_string_value(json_object_get(gb, "name"));
	if (!lmp || !gb || !obj || !name) {
		fail("not an XGBoost 1.7 JSON model");
		goto out;
	}
	m->n_features = (uint32_t)num(json_object_get(lmp, "num_feature"));
	uint32_t num_class = (uint32_t)num(json_object_get(lmp, "num_class"));
	m->n_groups = num_class ? num_class : 1;
	m->base_margin =
	    margin_base(obj, strtof(json_string_value(json_object_get(lmp, "base_score")), NULL));
	if (!strcmp(name, "gblinear")) {
		json_t *w = arr(json_object_get(gb, "model"), "weights",
		                ((size_t)m->n_features + 1) * m->n_groups);
		if (!w) {
			fail("gblinear weights of the wrong size");
			goto out;
		}
		m->linear = 1;
		m->linear_weights = calloc(json_array_size(w), sizeof(float));
		for (size_t i = 0; i < json_array_size(w); i++)
			m->linear_weights[i] = (float)num(json_array_get(w, i));
		rc = 0;
		goto out;
	}
	json_t *model = json_object_get(gb, "model");
	if (!strcmp(name, "dart"))
		model = json_object_get(json_object_get(gb, "gbtree"), "model");
	json_t *trees = arr(model, "trees", (size_t)-1);
	if (!trees) {
		fail("no trees");
		goto out;
	}
	m->n_trees = json_array_size(trees);
	json_t *info = arr(model, "tree_info", m->n_trees);
	if (!info) {
		fail("tree_info of the wrong size");
		goto out;
	}
	uint32_t npt = (uint32_t)num(
	    json_object_get(json_object_get(model, "gbtree_model_param"), "num_parallel_tree"));
	m->trees_per_layer = m->n_groups * (npt ? npt : 1);
	m->trees = calloc(m->n_trees ? m->n_trees : 1, sizeof *m->trees);
	m->tree_group = calloc(m->n_trees ? m->n_trees : 1, sizeof *m->tree_group);
	for (size_t i = 0; i < m->n_trees; i++) {
		m->tree_group[i] = (int32_t)json_integer_value(json_array_get(info, i));
		if (load_tree(json_array_get(trees, i), &m->trees[i], m->n_features))
			goto out;
	}
	if (!strcmp(name, "dart")) {
		json_t *wd = arr(gb, "weight_drop", m->n_trees);
		if (!wd) {
			fail("weight_drop of the wrong size");
			goto out;
		}
		m->weights = calloc(m->n_trees ? m->n_trees : 1, sizeof(float));
		for (size_t i = 0; i < m->n_trees; i++)
			m->weights[i] = (float)num(json_array_get(wd, i));
	}
	rc = 0;
out:
	json_decref(root);
	if (rc)
		sl_free(m);
	return rc;
}

struct shap_model sl_shap_model(const struct sl_model *m)
{
	return (struct shap_model){.trees = m->trees,
	                           .n_trees = m->n_trees,
	                           .tree_group = m->tree_group,
	                           .n_groups = m->n_groups,
	                           .n_features = m->n_features,
	                           .weights = m->weights};
}

void sl_free(struct sl_model *m)
{
	for (size_t i = 0; m->trees && i < m->n_trees; i++) {
		struct tree *t = &m->trees[i];
		free((void *)t->left);
		free((void *)t->right);
		free((void *)t->split_index);
		free((void *)t->split_cond);
		free((void *)t->sum_hess);
		free((void *)t->default_left);
		free((void *)t->split_type);
		free((void *)t->cat_off);
		free((void *)t->cat_len);
		free((void *)t->cat_bits);
	}
	free(m->trees);
	free(m->tree_group);
	free(m->weights);
	free(m->linear_weights);
	memset(m, 0, sizeof *m);
}
