/* conf.c: reads inferd's libconfig file into a plain struct conf, reporting every error. */
#include "conf.h"

#include <errno.h>
#include <jansson.h>
#include <libconfig.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sock.h"
#include "util.h"

/* Normally set by src/Makefile.am; the tests compile without them. */
#ifndef INFERD_RUNSTATEDIR
#define INFERD_RUNSTATEDIR "/run"
#endif
#ifndef INFERD_LOCALSTATEDIR
#define INFERD_LOCALSTATEDIR "/var"
#endif
#ifndef INFERD_SYSCONFDIR
#define INFERD_SYSCONFDIR "/etc"
#endif
#ifndef INFERD_PKGDATADIR
#define INFERD_PKGDATADIR "/usr/share/inferd"
#endif

#define DEFAULT_SOCKET_PATH INFERD_RUNSTATEDIR "/inferd/inferd.sock"
#define DEFAULT_STATE_DIR   INFERD_LOCALSTATEDIR "/lib/inferd"
#define DEFAULT_MODEL_NAME  "breast-cancer"
/* A new version dropped into the first root goes live on reload; the bundled one is below. */
#define DEFAULT_REPOSITORY_0 INFERD_LOCALSTATEDIR "/lib/inferd/models"
#define DEFAULT_REPOSITORY_1 INFERD_PKGDATADIR "/models"
/* What conf->sha256 hashes for the built-in default: it has no file. */
#define DEFAULT_CONF_TEXT "built-in default " PACKAGE_VERSION
/* Far above any sane config; a bound so a wrong path (a device, a log) is not slurped. */
#define CONF_MAX_BYTES ((size_t)16 << 20)
#define VERSION_LATEST "latest"
/* sun_path must hold the path and its terminating NUL. */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum kind {
	K_GROUP,      /* a nested group of keys */
	K_MODELS,     /* the list of model groups */
	K_INT,        /* long, range lo .. hi */
	K_FLOAT,      /* double, range lo .. hi; integers accepted */
	K_STRING,     /* char *, non-empty, at most hi bytes when hi > 0 */
	K_PATH,       /* char *, relative paths resolved against the config's directory */
	K_MODE,       /* unsigned, octal string */
	K_LOG_LEVEL,  /* int, via log_level_from_name() */
	K_ON_FAILURE, /* char *, rollback | fail | warn */
	K_VERSION,    /* char *, integer lo .. hi stored as decimal text, or "latest" */
	K_REPOSITORY, /* char **, an array or list of paths, resolved like K_PATH */
	K_NAME,       /* char *, util_valid_name() */
	K_INET,       /* char *, "ADDR:PORT" or "[ADDR6]:PORT" (sock_parse_inet) */
	K_TREES,      /* int, "all" | "best" (CONF_TREES_*) */
	K_OUTPUTS,    /* unsigned, a list of output names (CONF_OUT_* bits) */
};

const char *const conf_output_names[CONF_N_OUTPUTS] = {"predict", "margin",   "predict_proba",
                                                       "label",   "contribs", "leaf"};
#define OUTPUT_LIST "predict, margin, predict_proba, label, contribs, leaf"

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	double lo, hi;
	const struct key *sub; /* K_GROUP: its keys */
};

#define CONF_OFF(f)  offsetof(struct conf, f)
#define MODEL_OFF(f) offsetof(struct conf_model, f)

