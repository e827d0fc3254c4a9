/* check_binary.c: the binary tensor data extension against a real inferd. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "golden.h"
#include "testutil.h"

#define MODEL    "breast-cancer"
#define INFER    "/v2/models/" MODEL "/infer"
#define MAX_ROWS 100
#define MAX_BODY 65536
#define IHCL     "Inference-Header-Content-Length"

static const char conf[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "limits = { max_body_bytes = 65536; max_rows = 100; connection_timeout = 30; };\n"
    "log_level = \"info\";\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1;\n"
    "             golden = \"@GOLDEN@\"; } );\n";

static struct tu_daemon d;
static bool daemon_up;
static struct golden g;

static int io_timeout_ms(void)
{
	return tu_wrapped() ? 60000 : 10000;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* --- tensor bytes, little-endian (struct tu_buf, testutil.h) --- */

static void put_f32(struct tu_buf *b, float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	tu_buf_le(b, u, 4);
}

static void put_f64(struct tu_buf *b, double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	tu_buf_le(b, u, 8);
}

/* The little-endian FP32 at bytes (any pointer type: a tu_buf holds char). */
static float get_f32(const void *bytes)
{
	const unsigned char *p = bytes;
	uint32_t u =
	    (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* --- a keep-alive HTTP/1.1 client that sees the headers and binary bodies --- */

struct resp {
	int status;
	char ctype[64];
	long long ihcl; /* Inference-Header-Content-Length, -1 when absent */
	bool close;
	struct tu_buf body;
};

static void resp_free(struct resp *r)
{
	free(r->body.p);
	memset(r, 0, sizeof *r);
}

static int cconnect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(d.socket), sizeof sa.sun_path);
	strcpy(sa.sun_path, d.socket);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
	              strerror(errno));
	return fd;
}

/* Sends all of p; false when the daemon closed the connection first (EPIPE, ECONNRESET). */
static bool send_until_closed(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
			return false;
		ck_assert_msg(k > 0, "send: %s", strerror(errno));
		s += k;
		n -= (size_t)k;
	}
	return true;
}

static void send_all(int fd, const void *p, size_t n)
{
	ck_assert_msg(send_until_closed(fd, p, n), "send: %s", strerror(errno));
}

/* Reads more bytes into in; false on EOF or timeout. */
static bool fill(int fd, struct tu_buf *in, long long deadline)
{
	char chunk[16384];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	long long left = deadline - now_ms();
	ssize_t n;

	if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
		return false;
	n = recv(fd, chunk, sizeof chunk, 0);
	if (n <= 0)
		return false;
	tu_buf_add(in, chunk, (size_t)n);
	return true;
}

/* One response with its Content-Length body. Returns false on EOF before a full response. */
static bool read_resp(int fd, struct resp *r)
{
	struct tu_buf in = {0};
	long long deadline = now_ms() + io_timeout_ms();
	char *head_end = NULL, *line;
	long long clen = -1;
	size_t head_len;

	memset(r, 0, sizeof *r);
	r->ihcl = -1;
	while (!(in.p && (head_end = strstr((char *)in.p, "\r\n\r\n"))))
		if (!fill(fd, &in, deadline)) {
			free(in.p);
			return false;
		}
	head_len = (size_t)(head_end - (char *)in.p) + 4;
	*head_end = '\0';
	ck_assert_int_eq(sscanf((char *)in.p, "HTTP/1.1 %d", &r->status), 1);
	for (line = strstr((char *)in.p, "\r\n"); line; line = strstr(line, "\r\n")) {
		char *v;
		line += 2;
		v = strchr(line, ':');
		if (!v)
			continue;
		v++;
		while (*v == ' ')
			v++;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atoll(v);
		else if (strncasecmp(line, IHCL ":", sizeof IHCL) == 0)
			r->ihcl = atoll(v);
		else if (strncasecmp(line, "Content-Type:", 13) == 0)
			snprintf(r->ctype, sizeof r->ctype, "%.*s", (int)strcspn(v, "\r"), v);
		else if (strncasecmp(line, "Connection:", 11) == 0)
			r->close = strncasecmp(v, "close", 5) == 0;
	}
	ck_assert_msg(clen >= 0, "response without Content-Length (status %d)", r->status);
	while (in.len - head_len < (size_t)clen)
		ck_assert_msg(fill(fd, &in, deadline), "response body cut short");
	ck_assert_uint_eq(in.len - head_len, (size_t)clen);
	tu_buf_add(&r->body, in.p + head_len, (size_t)clen);
	if (!r->body.p)
		tu_buf_add(&r->body, "", 0);
	free(in.p);
	return true;
}

