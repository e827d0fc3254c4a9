/* check_robust.c: a FIFO, socket, directory or device where inferd expects a file (a
 * version's model.json or golden.json, the config, an @include, a state file) is refused at
 * once with a reason naming the path, while the daemon keeps serving the golden answers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "golden.h"
#include "testutil.h"

#define MODEL "bc"
#define INFER "/v2/models/" MODEL "/infer"

/* The bundled golden set: XGBoost's own outputs for the model every test serves. */
static struct golden g1;

/* What takes the place of a file. */
enum kind { K_FIFO, K_SOCKET, K_DIR, K_ZERO, K_URANDOM, K_COUNT };
static const char *const kind_label[K_COUNT] = {"a FIFO", "a socket", "a directory", "/dev/zero",
                                                "/dev/urandom"};

/* Time limits stretch under valgrind. */
static long slow(long ms)
{
	return tu_wrapped() ? ms * 20 : ms;
}

/* The fixture: a repository holding version 1 (the bundled model and golden set). */
struct fixture {
	char *dir, *repo, *real_repo, *state;
	struct tu_daemon d;
	char *conf; /* the config text the daemon started with */
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

static void copy_file(const char *from, const char *dir, const char *name)
{
	char *text = slurp(from);

	free(tu_write_file(dir, name, text));
	free(text);
}

/* Removes whatever is at path: a file of any kind, or an empty directory. */
static void clear_path(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode))
		ck_assert_int_eq(rmdir(path), 0);
	else
		ck_assert_int_eq(unlink(path), 0);
}

/*
 * Puts kind k at path. A device is a device node when mknod() is allowed (root), else a
 * symlink to /dev/zero or /dev/urandom; returns true in that second case.
 */
static bool place(const char *path, enum kind k)
{
	clear_path(path);
	switch (k) {
	case K_FIFO:
		ck_assert_int_eq(mkfifo(path, 0600), 0);
		return false;
	case K_SOCKET: {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		ck_assert_int_ge(s, 0);
		ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
		strcpy(sa.sun_path, path);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
		close(s); /* the socket file stays */
		return false;
	}
	case K_DIR:
		ck_assert_int_eq(mkdir(path, 0700), 0);
		return false;
	case K_ZERO:
	case K_URANDOM:
	default: {
		const char *dev = k == K_ZERO ? "/dev/zero" : "/dev/urandom";

		if (mknod(path, S_IFCHR | 0600, makedev(1, k == K_ZERO ? 5 : 9)) == 0)
			return false;
		ck_assert_int_eq(symlink(dev, path), 0);
		return true;
	}
	}
}

/*
 * What the refusal must say. A device reached through a symlink is refused for being a
 * link where links are not followed (state files), for leading out of the repository
 * (files inside it), or for what it points at (the config and its includes).
 */
static const char *reason_for(enum kind k, bool linked, bool in_repo, bool nofollow)
{
	if (linked && in_repo)
		return "outside the configured repository roots";
	if (linked && nofollow)
		return "is a symbolic link";
	switch (k) {
	case K_FIFO:
		return "is a FIFO";
	case K_SOCKET:
		return "is a socket";
	case K_DIR:
		return "is a directory";
	default:
		return "is a character device";
	}
}

/*
 * One request with a short deadline: a daemon blocked on a file answers nothing and the
 * status is 0. Returns the status; *j gets the parsed JSON body (NULL when there is none).
 */
static int call(const struct fixture *f, const char *method, const char *path, const char *json,
                json_t **j)
{
	char *raw, *body = NULL;
	int st;

	if (json)
		raw =
		    tu_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		                 method, path, strlen(json), json);
	else
		raw = tu_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		                   "Content-Length: 0\r\n\r\n",
		                   method, path);
	st = tu_raw_request(f->d.socket, raw, strlen(raw), (int)slow(5000), &body);
	/* A daemon stuck on a file ignores SIGTERM too: kill it, so no failure leaves it. */
	if (st == 0) {
		kill(f->d.pid, SIGKILL);
		waitpid(f->d.pid, NULL, 0);
	}
	if (j)
		*j = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	free(raw);
	return st;
}

