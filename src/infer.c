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

/* A decoded tensor's unused tail worth a realloc to give back (smaller ones are kept). */
#define INFER_SHRINK_BYTES (64 * 1024)

#ifdef __SIZEOF_INT128__
/* The exact fast paths need 128-bit integers (every 64-bit Debian architecture has them). */
typedef unsigned __int128 u128;
#endif

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

/*
 * A boolean in obj's "parameters" (binary tensor data extension), or dflt when absent.
 * path names obj in messages.
 */
static int param_bool(const json_t *obj, const char *path, const char *key, bool dflt, bool *out,
                      char *err, size_t errlen)
{
	const json_t *p = json_object_get(obj, "parameters");
	const json_t *v = json_is_object(p) ? json_object_get(p, key) : NULL;

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(err, errlen, "%sparameters.%s: expected true or false, got %s", path,
		            key, type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* all_binary: the request's parameters.binary_data_output, the default for every output. */
static int decode_outputs(const json_t *outputs, bool all_binary, struct infer_request *req,
                          char *err, size_t errlen)
{
	char path[64];
	size_t i;
	const json_t *o;

	if (!outputs || json_array_size(outputs) == 0) {
		if (outputs && !json_is_array(outputs))
			return fail(err, errlen, "outputs: expected an array, got %s",
			            type_name(outputs));
		req->want_predict = true;
		req->predict_binary = all_binary;
		return 0;
	}
	json_array_foreach(outputs, i, o)
	{
		const json_t *name;
		const char *s;
		bool binary;
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
		if (strcmp(s, "predict") != 0 && strcmp(s, "margin") != 0)
			return fail(err, errlen,
			            "%s.name: \"%.64s\" is not an output of this model (predict, "
			            "margin)",
			            path, s);
		if (check_parameters(o, path, err, errlen) < 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "outputs[%zu].", i);
		if (param_bool(o, path, "binary_data", all_binary, &binary, err, errlen) < 0)
			return -EINVAL;
		if (s[0] == 'p') {
			req->want_predict = true;
			req->predict_binary = binary;
		} else {
			req->want_margin = true;
			req->margin_binary = binary;
		}
	}
	return 0;
}

static int shape_bounds(const size_t *dims, size_t n, size_t num_feature,
                        const struct infer_limits *lim, size_t *nrows, size_t *ncols, size_t *ndim,
                        char *err, size_t errlen);

/* Reads shape into nrows/ncols with every bound checked. */
static int decode_shape(const json_t *shape, size_t num_feature, const struct infer_limits *lim,
                        size_t *nrows, size_t *ncols, size_t *ndim, char *err, size_t errlen)
{
	size_t dims[2], n;

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
	return shape_bounds(dims, n, num_feature, lim, nrows, ncols, ndim, err, errlen);
}

/* The checks on a shape's n (1 or 2) positive dimensions against the model and the limits. */
static int shape_bounds(const size_t *dims, size_t n, size_t num_feature,
                        const struct infer_limits *lim, size_t *nrows, size_t *ncols, size_t *ndim,
                        char *err, size_t errlen)
{
	size_t elems;

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

/*
 * The bulk path. Decoding every number of a large tensor as a jansson value costs an
 * allocation and a strtod() each, which dominates a request. So the data array of
 * inputs[0] is parsed here, straight into floats, and jansson parses the rest of the body
 * with that array replaced by []. The bulk path only ever says yes: anything it does not
 * recognise, and every error, sends the request to the reference path above (which
 * produces the messages), so the two can differ in speed only. A backslash in a key of the
 * request object or of inputs[0] seen before the data is one such thing; the tests use it
 * to run the reference path on purpose.
 */

/* Why a parsed tensor would be refused, per datatype; its values are the same for all. */
enum { REJECT_FP32 = 1, REJECT_INT32 = 2, REJECT_INT64 = 4 };

struct bulk {
	float *v;
	size_t n, cap;
	bool nested;
	size_t rows, width; /* when nested: rows, and values per row (all alike) */
	unsigned reject;    /* REJECT_* for the datatypes that would refuse a value */
};

/* Token spellings longer than this go to the reference path. */
#define BULK_TOKEN_MAX 128

static bool is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* p at a quote: returns past the closing quote, or NULL when the string never ends. */
static const char *skip_string(const char *p, const char *end, bool *escaped)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			*escaped = true;
			p++;
		}
	}
	return NULL;
}

/*
 * Skips one value, tracking strings and nesting only: the text is validated by jansson
 * later, and where it is not JSON jansson fails on the same bytes before the data.
 */
static const char *skip_value(const char *p, const char *end)
{
	size_t depth = 0;
	bool escaped = false;

	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = skip_string(p, end, &escaped);
			if (!p || !depth)
				return p;
			continue;
		}
		if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			if (!depth)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (!depth && (c == ',' || is_ws(c))) {
			return p;
		}
		p++;
	}
	return NULL;
}