/* POSTs body (with extra header lines, each ending in \r\n) on fd and reads the answer. */
static void post(int fd, const char *extra, const void *body, size_t len, struct resp *r)
{
	struct tu_buf req = {0};

	tu_buf_printf(&req,
	              "POST " INFER " HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n%s\r\n",
	              len, extra ? extra : "");
	tu_buf_add(&req, body, len);
	send_all(fd, req.p, req.len);
	free(req.p);
	ck_assert_msg(read_resp(fd, r), "no response");
}

/* POSTs a binary request: json followed by bin, with the header giving the JSON's length. */
static void post_binary(int fd, const struct tu_buf *json, const struct tu_buf *bin, struct resp *r)
{
	struct tu_buf body = {0};
	char hdr[96];

	tu_buf_add(&body, json->p, json->len);
	if (bin->len)
		tu_buf_add(&body, bin->p, bin->len);
	snprintf(hdr, sizeof hdr, IHCL ": %zu\r\nContent-Type: application/octet-stream\r\n",
	         json->len);
	post(fd, hdr, body.p, body.len, r);
	free(body.p);
}

/* --- requests --- */

/* The golden rows as a JSON FP32 request; outputs is a JSON fragment (may be ""). */
static void json_request(struct tu_buf *b, const float *rows, size_t n, const char *extra)
{
	tu_buf_printf(b,
	              "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],"
	              "\"data\":[",
	              n, g.ncols);
	for (size_t i = 0; i < n * g.ncols; i++) {
		if (i)
			tu_buf_add(b, ",", 1);
		if (isnan(rows[i]))
			tu_buf_add(b, "null", 4);
		else
			tu_buf_printf(b, "%.9g", (double)rows[i]);
	}
	tu_buf_printf(b, "]}]%s}", extra ? extra : "");
}

/* The JSON header of a binary request of n rows of datatype dt taking bytes bytes. */
static void binary_header(struct tu_buf *b, const char *dt, size_t n, size_t bytes,
                          const char *extra)
{
	tu_buf_printf(b,
	              "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"%s\",\"shape\":[%zu,%zu],"
	              "\"parameters\":{\"binary_data_size\":%zu}}]%s}",
	              dt, n, g.ncols, bytes, extra ? extra : "");
}

/*
 * The floats of output name in a JSON response, read with strtof() from the text (so no
 * double rounding): returns how many, NaN for null.
 */
static size_t json_floats(const struct resp *r, const char *name, float *out, size_t max)
{
	size_t jl = r->ihcl >= 0 ? (size_t)r->ihcl : r->body.len, n = 0;
	char *text = strndup((const char *)r->body.p, jl), *p, key[64];

	ck_assert_ptr_nonnull(text);
	snprintf(key, sizeof key, "{\"name\":\"%s\"", name);
	p = strstr(text, key);
	ck_assert_msg(p != NULL, "no output %s in %s", name, text);
	p = strstr(p, "\"data\":[");
	ck_assert_msg(p != NULL, "output %s has no data", name);
	p += 8;
	while (*p != ']') {
		char *e;
		ck_assert_uint_lt(n, max);
		if (strncmp(p, "null", 4) == 0) {
			out[n++] = NAN;
			e = p + 4;
		} else {
			out[n++] = strtof(p, &e);
			ck_assert_msg(e != p, "bad number at %.20s", p);
		}
		p = *e == ',' ? e + 1 : e;
	}
	free(text);
	return n;
}

static json_t *resp_json(const struct resp *r)
{
	size_t jl = r->ihcl >= 0 ? (size_t)r->ihcl : r->body.len;
	json_error_t je;
	json_t *j = json_loadb((const char *)r->body.p, jl, 0, &je);

	ck_assert_msg(j != NULL, "response JSON: %s: %.200s", je.text, (const char *)r->body.p);
	return j;
}

static const json_t *output_named(const json_t *j, const char *name)
{
	size_t i;
	const json_t *o;

	json_array_foreach(json_object_get(j, "outputs"), i, o)
	{
		if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
			return o;
	}
	ck_abort_msg("no output %s", name);
	return NULL;
}

