/* check_zbody.c: tests for Content-Encoding decoding (bounded inflate) and gzip answers. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "zbody.h"

/* gzip (wbits 31) or zlib (15) encoding of n bytes by zlib itself, the reference. */
static unsigned char *encode(const void *in, size_t n, int wbits, size_t *outlen)
{
	z_stream zs;
	unsigned char *out;
	size_t cap;

	memset(&zs, 0, sizeof zs);
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, (uLong)n);
	out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* Decodes enc in chunks of step bytes with limit; returns inflate's last code. */
static int decode(enum zbody_kind kind, const unsigned char *enc, size_t n, size_t step,
                  size_t limit, char **buf, size_t *len, size_t *cap, int *finish)
{
	struct zbody *z = NULL;
	char err[160];
	int rc = 0;

	*buf = NULL;
	*len = *cap = 0;
	ck_assert_int_eq(zbody_new(kind, &z), 0);
	for (size_t off = 0; off < n && rc == 0; off += step)
		rc = zbody_inflate(z, (const char *)enc + off, off + step > n ? n - off : step, buf,
		                   len, cap, limit, err, sizeof err);
	*finish = zbody_finish(z, err, sizeof err);
	zbody_free(z);
	return rc;
}

START_TEST(parse_encodings)
{
	enum zbody_kind k;

	ck_assert_int_eq(zbody_parse_encoding(NULL, &k), 0);
	ck_assert_int_eq(k, ZBODY_IDENTITY);
	ck_assert_int_eq(zbody_parse_encoding("gzip", &k), 0);
	ck_assert_int_eq(k, ZBODY_GZIP);
	ck_assert_int_eq(zbody_parse_encoding(" GZip ", &k), 0);
	ck_assert_int_eq(k, ZBODY_GZIP);
	ck_assert_int_eq(zbody_parse_encoding("x-gzip", &k), 0);
	ck_assert_int_eq(k, ZBODY_GZIP);
	ck_assert_int_eq(zbody_parse_encoding("deflate", &k), 0);
	ck_assert_int_eq(k, ZBODY_DEFLATE);
	ck_assert_int_eq(zbody_parse_encoding("identity", &k), 0);
	ck_assert_int_eq(k, ZBODY_IDENTITY);
	ck_assert_int_eq(zbody_parse_encoding("br", &k), -ENOTSUP);
	ck_assert_int_eq(zbody_parse_encoding("gzip, gzip", &k), -ENOTSUP);
	ck_assert_int_eq(zbody_parse_encoding("gzip;q=1", &k), -ENOTSUP);
	ck_assert_int_eq(zbody_parse_encoding("", &k), -ENOTSUP);
}
END_TEST

START_TEST(accept_encoding)
{
	ck_assert(zbody_accepts_gzip("gzip"));
	ck_assert(zbody_accepts_gzip("deflate, gzip;q=0.5"));
	ck_assert(zbody_accepts_gzip("*"));
	ck_assert(zbody_accepts_gzip("br ; q=1, GZIP"));
	ck_assert(!zbody_accepts_gzip("gzip;q=0"));
	ck_assert(!zbody_accepts_gzip("gzip; q=0.000"));
	ck_assert(!zbody_accepts_gzip("identity"));
	ck_assert(!zbody_accepts_gzip("br, deflate"));
	ck_assert(!zbody_accepts_gzip(""));
	ck_assert(!zbody_accepts_gzip("gzipx"));
}
END_TEST

/* Byte by byte and in one go, gzip and deflate: the decoded bytes are the original. */
START_TEST(roundtrip_chunks)
{
	static const size_t steps[] = {1, 7, 4096, 1 << 20};
	size_t n = 300000, elen, len, cap;
	unsigned char *in = malloc(n), *enc;
	char *buf;
	int fin;

	for (size_t i = 0; i < n; i++)
		in[i] = (unsigned char)((i * 2654435761u) >> 13);
	for (int kind = 0; kind < 2; kind++) {
		enc = encode(in, n, kind ? 15 : 31, &elen);
		for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			ck_assert_int_eq(decode(kind ? ZBODY_DEFLATE : ZBODY_GZIP, enc, elen,
			                        steps[s], n, &buf, &len, &cap, &fin),
			                 0);
			ck_assert_int_eq(fin, 0);
			ck_assert_uint_eq(len, n);
			ck_assert(memcmp(buf, in, n) == 0);
			ck_assert_int_eq(buf[len], '\0');
			free(buf);
		}
		free(enc);
	}
	free(in);
}
END_TEST