/* The golden inputs as one infer request body. */
static char *golden_body(void)
{
	size_t cap = 64 + g1.nrows * g1.ncols * 24, len = 0;
	char *data = malloc(cap), *body;

	ck_assert_ptr_nonnull(data);
	data[0] = '\0';
	for (size_t i = 0; i < g1.nrows * g1.ncols; i++) {
		float v = g1.inputs[i];

		len += (size_t)(isnan(v) ? snprintf(data + len, cap - len, "%snull", len ? "," : "")
		                         : snprintf(data + len, cap - len, "%s%.9g", len ? "," : "",
		                                    (double)v));
	}
	body = tu_xasprintf("{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                    "\"shape\":[%zu,%zu],\"data\":[%s]}],"
	                    "\"outputs\":[{\"name\":\"predict\"}]}",
	                    g1.nrows, g1.ncols, data);
	free(data);
	return body;
}

/* The daemon lives, is ready, and answers the golden inputs with XGBoost's outputs (v1). */
static void assert_serving(const struct fixture *f, const char *after)
{
	double tol = g1.tolerance > 1e-6 ? g1.tolerance : 1e-6;
	char *req = golden_body();
	json_t *j, *data;
	int st;

	ck_assert_msg(waitpid(f->d.pid, &st, WNOHANG) == 0, "inferd died after %s", after);
	st = call(f, "GET", "/v2/health/ready", NULL, NULL);
	ck_assert_msg(st == 200, "after %s: ready answered %d", after, st);
	st = call(f, "POST", INFER, req, &j);
	ck_assert_msg(st == 200 && j, "after %s: infer answered %d", after, st);
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
	data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
	ck_assert_uint_eq(json_array_size(data), g1.nrows);
	for (size_t i = 0; i < g1.nrows; i++) {
		double got = json_number_value(json_array_get(data, i));

		ck_assert_msg(fabs(got - g1.predict[i]) <= tol,
		              "after %s: row %zu predicts %.9g, XGBoost %.9g", after, i, got,
		              g1.predict[i]);
	}
	json_decref(j);
	free(req);
}

/* Asserts that text names path and says why (case aside: strerror capitalises). */
static void assert_reason(const char *text, const char *path, const char *why, const char *ctx)
{
	ck_assert_msg(text != NULL, "%s: no reason given", ctx);
	ck_assert_msg(strstr(text, path) != NULL, "%s: the reason does not name %s: %s", ctx, path,
	              text);
	ck_assert_msg(strcasestr(text, why) != NULL, "%s: the reason lacks \"%s\": %s", ctx, why,
	              text);
}

/* How many lines of the daemon's log contain needle. */
static int log_count(const struct fixture *f, const char *needle)
{
	char *path = tu_xasprintf("%s/inferd.log", f->d.dir), *text = slurp(path);
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	free(path);
	return n;
}

/* Waits until the log has more than n lines containing needle. */
static void wait_log(const struct fixture *f, const char *needle, int n, const char *ctx)
{
	for (long t = 0; log_count(f, needle) <= n; t += 20) {
		ck_assert_msg(t < slow(5000), "%s: no \"%s\" in the log", ctx, needle);
		tu_sleep_ms(20);
	}
}

static char *conf_text(const struct fixture *f, const char *sock, const char *extra)
{
	return tu_xasprintf("socket = { path = \"%s\"; mode = \"0600\"; };\n"
	                    "server = { state_dir = \"%s\"; };\n"
	                    "log_level = \"info\";\n"
	                    "repository = [ \"%s\" ];\n"
	                    "models = ( { name = \"" MODEL "\"; version = \"latest\"; "
	                    "tolerance = 1e-5; } );\n%s",
	                    sock, f->state, f->repo, extra ? extra : "");
}

