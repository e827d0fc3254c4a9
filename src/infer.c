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

#include "conf.h"
#include "jscan.h"
#include "jsonx.h"
#include "num.h"
#include "strbuf.h"
#include "util.h"

/* Every numeric datatype of the protocol; a request's tensor is read as XGBoost would read it. */
enum dtype {
	DT_BOOL,
	DT_UINT8,
	DT_UINT16,
	DT_UINT32,
	DT_UINT64,
	DT_INT8,
	DT_INT16,
	DT_INT32,
	DT_INT64,
	DT_FP16,
	DT_FP32,
	DT_FP64,
	DT_COUNT
};

static const char *const dtype_names[DT_COUNT] = {"BOOL",   "UINT8", "UINT16", "UINT32",
                                                  "UINT64", "INT8",  "INT16",  "INT32",
                                                  "INT64",  "FP16",  "FP32",   "FP64"};
#define DTYPE_LIST                                                                                 \
	"BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64"

/* Bytes per element in binary tensor data (BOOL is one byte, 0 or 1). */
static const size_t dtype_sizes[DT_COUNT] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};

/* The integer types' ranges: [lo, hi] exactly, and [dlo, dhi) as exact doubles. */
static const struct {
	int64_t lo;
	uint64_t hi;
	double dlo, dhi;
} int_range[DT_COUNT] = {
    [DT_UINT8] = {0, UINT8_MAX, 0.0, 256.0},
    [DT_UINT16] = {0, UINT16_MAX, 0.0, 65536.0},
    [DT_UINT32] = {0, UINT32_MAX, 0.0, 4294967296.0},
    [DT_UINT64] = {0, UINT64_MAX, 0.0, 18446744073709551616.0},
    [DT_INT8] = {INT8_MIN, INT8_MAX, -128.0, 128.0},
    [DT_INT16] = {INT16_MIN, INT16_MAX, -32768.0, 32768.0},
    [DT_INT32] = {INT32_MIN, INT32_MAX, -2147483648.0, 2147483648.0},
    [DT_INT64] = {INT64_MIN, INT64_MAX, -9223372036854775808.0, 9223372036854775808.0},
};

static bool dtype_is_int(enum dtype dt)
{
	return dt >= DT_UINT8 && dt <= DT_INT64;
}

/* "an INT8", "a UINT8": the article for messages. */
static const char *dtype_article(enum dtype dt)
{
	return dtype_names[dt][0] == 'I' ? "an" : "a";
}

/* Whether the JSON integer i fits the integer type dt. */
static bool int_fits(enum dtype dt, int64_t i)
{
	return i >= int_range[dt].lo && (i < 0 || (uint64_t)i <= int_range[dt].hi);
}

/*
 * IEEE binary16 to float: exact (every half is a float), subnormals, infinities and NaN
 * included. numpy's float16 arrays reach XGBoost through astype(float32), which is this.
 */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
	float f;

	if (e == 0) {
		f = ldexpf((float)m, -24);
		return sign ? -f : f;
	}
	if (e == 0x1f)
		bits = sign | 0x7f800000u | (m << 13);
	else
		bits = sign | ((e + 112) << 23) | (m << 13);
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * d rounded to the nearest binary16, ties to even, as numpy's float16 conversion rounds a
 * Python float (a double): overflow gives infinity, underflow a subnormal or zero.
 */
