/* infer.h: Open Inference Protocol (KServe v2) infer request decoding and response encoding. */
#ifndef INFERD_INFER_H
#define INFERD_INFER_H

#include <stdbool.h>
#include <stddef.h>

/* Bounds applied while decoding. */
struct infer_limits {
	size_t max_rows;     /* rows per request */
	size_t max_elements; /* elements per tensor (rows * features) */
	unsigned max_depth;  /* JSON nesting depth */
};

/* A decoded request. Owns its memory; release with infer_request_free(). */
struct infer_request {
	char *id;         /* echoed back; NULL when absent */
	char *input_name; /* the tensor's name as sent */
	size_t nrows;
	size_t ncols;      /* equals the model's num_feature */
	float *data;       /* nrows * ncols, NaN = missing */
	bool want_predict; /* "predict" output: default when "outputs" is absent */
	bool want_margin;  /* "margin" output: only when asked for */
};

/*
 * Decodes an infer request body for a model with num_feature inputs.
 * Accepts one input tensor with datatype FP32, FP64, INT32 or INT64, shape [N, F] or [F],
 * data flat (row-major) or nested, null or NaN for missing. Rejects what is wrong with
 * -EINVAL and a message in err that names the field (HTTP 400). Returns 0 on success.
 */
int infer_decode(const char *body, size_t len, size_t num_feature, const struct infer_limits *lim,
                 struct infer_request *req, char *err, size_t errlen);

/* Frees what infer_decode() allocated; safe on a zeroed or partly filled request. */
void infer_request_free(struct infer_request *req);

/* One output tensor to encode. */
struct infer_output {
	const char *name; /* "predict" or "margin" */
	size_t nrows;
	size_t width; /* values per row; the shape is [nrows] when width is 1 */
	const float *data;
};

/*
 * Encodes a response: model_name, model_version, id (when not NULL) and the outputs as
 * FP32 tensors, with floats printed so they read back to the same float32.
 * Returns 0 and a malloc'd NUL-terminated body in *out (length in *outlen), or -ENOMEM.
 */
int infer_encode(const char *model_name, const char *model_version, const char *id,
                 const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen);

#endif
