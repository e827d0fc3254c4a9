/* check_infer.c: tests for infer request decoding and response encoding. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "infer.h"
#include "testutil.h"

static const struct infer_limits lim = {.max_rows = 4, .max_elements = 12, .max_depth = 8};
static char err[512];

static int decode(const char *body, size_t nf, const struct infer_limits *l,
                  struct infer_request *req)
{
	err[0] = '\0';
	return infer_decode(body, strlen(body), nf, l, req, err, sizeof(err));
}

/* A request with one FP32 tensor of the given shape and data (JSON text). */
static char *request(const char *dtype, const char *shape, const char *data)
{
	char *s;

	ck_assert_int_ge(asprintf(&s,
	                          "{\"inputs\": [{\"name\": \"input\", \"datatype\": \"%s\", "
	                          "\"shape\": %s, \"data\": %s}]}",
	                          dtype, shape, data),
	                 0);
	return s;
}

#define IN(rest)   "{\"inputs\": [{\"name\": \"input\", " rest "}]}"
#define FP32(rest) IN("\"datatype\": \"FP32\", " rest)

/* Each body must fail with -EINVAL and a message containing want (model with 3 features). */
static const struct {
	const char *body;
	const char *want;
} bad[] = {
    {"", "line 1 column 0"},
    {"{\"inputs\": [] ", "line 1"},
    {"{} x", "line 1"},
    {"[]", "request: expected a JSON object, got an array"},
    {"{}", "inputs: required"},
    {"{\"inputs\": {}}", "inputs: expected an array, got an object"},
    {"{\"inputs\": null}", "inputs: expected an array, got null"},
    {"{\"inputs\": []}", "inputs: expected exactly one input tensor, got 0"},
    {"{\"inputs\": [{}, {}]}", "inputs: expected exactly one input tensor, got 2"},
    {"{\"inputs\": [1]}", "inputs[0]: expected an object, got a number"},
    {"{\"inputs\": [{\"datatype\": \"FP32\", \"shape\": [3], \"data\": [1,2,3]}]}",
     "inputs[0].name: required"},
    {"{\"inputs\": [{\"name\": 5, \"datatype\": \"FP32\", \"shape\": [3], \"data\": [1,2,3]}]}",
     "inputs[0].name: expected a string, got a number"},
    {IN("\"shape\": [3], \"data\": [1,2,3]"), "inputs[0].datatype: required"},
    {IN("\"datatype\": \"BYTES\", \"shape\": [3], \"data\": [1,2,3]"),
     "inputs[0].datatype: \"BYTES\" is not supported (BOOL, UINT8, UINT16, UINT32, UINT64, "
     "INT8, INT16, INT32, INT64, FP16, FP32, FP64)"},
    {IN("\"datatype\": \"fp32\", \"shape\": [3], \"data\": [1,2,3]"),
     "inputs[0].datatype: \"fp32\" is not supported"},
    {IN("\"datatype\": [\"FP32\"], \"shape\": [3], \"data\": [1,2,3]"),
     "inputs[0].datatype: expected a string, got an array"},
    {FP32("\"data\": [1,2,3]"), "inputs[0].shape: required"},
    {FP32("\"shape\": \"3\", \"data\": [1,2,3]"),
     "inputs[0].shape: expected an array, got a string"},
    {FP32("\"shape\": [], \"data\": [1,2,3]"),
     "inputs[0].shape: expected [N, F] or [F], got 0 dimensions"},
    {FP32("\"shape\": [1,1,3], \"data\": [1,2,3]"), "got 3 dimensions"},
    {FP32("\"shape\": [0,3], \"data\": []"),
     "inputs[0].shape[0]: expected a positive integer, got 0"},
    {FP32("\"shape\": [-1,3], \"data\": [1,2,3]"),
     "inputs[0].shape[0]: expected a positive integer, got -1"},
    {FP32("\"shape\": [1.0,3], \"data\": [1,2,3]"),
     "inputs[0].shape[0]: expected a positive integer, got a number"},
    {FP32("\"shape\": [\"1\",3], \"data\": [1,2,3]"),
     "inputs[0].shape[0]: expected a positive integer, got a string"},
    {FP32("\"shape\": [1,null], \"data\": [1,2,3]"),
     "inputs[0].shape[1]: expected a positive integer, got null"},
    {FP32("\"shape\": [1,2], \"data\": [1,2]"),
     "inputs[0].shape[1]: the model takes 3 features, got 2"},
    {FP32("\"shape\": [4], \"data\": [1,2,3,4]"),
     "inputs[0].shape[0]: the model takes 3 features, got 4"},
    {FP32("\"shape\": [5,3], \"data\": []"), "inputs[0].shape[0]: 5 rows exceed the limit of 4"},
    {FP32("\"shape\": [1,3]"), "inputs[0].data: required"},
    {FP32("\"shape\": [1,3], \"data\": {}"), "inputs[0].data: expected an array, got an object"},
    {FP32("\"shape\": [2,3], \"data\": [1,2,3,4,5]"),
     "inputs[0].data: 5 values for shape [2, 3], expected 6"},
    {FP32("\"shape\": [2,3], \"data\": [1,2,3,4,5,6,7]"),
     "inputs[0].data: 7 values for shape [2, 3], expected 6"},
    {FP32("\"shape\": [3], \"data\": [[1,2,3]]"),
     "inputs[0].data: 1 values for shape [3], expected 3"},
    {FP32("\"shape\": [2,3], \"data\": [1,2,3,\"4\",5,6]"),
     "inputs[0].data[3]: expected a number or null, got a string"},
    {FP32("\"shape\": [2,3], \"data\": [true,2,3,4,5,6]"),
     "inputs[0].data[0]: expected a number or null, got a boolean"},
    {FP32("\"shape\": [2,3], \"data\": [1,2,3,4,5,{}]"),
     "inputs[0].data[5]: expected a number or null, got an object"},
    {FP32("\"shape\": [2,3], \"data\": [1,[2],3,4,5,6]"),
     "inputs[0].data[1]: expected a number or null, got an array"},
    {FP32("\"shape\": [2,3], \"data\": [[1,2,3]]"),
     "inputs[0].data: 1 rows for shape [2, 3], expected 2"},
    {FP32("\"shape\": [2,3], \"data\": [[1,2,3],[4,5]]"),
     "inputs[0].data[1]: 2 values for shape [2, 3], expected 3"},
    {FP32("\"shape\": [2,3], \"data\": [[1,2,3],4]"),
     "inputs[0].data[1]: expected an array of 3 values, got a number"},
    {FP32("\"shape\": [2,3], \"data\": [[1,2,3],[4,5,\"x\"]]"),
     "inputs[0].data[1][2]: expected a number or null, got a string"},
    {FP32("\"shape\": [2,3], \"data\": [[1,2,3],[4,5,[6]]]"),
     "inputs[0].data[1][2]: expected a number or null, got an array"},
    {FP32("\"shape\": [1,3], \"data\": [1e39,2,3]"),
     "inputs[0].data[0]: 1e+39 is out of range for FP32"},
    {FP32("\"shape\": [1,3], \"data\": [1,2,-3.5e38]"),
     "inputs[0].data[2]: -3.5e+38 is out of range for FP32"},
    {IN("\"datatype\": \"INT32\", \"shape\": [1,3], \"data\": [1,1.5,3]"),
     "inputs[0].data[1]: 1.5 is not an integer (INT32)"},
    {IN("\"datatype\": \"INT64\", \"shape\": [1,3], \"data\": [1,2,0.25]"),
     "inputs[0].data[2]: 0.25 is not an integer (INT64)"},
    {IN("\"datatype\": \"INT32\", \"shape\": [1,3], \"data\": [2147483648,2,3]"),
     "inputs[0].data[0]: 2147483648 is out of range for INT32"},
    {IN("\"datatype\": \"INT32\", \"shape\": [1,3], \"data\": [1,-2147483649,3]"),
     "inputs[0].data[1]: -2147483649 is out of range for INT32"},
    {IN("\"datatype\": \"INT32\", \"shape\": [1,3], \"data\": [1,2,3e10]"),
     "inputs[0].data[2]: 30000000000 is out of range for INT32"},
    {IN("\"datatype\": \"INT64\", \"shape\": [1,3], \"data\": [1e19,2,3]"),
     "inputs[0].data[0]: 1e+19 is out of range for INT64"},
    {IN("\"datatype\": \"INT64\", \"shape\": [1,3], \"data\": [Infinity,2,3]"),
     "inputs[0].data[0]: Infinity is not an INT64 value"},
    {IN("\"datatype\": \"INT32\", \"shape\": [1,3], \"data\": [1,-Infinity,3]"),
     "inputs[0].data[1]: -Infinity is not an INT32 value"},
    {IN("\"datatype\": \"INT64\", \"shape\": [1,3], \"data\": [1,2,9223372036854775808]"),
     "line 1"},
    {"{\"id\": 5, \"inputs\": []}", "id: expected a string, got a number"},
    {"{\"id\": null, \"inputs\": []}", "id: expected a string, got null"},
    {"{\"parameters\": [], \"inputs\": []}", "request.parameters: expected an object"},
    {FP32("\"parameters\": 1, \"shape\": [3], \"data\": [1,2,3]"),
     "inputs[0].parameters: expected an object, got a number"},
    {"{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [3], "
     "\"data\": [1,2,3]}], \"outputs\": {}}",
     "outputs: expected an array, got an object"},
    {"{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [3], "
     "\"data\": [1,2,3]}], \"outputs\": [1]}",
     "outputs[0]: expected an object, got a number"},
    {"{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [3], "
     "\"data\": [1,2,3]}], \"outputs\": [{\"name\": \"predict\"}, {}]}",
     "outputs[1].name: required"},
    {"{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [3], "
     "\"data\": [1,2,3]}], \"outputs\": [{\"name\": \"proba\"}]}",
     "outputs[0].name: \"proba\" is not an output (predict, margin, predict_proba, label, "
     "contribs, leaf)"},
    {"{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", \"shape\": [3], "
     "\"data\": [1,2,3]}], \"outputs\": [{\"name\": \"margin\", \"parameters\": 3}]}",
     "outputs[0].parameters: expected an object"},
    {"{\"inputs\": [], \"inputs\": []}", "duplicate"},
    {"{\"inputs\": [[[[[[[[[1]]]]]]]]]}", "nesting deeper than 8"},
};

START_TEST(malformed)
{
	struct infer_request req;
	int r;

	err[0] = '\0';
	r = decode(bad[_i].body, 3, &lim, &req);
	ck_assert_msg(r == -EINVAL, "case %d (%s): returned %d", _i, bad[_i].body, r);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err,
	              bad[_i].want);
	/* A failed decode leaves nothing to free. */
	ck_assert_ptr_null(req.data);
	ck_assert_ptr_null(req.id);
	ck_assert_ptr_null(req.input_name);
	infer_request_free(&req);
}
END_TEST

START_TEST(flat_and_nested)
{
	struct infer_request a, b, c;
	const float want[] = {1, 2.5f, -3, 4, 0.25f, 6};

	ck_assert_int_eq(
	    decode(FP32("\"shape\": [2,3], \"data\": [1,2.5,-3,4,0.25,6]"), 3, &lim, &a), 0);
	ck_assert_int_eq(
	    decode(FP32("\"shape\": [2,3], \"data\": [[1,2.5,-3],[4,0.25,6]]"), 3, &lim, &b), 0);
	ck_assert_int_eq(decode(FP32("\"shape\": [1,3], \"data\": [[1,2.5,-3]]"), 3, &lim, &c), 0);
	ck_assert_str_eq(a.input_name, "input");
	ck_assert_uint_eq(a.nrows, 2);
	ck_assert_uint_eq(a.ncols, 3);
	ck_assert_uint_eq(b.nrows, 2);
	ck_assert_uint_eq(c.nrows, 1);
	for (int i = 0; i < 6; i++) {
		ck_assert(a.data[i] == want[i]);
		ck_assert(b.data[i] == want[i]);
	}
	for (int i = 0; i < 3; i++)
		ck_assert(c.data[i] == want[i]);
	ck_assert(a.want == 0 && !a.binary_all); /* none named: the model's default outputs */
	ck_assert_ptr_null(a.id);
	infer_request_free(&a);
	infer_request_free(&b);
	infer_request_free(&c);
	/* Freeing twice is harmless: the first free zeroes. */
	infer_request_free(&c);
	infer_request_free(NULL);
}
END_TEST

