/* ctl_smoke.c: inferctl smoke: the smoke test, mark-good and the failure policy's report. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conf.h"
#include "ctl.h"
#include "smoke.h"

/*
 * After a passing smoke: records the set it observed as last known good, as a check of
 * its own. The daemon refuses (409) when its served set is no longer that one.
 * 0, or -ENOMEM.
 */
static int mark_good(struct ctl *ctl, struct smoke_result *res)
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
                                const struct ctl_rollback *rb, const struct smoke_result *second,
                                FILE *f)
{
	char tl[160];

	fprintf(f, "*** WARNING: the inferd smoke test FAILED (triggers: %s)\n",
	        trigger_list(first->triggers, tl, sizeof(tl)));
	fprintf(f, "***   on failure: %s\n", smoke_on_failure_name(o->on_failure));
	if (o->on_failure != SMOKE_ON_FAILURE_ROLLBACK || rb->skipped) {
		if (rb->skipped)
			fprintf(f, "***   " CTL_NO_ROLLBACK_WHY
			           ": fix SocketMode=/SocketGroup= of the socket unit\n");
		fprintf(f, "***   nothing was rolled back: the set that failed keeps serving\n");
		fprintf(f, "***   serving now (as observed):\n");
		print_observed(first, "***     ", f);
		fprintf(f, "***   exit status %d\n",
		        o->on_failure == SMOKE_ON_FAILURE_WARN ? CTL_EXIT_OK : CTL_EXIT_CHECK);
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
		fprintf(f, "***   exit status %d\n", CTL_EXIT_CHECK);
		return;
	}
	fprintf(f, "***   rolled back to the last known good set:\n");
	if (rb->served)
		ctl_print_changes(rb, "***     ", f);
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
		ctl_print_served(rb->served, "***     ", f);
	else if (second)
		print_observed(second, "***     ", f);
	fprintf(f, "***   the rollback stays in force, across restarts, until "
	           "'inferctl rollback --clear'\n");
	fprintf(f, "***   exit status %d\n", CTL_EXIT_CHECK);
}

/* The "rollback" member of smoke --json: what the on-failure policy did. */
static json_t *rollback_json(const struct smoke_opts *o, const struct ctl_rollback *rb,
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
	    json_object_set_new(j, "reason", json_string(CTL_NO_ROLLBACK_WHY " (client_access)")) <
	        0)
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
                            bool policy_ran, const struct ctl_rollback *rb,
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
 * otherwise only find that version gone. Without --config, o's resolver asks the daemon
 * again what it serves now, and where each golden set is.
 */
static int run_again(struct ctl *ctl, const struct conf *c, const struct smoke_opts *o, bool json,
                     const struct ctl_rollback *rb, struct smoke_result *second)
{
	struct conf restored = *c;
	struct conf_model *models = calloc(c->n_models ? c->n_models : 1, sizeof(*models));
	char err[512];
	int rc;

	if (!models) {
		ctl_errorf("smoke after the rollback: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_models; i++) {
		json_t *e = ctl_find_named(rb->served, c->models[i].name);
		const char *v = json_string_value(json_object_get(e, "version"));

		models[i] = c->models[i];
		/* Only the version changes; the strings stay the config's (or the answer's). */
		if (v && ctl_valid_version(v))
			models[i].version = (char *)v;
	}
	restored.models = models;
	rc = smoke_run(ctl->cl, &restored, o, second, err, sizeof(err));
	free(models);
	if (rc < 0) {
		ctl_errorf("smoke after the rollback: %s", err);
		return rc;
	}
	if (!json) {
		printf("--- smoke after the rollback ---\n");
		smoke_print_text(second, o, stdout);
	}
	return 0;
}

enum {
	OPT_JSON = 0x100,
	OPT_MARK_GOOD,
	OPT_CLIENT_ACCESS,
	OPT_ROLLBACK_ON_FAIL,
	OPT_ON_FAILURE,
	OPT_REQUESTS,
	OPT_P99_MS,
};

static const struct option cmd_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"mark-good", no_argument, NULL, OPT_MARK_GOOD},
    {"client-access", no_argument, NULL, OPT_CLIENT_ACCESS},
    {"rollback-on-fail", no_argument, NULL, OPT_ROLLBACK_ON_FAIL},
    {"on-failure", required_argument, NULL, OPT_ON_FAILURE},
    {"timeout", required_argument, NULL, 't'},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"p99-ms", required_argument, NULL, OPT_P99_MS},
    {NULL, 0, NULL, 0},
};

