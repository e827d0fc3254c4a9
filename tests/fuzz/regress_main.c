/* regress_main.c: replays every fuzz seed and saved crash through the harnesses (make check). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fuzz_infer_one(const uint8_t *data, size_t size);
int fuzz_model_one(const uint8_t *data, size_t size);
int fuzz_conf_one(const uint8_t *data, size_t size);
int main(void);

struct harness {
	const char *name;
	int (*one)(const uint8_t *data, size_t size);
};

static const struct harness harnesses[] = {
    {"infer", fuzz_infer_one},
    {"model", fuzz_model_one},
    {"conf", fuzz_conf_one},
};

/* Reads a whole file into an allocation of exactly its size, so overreads are caught. */
static int read_file(const char *path, uint8_t **out, size_t *outlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0;
	char chunk[65536];
	size_t got;

	if (!f)
		return -errno;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		uint8_t *nb = realloc(buf, n + got);
		if (!nb) {
			free(buf);
			fclose(f);
			return -ENOMEM;
		}
		buf = nb;
		memcpy(buf + n, chunk, got);
		n += got;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*out = buf;
	*outlen = n;
	return 0;
}

/*
 * Runs every regular, non-hidden file of dir through h. Returns the count, -ENOENT when the
 * directory is missing, or another negative errno.
 */
static long replay_dir(const char *dir, const struct harness *h)
{
	struct dirent **names = NULL;
	long count = 0;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		uint8_t *data = NULL;
		size_t len = 0;
		int r;

		if (names[i]->d_name[0] == '.' ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
		        sizeof(path) ||
		    stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(names[i]);
			continue;
		}
		r = read_file(path, &data, &len);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(-r));
			count = r;
		} else {
			/* Named first, so a crash in the harness shows which input it was. */
			fprintf(stderr, "  %s\n", path);
			h->one(data, len);
			free(data);
			if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	int status = 0;

	if (!top || !top[0])
		top = TOP_SRCDIR;
	for (size_t i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++) {
		const struct harness *h = &harnesses[i];
		char corpus[4096], regress[4096];
		long nc, nr;

		snprintf(corpus, sizeof(corpus), "%s/tests/fuzz/corpus/%s", top, h->name);
		snprintf(regress, sizeof(regress), "%s/tests/fuzz/regressions/%s", top, h->name);
		nc = replay_dir(corpus, h);
		if (nc == -ENOENT) {
			printf("SKIP: %s: no seed corpus directory\n", corpus);
			return 77;
		}
		nr = replay_dir(regress, h);
		if (nr == -ENOENT)
			nr = 0; /* no crash saved for this harness yet */
		if (nc < 0 || nr < 0) {
			fprintf(stderr, "%s: cannot read every input\n", h->name);
			status = 1;
		}
		printf("%s: %ld seed inputs, %ld regression inputs replayed\n", h->name,
		       nc < 0 ? 0 : nc, nr < 0 ? 0 : nr);
	}
	return status;
}
