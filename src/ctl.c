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
    "  smoke [--timeout SEC] [--requests N] [--p99-ms MS] [--json]\n"
    "                         readiness, golden outputs and latency; exit 1 on a trigger\n"
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

static int cmd_smoke(struct ctl *ctl, int argc, char **argv)
{
	struct smoke_opts o;
	struct smoke_result res;
	bool json = false;
	const char *val;
	char err[512];
	int i, rc;

	smoke_opts_init(&o, ctl->conf);
	o.request_timeout_s = ctl->timeout_s;
	for (i = 1; i < argc; i++) {
		double d;
		long n;

		if (strcmp(argv[i], "--json") == 0) {
			json = true;
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
	if (json) {
		if (smoke_print_json(&res, &o, stdout) < 0) {
			errorf("smoke: cannot print the result");
			smoke_result_free(&res);
			return EXIT_USAGE;
		}
	} else {
		smoke_print_text(&res, &o, stdout);
	}
	rc = res.triggers ? EXIT_CHECK : EXIT_OK;
	smoke_result_free(&res);
	return rc;
}

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
    {"health", cmd_health},     {"ready", cmd_ready}, {"models", cmd_models},
    {"metadata", cmd_metadata}, {"infer", cmd_infer}, {"smoke", cmd_smoke},
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