/* What smoke was asked for, before the configuration is known. */
struct cmd_args {
	bool json, mark_good, client_access;
	const char *on_failure; /* NULL, or rollback, fail, warn, config */
	double ready_timeout_s; /* 0: the config's */
	long requests;          /* 0: the config's */
	double p99_ms;          /* 0: the config's */
};

/* Parses smoke's arguments. -1 to go on, or the exit status to return. */
static int parse_smoke_args(struct ctl *ctl, int argc, char **argv, struct cmd_args *a)
{
	enum smoke_on_failure p;
	struct ctl_opts opts;
	const char *arg;
	int c;

	ctl_opts_init(&opts, argc, argv, "t:", cmd_longopts);
	while ((c = ctl_opts_next(ctl, &opts, &arg)) != -1) {
		switch (c) {
		case CTL_OPTS_ERROR:
		case CTL_OPTS_EXIT_OK:
			return CTL_OPTS_STATUS(c);
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_MARK_GOOD:
			a->mark_good = true;
			break;
		case OPT_CLIENT_ACCESS:
			a->client_access = true;
			break;
		case OPT_ROLLBACK_ON_FAIL:
			a->on_failure = "rollback";
			break;
		case OPT_ON_FAILURE:
			if (strcmp(arg, "config") != 0 && smoke_on_failure_parse(arg, &p) < 0)
				return ctl_usage_error(
				    "--on-failure needs rollback, fail, warn or config", arg);
			a->on_failure = arg;
			break;
		case 't':
			if (ctl_parse_double(arg, &a->ready_timeout_s) < 0 ||
			    !(a->ready_timeout_s > 0))
				return ctl_usage_error("--timeout needs positive seconds", arg);
			break;
		case OPT_REQUESTS:
			if (ctl_parse_long(arg, &a->requests) < 0 || a->requests < 1 ||
			    a->requests > 100000000)
				return ctl_usage_error("--requests needs 1 .. 100000000", arg);
			break;
		case OPT_P99_MS:
			if (ctl_parse_double(arg, &a->p99_ms) < 0 || !(a->p99_ms > 0))
				return ctl_usage_error("--p99-ms needs positive milliseconds", arg);
			break;
		default:
			return ctl_usage_error("unexpected argument",
			                       c == 1 ? arg : argv[optind - 1]);
		}
	}
	return -1;
}

/* The daemon's served set, asked for once it is ready (smoke_opts.resolve_models). */
struct daemon_models {
	struct ctl *ctl;
	struct conf *served;
};

static int daemon_models(void *arg, const struct conf **c, char *err, size_t errlen)
{
	struct daemon_models *dm = arg;

	ctl_daemon_conf_free(dm->served);
	dm->served = NULL;
	if (ctl_daemon_conf(dm->ctl, &dm->served) != CTL_EXIT_OK) {
		snprintf(err, errlen, "neither GET /v2/admin/state nor GET /metrics listed them");
		return -EIO;
	}
	*c = dm->served;
	return 0;
}

/*
 * smoke: runs the smoke test on the configured models (--config) or on those the daemon
 * serves, marks the set good on a pass when asked, and applies the failure policy when one
 * was asked for; prints text or one JSON object, and the warning block on stderr.
 */