static uint16_t half_from_double(double d)
{
	uint64_t b, mant, full, q, rest, halfway;
	uint16_t sign;
	int e, shift;

	memcpy(&b, &d, sizeof(b));
	sign = (uint16_t)((b >> 48) & 0x8000u);
	e = (int)((b >> 52) & 0x7ff);
	mant = b & 0xfffffffffffffull;
	if (e == 0x7ff)
		return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
	e -= 1023;
	if (e > 15)
		return (uint16_t)(sign | 0x7c00u);
	if (e >= -14) {
		/* Normal: the top 10 of 52 mantissa bits, rounded on the other 42 (a carry
		 * moves into the exponent, up to infinity). */
		uint32_t h = (uint32_t)((e + 15) << 10) | (uint32_t)(mant >> 42);
		rest = mant & ((1ull << 42) - 1);
		halfway = 1ull << 41;
		if (rest > halfway || (rest == halfway && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	if (e < -25)
		return sign; /* below half the smallest subnormal (2^-25): zero */
	/* Subnormal: the value in units of 2^-24, rounded; 1024 units is the smallest normal. */
	full = mant | (1ull << 52);
	shift = 28 - e;
	q = full >> shift;
	rest = full & ((1ull << shift) - 1);
	halfway = 1ull << (shift - 1);
	if (rest > halfway || (rest == halfway && (q & 1)))
		q++;
	return (uint16_t)(sign | q);
}

/* A decoded tensor's unused tail worth a realloc to give back (smaller ones are kept). */
#define INFER_SHRINK_BYTES (64 * 1024)

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
 * Converts one data element to the float XGBoost sees for it in a numpy array of type dt.
 * null (and the NaN token or string) is missing in every type. BOOL takes true and false.
 * Integer types take integers in their range (a real without a fraction is one), cast to
 * float directly (XGBoost's static_cast: one rounding). Floating types take numbers
 * through a double, as numpy builds an array from Python numbers: FP16 rounds that to
 * binary16, FP32 and FP16 refuse finite values beyond their range, FP64 narrows like
 * astype(float32). Returns 0, or -EINVAL with the reason (the caller prepends the path).
 */
static int convert(const json_t *v, enum dtype dt, float *out, char *why, size_t whylen)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		*out = NAN;
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		if (dt != DT_BOOL)
			break;
		*out = json_is_true(v) ? 1.0f : 0.0f;
		return 0;
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		if (dt == DT_BOOL)
			break;
		if (dtype_is_int(dt)) {
			if (!int_fits(dt, i))
				return util_fail(why, whylen, -EINVAL,
				                 "%" JSON_INTEGER_FORMAT " is out of range for %s",
				                 i, dtype_names[dt]);
			/* One rounding from the integer, as XGBoost's static_cast. */
			*out = (float)i;
			return 0;
		}
		/* numpy makes a Python int a double first, then the array's type. */
		if (dt == DT_FP16) {
			*out = half_to_float(half_from_double((double)i));
			if (isinf(*out))
				return util_fail(
				    why, whylen, -EINVAL,
				    "%" JSON_INTEGER_FORMAT " is out of range for FP16", i);
			return 0;
		}
		*out = (float)(double)i;
		return 0;
	}
	case JSON_REAL: {
		double d = json_real_value(v);
		float f;
		if (dt == DT_BOOL)
			break;
		if (dtype_is_int(dt)) {
			if (d != floor(d))
				return util_fail(why, whylen, -EINVAL,
				                 "%.17g is not an integer (%s)", d,
				                 dtype_names[dt]);
			if (d < int_range[dt].dlo || d >= int_range[dt].dhi)
				return util_fail(why, whylen, -EINVAL,
				                 "%.17g is out of range for %s", d,
				                 dtype_names[dt]);
		}
		f = dt == DT_FP16 ? half_to_float(half_from_double(d)) : (float)d;
		/* FP64 narrows like numpy (overflow to inf); FP32 and FP16 must already fit. */
		if ((dt == DT_FP32 || dt == DT_FP16) && isinf(f))
			return util_fail(why, whylen, -EINVAL, "%g is out of range for %s", d,
			                 dtype_names[dt]);
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
			if (dtype_is_int(dt) || dt == DT_BOOL)
				return util_fail(why, whylen, -EINVAL, "%s is not %s %s value", s,
				                 dtype_article(dt), dtype_names[dt]);
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		break;
	}
	default:
		break;
	}
	if (dt == DT_BOOL)
		return util_fail(why, whylen, -EINVAL,
		                 "expected true, false or null (BOOL), got %s", type_name(v));
	return util_fail(why, whylen, -EINVAL, "expected a number or null, got %s", type_name(v));
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
			return util_fail(err, errlen, -EINVAL, "%s[%zu]: %s", path, i, why);
	}
	return 0;
}

static int check_parameters(const json_t *obj, const char *path, char *err, size_t errlen)
{
	const json_t *p = json_object_get(obj, "parameters");

	if (p && !json_is_object(p))
		return util_fail(err, errlen, -EINVAL, "%s.parameters: expected an object, got %s",
		                 path, type_name(p));
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
		return util_fail(err, errlen, -EINVAL,
		                 "%sparameters.%s: expected true or false, got %s", path, key,
		                 type_name(v));
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

	req->binary_all = all_binary;
	if (!outputs || json_array_size(outputs) == 0) {
		if (outputs && !json_is_array(outputs))
			return util_fail(err, errlen, -EINVAL, "outputs: expected an array, got %s",
			                 type_name(outputs));
		return 0;
	}
	json_array_foreach(outputs, i, o)
	{
		const json_t *name;
		const char *s;
		unsigned bit = 0;
		bool binary;
		snprintf(path, sizeof(path), "outputs[%zu]", i);
		if (!json_is_object(o))
			return util_fail(err, errlen, -EINVAL, "%s: expected an object, got %s",
			                 path, type_name(o));
		name = json_object_get(o, "name");
		if (!name)
			return util_fail(err, errlen, -EINVAL, "%s.name: required", path);
		if (!json_is_string(name))
			return util_fail(err, errlen, -EINVAL, "%s.name: expected a string, got %s",
			                 path, type_name(name));
		s = json_string_value(name);
		for (unsigned j = 0; j < CONF_N_OUTPUTS; j++)
			if (strcmp(s, conf_output_names[j]) == 0)
				bit = 1u << j;
		if (!bit)
			return util_fail(err, errlen, -EINVAL,
			                 "%s.name: \"%.64s\" is not an output (predict, margin, "
			                 "predict_proba, label, contribs, leaf)",
			                 path, s);
		if (check_parameters(o, path, err, errlen) < 0)
			return -EINVAL;
		snprintf(path, sizeof(path), "outputs[%zu].", i);
		if (param_bool(o, path, "binary_data", all_binary, &binary, err, errlen) < 0)
			return -EINVAL;
		/* Named twice: one output, with the last one's parameters. */
		req->want |= bit;
		req->binary = binary ? req->binary | bit : req->binary & ~bit;
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
		return util_fail(err, errlen, -EINVAL, "inputs[0].shape: required");
	if (!json_is_array(shape))
		return util_fail(err, errlen, -EINVAL, "inputs[0].shape: expected an array, got %s",
		                 type_name(shape));
	n = json_array_size(shape);
	if (n != 1 && n != 2)
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].shape: expected [N, F] or [F], got %zu dimensions", n);
	for (size_t i = 0; i < n; i++) {
		const json_t *d = json_array_get(shape, i);
		if (!json_is_integer(d))
			return util_fail(
			    err, errlen, -EINVAL,
			    "inputs[0].shape[%zu]: expected a positive integer, got %s", i,
			    type_name(d));
		if (json_integer_value(d) <= 0)
			return util_fail(err, errlen, -EINVAL,
			                 "inputs[0].shape[%zu]: expected a positive integer, got "
			                 "%" JSON_INTEGER_FORMAT,
			                 i, json_integer_value(d));
		if ((uintmax_t)json_integer_value(d) > SIZE_MAX)
			return util_fail(err, errlen, -EINVAL, "inputs[0].shape[%zu]: too large",
			                 i);
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
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].shape[%zu]: the model takes %zu features, got %zu",
		                 n - 1, num_feature, *ncols);
	if (*nrows > lim->max_rows)
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].shape[0]: %zu rows exceed the limit of %zu", *nrows,
		                 lim->max_rows);
	if (__builtin_mul_overflow(*nrows, *ncols, &elems) || elems > lim->max_elements ||
	    elems > SIZE_MAX / sizeof(float))
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].shape: %zu x %zu elements exceed the limit of %zu",
		                 *nrows, *ncols, lim->max_elements);
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
			return util_fail(err, errlen, -EINVAL,
			                 "inputs[0].data: %zu rows for shape %s, expected %zu", n,
			                 shape, nrows);
		for (size_t r = 0; r < nrows; r++) {
			const json_t *row = json_array_get(data, r);
			if (!json_is_array(row))
				return util_fail(
				    err, errlen, -EINVAL,
				    "inputs[0].data[%zu]: expected an array of %zu values, "
				    "got %s",
				    r, ncols, type_name(row));
			if (json_array_size(row) != ncols)
				return util_fail(
				    err, errlen, -EINVAL,
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
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].data: %zu values for shape %s, expected %zu", n, shape,
		                 nrows * ncols);
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