static bool same_bits(float a, float b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* --- fixture --- */

static void setup(void)
{
	char err[256];

	ck_assert_msg(golden_load(TU_BUNDLED_GOLDEN, &g, err, sizeof err) == 0, "golden: %s", err);
	ck_assert_uint_le(g.nrows, MAX_ROWS);
	daemon_up = tu_daemon_start(&d, conf) == 0;
}

static void teardown(void)
{
	if (daemon_up) {
		int st = tu_daemon_stop(&d);
		/* Check does not print a failed unchecked teardown's message: say it here. */
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fprintf(stderr,
			        "check_binary: inferd exit status %d (sanitizer or leak?)\n", st);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
	}
	golden_free(&g);
}

static void need_daemon(void)
{
	ck_assert_msg(daemon_up, "inferd did not start");
}

/* --- tests --- */

START_TEST(extension_listed)
{
	char *body = NULL;
	json_t *j, *ext, *v;
	bool found = false;
	size_t i;

	need_daemon();
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2", NULL, &body), 200);
	j = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ext = json_object_get(j, "extensions");
	json_array_foreach(ext, i, v) found |=
	    strcmp(json_string_value(v), "binary_tensor_data") == 0;
	ck_assert_msg(found, "extensions: %s", body);
	json_decref(j);
	free(body);
}
END_TEST

/*
 * Binary FP32 and FP64 inputs of the golden rows answer byte for byte what the JSON
 * request answers, and that is XGBoost's output within the golden tolerance.
 */
START_TEST(binary_input_matches_json)
{
	static const char outs[] = ",\"outputs\":[{\"name\":\"predict\"},{\"name\":\"margin\"}]";
	struct tu_buf jreq = {0}, hdr32 = {0}, bin32 = {0}, hdr64 = {0}, bin64 = {0};
	struct resp a, b, c;
	float *pred = malloc(g.nrows * sizeof(float));
	double tol = g.tolerance > 0 ? g.tolerance : 1e-6;
	int fd;

	need_daemon();
	ck_assert_uint_eq(g.predict_width, 1);
	json_request(&jreq, g.inputs, g.nrows, outs);
	for (size_t i = 0; i < g.nrows * g.ncols; i++) {
		put_f32(&bin32, g.inputs[i]);
		put_f64(&bin64, (double)g.inputs[i]);
	}
	binary_header(&hdr32, "FP32", g.nrows, bin32.len, outs);
	binary_header(&hdr64, "FP64", g.nrows, bin64.len, outs);
	fd = cconnect();
	post(fd, "Content-Type: application/json\r\n", jreq.p, jreq.len, &a);
	post_binary(fd, &hdr32, &bin32, &b);
	post_binary(fd, &hdr64, &bin64, &c);
	close(fd);
	ck_assert_int_eq(a.status, 200);
	ck_assert_int_eq(b.status, 200);
	ck_assert_int_eq(c.status, 200);
	/* Binary in, JSON out: the answer is plain JSON. */
	ck_assert_str_eq(b.ctype, "application/json");
	ck_assert_int_eq(b.ihcl, -1);
	ck_assert_uint_eq(a.body.len, b.body.len);
	ck_assert_mem_eq(a.body.p, b.body.p, a.body.len);
	ck_assert_uint_eq(a.body.len, c.body.len);
	ck_assert_mem_eq(a.body.p, c.body.p, a.body.len);
	ck_assert_uint_eq(json_floats(&b, "predict", pred, g.nrows), g.nrows);
	for (size_t i = 0; i < g.nrows; i++)
		ck_assert_msg(fabs(pred[i] - g.predict[i]) <= tol, "row %zu: %.9g vs XGBoost %.9g",
		              i, (double)pred[i], g.predict[i]);
	resp_free(&a);
	resp_free(&b);
	resp_free(&c);
	free(jreq.p);
	free(hdr32.p);
	free(bin32.p);
	free(hdr64.p);
	free(bin64.p);
	free(pred);
}
END_TEST

/* Integer datatypes: binary INT32/INT64 rows answer what the same integers in JSON answer. */
START_TEST(binary_integers_match_json)
{
	static const char *const dts[] = {"INT32", "INT64"};
	size_t n = g.nrows * g.ncols;

	need_daemon();
	for (size_t t = 0; t < 2; t++) {
		struct tu_buf jreq = {0}, hdr = {0}, bin = {0};
		struct resp a, b;
		size_t esz = t ? 8 : 4;
		int fd;

		tu_buf_printf(
		    &jreq,
		    "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"%s\",\"shape\":[%zu,%zu],"
		    "\"data\":[",
		    dts[t], g.nrows, g.ncols);
		for (size_t i = 0; i < n; i++) {
			/* Scaled so the integers still fall on both sides of the splits. */
			long long v =
			    isnan(g.inputs[i]) ? 0 : llround((double)g.inputs[i] * 1000.0);
			if (t == 1 && i % 7 == 3)
				v = v * 1000000007LL + 1; /* beyond 2^24: float rounding matters */
			tu_buf_printf(&jreq, "%s%lld", i ? "," : "", v);
			tu_buf_le(&bin, (uint64_t)v, esz);
		}
		tu_buf_printf(&jreq, "]}]}");
		binary_header(&hdr, dts[t], g.nrows, bin.len, "");
		fd = cconnect();
		post(fd, NULL, jreq.p, jreq.len, &a);
		post_binary(fd, &hdr, &bin, &b);
		close(fd);
		ck_assert_msg(a.status == 200, "%s JSON: %d %s", dts[t], a.status, a.body.p);
		ck_assert_msg(b.status == 200, "%s binary: %d %s", dts[t], b.status, b.body.p);
		ck_assert_uint_eq(a.body.len, b.body.len);
		ck_assert_mem_eq(a.body.p, b.body.p, a.body.len);
		resp_free(&a);
		resp_free(&b);
		free(jreq.p);
		free(hdr.p);
		free(bin.p);
	}
}
END_TEST

/* Checks a binary answer: header, content type, sizes; returns the JSON header parsed. */
static json_t *check_binary_resp(const struct resp *r, size_t expect_bin)
{
	ck_assert_msg(r->status == 200, "status %d: %s", r->status, r->body.p);
	ck_assert_str_eq(r->ctype, "application/octet-stream");
	ck_assert_int_ge(r->ihcl, 2);
	ck_assert_uint_eq(r->body.len, (size_t)r->ihcl + expect_bin);
	return resp_json(r);
}

/* The binary bytes of output name (offset past the JSON), bit for bit against want. */
static void check_floats(const struct resp *r, size_t off, const float *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float f = get_f32(r->body.p + r->ihcl + off + 4 * i);
		ck_assert_msg(same_bits(f, want[i]) || (isnan(f) && isnan(want[i])),
		              "value %zu: %a vs JSON %a", i, (double)f, (double)want[i]);
	}
}

