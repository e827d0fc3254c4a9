/* check_lifecycle.c: the daemon's lifecycle against real inferd processes: systemd notify,
 * socket activation, reloads under load, refused models and configs, last known good
 * (including a restart that falls back to it). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "golden.h"
#include "testutil.h"

#define MODEL "bc"
#define INFER "/v2/models/" MODEL "/infer"
/* base_score 0.5 -> 0.25 for version 2: every margin moves by logit(0.25) = -ln 3. */
#define V2_SHIFT (-1.0986122886681098)
/* XGBoost sums in float32: margins near 10 carry ~1e-6 of rounding; 1e-5 covers it. */
#define V2_TOL 1e-5

static struct golden g1;   /* the bundled golden set: XGBoost's outputs for version 1 */
static double *v2_predict; /* version 2's outputs, derived from g1 by arithmetic */
static double *v2_margin;

/* Time limits stretch under valgrind. */
static long slow(long ms)
{
	return tu_wrapped() ? ms * 20 : ms;
}

static unsigned long long mono_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

static json_t *parse(const char *body, const char *what)
{
	json_error_t je;
	json_t *j;

	ck_assert_msg(body != NULL, "%s: no body", what);
	j = json_loads(body, 0, &je);
	ck_assert_msg(j != NULL, "%s: not JSON (%s): %s", what, je.text, body);
	return j;
}

/* --- the repository fixture: versions of one model in a temp tree --- */

struct fixture {
	char *dir;   /* everything below lives here and outlives daemon restarts */
	char *repo;  /* dir/repo, the repository root */
	char *state; /* dir/state */
};

static void mkdir_p(const char *path)
{
	char *cmd = tu_xasprintf("mkdir -p '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static char *version_dir(const struct fixture *f, int v)
{
	char *d = tu_xasprintf("%s/" MODEL "/%d", f->repo, v);
	mkdir_p(d);
	return d;
}

/* Version 1: the bundled model and its golden set, byte for byte. */
static void add_v1(const struct fixture *f)
{
	char *d = version_dir(f, 1), *m = slurp(TU_BUNDLED_MODEL), *gl = slurp(TU_BUNDLED_GOLDEN);

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(gl);
	free(tu_write_file(d, "model.json", m));
	free(tu_write_file(d, "golden.json", gl));
	free(m);
	free(gl);
	free(d);
}

/* Version 2: passes validation but predicts differently (base_score 0.25). */
static void add_v2(const struct fixture *f)
{
	char *d = version_dir(f, 2), *m = slurp(TU_BUNDLED_MODEL), *p, *text;
	json_t *gj, *pred = json_array(), *marg = json_array();
	json_error_t je;

	ck_assert_ptr_nonnull(m);
	p = strstr(m, "\"base_score\":\"5E-1\"");
	ck_assert_msg(p != NULL, "the bundled model no longer has base_score 5E-1");
	text = tu_xasprintf("%.*s\"base_score\":\"2.5E-1\"%s", (int)(p - m), m,
	                    p + strlen("\"base_score\":\"5E-1\""));
	free(tu_write_file(d, "model.json", text));
	free(text);
	free(m);
	gj = json_load_file(TU_BUNDLED_GOLDEN, 0, &je);
	ck_assert_ptr_nonnull(gj);
	for (size_t i = 0; i < g1.nrows; i++) {
		json_array_append_new(pred, json_real(v2_predict[i]));
		json_array_append_new(marg, json_real(v2_margin[i]));
	}
	json_object_set_new(gj, "predict", pred);
	json_object_set_new(gj, "margin", marg);
	json_object_set_new(gj, "tolerance", json_real(V2_TOL));
	text = json_dumps(gj, JSON_COMPACT);
	free(tu_write_file(d, "golden.json", text));
	free(text);
	json_decref(gj);
	free(d);
}

/* A broken upload: the model JSON cut off half way. */
static void add_truncated(const struct fixture *f, int v)
{
	char *d = version_dir(f, v), *m = slurp(TU_BUNDLED_MODEL);

	ck_assert_ptr_nonnull(m);
	m[strlen(m) / 2] = '\0';
	free(tu_write_file(d, "model.json", m));
	free(m);
	free(d);
}

static void fixture_init(struct fixture *f)
{
	f->dir = tu_mkdtemp();
	f->repo = tu_xasprintf("%s/repo", f->dir);
	f->state = tu_xasprintf("%s/state", f->dir);
	mkdir_p(f->repo);
	add_v1(f);
}

static void fixture_free(struct fixture *f)
{
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->repo);
	free(f->state);
}

/*
 * A config for the fixture; version is "\"latest\"" or a number; extra goes in socket {}.
 * The tolerance is version 2's (see V2_TOL); the entry sets it as the golden files do.
 */
static char *conf_text(const struct fixture *f, const char *sock, const char *version,
                       const char *extra)
{
	return tu_xasprintf("socket = { path = \"%s\"; mode = \"0666\"; %s };\n"
	                    "server = { state_dir = \"%s\"; };\n"
	                    "log_level = \"info\";\n"
	                    "repository = [ \"%s\" ];\n"
	                    "models = ( { name = \"" MODEL
	                    "\"; version = %s; tolerance = 1e-5; } );\n",
	                    sock, extra ? extra : "", f->state, f->repo, version);
}

static void write_conf(const struct tu_daemon *d, const struct fixture *f, const char *version)
{
	char *text = conf_text(f, d->socket, version, NULL);
	char *tmp = tu_xasprintf("%s.new", d->config);
	FILE *fp = fopen(tmp, "w");

	/* Renamed into place so that a reload never reads a half-written file. */
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, d->config), 0);
	free(tmp);
	free(text);
}

static void start(struct tu_daemon *d, const struct fixture *f, const char *version)
{
	char *text = conf_text(f, "@SOCKET@", version, NULL);
	ck_assert_msg(tu_daemon_start(d, text) == 0, "inferd did not start");
	free(text);
}

