/* fuzz_infer.c: fuzzes infer_decode() (bulk path against the reference) and infer_encode(). */
#include "infer.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
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
 * the request means the same (unknown top-level keys are ignored). NULL when the body does
 * not open with a key, or on allocation failure.
 */
static char *reference_copy(const char *body, size_t len, size_t *outlen)
{
	static const char key[] = "\"\\u0078fuzz-ref\":0,";
	size_t i = 0, klen = sizeof(key) - 1;
	char *copy;

	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
		i++;
	if (i >= len || body[i] != '{')
		return NULL;
	i++;
	{
		size_t j = i;
		while (j < len &&
		       (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r'))
			j++;
		if (j >= len || body[j] != '"')
			return NULL;
	}
	copy = malloc(len + klen);
	if (!copy)
		return NULL;
	memcpy(copy, body, i);
	memcpy(copy + i, key, klen);
	memcpy(copy + i + klen, body + i, len - i);
	*outlen = len + klen;
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

/* Encodes the decoded tensor as both outputs and checks the response reads back. */
static void check_encode(const struct infer_request *req)
{
	size_t n = req->nrows * req->ncols, outlen = 0;
	struct infer_output outs[2] = {
	    {.name = "predict", .nrows = req->nrows, .width = req->ncols, .data = req->data},
	    {.name = "margin", .nrows = n, .width = 1, .data = req->data},
	};
	char *out = NULL;
	const char *p;
	json_t *root, *arr, *id;
	json_error_t jerr;
	int r;

	r = infer_encode("fuzz-model", "1", req->id, outs, 2, &out, &outlen);
	if (r == -ENOMEM)
		return;
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(out && strlen(out) == outlen);

	/* The response is JSON whatever the id held. */
	root = json_loadb(out, outlen, 0, &jerr);
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
	FUZZ_CHECK(same_str(json_string_value(json_object_get(json_array_get(arr, 0), "name")),
	                    "predict"));
	check_shape(json_array_get(arr, 0), req->nrows, req->ncols, req->ncols != 1);
	FUZZ_CHECK(json_array_size(json_object_get(json_array_get(arr, 0), "data")) == n);
	check_shape(json_array_get(arr, 1), n, 1, false);
	FUZZ_CHECK(json_array_size(json_object_get(json_array_get(arr, 1), "data")) == n);
	json_decref(root);

	/* Every float reads back bit for bit (strtof, not through a double). `"data":[` cannot
	 * occur inside an escaped string: its second quote would follow a backslash. */
	p = strstr(out, "\"data\":[");
	FUZZ_CHECK(p);
	p = check_values(p + 8, req->data, n);
	p = strstr(p, "\"data\":[");
	FUZZ_CHECK(p);
	check_values(p + 8, req->data, n);
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

int fuzz_infer_one(const uint8_t *data, size_t size)
{
	struct infer_request a, b;
	char err[256], err2[256];
	const char *body = (const char *)data;
	char *copy;
	size_t copylen = 0;
	int ra, rb;

	err[0] = '\0';
	ra = infer_decode(body, size, FUZZ_NUM_FEATURE, &limits, &a, err, sizeof(err));
	if (ra < 0) {
		/* A refusal says why (it becomes the 400's "error"). */
		FUZZ_CHECK(ra == -EINVAL || ra == -ENOMEM);
		FUZZ_CHECK(ra == -ENOMEM || err[0] != '\0');
	} else {
		FUZZ_CHECK(ra == 0);
		check_request(&a);
		check_encode(&a);
	}

	/* The bulk path must decide exactly what the reference path decides. */
	copy = reference_copy(body, size, &copylen);
	if (copy) {
		rb = infer_decode(copy, copylen, FUZZ_NUM_FEATURE, &limits, &b, err2, sizeof(err2));
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
			FUZZ_CHECK(a.want_predict == b.want_predict);
			FUZZ_CHECK(a.want_margin == b.want_margin);
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
	return 0;
}

#if defined(FUZZ_HARNESS_INFER) && !defined(FUZZ_NO_MAIN)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_infer_one(data, size);
}
#endif