/*
 * Why a parsed tensor would be refused or read otherwise, per datatype: bit 1 << dt. The
 * bulk path stores one float per value, the same for every datatype it accepts; a
 * datatype whose value would differ is refused here and left to the reference path: BOOL
 * (true and false are not parsed here), FP16 (rounded through binary16), FP32 and FP64 for
 * integers beyond 2^53 (numpy rounds them to double first), and every type but UINT64
 * for integers beyond INT64_MAX (which jansson, the reference, does not take).
 */
#define REJECT(dt) (1u << (dt))
#define REJECT_INTS                                                                                \
	(REJECT(DT_UINT8) | REJECT(DT_UINT16) | REJECT(DT_UINT32) | REJECT(DT_UINT64) |            \
	 REJECT(DT_INT8) | REJECT(DT_INT16) | REJECT(DT_INT32) | REJECT(DT_INT64))
#define REJECT_NUMBER    (REJECT(DT_BOOL) | REJECT(DT_FP16))
#define REJECT_NONFINITE (REJECT_INTS | REJECT(DT_BOOL))

struct bulk {
	float *v;
	size_t n, cap;
	bool nested;
	size_t rows, width; /* when nested: rows, and values per row (all alike) */
	unsigned reject;    /* REJECT() of the datatypes that would refuse a value */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Finds the '[' opening inputs[0].data, or NULL when the body is not of the plain form. */
static const char *find_data(const char *p, const char *end)
{
	bool in_input = false;

	p = jscan_ws(p, end);
	if (p >= end || *p != '{')
		return NULL;
	p++;
	for (;;) {
		const char *key;
		size_t klen;
		bool escaped = false;

		p = jscan_ws(p, end);
		if (p >= end || *p != '"')
			return NULL;
		key = p + 1;
		p = jscan_string(p, end, &escaped);
		/* An escaped key may spell "inputs" or "data" (or duplicate them). */
		if (!p || escaped)
			return NULL;
		klen = (size_t)(p - 1 - key);
		p = jscan_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = jscan_ws(p + 1, end);
		if (p >= end)
			return NULL;
		if (!in_input && klen == 6 && memcmp(key, "inputs", 6) == 0) {
			if (*p != '[')
				return NULL;
			p = jscan_ws(p + 1, end);
			if (p >= end || *p != '{')
				return NULL;
			p++;
			in_input = true;
			continue;
		}
		if (in_input && klen == 4 && memcmp(key, "data", 4) == 0)
			return *p == '[' ? p : NULL;
		p = jscan_value(p, end);
		if (!p)
			return NULL;
		p = jscan_ws(p, end);
		if (p >= end || *p != ',')
			return NULL;
		p++;
	}
}

/* The integer types whose range the integer-valued real d is outside of (rare: not inlined). */
static __attribute__((noinline)) unsigned real_range_rejects(double d)
{
	unsigned r = 0;

	for (int dt = DT_UINT8; dt <= DT_INT64; dt++)
		if (d < int_range[dt].dlo || d >= int_range[dt].dhi)
			r |= REJECT(dt);
	return r;
}

/* Records which datatypes would refuse the real d, as convert() decides. */
static unsigned real_rejects(double d, float f)
{
	unsigned r = isinf(f) ? REJECT(DT_FP32) | REJECT_NUMBER : REJECT_NUMBER;

	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
	    (double)(long long)d != d)
		r |= REJECT_INTS;
	else if (d < 0 || d >= 128.0)
		r |= real_range_rejects(d);
	return r;
}

