/* triton.c: Triton's model configuration and statistics extensions, and KServe's model list. */
#include "triton.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "mstats.h"
#include "repo.h"

int triton_model_list(const struct repo_set *s, json_t **out)
{
	json_t *names = json_array();

	*out = NULL;
	for (size_t i = 0; names && s && i < s->n; i++) {
		bool seen = false;
		/* The set is small and lists a name's versions together or not: scan back. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(s->v[j].name, s->v[i].name) == 0;
		if (!seen && json_array_append_new(names, json_string(s->v[i].name)) < 0) {
			json_decref(names);
			return -ENOMEM;
		}
	}
	*out = names ? json_pack("{s:o}", "models", names) : NULL;
	return *out ? 0 : -ENOMEM;
}

/* A version as Triton's int64 versions: its number when it is one, else the string. */
static json_t *version_json(const char *v)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno == 0 && end != v && *end == '\0' && n >= 0)
		return json_integer(n);
	return json_string(v);
}

/* One tensor of the configuration: dims without the batch dimension (-1: any). */
static json_t *tensor(const char *name, long long width)
{
	return json_pack("{s:s, s:s, s:s, s:[I]}", "name", name, "data_type", "TYPE_FP32", "format",
	                 "FORMAT_NONE", "dims", (json_int_t)width);
}

int triton_config(const struct repo_set *s, const struct repo_entry *e, size_t max_rows,
                  json_t **out)
{
	const struct model_info *mi = model_get_info(e->model);
	json_t *versions = json_array();

	*out = NULL;
	for (size_t i = 0; versions && i < s->n; i++)
		if (strcmp(s->v[i].name, e->name) == 0)
			json_array_append_new(versions, version_json(s->v[i].version));
	if (versions == NULL)
		return -ENOMEM;
	*out = json_pack("{s:s, s:s, s:s, s:{s:{s:o}}, s:I, s:[o], s:[oo], s:{s:{s:s}, s:{s:s}}}",
	                 "name", e->name, "platform", "xgboost_json", "backend", "inferd",
	                 "version_policy", "specific", "versions", versions, "max_batch_size",
	                 (json_int_t)(max_rows > INT32_MAX ? INT32_MAX : max_rows), "input",
	                 tensor("input", (long long)e->num_feature), "output",
	                 tensor("predict", (long long)mi->predict_width),
	                 tensor("margin", (long long)mi->margin_width), "parameters", "objective",
	                 "string_value", mi->objective ? mi->objective : "", "sha256",
	                 "string_value", e->sha256);
	return *out ? 0 : -ENOMEM;
}

static json_t *duration(uint64_t count, uint64_t ns)
{
	return json_pack("{s:I, s:I}", "count", (json_int_t)count, "ns", (json_int_t)ns);
}

/* One $model_stat of the statistics extension, from the counters of e. */
static json_t *entry_stat(const struct repo_entry *e)
{
	struct mstats_snap st;

	mstats_get(e->name, e->version, &st);
	/* No scheduler queue: a request is run as soon as its body is in, so queue is 0 ns. */
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}, "
	                 "s:[]}",
	                 "name", e->name, "version", e->version, "last_inference",
	                 (json_int_t)st.last_ms, "inference_count", (json_int_t)st.inference_count,
	                 "execution_count", (json_int_t)st.execution_count, "inference_stats",
	                 "success", duration(st.success, st.success_ns), "fail",
	                 duration(st.fail, st.fail_ns), "queue", duration(st.success, 0),
	                 "compute_input", duration(st.success, st.input_ns), "compute_infer",
	                 duration(st.success, st.infer_ns), "compute_output",
	                 duration(st.success, st.output_ns), "cache_hit", duration(0, 0),
	                 "cache_miss", duration(0, 0), "batch_stats");
}

int triton_stats(const struct repo_set *s, const char *name, const char *version, json_t **out)
{
	json_t *list = json_array();
	size_t n = 0;

	*out = NULL;
	if (list == NULL)
		return -ENOMEM;
	for (size_t i = 0; s && i < s->n; i++) {
		const struct repo_entry *e = &s->v[i];
		if (name != NULL && strcmp(e->name, name) != 0)
			continue;
		if (version != NULL && version[0] && strcmp(e->version, version) != 0)
			continue;
		if (json_array_append_new(list, entry_stat(e)) < 0) {
			json_decref(list);
			return -ENOMEM;
		}
		n++;
	}
	if (n == 0 && name != NULL) {
		json_decref(list);
		return -ENOENT;
	}
	*out = json_pack("{s:o}", "model_stats", list);
	return *out ? 0 : -ENOMEM;
}