START_TEST(one_row_shape)
{
	struct infer_request r;

	ck_assert_int_eq(decode(FP32("\"shape\": [3], \"data\": [7,8,9]"), 3, &lim, &r), 0);
	ck_assert_uint_eq(r.nrows, 1);
	ck_assert_uint_eq(r.ncols, 3);
	ck_assert(r.data[0] == 7 && r.data[1] == 8 && r.data[2] == 9);
	infer_request_free(&r);
}
END_TEST

START_TEST(missing_values)
{
	struct infer_request r;

	ck_assert_int_eq(
	    decode(FP32("\"shape\": [2,3], \"data\": [null,NaN,\"NaN\",1,null,2]"), 3, &lim, &r),
	    0);
	ck_assert(isnan(r.data[0]) && isnan(r.data[1]) && isnan(r.data[2]) && isnan(r.data[4]));
	ck_assert(r.data[3] == 1 && r.data[5] == 2);
	infer_request_free(&r);
	/* Missing is missing whatever the type. */
	ck_assert_int_eq(
	    decode(IN("\"datatype\": \"INT64\", \"shape\": [3], \"data\": [null,NaN,5]"), 3, &lim,
	           &r),
	    0);
	ck_assert(isnan(r.data[0]) && isnan(r.data[1]) && r.data[2] == 5);
	infer_request_free(&r);
}
END_TEST

START_TEST(integer_types)
{
	struct infer_request r;

	/* 2^31 - 1 rounds to 2^31 in float32; 2^24 + 1 is a tie and rounds to even 2^24. */
	ck_assert_int_eq(decode(IN("\"datatype\": \"INT32\", \"shape\": [3], "
	                           "\"data\": [2147483647,-2147483648,16777217]"),
	                        3, &lim, &r),
	                 0);
	ck_assert(r.data[0] == 2147483648.0f);
	ck_assert(r.data[1] == -2147483648.0f);
	ck_assert(r.data[2] == 16777216.0f);
	infer_request_free(&r);
	/* 2^53 + 1 rounds once, straight to 2^53; 2^63 - 1 to 2^63; 3.0 is an integer. */
	ck_assert_int_eq(decode(IN("\"datatype\": \"INT64\", \"shape\": [3], "
	                           "\"data\": [9007199254740993,9223372036854775807,3.0]"),
	                        3, &lim, &r),
	                 0);
	ck_assert(r.data[0] == 9007199254740992.0f);
	ck_assert(r.data[1] == 9223372036854775808.0f);
	ck_assert(r.data[2] == 3.0f);
	infer_request_free(&r);
	/* -0.0 is a real without a fraction, so an integer. */
	ck_assert_int_eq(
	    decode(IN("\"datatype\": \"INT32\", \"shape\": [3], \"data\": [-0.0,0,-7]"), 3, &lim,
	           &r),
	    0);
	ck_assert(r.data[0] == 0 && r.data[1] == 0 && r.data[2] == -7);
	infer_request_free(&r);
}
END_TEST

START_TEST(float_types)
{
	struct infer_request r;
	uint32_t bits;

	/*
	 * FP64 narrows as numpy's astype(float32): 0.1 becomes 0x3dcccccd, 1e300 and the
	 * value just past float's largest halfway point overflow to infinity, tiny ones to 0.
	 */
	ck_assert_int_eq(decode(IN("\"datatype\": \"FP64\", \"shape\": [3], "
	                           "\"data\": [0.1,1e300,-3.4028235677973366e38]"),
	                        3, &lim, &r),
	                 0);
	memcpy(&bits, &r.data[0], 4);
	ck_assert_uint_eq(bits, 0x3dcccccdu);
	ck_assert(isinf(r.data[1]) && r.data[1] > 0);
	ck_assert(isinf(r.data[2]) && r.data[2] < 0);
	infer_request_free(&r);
	ck_assert_int_eq(decode(IN("\"datatype\": \"FP64\", \"shape\": [3], "
	                           "\"data\": [1e-300,Infinity,-Infinity]"),
	                        3, &lim, &r),
	                 0);
	ck_assert(r.data[0] == 0);
	ck_assert(isinf(r.data[1]) && r.data[1] > 0);
	ck_assert(isinf(r.data[2]) && r.data[2] < 0);
	infer_request_free(&r);
	/* FP32: the largest float written as 3.4028235e38 is in range; Infinity is allowed. */
	ck_assert_int_eq(
	    decode(FP32("\"shape\": [3], \"data\": [3.4028235e38,-Infinity,1e-45]"), 3, &lim, &r),
	    0);
	ck_assert(r.data[0] == FLT_MAX);
	ck_assert(isinf(r.data[1]) && r.data[1] < 0);
	memcpy(&bits, &r.data[2], 4);
	ck_assert_uint_eq(bits, 1); /* the smallest subnormal */
	infer_request_free(&r);
}
END_TEST

START_TEST(outputs_selection)
{
	struct infer_request r;
	char *s;

	static const struct {
		const char *outputs;
		bool predict, margin;
	} cases[] = {
	    /* None named (want 0): the model's default outputs, chosen by the caller. */
	    {"", false, false},
	    {", \"outputs\": []", false, false},
	    {", \"outputs\": [{\"name\": \"margin\"}]", false, true},
	    {", \"outputs\": [{\"name\": \"predict\"}]", true, false},
	    {", \"outputs\": [{\"name\": \"margin\"}, {\"name\": \"predict\", \"parameters\": {}}, "
	     "{\"name\": \"margin\"}]",
	     true, true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_ge(asprintf(&s,
		                          "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
		                          "\"shape\": [3], \"data\": [1,2,3]}]%s}",
		                          cases[i].outputs),
		                 0);
		ck_assert_int_eq(decode(s, 3, &lim, &r), 0);
		ck_assert_msg(((r.want & CONF_OUT_PREDICT) != 0) == cases[i].predict, "case %zu",
		              i);
		ck_assert_msg(((r.want & CONF_OUT_MARGIN) != 0) == cases[i].margin, "case %zu", i);
		ck_assert_msg((r.want & ~(unsigned)(CONF_OUT_PREDICT | CONF_OUT_MARGIN)) == 0,
		              "case %zu", i);
		infer_request_free(&r);
		free(s);
	}
}
END_TEST

/* One input per feature, named by feature name ([N] or [N, 1], own datatype), and refusals. */
START_TEST(inputs_by_feature_name)
{
	static const char *const names[] = {"age", "income", "city"};
	const struct infer_limits l = {
	    .max_rows = 4, .max_elements = 12, .max_depth = 8, .feature_names = names};
	struct infer_request r;
	static const struct {
		const char *body, *want;
	} wrong[] = {
	    {"{\"inputs\":[{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
	     "{\"name\":\"income\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
	     "inputs: feature \"city\" is missing"},
	    {"{\"inputs\":[{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
	     "{\"name\":\"zip\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
	     "inputs[1].name: \"zip\" is not a feature of this model"},
	    {"{\"inputs\":[{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]},"
	     "{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
	     "inputs[1].name: feature \"age\" is given twice"},
	    {"{\"inputs\":[{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]},"
	     "{\"name\":\"city\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
	     "inputs[1].shape[0]: 1 rows, but inputs[0] has 2"},
	    {"{\"inputs\":[{\"name\":\"age\",\"datatype\":\"FP32\",\"shape\":[2,2],"
	     "\"data\":[1,2,3,4]},{\"name\":\"city\",\"datatype\":\"FP32\",\"shape\":[1],"
	     "\"data\":[1]}]}",
	     "inputs[0].shape: expected [N] or [N, 1]"},
	};

	/* Any order, mixed datatypes and spellings: gathered into rows of age, income, city. */
	ck_assert_int_eq(
	    decode("{\"inputs\":[{\"name\":\"city\",\"datatype\":\"INT32\",\"shape\":[2,1],"
	           "\"data\":[[7],[8]]},{\"name\":\"age\",\"datatype\":\"FP64\",\"shape\":[2],"
	           "\"data\":[30.5,null]},{\"name\":\"income\",\"datatype\":\"FP32\","
	           "\"shape\":[2],\"data\":[1e3,2]}],\"outputs\":[{\"name\":\"contribs\"}]}",
	           3, &l, &r),
	    0);
	ck_assert_uint_eq(r.nrows, 2);
	ck_assert_uint_eq(r.ncols, 3);
	ck_assert(r.data[0] == 30.5f && r.data[1] == 1000.0f && r.data[2] == 7.0f);
	ck_assert(isnan(r.data[3]) && r.data[4] == 2.0f && r.data[5] == 8.0f);
	ck_assert_uint_eq(r.want, CONF_OUT_CONTRIBS);
	infer_request_free(&r);
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		ck_assert_int_eq(decode(wrong[i].body, 3, &l, &r), -EINVAL);
		ck_assert_msg(strstr(err, wrong[i].want), "case %zu: %s", i, err);
	}
	/* Without feature names, several inputs are refused as before. */
	ck_assert_int_eq(decode(wrong[0].body, 3, &lim, &r), -EINVAL);
	ck_assert_msg(strstr(err, "expected exactly one input tensor, got 2"), "%s", err);
}
END_TEST

START_TEST(id_parameters_and_extensions)
{
	struct infer_request r;

	ck_assert_int_eq(decode("{\"id\": \"req-\\u00e9\\n42\", \"parameters\": {\"a\": [1]}, "
	                        "\"future_key\": {\"x\": 1}, \"inputs\": [{\"name\": \"in\", "
	                        "\"datatype\": \"FP32\", \"shape\": [3], \"parameters\": {}, "
	                        "\"data\": [1,2,3]}]}",
	                        3, &lim, &r),
	                 0);
	ck_assert_str_eq(r.id, "req-\xc3\xa9\n42");
	ck_assert_str_eq(r.input_name, "in");
	infer_request_free(&r);
}
END_TEST

START_TEST(huge_shape)
{
	struct infer_request r;
	const struct infer_limits open = {
	    .max_rows = SIZE_MAX, .max_elements = SIZE_MAX, .max_depth = 8};
	/* 2^62 where size_t has 64 bits (2^30 on 32-bit hosts, where the shape cannot fit). */
	const size_t two62 = (size_t)1 << (sizeof(size_t) * 8 - 2);

	/* 2^62 * 2^62 overflows size_t: a clean refusal, never an allocation. */
	ck_assert_int_eq(decode(FP32("\"shape\": [4611686018427387904, 4611686018427387904], "
	                             "\"data\": [1]"),
	                        two62, &open, &r),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "inputs[0].shape"));
	ck_assert_ptr_null(r.data);
	ck_assert_int_eq(decode(FP32("\"shape\": [4611686018427387904, 4611686018427387904], "
	                             "\"data\": [1]"),
	                        3, &lim, &r),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "inputs[0].shape"));
	/* Within size_t but far beyond memory: refused by the element bound, not by malloc. */
	ck_assert_int_eq(
	    decode(FP32("\"shape\": [4611686018427387904, 3], \"data\": [1]"), 3, &open, &r),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "inputs[0].shape"));
}
END_TEST