/*
 * Binary outputs carry the same float32 bits as the JSON outputs: all of them with
 * binary_data_output, one of them with binary_data, in or out of binary inputs.
 */
START_TEST(binary_output_matches_json)
{
	static const char both[] = ",\"outputs\":[{\"name\":\"predict\"},{\"name\":\"margin\"}]";
	struct tu_buf jreq = {0}, jall = {0}, jone = {0}, hdr = {0}, bin = {0}, jover = {0};
	struct resp a, b, c, e, f;
	float *pred = calloc(g.nrows, sizeof(float)), *marg = calloc(g.nrows, sizeof(float));
	float *tmp = calloc(g.nrows, sizeof(float));
	const json_t *o;
	json_t *j;
	size_t nb = g.nrows * 4;
	int fd;

	need_daemon();
	json_request(&jreq, g.inputs, g.nrows, both);
	json_request(&jall, g.inputs, g.nrows,
	             ",\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":"
	             "\"predict\"},{\"name\":\"margin\"}]");
	json_request(&jone, g.inputs, g.nrows,
	             ",\"outputs\":[{\"name\":\"predict\"},{\"name\":\"margin\",\"parameters\":{"
	             "\"binary_data\":true}}]");
	json_request(&jover, g.inputs, g.nrows,
	             ",\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":"
	             "\"predict\",\"parameters\":{\"binary_data\":false}},{\"name\":\"margin\"}]");
	for (size_t i = 0; i < g.nrows * g.ncols; i++)
		put_f32(&bin, g.inputs[i]);
	binary_header(&hdr, "FP32", g.nrows, bin.len,
	              ",\"parameters\":{\"binary_data_output\":true}");

	fd = cconnect();
	post(fd, NULL, jreq.p, jreq.len, &a);
	post(fd, NULL, jall.p, jall.len, &b);
	post(fd, NULL, jone.p, jone.len, &c);
	post_binary(fd, &hdr, &bin, &e);
	post(fd, NULL, jover.p, jover.len, &f);
	close(fd);
	ck_assert_int_eq(a.status, 200);
	ck_assert_uint_eq(json_floats(&a, "predict", pred, g.nrows), g.nrows);
	ck_assert_uint_eq(json_floats(&a, "margin", marg, g.nrows), g.nrows);

	/* All outputs binary: predict's bytes, then margin's, in the order of the JSON. */
	j = check_binary_resp(&b, 2 * nb);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "outputs")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(j, "outputs"), 0), "name")),
	                 "predict");
	o = output_named(j, "predict");
	ck_assert_ptr_null(json_object_get(o, "data"));
	ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP32");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "shape"), 0)),
	                 (json_int_t)g.nrows);
	ck_assert_int_eq(json_integer_value(
	                     json_object_get(json_object_get(o, "parameters"), "binary_data_size")),
	                 (json_int_t)nb);
	o = output_named(j, "margin");
	ck_assert_ptr_null(json_object_get(o, "data"));
	ck_assert_int_eq(json_integer_value(
	                     json_object_get(json_object_get(o, "parameters"), "binary_data_size")),
	                 (json_int_t)nb);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_name")), MODEL);
	json_decref(j);
	check_floats(&b, 0, pred, g.nrows);
	check_floats(&b, nb, marg, g.nrows);

	/* Only margin binary: predict stays JSON data. */
	j = check_binary_resp(&c, nb);
	ck_assert_ptr_nonnull(json_object_get(output_named(j, "predict"), "data"));
	ck_assert_ptr_null(json_object_get(output_named(j, "margin"), "data"));
	json_decref(j);
	ck_assert_uint_eq(json_floats(&c, "predict", tmp, g.nrows), g.nrows);
	for (size_t i = 0; i < g.nrows; i++)
		ck_assert(same_bits(tmp[i], pred[i]));
	check_floats(&c, 0, marg, g.nrows);

	/* Binary in, binary out: by default every output the metadata lists (predict, margin). */
	j = check_binary_resp(&e, 2 * nb);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "outputs")), 2);
	json_decref(j);
	check_floats(&e, 0, pred, g.nrows);
	check_floats(&e, nb, marg, g.nrows);

	/* A per-output false wins over binary_data_output. */
	j = check_binary_resp(&f, nb);
	ck_assert_ptr_nonnull(json_object_get(output_named(j, "predict"), "data"));
	json_decref(j);
	check_floats(&f, 0, marg, g.nrows);

	resp_free(&a);
	resp_free(&b);
	resp_free(&c);
	resp_free(&e);
	resp_free(&f);
	free(jreq.p);
	free(jall.p);
	free(jone.p);
	free(jover.p);
	free(hdr.p);
	free(bin.p);
	free(pred);
	free(marg);
	free(tmp);
}
END_TEST

