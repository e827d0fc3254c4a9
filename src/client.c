/* client.c: a small libcurl client for inferd's Unix socket, one keep-alive connection. */
#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers beyond this are refused rather than buffered: nothing inferd sends is that big. */
#define CLIENT_MAX_BODY ((size_t)1 << 30)

struct client {
	CURL *curl;
	char *socket_path;
	struct curl_slist *post_headers;
	char *buf; /* the last answer's body, NUL-terminated */
	size_t len, cap;
	int overflow;
	long connections;
	char errbuf[CURL_ERROR_SIZE];
	char url[4096];
};

int client_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

void client_global_cleanup(void)
{
	curl_global_cleanup();
}

const char *client_libcurl_version(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v ? v->version : NULL;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct client *c = userdata;
	size_t n = size * nmemb;

	if (n > CLIENT_MAX_BODY - c->len) {
		c->overflow = 1;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *p;

		while (cap < c->len + n + 1)
			cap *= 2;
		p = realloc(c->buf, cap);
		if (!p)
			return 0;
		c->buf = p;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

static long timeout_ms(double timeout_s)
{
	if (!(timeout_s > 0))
		return 1;
	if (timeout_s * 1000.0 >= (double)LONG_MAX)
		return LONG_MAX;
	return (long)(timeout_s * 1000.0 + 0.5) > 0 ? (long)(timeout_s * 1000.0 + 0.5) : 1;
}

void client_set_timeout(struct client *c, double timeout_s)
{
	long ms = timeout_ms(timeout_s);

	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, ms);
}

int client_open(const char *socket_path, double timeout_s, struct client **out, char *err,
                size_t errlen)
{
	struct client *c = calloc(1, sizeof(*c));
	struct curl_slist *h;

	*out = NULL;
	if (!c)
		goto nomem;
	c->socket_path = strdup(socket_path);
	c->curl = curl_easy_init();
	if (!c->socket_path || !c->curl)
		goto nomem;
	/* "Expect:" stops curl from waiting for a 100-continue on large bodies. */
	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (!h)
		goto nomem;
	c->post_headers = h;
	h = curl_slist_append(c->post_headers, "Expect:");
	if (!h)
		goto nomem;
	c->post_headers = h;

	curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	/* Timeouts must not use SIGALRM: inferctl may run inside other programs. */
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, PACKAGE_NAME "ctl/" PACKAGE_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	client_set_timeout(c, timeout_s);
	*out = c;
	return 0;
nomem:
	client_close(c);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

/* Maps a failed transfer to an errno, preferring the system's own reason for connect(). */
static int curl_errno(struct client *c, CURLcode rc)
{
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		return c->overflow ? -EFBIG : -ENOMEM;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

int client_request(struct client *c, const char *method, const char *path, const char *body,
                   size_t len, struct client_response *resp, char *err, size_t errlen)
{
	CURLcode rc;
	long status = 0, nconn = 0;
	int n;

	resp->status = 0;
	resp->body = "";
	resp->len = 0;
	if (!path || path[0] != '/') {
		snprintf(err, errlen, "bad request path");
		return -EINVAL;
	}
	n = snprintf(c->url, sizeof(c->url), "http://localhost%s", path);
	if (n < 0 || (size_t)n >= sizeof(c->url)) {
		snprintf(err, errlen, "request path too long");
		return -EINVAL;
	}
	c->len = 0;
	c->overflow = 0;
	c->errbuf[0] = '\0';
	if (c->buf)
		c->buf[0] = '\0';

	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(method, "GET") == 0 && !body) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	} else {
		/* POST with our body; other methods reuse that setup under another name. */
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)(body ? len : 0));
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->post_headers);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	}

	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &nconn);
	c->connections += nconn;
	if (rc != CURLE_OK) {
		int e = curl_errno(c, rc);

		/* curl would talk of "localhost port 80"; the socket path is what helps. */
		if (rc == CURLE_COULDNT_CONNECT)
			snprintf(err, errlen, "cannot connect to %s: %s", c->socket_path,
			         strerror(-e));
		else
			snprintf(err, errlen, "%s %s on %s: %s", method, path, c->socket_path,
			         c->overflow    ? "answer too large"
			         : c->errbuf[0] ? c->errbuf
			                        : curl_easy_strerror(rc));
		return e;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	resp->body = c->buf ? c->buf : "";
	resp->len = c->len;
	return 0;
}

long client_connections(const struct client *c)
{
	return c->connections;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->post_headers);
	free(c->socket_path);
	free(c->buf);
	free(c);
}

char *client_fp32_request(const float *data, size_t nrows, size_t ncols, const char *output,
                          size_t *len)
{
	/* The longest value is "-1.17549435e-38," (16 bytes); "-Infinity," is shorter. */
	const size_t per_value = 16, fixed = 256;
	size_t n, cap, pos = 0, i;
	char *buf;
	int w;

	if (ncols && nrows > SIZE_MAX / ncols)
		return NULL;
	n = nrows * ncols;
	if (n > (SIZE_MAX - fixed - (output ? strlen(output) : 0)) / per_value)
		return NULL;
	cap = n * per_value + fixed + (output ? strlen(output) : 0);
	buf = malloc(cap);
	if (!buf)
		return NULL;
	w = snprintf(buf, cap,
	             "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],"
	             "\"data\":[",
	             nrows, ncols);
	pos = (size_t)w;
	for (i = 0; i < n; i++) {
		float x = data[i];
		const char *sep = i ? "," : "";

		if (isnan(x))
			w = snprintf(buf + pos, cap - pos, "%snull", sep);
		else if (isinf(x))
			w = snprintf(buf + pos, cap - pos, "%s%sInfinity", sep, x < 0 ? "-" : "");
		else
			w = snprintf(buf + pos, cap - pos, "%s%.9g", sep, (double)x);
		pos += (size_t)w;
	}
	if (output)
		w = snprintf(buf + pos, cap - pos, "]}],\"outputs\":[{\"name\":\"%s\"}]}", output);
	else
		w = snprintf(buf + pos, cap - pos, "]}]}");
	pos += (size_t)w;
	if (len)
		*len = pos;
	return buf;
}

const char *client_describe_error(const struct client_response *r, char *buf, size_t len)
{
	json_t *root = json_loadb(r->body, r->len, 0, NULL);
	const char *msg = NULL;

	if (json_is_object(root))
		msg = json_string_value(json_object_get(root, "error"));
	if (msg) {
		snprintf(buf, len, "HTTP %ld: %s", r->status, msg);
	} else {
		/* Not our JSON error: show a printable prefix of what came back. */
		char snip[120];
		size_t i, n = 0;

		for (i = 0; i < r->len && n + 1 < sizeof(snip); i++)
			snip[n++] = isprint((unsigned char)r->body[i]) ? r->body[i] : ' ';
		while (n > 0 && snip[n - 1] == ' ')
			n--;
		snip[n] = '\0';
		if (n)
			snprintf(buf, len, "HTTP %ld: %s", r->status, snip);
		else
			snprintf(buf, len, "HTTP %ld", r->status);
	}
	json_decref(root);
	return buf;
}