/* Replaces the daemon's config through a rename, so no reload reads half a file. */
static void write_conf(const struct fixture *f, const char *extra)
{
	char *text = conf_text(f, f->d.socket, extra);
	char *tmp = tu_xasprintf("%s/next.conf", f->d.dir);
	FILE *fp = fopen(tmp, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(rename(tmp, f->d.config), 0);
	free(tmp);
	free(text);
}

static void start(struct fixture *f)
{
	char *v1, *text;

	f->dir = tu_mkdtemp();
	f->repo = tu_xasprintf("%s/repo", f->dir);
	f->state = tu_xasprintf("%s/state", f->dir);
	v1 = tu_xasprintf("%s/" MODEL "/1", f->repo);
	ck_assert_int_eq(mkdir(f->repo, 0700), 0);
	ck_assert_int_eq(mkdir(f->state, 0700), 0);
	text = tu_xasprintf("%s/" MODEL, f->repo);
	ck_assert_int_eq(mkdir(text, 0700), 0);
	free(text);
	ck_assert_int_eq(mkdir(v1, 0700), 0);
	copy_file(TU_BUNDLED_MODEL, v1, "model.json");
	copy_file(TU_BUNDLED_GOLDEN, v1, "golden.json");
	free(v1);
	/* Reasons name resolved paths: the temp dir may sit behind a symlink. */
	f->real_repo = realpath(f->repo, NULL);
	ck_assert_ptr_nonnull(f->real_repo);
	text = conf_text(f, "@SOCKET@", NULL);
	ck_assert_msg(tu_daemon_start(&f->d, text) == 0, "inferd did not start");
	free(text);
	assert_serving(f, "the start");
}

static void stop(struct fixture *f)
{
	/* SIGTERM is answered promptly: nothing ever blocked the event loop. */
	int st = tu_daemon_stop(&f->d);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->repo);
	free(f->real_repo);
	free(f->state);
}

/* The refused-versions entry of a reload answer for version v, or NULL. */
static json_t *refused_version(json_t *reload, const char *v)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(reload, "refused"), i, e)
	{
		const char *ev = json_string_value(json_object_get(e, "version"));

		if (ev && strcmp(ev, v) == 0)
			return e;
	}
	return NULL;
}

/*
 * Version 2 with kind k as its model.json (golden true: as its golden.json, next to a good
 * model): the reload answers at once, refuses version 2 naming the file, serves version 1.
 */
static void check_version_file(struct fixture *f, bool golden)
{
	const char *name = golden ? "golden.json" : "model.json";
	char *v2 = tu_xasprintf("%s/" MODEL "/2", f->repo);
	char *shown = tu_xasprintf("%s/" MODEL "/2/%s", f->real_repo, name);
	char *target = tu_xasprintf("%s/%s", v2, name);

	for (enum kind k = 0; k < K_COUNT; k++) {
		char ctx[128];
		json_t *j;
		bool linked;
		int st;

		snprintf(ctx, sizeof ctx, "%s as version 2's %s", kind_label[k], name);
		ck_assert_int_eq(mkdir(v2, 0700), 0);
		copy_file(golden ? TU_BUNDLED_MODEL : TU_BUNDLED_GOLDEN, v2,
		          golden ? "model.json" : "golden.json");
		linked = place(target, k);
		st = call(f, "POST", "/v2/admin/reload", NULL, &j);
		ck_assert_msg(st == 200, "%s: reload answered %d", ctx, st);
		assert_reason(json_string_value(json_object_get(refused_version(j, "2"), "reason")),
		              linked ? target : shown, reason_for(k, linked, true, true), ctx);
		json_decref(j);
		assert_serving(f, ctx);
		clear_path(target);
		tu_rmtree(v2);
	}
	free(target);
	free(shown);
	free(v2);
}

START_TEST(test_model_file)
{
	struct fixture f;

	start(&f);
	check_version_file(&f, false);
	stop(&f);
}
END_TEST

START_TEST(test_golden_file)
{
	struct fixture f;

	start(&f);
	check_version_file(&f, true);
	stop(&f);
}
END_TEST

/*
 * The config itself replaced by each kind: POST /v2/admin/reload is refused at once naming
 * the file, and so is a SIGHUP (the daemon answers right after it); the served set stays.
 */
