/* ubjson.c: a bounded UBJSON decoder producing jansson values (jansson has no UBJSON). */
#include "ubjson.h"

#include "jsonx.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct ubj {
	const unsigned char *p;
	size_t len, pos;
	unsigned max_depth;
	char *err;
	size_t errlen;
	int rc;
};

static int ubj_fail(struct ubj *u, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ubj_fail(struct ubj *u, int rc, const char *fmt, ...)
{
	if (u->rc == 0 && u->err && u->errlen) {
		char msg[200];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(u->err, u->errlen, "UBJSON at byte %zu: %s", u->pos, msg);
	}
	if (u->rc == 0)
		u->rc = rc;
	return rc;
}

int ubjson_sniff(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	return len >= 2 && p[0] == '{' && strchr("iUIlL$#", p[1]) && p[1] != 0;
}

static size_t ubj_left(const struct ubj *u)
{
	return u->len - u->pos;
}

static int ubj_byte(struct ubj *u, unsigned char *c)
{
	if (u->pos >= u->len)
		return ubj_fail(u, -EINVAL, "truncated (a marker is missing)");
	*c = u->p[u->pos++];
	return 0;
}

/* Reads an n-byte big-endian unsigned quantity (n <= 8). */
static int ubj_be(struct ubj *u, size_t n, uint64_t *out)
{
	if (ubj_left(u) < n)
		return ubj_fail(u, -EINVAL, "truncated (%zu bytes needed, %zu left)", n,
		                ubj_left(u));
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | u->p[u->pos + i];
	u->pos += n;
	*out = v;
	return 0;
}

static size_t int_size(unsigned char m)
{
	switch (m) {
	case 'i':
	case 'U':
		return 1;
	case 'I':
		return 2;
	case 'l':
		return 4;
	case 'L':
		return 8;
	default:
		return 0;
	}
}

/* The value of an integer whose marker m (i U I l L) is already read. */
static int ubj_int(struct ubj *u, unsigned char m, int64_t *out)
{
	size_t n = int_size(m);
	uint64_t v = 0;
	if (!n)
		return ubj_fail(u, -EINVAL, "'%c' is not an integer marker", m);
	if (ubj_be(u, n, &v) < 0)
		return u->rc;
	switch (m) {
	case 'i':
		*out = (int8_t)(uint8_t)v;
		break;
	case 'U':
		*out = (int64_t)v;
		break;
	case 'I':
		*out = (int16_t)(uint16_t)v;
		break;
	case 'l':
		*out = (int32_t)(uint32_t)v;
		break;
	default:
		*out = (int64_t)v;
		break;
	}
	return 0;
}

/*
 * A length or count: a marked integer, not negative, whose items of at least unit bytes
 * each fit in the bytes left after it.
 */
static int ubj_count(struct ubj *u, size_t unit, const char *what, size_t *out)
{
	unsigned char m = 0;
	int64_t v = 0;
	if (ubj_byte(u, &m) < 0 || ubj_int(u, m, &v) < 0)
		return u->rc;
	if (v < 0)
		return ubj_fail(u, -EINVAL, "negative %s %lld", what, (long long)v);
	if ((uint64_t)v > ubj_left(u) / unit)
		return ubj_fail(u, -EINVAL,
		                "%s %lld is more than the %zu bytes left can hold (%zu bytes each)",
		                what, (long long)v, ubj_left(u), unit);
	*out = (size_t)v;
	return 0;
}

/* A real; NaN and the infinities become jsonx's strings, as jsonx_parse() leaves them. */
static json_t *real_value(double d)
{
	if (isnan(d))
		return json_string(JSONX_NAN);
	if (isinf(d))
		return json_string(d > 0 ? JSONX_INF : JSONX_NEG_INF);
	return json_real(d);
}

/* A number whose marker m is already read; NULL (u->rc set) when m is not a number. */
static json_t *ubj_number(struct ubj *u, unsigned char m)
{
	uint64_t bits = 0;
	if (m == 'd') {
		if (ubj_be(u, 4, &bits) < 0)
			return NULL;
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof(f));
		return real_value((double)f);
	}
	if (m == 'D') {
		if (ubj_be(u, 8, &bits) < 0)
			return NULL;
		double d;
		memcpy(&d, &bits, sizeof(d));
		return real_value(d);
	}
	if (m == 'C') {
		if (ubj_be(u, 1, &bits) < 0)
			return NULL;
		return json_integer((json_int_t)bits);
	}
	int64_t v = 0;
	if (ubj_int(u, m, &v) < 0)
		return NULL;
	return json_integer((json_int_t)v);
}

