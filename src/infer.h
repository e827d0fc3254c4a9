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
	/*
	 * The model's feature names (num_feature of them), or NULL: then a request may send
	 * one input per feature, named by feature name, instead of one [N, F] tensor.
	 */
	const char *const *feature_names;
};

/* A decoded request. Owns its memory; release with infer_request_free(). */
struct infer_request {
	char *id;         /* echoed back; NULL when absent */
	char *input_name; /* the tensor's name as sent */
	size_t nrows;
	size_t ncols; /* equals the model's num_feature */
	float *data;  /* nrows * ncols, NaN = missing */
	/* The outputs named in "outputs" as CONF_OUT_* bits; 0 when none: the model's default. */
	unsigned want;
	/* Binary tensor data extension: the named outputs to answer as raw bytes after the JSON. */
	unsigned binary;
	bool binary_all; /* parameters.binary_data_output: the default for unnamed outputs */
};

/*
 * Decodes an infer request body for a model with num_feature inputs.
 * "outputs" may name any of conf_output_names (each once); which ones the model serves is
 * the caller's check. With lim->feature_names, the request may instead send one input per
 * feature, each named by its feature name, shape [N] or [N, 1], any numeric datatype; a
 * missing, unknown or repeated name is refused naming it.
 * Otherwise accepts one input tensor of any numeric datatype (BOOL, UINT8..UINT64, INT8..INT64,
 * FP16, FP32, FP64), shape [N, F] or [F], data flat (row-major) or nested, null or NaN for
 * missing. Each value becomes the float32 XGBoost sees for it in a numpy array of that
 * datatype; values must fit the datatype (BOOL: true or false). Rejects what is wrong with
 * -EINVAL and a message in err that names the field (HTTP 400); binary_data_size without
 * binary framing is one such thing (see infer_decode_binary()). Returns 0 on success.
 */
int infer_decode(const char *body, size_t len, size_t num_feature, const struct infer_limits *lim,
                 struct infer_request *req, char *err, size_t errlen);

/*
 * Decodes a request of the binary tensor data extension: the first json_len bytes of body
 * (the Inference-Header-Content-Length header) are the JSON, and the rest are raw tensor
 * bytes. An input with "parameters": {"binary_data_size": B} and no "data" takes its values
 * from those bytes: shape product x element size (BOOL, UINT8, INT8 1; UINT16, INT16,
 * FP16 2; UINT32, INT32, FP32 4; UINT64, INT64, FP64 8), little-endian, converted to
 * float32 exactly as the JSON path converts the same values; NaN means missing, and a BOOL
 * byte must be 0 or 1. The bytes must be exactly what the binary inputs declare. Every
 * inconsistency is -EINVAL with a message naming the field or the header. 0 on success.
 */
int infer_decode_binary(const char *body, size_t len, size_t json_len, size_t num_feature,
                        const struct infer_limits *lim, struct infer_request *req, char *err,
                        size_t errlen);

/* Frees what infer_decode() allocated; safe on a zeroed or partly filled request. */
void infer_request_free(struct infer_request *req);

/* One output tensor to encode. */
struct infer_output {
	const char *name; /* "predict", "margin", ... */
	size_t nrows;
	size_t width;     /* values per row; the shape is [nrows] when width is 1 (and ndims 0) */
	const void *data; /* float, or int32_t when int32 */
	bool binary;      /* sent as raw bytes after the JSON (binary tensor data extension) */
	/* Per-row shape when ndims is 1 or 2: [nrows, dims...]; 0 derives it from width. */
	size_t ndims;
	size_t dims[2];
	bool int32; /* an INT32 tensor (leaf indices), else FP32 */
};

/*
 * Encodes a response: model_name, model_version, id (when not NULL) and the outputs as
 * FP32 tensors, with floats printed so they read back to the same float32 (outputs with
 * binary set are encoded as infer_encode_binary() does).
 * Returns 0 and a malloc'd NUL-terminated body in *out (length in *outlen), or -ENOMEM.
 */
int infer_encode(const char *model_name, const char *model_version, const char *id,
                 const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen);

/*
 * infer_encode() for the binary tensor data extension: an output with binary set carries
 * "parameters": {"binary_data_size": bytes} instead of "data", and its values follow the
 * JSON as raw little-endian bytes of their datatype (FP32, INT32), in the order of outs. *json_len
 * receives the JSON's length (the Inference-Header-Content-Length); *outlen covers the JSON and the
 * bytes. Without binary outputs the body is what infer_encode() makes and *json_len == *outlen.
 */
int infer_encode_binary(const char *model_name, const char *model_version, const char *id,
                        const struct infer_output *outs, size_t n_outs, char **out, size_t *outlen,
                        size_t *json_len);

#endif