int ctl_cmd_smoke(struct ctl *ctl, int argc, char **argv)
{
	struct smoke_opts o;
	struct smoke_result res = {0}, second = {0};
	struct ctl_rollback rb = {0};
	struct cmd_args a = {0};
	struct daemon_models dm = {0};
	const struct conf *models;
	bool json, policy_ran = false, have_second = false;
	bool policy_given;
	char err[512], tl[160];
	int rc, ret;

	if ((rc = parse_smoke_args(ctl, argc, argv, &a)) >= 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	json = a.json;
	smoke_opts_init(&o, ctl->conf);
	o.request_timeout_s = ctl->timeout_s;
	o.mark_good = a.mark_good;
	if (a.client_access)
		o.client_access_socket = ctl->socket_path;
	if (a.ready_timeout_s > 0)
		o.ready_timeout_s = a.ready_timeout_s;
	if (a.requests > 0)
		o.requests = a.requests;
	if (a.p99_ms > 0)
		o.p99_ms = a.p99_ms;
	/* "config" keeps what smoke_opts_init() read from the config's smoke.on_failure. */
	policy_given = a.on_failure != NULL;
	if (policy_given && strcmp(a.on_failure, "config") != 0)
		smoke_on_failure_parse(a.on_failure, &o.on_failure);
	if (ctl_model_source(ctl) == CTL_MODELS_DAEMON) {
		dm.ctl = ctl;
		o.resolve_models = daemon_models;
		o.resolve_arg = &dm;
		o.note_no_golden = true;
	}
	rc = smoke_run(ctl->cl, ctl->conf, &o, &res, err, sizeof(err));
	models = dm.served ? dm.served : ctl->conf;
	if (rc < 0) {
		ctl_errorf("smoke: %s", err);
		smoke_result_free(&res);
		return CTL_EXIT_USAGE;
	}
	if (!res.triggers) {
		/* Only a set that passed is ever marked good. */
		if (o.mark_good && mark_good(ctl, &res) < 0) {
			ctl_errorf("smoke: out of memory");
			smoke_result_free(&res);
			return CTL_EXIT_USAGE;
		}
		ret = res.triggers ? CTL_EXIT_CHECK : CTL_EXIT_OK;
	} else {
		/*
		 * A policy, when one was asked for, answers the triggers of the run itself. A
		 * plain smoke only observes: an operator's diagnostic run must not change
		 * what is served.
		 */
		policy_ran = policy_given;
		ret = policy_ran && o.on_failure == SMOKE_ON_FAILURE_WARN ? CTL_EXIT_OK
		                                                          : CTL_EXIT_CHECK;
	}
	if (!json)
		smoke_print_text(&res, &o, stdout);
	/* Going back to other models cannot change who may open the socket. */
	rb.skipped = policy_ran && o.on_failure == SMOKE_ON_FAILURE_ROLLBACK &&
	             !(res.triggers & ~(unsigned)SMOKE_CLIENT_ACCESS);
	if (rb.skipped && !json) {
		trigger_list(res.triggers, tl, sizeof(tl));
		printf("--- rollback (on failure: rollback) ---\n");
		printf("smoke: FAIL (triggers: %s); not rolled back: " CTL_NO_ROLLBACK_WHY "\n",
		       tl);
	}
	if (policy_ran && o.on_failure == SMOKE_ON_FAILURE_ROLLBACK && !rb.skipped) {
		ctl_rollback_call(ctl, &rb);
		if (!json) {
			printf("--- rollback (on failure: rollback) ---\n");
			if (rb.ok && rb.served)
				ctl_print_changes(&rb, "", stdout);
			else if (!rb.ok)
				printf("rollback FAILED: %s\n", rb.why[0] ? rb.why : "no answer");
		}
		if (rb.ok && run_again(ctl, models, &o, json, &rb, &second) == 0)
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
		ctl_errorf("smoke: cannot print the result");
		ret = CTL_EXIT_USAGE;
	}
	if (policy_ran) {
		fflush(stdout);
		print_warning_block(&o, &res, &rb, have_second ? &second : NULL, stderr);
	}
	ctl_rollback_free(&rb);
	smoke_result_free(&second);
	smoke_result_free(&res);
	ctl_daemon_conf_free(dm.served);
	return ret;
}