START_TEST(test_config_file)
{
	struct fixture f;
	char *saved;

	start(&f);
	saved = tu_xasprintf("%s/saved.conf", f.d.dir);
	for (enum kind k = 0; k < K_COUNT; k++) {
		char ctx[128];
		json_t *j;
		bool linked;
		int st, n;

		snprintf(ctx, sizeof ctx, "%s as the config", kind_label[k]);
		ck_assert_int_eq(rename(f.d.config, saved), 0);
		linked = place(f.d.config, k);
		st = call(&f, "POST", "/v2/admin/reload", NULL, &j);
		ck_assert_msg(st == 400, "%s: reload answered %d", ctx, st);
		assert_reason(json_string_value(json_object_get(j, "error")), f.d.config,
		              reason_for(k, linked, false, false), ctx);
		json_decref(j);
		assert_serving(&f, ctx);
		n = log_count(&f, "has errors; keeping the current configuration");
		ck_assert_int_eq(kill(f.d.pid, SIGHUP), 0);
		wait_log(&f, "has errors; keeping the current configuration", n, ctx);
		assert_serving(&f, "a SIGHUP with it");
		clear_path(f.d.config);
		ck_assert_int_eq(rename(saved, f.d.config), 0);
	}
	/* The restored config reloads. */
	ck_assert_int_eq(call(&f, "POST", "/v2/admin/reload", NULL, NULL), 200);
	assert_serving(&f, "the restored config");
	free(saved);
	stop(&f);
}
END_TEST

/* An @include'd file replaced by each kind: the reload names the directive's file:line. */
START_TEST(test_include_file)
{
	struct fixture f;
	char *inc, *line, *real, *shown;
	int at;

	start(&f);
	inc = tu_write_file(f.d.dir, "extra.conf", "limits = { max_rows = 100000; };\n");
	/* The reason names the include as read: below the config's resolved directory. */
	real = realpath(f.d.dir, NULL);
	ck_assert_ptr_nonnull(real);
	shown = tu_xasprintf("%s/extra.conf", real);
	free(real);
	write_conf(&f, "\n@include \"extra.conf\"\n");
	/* conf_text's five lines, a blank one, then the directive. */
	at = 7;
	line = tu_xasprintf("at line %d in file %s", at, f.d.config);
	ck_assert_int_eq(call(&f, "POST", "/v2/admin/reload", NULL, NULL), 200);
	for (enum kind k = 0; k < K_COUNT; k++) {
		char ctx[128];
		json_t *j;
		bool linked;
		int st;
		const char *e;

		snprintf(ctx, sizeof ctx, "%s as an @include'd file", kind_label[k]);
		linked = place(inc, k);
		st = call(&f, "POST", "/v2/admin/reload", NULL, &j);
		ck_assert_msg(st == 400, "%s: reload answered %d", ctx, st);
		e = json_string_value(json_object_get(j, "error"));
		assert_reason(e, shown, reason_for(k, linked, false, false), ctx);
		ck_assert_msg(strstr(e, line) != NULL, "%s: no \"%s\" in %s", ctx, line, e);
		json_decref(j);
		assert_serving(&f, ctx);
	}
	clear_path(inc);
	free(tu_write_file(f.d.dir, "extra.conf", "limits = { max_rows = 100000; };\n"));
	ck_assert_int_eq(call(&f, "POST", "/v2/admin/reload", NULL, NULL), 200);
	free(line);
	free(shown);
	free(inc);
	stop(&f);
}
END_TEST

/*
 * The state files: last-known-good.json as each kind is reported by GET /v2/admin/state
 * and refuses a rollback, at once and naming it; rollback.json as each kind does not pin
 * the set (only a regular file does) and a reload goes through.
 */
