/* smoke.h: the post-deploy smoke test (readiness, golden outputs, latency) and its verdict. */
#ifndef INFERD_SMOKE_H
#define INFERD_SMOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct client;

/* What made a smoke test fail; a result carries a set of them (bits). */
enum smoke_trigger {
	SMOKE_NOT_READY = 1u << 0,       /* no 200 from /v2/health/ready within the timeout */
	SMOKE_OUTPUT_MISMATCH = 1u << 1, /* a golden output out of tolerance (or unverifiable) */
	SMOKE_HTTP_ERROR = 1u << 2,      /* a non-2xx answer, or none, after readiness */
	SMOKE_P99_LATENCY = 1u << 3,     /* client-side p99 above the limit */
	SMOKE_SET_CHANGED = 1u << 4,     /* mark-good refused: the served set changed meanwhile */
	SMOKE_MODEL_REFUSED = 1u << 5,   /* the repository index has a refused version */
	SMOKE_CLIENT_ACCESS = 1u << 6,   /* a client only in the socket's group cannot connect */
};
#define SMOKE_TRIGGER_COUNT 7

/* What inferctl does when a trigger fires (the config's smoke.on_failure). */
enum smoke_on_failure {
	SMOKE_ON_FAILURE_ROLLBACK, /* roll back to the last known good set, smoke again */
	SMOKE_ON_FAILURE_FAIL,     /* report and exit 1 */
	SMOKE_ON_FAILURE_WARN,     /* report with a warning and exit 0 */
};

/*
 * Thresholds and knobs. Start from smoke_opts_init() (the config's smoke section), then
 * override from flags. Actions on the verdict belong to the caller, which reads struct
 * smoke_result after smoke_run(): the test itself only observes and never changes the
 * daemon. A later --mark-good records r->models (name, version, sha256) as known good
 * when r->triggers is 0; --rollback-on-fail (or the config's smoke.on_failure) goes back
 * to the last good set when it is not. Such policies get their fields here, read by
 * ctl.c, not by smoke_run().
 */
struct smoke_opts {
	double ready_timeout_s;   /* how long to wait for readiness */
	double request_timeout_s; /* each request's own timeout */
	long requests;            /* latency sample size */
	double p99_ms;            /* p99 trigger */
	bool mark_good;           /* on a pass, record the observed set as known good */
	enum smoke_on_failure on_failure;
	/* --client-access: the socket to try as a group-only client (root only), or NULL */
	const char *client_access_socket;
	/*
	 * When set, called once the daemon is ready for the models to check instead of
	 * smoke_run()'s c (inferctl without --config asks the daemon what it serves): *c gets a
	 * configuration that outlives the run. 0, or -errno with a reason in err (then the
	 * "models" check fails with http_error).
	 */
	int (*resolve_models)(void *arg, const struct conf **c, char *err, size_t errlen);
	void *resolve_arg;
	/* Say so ("golden" check, skipped) for a model with no golden set to check. */
	bool note_no_golden;
};

/* One check as reported: a line of text, or an element of "checks" in JSON. */
struct smoke_check {
	char *name; /* "ready", "refused", "metadata", "golden", "latency" */
	bool ok;
	unsigned trigger; /* the smoke_trigger that fired, 0 when ok */
	char *detail;     /* human text, e.g. "in 12 ms" */
	double ms;        /* wall time the check took */
};

/* A configured model as the daemon describes it (what a later "mark good" would record). */
struct smoke_model {
	char *name;
	char *version;  /* the version served, as the metadata named it (never "latest") */
	char *sha256;   /* from the metadata's parameters.sha256, NULL when absent */
	bool golden_ok; /* a golden set was checked and matched */
};

struct smoke_result {
	unsigned triggers; /* smoke_trigger bits; 0 means pass */
	struct smoke_check *checks;
	size_t n_checks;
	struct smoke_model *models;
	size_t n_models;
	long requests; /* latency requests completed */
	double p50_ms, p99_ms;
	long connections; /* opened during the latency run: 0 when the earlier one was kept alive */
};

/* Sets o from the config's smoke section (c->smoke) and a default request timeout. */
void smoke_opts_init(struct smoke_opts *o, const struct conf *c);
/* Parses "rollback", "fail" or "warn". 0 or -EINVAL. */
int smoke_on_failure_parse(const char *s, enum smoke_on_failure *out);
/* The policy's name as written in the config. */
const char *smoke_on_failure_name(enum smoke_on_failure p);

/*
 * Runs the checks against the daemon behind cl, for the models configured in c:
 * readiness (polled with backoff), with o->client_access_socket set the client access
 * check (smoke_check_client_access()), the repository index (POST /v2/repository/index: a
 * version refused by the daemon's validation fires model_refused; a 403, when the caller
 * is not an admin, skips the check with a note), each model's metadata, each golden set,
 * then latency.
 * A model configured as "latest" is checked at the version its metadata names. Its golden
 * set is the configured one, else (a repository model) golden.json beside the served
 * version in the first configured root holding the model, when that file exists.
 * Returns 0 once the checks ran, whatever the verdict (see r->triggers), or a negative
 * errno with a reason in err when they could not run at all. Free r with
 * smoke_result_free() in both cases.
 */
int smoke_run(struct client *cl, const struct conf *c, const struct smoke_opts *o,
              struct smoke_result *r, char *err, size_t errlen);
/*
 * The "client-access" check: can a client that is neither root nor the socket's owner,
 * only a member of the socket's group, connect to socket_path? Run as root, it forks a
 * child that drops to user nobody with the socket's group as its only group and connects
 * (connect() is where a Unix socket's mode and the directories' search bits apply).
 * A refusal fires SMOKE_CLIENT_ACCESS with the socket's mode and owner. Not root, it only
 * notes that the run's own connection is an unprivileged client's. 0 or -ENOMEM.
 */
int smoke_check_client_access(const char *socket_path, struct smoke_result *r);
/*
 * Appends a check done by the caller (e.g. "mark-good") to r; a non-zero trigger makes
 * the verdict fail. 0 or -ENOMEM.
 */
int smoke_result_add(struct smoke_result *r, const char *name, unsigned trigger,
                     const char *detail);
/* Frees what smoke_run() filled; safe on a zeroed result. */
void smoke_result_free(struct smoke_result *r);

/*
 * The trigger's name as printed: "not_ready", "output_mismatch", "http_error",
 * "p99_latency", "set_changed", "model_refused", "client_access" ("?" for others).
 */
const char *smoke_trigger_name(unsigned trigger);

/* Prints one line per check and the verdict line ("smoke: PASS" / "smoke: FAIL (...)"). */
void smoke_print_text(const struct smoke_result *r, const struct smoke_opts *o, FILE *f);
/*
 * The result as one JSON object {"verdict", "triggers", "checks", "latency", "models"}, for
 * callers that add their own keys. A new reference, or NULL when out of memory.
 */
struct json_t *smoke_result_json(const struct smoke_result *r, const struct smoke_opts *o);
/* Prints the result as one JSON object and a newline. 0 or -ENOMEM. */
int smoke_print_json(const struct smoke_result *r, const struct smoke_opts *o, FILE *f);

#endif
