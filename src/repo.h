/* repo.h: the set of served models, swapped atomically and reference counted. */
#ifndef INFERD_REPO_H
#define INFERD_REPO_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct model;
struct shap_forest;

/* A TreeSHAP forest shared by the entries (of several sets) that serve one loaded model. */
struct repo_shap {
	struct shap_forest *forest;
	unsigned long refs; /* atomic */
};

/* The index reason of a version served from a fallback pin. */
#define REPO_FALLBACK_REASON "last known good (configured version refused)"

/* One served model version. Immutable once published. */
struct repo_entry {
	char *name;
	char *version;
	char *path;      /* the model file it was loaded from */
	char *golden;    /* its golden set, NULL when none */
	char sha256[65]; /* of the model file's bytes as loaded, hex */
	struct model *model;
	size_t num_feature; /* served input width */
	bool fallback;      /* served from a startup fallback pin: the configured one was refused */
	unsigned outputs;   /* CONF_OUT_* bits served: the outputs key, or outputs_default() */
	int trees;          /* CONF_TREES_ALL or CONF_TREES_BEST, from the trees key */
	size_t tree_limit;  /* what trees means for model_predict_ex(): 0 (all) or best */
	struct repo_shap *shap; /* prepared when contribs or leaf is served by trees, else NULL */
};

/* An immutable snapshot of everything served. */
struct repo_set {
	struct repo_entry *v;
	size_t n;
	unsigned long refs; /* private: guarded by the repo lock */
};

/* Starts empty (not ready). */
int repo_init(void);
/* Drops the current set. */
void repo_fini(void);

/* Serve exactly this file for a model (rollback to a last-known-good snapshot). */
struct repo_pin {
	const char *name;
	const char *version;
	const char *path;   /* snapshot of the model file */
	const char *golden; /* snapshot of its golden set, or NULL */
	const char *sha256; /* expected sha256 of path; a different file is refused */
};

/* How a rebuild relates to what is served now. All fields may be zero/NULL. */
struct repo_build_opts {
	const struct repo_set *current; /* a model that fails keeps its version from here */
	const struct repo_pin *pins;    /* these models are served from the pinned files */
	size_t n_pins;
	const char *only; /* rebuild only this model; the others are copied from current */
	const char *drop; /* leave this model out (repository unload) */
	/*
	 * Startup only (current NULL): a configured model whose every candidate is refused
	 * is served from its pin here (the last-known-good snapshot, sha256-checked), marked
	 * fallback, instead of failing the build. Its refusals stay in the index.
	 */
	const struct repo_pin *fallback;
	size_t n_fallback;
};

/*
 * Builds a new set from c: for each configured model, the explicit path, or the
 * repository version chosen by its policy ("latest": the highest version that passes
 * validation; or a pinned number), or a pin from o. Validation: parse, structure, pinned
 * width, golden set. Unchanged files (same path and sha256 as in o->current) reuse the
 * loaded model. Nothing is swapped: the caller publishes with repo_publish().
 * Every refusal is logged with MODEL=, MODEL_VERSION=, MODEL_SHA256= and recorded for
 * repo_index_get(). Returns 0 when every configured model has a version to serve (a
 * failed model that keeps its current version, or is served from its fallback pin,
 * counts), else the first negative errno with *out NULL. o may be NULL.
 */
int repo_build(const struct conf *c, const struct repo_build_opts *o, struct repo_set **out);
/*
 * One row of the repository index, as the model-repository extension defines it: a
 * version the last build saw. A model served from a fallback pin has a READY row of its
 * own for that version, with the reason REPO_FALLBACK_REASON, beside the refused rows.
 */
struct repo_index_row {
	char *name;
	char *version;
	char *reason; /* why not served; "" when ready */
	bool ready;   /* READY, else UNAVAILABLE */
	bool refused; /* failed validation, as opposed to not served by policy */
};

/* The rows of one build, in the order the versions were seen. */
struct repo_index {
	struct repo_index_row *v;
	size_t n, cap;
};

/*
 * A copy of the last build's index into *out (empty before any build), for the callers
 * that report refusals; free it with repo_index_free(). 0 or -ENOMEM.
 */
int repo_index_get(struct repo_index *out);
/* Frees the rows of an index from repo_index_get(). NULL is fine. */
void repo_index_free(struct repo_index *ix);
/* Makes s the served set atomically; the old one is freed when its last user lets go. */
void repo_publish(struct repo_set *s);
/* Takes a reference on the served set (NULL when none yet). Cheap; call per request. */
struct repo_set *repo_acquire(void);
/* Drops a reference taken with repo_acquire(). NULL is fine. */
void repo_release(struct repo_set *s);
/* Finds name (and version, or the highest when version is NULL) in s; NULL when absent. */
const struct repo_entry *repo_find(const struct repo_set *s, const char *name, const char *version);
/* Frees a set that was never published. */
void repo_set_free(struct repo_set *s);

#endif
