/* ctl_served.c: what the daemon serves, for inferctl without --config: models and golden sets. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "conf.h"
#include "ctl.h"

void ctl_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The value of label key in a Prometheus label set "{k="v",...}" ending at end; malloc'd. */
static char *label_value(const char *p, const char *end, const char *key)
{
	size_t klen = strlen(key);

	while (p < end) {
		const char *eq;
		char *v, *w;
		bool match;

		while (p < end && (*p == '{' || *p == ',' || *p == ' '))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq || eq + 1 >= end || eq[1] != '"')
			return NULL;
		match = (size_t)(eq - p) == klen && strncmp(p, key, klen) == 0;
		/* The value, unescaping \" \\ \n as the exposition format writes them. */
		v = w = malloc((size_t)(end - eq));
		if (!v)
			return NULL;
		for (p = eq + 2; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end) {
				p++;
				*w++ = *p == 'n' ? '\n' : *p;
			} else {
				*w++ = *p;
			}
		}
		*w = '\0';
		if (match)
			return v;
		free(v);
		p++;
	}
	return NULL;
}

int ctl_parse_model_info(const char *text, size_t len, char ***names, char ***versions, size_t *n)
{
	static const char series[] = "inferd_model_info{";
	const char *p = text, *end = text + len;
	char **nv = NULL, **vv = NULL;
	size_t count = 0;

	*names = *versions = NULL;
	*n = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *close;
		char *name, *version, **a, **b;

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) <= sizeof(series) - 1 ||
		    strncmp(p, series, sizeof(series) - 1) != 0) {
			p = eol + 1;
			continue;
		}
		close = memchr(p, '}', (size_t)(eol - p));
		if (!close) {
			p = eol + 1;
			continue;
		}
		name = label_value(p + sizeof(series) - 2, close, "model");
		version = label_value(p + sizeof(series) - 2, close, "version");
		a = realloc(nv, (count + 1) * sizeof(*a));
		if (a)
			nv = a;
		b = realloc(vv, (count + 1) * sizeof(*b));
		if (b)
			vv = b;
		if (!name || !version || !a || !b) {
			free(name);
			free(version);
			ctl_strv_free(nv, count);
			ctl_strv_free(vv, count);
			return -ENOMEM;
		}
		nv[count] = name;
		vv[count] = version;
		count++;
		p = eol + 1;
	}
	*names = nv;
	*versions = vv;
	*n = count;
	return 0;
}

void ctl_daemon_conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_models; i++) {
		free(c->models[i].name);
		free(c->models[i].version);
		free(c->models[i].golden);
	}
	free(c->models);
	free(c);
}

