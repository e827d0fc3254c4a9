/* check_http.c: integration tests of the HTTP front end and the daemon against a real inferd. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <nettle/version.h>

#include "golden.h"
#include "testutil.h"

#define MODEL "breast-cancer"
/* The bundled model's input width, read from its golden set in setup. */
static size_t nfeat;

/* Small limits so that the hostile requests reach them cheaply. */
static const char conf_main[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "limits = { max_body_bytes = 65536; max_rows = 50; max_json_depth = 16;\n"
    "           connection_timeout = 5; };\n"
    "log_level = \"debug\";\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1;\n"
    "             golden = \"@GOLDEN@\"; } );\n";

static int io_timeout_ms(void)
{
	return tu_wrapped() ? 60000 : 10000;
}

/* Row i of a golden-style input as a JSON data fragment: null for missing. */
static void append_row(char **buf, size_t *len, size_t *cap, const float *row, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		char tmp[48];
		int w = isnan(row[j])
		            ? snprintf(tmp, sizeof tmp, "%snull", *len ? "," : "")
		            : snprintf(tmp, sizeof tmp, "%s%.9g", *len ? "," : "", (double)row[j]);
		if (*len + (size_t)w + 1 > *cap) {
			*cap = (*cap + (size_t)w + 1) * 2;
			*buf = realloc(*buf, *cap);
			ck_assert_ptr_nonnull(*buf);
		}
		memcpy(*buf + *len, tmp, (size_t)w + 1);
		*len += (size_t)w;
	}
}

/* A one-row infer body with every feature 1.0 (shape [1, F]). */
static char *ones_body(void)
{
	float *row = malloc(nfeat * sizeof(float));
	char *data = NULL, *body;
	size_t len = 0, cap = 0;

	ck_assert_ptr_nonnull(row);
	for (size_t j = 0; j < nfeat; j++)
		row[j] = 1.0f;
	append_row(&data, &len, &cap, row, nfeat);
	body = tu_xasprintf("{\"id\":\"one\",\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                    "\"shape\":[1,%zu],\"data\":[%s]}]}",
	                    nfeat, data);
	free(row);
	free(data);
	return body;
}

/* --- a raw client that also returns the response head (for Allow, Connection) --- */

static int conn_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {io_timeout_ms() / 1000, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

struct rsp {
	int status;
	char *head; /* status line and headers, NUL-terminated */
	char *body;
};

static void rsp_free(struct rsp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* Sends req on fd and reads exactly one response (Content-Length framed). */
static int roundtrip(int fd, const char *req, size_t reqlen, struct rsp *r, bool head_req)
{
	char *buf = NULL, *eoh;
	size_t len = 0, cap = 0, need = 0, hlen = 0;
	long clen = 0;

	memset(r, 0, sizeof *r);
	for (size_t off = 0; off < reqlen;) {
		ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (n <= 0)
			return 0;
		off += (size_t)n;
	}
	while (hlen == 0 || len < need) {
		ssize_t n;
		if (len + 4097 > cap) {
			cap = (cap + 4097) * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (hlen == 0 && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			hlen = (size_t)(eoh - buf) + 4;
			if (cl != NULL && cl < eoh)
				clen = strtol(cl + 17, NULL, 10);
			need = hlen + (head_req ? 0 : (size_t)clen);
		}
	}
	if (hlen == 0 || len < need) {
		free(buf);
		return 0;
	}
	sscanf(buf, "HTTP/1.%*d %d", &r->status);
	r->head = strndup(buf, hlen - 2);
	r->body = strndup(buf + hlen, head_req ? 0 : (size_t)clen);
	free(buf);
	return r->status;
}

/* One request on a fresh connection; keeps the head for header checks. */
static int request(const char *sock, const char *raw, size_t len, struct rsp *r)
{
	int fd = conn_open(sock);
	int st = roundtrip(fd, raw, len, r, strncmp(raw, "HEAD ", 5) == 0);
	close(fd);
	return st;
}

/* The value of header name in head, or NULL; malloc'd. */
static char *header(const char *head, const char *name)
{
	char *pat = tu_xasprintf("\r\n%s:", name);
	const char *p = strcasestr(head, pat);
	const char *e;
	size_t n = strlen(pat);

	free(pat);
	if (p == NULL)
		return NULL;
	p += n;
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static json_t *parse_obj(const char *body, const char *what)
{
	json_error_t je;
	json_t *j;

	ck_assert_msg(body != NULL, "%s: no body", what);
	j = json_loads(body, 0, &je);
	ck_assert_msg(j != NULL, "%s: body is not JSON (%s): %s", what, je.text, body);
	ck_assert_msg(json_is_object(j), "%s: body is not a JSON object: %s", what, body);
	return j;
}

/* Asserts status and a JSON {"error": "..."} whose text mentions needle. */
static void assert_error(const char *what, int status, const char *body, int want,
                         const char *needle)
{
	json_t *j;
	const char *msg;

	ck_assert_msg(status == want, "%s: status %d, expected %d (body: %s)", what, status, want,
	              body ? body : "(none)");
	j = parse_obj(body, what);
	msg = json_string_value(json_object_get(j, "error"));
	ck_assert_msg(msg != NULL, "%s: no \"error\" string in %s", what, body);
	ck_assert_msg(strcasestr(msg, needle) != NULL, "%s: error \"%s\" does not mention \"%s\"",
	              what, msg, needle);
	json_decref(j);
}

static struct tu_daemon d;

static void load_nfeat(void)
{
	struct golden g;
	char err[256];

	ck_assert_msg(golden_load(TU_BUNDLED_GOLDEN, &g, err, sizeof err) == 0, "golden_load: %s",
	              err);
	nfeat = g.ncols;
	golden_free(&g);
}

static void start_main(void)
{
	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_main) == 0, "inferd did not start");
}

static void stop_main(void)
{
	int st = tu_daemon_stop(&d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
}

/* --- happy paths --- */

START_TEST(test_health_and_server)
{
	char *body = NULL;
	json_t *j;
	int st;

	start_main();
	st = tu_http(d.socket, "GET", "/v2/health/live", NULL, &body);
	ck_assert_int_eq(st, 200);
	j = parse_obj(body, "live");
	ck_assert(json_is_true(json_object_get(j, "live")));
	json_decref(j);
	free(body);

	st = tu_http(d.socket, "GET", "/v2/health/ready", NULL, &body);
	ck_assert_int_eq(st, 200);
	j = parse_obj(body, "ready");
	ck_assert(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
	free(body);

	st = tu_http(d.socket, "GET", "/v2", NULL, &body);
	ck_assert_int_eq(st, 200);
	j = parse_obj(body, "server metadata");
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "inferd");
	ck_assert_str_eq(json_string_value(json_object_get(j, "version")), PACKAGE_VERSION);
	ck_assert(json_is_array(json_object_get(j, "extensions")));
	json_decref(j);
	free(body);
	stop_main();
}
END_TEST

START_TEST(test_head_and_content_type)
{
	static const char req[] = "HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char get[] = "GET /v2/models/" MODEL " HTTP/1.1\r\nHost: x\r\n\r\n";
	struct rsp r;
	char *ct;

	start_main();
	ck_assert_int_eq(request(d.socket, req, sizeof req - 1, &r), 200);
	ck_assert_str_eq(r.body, "");
	rsp_free(&r);
	ck_assert_int_eq(request(d.socket, get, sizeof get - 1, &r), 200);
	ct = header(r.head, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_str_eq(ct, "application/json");
	free(ct);
	rsp_free(&r);
	stop_main();
}
END_TEST

static void check_model_meta(const char *body)
{
	json_t *j = parse_obj(body, "model metadata"), *in, *outs, *p;

	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), MODEL);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), "1");
	in = json_array_get(json_object_get(j, "inputs"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(in, "name")), "input");
	ck_assert_str_eq(json_string_value(json_object_get(in, "datatype")), "FP32");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(in, "shape"), 0)), -1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(in, "shape"), 1)),
	                 (json_int_t)nfeat);
	outs = json_object_get(j, "outputs");
	ck_assert_int_eq(json_array_size(outs), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outs, 0), "name")),
	                 "predict");
	/* binary:logistic: one value per row, so the shape is [-1]. */
	ck_assert_int_eq(json_array_size(json_object_get(json_array_get(outs, 0), "shape")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outs, 1), "name")),
	                 "margin");
	p = json_object_get(j, "parameters");
	ck_assert_str_eq(json_string_value(json_object_get(p, "objective")), "binary:logistic");
	ck_assert_str_eq(json_string_value(json_object_get(p, "booster")), "gbtree");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "num_feature")), (json_int_t)nfeat);
	ck_assert_int_gt(json_integer_value(json_object_get(p, "num_trees")), 0);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(p, "sha256"))), 64);
	ck_assert_str_eq(json_string_value(json_object_get(p, "xgboost_version")), "1.7.4");
	json_decref(j);
}

START_TEST(test_model_endpoints)
{
	char *body = NULL;
	json_t *j;

	start_main();
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/" MODEL, NULL, &body), 200);
	check_model_meta(body);
	free(body);
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/" MODEL "/versions/1", NULL, &body),
	                 200);
	check_model_meta(body);
	free(body);
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/" MODEL "/ready", NULL, &body), 200);
	j = parse_obj(body, "model ready");
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), MODEL);
	ck_assert(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
	free(body);
	ck_assert_int_eq(
	    tu_http(d.socket, "GET", "/v2/models/" MODEL "/versions/1/ready", NULL, &body), 200);
	free(body);
	/* An escaped unreserved byte ("%2D" is '-') names the same model. */
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/breast%2Dcancer/ready", NULL, &body),
	                 200);
	free(body);
	stop_main();
}
END_TEST

