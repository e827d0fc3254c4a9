/* fuzz_infer.c: fuzzes infer request decoding (bulk path against reference) and encoding. */
#include "infer.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model width every input is decoded for: the corpus is written for it. */
#define FUZZ_NUM_FEATURE 30

int fuzz_infer_one(const uint8_t *data, size_t size);

/* A broken property is a bug like a crash: abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz_infer: check failed: %s\n", __FILE__,         \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Generous, but each bound is reachable within -max_len (64 KiB holds about 32K values):
 * 1001 rows trips max_rows, 1000 rows of 30 trips max_elements, and a body over 32 KiB makes
 * the bulk path clamp its estimate to max_elements. */
static const struct infer_limits limits = {
    .max_rows = 1000,
    .max_elements = (size_t)1 << 14,
    .max_depth = 64,
};

static bool same_float(float a, float b)
{
	/* Both paths turn every missing spelling into NaN; its payload is not part of the
	 * contract, every other bit is. */
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * The same request with a leading top-level key whose name is escaped: the bulk path
 * declines any escaped key, so this copy always takes the jansson reference path, while
 * the request means the same (unknown top-level keys are ignored). The key goes into the
 * JSON part (the first json_len bytes); any binary part follows unchanged. NULL when the
 * JSON does not open with a key, or on allocation failure.
 */
static char *reference_copy(const char *body, size_t len, size_t json_len, size_t *outlen,
                            size_t *out_json_len)
{
	static const char key[] = "\"\\u0078fuzz-ref\":0,";
	size_t i = 0, j, klen = sizeof(key) - 1;
	char *copy;

	while (i < json_len &&
	       (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	if (i >= json_len || body[i] != '{')
		return NULL;
	i++;
	for (j = i; j < json_len &&
	            (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r');)
		j++;
	if (j >= json_len || body[j] != '"')
		return NULL;
	copy = malloc(len + klen);
	if (!copy)
		return NULL;
	memcpy(copy, body, i);
	memcpy(copy + i, key, klen);
	memcpy(copy + i + klen, body + i, len - i);
	*outlen = len + klen;
	*out_json_len = json_len + klen;
	return copy;
}

/*
 * p just past `"data":[` in an encoded response: checks that the next n values read back
 * to exactly the floats in want (null for NaN and infinities). Returns past the ']'.
 */
static const char *check_values(const char *p, const float *want, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (k) {
			FUZZ_CHECK(*p == ',');
			p++;
		}
		if (!isfinite(want[k])) {
			FUZZ_CHECK(strncmp(p, "null", 4) == 0);
			p += 4;
		} else {
			char *end;
			float got = strtof(p, &end);
			FUZZ_CHECK(end != p);
			FUZZ_CHECK(memcmp(&got, &want[k], sizeof(got)) == 0);
			p = end;
		}
	}
	FUZZ_CHECK(*p == ']');
	return p + 1;
}

static void check_shape(const json_t *out, size_t d0, size_t d1, bool two)
{
	const json_t *shape = json_object_get(out, "shape");

	FUZZ_CHECK(json_is_array(shape));
	FUZZ_CHECK(json_array_size(shape) == (two ? 2u : 1u));
	FUZZ_CHECK((size_t)json_integer_value(json_array_get(shape, 0)) == d0);
	if (two)
		FUZZ_CHECK((size_t)json_integer_value(json_array_get(shape, 1)) == d1);
}

/*
 * Encodes the decoded tensor as both outputs (predict as raw bytes when binary is set) and
 * checks that the response reads back.
 */
static void check_encode(const struct infer_request *req, bool binary)
{
	size_t n = req->nrows * req->ncols, outlen = 0, json_len = 0;
	struct infer_output outs[2] = {
	    {.name = "predict",
	     .nrows = req->nrows,
	     .width = req->ncols,
	     .data = req->data,
	     .binary = binary},
	    {.name = "margin", .nrows = n, .width = 1, .data = req->data},
	};
	char *out = NULL;
	const char *p;
	json_t *root, *arr, *id, *predict;
	json_error_t jerr;
	int r;

	if (binary) {
		r = infer_encode_binary("fuzz-model", "1", req->id, outs, 2, &out, &outlen,
		                        &json_len);
	} else {
		r = infer_encode("fuzz-model", "1", req->id, outs, 2, &out, &outlen);
		json_len = outlen;
	}
	if (r == -ENOMEM)
		return;
	FUZZ_CHECK(r == 0 && out);
	FUZZ_CHECK(out[outlen] == '\0');
	FUZZ_CHECK(json_len == (binary ? outlen - n * sizeof(float) : outlen));
	FUZZ_CHECK(strlen(out) >= json_len);

	/* The response is JSON whatever the id held. */
	root = json_loadb(out, json_len, 0, &jerr);
	if (!root)
		fprintf(stderr, "fuzz_infer: response is not JSON: %s\n", jerr.text);
	FUZZ_CHECK(root);
	FUZZ_CHECK(same_str(json_string_value(json_object_get(root, "model_name")), "fuzz-model"));
	FUZZ_CHECK(same_str(json_string_value(json_object_get(root, "model_version")), "1"));
	id = json_object_get(root, "id");
	FUZZ_CHECK(!req->id == !id);
	if (req->id) {
		/* An id that is valid UTF-8 comes back as it was sent. */
		json_t *sent = json_string(req->id);
		if (sent)
			FUZZ_CHECK(json_equal(sent, id));
		json_decref(sent);
	}
	arr = json_object_get(root, "outputs");
	FUZZ_CHECK(json_array_size(arr) == 2);
	predict = json_array_get(arr, 0);
	FUZZ_CHECK(same_str(json_string_value(json_object_get(predict, "name")), "predict"));
	check_shape(predict, req->nrows, req->ncols, req->ncols != 1);
	if (binary) {
		const json_t *params = json_object_get(predict, "parameters");
		FUZZ_CHECK(!json_object_get(predict, "data"));
		FUZZ_CHECK(json_integer_value(json_object_get(params, "binary_data_size")) ==
		           (json_int_t)(n * sizeof(float)));
	} else {
		FUZZ_CHECK(json_array_size(json_object_get(predict, "data")) == n);
	}
	check_shape(json_array_get(arr, 1), n, 1, false);
	FUZZ_CHECK(json_array_size(json_object_get(json_array_get(arr, 1), "data")) == n);
	json_decref(root);

	/* Every float reads back bit for bit (strtof, not through a double). `"data":[` cannot
	 * occur inside an escaped string: its second quote would follow a backslash. */
	p = strstr(out, "\"data\":[");
	FUZZ_CHECK(p);
	p = check_values(p + 8, req->data, n);
	if (!binary) {
		p = strstr(p, "\"data\":[");
		FUZZ_CHECK(p);
		check_values(p + 8, req->data, n);
	} else {
		/* The raw part is the floats themselves, little-endian; every NaN is written as the
		 * one quiet NaN 0x7fc00000, so that every architecture sends the same bytes. */
		for (size_t k = 0; k < n; k++) {
			const unsigned char *q = (const unsigned char *)out + json_len + 4 * k;
			uint32_t want, got = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
			                     (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
			memcpy(&want, &req->data[k], sizeof(want));
			if (isnan(req->data[k]))
				want = 0x7fc00000u;
			FUZZ_CHECK(got == want);
		}
	}
	free(out);
}

static void check_request(const struct infer_request *req)
{
	FUZZ_CHECK(req->ncols == FUZZ_NUM_FEATURE);
	FUZZ_CHECK(req->nrows >= 1 && req->nrows <= limits.max_rows);
	FUZZ_CHECK(req->nrows * req->ncols <= limits.max_elements);
	FUZZ_CHECK(req->data);
	FUZZ_CHECK(req->input_name);
}

/* Appends printf output to a growing buffer; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return false;
	if (*cap - *len <= (size_t)n) {
		size_t ncap = (*cap + (size_t)n + 1) * 2;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return false;
		*buf = nb;
		*cap = ncap;
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
	return true;
}

/*
 * A decoded binary request, spelled as JSON: the raw values printed so they read back
 * exactly (9 significant digits for FP32, 17 for FP64), NaN and infinities as their tokens.
 * Binary values convert "exactly as the JSON path converts the same values", so decoding
 * this must give the same floats. Skipped when the header is not plain JSON or the binary
 * part is not one datatype's worth of values.
 */
static void check_binary_as_json(const char *body, size_t json_len, size_t len,
                                 const struct infer_request *req)
{
	size_t n = req->nrows * req->ncols, width = 0, jlen = 0, cap = 0;
	const unsigned char *raw = (const unsigned char *)body + json_len;
	json_t *root = json_loadb(body, json_len, 0, NULL);
	const char *dt = json_string_value(
	    json_object_get(json_array_get(json_object_get(root, "inputs"), 0), "datatype"));
	char dtype[8] = "", *text = NULL, err[256];
	struct infer_request j;
	bool ok, is_float;
	int r;

	if (dt && strlen(dt) < sizeof(dtype))
		strcpy(dtype, dt);
	json_decref(root);
	if (!strcmp(dtype, "FP32") || !strcmp(dtype, "INT32"))
		width = 4;
	else if (!strcmp(dtype, "FP64") || !strcmp(dtype, "INT64"))
		width = 8;
	if (!width || len - json_len != n * width)
		return;
	is_float = dtype[0] == 'F';
	ok = append(&text, &jlen, &cap,
	            "{\"inputs\":[{\"name\":\"x\",\"datatype\":\"%s\",\"shape\":[%zu,%zu],"
	            "\"data\":[",
	            dtype, req->nrows, req->ncols);
	for (size_t k = 0; ok && k < n; k++) {
		const unsigned char *q = raw + k * width;
		uint64_t u = 0;
		double d;

		for (size_t i = 0; i < width; i++)
			u |= (uint64_t)q[i] << (8 * i);
		if (k && !append(&text, &jlen, &cap, ","))
			break;
		if (!is_float) {
			if (width == 4)
				ok = append(&text, &jlen, &cap, "%" PRId32, (int32_t)(uint32_t)u);
			else
				ok = append(&text, &jlen, &cap, "%" PRId64, (int64_t)u);
			continue;
		}
		if (width == 4) {
			uint32_t u32 = (uint32_t)u;
			float f;
			memcpy(&f, &u32, sizeof(f));
			d = f;
		} else {
			memcpy(&d, &u, sizeof(d));
		}
		if (isnan(d))
			ok = append(&text, &jlen, &cap, "NaN");
		else if (isinf(d))
			ok = append(&text, &jlen, &cap, d > 0 ? "Infinity" : "-Infinity");
		else if (d == 0)
			ok = append(&text, &jlen, &cap, signbit(d) ? "-0.0" : "0.0");
		else
			ok = append(&text, &jlen, &cap, "%.*e", width == 4 ? 8 : 16, d);
	}
	if (ok)
		ok = append(&text, &jlen, &cap, "]}]}");
	if (!ok) {
		free(text);
		return;
	}
	r = infer_decode(text, jlen, FUZZ_NUM_FEATURE, &limits, &j, err, sizeof(err));
	if (r == 0) {
		FUZZ_CHECK(j.nrows == req->nrows && j.ncols == req->ncols);
		for (size_t k = 0; k < n; k++) {
			if (!same_float(j.data[k], req->data[k]))
				fprintf(stderr, "fuzz_infer: %s value %zu: binary %a, as JSON %a\n",
				        dtype, k, (double)req->data[k], (double)j.data[k]);
			FUZZ_CHECK(same_float(j.data[k], req->data[k]));
		}
	} else if (r != -ENOMEM) {
		fprintf(stderr, "fuzz_infer: binary values refused as JSON: %s\n", err);
		FUZZ_CHECK(r == 0);
	}
	infer_request_free(&j);
	free(text);
}

/* Decodes len bytes: the binary-data framing when the request has a binary part. */
static int decode(const char *body, size_t len, size_t json_len, bool framed,
                  struct infer_request *req, char *err, size_t errlen)
{
	err[0] = '\0';
	if (framed)
		return infer_decode_binary(body, len, json_len, FUZZ_NUM_FEATURE, &limits, req, err,
		                           errlen);
	return infer_decode(body, len, FUZZ_NUM_FEATURE, &limits, req, err, errlen);
}

/*
 * Input format: a request body; a NUL byte (never valid in JSON) ends the JSON header of a
 * binary tensor data request, and the bytes after it are its binary part. Without one the
 * body goes through infer_decode().
 */
int fuzz_infer_one(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size, len = nul ? size - 1 : size;
	struct infer_request a, b;
	char err[256], err2[256];
	char *body = NULL, *copy;
	size_t copylen = 0, copy_json_len = 0;
	int ra, rb;

	if (nul) {
		/* The body without the NUL, in an allocation of exactly its size. */
		body = malloc(len ? len : 1);
		if (!body)
			return 0;
		memcpy(body, data, json_len);
		memcpy(body + json_len, nul + 1, len - json_len);
	}
	ra = decode(nul ? body : (const char *)data, len, json_len, nul != NULL, &a, err,
	            sizeof(err));
	if (ra < 0) {
		/* A refusal says why (it becomes the 400's "error"). */
		FUZZ_CHECK(ra == -EINVAL || ra == -ENOMEM);
		FUZZ_CHECK(ra == -ENOMEM || err[0] != '\0');
	} else {
		FUZZ_CHECK(ra == 0);
		check_request(&a);
		check_encode(&a, false);
		check_encode(&a, true);
		if (nul)
			check_binary_as_json(body, json_len, len, &a);
	}

	/* The bulk path must decide exactly what the reference path decides. */
	copy = reference_copy(nul ? body : (const char *)data, len, json_len, &copylen,
	                      &copy_json_len);
	if (copy) {
		rb = decode(copy, copylen, copy_json_len, nul != NULL, &b, err2, sizeof(err2));
		if (ra != -ENOMEM && rb != -ENOMEM) {
			if ((ra == 0) != (rb == 0))
				fprintf(stderr,
				        "fuzz_infer: paths disagree: as sent %d (%s), reference %d "
				        "(%s)\n",
				        ra, ra ? err : "ok", rb, rb ? err2 : "ok");
			FUZZ_CHECK((ra == 0) == (rb == 0));
		}
		if (ra == 0 && rb == 0) {
			FUZZ_CHECK(a.nrows == b.nrows && a.ncols == b.ncols);
			FUZZ_CHECK(same_str(a.id, b.id));
			FUZZ_CHECK(same_str(a.input_name, b.input_name));
			FUZZ_CHECK(a.want == b.want);
			FUZZ_CHECK(a.binary == b.binary);
			FUZZ_CHECK(a.binary_all == b.binary_all);
			for (size_t k = 0; k < a.nrows * a.ncols; k++) {
				if (!same_float(a.data[k], b.data[k]))
					fprintf(stderr,
					        "fuzz_infer: value %zu: as sent %a, reference %a\n",
					        k, (double)a.data[k], (double)b.data[k]);
				FUZZ_CHECK(same_float(a.data[k], b.data[k]));
			}
		}
		infer_request_free(&b);
		free(copy);
	}
	infer_request_free(&a);
	free(body);
	return 0;
}

#if defined(FUZZ_HARNESS_INFER) && !defined(FUZZ_NO_MAIN)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_infer_one(data, size);
}
#endif
