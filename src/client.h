/* client.h: a small libcurl client for inferd's Unix socket, one keep-alive connection. */
#ifndef INFERD_CLIENT_H
#define INFERD_CLIENT_H

#include <stddef.h>

/* A reusable connection to one socket. Not thread-safe: one per thread. */
struct client;

/*
 * One answer. body points into the client's own buffer (always NUL-terminated) and stays
 * valid until the next request or client_close(): the hot loop of the smoke test then
 * allocates nothing per request.
 */
struct client_response {
	long status; /* HTTP status, e.g. 200 */
	const char *body;
	size_t len;
};

/* Once per process, before any client_open() (libcurl's global state). 0 or -errno. */
int client_global_init(void);
/* Once per process, after the last client_close(). */
void client_global_cleanup(void);
/* The version of the libcurl loaded at run time (not the headers'), e.g. "7.88.1". */
const char *client_libcurl_version(void);

/*
 * Prepares a client for socket_path with a per-request timeout in seconds (connect
 * included). Does not connect yet. 0 and *out, or -ENOMEM with a reason in err.
 */
int client_open(const char *socket_path, double timeout_s, struct client **out, char *err,
                size_t errlen);
/* Changes the per-request timeout (seconds, > 0) for the following requests. */
void client_set_timeout(struct client *c, double timeout_s);
/*
 * Sends method (GET, POST, or any other token) to path (starting with '/') with an
 * optional JSON body (body may be NULL when len is 0), reusing the open connection.
 * Returns 0 and *resp for any HTTP answer, whatever its status. Returns a negative errno
 * with a reason in err when no answer came: -ENOENT or -ECONNREFUSED (nothing listening),
 * -ETIMEDOUT, -ECONNRESET (the peer hung up), -EFBIG (answer too large), -EIO (other).
 */
int client_request(struct client *c, const char *method, const char *path, const char *body,
                   size_t len, struct client_response *resp, char *err, size_t errlen);
/* Number of connections opened so far (to see that keep-alive works). */
long client_connections(const struct client *c);
/* Closes the connection and frees the client; NULL is fine. */
void client_close(struct client *c);

/*
 * Formats an Open Inference Protocol infer request: one FP32 input "input" of shape
 * [nrows, ncols] from row-major data, NaN written as null, infinities as XGBoost's bare
 * Infinity tokens, other values with 9 significant digits (which read back as the same
 * float32); asks for output (a plain name: "predict", "margin") when not NULL. Returns a malloc'd
 * NUL-terminated body with its length in *len, or NULL when out of memory.
 */
char *client_fp32_request(const float *data, size_t nrows, size_t ncols, const char *output,
                          size_t *len);

/*
 * Describes a non-2xx answer for a human: "HTTP 404: <the body's "error" text>", or the
 * start of the body when it carries no {"error"}. Returns buf.
 */
const char *client_describe_error(const struct client_response *r, char *buf, size_t len);

#endif