static void stop(struct tu_daemon *d)
{
	int st = tu_daemon_stop(d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
}

/* --- predictions --- */

/* The golden inputs as one infer request body. */
static char *golden_body(size_t first, size_t nrows)
{
	size_t cap = 64 + nrows * g1.ncols * 24, len = 0;
	char *data = malloc(cap), *body;

	ck_assert_ptr_nonnull(data);
	data[0] = '\0';
	for (size_t i = first; i < first + nrows; i++)
		for (size_t j = 0; j < g1.ncols; j++) {
			float v = g1.inputs[i * g1.ncols + j];
			len += (size_t)(isnan(v) ? snprintf(data + len, cap - len, "%snull",
			                                    len ? "," : "")
			                         : snprintf(data + len, cap - len, "%s%.9g",
			                                    len ? "," : "", (double)v));
		}
	body = tu_xasprintf("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                    "\"shape\":[%zu,%zu],\"data\":[%s]}],"
	                    "\"outputs\":[{\"name\":\"predict\"}]}",
	                    nrows, g1.ncols, data);
	free(data);
	return body;
}

/* Expected predict of golden row i for version v (1: XGBoost's; 2: derived). */
static double expected(int v, size_t i)
{
	return v == 2 ? v2_predict[i] : g1.predict[i];
}

/* Asserts that every golden row predicts as version want says, served as version want. */
static void assert_serves(const char *sock, int want)
{
	char *req = golden_body(0, g1.nrows), *body = NULL, vs[16];
	json_t *j, *data;
	int st = tu_http(sock, "POST", INFER, req, &body);

	ck_assert_msg(st == 200, "infer: status %d: %s", st, body ? body : "");
	j = parse(body, "infer");
	snprintf(vs, sizeof vs, "%d", want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), vs);
	data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
	ck_assert_uint_eq(json_array_size(data), g1.nrows);
	for (size_t i = 0; i < g1.nrows; i++) {
		double got = json_number_value(json_array_get(data, i));
		ck_assert_msg(fabs(got - expected(want, i)) <= V2_TOL,
		              "version %d row %zu: got %.9g, expected %.9g", want, i, got,
		              expected(want, i));
	}
	json_decref(j);
	free(body);
	free(req);
}

/* POST path with json (may be NULL); asserts the status; returns the parsed body. */
static json_t *post(const char *sock, const char *path, const char *json, int want)
{
	char *body = NULL;
	int st = tu_http(sock, "POST", path, json, &body);
	json_t *j;

	ck_assert_msg(st == want, "POST %s: status %d, expected %d: %s", path, st, want,
	              body ? body : "");
	j = parse(body, path);
	free(body);
	return j;
}

static json_t *get(const char *sock, const char *path, int want)
{
	char *body = NULL;
	int st = tu_http(sock, "GET", path, NULL, &body);
	json_t *j;

	ck_assert_msg(st == want, "GET %s: status %d, expected %d: %s", path, st, want,
	              body ? body : "");
	j = parse(body, path);
	free(body);
	return j;
}

/* The served version of MODEL, from the admin state. */
static int served_version(const char *sock)
{
	json_t *j = get(sock, "/v2/admin/state", 200);
	json_t *s = json_array_get(json_object_get(j, "serving"), 0);
	int v = s ? atoi(json_string_value(json_object_get(s, "version"))) : 0;

	json_decref(j);
	return v;
}

/* --- (1) the systemd notify protocol, with a fake NOTIFY_SOCKET --- */

struct notify {
	int fd;
	char *path;
};