/* Records which datatypes would refuse (or read otherwise) the JSON integer i. */
static unsigned int_rejects(int64_t i)
{
	unsigned r = REJECT_NUMBER;

	if (i >= 0 && i <= INT8_MAX)
		return r;
	for (int dt = DT_UINT8; dt <= DT_INT64; dt++)
		if (!int_fits((enum dtype)dt, i))
			r |= REJECT(dt);
	if (i < -(1ll << 53) || i > (1ll << 53))
		r |= REJECT(DT_FP32) | REJECT(DT_FP64);
	return r;
}

/*
 * Parses a JSON number at p as jansson reads it (no fraction or exponent: a 64-bit
 * integer; otherwise a correctly rounded double) and stores it as convert() would.
 */
static const char *parse_number(const char *p, const char *end, float *out, unsigned *reject)
{
	struct num_dec d;
	const char *q = num_scan(p, end, &d);
	double v;

	if (!q)
		return NULL;
	if (d.is_int) {
		int64_t i;
		/* Beyond 64 bits no type takes it: the reference path says so. */
		if (d.e10 != 0 || (d.neg && d.w > (1ull << 63)))
			return NULL;
		if (!d.neg && d.w > (uint64_t)INT64_MAX) {
			/* Only UINT64 takes it; one rounding, as XGBoost's static_cast. */
			*out = (float)d.w;
			*reject |= ~REJECT(DT_UINT64);
			return q;
		}
		i = d.neg && d.w ? -(int64_t)(d.w - 1) - 1 : (int64_t)d.w;
		*reject |= int_rejects(i);
		/* One rounding from the integer, as convert(). */
		*out = (float)i;
		return q;
	}
	/* Overflow is refused by jansson too: the reference path says so. */
	if (num_dec_double(&d, p, (size_t)(q - p), &v) < 0)
		return NULL;
	*out = (float)v;
	*reject |= real_rejects(v, *out);
	return q;
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
	    {"Infinity", 8, INFINITY, REJECT_NONFINITE},
	    {"\"NaN\"", 5, NAN, 0},
	    {"\"Infinity\"", 10, INFINITY, REJECT_NONFINITE},
	    {"\"-Infinity\"", 11, -INFINITY, REJECT_NONFINITE},
	    {"-Infinity", 9, -INFINITY, REJECT_NONFINITE},
	};

	if (is_digit(*p) || (*p == '-' && (end - p < 2 || p[1] != 'I')))
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
	p = jscan_ws(p + 1, end);
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
			p = jscan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jscan_ws(p + 1, end);
	}
}

/*
 * p at the '[' of inputs[0].data: parses it flat (values) or nested (arrays of values,
 * all of one length). Returns past its ']', or NULL for anything else.
 */
static const char *parse_bulk(const char *p, const char *end, unsigned max_depth, struct bulk *b)
{
	const char *q = jscan_ws(p + 1, end);

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
		p = jscan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == ']')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jscan_ws(p + 1, end);
		if (p >= end || *p != '[')
			return NULL;
	}
}

