/* ctl.c: inferctl's core: the command table, option parsing, setup and shared helpers. */
#include "ctl.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conf.h"
#include "jsonx.h"
#include "num.h"
#include "util.h"

#define DEFAULT_TIMEOUT_S 10.0
/* The largest body inferd can be configured to accept; reading more is pointless. */
#define MAX_INPUT_BYTES   ((size_t)1 << 30)
#define ANSWER_JSON_DEPTH 64
/* The environment variable naming the socket when --socket is not given. */
#define SOCKET_ENV "INFERD_SOCKET"

static const char usage_text[] =
    "Usage: inferctl [OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  health                 GET /v2/health/live\n"
    "  ready                  GET /v2/health/ready; exit 0 when ready, 1 when not;\n"
    "                         --json: {\"ready\", \"status\", \"error\"}\n"
    "  models                 one line per model: name, versions, objective, features;\n"
    "                         --json: one array of objects\n"
    "  metadata MODEL [--model-version V] [--json]\n"
    "                         the model's metadata (indented JSON; --json: one line)\n"
    "  infer MODEL [--model-version V] [--output NAME]\n"
    "        (--json FILE | --csv FILE [--header|--no-header] [--delimiter C] | VALUE...)\n"
    "                         --json sends FILE as the body ('-' = stdin); --csv sends its\n"
    "                         rows of numbers (empty or NaN = missing) as FP32 [N,F]: a first\n"
    "                         row is a header only when none of its fields reads as a number\n"
    "                         (or with --header); --delimiter sets the field separator\n"
    "                         (default ','; 'tab' for tabs). VALUEs make one row. Prints the\n"
    "                         answer, or with --output NAME (predict, margin) one line per\n"
    "                         row; exit 1 when the answer has another number of rows.\n"
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
    "                         prints the served models and each refused version with its\n"
    "                         reason (exit 3), or every config error (exit 1)\n"
    "  rollback [--clear]     POST /v2/admin/rollback: serve the last known good set (kept\n"
    "                         across restarts); prints what changed; exit 1 when there is\n"
    "                         no record or it failed. --clear (DELETE) lifts the rollback\n"
    "                         (exit 3 when the configured set has a refused version).\n"
    "  state                  GET /v2/admin/state: config, served set, last known good\n"
    "                         record, rollback in force; pretty-printed JSON\n"
    "  fingerprint [--json]   the installation's manifest as JSON, keys sorted, no\n"
    "                         timestamps: the daemon's part (GET /v2/admin/fingerprint:\n"
    "                         versions, libraries, config, models with sha256) and\n"
    "                         inferctl's, libcurl's, the OS release, the kernel and the\n"
    "                         package version. Without the daemon's part the error is\n"
    "                         recorded and the rest printed (exit 1, or 2 when nothing\n"
    "                         answered on the socket).\n"
    "  fingerprint --diff A B [--ignore PATH]...\n"
    "                         one line per difference between manifests A and B\n"
    "                         (PATH: OLD -> NEW, + PATH, - PATH; models matched by name);\n"
    "                         --ignore skips PATH and below (e.g. kernel.release). Exit 0\n"
    "                         when identical, 1 when they differ, 2 on a bad file.\n"
    "\n"
    "Without --config, models and smoke ask the daemon which models it serves (the admin\n"
    "state, else /metrics) and smoke checks the golden set the daemon names for each.\n"
    "reload, rollback, state, fingerprint, smoke --mark-good and smoke's rollback use admin\n"
    "endpoints: run them as root or as a member of the config's socket.admin_group.\n"
    "\n"
    "Options (before or after the command; -sPATH and --socket=PATH forms too):\n"
    "  -s, --socket PATH      the daemon's socket (default: $INFERD_SOCKET, else the\n"
    "                         config's socket.path)\n"
    "  -c, --config FILE      read FILE (default: the built-in configuration)\n"
    "  -t, --timeout SEC      per-request timeout in seconds (default 10; after smoke,\n"
    "                         smoke's own readiness timeout)\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Environment: INFERD_SOCKET, the socket when --socket is not given.\n"
    "\n"
    "Exit status, for every command:\n"
    "  0  success: the command worked, the check passed\n"
    "  1  a check failed: not ready, a smoke trigger, a non-2xx answer, manifests differ\n"
    "  2  usage or configuration error, unreadable input, or cannot connect to the daemon\n"
    "  3  reload (or rollback --clear) done, but the daemon refused a version\n";

