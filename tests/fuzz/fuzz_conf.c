/* fuzz_conf.c: fuzz harness for conf_load(), through a private temporary file. */
#include "conf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fuzz_conf_one(const uint8_t *data, size_t size);

/* A broken property is a bug like a crash: abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz_conf: check failed: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * conf_load() reads a path, so each input goes to one file, made once per process. It sits
 * alone in its own directory because @include resolves next to the config: an input can
 * then only include itself (libconfig bounds that) or name a path outright.
 */
static char conf_dir[4096];
static char conf_path[4096 + 16];

static void remove_conf_file(void)
{
	unlink(conf_path);
	rmdir(conf_dir);
}

static int conf_file(void)
{
	const char *tmp = getenv("TMPDIR");

	if (conf_path[0])
		return 0;
	if (!tmp || !tmp[0] || strlen(tmp) > 4000)
		tmp = "/tmp";
	snprintf(conf_dir, sizeof(conf_dir), "%s/fuzz_conf.XXXXXX", tmp);
	if (!mkdtemp(conf_dir))
		return -errno;
	snprintf(conf_path, sizeof(conf_path), "%s/inferd.conf", conf_dir);
	atexit(remove_conf_file);
	return 0;
}

static int write_input(const uint8_t *data, size_t size)
{
	FILE *f = fopen(conf_path, "wb");

	if (!f)
		return -errno;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

static void check_conf(const struct conf *c)
{
	FUZZ_CHECK(c->file && strcmp(c->file, conf_path) == 0);
	FUZZ_CHECK(strlen(c->sha256) == 64);
	FUZZ_CHECK(c->socket_path && c->state_dir);
	FUZZ_CHECK(c->socket_mode <= 0777);
	FUZZ_CHECK(c->n_models >= 1 && c->models);
	FUZZ_CHECK(c->n_repository == 0 || c->repository);
	for (size_t i = 0; i < c->n_repository; i++)
		FUZZ_CHECK(c->repository[i]);
	for (size_t i = 0; i < c->n_models; i++) {
		const struct conf_model *m = &c->models[i], *found;
		FUZZ_CHECK(m->name && m->version);
		FUZZ_CHECK(strlen(m->name) >= 1 && strlen(m->name) <= 64);
		FUZZ_CHECK(m->tolerance == CONF_TOLERANCE_UNSET ||
		           (m->tolerance >= 0 && m->tolerance <= 1));
		found = conf_find_model(c, m->name);
		FUZZ_CHECK(found && strcmp(found->name, m->name) == 0);
	}
	FUZZ_CHECK(c->smoke.on_failure);
}

int fuzz_conf_one(const uint8_t *data, size_t size)
{
	struct conf_errors errs = {NULL, 0};
	struct conf *c = NULL;
	char line[512];
	int r;

	if (conf_file() < 0 || write_input(data, size) < 0) {
		fprintf(stderr, "fuzz_conf: cannot write the temporary config file\n");
		abort();
	}
	r = conf_load(conf_path, &c, &errs);
	if (r == 0) {
		FUZZ_CHECK(c);
		FUZZ_CHECK(errs.n == 0);
		check_conf(c);
	} else {
		FUZZ_CHECK(r < 0 && !c);
		/* Every refusal is explained, and every explanation can be printed. */
		FUZZ_CHECK(r == -ENOMEM || errs.n >= 1);
		for (size_t i = 0; i < errs.n; i++) {
			FUZZ_CHECK(errs.v[i].msg);
			FUZZ_CHECK(conf_error_str(&errs.v[i], line, sizeof(line)) == line);
			FUZZ_CHECK(strlen(line) < sizeof(line));
		}
	}
	conf_free(c);
	conf_errors_clear(&errs);
	FUZZ_CHECK(errs.n == 0 && !errs.v);
	return 0;
}

#if defined(FUZZ_HARNESS_CONF) && !defined(FUZZ_NO_MAIN)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_conf_one(data, size);
}
#endif
