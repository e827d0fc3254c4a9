/* check_hostile.c: the hostile request corpus (tests/hostile/) against one real daemon. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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

#define MODEL      "breast-cancer"
#define CORPUS_DIR TOP_SRCDIR "/tests/hostile"
/* The most responses one exchange keeps (pipelined requests). */
#define MAX_RESP 8
/* Allowed VmRSS growth over the whole corpus. */
#define RSS_MARGIN_KIB 2048

/* The corpus is written for these limits (see tests/hostile/make-corpus.py). */
static const char conf_fmt[] = "socket = { path = \"@SOCKET@\"; };\n"
                               "limits = { max_body_bytes = 65536; connection_timeout = %d; };\n"
                               "server = { state_dir = \"%s\"; };\n"
                               "log_level = \"warning\";\n"
                               "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; "
                               "version = 1; golden = \"@GOLDEN@\"; } );\n";

/* The daemon's idle timeout: short, so that requests that never complete end quickly. */
static int conn_timeout_s(void)
{
	return tu_wrapped() ? 10 : 2;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* --- the daemon's resources, from /proc --- */

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Closed connections are reaped by the daemon's loop: give it a moment to get there. */
static int fd_count_settled(pid_t pid, int want)
{
	long long deadline = now_ms() + (tu_wrapped() ? 20000 : 5000);
	int n;

	while ((n = tu_fd_count(pid)) != want && now_ms() < deadline)
		usleep(20000);
	return n;
}

/* The baseline: the count once it has not changed for half a second. */
static int fd_count_stable(pid_t pid)
{
	int n = tu_fd_count(pid), same = 0;

	for (int i = 0; i < 200 && same < 5; i++) {
		int m;
		usleep(100000);
		m = tu_fd_count(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

static bool alive(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

/* --- one exchange that sees everything: several responses, and the close --- */

struct resp {
	int status;
	char *body;
};

struct exchange {
	struct resp r[MAX_RESP];
	int n;
	bool eof;     /* the server closed the connection */
	long long ms; /* from the first byte sent to the close */
};

static void exchange_free(struct exchange *x)
{
	for (int i = 0; i < x->n; i++)
		free(x->r[i].body);
	x->n = 0;
}

static const char *find_header(const char *h, const char *end, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *l = strstr(h, "\r\n"); l && l + 2 < end; l = strstr(l + 2, "\r\n")) {
		const char *p = l + 2;
		if ((size_t)(end - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ')
				p++;
			return p;
		}
	}
	return NULL;
}

/* Splits what came back into responses (Content-Length or chunked bodies). */
static void parse_responses(const char *buf, size_t len, struct exchange *x)
{
	size_t pos = 0;

	while (pos < len && x->n < MAX_RESP) {
		const char *h = buf + pos, *end = memmem(h, len - pos, "\r\n\r\n", 4), *v;
		size_t hlen, blen = 0;
		char *body;
		int st;

		if (!end || sscanf(h, "HTTP/1.%*d %3d", &st) != 1)
			return;
		hlen = (size_t)(end + 4 - h);
		body = malloc(len - pos - hlen + 1);
		ck_assert_ptr_nonnull(body);
		if ((v = find_header(h, end + 2, "Transfer-Encoding")) &&
		    strncasecmp(v, "chunked", 7) == 0) {
			size_t p = pos + hlen;
			for (;;) {
				char *e;
				unsigned long long n = strtoull(buf + p, &e, 16);
				const char *eol = memmem(buf + p, len - p, "\r\n", 2);
				if (!eol || e == buf + p)
					break;
				p = (size_t)(eol - buf) + 2;
				if (n == 0) {
					p += 2;
					break;
				}
				if (n > len - p)
					n = len - p;
				memcpy(body + blen, buf + p, n);
				blen += n;
				p += n + 2;
			}
			pos = p;
		} else {
			long long cl =
			    (v = find_header(h, end + 2, "Content-Length")) ? atoll(v) : 0;
			blen = cl < 0 ? 0 : (size_t)cl;
			if (blen > len - pos - hlen)
				blen = len - pos - hlen;
			memcpy(body, h + hlen, blen);
			pos += hlen + blen;
		}
		body[blen] = '\0';
		x->r[x->n].status = st;
		x->r[x->n].body = body;
		x->n++;
	}
}

/* Sends raw (reading meanwhile) and reads until the server closes or timeout_ms passes. */
static void exchange_raw(const char *sock, const char *raw, size_t rawlen, int timeout_ms,
                         struct exchange *x)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	long long t0 = now_ms(), deadline = t0 + timeout_ms;
	size_t sent = 0, len = 0, cap = 65536;
	char *in = malloc(cap);
	int fd;

	memset(x, 0, sizeof *x);
	ck_assert_ptr_nonnull(in);
	ck_assert_uint_lt(strlen(sock), sizeof sa.sun_path);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
	              strerror(errno));
	while (!x->eof && now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < rawlen ? POLLOUT : 0)};
		int left = (int)(deadline - now_ms());

		if (poll(&p, 1, left > 0 ? left : 0) <= 0)
			continue;
		if (p.revents & POLLOUT) {
			ssize_t n = send(fd, raw + sent, rawlen - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sent = rawlen; /* the server hung up: read what it said */
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n;
			if (len + 16384 + 1 > cap) {
				cap *= 2;
				in = realloc(in, cap);
				ck_assert_ptr_nonnull(in);
			}
			n = recv(fd, in + len, cap - len - 1, 0);
			if (n > 0)
				len += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				x->eof = true;
		}
	}
	x->ms = now_ms() - t0;
	close(fd);
	in[len] = '\0';
	parse_responses(in, len, x);
	free(in);
}

/* --- expectations --- */

/* Whether text holds one of the '|'-separated parts of subs ("-" holds anything). */
static bool holds_any(const char *text, const char *subs)
{
	char *copy, *save = NULL;
	bool found = false;

	if (strcmp(subs, "-") == 0)
		return true;
	copy = strdup(subs);
	ck_assert_ptr_nonnull(copy);
	for (char *t = strtok_r(copy, "|", &save); t && !found; t = strtok_r(NULL, "|", &save))
		found = strstr(text, t) != NULL;
	free(copy);
	return found;
}

/* A 4xx answer must be {"error": "..."} with a string that holds one of subs. */
static bool error_body_ok(const char *body, const char *subs, char *why, size_t len)
{
	json_error_t je;
	json_t *j = json_loads(body ? body : "", 0, &je);
	const char *e = json_string_value(json_object_get(j, "error"));
	bool ok = e != NULL && holds_any(e, subs);

	if (!ok)
		snprintf(why, len, "body %.200s is not {\"error\": \"...%s...\"}", body ? body : "",
		         subs);
	json_decref(j);
	return ok;
}

/* One status alternative ("400", "4xx", "200") against one response. */
static bool status_ok(const char *alt, int status, const char *body, const char *subs, char *why,
                      size_t len)
{
	bool any4xx = strcmp(alt, "4xx") == 0;

	if (any4xx ? (status < 400 || status > 499) : status != atoi(alt)) {
		snprintf(why, len, "status %d, expected %s", status, alt);
		return false;
	}
	if (status >= 400)
		return error_body_ok(body, subs, why, len);
	if (!holds_any(body ? body : "", subs)) {
		snprintf(why, len, "body %.200s holds none of %s", body ? body : "", subs);
		return false;
	}
	return true;
}

/* A close expectation: the server hung up (promptly unless it is a timeout). */
static bool close_ok(const char *alt, const struct exchange *x, char *why, size_t len)
{
	long long prompt = conn_timeout_s() * 1000LL / 2;
	int st = x->n ? x->r[0].status : 0;

	if (!x->eof) {
		snprintf(why, len, "the connection stayed open (%d responses)", x->n);
		return false;
	}
	if (x->n > 1) {
		snprintf(why, len,
		         "%d responses (statuses %d, %d): bytes after the bad request "
		         "were read as another request",
		         x->n, x->r[0].status, x->r[1].status);
		return false;
	}
	if (strcmp(alt, "timeout") != 0 && x->ms >= prompt) {
		snprintf(why, len, "closed only after %lld ms (the idle timeout), not at once",
		         x->ms);
		return false;
	}
	if (x->n == 1) {
		bool fine = strcmp(alt, "close-any") == 0
		                ? st < 500
		                : (st >= 400 && st <= 499) || st == 501 || st == 505;
		if (!fine) {
			snprintf(why, len, "status %d before the close", st);
			return false;
		}
	}
	return true;
}

/* "close:NNN": one response, NNN with a JSON error holding subs, then the close at once. */
static bool close_status_ok(const char *alt, const struct exchange *x, const char *subs, char *why,
                            size_t len)
{
	if (!close_ok(alt, x, why, len))
		return false;
	if (x->n != 1) {
		snprintf(why, len, "%d responses before the close, expected one %s", x->n, alt + 6);
		return false;
	}
	return status_ok(alt + 6, x->r[0].status, x->r[0].body, subs, why, len);
}

/* "pipe:S1,S2": responses in order, each body holding its part of subs. */
static bool pipe_ok(const char *alt, const struct exchange *x, const char *subs, char *why,
                    size_t len)
{
	char *st = strdup(alt + 5), *sb = strdup(subs), *s1 = NULL, *s2 = NULL;
	char *a = strtok_r(st, ",", &s1), *b = strtok_r(sb, "|", &s2);
	int i = 0;
	bool ok = true;

	for (; a && ok; a = strtok_r(NULL, ",", &s1), b = strtok_r(NULL, "|", &s2), i++) {
		if (i >= x->n) {
			snprintf(why, len, "only %d responses, expected more", x->n);
			ok = false;
		} else if (x->r[i].status != atoi(a) || !b || !strstr(x->r[i].body, b)) {
			snprintf(why, len,
			         "response %d: status %d body %.160s, expected %s with %s", i + 1,
			         x->r[i].status, x->r[i].body, a, b ? b : "?");
			ok = false;
		}
	}
	if (ok && x->n != i) {
		snprintf(why, len, "%d responses, expected %d", x->n, i);
		ok = false;
	}
	free(st);
	free(sb);
	return ok;
}

/* Runs one corpus file; returns true when one alternative of expect holds. */
static bool run_one(const char *sock, const char *file, const char *expect, const char *subs,
                    char *why, size_t len)
{
	char *path = tu_xasprintf("%s/%s", CORPUS_DIR, file), *copy, *save = NULL, *body = NULL;
	size_t rawlen = 0;
	char *raw = slurp(path, &rawlen);
	bool raw_mode = strstr(expect, "close") || strstr(expect, "timeout") ||
	                strncmp(expect, "pipe:", 5) == 0;
	struct exchange x = {0};
	int status = 0;
	bool ok = false;

	ck_assert_msg(raw != NULL, "cannot read %s", path);
	if (raw_mode) {
		exchange_raw(sock, raw, rawlen, conn_timeout_s() * 1000 + 5000, &x);
	} else {
		status = tu_raw_request(sock, raw, rawlen, tu_wrapped() ? 60000 : 10000, &body);
	}
	snprintf(why, len, "no alternative of %s held", expect);
	copy = strdup(expect);
	ck_assert_ptr_nonnull(copy);
	for (char *alt = strtok_r(copy, "|", &save); alt && !ok; alt = strtok_r(NULL, "|", &save)) {
		if (strncmp(alt, "pipe:", 5) == 0)
			ok = pipe_ok(alt, &x, subs, why, len);
		else if (strncmp(alt, "close:", 6) == 0)
			ok = close_status_ok(alt, &x, subs, why, len);
		else if (strstr(alt, "close") || strcmp(alt, "timeout") == 0)
			ok = close_ok(alt, &x, why, len);
		else if (raw_mode)
			ok = x.n >= 1 && status_ok(alt, x.r[0].status, x.r[0].body, subs, why, len);
		else
			ok = status_ok(alt, status, body, subs, why, len);
	}
	free(copy);
	exchange_free(&x);
	free(body);
	free(raw);
	free(path);
	return ok;
}

/* --- predictions: the golden set, answered as XGBoost answered it --- */

static struct golden g;

static char *golden_request(void)
{
	size_t cap = 256 + g.nrows * g.ncols * 32, n = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	n += (size_t)snprintf(s + n, cap - n,
	                      "{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", "
	                      "\"shape\": [%zu, %zu], \"data\": [",
	                      g.nrows, g.ncols);
	for (size_t i = 0; i < g.nrows * g.ncols; i++) {
		float v = g.inputs[i];
		if (isnan(v))
			n += (size_t)snprintf(s + n, cap - n, "%snull", i ? "," : "");
		else
			n += (size_t)snprintf(s + n, cap - n, "%s%.9g", i ? "," : "", (double)v);
	}
	snprintf(s + n, cap - n, "]}]}");
	return s;
}

static void check_golden(const char *sock)
{
	char *req = golden_request(), *body = NULL;
	int st = tu_http(sock, "POST", "/v2/models/" MODEL "/infer", req, &body);
	json_t *j, *data;
	double tol = g.tolerance > 0 ? g.tolerance : 1e-6;

	ck_assert_msg(st == 200, "golden infer: status %d: %s", st, body ? body : "");
	j = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
	ck_assert_uint_eq(json_array_size(data), g.nrows * g.predict_width);
	for (size_t i = 0; i < g.nrows; i++) {
		double got = json_number_value(json_array_get(data, i));
		ck_assert_msg(fabs(got - g.predict[i]) <= tol, "row %zu: %.9g, XGBoost says %.9g",
		              i, got, g.predict[i]);
	}
	json_decref(j);
	free(body);
	free(req);
}

START_TEST(test_corpus)
{
	struct tu_daemon d;
	char *state = tu_mkdtemp(), *conf = tu_xasprintf(conf_fmt, conn_timeout_s(), state);
	char *tsv, line[4096], err[256], why[512];
	int n = 0, failed = 0, n_known = 0, fd0, fd1, stop_status;
	long rss0, rss1;
	FILE *f;

	ck_assert_msg(golden_load(TU_BUNDLED_GOLDEN, &g, err, sizeof err) == 0, "golden: %s", err);
	ck_assert_uint_eq(g.predict_width, 1);
	ck_assert_msg(tu_daemon_start(&d, conf) == 0, "inferd did not start");

	/* Warm-up: the allocator's arenas and MHD's pools reach their working size. */
	for (int i = 0; i < 5; i++) {
		char *b = NULL;
		check_golden(d.socket);
		ck_assert_int_eq(tu_http(d.socket, "GET", "/metrics", NULL, &b), 200);
		free(b);
		ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/models/" MODEL, NULL, &b), 200);
		free(b);
	}
	fd0 = fd_count_stable(d.pid);
	rss0 = rss_kib(d.pid);
	ck_assert_int_gt(fd0, 0);
	ck_assert_int_gt(rss0, 0);

	tsv = tu_xasprintf("%s/expect.tsv", CORPUS_DIR);
	f = fopen(tsv, "r");
	ck_assert_msg(f != NULL, "cannot open %s", tsv);
	while (fgets(line, sizeof line, f)) {
		char *file, *expect, *subs, *known, *save = NULL;
		bool ok;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		file = strtok_r(line, "\t", &save);
		expect = strtok_r(NULL, "\t", &save);
		subs = strtok_r(NULL, "\t", &save);
		known = strtok_r(NULL, "\t", &save);
		ck_assert_msg(file && expect && subs, "expect.tsv: bad line %d", n + 1);
		n++;
		ok = run_one(d.socket, file, expect, subs, why, sizeof why);
		/*
		 * A known deviation keeps its expectation: it is reported, not hidden, and a
		 * request that starts meeting it fails the test until the marker is removed.
		 */
		if (known && !ok) {
			printf("KNOWN %s: %s (%s)\n", file, why, known);
			n_known++;
		} else if (known) {
			printf("FAIL %s: now answered as expected; remove its known marker\n",
			       file);
			failed++;
		} else if (!ok) {
			printf("FAIL %s: %s\n", file, why);
			failed++;
		}
		ck_assert_msg(alive(d.pid), "inferd died after %s", file);
		/* And it still predicts what XGBoost predicts, after every case. */
		check_golden(d.socket);
	}
	fclose(f);
	free(tsv);

	/* After all that, the daemon still predicts what XGBoost predicts. */
	check_golden(d.socket);
	fd1 = fd_count_settled(d.pid, fd0);
	rss1 = rss_kib(d.pid);
	/* Stopped before judging, so that a leak or a crash at exit is seen in any case. */
	stop_status = tu_daemon_stop(&d);
	/* Freed before judging too: a failed check must not read as a leak under valgrind. */
	golden_free(&g);
	tu_rmtree(state);
	free(state);
	free(conf);
	printf("hostile: %d requests, %d failed, %d known deviations; fds %d -> %d; VmRSS %ld -> "
	       "%ld KiB\n",
	       n, failed, n_known, fd0, fd1, rss0, rss1);
	fflush(stdout);
	ck_assert_msg(WIFEXITED(stop_status) && WEXITSTATUS(stop_status) == 0,
	              "inferd exit status %d", stop_status);
	ck_assert_int_ge(n, 60);
	ck_assert_msg(failed == 0, "%d of %d hostile requests were not answered as expected",
	              failed, n);
	ck_assert_msg(fd1 == fd0, "the daemon holds %d fds after the corpus, %d before", fd1, fd0);
#if defined(__SANITIZE_ADDRESS__)
	printf("hostile: VmRSS not bounded under ASan (its quarantine keeps freed memory)\n");
#else
	if (tu_wrapped())
		printf("hostile: VmRSS not bounded under %s\n",
		       getenv("INFERD_WRAPPER") && *getenv("INFERD_WRAPPER")
		           ? getenv("INFERD_WRAPPER")
		           : getenv("INFERD_EMULATOR"));
	else
		ck_assert_msg(rss1 <= rss0 + RSS_MARGIN_KIB, "VmRSS grew from %ld to %ld KiB", rss0,
		              rss1);
#endif
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *t = tcase_create("hostile");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(t, test_corpus);
	tcase_set_timeout(t, tu_wrapped() ? 1800 : 300);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