static void notify_open(struct notify *n, const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	n->path = tu_xasprintf("%s/notify.sock", dir);
	ck_assert_uint_lt(strlen(n->path), sizeof sa.sun_path);
	strcpy(sa.sun_path, n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(n->fd, 0);
	ck_assert_int_eq(bind(n->fd, (struct sockaddr *)&sa, sizeof sa), 0);
}

/* The next datagram (malloc'd), or NULL after ms; *at gets when it arrived. */
static char *notify_next(struct notify *n, long ms, unsigned long long *at)
{
	struct pollfd p = {.fd = n->fd, .events = POLLIN};
	char buf[4096];
	ssize_t got;

	if (poll(&p, 1, (int)ms) <= 0)
		return NULL;
	got = recv(n->fd, buf, sizeof buf - 1, 0);
	if (got < 0)
		return NULL;
	buf[got] = '\0';
	if (at)
		*at = mono_usec();
	return strdup(buf);
}

/* The next message that is not a watchdog ping or a periodic STATUS= alone. */
static char *notify_next_event(struct notify *n, long ms, unsigned long long *at, int *pings)
{
	for (;;) {
		char *m = notify_next(n, ms, at);
		if (m == NULL)
			return NULL;
		if (strcmp(m, "WATCHDOG=1") == 0) {
			if (pings)
				(*pings)++;
		} else if (strncmp(m, "STATUS=", 7) != 0) {
			return m;
		}
		free(m);
	}
}

/* Starts inferd by hand: tu_daemon_start clears NOTIFY_SOCKET, which is the point here. */
static pid_t spawn_inferd(const char *config, const char *log, const char *const *env,
                          const char *const *pre)
{
	const char *w = getenv("INFERD_WRAPPER");
	char *words = strdup(w ? w : ""), *save = NULL;
	const char *argv[64];
	size_t n = 0;
	pid_t parent = getpid(), pid;

	ck_assert_ptr_nonnull(words);
	for (; pre && *pre; pre++)
		argv[n++] = *pre;
	for (char *t = strtok_r(words, " \t", &save); t && n < 56; t = strtok_r(NULL, " \t", &save))
		argv[n++] = t;
	argv[n++] = TOP_BUILDDIR "/src/inferd";
	argv[n++] = "--foreground";
	argv[n++] = "--config";
	argv[n++] = config;
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		unsetenv("JOURNAL_STREAM");
		for (; env && env[0]; env += 2)
			setenv(env[0], env[1], 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(words);
	return pid;
}

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
	ck_abort_msg("inferd %d did not exit in %ld ms", (int)pid, ms);
	return st;
}

static int wait_ready(const char *sock, pid_t pid, long ms)
{
	for (long t = 0; t < ms; t += 50) {
		char *body = NULL;
		int st = tu_http(sock, "GET", "/v2/health/ready", NULL, &body), ws;
		free(body);
		if (st == 200)
			return 0;
		if (waitpid(pid, &ws, WNOHANG) == pid)
			return -1;
		tu_sleep_ms(50);
	}
	return -1;
}

static void print_file(const char *path)
{
	char *t = slurp(path);
	fprintf(stderr, "---- %s ----\n%s---- end ----\n", path, t ? t : "(none)\n");
	free(t);
}

/* Checks one reload's notifications: RELOADING=1 stamped within [t0, arrival], then READY. */
static void assert_reload_notified(struct notify *n, unsigned long long t0, const char *what)
{
	unsigned long long at = 0, stamp = 0;
	char *m = notify_next_event(n, slow(10000), &at, NULL), *p;

	ck_assert_msg(m != NULL, "%s: no notification", what);
	ck_assert_msg(strstr(m, "RELOADING=1") != NULL, "%s: first message is not RELOADING: %s",
	              what, m);
	p = strstr(m, "MONOTONIC_USEC=");
	ck_assert_msg(p != NULL, "%s: RELOADING=1 without MONOTONIC_USEC: %s", what, m);
	stamp = strtoull(p + 15, NULL, 10);
	ck_assert_msg(stamp >= t0 && stamp <= at,
	              "%s: MONOTONIC_USEC=%llu outside [%llu, %llu] (CLOCK_MONOTONIC)", what, stamp,
	              t0, at);
	free(m);
	m = notify_next_event(n, slow(10000), NULL, NULL);
	ck_assert_msg(m != NULL, "%s: no READY=1 after RELOADING=1", what);
	ck_assert_msg(strstr(m, "READY=1") != NULL && strstr(m, "STATUS=serving 1 model") != NULL,
	              "%s: expected READY=1 with the status line, got: %s", what, m);
	free(m);
}

START_TEST(test_notify_protocol)
{
	struct fixture f;
	struct notify n;
	char *sock, *conf, *log, *text, *m;
	const char *env[6];
	int pings = 0, status;
	unsigned long long t0;
	pid_t pid;
	json_t *j;

	fixture_init(&f);
	notify_open(&n, f.dir);
	sock = tu_xasprintf("%s/inferd.sock", f.dir);
	log = tu_xasprintf("%s/inferd.log", f.dir);
	text = conf_text(&f, sock, "\"latest\"", NULL);
	conf = tu_write_file(f.dir, "inferd.conf", text);
	env[0] = "NOTIFY_SOCKET";
	env[1] = n.path;
	env[2] = "WATCHDOG_USEC";
	env[3] = "200000";
	env[4] = NULL;
	pid = spawn_inferd(conf, log, env, NULL);

	m = notify_next(&n, slow(10000), NULL);
	if (m == NULL)
		print_file(log);
	ck_assert_msg(m != NULL, "no notification at startup");
	ck_assert_msg(strstr(m, "READY=1") != NULL, "first message is not READY=1: %s", m);
	ck_assert_msg(strstr(m, "STATUS=serving 1 model: " MODEL " v1") != NULL,
	              "READY=1 without the status line: %s", m);
	free(m);
	ck_assert_int_eq(wait_ready(sock, pid, slow(10000)), 0);

	/* WATCHDOG_USEC=200 ms: pings at least every 100 ms, and nothing else in between. */
	{
		unsigned long long end = mono_usec() + (unsigned long long)slow(1000) * 1000;
		while (mono_usec() < end) {
			m = notify_next(&n, 50, NULL);
			if (m != NULL && strcmp(m, "WATCHDOG=1") == 0)
				pings++;
			else if (m != NULL)
				ck_assert_msg(strncmp(m, "STATUS=", 7) == 0, "unexpected: %s", m);
			free(m);
		}
		ck_assert_msg(pings >= 5, "%d watchdog pings in %ld ms", pings, slow(1000));
	}

	t0 = mono_usec();
	ck_assert_int_eq(kill(pid, SIGHUP), 0);
	assert_reload_notified(&n, t0, "SIGHUP");

	t0 = mono_usec();
	j = post(sock, "/v2/admin/reload", NULL, 200);
	json_decref(j);
	assert_reload_notified(&n, t0, "POST /v2/admin/reload");

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	m = notify_next_event(&n, slow(10000), NULL, NULL);
	ck_assert_msg(m != NULL && strstr(m, "STOPPING=1") != NULL, "expected STOPPING=1, got %s",
	              m ? m : "nothing");
	free(m);
	status = wait_exit(pid, slow(15000));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);

	close(n.fd);
	free(n.path);
	free(sock);
	free(conf);
	free(log);
	free(text);
	fixture_free(&f);
}
END_TEST

/* --- (2) socket activation --- */

static const char *socket_activate_bin(void)
{
	static const char *const cands[] = {"/usr/bin/systemd-socket-activate",
	                                    "/bin/systemd-socket-activate",
	                                    "/lib/systemd/systemd-activate"};
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

START_TEST(test_socket_activation)
{
	struct fixture f;
	char *sock, *unused, *conf, *log, *text;
	const char *pre[5];
	struct stat st;
	int status;
	pid_t pid;

	fixture_init(&f);
	sock = tu_xasprintf("%s/activated.sock", f.dir);
	unused = tu_xasprintf("%s/configured.sock", f.dir);
	log = tu_xasprintf("%s/inferd.log", f.dir);
	text = conf_text(&f, unused, "\"latest\"", NULL);
	conf = tu_write_file(f.dir, "inferd.conf", text);
	pre[0] = socket_activate_bin();
	pre[1] = "-l";
	pre[2] = sock;
	pre[3] = NULL;
	pid = spawn_inferd(conf, log, NULL, pre);
	/* The listener exists before inferd does: connections queue until it accepts. */
	if (wait_ready(sock, pid, slow(10000)) != 0)
		print_file(log);
	ck_assert_int_eq(wait_ready(sock, pid, 1), 0);
	assert_serves(sock, 1);
	ck_assert_msg(lstat(unused, &st) < 0 && errno == ENOENT,
	              "the configured socket was created although one was passed");
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	status = wait_exit(pid, slow(15000));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	/* systemd owns the socket file: inferd must leave it in place. */
	ck_assert_msg(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode),
	              "the activated socket file was removed at exit");
	free(sock);
	free(unused);
	free(log);
	free(conf);
	free(text);
	fixture_free(&f);
}
END_TEST