static const struct key socket_keys[] = {
    {"path", K_STRING, CONF_OFF(socket_path), 0, SOCKET_PATH_MAX, NULL},
    {"mode", K_MODE, CONF_OFF(socket_mode), 0, 0777, NULL},
    {"group", K_STRING, CONF_OFF(socket_group), 0, 0, NULL},
    {"admin_group", K_STRING, CONF_OFF(admin_group), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key limits_keys[] = {
    {"max_body_bytes", K_INT, CONF_OFF(max_body_bytes), 1024, 1073741824, NULL},
    {"max_connections", K_INT, CONF_OFF(max_connections), 1, 65536, NULL},
    {"connection_timeout", K_INT, CONF_OFF(connection_timeout), 1, 3600, NULL},
    {"max_rows", K_INT, CONF_OFF(max_rows), 1, 10000000, NULL},
    {"max_json_depth", K_INT, CONF_OFF(max_json_depth), 8, 1024, NULL},
    {"max_header_bytes", K_INT, CONF_OFF(max_header_bytes), 1024, 1048576, NULL},
    {"max_headers", K_INT, CONF_OFF(max_headers), 8, 1024, NULL},
    {"request_timeout", K_INT, CONF_OFF(request_timeout), 1, 3600, NULL},
    {"max_model_bytes", K_INT, CONF_OFF(max_model_bytes), 1024, 4294967296.0, NULL},
    {"max_trees", K_INT, CONF_OFF(max_trees), 1, 10000000, NULL},
    {"max_tree_depth", K_INT, CONF_OFF(max_tree_depth), 1, 1024, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key server_keys[] = {
    {"threads", K_INT, CONF_OFF(threads), 0, 64, NULL},
    {"shutdown_grace", K_INT, CONF_OFF(shutdown_grace), 0, 300, NULL},
    {"state_dir", K_STRING, CONF_OFF(state_dir), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key smoke_keys[] = {
    {"timeout", K_FLOAT, CONF_OFF(smoke.timeout), 0.1, 3600, NULL},
    {"requests", K_INT, CONF_OFF(smoke.requests), 1, 1000000, NULL},
    {"p99_ms", K_FLOAT, CONF_OFF(smoke.p99_ms), 0.001, 60000, NULL},
    {"on_failure", K_ON_FAILURE, CONF_OFF(smoke.on_failure), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key model_keys[] = {
    {"name", K_NAME, MODEL_OFF(name), 0, 0, NULL},
    {"path", K_PATH, MODEL_OFF(path), 0, 0, NULL},
    {"version", K_VERSION, MODEL_OFF(version), 1, 2147483647, NULL},
    {"golden", K_PATH, MODEL_OFF(golden), 0, 0, NULL},
    {"tolerance", K_FLOAT, MODEL_OFF(tolerance), 0, 1, NULL},
    {"num_feature", K_INT, MODEL_OFF(num_feature), 1, 1000000, NULL},
    {"trees", K_TREES, MODEL_OFF(trees), 0, 0, NULL},
    {"outputs", K_OUTPUTS, MODEL_OFF(outputs), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key top_keys[] = {
    {"socket", K_GROUP, 0, 0, 0, socket_keys},
    {"limits", K_GROUP, 0, 0, 0, limits_keys},
    {"server", K_GROUP, 0, 0, 0, server_keys},
    {"log_level", K_LOG_LEVEL, CONF_OFF(log_level), 0, 0, NULL},
    {"listen_tcp", K_INET, CONF_OFF(listen_tcp), 0, 0, NULL},
    {"repository", K_REPOSITORY, 0, 0, 0, NULL},
    {"models", K_MODELS, 0, 0, 0, NULL},
    {"smoke", K_GROUP, 0, 0, 0, smoke_keys},
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const on_failure_values[] = {"rollback", "fail", "warn", NULL};

struct loader {
	const char *path;         /* the config file as given */
	char *dir;                /* where relative paths are resolved */
	struct conf_errors *errs; /* never NULL: the caller's or a private list */
	size_t nerr;              /* errors added by this load */
	bool oom;
};

/* ---- errors ---- */

static int errors_add(struct conf_errors *errs, const char *file, int line, char *msg)
{
	struct conf_error *v;
	char *f = strdup(file ? file : "");

	if (!f) {
		free(msg);
		return -ENOMEM;
	}
	v = realloc(errs->v, (errs->n + 1) * sizeof(*v));
	if (!v) {
		free(f);
		free(msg);
		return -ENOMEM;
	}
	errs->v = v;
	v[errs->n].file = f;
	v[errs->n].line = line;
	v[errs->n].msg = msg;
	errs->n++;
	return 0;
}

/*
 * Records msg (taking it). libconfig names an @include'd file as written, relative to the
 * include directory; the user needs the path that was actually read.
 */
static void add_error_at(struct loader *ld, const char *file, int line, char *msg)
{
	char *joined = NULL;

	if (file[0] != '/' && ld->dir && strcmp(file, ld->path) != 0) {
		if (asprintf(&joined, "%s/%s", ld->dir, file) < 0) {
			free(msg);
			ld->oom = true;
			return;
		}
		file = joined;
	}
	if (errors_add(ld->errs, file, line, msg) < 0)
		ld->oom = true;
	free(joined);
}

/* Records a problem at setting s (its file and line), or at the file itself when s is NULL. */
__attribute__((format(printf, 3, 4))) static void
add_error(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = ld->path;
	int line = 0;
	char *msg;
	va_list ap;
	int rc;

	if (s) {
		line = (int)config_setting_source_line(s);
		if (config_setting_source_file(s))
			file = config_setting_source_file(s);
	}
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	ld->nerr++;
	if (rc < 0) {
		ld->oom = true;
		return;
	}
	add_error_at(ld, file, line, msg);
}

void conf_errors_clear(struct conf_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

const char *conf_error_str(const struct conf_error *e, char *buf, size_t len)
{
	if (!buf || len == 0)
		return buf;
	/* A line number of 0 would mislead: the problem is the file as a whole. */
	if (e->line > 0)
		snprintf(buf, len, "%s at line %d in file %s", e->msg, e->line, e->file);
	else
		snprintf(buf, len, "%s in file %s", e->msg, e->file);
	return buf;
}

/* ---- did-you-mean ---- */

/* Optimal string alignment distance (a transposition counts as one edit). */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	size_t la = strlen(a), lb = strlen(b);
	size_t d[MAXLEN + 1][MAXLEN + 1];

	if (la > MAXLEN || lb > MAXLEN)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* True when a is an in-order abbreviation of b ("max_bdy" of "max_body_bytes"). */
static bool is_abbreviation(const char *a, const char *b)
{
	if (strlen(a) < 4 || a[0] != b[0])
		return false;
	for (; *b && *a; b++)
		if (*a == *b)
			a++;
	return *a == '\0';
}

/*
 * Picks the known key the user most likely meant: within two edits, or an abbreviation
 * of it. Ties go to the key listed first.
 */
static const char *closest_key(const struct key *keys, const char *name)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (const struct key *k = keys; k->name; k++) {
		size_t d = edit_distance(name, k->name);

		if (d > 2 && !is_abbreviation(name, k->name))
			continue;
		if (d < best_d) {
			best = k->name;
			best_d = d;
		}
	}
	return best;
}

/* ---- values ---- */

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

static bool is_integer(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static void *field(void *base, size_t off)
{
	return (char *)base + off;
}

static void set_string(struct loader *ld, void *base, size_t off, char *value)
{
	char **dst = field(base, off);

	if (!value) {
		ld->oom = true;
		return;
	}
	free(*dst);
	*dst = value;
}

static char *resolve_path(const struct loader *ld, const char *p)
{
	char *out;

	if (p[0] == '/' || !ld->dir)
		return strdup(p);
	if (asprintf(&out, "%s/%s", ld->dir, p) < 0)
		return NULL;
	return out;
}

/* Parses "0660" style modes: one to four octal digits, at most 0777. */
static int parse_mode(const char *s, unsigned *out)
{
	size_t n = strlen(s);
	unsigned v = 0;

	if (n < 1 || n > 4 || strspn(s, "01234567") != n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		v = v * 8 + (unsigned)(s[i] - '0');
	if (v > 0777)
		return -ERANGE;
	*out = v;
	return 0;
}

static void expect_type(struct loader *ld, const config_setting_t *s, const char *full,
                        const char *expected)
{
	add_error(ld, s, "%s: expected %s, got %s", full, expected, type_name(s));
}

static void walk_group(struct loader *ld, const config_setting_t *grp, const char *prefix,
                       const struct key *keys, void *base);
static void parse_models(struct loader *ld, const config_setting_t *s, struct conf *c);

/* repository = [ "root", ... ]: an array or a list, since both read naturally. */
static void parse_repository(struct loader *ld, const config_setting_t *s, struct conf *c)
{
	int type = config_setting_type(s);
	unsigned n;

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		add_error(ld, s, "repository: expected a list of strings, [ \"...\", ... ], got %s",
		          type_name(s));
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n == 0)
		return;
	c->repository = calloc(n, sizeof(*c->repository));
	if (!c->repository) {
		ld->oom = true;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *v;
		char *resolved;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			add_error(ld, e, "repository[%u]: expected a string, got %s", i,
			          type_name(e));
			continue;
		}
		v = config_setting_get_string(e);
		if (!*v) {
			add_error(ld, e, "repository[%u]: must not be empty", i);
			continue;
		}
		resolved = resolve_path(ld, v);
		if (!resolved) {
			ld->oom = true;
			return;
		}
		/* realpath() and the lookups below need it to fit a PATH_MAX buffer. */
		if (strlen(resolved) >= PATH_MAX) {
			add_error(ld, e, "repository[%u]: longer than %d bytes", i, PATH_MAX - 1);
			free(resolved);
			continue;
		}
		c->repository[c->n_repository++] = resolved;
	}
}

static void apply_int(struct loader *ld, const config_setting_t *s, const char *full,
                      const struct key *k, void *base)
{
	long long v;

	if (!is_integer(s)) {
		expect_type(ld, s, full, "an integer");
		return;
	}
	v = config_setting_get_int64(s);
	if ((double)v < k->lo || (double)v > k->hi) {
		add_error(ld, s, "%s: %lld is out of range (%lld .. %lld)", full, v,
		          (long long)k->lo, (long long)k->hi);
		return;
	}
	/* A 32-bit platform's long (and address space) ends below some documented maxima. */
	if (v > LONG_MAX) {
		add_error(ld, s, "%s: %lld is more than this platform can hold (at most %ld)", full,
		          v, LONG_MAX);
		return;
	}
	*(long *)field(base, k->off) = (long)v;
}

static void apply_float(struct loader *ld, const config_setting_t *s, const char *full,
                        const struct key *k, void *base)
{
	double v;

	if (is_integer(s))
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else {
		expect_type(ld, s, full, "a number");
		return;
	}
	if (!(v >= k->lo && v <= k->hi)) {
		add_error(ld, s, "%s: %g is out of range (%g .. %g)", full, v, k->lo, k->hi);
		return;
	}
	*(double *)field(base, k->off) = v;
}

static void apply_version(struct loader *ld, const config_setting_t *s, const char *full,
                          const struct key *k, void *base)
{
	long long v;
	char *text;

	if (is_integer(s)) {
		v = config_setting_get_int64(s);
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		/* KServe versions are strings, so "2" is as natural to write as 2. */
		const char *str = config_setting_get_string(s);
		char *end;

		if (strcmp(str, VERSION_LATEST) == 0) {
			set_string(ld, base, k->off, strdup(VERSION_LATEST));
			return;
		}
		errno = 0;
		v = strtoll(str, &end, 10);
		if (!*str || *end || errno || str[strspn(str, "0123456789")] != '\0') {
			add_error(ld, s, "%s: \"%s\" is neither a positive integer nor \"latest\"",
			          full, str);
			return;
		}
	} else {
		expect_type(ld, s, full, "an integer or \"latest\"");
		return;
	}
	if ((double)v < k->lo || (double)v > k->hi) {
		add_error(ld, s, "%s: %lld is out of range (%lld .. %lld)", full, v,
		          (long long)k->lo, (long long)k->hi);
		return;
	}
	if (asprintf(&text, "%lld", v) < 0)
		text = NULL;
	set_string(ld, base, k->off, text);
}

static void apply_string_kind(struct loader *ld, const config_setting_t *s, const char *full,
                              const struct key *k, void *base)
{
	const char *v;
	int lvl;

	if (k->kind == K_MODE && config_setting_type(s) != CONFIG_TYPE_STRING) {
		add_error(ld, s,
		          "%s: expected an octal string such as \"0660\", got %s "
		          "(libconfig has no octal numbers, so quote the mode)",
		          full, type_name(s));
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		expect_type(ld, s, full, "a string");
		return;
	}
	v = config_setting_get_string(s);
	switch (k->kind) {
	case K_MODE: {
		unsigned mode;

		if (parse_mode(v, &mode) < 0) {
			add_error(ld, s, "%s: \"%s\" is not an octal mode (\"0000\" .. \"0777\")",
			          full, v);
			return;
		}
		*(unsigned *)field(base, k->off) = mode;
		return;
	}
	case K_LOG_LEVEL:
		lvl = log_level_from_name(v);
		if (lvl < 0) {
			add_error(ld, s,
			          "%s: \"%s\" is not one of error, warning, notice, info, debug",
			          full, v);
			return;
		}
		*(int *)field(base, k->off) = lvl;
		return;
	case K_ON_FAILURE:
		for (const char *const *p = on_failure_values; *p; p++) {
			if (strcmp(*p, v) == 0) {
				set_string(ld, base, k->off, strdup(v));
				return;
			}
		}
		add_error(ld, s, "%s: \"%s\" is not one of rollback, fail, warn", full, v);
		return;
	case K_INET:
		if (sock_parse_inet(v, NULL, NULL) < 0) {
			add_error(ld, s,
			          "%s: \"%s\" is not ADDR:PORT (a numeric IPv4 address or "
			          "[IPv6 address], port 1 .. 65535)",
			          full, v);
			return;
		}
		set_string(ld, base, k->off, strdup(v));
		return;
	case K_NAME:
		if (!util_valid_name(v)) {
			/* "." and ".." match the pattern but would name another directory. */
			bool dots = strcmp(v, ".") == 0 || strcmp(v, "..") == 0;

			add_error(ld, s, "%s: \"%s\" must match [A-Za-z0-9_.-]{1,%d}%s", full, v,
			          UTIL_NAME_MAX, dots ? " and not be \".\" or \"..\"" : "");
			return;
		}
		set_string(ld, base, k->off, strdup(v));
		return;
	default:
		break;
	}
	if (!*v) {
		add_error(ld, s, "%s: must not be empty", full);
		return;
	}
	if (k->hi > 0 && (double)strlen(v) > k->hi) {
		add_error(ld, s, "%s: longer than %lld bytes", full, (long long)k->hi);
		return;
	}
	set_string(ld, base, k->off, k->kind == K_PATH ? resolve_path(ld, v) : strdup(v));
}

/* A model's outputs: a non-empty list of distinct output names, stored as CONF_OUT_* bits. */
static void apply_outputs(struct loader *ld, const config_setting_t *s, const char *full,
                          const struct key *k, void *base)
{
	int type = config_setting_type(s);
	unsigned bits = 0, n;

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) {
		add_error(ld, s,
		          "%s: expected a list of output names, [ \"predict\", ... ], got %s", full,
		          type_name(s));
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n == 0) {
		add_error(ld, s, "%s: must name at least one output (" OUTPUT_LIST ")", full);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *v;
		unsigned bit = 0;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			add_error(ld, e, "%s[%u]: expected a string, got %s", full, i,
			          type_name(e));
			continue;
		}
		v = config_setting_get_string(e);
		for (unsigned j = 0; j < CONF_N_OUTPUTS; j++)
			if (strcmp(v, conf_output_names[j]) == 0)
				bit = 1u << j;
		if (!bit)
			add_error(ld, e, "%s[%u]: \"%s\" is not an output (" OUTPUT_LIST ")", full,
			          i, v);
		else if (bits & bit)
			add_error(ld, e, "%s[%u]: \"%s\" is listed twice", full, i, v);
		bits |= bit;
	}
	*(unsigned *)field(base, k->off) = bits;
}

static void apply_trees(struct loader *ld, const config_setting_t *s, const char *full,
                        const struct key *k, void *base)
{
	const char *v = config_setting_get_string(s);

	if (config_setting_type(s) != CONFIG_TYPE_STRING || !v) {
		expect_type(ld, s, full, "a string");
		return;
	}
	if (strcmp(v, "all") == 0)
		*(int *)field(base, k->off) = CONF_TREES_ALL;
	else if (strcmp(v, "best") == 0)
		*(int *)field(base, k->off) = CONF_TREES_BEST;
	else
		add_error(ld, s, "%s: \"%s\" is not one of all, best", full, v);
}

static void apply(struct loader *ld, const config_setting_t *s, const char *full,
                  const struct key *k, void *base)
{
	switch (k->kind) {
	case K_OUTPUTS:
		apply_outputs(ld, s, full, k, base);
		break;
	case K_TREES:
		apply_trees(ld, s, full, k, base);
		break;
	case K_GROUP:
		if (!config_setting_is_group(s))
			expect_type(ld, s, full, "a group");
		else
			walk_group(ld, s, full, k->sub, base);
		break;
	case K_MODELS:
		parse_models(ld, s, base);
		break;
	case K_REPOSITORY:
		parse_repository(ld, s, base);
		break;
	case K_INT:
		apply_int(ld, s, full, k, base);
		break;
	case K_FLOAT:
		apply_float(ld, s, full, k, base);
		break;
	case K_VERSION:
		apply_version(ld, s, full, k, base);
		break;
	default:
		apply_string_kind(ld, s, full, k, base);
		break;
	}
}

/* Applies every setting of grp; anything not in keys is an error (typos must not pass). */
static void walk_group(struct loader *ld, const config_setting_t *grp, const char *prefix,
                       const struct key *keys, void *base)
{
	int n = config_setting_length(grp);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k = keys;
		char *full;

		if (!name)
			continue;
		while (k->name && strcmp(k->name, name) != 0)
			k++;
		if (prefix ? asprintf(&full, "%s.%s", prefix, name) < 0 : !(full = strdup(name))) {
			ld->oom = true;
			return;
		}
		if (!k->name) {
			const char *hint = closest_key(keys, name);

			if (hint)
				add_error(ld, s, "unknown setting \"%s\" (did you mean \"%s\"?)",
				          full, hint);
			else
				add_error(ld, s, "unknown setting \"%s\"", full);
		} else {
			apply(ld, s, full, k, base);
		}
		free(full);
	}
}

static void entry_clear(struct conf_model *m)
{
	free(m->name);
	free(m->path);
	free(m->version);
	free(m->golden);
	memset(m, 0, sizeof(*m));
}

/* The version's default depends on whether a path is given, so it is filled in later. */
static void entry_defaults(struct conf_model *m)
{
	memset(m, 0, sizeof(*m));
	/* Unset: the golden set's own tolerance, else 1e-6. 0 is a value (exact equality). */
	m->tolerance = CONF_TOLERANCE_UNSET;
}

/* True when the config has at least one repository root, wherever the key appears. */
static bool has_repository(const config_setting_t *models)
{
	const config_setting_t *root = config_setting_parent(models);
	const config_setting_t *r = root ? config_setting_get_member(root, "repository") : NULL;

	/* A malformed repository is reported on its own; do not pile a second error on it. */
	if (r && config_setting_type(r) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(r) != CONFIG_TYPE_LIST)
		return true;
	return r && config_setting_length(r) > 0;
}

/* The rules that tie path and version together, checked once the whole entry is read. */
static void entry_finish(struct loader *ld, const config_setting_t *e, const char *prefix,
                         struct conf_model *m, bool roots)
{
	const config_setting_t *path_s = config_setting_get_member(e, "path");
	const config_setting_t *ver_s = config_setting_get_member(e, "version");

	if (!m->version) {
		/* Also after a bad version, so every entry has one for the duplicate check. */
		m->version = strdup(path_s ? "1" : VERSION_LATEST);
		if (!m->version) {
			ld->oom = true;
			return;
		}
	}
	if (path_s) {
		if (ver_s && strcmp(m->version, VERSION_LATEST) == 0)
			add_error(ld, ver_s,
			          "%s.version: \"latest\" is only for models found in the "
			          "repository (without path); give an integer",
			          prefix);
	} else if (!roots) {
		add_error(ld, e, "%s: no path and no repository roots to find it in", prefix);
	}
}

static void parse_models(struct loader *ld, const config_setting_t *s, struct conf *c)
{
	unsigned n;
	unsigned *name_lines;
	bool roots;

	if (!config_setting_is_list(s)) {
		add_error(ld, s, "models: expected a list of groups, ( { ... }, ... ), got %s",
		          type_name(s));
		return;
	}
	n = (unsigned)config_setting_length(s);
	if (n == 0) {
		add_error(ld, s, "models: at least one model is required");
		return;
	}
	c->models = calloc(n, sizeof(*c->models));
	name_lines = calloc(n, sizeof(*name_lines));
	if (!c->models || !name_lines) {
		free(name_lines);
		ld->oom = true;
		return;
	}
	roots = has_repository(s);
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const config_setting_t *name_s;
		struct conf_model *m = &c->models[c->n_models];
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "models[%u]", i);
		if (!config_setting_is_group(e)) {
			expect_type(ld, e, prefix, "a group");
			continue;
		}
		entry_defaults(m);
		c->n_models++;
		walk_group(ld, e, prefix, model_keys, m);
		name_s = config_setting_get_member(e, "name");
		if (!name_s)
			add_error(ld, e, "%s: name is required", prefix);
		entry_finish(ld, e, prefix, m, roots);
		if (!m->name || !m->version)
			continue;
		name_lines[c->n_models - 1] = config_setting_source_line(name_s);
		for (size_t j = 0; j + 1 < c->n_models; j++) {
			const struct conf_model *o = &c->models[j];

			if (o->name && strcmp(o->name, m->name) == 0 &&
			    strcmp(o->version, m->version) == 0) {
				add_error(ld, name_s,
				          "%s: duplicate model \"%s\" version %s (first defined at "
				          "line %u)",
				          prefix, m->name, m->version, name_lines[j]);
				break;
			}
		}
	}
	free(name_lines);
}

/* ---- the whole config ---- */

void conf_free(struct conf *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->socket_path);
	free(c->socket_group);
	free(c->admin_group);
	free(c->state_dir);
	free(c->listen_tcp);
	for (size_t i = 0; i < c->n_repository; i++)
		free(c->repository[i]);
	free(c->repository);
	for (size_t i = 0; i < c->n_models; i++)
		entry_clear(&c->models[i]);
	free(c->models);
	free(c->smoke.on_failure);
	free(c);
}

/* Everything but the model list, which a config file must give. */
static struct conf *conf_new_defaults(void)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->socket_path = strdup(DEFAULT_SOCKET_PATH);
	c->socket_mode = 0660;
	c->state_dir = strdup(DEFAULT_STATE_DIR);
	c->max_body_bytes = 16L * 1024 * 1024;
	c->max_connections = 256;
	c->connection_timeout = 30;
	c->max_rows = 100000;
	c->max_json_depth = 32;
	c->max_header_bytes = 16384;
	c->max_headers = 64;
	c->request_timeout = 10;
	c->max_model_bytes = 256L * 1024 * 1024;
	c->max_trees = 100000;
	c->max_tree_depth = 64;
	c->threads = 0;
	c->shutdown_grace = 10;
	c->log_level = LOG_LVL_INFO;
	c->smoke.timeout = 10;
	c->smoke.requests = 200;
	c->smoke.p99_ms = 50;
	c->smoke.on_failure = strdup("rollback");
	if (!c->socket_path || !c->state_dir || !c->smoke.on_failure) {
		conf_free(c);
		return NULL;
	}
	return c;
}

int conf_default(struct conf **out)
{
	struct conf *c = conf_new_defaults();
	struct conf_model *m;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->models = calloc(1, sizeof(*c->models));
	if (!c->models)
		goto oom;
	m = &c->models[0];
	entry_defaults(m);
	c->n_models = 1;
	m->name = strdup(DEFAULT_MODEL_NAME);
	m->version = strdup(VERSION_LATEST);
	if (!m->name || !m->version)
		goto oom;
	c->repository = calloc(2, sizeof(*c->repository));
	if (!c->repository)
		goto oom;
	c->repository[c->n_repository++] = strdup(DEFAULT_REPOSITORY_0);
	c->repository[c->n_repository++] = strdup(DEFAULT_REPOSITORY_1);
	if (!c->repository[0] || !c->repository[1])
		goto oom;
	util_sha256_hex(DEFAULT_CONF_TEXT, strlen(DEFAULT_CONF_TEXT), c->sha256);
	*out = c;
	return 0;
oom:
	conf_free(c);
	return -ENOMEM;
}

/* The config's directory, absolute when possible so a later chdir() changes nothing. */
static char *config_dir(const char *path)
{
	char *copy = strdup(path);
	char *dir, *abs;

	if (!copy)
		return NULL;
	dir = dirname(copy);
	abs = realpath(dir, NULL);
	if (!abs)
		abs = strdup(dir);
	free(copy);
	return abs;
}

/*
 * Reads the whole file into a NUL-terminated buffer, reporting why it cannot be read in
 * errno's words (not libconfig's). The bytes are parsed from this buffer too, so the
 * recorded sha256 is of exactly what was parsed. A FIFO, a socket or a device in the
 * config's place is refused without being opened, so a reload can never block on it.
 */
static int read_config(struct loader *ld, char **text, size_t *len)
{
	char why[PATH_MAX + 128];
	struct stat st;
	int fd = util_open_regular(ld->path, 0, &st, why, sizeof(why));
	int rc =
	    fd < 0 ? fd : util_read_fd(fd, ld->path, CONF_MAX_BYTES, text, len, why, sizeof(why));

	if (fd >= 0)
		close(fd);
	if (rc == -ENOMEM) {
		ld->oom = true;
		return rc;
	}
	if (rc == -EFBIG) {
		add_error(ld, NULL, "larger than %zu bytes", CONF_MAX_BYTES);
		return rc;
	}
	/* The error names the file; the message says what it is instead of a regular file. */
	if (fd < 0 && st.st_mode != 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		add_error(ld, NULL, "not a regular file (it is %s)", util_file_kind(st.st_mode));
		return rc;
	}
	if (rc < 0) {
		add_error(ld, NULL, "%s", strerror(-rc));
		return rc;
	}
	/* libconfig reads a C string: a NUL would silently hide whatever follows it. */
	if (strlen(*text) != *len) {
		free(*text);
		*text = NULL;
		*len = 0;
		add_error(ld, NULL, "contains a NUL byte");
		return -EINVAL;
	}
	return 0;
}

/* ---- @include preflight ---- */

/* libconfig's own nesting limit; deeper includes are its error, not ours to follow. */
#define INCLUDE_DEPTH_MAX 10
/* All @include directives followed in one load, counted across every file. */
#define INCLUDE_TOTAL_MAX 256

static void check_includes(struct loader *ld, const char *file, const char *text, int depth,
                           unsigned *total);

/*
 * One directive's file name, unescaped as libconfig's scanner does (\\ and \"; a backslash
 * before anything else is dropped). Returns where the name ends, or NULL when the closing
 * quote is missing (then libconfig includes nothing).
 */
static const char *include_name(const char *p, char **name)
{
	size_t n = 0;
	char *buf = malloc(strlen(p) + 1);

	*name = NULL;
	if (!buf)
		return NULL;
	for (; *p && *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if (!*p)
				break;
		}
		buf[n++] = *p;
	}
	if (*p != '"') {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*name = buf;
	return p + 1;
}

/*
 * Checks the file one directive names, and the directives inside it. Only a regular file
 * is opened (util_open_regular); any other kind is this directive's error. libconfig opens
 * the file again afterwards: swapping it in between needs write access to the config's
 * directory, which already grants anything a swap could.
 */
static void check_include(struct loader *ld, const char *file, int line, const char *name,
                          int depth, unsigned *total)
{
	struct stat st;
	char *full, *text = NULL, *msg;
	char why[PATH_MAX + 128];
	size_t len;
	int fd, rc;

	/* libconfig 1.5 prefixes the include directory to every name, absolute ones too. */
	if (asprintf(&full, "%s/%s", ld->dir, name) < 0) {
		ld->oom = true;
		return;
	}
	fd = util_open_regular(full, 0, &st, why, sizeof(why));
	if (fd < 0 && st.st_mode != 0 && !S_ISREG(st.st_mode)) {
		ld->nerr++;
		if (asprintf(&msg, "@include \"%s\": %s is %s; only a regular file can be included",
		             name, full, util_file_kind(st.st_mode)) < 0)
			ld->oom = true;
		else
			add_error_at(ld, file, line, msg);
		free(full);
		return;
	}
	if (fd < 0) {
		free(full); /* libconfig reports "cannot open include file" itself */
		return;
	}
	rc = depth < INCLUDE_DEPTH_MAX
	         ? util_read_fd(fd, full, CONF_MAX_BYTES, &text, &len, why, sizeof(why))
	         : -ELOOP;
	close(fd);
	if (rc == -ENOMEM)
		ld->oom = true;
	if (rc == 0)
		check_includes(ld, full, text, depth + 1, total);
	free(text);
	free(full);
}

/*
 * libconfig 1.5's scanner calls exit() when an @include names a directory ("input in flex
 * scanner failed"), blocks on a FIFO and reads a device without end; and a file that
 * includes itself many times multiplies at every level. A reload must never do any of
 * that to the running daemon, so before libconfig sees the text, every directive it would
 * follow (a line starting with optional blanks, @include, blanks and a quoted name) must
 * name a regular file, and there may be at most INCLUDE_TOTAL_MAX of them. Directives
 * inside comments are checked too: refusing one there is harmless.
 */
static void check_includes(struct loader *ld, const char *file, const char *text, int depth,
                           unsigned *total)
{
	static const char kw[] = "@include";
	int line = 1;

	for (const char *p = text; *p && *total <= INCLUDE_TOTAL_MAX;) {
		const char *q = p + strspn(p, " \t");

		if (strncmp(q, kw, sizeof(kw) - 1) == 0 &&
		    (q[sizeof(kw) - 1] == ' ' || q[sizeof(kw) - 1] == '\t')) {
			q += sizeof(kw) - 1;
			q += strspn(q, " \t");
			if (*q == '"') {
				char *name;
				const char *end = include_name(q + 1, &name);

				if (end && ++*total > INCLUDE_TOTAL_MAX) {
					free(name);
					ld->nerr++;
					if (asprintf(&name,
					             "more than %d @include directives in all",
					             INCLUDE_TOTAL_MAX) < 0)
						ld->oom = true;
					else
						add_error_at(ld, file, line, name);
					return;
				}
				if (end)
					check_include(ld, file, line, name, depth, total);
				free(name);
			}
		}
		/* On to the next line (a name spanning lines is rare; counting them is not). */
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
		line++;
	}
}

/* conf_load(), and with partial the config as read even when it is refused (see conf.h). */
static int load(const char *path, bool partial, struct conf **out, struct conf_errors *errs)
{
	struct conf_errors scratch = {NULL, 0};
	struct loader ld = {.path = path, .errs = errs ? errs : &scratch};
	struct conf *c = NULL;
	char *text = NULL;
	size_t len = 0;
	bool parsed = false;
	config_t cfg;
	int rc;

	*out = NULL;
	rc = read_config(&ld, &text, &len);
	if (rc < 0)
		goto done;
	ld.dir = config_dir(path);
	c = conf_new_defaults();
	if (!ld.dir || !c) {
		rc = -ENOMEM;
		goto done;
	}
	c->file = strdup(path);
	if (!c->file) {
		rc = -ENOMEM;
		goto done;
	}
	util_sha256_hex(text, len, c->sha256);

	{
		unsigned total = 0;

		check_includes(&ld, path, text, 0, &total);
	}
	if (ld.oom || ld.nerr) {
		rc = ld.oom ? -ENOMEM : -EINVAL;
		goto done;
	}
	config_init(&cfg);
	/* @include "x.conf" then means next to this file, like the relative paths inside. */
	config_set_include_dir(&cfg, ld.dir);
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		const char *file = config_error_file(&cfg) ? config_error_file(&cfg) : path;
		const char *why = config_error_text(&cfg) ? config_error_text(&cfg) : "read error";
		char *msg = strdup(why);

		ld.nerr++;
		if (msg)
			add_error_at(&ld, file, config_error_line(&cfg), msg);
		else
			ld.oom = true;
		rc = config_error_type(&cfg) == CONFIG_ERR_FILE_IO ? -EIO : -EINVAL;
		config_destroy(&cfg);
		goto done;
	}
	parsed = true;
	walk_group(&ld, config_root_setting(&cfg), NULL, top_keys, c);
	if (!config_lookup(&cfg, "models"))
		add_error(&ld, NULL, "models: at least one model is required");
	config_destroy(&cfg);
	rc = ld.oom ? -ENOMEM : ld.nerr ? -EINVAL : 0;

done:
	if (ld.oom && rc == 0)
		rc = -ENOMEM;
	if (rc == 0 || (partial && parsed && rc == -EINVAL))
		*out = c;
	else
		conf_free(c);
	free(ld.dir);
	free(text);
	conf_errors_clear(&scratch);
	return rc;
}

int conf_load(const char *path, struct conf **out, struct conf_errors *errs)
{
	return load(path, false, out, errs);
}

int conf_load_partial(const char *path, struct conf **out, struct conf_errors *errs)
{
	return load(path, true, out, errs);
}

/* Numeric order on decimal text without leading zeros: longer is larger; "latest" is top. */
static int version_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	bool a_latest = strcmp(a, VERSION_LATEST) == 0, b_latest = strcmp(b, VERSION_LATEST) == 0;

	if (a_latest || b_latest)
		return a_latest - b_latest;
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

/* With several versions of one name, the highest wins: it is what "latest" means. */
const struct conf_model *conf_find_model(const struct conf *c, const char *name)
{
	const struct conf_model *best = NULL;

	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_models; i++) {
		const struct conf_model *m = &c->models[i];

		if (m->name && strcmp(m->name, name) == 0 &&
		    (!best || version_cmp(m->version, best->version) > 0))
			best = m;
	}
	return best;
}

/* ---- the effective configuration ---- */

static json_t *keys_json(const struct key *keys, const void *base);

static json_t *entry_json(const struct conf_model *m)
{
	return keys_json(model_keys, m);
}

static json_t *string_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

/* One key's value; NULL only when out of memory. */
static json_t *value_json(const struct key *k, const void *base)
{
	const struct conf *c = base;
	const void *p = (const char *)base + k->off;
	char mode[8];
	json_t *a;

	switch (k->kind) {
	case K_GROUP:
		return keys_json(k->sub, base);
	case K_MODELS:
		a = json_array();
		for (size_t i = 0; a && i < c->n_models; i++)
			if (json_array_append_new(a, entry_json(&c->models[i])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	case K_REPOSITORY:
		a = json_array();
		for (size_t i = 0; a && i < c->n_repository; i++)
			if (json_array_append_new(a, json_string(c->repository[i])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	case K_INT: {
		long v = *(const long *)p;

		/* An unset optional pin (0 below the range) reads as null, as it was written. */
		return v == 0 && k->lo > 0 ? json_null() : json_integer((json_int_t)v);
	}
	case K_FLOAT: {
		double v = *(const double *)p;

		/* An unset optional value (negative, below the range) reads as null. */
		return v < 0 && k->lo >= 0 ? json_null() : json_real(v);
	}
	case K_MODE:
		snprintf(mode, sizeof(mode), "%04o", *(const unsigned *)p);
		return json_string(mode);
	case K_LOG_LEVEL:
		return json_string(log_level_name(*(const int *)p));
	case K_TREES:
		return json_string(*(const int *)p == CONF_TREES_BEST ? "best" : "all");
	case K_OUTPUTS: {
		unsigned bits = *(const unsigned *)p;

		if (!bits)
			return json_null();
		a = json_array();
		for (unsigned j = 0; a && j < CONF_N_OUTPUTS; j++)
			if ((bits & (1u << j)) &&
			    json_array_append_new(a, json_string(conf_output_names[j])) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	default:
		return string_or_null(*(char *const *)p);
	}
}

static json_t *keys_json(const struct key *keys, const void *base)
{
	json_t *o = json_object();

	for (const struct key *k = keys; o && k->name; k++) {
		if (json_object_set_new(o, k->name, value_json(k, base)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *conf_effective_json(const struct conf *c)
{
	return c ? keys_json(top_keys, c) : NULL;
}

/* Appends v as text: a string as it is, null as nothing, anything else as compact JSON. */
static int append_text(const json_t *v, char **buf, size_t *len)
{
	char *t = json_is_string(v) ? strdup(json_string_value(v))
	          : json_is_null(v) ? strdup("")
	                            : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n = t ? strlen(t) : 0;
	char *nb = t ? realloc(*buf, *len + n + 2) : NULL;

	if (!nb) {
		free(t);
		return -ENOMEM;
	}
	memcpy(nb + *len, t, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	free(t);
	return 0;
}

int conf_key_text(const json_t *root, const char *key, char **out)
{
	const json_t *v = root;
	const char *p = key;
	char *buf = NULL;
	size_t len = 0, i;
	json_t *e;

	*out = NULL;
	if (!root || !key || !*key)
		return -ENOENT;
	while (v && *p) {
		size_t n = strcspn(p, ".");
		char seg[256];
		char *end;

		if (n == 0 || n >= sizeof(seg))
			return -ENOENT;
		memcpy(seg, p, n);
		seg[n] = '\0';
		p += n + (p[n] == '.');
		if (json_is_object(v)) {
			v = json_object_get(v, seg);
		} else if (json_is_array(v) && seg[0] >= '0' && seg[0] <= '9') {
			errno = 0;
			i = strtoul(seg, &end, 10);
			v = *end || errno ? NULL : json_array_get(v, i);
		} else {
			v = NULL;
		}
		if (!*p && key[strlen(key) - 1] == '.')
			v = NULL;
	}
	if (!v)
		return -ENOENT;
	/* A list is one element a line, so that a shell reads it with `while read`. */
	if (json_is_array(v)) {
		buf = strdup("");
		json_array_foreach(v, i, e)
		{
			if (!buf || append_text(e, &buf, &len) < 0) {
				free(buf);
				return -ENOMEM;
			}
			buf[len++] = '\n';
			buf[len] = '\0';
		}
		if (!buf)
			return -ENOMEM;
		if (len > 0)
			buf[--len] = '\0';
	} else if (append_text(v, &buf, &len) < 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
