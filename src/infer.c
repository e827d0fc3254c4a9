/* infer.c: Open Inference Protocol (KServe v2) infer request decoding and response encoding. */
#include "infer.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonx.h"

enum dtype { DT_FP32, DT_FP64, DT_INT32, DT_INT64 };

static const char *const dtype_names[] = {"FP32", "FP64", "INT32", "INT64"};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/*
 * Converts one data element to float. Returns 0, or -EINVAL with the reason (without the
 * field path, which the caller prepends).
 */
static int convert(const json_t *v, enum dtype dt, float *out, char *why, size_t whylen)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		*out = NAN;
		return 0;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (dt == DT_INT32 && (i < INT32_MIN || i > INT32_MAX))
			return fail(why, whylen,
			            "%" JSON_INTEGER_FORMAT " is out of range for INT32", i);
		/* One rounding from the integer, as numpy's astype(float32) does. */
		*out = (float)i;
		return 0;
	}
	case JSON_REAL: {
		double d = json_real_value(v);
		float f;
		if (dt == DT_INT32 || dt == DT_INT64) {
			double lim = dt == DT_INT32 ? 2147483648.0 : 9223372036854775808.0;
			if (d != floor(d))
				return fail(why, whylen, "%.17g is not an integer (%s)", d,
				            dtype_names[dt]);
			if (d < -lim || d >= lim)
				return fail(why, whylen, "%.17g is out of range for %s", d,
				            dtype_names[dt]);
		}
		f = (float)d;
		/* FP64 narrows like numpy (overflow to inf); FP32 must already fit. */
		if (dt == DT_FP32 && isinf(f))
			return fail(why, whylen, "%g is out of range for FP32", d);
		*out = f;
		return 0;
	}
	case JSON_STRING: {
		const char *s = json_string_value(v);
		if (strcmp(s, JSONX_NAN) == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, JSONX_INF) == 0 || strcmp(s, JSONX_NEG_INF) == 0) {
			if (dt == DT_INT32 || dt == DT_INT64)
				return fail(why, whylen, "%s is not an %s value", s,
				            dtype_names[dt]);
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		break;
	}
	default:
		break;
	}
	return fail(why, whylen, "expected a number or null, got %s", type_name(v));
}

/* Converts n elements of arr into out; path names arr in messages. */
static int convert_array(const json_t *arr, size_t n, enum dtype dt, float *out, const char *path,
                         char *err, size_t errlen)
{
	char why[160];

	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(arr, i);
		/* Plain numbers first: the common case deserves the shortest path. */
		if (json_is_real(v) && (dt == DT_FP32 || dt == DT_FP64)) {
			float f = (float)json_real_value(v);
			if (!isinf(f) || dt == DT_FP64) {
				out[i] = f;
				continue;
			}
		}
		if (convert(v, dt, &out[i], why, sizeof(why)) < 0)
			return fail(err, errlen, "%s[%zu]: %s", path, i, why);
	}
	return 0;
}

static int check_parameters(const json_t *obj, const char *path, char *err, size_t errlen)
{
	const json_t *p = json_object_get(obj, "parameters");

	if (p && !json_is_object(p))
		return fail(err, errlen, "%s.parameters: expected an object, got %s", path,
		            type_name(p));
	return 0;
}