START_TEST(row_and_element_limits)
{
	struct infer_request r;
	const struct infer_limits l2 = {.max_rows = 2, .max_elements = 100, .max_depth = 8};
	const struct infer_limits e5 = {.max_rows = 100, .max_elements = 6, .max_depth = 8};
	char *ok = request("FP32", "[2,3]", "[1,2,3,4,5,6]");
	char *over = request("FP32", "[3,3]", "[1,2,3,4,5,6,7,8,9]");

	ck_assert_int_eq(decode(ok, 3, &l2, &r), 0);
	infer_request_free(&r);
	ck_assert_int_eq(decode(over, 3, &l2, &r), -EINVAL);
	ck_assert_str_eq(err, "inputs[0].shape[0]: 3 rows exceed the limit of 2");
	ck_assert_int_eq(decode(ok, 3, &e5, &r), 0);
	infer_request_free(&r);
	ck_assert_int_eq(decode(over, 3, &e5, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "exceed the limit of 6"));
	free(ok);
	free(over);
}
END_TEST

/* Finds the text of the data array of the first output. */
static const char *data_text(const char *body)
{
	const char *p = strstr(body, "\"data\":[");

	ck_assert_ptr_nonnull(p);
	return p + 8;
}

static uint32_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

/* The significant digits of a number's text, without leading or trailing zeros. */
static void sig_digits(const char *p, const char *end, char *out)
{
	int n = 0;

	for (; p < end && *p != 'e' && *p != 'E'; p++)
		if (*p >= '0' && *p <= '9' && (n || *p != '0'))
			out[n++] = *p;
	while (n > 0 && out[n - 1] == '0')
		n--;
	out[n] = '\0';
}

START_TEST(encode_roundtrip)
{
	enum { N = 100000 };
	float *v = malloc(N * sizeof(float));
	struct infer_output o = {.name = "predict", .nrows = N, .width = 1, .data = v};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t len, nonfinite = 0;
	char *body;
	const char *p;
	json_error_t jerr;
	json_t *root;

	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < N; i++) {
		uint32_t bits = xorshift(&seed);
		/* Every fourth value is subnormal, zero or a small number. */
		if (i % 4 == 1)
			bits &= 0x807fffffu;
		if (i % 4 == 2)
			bits = (bits & 0x80ffffffu) | 0x3e000000u;
		memcpy(&v[i], &bits, 4);
	}
	ck_assert_int_eq(infer_encode("m", "1", NULL, &o, 1, &body, &len), 0);
	ck_assert_uint_eq(strlen(body), len);
	root = json_loadb(body, len, 0, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON: %s", jerr.text);
	ck_assert_uint_eq(json_array_size(json_object_get(
	                      json_array_get(json_object_get(root, "outputs"), 0), "data")),
	                  N);
	json_decref(root);
	p = data_text(body);
	for (size_t i = 0; i < N; i++) {
		char *end;
		if (!isfinite(v[i])) {
			ck_assert_int_eq(strncmp(p, "null", 4), 0);
			end = (char *)p + 4;
			nonfinite++;
		} else {
			float f = strtof(p, &end);
			uint32_t a, b;
			char shorter[400], digits[32];
			int nd = 0;
			memcpy(&a, &v[i], 4);
			memcpy(&b, &f, 4);
			ck_assert_msg(a == b, "value %zu: %08x printed as %.*s", i, a,
			              (int)(end - p), p);
			/* As short as possible: one significant digit fewer does not read back. */
			sig_digits(p, end, digits);
			nd = (int)strlen(digits);
			if (nd > 1) {
				snprintf(shorter, sizeof(shorter), "%.*g", nd - 1, (double)v[i]);
				ck_assert_msg(strtof(shorter, NULL) != v[i],
				              "value %zu: %.*s is not the shortest (%s)", i,
				              (int)(end - p), p, shorter);
			}
		}
		ck_assert(*end == (i + 1 < N ? ',' : ']'));
		p = end + 1;
	}
	ck_assert_uint_gt(nonfinite, 0);
	free(body);
	free(v);
}
END_TEST

START_TEST(encode_known_values)
{
	/*
	 * Shortest digits worked out by hand: FLT_MAX is 3.40282347e38 with a half-ulp of about
	 * 1e31, so 8 digits suffice and 7 do not; the smallest subnormal 1.4e-45 has a half-ulp
	 * of 0.7e-45, so "1e-45" reads back to it; 2^24 needs all 8 of its digits.
	 */
	const float v[] = {0.1f,  1.0f,   0.3f, 16777216.0f, FLT_MAX,
	                   -0.0f, 1e-45f, 0.5f, 1e-5f,       -2e9f};
	static const char *const want[] = {"1", "1", "3", "16777216", "34028235",
	                                   "",  "1", "5", "1",        "2"};
	const size_t n = sizeof(v) / sizeof(v[0]);
	struct infer_output o = {.name = "predict", .nrows = n, .width = 1, .data = v};
	char *body, digits[32], *end;
	const char *p;
	size_t len;

	ck_assert_int_eq(infer_encode("m", "1", NULL, &o, 1, &body, &len), 0);
	p = data_text(body);
	for (size_t i = 0; i < n; i++) {
		float f = strtof(p, &end);
		ck_assert_msg(memcmp(&f, &v[i], sizeof(f)) == 0, "value %zu: %.*s", i,
		              (int)(end - p), p);
		sig_digits(p, end, digits);
		ck_assert_msg(strcmp(digits, want[i]) == 0, "value %zu: %.*s, want digits %s", i,
		              (int)(end - p), p, want[i]);
		ck_assert(*end == (i + 1 < n ? ',' : ']'));
		p = end + 1;
	}
	/* Negative zero keeps its sign. */
	ck_assert_ptr_nonnull(strstr(body, ",-0,"));
	free(body);
}
END_TEST

START_TEST(encode_shapes_and_nan)
{
	const float pred[] = {0.25f, NAN, INFINITY};
	const float margin[] = {1, 2, -INFINITY, 4, 5, 6};
	struct infer_output o[2] = {{.name = "predict", .nrows = 3, .width = 1, .data = pred},
	                            {.name = "margin", .nrows = 3, .width = 2, .data = margin}};
	json_error_t jerr;
	json_t *root, *outs, *a, *b;
	char *body;
	size_t len;

	ck_assert_int_eq(infer_encode("breast-cancer", "1", "r1", o, 2, &body, &len), 0);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON: %s", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(root, "model_name")), "breast-cancer");
	ck_assert_str_eq(json_string_value(json_object_get(root, "model_version")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(root, "id")), "r1");
	outs = json_object_get(root, "outputs");
	ck_assert_uint_eq(json_array_size(outs), 2);
	a = json_array_get(outs, 0);
	b = json_array_get(outs, 1);
	ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "predict");
	ck_assert_str_eq(json_string_value(json_object_get(a, "datatype")), "FP32");
	ck_assert_uint_eq(json_array_size(json_object_get(a, "shape")), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(a, "shape"), 0)), 3);
	ck_assert(json_is_null(json_array_get(json_object_get(a, "data"), 1)));
	ck_assert(json_is_null(json_array_get(json_object_get(a, "data"), 2)));
	ck_assert(json_real_value(json_array_get(json_object_get(a, "data"), 0)) == 0.25);
	ck_assert_str_eq(json_string_value(json_object_get(b, "name")), "margin");
	ck_assert_uint_eq(json_array_size(json_object_get(b, "shape")), 2);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(b, "shape"), 0)), 3);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(b, "shape"), 1)), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(b, "data")), 6);
	ck_assert(json_is_null(json_array_get(json_object_get(b, "data"), 2)));
	json_decref(root);
	free(body);
	/* Without an id there is no id key. */
	ck_assert_int_eq(infer_encode("m", "2", NULL, o, 1, &body, &len), 0);
	root = json_loadb(body, len, 0, &jerr);
	ck_assert_ptr_nonnull(root);
	ck_assert_ptr_null(json_object_get(root, "id"));
	json_decref(root);
	free(body);
	/* Zero outputs and zero rows still make valid JSON. */
	o[0].nrows = 0;
	ck_assert_int_eq(infer_encode("m", "2", NULL, o, 1, &body, &len), 0);
	ck_assert_ptr_nonnull(strstr(body, "\"shape\":[0],\"data\":[]"));
	free(body);
	ck_assert_int_eq(infer_encode("m", "2", NULL, o, 0, &body, &len), 0);
	ck_assert_ptr_nonnull(strstr(body, "\"outputs\":[]"));
	free(body);
}
END_TEST

