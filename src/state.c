/* state.c: the daemon's state directory: last-known-good record, snapshots, rollback flag. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "repo.h"
#include "util.h"

/* The same cap the model loader applies; snapshots are whole model files. */
#define STATE_MAX_FILE_BYTES ((size_t)256 << 20)
/* A record lists a few models; anything near this size is not one of ours. */
#define STATE_MAX_RECORD_BYTES ((size_t)4 << 20)

/* Joins a and b (and c when not NULL) with '/'; -ENAMETOOLONG when it does not fit. */
static int path_join(char *out, size_t len, const char *a, const char *b, const char *c)
{
	int w = c ? snprintf(out, len, "%s/%s/%s", a, b, c) : snprintf(out, len, "%s/%s", a, b);

	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static bool sha_ok(const char *s)
{
	if (s == NULL || strlen(s) != UTIL_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < UTIL_SHA256_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A directory fsync makes a rename durable; some filesystems cannot, which is fine. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0 && errno != EINVAL)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Temp file, fsync, rename, fsync of the directory: the only way a crash or a full disk
 * leaves either the old file or the new one. Cleans the temp file up on every error.
 */
int state_write_atomic(const char *dir, const char *name, const void *data, size_t len, char *err,
                       size_t errlen)
{
	char tmp[PATH_MAX], final[PATH_MAX], tname[NAME_MAX + 1];
	const char *p = data;
	size_t off = 0;
	int fd, r;

	if (snprintf(tname, sizeof tname, "%s.tmp", name) >= (int)sizeof tname ||
	    path_join(tmp, sizeof tmp, dir, tname, NULL) < 0 ||
	    path_join(final, sizeof final, dir, name, NULL) < 0) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	/* O_NOFOLLOW: a symlink planted as the temp name must not send our bytes elsewhere. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return r;
	}
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-r));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* close() can report a delayed write error (NFS): it counts like any other. */
	r = close(fd);
	fd = -1;
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
		goto fail;
	}
	r = sync_dir(dir);
	if (r < 0) {
		snprintf(err, errlen, "%s was replaced but %s could not be synced: %s", final, dir,
		         strerror(-r));
		return r;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int state_mkdir(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof buf) {
		snprintf(err, errlen, "invalid directory name \"%.200s\"", dir);
		return -EINVAL;
	}
	memcpy(buf, dir, n + 1);
	/* Each prefix in turn: "a", "a/b", ... then the whole path. */
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) < 0) {
			int e = errno;
			if (e != EEXIST) {
				snprintf(err, errlen, "cannot create directory %s: %s", buf,
				         strerror(e));
				return -e;
			}
			if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
				snprintf(err, errlen, "%s exists and is not a directory", buf);
				return -ENOTDIR;
			}
		}
		buf[i] = dir[i];
	}
	return 0;
}

/* sha256 of a file, or -errno (-ENOENT when it is absent) with a reason. */
static int file_sha256(const char *path, char out[65], char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int r = util_read_file(path, STATE_MAX_FILE_BYTES, UTIL_NOFOLLOW, &buf, &len, err, errlen);

	if (r < 0)
		return r;
	util_sha256_hex(buf, len, out);
	free(buf);
	return 0;
}

/* Copies bytes to dir/name unless an identical copy (same sha256) is already there. */
static int put_copy(const char *dir, const char *name, const char *buf, size_t len, const char *sha,
                    char *err, size_t errlen)
{
	char path[PATH_MAX], have[65], why[256];

	if (path_join(path, sizeof path, dir, name, NULL) < 0) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	if (file_sha256(path, have, why, sizeof why) == 0 && strcmp(have, sha) == 0)
		return 0;
	return state_write_atomic(dir, name, buf, len, err, errlen);
}