/* Finds the '[' opening inputs[0].data, or NULL when the body is not of the plain form. */
static const char *find_data(const char *p, const char *end)
{
	bool in_input = false;

	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return NULL;
	p++;
	for (;;) {
		const char *key;
		size_t klen;
		bool escaped = false;

		p = skip_ws(p, end);
		if (p >= end || *p != '"')
			return NULL;
		key = p + 1;
		p = skip_string(p, end, &escaped);
		/* An escaped key may spell "inputs" or "data" (or duplicate them). */
		if (!p || escaped)
			return NULL;
		klen = (size_t)(p - 1 - key);
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = skip_ws(p + 1, end);
		if (p >= end)
			return NULL;
		if (!in_input && klen == 6 && memcmp(key, "inputs", 6) == 0) {
			if (*p != '[')
				return NULL;
			p = skip_ws(p + 1, end);
			if (p >= end || *p != '{')
				return NULL;
			p++;
			in_input = true;
			continue;
		}
		if (in_input && klen == 4 && memcmp(key, "data", 4) == 0)
			return *p == '[' ? p : NULL;
		p = skip_value(p, end);
		if (!p)
			return NULL;
		p = skip_ws(p, end);
		if (p >= end || *p != ',')
			return NULL;
		p++;
	}
}

#if FLT_EVAL_METHOD == 0 && defined(__SIZEOF_INT128__)
#define HAVE_EXACT_FAST_PATHS 1

/* 10^k for k <= 22: every one is exact in a double. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* 5^k for k <= 27, the largest below 2^63. */
static const uint64_t pow5_table[] = {1u,
                                      5u,
                                      25u,
                                      125u,
                                      625u,
                                      3125u,
                                      15625u,
                                      78125u,
                                      390625u,
                                      1953125u,
                                      9765625u,
                                      48828125u,
                                      244140625u,
                                      1220703125u,
                                      6103515625ull,
                                      30517578125ull,
                                      152587890625ull,
                                      762939453125ull,
                                      3814697265625ull,
                                      19073486328125ull,
                                      95367431640625ull,
                                      476837158203125ull,
                                      2384185791015625ull,
                                      11920928955078125ull,
                                      59604644775390625ull,
                                      298023223876953125ull,
                                      1490116119384765625ull,
                                      7450580596923828125ull};

static unsigned bit_length(u128 x)
{
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;

	if (hi)
		return 128u - (unsigned)__builtin_clzll(hi);
	return lo ? 64u - (unsigned)__builtin_clzll(lo) : 0;
}

/*
 * The double nearest w / 10^k (w > 0, 1 <= k <= 27), decided exactly: a guess within an
 * ulp or two is checked against the midpoints to its neighbours in 128-bit integers and
 * stepped until the quotient lies strictly between them. Returns false (for strtod) on a
 * tie, at a power of two, or when the integers would not fit.
 */
static bool nearest_quotient(uint64_t w, unsigned k, double *out)
{
	const uint64_t p5 = pow5_table[k];
	double d = k <= 22 ? (double)w / pow10_exact[k] : (double)w / 1e22 / pow10_exact[k - 22];

	for (int step = 0; step < 4; step++) {
		uint64_t bits, m;
		int e, t;
		u128 v = w, lo, hi;

		memcpy(&bits, &d, sizeof(bits));
		if ((bits >> 52) == 0 || (bits >> 52) >= 0x7ff || (bits & 0xfffffffffffffull) == 0)
			return false;
		m = (bits & 0xfffffffffffffull) | (1ull << 52);
		e = (int)(bits >> 52) - 1075; /* d = m * 2^e */
		/*
		 * The midpoints are (2m -+ 1) * 2^(e-1); against w * 2^-k * 5^-k that is
		 * w * 2^t against (2m -+ 1) * 5^k with t = 1 - e - k.
		 */
		t = 1 - e - (int)k;
		lo = (u128)(2 * m - 1) * p5;
		hi = lo + 2 * (u128)p5;
		if (t >= 0) {
			/* w < 2^64, so shifts below 64 always fit. */
			if (t >= 64 && bit_length(v) + (unsigned)t > 127)
				return false;
			v <<= t;
		} else {
			if (bit_length(hi) + (unsigned)-t > 127)
				return false;
			lo <<= -t;
			hi <<= -t;
		}
		if (v == lo || v == hi)
			return false;
		if (v > lo && v < hi) {
			*out = d;
			return true;
		}
		bits = v < lo ? bits - 1 : bits + 1;
		memcpy(&d, &bits, sizeof(d));
	}
	return false;
}

/*
 * w * 10^e10 correctly rounded when one exact operation gives it (Clinger's fast path:
 * w and the power of ten are both exact doubles, so one IEEE rounding is the right one),
 * or by nearest_quotient(). Returns false for strtod.
 */
static bool exact_decimal(uint64_t w, int e10, double *out)
{
	if (w <= (1ull << 53)) {
		if (e10 >= 0 && e10 <= 22) {
			*out = (double)w * pow10_exact[e10];
			return true;
		}
		if (e10 < 0 && e10 >= -22) {
			*out = (double)w / pow10_exact[-e10];
			return true;
		}
		/* 12e30 is 12e8 * 1e22, with 12e8 still an exact integer. */
		if (e10 > 22 && e10 <= 22 + 15) {
			uint64_t scale = (uint64_t)pow10_exact[e10 - 22];
			if (w <= (1ull << 53) / scale) {
				*out = (double)(w * scale) * 1e22;
				return true;
			}
		}
	}
	if (e10 < 0 && e10 >= -27)
		return nearest_quotient(w, (unsigned)-e10, out);
	return false;
}
#endif

/* strtod() on a copy of the token: what jansson does. False on overflow, as jansson. */
static bool token_strtod(const char *s, size_t n, double *out)
{
	char tmp[BULK_TOKEN_MAX + 1], *e;
	double d;

	if (n > BULK_TOKEN_MAX)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	d = strtod(tmp, &e);
	/* A locale with another decimal point stops at the '.': the reference path copes. */
	if (e != tmp + n || ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE))
		return false;
	*out = d;
	return true;
}