START_TEST(test_infer_one_row)
{
	char *req, *body = NULL;
	json_t *j, *o;
	double v;

	start_main();
	req = ones_body();
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/" MODEL "/infer", req, &body), 200);
	j = parse_obj(body, "infer");
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_name")), MODEL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
	ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "one");
	o = json_array_get(json_object_get(j, "outputs"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "predict");
	ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP32");
	ck_assert_int_eq(json_array_size(json_object_get(o, "data")), 1);
	v = json_number_value(json_array_get(json_object_get(o, "data"), 0));
	/* A probability from binary:logistic. */
	ck_assert(v > 0.0 && v < 1.0);
	json_decref(j);
	free(body);
	free(req);
	stop_main();
}
END_TEST

/* The bundled model serving predict, contribs and leaf (the outputs key), trees = "best". */
static const char conf_outputs[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1;\n"
    "             trees = \"best\"; outputs = [ \"predict\", \"leaf\", \"contribs\" ]; } );\n";

/*
 * Default outputs are the ones served; contribs are [N, F+1] FP32 and sum to the margin
 * (for binary:logistic, logit(predict)); leaf is INT32 [N, T]; an output that is not
 * served is a 400 naming the key; metadata lists exactly the served outputs and shapes.
 */
START_TEST(test_outputs_key)
{
	char *req, *body = NULL;
	json_t *j, *outs, *o, *p, *shape;
	double sum = 0, pr;
	json_int_t trees;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_outputs) == 0, "inferd did not start");
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/" MODEL, NULL, &body), 200);
	j = parse_obj(body, "metadata");
	outs = json_object_get(j, "outputs");
	ck_assert_int_eq(json_array_size(outs), 3);
	/* Listed in the fixed order: predict, contribs, leaf. */
	o = json_array_get(outs, 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "contribs");
	ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP32");
	shape = json_object_get(o, "shape");
	ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), (json_int_t)nfeat + 1);
	o = json_array_get(outs, 2);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "leaf");
	ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "INT32");
	p = json_object_get(j, "parameters");
	ck_assert_str_eq(json_string_value(json_object_get(p, "trees")), "best");
	trees = json_integer_value(json_object_get(p, "trees_used"));
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "shape"), 1)), trees);
	ck_assert_int_le(trees, json_integer_value(json_object_get(p, "num_trees")));
	ck_assert_ptr_nonnull(json_object_get(p, "best_iteration"));
	ck_assert_ptr_nonnull(json_object_get(p, "base_score"));
	ck_assert_ptr_nonnull(json_object_get(p, "num_class"));
	json_decref(j);
	free(body);

	req = ones_body();
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/" MODEL "/infer", req, &body), 200);
	j = parse_obj(body, "infer");
	outs = json_object_get(j, "outputs");
	ck_assert_int_eq(json_array_size(outs), 3);
	pr = json_number_value(json_array_get(json_object_get(json_array_get(outs, 0), "data"), 0));
	o = json_array_get(outs, 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "contribs");
	ck_assert_int_eq(json_array_size(json_object_get(o, "data")), nfeat + 1);
	for (size_t i = 0; i <= nfeat; i++)
		sum += json_number_value(json_array_get(json_object_get(o, "data"), i));
	/* SHAP values and the bias add up to the margin: logit(p) for binary:logistic. */
	ck_assert_msg(fabs(sum - log(pr / (1 - pr))) < 1e-3, "sum %g, margin %g", sum,
	              log(pr / (1 - pr)));
	o = json_array_get(outs, 2);
	ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "INT32");
	ck_assert_int_eq(json_array_size(json_object_get(o, "data")), trees);
	ck_assert(json_is_integer(json_array_get(json_object_get(o, "data"), 0)));
	json_decref(j);
	free(body);
	free(req);

	/* margin exists but is not served: 400 naming the outputs key. */
	{
		char *ones = ones_body(), *cut = strrchr(ones, '}');
		*cut = '\0';
		req = tu_xasprintf("%s,\"outputs\":[{\"name\":\"margin\"}]}", ones);
		free(ones);
	}
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/" MODEL "/infer", req, &body), 400);
	ck_assert_msg(strstr(body, "\\\"margin\\\" is not enabled") && strstr(body, "outputs key"),
	              "%s", body);
	free(body);
	free(req);
	{
		char *ones = ones_body(), *cut = strrchr(ones, '}');
		*cut = '\0';
		req = tu_xasprintf("%s,\"outputs\":[{\"name\":\"predict_proba\"}]}", ones);
		free(ones);
	}
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/" MODEL "/infer", req, &body), 400);
	ck_assert_msg(strstr(body, "not an output of model"), "%s", body);
	free(body);
	free(req);
	ck_assert_int_eq(tu_daemon_stop(&d), 0);
}
END_TEST