/* A body of exactly the limit passes; one byte more is -EFBIG; a bomb stops at the limit. */
START_TEST(limit_and_bomb)
{
	size_t limit = 1000, elen, len, cap;
	size_t big = 64u << 20;
	char *zeros = calloc(1, big), *buf;
	unsigned char *enc;
	int fin;

	enc = encode(zeros, limit, 31, &elen);
	ck_assert_int_eq(decode(ZBODY_GZIP, enc, elen, 5, limit, &buf, &len, &cap, &fin), 0);
	ck_assert_int_eq(fin, 0);
	ck_assert_uint_eq(len, limit);
	free(buf);
	free(enc);
	enc = encode(zeros, limit + 1, 31, &elen);
	ck_assert_int_eq(decode(ZBODY_GZIP, enc, elen, 5, limit, &buf, &len, &cap, &fin), -EFBIG);
	ck_assert_uint_le(len, limit);
	free(buf);
	free(enc);
	/* 64 MiB of zeros in about 64 KiB against a 1 MiB limit: the buffer grows by doubling
	 * up to the limit and no further, so it never holds more than 2 MiB. */
	enc = encode(zeros, big, 31, &elen);
	ck_assert_uint_lt(elen, big / 500);
	ck_assert_int_eq(decode(ZBODY_GZIP, enc, elen, elen, 1u << 20, &buf, &len, &cap, &fin),
	                 -EFBIG);
	ck_assert_uint_eq(len, 1u << 20);
	ck_assert_uint_le(cap, 2u << 20);
	free(buf);
	free(enc);
	free(zeros);
}
END_TEST

START_TEST(corrupt_and_truncated)
{
	static const char text[] = "{\"inputs\": []}";
	size_t elen, len, cap;
	unsigned char *enc = encode(text, sizeof text - 1, 31, &elen), *junk;
	char *buf;
	int fin;

	/* Truncated: decodes what it has, but the stream never ends. */
	ck_assert_int_eq(decode(ZBODY_GZIP, enc, elen - 4, 3, 1000, &buf, &len, &cap, &fin), 0);
	ck_assert_int_eq(fin, -EINVAL);
	free(buf);
	/* A gzip body sent as deflate (wrong framing) is refused. */
	ck_assert_int_eq(decode(ZBODY_DEFLATE, enc, elen, elen, 1000, &buf, &len, &cap, &fin),
	                 -EINVAL);
	free(buf);
	/* A flipped byte in the deflate data or the CRC is refused. */
	enc[elen - 6] ^= 0x55;
	ck_assert_int_eq(decode(ZBODY_GZIP, enc, elen, elen, 1000, &buf, &len, &cap, &fin),
	                 -EINVAL);
	free(buf);
	enc[elen - 6] ^= 0x55;
	/* Bytes after the end of the stream are refused. */
	junk = malloc(elen + 3);
	memcpy(junk, enc, elen);
	memcpy(junk + elen, "abc", 3);
	ck_assert_int_eq(decode(ZBODY_GZIP, junk, elen + 3, elen + 3, 1000, &buf, &len, &cap, &fin),
	                 -EINVAL);
	free(buf);
	free(junk);
	free(enc);
}
END_TEST

/* zbody_gzip's output is a gzip stream zlib reads back to the same bytes. */
START_TEST(gzip_answers)
{
	size_t n = 50000, len, cap;
	char *in = malloc(n), *buf;
	void *out;
	size_t outlen;
	int fin;

	for (size_t i = 0; i < n; i++)
		in[i] = "0123456789,.[]"[i % 14];
	ck_assert_int_eq(zbody_gzip(in, n, &out, &outlen), 0);
	ck_assert_uint_lt(outlen, n / 4);
	ck_assert_uint_eq(((unsigned char *)out)[0], 0x1f);
	ck_assert_uint_eq(((unsigned char *)out)[1], 0x8b);
	ck_assert_int_eq(decode(ZBODY_GZIP, out, outlen, 100, n, &buf, &len, &cap, &fin), 0);
	ck_assert_int_eq(fin, 0);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(buf, in, n) == 0);
	free(buf);
	free(out);
	free(in);
}
END_TEST

static Suite *zbody_suite(void)
{
	Suite *s = suite_create("zbody");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_encodings);
	tcase_add_test(tc, accept_encoding);
	tcase_add_test(tc, roundtrip_chunks);
	tcase_add_test(tc, limit_and_bomb);
	tcase_add_test(tc, corrupt_and_truncated);
	tcase_add_test(tc, gzip_answers);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(zbody_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