/* Snapshots one served model; golden_sha gets its golden set's sha256 or "". */
static int snapshot_entry(const char *state_dir, const struct repo_entry *e, char golden_sha[65],
                          char *err, size_t errlen)
{
	char dir[PATH_MAX], sha[65];
	char *buf = NULL;
	size_t len = 0;
	int r;

	golden_sha[0] = '\0';
	if (!util_valid_name(e->name) || !util_valid_name(e->version)) {
		snprintf(err, errlen,
		         "model name \"%.64s\" or version \"%.64s\" cannot name a "
		         "snapshot directory",
		         e->name ? e->name : "", e->version ? e->version : "");
		return -EINVAL;
	}
	if (snprintf(dir, sizeof dir, "%s/%s/%s/%s", state_dir, STATE_SNAPSHOT_DIR, e->name,
	             e->version) >= (int)sizeof dir) {
		snprintf(err, errlen, "snapshot path for %s too long", e->name);
		return -ENAMETOOLONG;
	}
	r = util_read_file(e->path, STATE_MAX_FILE_BYTES, UTIL_NOFOLLOW, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	util_sha256_hex(buf, len, sha);
	/* The record must name the bytes served, not whatever is in the file now. */
	if (strcmp(sha, e->sha256) != 0) {
		snprintf(err, errlen,
		         "model %s version %s: %s changed since it was loaded (sha256 %.12s, "
		         "served %.12s); reload before marking it good",
		         e->name, e->version, e->path, sha, e->sha256);
		free(buf);
		return -ESTALE;
	}
	r = state_mkdir(dir, err, errlen);
	if (r == 0)
		r = put_copy(dir, "model.json", buf, len, sha, err, errlen);
	free(buf);
	if (r < 0 || e->golden == NULL)
		return r;
	r = util_read_file(e->golden, STATE_MAX_FILE_BYTES, UTIL_NOFOLLOW, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	util_sha256_hex(buf, len, golden_sha);
	r = put_copy(dir, "golden.json", buf, len, golden_sha, err, errlen);
	free(buf);
	if (r < 0)
		golden_sha[0] = '\0';
	return r;
}

int state_snapshot(const char *state_dir, const struct repo_set *s, char *err, size_t errlen)
{
	char g[65];
	int r = state_mkdir(state_dir, err, errlen);

	for (size_t i = 0; r == 0 && s && i < s->n; i++)
		r = snapshot_entry(state_dir, &s->v[i], g, err, errlen);
	return r;
}

static void utc_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/*
 * Snapshots every served model first and writes the record last, so that the record never
 * names a snapshot that is not on disk; see state.h.
 */
int state_mark_good(const char *state_dir, const char *config_file, const char *config_sha256,
                    const struct repo_set *s, char **json, char *err, size_t errlen)
{
	char now[32], snap[PATH_MAX];
	json_t *rec, *models;
	char *text;
	int r;

	if (json)
		*json = NULL;
	if (s == NULL || s->n == 0) {
		snprintf(err, errlen, "no models are served: there is nothing to mark good");
		return -EINVAL;
	}
	r = state_mkdir(state_dir, err, errlen);
	if (r < 0)
		return r;
	utc_now(now, sizeof now);
	models = json_array();
	rec = json_pack("{s:s, s:s?, s:s, s:o}", "time", now, "config_file", config_file,
	                "config_sha256", config_sha256 ? config_sha256 : "", "models", models);
	if (rec == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct repo_entry *e = &s->v[i];
		char g[65];
		json_t *m;

		r = snapshot_entry(state_dir, e, g, err, errlen);
		if (r < 0)
			goto out;
		snprintf(snap, sizeof snap, "%s/%s/%s/%s", state_dir, STATE_SNAPSHOT_DIR, e->name,
		         e->version);
		m = json_pack("{s:s, s:s, s:s, s:s?, s:s}", "name", e->name, "version", e->version,
		              "sha256", e->sha256, "golden_sha256", g[0] ? g : NULL, "snapshot",
		              snap);
		if (m == NULL || json_array_append_new(models, m) < 0) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
			goto out;
		}
	}
	text = json_dumps(rec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = state_write_atomic(state_dir, STATE_LKG_FILE, text, strlen(text), err, errlen);
	if (r == 0 && json)
		*json = text;
	else
		free(text);
out:
	json_decref(rec);
	return r;
}

void state_lkg_free(struct state_lkg *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct state_model *m = &l->models[i];
		free(m->name);
		free(m->version);
		free(m->sha256);
		free(m->golden_sha256);
		free(m->snapshot);
		free(m->model_path);
		free(m->golden_path);
	}
	free(l->models);
	free(l->time);
	free(l->config_file);
	free(l->config_sha256);
	memset(l, 0, sizeof *l);
}

/* Checks that obj has no key outside the NULL-terminated list. */
static const char *unknown_key(json_t *obj, const char *const *known)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v)
	{
		size_t i = 0;
		(void)v;
		while (known[i] && strcmp(known[i], k) != 0)
			i++;
		if (known[i] == NULL)
			return k;
	}
	return NULL;
}