/* Records which datatypes would refuse the real d, as convert() decides. */
static unsigned real_rejects(double d, float f)
{
	unsigned r = isinf(f) ? REJECT_FP32 : 0;

	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
	    (double)(long long)d != d)
		r |= REJECT_INT32 | REJECT_INT64;
	else if (d < -2147483648.0 || d >= 2147483648.0)
		r |= REJECT_INT32;
	return r;
}

/* 10^k for k <= 19, the largest below 2^64. */
static const uint64_t pow10_u64[] = {1ull,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES 0x0101010101010101ull

/*
 * The value of 8 digit bytes (first digit lowest) minus '0' each: pairs, then fours, then
 * all eight, each step a multiply-add of neighbouring lanes that cannot carry over.
 */
static uint64_t eight_digits(uint64_t x)
{
	x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
	x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
	return (x * 10000 + (x >> 32)) & 0xffffffffull;
}
#endif

/*
 * Appends the run of digits at p to *w while w stays below 10^19; digits past that are
 * dropped (counted in *dropped, *inexact when one is not 0). *run is the run's length.
 */
static inline const char *digit_run(const char *p, const char *end, uint64_t *w, size_t *run,
                                    size_t *dropped, bool *inexact)
{
	const char *s = p;
	uint64_t v = *w;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Eight bytes at a time; a lane is a digit when its high nibble is 3 before and after +6.
	 */
	while (end - p >= 8) {
		uint64_t x, nondigit;
		unsigned n;

		memcpy(&x, p, sizeof(x));
		nondigit = ((x & 0xf0 * ONES) ^ 0x30 * ONES) |
		           (((x + 6 * ONES) & 0xf0 * ONES) ^ 0x30 * ONES);
		if (!nondigit) {
			if (v >= pow10_u64[11])
				break;
			v = v * pow10_u64[8] + eight_digits(x - 0x30 * ONES);
			p += 8;
			continue;
		}
		/* A carry can only corrupt lanes after the first non-digit, which we ignore. */
		n = (unsigned)__builtin_ctzll(nondigit) / 8;
		if (n == 0 || v >= pow10_u64[19 - n])
			break;
		v = v * pow10_u64[n] + eight_digits((x - 0x30 * ONES) << (8 * (8 - n)));
		*w = v;
		*run = (size_t)(p + n - s);
		return p + n;
	}
#endif
	for (; p < end && is_digit(*p); p++) {
		if (v < pow10_u64[18]) {
			v = v * 10 + (uint64_t)(*p - '0');
		} else {
			(*dropped)++;
			*inexact |= *p != '0';
		}
	}
	*w = v;
	*run = (size_t)(p - s);
	return p;
}

/*
 * Parses a JSON number at p as jansson reads it (no fraction or exponent: a 64-bit
 * integer; otherwise a correctly rounded double) and stores it as convert() would.
 */
static const char *parse_number(const char *p, const char *end, float *out, unsigned *reject)
{
	const char *start = p;
	bool neg = false, real = false, inexact = false;
	uint64_t w = 0;
	size_t run, dropped = 0;
	long e10 = 0;
	double d;

	if (*p == '-') {
		neg = true;
		if (++p >= end)
			return NULL;
		if (*p == 'I') {
			if (end - p < 8 || memcmp(p, "Infinity", 8) != 0)
				return NULL;
			*out = -INFINITY;
			*reject |= REJECT_INT32 | REJECT_INT64;
			return p + 8;
		}
	}
	if (*p == '0') {
		if (++p < end && is_digit(*p))
			return NULL;
	} else if (is_digit(*p)) {
		p = digit_run(p, end, &w, &run, &dropped, &inexact);
		/* Dropped integer digits still scale the value. */
		e10 = (long)dropped;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		real = true;
		if (++p >= end || !is_digit(*p))
			return NULL;
		dropped = 0;
		p = digit_run(p, end, &w, &run, &dropped, &inexact);
		e10 -= (long)(run - dropped);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		long x = 0;
		real = true;
		if (++p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || !is_digit(*p))
			return NULL;
		do {
			if (x < 100000)
				x = x * 10 + (*p - '0');
		} while (++p < end && is_digit(*p));
		e10 += eneg ? -x : x;
	}
	if (!real) {
		int64_t i;
		/* Beyond int64 jansson refuses the integer: the reference path says so. */
		if (e10 != 0 || w > (neg ? (1ull << 63) : (1ull << 63) - 1))
			return NULL;
		i = neg && w ? -(int64_t)(w - 1) - 1 : (int64_t)w;
		if (i < INT32_MIN || i > INT32_MAX)
			*reject |= REJECT_INT32;
		/* One rounding from the integer, as convert(). */
		*out = (float)i;
		return p;
	}
	if (w == 0) {
		d = 0;
	} else {
#ifdef HAVE_EXACT_FAST_PATHS
		if (inexact || e10 < -1000 || e10 > 1000 || !exact_decimal(w, (int)e10, &d))
#endif
		{
			if (!token_strtod(start, (size_t)(p - start), &d))
				return NULL;
			d = fabs(d);
		}
	}
	if (neg)
		d = -d;
	*out = (float)d;
	*reject |= real_rejects(d, *out);
	return p;
}

/* One element that is not an array: a number, null, or a NaN/Infinity token or string. */
static const char *parse_scalar(const char *p, const char *end, float *out, unsigned *reject)
{
	static const struct {
		const char *s;
		size_t n;
		float v;
		unsigned reject;
	} words[] = {
	    {"null", 4, NAN, 0},
	    {"NaN", 3, NAN, 0},
	    {"Infinity", 8, INFINITY, REJECT_INT32 | REJECT_INT64},
	    {"\"NaN\"", 5, NAN, 0},
	    {"\"Infinity\"", 10, INFINITY, REJECT_INT32 | REJECT_INT64},
	    {"\"-Infinity\"", 11, -INFINITY, REJECT_INT32 | REJECT_INT64},
	};

	if (*p == '-' || is_digit(*p))
		return parse_number(p, end, out, reject);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if ((size_t)(end - p) >= words[i].n && memcmp(p, words[i].s, words[i].n) == 0) {
			*out = words[i].v;
			*reject |= words[i].reject;
			return p + words[i].n;
		}
	}
	return NULL;
}

