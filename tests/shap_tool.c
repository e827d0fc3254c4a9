/* shap_tool.c: test-only: a model's SHAP contributions and leaf indices for rows, as raw arrays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shap.h"
#include "shap_load.h"

/* A whole file; its size in *len. */
static void *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	void *buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

static int spill(const char *prefix, const char *ext, const void *p, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s.%s", prefix, ext);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(p, 1, len, fp) != len || fclose(fp)) {
		fprintf(stderr, "shap_tool: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: shap_tool -m MODEL.json -r ROWS.f32 -o PREFIX [-t TREE_END]"
	                " [-b BASE_MARGIN.f32] [-T TABLE_BYTES]\n"
	                "Writes PREFIX.contribs (float32 [rows][groups][features+1]) and, for\n"
	                "tree models, PREFIX.leaf (int32 [rows][trees]).\n");
	return 2;
}

/* Loads the model and rows, computes contributions (and leaf indices) and writes them. */
int main(int argc, char **argv)
{
	const char *model = NULL, *rows_path = NULL, *prefix = NULL, *base_path = NULL;
	size_t tree_end = 0, table_bytes = 0;
	int c;
	while ((c = getopt(argc, argv, "m:r:o:t:b:T:")) != -1) {
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case 'r':
			rows_path = optarg;
			break;
		case 'o':
			prefix = optarg;
			break;
		case 't':
			tree_end = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			base_path = optarg;
			break;
		case 'T':
			table_bytes = strtoull(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (!model || !rows_path || !prefix)
		return usage();
	struct sl_model m;
	if (sl_load(model, &m))
		return 1;
	size_t len = 0;
	float *rows = slurp(rows_path, &len);
	size_t width = m.n_features ? m.n_features : 1;
	if (!rows || len % (width * sizeof(float))) {
		fprintf(stderr, "shap_tool: %s is not rows of %u floats\n", rows_path,
		        m.n_features);
		return 1;
	}
	size_t nrows = len / (width * sizeof(float));
	float *base = NULL;
	size_t base_stride = 0;
	if (base_path) {
		base = slurp(base_path, &len);
		if (!base || len != nrows * m.n_groups * sizeof(float)) {
			fprintf(stderr, "shap_tool: %s is not [rows][groups] floats\n", base_path);
			return 1;
		}
		base_stride = m.n_groups;
	} else {
		base = malloc(m.n_groups * sizeof *base);
		for (uint32_t g = 0; g < m.n_groups; g++)
			base[g] = m.base_margin;
	}
	size_t cols = (size_t)m.n_features + 1;
	float *out = malloc(nrows * m.n_groups * cols * sizeof *out + 1);
	int rc = 0;
	if (m.linear) {
		shap_linear_contribs(m.linear_weights, m.n_features, m.n_groups, rows, nrows, base,
		                     base_stride, out);
		rc = spill(prefix, "contribs", out, nrows * m.n_groups * cols * sizeof *out);
	} else {
		struct shap_model sm = sl_shap_model(&m);
		sm.table_bytes = table_bytes;
		struct shap_forest *f;
		int e = shap_prepare(&sm, &f);
		if (e) {
			fprintf(stderr, "shap_tool: shap_prepare: %s\n", strerror(-e));
			return 1;
		}
		void *scratch = malloc(shap_scratch_size(f));
		shap_contribs(f, rows, nrows, tree_end, base, base_stride, scratch, out);
		rc = spill(prefix, "contribs", out, nrows * m.n_groups * cols * sizeof *out);
		int32_t *leaf = malloc(nrows * (m.n_trees ? m.n_trees : 1) * sizeof *leaf);
		size_t nt = shap_leaf(f, rows, nrows, tree_end, leaf);
		rc |= spill(prefix, "leaf", leaf, nrows * nt * sizeof *leaf);
		free(leaf);
		free(scratch);
		shap_free(f);
	}
	free(out);
	free(base);
	free(rows);
	sl_free(&m);
	return rc ? 1 : 0;
}