START_TEST(test_keepalive)
{
	static const char get[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	char *body, *post, *conn;
	struct rsp r;
	int fd;

	start_main();
	body = ones_body();
	post = tu_xasprintf("POST /v2/models/" MODEL "/infer HTTP/1.1\r\nHost: x\r\n"
	                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                    strlen(body), body);
	fd = conn_open(d.socket);
	ck_assert_int_eq(roundtrip(fd, get, sizeof get - 1, &r, false), 200);
	conn = header(r.head, "Connection");
	ck_assert_msg(conn == NULL || strcasecmp(conn, "close") != 0,
	              "first response closes the connection");
	free(conn);
	rsp_free(&r);
	ck_assert_int_eq(roundtrip(fd, post, strlen(post), &r, false), 200);
	conn = header(r.head, "Connection");
	ck_assert_msg(conn == NULL || strcasecmp(conn, "close") != 0,
	              "second response closes the connection");
	free(conn);
	rsp_free(&r);
	/* And a third, after a POST with a body, on the same connection. */
	ck_assert_int_eq(roundtrip(fd, get, sizeof get - 1, &r, false), 200);
	rsp_free(&r);
	close(fd);
	free(post);
	free(body);
	stop_main();
}
END_TEST

/* --- prediction against the golden set (XGBoost's own outputs) --- */

START_TEST(test_golden_predictions)
{
	struct golden g;
	char err[256], *data = NULL, *req, *body = NULL;
	size_t len = 0, cap = 0;
	json_t *j, *outs;
	double tol;

	start_main();
	ck_assert_msg(golden_load(TU_BUNDLED_GOLDEN, &g, err, sizeof err) == 0, "%s", err);
	for (size_t i = 0; i < g.nrows; i++)
		append_row(&data, &len, &cap, g.inputs + i * g.ncols, g.ncols);
	req = tu_xasprintf(
	    "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[%zu,%zu],"
	    "\"data\":[%s]}],\"outputs\":[{\"name\":\"predict\"},{\"name\":\"margin\"}]}",
	    g.nrows, g.ncols, data);
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/" MODEL "/infer", req, &body), 200);
	j = parse_obj(body, "golden infer");
	outs = json_object_get(j, "outputs");
	tol = g.tolerance > 0 ? g.tolerance : 1e-6;
	for (size_t k = 0; k < json_array_size(outs); k++) {
		json_t *o = json_array_get(outs, k);
		const char *name = json_string_value(json_object_get(o, "name"));
		json_t *vals = json_object_get(o, "data");
		const double *want = strcmp(name, "predict") == 0 ? g.predict : g.margin;
		size_t width = strcmp(name, "predict") == 0 ? g.predict_width : g.margin_width;

		if (want == NULL)
			continue;
		ck_assert_uint_eq(json_array_size(vals), g.nrows * width);
		for (size_t i = 0; i < g.nrows * width; i++) {
			double got = json_number_value(json_array_get(vals, i));
			ck_assert_msg(fabs(got - want[i]) <= tol, "%s[%zu]: got %.9g, XGBoost %.9g",
			              name, i, got, want[i]);
		}
	}
	ck_assert_uint_eq(json_array_size(outs), g.margin ? 2 : 1);
	json_decref(j);
	free(body);
	free(req);
	free(data);
	golden_free(&g);
	stop_main();
}
END_TEST

/* --- hostile requests --- */

struct bad {
	const char *what;
	const char *method;
	const char *path;
	const char *body; /* NULL: no body */
	int status;
	const char *needle; /* the error text names this */
};

#define INFER "/v2/models/" MODEL "/infer"
/* A valid tensor header with shape filled in by the case. */
#define TENSOR(shape, data)                                                                        \
	"{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":" shape                  \
	",\"data\":" data "}]}"

static const struct bad bad_cases[] = {
    {"truncated JSON", "POST", INFER, "{\"inputs\": [", 400, "line"},
    {"empty body", "POST", INFER, "", 400, "line"},
    {"body is an array", "POST", INFER, "[1,2]", 400, "object"},
    {"no inputs", "POST", INFER, "{}", 400, "inputs"},
    {"inputs not an array", "POST", INFER, "{\"inputs\":{}}", 400, "inputs"},
    {"two inputs", "POST", INFER, "{\"inputs\":[{},{}]}", 400, "inputs"},
    {"wrong datatype", "POST", INFER,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"BYTES\",\"shape\":[1,30],\"data\":[]}]}", 400,
     "datatype"},
    {"three-dimensional shape", "POST", INFER, TENSOR("[1,30,1]", "[]"), 400, "shape"},
    {"wrong feature count", "POST", INFER, TENSOR("[1,29]", "[]"), 400, "shape"},
    {"negative shape", "POST", INFER, TENSOR("[-1,30]", "[]"), 400, "shape"},
    {"2^62 rows", "POST", INFER, TENSOR("[4611686018427387904,30]", "[]"), 400, "shape"},
    {"2^62 features", "POST", INFER, TENSOR("[1,4611686018427387904]", "[]"), 400, "shape"},
    {"shape is a string", "POST", INFER, TENSOR("\"1x30\"", "[]"), 400, "shape"},
    {"too many rows", "POST", INFER, TENSOR("[51,30]", "[]"), 400, "rows"},
    {"too few values", "POST", INFER, TENSOR("[1,30]", "[1,2,3]"), 400, "data"},
    {"data not an array", "POST", INFER, TENSOR("[1,30]", "{}"), 400, "data"},
    {"string in data", "POST", INFER,
     TENSOR("[1,30]", "[\"a\",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"), 400,
     "data"},
    {"FP32 overflow", "POST", INFER,
     TENSOR("[1,30]", "[1e39,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"), 400,
     "FP32"},
    {"nesting beyond max_json_depth", "POST", INFER,
     TENSOR("[1,30]", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]"), 400, "nesting"},
    {"duplicate keys", "POST", INFER,
     "{\"inputs\":[],\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],"
     "\"data\":[]}]}",
     400, "duplicate"},
    {"non-UTF-8 string", "POST", INFER, "{\"id\":\"\xff\xfe\",\"inputs\":[]}", 400, "byte"},
    {"id not a string", "POST", INFER, "{\"id\":5,\"inputs\":[]}", 400, "id"},
    {"unknown output", "POST", INFER,
     "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],\"data\":[]}],"
     "\"outputs\":[{\"name\":\"leaves\"}]}",
     400, "outputs"},
    {"unknown model", "GET", "/v2/models/nosuchmodel", NULL, 404, "nosuchmodel"},
    {"unknown model infer", "POST", "/v2/models/nosuchmodel/infer", "{}", 404, "nosuchmodel"},
    {"unknown version", "GET", "/v2/models/" MODEL "/versions/99", NULL, 404, "version"},
    {"unknown route", "GET", "/v3/health/live", NULL, 404, "route"},
    {"unknown model subroute", "GET", "/v2/models/" MODEL "/explain", NULL, 404, "route"},
    {"GET on infer", "GET", INFER, NULL, 405, "POST"},
    {"POST on live", "POST", "/v2/health/live", "{}", 405, "GET"},
    {"DELETE on a model", "DELETE", "/v2/models/" MODEL, NULL, 405, "GET"},
    {"dot-dot segment", "GET", "/v2/models/../health/live", NULL, 400, ".."},
    {"dot segment", "GET", "/v2/./health/live", NULL, 400, "."},
    {"percent-encoded NUL", "GET", "/v2/models/breast%00cancer", NULL, 400, "path"},
    {"percent-encoded slash", "GET", "/v2/models/breast%2Fcancer", NULL, 400, "path"},
    {"bad percent escape", "GET", "/v2/models/breast%zzcancer", NULL, 400, "path"},
    {"empty segment", "GET", "/v2//health/live", NULL, 400, "empty"},
    {"trailing slash", "GET", "/v2/health/live/", NULL, 400, "empty"},
    {"bad model name", "GET", "/v2/models/bad$name", NULL, 400, "model name"},
    {"65-byte model name", "GET",
     "/v2/models/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, 400,
     "model name"},
    {"bad version", "GET", "/v2/models/" MODEL "/versions/1$", NULL, 400, "version"},
    {"raw non-ASCII in path", "GET", "/v2/models/\xc3\xa9t\xff", NULL, 400, "path"},
};

static int send_case(const char *sock, const struct bad *b, char **body)
{
	char *raw;
	int st;

	if (b->body != NULL)
		raw = tu_xasprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		                   "Content-Length: %zu\r\n\r\n%s",
		                   b->method, b->path, strlen(b->body), b->body);
	else
		raw = tu_xasprintf("%s %s HTTP/1.1\r\nHost: x\r\n\r\n", b->method, b->path);
	st = tu_raw_request(sock, raw, strlen(raw), io_timeout_ms(), body);
	free(raw);
	return st;
}

static void assert_infer_ok(const char *sock, const char *path, const char *version)
{
	char *req = ones_body(), *body = NULL;
	json_t *j;

	ck_assert_int_eq(tu_http(sock, "POST", path, req, &body), 200);
	j = parse_obj(body, "infer after hostile requests");
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), version);
	json_decref(j);
	free(body);
	free(req);
}

START_TEST(test_hostile_requests)
{
	start_main();
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		char *body = NULL;
		int st = send_case(d.socket, &bad_cases[i], &body);
		assert_error(bad_cases[i].what, st, body, bad_cases[i].status, bad_cases[i].needle);
		free(body);
	}
	assert_infer_ok(d.socket, INFER, "1");
	stop_main();
}
END_TEST

START_TEST(test_405_allow)
{
	static const char get_infer[] = "GET " INFER " HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char put_live[] = "PUT /v2/health/live HTTP/1.1\r\nHost: x\r\n"
	                               "Content-Length: 0\r\n\r\n";
	struct rsp r;
	char *allow;

	start_main();
	ck_assert_int_eq(request(d.socket, get_infer, sizeof get_infer - 1, &r), 405);
	allow = header(r.head, "Allow");
	ck_assert_ptr_nonnull(allow);
	ck_assert_str_eq(allow, "POST");
	free(allow);
	rsp_free(&r);
	ck_assert_int_eq(request(d.socket, put_live, sizeof put_live - 1, &r), 405);
	allow = header(r.head, "Allow");
	ck_assert_ptr_nonnull(allow);
	ck_assert_ptr_nonnull(strstr(allow, "GET"));
	free(allow);
	rsp_free(&r);
	stop_main();
}
END_TEST

START_TEST(test_body_limits)
{
	/* 70000 bytes of valid-looking JSON: over max_body_bytes (65536). */
	size_t n = 70000;
	char *big = malloc(n + 1), *raw, *body = NULL;
	int st;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	start_main();

	/* Content-Length over the limit: refused before the body is read. */
	raw = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s", n,
	                   big);
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	assert_error("Content-Length over max_body_bytes", st, body, 413, "max_body_bytes");
	free(body);
	free(raw);

	/* A huge Content-Length with no body at all. */
	raw = tu_xasprintf("POST " INFER
	                   " HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n");
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	assert_error("1 TiB Content-Length", st, body, 413, "max_body_bytes");
	free(body);
	free(raw);

	/* Chunked: the running total goes over the limit. */
	raw =
	    tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                 "%zx\r\n%s\r\n0\r\n\r\n",
	                 n, big);
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	assert_error("chunked body over max_body_bytes", st, body, 413, "max_body_bytes");
	free(body);
	free(raw);

	/* Content-Length lies low: the JSON is cut where it says, and that is a 400. */
	raw = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	                   "Connection: close\r\n\r\n{\"inputs\":[]}");
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	assert_error("Content-Length shorter than the body", st, body, 400, "line");
	free(body);
	free(raw);

	/* Content-Length lies high: no answer until connection_timeout closes it. */
	raw = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{}");
	st = tu_raw_request(d.socket, raw, strlen(raw), 1000, &body);
	ck_assert_int_eq(st, 0);
	free(body);
	free(raw);

	/* Headers over our limit get a JSON 431. */
	{
		size_t hn = 20000;
		char *h = malloc(hn + 1);
		ck_assert_ptr_nonnull(h);
		memset(h, 'a', hn);
		h[hn] = '\0';
		raw =
		    tu_xasprintf("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", h);
		st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
		assert_error("huge header", st, body, 431, "header");
		free(body);
		free(raw);
		free(h);
	}
	/* Headers beyond MHD's memory pool: MHD itself refuses them with a 4xx. */
	{
		size_t hn = 200000;
		char *h = malloc(hn + 1);
		ck_assert_ptr_nonnull(h);
		memset(h, 'a', hn);
		h[hn] = '\0';
		raw =
		    tu_xasprintf("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", h);
		st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
		ck_assert_msg(st >= 400 && st < 500, "200 KB header: status %d", st);
		free(body);
		free(raw);
		free(h);
	}
	assert_infer_ok(d.socket, INFER, "1");
	free(big);
	stop_main();
}
END_TEST

/* --- metrics --- */

/* The value of the first line of text starting with prefix and containing every label. */
static long metric_value(const char *text, const char *prefix, const char *l1, const char *l2)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *line = strndup(p, n);
		long v = -1;
		if (strncmp(line, prefix, strlen(prefix)) == 0 && (!l1 || strstr(line, l1)) &&
		    (!l2 || strstr(line, l2))) {
			const char *sp = strrchr(line, ' ');
			v = sp ? (long)strtod(sp + 1, NULL) : -1;
		}
		free(line);
		if (v >= 0)
			return v;
	}
	return -1;
}