/* One refused request: extra headers, JSON, bytes after it, and what the error must name. */
struct bad_case {
	const char *what;
	const char *ihcl; /* the header's value; NULL: the JSON's length; "" : none */
	const char *dup;  /* a second header value, or NULL */
	const char *json;
	size_t nbytes; /* bytes of binary data after the JSON */
	unsigned status;
	const char *needle;
};

#define ONE_ROW(dt, bds)                                                                           \
	"{\"inputs\":[{\"name\":\"input\",\"datatype\":\"" dt "\",\"shape\":[1,30],"               \
	"\"parameters\":{\"binary_data_size\":" bds "}}]}"

static const struct bad_case bad[] = {
    {"header not a number", "abc", NULL, ONE_ROW("FP32", "120"), 120, 400, IHCL},
    {"header negative", "-5", NULL, ONE_ROW("FP32", "120"), 120, 400, IHCL},
    {"header hex", "0x10", NULL, ONE_ROW("FP32", "120"), 120, 400, IHCL},
    {"header overflow", "99999999999999999999999", NULL, ONE_ROW("FP32", "120"), 120, 400, IHCL},
    {"header beyond the body", "100000", NULL, ONE_ROW("FP32", "120"), 120, 400,
     IHCL ": 100000 exceeds the body length"},
    {"header twice", NULL, "20", ONE_ROW("FP32", "120"), 120, 400, IHCL " given 2 times"},
    {"header cuts the JSON", "20", NULL, ONE_ROW("FP32", "120"), 120, 400, IHCL},
    {"binary_data_size missing", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30]}]}", 120, 400,
     "inputs[0].parameters.binary_data_size: required"},
    {"binary_data_size != shape x size", NULL, NULL, ONE_ROW("FP32", "116"), 116, 400,
     "inputs[0].parameters.binary_data_size: 116 bytes"},
    {"binary_data_size for FP32 on FP64", NULL, NULL, ONE_ROW("FP64", "120"), 120, 400,
     "inputs[0].parameters.binary_data_size"},
    {"binary_data_size not an integer", NULL, NULL, ONE_ROW("FP32", "\"120\""), 120, 400,
     "inputs[0].parameters.binary_data_size: expected"},
    {"binary_data_size negative", NULL, NULL, ONE_ROW("FP32", "-120"), 120, 400,
     "inputs[0].parameters.binary_data_size"},
    {"trailing bytes", NULL, NULL, ONE_ROW("FP32", "120"), 124, 400, IHCL ": 124 bytes"},
    {"missing bytes", NULL, NULL, ONE_ROW("FP32", "120"), 116, 400, IHCL ": 116 bytes"},
    {"data and binary_data_size", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],\"data\":[1,2,3,"
     "4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30],"
     "\"parameters\":{\"binary_data_size\":120}}]}",
     120, 400, "inputs[0].data: not allowed together with parameters.binary_data_size"},
    {"JSON data with bytes after it", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],\"data\":[1,2,3,"
     "4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]}]}",
     8, 400, IHCL ": 8 bytes follow"},
    {"binary_data_size without the header", "", NULL, ONE_ROW("FP32", "120"), 0, 400,
     "binary_data_size: binary tensor data needs the " IHCL " header"},
    {"binary_data_output not a boolean", NULL, NULL,
     "{\"parameters\":{\"binary_data_output\":1},\"inputs\":[{\"name\":\"input\",\"datatype\":"
     "\"FP32\",\"shape\":[1,30],\"parameters\":{\"binary_data_size\":120}}]}",
     120, 400, "parameters.binary_data_output: expected true or false"},
    {"binary_data not a boolean", NULL, NULL,
     "{\"outputs\":[{\"name\":\"predict\",\"parameters\":{\"binary_data\":\"yes\"}}],"
     "\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],\"parameters\":{"
     "\"binary_data_size\":120}}]}",
     120, 400, "outputs[0].parameters.binary_data: expected true or false"},
    {"rows over max_rows", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[101,30],"
     "\"parameters\":{\"binary_data_size\":12120}}]}",
     12120, 400, "inputs[0].shape[0]: 101 rows exceed the limit of 100"},
    {"wrong feature count", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,29],"
     "\"parameters\":{\"binary_data_size\":116}}]}",
     116, 400, "inputs[0].shape[1]"},
    {"body over max_body_bytes", NULL, NULL,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[600,30],"
     "\"parameters\":{\"binary_data_size\":72000}}]}",
     72000, 413, "max_body_bytes"},
};