/* --- (3) reloads under load --- */

struct load {
	const char *sock;
	atomic_bool stop;
	atomic_ulong requests, non2xx, dropped, wrong, v1, v2;
};

struct worker {
	struct load *l;
	size_t row;
};

static int open_conn(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {tu_wrapped() ? 120 : 20, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* One request/response on a keep-alive connection. Returns the status, 0 if dropped. */
static int exchange(int fd, const char *req, size_t reqlen, char **body)
{
	char *buf = NULL, *eoh;
	size_t len = 0, cap = 0, hlen = 0, need = 0;
	int status = 0;

	*body = NULL;
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
			if (buf == NULL)
				return 0;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0) {
			free(buf);
			return 0;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (hlen == 0 && (eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			hlen = (size_t)(eoh - buf) + 4;
			need = hlen + (cl && cl < eoh ? strtoul(cl + 17, NULL, 10) : 0);
			sscanf(buf, "HTTP/1.%*d %d", &status);
		}
	}
	*body = strndup(buf + hlen, need - hlen);
	free(buf);
	return status;
}

static void *load_worker(void *arg)
{
	struct worker *w = arg;
	struct load *l = w->l;
	char *body = golden_body(w->row, 1);
	char *req = tu_xasprintf("POST " INFER " HTTP/1.1\r\nHost: x\r\nContent-Type: "
	                         "application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                         strlen(body), body);
	int fd = open_conn(l->sock);

	while (!atomic_load(&l->stop)) {
		char *resp = NULL;
		int st;

		if (fd < 0) {
			atomic_fetch_add(&l->dropped, 1);
			tu_sleep_ms(10);
			fd = open_conn(l->sock);
			continue;
		}
		st = exchange(fd, req, strlen(req), &resp);
		if (st == 0) {
			/* The connection went away under us: that is what must never happen. */
			atomic_fetch_add(&l->dropped, 1);
			close(fd);
			fd = open_conn(l->sock);
			free(resp);
			continue;
		}
		atomic_fetch_add(&l->requests, 1);
		if (st < 200 || st > 299) {
			atomic_fetch_add(&l->non2xx, 1);
		} else {
			/* Every answer must be one version's, whole: never a mix. */
			json_t *j = json_loads(resp, 0, NULL);
			const char *v = json_string_value(json_object_get(j, "model_version"));
			double got = json_number_value(json_array_get(
			    json_object_get(json_array_get(json_object_get(j, "outputs"), 0),
			                    "data"),
			    0));
			int ver = v ? atoi(v) : 0;
			if ((ver != 1 && ver != 2) || fabs(got - expected(ver, w->row)) > V2_TOL)
				atomic_fetch_add(&l->wrong, 1);
			else
				atomic_fetch_add(ver == 1 ? &l->v1 : &l->v2, 1);
			json_decref(j);
		}
		free(resp);
	}
	if (fd >= 0)
		close(fd);
	free(req);
	free(body);
	return NULL;
}

START_TEST(test_reload_under_load)
{
	enum { THREADS = 16, RELOADS = 22 };
	struct fixture f;
	struct tu_daemon d;
	struct load l = {0};
	struct worker w[THREADS];
	pthread_t th[THREADS];
	int reloads = 0;

	fixture_init(&f);
	add_v2(&f);
	start(&d, &f, "1");
	assert_serves(d.socket, 1);
	l.sock = d.socket;
	for (int i = 0; i < THREADS; i++) {
		w[i].l = &l;
		w[i].row = (size_t)i % g1.nrows;
		ck_assert_int_eq(pthread_create(&th[i], NULL, load_worker, &w[i]), 0);
	}
	tu_sleep_ms(slow(200));
	for (int i = 0; i < RELOADS; i++) {
		int want = i % 2 == 0 ? 2 : 1;

		write_conf(&d, &f, want == 2 ? "2" : "1");
		if (i % 2 == 0) {
			ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
			for (long t = 0; served_version(d.socket) != want; t += 20) {
				ck_assert_msg(t < slow(10000), "SIGHUP %d: version %d not served",
				              i, want);
				tu_sleep_ms(20);
			}
		} else {
			json_t *j = post(d.socket, "/v2/admin/reload", NULL, 200);
			json_t *m = json_array_get(json_object_get(j, "models"), 0);
			ck_assert_int_eq(atoi(json_string_value(json_object_get(m, "version"))),
			                 want);
			json_decref(j);
		}
		reloads++;
		/* Let requests flow on this version before the next swap. */
		tu_sleep_ms(slow(30));
	}
	atomic_store(&l.stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	printf("reload under load: %d reloads, %lu requests, %lu non-2xx, %lu dropped "
	       "connections (%lu answered by version 1, %lu by version 2, %lu wrong)\n",
	       reloads, atomic_load(&l.requests), atomic_load(&l.non2xx), atomic_load(&l.dropped),
	       atomic_load(&l.v1), atomic_load(&l.v2), atomic_load(&l.wrong));
	fflush(stdout);
	ck_assert_int_ge(reloads, 20);
	ck_assert_uint_gt(atomic_load(&l.requests), (unsigned long)THREADS);
	ck_assert_uint_eq(atomic_load(&l.non2xx), 0);
	ck_assert_uint_eq(atomic_load(&l.dropped), 0);
	ck_assert_uint_eq(atomic_load(&l.wrong), 0);
	ck_assert_uint_gt(atomic_load(&l.v1), 0);
	ck_assert_uint_gt(atomic_load(&l.v2), 0);
	stop(&d);
	fixture_free(&f);
}
END_TEST

/* --- (4) a broken new version is refused; the one before keeps serving --- */

/* The index entry of version v, or NULL. */
static json_t *index_entry(json_t *idx, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(idx, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "name")), MODEL) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "version")), v) == 0)
			return e;
	}
	return NULL;
}