static size_t number_size(unsigned char m)
{
	if (m == 'd')
		return 4;
	if (m == 'D')
		return 8;
	if (m == 'C')
		return 1;
	return int_size(m);
}

/* A string body: count then bytes, which must be UTF-8 (jansson's rule). */
static json_t *ubj_string(struct ubj *u)
{
	size_t n;
	if (ubj_count(u, 1, "string length", &n) < 0)
		return NULL;
	json_t *s = json_stringn((const char *)u->p + u->pos, n);
	if (!s) {
		ubj_fail(u, -EINVAL, "string of %zu bytes is not valid UTF-8", n);
		return NULL;
	}
	u->pos += n;
	return s;
}

static json_t *ubj_value(struct ubj *u, unsigned char m, unsigned depth);

/* The value that follows: its marker, then its body. */
static json_t *ubj_next(struct ubj *u, unsigned depth)
{
	unsigned char m = 0;
	if (ubj_byte(u, &m) < 0)
		return NULL;
	json_t *v = ubj_value(u, m, depth);
	if (!v && !u->rc)
		ubj_fail(u, -ENOMEM, "out of memory");
	return v;
}

static json_t *nomem(struct ubj *u, json_t *drop)
{
	json_decref(drop);
	ubj_fail(u, -ENOMEM, "out of memory");
	return NULL;
}

/*
 * An array after its '['. Three forms: '$' type '#' count then count bare numbers;
 * '#' count then count values; or values up to ']'. Every count is checked against the
 * bytes left (each element takes at least one byte), so no count can make us allocate
 * beyond the input's size.
 */
static json_t *ubj_array(struct ubj *u, unsigned depth)
{
	json_t *a = json_array();
	if (!a)
		return nomem(u, NULL);
	if (u->pos < u->len && u->p[u->pos] == '$') {
		u->pos++;
		unsigned char type = 0, hash = 0;
		if (ubj_byte(u, &type) < 0)
			goto bad;
		size_t es = number_size(type);
		if (!es) {
			ubj_fail(
			    u, -EINVAL,
			    "typed array of '%c' is not supported (only numbers: i U I l L d D C)",
			    type);
			goto bad;
		}
		if (ubj_byte(u, &hash) < 0)
			goto bad;
		if (hash != '#') {
			ubj_fail(u, -EINVAL, "typed array without a '#' count");
			goto bad;
		}
		size_t n;
		if (ubj_count(u, es, "typed array count", &n) < 0)
			goto bad;
		for (size_t i = 0; i < n; i++) {
			json_t *v = ubj_number(u, type);
			if (!v) {
				if (!u->rc)
					return nomem(u, a);
				goto bad;
			}
			if (json_array_append_new(a, v) < 0)
				return nomem(u, a);
		}
		return a;
	}
	if (u->pos < u->len && u->p[u->pos] == '#') {
		u->pos++;
		size_t n;
		if (ubj_count(u, 1, "array count", &n) < 0)
			goto bad;
		for (size_t i = 0; i < n; i++) {
			json_t *v = ubj_next(u, depth + 1);
			if (!v)
				goto bad;
			if (json_array_append_new(a, v) < 0)
				return nomem(u, a);
		}
		return a;
	}
	for (;;) {
		if (u->pos >= u->len) {
			ubj_fail(u, -EINVAL, "truncated array (no ']')");
			goto bad;
		}
		if (u->p[u->pos] == ']') {
			u->pos++;
			return a;
		}
		json_t *v = ubj_next(u, depth + 1);
		if (!v)
			goto bad;
		if (json_array_append_new(a, v) < 0)
			return nomem(u, a);
	}
bad:
	json_decref(a);
	return NULL;
}

