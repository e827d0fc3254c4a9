/* kserve.c: KServe's container contract: one model from --model-dir served on --http-port. */
#include "kserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

void kserve_from_env(struct kserve_opts *o)
{
	if (o->model_name == NULL)
		o->model_name = getenv("INFERD_MODEL_NAME");
	if (o->model_dir == NULL)
		o->model_dir = getenv("INFERD_MODEL_DIR");
	if (o->http_port == NULL)
		o->http_port = getenv("INFERD_HTTP_PORT");
	/* An empty variable is as good as unset (a template that filled in nothing). */
	if (o->model_name != NULL && o->model_name[0] == '\0')
		o->model_name = NULL;
	if (o->model_dir != NULL && o->model_dir[0] == '\0')
		o->model_dir = NULL;
	if (o->http_port != NULL && o->http_port[0] == '\0')
		o->http_port = NULL;
}

bool kserve_wanted(const struct kserve_opts *o)
{
	return o->model_name != NULL || o->model_dir != NULL || o->http_port != NULL;
}

/* A path written into the generated libconfig text: absolute, no quote, backslash or control. */
static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f)
			return false;
	return true;
}

static bool is_file(const char *dir, const char *name, char *out, size_t outlen)
{
	struct stat st;

	snprintf(out, outlen, "%s/%s", dir, name);
	return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory the config, socket and state go to: made private (0700) when new. */
static int runtime_dir(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *rd = getenv("INFERD_RUNTIME_DIR"), *tmp = getenv("TMPDIR");

	if (rd != NULL && rd[0] != '\0') {
		if (!path_ok(rd) || strlen(rd) + 40 > outlen) {
			snprintf(err, errlen,
			         "INFERD_RUNTIME_DIR must be an absolute path without "
			         "quotes, backslashes or control characters");
			return -EINVAL;
		}
		if (mkdir(rd, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot make %s: %s", rd, strerror(errno));
			return -errno;
		}
		snprintf(out, outlen, "%s", rd);
		return 0;
	}
	if (tmp == NULL || !path_ok(tmp) || strlen(tmp) + 40 > outlen)
		tmp = "/tmp";
	snprintf(out, outlen, "%s/inferd-kserve.XXXXXX", tmp);
	if (mkdtemp(out) == NULL) {
		snprintf(err, errlen, "cannot make a runtime directory under %s: %s", tmp,
		         strerror(errno));
		return -errno;
	}
	return 0;
}

/* Checks the three settings; the model file found in the directory goes to model. */
static int check_opts(const struct kserve_opts *o, char *model, size_t mlen, char *golden,
                      size_t glen, long *port, char *err, size_t errlen)
{
	char *end;

	if (o->model_name == NULL || o->model_dir == NULL) {
		snprintf(err, errlen,
		         "--model-name and --model-dir (or INFERD_MODEL_NAME and "
		         "INFERD_MODEL_DIR) go together");
		return -EINVAL;
	}
	if (!util_valid_name(o->model_name)) {
		snprintf(err, errlen, "model name \"%.64s\" must match [A-Za-z0-9_.-]{1,64}",
		         o->model_name);
		return -EINVAL;
	}
	if (!path_ok(o->model_dir) || strlen(o->model_dir) > 3000) {
		snprintf(err, errlen,
		         "model directory \"%.200s\" must be an absolute path without "
		         "quotes, backslashes or control characters",
		         o->model_dir);
		return -EINVAL;
	}
	errno = 0;
	*port = o->http_port ? strtol(o->http_port, &end, 10) : 8080;
	if (o->http_port && (errno != 0 || end == o->http_port || *end != '\0' || *port < 1 ||
	                     *port > 65535 || o->http_port[0] < '0' || o->http_port[0] > '9')) {
		snprintf(err, errlen, "HTTP port \"%.32s\" must be a number 1..65535",
		         o->http_port);
		return -EINVAL;
	}
	if (!is_file(o->model_dir, "model.json", model, mlen) &&
	    !is_file(o->model_dir, "model.ubj", model, mlen)) {
		snprintf(err, errlen, "%.3000s holds neither model.json nor model.ubj",
		         o->model_dir);
		return -ENOENT;
	}
	if (!is_file(o->model_dir, "golden.json", golden, glen))
		golden[0] = '\0';
	return 0;
}

int kserve_write_config(const struct kserve_opts *o, char **path, char *err, size_t errlen)
{
	char model[4096], golden[4096], dir[4096], file[4200];
	long port;
	FILE *f;
	int rc, fd;

	*path = NULL;
	rc = check_opts(o, model, sizeof model, golden, sizeof golden, &port, err, errlen);
	if (rc < 0)
		return rc;
	rc = runtime_dir(dir, sizeof dir, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(file, sizeof file, "%s/inferd.conf", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot write %s: %s", file, strerror(-rc));
		return rc;
	}
	fprintf(f,
	        "# Written by inferd for --model-name %s --model-dir %s (KServe's contract).\n"
	        "socket = { path = \"%s/inferd.sock\"; mode = \"0600\"; };\n"
	        "listen_tcp = \"0.0.0.0:%ld\";\n"
	        "server = { state_dir = \"%s/state\"; };\n"
	        "models = ( { name = \"%s\"; path = \"%s\"; version = 1;%s%s%s } );\n",
	        o->model_name, o->model_dir, dir, port, dir, o->model_name, model,
	        golden[0] ? " golden = \"" : "", golden, golden[0] ? "\";" : "");
	if (ferror(f) | (fclose(f) != 0)) {
		snprintf(err, errlen, "cannot write %s", file);
		return -EIO;
	}
	*path = strdup(file);
	return *path ? 0 : -ENOMEM;
}