START_TEST(test_bad_model_refused)
{
	struct fixture f;
	struct tu_daemon d;
	json_t *j, *e;
	const char *reason;

	fixture_init(&f);
	start(&d, &f, "\"latest\"");
	assert_serves(d.socket, 1);
	add_truncated(&f, 3);
	j = post(d.socket, "/v2/admin/reload", NULL, 200);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(j, "models"), 0), "version")),
	                 "1");
	json_decref(j);

	j = post(d.socket, "/v2/repository/index", NULL, 200);
	e = index_entry(j, "3");
	ck_assert_msg(e != NULL, "version 3 is not in the index");
	ck_assert_str_eq(json_string_value(json_object_get(e, "state")), "UNAVAILABLE");
	reason = json_string_value(json_object_get(e, "reason"));
	ck_assert_msg(reason != NULL && *reason != '\0', "no reason for the refusal");
	e = index_entry(j, "1");
	ck_assert_msg(e != NULL, "version 1 is not in the index");
	ck_assert_str_eq(json_string_value(json_object_get(e, "state")), "READY");
	json_decref(j);
	/* {"ready": true} lists only what can serve. */
	j = post(d.socket, "/v2/repository/index", "{\"ready\": true}", 200);
	ck_assert_ptr_null(index_entry(j, "3"));
	ck_assert_ptr_nonnull(index_entry(j, "1"));
	json_decref(j);
	j = post(d.socket, "/v2/repository/index", "{\"ready\": 1}", 400);
	json_decref(j);

	assert_serves(d.socket, 1);
	/* The repository extension: load re-reads the model, unload takes it away. */
	j = post(d.socket, "/v2/repository/models/" MODEL "/load", NULL, 200);
	json_decref(j);
	assert_serves(d.socket, 1);
	j = post(d.socket, "/v2/repository/models/" MODEL "/unload", NULL, 200);
	json_decref(j);
	j = get(d.socket, "/v2/models/" MODEL, 404);
	json_decref(j);
	j = post(d.socket, "/v2/repository/models/" MODEL "/unload", NULL, 404);
	json_decref(j);
	j = post(d.socket, "/v2/repository/models/nosuch/load", NULL, 404);
	json_decref(j);
	j = post(d.socket, "/v2/repository/models/" MODEL "/load", NULL, 200);
	json_decref(j);
	assert_serves(d.socket, 1);
	stop(&d);
	fixture_free(&f);
}
END_TEST

/* --- (5) a config with errors is refused as a whole --- */

START_TEST(test_bad_config_refused)
{
	struct fixture f;
	struct tu_daemon d;
	char *text, *want, *sha_before;
	const char *msg;
	json_t *j;

	fixture_init(&f);
	add_v2(&f);
	start(&d, &f, "1");
	j = get(d.socket, "/v2/admin/state", 200);
	sha_before = strdup(json_string_value(json_object_get(j, "config_sha256")));
	json_decref(j);
	/* Line 2 wants version 2 (valid alone); lines 3 and 5 are errors: nothing applies. */
	text = tu_xasprintf("socket = { path = \"%s\"; };\n"
	                    "models = ( { name = \"" MODEL "\"; version = 2; } );\n"
	                    "no_such_key = 1;\n"
	                    "repository = [ \"%s\" ];\n"
	                    "limits = { max_rows = 0; };\n"
	                    "server = { state_dir = \"%s\"; };\n",
	                    d.socket, f.repo, f.state);
	free(tu_write_file(d.dir, "inferd.conf", text));
	free(text);
	j = post(d.socket, "/v2/admin/reload", NULL, 400);
	msg = json_string_value(json_object_get(j, "error"));
	ck_assert_ptr_nonnull(msg);
	want = tu_xasprintf("at line 3 in file %s", d.config);
	ck_assert_msg(strstr(msg, want) != NULL, "no \"%s\" in: %s", want, msg);
	free(want);
	want = tu_xasprintf("at line 5 in file %s", d.config);
	ck_assert_msg(strstr(msg, want) != NULL, "no \"%s\" in: %s", want, msg);
	free(want);
	json_decref(j);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	tu_sleep_ms(slow(300));
	assert_serves(d.socket, 1);
	j = get(d.socket, "/v2/admin/state", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "config_sha256")), sha_before);
	json_decref(j);
	free(sha_before);
	stop(&d);
	fixture_free(&f);
}
END_TEST

/* --- (6) last known good, rollback, restart, clear --- */

static char *served_claim(const char *sock)
{
	json_t *j = get(sock, "/v2/admin/state", 200);
	json_t *c = json_pack("{s:O}", "models", json_object_get(j, "serving"));
	char *claim = json_dumps(c, JSON_COMPACT);

	json_decref(c);
	json_decref(j);
	ck_assert_ptr_nonnull(claim);
	return claim;
}