static int decode_outputs(const json_t *outputs, struct infer_request *req, char *err,
                          size_t errlen)
{
	char path[64];
	size_t i;
	const json_t *o;

	if (!outputs || json_array_size(outputs) == 0) {
		if (outputs && !json_is_array(outputs))
			return fail(err, errlen, "outputs: expected an array, got %s",
			            type_name(outputs));
		req->want_predict = true;
		return 0;
	}
	json_array_foreach(outputs, i, o)
	{
		const json_t *name;
		const char *s;
		snprintf(path, sizeof(path), "outputs[%zu]", i);
		if (!json_is_object(o))
			return fail(err, errlen, "%s: expected an object, got %s", path,
			            type_name(o));
		name = json_object_get(o, "name");
		if (!name)
			return fail(err, errlen, "%s.name: required", path);
		if (!json_is_string(name))
			return fail(err, errlen, "%s.name: expected a string, got %s", path,
			            type_name(name));
		s = json_string_value(name);
		if (strcmp(s, "predict") == 0)
			req->want_predict = true;
		else if (strcmp(s, "margin") == 0)
			req->want_margin = true;
		else
			return fail(err, errlen,
			            "%s.name: \"%.64s\" is not an output of this model (predict, "
			            "margin)",
			            path, s);
		if (check_parameters(o, path, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

/* Reads shape into nrows/ncols with every bound checked. */
static int decode_shape(const json_t *shape, size_t num_feature, const struct infer_limits *lim,
                        size_t *nrows, size_t *ncols, size_t *ndim, char *err, size_t errlen)
{
	size_t dims[2], n, elems;

	if (!shape)
		return fail(err, errlen, "inputs[0].shape: required");
	if (!json_is_array(shape))
		return fail(err, errlen, "inputs[0].shape: expected an array, got %s",
		            type_name(shape));
	n = json_array_size(shape);
	if (n != 1 && n != 2)
		return fail(err, errlen,
		            "inputs[0].shape: expected [N, F] or [F], got %zu dimensions", n);
	for (size_t i = 0; i < n; i++) {
		const json_t *d = json_array_get(shape, i);
		if (!json_is_integer(d))
			return fail(err, errlen,
			            "inputs[0].shape[%zu]: expected a positive integer, got %s", i,
			            type_name(d));
		if (json_integer_value(d) <= 0)
			return fail(err, errlen,
			            "inputs[0].shape[%zu]: expected a positive integer, got "
			            "%" JSON_INTEGER_FORMAT,
			            i, json_integer_value(d));
		if ((uintmax_t)json_integer_value(d) > SIZE_MAX)
			return fail(err, errlen, "inputs[0].shape[%zu]: too large", i);
		dims[i] = (size_t)json_integer_value(d);
	}
	*ndim = n;
	*nrows = n == 2 ? dims[0] : 1;
	*ncols = dims[n - 1];
	if (*ncols != num_feature)
		return fail(err, errlen,
		            "inputs[0].shape[%zu]: the model takes %zu features, got %zu", n - 1,
		            num_feature, *ncols);
	if (*nrows > lim->max_rows)
		return fail(err, errlen, "inputs[0].shape[0]: %zu rows exceed the limit of %zu",
		            *nrows, lim->max_rows);
	if (__builtin_mul_overflow(*nrows, *ncols, &elems) || elems > lim->max_elements ||
	    elems > SIZE_MAX / sizeof(float))
		return fail(err, errlen,
		            "inputs[0].shape: %zu x %zu elements exceed the limit of %zu", *nrows,
		            *ncols, lim->max_elements);
	return 0;
}

static int decode_data(const json_t *data, enum dtype dt, size_t nrows, size_t ncols, size_t ndim,
                       float *out, char *err, size_t errlen)
{
	char shape[64], path[64];
	size_t n = json_array_size(data);

	if (ndim == 2)
		snprintf(shape, sizeof(shape), "[%zu, %zu]", nrows, ncols);
	else
		snprintf(shape, sizeof(shape), "[%zu]", ncols);
	if (ndim == 2 && n > 0 && json_is_array(json_array_get(data, 0))) {
		/* Nested exactly like the shape: N arrays of F values. */
		if (n != nrows)
			return fail(err, errlen,
			            "inputs[0].data: %zu rows for shape %s, expected %zu", n, shape,
			            nrows);
		for (size_t r = 0; r < nrows; r++) {
			const json_t *row = json_array_get(data, r);
			if (!json_is_array(row))
				return fail(err, errlen,
				            "inputs[0].data[%zu]: expected an array of %zu values, "
				            "got %s",
				            r, ncols, type_name(row));
			if (json_array_size(row) != ncols)
				return fail(
				    err, errlen,
				    "inputs[0].data[%zu]: %zu values for shape %s, expected "
				    "%zu",
				    r, json_array_size(row), shape, ncols);
			snprintf(path, sizeof(path), "inputs[0].data[%zu]", r);
			if (convert_array(row, ncols, dt, out + r * ncols, path, err, errlen) < 0)
				return -EINVAL;
		}
		return 0;
	}
	if (n != nrows * ncols)
		return fail(err, errlen, "inputs[0].data: %zu values for shape %s, expected %zu", n,
		            shape, nrows * ncols);
	return convert_array(data, n, dt, out, "inputs[0].data", err, errlen);
}

static int decode_input(const json_t *in, size_t num_feature, const struct infer_limits *lim,
                        struct infer_request *req, char *err, size_t errlen)
{
	const json_t *name, *datatype, *data;
	size_t nrows = 0, ncols = 0, ndim = 0;
	enum dtype dt = DT_FP32;
	const char *ds;
	bool known = false;
	int r;

	if (!json_is_object(in))
		return fail(err, errlen, "inputs[0]: expected an object, got %s", type_name(in));
	name = json_object_get(in, "name");
	if (!name)
		return fail(err, errlen, "inputs[0].name: required");
	if (!json_is_string(name))
		return fail(err, errlen, "inputs[0].name: expected a string, got %s",
		            type_name(name));
	datatype = json_object_get(in, "datatype");
	if (!datatype)
		return fail(err, errlen, "inputs[0].datatype: required");
	if (!json_is_string(datatype))
		return fail(err, errlen, "inputs[0].datatype: expected a string, got %s",
		            type_name(datatype));
	ds = json_string_value(datatype);
	for (size_t i = 0; i < sizeof(dtype_names) / sizeof(dtype_names[0]); i++) {
		if (strcmp(ds, dtype_names[i]) == 0) {
			dt = (enum dtype)i;
			known = true;
		}
	}
	if (!known)
		return fail(err, errlen,
		            "inputs[0].datatype: \"%.32s\" is not supported (FP32, FP64, INT32, "
		            "INT64)",
		            ds);
	r = decode_shape(json_object_get(in, "shape"), num_feature, lim, &nrows, &ncols, &ndim, err,
	                 errlen);
	if (r < 0)
		return r;
	if (check_parameters(in, "inputs[0]", err, errlen) < 0)
		return -EINVAL;
	data = json_object_get(in, "data");
	if (!data)
		return fail(err, errlen, "inputs[0].data: required");
	if (!json_is_array(data))
		return fail(err, errlen, "inputs[0].data: expected an array, got %s",
		            type_name(data));
	req->input_name = strdup(json_string_value(name));
	req->data = malloc(nrows * ncols * sizeof(float));
	if (!req->input_name || !req->data) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	req->nrows = nrows;
	req->ncols = ncols;
	return decode_data(data, dt, nrows, ncols, ndim, req->data, err, errlen);
}

int infer_decode(const char *body, size_t len, size_t num_feature, const struct infer_limits *lim,
                 struct infer_request *req, char *err, size_t errlen)
{
	const json_t *id, *inputs;
	json_t *root = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	r = jsonx_parse(body, len, lim->max_depth, 1, &root, err, errlen);
	if (r < 0)
		return r;
	if (!json_is_object(root)) {
		r = fail(err, errlen, "request: expected a JSON object, got %s", type_name(root));
		goto out;
	}
	id = json_object_get(root, "id");
	if (id && !json_is_string(id)) {
		r = fail(err, errlen, "id: expected a string, got %s", type_name(id));
		goto out;
	}
	r = check_parameters(root, "request", err, errlen);
	if (r < 0)
		goto out;
	inputs = json_object_get(root, "inputs");
	if (!inputs) {
		r = fail(err, errlen, "inputs: required");
		goto out;
	}
	if (!json_is_array(inputs)) {
		r = fail(err, errlen, "inputs: expected an array, got %s", type_name(inputs));
		goto out;
	}
	if (json_array_size(inputs) != 1) {
		r = fail(err, errlen, "inputs: expected exactly one input tensor, got %zu",
		         json_array_size(inputs));
		goto out;
	}
	r = decode_outputs(json_object_get(root, "outputs"), req, err, errlen);
	if (r < 0)
		goto out;
	r = decode_input(json_array_get(inputs, 0), num_feature, lim, req, err, errlen);
	if (r < 0)
		goto out;
	if (id) {
		req->id = strdup(json_string_value(id));
		if (!req->id) {
			snprintf(err, errlen, "out of memory");
			r = -ENOMEM;
		}
	}
out:
	json_decref(root);
	if (r < 0)
		infer_request_free(req);
	return r;
}

void infer_request_free(struct infer_request *req)
{
	if (!req)
		return;
	free(req->id);
	free(req->input_name);
	free(req->data);
	memset(req, 0, sizeof(*req));
}

/* A growing output buffer; the first failed allocation sticks. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t need, ncap;
	char *np;

	if (b->oom)
		return false;
	if (__builtin_add_overflow(b->len, more, &need) || need == SIZE_MAX) {
		b->oom = true;
		return false;
	}
	if (need + 1 <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need + 1)
		ncap = ncap > SIZE_MAX / 2 ? need + 1 : ncap * 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_size(struct sbuf *b, size_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%zu", v);

	sb_put(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (0 when invalid or truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/* Writes s as a JSON string; invalid UTF-8 bytes become U+FFFD so the output stays valid. */
static void sb_json_string(struct sbuf *b, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run = 0;

	sb_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t l;
		char esc[8];
		const char *rep = NULL;
		size_t replen = 0;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_len(s + i, n - i);
			if (l) {
				i += l;
				run += l;
				continue;
			}
		}
		sb_put(b, (const char *)s + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			rep = "\\\"";
			break;
		case '\\':
			rep = "\\\\";
			break;
		case '\n':
			rep = "\\n";
			break;
		case '\r':
			rep = "\\r";
			break;
		case '\t':
			rep = "\\t";
			break;
		case '\b':
			rep = "\\b";
			break;
		case '\f':
			rep = "\\f";
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				rep = esc;
				replen = 6;
			} else {
				rep = "\\ufffd";
			}
			break;
		}
		sb_put(b, rep, replen ? replen : strlen(rep));
		i++;
	}
	sb_put(b, (const char *)s + i - run, run);
	sb_put(b, "\"", 1);
}

typedef unsigned __int128 u128;

/* 10^n for n <= 38, exactly. */
static u128 pow10_128(unsigned n)
{
	u128 r = 1;

	while (n--)
		r *= 10;
	return r;
}

/* Bits needed for 10^n (rounded up), to keep products inside 127 bits. */
static unsigned pow10_bits(unsigned n)
{
	return (n * 3322u + 999u) / 1000u + 1;
}

/*
 * X * 2^a / 10^k as a fraction num/den, or false when it would not fit in 127 bits (then
 * the caller takes the slow path). X < 2^26.
 */
static bool scaled(uint64_t x, int a, int k, u128 *num, u128 *den)
{
	unsigned nb = 26, db = 1;

	nb += a > 0 ? (unsigned)a : 0;
	nb += k < 0 ? pow10_bits((unsigned)-k) : 0;
	db += a < 0 ? (unsigned)-a : 0;
	db += k > 0 ? pow10_bits((unsigned)k) : 0;
	if (nb > 126 || db > 126)
		return false;
	*num = (u128)x;
	*den = 1;
	if (a > 0)
		*num <<= a;
	else
		*den <<= -a;
	if (k < 0)
		*num *= pow10_128((unsigned)-k);
	else
		*den *= pow10_128((unsigned)k);
	return true;
}

/*
 * The integers c with lo < c * 10^k < hi (<= when inclusive), where lo and hi are the
 * rounding interval of the float in units of 2^a. Returns false when out of range.
 */
static bool candidates(uint64_t lo, uint64_t hi, int a, int k, bool inclusive, uint64_t *cmin,
		       uint64_t *cmax)
{
	u128 num, den, q;

	if (!scaled(lo, a, k, &num, &den))
		return false;
	q = num / den;
	/* Smallest c above lo (or at it, when inclusive and exact). */
	*cmin = (uint64_t)((num % den == 0 && inclusive) ? q : q + 1);
	if (!scaled(hi, a, k, &num, &den))
		return false;
	q = num / den;
	*cmax = (uint64_t)((num % den == 0 && !inclusive) ? q - 1 : q);
	return q < ((u128)1 << 63);
}

/*
 * Shortest digits for a positive finite float, exactly, in integer arithmetic: the largest
 * decimal exponent k whose multiples fall inside the float's rounding interval gives the
 * fewest digits; among those, the one nearest the value. Returns false outside the range
 * our 128-bit fractions cover (tiny or huge values), for the slow path.
 */
static bool shortest(float f, uint64_t *digits, int *exp10)
{
	uint32_t bits;
	uint64_t m, cmin, cmax, c;
	int e, a, klo, khi, kbest;
	bool inclusive;
	u128 num, den, q, r;

	memcpy(&bits, &f, sizeof(bits));
	if ((bits >> 23) == 0)
		return false; /* subnormals: rare, and their exponents are out of our range */
	m = (bits & 0x7fffffu) | 0x800000u;
	e = (int)(bits >> 23) - 150;
	a = e - 2;
	inclusive = (m & 1) == 0; /* ties round to even: the bounds belong to an even m */
	/* The decimal exponent of f, within one; 9 digits always suffice below it. */
	khi = (int)floor(log10((double)f)) + 2;
	klo = khi - 11;
	/* Bisect for the largest k with a candidate; klo always has one. */
	if (!candidates(4 * m - ((bits & 0x7fffffu) == 0 && (bits >> 23) > 1 ? 1 : 2), 4 * m + 2,
			a, klo, inclusive, &cmin, &cmax) ||
	    cmin > cmax)
		return false;
	kbest = klo;
	while (klo < khi) {
		int k = klo + (khi - klo + 1) / 2;
		uint64_t lo2, hi2;
		if (!candidates(4 * m - ((bits & 0x7fffffu) == 0 && (bits >> 23) > 1 ? 1 : 2),
				4 * m + 2, a, k, inclusive, &lo2, &hi2))
			return false;
		if (lo2 <= hi2) {
			klo = k;
			kbest = k;
			cmin = lo2;
			cmax = hi2;
		} else {
			khi = k - 1;
		}
	}
	/* The candidate nearest the value itself, ties to even. */
	if (!scaled(4 * m, a, kbest, &num, &den))
		return false;
	q = num / den;
	r = num % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	c = q < cmin ? cmin : q > cmax ? cmax : (uint64_t)q;
	while (c % 10 == 0) {
		c /= 10;
		kbest++;
	}
	*digits = c;
	*exp10 = kbest;
	return true;
}

/* Writes digits * 10^k in plain or exponent notation, whichever is shorter. */
static int write_decimal(bool neg, uint64_t digits, int k, char out[32])
{
	char d[24];
	int nd = 0, o = 0, x, plain, sci;

	do {
		d[nd++] = (char)('0' + digits % 10);
		digits /= 10;
	} while (digits);
	/* d holds the digits in reverse; x is the exponent of the leading digit. */
	x = k + nd - 1;
	plain = x < 0 ? 1 - x + nd : (nd > x + 1 ? nd + 1 : x + 1);
	sci = nd + (nd > 1) + 2 + (x < 0) + (abs(x) >= 10);
	if (neg)
		out[o++] = '-';
	if (plain <= sci && x < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = -1; i > x; i--)
			out[o++] = '0';
		for (int i = nd - 1; i >= 0; i--)
			out[o++] = d[i];
	} else if (plain <= sci) {
		for (int i = nd - 1; i >= 0; i--) {
			out[o++] = d[i];
			if (nd - 1 - i == x && i > 0)
				out[o++] = '.';
		}
		for (int i = nd - 1; i < x; i++)
			out[o++] = '0';
	} else {
		out[o++] = d[nd - 1];
		if (nd > 1) {
			out[o++] = '.';
			for (int i = nd - 2; i >= 0; i--)
				out[o++] = d[i];
		}
		o += snprintf(out + o, (size_t)(32 - o), "e%d", x);
	}
	out[o] = '\0';
	return o;
}

