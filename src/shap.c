/* shap.c: TreeSHAP (pred_contribs) and leaf indices in XGBoost 1.7.4's float arithmetic. */
#include "shap.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

/*
 * One node, packed for the walk. zf is the edge's zero fraction, this node's cover over
 * its parent's, divided once here exactly as XGBoost divides it at every visit. slot is
 * the split feature's index among the tree's distinct split features.
 */
struct snode {
	int32_t left, right; /* -1 for a leaf */
	float cond;          /* threshold, or the leaf value */
	float zf;
	uint32_t feat;
	uint32_t slot;
	uint8_t dleft;
	uint8_t cat;
	uint32_t nd;   /* at a leaf with a table: its path's length d */
	uint32_t voff; /* at a leaf with a table: its 2^L * d values in vals */
	uint32_t soff; /* at a leaf with a table: its d slots in lslots */
};

struct stree {
	struct snode *nodes;
	const struct tree *src; /* for categorical sets */
	uint32_t *slot_feat;    /* slot -> feature */
	uint32_t n_slots;
	uint32_t depth; /* XGBoost's MaxDepth(0): a stump is 1 */
	float mean0;    /* the root's node mean value */
	uint32_t group;
	float weight;
	float *vals;      /* the per-leaf tables, or NULL: see build_tables() */
	uint32_t *lslots; /* per leaf with a table: the slot of each path element 1..d */
};

#define SHAP_TQ 64
/* Trees up to this deep may get per-leaf tables (2^depth cases per leaf). */
#define SHAP_TAB_DEPTH 12
/* Bigger tables than this (a depth-8 tree's 2 MB) miss the cache more than they save. */
#define SHAP_TAB_TREE_BYTES ((size_t)256 << 10)

struct shap_forest {
	struct stree *t;
	size_t n_trees;
	uint32_t n_groups, n_features;
	uint32_t max_slots, max_depth;
	bool weighted;
	/* tq[d][i] = (float)(d - i) / (float)(d + 1), divided once: UnwoundPathSum's ratio. */
	float tq[SHAP_TQ][SHAP_TQ];
};

/* XGBoost's PathElement: one feature on the unique path and its permutation weight. */
struct pelem {
	int32_t slot;
	float z, o, pw;
};

static int build_tables(const struct shap_forest *f, struct stree *t, struct pelem *path,
                        size_t *budget);

/* The scratch a call needs: the path buffer, then one tree's contributions, then a row. */
struct layout {
	size_t path, phi, dense, total;
};

static struct layout scratch_layout(const struct shap_forest *f)
{
	struct layout l;
	size_t maxd = (size_t)f->max_depth + 2;

	l.path = 0;
	l.phi = (maxd * (maxd + 1)) / 2 * sizeof(struct pelem);
	l.dense = l.phi + ((size_t)f->max_slots + 1) * sizeof(float);
	l.total = l.dense + ((size_t)f->n_features + 1) * sizeof(float);
	return l;
}

size_t shap_scratch_size(const struct shap_forest *f)
{
	return scratch_layout(f).total;
}

void shap_free(struct shap_forest *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_trees; i++) {
		free(f->t[i].nodes);
		free(f->t[i].slot_feat);
		free(f->t[i].vals);
		free(f->t[i].lslots);
	}
	free(f->t);
	free(f);
}

/*
 * Packs one tree: walks it from the root (refusing bad children, cycles and shared nodes,
 * depth over SHAP_MAX_DEPTH and features out of range), numbers its split features, then
 * computes node mean values children first, as XGBoost's FillNodeMeanValues does:
 * mean = (mean(left) * cover(left) + mean(right) * cover(right)) / cover, in float.
 * feat_slot is n_features entries of UINT32_MAX, left so on return.
 */