START_TEST(test_metrics)
{
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	const int k = 3;
	char *body = NULL, *ct;
	struct rsp r;

	start_main();
	for (int i = 0; i < k; i++) {
		ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/health/live", NULL, &body), 200);
		free(body);
	}
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/nosuchmodel", NULL, &body), 404);
	free(body);
	ck_assert_int_eq(request(d.socket, get, sizeof get - 1, &r), 200);
	ct = header(r.head, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_msg(strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "Content-Type %s", ct);
	free(ct);
	ck_assert_int_eq(
	    metric_value(r.body, "inferd_requests_total{", "endpoint=\"live\"", "code=\"200\""), k);
	ck_assert_int_eq(metric_value(r.body, "inferd_requests_total{",
	                              "endpoint=\"model_metadata\"", "code=\"404\""),
	                 1);
	ck_assert_int_eq(
	    metric_value(r.body, "inferd_model_info{", "model=\"" MODEL "\"", "version=\"1\""), 1);
	rsp_free(&r);
	stop_main();
}
END_TEST

/* --- the command line --- */

/* Runs inferd with args (stdout and stderr together); returns the exit status. */
static int run_inferd(const char *args, char **out)
{
	char *cmd = tu_xasprintf("'%s/src/inferd' %s 2>&1", TOP_BUILDDIR, args);
	FILE *p = popen(cmd, "r");
	char buf[4096];
	size_t len = 0, n;
	int st;

	ck_assert_ptr_nonnull(p);
	*out = malloc(1);
	ck_assert_ptr_nonnull(*out);
	while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
		*out = realloc(*out, len + n + 1);
		ck_assert_ptr_nonnull(*out);
		memcpy(*out + len, buf, n);
		len += n;
	}
	(*out)[len] = '\0';
	st = pclose(p);
	free(cmd);
	ck_assert_msg(WIFEXITED(st), "inferd %s did not exit normally", args);
	return WEXITSTATUS(st);
}

START_TEST(test_check_config)
{
	char *dir = tu_mkdtemp(), *good, *bad, *badmodel, *args, *out, *want;
	char *text =
	    tu_xasprintf("models = ( { name = \"m\"; path = \"%s\"; } );\n", TU_BUNDLED_MODEL);

	good = tu_write_file(dir, "good.conf", text);
	free(text);
	/* Line 2: unknown key; line 4: out of range. */
	bad = tu_write_file(dir, "bad.conf",
	                    "log_level = \"info\";\n"
	                    "no_such_key = 1;\n"
	                    "limits = {\n"
	                    "  max_rows = 0;\n"
	                    "};\n");
	badmodel =
	    tu_write_file(dir, "badmodel.conf",
	                  "models = ( { name = \"ghost\"; path = \"/nonexistent/m.json\"; } );\n");

	args = tu_xasprintf("--check-config --config '%s'", good);
	ck_assert_int_eq(run_inferd(args, &out), 0);
	want = tu_xasprintf("%s: OK", good);
	ck_assert_msg(strstr(out, want) != NULL, "output: %s", out);
	free(want);
	free(out);
	free(args);

	args = tu_xasprintf("-t -c '%s'", bad);
	ck_assert_int_eq(run_inferd(args, &out), 1);
	want = tu_xasprintf("at line 2 in file %s", bad);
	ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in: %s", want, out);
	ck_assert_msg(strstr(out, "no_such_key") != NULL, "unknown key not named: %s", out);
	free(want);
	want = tu_xasprintf("at line 4 in file %s", bad);
	ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in: %s", want, out);
	ck_assert_msg(strstr(out, "max_rows") != NULL, "max_rows not named: %s", out);
	free(want);
	free(out);
	free(args);

	args = tu_xasprintf("--check-config --config '%s'", badmodel);
	ck_assert_int_eq(run_inferd(args, &out), 1);
	ck_assert_msg(strstr(out, "ghost") != NULL, "failed model not named: %s", out);
	free(out);
	free(args);

	ck_assert_int_eq(run_inferd("--version", &out), 0);
	ck_assert_str_eq(out, "inferd " PACKAGE_VERSION "\n");
	free(out);
	ck_assert_int_eq(run_inferd("--no-such-option", &out), 2);
	free(out);
	ck_assert_int_eq(run_inferd("--help", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "--check-config"));
	free(out);

	free(good);
	free(bad);
	free(badmodel);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* --- lifecycle --- */

static int wait_exit(pid_t pid, long ms)
{
	int st = 0;
	for (long t = 0; t < ms; t += 20) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		tu_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	ck_abort_msg("inferd did not exit in %ld ms", ms);
	return st;
}

START_TEST(test_sigterm_removes_socket)
{
	struct stat st;
	int status;

	start_main();
	ck_assert_int_eq(lstat(d.socket, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	status = wait_exit(d.pid, tu_wrapped() ? 120000 : 15000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	ck_assert_int_eq(lstat(d.socket, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	d.pid = 0; /* already reaped: tu_daemon_stop only cleans up */
	tu_daemon_stop(&d);
}
END_TEST

START_TEST(test_graceful_stop)
{
	static const char get[] = "GET /v2 HTTP/1.1\r\nHost: x\r\n\r\n";
	char *body, *head, *conn;
	size_t half;
	struct rsp r;
	int fd, idle, status;
	long slow = tu_wrapped() ? 2000 : 300;

	start_main();
	body = ones_body();
	head = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
	                    strlen(body));
	/* An idle keep-alive connection must not hold the stop up. */
	idle = conn_open(d.socket);
	ck_assert_int_eq(roundtrip(idle, get, sizeof get - 1, &r, false), 200);
	rsp_free(&r);
	/* A request in flight: headers and half of the body are in when SIGTERM comes. */
	fd = conn_open(d.socket);
	half = strlen(body) / 2;
	ck_assert_int_eq(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
	ck_assert_int_eq(send(fd, body, half, MSG_NOSIGNAL), (ssize_t)half);
	tu_sleep_ms(slow);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	tu_sleep_ms(slow);
	ck_assert_msg(waitpid(d.pid, &status, WNOHANG) == 0, "inferd left a request unfinished");
	/*
	 * Stopping, a new client is refused at connect(): queued in the backlog instead, it
	 * would be reset when the socket closes, after it had sent its request.
	 */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int late = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		ck_assert_int_ge(late, 0);
		strcpy(sa.sun_path, d.socket);
		ck_assert_int_eq(connect(late, (struct sockaddr *)&sa, sizeof sa), -1);
		ck_assert_int_eq(errno, ECONNREFUSED);
		close(late);
	}
	/* The rest of the body: the request is answered, and the connection is closed. */
	ck_assert_int_eq(roundtrip(fd, body + half, strlen(body) - half, &r, false), 200);
	conn = header(r.head, "Connection");
	ck_assert_ptr_nonnull(conn);
	ck_assert_str_eq(conn, "close");
	free(conn);
	rsp_free(&r);
	/* shutdown_grace is 10 s: leaving sooner shows the idle connection did not count. */
	status = wait_exit(d.pid, tu_wrapped() ? 8000 : 3000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	d.pid = 0;
	tu_daemon_stop(&d);
	close(fd);
	close(idle);
	free(head);
	free(body);
}
END_TEST

/* Roomy limits: the stop test sends several hundred rows per request. */
static const char conf_stop[] = "socket = { path = \"@SOCKET@\"; };\n"
                                "limits = { max_body_bytes = 4194304; max_rows = 1000; };\n"
                                "server = { shutdown_grace = 10; };\n"
                                "log_level = \"debug\";\n"
                                "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; "
                                "version = 1; } );\n";

static long long now_ms(void);

#define STOP_CLIENTS 8
#define STOP_ROWS    400

START_TEST(test_stop_while_clients_write)
{
	static const char get[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	float *row;
	char *data = NULL, *body, *req;
	size_t len = 0, cap = 0;
	int fds[STOP_CLIENTS], idle, status;
	struct rsp r;
	long long t0;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_stop) == 0, "inferd did not start");
	row = malloc(nfeat * sizeof(float));
	ck_assert_ptr_nonnull(row);
	for (size_t j = 0; j < nfeat; j++)
		row[j] = (float)j * 0.25f + 1.0f;
	for (size_t i = 0; i < STOP_ROWS; i++)
		append_row(&data, &len, &cap, row, nfeat);
	body = tu_xasprintf("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                    "\"shape\":[%d,%zu],\"data\":[%s]}]}",
	                    STOP_ROWS, nfeat, data);
	req = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	                   strlen(body), body);
	/* An idle keep-alive connection: it must not hold the stop up. */
	idle = conn_open(d.socket);
	ck_assert_int_eq(roundtrip(idle, get, sizeof get - 1, &r, false), 200);
	rsp_free(&r);
	/*
	 * Connected, nothing written yet when SIGTERM comes: each client wrote nothing, or its
	 * bytes sit unread in the socket, when the daemon decides whether it may exit. Every one
	 * of them had connect() succeed, so every one is owed an answer.
	 */
	for (int i = 0; i < STOP_CLIENTS; i++)
		fds[i] = conn_open(d.socket);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	t0 = now_ms();
	for (int i = 0; i < STOP_CLIENTS; i++) {
		size_t n = strlen(req);
		for (size_t off = 0; off < n;) {
			ssize_t w = send(fds[i], req + off, n - off, MSG_NOSIGNAL);
			ck_assert_msg(w > 0, "client %d: send: %s", i, strerror(errno));
			off += (size_t)w;
		}
	}
	for (int i = 0; i < STOP_CLIENTS; i++) {
		json_t *j, *o;
		char *conn;

		/* Already sent: roundtrip() only reads the answer. */
		ck_assert_msg(roundtrip(fds[i], "", 0, &r, false) == 200,
		              "client %d: no complete 200 answer (status %d)", i, r.status);
		j = parse_obj(r.body, "infer during stop");
		o = json_array_get(json_object_get(j, "outputs"), 0);
		/* One prediction per row sent: the whole body was read and answered. */
		ck_assert_int_eq(json_array_size(json_object_get(o, "data")), STOP_ROWS);
		conn = header(r.head, "Connection");
		ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0,
		              "client %d: no Connection: close while stopping", i);
		free(conn);
		json_decref(j);
		rsp_free(&r);
	}
	/* shutdown_grace is 10 s: the idle connection does not count, so it exits well before. */
	status = wait_exit(d.pid, tu_wrapped() ? 9000 : 5000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	ck_assert_msg(now_ms() - t0 < 10000, "the stop took %lld ms", now_ms() - t0);
	d.pid = 0;
	tu_daemon_stop(&d);
	for (int i = 0; i < STOP_CLIENTS; i++)
		close(fds[i]);
	close(idle);
	free(req);
	free(body);
	free(data);
	free(row);
}
END_TEST

START_TEST(test_not_a_socket)
{
	char *dir = tu_mkdtemp(), *path, *conf, *text, *args, *out;
	static const char content[] = "precious data\n";
	FILE *f;
	char buf[64] = "";

	path = tu_write_file(dir, "inferd.sock", content);
	text = tu_xasprintf("socket = { path = \"%s\"; };\n"
	                    "models = ( { name = \"m\"; path = \"%s\"; } );\n",
	                    path, TU_BUNDLED_MODEL);
	conf = tu_write_file(dir, "inferd.conf", text);
	args = tu_xasprintf("--foreground --config '%s'", conf);
	/* popen: if inferd wrongly started serving, the test's timeout would catch it. */
	ck_assert_int_eq(run_inferd(args, &out), 1);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof buf - 1, f), sizeof content - 1);
	fclose(f);
	ck_assert_str_eq(buf, content);
	free(out);
	free(args);
	free(conf);
	free(text);
	free(path);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A multi:softprob model of k classes over 1 feature: one leaf tree per class. */
static char *wide_model(int k)
{
	char *trees = tu_xasprintf("%s", ""), *info = tu_xasprintf("%s", ""), *t, *doc;
	for (int c = 0; c < k; c++) {
		t = tu_xasprintf(
		    "%s%s{\"tree_param\": {\"num_nodes\": \"1\"}, \"left_children\": [-1],"
		    " \"right_children\": [-1], \"split_indices\": [0],"
		    " \"split_conditions\": [%d], \"default_left\": [0]}",
		    trees, c ? ", " : "", c);
		free(trees);
		trees = t;
		t = tu_xasprintf("%s%s%d", info, c ? ", " : "", c);
		free(info);
		info = t;
	}
	doc = tu_xasprintf("{\"learner\": {\"gradient_booster\": {\"name\": \"gbtree\", \"model\": "
	                   "{\"gbtree_model_param\": {\"num_trees\": \"%d\"}, \"tree_info\": [%s],"
	                   " \"trees\": [%s]}}, \"learner_model_param\": {\"base_score\": \"0\","
	                   " \"num_class\": \"%d\", \"num_feature\": \"1\"}, \"objective\":"
	                   " {\"name\": \"multi:softprob\"}}}",
	                   k, info, trees, k);
	free(trees);
	free(info);
	return doc;
}

/* n rows of one feature, all 0. */
static char *zero_rows(int n)
{
	char *data = tu_xasprintf("%s", ""), *t;
	for (int i = 0; i < n; i++) {
		t = tu_xasprintf("%s%s0", data, i ? "," : "");
		free(data);
		data = t;
	}
	t = tu_xasprintf("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[%d,1],"
	                 "\"data\":[%s]}]}",
	                 n, data);
	free(data);
	return t;
}

/*
 * One output holds at most max(max_rows, max_body_bytes / 2) values: here 512, so 12 rows
 * of a 40-class model (480 values) are served and 13 (520) are refused with a 400 that
 * names the limit; the daemon keeps serving.
 */
START_TEST(test_output_limit)
{
	char *dir = tu_mkdtemp(), *doc = wide_model(40), *path, *conf, *req, *body = NULL;
	json_t *j, *out;
	int st;

	path = tu_write_file(dir, "wide.json", doc);
	conf = tu_xasprintf("socket = { path = \"@SOCKET@\"; };\n"
	                    "limits = { max_body_bytes = 1024; max_rows = 20; };\n"
	                    "models = ( { name = \"wide\"; path = \"%s\"; } );\n",
	                    path);
	ck_assert_msg(tu_daemon_start(&d, conf) == 0, "inferd did not start");
	req = zero_rows(13);
	st = tu_http(d.socket, "POST", "/v2/models/wide/infer", req, &body);
	assert_error("13 rows x 40 classes", st, body, 400, "limit of 512 values per output");
	free(body);
	free(req);
	req = zero_rows(12);
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/models/wide/infer", req, &body), 200);
	j = parse_obj(body, "12 rows x 40 classes");
	out = json_array_get(json_object_get(j, "outputs"), 0);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(out, "shape"), 0)), 12);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(out, "shape"), 1)), 40);
	ck_assert_uint_eq(json_array_size(json_object_get(out, "data")), 480);
	json_decref(j);
	free(body);
	free(req);
	stop_main();
	free(conf);
	free(path);
	free(doc);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* Polls path until it answers want (or the time is up); returns the last status. */
