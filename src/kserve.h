/* kserve.h: KServe's container contract: --model-name/--model-dir/--http-port, no config file. */
#ifndef INFERD_KSERVE_H
#define INFERD_KSERVE_H

#include <stdbool.h>
#include <stddef.h>

/* The contract's settings: flags, else INFERD_MODEL_NAME, INFERD_MODEL_DIR, INFERD_HTTP_PORT. */
struct kserve_opts {
	const char *model_name;
	const char *model_dir;
	const char *http_port;
};

/* Fills the settings the command line left NULL from the environment. */
void kserve_from_env(struct kserve_opts *o);
/* True when any setting is given: inferd then runs without a configuration file. */
bool kserve_wanted(const struct kserve_opts *o);
/*
 * Checks the settings (a model name as the config allows, a directory holding model.json
 * or else model.ubj, a TCP port 1..65535, default 8080) and writes the one-model
 * configuration they mean into a private directory: $INFERD_RUNTIME_DIR, else a new
 * ${TMPDIR:-/tmp}/inferd-kserve.XXXXXX. It also holds the socket and the state directory,
 * and golden.json from the model directory is used when present. *path (malloc'd) names
 * the file, which reloads reread. 0, or -errno with the reason in err.
 */
int kserve_write_config(const struct kserve_opts *o, char **path, char *err, size_t errlen);

#endif
