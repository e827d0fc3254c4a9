/* ctl_query.c: inferctl's read-only commands: health, ready, models and metadata. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conf.h"
#include "ctl.h"

/* Options of commands that take only --json. */
enum { OPT_JSON = 0x100, OPT_MODEL_VERSION };

static const struct option flag_json_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

/* Parses "[--json]" and no operand; CTL_EXIT_OK or the exit status to return. */
static int only_json(struct ctl *ctl, int argc, char **argv, bool *json, bool *done)
{
	struct ctl_opts o;
	const char *arg;
	int c;

	*done = false;
	ctl_opts_init(&o, argc, argv, "", flag_json_longopts);
	while ((c = ctl_opts_next(ctl, &o, &arg)) != -1) {
		if (c == CTL_OPTS_ERROR || c == CTL_OPTS_EXIT_OK) {
			*done = true;
			return CTL_OPTS_STATUS(c);
		}
		if (c == OPT_JSON && json) {
			*json = true;
			continue;
		}
		*done = true;
		return ctl_usage_error(c == 1 ? "unexpected argument" : "unexpected option",
		                       c == 1 ? arg : argv[optind - 1]);
	}
	return CTL_EXIT_OK;
}

int ctl_cmd_health(struct ctl *ctl, int argc, char **argv)
{
	struct client_response r;
	bool done;
	int rc = only_json(ctl, argc, argv, NULL, &done);

	if (done)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	if (ctl_exchange(ctl, "GET", "/v2/health/live", NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	rc = ctl_answer_status("GET", "/v2/health/live", &r);
	if (rc == CTL_EXIT_OK)
		ctl_print_body(&r);
	return rc;
}

/* ready --json: {"ready": bool, "status": HTTP status or null, "error": text or null}. */
static void print_ready_json(bool ready, long status, const char *error)
{
	json_t *j = json_pack("{s:b, s:o, s:s?}", "ready", ready, "status",
	                      status ? json_integer(status) : json_null(), "error", error);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(j);
}

/* Exit 0 when ready, 1 when the daemon says it is not, 2 when nothing answers. */
int ctl_cmd_ready(struct ctl *ctl, int argc, char **argv)
{
	struct client_response r;
	bool json = false, done;
	char err[768], why[600];
	int rc = only_json(ctl, argc, argv, &json, &done);

	if (done)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	if (client_request(ctl->cl, "GET", "/v2/health/ready", NULL, 0, &r, err, sizeof(err)) < 0) {
		ctl_errorf("%s", err);
		if (json)
			print_ready_json(false, 0, err);
		return CTL_EXIT_USAGE;
	}
	if (r.status != 200) {
		ctl_answer_status("GET", "/v2/health/ready", &r);
		if (json)
			print_ready_json(false, r.status,
			                 client_describe_error(&r, why, sizeof(why)));
		return CTL_EXIT_CHECK;
	}
	if (json)
		print_ready_json(true, r.status, NULL);
	else
		ctl_print_body(&r);
	return CTL_EXIT_OK;
}

/* {"name", "versions", "objective", "features", "sha256"} from a metadata answer, or NULL. */
static json_t *summary_of(const char *name, const struct client_response *r)
{
	json_t *meta = ctl_answer_json(r), *params, *out;
	json_t *versions;
	json_int_t nf = 0;

	if (!json_is_object(meta)) {
		ctl_errorf("%s: metadata is not a JSON object", name);
		json_decref(meta);
		return NULL;
	}
	params = json_object_get(meta, "parameters");
	if (json_is_integer(json_object_get(params, "num_feature")))
		nf = json_integer_value(json_object_get(params, "num_feature"));
	versions = json_object_get(meta, "versions");
	versions = json_is_array(versions) ? json_incref(versions) : json_array();
	out = json_pack("{s:s, s:o, s:s?, s:I, s:s?}", "name", name, "versions", versions,
	                "objective", json_string_value(json_object_get(params, "objective")),
	                "features", nf, "sha256",
	                json_string_value(json_object_get(params, "sha256")));
	json_decref(meta);
	return out;
}

/* "NAME versions=1,2 objective=OBJ features=F" */
static void print_model_line(json_t *m)
{
	json_t *v, *versions = json_object_get(m, "versions");
	const char *objective = json_string_value(json_object_get(m, "objective"));
	size_t i;

	printf("%s versions=", json_string_value(json_object_get(m, "name")));
	json_array_foreach(versions, i, v)
	{
		printf("%s%s", i ? "," : "", json_is_string(v) ? json_string_value(v) : "?");
	}
	if (json_array_size(versions) == 0)
		printf("-");
	printf(" objective=%s features=%lld\n", objective ? objective : "-",
	       (long long)json_integer_value(json_object_get(m, "features")));
}

/*
 * One line (or JSON object) per model: the configured models with --config, else the
 * models the daemon serves (one entry per name).
 */
int ctl_cmd_models(struct ctl *ctl, int argc, char **argv)
{
	struct conf *served = NULL;
	const struct conf *list;
	struct client_response r;
	json_t *all = json_array();
	char path[128];
	bool json = false, done;
	int rc = only_json(ctl, argc, argv, &json, &done), worst = CTL_EXIT_OK;

	if (done || !all) {
		json_decref(all);
		return done ? rc : CTL_EXIT_USAGE;
	}
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		goto out;
	if (ctl_exchange(ctl, "GET", "/v2", NULL, 0, &r) < 0) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if ((rc = ctl_answer_status("GET", "/v2", &r)) != CTL_EXIT_OK)
		goto out;
	if (ctl_model_source(ctl) == CTL_MODELS_DAEMON &&
	    (rc = ctl_daemon_conf(ctl, &served)) != CTL_EXIT_OK)
		goto out;
	list = served ? served : ctl->conf;
	for (size_t i = 0; i < list->n_models; i++) {
		const char *name = list->models[i].name;
		json_t *m;

		if (ctl_find_named(all, name))
			continue; /* one entry per name: its metadata lists the versions */
		snprintf(path, sizeof(path), "/v2/models/%s", name);
		if (ctl_exchange(ctl, "GET", path, NULL, 0, &r) < 0) {
			rc = CTL_EXIT_USAGE;
			goto out;
		}
		rc = ctl_answer_status("GET", path, &r);
		m = rc == CTL_EXIT_OK ? summary_of(name, &r) : NULL;
		if (rc == CTL_EXIT_OK && !m)
			rc = CTL_EXIT_CHECK;
		if (m && json_array_append_new(all, m) < 0)
			rc = CTL_EXIT_USAGE;
		if (m && !json)
			print_model_line(m);
		if (rc > worst)
			worst = rc;
	}
	rc = worst;
	if (json) {
		char *text = json_dumps(all, JSON_COMPACT);

		if (text)
			printf("%s\n", text);
		else
			rc = CTL_EXIT_USAGE;
		free(text);
	}
out:
	ctl_daemon_conf_free(served);
	json_decref(all);
	return rc;
}

static const struct option metadata_longopts[] = {
    {"model-version", required_argument, NULL, OPT_MODEL_VERSION},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

/* The model's metadata: indented JSON, or with --json the daemon's answer as one line. */
int ctl_cmd_metadata(struct ctl *ctl, int argc, char **argv)
{
	const char *name = NULL, *version = NULL, *arg;
	struct client_response r;
	struct ctl_opts o;
	bool json = false;
	char path[160], *text;
	json_t *j;
	int c, rc;

	ctl_opts_init(&o, argc, argv, "", metadata_longopts);
	while ((c = ctl_opts_next(ctl, &o, &arg)) != -1) {
		if (c == CTL_OPTS_ERROR || c == CTL_OPTS_EXIT_OK)
			return CTL_OPTS_STATUS(c);
		if (c == OPT_MODEL_VERSION)
			version = arg;
		else if (c == OPT_JSON)
			json = true;
		else if (c == 1 && !name)
			name = arg;
		else
			return ctl_usage_error("unexpected argument",
			                       c == 1 ? arg : argv[optind - 1]);
	}
	if (!name)
		return ctl_usage_error("metadata needs a MODEL", NULL);
	if ((rc = ctl_model_path(name, version, "", path, sizeof(path))) != CTL_EXIT_OK)
		return rc;
	if ((rc = ctl_connect(ctl)) != CTL_EXIT_OK)
		return rc;
	if (ctl_exchange(ctl, "GET", path, NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	rc = ctl_answer_status("GET", path, &r);
	if (rc != CTL_EXIT_OK)
		return rc;
	j = ctl_answer_json(&r);
	text =
	    j ? json_dumps(j, (json ? JSON_COMPACT : JSON_INDENT(2)) | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		printf("%s\n", text);
	else
		ctl_print_body(&r);
	free(text);
	json_decref(j);
	return CTL_EXIT_OK;
}