START_TEST(encode_escapes_id)
{
	const float v[] = {1};
	struct infer_output o = {.name = "predict", .nrows = 1, .width = 1, .data = v};
	static const char id[] =
	    "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	json_error_t jerr;
	json_t *root;
	char *body;
	size_t len;

	ck_assert_int_eq(infer_encode("m\"x", "1", id, &o, 1, &body, &len), 0);
	root = json_loadb(body, len, 0, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON: %s in %s", jerr.text, body);
	ck_assert_str_eq(json_string_value(json_object_get(root, "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(root, "model_name")), "m\"x");
	json_decref(root);
	free(body);
	/* Bytes that are not UTF-8 (lone, overlong, surrogate, truncated) become U+FFFD. */
	ck_assert_int_eq(infer_encode("m", "1",
	                              "a\xff"
	                              "b\xc0\xaf"
	                              "c\xed\xa0\x80"
	                              "d\xe2\x82",
	                              &o, 1, &body, &len),
	                 0);
	root = json_loadb(body, len, 0, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON: %s in %s", jerr.text, body);
	ck_assert_str_eq(json_string_value(json_object_get(root, "id")),
	                 "a\xef\xbf\xbd"
	                 "b\xef\xbf\xbd\xef\xbf\xbd"
	                 "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                 "d\xef\xbf\xbd\xef\xbf\xbd");
	json_decref(root);
	free(body);
}
END_TEST

START_TEST(decode_then_encode)
{
	struct infer_request r;
	struct infer_output o;
	json_error_t jerr;
	json_t *root;
	char *body;
	size_t len;

	ck_assert_int_eq(decode("{\"id\": \"\\\"quoted\\\" \\\\ \\u0001\", \"inputs\": [{\"name\": "
	                        "\"x\", \"datatype\": \"FP32\", \"shape\": [3], "
	                        "\"data\": [0.1, null, 3]}]}",
	                        3, &lim, &r),
	                 0);
	o = (struct infer_output){.name = "predict", .nrows = 3, .width = 1, .data = r.data};
	ck_assert_int_eq(infer_encode("m", "1", r.id, &o, 1, &body, &len), 0);
	root = json_loadb(body, len, 0, &jerr);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_string_value(json_object_get(root, "id")), "\"quoted\" \\ \x01");
	ck_assert_ptr_nonnull(strstr(body, "\"data\":[0.1,null,3]"));
	json_decref(root);
	free(body);
	infer_request_free(&r);
}
END_TEST

/*
 * Differential test of the bulk data parser. infer_decode() parses inputs[0].data itself
 * unless a key before it holds an escape, when everything goes through jansson (the
 * reference path). Each generated body is decoded as is and with its first key, an
 * ignored extension of the same length, spelled with an escape: both must agree on
 * acceptance, message and every float bit. Accepted values are also checked against
 * strtod()/strtoll() of the text, as jansson reads numbers.
 */
#define PAD_BULK "\"p_u0061d\""
#define PAD_REF  "\"p\\u0061d\""

struct gen {
	uint64_t seed;
	FILE *f;
	char **tokens;             /* the data elements as written */
	const char *const *dtypes; /* the datatypes to draw from */
	uint32_t ndtypes;
	size_t ntokens, cap;
};

static uint32_t pick(struct gen *g, uint32_t n)
{
	return xorshift(&g->seed) % n;
}

static double random_double(struct gen *g)
{
	uint64_t bits = ((uint64_t)xorshift(&g->seed) << 32) | xorshift(&g->seed);
	double d;

	memcpy(&d, &bits, sizeof(d));
	return isfinite(d) ? d : 1.5;
}

static float random_float(struct gen *g)
{
	uint32_t bits = xorshift(&g->seed) ^ (xorshift(&g->seed) << 16);
	float f;

	memcpy(&f, &bits, sizeof(f));
	return isfinite(f) ? f : 2.5f;
}

/* A value of everyday size: what features look like. */
static double everyday(struct gen *g)
{
	double m = (double)xorshift(&g->seed) / 4294967296.0;

	return (pick(g, 2) ? -1 : 1) * m * pow(10, (int)pick(g, 14) - 7);
}

static void ws(struct gen *g)
{
	static const char *const w[] = {"", "", "", " ", "\n", "\t", "\r\n  ", "  "};

	fputs(w[pick(g, 8)], g->f);
}

/* Writes one number in one of many spellings. */
static void number_text(struct gen *g, char *t, size_t n)
{
	static const char *const odd[] = {"-0",
	                                  "-0.0",
	                                  "0e5",
	                                  "0.0e-999",
	                                  "0E+0",
	                                  "1E5",
	                                  "1e+5",
	                                  "1e-5",
	                                  "3.0",
	                                  "1e3",
	                                  "2147483648.0",
	                                  "-2147483648e0",
	                                  "2147483647",
	                                  "-2147483649",
	                                  "9223372036854775807",
	                                  "-9223372036854775808",
	                                  "9007199254740993",
	                                  "9007199254740993.0",
	                                  "3.4028235e38",
	                                  "3.4028235677973366e38",
	                                  "3.4028235677973362e38",
	                                  "-3.40282357e38",
	                                  "3.4028236e38",
	                                  "1e39",
	                                  "1.17549435e-38",
	                                  "1.4e-45",
	                                  "7e-46",
	                                  "7.1e-46",
	                                  "4.9e-324",
	                                  "2.4703282292062327e-324",
	                                  "1.7976931348623157e308",
	                                  "0.1",
	                                  "0.30000000000000004",
	                                  "123456789012345678901234567890",
	                                  "1.00000000000000000000000000000",
	                                  "0.000000000000000000000000000123",
	                                  "12345678901234567890e-30",
	                                  "9999999999999999999",
	                                  "10000000000000000000",
	                                  "18446744073709551615",
	                                  "2.2250738585072011e-308",
	                                  "2.2250738585072014e-308",
	                                  "9007199254740992.5",
	                                  "1e22",
	                                  "1e23",
	                                  "123e30",
	                                  "8.98846567431158e307"};
	int p;

	switch (pick(g, 14)) {
	case 0:
		snprintf(t, n, "%d", (int)pick(g, 2001) - 1000);
		break;
	case 1:
		snprintf(t, n, "%" PRId64,
		         (int64_t)(((uint64_t)xorshift(&g->seed) << 32) | xorshift(&g->seed)) >>
		             pick(g, 63));
		break;
	case 2:
		snprintf(t, n, "%.17g", everyday(g));
		break;
	case 3:
		snprintf(t, n, "%.17g", (double)(float)everyday(g));
		break;
	case 4:
		snprintf(t, n, "%.9g", (double)random_float(g));
		break;
	case 5:
		p = (int)pick(g, 25) + 1;
		snprintf(t, n, pick(g, 2) ? "%.*g" : "%.*e", p, random_double(g));
		break;
	case 6:
		p = (int)pick(g, 25) + 1;
		snprintf(t, n, pick(g, 2) ? "%.*g" : "%.*E", p, everyday(g));
		break;
	case 7:
		snprintf(t, n, "%.*f", (int)pick(g, 22), everyday(g));
		break;
	case 8: {
		/* Subnormal doubles and floats. */
		uint64_t bits = (((uint64_t)xorshift(&g->seed) << 32) | xorshift(&g->seed)) >>
		                (12 + pick(g, 40));
		double d;
		memcpy(&d, &bits, sizeof(d));
		if (pick(g, 2))
			d = (double)(float)(d * 0x1p900);
		snprintf(t, n, "%.*g", (int)pick(g, 20) + 1, d);
		break;
	}
	case 9: {
		/* Around FLT_MAX and float halfway points. */
		double d = (double)FLT_MAX * (1 + ((double)pick(g, 2001) - 1000) * 1e-10);
		snprintf(t, n, "%.*g", (int)pick(g, 12) + 6, pick(g, 2) ? d : -d);
		break;
	}
	case 10: {
		/* Long mantissas, with the point anywhere and an exponent or not. */
		int len = (int)pick(g, 40) + 1, dot = (int)pick(g, (uint32_t)len + 1), o = 0;
		if (pick(g, 2))
			t[o++] = '-';
		for (int i = 0; i < len; i++) {
			if (i == dot && i > 0)
				t[o++] = '.';
			t[o++] = (char)((i == 0 ? '1' + pick(g, 9) : '0' + pick(g, 10)));
		}
		t[o] = '\0';
		if (dot == len || dot == 0)
			snprintf(t + o, n - (size_t)o, "e%d", (int)pick(g, 80) - 40);
		break;
	}
	case 11:
		/* Leading zeros, now and then past what the bulk path copies for strtod(). */
		snprintf(t, n, "0.%0*d%u", (int)(pick(g, 4) ? pick(g, 30) : pick(g, 160)), 0,
		         xorshift(&g->seed));
		break;
	default:
		snprintf(t, n, "%s", odd[pick(g, sizeof(odd) / sizeof(odd[0]))]);
		break;
	}
}

static void element(struct gen *g)
{
	static const char *const words[] = {
	    "null", "NaN", "\"NaN\"", "Infinity", "-Infinity", "\"Infinity\"", "\"-Infinity\"",
	    /* Refused by the reference, so by the bulk path too. */
	    "\"1\"", "true", "{}", "01", "1.", ".5", "+1", "1e", "-", "1.5.2", "NaNx", "nul",
	    "\"N\\u0061N\"", "\"nan\"", "1e999", "-1e400", "0x10", "- 1", "Inf"};
	char t[256];

	if (pick(g, 6) == 0) {
		/* Most words are valid; the refused ones are rarer. */
		uint32_t i = pick(g, 4) ? pick(g, 7) : pick(g, sizeof(words) / sizeof(words[0]));
		snprintf(t, sizeof(t), "%s", words[i]);
	} else {
		number_text(g, t, sizeof(t));
	}
	fputs(t, g->f);
	if (g->ntokens == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->tokens = realloc(g->tokens, g->cap * sizeof(*g->tokens));
		ck_assert_ptr_nonnull(g->tokens);
	}
	g->tokens[g->ntokens] = strdup(t);
	ck_assert_ptr_nonnull(g->tokens[g->ntokens]);
	g->ntokens++;
}

/* n elements in [ ], with now and then one too many or too few. */
static void values(struct gen *g, size_t n)
{
	if (pick(g, 50) == 0)
		n += pick(g, 2) ? 1 : (size_t)-1;
	fputc('[', g->f);
	for (size_t i = 0; i < n; i++) {
		ws(g);
		element(g);
		ws(g);
		if (i + 1 < n)
			fputc(',', g->f);
	}
	fputc(']', g->f);
}

static void member(struct gen *g, const char *key)
{
	fprintf(g->f, "\"%s\"", key);
	ws(g);
	fputc(':', g->f);
	ws(g);
}

/* Writes a request with PAD_BULK first; returns num_feature. */
static size_t generate(struct gen *g, const char **dtype_out)
{
	size_t nf = pick(g, 6) + 1, rows = pick(g, 5) + 1;
	const char *dt = g->dtypes[pick(g, g->ndtypes)];
	bool flat_shape = rows == 1 && pick(g, 3) == 0, nested = !flat_shape && pick(g, 2);
	uint32_t order = pick(g, 4), extra = pick(g, 20);

	*dtype_out = dt;
	fputc('{', g->f);
	ws(g);
	fputs(PAD_BULK, g->f);
	fputs(": 0,", g->f);
	ws(g);
	if (pick(g, 4) == 0)
		fputs("\"id\": \"r\\u00e91\", ", g->f);
	member(g, "inputs");
	fputc('[', g->f);
	ws(g);
	fputc('{', g->f);
	for (uint32_t k = 0; k < 4; k++) {
		uint32_t which = (k + order) % 4;
		ws(g);
		if (which == 0) {
			member(g, "name");
			fputs("\"x\"", g->f);
		} else if (which == 1) {
			member(g, "datatype");
			fprintf(g->f, "\"%s\"", dt);
		} else if (which == 2) {
			size_t r = pick(g, 40) ? rows : rows + 1;
			member(g, "shape");
			if (flat_shape)
				fprintf(g->f, "[%zu]", nf);
			else
				fprintf(g->f, "[%zu,%zu]", r, nf);
		} else {
			/* An escaped or second data key, now and then. */
			member(g, extra == 0 ? "d\\u0061ta" : "data");
			if (!nested) {
				values(g, rows * nf);
			} else {
				fputc('[', g->f);
				for (size_t r = 0; r < rows; r++) {
					ws(g);
					values(g, nf);
					if (r + 1 < rows)
						fputc(',', g->f);
				}
				fputc(']', g->f);
			}
			if (extra == 1)
				fputs(", \"data\": [1]", g->f);
		}
		ws(g);
		if (k < 3)
			fputc(',', g->f);
	}
	fputc('}', g->f);
	if (extra == 2)
		fputs(", {}", g->f);
	fputc(']', g->f);
	if (pick(g, 4) == 0)
		fputs(", \"outputs\": [{\"name\": \"margin\"}]", g->f);
	ws(g);
	fputc('}', g->f);
	return nf;
}

/* The float jansson's reading of t gives under convert(), or false when t is not plain. */
static bool expected_value(const char *t, float *out)
{
	char *end;

	if (!strcmp(t, "null") || !strcmp(t, "NaN") || !strcmp(t, "\"NaN\"") ||
	    !strcmp(t, "\"N\\u0061N\"")) {
		*out = NAN;
		return true;
	}
	if (strstr(t, "Infinity")) {
		*out = t[0] == '-' || t[1] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (!strpbrk(t, ".eE"))
		*out = (float)strtoll(t, &end, 10);
	else
		*out = (float)strtod(t, &end);
	return *end == '\0';
}

/*
 * Runs the differential test on bodies of the given datatypes; min_accept: how many of the
 * 4000 bodies at least must be accepted (and refused) for the comparison to prove much.
 */
static void bulk_differential(uint64_t seed, const char *const *dtypes, uint32_t ndtypes,
                              size_t min_accept)
{
	size_t accepted = 0, total = 4000;
	struct gen g = {.seed = seed, .dtypes = dtypes, .ndtypes = ndtypes};

	for (size_t iter = 0; iter < total; iter++) {
		struct infer_limits l = {.max_rows = 6, .max_elements = 40, .max_depth = 8};
		struct infer_request a, b;
		char *body, *ref, erra[512], errb[512], *pad;
		const char *dt;
		size_t len, nf;
		int ra, rb;
		bool broken = false;

		g.f = open_memstream(&body, &len);
		ck_assert_ptr_nonnull(g.f);
		nf = generate(&g, &dt);
		ck_assert_int_eq(fclose(g.f), 0);
		/* Now and then a depth bound that refuses nested rows, or a broken body. */
		if (pick(&g, 10) == 0)
			l.max_depth = 4 + pick(&g, 2);
		if (pick(&g, 20) == 0) {
			len = 20 + pick(&g, (uint32_t)len - 20);
			broken = true;
		} else if (pick(&g, 20) == 0) {
			body[20 + pick(&g, (uint32_t)len - 20)] = "]}[{,:\"\\ 0-"[pick(&g, 12)];
			broken = true;
		}
		ref = malloc(len + 1);
		ck_assert_ptr_nonnull(ref);
		memcpy(ref, body, len + 1);
		pad = strstr(ref, PAD_BULK);
		ck_assert_ptr_nonnull(pad);
		memcpy(pad, PAD_REF, strlen(PAD_REF));

		ra = infer_decode(body, len, nf, &l, &a, erra, sizeof(erra));
		rb = infer_decode(ref, len, nf, &l, &b, errb, sizeof(errb));
		ck_assert_msg(ra == rb, "%.*s: bulk %d (%s), reference %d (%s)", (int)len, body, ra,
		              ra ? erra : "", rb, rb ? errb : "");
		if (ra == 0) {
			accepted++;
			ck_assert_uint_eq(a.nrows, b.nrows);
			ck_assert_uint_eq(a.ncols, b.ncols);
			ck_assert(a.want == b.want && a.binary == b.binary);
			ck_assert_str_eq(a.input_name, b.input_name);
			ck_assert((a.id == NULL) == (b.id == NULL));
			if (a.id)
				ck_assert_str_eq(a.id, b.id);
			ck_assert_int_eq(memcmp(a.data, b.data, a.nrows * a.ncols * sizeof(float)),
			                 0);
			/* A broken body that still parses no longer matches its tokens. */
			if (!broken)
				ck_assert_uint_eq(g.ntokens, a.nrows * a.ncols);
			for (size_t i = 0; i < g.ntokens && !broken; i++) {
				float want;
				ck_assert_msg(expected_value(g.tokens[i], &want), "%s",
				              g.tokens[i]);
				ck_assert_msg(isnan(want)
				                  ? isnan(a.data[i]) != 0
				                  : memcmp(&want, &a.data[i], sizeof(want)) == 0,
				              "%s (%s): decoded %a, strtod gives %a", g.tokens[i],
				              dt, (double)a.data[i], (double)want);
			}
		} else {
			ck_assert_str_eq(erra, errb);
		}
		infer_request_free(&a);
		infer_request_free(&b);
		for (size_t i = 0; i < g.ntokens; i++)
			free(g.tokens[i]);
		g.ntokens = 0;
		free(body);
		free(ref);
	}
	free(g.tokens);
	/* Both outcomes well represented, or the comparison proves little. */
	ck_assert_uint_gt(accepted, min_accept);
	ck_assert_uint_gt(total - accepted, total / 5);
}

START_TEST(bulk_matches_reference)
{
	static const char *const dtypes[] = {"FP32", "FP32", "FP64", "INT32", "INT64"};

	bulk_differential(0x2545f4914f6cdd1dull + (uint64_t)_i, dtypes, 5, 4000 / 5);
}
END_TEST

/*
 * The same for the narrower types, whose ranges refuse most generated values (so fewer
 * bodies are accepted). Not UINT64: jansson (the reference) cannot read its integers past
 * INT64_MAX, which only the bulk path takes (every_type_json pins that difference).
 */
START_TEST(bulk_matches_reference_types)
{
	static const char *const dtypes[] = {"UINT8",  "INT8", "UINT16", "INT16",
	                                     "UINT32", "BOOL", "FP64",   "INT64"};

	bulk_differential(0x9e3779b97f4a7c15ull + (uint64_t)_i, dtypes, 8, 4000 / 25);
}
END_TEST

/*
 * Differential test of the skeleton fast path: requests in and around the plain form the
 * server decodes without jansson (printable strings, scalar extension keys, integer shape),
 * each decoded as is and with an escaped key of the same length in front, which sends it
 * through jansson. '@' in a template stands for that key. Both must agree on acceptance,
 * message and every field; accepted ones also say what they hold.
 */
static const struct {
	const char *body;
	const char *id; /* expected id when accepted, "-" for none; NULL: refused */
} skel_cases[] = {
    {"{@\"id\":\"abc\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     "abc"},
    {" {\n\t@\"inputs\" : [ {\r\n\"data\" : [ 1 , 2 , 3 ] , \"shape\" : [ 3 ] , \"datatype\""
     " : \"FP64\" , \"name\" : \"in put\" } ] , \"id\" : \"\" }\n ",
     ""},
    {"{@\"k1\":true,\"k2\":null,\"k3\":-0,\"k4\":\"s\",\"k5\":123456789012345678,\"\":false,"
     "\"inputs\":[{\"q\":1,\"name\":\"x\",\"datatype\":\"INT64\",\"shape\":[1,3],"
     "\"data\":[[1,2,3]]}]}",
     "-"},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],"
     "\"parameters\":{}}",
     "-"},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3],"
     "\"parameters\":{}}]}",
     "-"},
    {"{@\"id\":\"r\xc3\xa9\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     "r\xc3\xa9"},
    {"{@\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
     "\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}",
     "-"},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],"
     "\"outputs\":[{\"name\":\"margin\"}]}",
     "-"},
    {"{@\"k\":1.5e3,\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     "-"},
    /* Refused. */
    {"{@\"k\":1234567890123456789012,\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\","
     "\"shape\":[1,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"id\":\"a\",\"id\":\"b\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\","
     "\"shape\":[1,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"k\":1,\"k\":1,\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[0,3],\"data\":[]}]}", NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-1,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1.0,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[01,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3,1],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[],\"data\":[1,2,3]}]}", NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,4],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[5,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"fp32\",\"shape\":[1,3],\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":5,\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}", NULL},
    {"{@\"inputs\":[{\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}", NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"data\":[1,2,3]}]}", NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1,2,3]}]}", NULL},
    {"{@\"id\":7,\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"id\":\"a\x01\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],"
     "\"data\":[1,2,3]}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]}x",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]},"
     "{}]}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}]",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],"
     "\"k\":tru}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],"
     "\"k\":NaN}",
     NULL},
    {"{@\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[1,3],\"data\":[1,2,3]}],"
     "\"outputs\":[{\"name\":\"nope\"}]}",
     NULL},
};