static int poll_status(const char *sock, const char *path, int want, long ms)
{
	int st = 0;
	for (long t = 0; t < ms; t += 100) {
		char *body = NULL;
		st = tu_http(sock, "GET", path, NULL, &body);
		free(body);
		if (st == want)
			return st;
		tu_sleep_ms(100);
	}
	return st;
}

static bool log_contains(const char *dir, const char *needle)
{
	char *path = tu_xasprintf("%s/inferd.log", dir), *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");
	bool hit = false;

	free(path);
	if (f == NULL)
		return false;
	if (getdelim(&text, &len, '\0', f) > 0)
		hit = strstr(text, needle) != NULL;
	free(text);
	fclose(f);
	return hit;
}

START_TEST(test_sighup_bad_config_keeps_serving)
{
	char *text, *conf, *want;
	bool seen = false;

	start_main();
	text = tu_xasprintf("socket = { path = \"%s\"; };\n"
	                    "bogus_setting = 3;\n"
	                    "models = ( { name = \"other\"; path = \"%s\"; } );\n",
	                    d.socket, TU_BUNDLED_MODEL);
	conf = tu_write_file(d.dir, "inferd.conf", text);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	want = tu_xasprintf("at line 2 in file %s", conf);
	for (int i = 0; i < 100 && !seen; i++) {
		seen = log_contains(d.dir, want);
		if (!seen)
			tu_sleep_ms(tu_wrapped() ? 500 : 100);
	}
	ck_assert_msg(seen, "the reload error \"%s\" was not logged", want);
	/* Still the old set: the old model serves, the new one does not exist. */
	assert_infer_ok(d.socket, INFER, "1");
	ck_assert_int_eq(poll_status(d.socket, "/v2/models/other", 404, 100), 404);
	free(want);
	free(conf);
	free(text);
	stop_main();
}
END_TEST

START_TEST(test_sighup_applies_new_config)
{
	char *text, *conf;

	start_main();
	text = tu_xasprintf("socket = { path = \"%s\"; };\n"
	                    "models = (\n"
	                    "  { name = \"" MODEL "\"; path = \"%s\"; version = 1; },\n"
	                    "  { name = \"second\"; path = \"%s\"; version = 7; }\n"
	                    ");\n",
	                    d.socket, TU_BUNDLED_MODEL, TU_BUNDLED_MODEL);
	conf = tu_write_file(d.dir, "inferd.conf", text);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert_int_eq(
	    poll_status(d.socket, "/v2/models/second", 200, tu_wrapped() ? 60000 : 10000), 200);
	ck_assert_int_eq(poll_status(d.socket, "/v2/models/second/versions/7/ready", 200, 100),
	                 200);
	assert_infer_ok(d.socket, "/v2/models/second/infer", "7");
	assert_infer_ok(d.socket, INFER, "1");
	free(conf);
	free(text);
	stop_main();
}
END_TEST

/* --- admin and repository routes: routing, methods and bodies (as root, the test's uid) --- */

