/* repo.c: the set of served models, swapped atomically and reference counted. */
#include "repo.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "golden.h"
#include "log.h"
#include "model.h"

/* The same cap the model loader applies by default; checked before reading anything. */
#define REPO_MAX_FILE_BYTES ((size_t)256 << 20)

/* Guards current and every published set's refs. Held only for a few instructions. */
static pthread_mutex_t repo_lock = PTHREAD_MUTEX_INITIALIZER;
static struct repo_set *current;

int repo_init(void)
{
	pthread_mutex_lock(&repo_lock);
	current = NULL;
	pthread_mutex_unlock(&repo_lock);
	return 0;
}

void repo_fini(void)
{
	repo_publish(NULL);
}

static void entry_clear(struct repo_entry *e)
{
	free(e->name);
	free(e->version);
	free(e->path);
	model_unref(e->model);
	memset(e, 0, sizeof(*e));
}

void repo_set_free(struct repo_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_clear(&s->v[i]);
	free(s->v);
	free(s);
}

/* Reads a whole regular file into a malloc'd buffer. 0 or -errno with a reason. */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t cap, n = 0;
	char *p = NULL;
	int fd, r;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "%s is not a regular file", path);
		goto fail;
	}
	if ((uintmax_t)st.st_size > REPO_MAX_FILE_BYTES) {
		r = -EFBIG;
		snprintf(err, errlen, "%s is too large (%jd bytes, at most %zu)", path,
		         (intmax_t)st.st_size, REPO_MAX_FILE_BYTES);
		goto fail;
	}
	/* The size is only a hint: the file may change while we read it. */
	cap = (size_t)st.st_size + 1;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *np;

			if (cap > REPO_MAX_FILE_BYTES) {
				r = -EFBIG;
				snprintf(err, errlen, "%s is too large (more than %zu bytes)", path,
				         REPO_MAX_FILE_BYTES);
				goto fail;
			}
			cap *= 2;
			np = realloc(p, cap);
			if (!np) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory reading %s", path);
				goto fail;
			}
			p = np;
		}
		if (!p) {
			p = malloc(cap);
			if (!p) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory reading %s", path);
				goto fail;
			}
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*buf = p;
	*len = n;
	return 0;
fail:
	free(p);
	close(fd);
	return r;
}

static void sha256_hex(const char *buf, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)buf);
	sha256_digest(&ctx, sizeof(digest), digest);
	for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[64] = '\0';
}

/* Checks m against the golden set of cm. 0 or -errno with a reason. */
static int check_golden(const struct conf_model *cm, const struct model *m, char *err,
                        size_t errlen)
{
	struct golden g;
	char why[512];
	double max_diff = 0;
	int r;

	memset(&g, 0, sizeof(g));
	why[0] = '\0';
	r = golden_load(cm->golden, &g, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "golden set: %s", why); /* why names the file */
		return r;
	}
	r = golden_check(&g, m, cm->tolerance, &max_diff, why, sizeof(why));
	golden_free(&g);
	if (r < 0)
		snprintf(err, errlen, "golden set %s does not match: %s", cm->golden, why);
	return r;
}