/* tmpl with the '@' at at replaced by pad and ":0,". */
static char *with_pad(const char *tmpl, const char *at, const char *pad)
{
	size_t n = strlen(tmpl) + strlen(pad) + 3;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	snprintf(s, n, "%.*s%s:0,%s", (int)(at - tmpl), tmpl, pad, at + 1);
	return s;
}

START_TEST(skeleton_matches_reference)
{
	const struct infer_limits l = {.max_rows = 4, .max_elements = 12, .max_depth = 8};
	const char *tmpl = skel_cases[_i].body;
	const char *at = strchr(tmpl, '@');
	struct infer_request a, b;
	char erra[512], errb[512];
	char *fast, *ref;
	int ra, rb;

	ck_assert_ptr_nonnull(at);
	fast = with_pad(tmpl, at, PAD_BULK);
	ref = with_pad(tmpl, at, PAD_REF);
	ck_assert_uint_eq(strlen(fast), strlen(ref));
	ra = infer_decode(fast, strlen(fast), 3, &l, &a, erra, sizeof(erra));
	rb = infer_decode(ref, strlen(ref), 3, &l, &b, errb, sizeof(errb));
	ck_assert_msg(ra == rb, "%s: as is %d (%s), through jansson %d (%s)", fast, ra,
	              ra ? erra : "", rb, rb ? errb : "");
	if (skel_cases[_i].id == NULL) {
		ck_assert_msg(ra < 0, "%s: accepted", fast);
		ck_assert_str_eq(erra, errb);
	} else {
		ck_assert_msg(ra == 0, "%s: %s", fast, erra);
		ck_assert_uint_eq(a.nrows, 1);
		ck_assert_uint_eq(a.ncols, 3);
		ck_assert_uint_eq(a.nrows, b.nrows);
		ck_assert_uint_eq(a.ncols, b.ncols);
		ck_assert(a.want == b.want && a.binary == b.binary);
		ck_assert(a.binary_all == b.binary_all);
		ck_assert_str_eq(a.input_name, b.input_name);
		if (strcmp(skel_cases[_i].id, "-") == 0) {
			ck_assert_ptr_null(a.id);
			ck_assert_ptr_null(b.id);
		} else {
			ck_assert_str_eq(a.id, skel_cases[_i].id);
			ck_assert_str_eq(b.id, skel_cases[_i].id);
		}
		for (size_t i = 0; i < 3; i++)
			ck_assert(a.data[i] == (float)(i + 1) && b.data[i] == a.data[i]);
	}
	infer_request_free(&a);
	infer_request_free(&b);
	free(fast);
	free(ref);
}
END_TEST

/* Big tensors in the usual spellings: every alignment of the 8-byte digit reader. */
START_TEST(bulk_large_tensors)
{
	const struct infer_limits l = {.max_rows = 1000, .max_elements = 30000, .max_depth = 8};
	struct gen g = {.seed = 0x9e3779b97f4a7c15ull};

	for (int style = 0; style < 4; style++) {
		struct infer_request a, b;
		char *body, *ref, erra[256], errb[256];
		size_t len;

		g.f = open_memstream(&body, &len);
		ck_assert_ptr_nonnull(g.f);
		fprintf(g.f,
		        "{" PAD_BULK ": 0, \"inputs\": [{\"name\": \"x\", \"shape\": [1000, 30], "
		        "\"datatype\": \"FP32\", \"data\": [");
		for (int i = 0; i < 30000; i++) {
			double v = everyday(&g);
			if (i)
				fputc(',', g.f);
			if (style == 1 && i % 30 == 0)
				fputc('[', g.f);
			if (pick(&g, 30) == 0)
				fputs("null", g.f);
			else if (style == 0 || style == 1)
				fprintf(g.f, "%.17g", (double)(float)v);
			else if (style == 2)
				fprintf(g.f, "%.9g", (double)(float)v);
			else
				fprintf(g.f, "%.*g", (int)pick(&g, 19) + 1, v);
			if (style == 1 && i % 30 == 29)
				fputc(']', g.f);
		}
		fputs("]}]}", g.f);
		ck_assert_int_eq(fclose(g.f), 0);
		ref = strdup(body);
		ck_assert_ptr_nonnull(ref);
		memcpy(strstr(ref, PAD_BULK), PAD_REF, strlen(PAD_REF));
		ck_assert_int_eq(infer_decode(body, len, 30, &l, &a, erra, sizeof(erra)), 0);
		ck_assert_int_eq(infer_decode(ref, len, 30, &l, &b, errb, sizeof(errb)), 0);
		ck_assert_uint_eq(a.nrows, 1000);
		ck_assert_int_eq(memcmp(a.data, b.data, 30000 * sizeof(float)), 0);
		infer_request_free(&a);
		infer_request_free(&b);
		free(body);
		free(ref);
	}
}
END_TEST

/* --- the binary tensor data extension --- */

static int decode_bin(const struct tu_buf *b, size_t json_len, size_t nf,
                      const struct infer_limits *l, struct infer_request *req)
{
	err[0] = '\0';
	return infer_decode_binary(b->p, b->len, json_len, nf, l, req, err, sizeof(err));
}

/* A one-input binary request: JSON header (with extra at the top level) and its bytes. */
static size_t bin_request(struct tu_buf *b, const char *dt, const char *shape, size_t bds,
                          const char *extra, const void *bytes, size_t nbytes)
{
	size_t jl;

	tu_buf_printf(b,
	              "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"%s\", \"shape\": %s, "
	              "\"parameters\": {\"binary_data_size\": %zu}}]%s}",
	              dt, shape, bds, extra ? extra : "");
	jl = b->len;
	if (nbytes)
		tu_buf_add(b, bytes, nbytes);
	return jl;
}