START_TEST(test_mark_good_and_rollback)
{
	struct fixture f;
	struct tu_daemon d;
	char *claim, *text, *path, *stale;
	json_t *j, *c;
	struct stat st;

	fixture_init(&f);
	start(&d, &f, "\"latest\"");
	/* No record yet: nothing to roll back to. */
	j = post(d.socket, "/v2/admin/rollback", NULL, 409);
	json_decref(j);
	assert_serves(d.socket, 1);
	claim = served_claim(d.socket);
	/* A stale claim (another sha256) is refused: compare-and-set. */
	stale = strdup(claim);
	*strstr(stale, "\"sha256\":\"") = '\0';
	text = tu_xasprintf("%s\"sha256\":\"%064d\"}]}", stale, 0);
	j = post(d.socket, "/v2/admin/mark-good", text, 409);
	ck_assert_ptr_nonnull(
	    strstr(json_string_value(json_object_get(j, "error")), "changed since the smoke test"));
	json_decref(j);
	free(text);
	free(stale);
	j = post(d.socket, "/v2/admin/mark-good", claim, 200);
	ck_assert_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(j, "models"), 0), "version")),
	                 "1");
	json_decref(j);
	path = tu_xasprintf("%s/last-known-good.json", f.state);
	ck_assert_int_eq(stat(path, &st), 0);
	free(path);

	/* Version 2 passes its own golden set but predicts differently. */
	add_v2(&f);
	j = post(d.socket, "/v2/admin/reload", NULL, 200);
	json_decref(j);
	assert_serves(d.socket, 2);
	/* The claim no longer matches what is served. */
	j = post(d.socket, "/v2/admin/mark-good", claim, 409);
	json_decref(j);
	/* A package upgrade overwrites version 1 in place: the snapshot still has it. */
	add_truncated(&f, 1);

	j = post(d.socket, "/v2/admin/rollback", NULL, 200);
	c = json_array_get(json_object_get(j, "changed"), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(json_string_value(json_object_get(c, "name")), MODEL);
	ck_assert_str_eq(json_string_value(json_object_get(c, "from")), "2");
	ck_assert_str_eq(json_string_value(json_object_get(c, "to")), "1");
	json_decref(j);
	assert_serves(d.socket, 1);
	j = get(d.socket, "/v2/admin/state", 200);
	ck_assert(json_is_true(json_object_get(j, "rolled_back")));
	ck_assert(json_is_object(json_object_get(j, "last_known_good")));
	json_decref(j);
	/* A reload while rolled back keeps the rollback. */
	j = post(d.socket, "/v2/admin/reload", NULL, 200);
	json_decref(j);
	assert_serves(d.socket, 1);

	/* A restart keeps serving the last known good set: rollback.json is in force. */
	stop(&d);
	start(&d, &f, "\"latest\"");
	assert_serves(d.socket, 1);
	j = get(d.socket, "/v2/admin/state", 200);
	ck_assert(json_is_true(json_object_get(j, "rolled_back")));
	json_decref(j);

	/* Cleared: back to the configuration's choice, the latest good version (2). */
	{
		char *body = NULL;
		ck_assert_int_eq(tu_http(d.socket, "DELETE", "/v2/admin/rollback", NULL, &body),
		                 200);
		free(body);
	}
	assert_serves(d.socket, 2);
	path = tu_xasprintf("%s/rollback.json", f.state);
	ck_assert_msg(stat(path, &st) < 0 && errno == ENOENT, "rollback.json is still there");
	free(path);
	j = get(d.socket, "/v2/admin/state", 200);
	ck_assert(json_is_false(json_object_get(j, "rolled_back")));
	json_decref(j);
	free(claim);
	stop(&d);
	fixture_free(&f);
}
END_TEST

/* A state directory that cannot be written: mark-good fails clearly, serving goes on. */
START_TEST(test_mark_good_unwritable_state)
{
	struct fixture f;
	struct tu_daemon d;
	char *claim, *text;
	const char *msg;
	json_t *j;

	fixture_init(&f);
	/* A file where the state directory should be: even root cannot create files in it. */
	free(tu_write_file(f.dir, "state", "not a directory\n"));
	start(&d, &f, "\"latest\"");
	claim = served_claim(d.socket);
	j = post(d.socket, "/v2/admin/mark-good", claim, 500);
	msg = json_string_value(json_object_get(j, "error"));
	ck_assert_msg(msg != NULL && strstr(msg, f.state) != NULL, "error does not name %s: %s",
	              f.state, msg ? msg : "");
	json_decref(j);
	text = slurp(f.state);
	ck_assert_str_eq(text, "not a directory\n");
	free(text);
	/* Not "no record": the state cannot be read at all, and that is said. */
	j = post(d.socket, "/v2/admin/rollback", NULL, 500);
	msg = json_string_value(json_object_get(j, "error"));
	ck_assert_msg(msg != NULL && strstr(msg, "Not a directory") != NULL, "%s", msg ? msg : "");
	json_decref(j);
	assert_serves(d.socket, 1);
	free(claim);
	stop(&d);
	fixture_free(&f);
}
END_TEST

/* --- (6b) a bad model overwritten in place: a restart serves the last known good --- */

/*
 * The leaf of tree 0 that golden row 0 reaches, walked here from the model's arrays as
 * XGBoost does (x < split_condition goes left, a missing value takes default_left).
 */
static size_t leaf_of_row0(json_t *tree)
{
	json_t *left = json_object_get(tree, "left_children");
	json_t *right = json_object_get(tree, "right_children");
	json_t *feat = json_object_get(tree, "split_indices");
	json_t *cond = json_object_get(tree, "split_conditions");
	json_t *defl = json_object_get(tree, "default_left");
	size_t node = 0;

	for (int steps = 0; steps < 1000; steps++) {
		json_int_t l = json_integer_value(json_array_get(left, node));
		size_t f;
		float x;

		if (l == -1)
			return node;
		f = (size_t)json_integer_value(json_array_get(feat, node));
		ck_assert_uint_lt(f, g1.ncols);
		x = g1.inputs[f];
		if (isnan(x))
			node = json_integer_value(json_array_get(defl, node))
			           ? (size_t)l
			           : (size_t)json_integer_value(json_array_get(right, node));
		else if (x < (float)json_number_value(json_array_get(cond, node)))
			node = (size_t)l;
		else
			node = (size_t)json_integer_value(json_array_get(right, node));
	}
	ck_abort_msg("tree 0 does not end in a leaf");
	return 0;
}

/*
 * What a bad package upgrade does: version 1's model.json overwritten in place, with the
 * leaf golden row 0 reaches moved by +3 in margin space (golden.json unchanged), so the
 * golden set no longer matches.
 */