START_TEST(test_state_files)
{
	struct fixture f;
	char *lkg, *flag;

	start(&f);
	lkg = tu_xasprintf("%s/last-known-good.json", f.state);
	flag = tu_xasprintf("%s/rollback.json", f.state);
	for (enum kind k = 0; k < K_COUNT; k++) {
		char ctx[128];
		const char *why;
		json_t *j;
		bool linked;
		int st;

		snprintf(ctx, sizeof ctx, "%s as last-known-good.json", kind_label[k]);
		linked = place(lkg, k);
		why = reason_for(k, linked, false, true);
		st = call(&f, "GET", "/v2/admin/state", NULL, &j);
		ck_assert_msg(st == 200, "%s: state answered %d", ctx, st);
		assert_reason(json_string_value(json_object_get(j, "last_known_good_error")), lkg,
		              why, ctx);
		json_decref(j);
		st = call(&f, "POST", "/v2/admin/rollback", NULL, &j);
		ck_assert_msg(st == 500, "%s: rollback answered %d", ctx, st);
		assert_reason(json_string_value(json_object_get(j, "error")), lkg, why, ctx);
		json_decref(j);
		assert_serving(&f, ctx);
		clear_path(lkg);

		snprintf(ctx, sizeof ctx, "%s as rollback.json", kind_label[k]);
		place(flag, k);
		st = call(&f, "POST", "/v2/admin/reload", NULL, &j);
		ck_assert_msg(st == 200, "%s: reload answered %d", ctx, st);
		ck_assert_msg(json_is_false(json_object_get(j, "rolled_back")), "%s: rolled back",
		              ctx);
		json_decref(j);
		assert_serving(&f, ctx);
		clear_path(flag);
	}
	free(lkg);
	free(flag);
	stop(&f);
}
END_TEST

/* --- memory goes back to the system after big requests and loads --- */

/* Allowed VmRSS over the baseline one second after a big request or load. */
#define RSS_BACK_MIB 16

static long rss_mib(pid_t pid)
{
	char path[64], line[256];
	FILE *fp;
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof line, fp))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	return kib < 0 ? -1 : kib / 1024;
}

/* Whether VmRSS can be judged: ASan's quarantine and valgrind keep freed memory. */
static bool rss_judged(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#else
	return !tu_wrapped();
#endif
}

/* Waits up to one second for VmRSS to come back near base; returns the last reading. */
static long rss_back(pid_t pid, long base, const char *what)
{
	long r = rss_mib(pid);

	for (int i = 0; i < 10 && r > base + RSS_BACK_MIB; i++) {
		tu_sleep_ms(100);
		r = rss_mib(pid);
	}
	printf("memory: %s: VmRSS %ld MiB one second after (baseline %ld MiB)\n", what, r, base);
	if (rss_judged())
		ck_assert_msg(r <= base + RSS_BACK_MIB,
		              "after %s VmRSS is %ld MiB, baseline %ld MiB (+%d allowed)", what, r,
		              base, RSS_BACK_MIB);
	return r;
}

/* A POST of body (taken) to path with a long deadline; returns the status. */
static int post_big(const struct fixture *f, const char *path, char *body, char **out)
{
	char *head = tu_xasprintf("POST %s HTTP/1.1\r\nHost: l\r\nConnection: close\r\n"
	                          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	                          path, strlen(body));
	size_t hl = strlen(head), bl = strlen(body);
	char *raw = malloc(hl + bl + 1);
	int st;

	ck_assert_ptr_nonnull(raw);
	memcpy(raw, head, hl);
	memcpy(raw + hl, body, bl + 1);
	st = tu_raw_request(f->d.socket, raw, hl + bl, (int)slow(60000), out);
	free(raw);
	free(head);
	free(body);
	return st;
}

/* The bundled model with its trees repeated to n (a big model; predictions differ). */
static void write_big_model(const char *dir, size_t n)
{
	json_t *m = json_load_file(TU_BUNDLED_MODEL, 0, NULL);
	json_t *model, *trees, *info, *orig;
	char num[32], *path;

	ck_assert_ptr_nonnull(m);
	model = json_object_get(json_object_get(json_object_get(m, "learner"), "gradient_booster"),
	                        "model");
	orig = json_deep_copy(json_object_get(model, "trees"));
	trees = json_array();
	info = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_deep_copy(json_array_get(orig, i % json_array_size(orig)));
		json_object_set_new(t, "id", json_integer((json_int_t)i));
		json_array_append_new(trees, t);
		json_array_append_new(info, json_integer(0));
	}
	json_object_set_new(model, "trees", trees);
	json_object_set_new(model, "tree_info", info);
	snprintf(num, sizeof num, "%zu", n);
	json_object_set_new(json_object_get(model, "gbtree_model_param"), "num_trees",
	                    json_string(num));
	path = tu_xasprintf("%s/model.json", dir);
	ck_assert_int_eq(json_dump_file(m, path, JSON_COMPACT), 0);
	free(path);
	json_decref(orig);
	json_decref(m);
}

