/* ctl.c: inferctl, the command-line client for ops and scripts: options and commands. */
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "conf.h"
#include "fingerprint.h"
#include "jsonx.h"
#include "smoke.h"

/* Exit codes: scripts and container health checks depend on them. */
#define EXIT_OK    0
#define EXIT_CHECK 1 /* a failed check: not ready, a trigger fired, a non-2xx answer */
#define EXIT_USAGE 2 /* usage, configuration or connection error */

#define DEFAULT_TIMEOUT_S 10.0
/* The largest body inferd can be configured to accept; reading more is pointless. */
#define MAX_INPUT_BYTES   ((size_t)1 << 30)
#define ANSWER_JSON_DEPTH 64

static const char usage_text[] =
    "Usage: inferctl [--socket PATH] [--config FILE] [--timeout SEC] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  health                 GET /v2/health/live\n"
    "  ready                  GET /v2/health/ready; exit 0 when ready, 1 otherwise\n"
    "  models                 one line per configured model: name, versions, objective,\n"
    "                         features\n"
    "  metadata MODEL         print the model's metadata JSON\n"
    "  infer MODEL [--output NAME] (--json FILE | --csv FILE | VALUE...)\n"
    "                         --json sends FILE as the body ('-' = stdin); --csv sends its\n"
    "                         rows of numbers (empty or NaN = missing) as FP32 [N,F]; values\n"
    "                         make one row. Prints the answer, or with --output NAME\n"
    "                         (predict, margin) one line per row.\n"
    "  smoke [--timeout SEC] [--requests N] [--p99-ms MS] [--json] [--mark-good]\n"
    "        [--on-failure rollback|fail|warn|config | --rollback-on-fail]\n"
    "        [--client-access]\n"
    "                         readiness, refused versions (the repository index), each\n"
    "                         model's metadata, golden outputs and latency; exit 1 on a\n"
    "                         trigger. --mark-good: on a pass, record the set\n"
    "                         observed (name, version, sha256) as last known good (fails\n"
    "                         if the served set changed meanwhile). Without --on-failure\n"
    "                         a trigger only makes it exit 1. With a policy, a warning\n"
    "                         block follows a trigger: rollback goes back to the last\n"
    "                         known good set and smokes once more (exit 1); fail only\n"
    "                         reports (exit 1); warn reports and exits 0; config takes the\n"
    "                         config's smoke.on_failure (the package's post-install check).\n"
    "                         --rollback-on-fail = --on-failure rollback. --client-access\n"
    "                         (as root): also connect as user nobody with only the\n"
    "                         socket's group; a refusal fires client_access, which no\n"
    "                         rollback fixes (rollback then only reports it).\n"
    "  reload                 POST /v2/admin/reload: re-read the config and the repository;\n"
    "                         prints the served models, or every config error (exit 1)\n"
    "  rollback [--clear]     POST /v2/admin/rollback: serve the last known good set (kept\n"
    "                         across restarts); prints what changed; exit 1 when there is\n"
    "                         no record or it failed. --clear (DELETE) lifts the rollback.\n"
    "  state                  GET /v2/admin/state: config, served set, last known good\n"
    "                         record, rollback in force; pretty-printed JSON\n"
    "  fingerprint [--json]   the installation's manifest as JSON, keys sorted, no\n"
    "                         timestamps: the daemon's part (GET /v2/admin/fingerprint:\n"
    "                         versions, libraries, config, models with sha256) and\n"
    "                         inferctl's, libcurl's, the OS release, the kernel and the\n"
    "                         package version. Without the daemon's part the error is\n"
    "                         recorded, the rest printed, and the exit status is 1.\n"
    "  fingerprint --diff A B [--ignore PATH]...\n"
    "                         one line per difference between manifests A and B\n"
    "                         (PATH: OLD -> NEW, + PATH, - PATH; models matched by name);\n"
    "                         --ignore skips PATH and below (e.g. kernel.release). Exit 0\n"
    "                         when identical, 1 when they differ, 2 on a bad file.\n"
    "\n"
    "reload, rollback, state, fingerprint, smoke --mark-good and smoke's rollback use admin\n"
    "endpoints: run them as root or as a member of the config's socket.admin_group.\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH      the daemon's socket (default: the config's socket.path)\n"
    "  -c, --config FILE      read FILE (default: the built-in configuration)\n"
    "  -t, --timeout SEC      per-request timeout in seconds (default 10)\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status: 0 success, 1 a failed check or a non-2xx answer, 2 usage or connection "
    "error.\n";

struct ctl {
	const char *socket_path;
	double timeout_s;
	struct conf *conf;
	struct client *cl;
};

