/* main.c: inferd's command line, wired to the server. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "kserve.h"
#include "log.h"
#include "repo.h"
#include "server.h"
#include "state.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: inferd [OPTION]...\n"
	           "Serves XGBoost models over HTTP/1.1 (Open Inference Protocol) on a Unix "
	           "socket.\n\n"
	           "  -c, --config FILE   read the configuration from FILE (default: built-in)\n"
	           "  -s, --socket PATH   listen on PATH instead of the configured socket\n"
	           "  -f, --foreground    accepted for clarity: inferd never forks (it is a\n"
	           "                      systemd Type=notify service and a container CMD)\n"
	           "  -t, --check-config  check the configuration and its models, then exit\n"
	           "  --print-config KEY  print KEY's effective value (socket.path ...), exit\n"
	           "  --print-json KEY    print KEY's value in the JSON on stdin, exit\n"
	           "      --model-name NAME  serve one model as NAME, without a configuration\n"
	           "                      file (KServe's contract; also INFERD_MODEL_NAME)\n"
	           "      --model-dir DIR    the directory holding its model.json or model.ubj\n"
	           "                      (and golden.json, optional; also INFERD_MODEL_DIR)\n"
	           "      --http-port PORT   the TCP port to serve on, default 8080 (also\n"
	           "                      INFERD_HTTP_PORT)\n"
	           "  -V, --version       print the version and exit\n"
	           "  -h, --help          print this help and exit\n\n"
	           "Exit status: 0 clean stop, 1 configuration or startup error, 2 usage error.\n");
}

/* Reads the config (or the default); prints every error as "inferd: MSG at line N in file F". */
static int load_conf(const char *path, struct conf **c)
{
	struct conf_errors errs = {0};
	int rc;

	if (path == NULL)
		return conf_default(c);
	rc = conf_load(path, c, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		char buf[1024];
		fprintf(stderr, "inferd: %s\n", conf_error_str(&errs.v[i], buf, sizeof buf));
	}
	if (rc < 0 && errs.n == 0)
		fprintf(stderr, "inferd: cannot read %s: %s\n", path, strerror(-rc));
	conf_errors_clear(&errs);
	return rc;
}

/*
 * --print-config KEY (path: the config, NULL: the built-in one) and --print-json KEY (json:
 * a document read from stdin): the value as conf_key_text() gives it. A refused config
 * still prints its value, with every error on stderr and exit status 1 (the package
 * applies the admin's smoke.on_failure to it). 2: no such key.
 */
static int print_key(const char *path, bool json, const char *key)
{
	struct conf_errors errs = {0};
	struct conf *c = NULL;
	json_error_t jerr;
	json_t *root;
	char *val = NULL;
	int rc = 0, krc;

	if (json) {
		root = json_loadf(stdin, JSON_DECODE_ANY, &jerr);
		if (!root) {
			fprintf(stderr, "inferd: stdin: %s at line %d\n", jerr.text, jerr.line);
			return 1;
		}
	} else {
		rc = path ? conf_load_partial(path, &c, &errs) : conf_default(&c);
		for (size_t i = 0; i < errs.n; i++) {
			char buf[1024];
			fprintf(stderr, "inferd: %s\n",
			        conf_error_str(&errs.v[i], buf, sizeof buf));
		}
		if (rc < 0 && errs.n == 0)
			fprintf(stderr, "inferd: cannot read %s: %s\n", path, strerror(-rc));
		conf_errors_clear(&errs);
		root = c ? conf_effective_json(c) : NULL;
		conf_free(c);
		if (!root)
			return 1;
	}
	krc = conf_key_text(root, key, &val);
	json_decref(root);
	if (krc == -ENOENT)
		fprintf(stderr, "inferd: no such key: %s\n", key);
	else if (krc < 0)
		fprintf(stderr, "inferd: %s\n", strerror(-krc));
	else
		printf("%s\n", val);
	free(val);
	return krc == -ENOENT ? 2 : krc < 0 || rc < 0 ? 1 : 0;
}

/* "version V: reason" of each refusal of name in the last build, "; "-joined, into buf. */
static void refusals_of(const char *name, char *buf, size_t len)
{
	struct repo_index idx = {0};
	size_t off = 0;

	buf[0] = '\0';
	(void)repo_index_get(&idx);
	for (size_t i = 0; i < idx.n; i++) {
		const struct repo_index_row *v = &idx.v[i];
		int w;

		if (!v->refused || strcmp(v->name, name) != 0 || off >= len)
			continue;
		w = snprintf(buf + off, len - off, "%sversion %s: %s", off ? "; " : "", v->version,
		             v->reason);
		off = w < 0 ? len : off + (size_t)w;
	}
	repo_index_free(&idx);
}

/*
 * The last-known-good record the daemon would fall back to at startup, read-only: true
 * with *l filled when it is there and every snapshot verifies; else why in err.
 */
static bool check_fallback(const struct conf *c, struct state_lkg *l, char *err, size_t errlen)
{
	int rc = state_lkg_read(c->state_dir, l, err, errlen);

	if (rc == 0 && state_lkg_verify(l, err, errlen) == 0)
		return true;
	state_lkg_free(l);
	memset(l, 0, sizeof(*l));
	return false;
}