/*
 * A 12 MB request of 3 million NaN values, one with 200,000 parameters, and the reload of
 * a 20,000-tree model (refused by the golden set of v1, since its predictions differ, or
 * served): after each, VmRSS is back within 16 MiB of the baseline within one second
 * (malloc_trim after a request over 1 MiB and after every build), and the golden set is
 * still served.
 */
START_TEST(test_memory_back)
{
	struct fixture f;
	struct tu_buf b = {0};
	long base;
	char *out = NULL, *v2;
	int st;

	start(&f);
	for (int i = 0; i < 10; i++)
		assert_serving(&f, "warm-up");
	base = rss_mib(f.d.pid);
	ck_assert_int_gt(base, 0);

	tu_buf_printf(&b, "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                  "\"shape\":[100000,30],\"data\":[NaN");
	for (int i = 1; i < 3000000; i++)
		tu_buf_add(&b, ",NaN", 4);
	tu_buf_add(&b, "]}]}", 5);
	st = post_big(&f, INFER, b.p, &out);
	ck_assert_msg(st == 200, "3M NaN: status %d %.200s", st, out ? out : "");
	free(out);
	out = NULL;
	rss_back(f.d.pid, base, "3 million NaN values");
	assert_serving(&f, "3 million NaN values");

	memset(&b, 0, sizeof b);
	tu_buf_printf(&b, "{\"parameters\":{\"k0\":0");
	for (int i = 1; i < 200000; i++)
		tu_buf_printf(&b, ",\"k%d\":0", i);
	tu_buf_printf(&b, "},\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
	                  "\"shape\":[1,30],\"data\":[");
	for (int i = 0; i < 30; i++)
		tu_buf_printf(&b, "%s1", i ? "," : "");
	tu_buf_add(&b, "]}]}", 5);
	st = post_big(&f, INFER, b.p, &out);
	/* Bounded before jansson builds the object: the 400 names the limit. */
	ck_assert_msg(st == 400 && out && strstr(out, "more than 4096 members"),
	              "parameters: status %d %.200s", st, out ? out : "");
	free(out);
	out = NULL;
	rss_back(f.d.pid, base, "200,000 parameters");
	assert_serving(&f, "200,000 parameters");

	v2 = tu_xasprintf("%s/" MODEL "/2", f.repo);
	ck_assert_int_eq(mkdir(v2, 0700), 0);
	/* Under valgrind a tenth: the point there is the memory errors, not the RSS. */
	write_big_model(v2, tu_wrapped() ? 2000 : 20000);
	st = post_big(&f, "/v2/admin/reload", strdup(""), &out);
	free(out);
	out = NULL;
	printf("memory: reload with a 20,000-tree version 2: status %d\n", st);
	ck_assert_msg(st == 200 || st == 400 || st == 422 || st == 409, "reload: status %d", st);
	/* The old version keeps serving when v2 is refused; its slot is freed either way. */
	tu_rmtree(v2);
	st = post_big(&f, "/v2/admin/reload", strdup(""), &out);
	ck_assert_msg(st == 200, "reload back to v1: status %d %.200s", st, out ? out : "");
	free(out);
	rss_back(f.d.pid, base, "a 20,000-tree model load");
	assert_serving(&f, "a 20,000-tree model load");
	free(v2);
	stop(&f);
}
END_TEST

/* --- reloads are built off the HTTP thread --- */

/*
 * While a 20,000-tree version 2 is parsed, validated and checked on the loader thread,
 * the HTTP thread keeps answering infer requests (version 1's answers), a second reload is
 * refused with 409 naming the one in progress, and the first reload's request is
 * answered 200 once the build is over, after which version 2 is served.
 */