/* Each must fail with -EINVAL and a message containing want (model with 3 features). */
static const struct {
	const char *json;
	size_t nbytes;      /* bytes after the JSON */
	long long json_len; /* -1: the JSON's length */
	const char *want;
} bad_bin[] = {
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     12, 100000, "Inference-Header-Content-Length: 100000 exceeds the body length"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     12, 10, "JSON header (the first 10 bytes, Inference-Header-Content-Length): line 1"},
    {"", 12, 0, "Inference-Header-Content-Length"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3]}]}", 12, -1,
     "inputs[0].parameters.binary_data_size: required for the 12 bytes"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3]}]}", 0, -1,
     "inputs[0].data: required"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 8}}]}",
     8, -1,
     "inputs[0].parameters.binary_data_size: 8 bytes, but shape [1, 3] of FP32 takes 3 x 4 = 12"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP64\", \"shape\": [3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     12, -1,
     "inputs[0].parameters.binary_data_size: 12 bytes, but shape [3] of FP64 takes 3 x 8 = 24"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT64\", \"shape\": [2,3], \"parameters\": "
     "{\"binary_data_size\": 24}}]}",
     24, -1, "takes 6 x 8 = 48"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12.0}}]}",
     12, -1,
     "inputs[0].parameters.binary_data_size: expected a byte count (an integer >= 0), got a "
     "number"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": -12}}]}",
     12, -1, "got a negative number"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"INT32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": null}}]}",
     12, -1,
     "inputs[0].parameters.binary_data_size: expected a byte count (an integer >= 0), got null"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     16, -1,
     "Inference-Header-Content-Length: 16 bytes of binary tensor data follow the JSON header, but "
     "inputs[0].parameters.binary_data_size is 12"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     11, -1, "Inference-Header-Content-Length: 11 bytes"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     0, -1, "Inference-Header-Content-Length: 0 bytes"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"data\": [1,2,3], "
     "\"parameters\": {\"binary_data_size\": 12}}]}",
     12, -1, "inputs[0].data: not allowed together with parameters.binary_data_size"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"data\": "
     "[1,2,3]}]}",
     4, -1,
     "Inference-Header-Content-Length: 4 bytes follow the JSON header, but no input has "
     "parameters.binary_data_size"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [5,3], \"parameters\": "
     "{\"binary_data_size\": 60}}]}",
     60, -1, "inputs[0].shape[0]: 5 rows exceed the limit of 4"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,2], \"parameters\": "
     "{\"binary_data_size\": 8}}]}",
     8, -1, "inputs[0].shape[1]: the model takes 3 features, got 2"},
    {"{\"inputs\": [{\"name\": \"x\", \"datatype\": \"BYTES\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     12, -1, "inputs[0].datatype: \"BYTES\" is not supported"},
    {"{\"parameters\": {\"binary_data_output\": \"true\"}, \"inputs\": [{\"name\": \"x\", "
     "\"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": {\"binary_data_size\": 12}}]}",
     12, -1, "parameters.binary_data_output: expected true or false, got a string"},
    {"{\"outputs\": [{\"name\": \"margin\", \"parameters\": {\"binary_data\": 1}}], \"inputs\": "
     "[{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [1,3], \"parameters\": "
     "{\"binary_data_size\": 12}}]}",
     12, -1, "outputs[0].parameters.binary_data: expected true or false, got a number"},
};

START_TEST(binary_malformed)
{
	struct tu_buf b = {0};
	struct infer_request r;
	size_t jl = strlen(bad_bin[_i].json);

	tu_buf_add(&b, bad_bin[_i].json, jl);
	for (size_t i = 0; i < bad_bin[_i].nbytes; i++)
		tu_buf_le(&b, 0x3f, 1);
	if (bad_bin[_i].json_len >= 0)
		jl = (size_t)bad_bin[_i].json_len;
	ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), -EINVAL);
	ck_assert_msg(strstr(err, bad_bin[_i].want) != NULL, "case %d: got \"%s\", want \"%s\"", _i,
	              err, bad_bin[_i].want);
	/* A refused request holds nothing. */
	ck_assert_ptr_null(r.data);
	ck_assert_ptr_null(r.input_name);
	ck_assert_ptr_null(r.id);
	free(b.p);
}
END_TEST

/* Without the header, binary_data_size is refused (both the bulk and the reference path). */
START_TEST(binary_needs_header)
{
	struct infer_request r;

	ck_assert_int_eq(
	    decode("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": "
	           "[1,3], \"parameters\": {\"binary_data_size\": 12}}]}",
	           3, &lim, &r),
	    -EINVAL);
	ck_assert_msg(strstr(err, "inputs[0].parameters.binary_data_size: binary tensor data needs "
	                          "the Inference-Header-Content-Length header") != NULL,
	              "%s", err);
	ck_assert_int_eq(
	    decode("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": "
	           "[1,3], \"data\": [1,2,3], \"parameters\": {\"binary_data_size\": "
	           "12}}]}",
	           3, &lim, &r),
	    -EINVAL);
	ck_assert_msg(strstr(err, "binary_data_size") != NULL, "%s", err);
}
END_TEST

/* Values written by hand with their float32 results worked out by hand. */
START_TEST(binary_known_values)
{
	struct tu_buf b = {0};
	struct infer_request r;
	size_t jl;

	/* FP32 1.0, -2.5, and a NaN pattern (missing). */
	jl = bin_request(&b, "FP32", "[3]", 12, NULL,
	                 "\x00\x00\x80\x3f"
	                 "\x00\x00\x20\xc0"
	                 "\x00\x00\xc0\x7f",
	                 12);
	ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), 0);
	ck_assert_uint_eq(r.nrows, 1);
	ck_assert_uint_eq(r.ncols, 3);
	ck_assert_str_eq(r.input_name, "x");
	ck_assert(r.data[0] == 1.0f && r.data[1] == -2.5f && isnan(r.data[2]));
	ck_assert(r.want == 0 && !r.binary_all);
	infer_request_free(&r);
	free(b.p);

	/* FP64 0.1 (0x3FB999999999999A) narrows to 0.1f; 1e300 to inf; NaN stays missing. */
	b = (struct tu_buf){0};
	jl = bin_request(&b, "FP64", "[1,3]", 24, NULL, NULL, 0);
	tu_buf_le(&b, 0x3FB999999999999Aull, 8);
	tu_buf_le(&b, 0x7E37E43C8800759Cull, 8); /* 1e300 */
	tu_buf_le(&b, 0xFFF8000000000000ull, 8);
	ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), 0);
	ck_assert(r.data[0] == 0.1f);
	ck_assert(isinf(r.data[1]) && r.data[1] > 0);
	ck_assert(isnan(r.data[2]));
	infer_request_free(&r);
	free(b.p);

	/* INT32: 2^24 + 1 rounds to even (2^24), INT32_MIN is exact, -7. */
	b = (struct tu_buf){0};
	jl = bin_request(&b, "INT32", "[1,3]", 12, NULL, NULL, 0);
	tu_buf_le(&b, 16777217u, 4);
	tu_buf_le(&b, 0x80000000u, 4);
	tu_buf_le(&b, (uint32_t)-7, 4);
	ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), 0);
	ck_assert(r.data[0] == 16777216.0f);
	ck_assert(r.data[1] == -2147483648.0f);
	ck_assert(r.data[2] == -7.0f);
	infer_request_free(&r);
	free(b.p);

	/* INT64: 2^53 + 1 and INT64_MAX round to 2^53 and 2^63; -1. Two rows, id echoed. */
	b = (struct tu_buf){0};
	jl = bin_request(&b, "INT64", "[2,3]", 48, ",\"id\": \"b1\"", NULL, 0);
	tu_buf_le(&b, (1ull << 53) + 1, 8);
	tu_buf_le(&b, 0x7fffffffffffffffull, 8);
	tu_buf_le(&b, (uint64_t)-1, 8);
	tu_buf_le(&b, 0, 8);
	tu_buf_le(&b, 1, 8);
	tu_buf_le(&b, 0x8000000000000000ull, 8);
	ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), 0);
	ck_assert_uint_eq(r.nrows, 2);
	ck_assert_str_eq(r.id, "b1");
	ck_assert(r.data[0] == 9007199254740992.0f);
	ck_assert(r.data[1] == 9223372036854775808.0f);
	ck_assert(r.data[2] == -1.0f);
	ck_assert(r.data[3] == 0.0f && r.data[4] == 1.0f);
	ck_assert(r.data[5] == -9223372036854775808.0f);
	infer_request_free(&r);
	free(b.p);
}
END_TEST

/* Deterministic pseudo-random bits (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/*
 * The same values through the JSON path and the binary path decode to the same float32
 * bits, for every datatype: random values and the edges (signed zeros, extremes, values
 * that round, subnormals, infinities, overflow to inf, NaN as missing).
 */
START_TEST(binary_matches_json)
{
	static const char *const dts[] = {"FP32", "FP64", "INT32", "INT64"};
	static const size_t esz[] = {4, 8, 4, 8};
	const size_t nf = 4, nrows = 250, n = nf * nrows;
	struct infer_limits l = {.max_rows = 1000, .max_elements = 4000, .max_depth = 8};
	uint64_t seed = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	int t = _i;
	struct tu_buf js = {0}, bin = {0};
	struct infer_request a, b;
	char shape[32];
	size_t jl;

	snprintf(shape, sizeof(shape), "[%zu,%zu]", nrows, nf);
	tu_buf_printf(&js,
	              "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"%s\", \"shape\": %s, "
	              "\"data\": [",
	              dts[t], shape);
	jl = bin_request(&bin, dts[t], shape, n * esz[t], NULL, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		uint64_t u = rnd(&seed);
		if (i)
			tu_buf_add(&js, ",", 1);
		if (t == 0) {
			static const uint32_t edge[] = {0x00000000u, 0x80000000u, 0x7f7fffffu,
			                                0xff7fffffu, 0x00000001u, 0x807fffffu,
			                                0x00800000u, 0x7f800000u, 0xff800000u,
			                                0x7fc00000u, 0x3f800001u, 0x4b800001u};
			uint32_t v = i < sizeof(edge) / sizeof(edge[0]) ? edge[i] : (uint32_t)u;
			float f;
			memcpy(&f, &v, sizeof(f));
			/* A random NaN pattern is just a missing value; keep the few edges. */
			if (isnan(f) && i >= sizeof(edge) / sizeof(edge[0])) {
				v &= 0xbfffffffu;
				memcpy(&f, &v, sizeof(f));
			}
			if (isnan(f))
				tu_buf_printf(&js, "null");
			else if (isinf(f))
				tu_buf_printf(&js, "%sInfinity", f < 0 ? "-" : "");
			else if (f == 0 && signbit(f))
				tu_buf_printf(&js, "-0.0"); /* "-0" is the JSON integer 0 */
			else
				tu_buf_printf(&js, "%.17g", (double)f);
			tu_buf_le(&bin, v, 4);
		} else if (t == 1) {
			static const double edge[] = {0.0,
			                              -0.0,
			                              1e300,
			                              -1e300,
			                              1e-300,
			                              3.4028235677973366e38,
			                              3.4028234663852886e38,
			                              1.401298464324817e-45,
			                              7.006492321624085e-46,
			                              0.1,
			                              1.0000000596046448};
			double x;
			if (i < sizeof(edge) / sizeof(edge[0])) {
				x = edge[i];
			} else if (i % 3 == 0) {
				memcpy(&x, &u, sizeof(x));
				if (!isfinite(x))
					x = (double)(int64_t)u;
			} else {
				/* Doubles in float range with bits below float precision. */
				x = ldexp((double)(u >> 11), (int)(u % 64) - 80) * (u & 1 ? -1 : 1);
			}
			uint64_t xb;
			memcpy(&xb, &x, sizeof(xb));
			if (x == 0 && signbit(x))
				tu_buf_printf(&js, "-0.0");
			else
				tu_buf_printf(&js, "%.17g", x);
			tu_buf_le(&bin, xb, 8);
		} else if (t == 2) {
			static const int32_t edge[] = {INT32_MIN, INT32_MAX, 0,
			                               -1,        16777217,  -16777217};
			int32_t v =
			    i < sizeof(edge) / sizeof(edge[0]) ? edge[i] : (int32_t)(uint32_t)u;
			if (i % 5 == 4)
				v >>= (u >> 40) % 31;
			tu_buf_printf(&js, "%" PRId32, v);
			tu_buf_le(&bin, (uint32_t)v, 4);
		} else {
			static const int64_t edge[] = {
			    INT64_MIN,       INT64_MAX,         0, -1, (1ll << 53) + 1,
			    (1ll << 24) + 1, -((1ll << 40) + 3)};
			int64_t v = i < sizeof(edge) / sizeof(edge[0]) ? edge[i] : (int64_t)u;
			if (i % 5 == 4)
				v >>= (u >> 40) % 63;
			tu_buf_printf(&js, "%" PRId64, v);
			tu_buf_le(&bin, (uint64_t)v, 8);
		}
	}
	tu_buf_printf(&js, "]}]}");
	ck_assert_uint_eq(bin.len - jl, n * esz[t]);
	ck_assert_msg(infer_decode(js.p, js.len, nf, &l, &a, err, sizeof(err)) == 0, "%s JSON: %s",
	              dts[t], err);
	ck_assert_msg(decode_bin(&bin, jl, nf, &l, &b) == 0, "%s binary: %s", dts[t], err);
	ck_assert_uint_eq(a.nrows, b.nrows);
	ck_assert_uint_eq(a.ncols, b.ncols);
	for (size_t i = 0; i < n; i++) {
		if (isnan(a.data[i]) || isnan(b.data[i])) {
			ck_assert_msg(isnan(a.data[i]) && isnan(b.data[i]), "%s[%zu]: %a vs %a",
			              dts[t], i, (double)a.data[i], (double)b.data[i]);
			continue;
		}
		ck_assert_msg(memcmp(&a.data[i], &b.data[i], sizeof(float)) == 0,
		              "%s[%zu]: JSON %a, binary %a", dts[t], i, (double)a.data[i],
		              (double)b.data[i]);
	}
	infer_request_free(&a);
	infer_request_free(&b);
	free(js.p);
	free(bin.p);
}
END_TEST