/* Prints f with p significant digits into out; returns the length if it reads back as f. */
static int try_digits(float f, int p, char out[32])
{
	int n = snprintf(out, 32, "%.*g", p, (double)f);

	return strtof(out, NULL) == f ? n : 0;
}

/*
 * Prints f with the fewest significant digits that read back to the same float; NaN and
 * infinities are null. Returns the length. The exact integer method covers the usual
 * range; the rest goes through printf, probing 8 and 9 digits first (what computed values
 * need) and bisecting below, since round-tripping is monotonic in the digit count.
 */
static int format_float(float f, char out[32])
{
	char tmp[32];
	int lo = 1, hi = 7, n, m, k;
	uint64_t digits;

	if (!isfinite(f)) {
		memcpy(out, "null", 5);
		return 4;
	}
	if (f == 0) {
		memcpy(out, signbit(f) ? "-0" : "0", signbit(f) ? 3 : 2);
		return signbit(f) ? 2 : 1;
	}
	if (shortest(fabsf(f), &digits, &k))
		return write_decimal(f < 0, digits, k, out);
	n = try_digits(f, 8, out);
	if (!n)
		return snprintf(out, 32, "%.9g", (double)f);
	m = try_digits(f, 7, tmp);
	if (!m)
		return n;
	memcpy(out, tmp, (size_t)m + 1);
	n = m;
	/* Invariant: hi digits read back (held in out); fewer than lo do not. */
	while (lo < hi) {
		int p = lo + (hi - lo) / 2;
		m = try_digits(f, p, tmp);
		if (m) {
			hi = p;
			n = m;
			memcpy(out, tmp, (size_t)m + 1);
		} else {
			lo = p + 1;
		}
	}
	return n;
}