START_TEST(test_reload_off_loop)
{
	struct fixture f;
	char *v2, *req = golden_body(), *out = NULL;
	int st, during = 0, busy409 = 0;
	pid_t child;

	start(&f);
	v2 = tu_xasprintf("%s/" MODEL "/2", f.repo);
	ck_assert_int_eq(mkdir(v2, 0700), 0);
	write_big_model(v2, tu_wrapped() ? 2000 : 20000);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		st = post_big(&f, "/v2/admin/reload", strdup(""), &out);
		_exit(st == 200 ? 0 : 1);
	}
	/* The build has begun once the daemon says so. */
	wait_log(&f, "(POST /v2/admin/reload)", 0, "the reload's start");
	for (;;) {
		json_t *j = NULL;
		int wst;

		if (waitpid(child, &wst, WNOHANG) == child) {
			ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
			              "the reload was not answered 200 (status %d)", wst);
			break;
		}
		st = call(&f, "POST", INFER, req, &j);
		ck_assert_msg(st == 200, "infer during the reload: %d", st);
		json_decref(j);
		if (waitpid(child, &wst, WNOHANG) == 0) {
			during++;
			if (busy409 == 0) {
				st = call(&f, "POST", "/v2/admin/reload", NULL, &j);
				if (st == 409) {
					const char *e =
					    json_string_value(json_object_get(j, "error"));
					ck_assert_msg(e && strstr(e, "in progress"),
					              "409 without the reason");
					busy409++;
				}
				json_decref(j);
			}
		} else {
			ck_assert_msg(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
			              "the reload was not answered 200 (status %d)", wst);
			break;
		}
	}
	printf("reload off the loop: %d infer requests answered during the build, %d second "
	       "reload refused\n",
	       during, busy409);
	ck_assert_int_gt(during, 0);
	ck_assert_int_eq(busy409, 1);
	ck_assert_int_eq(call(&f, "GET", "/v2/models/" MODEL "/versions/2/ready", NULL, NULL), 200);
	tu_rmtree(v2);
	free(v2);
	free(req);
	stop(&f);
}
END_TEST

/* --- fair connections: TCP cannot take the Unix socket's slots --- */

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

/* One keep-alive health check on fd: 1 when a 200 came back. */
static int live_once(int fd)
{
	static const char get[] = "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[1024];
	size_t n = 0;

	if (send(fd, get, sizeof get - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof get - 1))
		return 0;
	while (n < sizeof buf - 1) {
		ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "{\"live\":true}"))
			return strncmp(buf, "HTTP/1.1 200", 12) == 0;
	}
	return 0;
}

/*
 * The child: nconn keep-alive TCP clients, each sending a health check about every 20 ms
 * until SIGTERM. Exits 0 when every check was answered 200, 1 otherwise.
 */
static void tcp_clients(unsigned port, int nconn)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fds[64];

	signal(SIGTERM, SIG_DFL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < nconn; i++) {
		struct timeval tv = {10, 0};
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0)
			_exit(2);
	}
	for (;;) {
		for (int i = 0; i < nconn; i++) {
			if (!live_once(fds[i])) {
				fprintf(stderr, "tcp client %d: health check failed\n", i);
				_exit(1);
			}
		}
		usleep(20000);
	}
}