/* p at '[': values up to the matching ']', appended to b. Returns past the ']'. */
static const char *parse_values(const char *p, const char *end, struct bulk *b)
{
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		if (p >= end || b->n == b->cap)
			return NULL;
		p = parse_scalar(p, end, &b->v[b->n], &b->reject);
		if (!p)
			return NULL;
		b->n++;
		/* After a value comes a delimiter: a word running on ("NaNx") is not ours. */
		if (p < end && *p != ',' && *p != ']')
			p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
	}
}

/*
 * p at the '[' of inputs[0].data: parses it flat (values) or nested (arrays of values,
 * all of one length). Returns past its ']', or NULL for anything else.
 */
static const char *parse_bulk(const char *p, const char *end, unsigned max_depth, struct bulk *b)
{
	const char *q = skip_ws(p + 1, end);

	if (q >= end || *q != '[')
		return parse_values(p, end, b);
	/* The rows open at depth 5 (request, inputs, inputs[0], data, row). */
	if (max_depth < 5)
		return NULL;
	b->nested = true;
	for (p = q;;) {
		size_t before = b->n;
		p = parse_values(p, end, b);
		if (!p)
			return NULL;
		if (b->rows > 0 && b->n - before != b->width)
			return NULL;
		b->width = b->n - before;
		b->rows++;
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
		if (p >= end || *p != '[')
			return NULL;
	}
}

/* Whether the parsed tensor is what decode_data() would accept for this shape and type. */
static bool bulk_fits(const struct bulk *b, enum dtype dt, size_t nrows, size_t ncols, size_t ndim)
{
	static const unsigned refused_by[] = {REJECT_FP32, 0, REJECT_INT32, REJECT_INT64};

	if (b->reject & refused_by[dt])
		return false;
	if (b->nested)
		return ndim == 2 && b->rows == nrows && b->width == ncols;
	return b->n == nrows * ncols;
}

/* The bytes after the JSON of a request framed by Inference-Header-Content-Length. */
struct binpart {
	const unsigned char *p;
	size_t len;
};

static const size_t dtype_sizes[] = {4, 8, 4, 8};

static uint32_t load_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/*
 * n little-endian values of type dt at p into floats, with the casts convert() applies to
 * the same values in JSON. Every bit pattern is a value here (NaN is missing), so nothing
 * can fail and the loops stay free of checks.
 */
static void convert_binary(const unsigned char *p, size_t n, enum dtype dt, float *out)
{
	switch (dt) {
	case DT_FP32:
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(out, p, n * sizeof(float));
#else
		for (size_t i = 0; i < n; i++) {
			uint32_t u = load_le32(p + 4 * i);
			memcpy(&out[i], &u, sizeof(u));
		}
#endif
		break;
	case DT_FP64:
		for (size_t i = 0; i < n; i++) {
			uint64_t u = load_le64(p + 8 * i);
			double d;
			memcpy(&d, &u, sizeof(d));
			out[i] = (float)d;
		}
		break;
	case DT_INT32:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int32_t)load_le32(p + 4 * i);
		break;
	case DT_INT64:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int64_t)load_le64(p + 8 * i);
		break;
	}
}

/*
 * The input's values from the binary part: binary_data_size (bds) must be what the shape
 * and datatype take, and the bytes after the JSON exactly that many.
 */
static int decode_binary_input(const json_t *bds, enum dtype dt, size_t nrows, size_t ncols,
                               size_t ndim, const struct binpart *bin, float **out, char *err,
                               size_t errlen)
{
	char shape[64];
	size_t n = nrows * ncols, want;

	if (ndim == 2)
		snprintf(shape, sizeof(shape), "[%zu, %zu]", nrows, ncols);
	else
		snprintf(shape, sizeof(shape), "[%zu]", ncols);
	if (!json_is_integer(bds) || json_integer_value(bds) < 0)
		return fail(err, errlen,
		            "inputs[0].parameters.binary_data_size: expected a byte count (an "
		            "integer >= 0), got %s",
		            json_is_integer(bds) ? "a negative number" : type_name(bds));
	if (__builtin_mul_overflow(n, dtype_sizes[dt], &want) ||
	    (uintmax_t)json_integer_value(bds) != (uintmax_t)want)
		return fail(err, errlen,
		            "inputs[0].parameters.binary_data_size: %" JSON_INTEGER_FORMAT
		            " bytes, but shape %s of %s takes %zu x %zu = %zu",
		            json_integer_value(bds), shape, dtype_names[dt], n, dtype_sizes[dt],
		            want);
	if (bin->len != want)
		return fail(
		    err, errlen,
		    "Inference-Header-Content-Length: %zu bytes of binary tensor data follow "
		    "the JSON header, but inputs[0].parameters.binary_data_size is %zu",
		    bin->len, want);
	*out = malloc(n ? n * sizeof(float) : 1);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	convert_binary(bin->p, n, dt, *out);
	return 0;
}

