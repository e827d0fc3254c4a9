/* main.c: inferd's command line, wired to the server. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "repo.h"
#include "server.h"

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

/* Loads every model on its own so that a failure names the model. */
static int check_models(const struct conf *c)
{
	int bad = 0;

	if (repo_init() < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_models; i++) {
		struct conf one = *c;
		struct repo_set *s = NULL;
		int rc;

		one.models = &c->models[i];
		one.n_models = 1;
		rc = repo_build(&one, NULL, &s);
		if (rc < 0) {
			fprintf(stderr, "inferd: model %s version %s (%s) failed to load: %s\n",
			        c->models[i].name, c->models[i].version,
			        c->models[i].path ? c->models[i].path : "from the repository",
			        strerror(-rc));
			bad = rc;
		} else {
			repo_set_free(s);
		}
	}
	repo_fini();
	return bad;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 's'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct server_opts so = {NULL, NULL};
	struct conf *c = NULL;
	char *config_abs = NULL;
	bool check = false;
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
		case 't':
			check = true;
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
		log_fini();
		return 1;
	}
	if (check) {
		rc = check_models(c);
		if (rc == 0)
			printf("%s: OK\n", so.config_path ? so.config_path : "built-in default");
		conf_free(c);
		free(config_abs);
		log_fini();
		return rc == 0 ? 0 : 1;
	}
	rc = server_init(&so, c);
	if (rc == 0)
		rc = server_run();
	server_fini();
	free(config_abs);
	log_fini();
	return rc == 0 ? 0 : 1;
}