/* Which outputs are asked for in binary: the top-level default and per-output overrides. */
/*
 * Every datatype in JSON, decoded through the bulk path and through the reference path
 * (a key spelled with an escape): both must give these floats, derived by hand from what
 * XGBoost reads out of a numpy array of the type (integers: one static_cast to float;
 * FP16: the binary16 nearest the double, widened exactly; FP32/FP64: through a double).
 */
static void decode_type(const char *dt, const char *data, size_t nf, const float *want)
{
	char *bulk, *ref;
	struct infer_request a, b;

	ck_assert_int_ge(asprintf(&bulk,
	                          "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"%s\", "
	                          "\"shape\": [1, %zu], \"data\": %s}]}",
	                          dt, nf, data),
	                 0);
	ck_assert_int_ge(asprintf(&ref,
	                          "{\"inputs\": [{\"n\\u0061me\": \"x\", \"datatype\": \"%s\", "
	                          "\"shape\": [1, %zu], \"data\": %s}]}",
	                          dt, nf, data),
	                 0);
	ck_assert_msg(decode(bulk, nf, &lim, &a) == 0, "%s %s: %s", dt, data, err);
	ck_assert_msg(decode(ref, nf, &lim, &b) == 0, "%s %s: %s", dt, data, err);
	for (size_t i = 0; i < nf; i++) {
		ck_assert_msg(isnan(want[i]) ? isnan(a.data[i]) && isnan(b.data[i])
		                             : memcmp(&a.data[i], &want[i], 4) == 0 &&
		                                   memcmp(&b.data[i], &want[i], 4) == 0,
		              "%s %s [%zu]: bulk %a, reference %a, expected %a", dt, data, i,
		              (double)a.data[i], (double)b.data[i], (double)want[i]);
	}
	infer_request_free(&a);
	infer_request_free(&b);
	free(bulk);
	free(ref);
}

/* A one-row JSON request of type dt that must fail with a message containing want. */
static void refuse_type(const char *dt, const char *data, size_t nf, const char *want)
{
	char *body;
	struct infer_request r;

	ck_assert_int_ge(asprintf(&body,
	                          "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"%s\", "
	                          "\"shape\": [1, %zu], \"data\": %s}]}",
	                          dt, nf, data),
	                 0);
	ck_assert_int_eq(decode(body, nf, &lim, &r), -EINVAL);
	ck_assert_msg(strstr(err, want), "%s %s: \"%s\" lacks \"%s\"", dt, data, err, want);
	free(body);
}

START_TEST(every_type_json)
{
	const float p24 = 16777216.0f, p32 = 4294967296.0f, p63 = 9223372036854775808.0f,
	            p64 = 18446744073709551616.0f, tiny = 0x1p-24f;

	/* BOOL: JSON booleans (KServe/Triton write BOOL data as true/false); null is missing. */
	decode_type("BOOL", "[true, false, null]", 3, (const float[]){1, 0, NAN});
	refuse_type("BOOL", "[true, 1, false]", 3,
	            "inputs[0].data[1]: expected true, false or null (BOOL), got a number");
	refuse_type("BOOL", "[true, \"true\", false]", 3, "got a string");
	refuse_type("BOOL", "[true, Infinity, false]", 3, "Infinity is not a BOOL value");
	refuse_type("FP32", "[true, 1, 2]", 3,
	            "inputs[0].data[0]: expected a number or null, got a boolean");
	/* Unsigned: the whole range, integral reals, null; one past either end is refused. */
	decode_type("UINT8", "[0, 255, 7.0]", 3, (const float[]){0, 255, 7});
	refuse_type("UINT8", "[0, 256, 1]", 3, "inputs[0].data[1]: 256 is out of range for UINT8");
	refuse_type("UINT8", "[0, 1, -1]", 3, "inputs[0].data[2]: -1 is out of range for UINT8");
	refuse_type("UINT8", "[0, 1.5, 1]", 3, "1.5 is not an integer (UINT8)");
	decode_type("UINT16", "[65535, null, 0.0]", 3, (const float[]){65535, NAN, 0});
	refuse_type("UINT16", "[65536, 1, 2]", 3, "65536 is out of range for UINT16");
	/* 2^32 - 1 and 2^24 + 1 round to nearest (even): 2^32 and 2^24. */
	decode_type("UINT32", "[4294967295, 16777217, 0]", 3, (const float[]){p32, p24, 0});
	refuse_type("UINT32", "[4294967296, 1, 2]", 3, "4294967296 is out of range for UINT32");
	refuse_type("UINT32", "[1, 2, 4294967296.0]", 3, "4294967296 is out of range for UINT32");
	/* UINT64's maximum rounds to 2^64; 2^63 is exact; past INT64_MAX only UINT64 takes. */
	decode_type("UINT64", "[9223372036854775807, 18446744073709549568.0, 1]", 3,
	            (const float[]){p63, 18446744073709549568.0f, 1});
	decode_type("UINT64", "[9223372036854775807, null, 1.8446744073709550e19]", 3,
	            (const float[]){p63, NAN, 18446744073709549568.0f});
	/*
	 * Past INT64_MAX only the bulk path reads the integer; jansson (the reference path,
	 * taken for unusual spellings and to word errors) refuses it as too big.
	 */
	{
		struct infer_request r;
		ck_assert_int_eq(decode(IN("\"datatype\": \"UINT64\", \"shape\": [3], \"data\": "
		                           "[18446744073709551615, 9223372036854775808, 1]"),
		                        3, &lim, &r),
		                 0);
		ck_assert(r.data[0] == p64 && r.data[1] == p63 && r.data[2] == 1);
		infer_request_free(&r);
		ck_assert_int_eq(
		    decode("{\"inputs\": [{\"n\\u0061me\": \"x\", \"datatype\": "
		           "\"UINT64\", \"shape\": [1], \"data\": [18446744073709551615]}]}",
		           1, &lim, &r),
		    -EINVAL);
		ck_assert_msg(strstr(err, "too big integer"), "%s", err);
	}
	refuse_type("UINT64", "[1, -1, 2]", 3, "-1 is out of range for UINT64");
	refuse_type("UINT64", "[1, 2, 1.8446744073709552e19]", 3, "out of range for UINT64");
	refuse_type("INT64", "[1, 2, 9223372036854775808]", 3, "");
	refuse_type("UINT64", "[1, 2, 18446744073709551616]", 3, "");
	/* Signed. */
	decode_type("INT8", "[-128, 127, 0.0]", 3, (const float[]){-128, 127, 0});
	refuse_type("INT8", "[-129, 1, 2]", 3, "-129 is out of range for INT8");
	refuse_type("INT8", "[128, 1, 2]", 3, "128 is out of range for INT8");
	decode_type("INT16", "[-32768, 32767, null]", 3, (const float[]){-32768, 32767, NAN});
	refuse_type("INT16", "[1, 32768, 2]", 3, "32768 is out of range for INT16");
	refuse_type("INT16", "[1, 2, Infinity]", 3, "Infinity is not an INT16 value");
	decode_type("INT64", "[-9223372036854775808, 9223372036854775807, 16777217]", 3,
	            (const float[]){-p63, p63, p24});
	/*
	 * FP16: 65504 is the largest half; 65519 rounds down to it, 65520 up to infinity
	 * (refused, as FP32 refuses what overflows it). 0.1 is the half 0x2e66 (1638/16384),
	 * 2^-24 the smallest subnormal; 2^-25 is a tie and rounds to even (0), 3 * 2^-25 to
	 * 2 * 2^-24. Infinity itself and NaN are values.
	 */
	decode_type("FP16", "[65504, 65519, 0.1]", 3,
	            (const float[]){65504, 65504, 0.0999755859375f});
	decode_type("FP16",
	            "[5.9604644775390625e-8, 2.98023223876953125e-8, 8.94069671630859375e-8]", 3,
	            (const float[]){tiny, 0, 2 * tiny});
	decode_type("FP16", "[Infinity, \"-Infinity\", NaN]", 3,
	            (const float[]){INFINITY, -INFINITY, NAN});
	decode_type("FP16", "[-0.0, 2049, -65504]", 3, (const float[]){-0.0f, 2048, -65504});
	refuse_type("FP16", "[1, 65520, 2]", 3,
	            "inputs[0].data[1]: 65520 is out of range for FP16");
	refuse_type("FP16", "[1, 2, -1e5]", 3, "out of range for FP16");
	/*
	 * FP32 and FP64 read integers as numpy does, through a double: 2^60 + 2^36 + 1 is
	 * 2^60 + 2^36 as a double, a tie in float that rounds to even, 2^60 (straight from the
	 * integer it would round up to 2^60 + 2^37).
	 */
	decode_type("FP32", "[1152921573326323713, 16777217, -1]", 3,
	            (const float[]){0x1p60f, p24, -1});
	decode_type("FP64", "[1152921573326323713, 3, -1]", 3, (const float[]){0x1p60f, 3, -1});
	/*
	 * INT64 casts the integer itself, XGBoost's static_cast<float>(int64_t): one rounding,
	 * up to 2^60 + 2^37 by hand. The reference is that cast done here at run time, since an
	 * emulator (valgrind's VEX) may implement it through a double and round twice.
	 */
	{
		volatile int64_t big = 1152921573326323713;
		decode_type("INT64", "[1152921573326323713, 3, -1]", 3,
		            (const float[]){(float)big, 3, -1});
	}
}
END_TEST