/* bulk is the data parsed by the bulk path (then data is the [] left in its place), or NULL. */
static int decode_input(const json_t *in, size_t num_feature, const struct infer_limits *lim,
                        struct bulk *bulk, const struct binpart *bin, struct infer_request *req,
                        char *err, size_t errlen)
{
	const json_t *name, *datatype, *data, *params, *bds;
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
	params = json_object_get(in, "parameters");
	bds = params ? json_object_get(params, "binary_data_size") : NULL;
	if (bds) {
		if (!bin)
			return fail(
			    err, errlen,
			    "inputs[0].parameters.binary_data_size: binary tensor data needs "
			    "the Inference-Header-Content-Length header");
		if (data)
			return fail(err, errlen,
			            "inputs[0].data: not allowed together with "
			            "parameters.binary_data_size");
		req->input_name = strdup(json_string_value(name));
		if (!req->input_name) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		req->nrows = nrows;
		req->ncols = ncols;
		return decode_binary_input(bds, dt, nrows, ncols, ndim, bin, &req->data, err,
		                           errlen);
	}
	if (bin && bin->len)
		return fail(err, errlen,
		            data ? "Inference-Header-Content-Length: %zu bytes follow the JSON "
		                   "header, but no input has parameters.binary_data_size"
		                 : "inputs[0].parameters.binary_data_size: required for the %zu "
		                   "bytes of binary tensor data after the JSON header",
		            bin->len);
	if (!data)
		return fail(err, errlen, "inputs[0].data: required");
	if (!json_is_array(data))
		return fail(err, errlen, "inputs[0].data: expected an array, got %s",
		            type_name(data));
	if (bulk) {
		/* Anything but our [] in place, or a tensor the reference would refuse: let it. */
		if (json_array_size(data) != 0 || !bulk_fits(bulk, dt, nrows, ncols, ndim))
			return -EINVAL;
		req->input_name = strdup(json_string_value(name));
		if (!req->input_name)
			return -ENOMEM;
		req->data = bulk->v;
		bulk->v = NULL;
		req->nrows = nrows;
		req->ncols = ncols;
		return 0;
	}
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

/* Everything after parsing: the same checks, in the same order, for both paths. */
static int decode_tree(const json_t *root, size_t num_feature, const struct infer_limits *lim,
                       struct bulk *bulk, const struct binpart *bin, struct infer_request *req,
                       char *err, size_t errlen)
{
	const json_t *id, *inputs;
	bool all_binary;
	int r;

	if (!json_is_object(root))
		return fail(err, errlen, "request: expected a JSON object, got %s",
		            type_name(root));
	id = json_object_get(root, "id");
	if (id && !json_is_string(id))
		return fail(err, errlen, "id: expected a string, got %s", type_name(id));
	r = check_parameters(root, "request", err, errlen);
	if (r < 0)
		return r;
	inputs = json_object_get(root, "inputs");
	if (!inputs)
		return fail(err, errlen, "inputs: required");
	if (!json_is_array(inputs))
		return fail(err, errlen, "inputs: expected an array, got %s", type_name(inputs));
	if (json_array_size(inputs) != 1)
		return fail(err, errlen, "inputs: expected exactly one input tensor, got %zu",
		            json_array_size(inputs));
	r = param_bool(root, "", "binary_data_output", false, &all_binary, err, errlen);
	if (r < 0)
		return r;
	r = decode_outputs(json_object_get(root, "outputs"), all_binary, req, err, errlen);
	if (r < 0)
		return r;
	r = decode_input(json_array_get(inputs, 0), num_feature, lim, bulk, bin, req, err, errlen);
	if (r < 0)
		return r;
	if (id) {
		req->id = strdup(json_string_value(id));
		if (!req->id) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The skeleton fast path. Once the bulk parser has read inputs[0].data, what is left of a
 * plain one-row request is a handful of short strings, and building it as jansson values
 * (hash tables, an allocation per value) cost more than the inference. So the common
 * spelling is read here: a request object holding "id" and "inputs" (one input object with
 * "name", "datatype", "shape" and the data already parsed), plus any other key whose value
 * is a plain scalar. Strings must be printable ASCII without escapes, integers at most 18
 * digits without fraction or exponent, keys unique. Like the bulk path it only ever says
 * yes: "outputs", "parameters", anything else, and every error go to jansson, which then
 * gives the same answer or the message.
 */
struct skel_str {
	const char *p;
	size_t n;
};

/* Keys of one object the skeleton path checks for duplicates: its own four and this many more. */
#define SKEL_MAX_OTHER 8

/* p at a quote: a string of printable ASCII without escapes, returned past its closing quote. */
static const char *skel_string(const char *p, const char *end, struct skel_str *out)
{
	const char *q = ++p;

	while (q < end && *q != '"') {
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
			return NULL;
		q++;
	}
	if (q >= end)
		return NULL;
	out->p = p;
	out->n = (size_t)(q - p);
	return q + 1;
}

/* A JSON integer of at most 18 digits (so jansson reads it without overflow). */
static const char *skel_int(const char *p, const char *end, bool *neg, uint64_t *v)
{
	const char *d;

	*neg = p < end && *p == '-';
	if (*neg)
		p++;
	d = p;
	*v = 0;
	while (p < end && is_digit(*p) && p - d < 18)
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	if (p == d || (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E')) ||
	    (*d == '0' && p - d > 1))
		return NULL;
	return p;
}

/* A value of a key the request does not use: a plain string, integer, true, false or null. */
static const char *skel_scalar(const char *p, const char *end)
{
	static const char *const words[] = {"true", "false", "null"};
	struct skel_str s;
	uint64_t v;
	bool neg;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return skel_string(p, end, &s);
	if (*p == '-' || is_digit(*p))
		return skel_int(p, end, &neg, &v);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
			return p + n;
	}
	return NULL;
}

static bool skel_is(const struct skel_str *k, const char *lit)
{
	return k->n == strlen(lit) && memcmp(k->p, lit, k->n) == 0;
}

/* Keys seen in one object: false when k repeats one of them (or there are too many). */
static bool skel_note(struct skel_str *seen, size_t *n, const struct skel_str *k)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i].n == k->n && memcmp(seen[i].p, k->p, k->n) == 0)
			return false;
	if (*n == SKEL_MAX_OTHER + 4)
		return false;
	seen[(*n)++] = *k;
	return true;
}