static char *xstrdup_or_null(const char *s, bool *oom)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		*oom = true;
	return p;
}

/* Validates one models[] element into m. Returns NULL or what is wrong with it. */
static const char *parse_model(const char *state_dir, json_t *j, struct state_model *m, bool *oom)
{
	static const char *const keys[] = {"name",          "version",  "sha256",
	                                   "golden_sha256", "snapshot", NULL};
	json_t *gs = json_object_get(j, "golden_sha256");
	const char *name, *version, *sha, *snap, *gsha = NULL;
	char want[PATH_MAX];

	if (!json_is_object(j))
		return "a models element is not an object";
	if (unknown_key(j, keys) != NULL)
		return "a models element has an unknown key";
	name = json_string_value(json_object_get(j, "name"));
	version = json_string_value(json_object_get(j, "version"));
	sha = json_string_value(json_object_get(j, "sha256"));
	snap = json_string_value(json_object_get(j, "snapshot"));
	if (!util_valid_name(name))
		return "a model name is missing or invalid";
	if (!util_valid_name(version))
		return "a model version is missing or invalid";
	if (!sha_ok(sha))
		return "a model sha256 is missing or not 64 lowercase hex digits";
	if (gs != NULL && !json_is_null(gs)) {
		gsha = json_string_value(gs);
		if (!sha_ok(gsha))
			return "a golden_sha256 is not 64 lowercase hex digits";
	}
	/* The snapshot path is ours to derive: a record naming any other place is refused. */
	if (snprintf(want, sizeof want, "%s/%s/%s/%s", state_dir, STATE_SNAPSHOT_DIR, name,
	             version) >= (int)sizeof want)
		return "a snapshot path is too long";
	if (snap == NULL || strcmp(snap, want) != 0)
		return "a snapshot path is not the one this state directory uses";
	m->name = xstrdup_or_null(name, oom);
	m->version = xstrdup_or_null(version, oom);
	m->sha256 = xstrdup_or_null(sha, oom);
	m->golden_sha256 = xstrdup_or_null(gsha, oom);
	m->snapshot = xstrdup_or_null(want, oom);
	if (asprintf(&m->model_path, "%s/model.json", want) < 0) {
		m->model_path = NULL;
		*oom = true;
	}
	if (gsha != NULL && asprintf(&m->golden_path, "%s/golden.json", want) < 0) {
		m->golden_path = NULL;
		*oom = true;
	}
	return NULL;
}

/*
 * Reads last-known-good.json and checks every member strictly (types, names, versions,
 * digests), deriving the snapshot paths from state_dir rather than trusting the file: a
 * record edited by hand must not point a rollback outside the state directory.
 */