START_TEST(test_admin_routes)
{
	static const char put_rb[] = "PUT /v2/admin/rollback HTTP/1.1\r\nHost: x\r\n"
	                             "Content-Length: 0\r\n\r\n";
	static const char get_reload[] = "GET /v2/admin/reload HTTP/1.1\r\nHost: x\r\n\r\n";
	char *body = NULL, *allow;
	struct rsp r;
	json_t *j, *ext;
	bool repo = false, admin = false;
	int st;

	start_main();
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2", NULL, &body), 200);
	j = parse_obj(body, "server metadata");
	ext = json_object_get(j, "extensions");
	for (size_t i = 0; i < json_array_size(ext); i++) {
		const char *e = json_string_value(json_array_get(ext, i));
		repo = repo || (e && strcmp(e, "model_repository") == 0);
		admin = admin || (e && strcmp(e, "inferd_admin") == 0);
	}
	ck_assert_msg(repo && admin, "extensions: %s", body);
	json_decref(j);
	free(body);

	ck_assert_int_eq(request(d.socket, get_reload, sizeof get_reload - 1, &r), 405);
	allow = header(r.head, "Allow");
	ck_assert_ptr_nonnull(allow);
	ck_assert_str_eq(allow, "POST");
	free(allow);
	rsp_free(&r);
	ck_assert_int_eq(request(d.socket, put_rb, sizeof put_rb - 1, &r), 405);
	allow = header(r.head, "Allow");
	ck_assert_ptr_nonnull(allow);
	ck_assert_str_eq(allow, "POST, DELETE");
	free(allow);
	rsp_free(&r);

	st = tu_http(d.socket, "POST", "/v2/admin/state", "{}", &body);
	assert_error("POST on state", st, body, 405, "GET");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/admin/nosuch", NULL, &body);
	assert_error("unknown admin route", st, body, 404, "route");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/repository/models/bad$name/load", NULL, &body);
	assert_error("bad name on load", st, body, 400, "model name");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/repository/models/" MODEL "/explode", NULL, &body);
	assert_error("unknown repository action", st, body, 404, "route");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/repository/index", "[1]", &body);
	assert_error("index body not an object", st, body, 400, "object");
	free(body);
	st =
	    tu_http(d.socket, "POST", "/v2/repository/index", "{\"ready\": true, \"x\": 1}", &body);
	assert_error("index body with an unknown key", st, body, 400, "unknown key");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", "{\"models\": 5}", &body);
	assert_error("mark-good without a models array", st, body, 400, "models");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good",
	             "{\"models\": [{\"name\": \"" MODEL "\", \"version\": 1}]}", &body);
	assert_error("mark-good with a numeric version", st, body, 400, "models[0]");
	free(body);
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", "{\"models\": [", &body);
	assert_error("mark-good with truncated JSON", st, body, 400, "line");
	free(body);
	/* The index lists what the last build saw. */
	ck_assert_int_eq(tu_http(d.socket, "POST", "/v2/repository/index", NULL, &body), 200);
	ck_assert_msg(strstr(body, "\"" MODEL "\"") != NULL, "index: %s", body);
	free(body);
	assert_infer_ok(d.socket, INFER, "1");
	stop_main();
}
END_TEST

/* --- bounds: header size and count, body size, slow clients, connection limit --- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Open file descriptors of process pid; the test fails when they cannot be read. */
static int fd_count(pid_t pid)
{
	int n = tu_fd_count(pid);

	ck_assert_msg(n >= 0, "cannot read /proc/%d/fd", (int)pid);
	return n;
}

/* Waits up to ms for the daemon's fd count to come back to want; returns the last count. */
static int wait_fd_count(pid_t pid, int want, long ms)
{
	long long end = now_ms() + ms;
	int n;

	while ((n = fd_count(pid)) != want && now_ms() < end)
		tu_sleep_ms(50);
	return n;
}

/*
 * The daemon's fd count once it has held still for 300 ms: the readiness probe's
 * connection may still be closing right after start.
 */