static const struct ctl_command commands[] = {
    {"health", ctl_cmd_health}, {"ready", ctl_cmd_ready},
    {"models", ctl_cmd_models}, {"metadata", ctl_cmd_metadata},
    {"infer", ctl_cmd_infer},   {"smoke", ctl_cmd_smoke},
    {"reload", ctl_cmd_reload}, {"rollback", ctl_cmd_rollback},
    {"state", ctl_cmd_state},   {"fingerprint", ctl_cmd_fingerprint},
};

const struct ctl_command *ctl_commands(size_t *n)
{
	*n = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

const char *ctl_usage_text(void)
{
	return usage_text;
}

void ctl_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("inferctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage_error(const char *what, const char *arg)
{
	if (arg)
		ctl_errorf("%s: %s", what, arg);
	else
		ctl_errorf("%s", what);
	fputs("Try 'inferctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

int ctl_parse_double(const char *s, double *out)
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

int ctl_parse_long(const char *s, long *out)
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

bool ctl_valid_name(const char *s)
{
	return util_valid_name(s);
}

bool ctl_valid_version(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 10 && strspn(s, "0123456789") == n;
}

int ctl_model_path(const char *name, const char *version, const char *suffix, char *buf, size_t len)
{
	if (!ctl_valid_name(name))
		return ctl_usage_error("invalid model name", name);
	if (version && !ctl_valid_version(version))
		return ctl_usage_error("invalid model version", version);
	if (version)
		snprintf(buf, len, "/v2/models/%s/versions/%s%s", name, version, suffix);
	else
		snprintf(buf, len, "/v2/models/%s%s", name, suffix);
	return CTL_EXIT_OK;
}

/* ---- file input (util) and the float printer the lead switches to num at merge -------- */

/* Reads a whole file, or stdin for "-" (util's bounded readers). 0 or -errno, reason printed. */
int ctl_read_all(const char *path, char **out, size_t *outlen)
{
	char err[512];
	int rc;

	if (strcmp(path, "-") == 0)
		rc = util_read_fd(0, "stdin", MAX_INPUT_BYTES, out, outlen, err, sizeof(err));
	else
		rc = util_read_file(path, MAX_INPUT_BYTES, 0, out, outlen, err, sizeof(err));
	if (rc < 0)
		ctl_errorf("%s", err);
	return rc;
}

/* Shortest text that reads back as the same float32 (what the daemon computed): num's. */
const char *ctl_fmt_float(double v, char *buf, size_t len)
{
	char tmp[NUM_FMT_MAX];

	if (!(fabs(v) <= FLT_MAX))
		snprintf(buf, len, "%g", v);
	else {
		num_format_float((float)v, tmp);
		snprintf(buf, len, "%s", tmp);
	}
	return buf;
}

/* ---- requests and answers ------------------------------------------------------------ */

int ctl_exchange(struct ctl *ctl, const char *method, const char *path, const char *body,
                 size_t len, struct client_response *resp)
{
	char err[768];
	int rc = client_request(ctl->cl, method, path, body, len, resp, err, sizeof(err));

	if (rc < 0)
		ctl_errorf("%s", err);
	return rc;
}

int ctl_answer_status(const char *method, const char *path, const struct client_response *r)
{
	char why[600];

	if (r->status >= 200 && r->status < 300)
		return CTL_EXIT_OK;
	ctl_errorf("%s %s: %s", method, path, client_describe_error(r, why, sizeof(why)));
	return CTL_EXIT_CHECK;
}

void ctl_print_body(const struct client_response *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', stdout);
}

json_t *ctl_answer_json(const struct client_response *r)
{
	json_t *j = NULL;
	char jerr[256];

	if (jsonx_parse(r->body, r->len, ANSWER_JSON_DEPTH, 1, &j, jerr, sizeof(jerr)) < 0)
		return NULL;
	return j;
}

void ctl_admin_hint(const struct ctl *ctl)
{
	if (ctl->conf && ctl->conf->admin_group)
		ctl_errorf("hint: run as root or a member of the admin group (%s)",
		           ctl->conf->admin_group);
	else
		ctl_errorf("hint: run as root or a member of the admin group (socket.admin_group)");
}

int ctl_report_error(const struct ctl *ctl, const char *method, const char *path,
                     const struct client_response *r)
{
	json_t *j = ctl_answer_json(r), *errs, *e;
	const char *msg = json_string_value(json_object_get(j, "error"));
	size_t i;

	if (msg) {
		ctl_errorf("%s %s: HTTP %ld: %s", method, path, r->status, msg);
	} else {
		char why[600];

		ctl_errorf("%s %s: %s", method, path, client_describe_error(r, why, sizeof(why)));
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
		ctl_admin_hint(ctl);
	return CTL_EXIT_CHECK;
}

/* ---- options ---------------------------------------------------------------------------- */

/* The global options, accepted before the command and after it. */
static const struct option global_longopts[] = {
    {"socket", required_argument, NULL, 's'},  {"config", required_argument, NULL, 'c'},
    {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
};
#define GLOBAL_SHORTOPTS "s:c:t:hV"

/* Stores a global option in ctl. CTL_EXIT_OK or a usage error's code. */
static int global_option(struct ctl *ctl, int c, const char *arg)
{
	switch (c) {
	case 's':
		ctl->socket_opt = arg;
		return CTL_EXIT_OK;
	case 'c':
		ctl->config_path = arg;
		return CTL_EXIT_OK;
	case 't':
		if (ctl_parse_double(arg, &ctl->timeout_s) < 0 || !(ctl->timeout_s > 0))
			return ctl_usage_error("--timeout needs positive seconds", arg);
		return CTL_EXIT_OK;
	default:
		return CTL_EXIT_USAGE;
	}
}

static bool has_long(const struct option *opts, const char *name)
{
	for (; opts && opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return true;
	return false;
}

void ctl_opts_init(struct ctl_opts *o, int argc, char **argv, const char *shortopts,
                   const struct option *longopts)
{
	size_t n = 0, k = 0;

	memset(o, 0, sizeof(*o));
	o->argc = argc;
	o->argv = argv;
	o->shortopts = shortopts;
	o->longopts = longopts;
	/* "-": operands in order (values may be interleaved); ":": missing values reported. */
	k = (size_t)snprintf(o->shortbuf, sizeof(o->shortbuf), "-:%s", shortopts ? shortopts : "");
	for (const char *g = GLOBAL_SHORTOPTS; *g && k + 2 < sizeof(o->shortbuf); g++) {
		bool takes = g[1] == ':';

		if (!shortopts || !strchr(shortopts, *g)) {
			o->shortbuf[k++] = *g;
			if (takes)
				o->shortbuf[k++] = ':';
		}
		if (takes)
			g++;
	}
	o->shortbuf[k] = '\0';
	for (const struct option *p = longopts; p && p->name && n + 1 < 32; p++)
		o->merged[n++] = *p;
	for (const struct option *p = global_longopts; p->name && n + 1 < 32; p++)
		if (!has_long(longopts, p->name))
			o->merged[n++] = *p;
	memset(&o->merged[n], 0, sizeof(o->merged[n]));
}

/* "-1.5", "-.5", "-inf", "-nan": a negative value, not an option. */
static bool negative_number(const char *s)
{
	char *end;

	if (s[0] != '-' || s[1] == '\0' || s[1] == '-')
		return false;
	(void)strtod(s, &end);
	return end != s && *end == '\0';
}

/*
 * getopt_long over a command's arguments, one option (or operand) per call; see ctl.h.
 * Global options are stored here; --help prints the help (CTL_OPTS_EXIT_OK).
 */
int ctl_opts_next(struct ctl *ctl, struct ctl_opts *o, const char **arg)
{
	int c, rc;

	if (!o->started) {
		optind = 0; /* glibc: a full re-initialisation, for each command's pass */
		opterr = 0;
		o->started = true;
	}
	for (;;) {
		int before = optind ? optind : 1;

		if (o->numbers_are_operands && before < o->argc &&
		    negative_number(o->argv[before])) {
			*arg = o->argv[before];
			optind = before + 1;
			return 1;
		}
		if (o->rest) {
			/* After "--": everything left is an operand. */
			if (o->next >= o->argc)
				return -1;
			*arg = o->argv[o->next++];
			return 1;
		}
		c = getopt_long(o->argc, o->argv, o->shortbuf, o->merged, NULL);
		if (c == -1) {
			o->rest = true;
			o->next = optind;
			continue;
		}
		*arg = optarg;
		if (c == '?') {
			if (optopt)
				ctl_usage_error("unknown option",
				                (char[]){'-', (char)optopt, '\0'});
			else
				ctl_usage_error("unknown option", o->argv[optind - 1]);
			return CTL_OPTS_ERROR;
		}
		if (c == ':') {
			ctl_usage_error("missing value for", o->argv[optind - 1]);
			return CTL_OPTS_ERROR;
		}
		if (c == 'h' && !(o->shortopts && strchr(o->shortopts, 'h')) &&
		    !has_long(o->longopts, "help")) {
			fputs(usage_text, stdout);
			return CTL_OPTS_EXIT_OK;
		}
		if (c == 'V' && !has_long(o->longopts, "version")) {
			printf("inferctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return CTL_OPTS_EXIT_OK;
		}
		if ((c == 's' || c == 'c' || c == 't') &&
		    !(o->shortopts && strchr(o->shortopts, c))) {
			rc = global_option(ctl, c, optarg);
			if (rc != CTL_EXIT_OK)
				return CTL_OPTS_ERROR;
			continue;
		}
		return c;
	}
}

int ctl_no_args(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_opts o;
	const char *arg;
	int c;

	ctl_opts_init(&o, argc, argv, "", NULL);
	while ((c = ctl_opts_next(ctl, &o, &arg)) != -1) {
		if (c == CTL_OPTS_ERROR || c == CTL_OPTS_EXIT_OK)
			return CTL_OPTS_STATUS(c);
		return ctl_usage_error("unexpected argument", c == 1 ? arg : argv[optind - 1]);
	}
	return -1;
}

/* ---- setup ------------------------------------------------------------------------------ */

static int load_conf(const char *path, struct conf **out)
{
	struct conf_errors errs = {0};
	char buf[1024];
	int rc;

	if (!path) {
		rc = conf_default(out);
		if (rc < 0)
			ctl_errorf("cannot build the default configuration: %s", strerror(-rc));
		return rc;
	}
	rc = conf_load(path, out, &errs);
	if (rc < 0) {
		for (size_t i = 0; i < errs.n; i++)
			ctl_errorf("%s", conf_error_str(&errs.v[i], buf, sizeof(buf)));
		if (errs.n == 0)
			ctl_errorf("%s: %s", path, strerror(-rc));
	}
	conf_errors_clear(&errs);
	return rc;
}

enum ctl_models_from ctl_model_source(const struct ctl *ctl)
{
	return ctl->config_path ? CTL_MODELS_CONFIG : CTL_MODELS_DAEMON;
}

int ctl_connect(struct ctl *ctl)
{
	const char *env = getenv(SOCKET_ENV);
	char err[512];

	if (!ctl->conf && load_conf(ctl->config_path, &ctl->conf) < 0)
		return CTL_EXIT_USAGE;
	if (ctl->socket_opt)
		ctl->socket_path = ctl->socket_opt;
	else if (env && *env)
		ctl->socket_path = env;
	else
		ctl->socket_path = ctl->conf->socket_path;
	if (!ctl->socket_path || !*ctl->socket_path)
		return ctl_usage_error("no socket: use --socket PATH", NULL);
	if (!ctl->curl_ready) {
		if (client_global_init() < 0) {
			ctl_errorf("cannot initialise libcurl");
			return CTL_EXIT_USAGE;
		}
		ctl->curl_ready = true;
	}
	if (client_open(ctl->socket_path, ctl->timeout_s, &ctl->cl, err, sizeof(err)) < 0) {
		ctl_errorf("%s", err);
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

/* ---- main ----------------------------------------------------------------------------- */

/*
 * Parses the options before the command (getopt_long, stopping at the command), finds the
 * command in the table and runs it; the command parses the rest, the global options
 * included, then connects. Frees everything before returning the exit status.
 */
int ctl_main(int argc, char **argv)
{
	static const char shortopts[] = "+:" GLOBAL_SHORTOPTS;
	const struct ctl_command *cmd = NULL;
	struct ctl ctl = {.timeout_s = DEFAULT_TIMEOUT_S};
	int c, ret = CTL_EXIT_OK;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, global_longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("inferctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return CTL_EXIT_OK;
		case ':':
			return ctl_usage_error("missing value for", argv[optind - 1]);
		case '?':
			if (optopt)
				return ctl_usage_error("unknown option",
				                       (char[]){'-', (char)optopt, '\0'});
			return ctl_usage_error("unknown option", argv[optind - 1]);
		default:
			if (global_option(&ctl, c, optarg) != CTL_EXIT_OK)
				return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return ctl_usage_error("missing COMMAND", NULL);
	if (strcmp(argv[optind], "help") == 0) {
		fputs(usage_text, stdout);
		return CTL_EXIT_OK;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[optind], commands[k].name) == 0)
			cmd = &commands[k];
	if (!cmd)
		return ctl_usage_error("unknown command", argv[optind]);
	ret = cmd->run(&ctl, argc - optind, argv + optind);
	client_close(ctl.cl);
	if (ctl.curl_ready)
		client_global_cleanup();
	conf_free(ctl.conf);
	if (fflush(stdout) != 0 && ret == CTL_EXIT_OK) {
		ctl_errorf("write error: %s", strerror(errno));
		ret = CTL_EXIT_USAGE;
	}
	return ret;
}