/*
 * Every inconsistency is a JSON error naming the field or header, and (but for 413) the
 * connection goes on serving: a good binary request follows each one on the same socket.
 */
START_TEST(refused_over_http)
{
	const struct bad_case *bc = &bad[_i];
	struct tu_buf req = {0}, body = {0}, hdr = {0}, good = {0}, bin = {0};
	size_t jlen = strlen(bc->json);
	struct resp r;
	json_t *j;
	int fd;

	need_daemon();
	tu_buf_add(&body, bc->json, jlen);
	for (size_t i = 0; i < bc->nbytes; i++) {
		unsigned char byte = (unsigned char)(i * 37 + 1);
		tu_buf_add(&body, &byte, 1);
	}
	tu_buf_printf(&req, "POST " INFER " HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n",
	              body.len);
	if (!bc->ihcl)
		tu_buf_printf(&req, IHCL ": %zu\r\n", jlen);
	else if (bc->ihcl[0])
		tu_buf_printf(&req, IHCL ": %s\r\n", bc->ihcl);
	if (bc->dup)
		tu_buf_printf(&req, IHCL ": %s\r\n", bc->dup);
	tu_buf_add(&req, "\r\n", 2);
	tu_buf_add(&req, body.p, body.len);
	fd = cconnect();
	/*
	 * A 413 is answered, and the connection closed, as soon as the head is in: the rest of
	 * the body may then meet a closed socket, and the answer is still there to read.
	 */
	if (bc->status == 413)
		(void)send_until_closed(fd, req.p, req.len);
	else
		send_all(fd, req.p, req.len);
	ck_assert_msg(read_resp(fd, &r), "%s: no response", bc->what);
	ck_assert_msg(r.status == (int)bc->status, "%s: status %d, want %u: %s", bc->what, r.status,
	              bc->status, r.body.p);
	ck_assert_str_eq(r.ctype, "application/json");
	j = resp_json(&r);
	ck_assert_msg(strstr(json_string_value(json_object_get(j, "error")), bc->needle) != NULL,
	              "%s: error \"%s\" does not name \"%s\"", bc->what,
	              json_string_value(json_object_get(j, "error")), bc->needle);
	json_decref(j);
	if (bc->status == 400) {
		ck_assert_msg(!r.close, "%s: the connection was closed", bc->what);
		resp_free(&r);
		for (size_t i = 0; i < g.ncols; i++)
			put_f32(&bin, g.inputs[i]);
		binary_header(&hdr, "FP32", 1, bin.len, "");
		post_binary(fd, &hdr, &bin, &r);
		ck_assert_msg(r.status == 200, "%s: the next request: %d %s", bc->what, r.status,
		              r.body.p);
	}
	resp_free(&r);
	close(fd);
	free(req.p);
	free(body.p);
	free(hdr.p);
	free(good.p);
	free(bin.p);
}
END_TEST