static int settled_fd_count(pid_t pid)
{
	long long end = now_ms() + (tu_wrapped() ? 20000 : 5000);
	int n = fd_count(pid), same = 0;

	while (same < 6 && now_ms() < end) {
		int m;
		tu_sleep_ms(50);
		m = fd_count(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* A GET whose head (request line, headers, blank line) is exactly total bytes long. */
static char *head_of_size(size_t total)
{
	static const char pre[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	static const char post[] = "\r\n\r\n";
	size_t fixed = sizeof pre - 1 + sizeof post - 1;
	char *h;

	ck_assert_uint_gt(total, fixed);
	h = malloc(total + 1);
	ck_assert_ptr_nonnull(h);
	memcpy(h, pre, sizeof pre - 1);
	memset(h + sizeof pre - 1, 'p', total - fixed);
	memcpy(h + total - (sizeof post - 1), post, sizeof post);
	ck_assert_uint_eq(strlen(h), total);
	return h;
}

/* A GET with exactly n header fields (Host and n - 1 others). */
static char *head_with_headers(unsigned n)
{
	char *h = tu_xasprintf("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n");

	for (unsigned i = 1; i < n; i++) {
		char *t = tu_xasprintf("%sX-H%u: %u\r\n", h, i, i);
		free(h);
		h = t;
	}
	{
		char *t = tu_xasprintf("%s\r\n", h);
		free(h);
		h = t;
	}
	return h;
}

/* A GET head of exactly total bytes in n header fields (Host, n - 2 short ones, X-Pad). */
static char *head_of_size_fields(size_t total, unsigned n)
{
	char *h = head_with_headers(n - 1), *out;
	size_t len = strlen(h) - 2; /* without the blank line */
	static const char pad[] = "X-Pad: ";

	ck_assert_uint_gt(total, len + sizeof pad - 1 + 4);
	out = malloc(total + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, h, len);
	memcpy(out + len, pad, sizeof pad - 1);
	memset(out + len + sizeof pad - 1, 'p', total - len - (sizeof pad - 1) - 4);
	memcpy(out + total - 4, "\r\n\r\n", 5);
	ck_assert_uint_eq(strlen(out), total);
	free(h);
	return out;
}

/* An infer body padded with trailing blanks (valid JSON) to exactly total bytes. */
static char *infer_body_of_size(size_t total)
{
	char *b = ones_body(), *out;
	size_t n = strlen(b);

	ck_assert_uint_le(n, total);
	out = malloc(total + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, b, n);
	memset(out + n, ' ', total - n);
	out[total] = '\0';
	free(b);
	return out;
}

static const char conf_bounds[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "limits = { max_body_bytes = 65536; max_header_bytes = 2048; max_headers = 10; };\n"
    "log_level = \"debug\";\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1; } );\n";

START_TEST(test_header_and_body_edges)
{
	char *h, *b, *raw, *body = NULL;
	struct rsp r;
	int st, fd;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_bounds) == 0, "inferd did not start");

	/* max_header_bytes counts the whole head as sent: exactly the limit passes... */
	h = head_of_size(2048);
	st = tu_raw_request(d.socket, h, strlen(h), io_timeout_ms(), &body);
	ck_assert_msg(st == 200, "head of exactly 2048 bytes: %d %s", st, body ? body : "");
	free(body);
	/* ... also as the second request of a keep-alive connection. */
	fd = conn_open(d.socket);
	ck_assert_int_eq(roundtrip(fd, h, strlen(h), &r, false), 200);
	rsp_free(&r);
	ck_assert_int_eq(roundtrip(fd, h, strlen(h), &r, false), 200);
	rsp_free(&r);
	close(fd);
	free(h);
	/* ... and one byte more is a JSON 431. */
	h = head_of_size(2049);
	st = tu_raw_request(d.socket, h, strlen(h), io_timeout_ms(), &body);
	assert_error("head of 2049 bytes", st, body, 431, "max_header_bytes");
	free(body);
	free(h);

	/* max_headers: 10 fields pass, 11 get 431. */
	h = head_with_headers(10);
	st = tu_raw_request(d.socket, h, strlen(h), io_timeout_ms(), &body);
	ck_assert_msg(st == 200, "10 headers: %d %s", st, body ? body : "");
	free(body);
	free(h);
	h = head_with_headers(11);
	st = tu_raw_request(d.socket, h, strlen(h), io_timeout_ms(), &body);
	assert_error("11 headers", st, body, 431, "max_headers");
	free(body);
	free(h);
	/* Both limits passed at once still get our JSON 431: MHD's pool is sized for it. */
	h = head_of_size_fields(2049, 11);
	st = tu_raw_request(d.socket, h, strlen(h), io_timeout_ms(), &body);
	assert_error("head of 2049 bytes in 11 fields", st, body, 431, "request headers");
	free(body);
	free(h);

	/* max_body_bytes: a body of exactly 65536 bytes is inferred, 65537 is 413. */
	b = infer_body_of_size(65536);
	raw = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	                   strlen(b), b);
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	ck_assert_msg(st == 200, "body of exactly 65536 bytes: %d %s", st, body ? body : "");
	free(body);
	free(raw);
	free(b);
	b = infer_body_of_size(65537);
	raw = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	                   strlen(b), b);
	st = tu_raw_request(d.socket, raw, strlen(raw), io_timeout_ms(), &body);
	assert_error("body of 65537 bytes", st, body, 413, "max_body_bytes");
	free(body);
	free(raw);
	free(b);
	assert_infer_ok(d.socket, INFER, "1");
	stop_main();
}
END_TEST

static const char conf_slow[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "limits = { request_timeout = 1; connection_timeout = 30; };\n"
    "log_level = \"debug\";\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1; } );\n";

/* True once fd has been closed by the peer (EOF or reset). */
static bool peer_closed(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

START_TEST(test_slowloris)
{
	static const char line[] = "POST /v2/models/" MODEL "/infer HTTP/1.1\r\n";
	static const char get[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	long limit_ms = tu_wrapped() ? 20000 : 4000;
	long long t0, cut_ms = -1;
	bool served = false;
	struct rsp r;
	int slow, ka, base;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_slow) == 0, "inferd did not start");
	base = settled_fd_count(d.pid);

	/* A keep-alive client that goes quiet longer than request_timeout is left alone. */
	ka = conn_open(d.socket);
	ck_assert_int_eq(roundtrip(ka, get, sizeof get - 1, &r, false), 200);
	rsp_free(&r);

	slow = conn_open(d.socket);
	t0 = now_ms();
	ck_assert_int_eq(send(slow, line, sizeof line - 1, MSG_NOSIGNAL),
	                 (ssize_t)(sizeof line - 1));
	/* One header byte every 300 ms: never idle long enough for connection_timeout. */
	while (now_ms() - t0 < limit_ms) {
		tu_sleep_ms(300);
		if (peer_closed(slow) || send(slow, "X", 1, MSG_NOSIGNAL) != 1) {
			cut_ms = now_ms() - t0;
			break;
		}
		if (!served) {
			/* Meanwhile a normal client is served promptly. */
			char *req = ones_body(), *body = NULL;
			long long t1 = now_ms();
			ck_assert_int_eq(tu_http(d.socket, "POST", INFER, req, &body), 200);
			ck_assert_msg(tu_wrapped() || now_ms() - t1 < 500, "infer took %lld ms",
			              now_ms() - t1);
			free(req);
			free(body);
			served = true;
		}
	}
	ck_assert_msg(cut_ms >= 0, "the slow client was not disconnected within %ld ms", limit_ms);
	/* Not before request_timeout (1 s) has passed. */
	ck_assert_msg(cut_ms >= 1000, "the slow client was cut after only %lld ms", cut_ms);
	close(slow);
	ck_assert(served);
	ck_assert(log_contains(d.dir, "request_timeout"));

	/* The quiet keep-alive connection (over 1 s now) still works. */
	ck_assert_int_eq(roundtrip(ka, get, sizeof get - 1, &r, false), 200);
	rsp_free(&r);
	close(ka);

	/* A request sent in pieces but completed within request_timeout is answered. */
	slow = conn_open(d.socket);
	for (size_t i = 0; i < sizeof get - 1; i += 8) {
		size_t n = sizeof get - 1 - i < 8 ? sizeof get - 1 - i : 8;
		ck_assert_int_eq(send(slow, get + i, n, MSG_NOSIGNAL), (ssize_t)n);
		tu_sleep_ms(30);
	}
	ck_assert_int_eq(roundtrip(slow, "", 0, &r, false), 200);
	rsp_free(&r);
	close(slow);
	ck_assert_int_eq(wait_fd_count(d.pid, base, 3000), base);
	stop_main();
}
END_TEST

static const char conf_conns[] =
    "socket = { path = \"@SOCKET@\"; };\n"
    "limits = { max_connections = 4; connection_timeout = 30; };\n"
    "log_level = \"debug\";\n"
    "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; version = 1; } );\n";

/*
 * max_connections = 4 on the Unix socket, plus the admin reserve of 4 (this test's peer
 * has the daemon's uid, so it may use it). Connections with a request begun cannot be
 * evicted: with 8 such, newcomers are accepted and closed at once. Idle keep-alive
 * connections are evicted instead, longest idle first, to admit a newcomer.
 */
START_TEST(test_connection_limit)
{
	static const char get[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	/* A request begun: the request line and a header, not the end of the head. */
	static const char begun[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n";
	long wait_ms = tu_wrapped() ? 10000 : 1000;
	int held[8], idle[4], base;
	struct rsp r;
	char *body = NULL;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf_conns) == 0, "inferd did not start");
	base = settled_fd_count(d.pid);
	/* Eight connections (four ordinary slots, four reserved), each known to be accepted
	 * (it was answered), each then with a request begun. */
	for (int i = 0; i < 8; i++) {
		held[i] = conn_open(d.socket);
		ck_assert_int_eq(roundtrip(held[i], get, sizeof get - 1, &r, false), 200);
		rsp_free(&r);
		ck_assert_int_eq(send(held[i], begun, sizeof begun - 1, MSG_NOSIGNAL),
		                 (ssize_t)(sizeof begun - 1));
	}
	ck_assert_int_eq(wait_fd_count(d.pid, base + 8, 3000), base + 8);
	tu_sleep_ms(tu_wrapped() ? 1000 : 100);
	/* The 9th .. 24th are accepted and closed at once, not left in the backlog. */
	for (int i = 9; i <= 24; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long t0;
		char c;

		ck_assert_int_ge(fd, 0);
		strcpy(sa.sun_path, d.socket);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		t0 = now_ms();
		ck_assert_msg(poll(&pfd, 1, (int)wait_ms) == 1,
		              "connection %d was not closed within %ld ms", i, wait_ms);
		ck_assert_msg(recv(fd, &c, 1, 0) <= 0, "connection %d got data", i);
		ck_assert_msg(now_ms() - t0 <= wait_ms, "connection %d took %lld ms", i,
		              now_ms() - t0);
		close(fd);
	}
	/* Refused connections hold no descriptor in the daemon. */
	ck_assert_int_eq(fd_count(d.pid), base + 8);
	/* The held ones finish their requests. */
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(roundtrip(held[i], "\r\n", 2, &r, false), 200);
		rsp_free(&r);
	}
	/* Now all eight are idle keep-alive connections: newcomers evict the longest idle
	 * (held[0] first) and are served. */
	for (int i = 0; i < 4; i++) {
		idle[i] = conn_open(d.socket);
		ck_assert_int_eq(roundtrip(idle[i], get, sizeof get - 1, &r, false), 200);
		rsp_free(&r);
	}
	for (int i = 0; i < 4; i++) {
		char c;
		struct pollfd pfd = {.fd = held[i], .events = POLLIN};
		ck_assert_msg(poll(&pfd, 1, (int)wait_ms) == 1 && recv(held[i], &c, 1, 0) <= 0,
		              "the idle connection %d was not the one closed", i);
	}
	for (int i = 4; i < 8; i++) {
		ck_assert_int_eq(roundtrip(held[i], get, sizeof get - 1, &r, false), 200);
		rsp_free(&r);
	}
	for (int i = 0; i < 8; i++)
		close(held[i]);
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	ck_assert_int_eq(wait_fd_count(d.pid, base, 3000), base);
	/* Once they are gone, new clients are served again. */
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/health/ready", NULL, &body), 200);
	free(body);
	assert_infer_ok(d.socket, INFER, "1");
	ck_assert_int_eq(wait_fd_count(d.pid, base, 3000), base);
	stop_main();
}
END_TEST

/* --- listen_tcp --- */

/* A loopback port that was free a moment ago. */
static unsigned free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unsigned port;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int tcp_open(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {io_timeout_ms() / 1000, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect port %u: %s",
	              port, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* One request over TCP on a fresh connection. */
static int tcp_request(unsigned port, const char *raw, struct rsp *r)
{
	int fd = tcp_open(port);
	int st = roundtrip(fd, raw, strlen(raw), r, false);
	close(fd);
	return st;
}

START_TEST(test_tcp_listener)
{
	unsigned port = free_port();
	char *conf = tu_xasprintf("socket = { path = \"@SOCKET@\"; };\n"
	                          "listen_tcp = \"127.0.0.1:%u\";\n"
	                          "log_level = \"debug\";\n"
	                          "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\";\n"
	                          "             version = 1; } );\n",
	                          port);
	char *req, *raw, *body = NULL;
	struct rsp r;
	json_t *j;

	load_nfeat();
	ck_assert_msg(tu_daemon_start(&d, conf) == 0, "inferd did not start");
	free(conf);

	ck_assert_int_eq(tcp_request(port,
	                             "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n"
	                             "Connection: close\r\n\r\n",
	                             &r),
	                 200);
	j = parse_obj(r.body, "ready over TCP");
	ck_assert(json_is_true(json_object_get(j, "ready")));
	json_decref(j);
	rsp_free(&r);

	req = ones_body();
	raw =
	    tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                 strlen(req), req);
	ck_assert_int_eq(tcp_request(port, raw, &r), 200);
	j = parse_obj(r.body, "infer over TCP");
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_name")), MODEL);
	ck_assert_int_eq(json_array_size(json_object_get(
	                     json_array_get(json_object_get(j, "outputs"), 0), "data")),
	                 1);
	json_decref(j);
	rsp_free(&r);
	free(raw);
	free(req);

	ck_assert_int_eq(
	    tcp_request(port, "GET /v2/models/" MODEL " HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
	rsp_free(&r);
	ck_assert_int_eq(tcp_request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), 200);
	rsp_free(&r);

	/* No peer credentials over TCP: admin and repository routes are refused... */
	tcp_request(port, "GET /v2/admin/state HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_error("admin state over TCP", r.status, r.body, 403, "not available over TCP");
	rsp_free(&r);
	tcp_request(port, "GET /v2/admin/fingerprint HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_error("fingerprint over TCP", r.status, r.body, 403, "use the Unix socket");
	rsp_free(&r);
	tcp_request(
	    port, "POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
	assert_error("repository index over TCP", r.status, r.body, 403, "TCP");
	rsp_free(&r);
	tcp_request(port, "POST /v2/admin/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	            &r);
	assert_error("reload over TCP", r.status, r.body, 403, "TCP");
	rsp_free(&r);
	/* ... while the same endpoint works over the Unix socket. */
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/admin/state", NULL, &body), 200);
	j = parse_obj(body, "admin state over the Unix socket");
	ck_assert_ptr_nonnull(json_object_get(j, "serving"));
	json_decref(j);
	free(body);
	stop_main();
}
END_TEST

START_TEST(test_listen_tcp_in_use)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *out = NULL, *dir = tu_mkdtemp(), *conf, *text;
	int st;

	/* A port somebody else listens on: startup fails and says why. */
	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	text = tu_xasprintf("socket = { path = \"%s/s.sock\"; };\n"
	                    "listen_tcp = \"127.0.0.1:%u\";\n"
	                    "server = { state_dir = \"%s/state\"; };\n"
	                    "models = ( { name = \"m\"; path = \"" TU_BUNDLED_MODEL "\"; } );\n",
	                    dir, (unsigned)ntohs(sa.sin_port), dir);
	conf = tu_write_file(dir, "inferd.conf", text);
	{
		char *argv0 = tu_xasprintf(TOP_BUILDDIR "/src/inferd --config %s 2>&1", conf);
		FILE *p = popen(argv0, "r");
		char buf[4096];
		size_t n;

		ck_assert_ptr_nonnull(p);
		n = fread(buf, 1, sizeof buf - 1, p);
		buf[n] = '\0';
		st = pclose(p);
		out = strdup(buf);
		free(argv0);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %d: %s", st, out);
	ck_assert_msg(strstr(out, "cannot listen on TCP") != NULL &&
	                  strstr(out, "Address already in use") != NULL,
	              "output: %s", out);
	free(out);
	free(conf);
	free(text);
	close(fd);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* --- fingerprint --- */

/* sha256sum's digest of a file, computed outside the daemon. */
static void sha256_of_file(const char *path, char out[65])
{
	char *cmd = tu_xasprintf("sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%64s", out), 1);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_eq(strlen(out), 64);
	free(cmd);
}

/* The GNU build ID as readelf shows it, or "" when readelf is not there. */
static void readelf_build_id(const char *exe, char *out, size_t len)
{
	char *cmd = tu_xasprintf("readelf -n '%s' 2>/dev/null", exe);
	FILE *p = popen(cmd, "r");
	char line[512];

	out[0] = '\0';
	while (p != NULL && fgets(line, sizeof line, p) != NULL) {
		const char *k = strstr(line, "Build ID: ");
		if (k != NULL && out[0] == '\0')
			snprintf(out, len, "%.*s", (int)strcspn(k + 10, " \r\n"), k + 10);
	}
	if (p != NULL)
		pclose(p);
	free(cmd);
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);
	if (b != NULL)
		v = json_object_get(v, b);
	ck_assert_msg(json_is_string(v), "%s.%s is not a string", a, b ? b : "");
	return json_string_value(v);
}

START_TEST(test_fingerprint)
{
	char *body = NULL, want[65], nettle[32], build_id[160], *conf_real;
	const char *lib;
	json_t *j, *eff, *models, *m;
	int st;

	start_main();
	st = tu_http(d.socket, "GET", "/v2/admin/fingerprint", NULL, &body);
	ck_assert_msg(st == 200, "fingerprint: %d %s", st, body ? body : "");
	j = parse_obj(body, "fingerprint");

	ck_assert_str_eq(str_at(j, "inferd", "version"), PACKAGE_VERSION);
	readelf_build_id(TOP_BUILDDIR "/src/inferd", build_id, sizeof build_id);
	if (build_id[0] != '\0')
		ck_assert_str_eq(str_at(j, "inferd", "build_id"), build_id);
	else
		ck_assert_uint_gt(strlen(str_at(j, "inferd", "build_id")), 0);

	/* The same shared libraries as this test process, asked the same way. */
	ck_assert_str_eq(str_at(j, "libraries", "libc"), gnu_get_libc_version());
	ck_assert_str_eq(str_at(j, "libraries", "libmicrohttpd"), MHD_get_version());
	ck_assert_str_eq(str_at(j, "libraries", "jansson"), jansson_version_str());
	snprintf(nettle, sizeof nettle, "%d.%d", nettle_version_major(), nettle_version_minor());
	ck_assert_str_eq(str_at(j, "libraries", "nettle"), nettle);
	lib = str_at(j, "libraries", "libconfig");
	ck_assert_msg(strncmp(lib, "libconfig.so.", 13) == 0, "libconfig: %s", lib);
	lib = str_at(j, "libraries", "libsystemd");
	ck_assert_msg(strncmp(lib, "libsystemd.so.", 14) == 0, "libsystemd: %s", lib);

	/* The config: its file, the sha256 of its bytes, the values in force. */
	conf_real = realpath(d.config, NULL);
	ck_assert_ptr_nonnull(conf_real);
	ck_assert_str_eq(str_at(j, "config", "file"), conf_real);
	free(conf_real);
	sha256_of_file(d.config, want);
	ck_assert_str_eq(str_at(j, "config", "sha256"), want);
	eff = json_object_get(json_object_get(j, "config"), "effective");
	ck_assert_str_eq(str_at(eff, "socket", "path"), d.socket);
	ck_assert_str_eq(str_at(eff, "socket", "mode"), "0660");
	ck_assert_str_eq(str_at(eff, "log_level", NULL), "debug");
	ck_assert(json_is_null(json_object_get(eff, "listen_tcp")));
	/* As written in conf_main ... */
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(eff, "limits"), "max_body_bytes")),
	    65536);
	ck_assert_int_eq(json_integer_value(
	                     json_object_get(json_object_get(eff, "limits"), "connection_timeout")),
	                 5);
	/* ... and the documented defaults for the rest. */
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(eff, "limits"), "max_header_bytes")),
	    16384);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(eff, "limits"), "request_timeout")),
	    10);
	ck_assert_int_eq(
	    json_integer_value(json_object_get(json_object_get(eff, "server"), "shutdown_grace")),
	    10);
	ck_assert_ptr_nonnull(json_object_get(eff, "smoke"));
	ck_assert_ptr_nonnull(json_object_get(eff, "repository"));

	/* The served models with the sha256 of their files. */
	models = json_object_get(j, "models");
	ck_assert_uint_eq(json_array_size(models), 1);
	m = json_array_get(models, 0);
	ck_assert_str_eq(str_at(m, "name", NULL), MODEL);
	ck_assert_str_eq(str_at(m, "version", NULL), "1");
	sha256_of_file(TU_BUNDLED_MODEL, want);
	ck_assert_str_eq(str_at(m, "sha256", NULL), want);
	json_decref(j);
	free(body);

	/* GET (and HEAD) only. */
	st = tu_http(d.socket, "POST", "/v2/admin/fingerprint", NULL, &body);
	assert_error("POST on fingerprint", st, body, 405, "GET");
	free(body);
	stop_main();
}
END_TEST

