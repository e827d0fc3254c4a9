/* ctl_admin.c: inferctl's admin commands: reload, rollback, state, and the rollback helpers. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"

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
json_t *ctl_served_array(json_t *root)
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

json_t *ctl_find_named(json_t *array, const char *name)
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
void ctl_print_served(json_t *served, const char *prefix, FILE *f)
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
 * code: CTL_EXIT_OK, CTL_EXIT_USAGE when no answer came, CTL_EXIT_CHECK otherwise (reason printed).
 */
static int get_state(struct ctl *ctl, json_t **out)
{
	struct client_response r;
	json_t *j;

	*out = NULL;
	if (ctl_exchange(ctl, "GET", "/v2/admin/state", NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	if (r.status < 200 || r.status >= 300)
		return ctl_report_error(ctl, "GET", "/v2/admin/state", &r);
	j = ctl_answer_json(&r);
	if (!json_is_object(j)) {
		ctl_errorf("GET /v2/admin/state: the answer is not a JSON object");
		json_decref(j);
		return CTL_EXIT_CHECK;
	}
	*out = j;
	return CTL_EXIT_OK;
}

/* The state, or NULL (the reason printed): for answers that do not list the served set. */
static json_t *fetch_state(struct ctl *ctl)
{
	json_t *j;

	get_state(ctl, &j);
	return j;
}

/*
 * The versions the daemon refused (validation failed; an older version, or none, serves
 * instead), each with its reason, on stderr. Returns how many: the reload's exit status
 * says so (CTL_EXIT_REFUSED), since a deploy that was refused did not do what it meant to.
 */
static size_t print_refused(json_t *answer)
{
	json_t *e;
	size_t i, n = 0;

	json_array_foreach(json_object_get(answer, "refused"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *reason = json_string_value(json_object_get(e, "reason"));
		char vb[32];
		const char *v = version_text(e, vb, sizeof(vb));

		/* Older versions are not served by design: only refusals are news. */
		if (reason && strncmp(reason, "superseded", 10) == 0)
			continue;
		ctl_errorf("refused: %s v%s (not served): %s", name ? name : "?", v ? v : "?",
		           reason ? reason : "(no reason given)");
		n++;
	}
	return n;
}

int ctl_cmd_reload(struct ctl *ctl, int argc, char **argv)
{
	const char *path = "/v2/admin/reload";
	struct client_response r;
	json_t *answer, *state = NULL, *served;
	int rc = ctl_no_args(ctl, argc, argv);

	if (rc >= 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	if (ctl_exchange(ctl, "POST", path, NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	if (r.status < 200 || r.status >= 300)
		return ctl_report_error(ctl, "POST", path, &r);
	answer = ctl_answer_json(&r);
	served = ctl_served_array(answer);
	if (!served) {
		/* The answer need not list the set: the state always does. */
		state = fetch_state(ctl);
		served = ctl_served_array(state);
	}
	if (served) {
		ctl_print_served(served, "", stdout);
		if (print_refused(answer) > 0)
			rc = CTL_EXIT_REFUSED;
		if (json_is_true(json_object_get(answer, "rolled_back")))
			ctl_errorf("a rollback is in force: the last known good set serves until "
			           "'inferctl rollback --clear'");
	} else {
		ctl_errorf("reloaded, but the served set could not be read back");
		rc = CTL_EXIT_CHECK;
	}
	json_decref(state);
	json_decref(answer);
	return rc;
}

void ctl_rollback_free(struct ctl_rollback *o)
{
	json_decref(o->answer);
	json_decref(o->state);
	memset(o, 0, sizeof(*o));
}

/* POST /v2/admin/rollback. Returns 0 with *o filled (ok or not), -errno without answer. */
int ctl_rollback_call(struct ctl *ctl, struct ctl_rollback *o)
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
		json_t *j = ctl_answer_json(&r);
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
	o->answer = ctl_answer_json(&r);
	o->served = ctl_served_array(o->answer);
	if (!o->served) {
		o->state = fetch_state(ctl);
		o->served = ctl_served_array(o->state);
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
	json_t *e = ctl_find_named(json_object_get(answer, "changed"), name);

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
void ctl_print_changes(const struct ctl_rollback *o, const char *prefix, FILE *f)
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

		if (name && !ctl_find_named(o->served, name))
			fprintf(f, "%s%s: v%s -> not served\n", prefix, name, from ? from : "?");
	}
}

static const struct option rollback_longopts[] = {
    {"clear", no_argument, NULL, 0x100},
    {NULL, 0, NULL, 0},
};

/*
 * rollback: serve the last known good set and print what changed; --clear lifts the
 * rollback (the daemon reloads the configured set: refusals exit CTL_EXIT_REFUSED).
 */
int ctl_cmd_rollback(struct ctl *ctl, int argc, char **argv)
{
	struct ctl_rollback o;
	struct ctl_opts opts;
	const char *arg;
	bool clear = false;
	int c, rc;

	ctl_opts_init(&opts, argc, argv, "", rollback_longopts);
	while ((c = ctl_opts_next(ctl, &opts, &arg)) != -1) {
		if (c == CTL_OPTS_ERROR || c == CTL_OPTS_EXIT_OK)
			return CTL_OPTS_STATUS(c);
		if (c != 0x100)
			return ctl_usage_error("unexpected argument",
			                       c == 1 ? arg : argv[optind - 1]);
		clear = true;
	}
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	if (clear) {
		const char *path = "/v2/admin/rollback";
		struct client_response r;
		json_t *answer, *served;
		if (ctl_exchange(ctl, "DELETE", path, NULL, 0, &r) < 0)
			return CTL_EXIT_USAGE;
		if (r.status < 200 || r.status >= 300)
			return ctl_report_error(ctl, "DELETE", path, &r);
		answer = ctl_answer_json(&r);
		served = ctl_served_array(answer);
		printf("rollback cleared: serving the configured set\n");
		if (served)
			ctl_print_served(served, "  ", stdout);
		rc = print_refused(answer) > 0 ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
		json_decref(answer);
		return rc;
	}
	if (ctl_rollback_call(ctl, &o) < 0) {
		ctl_errorf("%s", o.why);
		return CTL_EXIT_USAGE;
	}
	if (!o.ok) {
		ctl_errorf("POST /v2/admin/rollback: %s", o.why);
		if (o.status == 409)
			ctl_errorf("nothing to roll back to: no set was marked good "
			           "(inferctl smoke --mark-good)");
		if (o.status == 403)
			ctl_admin_hint(ctl);
		ctl_rollback_free(&o);
		return CTL_EXIT_CHECK;
	}
	if (!o.served) {
		ctl_errorf("rolled back, but the served set could not be read back");
		ctl_rollback_free(&o);
		return CTL_EXIT_CHECK;
	}
	ctl_print_changes(&o, "", stdout);
	printf("serving now:\n");
	ctl_print_served(o.served, "  ", stdout);
	printf("rollback in force (kept across restarts) until 'inferctl rollback --clear'\n");
	ctl_rollback_free(&o);
	return CTL_EXIT_OK;
}

int ctl_cmd_state(struct ctl *ctl, int argc, char **argv)
{
	json_t *state;
	char *text;
	int rc = ctl_no_args(ctl, argc, argv);

	if (rc >= 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	rc = get_state(ctl, &state);
	if (rc != CTL_EXIT_OK)
		return rc;
	text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(state);
	if (!text) {
		ctl_errorf("out of memory");
		return CTL_EXIT_USAGE;
	}
	printf("%s\n", text);
	free(text);
	return CTL_EXIT_OK;
}