/* Appends a model pinned at version, with its golden set (NULL: none known). 0 or -ENOMEM. */
static int add_model(struct conf *c, const char *name, const char *version, const char *golden)
{
	struct conf_model *m = realloc(c->models, (c->n_models + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	c->models = m;
	m = &c->models[c->n_models];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->version = strdup(version);
	m->golden = golden ? strdup(golden) : NULL;
	c->n_models++;
	if (!m->name || !m->version || (golden && !m->golden))
		return -ENOMEM;
	return 0;
}

/*
 * For a daemon that does not name its golden sets: the golden set the daemon found for
 * name at version under config (its configured one, else golden.json beside the version
 * in the first repository root holding the model), as inferd looks it up. malloc'd, or
 * NULL when there is none.
 */
static char *config_golden(const struct conf *config, const char *name, const char *version)
{
	struct stat st;

	for (size_t i = 0; i < config->n_models; i++) {
		const struct conf_model *cm = &config->models[i];

		if (strcmp(cm->name, name) != 0)
			continue;
		if (cm->golden || cm->path)
			return cm->golden ? strdup(cm->golden) : NULL;
		for (size_t k = 0; k < config->n_repository; k++) {
			char *dir = NULL, *file = NULL;
			bool found;

			if (asprintf(&dir, "%s/%s", config->repository[k], name) < 0)
				return NULL;
			found = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
			if (found && asprintf(&file, "%s/%s/golden.json", dir, version) < 0)
				file = NULL;
			free(dir);
			if (!found)
				continue;
			if (file && stat(file, &st) == 0 && S_ISREG(st.st_mode))
				return file;
			free(file);
			return NULL;
		}
	}
	return NULL;
}

/*
 * The daemon's own configuration file, when the state names it, it is readable, and its
 * sha256 is the one the daemon reports (so it is what the daemon serves from). Or NULL.
 */
static struct conf *daemon_config_file(json_t *state)
{
	const char *file = json_string_value(json_object_get(state, "config_file"));
	const char *sha = json_string_value(json_object_get(state, "config_sha256"));
	struct conf_errors errs = {0};
	struct conf *c = NULL;

	if (!file || !sha)
		return NULL;
	if (conf_load(file, &c, &errs) < 0)
		c = NULL;
	conf_errors_clear(&errs);
	if (c && strcmp(c->sha256, sha) != 0) {
		conf_free(c);
		c = NULL;
	}
	return c;
}

/* The served set from GET /v2/admin/state; 403 leaves *served NULL and returns OK. */
static int served_from_state(struct ctl *ctl, struct conf *c, bool *forbidden)
{
	const char *path = "/v2/admin/state";
	struct client_response r;
	json_t *state, *served, *e;
	struct conf *config = NULL;
	bool config_tried = false;
	size_t i;
	int rc = CTL_EXIT_OK;

	*forbidden = false;
	if (ctl_exchange(ctl, "GET", path, NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	if (r.status == 403) {
		*forbidden = true;
		return CTL_EXIT_OK;
	}
	if (r.status < 200 || r.status >= 300)
		return ctl_report_error(ctl, "GET", path, &r);
	state = ctl_answer_json(&r);
	served = json_object_get(state, "serving");
	if (!json_is_array(served)) {
		ctl_errorf("GET %s: the answer lists no served set", path);
		json_decref(state);
		return CTL_EXIT_CHECK;
	}
	json_array_foreach(served, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *version = json_string_value(json_object_get(e, "version"));
		/* "golden": where the daemon found the set it validated this version against. */
		json_t *named = json_object_get(e, "golden");
		char *golden = NULL;

		if (!name || !version || !ctl_valid_name(name) || !ctl_valid_version(version))
			continue;
		if (json_is_string(named)) {
			golden = strdup(json_string_value(named));
		} else if (!named) {
			/* A daemon that does not say: look where it looks, in its own config. */
			if (!config && !config_tried)
				config = daemon_config_file(state);
			config_tried = true;
			golden = config ? config_golden(config, name, version) : NULL;
		}
		if (add_model(c, name, version, golden) < 0) {
			ctl_errorf("out of memory");
			rc = CTL_EXIT_USAGE;
			free(golden);
			break;
		}
		free(golden);
	}
	conf_free(config);
	json_decref(state);
	return rc;
}

/* The served set from the public inferd_model_info series of GET /metrics. */
static int served_from_metrics(struct ctl *ctl, struct conf *c)
{
	struct client_response r;
	char **names, **versions;
	size_t n;
	int rc;

	if (ctl_exchange(ctl, "GET", "/metrics", NULL, 0, &r) < 0)
		return CTL_EXIT_USAGE;
	if ((rc = ctl_answer_status("GET", "/metrics", &r)) != CTL_EXIT_OK)
		return rc;
	if (ctl_parse_model_info(r.body, r.len, &names, &versions, &n) < 0) {
		ctl_errorf("out of memory");
		return CTL_EXIT_USAGE;
	}
	for (size_t i = 0; i < n && rc == CTL_EXIT_OK; i++) {
		if (!ctl_valid_name(names[i]) || !ctl_valid_version(versions[i]))
			continue;
		if (add_model(c, names[i], versions[i], NULL) < 0) {
			ctl_errorf("out of memory");
			rc = CTL_EXIT_USAGE;
		}
	}
	ctl_strv_free(names, n);
	ctl_strv_free(versions, n);
	return rc;
}

int ctl_daemon_conf(struct ctl *ctl, struct conf **out)
{
	struct conf *c = malloc(sizeof(*c));
	bool forbidden;
	int rc;

	*out = NULL;
	if (!c) {
		ctl_errorf("out of memory");
		return CTL_EXIT_USAGE;
	}
	/* Thresholds and limits stay the built-in ones; the models are the daemon's. */
	*c = *ctl->conf;
	c->models = NULL;
	c->n_models = 0;
	c->repository = NULL;
	c->n_repository = 0;
	rc = served_from_state(ctl, c, &forbidden);
	if (rc == CTL_EXIT_OK && forbidden)
		rc = served_from_metrics(ctl, c);
	if (rc != CTL_EXIT_OK) {
		ctl_daemon_conf_free(c);
		return rc;
	}
	*out = c;
	return CTL_EXIT_OK;
}