/* p at '{': reads members until '}' through member(), which reads each value. */
static const char *skel_object(const char *p, const char *end,
                               const char *(*member)(const struct skel_str *key, const char *p,
                                                     const char *end, void *ctx),
                               void *ctx)
{
	struct skel_str seen[SKEL_MAX_OTHER + 4], key;
	size_t nseen = 0;

	p = skip_ws(p + 1, end);
	if (p >= end || *p != '"')
		return NULL;
	for (;;) {
		if (p >= end || *p != '"' || !(p = skel_string(p, end, &key)) ||
		    !skel_note(seen, &nseen, &key))
			return NULL;
		p = skip_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = member(&key, skip_ws(p + 1, end), end, ctx);
		if (!p)
			return NULL;
		p = skip_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
	}
}

struct skel {
	const char *data, *data_end;        /* inputs[0].data, as the bulk parser read it */
	struct skel_str id, name, datatype; /* .p NULL: not in the request */
	bool have_inputs, have_data;
	size_t dims[2], ndims;
};

/* A member whose value must be a string (anything else leaves the skeleton path). */
static const char *skel_string_member(const char *p, const char *end, struct skel_str *out)
{
	return p < end && *p == '"' ? skel_string(p, end, out) : NULL;
}

static const char *skel_input_member(const struct skel_str *key, const char *p, const char *end,
                                     void *ctx)
{
	struct skel *k = ctx;

	if (skel_is(key, "name"))
		return skel_string_member(p, end, &k->name);
	if (skel_is(key, "datatype"))
		return skel_string_member(p, end, &k->datatype);
	if (skel_is(key, "data")) {
		k->have_data = p == k->data;
		return k->have_data ? k->data_end : NULL;
	}
	if (skel_is(key, "shape")) {
		if (p >= end || *p != '[')
			return NULL;
		for (p = skip_ws(p + 1, end); k->ndims < 2; p = skip_ws(p + 1, end)) {
			uint64_t v;
			bool neg;
			p = skel_int(p, end, &neg, &v);
			if (!p || neg || v == 0 || v > SIZE_MAX)
				return NULL;
			k->dims[k->ndims++] = (size_t)v;
			p = skip_ws(p, end);
			if (p < end && *p == ']')
				return p + 1;
			if (p >= end || *p != ',')
				return NULL;
		}
		return NULL;
	}
	if (skel_is(key, "parameters"))
		return NULL;
	return skel_scalar(p, end);
}

static const char *skel_request_member(const struct skel_str *key, const char *p, const char *end,
                                       void *ctx)
{
	struct skel *k = ctx;

	if (skel_is(key, "id"))
		return skel_string_member(p, end, &k->id);
	if (skel_is(key, "inputs")) {
		if (p >= end || *p != '[')
			return NULL;
		p = skip_ws(p + 1, end);
		if (p >= end || *p != '{' || !(p = skel_object(p, end, skel_input_member, k)))
			return NULL;
		p = skip_ws(p, end);
		k->have_inputs = p < end && *p == ']';
		return k->have_inputs ? p + 1 : NULL;
	}
	if (skel_is(key, "outputs") || skel_is(key, "parameters"))
		return NULL;
	return skel_scalar(p, end);
}

static char *skel_dup(const struct skel_str *s)
{
	char *d = malloc(s->n + 1);

	if (d) {
		memcpy(d, s->p, s->n);
		d[s->n] = '\0';
	}
	return d;
}

/*
 * Decodes the request around the bulk-parsed data [data, data_end) without jansson; false
 * (req untouched) when the request is not of the skeleton form or would be refused.
 */
static bool decode_skeleton(const char *body, const char *end, const char *data,
                            const char *data_end, size_t num_feature,
                            const struct infer_limits *lim, struct bulk *b,
                            struct infer_request *req)
{
	struct skel k = {.data = data, .data_end = data_end};
	size_t nrows, ncols, ndim;
	enum dtype dt = DT_FP32;
	bool known = false;
	const char *p = skip_ws(body, end);

