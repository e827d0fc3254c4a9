/* check_faults.c: faults around a real daemon: signal storms, torn models, lost clients, bad disks.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nettle/sha2.h>

#include "golden.h"
#include "testutil.h"

#define MODEL "breast-cancer"
/* argv[1] that makes main run the state fault scenario in its own mount namespace. */
#define STATE_CHILD_ARG "--state-fault-child"

static struct golden g;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, sizeof d, d);
	for (size_t i = 0; i < sizeof d; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* The count once it has not changed for half a second. */
static int fd_count_stable(pid_t pid)
{
	int n = tu_fd_count(pid), same = 0;

	for (int i = 0; i < 300 && same < 5; i++) {
		int m;
		tu_sleep_ms(100);
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

static void stop(struct tu_daemon *d)
{
	int st = tu_daemon_stop(d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
}

/* --- requests --- */

/* The golden inputs (rows first .. first+n) as an infer body. */
static char *golden_request(size_t first, size_t n)
{
	size_t cap = 256 + n * g.ncols * 32, len = 0;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	len += (size_t)snprintf(s, cap,
	                        "{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP32\", "
	                        "\"shape\": [%zu, %zu], \"data\": [",
	                        n, g.ncols);
	for (size_t i = first * g.ncols; i < (first + n) * g.ncols; i++) {
		float v = g.inputs[i];
		const char *sep = i > first * g.ncols ? "," : "";
		if (isnan(v))
			len += (size_t)snprintf(s + len, cap - len, "%snull", sep);
		else
			len += (size_t)snprintf(s + len, cap - len, "%s%.9g", sep, (double)v);
	}
	snprintf(s + len, cap - len, "]}]}");
	return s;
}

/*
 * Infers the whole golden set from model name (any version) and checks every prediction
 * against XGBoost's. Returns the served version (malloc'd), or NULL with why filled in.
 */
static char *golden_infer(const char *sock, const char *name, char *why, size_t len)
{
	char *req = golden_request(0, g.nrows), *body = NULL, *path, *ver = NULL;
	double tol = g.tolerance > 0 ? g.tolerance : 1e-6;
	json_t *j = NULL, *data;
	int st;

	path = tu_xasprintf("/v2/models/%s/infer", name);
	st = tu_http(sock, "POST", path, req, &body);
	if (st != 200) {
		snprintf(why, len, "status %d: %.200s", st, body ? body : "");
		goto out;
	}
	j = json_loads(body, 0, NULL);
	data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
	if (json_array_size(data) != g.nrows) {
		snprintf(why, len, "%zu predictions for %zu rows", json_array_size(data), g.nrows);
		goto out;
	}
	for (size_t i = 0; i < g.nrows; i++) {
		double got = json_number_value(json_array_get(data, i));
		if (!(fabs(got - g.predict[i]) <= tol)) {
			snprintf(why, len, "row %zu: %.9g, XGBoost says %.9g", i, got,
			         g.predict[i]);
			goto out;
		}
	}
	ver = strdup(json_string_value(json_object_get(j, "model_version")));
out:
	json_decref(j);
	free(body);
	free(path);
	free(req);
	return ver;
}

/* Status of a GET or POST without a body; the body is parsed into *out when wanted. */
static int call(const char *sock, const char *method, const char *path, const char *json,
                json_t **out)
{
	char *body = NULL;
	int st = tu_http(sock, method, path, json, &body);

	if (out)
		*out = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	return st;
}

/* --- a client that keeps inferring, in a thread (a forked child would be leak-checked) --- */

struct client {
	pthread_t tid;
	const char *sock;
	atomic_bool stop;
	long ok, failed;
};

static void *client_run(void *arg)
{
	struct client *c = arg;
	char why[512];

	while (!atomic_load(&c->stop)) {
		char *v = golden_infer(c->sock, MODEL, why, sizeof why);
		if (v) {
			c->ok++;
		} else {
			c->failed++;
			fprintf(stderr, "client: request failed: %s\n", why);
		}
		free(v);
	}
	return NULL;
}

static void client_start(struct client *c, const char *sock)
{
	c->sock = sock;
	c->ok = c->failed = 0;
	atomic_store(&c->stop, false);
	ck_assert_int_eq(pthread_create(&c->tid, NULL, client_run, c), 0);
}

static void client_stop(struct client *c, long *ok, long *failed)
{
	atomic_store(&c->stop, true);
	ck_assert_int_eq(pthread_join(c->tid, NULL), 0);
	*ok = c->ok;
	*failed = c->failed;
}

/* --- SIGHUP storm --- */

static const char storm_conf1[] = "socket = { path = \"@SOCKET@\"; };\n"
                                  "log_level = \"warning\";\n"
                                  "server = { state_dir = \"%s\"; };\n"
                                  "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\";\n"
                                  "             version = 1; golden = \"@GOLDEN@\"; } );\n";

START_TEST(test_sighup_storm)
{
	struct tu_daemon d;
	struct client c;
	char *state = tu_mkdtemp(), *conf = tu_xasprintf(storm_conf1, state), *text, *tmp, why[512];
	char *v;
	long ok, failed;
	long long t0, spent, deadline;
	int st;

	ck_assert(tu_daemon_start(&d, conf) == 0);
	ck_assert_int_eq(call(d.socket, "GET", "/v2/models/second/ready", NULL, NULL), 404);

	/* The final config: the same model served a second time under another name. */
	text = tu_xasprintf("socket = { path = \"%s\"; };\n"
	                    "log_level = \"warning\";\n"
	                    "server = { state_dir = \"%s\"; };\n"
	                    "models = ( { name = \"" MODEL "\"; path = \"%s\"; version = 1;\n"
	                    "             golden = \"%s\"; },\n"
	                    "           { name = \"second\"; path = \"%s\"; version = 7; } );\n",
	                    d.socket, state, TU_BUNDLED_MODEL, TU_BUNDLED_GOLDEN, TU_BUNDLED_MODEL);
	tmp = tu_xasprintf("%s.new", d.config);
	free(tu_write_file(d.dir, "inferd.conf.new", text));
	ck_assert_int_eq(rename(tmp, d.config), 0);

	client_start(&c, d.socket);
	tu_sleep_ms(100);
	t0 = now_ms();
	/* On a fixed schedule (one every 8 ms), so a slow machine does not stretch the storm. */
	for (int i = 0; i < 100; i++) {
		long long due = t0 + i * 8;
		if (now_ms() < due)
			tu_sleep_ms((long)(due - now_ms()));
		ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	}
	spent = now_ms() - t0;
	/* Keep inferring while the reloads settle. */
	tu_sleep_ms(tu_wrapped() ? 3000 : 500);
	client_stop(&c, &ok, &failed);
	printf("sighup storm: 100 SIGHUPs in %lld ms; %ld requests during it, %ld failed\n", spent,
	       ok + failed, failed);
	ck_assert_msg(spent < 1000, "the storm took %lld ms", spent);
	ck_assert_msg(alive(d.pid), "inferd died in the SIGHUP storm");
	ck_assert_msg(failed == 0, "%ld of %ld requests failed during the storm", failed,
	              ok + failed);
	ck_assert_int_gt(ok, 0);

	/* The last config applies once the reloads are done. */
	deadline = now_ms() + (tu_wrapped() ? 60000 : 10000);
	while ((st = call(d.socket, "GET", "/v2/models/second/ready", NULL, NULL)) != 200 &&
	       now_ms() < deadline)
		tu_sleep_ms(50);
	ck_assert_msg(st == 200, "the second model is not served after the storm (%d)", st);
	v = golden_infer(d.socket, "second", why, sizeof why);
	ck_assert_msg(v != NULL, "second: %s", why);
	ck_assert_str_eq(v, "7");
	free(v);
	v = golden_infer(d.socket, MODEL, why, sizeof why);
	ck_assert_msg(v != NULL, MODEL ": %s", why);
	free(v);
	stop(&d);
	tu_rmtree(state);
	free(state);
	free(conf);
	free(text);
	free(tmp);
}
END_TEST

/* --- a model version torn while it is loaded --- */

struct repo_fixture {
	char *dir, *repo, *state, *v2, *v2_model;
	char *v2_bytes; /* a valid model that predicts differently from version 1 */
	size_t v2_len;
	char v2_sha[65];
};

static void mkdir_p(const char *path)
{
	char *cmd = tu_xasprintf("mkdir -p '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static void repo_init(struct repo_fixture *f)
{
	char *v1 = NULL, *m, *gl, *p;
	size_t mlen;

	f->dir = tu_mkdtemp();
	f->repo = tu_xasprintf("%s/repo", f->dir);
	f->state = tu_xasprintf("%s/state", f->dir);
	v1 = tu_xasprintf("%s/" MODEL "/1", f->repo);
	f->v2 = tu_xasprintf("%s/" MODEL "/2", f->repo);
	f->v2_model = tu_xasprintf("%s/model.json", f->v2);
	mkdir_p(v1);
	m = slurp(TU_BUNDLED_MODEL, &mlen);
	gl = slurp(TU_BUNDLED_GOLDEN, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(gl);
	free(tu_write_file(v1, "model.json", m));
	free(tu_write_file(v1, "golden.json", gl));
	/* Version 2: another base score, so a different model with the same structure. */
	p = strstr(m, "\"base_score\":\"5E-1\"");
	ck_assert_msg(p != NULL, "the bundled model no longer has base_score 5E-1");
	f->v2_bytes = tu_xasprintf("%.*s\"base_score\":\"2.5E-1\"%s", (int)(p - m), m,
	                           p + strlen("\"base_score\":\"5E-1\""));
	f->v2_len = strlen(f->v2_bytes);
	sha256_hex(f->v2_bytes, f->v2_len, f->v2_sha);
	free(m);
	free(gl);
	free(v1);
}

static void repo_free(struct repo_fixture *f)
{
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->repo);
	free(f->state);
	free(f->v2);
	free(f->v2_model);
	free(f->v2_bytes);
}

static char *repo_conf(const struct repo_fixture *f)
{
	return tu_xasprintf("socket = { path = \"@SOCKET@\"; };\n"
	                    "server = { state_dir = \"%s\"; };\n"
	                    "log_level = \"warning\";\n"
	                    "repository = [ \"%s\" ];\n"
	                    "models = ( { name = \"" MODEL "\"; version = \"latest\"; } );\n",
	                    f->state, f->repo);
}

/* The version served and the sha256 it was loaded with, from the model metadata. */
static void served(const char *sock, char *ver, size_t vlen, char sha[65])
{
	json_t *j;

	ck_assert_int_eq(call(sock, "GET", "/v2/models/" MODEL, NULL, &j), 200);
	ck_assert_ptr_nonnull(j);
	/* versions lists what is served; the highest answers unversioned requests. */
	snprintf(ver, vlen, "%s",
	         json_string_value(json_array_get(json_object_get(j, "versions"), 0)));
	snprintf(sha, 65, "%s",
	         json_string_value(json_object_get(json_object_get(j, "parameters"), "sha256")));
	json_decref(j);
}

static void append(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_model_torn_during_reload)
{
	struct repo_fixture f;
	struct tu_daemon d;
	char *conf, ver[32], sha[65], why[512], *v;
	json_t *j;

	repo_init(&f);
	conf = repo_conf(&f);
	ck_assert(tu_daemon_start(&d, conf) == 0);
	served(d.socket, ver, sizeof ver, sha);
	ck_assert_str_eq(ver, "1");

	/* Half of version 2 is on disk when the reload comes. */
	mkdir_p(f.v2);
	append(f.v2_model, f.v2_bytes, f.v2_len / 2);
	ck_assert_int_eq(call(d.socket, "POST", "/v2/admin/reload", NULL, &j), 200);
	json_decref(j);
	ck_assert_int_eq(call(d.socket, "POST", "/v2/repository/index", NULL, &j), 200);
	{
		size_t i;
		json_t *e;
		bool refused = false;
		json_array_foreach(j, i, e)
		{
			if (strcmp(json_string_value(json_object_get(e, "version")), "2") == 0)
				refused = json_is_true(json_object_get(e, "refused")) &&
				          strcmp(json_string_value(json_object_get(e, "state")),
				                 "UNAVAILABLE") == 0;
		}
		ck_assert_msg(refused, "the torn version 2 is not listed as refused");
	}
	json_decref(j);
	served(d.socket, ver, sizeof ver, sha);
	ck_assert_str_eq(ver, "1");
	v = golden_infer(d.socket, MODEL, why, sizeof why);
	ck_assert_msg(v != NULL && strcmp(v, "1") == 0, "version 1 does not serve: %s",
	              v ? v : why);
	free(v);

	/* The rest arrives; the next reload takes the complete file. */
	append(f.v2_model, f.v2_bytes + f.v2_len / 2, f.v2_len - f.v2_len / 2);
	ck_assert_int_eq(call(d.socket, "POST", "/v2/admin/reload", NULL, NULL), 200);
	served(d.socket, ver, sizeof ver, sha);
	ck_assert_str_eq(ver, "2");
	ck_assert_str_eq(sha, f.v2_sha);
	stop(&d);
	free(conf);
	repo_free(&f);
}
END_TEST

/*
 * The same race without choosing the moment: a writer appends version 2 in small pieces
 * while reloads run back to back. A reload may refuse the file or take it, but whatever it
 * serves as version 2 must be the whole file (its sha256), and nothing else may fail.
 */
struct writer {
	pthread_t tid;
	const char *path, *bytes;
	size_t len;
	atomic_bool done;
	int rc;
};

/* Writes the file in 4 KiB pieces, 10 ms apart, as a slow upload would. */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	size_t piece = 4096;
	int fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		w->rc = 1;
	for (size_t off = 0; fd >= 0 && off < w->len && w->rc == 0; off += piece) {
		size_t n = w->len - off < piece ? w->len - off : piece;
		if (write(fd, w->bytes + off, n) != (ssize_t)n)
			w->rc = 2;
		tu_sleep_ms(10);
	}
	if (fd >= 0 && close(fd) != 0)
		w->rc = 3;
	atomic_store(&w->done, true);
	return NULL;
}

START_TEST(test_model_written_slowly_under_reloads)
{
	struct repo_fixture f;
	struct tu_daemon d;
	char *conf, ver[32], sha[65];
	int reloads = 0, saw_partial = 0, saw_v2 = 0;
	struct writer w = {0};

	repo_init(&f);
	conf = repo_conf(&f);
	ck_assert(tu_daemon_start(&d, conf) == 0);
	mkdir_p(f.v2);
	w.path = f.v2_model;
	w.bytes = f.v2_bytes;
	w.len = f.v2_len;
	ck_assert_int_eq(pthread_create(&w.tid, NULL, writer_run, &w), 0);
	for (;;) {
		bool done = atomic_load(&w.done);
		ck_assert_int_eq(call(d.socket, "POST", "/v2/admin/reload", NULL, NULL), 200);
		reloads++;
		served(d.socket, ver, sizeof ver, sha);
		if (strcmp(ver, "2") == 0) {
			saw_v2++;
			ck_assert_msg(strcmp(sha, f.v2_sha) == 0,
			              "a partial version 2 went live (sha256 %s)", sha);
		} else {
			ck_assert_str_eq(ver, "1");
			saw_partial++;
		}
		if (done)
			break;
	}
	ck_assert_int_eq(pthread_join(w.tid, NULL), 0);
	ck_assert_msg(w.rc == 0, "writer failed at step %d", w.rc);
	printf("torn model: %d reloads while writing, %d kept version 1, %d served the whole "
	       "version 2\n",
	       reloads, saw_partial, saw_v2);
	/* The reload after the last byte serves version 2. */
	ck_assert_str_eq(ver, "2");
	ck_assert_int_gt(saw_partial, 0);
	stop(&d);
	free(conf);
	repo_free(&f);
}
END_TEST

/* --- clients that go away mid-request and mid-response --- */

static int connect_to(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
	              strerror(errno));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static const char lost_conf[] = "socket = { path = \"@SOCKET@\"; };\n"
                                "log_level = \"warning\";\n"
                                "server = { state_dir = \"%s\"; };\n"
                                "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\";\n"
                                "             version = 1; golden = \"@GOLDEN@\"; } );\n";

START_TEST(test_clients_vanish)
{
	struct tu_daemon d;
	char *state = tu_mkdtemp(), *conf = tu_xasprintf(lost_conf, state), why[512], *v;
	/* Under valgrind every request costs ~50 times more: fewer rounds, same cases. */
	int rounds = tu_wrapped() ? 20 : 200, fd0, fd1;
	size_t rows = 12000, cap, len = 0;
	char *big, *half;

	ck_assert(tu_daemon_start(&d, conf) == 0);
	for (int i = 0; i < 3; i++) {
		v = golden_infer(d.socket, MODEL, why, sizeof why);
		ck_assert_msg(v != NULL, "%s", why);
		free(v);
	}
	fd0 = fd_count_stable(d.pid);

	/* A batch whose answer (predict and margin) is larger than a socket buffer. */
	cap = 512 + rows * 30 * 5; /* up to 3 digits and a comma per value */
	big = malloc(cap);
	ck_assert_ptr_nonnull(big);
	len = (size_t)snprintf(big, cap,
	                       "POST /v2/models/" MODEL "/infer HTTP/1.1\r\nHost: localhost\r\n"
	                       "Content-Type: application/json\r\nContent-Length: %10zu\r\n\r\n",
	                       (size_t)0);
	{
		size_t hdr = len, blen;
		len += (size_t)snprintf(big + len, cap - len,
		                        "{\"outputs\": [{\"name\": \"predict\"}, {\"name\": "
		                        "\"margin\"}], \"inputs\": [{\"name\": \"input\", "
		                        "\"datatype\": \"FP32\", \"shape\": [%zu, 30], \"data\": [",
		                        rows);
		for (size_t i = 0; i < rows * 30; i++)
			len += (size_t)snprintf(big + len, cap - len, "%s%zu", i ? "," : "",
			                        (i * 7919) % 1000);
		len += (size_t)snprintf(big + len, cap - len, "]}]}");
		blen = len - hdr;
		/* Now the real Content-Length, in the space kept for it. */
		half = strstr(big, "Content-Length: ") + strlen("Content-Length: ");
		{
			char num[16];
			snprintf(num, sizeof num, "%10zu", blen);
			memcpy(half, num, 10);
		}
	}

	for (int i = 0; i < rounds; i++) {
		char buf[16];
		int fd = connect_to(d.socket);

		/* Mid-request: the headers and half the body, then gone. */
		send_all(fd, big, len / 2);
		if (i % 2) {
			/* Half of them reset the connection instead of closing it. */
			struct linger l = {1, 0};
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		}
		close(fd);

		/* Mid-response: the whole request, a few bytes of the answer, then gone. */
		fd = connect_to(d.socket);
		send_all(fd, big, len);
		ck_assert_int_eq(recv(fd, buf, sizeof buf, MSG_WAITALL), (ssize_t)sizeof buf);
		ck_assert_msg(memcmp(buf, "HTTP/1.1 200", 12) == 0, "answer: %.16s", buf);
		close(fd);
		ck_assert_msg(alive(d.pid), "inferd died at round %d", i);
	}
	v = golden_infer(d.socket, MODEL, why, sizeof why);
	ck_assert_msg(v != NULL, "after the lost clients: %s", why);
	free(v);
	fd1 = fd_count_stable(d.pid);
	printf("lost clients: %d rounds of a request cut in half and an answer not read "
	       "(%zu-byte request); fds %d -> %d\n",
	       rounds, len, fd0, fd1);
	ck_assert_msg(fd1 == fd0, "the daemon holds %d fds, %d before", fd1, fd0);
	stop(&d);
	free(big);
	tu_rmtree(state);
	free(state);
	free(conf);
}
END_TEST

/* --- the state directory full or read-only when the served set is marked good --- */

/* The served set as a mark-good body; NULL when it cannot be read (no Check calls here). */
static char *served_set_body(const char *sock)
{
	char *body = NULL, *out = NULL;
	json_t *j;
	const char *ver, *sha;

	if (tu_http(sock, "GET", "/v2/models/" MODEL, NULL, &body) != 200) {
		free(body);
		return NULL;
	}
	j = json_loads(body, 0, NULL);
	free(body);
	ver = json_string_value(json_array_get(json_object_get(j, "versions"), 0));
	sha = json_string_value(json_object_get(json_object_get(j, "parameters"), "sha256"));
	if (ver && sha)
		out = tu_xasprintf("{\"models\": [{\"name\": \"" MODEL "\", \"version\": \"%s\", "
		                   "\"sha256\": \"%s\"}]}",
		                   ver, sha);
	json_decref(j);
	return out;
}

#define STEP(cond, code, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "state fault: " __VA_ARGS__);                              \
			fputc('\n', stderr);                                                       \
			rc = code;                                                                 \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

/* Checks an error answer: status, and a message saying the old record stays. */
static bool storage_error_ok(const char *body, int st, int want)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	const char *e = json_string_value(json_object_get(j, "error"));
	bool ok = st == want && e && strstr(e, "previous record is unchanged");

	if (!ok)
		fprintf(stderr, "state fault: status %d (want %d): %s\n", st, want,
		        body ? body : "");
	json_decref(j);
	return ok;
}

/*
 * Runs in an exec'd child (so no Check calls) with its own mount namespace: state_dir is a small
 * tmpfs, the daemon is started inside the namespace (so it sees that tmpfs), marks a set good, then
 * is asked again with the filesystem full (507) and read-only (500).
 */
static int state_fault_child(void)
{
	char *dir = tu_mkdtemp(), *state = tu_xasprintf("%s/state", dir), *conf, *body = NULL,
	     *rec0 = NULL, *rec = NULL, *filler = NULL, *path = NULL, *claim = NULL;
	struct tu_daemon d = {0};
	int rc = 0, st, fd;
	bool started = false;

	if (mkdir(state, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("inferd-faults", state, "tmpfs", 0, "size=1m,mode=0700") < 0) {
		rc = 77;
		goto out;
	}
	conf = tu_xasprintf(lost_conf, state);
	STEP(tu_daemon_start(&d, conf) == 0, 10, "inferd did not start");
	free(conf);
	started = true;
	claim = served_set_body(d.socket);
	STEP(claim != NULL, 22, "cannot read the served set");
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", claim, &body);
	STEP(st == 200, 11, "mark-good: %d %s", st, body ? body : "");
	free(body);
	body = NULL;
	path = tu_xasprintf("%s/last-known-good.json", state);
	rec0 = slurp(path, NULL);
	STEP(rec0 != NULL, 12, "no record after mark-good");

	/* Full: a filler takes every block left. */
	filler = tu_xasprintf("%s/filler", state);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	STEP(fd >= 0, 13, "filler: %s", strerror(errno));
	{
		static char zeros[4096];
		while (write(fd, zeros, sizeof zeros) > 0)
			;
		while (write(fd, zeros, 1) > 0)
			;
	}
	close(fd);
	tu_sleep_ms(1100); /* the record's time field changes with the second */
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", claim, &body);
	STEP(storage_error_ok(body, st, 507), 14, "full state dir");
	free(body);
	body = NULL;
	rec = slurp(path, NULL);
	STEP(rec && strcmp(rec, rec0) == 0, 15, "the record changed on a full disk");
	free(rec);
	rec = NULL;
	unlink(filler);

	/* Read-only: the same tmpfs remounted. */
	STEP(mount("none", state, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL) == 0, 16, "remount: %s",
	     strerror(errno));
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", claim, &body);
	STEP(storage_error_ok(body, st, 500), 17, "read-only state dir");
	STEP(strstr(body, "Read-only") != NULL, 18, "the reason is not given: %s", body);
	free(body);
	body = NULL;
	rec = slurp(path, NULL);
	STEP(rec && strcmp(rec, rec0) == 0, 19, "the record changed on a read-only disk");
	/* Back to writable: marking good works again. */
	STEP(mount("none", state, "tmpfs", MS_REMOUNT, NULL) == 0, 20, "remount rw");
	st = tu_http(d.socket, "POST", "/v2/admin/mark-good", claim, &body);
	STEP(st == 200, 21, "mark-good after the fault: %d %s", st, body ? body : "");
	printf("state faults: full -> 507, read-only -> 500, record intact both times\n");
out:
	if (started) {
		st = tu_daemon_stop(&d);
		if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			rc = 30;
	}
	umount2(state, MNT_DETACH);
	tu_rmtree(dir);
	free(body);
	free(rec0);
	free(rec);
	free(filler);
	free(path);
	free(claim);
	free(state);
	free(dir);
	return rc;
}

START_TEST(test_state_dir_faults)
{
	pid_t pid;
	int st;

	/* A fresh process (exec, not just fork): one thread to unshare, nothing inherited. */
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(TOP_BUILDDIR "/tests/check_faults", "check_faults", STATE_CHILD_ARG,
		      (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "state fault child: status %d", st);
}
END_TEST

/* Probes in a child whether a private mount namespace with a tmpfs is possible here. */
static bool mount_ns_possible(void)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS) == 0 &&
		              mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0 &&
		              mount("probe", "/tmp", "tmpfs", MS_RDONLY, "size=4k") == 0
		          ? 0
		          : 77);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
	Suite *s;
	TCase *t;
	SRunner *sr;
	char err[256];
	bool ns;
	int failed, skipped = 0;

	if (argc == 2 && strcmp(argv[1], STATE_CHILD_ARG) == 0)
		return state_fault_child();
	/* Probed before anything is allocated: the probe forks, and valgrind checks children. */
	ns = mount_ns_possible();
	s = suite_create("faults");
	t = tcase_create("faults");

	signal(SIGPIPE, SIG_IGN);
	if (golden_load(TU_BUNDLED_GOLDEN, &g, err, sizeof err) < 0) {
		fprintf(stderr, "golden: %s\n", err);
		return EXIT_FAILURE;
	}
	tcase_add_test(t, test_sighup_storm);
	tcase_add_test(t, test_model_torn_during_reload);
	tcase_add_test(t, test_model_written_slowly_under_reloads);
	tcase_add_test(t, test_clients_vanish);
	if (ns && getenv("INFERD_EMULATOR") && *getenv("INFERD_EMULATOR")) {
		printf("SKIP test_state_dir_faults: it re-executes this test program, which "
		       "qemu-user cannot do without binfmt_misc (INFERD_EMULATOR is set)\n");
		skipped++;
	} else if (ns) {
		tcase_add_test(t, test_state_dir_faults);
	} else {
		printf("SKIP test_state_dir_faults: no private mount namespace with a tmpfs here "
		       "(needs CAP_SYS_ADMIN), so a full or read-only state directory cannot be "
		       "made for real\n");
		skipped++;
	}
	tcase_set_timeout(t, tu_wrapped() ? 1800 : 180);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	golden_free(&g);
	if (failed)
		return EXIT_FAILURE;
	return skipped ? 77 : EXIT_SUCCESS;
}
