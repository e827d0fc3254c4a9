/* model_tool.c: loads a model and writes its outputs for float32 rows, for the engine exactness
 * suite. */
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Usage:
 *   model_tool info MODEL
 *     prints the model's info, one "key value" line each.
 *   model_tool predict MODEL ROWS LIMIT OUTPUT=FILE...
 *     ROWS holds float32 rows of num_feature values (little-endian, NaN = missing); LIMIT
 *     is a tree count, 0 (all) or "best"; each OUTPUT (margin, predict, proba, label) is
 *     written to FILE as little-endian float32, rows times the output's width.
 * Plain C without python, so the cross-architecture tests can run it under qemu. A new
 * output (contribs, leaf) is one more row in the outputs table below.
 */

enum out_kind { OUT_MARGIN, OUT_PREDICT, OUT_PROBA, OUT_LABEL, OUT_COUNT };

static const char *const out_names[OUT_COUNT] = {"margin", "predict", "proba", "label"};

static size_t out_width(const struct model_info *info, enum out_kind k)
{
	switch (k) {
	case OUT_MARGIN:
		return info->margin_width;
	case OUT_PREDICT:
		return info->predict_width;
	case OUT_PROBA:
		return info->proba_width;
	case OUT_LABEL:
		return 1;
	case OUT_COUNT:
		break;
	}
	return 0;
}

static float **out_slot(struct model_outputs *o, enum out_kind k)
{
	switch (k) {
	case OUT_MARGIN:
		return &o->margin;
	case OUT_PREDICT:
		return &o->predict;
	case OUT_PROBA:
		return &o->proba;
	case OUT_LABEL:
		return &o->label;
	case OUT_COUNT:
		break;
	}
	return NULL;
}

static int big_endian(void)
{
	const uint32_t one = 1;
	unsigned char b;
	memcpy(&b, &one, 1);
	return b == 0;
}

/* Swaps n float32 between little-endian (the files) and this host's order. */
static void swap_le(float *v, size_t n)
{
	if (!big_endian())
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		u = __builtin_bswap32(u);
		memcpy(&v[i], &u, 4);
	}
}

static void print_info(const struct model_info *in)
{
	printf("booster %s\nobjective %s\nnum_feature %zu\nnum_group %zu\nnum_trees %zu\n",
	       in->booster, in->objective, in->num_feature, in->num_group, in->num_trees);
	printf("predict_width %zu\nmargin_width %zu\nproba_width %zu\n", in->predict_width,
	       in->margin_width, in->proba_width);
	printf("base_score %.9g\nxgboost_version %s\nnum_parallel_tree %zu\n", in->base_score,
	       in->xgboost_version, in->num_parallel_tree);
	printf("best_iteration %lld\nbest_tree_limit %zu\ncategorical %d\nclassifier %d\n",
	       in->best_iteration, in->best_tree_limit, in->categorical, in->classifier);
	printf("num_classes %zu\n", in->num_classes);
	for (size_t c = 0; in->classes && c < in->num_classes; c++)
		printf("class %.17g\n", in->classes[c]);
	for (size_t f = 0; in->feature_names && f < in->num_feature; f++)
		printf("feature_name %s\n", in->feature_names[f]);
	for (size_t f = 0; in->feature_types && f < in->num_feature; f++)
		printf("feature_type %s\n", in->feature_types[f]);
}

static int read_rows(const char *path, size_t nfeat, float **rows, size_t *nrows)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		size_t r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (len < cap)
			break;
		char *p = realloc(buf, cap * 2);
		if (!p) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = p;
		cap *= 2;
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	if (len % (4 * nfeat)) {
		fprintf(stderr, "%s: %zu bytes are not rows of %zu float32\n", path, len, nfeat);
		free(buf);
		return -1;
	}
	*rows = (float *)(void *)buf;
	*nrows = len / (4 * nfeat);
	swap_le(*rows, *nrows * nfeat);
	return 0;
}

static int write_floats(const char *path, float *v, size_t n)
{
	swap_le(v, n);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(v, 4, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "%s: cannot write\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "info") && (strcmp(argv[1], "predict") || argc < 6))) {
		fprintf(stderr, "usage: model_tool info MODEL\n"
		                "       model_tool predict MODEL ROWS LIMIT|best OUTPUT=FILE...\n");
		return 2;
	}
	char err[512];
	struct model *m;
	int rc = model_load_file(argv[2], NULL, &m, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 1;
	}
	const struct model_info *info = model_get_info(m);
	if (!strcmp(argv[1], "info")) {
		print_info(info);
		model_unref(m);
		return 0;
	}
	float *rows;
	size_t nrows;
	if (read_rows(argv[3], info->num_feature, &rows, &nrows) < 0) {
		model_unref(m);
		return 1;
	}
	size_t limit =
	    !strcmp(argv[4], "best") ? info->best_tree_limit : (size_t)strtoull(argv[4], NULL, 10);
	struct model_outputs o = {0};
	const char *files[OUT_COUNT] = {0};
	int status = 0;
	for (int a = 5; a < argc && !status; a++) {
		const char *eq = strchr(argv[a], '=');
		int k = 0;
		while (k < OUT_COUNT && (!eq || strlen(out_names[k]) != (size_t)(eq - argv[a]) ||
		                         strncmp(argv[a], out_names[k], (size_t)(eq - argv[a]))))
			k++;
		if (k == OUT_COUNT || out_width(info, (enum out_kind)k) == 0) {
			fprintf(stderr, "%s: unknown output, or none for this model\n", argv[a]);
			status = 2;
			break;
		}
		files[k] = eq + 1;
		float **slot = out_slot(&o, (enum out_kind)k);
		*slot = calloc(nrows * out_width(info, (enum out_kind)k) + 1, sizeof(float));
		if (!*slot)
			status = 1;
	}
	if (!status && (rc = model_predict_ex(m, rows, nrows, limit, &o)) < 0) {
		fprintf(stderr, "predict: %s\n", strerror(-rc));
		status = 1;
	}
	for (int k = 0; k < OUT_COUNT; k++) {
		float *v = *out_slot(&o, (enum out_kind)k);
		if (!status && files[k] &&
		    write_floats(files[k], v, nrows * out_width(info, (enum out_kind)k)) < 0)
			status = 1;
		free(v);
	}
	free(rows);
	model_unref(m);
	return status;
}