/* Every datatype as binary tensor data: little-endian bytes to the float XGBoost sees. */
START_TEST(every_type_binary)
{
	static const struct {
		const char *dt;
		const char *bytes;
		size_t size;
		float want[3];
	} cases[] = {
	    {"BOOL", "\x01\x00\x01", 1, {1, 0, 1}},
	    {"UINT8", "\xff\x00\x07", 1, {255, 0, 7}},
	    {"INT8", "\x80\x7f\xff", 1, {-128, 127, -1}},
	    {"UINT16", "\xff\xff\x00\x00\x01\x00", 2, {65535, 0, 1}},
	    {"INT16", "\x00\x80\xff\x7f\xff\xff", 2, {-32768, 32767, -1}},
	    {"UINT32",
	     "\xff\xff\xff\xff\x01\x00\x00\x01\x00\x00\x00\x00",
	     4,
	     {4294967296.0f, 16777216.0f, 0}},
	    {"UINT64",
	     "\xff\xff\xff\xff\xff\xff\xff\xff"
	     "\x01\x00\x00\x00\x00\x00\x20\x00"
	     "\x00\x00\x00\x00\x00\x00\x00\x80",
	     8,
	     {18446744073709551616.0f, 9007199254740992.0f, 9223372036854775808.0f}},
	    {"INT64",
	     "\x00\x00\x00\x00\x00\x00\x00\x80"
	     "\xff\xff\xff\xff\xff\xff\xff\x7f"
	     "\xfe\xff\xff\xff\xff\xff\xff\xff",
	     8,
	     {-9223372036854775808.0f, 9223372036854775808.0f, -2}},
	    /* FP16: the smallest and largest subnormals, the largest half. */
	    {"FP16", "\x01\x00\xff\x03\xff\x7b", 2, {0x1p-24f, 0x3ffp-24f, 65504}},
	    /* FP16: infinities and 1; -0 keeps its sign. */
	    {"FP16", "\x00\x7c\x00\xfc\x00\x3c", 2, {INFINITY, -INFINITY, 1}},
	    {"FP16", "\x00\x80\x00\x3c\x00\xc0", 2, {-0.0f, 1, -2}},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct tu_buf b = {0};
		struct infer_request r;
		size_t jl = bin_request(&b, cases[c].dt, "[1,3]", 3 * cases[c].size, NULL,
		                        cases[c].bytes, 3 * cases[c].size);

		ck_assert_msg(decode_bin(&b, jl, 3, &lim, &r) == 0, "%s: %s", cases[c].dt, err);
		for (size_t i = 0; i < 3; i++)
			ck_assert_msg(memcmp(&r.data[i], &cases[c].want[i], 4) == 0,
			              "%s case %zu [%zu]: %a, expected %a", cases[c].dt, c, i,
			              (double)r.data[i], (double)cases[c].want[i]);
		infer_request_free(&r);
		free(b.p);
	}
	/* FP16 NaN (any payload) is missing. */
	{
		struct tu_buf b = {0};
		struct infer_request r;
		size_t jl = bin_request(&b, "FP16", "[3]", 6, NULL, "\x00\x7e\x01\xfc\x00\x00", 6);
		ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), 0);
		ck_assert(isnan(r.data[0]) && isnan(r.data[1]) && r.data[2] == 0);
		infer_request_free(&r);
		free(b.p);
	}
	/* A BOOL byte other than 0 or 1 is refused, by index; sizes follow the type. */
	{
		struct tu_buf b = {0};
		struct infer_request r;
		size_t jl = bin_request(&b, "BOOL", "[3]", 3, NULL, "\x01\x02\x00", 3);
		ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), -EINVAL);
		ck_assert_str_eq(err,
		                 "inputs[0]: binary BOOL element 1 is the byte 2, expected 0 or 1");
		free(b.p);
		b = (struct tu_buf){0};
		jl = bin_request(&b, "UINT16", "[3]", 12, NULL, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
		ck_assert_int_eq(decode_bin(&b, jl, 3, &lim, &r), -EINVAL);
		ck_assert_msg(strstr(err, "shape [3] of UINT16 takes 3 x 2 = 6"), "%s", err);
		free(b.p);
	}
}
END_TEST

START_TEST(binary_output_selection)
{
	static const struct {
		const char *extra;
		bool predict, margin, pbin, mbin;
	} cases[] = {
	    /* None named: predict false here means "the model's defaults"; pbin is then
	     * binary_data_output, the default for every output. */
	    {"", false, false, false, false},
	    {",\"parameters\": {\"binary_data_output\": true}", false, false, true, false},
	    {",\"parameters\": {\"binary_data_output\": false}", false, false, false, false},
	    {",\"outputs\": [{\"name\": \"margin\", \"parameters\": {\"binary_data\": true}}]",
	     false, true, false, true},
	    {",\"outputs\": [{\"name\": \"predict\"}, {\"name\": \"margin\", \"parameters\": "
	     "{\"binary_data\": true}}]",
	     true, true, false, true},
	    {",\"parameters\": {\"binary_data_output\": true}, \"outputs\": [{\"name\": "
	     "\"predict\", "
	     "\"parameters\": {\"binary_data\": false}}, {\"name\": \"margin\"}]",
	     true, true, false, true},
	};
	struct infer_request r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s;
		/* JSON requests may ask for binary outputs too. */
		ck_assert_int_ge(asprintf(&s,
		                          "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", "
		                          "\"shape\": [3], \"data\": [1,2,3]}]%s}",
		                          cases[i].extra),
		                 0);
		ck_assert_msg(decode(s, 3, &lim, &r) == 0, "case %zu: %s", i, err);
		ck_assert_msg(((r.want & CONF_OUT_PREDICT) != 0) == cases[i].predict &&
		                  ((r.want & CONF_OUT_MARGIN) != 0) == cases[i].margin &&
		                  ((r.want ? r.binary & CONF_OUT_PREDICT : r.binary_all) != 0) ==
		                      cases[i].pbin &&
		                  ((r.binary & CONF_OUT_MARGIN) != 0) == cases[i].mbin,
		              "case %zu", i);
		infer_request_free(&r);
		free(s);
	}
}
END_TEST

/* Element limits hold for binary tensors as for JSON ones. */
START_TEST(binary_limits)
{
	struct infer_limits l = {.max_rows = 100, .max_elements = 9, .max_depth = 8};
	struct tu_buf b = {0};
	struct infer_request r;
	size_t jl;

	jl = bin_request(&b, "FP32", "[4,3]", 48, NULL, NULL, 0);
	for (int i = 0; i < 12; i++)
		tu_buf_le(&b, 0, 4);
	ck_assert_int_eq(decode_bin(&b, jl, 3, &l, &r), -EINVAL);
	ck_assert_msg(strstr(err, "inputs[0].shape: 4 x 3 elements exceed the limit of 9") != NULL,
	              "%s", err);
	l.max_elements = 12;
	ck_assert_int_eq(decode_bin(&b, jl, 3, &l, &r), 0);
	ck_assert_uint_eq(r.nrows, 4);
	infer_request_free(&r);
	free(b.p);
}
END_TEST

/* Binary outputs: the JSON names their sizes, the raw little-endian bytes follow in order. */
START_TEST(encode_binary_outputs)
{
	const float pred[3] = {0.25f, -1.5f, NAN}, marg[6] = {1, 2, 3, 4, 5, 6.5f};
	struct infer_output o[2] = {
	    {.name = "predict", .nrows = 3, .width = 1, .data = pred, .binary = true},
	    {.name = "margin", .nrows = 3, .width = 2, .data = marg, .binary = true}};
	const char want_json[] =
	    "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"q\",\"outputs\":["
	    "{\"name\":\"predict\",\"datatype\":\"FP32\",\"shape\":[3],\"parameters\":{"
	    "\"binary_data_size\":12}},{\"name\":\"margin\",\"datatype\":\"FP32\",\"shape\":[3,2],"
	    "\"parameters\":{\"binary_data_size\":24}}]}";
	/* 0.25f, -1.5f, NaN, then 1..6.5, little-endian IEEE 754 by hand. */
	const unsigned char want_bin[] = {0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0xc0, 0xbf, 0x00,
	                                  0x00, 0xc0, 0x7f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00,
	                                  0x00, 0x40, 0x00, 0x00, 0x40, 0x40, 0x00, 0x00, 0x80,
	                                  0x40, 0x00, 0x00, 0xa0, 0x40, 0x00, 0x00, 0xd0, 0x40};
	char *body;
	size_t len, jl;
	json_t *j;

	ck_assert_int_eq(infer_encode_binary("m", "1", "q", o, 2, &body, &len, &jl), 0);
	ck_assert_uint_eq(jl, strlen(want_json));
	ck_assert_uint_eq(len, jl + sizeof(want_bin));
	ck_assert_int_eq(memcmp(body, want_json, jl), 0);
	j = json_loadb(body, jl, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	/* The NaN's payload is the host's; only the rest is fixed. */
	ck_assert_int_eq(memcmp(body + jl, want_bin, 8), 0);
	{
		float f;
		memcpy(&f, body + jl + 8, 4);
		ck_assert(isnan(f));
	}
	ck_assert_int_eq(memcmp(body + jl + 12, want_bin + 12, 24), 0);
	free(body);

	/* Only margin binary: predict stays JSON, only margin's bytes follow. */
	o[0].binary = false;
	ck_assert_int_eq(infer_encode_binary("m", "1", NULL, o, 2, &body, &len, &jl), 0);
	ck_assert_uint_eq(len, jl + 24);
	ck_assert_ptr_nonnull(strstr(body, "\"data\":[0.25,-1.5,null]"));
	ck_assert_int_eq(memcmp(body + jl, want_bin + 12, 24), 0);
	free(body);

	/* No binary output: exactly what infer_encode() makes. */
	o[1].binary = false;
	{
		char *plain;
		size_t plen;
		ck_assert_int_eq(infer_encode_binary("m", "1", NULL, o, 2, &body, &len, &jl), 0);
		ck_assert_int_eq(infer_encode("m", "1", NULL, o, 2, &plain, &plen), 0);
		ck_assert_uint_eq(jl, len);
		ck_assert_uint_eq(plen, len);
		ck_assert_str_eq(plain, body);
		free(plain);
		free(body);
	}
}
END_TEST

static Suite *infer_suite(void)
{
	Suite *s = suite_create("infer");
	TCase *dec = tcase_create("decode");
	TCase *enc = tcase_create("encode");

	tcase_add_loop_test(dec, malformed, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(dec, flat_and_nested);
	tcase_add_test(dec, one_row_shape);
	tcase_add_test(dec, missing_values);
	tcase_add_test(dec, integer_types);
	tcase_add_test(dec, float_types);
	tcase_add_test(dec, outputs_selection);
	tcase_add_test(dec, id_parameters_and_extensions);
	tcase_add_test(dec, inputs_by_feature_name);
	tcase_add_test(dec, huge_shape);
	tcase_add_test(dec, row_and_element_limits);
	tcase_add_loop_test(dec, bulk_matches_reference, 0, 5);
	tcase_add_loop_test(dec, bulk_matches_reference_types, 0, 3);
	tcase_add_test(dec, bulk_large_tensors);
	tcase_add_loop_test(dec, skeleton_matches_reference, 0,
	                    (int)(sizeof(skel_cases) / sizeof(skel_cases[0])));
	tcase_add_loop_test(dec, binary_malformed, 0, (int)(sizeof(bad_bin) / sizeof(bad_bin[0])));
	tcase_add_test(dec, binary_needs_header);
	tcase_add_test(dec, binary_known_values);
	tcase_add_loop_test(dec, binary_matches_json, 0, 4);
	tcase_add_test(dec, binary_output_selection);
	tcase_add_test(dec, every_type_json);
	tcase_add_test(dec, every_type_binary);
	tcase_add_test(dec, binary_limits);
	tcase_add_test(enc, encode_roundtrip);
	tcase_add_test(enc, encode_known_values);
	tcase_add_test(enc, encode_shapes_and_nan);
	tcase_add_test(enc, encode_escapes_id);
	tcase_add_test(enc, decode_then_encode);
	tcase_add_test(enc, encode_binary_outputs);
	tcase_set_timeout(dec, 120);
	tcase_set_timeout(enc, 60);
	suite_add_tcase(s, dec);
	suite_add_tcase(s, enc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(infer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