/*
 * Loads every model on its own so that a failure names the model, as the daemon's startup
 * would: a model whose configured files are refused but whose last-known-good snapshot
 * validates is a warning (the daemon serves the snapshot), not a failure.
 */
static int check_models(const struct conf *c, int *fallbacks)
{
	struct state_lkg lkg = {0};
	struct repo_pin *pins = NULL;
	char lkg_err[1024] = "";
	bool have_lkg;
	int bad = 0;

	*fallbacks = 0;
	if (repo_init() < 0)
		return -ENOMEM;
	have_lkg = check_fallback(c, &lkg, lkg_err, sizeof lkg_err);
	if (have_lkg && lkg.n > 0) {
		pins = calloc(lkg.n, sizeof(*pins));
		if (pins == NULL) {
			state_lkg_free(&lkg);
			repo_fini();
			return -ENOMEM;
		}
		state_lkg_pins(&lkg, pins);
	}
	for (size_t i = 0; i < c->n_models; i++) {
		const struct conf_model *cm = &c->models[i];
		struct repo_build_opts o = {.fallback = pins, .n_fallback = pins ? lkg.n : 0};
		struct conf one = *c;
		struct repo_set *s = NULL;
		char why[4096];
		int rc;

		one.models = &c->models[i];
		one.n_models = 1;
		rc = repo_build(&one, &o, &s);
		refusals_of(cm->name, why, sizeof why);
		if (rc < 0) {
			fprintf(stderr, "inferd: model %s version %s (%s) failed to load: %s\n",
			        cm->name, cm->version, cm->path ? cm->path : "from the repository",
			        why[0] ? why : strerror(-rc));
			if (!have_lkg)
				fprintf(stderr, "inferd: no last known good fallback for it: %s\n",
				        lkg_err);
			bad = rc;
			continue;
		}
		for (size_t k = 0; k < s->n; k++) {
			if (!s->v[k].fallback)
				continue;
			fprintf(stderr,
			        "inferd: warning: %s: configured version refused (%s); the daemon "
			        "will serve last known good v%s\n",
			        cm->name, why[0] ? why : "unavailable", s->v[k].version);
			(*fallbacks)++;
		}
		repo_set_free(s);
	}
	free(pins);
	state_lkg_free(&lkg);
	repo_fini();
	return bad;
}

/*
 * Parses the options, makes the config path absolute, loads the config (every error to
 * stderr), and either checks it (--check-config) or runs the server until it stops.
 */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 't'},
	    {"print-config", required_argument, NULL, 'P'},
	    {"print-json", required_argument, NULL, 'J'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"model-name", required_argument, NULL, 'N'},
	    {"model-dir", required_argument, NULL, 'D'},
	    {"http-port", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	struct kserve_opts ko = {NULL, NULL, NULL};
	char *kserve_conf = NULL;
	struct server_opts so = {NULL, NULL};
	struct conf *c = NULL;
	char *config_abs = NULL;
	const char *print = NULL;
	bool check = false, print_json = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:s:ftVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			so.config_path = optarg;
			break;
		case 's':
			so.socket_path = optarg;
			break;
		case 'f':
			break;
		case 'N':
			ko.model_name = optarg;
			break;
		case 'D':
			ko.model_dir = optarg;
			break;
		case 'H':
			ko.http_port = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'P':
		case 'J':
			print = optarg;
			print_json = opt == 'J';
			break;
		case 'V':
			printf("inferd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "inferd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (print)
		return print_key(so.config_path, print_json, print);

	kserve_from_env(&ko);
	if (kserve_wanted(&ko)) {
		/* KServe's contract: a generated one-model config, no file from the user. */
		char err[4096];
		if (so.config_path != NULL) {
			fprintf(stderr, "inferd: --config and --model-name/--model-dir/--http-port "
			                "(or INFERD_MODEL_*) exclude each other\n");
			return 2;
		}
		if (kserve_write_config(&ko, &kserve_conf, err, sizeof err) < 0) {
			fprintf(stderr, "inferd: %s\n", err);
			return 1;
		}
		so.config_path = kserve_conf;
	}
	/*
	 * The config path is reread on reload and recorded with the last known good set, so
	 * keep it absolute: the record must still name the file when read from elsewhere.
	 * A path that does not resolve stays as given, for conf_load() to report.
	 */
	if (so.config_path && (config_abs = realpath(so.config_path, NULL)) != NULL)
		so.config_path = config_abs;

	log_init("inferd", LOG_LVL_INFO);
	if (load_conf(so.config_path, &c) < 0) {
		free(config_abs);
		free(kserve_conf);
		log_fini();
		return 1;
	}
	if (check) {
		int fallbacks = 0;

		rc = check_models(c, &fallbacks);
		if (rc == 0 && fallbacks > 0)
			printf("%s: OK, with %d model%s served from last known good (see the "
			       "warnings)\n",
			       so.config_path ? so.config_path : "built-in default", fallbacks,
			       fallbacks == 1 ? "" : "s");
		else if (rc == 0)
			printf("%s: OK\n", so.config_path ? so.config_path : "built-in default");
		conf_free(c);
		free(config_abs);
		free(kserve_conf);
		log_fini();
		return rc == 0 ? 0 : 1;
	}
	rc = server_init(&so, c);
	if (rc == 0)
		rc = server_run();
	server_fini();
	free(config_abs);
	free(kserve_conf);
	log_fini();
	return rc == 0 ? 0 : 1;
}