	/* The skeleton nests 4 deep (request, inputs, inputs[0], shape); data checked its own. */
	if (lim->max_depth < 5 || p >= end || *p != '{' ||
	    !(p = skel_object(p, end, skel_request_member, &k)) || skip_ws(p, end) != end)
		return false;
	if (!k.have_inputs || !k.name.p || !k.datatype.p || !k.have_data || !k.ndims)
		return false;
	for (size_t i = 0; i < sizeof(dtype_names) / sizeof(dtype_names[0]); i++) {
		if (skel_is(&k.datatype, dtype_names[i])) {
			dt = (enum dtype)i;
			known = true;
		}
	}
	if (!known ||
	    shape_bounds(k.dims, k.ndims, num_feature, lim, &nrows, &ncols, &ndim, NULL, 0) < 0 ||
	    !bulk_fits(b, dt, nrows, ncols, ndim))
		return false;
	req->input_name = skel_dup(&k.name);
	req->id = k.id.p ? skel_dup(&k.id) : NULL;
	if (!req->input_name || (k.id.p && !req->id)) {
		infer_request_free(req);
		return false;
	}
	req->want_predict = true;
	req->data = b->v;
	b->v = NULL;
	req->nrows = nrows;
	req->ncols = ncols;
	return true;
}

/* The bulk path: true when it decoded the request, false to use the reference path. */
static bool decode_bulk(const char *body, size_t len, size_t num_feature,
                        const struct infer_limits *lim, const struct binpart *bin,
                        struct infer_request *req)
{
	const char *end = body + len, *start, *stop;
	struct bulk b = {0};
	json_t *root = NULL;
	char *rest = NULL, scratch[160];
	size_t head, tail;
	bool ok = false;

	if (!body || !(start = find_data(body, end)))
		return false;
	/* n values take at least 2n - 1 bytes, and more than max_elements never fit a shape. */
	b.cap = (size_t)(end - start) / 2 + 1;
	if (b.cap > lim->max_elements)
		b.cap = lim->max_elements;
	if (b.cap > SIZE_MAX / sizeof(float))
		return false;
	b.v = malloc(b.cap ? b.cap * sizeof(float) : 1);
	if (!b.v)
		return false;
	stop = parse_bulk(start, end, lim->max_depth, &b);
	if (!stop)
		goto out;
	/*
	 * The estimate was generous; give the rest back when it is worth a realloc. The
	 * buffer lives only until the answer is built, so a smaller surplus stays in place.
	 */
	if ((b.cap - b.n) * sizeof(float) > INFER_SHRINK_BYTES) {
		float *v = realloc(b.v, b.n ? b.n * sizeof(float) : 1);
		if (v)
			b.v = v;
	}
	if (!bin && decode_skeleton(body, end, start, stop, num_feature, lim, &b, req)) {
		ok = true;
		goto out;
	}
	head = (size_t)(start - body);
	tail = (size_t)(end - stop);
	rest = malloc(head + 2 + tail);
	if (!rest)
		goto out;
	memcpy(rest, body, head);
	memcpy(rest + head, "[]", 2);
	memcpy(rest + head + 2, stop, tail);
	if (jsonx_parse(rest, head + 2 + tail, lim->max_depth, 1, &root, scratch, sizeof(scratch)) <
	    0)
		goto out;
	ok = decode_tree(root, num_feature, lim, &b, bin, req, scratch, sizeof(scratch)) == 0;
out:
	json_decref(root);
	free(rest);
	free(b.v);
	if (!ok)
		infer_request_free(req);
	return ok;
}

/* bin: the bytes after the JSON when the request is framed for binary tensor data, or NULL. */
static int decode_body(const char *body, size_t len, const struct binpart *bin, size_t num_feature,
                       const struct infer_limits *lim, struct infer_request *req, char *err,
                       size_t errlen)
{
	json_t *root = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	if (decode_bulk(body, len, num_feature, lim, bin, req))
		return 0;
	r = jsonx_parse(body, len, lim->max_depth, 1, &root, err, errlen);
	if (r < 0) {
		if (bin && err && errlen) {
			/* The header may have cut the JSON short: say where the JSON ended. */
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen,
			         "JSON header (the first %zu bytes, "
			         "Inference-Header-Content-Length): %s",
			         len, why);
		}
		return r;
	}
	r = decode_tree(root, num_feature, lim, NULL, bin, req, err, errlen);
	json_decref(root);
	if (r < 0)
		infer_request_free(req);
	return r;
}

int infer_decode(const char *body, size_t len, size_t num_feature, const struct infer_limits *lim,
                 struct infer_request *req, char *err, size_t errlen)
{
	return decode_body(body, len, NULL, num_feature, lim, req, err, errlen);
}