/* Loads and validates one configured model into e. 0 or -errno with a reason. */
static int load_entry(const struct conf_model *cm, struct repo_entry *e, char *err, size_t errlen)
{
	struct model_limits lim = {.max_file_bytes = REPO_MAX_FILE_BYTES};
	const struct model_info *info;
	char why[512];
	char *buf = NULL;
	size_t len = 0;
	int r;

	e->name = strdup(cm->name ? cm->name : "");
	e->version = strdup(cm->version ? cm->version : "1");
	e->path = strdup(cm->path ? cm->path : "");
	if (!e->name || !e->version || !e->path) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Hash and parse one buffer, so a file replaced meanwhile cannot make them disagree. */
	r = read_file(e->path, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	sha256_hex(buf, len, e->sha256);
	why[0] = '\0';
	r = model_load_buffer(buf, len, &lim, &e->model, why, sizeof(why));
	free(buf);
	if (r < 0) {
		e->model = NULL;
		snprintf(err, errlen, "%s: %s", e->path, why);
		return r;
	}
	info = model_get_info(e->model);
	e->num_feature = info->num_feature;
	if (cm->num_feature > 0 && (size_t)cm->num_feature != info->num_feature) {
		snprintf(err, errlen, "num_feature is pinned to %ld but %s has %zu features",
		         cm->num_feature, e->path, info->num_feature);
		return -EINVAL;
	}
	if (cm->golden)
		return check_golden(cm, e->model, err, errlen);
	return 0;
}

int repo_build(const struct conf *c, struct repo_set **out)
{
	struct repo_set *s;
	int first = 0;

	*out = NULL;
	if (!c)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (c->n_models) {
		s->v = calloc(c->n_models, sizeof(*s->v));
		if (!s->v) {
			free(s);
			return -ENOMEM;
		}
	}
	s->n = c->n_models;
	/* Every model is tried, so one reload reports every problem, not only the first. */
	for (size_t i = 0; i < c->n_models; i++) {
		const struct conf_model *cm = &c->models[i];
		struct repo_entry *e = &s->v[i];
		char err[1024];
		int r;

		err[0] = '\0';
		r = load_entry(cm, e, err, sizeof(err));
		if (r < 0) {
			struct log_field f[] = {
			    {"MODEL", cm->name ? cm->name : ""},
			    {"MODEL_VERSION", cm->version ? cm->version : "1"},
			    {"MODEL_PATH", cm->path ? cm->path : ""},
			};

			log_fields(LOG_LVL_ERR, f, 3, "refusing model %s version %s: %s",
			           f[0].value, f[1].value, err);
			if (!first)
				first = r;
			continue;
		}
		{
			const struct model_info *info = model_get_info(e->model);
			struct log_field f[] = {
			    {"MODEL", e->name},
			    {"MODEL_VERSION", e->version},
			    {"MODEL_SHA256", e->sha256},
			    {"MODEL_PATH", e->path},
			};

			log_fields(LOG_LVL_INFO, f, 4,
			           "loaded model %s version %s (%s, %zu features, %zu trees%s)",
			           e->name, e->version, info->objective ? info->objective : "?",
			           info->num_feature, info->num_trees,
			           cm->golden ? ", golden set matched" : "");
		}
	}
	if (first) {
		repo_set_free(s);
		return first;
	}
	*out = s;
	return 0;
}

void repo_publish(struct repo_set *s)
{
	struct repo_set *old;
	int drop = 0;

	pthread_mutex_lock(&repo_lock);
	old = current;
	current = s;
	if (s)
		s->refs = 1; /* the repo's own reference */
	if (old && --old->refs == 0)
		drop = 1;
	pthread_mutex_unlock(&repo_lock);
	if (drop)
		repo_set_free(old);
}

struct repo_set *repo_acquire(void)
{
	struct repo_set *s;

	pthread_mutex_lock(&repo_lock);
	s = current;
	if (s)
		s->refs++;
	pthread_mutex_unlock(&repo_lock);
	return s;
}

void repo_release(struct repo_set *s)
{
	int drop;

	if (!s)
		return;
	pthread_mutex_lock(&repo_lock);
	drop = --s->refs == 0;
	pthread_mutex_unlock(&repo_lock);
	if (drop)
		repo_set_free(s);
}

/* Versions are positive integers as text; anything else sorts lowest. */
static unsigned long long version_num(const char *v)
{
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || *v == '-')
		return 0;
	return n;
}

const struct repo_entry *repo_find(const struct repo_set *s, const char *name, const char *version)
{
	const struct repo_entry *best = NULL;

	if (!s || !name)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct repo_entry *e = &s->v[i];

		if (!e->name || strcmp(e->name, name) != 0)
			continue;
		if (version) {
			if (strcmp(e->version, version) == 0)
				return e;
			continue;
		}
		if (!best || version_num(e->version) > version_num(best->version))
			best = e;
	}
	return best;
}
