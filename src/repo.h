/* repo.h: the set of served models, swapped atomically and reference counted. */
#ifndef INFERD_REPO_H
#define INFERD_REPO_H

#include <stddef.h>

struct conf;
struct model;

/* One served model version. Immutable once published. */
struct repo_entry {
	char *name;
	char *version;
	char *path;
	char sha256[65];        /* of the model file, hex */
	struct model *model;
	size_t num_feature;     /* served input width */
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

/*
 * Loads and validates every model of c (parse, structure, pinned width, golden set)
 * into a new set. Nothing is swapped: the caller publishes with repo_publish().
 * Every failure is logged with MODEL=, MODEL_VERSION= fields; returns 0 when all loaded,
 * else the first negative errno (and *out is NULL).
 */
int repo_build(const struct conf *c, struct repo_set **out);
/* Makes s the served set atomically; the old one is freed when its last user lets go. */
void repo_publish(struct repo_set *s);
/* Takes a reference on the served set (NULL when none yet). Cheap; call per request. */
struct repo_set *repo_acquire(void);
/* Drops a reference taken with repo_acquire(). NULL is fine. */
void repo_release(struct repo_set *s);
/* Finds name (and version, or the highest when version is NULL) in s; NULL when absent. */
const struct repo_entry *repo_find(const struct repo_set *s, const char *name,
				   const char *version);
/* Frees a set that was never published. */
void repo_set_free(struct repo_set *s);

#endif