__attribute__((format(printf, 1, 2))) static void errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("inferctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *what, const char *arg)
{
	if (arg)
		errorf("%s: %s", what, arg);
	else
		errorf("%s", what);
	fputs("Try 'inferctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* Parses a whole string as a finite double. */
static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * Matches argv[*i] against option name, as "--name VALUE" or "--name=VALUE" (also the short
 * form "-x VALUE" when given). Returns 1 with *val set, 0 when it is another option, or -1
 * when the value is missing.
 */
static int opt_value(int argc, char **argv, int *i, const char *name, const char *shortname,
                     const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (strcmp(a, name) != 0 && !(shortname && strcmp(a, shortname) == 0))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* Model names follow the config's rule, which also keeps them safe inside a URL path. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static bool valid_version(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 10 && strspn(s, "0123456789") == n;
}

/* Reads a whole file, or stdin for "-". 0 or -errno with a reason printed. */
static int read_all(const char *path, char **out, size_t *outlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		errorf("%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		size_t got;

		if (len + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *p;

			if (ncap > MAX_INPUT_BYTES + 1) {
				errorf("%s: larger than %zu bytes", path, MAX_INPUT_BYTES);
				rc = -EFBIG;
				break;
			}
			p = realloc(buf, ncap);
			if (!p) {
				errorf("out of memory");
				rc = -ENOMEM;
				break;
			}
			buf = p;
			cap = ncap;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				errorf("%s: read error", path);
				rc = -EIO;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* Shortest text that reads back as the same float32 (what the daemon computed). */
static const char *fmt_float(double v, char *buf, size_t len)
{
	if (!(fabs(v) <= FLT_MAX)) {
		snprintf(buf, len, "%g", v);
		return buf;
	}
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if ((float)strtod(buf, NULL) == (float)v)
			break;
	}
	return buf;
}

/* Sends one request; on a transport failure prints why and returns -errno. */
static int exchange(struct ctl *ctl, const char *method, const char *path, const char *body,
                    size_t len, struct client_response *resp)
{
	char err[768];
	int rc = client_request(ctl->cl, method, path, body, len, resp, err, sizeof(err));

	if (rc < 0)
		errorf("%s", err);
	return rc;
}

/* Prints a non-2xx answer's reason; returns the exit code for the answer. */
static int answer_status(const char *method, const char *path, const struct client_response *r)
{
	char why[600];

	if (r->status >= 200 && r->status < 300)
		return EXIT_OK;
	errorf("%s %s: %s", method, path, client_describe_error(r, why, sizeof(why)));
	return EXIT_CHECK;
}

static void print_body(const struct client_response *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', stdout);
}

static int no_args(int argc, char **argv)
{
	if (argc > 1)
		return usage_error("unexpected argument", argv[1]);
	return EXIT_OK;
}

static int cmd_health(struct ctl *ctl, int argc, char **argv)
{
	struct client_response r;
	int rc = no_args(argc, argv);

	if (rc)
		return rc;
	if (exchange(ctl, "GET", "/v2/health/live", NULL, 0, &r) < 0)
		return EXIT_USAGE;
	rc = answer_status("GET", "/v2/health/live", &r);
	if (rc == EXIT_OK)
		print_body(&r);
	return rc;
}

/* A container health check treats 1 as unhealthy and reserves 2: no answer is a 1 here. */
static int cmd_ready(struct ctl *ctl, int argc, char **argv)
{
	struct client_response r;
	int rc = no_args(argc, argv);

	if (rc)
		return rc;
	if (exchange(ctl, "GET", "/v2/health/ready", NULL, 0, &r) < 0)
		return EXIT_CHECK;
	if (r.status != 200) {
		answer_status("GET", "/v2/health/ready", &r);
		return EXIT_CHECK;
	}
	print_body(&r);
	return EXIT_OK;
}

/* Prints "NAME versions=1,2 objective=OBJ features=F" from a metadata answer. */
static int print_model_line(const char *name, const struct client_response *r)
{
	json_t *meta = NULL, *versions, *v, *params;
	json_int_t nf = 0;
	const char *objective;
	char jerr[256];
	size_t i;

	if (jsonx_parse(r->body, r->len, ANSWER_JSON_DEPTH, 1, &meta, jerr, sizeof(jerr)) < 0 ||
	    !json_is_object(meta)) {
		errorf("%s: metadata is not a JSON object", name);
		json_decref(meta);
		return EXIT_CHECK;
	}
	params = json_object_get(meta, "parameters");
	objective = json_string_value(json_object_get(params, "objective"));
	if (json_is_integer(json_object_get(params, "num_feature")))
		nf = json_integer_value(json_object_get(params, "num_feature"));
	printf("%s versions=", name);
	versions = json_object_get(meta, "versions");
	json_array_foreach(versions, i, v)
	{
		printf("%s%s", i ? "," : "", json_is_string(v) ? json_string_value(v) : "?");
	}
	if (json_array_size(versions) == 0)
		printf("-");
	printf(" objective=%s features=%lld\n", objective ? objective : "-", (long long)nf);
	json_decref(meta);
	return EXIT_OK;
}

static int cmd_models(struct ctl *ctl, int argc, char **argv)
{
	struct client_response r;
	char path[128];
	int rc = no_args(argc, argv), worst = EXIT_OK;

	if (rc)
		return rc;
	if (exchange(ctl, "GET", "/v2", NULL, 0, &r) < 0)
		return EXIT_USAGE;
	rc = answer_status("GET", "/v2", &r);
	if (rc)
		return rc;
	for (size_t i = 0; i < ctl->conf->n_models; i++) {
		const char *name = ctl->conf->models[i].name;

		snprintf(path, sizeof(path), "/v2/models/%s", name);
		if (exchange(ctl, "GET", path, NULL, 0, &r) < 0)
			return EXIT_USAGE;
		rc = answer_status("GET", path, &r);
		if (rc == EXIT_OK)
			rc = print_model_line(name, &r);
		if (rc > worst)
			worst = rc;
	}
	return worst;
}

/* Builds "/v2/models/NAME[/versions/V]SUFFIX" after checking both parts. */
static int model_path(const char *name, const char *version, const char *suffix, char *buf,
                      size_t len)
{
	if (!valid_name(name))
		return usage_error("invalid model name", name);
	if (version && !valid_version(version))
		return usage_error("invalid model version", version);
	if (version)
		snprintf(buf, len, "/v2/models/%s/versions/%s%s", name, version, suffix);
	else
		snprintf(buf, len, "/v2/models/%s%s", name, suffix);
	return EXIT_OK;
}

static int cmd_metadata(struct ctl *ctl, int argc, char **argv)
{
	const char *name = NULL, *version = NULL, *val;
	struct client_response r;
	char path[160];
	int i, rc;

	for (i = 1; i < argc; i++) {
		if ((rc = opt_value(argc, argv, &i, "--model-version", NULL, &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", argv[i]);
			version = val;
		} else if (argv[i][0] == '-' || name) {
			return usage_error("unexpected argument", argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		return usage_error("metadata needs a MODEL", NULL);
	if ((rc = model_path(name, version, "", path, sizeof(path))) != EXIT_OK)
		return rc;
	if (exchange(ctl, "GET", path, NULL, 0, &r) < 0)
		return EXIT_USAGE;
	rc = answer_status("GET", path, &r);
	if (rc == EXIT_OK)
		print_body(&r);
	return rc;
}

/* Rows of float32 being collected for an FP32 [N, F] request. */
struct rows {
	float *v;
	size_t n, cap;
	size_t ncols; /* 0 until the first row fixes it */
};

static int rows_push(struct rows *t, float x)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		float *p = realloc(t->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n++] = x;
	return 0;
}

/*
 * One value as typed or read: empty, NaN or null mean missing; inf and Infinity are
 * accepted as XGBoost does. Finite values beyond float32's range are refused. 0 or -EINVAL.
 */
static int parse_value(const char *s, float *out)
{
	char *end;
	double d;

	if (*s == '\0' || strcasecmp(s, "nan") == 0 || strcmp(s, "null") == 0) {
		*out = NAN;
		return 0;
	}
	d = strtod(s, &end);
	if (end == s || *end != '\0' || isnan(d) || (isfinite(d) && fabs(d) > FLT_MAX))
		return -EINVAL;
	*out = (float)d;
	return 0;
}

/* Trims blanks and one pair of double quotes, in place. */
static char *trim_field(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/*
 * Parses CSV text into rows. Blank lines are skipped; a first line that holds something
 * other than numbers is a header and skipped too. Every row must have the same width.
 */
static int parse_csv(const char *name, char *text, struct rows *t)
{
	char *line, *next;
	size_t lineno = 0;
	bool first = true;

	for (line = text; line && *line; line = next) {
		size_t width = 0, start = t->n;
		char *field, *save;
		bool header = false;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		/* strsep keeps empty fields, which mean "missing". */
		save = line;
		while ((field = strsep(&save, ",")) != NULL) {
			float x;

			field = trim_field(field);
			if (parse_value(field, &x) < 0) {
				if (first) {
					header = true;
					break;
				}
				errorf("%s:%zu: field %zu is not a number: '%s'", name, lineno,
				       width + 1, field);
				return -EINVAL;
			}
			if (rows_push(t, x) < 0) {
				errorf("out of memory");
				return -ENOMEM;
			}
			width++;
		}
		first = false;
		if (header) {
			t->n = start;
			continue;
		}
		if (t->ncols == 0) {
			t->ncols = width;
		} else if (width != t->ncols) {
			errorf("%s:%zu: %zu fields, expected %zu like the first row", name, lineno,
			       width, t->ncols);
			return -EINVAL;
		}
	}
	if (t->n == 0) {
		errorf("%s: no rows", name);
		return -EINVAL;
	}
	return 0;
}

/* Prints output name of an infer answer one row per line. */
static int print_output_rows(const struct client_response *r, const char *output)
{
	json_t *answer = NULL, *outputs, *o, *tensor = NULL, *shape, *data, *v;
	size_t i, width = 1;
	char jerr[256], num[40];

	if (jsonx_parse(r->body, r->len, ANSWER_JSON_DEPTH, 1, &answer, jerr, sizeof(jerr)) < 0) {
		errorf("the answer is not JSON: %s", jerr);
		return EXIT_CHECK;
	}
	outputs = json_object_get(answer, "outputs");
	json_array_foreach(outputs, i, o)
	{
		const char *n = json_string_value(json_object_get(o, "name"));

		if (n && strcmp(n, output) == 0) {
			tensor = o;
			break;
		}
	}
	data = json_object_get(tensor, "data");
	if (!json_is_array(data)) {
		errorf("the answer has no output '%s'", output);
		json_decref(answer);
		return EXIT_CHECK;
	}
	shape = json_object_get(tensor, "shape");
	if (json_array_size(shape) == 2 && json_integer_value(json_array_get(shape, 1)) > 0)
		width = (size_t)json_integer_value(json_array_get(shape, 1));
	json_array_foreach(data, i, v)
	{
		double d;

		if (jsonx_number(v, &d) < 0)
			d = NAN;
		printf("%s%c", fmt_float(d, num, sizeof(num)),
		       (i + 1) % width == 0 || i + 1 == json_array_size(data) ? '\n' : ' ');
	}
	json_decref(answer);
	return EXIT_OK;
}

static int cmd_infer(struct ctl *ctl, int argc, char **argv)
{
	const char *name = NULL, *version = NULL, *json_file = NULL, *csv_file = NULL;
	const char *output = NULL, *val;
	struct rows t = {0};
	struct client_response r;
	char path[192], *body = NULL, *text = NULL;
	size_t len = 0, nvalues = 0;
	bool opts_done = false;
	int i, rc, ret = EXIT_USAGE;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		float x;

		if (!opts_done && strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (!opts_done && (rc = opt_value(argc, argv, &i, "--json", NULL, &val))) {
			if (rc < 0)
				goto missing;
			json_file = val;
		} else if (!opts_done && (rc = opt_value(argc, argv, &i, "--csv", NULL, &val))) {
			if (rc < 0)
				goto missing;
			csv_file = val;
		} else if (!opts_done && (rc = opt_value(argc, argv, &i, "--output", "-o", &val))) {
			if (rc < 0)
				goto missing;
			output = val;
		} else if (!opts_done &&
		           (rc = opt_value(argc, argv, &i, "--model-version", NULL, &val))) {
			if (rc < 0)
				goto missing;
			version = val;
		} else if (!name) {
			if (a[0] == '-' && !opts_done) {
				ret = usage_error("unknown option", a);
				goto out;
			}
			name = a;
		} else if (parse_value(a, &x) == 0) {
			/* Values may be negative, so "-1.5" is a value, not an option. */
			if (rows_push(&t, x) < 0) {
				errorf("out of memory");
				goto out;
			}
			nvalues++;
		} else {
			ret = usage_error(a[0] == '-' ? "unknown option" : "not a number", a);
			goto out;
		}
	}
	if (!name) {
		ret = usage_error("infer needs a MODEL", NULL);
		goto out;
	}
	if (!!json_file + !!csv_file + (nvalues > 0) != 1) {
		ret = usage_error("infer needs exactly one of --json FILE, --csv FILE or values",
		                  NULL);
		goto out;
	}
	if (output && strcmp(output, "predict") != 0 && strcmp(output, "margin") != 0) {
		ret = usage_error("--output must be predict or margin", output);
		goto out;
	}
	if ((ret = model_path(name, version, "/infer", path, sizeof(path))) != EXIT_OK)
		goto out;
	ret = EXIT_USAGE;
	if (json_file) {
		if (read_all(json_file, &body, &len) < 0)
			goto out;
	} else {
		if (csv_file) {
			const char *shown = strcmp(csv_file, "-") ? csv_file : "stdin";

			if (read_all(csv_file, &text, &len) < 0)
				goto out;
			/* Text stops at a NUL: refuse rather than silently drop the rest. */
			if (strlen(text) != len) {
				errorf("%s: not a text file (NUL byte)", shown);
				goto out;
			}
			if (parse_csv(shown, text, &t) < 0)
				goto out;
		} else {
			t.ncols = nvalues;
		}
		body = client_fp32_request(t.v, t.n / t.ncols, t.ncols, output, &len);
		if (!body) {
			errorf("out of memory");
			goto out;
		}
	}
	if (exchange(ctl, "POST", path, body, len, &r) < 0)
		goto out;
	ret = answer_status("POST", path, &r);
	if (ret != EXIT_OK)
		goto out;
	if (output)
		ret = print_output_rows(&r, output);
	else
		print_body(&r);
	goto out;
missing:
	ret = usage_error("missing value for", argv[i]);
out:
	free(t.v);
	free(text);
	free(body);
	return ret;
}

/* ---- admin endpoints: reload, rollback, state, mark-good ---------------------------- */

/* Parses an answer as JSON; NULL when it is not. */
static json_t *answer_json(const struct client_response *r)
{
	json_t *j = NULL;
	char jerr[256];

	if (jsonx_parse(r->body, r->len, ANSWER_JSON_DEPTH, 1, &j, jerr, sizeof(jerr)) < 0)
		return NULL;
	return j;
}

static void admin_hint(const struct ctl *ctl)
{
	if (ctl->conf->admin_group)
		errorf("hint: run as root or a member of the admin group (%s)",
		       ctl->conf->admin_group);
	else
		errorf("hint: run as root or a member of the admin group (socket.admin_group)");
}

/*
 * Prints a non-2xx answer in full: the server's "error" text (a refused config lists every
 * error with its line, possibly one per line) and any "errors" array, or the start of the
 * body. A 403 gets a hint. Returns EXIT_CHECK.
 */
static int report_error(const struct ctl *ctl, const char *method, const char *path,
                        const struct client_response *r)
{
	json_t *j = answer_json(r), *errs, *e;
	const char *msg = json_string_value(json_object_get(j, "error"));
	size_t i;

	if (msg) {
		errorf("%s %s: HTTP %ld: %s", method, path, r->status, msg);
	} else {
		char why[600];

		errorf("%s %s: %s", method, path, client_describe_error(r, why, sizeof(why)));
	}
	errs = json_object_get(j, "errors");
	json_array_foreach(errs, i, e)
	{
		const char *t = json_is_string(e) ? json_string_value(e)
		                                  : json_string_value(json_object_get(e, "error"));

		if (t)
			fprintf(stderr, "  %s\n", t);
	}
	json_decref(j);
	if (r->status == 403)
		admin_hint(ctl);
	return EXIT_CHECK;
}

/* A version as text, whether the daemon sent "2", 2 or {"version": ...}; NULL if none. */
static const char *version_text(json_t *v, char *buf, size_t len)
{
	if (json_is_object(v))
		v = json_object_get(v, "version");
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* The served set in an admin answer: an array of {"name", "version", "sha256"}. */
static json_t *served_array(json_t *root)
{
	static const char *const keys[] = {"serving", "served", "models"};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		json_t *a = json_object_get(root, keys[k]);

		if (json_is_object(a))
			a = json_object_get(a, "models");
		if (json_is_array(a))
			return a;
	}
	return NULL;
}

static json_t *find_named(json_t *array, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(array, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

/* "NAME vVERSION sha256:8HEX", one per served model, each line after prefix. */
static void print_served(json_t *served, const char *prefix, FILE *f)
{
	json_t *e;
	size_t i;

	json_array_foreach(served, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		char vb[32];
		const char *v = version_text(e, vb, sizeof(vb));

		fprintf(f, "%s%s v%s sha256:%.8s\n", prefix, name ? name : "?", v ? v : "?",
		        sha ? sha : "?");
	}
	if (json_array_size(served) == 0)
		fprintf(f, "%s(no model)\n", prefix);
}

/*
 * GET /v2/admin/state: *out gets a new reference to the parsed answer. Returns an exit
 * code: EXIT_OK, EXIT_USAGE when no answer came, EXIT_CHECK otherwise (reason printed).
 */
static int get_state(struct ctl *ctl, json_t **out)
{
	struct client_response r;
	json_t *j;

	*out = NULL;
	if (exchange(ctl, "GET", "/v2/admin/state", NULL, 0, &r) < 0)
		return EXIT_USAGE;
	if (r.status < 200 || r.status >= 300)
		return report_error(ctl, "GET", "/v2/admin/state", &r);
	j = answer_json(&r);
	if (!json_is_object(j)) {
		errorf("GET /v2/admin/state: the answer is not a JSON object");
		json_decref(j);
		return EXIT_CHECK;
	}
	*out = j;
	return EXIT_OK;
}

/* The state, or NULL (the reason printed): for answers that do not list the served set. */
static json_t *fetch_state(struct ctl *ctl)
{
	json_t *j;

	get_state(ctl, &j);
	return j;
}

/*
 * Versions seen but not served, with the reason: superseded, or refused by validation
 * (then an older version keeps serving). Not an error of the reload, but worth seeing.
 */
static void print_refused(json_t *answer)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(answer, "refused"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *reason = json_string_value(json_object_get(e, "reason"));
		char vb[32];
		const char *v = version_text(e, vb, sizeof(vb));

		/* Older versions are not served by design: only refusals are news. */
		if (reason && strncmp(reason, "superseded", 10) == 0)
			continue;
		errorf("not served: %s v%s: %s", name ? name : "?", v ? v : "?",
		       reason ? reason : "(no reason given)");
	}
}

static int cmd_reload(struct ctl *ctl, int argc, char **argv)
{
	const char *path = "/v2/admin/reload";
	struct client_response r;
	json_t *answer, *state = NULL, *served;
	int rc = no_args(argc, argv);

	if (rc)
		return rc;
	if (exchange(ctl, "POST", path, NULL, 0, &r) < 0)
		return EXIT_USAGE;
	if (r.status < 200 || r.status >= 300)
		return report_error(ctl, "POST", path, &r);
	answer = answer_json(&r);
	served = served_array(answer);
	if (!served) {
		/* The answer need not list the set: the state always does. */
		state = fetch_state(ctl);
		served = served_array(state);
	}
	if (served) {
		print_served(served, "", stdout);
		print_refused(answer);
		if (json_is_true(json_object_get(answer, "rolled_back")))
			errorf("a rollback is in force: the last known good set serves until "
			       "'inferctl rollback --clear'");
	} else {
		errorf("reloaded, but the served set could not be read back");
		rc = EXIT_CHECK;
	}
	json_decref(state);
	json_decref(answer);
	return rc;
}

/* What a rollback did, for the command and for the smoke policy. */
/* Why client_access alone is never rolled back: printed, and in the JSON's rollback. */
#define NO_ROLLBACK_WHY "a rollback restores models, not the socket's mode or group"

struct rollback_outcome {
	bool ok;        /* 2xx */
	long status;    /* 0 when no answer came */
	char why[1024]; /* the reason when not ok */
	json_t *answer; /* the parsed 2xx answer (with "changed", "serving"), or NULL */
	json_t *served; /* borrowed from answer or state */
	json_t *state;  /* GET /v2/admin/state when the answer lists no set */
	bool skipped;   /* not asked for: only client_access fired, which no rollback fixes */
};

static void rollback_outcome_free(struct rollback_outcome *o)
{
	json_decref(o->answer);
	json_decref(o->state);
	memset(o, 0, sizeof(*o));
}

/* POST /v2/admin/rollback. Returns 0 with *o filled (ok or not), -errno without answer. */
static int rollback_call(struct ctl *ctl, struct rollback_outcome *o)
{
	const char *path = "/v2/admin/rollback";
	struct client_response r;
	char err[768];
	int rc;

	memset(o, 0, sizeof(*o));
	rc = client_request(ctl->cl, "POST", path, NULL, 0, &r, err, sizeof(err));
	if (rc < 0) {
		snprintf(o->why, sizeof(o->why), "%s", err);
		return rc;
	}
	o->status = r.status;
	if (r.status < 200 || r.status >= 300) {
		json_t *j = answer_json(&r);
		const char *msg = json_string_value(json_object_get(j, "error"));
		char buf[600];

		if (msg)
			snprintf(o->why, sizeof(o->why), "HTTP %ld: %s", r.status, msg);
		else
			snprintf(o->why, sizeof(o->why), "%s",
			         client_describe_error(&r, buf, sizeof(buf)));
		json_decref(j);
		return 0;
	}
	o->ok = true;
	o->answer = answer_json(&r);
	o->served = served_array(o->answer);
	if (!o->served) {
		o->state = fetch_state(ctl);
		o->served = served_array(o->state);
	}
	return 0;
}

/* Compares two optional strings; NULL equals only NULL. */
static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/*
 * The answer's "changed" entry for name, or NULL when it has none or the entry names the
 * same version and bytes on both sides. The same version with other bytes is a change (a
 * package overwrote a file in place).
 */
static json_t *changed_entry(json_t *answer, const char *name, const char **from, const char **to,
                             char *fb, char *tb, size_t blen)
{
	json_t *e = find_named(json_object_get(answer, "changed"), name);

	if (!e)
		return NULL;
	*from = version_text(json_object_get(e, "from"), fb, blen);
	*to = version_text(json_object_get(e, "to"), tb, blen);
	if (same_text(*from, *to) && same_text(json_string_value(json_object_get(e, "from_sha256")),
	                                       json_string_value(json_object_get(e, "to_sha256"))))
		return NULL;
	return e;
}

/*
 * One line per model: "NAME: vFROM -> vTO (sha256:8HEX)" or "NAME: unchanged vV", each
 * after prefix. Models that left the set are shown too.
 */
static void print_changes(const struct rollback_outcome *o, const char *prefix, FILE *f)
{
	json_t *e, *changed = json_object_get(o->answer, "changed");
	size_t i;

	json_array_foreach(o->served, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *sha = json_string_value(json_object_get(e, "sha256"));
		const char *from = NULL, *to = NULL, *v;
		char fb[32], tb[32], vb[32];
		json_t *c;

		if (!name)
			continue;
		v = version_text(e, vb, sizeof(vb));
		c = changed_entry(o->answer, name, &from, &to, fb, tb, sizeof(fb));
		if (!sha && c)
			sha = json_string_value(json_object_get(c, "to_sha256"));
		if (c)
			fprintf(f, "%s%s: v%s -> v%s (sha256:%.8s)\n", prefix, name,
			        from ? from : "?", to ? to : (v ? v : "?"), sha ? sha : "?");
		else
			fprintf(f, "%s%s: unchanged v%s\n", prefix, name, v ? v : "?");
	}
	json_array_foreach(changed, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		char fb[32];
		const char *from = version_text(json_object_get(e, "from"), fb, sizeof(fb));

		if (name && !find_named(o->served, name))
			fprintf(f, "%s%s: v%s -> not served\n", prefix, name, from ? from : "?");
	}
}

static int cmd_rollback(struct ctl *ctl, int argc, char **argv)
{
	struct rollback_outcome o;
	bool clear = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--clear") == 0)
			clear = true;
		else
			return usage_error("unexpected argument", argv[i]);
	}
	if (clear) {
		const char *path = "/v2/admin/rollback";
		struct client_response r;
		json_t *answer, *served;
		if (exchange(ctl, "DELETE", path, NULL, 0, &r) < 0)
			return EXIT_USAGE;
		if (r.status < 200 || r.status >= 300)
			return report_error(ctl, "DELETE", path, &r);
		answer = answer_json(&r);
		served = served_array(answer);
		printf("rollback cleared: serving the configured set\n");
		if (served)
			print_served(served, "  ", stdout);
		print_refused(answer);
		json_decref(answer);
		return EXIT_OK;
	}
	if (rollback_call(ctl, &o) < 0) {
		errorf("%s", o.why);
		return EXIT_USAGE;
	}
	if (!o.ok) {
		errorf("POST /v2/admin/rollback: %s", o.why);
		if (o.status == 409)
			errorf("nothing to roll back to: no set was marked good "
			       "(inferctl smoke --mark-good)");
		if (o.status == 403)
			admin_hint(ctl);
		rollback_outcome_free(&o);
		return EXIT_CHECK;
	}
	if (!o.served) {
		errorf("rolled back, but the served set could not be read back");
		rollback_outcome_free(&o);
		return EXIT_CHECK;
	}
	print_changes(&o, "", stdout);
	printf("serving now:\n");
	print_served(o.served, "  ", stdout);
	printf("rollback in force (kept across restarts) until 'inferctl rollback --clear'\n");
	rollback_outcome_free(&o);
	return EXIT_OK;
}

static int cmd_state(struct ctl *ctl, int argc, char **argv)
{
	json_t *state;
	char *text;
	int rc = no_args(argc, argv);

	if (rc)
		return rc;
	rc = get_state(ctl, &state);
	if (rc != EXIT_OK)
		return rc;
	text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(state);
	if (!text) {
		errorf("out of memory");
		return EXIT_USAGE;
	}
	printf("%s\n", text);
	free(text);
	return EXIT_OK;
}

/*
 * After a passing smoke: records the set it observed as last known good, as a check of
 * its own. The daemon refuses (409) when its served set is no longer that one.
 * 0, or -ENOMEM.
 */
static int smoke_mark_good(struct ctl *ctl, struct smoke_result *res)
{
	const char *path = "/v2/admin/mark-good";
	json_t *body = json_object(), *models = json_array();
	struct client_response r;
	char *text = NULL, *line = NULL, err[768], detail[1400];
	size_t used = 0, linecap = 0;
	FILE *lf = NULL;
	int rc = -ENOMEM;

	if (!body || !models || json_object_set(body, "models", models) < 0)
		goto out;
	lf = open_memstream(&line, &linecap);
	if (!lf)
		goto out;
	for (size_t i = 0; i < res->n_models; i++) {
		const struct smoke_model *m = &res->models[i];

		if (!m->sha256) {
			snprintf(detail, sizeof(detail),
			         "nothing marked good: the daemon reports no sha256 for %s v%s",
			         m->name, m->version);
			rc = smoke_result_add(res, "mark-good", SMOKE_HTTP_ERROR, detail);
			goto out;
		}
		if (json_array_append_new(models,
		                          json_pack("{s:s, s:s, s:s}", "name", m->name, "version",
		                                    m->version, "sha256", m->sha256)) < 0)
			goto out;
		fprintf(lf, "%s%s v%s (sha256:%.8s)", used++ ? ", " : "", m->name, m->version,
		        m->sha256);
	}
	if (fclose(lf) != 0) {
		lf = NULL;
		goto out;
	}
	lf = NULL;
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		goto out;
	rc = client_request(ctl->cl, "POST", path, text, strlen(text), &r, err, sizeof(err));
	if (rc < 0) {
		snprintf(detail, sizeof(detail), "nothing marked good: %s", err);
		rc = smoke_result_add(res, "mark-good", SMOKE_HTTP_ERROR, detail);
	} else if (r.status >= 200 && r.status < 300) {
		snprintf(detail, sizeof(detail), "marked good: %s", line);
		rc = smoke_result_add(res, "mark-good", 0, detail);
	} else {
		char why[600];

		client_describe_error(&r, why, sizeof(why));
		if (r.status == 409)
			snprintf(
			    detail, sizeof(detail),
			    "the served set changed during the smoke test, nothing marked good "
			    "(%s)",
			    why);
		else
			snprintf(
			    detail, sizeof(detail), "nothing marked good: POST %s: %s%s", path, why,
			    r.status == 403 ? " (run as root or a member of the admin group)" : "");
		rc = smoke_result_add(res, "mark-good",
		                      r.status == 409 ? SMOKE_SET_CHANGED : SMOKE_HTTP_ERROR,
		                      detail);
	}
out:
	if (lf)
		fclose(lf);
	free(line);
	free(text);
	json_decref(models);
	json_decref(body);
	return rc;
}

/* "a, b" from trigger bits. */
static const char *trigger_list(unsigned triggers, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < SMOKE_TRIGGER_COUNT && n < len; i++)
		if (triggers & (1u << i)) {
			int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			                 smoke_trigger_name(1u << i));

			if (w < 0)
				break;
			n += (size_t)w;
		}
	return buf;
}

/* "NAME vV sha256:8HEX" for each model the smoke observed. */
static void print_observed(const struct smoke_result *r, const char *prefix, FILE *f)
{
	for (size_t i = 0; i < r->n_models; i++) {
		const struct smoke_model *m = &r->models[i];

		if (m->sha256)
			fprintf(f, "%s%s v%s sha256:%.8s\n", prefix, m->name, m->version,
			        m->sha256);
		else
			fprintf(f, "%s%s v%s (not observed)\n", prefix, m->name, m->version);
	}
}

/*
 * The block an operator (or a package's postinst) must not miss: the triggers, the policy,
 * what was rolled back and whether that set passes, and what is served now.
 */
static void print_warning_block(const struct smoke_opts *o, const struct smoke_result *first,
                                const struct rollback_outcome *rb,
                                const struct smoke_result *second, FILE *f)
{
	char tl[160];

	fprintf(f, "*** WARNING: the inferd smoke test FAILED (triggers: %s)\n",
	        trigger_list(first->triggers, tl, sizeof(tl)));
	fprintf(f, "***   on failure: %s\n", smoke_on_failure_name(o->on_failure));
	if (o->on_failure != SMOKE_ON_FAILURE_ROLLBACK || rb->skipped) {
		if (rb->skipped)
			fprintf(f, "***   " NO_ROLLBACK_WHY
			           ": fix SocketMode=/SocketGroup= of the socket unit\n");
		fprintf(f, "***   nothing was rolled back: the set that failed keeps serving\n");
		fprintf(f, "***   serving now (as observed):\n");
		print_observed(first, "***     ", f);
		fprintf(f, "***   exit status %d\n",
		        o->on_failure == SMOKE_ON_FAILURE_WARN ? EXIT_OK : EXIT_CHECK);
		return;
	}
	if (!rb->ok) {
		fprintf(f, "***   rollback FAILED: %s\n", rb->why[0] ? rb->why : "no answer");
		if (rb->status == 409)
			fprintf(f,
			        "***   (no last known good set recorded: nothing to go back to)\n");
		if (rb->status == 403)
			fprintf(f, "***   (run as root or a member of the admin group)\n");
		fprintf(f, "***   nothing was rolled back: the set that failed keeps serving\n");
		fprintf(f, "***   serving now (as observed):\n");
		print_observed(first, "***     ", f);
		fprintf(f, "***   exit status %d\n", EXIT_CHECK);
		return;
	}
	fprintf(f, "***   rolled back to the last known good set:\n");
	if (rb->served)
		print_changes(rb, "***     ", f);
	if (second && !second->triggers)
		fprintf(f, "***   smoke after the rollback: PASS (the restored set works)\n");
	else if (second)
		fprintf(f,
		        "***   smoke after the rollback: FAIL (triggers: %s): the restored set "
		        "does NOT pass either\n",
		        trigger_list(second->triggers, tl, sizeof(tl)));
	else
		fprintf(f, "***   smoke after the rollback: could not run\n");
	fprintf(f, "***   serving now:\n");
	if (rb->served)
		print_served(rb->served, "***     ", f);
	else if (second)
		print_observed(second, "***     ", f);
	fprintf(f, "***   the rollback stays in force, across restarts, until "
	           "'inferctl rollback --clear'\n");
	fprintf(f, "***   exit status %d\n", EXIT_CHECK);
}

/* The "rollback" member of smoke --json: what the on-failure policy did. */
static json_t *rollback_json(const struct smoke_opts *o, const struct rollback_outcome *rb,
                             const struct smoke_result *second)
{
	bool attempted = o->on_failure == SMOKE_ON_FAILURE_ROLLBACK && !rb->skipped;
	json_t *changed = attempted && rb->ok ? json_object_get(rb->answer, "changed") : NULL;
	json_t *j;

	j = json_pack("{s:s, s:b, s:b, s:O?, s:s?}", "policy", smoke_on_failure_name(o->on_failure),
	              "attempted", attempted, "ok", attempted && rb->ok, "changed",
	              json_is_array(changed) ? changed : NULL, "second_verdict",
	              second ? (second->triggers ? "fail" : "pass") : NULL);
	if (!j)
		return NULL;
	if (!json_is_array(json_object_get(j, "changed")) &&
	    json_object_set_new(j, "changed", json_array()) < 0)
		goto nomem;
	if (attempted && !rb->ok && json_object_set_new(j, "error", json_string(rb->why)) < 0)
		goto nomem;
	if (rb->skipped &&
	    json_object_set_new(j, "reason", json_string(NO_ROLLBACK_WHY " (client_access)")) < 0)
		goto nomem;
	if (attempted && rb->ok && rb->served && json_object_set(j, "serving", rb->served) < 0)
		goto nomem;
	if (second && json_object_set_new(j, "second", smoke_result_json(second, o)) < 0)
		goto nomem;
	return j;
nomem:
	json_decref(j);
	return NULL;
}

static int print_smoke_json(const struct smoke_result *res, const struct smoke_opts *o,
                            bool policy_ran, const struct rollback_outcome *rb,
                            const struct smoke_result *second)
{
	json_t *root = smoke_result_json(res, o);
	int rc = 0;

	if (!root)
		return -ENOMEM;
	if (policy_ran && json_object_set_new(root, "rollback", rollback_json(o, rb, second)) < 0)
		rc = -ENOMEM;
	/* Six significant digits: microseconds matter, float noise does not. */
	if (rc == 0 && json_dumpf(root, stdout, JSON_REAL_PRECISION(6)) < 0)
		rc = -EIO;
	if (rc == 0)
		fputc('\n', stdout);
	json_decref(root);
	return rc;
}

/*
 * Runs the smoke once more after a rollback, and prints it in text mode. The restored set
 * is checked at the versions it serves: a config pinning the version that failed would
 * otherwise only find that version gone.
 */
static int smoke_again(struct ctl *ctl, const struct smoke_opts *o, bool json,
                       const struct rollback_outcome *rb, struct smoke_result *second)
{
	const struct conf *c = ctl->conf;
	struct conf restored = *c;
	struct conf_model *models = calloc(c->n_models ? c->n_models : 1, sizeof(*models));
	char err[512];
	int rc;

	if (!models) {
		errorf("smoke after the rollback: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_models; i++) {
		json_t *e = find_named(rb->served, c->models[i].name);
		const char *v = json_string_value(json_object_get(e, "version"));

		models[i] = c->models[i];
		/* Only the version changes; the strings stay the config's (or the answer's). */
		if (v && valid_version(v))
			models[i].version = (char *)v;
	}
	restored.models = models;
	rc = smoke_run(ctl->cl, &restored, o, second, err, sizeof(err));
	free(models);
	if (rc < 0) {
		errorf("smoke after the rollback: %s", err);
		return rc;
	}
	if (!json) {
		printf("--- smoke after the rollback ---\n");
		smoke_print_text(second, o, stdout);
	}
	return 0;
}

static int cmd_smoke(struct ctl *ctl, int argc, char **argv)
{
	struct smoke_opts o;
	struct smoke_result res, second = {0};
	struct rollback_outcome rb = {0};
	bool json = false, policy_ran = false, have_second = false;
	const char *val;
	bool policy_given = false;
	char err[512], tl[160];
	int i, rc, ret;

	smoke_opts_init(&o, ctl->conf);
	o.request_timeout_s = ctl->timeout_s;
	for (i = 1; i < argc; i++) {
		double d;
		long n;

		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--mark-good") == 0) {
			o.mark_good = true;
		} else if (strcmp(argv[i], "--client-access") == 0) {
			o.client_access_socket = ctl->socket_path;
		} else if (strcmp(argv[i], "--rollback-on-fail") == 0) {
			o.on_failure = SMOKE_ON_FAILURE_ROLLBACK;
			policy_given = true;
		} else if ((rc = opt_value(argc, argv, &i, "--on-failure", NULL, &val)) != 0) {
			struct smoke_opts from_conf;

			if (rc < 0)
				return usage_error("missing value for", argv[i]);
			smoke_opts_init(&from_conf, ctl->conf);
			if (strcmp(val, "config") == 0)
				o.on_failure = from_conf.on_failure;
			else if (smoke_on_failure_parse(val, &o.on_failure) < 0)
				return usage_error(
				    "--on-failure needs rollback, fail, warn or config", val);
			policy_given = true;
		} else if ((rc = opt_value(argc, argv, &i, "--timeout", NULL, &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", argv[i]);
			if (parse_double(val, &d) < 0 || !(d > 0))
				return usage_error("--timeout needs positive seconds", val);
			o.ready_timeout_s = d;
		} else if ((rc = opt_value(argc, argv, &i, "--requests", NULL, &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", argv[i]);
			if (parse_long(val, &n) < 0 || n < 1 || n > 100000000)
				return usage_error("--requests needs 1 .. 100000000", val);
			o.requests = n;
		} else if ((rc = opt_value(argc, argv, &i, "--p99-ms", NULL, &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", argv[i]);
			if (parse_double(val, &d) < 0 || !(d > 0))
				return usage_error("--p99-ms needs positive milliseconds", val);
			o.p99_ms = d;
		} else {
			return usage_error("unexpected argument", argv[i]);
		}
	}
	rc = smoke_run(ctl->cl, ctl->conf, &o, &res, err, sizeof(err));
	if (rc < 0) {
		errorf("smoke: %s", err);
		smoke_result_free(&res);
		return EXIT_USAGE;
	}
	if (!res.triggers) {
		/* Only a set that passed is ever marked good. */
		if (o.mark_good && smoke_mark_good(ctl, &res) < 0) {
			errorf("smoke: out of memory");
			smoke_result_free(&res);
			return EXIT_USAGE;
		}
		ret = res.triggers ? EXIT_CHECK : EXIT_OK;
	} else {
		/*
		 * A policy, when one was asked for, answers the triggers of the run itself. A
		 * plain smoke only observes: an operator's diagnostic run must not change
		 * what is served.
		 */
		policy_ran = policy_given;
		ret = policy_ran && o.on_failure == SMOKE_ON_FAILURE_WARN ? EXIT_OK : EXIT_CHECK;
	}
	if (!json)
		smoke_print_text(&res, &o, stdout);
	/* Going back to other models cannot change who may open the socket. */
	rb.skipped = policy_ran && o.on_failure == SMOKE_ON_FAILURE_ROLLBACK &&
	             !(res.triggers & ~(unsigned)SMOKE_CLIENT_ACCESS);
	if (rb.skipped && !json) {
		trigger_list(res.triggers, tl, sizeof(tl));
		printf("--- rollback (on failure: rollback) ---\n");
		printf("smoke: FAIL (triggers: %s); not rolled back: " NO_ROLLBACK_WHY "\n", tl);
	}
	if (policy_ran && o.on_failure == SMOKE_ON_FAILURE_ROLLBACK && !rb.skipped) {
		rollback_call(ctl, &rb);
		if (!json) {
			printf("--- rollback (on failure: rollback) ---\n");
			if (rb.ok && rb.served)
				print_changes(&rb, "", stdout);
			else if (!rb.ok)
				printf("rollback FAILED: %s\n", rb.why[0] ? rb.why : "no answer");
		}
		if (rb.ok && smoke_again(ctl, &o, json, &rb, &second) == 0)
			have_second = true;
		if (!json) {
			trigger_list(res.triggers, tl, sizeof(tl));
			if (!rb.ok)
				printf("smoke: FAIL (triggers: %s); the rollback failed\n", tl);
			else if (have_second && !second.triggers)
				printf(
				    "smoke: FAIL (triggers: %s); rolled back, and the restored set "
				    "passes\n",
				    tl);
			else
				printf(
				    "smoke: FAIL (triggers: %s); rolled back, but the restored set "
				    "does not pass\n",
				    tl);
		}
	}
	if (json && print_smoke_json(&res, &o, policy_ran, &rb, have_second ? &second : NULL) < 0) {
		errorf("smoke: cannot print the result");
		ret = EXIT_USAGE;
	}
	if (policy_ran) {
		fflush(stdout);
		print_warning_block(&o, &res, &rb, have_second ? &second : NULL, stderr);
	}
	rollback_outcome_free(&rb);
	smoke_result_free(&second);
	smoke_result_free(&res);
	return ret;
}

/*
 * fingerprint --diff A B [--ignore PATH]...: needs neither the daemon nor a config, so it
 * runs before either is looked at.
 */
static int cmd_fingerprint_diff(int argc, char **argv)
{
	const char *files[2] = {NULL, NULL}, *val, **ignore;
	json_t *m[2] = {NULL, NULL};
	struct fingerprint_lines lines = {0};
	size_t n_ignore = 0;
	char err[1024];
	int i, rc, ret = EXIT_USAGE;

	ignore = calloc((size_t)argc, sizeof(*ignore));
	if (!ignore) {
		errorf("out of memory");
		return EXIT_USAGE;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--diff") == 0) {
			if (files[0] || i + 2 >= argc) {
				ret = usage_error("--diff needs two manifests", NULL);
				goto out;
			}
			files[0] = argv[++i];
			files[1] = argv[++i];
		} else if ((rc = opt_value(argc, argv, &i, "--ignore", NULL, &val)) != 0) {
			if (rc < 0 || !*val) {
				ret = usage_error("--ignore needs a PATH", NULL);
				goto out;
			}
			ignore[n_ignore++] = val;
		} else {
			ret = usage_error("unexpected argument", argv[i]);
			goto out;
		}
	}
	for (i = 0; i < 2; i++)
		if (fingerprint_load(files[i], &m[i], err, sizeof(err)) < 0) {
			errorf("%s", err);
			goto out;
		}
	if (fingerprint_diff(m[0], m[1], ignore, n_ignore, &lines) < 0) {
		errorf("out of memory");
		goto out;
	}
	for (size_t k = 0; k < lines.n; k++)
		printf("%s\n", lines.v[k]);
	ret = lines.n ? EXIT_CHECK : EXIT_OK;
out:
	fingerprint_lines_free(&lines);
	json_decref(m[0]);
	json_decref(m[1]);
	free(ignore);
	return ret;
}

static bool wants_diff(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--diff") == 0)
			return true;
	return false;
}

/*
 * GET /v2/admin/fingerprint: *out gets the parsed object, or NULL with the reason in why
 * (a 403 also prints the admin hint).
 */
static void fetch_fingerprint(struct ctl *ctl, json_t **out, char *why, size_t len)
{
	const char *path = "/v2/admin/fingerprint";
	struct client_response r;
	char err[768];
	json_t *j;

	*out = NULL;
	if (client_request(ctl->cl, "GET", path, NULL, 0, &r, err, sizeof(err)) < 0) {
		snprintf(why, len, "GET %s: %s", path, err);
		return;
	}
	j = answer_json(&r);
	if (r.status < 200 || r.status >= 300) {
		const char *msg = json_string_value(json_object_get(j, "error"));
		char buf[600];

		if (msg)
			snprintf(why, len, "GET %s: HTTP %ld: %s", path, r.status, msg);
		else
			snprintf(why, len, "GET %s: %s", path,
			         client_describe_error(&r, buf, sizeof(buf)));
		json_decref(j);
		if (r.status == 403)
			admin_hint(ctl);
		return;
	}
	if (!json_is_object(j)) {
		snprintf(why, len, "GET %s: the answer is not a JSON object", path);
		json_decref(j);
		return;
	}
	*out = j;
}

static int cmd_fingerprint(struct ctl *ctl, int argc, char **argv)
{
	struct fingerprint_sources src = {.libcurl_version = client_libcurl_version()};
	json_t *daemon, *manifest;
	char why[1024];
	char *text;
	int rc;

	if (wants_diff(argc, argv))
		return cmd_fingerprint_diff(argc, argv);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") != 0)
			return usage_error(strncmp(argv[i], "--ignore", 8) == 0
			                       ? "--ignore goes with --diff"
			                       : "unexpected argument",
			                   argv[i]);
	fetch_fingerprint(ctl, &daemon, why, sizeof(why));
	if (!daemon)
		errorf("%s", why);
	rc = fingerprint_manifest(daemon, daemon ? NULL : why, &src, &manifest);
	json_decref(daemon);
	if (rc < 0) {
		errorf("cannot assemble the manifest: %s", strerror(-rc));
		return EXIT_USAGE;
	}
	/* Sorted keys and a fixed layout: two manifests compare with diff(1) as well. */
	text = json_dumps(manifest, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(manifest);
	if (!text) {
		errorf("out of memory");
		return EXIT_USAGE;
	}
	printf("%s\n", text);
	free(text);
	return daemon ? EXIT_OK : EXIT_CHECK;
}

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
    {"health", cmd_health},           {"ready", cmd_ready},       {"models", cmd_models},
    {"metadata", cmd_metadata},       {"infer", cmd_infer},       {"smoke", cmd_smoke},
    {"reload", cmd_reload},           {"rollback", cmd_rollback}, {"state", cmd_state},
    {"fingerprint", cmd_fingerprint},
};

static int load_conf(const char *path, struct conf **out)
{
	struct conf_errors errs = {0};
	char buf[1024];
	int rc;

	if (!path) {
		rc = conf_default(out);
		if (rc < 0)
			errorf("cannot build the default configuration: %s", strerror(-rc));
		return rc;
	}
	rc = conf_load(path, out, &errs);
	if (rc < 0) {
		for (size_t i = 0; i < errs.n; i++)
			errorf("%s", conf_error_str(&errs.v[i], buf, sizeof(buf)));
		if (errs.n == 0)
			errorf("%s: %s", path, strerror(-rc));
	}
	conf_errors_clear(&errs);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *socket_opt = NULL, *val;
	const struct command *cmd = NULL;
	struct ctl ctl = {.timeout_s = DEFAULT_TIMEOUT_S};
	char err[512];
	int i, rc, ret;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("inferctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return EXIT_OK;
		} else if ((rc = opt_value(argc, argv, &i, "--socket", "-s", &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", a);
			socket_opt = val;
		} else if ((rc = opt_value(argc, argv, &i, "--config", "-c", &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", a);
			config_path = val;
		} else if ((rc = opt_value(argc, argv, &i, "--timeout", "-t", &val)) != 0) {
			if (rc < 0)
				return usage_error("missing value for", a);
			if (parse_double(val, &ctl.timeout_s) < 0 || !(ctl.timeout_s > 0))
				return usage_error("--timeout needs positive seconds", val);
		} else {
			return usage_error("unknown option", a);
		}
	}
	if (i >= argc)
		return usage_error("missing COMMAND", NULL);
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			cmd = &commands[k];
	if (!cmd)
		return usage_error("unknown command", argv[i]);
	if (cmd->run == cmd_fingerprint && wants_diff(argc - i, argv + i))
		return cmd_fingerprint_diff(argc - i, argv + i);

	if (load_conf(config_path, &ctl.conf) < 0)
		return EXIT_USAGE;
	ctl.socket_path = socket_opt ? socket_opt : ctl.conf->socket_path;
	if (!ctl.socket_path || !*ctl.socket_path) {
		conf_free(ctl.conf);
		return usage_error("no socket: use --socket PATH", NULL);
	}
	if (client_global_init() < 0) {
		errorf("cannot initialise libcurl");
		conf_free(ctl.conf);
		return EXIT_USAGE;
	}
	if (client_open(ctl.socket_path, ctl.timeout_s, &ctl.cl, err, sizeof(err)) < 0) {
		errorf("%s", err);
		ret = EXIT_USAGE;
	} else {
		ret = cmd->run(&ctl, argc - i, argv + i);
	}
	client_close(ctl.cl);
	client_global_cleanup();
	conf_free(ctl.conf);
	if (fflush(stdout) != 0 && ret == EXIT_OK) {
		errorf("write error: %s", strerror(errno));
		ret = EXIT_USAGE;
	}
	return ret;
}