/* Many requests on one connection, binary and JSON mixed, all answered and consistent. */
START_TEST(keep_alive)
{
	struct tu_buf jreq = {0}, hdr = {0}, bin = {0}, hdrb = {0};
	struct resp first, r;
	int fd, rounds = tu_wrapped() ? 8 : 40;

	need_daemon();
	json_request(&jreq, g.inputs, g.nrows, "");
	for (size_t i = 0; i < g.nrows * g.ncols; i++)
		put_f32(&bin, g.inputs[i]);
	binary_header(&hdr, "FP32", g.nrows, bin.len, "");
	binary_header(&hdrb, "FP32", g.nrows, bin.len,
	              ",\"parameters\":{\"binary_data_output\":true}");
	fd = cconnect();
	post(fd, NULL, jreq.p, jreq.len, &first);
	ck_assert_int_eq(first.status, 200);
	for (int k = 0; k < rounds; k++) {
		switch (k % 3) {
		case 0:
			post_binary(fd, &hdr, &bin, &r);
			break;
		case 1:
			post(fd, NULL, jreq.p, jreq.len, &r);
			break;
		default:
			post_binary(fd, &hdrb, &bin, &r);
			break;
		}
		ck_assert_msg(r.status == 200, "request %d: %d", k, r.status);
		ck_assert(!r.close);
		if (k % 3 == 2) {
			float *want = calloc(g.nrows, sizeof(float));
			ck_assert_uint_eq(json_floats(&first, "predict", want, g.nrows), g.nrows);
			/* The default outputs: predict, then margin. */
			json_decref(check_binary_resp(&r, g.nrows * 8));
			check_floats(&r, 0, want, g.nrows);
			free(want);
		} else {
			ck_assert_uint_eq(r.body.len, first.body.len);
			ck_assert_mem_eq(r.body.p, first.body.p, r.body.len);
		}
		resp_free(&r);
	}
	close(fd);
	resp_free(&first);
	free(jreq.p);
	free(hdr.p);
	free(hdrb.p);
	free(bin.p);
}
END_TEST

static Suite *binary_suite(void)
{
	Suite *s = suite_create("binary");
	TCase *t = tcase_create("binary");

	tcase_add_unchecked_fixture(t, setup, teardown);
	tcase_set_timeout(t, tu_wrapped() ? 600 : 60);
	tcase_add_test(t, extension_listed);
	tcase_add_test(t, binary_input_matches_json);
	tcase_add_test(t, binary_integers_match_json);
	tcase_add_test(t, binary_output_matches_json);
	tcase_add_loop_test(t, refused_over_http, 0, (int)(sizeof bad / sizeof bad[0]));
	tcase_add_test(t, keep_alive);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(binary_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