int infer_decode_binary(const char *body, size_t len, size_t json_len, size_t num_feature,
                        const struct infer_limits *lim, struct infer_request *req, char *err,
                        size_t errlen)
{
	struct binpart bin;

	memset(req, 0, sizeof(*req));
	if (json_len > len)
		return fail(
		    err, errlen,
		    "Inference-Header-Content-Length: %zu exceeds the body length (%zu bytes)",
		    json_len, len);
	bin.p = body ? (const unsigned char *)body + json_len : NULL;
	bin.len = len - json_len;
	return decode_body(body, json_len, &bin, num_feature, lim, req, err, errlen);
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

/* Decimal digits by hand: every answer has a shape, and snprintf costs more than the rest. */
static void sb_size(struct sbuf *b, size_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(b, tmp + i, sizeof(tmp) - i);
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

#ifdef __SIZEOF_INT128__

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
	if (!candidates(4 * m - ((bits & 0x7fffffu) == 0 && (bits >> 23) > 1 ? 1 : 2), 4 * m + 2, a,
	                klo, inclusive, &cmin, &cmax) ||
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

#endif

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
 * The fewest significant digits of f (finite, nonzero) that read back to it, through
 * printf: 8 and 9 digits are probed first (what computed values need), then a bisection
 * below, since round-tripping is monotonic in the digit count. Returns printf's text.
 */
static int printf_shortest(float f, char out[32])
{
	char tmp[32];
	int lo = 1, hi = 7, n, m;

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

/*
 * printf's %g text s (at most 9 significant digits) rewritten as write_decimal() spells
 * it, so that a value prints the same whichever path found its digits, and on every
 * architecture (without __int128 every value takes this path).
 */
static int respell(const char *s, char out[32])
{
	bool neg = *s == '-', frac = false;
	uint64_t digits = 0;
	int k = 0;

	for (s += neg; *s && *s != 'e'; s++) {
		if (*s == '.') {
			frac = true;
			continue;
		}
		digits = digits * 10 + (uint64_t)(*s - '0');
		k -= frac;
	}
	if (*s == 'e')
		k += atoi(s + 1);
	while (digits % 10 == 0) {
		digits /= 10;
		k++;
	}
	return write_decimal(neg, digits, k, out);
}

/*
 * Prints f with the fewest significant digits that read back to the same float; NaN and
 * infinities are null. Returns the length. The exact integer method covers the usual
 * range; the rest goes through printf.
 */
static int format_float(float f, char out[32])
{
	char tmp[32];
	int k;
	uint64_t digits;

	if (!isfinite(f)) {
		memcpy(out, "null", 5);
		return 4;
	}
	if (f == 0) {
		memcpy(out, signbit(f) ? "-0" : "0", signbit(f) ? 3 : 2);
		return signbit(f) ? 2 : 1;
	}
#ifdef __SIZEOF_INT128__
	if (shortest(fabsf(f), &digits, &k))
		return write_decimal(f < 0, digits, k, out);
#else
	(void)digits;
	(void)k;
#endif
	printf_shortest(f, tmp);
	return respell(tmp, out);
}

static void sb_float(struct sbuf *b, float f)
{
	char tmp[32];
	int n = format_float(f, tmp);

	sb_put(b, tmp, (size_t)n);
}

int infer_encode_binary(const char *model_name, const char *model_version, const char *id,
                        const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen,
                        size_t *json_len)
{
	struct sbuf b = {0};
	size_t guess = 256, bin_bytes = 0;

	*out = NULL;
	*outlen = 0;
	*json_len = 0;
	/*
	 * About 12 bytes per JSON value, 4 per binary one; one allocation in the usual case.
	 * A tensor whose size overflows could never be written: refused here, so the products
	 * below (nrows * width, n * sizeof(float)) are known to fit.
	 */
	for (size_t i = 0; i < n_outs; i++) {
		size_t n, bytes;
		if (__builtin_mul_overflow(outs[i].nrows, outs[i].width, &n) ||
		    __builtin_mul_overflow(n, sizeof(float), &bytes))
			return -ENOMEM;
		if (outs[i].binary && __builtin_add_overflow(bin_bytes, bytes, &bin_bytes))
			return -ENOMEM;
		/* Only a hint: saturated rather than wrapped; sb_reserve() grows as needed. */
		if (__builtin_mul_overflow(n, (size_t)(outs[i].binary ? 4 : 12), &bytes) ||
		    __builtin_add_overflow(guess, bytes, &guess) ||
		    __builtin_add_overflow(guess, (size_t)128, &guess))
			guess = SIZE_MAX / 2;
	}
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
		if (o->binary) {
			sb_puts(&b, "],\"parameters\":{\"binary_data_size\":");
			sb_size(&b, n * sizeof(float));
			sb_puts(&b, "}}");
			continue;
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
	*json_len = b.len;
	/* The raw bytes, in the order of the outputs in the JSON. */
	for (size_t i = 0; i < n_outs && bin_bytes; i++) {
		const struct infer_output *o = &outs[i];
		size_t n = o->nrows * o->width;
		if (!o->binary || !sb_reserve(&b, n * sizeof(float)))
			continue;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(b.p + b.len, o->data, n * sizeof(float));
#else
		for (size_t k = 0; k < n; k++) {
			uint32_t u;
			memcpy(&u, &o->data[k], sizeof(u));
			u = __builtin_bswap32(u);
			memcpy(b.p + b.len + 4 * k, &u, sizeof(u));
		}
#endif
		/* One NaN on every architecture (x86 makes 0xffc00000, arm64 0x7fc00000). */
		for (size_t k = 0; k < n; k++)
			if (isnan(o->data[k]))
				memcpy(b.p + b.len + 4 * k, "\x00\x00\xc0\x7f", 4);
		b.len += n * sizeof(float);
	}
	if (b.oom) {
		free(b.p);
		*json_len = 0;
		return -ENOMEM;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	*outlen = b.len;
	return 0;
}

int infer_encode(const char *model_name, const char *model_version, const char *id,
                 const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen)
{
	size_t json_len;

	return infer_encode_binary(model_name, model_version, id, outs, n_outs, out, outlen,
	                           &json_len);
}
