/* conf.h: inferd's configuration, read with libconfig into a plain const struct. */
#ifndef INFERD_CONF_H
#define INFERD_CONF_H

#include <stddef.h>

/* A model's tolerance when the config leaves it unset (any negative value means unset). */
#define CONF_TOLERANCE_UNSET (-1.0)

/* One served model. */
struct conf_model {
	char *name;       /* [A-Za-z0-9_.-]{1,64} */
	char *path;       /* an explicit model JSON file, or NULL: found in the repository */
	char *version;    /* a positive integer as text, or "latest" (only without path);
	                     default "1" with path, "latest" without */
	char *golden;     /* optional golden set (JSON), NULL when absent */
	double tolerance; /* max abs difference for the golden set, 0 = exact equality;
	                     CONF_TOLERANCE_UNSET (default, < 0): the golden set's own
	                     "tolerance", else 1e-6 */
	long num_feature; /* pinned input width, 0 = take the model's */
	int trees;        /* CONF_TREES_ALL (default) or CONF_TREES_BEST */
	unsigned outputs; /* CONF_OUT_* bits the model serves; 0 (unset): the defaults */
};

/* A model's trees key: which trees predict (Booster.predict's all, or best_iteration's). */
enum { CONF_TREES_ALL = 0, CONF_TREES_BEST = 1 };

/*
 * The outputs a model can serve (its outputs key), as bits; the order is the order they
 * are listed in metadata and answered in. CONF_N_OUTPUTS names, conf_output_names[i] for
 * bit 1 << i.
 */
enum {
	CONF_OUT_PREDICT = 1u << 0,
	CONF_OUT_MARGIN = 1u << 1,
	CONF_OUT_PROBA = 1u << 2,
	CONF_OUT_LABEL = 1u << 3,
	CONF_OUT_CONTRIBS = 1u << 4,
	CONF_OUT_LEAF = 1u << 5,
};
#define CONF_N_OUTPUTS 6
/* "predict", "margin", "predict_proba", "label", "contribs", "leaf": shared by the codecs. */
extern const char *const conf_output_names[CONF_N_OUTPUTS];

/* Thresholds for `inferctl smoke`. */
struct conf_smoke {
	double timeout;   /* seconds to wait for readiness, default 10 */
	long requests;    /* latency sample size, default 200 */
	double p99_ms;    /* p99 trigger, default 50 */
	char *on_failure; /* "rollback" | "fail" | "warn", default "rollback" */
};

struct conf {
	char *file;           /* where it was read from, NULL for the built-in default */
	char *socket_path;    /* default RUNSTATEDIR "/inferd/inferd.sock" */
	unsigned socket_mode; /* default 0660 */
	char *socket_group;   /* NULL = leave the group alone */
	char *admin_group;    /* NULL = root only for admin endpoints */
	char *state_dir;      /* default LOCALSTATEDIR "/lib/inferd" */
	char **repository;    /* model repository roots, searched in order (may be empty) */
	size_t n_repository;
	char sha256[65];         /* of the config file's bytes (of a fixed text for the default) */
	long max_body_bytes;     /* default 16 MiB */
	long max_connections;    /* default 256 */
	long connection_timeout; /* seconds, default 30 */
	long max_rows;           /* default 100000 */
	long max_json_depth;     /* default 32 */
	long max_header_bytes;   /* request line and headers together, default 16384 */
	long max_headers;        /* header fields per request, default 64 */
	long request_timeout;    /* seconds from a request's first byte to its last, default 10 */
	long max_model_bytes;    /* model file size, default 256 MiB (struct model_limits) */
	long max_trees;          /* trees per model, default 100000 (struct model_limits) */
	long max_tree_depth;     /* default 64 (struct model_limits) */
	char *listen_tcp;        /* "ADDR:PORT" or "[ADDR6]:PORT"; NULL = no TCP listener */
	long threads;            /* HTTP worker threads, 0 = one per core */
	long shutdown_grace;     /* seconds to finish in-flight requests, default 10 */
	int log_level;           /* enum log_level, default info */
	struct conf_model *models;
	size_t n_models;
	struct conf_smoke smoke;
};

/* Collected problems: every error is kept, not only the first. */
struct conf_error {
	char *file;
	int line; /* 0 when the problem has no line (missing file) */
	char *msg;
};
struct conf_errors {
	struct conf_error *v;
	size_t n;
};

/*
 * Reads and validates path. On success returns 0 and a new *out. On any error returns
 * -EINVAL (or -ENOENT etc.) with every problem appended to errs, each with its line:
 * syntax errors, unknown settings, wrong types and out-of-range values (naming the
 * setting and the accepted range), and duplicate model names.
 */
int conf_load(const char *path, struct conf **out, struct conf_errors *errs);
/*
 * As conf_load(), but a file that parses and is refused only for its settings (unknown
 * keys, wrong types, out-of-range values) still gives *out, with -EINVAL: the values read,
 * defaults where a setting is in error. For inferd --print-config, so that the package
 * can apply the admin's smoke.on_failure to a configuration it refuses.
 */
int conf_load_partial(const char *path, struct conf **out, struct conf_errors *errs);
/* Builds the built-in default: the bundled model on the default socket. */
int conf_default(struct conf **out);
/* Frees a config; NULL is fine. */
void conf_free(struct conf *c);
/* Formats one error as "MSG at line N in file F". Returns the buffer. */
const char *conf_error_str(const struct conf_error *e, char *buf, size_t len);
/* Frees the error list contents. */
void conf_errors_clear(struct conf_errors *errs);
/* Returns the conf_model named name, or NULL. */
const struct conf_model *conf_find_model(const struct conf *c, const char *name);

struct json_t;
/*
 * The effective value of every key, as a JSON object shaped like the schema (groups as
 * objects, models as a list; unset optional keys are null). A new reference, NULL on OOM.
 */
struct json_t *conf_effective_json(const struct conf *c);
/*
 * The value at a dotted key ("socket.path", "models.0.name") of root (the effective
 * configuration, or any JSON document), as a new string for a shell: a string as it is,
 * null as "", a number or true/false as JSON, an object as compact JSON, a list one
 * element a line. The one reader of config and JSON values for the package's scripts
 * (inferd --print-config, --print-json). -ENOENT when there is no such key, -ENOMEM.
 */
int conf_key_text(const struct json_t *root, const char *key, char **out);

#endif
