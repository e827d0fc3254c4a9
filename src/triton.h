/* triton.h: Triton's model configuration and statistics extensions, and KServe's model list. */
#ifndef INFERD_TRITON_H
#define INFERD_TRITON_H

#include <jansson.h>
#include <stddef.h>

struct repo_set;
struct repo_entry;

/*
 * GET /v2/models: {"models": [name, ...]}, each served name once (KServe's list). 0 or
 * -ENOMEM; *out is a new reference.
 */
int triton_model_list(const struct repo_set *s, json_t **out);
/*
 * GET /v2/models/{name}[/versions/{v}]/config: e's configuration as Triton's model
 * configuration extension shapes it (name, platform, backend, max_batch_size = max_rows,
 * version_policy naming the versions of e's name served in s, input and output with
 * data_type and dims without the batch dimension). 0 or -ENOMEM.
 */
int triton_config(const struct repo_set *s, const struct repo_entry *e, size_t max_rows,
                  json_t **out);
/*
 * GET /v2/models[/{name}[/versions/{v}]]/stats: {"model_stats": [...]} for every served
 * version (name NULL), every version of name (version NULL or ""), or that one. 0, -ENOENT
 * when nothing served matches, or -ENOMEM.
 */
int triton_stats(const struct repo_set *s, const char *name, const char *version, json_t **out);

#endif
