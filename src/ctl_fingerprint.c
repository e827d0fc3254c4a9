/* ctl_fingerprint.c: inferctl fingerprint: the installation's manifest, and --diff of two. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctl.h"
#include "fingerprint.h"

/* fingerprint --diff A B [--ignore PATH]...: needs neither the daemon nor a config. */
static int diff_manifests(const char *const files[2], const char **ignore, size_t n_ignore)
{
	json_t *m[2] = {NULL, NULL};
	struct fingerprint_lines lines = {0};
	char err[1024];
	int ret = CTL_EXIT_USAGE;

	for (int i = 0; i < 2; i++)
		if (fingerprint_load(files[i], &m[i], err, sizeof(err)) < 0) {
			ctl_errorf("%s", err);
			goto out;
		}
	if (fingerprint_diff(m[0], m[1], ignore, n_ignore, &lines) < 0) {
		ctl_errorf("out of memory");
		goto out;
	}
	for (size_t k = 0; k < lines.n; k++)
		printf("%s\n", lines.v[k]);
	ret = lines.n ? CTL_EXIT_CHECK : CTL_EXIT_OK;
out:
	fingerprint_lines_free(&lines);
	json_decref(m[0]);
	json_decref(m[1]);
	return ret;
}

/*
 * GET /v2/admin/fingerprint: *out gets the parsed object, or NULL with the reason in why
 * (a 403 also prints the admin hint). Returns CTL_EXIT_OK, CTL_EXIT_USAGE when nothing
 * answered, CTL_EXIT_CHECK for any other failure.
 */
static int fetch_fingerprint(struct ctl *ctl, json_t **out, char *why, size_t len)
{
	const char *path = "/v2/admin/fingerprint";
	struct client_response r;
	char err[768];
	json_t *j;

	*out = NULL;
	if (client_request(ctl->cl, "GET", path, NULL, 0, &r, err, sizeof(err)) < 0) {
		snprintf(why, len, "GET %s: %s", path, err);
		return CTL_EXIT_USAGE;
	}
	j = ctl_answer_json(&r);
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
			ctl_admin_hint(ctl);
		return CTL_EXIT_CHECK;
	}
	if (!json_is_object(j)) {
		snprintf(why, len, "GET %s: the answer is not a JSON object", path);
		json_decref(j);
		return CTL_EXIT_CHECK;
	}
	*out = j;
	return CTL_EXIT_OK;
}

enum { OPT_JSON = 0x100, OPT_DIFF, OPT_IGNORE };

static const struct option cmd_fingerprint_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"diff", no_argument, NULL, OPT_DIFF},
    {"ignore", required_argument, NULL, OPT_IGNORE},
    {NULL, 0, NULL, 0},
};

/*
 * fingerprint [--json] prints the manifest (the daemon's part, or the error instead of it);
 * fingerprint --diff A B [--ignore PATH]... compares two.
 */
int ctl_cmd_fingerprint(struct ctl *ctl, int argc, char **argv)
{
	struct fingerprint_sources src = {.libcurl_version = client_libcurl_version()};
	const char *files[2] = {NULL, NULL}, **ignore, *arg;
	size_t n_ignore = 0, n_files = 0;
	bool diff = false;
	struct ctl_opts o;
	json_t *daemon, *manifest;
	char why[1024], *text;
	int c, rc, ret = CTL_EXIT_USAGE;

	ignore = calloc((size_t)argc, sizeof(*ignore));
	if (!ignore) {
		ctl_errorf("out of memory");
		return CTL_EXIT_USAGE;
	}
	ctl_opts_init(&o, argc, argv, "", cmd_fingerprint_longopts);
	while ((c = ctl_opts_next(ctl, &o, &arg)) != -1) {
		if (c == CTL_OPTS_ERROR || c == CTL_OPTS_EXIT_OK) {
			ret = CTL_OPTS_STATUS(c);
			goto out;
		} else if (c == OPT_JSON) {
			continue;
		} else if (c == OPT_DIFF) {
			diff = true;
		} else if (c == OPT_IGNORE) {
			if (!*arg) {
				ret = ctl_usage_error("--ignore needs a PATH", NULL);
				goto out;
			}
			ignore[n_ignore++] = arg;
		} else if (c == 1 && n_files < 2) {
			files[n_files++] = arg;
		} else {
			ret =
			    ctl_usage_error("unexpected argument", c == 1 ? arg : argv[optind - 1]);
			goto out;
		}
	}
	if (diff) {
		if (n_files != 2)
			ret = ctl_usage_error("--diff needs two manifests", NULL);
		else
			ret = diff_manifests(files, ignore, n_ignore);
		goto out;
	}
	if (n_ignore || n_files) {
		ret =
		    ctl_usage_error(n_ignore ? "--ignore goes with --diff" : "unexpected argument",
		                    n_ignore ? ignore[0] : files[0]);
		goto out;
	}
	if ((ret = ctl_connect(ctl)) != CTL_EXIT_OK)
		goto out;
	rc = fetch_fingerprint(ctl, &daemon, why, sizeof(why));
	if (!daemon)
		ctl_errorf("%s", why);
	ret = fingerprint_manifest(daemon, daemon ? NULL : why, &src, &manifest);
	json_decref(daemon);
	if (ret < 0) {
		ctl_errorf("cannot assemble the manifest: %s", strerror(-ret));
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	/* Sorted keys and a fixed layout: two manifests compare with diff(1) as well. */
	text = json_dumps(manifest, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(manifest);
	if (!text) {
		ctl_errorf("out of memory");
		ret = CTL_EXIT_USAGE;
		goto out;
	}
	printf("%s\n", text);
	free(text);
	/* The local parts are printed either way; the status says whether the daemon's is. */
	ret = rc;
out:
	free(ignore);
	return ret;
}