static void overwrite_v1_wrong(const struct fixture *f)
{
	char *d = version_dir(f, 1), *text;
	json_error_t je;
	json_t *m = json_load_file(TU_BUNDLED_MODEL, 0, &je), *tree;
	size_t leaf;
	double w;

	ck_assert_msg(m != NULL, "bundled model: %s", je.text);
	tree = json_array_get(
	    json_object_get(
	        json_object_get(json_object_get(json_object_get(m, "learner"), "gradient_booster"),
	                        "model"),
	        "trees"),
	    0);
	ck_assert_ptr_nonnull(tree);
	leaf = leaf_of_row0(tree);
	w = json_number_value(json_array_get(json_object_get(tree, "split_conditions"), leaf));
	json_array_set_new(json_object_get(tree, "split_conditions"), leaf, json_real(w + 3.0));
	w = json_number_value(json_array_get(json_object_get(tree, "base_weights"), leaf));
	json_array_set_new(json_object_get(tree, "base_weights"), leaf, json_real(w + 3.0));
	text = json_dumps(m, JSON_COMPACT);
	ck_assert_ptr_nonnull(text);
	free(tu_write_file(d, "model.json", text));
	free(text);
	json_decref(m);
	free(d);
}

/* Runs inferd --check-config on config; returns its exit status, output in *out. */
static int check_config(const char *config, char **out)
{
	char *cmd =
	    tu_xasprintf("'%s/src/inferd' --check-config --config '%s' 2>&1", TOP_BUILDDIR, config);
	FILE *p = popen(cmd, "r");
	size_t cap = 0;
	int st;

	ck_assert_ptr_nonnull(p);
	*out = NULL;
	if (getdelim(out, &cap, '\0', p) < 0) {
		free(*out);
		*out = strdup("");
	}
	st = pclose(p);
	free(cmd);
	ck_assert_msg(WIFEXITED(st), "inferd --check-config did not exit: %d", st);
	return WEXITSTATUS(st);
}

/* The index rows of version v: the refused one and the served one, either may be NULL. */
static void index_rows(json_t *idx, const char *v, json_t **refused, json_t **ready)
{
	size_t i;
	json_t *e;

	*refused = *ready = NULL;
	json_array_foreach(idx, i, e)
	{
		const char *st = json_string_value(json_object_get(e, "state"));

		if (strcmp(json_string_value(json_object_get(e, "name")), MODEL) != 0 ||
		    strcmp(json_string_value(json_object_get(e, "version")), v) != 0)
			continue;
		if (json_is_true(json_object_get(e, "refused")))
			*refused = e;
		else if (st != NULL && strcmp(st, "READY") == 0)
			*ready = e;
	}
}

START_TEST(test_restart_falls_back_to_lkg)
{
	struct fixture f;
	struct notify n;
	char *sock, *conf, *log, *text, *m, *claim, *out, *lkg, *want;
	const char *env[4], *reason;
	json_t *j, *fb, *refused, *ready;
	int status;
	pid_t pid;

	fixture_init(&f);
	notify_open(&n, f.dir);
	sock = tu_xasprintf("%s/inferd.sock", f.dir);
	log = tu_xasprintf("%s/inferd.log", f.dir);
	text = conf_text(&f, sock, "\"latest\"", NULL);
	conf = tu_write_file(f.dir, "inferd.conf", text);
	env[0] = "NOTIFY_SOCKET";
	env[1] = n.path;
	env[2] = NULL;

	/* Version 1 serves and is marked good (its snapshot goes to the state directory). */
	pid = spawn_inferd(conf, log, env, NULL);
	ck_assert_msg(wait_ready(sock, pid, slow(10000)) == 0, "inferd did not start");
	assert_serves(sock, 1);
	claim = served_claim(sock);
	j = post(sock, "/v2/admin/mark-good", claim, 200);
	json_decref(j);
	free(claim);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	status = wait_exit(pid, slow(15000));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	while ((m = notify_next(&n, 10, NULL)) != NULL)
		free(m);

	overwrite_v1_wrong(&f);

	/* The check ExecStartPre= runs lets the daemon start, with a warning. */
	ck_assert_msg(check_config(conf, &out) == 0, "--check-config failed: %s", out);
	ck_assert_msg(strstr(out, MODEL ": configured version refused (") != NULL &&
	                  strstr(out, "golden set") != NULL &&
	                  strstr(out, "the daemon will serve last known good v1") != NULL,
	              "--check-config gave no fallback warning: %s", out);
	free(out);

	/* The restart: refused again, but ready on the snapshot, and it says so. */
	pid = spawn_inferd(conf, log, env, NULL);
	m = notify_next_event(&n, slow(10000), NULL, NULL);
	if (m == NULL)
		print_file(log);
	ck_assert_msg(m != NULL && strstr(m, "READY=1") != NULL, "no READY=1: %s",
	              m ? m : "nothing");
	ck_assert_msg(strstr(m, "STATUS=serving 1 model: " MODEL " v1 (sha256:") != NULL &&
	                  strstr(m, ", last known good)") != NULL,
	              "the status line does not say last known good: %s", m);
	free(m);
	ck_assert_int_eq(wait_ready(sock, pid, slow(10000)), 0);
	/* Real predictions: XGBoost's golden outputs for the original model. */
	assert_serves(sock, 1);

	j = get(sock, "/v2/admin/state", 200);
	fb = json_object_get(j, "fallback");
	ck_assert_msg(json_array_size(fb) == 1, "state.fallback: %s", json_dumps(j, JSON_COMPACT));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fb, 0), "name")), MODEL);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fb, 0), "version")), "1");
	reason = json_string_value(json_object_get(json_array_get(fb, 0), "reason"));
	ck_assert_msg(reason != NULL && strstr(reason, "golden set") != NULL, "reason: %s",
	              reason ? reason : "(none)");
	ck_assert(json_is_false(json_object_get(j, "rolled_back")));
	json_decref(j);

	j = post(sock, "/v2/repository/index", NULL, 200);
	index_rows(j, "1", &refused, &ready);
	ck_assert_msg(refused != NULL, "no refused row for version 1");
	ck_assert_str_eq(json_string_value(json_object_get(refused, "state")), "UNAVAILABLE");
	reason = json_string_value(json_object_get(refused, "reason"));
	ck_assert_msg(reason != NULL && strstr(reason, "golden set") != NULL, "reason: %s",
	              reason ? reason : "(none)");
	ck_assert_msg(ready != NULL, "no READY row for the last known good version 1");
	ck_assert_str_eq(json_string_value(json_object_get(ready, "reason")),
	                 "last known good (configured version refused)");
	json_decref(j);

	/* A reload that still finds the bad file keeps the snapshot serving, and says so. */
	j = post(sock, "/v2/admin/reload", NULL, 200);
	json_decref(j);
	assert_serves(sock, 1);
	j = get(sock, "/v2/admin/state", 200);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "fallback")), 1);
	json_decref(j);

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	status = wait_exit(pid, slow(15000));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);

	/* Without a record there is nothing to fall back to: no start, as before. */
	lkg = tu_xasprintf("%s/last-known-good.json", f.state);
	ck_assert_int_eq(unlink(lkg), 0);
	ck_assert_msg(check_config(conf, &out) == 1, "--check-config passed: %s", out);
	want = tu_xasprintf("model %s version latest (from the repository) failed to load", MODEL);
	ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in: %s", want, out);
	free(want);
	free(out);
	pid = spawn_inferd(conf, log, NULL, NULL);
	status = wait_exit(pid, slow(15000));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		print_file(log);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	              "inferd without a fallback: exit status %d, expected 1", status);

	free(lkg);
	close(n.fd);
	free(n.path);
	free(sock);
	free(conf);
	free(log);
	free(text);
	fixture_free(&f);
}
END_TEST

