/* zbody.c: Content-Encoding for HTTP bodies with zlib: bounded streaming inflate, and gzip. */
#include "zbody.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

struct zbody {
	z_stream zs;
	bool ended; /* Z_STREAM_END seen */
};

/* The token of s from *p on, up to a comma or semicolon, trimmed; advances *p. */
static size_t next_token(const char **p, const char **tok)
{
	const char *s = *p, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s;
	while (*e && *e != ',' && *e != ';')
		e++;
	*tok = s;
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return (size_t)(e - s);
}

static bool tok_is(const char *t, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(t, lit, n) == 0;
}

int zbody_parse_encoding(const char *value, enum zbody_kind *kind)
{
	const char *p = value, *t;
	size_t n;

	*kind = ZBODY_IDENTITY;
	if (value == NULL)
		return 0;
	n = next_token(&p, &t);
	/* One coding only: a stack of them (gzip, gzip) multiplies a bomb. */
	if (*p != '\0')
		return -ENOTSUP;
	if (tok_is(t, n, "identity"))
		*kind = ZBODY_IDENTITY;
	else if (tok_is(t, n, "gzip") || tok_is(t, n, "x-gzip"))
		*kind = ZBODY_GZIP;
	else if (tok_is(t, n, "deflate"))
		*kind = ZBODY_DEFLATE;
	else
		return -ENOTSUP;
	return 0;
}

int zbody_new(enum zbody_kind kind, struct zbody **out)
{
	struct zbody *z = calloc(1, sizeof *z);

	*out = NULL;
	if (z == NULL)
		return -ENOMEM;
	/* 15 + 16: gzip framing only; 15: the zlib framing HTTP's "deflate" names. */
	if (inflateInit2(&z->zs, kind == ZBODY_GZIP ? 15 + 16 : 15) != Z_OK) {
		free(z);
		return -ENOMEM;
	}
	*out = z;
	return 0;
}

void zbody_free(struct zbody *z)
{
	if (z == NULL)
		return;
	inflateEnd(&z->zs);
	free(z);
}

/* Grows *buf to hold at least want bytes (want <= limit + 1). 0 or -ENOMEM. */
static int grow(char **buf, size_t *cap, size_t want)
{
	size_t c = *cap ? *cap : 4096;
	char *nb;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	nb = realloc(*buf, c);
	if (nb == NULL)
		return -ENOMEM;
	*buf = nb;
	*cap = c;
	return 0;
}

/*
 * Inflates in[0..n) (n <= 1 GiB: zlib counts in uInt) onto the buffer, growing it up to
 * limit + 1 bytes (the NUL): output space is never more than limit - len + 1 bytes, so
 * zlib cannot write past the limit, and filling that space with input left means the
 * body is over the limit.
 */
static int inflate_some(struct zbody *z, const char *in, size_t n, char **buf, size_t *len,
                        size_t *cap, size_t limit, char *err, size_t errlen)
{
	z->zs.next_in = (Bytef *)(uintptr_t)in;
	z->zs.avail_in = (uInt)n;
	while (z->zs.avail_in > 0) {
		size_t room, want;
		int rc;

		if (z->ended) {
			snprintf(err, errlen, "bytes after the end of the %s stream",
			         "Content-Encoding");
			return -EINVAL;
		}
		want = *len + 64 * 1024 + 1;
		if (want > limit + 1)
			want = limit + 1;
		if (grow(buf, cap, want) < 0)
			return -ENOMEM;
		room = *cap - 1 - *len;
		if (*len + room > limit)
			room = limit - *len;
		if (room == 0) {
			/* At the limit with input left: one more output byte means too big. */
			char probe;
			z->zs.next_out = (Bytef *)&probe;
			z->zs.avail_out = 1;
			rc = inflate(&z->zs, Z_NO_FLUSH);
			if (z->zs.avail_out == 0)
				return -EFBIG;
		} else {
			if (room > 1u << 30)
				room = 1u << 30;
			z->zs.next_out = (Bytef *)(*buf + *len);
			z->zs.avail_out = (uInt)room;
			rc = inflate(&z->zs, Z_NO_FLUSH);
			*len += room - z->zs.avail_out;
			(*buf)[*len] = '\0';
		}
		if (rc == Z_STREAM_END) {
			z->ended = true;
			continue;
		}
		if (rc == Z_BUF_ERROR && (z->zs.avail_in == 0 || z->zs.avail_out != 0))
			break;
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			snprintf(err, errlen, "Content-Encoding: the body is not valid %s data: %s",
			         "compressed", z->zs.msg ? z->zs.msg : "corrupt");
			return rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		}
	}
	return 0;
}

int zbody_inflate(struct zbody *z, const char *in, size_t n, char **buf, size_t *len, size_t *cap,
                  size_t limit, char *err, size_t errlen)
{
	const size_t piece = (size_t)1 << 30;

	for (; n > piece; in += piece, n -= piece) {
		int rc = inflate_some(z, in, piece, buf, len, cap, limit, err, errlen);
		if (rc < 0)
			return rc;
	}
	return inflate_some(z, in, n, buf, len, cap, limit, err, errlen);
}

int zbody_finish(const struct zbody *z, char *err, size_t errlen)
{
	if (z->ended)
		return 0;
	snprintf(err, errlen, "Content-Encoding: the compressed body is truncated");
	return -EINVAL;
}

bool zbody_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding, *t;

	while (p != NULL && *p) {
		size_t n = next_token(&p, &t);
		bool match = tok_is(t, n, "gzip") || tok_is(t, n, "x-gzip") || tok_is(t, n, "*");
		double q = 1;

		/* Parameters: only q matters ("gzip;q=0" refuses gzip). */
		while (*p == ';') {
			const char *pt;
			size_t pn;
			p++;
			pn = next_token(&p, &pt);
			if (pn > 2 && (pt[0] == 'q' || pt[0] == 'Q') && pt[1] == '=')
				q = strtod(pt + 2, NULL);
		}
		if (match && q > 0)
			return true;
		if (*p == ',')
			p++;
	}
	return false;
}

int zbody_gzip(const void *in, size_t len, void **out, size_t *outlen)
{
	z_stream zs;
	size_t cap;
	unsigned char *buf;
	int rc;

	*out = NULL;
	*outlen = 0;
	memset(&zs, 0, sizeof zs);
	/* Level 1: responses are small and latency matters more than the last bytes. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, (uLong)len);
	buf = malloc(cap);
	if (buf == NULL || (size_t)(uInt)len != len) {
		free(buf);
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	rc = deflate(&zs, Z_FINISH);
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		*outlen = 0;
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
