/* util.c: small helpers every module shares: safe whole-file reads, sha256 hex, names, time. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/base16.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A pipe's first read buffer (its size is unknown); regular files use their size. */
#define UTIL_STREAM_CHUNK ((size_t)64 << 10)

int util_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *util_file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a regular file";
}

/* The refusal of a non-regular file: -EISDIR for a directory, -EINVAL for the rest. */
static int refuse_kind(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (S_ISLNK(mode))
		return util_fail(err, errlen, -ELOOP,
		                 "%s is a symbolic link, which is not followed here", path);
	return util_fail(err, errlen, S_ISDIR(mode) ? -EISDIR : -EINVAL,
	                 "%s is %s, not a regular file", path, util_file_kind(mode));
}

int util_open_regular(const char *path, unsigned flags, struct stat *st, char *err, size_t errlen)
{
	bool nofollow = (flags & UTIL_NOFOLLOW) != 0;
	int fd, e;

	/* Look before opening: opening a FIFO or a device can block or have effects. */
	if ((nofollow ? lstat(path, st) : stat(path, st)) < 0) {
		e = errno;
		st->st_mode = 0;
		return util_fail(err, errlen, -e, "cannot open %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode))
		return refuse_kind(path, st->st_mode, err, errlen);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		e = errno;
		if (e == ELOOP && nofollow) {
			st->st_mode = S_IFLNK;
			return refuse_kind(path, st->st_mode, err, errlen);
		}
		return util_fail(err, errlen, -e, "cannot open %s: %s", path, strerror(e));
	}
	/* The path may have been swapped between stat() and open(): the fd is what counts. */
	if (fstat(fd, st) < 0) {
		e = errno;
		close(fd);
		st->st_mode = 0;
		return util_fail(err, errlen, -e, "cannot stat %s: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return refuse_kind(path, st->st_mode, err, errlen);
	}
	return fd;
}

/*
 * Reads fd to EOF with one spare byte for the NUL. The buffer starts at the file's size
 * plus two (the data, the byte that shows a file grown past its size, the NUL) and grows
 * by doubling up to max + 2: reading more than max bytes is -EFBIG.
 */
int util_read_fd(int fd, const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen)
{
	struct stat st;
	size_t n = 0, cap = UTIL_STREAM_CHUNK;
	char *p;

	*buf = NULL;
	*len = 0;
	if (!path)
		path = "(input)";
	/* max + 2 must not wrap; no buffer comes near SIZE_MAX / 2 anyway. */
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uintmax_t)st.st_size > max)
			return util_fail(err, errlen, -EFBIG,
			                 "%s is larger than the limit of %zu bytes (%jd bytes)",
			                 path, max, (intmax_t)st.st_size);
		cap = (size_t)st.st_size + 2;
	}
	if (cap > max + 2)
		cap = max + 2;
	p = malloc(cap);
	if (!p)
		return util_fail(err, errlen, -ENOMEM, "out of memory reading %s", path);
	for (;;) {
		ssize_t got;

		if (n + 1 == cap) {
			size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			char *np = realloc(p, ncap);

			if (!np) {
				free(p);
				return util_fail(err, errlen, -ENOMEM, "out of memory reading %s",
				                 path);
			}
			p = np;
			cap = ncap;
		}
		got = read(fd, p + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			free(p);
			return util_fail(err, errlen, -e, "cannot read %s: %s", path, strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			free(p);
			return util_fail(err, errlen, -EFBIG,
			                 "%s is larger than the limit of %zu bytes", path, max);
		}
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}

int util_read_file(const char *path, size_t max, unsigned flags, char **buf, size_t *len, char *err,
                   size_t errlen)
{
	struct stat st;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	fd = util_open_regular(path, flags, &st, err, errlen);
	if (fd < 0)
		return fd;
	rc = util_read_fd(fd, path, max, buf, len, err, errlen);
	close(fd);
	return rc;
}

void util_sha256_hex(const void *p, size_t n, char out[UTIL_SHA256_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, n, p);
	sha256_digest(&ctx, sizeof digest, digest);
	/* nettle's base16 writes lowercase digits, two per byte, without a NUL. */
	base16_encode_update(out, sizeof digest, digest);
	out[UTIL_SHA256_HEX_LEN] = '\0';
}

bool util_valid_name_n(const char *s, size_t n)
{
	if (!s || n == 0 || n > UTIL_NAME_MAX)
		return false;
	/* "." and ".." would name a directory other than the model's own. */
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

bool util_valid_name(const char *s)
{
	return s && util_valid_name_n(s, strnlen(s, UTIL_NAME_MAX + 1));
}

uint64_t util_monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