int state_lkg_read(const char *state_dir, struct state_lkg *out, char *err, size_t errlen)
{
	static const char *const keys[] = {"time", "config_file", "config_sha256", "models", NULL};
	char path[PATH_MAX];
	json_error_t je;
	json_t *root = NULL, *models, *cf;
	const char *bad = NULL, *t, *cs;
	char *buf;
	size_t len;
	bool oom = false;
	int r;

	memset(out, 0, sizeof *out);
	if (path_join(path, sizeof path, state_dir, STATE_LKG_FILE, NULL) < 0) {
		snprintf(err, errlen, "state directory path too long");
		return -ENAMETOOLONG;
	}
	r = util_read_file(path, STATE_MAX_RECORD_BYTES, UTIL_NOFOLLOW, &buf, &len, err, errlen);
	if (r == -EFBIG) {
		return -EBADMSG;
	} else if (r < 0) {
		if (r == -ENOENT)
			snprintf(err, errlen, "no last-known-good record (%s)", path);
		return r;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (root == NULL) {
		snprintf(err, errlen, "%s is corrupt: line %d column %d: %s", path, je.line,
		         je.column, je.text);
		return -EBADMSG;
	}
	if (!json_is_object(root)) {
		bad = "it is not a JSON object";
		goto corrupt;
	}
	if (unknown_key(root, keys) != NULL) {
		bad = "it has an unknown key";
		goto corrupt;
	}
	t = json_string_value(json_object_get(root, "time"));
	cf = json_object_get(root, "config_file");
	cs = json_string_value(json_object_get(root, "config_sha256"));
	models = json_object_get(root, "models");
	if (t == NULL || *t == '\0') {
		bad = "\"time\" is missing";
		goto corrupt;
	}
	if (cf == NULL || !(json_is_null(cf) || json_is_string(cf))) {
		bad = "\"config_file\" is missing or not a string or null";
		goto corrupt;
	}
	if (cs == NULL || !(*cs == '\0' || sha_ok(cs))) {
		bad = "\"config_sha256\" is missing or not a sha256";
		goto corrupt;
	}
	if (!json_is_array(models) || json_array_size(models) == 0) {
		bad = "\"models\" is missing or empty";
		goto corrupt;
	}
	out->models = calloc(json_array_size(models), sizeof *out->models);
	if (out->models == NULL) {
		oom = true;
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(models); i++) {
		bad = parse_model(state_dir, json_array_get(models, i), &out->models[i], &oom);
		out->n = i + 1;
		if (bad != NULL)
			goto corrupt;
		for (size_t k = 0; k < i; k++)
			if (strcmp(out->models[k].name, out->models[i].name) == 0) {
				bad = "a model is listed twice";
				goto corrupt;
			}
	}
	out->time = xstrdup_or_null(t, &oom);
	out->config_file = xstrdup_or_null(json_string_value(cf), &oom);
	out->config_sha256 = xstrdup_or_null(cs, &oom);
	if (oom)
		goto fail;
	json_decref(root);
	return 0;
corrupt:
	snprintf(err, errlen, "%s is corrupt: %s", path, bad);
	json_decref(root);
	state_lkg_free(out);
	return -EBADMSG;
fail:
	snprintf(err, errlen, "out of memory reading %s", path);
	json_decref(root);
	state_lkg_free(out);
	return -ENOMEM;
}

int state_lkg_verify(const struct state_lkg *l, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct state_model *m = &l->models[i];
		const char *files[2] = {m->model_path, m->golden_path};
		const char *shas[2] = {m->sha256, m->golden_sha256};

		for (int k = 0; k < 2; k++) {
			char have[65];
			int r;

			if (files[k] == NULL)
				continue;
			r = file_sha256(files[k], have, err, errlen);
			if (r < 0)
				return r;
			if (strcmp(have, shas[k]) != 0) {
				snprintf(err, errlen,
				         "snapshot %s has sha256 %.12s, the record says %.12s",
				         files[k], have, shas[k]);
				return -EBADMSG;
			}
		}
	}
	return 0;
}

void state_lkg_pins(const struct state_lkg *l, struct repo_pin *pins)
{
	for (size_t i = 0; i < l->n; i++) {
		pins[i].name = l->models[i].name;
		pins[i].version = l->models[i].version;
		pins[i].path = l->models[i].model_path;
		pins[i].golden = l->models[i].golden_path;
		pins[i].sha256 = l->models[i].sha256;
	}
}

int state_rollback_set(const char *state_dir, const char *json, char *err, size_t errlen)
{
	int r = state_mkdir(state_dir, err, errlen);

	if (r < 0)
		return r;
	return state_write_atomic(state_dir, STATE_ROLLBACK_FILE, json, strlen(json), err, errlen);
}

int state_rollback_record(const char *state_dir, const char *lkg_time, const char *reason,
                          const struct repo_set *s, char *err, size_t errlen)
{
	json_t *models = json_array(), *flag;
	char *text;
	int r;

	for (size_t i = 0; models && s && i < s->n; i++)
		json_array_append_new(models,
		                      json_pack("{s:s, s:s, s:s}", "name", s->v[i].name, "version",
		                                s->v[i].version, "sha256", s->v[i].sha256));
	flag = json_pack("{s:s, s:s, s:o}", "last_known_good_time", lkg_time, "reason", reason,
	                 "models", models);
	text = flag ? json_dumps(flag, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(flag);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = state_rollback_set(state_dir, text, err, errlen);
	free(text);
	return r;
}

int state_rollback_clear(const char *state_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r;

	if (path_join(path, sizeof path, state_dir, STATE_ROLLBACK_FILE, NULL) < 0) {
		snprintf(err, errlen, "state directory path too long");
		return -ENAMETOOLONG;
	}
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return r;
	}
	r = sync_dir(state_dir);
	if (r < 0)
		snprintf(err, errlen, "%s was removed but %s could not be synced: %s", path,
		         state_dir, strerror(-r));
	return r;
}

bool state_rollback_active(const char *state_dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (path_join(path, sizeof path, state_dir, STATE_ROLLBACK_FILE, NULL) < 0)
		return false;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}