/* One key (a string body without the 'S') and its value, added to o. */
static int ubj_member(struct ubj *u, json_t *o, unsigned depth)
{
	size_t n;
	if (ubj_count(u, 1, "key length", &n) < 0)
		return u->rc;
	const char *k = (const char *)u->p + u->pos;
	size_t at = u->pos;
	json_t *chk = json_stringn(k, n);
	if (!chk)
		return ubj_fail(u, -EINVAL, "key of %zu bytes is not valid UTF-8", n);
	json_decref(chk);
	if (memchr(k, 0, n))
		return ubj_fail(u, -EINVAL, "key contains a NUL byte");
	u->pos += n;
	if (json_object_getn(o, k, n)) {
		u->pos = at;
		return ubj_fail(u, -EINVAL, "duplicate key \"%.*s\"", n > 40 ? 40 : (int)n, k);
	}
	json_t *v = ubj_next(u, depth + 1);
	if (!v)
		return u->rc;
	if (json_object_setn_new(o, k, n, v) < 0)
		return ubj_fail(u, -ENOMEM, "out of memory");
	return 0;
}

/* An object after its '{': '#' count then count members, or members up to '}'. */
static json_t *ubj_object(struct ubj *u, unsigned depth)
{
	json_t *o = json_object();
	if (!o)
		return nomem(u, NULL);
	if (u->pos < u->len && u->p[u->pos] == '$') {
		ubj_fail(u, -EINVAL, "typed objects ('{' '$') are not supported");
		goto bad;
	}
	if (u->pos < u->len && u->p[u->pos] == '#') {
		u->pos++;
		size_t n;
		/* A member takes at least two bytes (a key length and a value marker). */
		if (ubj_count(u, 2, "object count", &n) < 0)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (ubj_member(u, o, depth) < 0)
				goto bad;
		return o;
	}
	for (;;) {
		if (u->pos >= u->len) {
			ubj_fail(u, -EINVAL, "truncated object (no '}')");
			goto bad;
		}
		if (u->p[u->pos] == '}') {
			u->pos++;
			return o;
		}
		if (ubj_member(u, o, depth) < 0)
			goto bad;
	}
bad:
	json_decref(o);
	return NULL;
}

static json_t *ubj_value(struct ubj *u, unsigned char m, unsigned depth)
{
	switch (m) {
	case '{':
	case '[':
		if (depth >= u->max_depth) {
			ubj_fail(u, -EINVAL, "nested deeper than %u levels", u->max_depth);
			return NULL;
		}
		return m == '{' ? ubj_object(u, depth) : ubj_array(u, depth);
	case 'Z':
		return json_null();
	case 'T':
		return json_true();
	case 'F':
		return json_false();
	case 'S':
		return ubj_string(u);
	case 'H':
		ubj_fail(u, -EINVAL, "high-precision numbers ('H') are not supported");
		return NULL;
	case 'N':
		ubj_fail(u, -EINVAL, "no-op markers ('N') are not supported");
		return NULL;
	default:
		break;
	}
	if (number_size(m))
		return ubj_number(u, m);
	u->pos--;
	if (m >= 0x20 && m < 0x7f)
		ubj_fail(u, -EINVAL, "unknown marker '%c'", m);
	else
		ubj_fail(u, -EINVAL, "unknown marker 0x%02x", m);
	return NULL;
}

int ubjson_parse(const void *buf, size_t len, unsigned max_depth, json_t **out, char *err,
                 size_t errlen)
{
	struct ubj u = {.p = buf, .len = len, .max_depth = max_depth, .err = err, .errlen = errlen};
	*out = NULL;
	if (!buf || !len) {
		ubj_fail(&u, -EINVAL, "empty document");
		return u.rc;
	}
	json_t *v = ubj_next(&u, 0);
	if (!v)
		return u.rc;
	if (u.pos != u.len) {
		json_decref(v);
		return ubj_fail(&u, -EINVAL, "%zu bytes follow the value", u.len - u.pos);
	}
	*out = v;
	return 0;
}