/* Whether the parsed tensor is what decode_data() would accept for this shape and type. */
static bool bulk_fits(const struct bulk *b, enum dtype dt, size_t nrows, size_t ncols, size_t ndim)
{
	if (b->reject & REJECT(dt))
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

static uint16_t load_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

/*
 * n little-endian values of type dt at p into floats, with the casts convert() applies to
 * the same values in JSON. Every bit pattern is a value here (NaN is missing) except a BOOL
 * byte other than 0 or 1: the loops stay free of checks, and BOOL's is done on its own.
 * Returns 0, or -EINVAL with the index of the first bad BOOL byte in *bad.
 */
static int convert_binary(const unsigned char *p, size_t n, enum dtype dt, float *out, size_t *bad)
{
	switch (dt) {
	case DT_BOOL:
		for (size_t i = 0; i < n; i++) {
			if (p[i] > 1) {
				*bad = i;
				return -EINVAL;
			}
			out[i] = (float)p[i];
		}
		break;
	case DT_UINT8:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)p[i];
		break;
	case DT_INT8:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int8_t)p[i];
		break;
	case DT_UINT16:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)load_le16(p + 2 * i);
		break;
	case DT_INT16:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int16_t)load_le16(p + 2 * i);
		break;
	case DT_UINT32:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)load_le32(p + 4 * i);
		break;
	case DT_INT32:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int32_t)load_le32(p + 4 * i);
		break;
	case DT_UINT64:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)load_le64(p + 8 * i);
		break;
	case DT_INT64:
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(int64_t)load_le64(p + 8 * i);
		break;
	case DT_FP16:
		for (size_t i = 0; i < n; i++)
			out[i] = half_to_float(load_le16(p + 2 * i));
		break;
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
	case DT_COUNT:
		break;
	}
	return 0;
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
	size_t n = nrows * ncols, want, bad;

	if (ndim == 2)
		snprintf(shape, sizeof(shape), "[%zu, %zu]", nrows, ncols);
	else
		snprintf(shape, sizeof(shape), "[%zu]", ncols);
	if (!json_is_integer(bds) || json_integer_value(bds) < 0)
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].parameters.binary_data_size: expected a byte count (an "
		                 "integer >= 0), got %s",
		                 json_is_integer(bds) ? "a negative number" : type_name(bds));
	if (__builtin_mul_overflow(n, dtype_sizes[dt], &want) ||
	    (uintmax_t)json_integer_value(bds) != (uintmax_t)want)
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].parameters.binary_data_size: %" JSON_INTEGER_FORMAT
		                 " bytes, but shape %s of %s takes %zu x %zu = %zu",
		                 json_integer_value(bds), shape, dtype_names[dt], n,
		                 dtype_sizes[dt], want);
	if (bin->len != want)
		return util_fail(
		    err, errlen, -EINVAL,
		    "Inference-Header-Content-Length: %zu bytes of binary tensor data follow "
		    "the JSON header, but inputs[0].parameters.binary_data_size is %zu",
		    bin->len, want);
	*out = malloc(n ? n * sizeof(float) : 1);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (convert_binary(bin->p, n, dt, *out, &bad) < 0)
		return util_fail(
		    err, errlen, -EINVAL,
		    "inputs[0]: binary BOOL element %zu is the byte %u, expected 0 or 1", bad,
		    bin->p[bad]);
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
		return util_fail(err, errlen, -EINVAL, "inputs[0]: expected an object, got %s",
		                 type_name(in));
	name = json_object_get(in, "name");
	if (!name)
		return util_fail(err, errlen, -EINVAL, "inputs[0].name: required");
	if (!json_is_string(name))
		return util_fail(err, errlen, -EINVAL, "inputs[0].name: expected a string, got %s",
		                 type_name(name));
	datatype = json_object_get(in, "datatype");
	if (!datatype)
		return util_fail(err, errlen, -EINVAL, "inputs[0].datatype: required");
	if (!json_is_string(datatype))
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].datatype: expected a string, got %s",
		                 type_name(datatype));
	ds = json_string_value(datatype);
	for (size_t i = 0; i < sizeof(dtype_names) / sizeof(dtype_names[0]); i++) {
		if (strcmp(ds, dtype_names[i]) == 0) {
			dt = (enum dtype)i;
			known = true;
		}
	}
	if (!known)
		return util_fail(err, errlen, -EINVAL,
		                 "inputs[0].datatype: \"%.32s\" is not supported (" DTYPE_LIST ")",
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
			return util_fail(
			    err, errlen, -EINVAL,
			    "inputs[0].parameters.binary_data_size: binary tensor data needs "
			    "the Inference-Header-Content-Length header");
		if (data)
			return util_fail(err, errlen, -EINVAL,
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
		return util_fail(
		    err, errlen, -EINVAL,
		    data ? "Inference-Header-Content-Length: %zu bytes follow the JSON "
		           "header, but no input has parameters.binary_data_size"
		         : "inputs[0].parameters.binary_data_size: required for the %zu "
		           "bytes of binary tensor data after the JSON header",
		    bin->len);
	if (!data)
		return util_fail(err, errlen, -EINVAL, "inputs[0].data: required");
	if (!json_is_array(data))
		return util_fail(err, errlen, -EINVAL, "inputs[0].data: expected an array, got %s",
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

/* The dtype a datatype string names; -EINVAL with the message (path names the field). */
static int named_dtype(const json_t *in, const char *path, enum dtype *dt, char *err, size_t errlen)
{
	const json_t *datatype = json_object_get(in, "datatype");
	const char *ds;

	if (!datatype)
		return util_fail(err, errlen, -EINVAL, "%s.datatype: required", path);
	if (!json_is_string(datatype))
		return util_fail(err, errlen, -EINVAL, "%s.datatype: expected a string, got %s",
		                 path, type_name(datatype));
	ds = json_string_value(datatype);
	for (size_t i = 0; i < sizeof(dtype_names) / sizeof(dtype_names[0]); i++) {
		if (strcmp(ds, dtype_names[i]) == 0) {
			*dt = (enum dtype)i;
			return 0;
		}
	}
	return util_fail(err, errlen, -EINVAL,
	                 "%s.datatype: \"%.32s\" is not supported (" DTYPE_LIST ")", path, ds);
}

/* The rows of a per-feature input's shape, [N] or [N, 1]; -EINVAL naming the field. */
static int named_rows(const json_t *in, const char *path, const struct infer_limits *lim,
                      size_t *nrows, char *err, size_t errlen)
{
	const json_t *shape = json_object_get(in, "shape"), *d;
	size_t n;

	if (!shape)
		return util_fail(err, errlen, -EINVAL, "%s.shape: required", path);
	n = json_array_size(shape);
	if (!json_is_array(shape) || (n != 1 && n != 2) ||
	    (n == 2 && (!json_is_integer(json_array_get(shape, 1)) ||
	                json_integer_value(json_array_get(shape, 1)) != 1)))
		return util_fail(err, errlen, -EINVAL,
		                 "%s.shape: expected [N] or [N, 1] (one input per feature)", path);
	d = json_array_get(shape, 0);
	if (!json_is_integer(d) || json_integer_value(d) <= 0)
		return util_fail(err, errlen, -EINVAL, "%s.shape[0]: expected a positive integer",
		                 path);
	if ((uintmax_t)json_integer_value(d) > lim->max_rows)
		return util_fail(err, errlen, -EINVAL,
		                 "%s.shape[0]: %" JSON_INTEGER_FORMAT
		                 " rows exceed the limit of %zu",
		                 path, json_integer_value(d), lim->max_rows);
	*nrows = (size_t)json_integer_value(d);
	return 0;
}

/* The values of a per-feature input: N values, flat or as N one-value arrays. */
static int named_data(const json_t *in, const char *path, enum dtype dt, size_t nrows, float *col,
                      char *err, size_t errlen)
{
	const json_t *data = json_object_get(in, "data");
	char p2[96];

	if (json_object_get(in, "parameters") &&
	    json_object_get(json_object_get(in, "parameters"), "binary_data_size"))
		return util_fail(err, errlen, -EINVAL,
		                 "%s.parameters.binary_data_size: binary tensor data needs the one "
		                 "[N, F] input, not one input per feature",
		                 path);
	if (!data)
		return util_fail(err, errlen, -EINVAL, "%s.data: required", path);
	if (!json_is_array(data) || json_array_size(data) != nrows)
		return util_fail(err, errlen, -EINVAL, "%s.data: expected an array of %zu values",
		                 path, nrows);
	if (nrows && json_is_array(json_array_get(data, 0))) {
		for (size_t r = 0; r < nrows; r++) {
			const json_t *row = json_array_get(data, r);
			snprintf(p2, sizeof(p2), "%s.data[%zu]", path, r);
			if (!json_is_array(row) || json_array_size(row) != 1)
				return util_fail(err, errlen, -EINVAL,
				                 "%s: expected an array of one value", p2);
			if (convert_array(row, 1, dt, col + r, p2, err, errlen) < 0)
				return -EINVAL;
		}
		return 0;
	}
	snprintf(p2, sizeof(p2), "%s.data", path);
	return convert_array(data, nrows, dt, col, p2, err, errlen);
}

/*
 * The pandas codec's spelling (MLServer): one input per feature, named by feature name,
 * each [N] or [N, 1] of its own datatype; the columns are gathered into the [N, F] rows.
 * Every feature must come exactly once.
 */
static int decode_named(const json_t *inputs, size_t num_feature, const struct infer_limits *lim,
                        struct infer_request *req, char *err, size_t errlen)
{
	size_t nrows = 0, i;
	const char *const *fn = lim->feature_names;
	unsigned char *seen = NULL;
	float *col = NULL;
	const json_t *in;
	char path[48];
	int r = -EINVAL;

	json_array_foreach(inputs, i, in)
	{
		const json_t *name = json_object_get(in, "name");
		size_t n = 0, j;
		enum dtype dt = DT_FP32;

		snprintf(path, sizeof(path), "inputs[%zu]", i);
		if (!json_is_object(in)) {
			util_fail(err, errlen, -EINVAL, "%s: expected an object, got %s", path,
			          type_name(in));
			goto out;
		}
		if (!json_is_string(name)) {
			util_fail(err, errlen, -EINVAL, "%s.name: %s", path,
			          name ? "expected a string" : "required");
			goto out;
		}
		for (j = 0; j < num_feature && strcmp(fn[j], json_string_value(name)) != 0; j++)
			;
		if (j == num_feature) {
			util_fail(
			    err, errlen, -EINVAL,
			    "%s.name: \"%.64s\" is not a feature of this model (with one input "
			    "per feature, each is named by its feature name: see the metadata's "
			    "feature_names)",
			    path, json_string_value(name));
			goto out;
		}
		if (named_dtype(in, path, &dt, err, errlen) < 0 ||
		    named_rows(in, path, lim, &n, err, errlen) < 0)
			goto out;
		if (i == 0) {
			size_t elems;
			if (__builtin_mul_overflow(n, num_feature, &elems) ||
			    elems > lim->max_elements) {
				util_fail(err, errlen, -EINVAL,
				          "%s.shape: %zu rows of %zu features exceed the "
				          "limit of %zu elements",
				          path, n, num_feature, lim->max_elements);
				goto out;
			}
			nrows = n;
			req->data = malloc((elems ? elems : 1) * sizeof(float));
			col = malloc(nrows * sizeof(float));
			seen = calloc(num_feature, 1);
			req->input_name = strdup(json_string_value(name));
			if (!req->data || !col || !seen || !req->input_name) {
				snprintf(err, errlen, "out of memory");
				r = -ENOMEM;
				goto out;
			}
		} else if (n != nrows) {
			util_fail(err, errlen, -EINVAL,
			          "%s.shape[0]: %zu rows, but inputs[0] has %zu", path, n, nrows);
			goto out;
		}
		if (seen[j]) {
			util_fail(err, errlen, -EINVAL, "%s.name: feature \"%.64s\" is given twice",
			          path, fn[j]);
			goto out;
		}
		seen[j] = 1;
		if (named_data(in, path, dt, nrows, col, err, errlen) < 0)
			goto out;
		for (size_t k = 0; k < nrows; k++)
			req->data[k * num_feature + j] = col[k];
	}
	for (size_t j = 0; j < num_feature; j++) {
		if (!seen[j]) {
			util_fail(
			    err, errlen, -EINVAL,
			    "inputs: feature \"%.64s\" is missing (one input per feature, named "
			    "by feature name)",
			    fn[j]);
			goto out;
		}
	}
	req->nrows = nrows;
	req->ncols = num_feature;
	r = 0;
out:
	free(col);
	free(seen);
	return r;
}

/* True when inputs are one per feature: several inputs, or one named like a feature. */
static bool by_feature_name(const json_t *inputs, size_t num_feature,
                            const struct infer_limits *lim)
{
	const json_t *name;

	if (!lim->feature_names || !num_feature)
		return false;
	if (json_array_size(inputs) > 1)
		return true;
	name = json_object_get(json_array_get(inputs, 0), "name");
	return num_feature == 1 && json_is_string(name) &&
	       strcmp(json_string_value(name), lim->feature_names[0]) == 0;
}

/* Everything after parsing: the same checks, in the same order, for both paths. */
static int decode_tree(const json_t *root, size_t num_feature, const struct infer_limits *lim,
                       struct bulk *bulk, const struct binpart *bin, struct infer_request *req,
                       char *err, size_t errlen)
{
	const json_t *id, *inputs;
	bool all_binary, named;
	int r;

	if (!json_is_object(root))
		return util_fail(err, errlen, -EINVAL, "request: expected a JSON object, got %s",
		                 type_name(root));
	id = json_object_get(root, "id");
	if (id && !json_is_string(id))
		return util_fail(err, errlen, -EINVAL, "id: expected a string, got %s",
		                 type_name(id));
	r = check_parameters(root, "request", err, errlen);
	if (r < 0)
		return r;
	inputs = json_object_get(root, "inputs");
	if (!inputs)
		return util_fail(err, errlen, -EINVAL, "inputs: required");
	if (!json_is_array(inputs))
		return util_fail(err, errlen, -EINVAL, "inputs: expected an array, got %s",
		                 type_name(inputs));
	named = json_array_size(inputs) > 0 && by_feature_name(inputs, num_feature, lim);
	if (named && bulk)
		return -EINVAL; /* the reference path decodes these */
	if (json_array_size(inputs) != 1 && !named)
		return util_fail(
		    err, errlen, -EINVAL,
		    lim->feature_names
		        ? "inputs: expected one input tensor, or one input per feature, "
		          "got %zu"
		        : "inputs: expected exactly one input tensor, got %zu (the model "
		          "has no feature names to send one input per feature)",
		    json_array_size(inputs));
	r = param_bool(root, "", "binary_data_output", false, &all_binary, err, errlen);
	if (r < 0)
		return r;
	r = decode_outputs(json_object_get(root, "outputs"), all_binary, req, err, errlen);
	if (r < 0)
		return r;
	if (named && bin && bin->len)
		return util_fail(
		    err, errlen, -EINVAL,
		    "Inference-Header-Content-Length: binary tensor data needs the one "
		    "[N, F] input, not one input per feature");
	if (named)
		r = decode_named(inputs, num_feature, lim, req, err, errlen);
	else
		r = decode_input(json_array_get(inputs, 0), num_feature, lim, bulk, bin, req, err,
		                 errlen);
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
struct skel {
	const char *data, *data_end;         /* inputs[0].data, as the bulk parser read it */
	struct jscan_str id, name, datatype; /* .p NULL: not in the request */
	bool have_inputs, have_data;
	size_t dims[2], ndims;
};

/* A member whose value must be a string (anything else leaves the skeleton path). */
static const char *skel_string_member(const char *p, const char *end, struct jscan_str *out)
{
	return p < end && *p == '"' ? jscan_plain_string(p, end, out) : NULL;
}

static const char *skel_input_member(const struct jscan_str *key, const char *p, const char *end,
                                     void *ctx)
{
	struct skel *k = ctx;

	if (jscan_str_is(key, "name"))
		return skel_string_member(p, end, &k->name);
	if (jscan_str_is(key, "datatype"))
		return skel_string_member(p, end, &k->datatype);
	if (jscan_str_is(key, "data")) {
		k->have_data = p == k->data;
		return k->have_data ? k->data_end : NULL;
	}
	if (jscan_str_is(key, "shape")) {
		if (p >= end || *p != '[')
			return NULL;
		for (p = jscan_ws(p + 1, end); k->ndims < 2; p = jscan_ws(p + 1, end)) {
			uint64_t v;
			bool neg;
			p = jscan_small_int(p, end, &neg, &v);
			if (!p || neg || v == 0 || v > SIZE_MAX)
				return NULL;
			k->dims[k->ndims++] = (size_t)v;
			p = jscan_ws(p, end);
			if (p < end && *p == ']')
				return p + 1;
			if (p >= end || *p != ',')
				return NULL;
		}
		return NULL;
	}
	if (jscan_str_is(key, "parameters"))
		return NULL;
	return jscan_scalar(p, end);
}

static const char *skel_request_member(const struct jscan_str *key, const char *p, const char *end,
                                       void *ctx)
{
	struct skel *k = ctx;

	if (jscan_str_is(key, "id"))
		return skel_string_member(p, end, &k->id);
	if (jscan_str_is(key, "inputs")) {
		if (p >= end || *p != '[')
			return NULL;
		p = jscan_ws(p + 1, end);
		if (p >= end || *p != '{' || !(p = jscan_object(p, end, skel_input_member, k)))
			return NULL;
		p = jscan_ws(p, end);
		k->have_inputs = p < end && *p == ']';
		return k->have_inputs ? p + 1 : NULL;
	}
	if (jscan_str_is(key, "outputs") || jscan_str_is(key, "parameters"))
		return NULL;
	return jscan_scalar(p, end);
}

static char *skel_dup(const struct jscan_str *s)
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
	const char *p = jscan_ws(body, end);

	/* The skeleton nests 4 deep (request, inputs, inputs[0], shape); data checked its own. */
	if (lim->max_depth < 5 || p >= end || *p != '{' ||
	    !(p = jscan_object(p, end, skel_request_member, &k)) || jscan_ws(p, end) != end)
		return false;
	if (!k.have_inputs || !k.name.p || !k.datatype.p || !k.have_data || !k.ndims)
		return false;
	for (size_t i = 0; i < sizeof(dtype_names) / sizeof(dtype_names[0]); i++) {
		if (jscan_str_is(&k.datatype, dtype_names[i])) {
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
		return util_fail(
		    err, errlen, -EINVAL,
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

/* A float that reads back as itself; NaN and infinities (which JSON lacks) are null. */
static void put_float(struct strbuf *b, float f)
{
	char tmp[NUM_FMT_MAX];

	if (!isfinite(f)) {
		strbuf_put(b, "null", 4);
		return;
	}
	strbuf_put(b, tmp, (size_t)num_format_float(f, tmp));
}

int infer_encode_binary(const char *model_name, const char *model_version, const char *id,
                        const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen,
                        size_t *json_len)
{
	struct strbuf b = {0};
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
		/* Only a hint: saturated rather than wrapped; strbuf_reserve() grows as needed. */
		if (__builtin_mul_overflow(n, (size_t)(outs[i].binary ? 4 : 12), &bytes) ||
		    __builtin_add_overflow(guess, bytes, &guess) ||
		    __builtin_add_overflow(guess, (size_t)128, &guess))
			guess = SIZE_MAX / 2;
	}
	strbuf_reserve(&b, guess);
	b.oom = false;
	strbuf_puts(&b, "{\"model_name\":");
	strbuf_json_string(&b, model_name ? model_name : "");
	strbuf_puts(&b, ",\"model_version\":");
	strbuf_json_string(&b, model_version ? model_version : "");
	if (id) {
		strbuf_puts(&b, ",\"id\":");
		strbuf_json_string(&b, id);
	}
	strbuf_puts(&b, ",\"outputs\":[");
	for (size_t i = 0; i < n_outs; i++) {
		const struct infer_output *o = &outs[i];
		size_t n = o->nrows * o->width;
		if (i)
			strbuf_put(&b, ",", 1);
		strbuf_puts(&b, "{\"name\":");
		strbuf_json_string(&b, o->name ? o->name : "");
		strbuf_puts(&b, o->int32 ? ",\"datatype\":\"INT32\",\"shape\":["
		                         : ",\"datatype\":\"FP32\",\"shape\":[");
		strbuf_size(&b, o->nrows);
		if (o->ndims) {
			for (size_t d = 0; d < o->ndims && d < 2; d++) {
				strbuf_put(&b, ",", 1);
				strbuf_size(&b, o->dims[d]);
			}
		} else if (o->width != 1) {
			strbuf_put(&b, ",", 1);
			strbuf_size(&b, o->width);
		}
		if (o->binary) {
			strbuf_puts(&b, "],\"parameters\":{\"binary_data_size\":");
			strbuf_size(&b, n * sizeof(float));
			strbuf_puts(&b, "}}");
			continue;
		}
		strbuf_puts(&b, "],\"data\":[");
		for (size_t k = 0; k < n && !b.oom; k++) {
			if (k)
				strbuf_put(&b, ",", 1);
			if (o->int32) {
				char tmp[16];
				int32_t v;
				memcpy(&v, (const char *)o->data + 4 * k, sizeof(v));
				strbuf_put(&b, tmp,
				           (size_t)snprintf(tmp, sizeof tmp, "%" PRId32, v));
			} else {
				put_float(&b, ((const float *)o->data)[k]);
			}
		}
		strbuf_puts(&b, "]}");
	}
	strbuf_puts(&b, "]}");
	*json_len = b.len;
	/* The raw bytes, in the order of the outputs in the JSON. */
	for (size_t i = 0; i < n_outs && bin_bytes; i++) {
		const struct infer_output *o = &outs[i];
		size_t n = o->nrows * o->width;
		if (!o->binary || !strbuf_reserve(&b, n * sizeof(float)))
			continue;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(b.p + b.len, o->data, n * sizeof(float));
#else
		for (size_t k = 0; k < n; k++) {
			uint32_t u;
			memcpy(&u, (const char *)o->data + 4 * k, sizeof(u));
			u = __builtin_bswap32(u);
			memcpy(b.p + b.len + 4 * k, &u, sizeof(u));
		}
#endif
		/* One NaN on every architecture (x86 makes 0xffc00000, arm64 0x7fc00000). */
		for (size_t k = 0; !o->int32 && k < n; k++)
			if (isnan(((const float *)o->data)[k]))
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
