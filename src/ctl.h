/* ctl.h: inferctl's shared state, exit codes, option parsing and the commands' entry points. */
#ifndef INFERD_CTL_H
#define INFERD_CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct client;
struct client_response;
struct json_t;

/*
 * The one exit-code table, the same for every command (--help and inferctl(1) print it):
 * scripts, health checks and the package's maintainer scripts depend on it.
 */
#define CTL_EXIT_OK      0 /* success; the check passed */
#define CTL_EXIT_CHECK   1 /* a check failed: not ready, a trigger, a non-2xx answer */
#define CTL_EXIT_USAGE   2 /* usage or configuration error, unreadable input, cannot connect */
#define CTL_EXIT_REFUSED 3 /* reload (or rollback --clear) done, but a version was refused */

/* Where the model list and golden sets came from (see ctl_model_source()). */
enum ctl_models_from {
	CTL_MODELS_CONFIG, /* --config FILE: the configured models */
	CTL_MODELS_DAEMON, /* no --config: what the daemon serves */
};

/* One invocation: the global options, then what setup made of them. */
struct ctl {
	const char *config_path; /* --config, or NULL */
	const char *socket_opt;  /* --socket, or NULL */
	double timeout_s;        /* --timeout: each request's */
	const char *socket_path; /* the socket used: --socket, INFERD_SOCKET, the config's */
	struct conf *conf;       /* --config's, else the built-in default (thresholds) */
	struct client *cl;       /* open once ctl_connect() succeeded */
	bool curl_ready;         /* client_global_init() done */
};

/* A command: its name and its entry (argv[0] is the command's name). */
struct ctl_command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

/* Runs inferctl with argv as given to main; returns the exit status (tests call it). */
int ctl_main(int argc, char **argv);
/* The command table, for completion tests: *n gets the count. */
const struct ctl_command *ctl_commands(size_t *n);
/* The text of --help. */
const char *ctl_usage_text(void);

/* Prints "inferctl: MESSAGE" on stderr. */
void ctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error ("WHAT: ARG" and a hint); returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *what, const char *arg);

/*
 * getopt_long over a command's arguments (argv[0] is the command's name), options before or
 * after the operands. longopts is the command's own table; the global options (--socket,
 * --config, --timeout, unless the command claims the name) are accepted too and stored in
 * ctl. Call it in a loop like getopt_long: returns the option's val, 1 for an operand (in
 * *arg), -1 at the end, CTL_OPTS_ERROR after printing a usage error, or CTL_OPTS_EXIT_OK
 * after --help or --version. With numbers_are_operands, arguments that read as negative
 * numbers (infer's values) are operands, not options.
 */
#define CTL_OPTS_ERROR   (-2)
#define CTL_OPTS_EXIT_OK (-3)
/* The exit status for ctl_opts_next()'s CTL_OPTS_ERROR or CTL_OPTS_EXIT_OK. */
#define CTL_OPTS_STATUS(c) ((c) == CTL_OPTS_EXIT_OK ? CTL_EXIT_OK : CTL_EXIT_USAGE)
struct ctl_opts {
	int argc;
	char **argv;
	const char *shortopts; /* the command's, without the leading "-:" */
	const struct option *longopts;
	bool numbers_are_operands;
	bool started;
	bool rest; /* getopt is done ("--" or the end): the rest are operands */
	int next;  /* the next of those */
	char shortbuf[64];
	struct option merged[32];
};
void ctl_opts_init(struct ctl_opts *o, int argc, char **argv, const char *shortopts,
                   const struct option *longopts);
int ctl_opts_next(struct ctl *ctl, struct ctl_opts *o, const char **arg);

/*
 * For commands that take no operand and no option of their own: parses the global options
 * among argv. Returns -1 to go on, or the exit status (usage error, --help).
 */
int ctl_no_args(struct ctl *ctl, int argc, char **argv);
/* Loads the configuration and opens the client; CTL_EXIT_OK or an exit code (reason printed). */
int ctl_connect(struct ctl *ctl);
/* Where the model list comes from for this invocation. */
enum ctl_models_from ctl_model_source(const struct ctl *ctl);

/* Parses a whole string as a finite double. 0 or -EINVAL. */
int ctl_parse_double(const char *s, double *out);
/* Parses a whole string as a long. 0 or -EINVAL. */
int ctl_parse_long(const char *s, long *out);
/* Model names follow the config's rule (util_valid_name()), safe inside a URL path. */
bool ctl_valid_name(const char *s);
/* A version: 1 to 10 digits. */
bool ctl_valid_version(const char *s);
/* Builds "/v2/models/NAME[/versions/V]SUFFIX"; CTL_EXIT_OK or a usage error's code. */
int ctl_model_path(const char *name, const char *version, const char *suffix, char *buf,
                   size_t len);

/*
 * Reads a whole file (a regular one: util_read_file()), or stdin for "-", up to the
 * largest body inferd accepts. 0 or -errno with the reason printed.
 */
int ctl_read_all(const char *path, char **out, size_t *outlen);
/*
 * The shortest text that reads back as the same float32 as v. (The lead switches this to
 * num's shortest-float printer at merge.)
 */
const char *ctl_fmt_float(double v, char *buf, size_t len);