/* Heads two parsers could frame differently are refused, and the connection closed. */
START_TEST(test_ambiguous_heads)
{
	static const struct {
		const char *raw, *needle;
	} cases[] = {
	    {"POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n"
	     "GET /v2/models/smuggled/ready HTTP/1.1\r\n\r\n",
	     "Content-Length given 2 times"},
	    {"POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	     "Transfer-Encoding"},
	    {"GET /v2/health/live HTTP/1.1\r\n\r\n", "Host"},
	    {"GET /v2/health/live HTTP/1.1\r\nHost : x\r\n\r\n", "header field name"},
	    {"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-A: a\x01"
	     "b\r\n\r\n",
	     "control byte 0x01"},
	};

	start_main();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rsp r;
		char *conn, extra;
		int fd = conn_open(d.socket);

		roundtrip(fd, cases[i].raw, strlen(cases[i].raw), &r, false);
		assert_error(cases[i].raw, r.status, r.body, 400, cases[i].needle);
		conn = header(r.head, "Connection");
		ck_assert_msg(conn != NULL && strcasecmp(conn, "close") == 0, "case %zu: no close",
		              i);
		free(conn);
		/* Nothing after the 400: the bytes that followed were never parsed. */
		ck_assert_msg(recv(fd, &extra, 1, 0) == 0, "case %zu: more after the 400", i);
		rsp_free(&r);
		close(fd);
	}
	/* HTTP/1.0 needs no Host. */
	{
		static const char h10[] = "GET /v2/health/live HTTP/1.0\r\n\r\n";
		ck_assert_int_eq(
		    tu_raw_request(d.socket, h10, sizeof h10 - 1, io_timeout_ms(), NULL), 200);
	}
	stop_main();
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *t = tcase_create("daemon");

	/* Each test starts its own daemon; valgrind makes that slow. */
	tcase_set_timeout(t, tu_wrapped() ? 600 : 60);
	tcase_add_test(t, test_health_and_server);
	tcase_add_test(t, test_head_and_content_type);
	tcase_add_test(t, test_model_endpoints);
	tcase_add_test(t, test_infer_one_row);
	tcase_add_test(t, test_outputs_key);
	tcase_add_test(t, test_keepalive);
	tcase_add_test(t, test_golden_predictions);
	tcase_add_test(t, test_hostile_requests);
	tcase_add_test(t, test_405_allow);
	tcase_add_test(t, test_body_limits);
	tcase_add_test(t, test_output_limit);
	tcase_add_test(t, test_metrics);
	tcase_add_test(t, test_check_config);
	tcase_add_test(t, test_sigterm_removes_socket);
	tcase_add_test(t, test_graceful_stop);
	tcase_add_test(t, test_stop_while_clients_write);
	tcase_add_test(t, test_not_a_socket);
	tcase_add_test(t, test_sighup_bad_config_keeps_serving);
	tcase_add_test(t, test_sighup_applies_new_config);
	tcase_add_test(t, test_admin_routes);
	tcase_add_test(t, test_header_and_body_edges);
	tcase_add_test(t, test_slowloris);
	tcase_add_test(t, test_connection_limit);
	tcase_add_test(t, test_tcp_listener);
	tcase_add_test(t, test_listen_tcp_in_use);
	tcase_add_test(t, test_fingerprint);
	tcase_add_test(t, test_ambiguous_heads);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