static int prepare_tree(const struct tree *src, uint32_t n_features, uint32_t *feat_slot,
                        struct stree *st)
{
	uint32_t n = src->n;
	if (n == 0 || !src->left || !src->right || !src->split_index || !src->split_cond ||
	    !src->default_left || !src->sum_hess)
		return -EINVAL;
	uint32_t *order = malloc(n * sizeof *order);
	uint32_t *depth = malloc(n * sizeof *depth);
	float *mean = malloc(n * sizeof *mean);
	uint8_t *seen = calloc(n, 1);
	st->nodes = calloc(n, sizeof *st->nodes);
	st->slot_feat = NULL;
	size_t n_order = 0, top = 0;
	int rc = -ENOMEM;
	if (!order || !depth || !mean || !seen || !st->nodes)
		goto out;
	st->src = src;
	/* Breadth-first walk: order[] is the queue, and every node enters it once. */
	uint32_t n_slots = 0, max_depth = 0;
	order[n_order++] = 0;
	seen[0] = 1;
	depth[0] = 0;
	rc = -EINVAL;
	for (top = 0; top < n_order; top++) {
		uint32_t i = order[top];
		struct snode *nd = &st->nodes[i];
		nd->left = src->left[i];
		nd->right = src->right[i];
		nd->cond = src->split_cond[i];
		if (nd->left == -1) {
			nd->right = -1;
			continue;
		}
		if (nd->left < 0 || (uint32_t)nd->left >= n || nd->right < 0 ||
		    (uint32_t)nd->right >= n || seen[nd->left] || seen[nd->right] ||
		    nd->left == nd->right)
			goto out;
		if (depth[i] + 1 > SHAP_MAX_DEPTH) {
			rc = -E2BIG;
			goto out;
		}
		nd->feat = src->split_index[i];
		if (nd->feat >= n_features)
			goto out;
		nd->dleft = src->default_left[i] != 0;
		nd->cat = src->split_type && src->split_type[i] == TREE_CATEGORICAL;
		if (nd->cat && (!src->cat_off || !src->cat_len || !src->cat_bits))
			goto out;
		if (feat_slot[nd->feat] == UINT32_MAX)
			feat_slot[nd->feat] = n_slots++;
		nd->slot = feat_slot[nd->feat];
		seen[nd->left] = seen[nd->right] = 1;
		depth[nd->left] = depth[nd->right] = depth[i] + 1;
		if (depth[i] + 1 > max_depth)
			max_depth = depth[i] + 1;
		order[n_order++] = (uint32_t)nd->left;
		order[n_order++] = (uint32_t)nd->right;
	}
	/* Children before parents: mean values and the edges' zero fractions. */
	for (size_t k = n_order; k-- > 0;) {
		uint32_t i = order[k];
		struct snode *nd = &st->nodes[i];
		if (nd->left == -1) {
			mean[i] = nd->cond;
			continue;
		}
		float r = mean[nd->left] * src->sum_hess[nd->left];
		r += mean[nd->right] * src->sum_hess[nd->right];
		r /= src->sum_hess[i];
		mean[i] = r;
		st->nodes[nd->left].zf = src->sum_hess[nd->left] / src->sum_hess[i];
		st->nodes[nd->right].zf = src->sum_hess[nd->right] / src->sum_hess[i];
	}
	st->mean0 = mean[0];
	st->depth = max_depth;
	st->n_slots = n_slots;
	st->slot_feat = malloc(((size_t)n_slots + 1) * sizeof *st->slot_feat);
	rc = st->slot_feat ? 0 : -ENOMEM;
out:
	/* Leave feat_slot all UINT32_MAX again. */
	if (order && st->nodes) {
		for (size_t k = 0; k < n_order; k++) {
			const struct snode *nd = &st->nodes[order[k]];
			if (nd->left == -1 || nd->feat >= n_features)
				continue;
			if (st->slot_feat && rc == 0)
				st->slot_feat[nd->slot] = nd->feat;
			feat_slot[nd->feat] = UINT32_MAX;
		}
	}
	free(order);
	free(depth);
	free(mean);
	free(seen);
	return rc;
}

