/* fingerprint.c: an installation's environment manifest, and the differences between two. */
#include "fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonx.h"
#include "util.h"

extern char **environ;

/* Manifests nest a few levels (config.effective); this leaves room, and bounds the stack. */
#define FINGERPRINT_MAX_DEPTH 64
/* An os-release line or a package version longer than this is not one. */
#define FINGERPRINT_MAX_LINE 4096
/* os-release is a few hundred bytes; anything past this is not one. */
#define FINGERPRINT_MAX_OS_RELEASE (64 * 1024)

static const char *const default_os_release[] = {"/etc/os-release", "/usr/lib/os-release"};

/* Format and the package name are fixed: nothing from the caller reaches a shell. */
static const char *const default_pkg_query[] = {
    "dpkg-query", "-W", "--showformat=${db:Status-Status} ${Version}", FINGERPRINT_PACKAGE, NULL};

/* ---- the client's facts ---- */

/*
 * A JSON string of s, which comes from files and commands and need not be UTF-8: bytes
 * jansson refuses become '?' rather than failing the whole manifest. NULL when out of memory.
 */
static json_t *text_json(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/*
 * Unquotes an os-release value in place as the shell would: '...' literally, "..." with
 * \" \\ \$ \` escapes, a bare backslash escaping the next character. Stops at an unquoted
 * blank (trailing blanks and comments are not part of the value).
 */
static void unquote(char *s)
{
	char *w = s;
	char q = 0;

	for (; *s; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
			else
				*w++ = *s;
		} else if (q == '"') {
			if (*s == '"')
				q = 0;
			else if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
				*w++ = *++s;
			else
				*w++ = *s;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
		} else if (*s == '\\' && s[1]) {
			*w++ = *++s;
		} else if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			break;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Reads os-release line by line and keeps the four keys the fingerprint compares, each
 * unquoted; the object starts with all four null. See fingerprint.h.
 */
int fingerprint_os_release(const char *path, json_t **out)
{
	static const struct {
		const char *var, *key;
	} wanted[] = {
	    {"ID", "id"},
	    {"VERSION_ID", "version_id"},
	    {"VERSION_CODENAME", "version_codename"},
	    {"PRETTY_NAME", "pretty_name"},
	};
	char err[256], *buf = NULL, *line, *next;
	size_t len;
	json_t *o;
	int rc;

	*out = NULL;
	/* Through util: a FIFO or a device in its place is refused, never waited on. */
	rc = util_read_file(path, FINGERPRINT_MAX_OS_RELEASE, 0, &buf, &len, err, sizeof(err));
	if (rc < 0)
		return rc;
	o = json_object();
	for (size_t i = 0; o && i < sizeof(wanted) / sizeof(wanted[0]); i++)
		if (json_object_set_new(o, wanted[i].key, json_null()) < 0)
			rc = -ENOMEM;
	if (!o)
		rc = -ENOMEM;
	for (line = buf; rc == 0 && line && *line; line = next) {
		char *p = line, *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) > FINGERPRINT_MAX_LINE)
			continue;
		p += strspn(p, " \t");
		eq = strchr(p, '=');
		if (*p == '#' || !eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
			if (strcmp(p, wanted[i].var) != 0)
				continue;
			unquote(eq + 1);
			/* Later assignments win, as when the shell sources the file. */
			if (json_object_set_new(o, wanted[i].key, text_json(eq + 1)) < 0)
				rc = -ENOMEM;
		}
	}
	free(buf);
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

int fingerprint_kernel(json_t **out)
{
	struct utsname u;

	*out = NULL;
	if (uname(&u) < 0)
		return -errno;
	*out = json_pack("{s:s, s:s, s:s}", "sysname", u.sysname, "release", u.release, "machine",
	                 u.machine);
	return *out ? 0 : -ENOMEM;
}

/* posix_spawn file actions: stdin and stderr from/to /dev/null, stdout into the pipe. */
static int spawn_actions(posix_spawn_file_actions_t *fa, int wfd)
{
	if (posix_spawn_file_actions_init(fa) != 0)
		return -ENOMEM;
	if (posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(fa, 2, "/dev/null", O_WRONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, wfd, 1) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Runs argv with posix_spawnp (no shell, stdin and stderr on /dev/null, an empty signal
 * mask), keeps up to max bytes of its stdout and reads the rest so that the child never
 * blocks on a full pipe; exit status 0 is success. See fingerprint.h.
 */
int fingerprint_run_capture(const char *const argv[], size_t max, char **out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char *buf, chunk[4096];
	size_t len = 0;
	int fds[2], rc, status;
	pid_t pid;

	*out = NULL;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		free(buf);
		return rc;
	}
	rc = spawn_actions(&fa, fds[1]);
	if (rc == 0 && posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		rc = -ENOMEM;
	}
	if (rc < 0) {
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return rc;
	}
	/* The child starts with an empty mask and SIGPIPE at its default, whatever ours are. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		free(buf);
		return -ENOENT;
	}
	/* Read to the end even past max, so that the child never blocks on a full pipe. */
	for (;;) {
		ssize_t got = read(fds[0], chunk, sizeof(chunk));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (len < max) {
			size_t take = (size_t)got < max - len ? (size_t)got : max - len;

			memcpy(buf + len, chunk, take);
			len += take;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			free(buf);
			return -EIO;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(buf);
		/* 127: the exec failed in the child (where posix_spawn falls back to fork). */
		return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

int fingerprint_package_version(const char *const argv[], json_t **out)
{
	char *text = NULL, *version;
	size_t n;
	int rc;

	*out = NULL;
	rc = fingerprint_run_capture(argv ? argv : default_pkg_query, FINGERPRINT_MAX_LINE, &text);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		/* No dpkg, or dpkg knows no such package: not installed as a package. */
		*out = json_null();
		return 0;
	}
	n = strlen(text);
	while (n > 0 && strchr(" \t\r\n", text[n - 1]))
		text[--n] = '\0';
	version = strchr(text, ' ');
	if (version)
		*version++ = '\0';
	/*
	 * Removed packages keep a record ("config-files", or "not-installed" once purged) with
	 * their old version: that version is not on the system. A package being configured
	 * (half-configured, during its postinst) is, so only those two states mean absent.
	 */
	if (!version || !*version || strcmp(text, "not-installed") == 0 ||
	    strcmp(text, "config-files") == 0)
		*out = json_null();
	else
		*out = text_json(version);
	free(text);
	return *out ? 0 : -ENOMEM;
}

static int by_name(const void *x, const void *y)
{
	const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;

	return strcmp(json_string_value(json_object_get(a, "name")),
	              json_string_value(json_object_get(b, "name")));
}

/* Replaces obj[key], an array of named objects, by a copy sorted by name. */
static int sort_named(json_t *obj, const char *key)
{
	json_t *arr = json_object_get(obj, key), *sorted, *e, **v;
	size_t i, n = json_array_size(arr);
	int rc = 0;

	if (n < 2)
		return 0;
	json_array_foreach(arr, i, e)
	{
		if (!json_is_string(json_object_get(e, "name")))
			return 0; /* not a list of named entries: left as the daemon gave it */
	}
	v = malloc(n * sizeof(*v));
	sorted = json_array();
	if (!v || !sorted) {
		free(v);
		json_decref(sorted);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), by_name);
	for (i = 0; i < n && rc == 0; i++)
		if (json_array_append(sorted, v[i]) < 0)
			rc = -ENOMEM;
	free(v);
	if (rc == 0 && json_object_set(obj, key, sorted) < 0)
		rc = -ENOMEM;
	json_decref(sorted);
	return rc;
}

/* The first readable os-release, or null. */
static int os_part(const char *path, json_t **out)
{
	int rc = -ENOENT;

	if (path)
		rc = fingerprint_os_release(path, out);
	for (size_t i = 0; !path && rc < 0 && rc != -ENOMEM && i < 2; i++)
		rc = fingerprint_os_release(default_os_release[i], out);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		*out = json_null();
	return *out ? 0 : -ENOMEM;
}

/*
 * The Debian architecture these programs were built for (the package's): kernel.machine
 * says the machine, which an i386 build on an amd64 kernel does not tell.
 */
static const char *build_arch(void)
{
#if defined(__x86_64__) && defined(__LP64__)
	return "amd64";
#elif defined(__aarch64__) && defined(__LP64__)
	return "arm64";
#elif defined(__i386__)
	return "i386";
#else
	return HOST_CPU; /* the GNU name (configure's host_cpu) elsewhere */
#endif
}

/*
 * Copies the daemon's part (models sorted), then adds the client's parts one by one
 * (inferctl, os, kernel, package), stopping at the first failure. See fingerprint.h.
 */
int fingerprint_manifest(const json_t *daemon, const char *daemon_error,
                         const struct fingerprint_sources *src, json_t **out)
{
	static const struct fingerprint_sources none;
	json_t *m, *part = NULL;
	int rc;

	*out = NULL;
	if (!src)
		src = &none;
	m = json_is_object(daemon) ? json_deep_copy(daemon) : json_object();
	if (!m)
		return -ENOMEM;
	rc = sort_named(m, "models");
	if (rc == 0 && daemon_error && json_object_set_new(m, "error", text_json(daemon_error)) < 0)
		rc = -ENOMEM;
	if (rc == 0) {
		part = json_pack("{s:s, s:s?}", "version",
		                 src->inferctl_version ? src->inferctl_version : PACKAGE_VERSION,
		                 "libcurl", src->libcurl_version);
		if (!part || json_object_set_new(m, "inferctl", part) < 0)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = os_part(src->os_release, &part);
	if (rc == 0 && json_object_set_new(m, "os", part) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = fingerprint_kernel(&part);
	if (rc == 0 && json_object_set_new(m, "kernel", part) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = fingerprint_package_version(src->pkg_query, &part);
	if (rc == 0) {
		part = json_pack("{s:s, s:o, s:s}", "name", FINGERPRINT_PACKAGE, "version", part,
		                 "architecture", build_arch());
		if (!part || json_object_set_new(m, "package", part) < 0)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		json_decref(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* ---- the diff ---- */

/* The path being visited, grown and cut back as the walk descends and returns. */
struct differ {
	char *path;
	size_t len, cap;
	const char *const *ignore;
	size_t n_ignore;
	struct fingerprint_lines *out;
};

__attribute__((format(printf, 2, 3))) static int add_line(struct fingerprint_lines *l,
                                                          const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	l->v[l->n++] = s;
	return 0;
}

void fingerprint_lines_free(struct fingerprint_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int path_add(struct differ *d, const char *s, size_t n)
{
	if (d->len + n + 1 > d->cap) {
		size_t cap = d->cap ? d->cap : 128;
		char *p;

		while (d->len + n + 1 > cap)
			cap *= 2;
		p = realloc(d->path, cap);
		if (!p)
			return -ENOMEM;
		d->path = p;
		d->cap = cap;
	}
	memcpy(d->path + d->len, s, n);
	d->len += n;
	d->path[d->len] = '\0';
	return 0;
}

/* A key (or, with dots allowed, a name) that reads back unambiguously when written bare. */
static bool bare_ok(const char *s, bool dots)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == 0x7f || strchr("[]\"\\", c) || (c == '.' && !dots))
			return false;
	}
	return true;
}

/* Appends ["TEXT"] with TEXT in JSON quoting. */
static int path_add_quoted(struct differ *d, const char *text)
{
	json_t *s = json_string(text);
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	int rc = q ? 0 : -ENOMEM;

	json_decref(s);
	if (rc == 0)
		rc = path_add(d, "[", 1);
	if (rc == 0)
		rc = path_add(d, q, strlen(q));
	if (rc == 0)
		rc = path_add(d, "]", 1);
	free(q);
	return rc;
}

static int path_key(struct differ *d, const char *key)
{
	if (!bare_ok(key, false))
		return path_add_quoted(d, key);
	if (d->len > 0 && path_add(d, ".", 1) < 0)
		return -ENOMEM;
	return path_add(d, key, strlen(key));
}

static int path_name(struct differ *d, const char *name)
{
	if (!bare_ok(name, true))
		return path_add_quoted(d, name);
	if (path_add(d, "[", 1) < 0 || path_add(d, name, strlen(name)) < 0)
		return -ENOMEM;
	return path_add(d, "]", 1);
}

static int path_index(struct differ *d, size_t i)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "[%zu]", i);

	return path_add(d, b, (size_t)n);
}

static void path_cut(struct differ *d, size_t len)
{
	d->len = len;
	if (d->path)
		d->path[len] = '\0';
}

static const char *path_text(const struct differ *d)
{
	return d->len ? d->path : "(root)";
}

static bool ignored(const struct differ *d)
{
	for (size_t i = 0; i < d->n_ignore; i++) {
		size_t n = strlen(d->ignore[i]);

		if (d->len >= n && strncmp(d->path, d->ignore[i], n) == 0 &&
		    (d->len == n || d->path[n] == '.' || d->path[n] == '['))
			return true;
	}
	return false;
}

/* "+ PATH" or "- PATH" unless ignored. */
static int only_in(struct differ *d, char sign)
{
	if (ignored(d))
		return 0;
	return add_line(d->out, "%c %s", sign, path_text(d));
}

static int diff_value(struct differ *d, const json_t *a, const json_t *b, unsigned depth);

static int cmp_text(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Sorted keys of an object: 0 and *out (NULL when it has none), or -ENOMEM. */
static int sorted_keys(const json_t *o, const char ***out, size_t *n)
{
	const char **keys, *k;
	json_t *v;
	size_t i = 0;

	*out = NULL;
	*n = json_object_size(o);
	if (*n == 0)
		return 0;
	keys = malloc(*n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	/* jansson has no const iteration; nothing is changed. */
	json_object_foreach((json_t *)o, k, v)
	{
		keys[i++] = k;
	}
	qsort(keys, *n, sizeof(*keys), cmp_text);
	*out = keys;
	return 0;
}

/* Walks the union of both objects' keys in order. */
static int diff_object(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
	const char **ka = NULL, **kb = NULL;
	size_t na, nb, i = 0, j = 0, base = d->len;
	int rc;

	rc = sorted_keys(a, &ka, &na);
	if (rc == 0)
		rc = sorted_keys(b, &kb, &nb);
	while (rc == 0 && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(ka[i], kb[j]);

		rc = path_key(d, c <= 0 ? ka[i] : kb[j]);
		if (rc == 0 && c == 0)
			rc = diff_value(d, json_object_get(a, ka[i]), json_object_get(b, kb[j]),
			                depth + 1);
		else if (rc == 0)
			rc = only_in(d, c < 0 ? '-' : '+');
		path_cut(d, base);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	free(ka);
	free(kb);
	return rc;
}

/*
 * The array's elements sorted by name, when every one is an object with a string "name"
 * and no two share one. 0 and *out (NULL when not so named, or empty), or -ENOMEM.
 */
static int named_elements(const json_t *arr, const json_t ***out)
{
	const json_t **v;
	size_t i, n = json_array_size(arr);

	*out = NULL;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!json_is_string(json_object_get(json_array_get(arr, i), "name")))
			return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), by_name);
	for (i = 1; i < n; i++)
		if (by_name(&v[i - 1], &v[i]) == 0) {
			free(v);
			return 0;
		}
	*out = v;
	return 0;
}

static const char *name_of(const json_t *e)
{
	return json_string_value(json_object_get(e, "name"));
}

/* Elements matched by name: a reordering is no difference. */
static int diff_by_name(struct differ *d, const json_t **va, size_t na, const json_t **vb,
                        size_t nb, unsigned depth)
{
	size_t i = 0, j = 0, base = d->len;
	int rc = 0;

	while (rc == 0 && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(name_of(va[i]), name_of(vb[j]));

		rc = path_name(d, name_of(c <= 0 ? va[i] : vb[j]));
		if (rc == 0 && c == 0)
			rc = diff_value(d, va[i], vb[j], depth + 1);
		else if (rc == 0)
			rc = only_in(d, c < 0 ? '-' : '+');
		path_cut(d, base);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	return rc;
}

static int diff_array(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
	const json_t **va = NULL, **vb = NULL;
	size_t na = json_array_size(a), nb = json_array_size(b), base = d->len;
	int rc;

	rc = named_elements(a, &va);
	if (rc == 0)
		rc = named_elements(b, &vb);
	/* By name when both are named lists, or one is and the other is empty. */
	if (rc == 0 && (va || na == 0) && (vb || nb == 0) && (va || vb)) {
		rc = diff_by_name(d, va, na, vb, nb, depth);
	} else {
		for (size_t i = 0; rc == 0 && i < (na > nb ? na : nb); i++) {
			rc = path_index(d, i);
			if (rc == 0 && i < na && i < nb)
				rc = diff_value(d, json_array_get(a, i), json_array_get(b, i),
				                depth + 1);
			else if (rc == 0)
				rc = only_in(d, i < na ? '-' : '+');
			path_cut(d, base);
		}
	}
	free(va);
	free(vb);
	return rc;
}

static int diff_value(struct differ *d, const json_t *a, const json_t *b, unsigned depth)
{
	char *ta, *tb;
	int rc;

	if (ignored(d))
		return 0;
	/* Past the depth bound, a subtree is compared whole rather than walked. */
	if (depth < FINGERPRINT_MAX_DEPTH && json_is_object(a) && json_is_object(b))
		return diff_object(d, a, b, depth);
	if (depth < FINGERPRINT_MAX_DEPTH && json_is_array(a) && json_is_array(b))
		return diff_array(d, a, b, depth);
	/* json_equal tells 1 from 1.0 and true from false: each is a difference of its own. */
	if (json_equal((json_t *)a, (json_t *)b))
		return 0;
	ta = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	tb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	rc = ta && tb ? add_line(d->out, "%s: %s -> %s", path_text(d), ta, tb) : -ENOMEM;
	free(ta);
	free(tb);
	return rc;
}

int fingerprint_diff(const json_t *a, const json_t *b, const char *const *ignore, size_t n_ignore,
                     struct fingerprint_lines *out)
{
	struct differ d = {.ignore = ignore, .n_ignore = n_ignore, .out = out};
	int rc = diff_value(&d, a, b, 0);

	free(d.path);
	return rc;
}

int fingerprint_load(const char *path, json_t **out, char *err, size_t errlen)
{
	char why[512];
	json_t *j;
	int rc;

	*out = NULL;
	rc = jsonx_load_file(path, FINGERPRINT_MAX_MANIFEST_BYTES, FINGERPRINT_MAX_DEPTH, 0, &j,
	                     why, sizeof(why));
	if (rc == -EINVAL) {
		snprintf(err, errlen, "%s: not JSON: %s", path, why);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "%s: not a manifest (a JSON object)", path);
		json_decref(j);
		return -EINVAL;
	}
	*out = j;
	return 0;
}