/* Runs inferctl with args on sock; returns its exit status. */
static int run_inferctl(const char *sock, const char *cmd)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execl(TOP_BUILDDIR "/src/inferctl", "inferctl", "--socket", sock, "--timeout", "60",
		      cmd, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int unix_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/*
 * 64 busy keep-alive TCP clients (max_connections = 64, so TCP is full) plus 64 idle
 * Unix clients (the Unix socket's ordinary slots full too): root's or the daemon's
 * inferctl ready and reload still succeed (the admin reserve), the TCP clients never miss
 * an answer, and a Unix newcomer past the reserve evicts an idle connection instead of
 * being refused.
 */
START_TEST(test_fair_connections)
{
	enum { N = 64 };
	struct tu_daemon d;
	char *state = tu_mkdtemp();
	unsigned port = free_port();
	char *conf = tu_xasprintf("socket = { path = \"@SOCKET@\"; };\n"
	                          "listen_tcp = \"127.0.0.1:%u\";\n"
	                          "limits = { max_connections = %d; connection_timeout = 60; };\n"
	                          "server = { state_dir = \"%s\"; };\n"
	                          "log_level = \"info\";\n"
	                          "models = ( { name = \"" MODEL "\"; path = \"@MODEL@\"; "
	                          "version = 1; golden = \"@GOLDEN@\"; } );\n",
	                          port, N, state);
	int idle[N + 8], st, evicted = 0;
	pid_t tcp;
	char *body = NULL;

	ck_assert_msg(tu_daemon_start(&d, conf) == 0, "inferd did not start");
	tcp = fork();
	ck_assert_int_ge(tcp, 0);
	if (tcp == 0)
		tcp_clients(port, N);
	tu_sleep_ms(tu_wrapped() ? 5000 : 500);
	/* The Unix socket's ordinary slots, all idle keep-alive connections. */
	for (int i = 0; i < N; i++) {
		idle[i] = unix_open(d.socket);
		ck_assert_msg(live_once(idle[i]), "unix client %d not served", i);
	}
	/* Root's (here: the daemon's uid's) admin calls get in: the reserve. */
	ck_assert_int_eq(run_inferctl(d.socket, "ready"), 0);
	ck_assert_int_eq(run_inferctl(d.socket, "reload"), 0);
	ck_assert_int_eq(tu_http(d.socket, "GET", "/v2/health/ready", NULL, &body), 200);
	free(body);
	/* Eight more held open fill the reserve; the next ones evict idle connections. */
	for (int i = N; i < N + 8; i++) {
		idle[i] = unix_open(d.socket);
		ck_assert_msg(live_once(idle[i]), "unix client %d not served", i);
	}
	ck_assert_int_eq(run_inferctl(d.socket, "ready"), 0);
	for (int i = 0; i < N + 8; i++) {
		struct pollfd p = {.fd = idle[i], .events = POLLIN};
		char c;
		if (poll(&p, 1, 0) == 1 && recv(idle[i], &c, 1, MSG_DONTWAIT) == 0)
			evicted++;
		close(idle[i]);
	}
	printf("fair: %d idle Unix connections evicted for newcomers\n", evicted);
	ck_assert_int_ge(evicted, 4);
	/* The TCP clients were answered all along. */
	ck_assert_int_eq(waitpid(tcp, &st, WNOHANG), 0);
	kill(tcp, SIGTERM);
	ck_assert_int_eq(waitpid(tcp, &st, 0), tcp);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
	              "the TCP clients stopped on their own (status %d): a check failed", st);
	st = tu_daemon_stop(&d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "inferd exit status %d", st);
	tu_rmtree(state);
	free(state);
	free(conf);
}
END_TEST

static Suite *robust_suite(void)
{
	Suite *s = suite_create("robust");
	TCase *t = tcase_create("files");

	tcase_set_timeout(t, tu_wrapped() ? 1200 : 120);
	tcase_add_test(t, test_model_file);
	tcase_add_test(t, test_golden_file);
	tcase_add_test(t, test_config_file);
	tcase_add_test(t, test_include_file);
	tcase_add_test(t, test_state_files);
	suite_add_tcase(s, t);
	t = tcase_create("connections");
	tcase_set_timeout(t, tu_wrapped() ? 1200 : 120);
	tcase_add_test(t, test_fair_connections);
	tcase_add_test(t, test_memory_back);
	tcase_add_test(t, test_reload_off_loop);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	char err[512];
	SRunner *sr;
	int failed;

	if (golden_load(TU_BUNDLED_GOLDEN, &g1, err, sizeof err) < 0) {
		fprintf(stderr, "check_robust: %s\n", err);
		return EXIT_FAILURE;
	}
	sr = srunner_create(robust_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	golden_free(&g1);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