static void sb_float(struct sbuf *b, float f)
{
	char tmp[32];
	int n = format_float(f, tmp);

	sb_put(b, tmp, (size_t)n);
}

int infer_encode(const char *model_name, const char *model_version, const char *id,
                 const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen)
{
	struct sbuf b = {0};
	size_t guess = 256;

	*out = NULL;
	*outlen = 0;
	/* About 12 bytes per value; one allocation in the usual case. */
	for (size_t i = 0; i < n_outs; i++)
		guess += outs[i].nrows * outs[i].width * 12 + 96;
	sb_reserve(&b, guess);
	b.oom = false;
	sb_puts(&b, "{\"model_name\":");
	sb_json_string(&b, model_name ? model_name : "");
	sb_puts(&b, ",\"model_version\":");
	sb_json_string(&b, model_version ? model_version : "");
	if (id) {
		sb_puts(&b, ",\"id\":");
		sb_json_string(&b, id);
	}
	sb_puts(&b, ",\"outputs\":[");
	for (size_t i = 0; i < n_outs; i++) {
		const struct infer_output *o = &outs[i];
		size_t n = o->nrows * o->width;
		if (i)
			sb_put(&b, ",", 1);
		sb_puts(&b, "{\"name\":");
		sb_json_string(&b, o->name ? o->name : "");
		sb_puts(&b, ",\"datatype\":\"FP32\",\"shape\":[");
		sb_size(&b, o->nrows);
		if (o->width != 1) {
			sb_put(&b, ",", 1);
			sb_size(&b, o->width);
		}
		sb_puts(&b, "],\"data\":[");
		for (size_t k = 0; k < n && !b.oom; k++) {
			if (k)
				sb_put(&b, ",", 1);
			sb_float(&b, o->data[k]);
		}
		sb_puts(&b, "]}");
	}
	sb_puts(&b, "]}");
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	*outlen = b.len;
	return 0;
}