/* --- (7) admin endpoints need privilege; infer does not --- */

/* As uid/gid 65534, asks for admin state, reload and infer; exit code encodes the results. */
static int as_nobody(const char *sock, const char *req)
{
	char *body = NULL;
	int st_state, st_reload, st_infer, bad = 0;

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 100;
	st_state = tu_http(sock, "GET", "/v2/admin/state", NULL, &body);
	if (st_state == 403 && (body == NULL || strstr(body, "needs uid 0") == NULL))
		bad = 1;
	free(body);
	st_reload = tu_http(sock, "POST", "/v2/admin/reload", NULL, &body);
	free(body);
	st_infer = tu_http(sock, "POST", INFER, req, &body);
	free(body);
	if (bad)
		return 101;
	/* 0: all refused as expected; 1: all allowed; anything else is a mix. */
	if (st_infer != 200)
		return 102;
	if (st_state == 403 && st_reload == 403)
		return 0;
	if (st_state == 200 && st_reload == 200)
		return 1;
	return 103;
}

/*
 * The fork()ed child reaches everything through globals: valgrind checks the child's heap
 * when it exits, and what only the parent's stack pointed to would look lost.
 */
static struct fixture nf;
static struct tu_daemon nd;
static char *nobody_req;

static int run_as_nobody(const char *sock)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(as_nobody(sock, nobody_req));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_admin_needs_privilege)
{
	struct group *gr = getgrgid(65534);
	char *text;
	int rc;

	nobody_req = golden_body(0, 1);
	fixture_init(&nf);
	start(&nd, &nf, "\"latest\"");
	/* The socket is 0666 but lives in a 0700 temp dir: let others reach it. */
	ck_assert_int_eq(chmod(nd.dir, 0711), 0);
	rc = run_as_nobody(nd.socket);
	ck_assert_msg(rc == 0, "as uid 65534 without admin_group: result %d", rc);
	stop(&nd);

	/* The same peer in socket.admin_group is allowed. */
	ck_assert_msg(gr != NULL, "no group 65534 on this system");
	{
		char *extra = tu_xasprintf("admin_group = \"%s\";", gr->gr_name);
		text = conf_text(&nf, "@SOCKET@", "\"latest\"", extra);
		free(extra);
	}
	ck_assert_int_eq(tu_daemon_start(&nd, text), 0);
	free(text);
	ck_assert_int_eq(chmod(nd.dir, 0711), 0);
	rc = run_as_nobody(nd.socket);
	ck_assert_msg(rc == 1, "as uid 65534 in admin_group: result %d", rc);
	stop(&nd);
	fixture_free(&nf);
	free(nobody_req);
	nobody_req = NULL;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *t = tcase_create("daemon");
	SRunner *sr;
	char err[256];
	int failed, skipped = 0;

	if (golden_load(TU_BUNDLED_GOLDEN, &g1, err, sizeof err) < 0 || g1.margin == NULL) {
		fprintf(stderr, "cannot load the bundled golden set: %s\n", err);
		return EXIT_FAILURE;
	}
	v2_predict = calloc(g1.nrows, sizeof *v2_predict);
	v2_margin = calloc(g1.nrows, sizeof *v2_margin);
	if (v2_predict == NULL || v2_margin == NULL)
		return EXIT_FAILURE;
	for (size_t i = 0; i < g1.nrows; i++) {
		v2_margin[i] = g1.margin[i] + V2_SHIFT;
		v2_predict[i] = 1.0 / (1.0 + exp(-v2_margin[i]));
	}

	tcase_set_timeout(t, tu_wrapped() ? 1200 : 120);
	tcase_add_test(t, test_notify_protocol);
	if (socket_activate_bin() != NULL) {
		tcase_add_test(t, test_socket_activation);
	} else {
		printf("SKIP test_socket_activation: systemd-socket-activate is not installed\n");
		skipped++;
	}
	tcase_add_test(t, test_reload_under_load);
	tcase_add_test(t, test_bad_model_refused);
	tcase_add_test(t, test_bad_config_refused);
	tcase_add_test(t, test_mark_good_and_rollback);
	tcase_add_test(t, test_mark_good_unwritable_state);
	tcase_add_test(t, test_restart_falls_back_to_lkg);
	if (geteuid() == 0) {
		tcase_add_test(t, test_admin_needs_privilege);
	} else {
		printf("SKIP test_admin_needs_privilege: switching to uid 65534 needs root\n");
		skipped++;
	}
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	golden_free(&g1);
	free(v2_predict);
	free(v2_margin);
	if (failed)
		return EXIT_FAILURE;
	return skipped ? 77 : EXIT_SUCCESS;
}