/* Sends one request; on a transport failure prints why and returns -errno. */
int ctl_exchange(struct ctl *ctl, const char *method, const char *path, const char *body,
                 size_t len, struct client_response *resp);
/* Prints a non-2xx answer's reason; returns the exit code for the answer. */
int ctl_answer_status(const char *method, const char *path, const struct client_response *r);
/* Prints an answer's body and a newline when it has none. */
void ctl_print_body(const struct client_response *r);
/* Parses an answer as JSON (depth-limited); NULL when it is not. */
struct json_t *ctl_answer_json(const struct client_response *r);
/* Prints a 403's hint naming the admin group. */
void ctl_admin_hint(const struct ctl *ctl);
/* Prints a non-2xx admin answer in full (error, errors[]); returns CTL_EXIT_CHECK. */
int ctl_report_error(const struct ctl *ctl, const char *method, const char *path,
                     const struct client_response *r);

/*
 * (ctl_served.c) The models the daemon serves, as a configuration smoke and models use: GET
 * /v2/admin/state's "serving" (name, version, and "golden", the golden set's path, when the
 * daemon names it; without that member, the golden set the daemon's own config file names,
 * when it is readable and its sha256 is the state's config_sha256), else, not an admin,
 * the public inferd_model_info series of /metrics (no golden sets).
 * *out gets a copy of ctl->conf whose models are those, pinned at their versions; free it
 * with ctl_daemon_conf_free(). CTL_EXIT_OK or an exit code (reason printed).
 */
int ctl_daemon_conf(struct ctl *ctl, struct conf **out);
/* Frees what ctl_daemon_conf() made (not the strings it shares with ctl->conf). */
void ctl_daemon_conf_free(struct conf *c);
/*
 * Parses Prometheus text for inferd_model_info{model="N",version="V",...} series: *names
 * and *versions get n malloc'd strings each (free with ctl_strv_free()). 0 or -errno.
 */
int ctl_parse_model_info(const char *text, size_t len, char ***names, char ***versions, size_t *n);
/* Frees an array of n strings. */
void ctl_strv_free(char **v, size_t n);

/* CSV input for infer. */
enum ctl_csv_header {
	CTL_CSV_HEADER_AUTO, /* a first row none of whose fields reads as a number */
	CTL_CSV_HEADER_YES,  /* --header: the first row is a header */
	CTL_CSV_HEADER_NO,   /* --no-header: every row is data */
};
struct ctl_rows {
	float *v;
	size_t n, cap; /* values */
	size_t ncols;  /* 0 until the first row fixes it */
	size_t nrows;
	bool had_header;
};
/*
 * Parses CSV text (modified in place) into rows of float32: blank lines skipped, an empty
 * field, NaN or null is missing, every row as wide as the first. A bad field is an error
 * naming the row (line) and field, the first row's too, unless it is a header. 0, or -EINVAL
 * / -ENOMEM with the reason printed (name is the input's name in messages).
 */
int ctl_csv_parse(const char *name, char *text, char delimiter, enum ctl_csv_header header,
                  struct ctl_rows *t);
/* One value as typed: empty, NaN, null are missing; beyond float32 is refused. 0 or -EINVAL. */
int ctl_parse_value(const char *s, float *out);

/* The commands (ctl_query.c, ctl_infer.c, ctl_admin.c, ctl_smoke.c, ctl_fingerprint.c). */
int ctl_cmd_health(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_ready(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_models(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_metadata(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_infer(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_smoke(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_reload(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_rollback(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_state(struct ctl *ctl, int argc, char **argv);
int ctl_cmd_fingerprint(struct ctl *ctl, int argc, char **argv);

/* ---- admin helpers shared by rollback and smoke's failure policy (ctl_admin.c) ---- */

/* Why client_access alone is never rolled back: printed, and in the JSON's rollback. */
#define CTL_NO_ROLLBACK_WHY "a rollback restores models, not the socket's mode or group"

/* What a rollback did, for the command and for the smoke policy. */
struct ctl_rollback {
	bool ok;               /* 2xx */
	long status;           /* 0 when no answer came */
	char why[1024];        /* the reason when not ok */
	struct json_t *answer; /* the parsed 2xx answer (with "changed", "serving"), or NULL */
	struct json_t *served; /* borrowed from answer or state */
	struct json_t *state;  /* GET /v2/admin/state when the answer lists no set */
	bool skipped;          /* not asked for: only client_access fired */
};
/* POST /v2/admin/rollback. 0 with *o filled (ok or not), -errno without an answer. */
int ctl_rollback_call(struct ctl *ctl, struct ctl_rollback *o);
void ctl_rollback_free(struct ctl_rollback *o);
/* "NAME: vFROM -> vTO (sha256:8HEX)" or "NAME: unchanged vV" per model, after prefix. */
void ctl_print_changes(const struct ctl_rollback *o, const char *prefix, FILE *f);
/* "NAME vVERSION sha256:8HEX", one per served model, after prefix. */
void ctl_print_served(struct json_t *served, const char *prefix, FILE *f);
/* The element of array whose "name" is name, or NULL. */
struct json_t *ctl_find_named(struct json_t *array, const char *name);
/* The served set in an admin answer: an array of {"name", "version", "sha256"}, or NULL. */
struct json_t *ctl_served_array(struct json_t *root);

#endif