/*
 * Packs every tree (prepare_tree()), then, within the budget, builds the per-leaf tables
 * (build_tables()); on any failure frees what was made and returns the error.
 */
int shap_prepare(const struct shap_model *m, struct shap_forest **out)
{
	*out = NULL;
	if (!m || (m->n_trees && (!m->trees || !m->tree_group)) || m->n_groups == 0)
		return -EINVAL;
	struct shap_forest *f = calloc(1, sizeof *f);
	uint32_t *feat_slot = malloc(((size_t)m->n_features + 1) * sizeof *feat_slot);
	if (!f || !feat_slot) {
		free(f);
		free(feat_slot);
		return -ENOMEM;
	}
	memset(feat_slot, 0xff, ((size_t)m->n_features + 1) * sizeof *feat_slot);
	f->n_groups = m->n_groups;
	f->n_features = m->n_features;
	for (unsigned d = 0; d < SHAP_TQ; d++)
		for (unsigned i = 0; i < d; i++)
			f->tq[d][i] = (float)(d - i) / (float)(d + 1);
	f->weighted = m->weights != NULL;
	f->t = calloc(m->n_trees ? m->n_trees : 1, sizeof *f->t);
	int rc = f->t ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < m->n_trees; i++) {
		struct stree *st = &f->t[i];
		if (m->tree_group[i] < 0 || (uint32_t)m->tree_group[i] >= m->n_groups) {
			rc = -EINVAL;
			break;
		}
		f->n_trees = i + 1;
		rc = prepare_tree(&m->trees[i], m->n_features, feat_slot, st);
		if (rc)
			break;
		st->group = (uint32_t)m->tree_group[i];
		st->weight = m->weights ? m->weights[i] : 1.0f;
		if (st->n_slots > f->max_slots)
			f->max_slots = st->n_slots;
		if (st->depth > f->max_depth)
			f->max_depth = st->depth;
	}
	free(feat_slot);
	if (rc == 0 && m->table_bytes) {
		size_t budget = m->table_bytes;
		size_t maxd = SHAP_TAB_DEPTH + 2;
		struct pelem *path = malloc((maxd * (maxd + 1)) / 2 * sizeof *path);
		rc = path ? 0 : -ENOMEM;
		for (size_t i = 0; rc == 0 && i < f->n_trees; i++)
			rc = build_tables(f, &f->t[i], path, &budget);
		free(path);
	}
	if (rc) {
		shap_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* The child of the inner node i that x goes to: tree_next() on the packed node. */
static inline int32_t snext(const struct stree *t, const struct snode *nd, uint32_t i, float x)
{
	if (isnan(x))
		return nd->dleft ? nd->left : nd->right;
	if (nd->cat)
		return tree_cat_right(t->src, i, x) ? nd->right : nd->left;
	return x < nd->cond ? nd->left : nd->right;
}

size_t shap_leaf(const struct shap_forest *f, const float *rows, size_t nrows, size_t tree_end,
                 int32_t *out)
{
	if (tree_end == 0 || tree_end > f->n_trees)
		tree_end = f->n_trees;
	for (size_t r = 0; r < nrows; r++) {
		const float *x = rows + r * f->n_features;
		int32_t *o = out + r * tree_end;
		for (size_t j = 0; j < tree_end; j++) {
			const struct stree *t = &f->t[j];
			uint32_t i = 0;
			while (t->nodes[i].left != -1)
				i = (uint32_t)snext(t, &t->nodes[i], i, x[t->nodes[i].feat]);
			o[j] = (int32_t)i;
		}
	}
	return tree_end;
}

/* ExtendPath: adds a feature with its zero and one fractions at depth d. */
static void extend_path(struct pelem *p, unsigned d, float z, float o, int32_t slot)
{
	p[d].slot = slot;
	p[d].z = z;
	p[d].o = o;
	p[d].pw = d == 0 ? 1.0f : 0.0f;
	const float dd = (float)(d + 1);
	for (int i = (int)d - 1; i >= 0; i--) {
		p[i + 1].pw += o * p[i].pw * (float)(i + 1) / dd;
		p[i].pw = z * p[i].pw * (float)(d - (unsigned)i) / dd;
	}
}

/* UnwindPath: undoes the extension of element k, the path being d deep. */
static void unwind_path(struct pelem *p, unsigned d, unsigned k)
{
	const float o = p[k].o, z = p[k].z, dd = (float)(d + 1);
	float next = p[d].pw;

	for (int i = (int)d - 1; i >= 0; --i) {
		if (o != 0) {
			const float tmp = p[i].pw;
			p[i].pw = next * dd / ((float)(i + 1) * o);
			next = tmp - p[i].pw * z * (float)(d - (unsigned)i) / dd;
		} else {
			p[i].pw = (p[i].pw * dd) / (z * (float)(d - (unsigned)i));
		}
	}
	for (unsigned i = k; i < d; ++i) {
		p[i].slot = p[i + 1].slot;
		p[i].z = p[i + 1].z;
		p[i].o = p[i + 1].o;
	}
}

/* The ratio (d - i) / (d + 1) of UnwoundPathSum, from the table when d is in it. */
static inline float ratio(const float *tq_d, unsigned d, int i)
{
	return tq_d ? tq_d[i] : (float)(d - (unsigned)i) / (float)(d + 1);
}

/*
 * UnwoundPathSum: the total permutation weight were element k unwound. tq_d is the
 * forest's row tq[d], or NULL past the table.
 */
static float unwound_sum(const struct pelem *p, unsigned d, unsigned k, const float *tq_d)
{
	const float o = p[k].o, z = p[k].z, dd = (float)(d + 1);
	float next = p[d].pw, total = 0;

	for (int i = (int)d - 1; i >= 0; --i) {
		if (o != 0) {
			const float tmp = next * dd / ((float)(i + 1) * o);
			total += tmp;
			next = p[i].pw - tmp * z * ratio(tq_d, d, i);
		} else if (z != 0) {
			total += (p[i].pw / z) / ratio(tq_d, d, i);
		}
	}
	return total;
}

/*
 * The leaves' part of TreeShap, for n (1 or 2) leaves whose paths have the same length d:
 * phi[slot of k] += UnwoundPathSum(p, d, k) * (o - z) * leaf for k = 1..d, leaf after
 * leaf. The sums are independent, so past d = 2 they run side by side in 4-float vector
 * lanes, each lane doing its own scalar sequence of IEEE operations in XGBoost's order:
 * the same bits, with the divisions' latency shared (two sibling leaves double the work in
 * flight). Lanes are grouped by XGBoost's branch (one fraction nonzero or not), so that a
 * chunk computes one branch only: 1 or 2 divisions per step. Longer paths take the
 * scalar loop.
 */
typedef float v4f __attribute__((vector_size(16)));
#define LEAF_CHUNKS 20

static void leaf_phi(const struct shap_forest *f, const struct pelem *const *ps,
                     const float *leaves, unsigned n, unsigned d, float *phi)
{
	const float *tq_d = d < SHAP_TQ ? f->tq[d] : NULL;

	if (d <= 2 || n * ((d + 3) / 4 + 1) > LEAF_CHUNKS) {
		for (unsigned j = 0; j < n; j++)
			for (unsigned k = 1; k <= d; ++k)
				phi[ps[j][k].slot] += unwound_sum(ps[j], d, k, tq_d) *
				                      (ps[j][k].o - ps[j][k].z) * leaves[j];
		return;
	}
	v4f O[LEAF_CHUNKS], Z[LEAF_CHUNKS], next[LEAF_CHUNKS], tot[LEAF_CHUNKS];
	unsigned char kind[LEAF_CHUNKS], path[LEAF_CHUNKS], lane_k[LEAF_CHUNKS][4];
	unsigned nt = 0;
	const float dd = (float)(d + 1);
	const v4f DD = {dd, dd, dd, dd}, zero = {0, 0, 0, 0};
	/* Per path, its one-fraction lanes in chunks of their own, then its zero-fraction lanes. */
	for (unsigned j = 0; j < n; j++) {
		const struct pelem *p = ps[j];
		const float top = p[d].pw;
		for (unsigned want = 1; want <= 2; want++) {
			unsigned l = 4;
			for (unsigned k = 1; k <= d; k++) {
				if ((p[k].o != 0 ? 1u : 2u) != want)
					continue;
				if (l == 4) {
					O[nt] = Z[nt] = (v4f){1, 1, 1, 1};
					next[nt] = (v4f){top, top, top, top};
					tot[nt] = zero;
					kind[nt] = (unsigned char)want;
					path[nt] = (unsigned char)j;
					memset(lane_k[nt], 0, 4);
					nt++;
					l = 0;
				}
				O[nt - 1][l] = p[k].o;
				Z[nt - 1][l] = p[k].z;
				lane_k[nt - 1][l++] = (unsigned char)k;
			}
		}
	}
	for (int i = (int)d - 1; i >= 0; --i) {
		const float i1 = (float)(i + 1), t = ratio(tq_d, d, i);
		const v4f I1 = {i1, i1, i1, i1}, T = {t, t, t, t};
		for (unsigned c = 0; c < nt; c++) {
			const float pw = ps[path[c]][i].pw;
			const v4f PW = {pw, pw, pw, pw};
			if (kind[c] == 1) {
				const v4f tmp = next[c] * DD / (I1 * O[c]);
				tot[c] += tmp;
				next[c] = PW - tmp * Z[c] * T;
			} else {
				tot[c] += (PW / Z[c]) / T;
			}
		}
	}
	float sums[2][LEAF_CHUNKS * 4 + 1];
	for (unsigned c = 0; c < nt; c++)
		for (unsigned l = 0; l < 4; l++) {
			const unsigned k = lane_k[c][l];
			if (k)
				sums[path[c]][k] = kind[c] == 1 || Z[c][l] != 0 ? tot[c][l] : 0.0f;
		}
	for (unsigned j = 0; j < n; j++) {
		const struct pelem *p = ps[j];
		for (unsigned k = 1; k <= d; ++k)
			phi[p[k].slot] += sums[j][k] * (p[k].o - p[k].z) * leaves[j];
	}
}

/*
 * Per-leaf tables. What TreeShap adds at a leaf depends only on the leaf and on which
 * child was the hot one (the one x follows) at each node of its path: L bits for a leaf L
 * deep. So for small trees every one of the 2^L cases is computed here, once, with the
 * very operations walk_tree() does (same functions, same order, hence the same bits), and
 * a row's walk only finds each leaf's case and adds its d values, in TreeShap's order
 * (hot child first). vals holds, per leaf, 2^L rows of d floats; lslots its d slots.
 */
struct sim {
	const struct shap_forest *f;
	struct stree *t;
};

static void sim_node(const struct sim *s, uint32_t i, unsigned d, struct pelem *parent, float pz,
                     float po, int32_t pslot, unsigned depth, uint32_t pattern)
{
	const struct snode *nd = &s->t->nodes[i];
	struct pelem *p = parent + d + 1;

	memcpy(p, parent, (d + 1) * sizeof *p);
	extend_path(p, d, pz, po, pslot);
	if (nd->left == -1) {
		const float *tq_d = d < SHAP_TQ ? s->f->tq[d] : NULL;
		float *v = s->t->vals + nd->voff + (size_t)pattern * d;
		for (unsigned k = 1; k <= d; ++k) {
			v[k - 1] = unwound_sum(p, d, k, tq_d) * (p[k].o - p[k].z) * nd->cond;
			s->t->lslots[nd->soff + (k - 1)] = (uint32_t)p[k].slot;
		}
		return;
	}
	float iz = 1, io = 1;
	unsigned k = 0;
	for (; k <= d; ++k)
		if ((uint32_t)p[k].slot == nd->slot)
			break;
	if (k != d + 1) {
		iz = p[k].z;
		io = p[k].o;
		unwind_path(p, d, k);
		d -= 1;
	}
	const int32_t child[2] = {nd->left, nd->right};
	for (int c = 0; c < 2; c++) {
		const float z = s->t->nodes[child[c]].zf * iz;
		sim_node(s, (uint32_t)child[c], d + 1, p, z, io, (int32_t)nd->slot, depth + 1,
		         pattern | 1u << depth);
		sim_node(s, (uint32_t)child[c], d + 1, p, z, 0, (int32_t)nd->slot, depth + 1,
		         pattern);
	}
}

/*
 * Each leaf's path length d (XGBoost's unique_depth there: distinct features on the path)
 * and its offsets; *nvals and *nslots grow by what the leaf needs. feats is scratch.
 */
static void leaf_sizes(struct stree *t, uint32_t i, unsigned depth, uint32_t *feats, unsigned nf,
                       size_t *nvals, size_t *nslots)
{
	struct snode *nd = &t->nodes[i];
	if (nd->left == -1) {
		nd->nd = nf;
		nd->voff = (uint32_t)*nvals;
		nd->soff = (uint32_t)*nslots;
		*nvals += ((size_t)1 << depth) * nf;
		*nslots += nf;
		return;
	}
	unsigned k = 0;
	while (k < nf && feats[k] != nd->slot)
		k++;
	unsigned n2 = nf + (k == nf);
	feats[k] = nd->slot;
	leaf_sizes(t, (uint32_t)nd->left, depth + 1, feats, n2, nvals, nslots);
	leaf_sizes(t, (uint32_t)nd->right, depth + 1, feats, n2, nvals, nslots);
}

/*
 * Builds tree t's tables when it is at most SHAP_TAB_DEPTH deep and they take at most
 * SHAP_TAB_TREE_BYTES and what is left of *budget bytes (then taken from it). path is a scratch
 * path buffer.
 */
static int build_tables(const struct shap_forest *f, struct stree *t, struct pelem *path,
                        size_t *budget)
{
	if (t->depth > SHAP_TAB_DEPTH)
		return 0;
	uint32_t feats[SHAP_TAB_DEPTH + 1];
	size_t nvals = 0, nslots = 0;
	leaf_sizes(t, 0, 0, feats, 0, &nvals, &nslots);
	if (nvals > UINT32_MAX || nslots > UINT32_MAX)
		return 0;
	size_t bytes = nvals * sizeof(float) + nslots * sizeof(uint32_t);
	if (bytes > *budget || bytes > SHAP_TAB_TREE_BYTES)
		return 0;
	t->vals = malloc(nvals ? nvals * sizeof(float) : 1);
	t->lslots = malloc(nslots ? nslots * sizeof(uint32_t) : 1);
	if (!t->vals || !t->lslots) {
		free(t->vals);
		free(t->lslots);
		t->vals = NULL;
		t->lslots = NULL;
		return -ENOMEM;
	}
	*budget -= bytes;
	const struct sim s = {f, t};
	path[0] = (struct pelem){0};
	sim_node(&s, 0, 0, path, 1, 1, -1, 0, 0);
	return 0;
}

/* One tree with tables: the hot-first walk of TreeShap, adding each leaf's case. */
static void table_walk(const struct stree *t, const float *x, float *phi)
{
	struct {
		uint32_t node, depth, pattern;
	} st[SHAP_TAB_DEPTH + 2];
	unsigned top = 0;

	st[top++] = (typeof(st[0])){0, 0, 0};
	while (top) {
		const uint32_t i = st[--top].node, depth = st[top].depth, pattern = st[top].pattern;
		const struct snode *nd = &t->nodes[i];
		if (nd->left == -1) {
			const float *v = t->vals + nd->voff + (size_t)pattern * nd->nd;
			const uint32_t *sl = t->lslots + nd->soff;
			for (uint32_t k = 0; k < nd->nd; k++)
				phi[sl[k]] += v[k];
			continue;
		}
		const int32_t hot = snext(t, nd, i, x[nd->feat]);
		const int32_t cold = hot == nd->left ? nd->right : nd->left;
		st[top++] = (typeof(st[0])){(uint32_t)cold, depth + 1, pattern};
		st[top++] = (typeof(st[0])){(uint32_t)hot, depth + 1, pattern | 1u << depth};
	}
}

/* One row's walk over one tree: XGBoost's TreeShap with condition 0. */
struct walk {
	const struct shap_forest *f;
	const struct stree *t;
	const float *x;
	float *phi;
};

/*
 * Two sibling leaves, hot then cold, as walk_tree() would visit them: each path extended
 * from the parent's as XGBoost does (the hot one in the path buffer, the cold one here),
 * then both leaves' sums together. Kept out of line so its array is not in every frame.
 */
#define PAIR_MAX 34 /* 32-element sibling paths: 2 * (8 + 1) chunks */

static __attribute__((noinline)) void leaf_pair(const struct walk *w, const struct pelem *parent,
                                                unsigned d, int32_t hot, int32_t cold, float hz,
                                                float cz, float io, int32_t slot)
{
	struct pelem *ph = (struct pelem *)parent + d + 1, pc[PAIR_MAX];

	memcpy(ph, parent, (d + 1) * sizeof *ph);
	memcpy(pc, parent, (d + 1) * sizeof *pc);
	extend_path(ph, d, hz, io, slot);
	extend_path(pc, d, cz, 0, slot);
	const struct pelem *ps[2] = {ph, pc};
	const float leaves[2] = {w->t->nodes[hot].cond, w->t->nodes[cold].cond};
	leaf_phi(w->f, ps, leaves, 2, d, w->phi);
}

static void walk_tree(const struct walk *w, uint32_t i, unsigned d, struct pelem *parent, float pz,
                      float po, int32_t pslot)
{
	const struct snode *nd = &w->t->nodes[i];
	struct pelem *p = parent + d + 1;

	memcpy(p, parent, (d + 1) * sizeof *p);
	extend_path(p, d, pz, po, pslot);
	if (nd->left == -1) {
		const struct pelem *ps[1] = {p};
		leaf_phi(w->f, ps, &nd->cond, 1, d, w->phi);
		return;
	}
	int32_t hot = snext(w->t, nd, i, w->x[nd->feat]);
	int32_t cold = hot == nd->left ? nd->right : nd->left;
	const float hz = w->t->nodes[hot].zf, cz = w->t->nodes[cold].zf;
	float iz = 1, io = 1;
	unsigned k = 0;
	for (; k <= d; ++k)
		if ((uint32_t)p[k].slot == nd->slot)
			break;
	if (k != d + 1) {
		iz = p[k].z;
		io = p[k].o;
		unwind_path(p, d, k);
		d -= 1;
	}
	if (w->t->nodes[hot].left == -1 && w->t->nodes[cold].left == -1 && d + 3 <= PAIR_MAX) {
		leaf_pair(w, p, d + 1, hot, cold, hz * iz, cz * iz, io, (int32_t)nd->slot);
		return;
	}
	walk_tree(w, (uint32_t)hot, d + 1, p, hz * iz, io, (int32_t)nd->slot);
	walk_tree(w, (uint32_t)cold, d + 1, p, cz * iz, 0, (int32_t)nd->slot);
}

/*
 * One row: every tree's contributions into its own zeroed buffer (by slot), then added to
 * the row's group, times the dart weight, as XGBoost adds this_tree_contribs. Columns a
 * tree does not touch get + 0 (or + 0 * w) there, which changes nothing (a sum that starts
 * at +0 is never -0), so only the tree's slots are added; a weight that is not finite
 * makes 0 * w a NaN, and then every column is added as XGBoost does.
 */
static void contribs_row(const struct shap_forest *f, const float *x, size_t tree_end,
                         const float *base, char *scratch, const struct layout *l, float *out)
{
	const size_t cols = (size_t)f->n_features + 1;
	struct pelem *path = (struct pelem *)(void *)(scratch + l->path);
	float *phi = (float *)(void *)(scratch + l->phi);

	memset(out, 0, f->n_groups * cols * sizeof *out);
	path[0] = (struct pelem){0};
	for (size_t j = 0; j < tree_end; j++) {
		const struct stree *t = &f->t[j];
		float *o = out + t->group * cols;
		struct walk w = {f, t, x, phi};

		memset(phi, 0, t->n_slots * sizeof *phi);
		if (t->vals)
			table_walk(t, x, phi);
		else
			walk_tree(&w, 0, 0, path, 1, 1, -1);
		const float bias = 0.0f + t->mean0;
		if (!f->weighted) {
			for (uint32_t s = 0; s < t->n_slots; s++)
				o[t->slot_feat[s]] += phi[s];
			o[cols - 1] += bias;
		} else if (isfinite(t->weight)) {
			const float wt = t->weight;
			for (uint32_t s = 0; s < t->n_slots; s++)
				o[t->slot_feat[s]] += phi[s] * wt;
			o[cols - 1] += bias * wt;
		} else {
			float *dense = (float *)(void *)(scratch + l->dense);
			memset(dense, 0, cols * sizeof *dense);
			for (uint32_t s = 0; s < t->n_slots; s++)
				dense[t->slot_feat[s]] = phi[s];
			dense[cols - 1] = bias;
			for (size_t c = 0; c < cols; c++)
				o[c] += dense[c] * t->weight;
		}
	}
	for (uint32_t g = 0; g < f->n_groups; g++)
		out[g * cols + cols - 1] += base[g];
}

int shap_contribs(const struct shap_forest *f, const float *rows, size_t nrows, size_t tree_end,
                  const float *base_margin, size_t base_stride, void *scratch, float *out)
{
	const struct layout l = scratch_layout(f);
	void *own = NULL;

	if (!scratch) {
		own = malloc(l.total);
		if (!own)
			return -ENOMEM;
		scratch = own;
	}
	if (tree_end == 0 || tree_end > f->n_trees)
		tree_end = f->n_trees;
	const size_t cols = (size_t)f->n_features + 1;
	for (size_t r = 0; r < nrows; r++)
		contribs_row(f, rows + r * f->n_features, tree_end, base_margin + r * base_stride,
		             scratch, &l, out + r * f->n_groups * cols);
	free(own);
	return 0;
}

void shap_linear_contribs(const float *weights, uint32_t n_features, uint32_t n_groups,
                          const float *rows, size_t nrows, const float *base_margin,
                          size_t base_stride, float *out)
{
	const size_t cols = (size_t)n_features + 1;
	const float *bias = weights + (size_t)n_features * n_groups;

	for (size_t r = 0; r < nrows; r++) {
		const float *x = rows + r * n_features;
		const float *base = base_margin + r * base_stride;
		for (uint32_t g = 0; g < n_groups; g++) {
			float *o = out + (r * n_groups + g) * cols;
			for (uint32_t c = 0; c < n_features; c++)
				o[c] =
				    isnan(x[c]) ? 0.0f : x[c] * weights[(size_t)c * n_groups + g];
			o[n_features] = bias[g] + base[g];
		}
	}
}
