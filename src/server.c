/* server.c: the event loop: signals, reload, graceful stop, watchdog and the status line. */
#include <elf.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <nettle/version.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "repo.h"
#include "server.h"
#include "sock.h"
#include "state.h"
#include "sysd.h"

/* The status line lists models up to this length, then "...". */
#define STATUS_MAX 1024
/*
 * A stop waits this long after SIGTERM (or after a connection's last answer) for requests
 * that clients wrote right after connect() but that have not arrived yet.
 */
#define STOP_QUIET_NS 50000000u
#define STOP_POLL_MS  10

static struct {
	struct conf *conf;
	char *config_path; /* reread on SIGHUP; NULL = built-in default */
	int listen_fd;
	int tcp_fd;      /* listen_tcp, -1 when off */
	char *sock_path; /* set only when we created the socket file */
	dev_t sock_dev;
	ino_t sock_ino;
	int epfd, sigfd, timerfd;
	bool inited_sysd, inited_metrics, inited_repo, inited_http, blocked;
	sigset_t oldmask;
	bool socket_override; /* --socket given: the config's path is not ours to follow */
	bool stopping;
	bool rolled_back; /* serving the last-known-good set because rollback.json exists */
	uint64_t stop_deadline_ns;
	uint64_t last_status_ns;
} S = {.listen_fd = -1, .tcp_fd = -1, .epfd = -1, .sigfd = -1, .timerfd = -1};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * "serving 1 model: breast-cancer v1 (sha256:1a2b3c4d); 0 req, p99 0 ms", with
 * ", last known good" inside the parentheses of a model served from its fallback.
 */
static void status_line(char *buf, size_t len)
{
	struct repo_set *s = repo_acquire();
	size_t n = s ? s->n : 0, off;
	int w;

	w = snprintf(buf, len, "%sserving %zu model%s:",
	             S.rolled_back ? "rolled back to last known good; " : "", n, n == 1 ? "" : "s");
	off = w < 0 ? 0 : (size_t)w;
	for (size_t i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s %s v%s (sha256:%.8s%s)", i ? "," : "",
		             s->v[i].name, s->v[i].version, s->v[i].sha256,
		             s->v[i].fallback ? ", last known good" : "");
		if (w < 0 || (size_t)w >= len - off) {
			/* Keep room for the counters: cut the list short. */
			off = len > 64 ? len - 64 : 0;
			snprintf(buf + off, len - off, " ...");
			off += 4;
			break;
		}
		off += (size_t)w;
	}
	repo_release(s);
	if (off < len)
		snprintf(buf + off, len - off, "; %" PRIu64 " req, p99 %.3g ms",
		         metrics_requests_total(), (double)metrics_infer_quantile_ns(0.99) / 1e6);
}

static void notify_status(void)
{
	char st[STATUS_MAX];
	status_line(st, sizeof st);
	sysd_notify_status(st);
}

static void notify_ready(void)
{
	char st[STATUS_MAX];
	status_line(st, sizeof st);
	sysd_notify_ready(st);
}

static void log_models(const char *what)
{
	struct repo_set *s = repo_acquire();

	for (size_t i = 0; s && i < s->n; i++) {
		const struct log_field f[] = {{"MODEL", s->v[i].name},
		                              {"MODEL_VERSION", s->v[i].version}};
		log_fields(LOG_LVL_INFO, f, 2, "%s model %s version %s from %s (sha256 %s)", what,
		           s->v[i].name, s->v[i].version, s->v[i].path, s->v[i].sha256);
	}
	repo_release(s);
}

static void log_conf_errors(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		char buf[1024], line[24];
		const struct log_field f[] = {
		    {"CONFIG_FILE", errs->v[i].file ? errs->v[i].file : ""}, {"CONFIG_LINE", line}};
		snprintf(line, sizeof line, "%d", errs->v[i].line);
		log_fields(LOG_LVL_ERR, f, 2, "%s", conf_error_str(&errs->v[i], buf, sizeof buf));
	}
}

static int epoll_add(int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	return epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The tick drives the status line and the watchdog; it must be at most half the timeout. */
static int start_timer(void)
{
	uint64_t wd = sysd_watchdog_usec(), tick = 1000000;
	struct itimerspec its;

	if (wd > 0 && wd / 2 < tick)
		tick = wd / 2 > 1000 ? wd / 2 : 1000;
	its.it_interval.tv_sec = (time_t)(tick / 1000000);
	its.it_interval.tv_nsec = (long)(tick % 1000000) * 1000;
	its.it_value = its.it_interval;
	S.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (S.timerfd < 0 || timerfd_settime(S.timerfd, 0, &its, NULL) < 0)
		return -errno;
	return epoll_add(S.timerfd);
}

static int open_socket(const struct server_opts *o, const struct conf *c)
{
	const char *path = o->socket_path ? o->socket_path : c->socket_path;
	char err[256] = "";
	struct stat st;
	int fd = sysd_listen_fd();

	if (fd >= 0) {
		/* Socket activation: systemd owns the file; never unlink it. */
		log_info("listening on the socket passed by systemd (fd %d)", fd);
		S.listen_fd = fd;
		return 0;
	}
	if (fd != -ENOENT) {
		log_err("socket activation: unusable sockets passed: %s", strerror(-fd));
		return fd;
	}
	if (path == NULL || *path == '\0') {
		log_err("no socket path configured");
		return -EINVAL;
	}
	fd = sock_listen_unix(path, c->socket_mode, c->socket_group, SOMAXCONN, err, sizeof err);
	if (fd < 0) {
		log_err("cannot listen on %s: %s", path, err[0] ? err : strerror(-fd));
		return fd;
	}
	S.listen_fd = fd;
	S.sock_path = strdup(path);
	if (S.sock_path == NULL)
		return -ENOMEM;
	/* Remember which file we made, so that we never remove somebody else's. */
	if (lstat(path, &st) == 0) {
		S.sock_dev = st.st_dev;
		S.sock_ino = st.st_ino;
	}
	log_info("listening on %s", path);
	return 0;
}

/* listen_tcp: an extra listener without peer credentials (no admin routes there). */
static int open_tcp(const struct conf *c)
{
	char err[256] = "";
	int fd;

	if (c->listen_tcp == NULL)
		return 0;
	fd = sock_listen_tcp(c->listen_tcp, SOMAXCONN, err, sizeof err);
	if (fd < 0) {
		log_err("cannot listen on TCP %s: %s", c->listen_tcp, err[0] ? err : strerror(-fd));
		return fd;
	}
	S.tcp_fd = fd;
	log_info("listening on TCP %s (repository and admin endpoints only on the Unix socket)",
	         c->listen_tcp);
	return 0;
}

/* --- building and publishing sets --- */

/* "name version: reason" of every refusal of the last build, joined by "; ". */
static void describe_refusals(char *buf, size_t len)
{
	struct repo_index idx = {0};
	size_t off = strlen(buf);

	(void)repo_index_get(&idx);
	for (size_t i = 0; i < idx.n; i++) {
		const struct repo_index_row *v = &idx.v[i];
		int w;

		if (!v->refused || off >= len)
			continue;
		w = snprintf(buf + off, len - off, "%s%s version %s: %s", off ? "; " : "", v->name,
		             v->version, v->reason);
		off = w < 0 ? len : off + (size_t)w;
	}
	repo_index_free(&idx);
}

/* Reads the last-known-good record and checks its snapshots. 0 or -errno with a reason. */
static int read_lkg(const char *state_dir, struct state_lkg *l, char *err, size_t errlen)
{
	int rc = state_lkg_read(state_dir, l, err, errlen);

	if (rc == 0 && (rc = state_lkg_verify(l, err, errlen)) < 0)
		state_lkg_free(l);
	return rc;
}

/* The pins of l (NULL when it has none); NULL with -ENOMEM in *rc when out of memory. */
static struct repo_pin *lkg_pins(const struct state_lkg *l, int *rc)
{
	struct repo_pin *pins;

	*rc = 0;
	if (l == NULL || l->n == 0)
		return NULL;
	pins = calloc(l->n, sizeof *pins);
	if (pins == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	state_lkg_pins(l, pins);
	return pins;
}

/*
 * Builds a complete set for c aside. With keep, models that fail keep their served
 * version; with lkg, its snapshots are served for the models it names; with fallback
 * (startup only, without keep), a model whose configured files are all refused is served
 * from fallback's snapshot of it. Nothing is published. 0 or -errno with the reasons in err.
 */
static int build_set(const struct conf *c, const struct state_lkg *lkg,
                     const struct state_lkg *fallback, bool keep, const char *only,
                     const char *drop, struct repo_set **out, char *err, size_t errlen)
{
	struct repo_build_opts o = {.only = only, .drop = drop};
	struct repo_set *cur = keep ? repo_acquire() : NULL;
	struct repo_pin *pins, *fpins;
	int rc, frc;

	pins = lkg_pins(lkg, &rc);
	fpins = lkg_pins(fallback, &frc);
	if (rc < 0 || frc < 0) {
		free(pins);
		free(fpins);
		repo_release(cur);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o.pins = pins;
	o.n_pins = pins != NULL ? lkg->n : 0;
	o.fallback = fpins;
	o.n_fallback = fpins != NULL ? fallback->n : 0;
	o.current = cur;
	rc = repo_build(c, &o, out);
	if (rc < 0) {
		err[0] = '\0';
		describe_refusals(err, errlen);
		if (err[0] == '\0')
			snprintf(err, errlen, "%s", strerror(-rc));
	}
	free(pins);
	free(fpins);
	repo_release(cur);
	return rc;
}

static json_t *serving_json(const struct repo_set *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && s && i < s->n; i++)
		json_array_append_new(a,
		                      json_pack("{s:s, s:s, s:s}", "name", s->v[i].name, "version",
		                                s->v[i].version, "sha256", s->v[i].sha256));
	return a;
}

/* One index row as the model-repository extension shows it. */
static json_t *index_row_json(const struct repo_index_row *v)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", v->name, "version", v->version,
	                 "state", v->ready ? "READY" : "UNAVAILABLE", "reason", v->reason,
	                 "refused", v->refused);
}

/* The refused versions of the last build (the index without the READY ones). */
static json_t *refused_json(void)
{
	struct repo_index idx = {0};
	json_t *out = json_array();

	(void)repo_index_get(&idx);
	for (size_t i = 0; out && i < idx.n; i++)
		if (idx.v[i].refused)
			json_array_append_new(out, index_row_json(&idx.v[i]));
	repo_index_free(&idx);
	return out;
}

static json_t *error_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_json(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* Error text may quote file contents: keep it valid UTF-8 for jansson. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return json_pack("{s:s}", "error", buf);
}

/* Publishes set, logs what is served, and answers READY with the new status line. */
static void publish(struct repo_set *set, const char *what)
{
	repo_publish(set);
	log_models(what);
}

/* Applies a new config that has just been served; takes ownership of nc. */
static void adopt_conf(struct conf *nc)
{
	http_reconfigure(nc);
	log_set_level(nc->log_level);
	if (!S.socket_override && S.conf->socket_path != NULL && nc->socket_path != NULL &&
	    strcmp(S.conf->socket_path, nc->socket_path) != 0)
		log_warn("reload: a new socket path takes effect after a restart");
	if ((S.conf->listen_tcp == NULL) != (nc->listen_tcp == NULL) ||
	    (nc->listen_tcp != NULL && strcmp(S.conf->listen_tcp, nc->listen_tcp) != 0))
		log_warn("reload: a new listen_tcp takes effect after a restart");
	conf_free(S.conf);
	S.conf = nc;
}

/* Reads the config anew (the built-in default when there is no file). 0 or -errno. */
static int reread_conf(struct conf **nc, char *err, size_t errlen)
{
	struct conf_errors errs = {0};
	size_t off = 0;
	int rc;

	if (S.config_path == NULL) {
		rc = conf_default(nc);
		if (rc < 0)
			snprintf(err, errlen, "built-in default: %s", strerror(-rc));
		return rc;
	}
	rc = conf_load(S.config_path, nc, &errs);
	if (rc < 0) {
		/* Every error, each with its line, so one round trip fixes them all. */
		log_conf_errors(&errs);
		err[0] = '\0';
		for (size_t i = 0; i < errs.n && off < errlen; i++) {
			char buf[1024];
			int w = snprintf(err + off, errlen - off, "%s%s", i ? "; " : "",
			                 conf_error_str(&errs.v[i], buf, sizeof buf));
			off = w < 0 ? errlen : off + (size_t)w;
		}
		if (errs.n == 0)
			snprintf(err, errlen, "cannot read %s: %s", S.config_path, strerror(-rc));
		*nc = NULL;
	}
	conf_errors_clear(&errs);
	return rc;
}

/*
 * SIGHUP and POST /v2/admin/reload: reread the config, build and validate everything aside,
 * swap only when all of it is good. While a rollback is in force, the last-known-good
 * snapshots keep being served for the models they name. Returns the HTTP status.
 */
static int reload(const char *trigger, json_t **out)
{
	const struct log_field f[] = {{"CONFIG_FILE", S.config_path ? S.config_path : ""}};
	char err[8192] = "";
	struct conf *nc = NULL;
	struct state_lkg lkg = {0};
	struct repo_set *set = NULL;
	bool pinned;
	int rc;

	sysd_notify_reloading("reloading configuration");
	log_fields(LOG_LVL_INFO, f, 1, "reloading %s (%s)",
	           S.config_path ? S.config_path : "the built-in default", trigger);
	rc = reread_conf(&nc, err, sizeof err);
	if (rc < 0) {
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: %s has errors; keeping the current configuration and models",
		           S.config_path ? S.config_path : "the built-in default");
		notify_ready();
		*out = error_json("configuration refused, nothing changed: %s", err);
		return 400;
	}
	pinned = state_rollback_active(nc->state_dir);
	if (pinned && read_lkg(nc->state_dir, &lkg, err, sizeof err) < 0) {
		log_err("reload: a rollback is in force but the last-known-good set is unusable "
		        "(%s); keeping the current models",
		        err);
		conf_free(nc);
		notify_ready();
		*out = error_json("rollback in force but the last-known-good set is unusable, "
		                  "nothing changed: %s",
		                  err);
		return 500;
	}
	rc = build_set(nc, pinned ? &lkg : NULL, NULL, true, NULL, NULL, &set, err, sizeof err);
	state_lkg_free(&lkg);
	if (rc < 0) {
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: a model failed to load (%s); keeping the current models", err);
		conf_free(nc);
		notify_ready();
		*out = error_json("a model failed to load, nothing changed: %s", err);
		return 400;
	}
	publish(set, pinned ? "reloaded (rollback in force):" : "reloaded:");
	adopt_conf(nc);
	S.rolled_back = pinned;
	notify_ready();
	set = repo_acquire();
	*out = json_pack("{s:o, s:o, s:b}", "models", serving_json(set), "refused", refused_json(),
	                 "rolled_back", S.rolled_back);
	repo_release(set);
	return 200;
}

static void reload_on_signal(void)
{
	json_t *ignored = NULL;

	(void)reload("SIGHUP", &ignored);
	json_decref(ignored);
}

int server_admin_reload(json_t **out)
{
	if (S.stopping) {
		*out = error_json("the daemon is stopping");
		return 503;
	}
	return reload("POST /v2/admin/reload", out);
}

int server_repo_load(const char *name, json_t **out)
{
	struct state_lkg lkg = {0};
	struct repo_set *set = NULL;
	char err[4096] = "";
	int rc;

	if (conf_find_model(S.conf, name) == NULL) {
		*out = error_json("model %s is not in the configuration (%s)", name,
		                  S.config_path ? S.config_path : "built-in default");
		return 404;
	}
	sysd_notify_reloading("loading a model");
	if (S.rolled_back && read_lkg(S.conf->state_dir, &lkg, err, sizeof err) < 0) {
		notify_ready();
		*out = error_json("rollback in force but the last-known-good set is unusable: %s",
		                  err);
		return 500;
	}
	rc = build_set(S.conf, S.rolled_back ? &lkg : NULL, NULL, true, name, NULL, &set, err,
	               sizeof err);
	state_lkg_free(&lkg);
	if (rc < 0) {
		const struct log_field f[] = {{"MODEL", name}};
		log_fields(LOG_LVL_ERR, f, 1, "repository load of %s refused: %s", name, err);
		notify_ready();
		*out = error_json("model %s cannot be loaded: %s", name, err);
		return 400;
	}
	publish(set, "serving (repository load):");
	notify_ready();
	*out = json_object();
	return 200;
}

int server_repo_unload(const char *name, json_t **out)
{
	struct repo_set *cur = repo_acquire(), *set = NULL;
	bool served = repo_find(cur, name, NULL) != NULL;
	char err[4096] = "";
	int rc;

	repo_release(cur);
	if (!served) {
		*out = error_json("model %s is not served", name);
		return 404;
	}
	sysd_notify_reloading("unloading a model");
	rc = build_set(S.conf, NULL, NULL, true, NULL, name, &set, err, sizeof err);
	if (rc < 0) {
		notify_ready();
		*out = error_json("cannot unload %s: %s", name, err);
		return 500;
	}
	publish(set, "serving (repository unload):");
	{
		const struct log_field f[] = {{"MODEL", name}};
		log_fields(LOG_LVL_NOTICE, f, 1, "model %s unloaded", name);
	}
	notify_ready();
	*out = json_object();
	return 200;
}

/* --- last known good --- */

/* Appends a difference to buf ("; "-separated). */
static void diff_add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diff_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off + 3 >= len)
		return;
	if (off > 0) {
		memcpy(buf + off, "; ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
}

/*
 * Parses the mark-good body strictly and compares it with s. 0 when equal; -EINVAL with
 * the reason for a malformed body; -ESTALE with every difference when s differs.
 */
static int compare_claim(const char *body, size_t len, const struct repo_set *s, char *err,
                         size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je), *models, *m;
	const char *k;
	json_t *v;
	size_t i;
	int rc = 0;

	err[0] = '\0';
	if (j == NULL) {
		snprintf(err, errlen, "request body: line %d column %d: %s", je.line, je.column,
		         je.text);
		return -EINVAL;
	}
	models = json_object_get(j, "models");
	if (!json_is_object(j) || !json_is_array(models)) {
		snprintf(err, errlen,
		         "request body must be {\"models\": [{\"name\", \"version\", "
		         "\"sha256\"}, ...]}");
		json_decref(j);
		return -EINVAL;
	}
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "models") != 0) {
			snprintf(err, errlen, "request body: unknown key \"%.64s\"", k);
			json_decref(j);
			return -EINVAL;
		}
	}
	json_array_foreach(models, i, m)
	{
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *ver = json_string_value(json_object_get(m, "version"));
		const char *sha = json_string_value(json_object_get(m, "sha256"));

		if (!json_is_object(m) || name == NULL || ver == NULL || sha == NULL ||
		    json_object_size(m) != 3) {
			snprintf(err, errlen,
			         "models[%zu] must be {\"name\", \"version\", \"sha256\"} "
			         "strings and nothing else",
			         i);
			json_decref(j);
			return -EINVAL;
		}
	}
	/* Both directions: every claimed model is served as claimed, nothing else is served. */
	json_array_foreach(models, i, m)
	{
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *ver = json_string_value(json_object_get(m, "version"));
		const char *sha = json_string_value(json_object_get(m, "sha256"));
		const struct repo_entry *e = repo_find(s, name, ver);
		const struct repo_entry *any = repo_find(s, name, NULL);

		if (e == NULL && any == NULL)
			diff_add(err, errlen, "%.64s is not served", name);
		else if (e == NULL)
			diff_add(err, errlen, "%.64s is served at version %s, not %.64s", name,
			         any->version, ver);
		else if (strcmp(e->sha256, sha) != 0)
			diff_add(err, errlen,
			         "%.64s version %s is served with sha256 %.12s, not %.12s", name,
			         ver, e->sha256, sha);
	}
	for (size_t n = 0; s && n < s->n; n++) {
		bool claimed = false;
		json_array_foreach(models, i, m)
		{
			if (strcmp(json_string_value(json_object_get(m, "name")), s->v[n].name) ==
			        0 &&
			    strcmp(json_string_value(json_object_get(m, "version")),
			           s->v[n].version) == 0)
				claimed = true;
		}
		if (!claimed)
			diff_add(err, errlen, "%s version %s is served but not in the request",
			         s->v[n].name, s->v[n].version);
	}
	if (json_array_size(models) != (s ? s->n : 0) && err[0] == '\0')
		diff_add(err, errlen, "the request lists a model twice");
	if (err[0] != '\0')
		rc = -ESTALE;
	json_decref(j);
	return rc;
}

/* 507 when the disk is full, 500 for any other failure to write the state directory. */
static int storage_status(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT ? 507 : 500;
}

int server_mark_good(const char *body, size_t len, json_t **out)
{
	struct repo_set *s = repo_acquire();
	char err[4096];
	char *rec = NULL;
	int rc;

	rc = compare_claim(body, len, s, err, sizeof err);
	if (rc == -EINVAL) {
		repo_release(s);
		*out = error_json("%s", err);
		return 400;
	}
	if (rc < 0) {
		repo_release(s);
		log_warn("mark-good refused: the served set changed since the smoke test: %s", err);
		*out = error_json("the served set changed since the smoke test: %s", err);
		return 409;
	}
	rc = state_mark_good(S.conf->state_dir, S.config_path, S.conf->sha256, s, &rec, err,
	                     sizeof err);
	repo_release(s);
	if (rc < 0) {
		log_err("cannot record the last known good set: %s", err);
		*out = error_json("cannot record the last known good set (the previous record is "
		                  "unchanged): %s",
		                  err);
		return storage_status(rc);
	}
	log_notice("recorded the served set as last known good in %s/%s", S.conf->state_dir,
	           STATE_LKG_FILE);
	*out = json_loads(rec, 0, NULL);
	free(rec);
	return 200;
}

/* What a rollback changes: {"name", "from", "to"} for each model whose bytes differ. */
static json_t *changes_json(const struct repo_set *old, const struct repo_set *nw)
{
	json_t *a = json_array();

	for (size_t i = 0; a && nw && i < nw->n; i++) {
		const struct repo_entry *e = &nw->v[i], *o = NULL;
		for (size_t k = 0; old && k < old->n && o == NULL; k++)
			if (strcmp(old->v[k].name, e->name) == 0)
				o = &old->v[k];
		if (o != NULL && strcmp(o->version, e->version) == 0 &&
		    strcmp(o->sha256, e->sha256) == 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:s?, s:s}", "name", e->name,
		                                   "from", o ? o->version : NULL, "to", e->version,
		                                   "from_sha256", o ? o->sha256 : NULL, "to_sha256",
		                                   e->sha256));
	}
	return a;
}

int server_rollback(json_t **out)
{
	struct state_lkg lkg = {0};
	struct repo_set *set = NULL, *old;
	char err[4096], *flag;
	json_t *fj;
	int rc;

	rc = state_lkg_read(S.conf->state_dir, &lkg, err, sizeof err);
	if (rc == -ENOENT) {
		*out = error_json("%s: mark a set good first", err);
		return 409;
	}
	if (rc == 0 && (rc = state_lkg_verify(&lkg, err, sizeof err)) < 0)
		state_lkg_free(&lkg);
	if (rc < 0) {
		log_err("rollback refused: %s", err);
		*out = error_json("cannot roll back: %s", err);
		return 500;
	}
	sysd_notify_reloading("rolling back to last known good");
	/* No fallback to the served versions: a rollback is all of the record or nothing. */
	rc = build_set(S.conf, &lkg, NULL, false, NULL, NULL, &set, err, sizeof err);
	if (rc < 0) {
		state_lkg_free(&lkg);
		log_err("rollback refused: the last-known-good set does not validate: %s", err);
		notify_ready();
		*out = error_json("cannot roll back: the last-known-good set does not validate: %s",
		                  err);
		return 500;
	}
	/* The flag first: a rollback that would not survive a restart is not done. */
	fj = json_pack("{s:s, s:s, s:o}", "last_known_good_time", lkg.time, "reason",
	               "POST /v2/admin/rollback", "models", serving_json(set));
	flag = fj ? json_dumps(fj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(fj);
	rc = flag ? state_rollback_set(S.conf->state_dir, flag, err, sizeof err) : -ENOMEM;
	free(flag);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(err, sizeof err, "out of memory");
		state_lkg_free(&lkg);
		repo_set_free(set);
		log_err("rollback refused: %s", err);
		notify_ready();
		*out = error_json("cannot roll back (nothing changed): %s", err);
		return storage_status(rc);
	}
	old = repo_acquire();
	*out = json_pack("{s:o, s:o, s:s}", "changed", changes_json(old, set), "serving",
	                 serving_json(set), "last_known_good_time", lkg.time);
	repo_release(old);
	publish(set, "rolled back:");
	S.rolled_back = true;
	log_notice("rolled back to the last known good set recorded %s; %s/%s keeps it across "
	           "restarts until cleared",
	           lkg.time, S.conf->state_dir, STATE_ROLLBACK_FILE);
	state_lkg_free(&lkg);
	notify_ready();
	return 200;
}

int server_rollback_clear(json_t **out)
{
	char err[1024];
	int rc;

	if (S.stopping) {
		*out = error_json("the daemon is stopping");
		return 503;
	}
	rc = state_rollback_clear(S.conf->state_dir, err, sizeof err);
	if (rc < 0) {
		*out = error_json("cannot clear the rollback: %s", err);
		return 500;
	}
	log_notice("rollback cleared; serving from the configuration again");
	S.rolled_back = false;
	return reload("DELETE /v2/admin/rollback", out);
}

static json_t *lkg_json(const struct state_lkg *l)
{
	json_t *models = json_array();

	for (size_t i = 0; models && i < l->n; i++)
		json_array_append_new(
		    models,
		    json_pack("{s:s, s:s, s:s, s:s?, s:s}", "name", l->models[i].name, "version",
		              l->models[i].version, "sha256", l->models[i].sha256, "golden_sha256",
		              l->models[i].golden_sha256, "snapshot", l->models[i].snapshot));
	return json_pack("{s:s, s:s?, s:s, s:o}", "time", l->time, "config_file", l->config_file,
	                 "config_sha256", l->config_sha256, "models", models);
}

/*
 * The models served from their last-known-good snapshot because the configured files were
 * refused at startup: [{"name", "version", "reason"}], the reason naming each refusal.
 */
static json_t *fallback_json(const struct repo_set *s)
{
	struct repo_index idx = {0};
	bool have_idx = false;
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && s != NULL && i < s->n; i++) {
		char why[2048];
		size_t off, base;
		int w;

		if (!s->v[i].fallback)
			continue;
		if (!have_idx) {
			(void)repo_index_get(&idx);
			have_idx = true;
		}
		w = snprintf(why, sizeof why, "configured version refused");
		off = base = w < 0 ? 0 : (size_t)w;
		for (size_t k = 0; k < idx.n; k++) {
			const struct repo_index_row *v = &idx.v[k];

			if (!v->refused || strcmp(v->name, s->v[i].name) != 0 || off >= sizeof why)
				continue;
			w = snprintf(why + off, sizeof why - off, "%sversion %s: %s",
			             off > base ? "; " : ": ", v->version, v->reason);
			off = w < 0 ? sizeof why : off + (size_t)w;
		}
		/* Cut short, a multi-byte character may be split: keep it valid UTF-8. */
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", s->v[i].name,
		                                   "version", s->v[i].version, "reason", why));
	}
	repo_index_free(&idx);
	return a;
}

int server_admin_state(json_t **out)
{
	struct state_lkg lkg = {0};
	struct repo_set *s = repo_acquire();
	char err[1024];
	int rc = state_lkg_read(S.conf->state_dir, &lkg, err, sizeof err);

	*out = json_pack("{s:s?, s:s, s:s, s:o, s:o, s:b, s:o}", "config_file", S.config_path,
	                 "config_sha256", S.conf->sha256, "state_dir", S.conf->state_dir, "serving",
	                 serving_json(s), "last_known_good", rc == 0 ? lkg_json(&lkg) : json_null(),
	                 "rolled_back", S.rolled_back, "fallback", fallback_json(s));
	/* A corrupt record is shown as such, never as if it were absent. */
	if (*out != NULL && rc < 0 && rc != -ENOENT)
		json_object_set_new(*out, "last_known_good_error", json_string(err));
	state_lkg_free(&lkg);
	repo_release(s);
	return 200;
}

/* --- fingerprint --- */

struct note_scan {
	char hex[2 * 64 + 1]; /* "" until found */
};

/* Finds NT_GNU_BUILD_ID in the PT_NOTE segments of the first object: the executable. */
static int scan_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
	struct note_scan *ns = data;

	(void)size;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		size_t left = ph->p_memsz, align = ph->p_align == 8 ? 8 : 4;

		if (ph->p_type != PT_NOTE)
			continue;
		while (left >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			size_t name = (nh->n_namesz + align - 1) & ~(align - 1);
			size_t desc = (nh->n_descsz + align - 1) & ~(align - 1);
			size_t whole = sizeof(*nh) + name + desc;

			if (name > left || desc > left || whole > left)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0 && nh->n_descsz > 0 &&
			    nh->n_descsz <= 64) {
				const unsigned char *d = p + sizeof(*nh) + name;
				for (size_t k = 0; k < nh->n_descsz; k++)
					snprintf(ns->hex + 2 * k, 3, "%02x", d[k]);
				return 1;
			}
			p += whole;
			left -= whole;
		}
	}
	return 1; /* only the first object is the executable */
}

struct so_scan {
	const char *prefix; /* "libconfig.so." */
	char name[NAME_MAX + 1];
};

/* The file a loaded library resolves to, e.g. libconfig.so.9 -> libconfig.so.9.2.0. */
static int scan_so(struct dl_phdr_info *info, size_t size, void *data)
{
	struct so_scan *ss = data;
	const char *base;
	char *real;

	(void)size;
	if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0')
		return 0;
	base = strrchr(info->dlpi_name, '/');
	base = base ? base + 1 : info->dlpi_name;
	if (strncmp(base, ss->prefix, strlen(ss->prefix)) != 0)
		return 0;
	real = realpath(info->dlpi_name, NULL);
	snprintf(ss->name, sizeof ss->name, "%s", real ? basename(real) : base);
	free(real);
	return 1;
}

static json_t *so_version(const char *prefix)
{
	struct so_scan ss = {.prefix = prefix};

	dl_iterate_phdr(scan_so, &ss);
	return json_string(ss.name[0] ? ss.name : "unknown");
}

int server_admin_fingerprint(json_t **out)
{
	struct note_scan ns = {""};
	struct repo_set *s = repo_acquire();
	char nettle[32];
	json_t *eff = conf_effective_json(S.conf);

	dl_iterate_phdr(scan_build_id, &ns);
	snprintf(nettle, sizeof nettle, "%d.%d", nettle_version_major(), nettle_version_minor());
	/* --socket overrides the config: show the path actually served. */
	if (eff != NULL && S.socket_override && S.sock_path != NULL)
		json_object_set_new(json_object_get(eff, "socket"), "path",
		                    json_string(S.sock_path));
	*out = json_pack(
	    "{s:{s:s, s:s}, s:{s:s, s:s, s:o, s:o, s:s, s:s}, s:{s:s?, s:s, s:o?}, "
	    "s:o}",
	    "inferd", "version", PACKAGE_VERSION, "build_id", ns.hex[0] ? ns.hex : "unknown",
	    "libraries", "libmicrohttpd", MHD_get_version(), "jansson", jansson_version_str(),
	    "libconfig", so_version("libconfig.so."), "libsystemd", so_version("libsystemd.so."),
	    "nettle", nettle, "libc", gnu_get_libc_version(), "config", "file", S.config_path,
	    "sha256", S.conf->sha256, "effective", eff, "models", serving_json(s));
	repo_release(s);
	return 200;
}

bool server_peer_is_admin(uid_t uid, gid_t gid, char *why, size_t whylen)
{
	const char *group = S.conf ? S.conf->admin_group : NULL;

	if (uid == 0 || uid == geteuid())
		return true;
	if (group != NULL && sock_uid_in_group(uid, gid, group) == 1)
		return true;
	if (group != NULL)
		snprintf(why, whylen,
		         "peer uid %u is not allowed: needs uid 0 or group %s (or the daemon's uid "
		         "%u)",
		         (unsigned)uid, group, (unsigned)geteuid());
	else
		snprintf(why, whylen,
		         "peer uid %u is not allowed: needs uid 0 or the daemon's uid %u "
		         "(socket.admin_group is not set)",
		         (unsigned)uid, (unsigned)geteuid());
	return false;
}

/* rollback.json exists: serve the last-known-good set; if it is unusable, say so loudly. */
static void start_rolled_back(const struct conf *c, struct repo_set **set)
{
	struct state_lkg lkg = {0};
	char err[4096];

	if (read_lkg(c->state_dir, &lkg, err, sizeof err) == 0 &&
	    build_set(c, &lkg, NULL, false, NULL, NULL, set, err, sizeof err) == 0) {
		S.rolled_back = true;
		log_notice("rolled back to last known good: %s/%s is in force, serving the set "
		           "recorded %s (clear it with inferctl rollback --clear)",
		           c->state_dir, STATE_ROLLBACK_FILE, lkg.time);
	} else {
		*set = NULL;
		log_err("%s/%s asks for the last known good set, but it is unusable (%s); serving "
		        "the configuration instead",
		        c->state_dir, STATE_ROLLBACK_FILE, err);
	}
	state_lkg_free(&lkg);
}

/*
 * The last-known-good record that startup may fall back to for a model whose configured
 * files are refused: a restart must not stop serving what was serving before. True with
 * *l filled when it is there and every snapshot verifies.
 */
static bool startup_fallback(const struct conf *c, struct state_lkg *l)
{
	char err[1024] = "";
	int rc = read_lkg(c->state_dir, l, err, sizeof err);

	if (rc == 0)
		return true;
	if (rc == -ENOENT)
		log_info("no last known good record in %s: a model that fails to load fails the "
		         "start",
		         c->state_dir);
	else
		log_warn("the last known good record is unusable (%s): no fallback at startup, a "
		         "model that fails to load fails the start",
		         err);
	return false;
}

int server_init(const struct server_opts *o, struct conf *c)
{
	struct repo_set *set = NULL;
	char err[4096];
	sigset_t mask;
	int rc;

	S.conf = c;
	S.socket_override = o->socket_path != NULL;
	if (o->config_path != NULL && (S.config_path = strdup(o->config_path)) == NULL)
		return -ENOMEM;
	log_set_level(c->log_level);

	/* Blocked before anything else so that no signal can kill us half-started. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &S.oldmask) < 0)
		return -errno;
	S.blocked = true;
	signal(SIGPIPE, SIG_IGN);

	if ((rc = sysd_init()) < 0) {
		log_err("systemd integration: %s", strerror(-rc));
		return rc;
	}
	S.inited_sysd = true;
	if ((rc = metrics_init()) < 0) {
		log_err("metrics: %s", strerror(-rc));
		return rc;
	}
	S.inited_metrics = true;
	if ((rc = repo_init()) < 0) {
		log_err("model repository: %s", strerror(-rc));
		return rc;
	}
	S.inited_repo = true;

	if ((rc = open_socket(o, c)) < 0 || (rc = open_tcp(c)) < 0)
		return rc;
	/* Only the leaf: parents missing means a setup problem that mkdir -p would hide. */
	if (mkdir(c->state_dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot create the state directory %s: %s; marking a set good will try "
		         "again",
		         c->state_dir, strerror(errno));
	if (state_rollback_active(c->state_dir))
		start_rolled_back(c, &set);
	if (set == NULL) {
		struct state_lkg lkg = {0};
		bool have_lkg = startup_fallback(c, &lkg);

		rc = build_set(c, NULL, have_lkg ? &lkg : NULL, false, NULL, NULL, &set, err,
		               sizeof err);
		state_lkg_free(&lkg);
		if (rc < 0) {
			log_err("a model failed to load (%s); not starting", err);
			return rc;
		}
	}
	publish(set, "serving");

	if ((rc = http_init(c, S.listen_fd, S.tcp_fd)) < 0)
		return rc;
	S.inited_http = true;
	/* The key is validated for the worker pool to come; until then, say what it does. */
	if (c->threads > 1)
		log_notice("server.threads = %ld: this release serves HTTP from one thread",
		           c->threads);

	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (S.epfd < 0)
		return -errno;
	S.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (S.sigfd < 0)
		return -errno;
	if ((rc = epoll_add(S.sigfd)) < 0 || (rc = epoll_add(http_get_fd())) < 0 ||
	    (S.tcp_fd >= 0 && (rc = epoll_add(http_get_tcp_fd())) < 0) ||
	    (rc = start_timer()) < 0) {
		log_err("event loop setup: %s", strerror(-rc));
		return rc;
	}

	/* READY only now: the socket listens and every model has loaded. */
	notify_ready();
	S.last_status_ns = now_ns();
	return 0;
}

static void begin_stop(int sig)
{
	char st[128];

	if (S.stopping) {
		/* A second request to stop skips what is left of the grace period. */
		S.stop_deadline_ns = 0;
		return;
	}
	S.stopping = true;
	S.stop_deadline_ns = now_ns() + (uint64_t)S.conf->shutdown_grace * 1000000000u;
	snprintf(st, sizeof st, "stopping (%s): finishing %u request%s",
	         sig == SIGINT ? "SIGINT" : "SIGTERM", http_requests_in_flight(),
	         http_requests_in_flight() == 1 ? "" : "s");
	log_info("%s", st);
	sysd_notify_stopping(st);
	/*
	 * On a socket we made ourselves, connect() is refused from now on instead of queueing
	 * clients in the backlog only to reset them when the socket closes at exit; those
	 * already queued are still accepted and served by http_quiesce(). A socket passed by
	 * systemd is left alone: its queue is the next instance's to serve.
	 */
	if (S.sock_path != NULL && S.listen_fd >= 0 && shutdown(S.listen_fd, SHUT_RD) < 0)
		log_debug("shutdown of the listening socket: %s", strerror(errno));
	http_quiesce();
}

static void on_signals(void)
{
	struct signalfd_siginfo si;

	while (read(S.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			if (!S.stopping)
				reload_on_signal();
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			begin_stop((int)si.ssi_signo);
		}
	}
}

static void on_tick(void)
{
	uint64_t exp, t = now_ns();

	while (read(S.timerfd, &exp, sizeof exp) == (ssize_t)sizeof exp)
		;
	/* Pinged only from here: a loop that is stuck stops pinging and systemd notices. */
	if (sysd_watchdog_usec() > 0)
		sysd_notify_watchdog();
	/* libmicrohttpd only knows inactivity; a client trickling bytes is cut here. */
	http_expire();
	if (!S.stopping && t - S.last_status_ns >= 900000000u) {
		notify_status();
		S.last_status_ns = t;
	}
}

int server_run(void)
{
	struct epoll_event evs[8];

	for (;;) {
		int timeout = http_get_timeout_ms();
		int n;

		if (S.stopping) {
			uint64_t t = now_ns();
			/* Idle keep-alive connections hold nothing in flight: they may go. */
			if (http_connections() == 0 || http_drained(t, STOP_QUIET_NS))
				break;
			if (t >= S.stop_deadline_ns) {
				log_notice("shutdown_grace over; dropping %u request%s in flight",
				           http_requests_in_flight(),
				           http_requests_in_flight() == 1 ? "" : "s");
				break;
			}
			if (timeout < 0 || (uint64_t)timeout > (S.stop_deadline_ns - t) / 1000000u)
				timeout = (int)((S.stop_deadline_ns - t) / 1000000u) + 1;
			/* Unread bytes wake MHD's epoll fd; the quiet period needs the clock. */
			if (timeout > STOP_POLL_MS)
				timeout = STOP_POLL_MS;
		}
		n = epoll_wait(S.epfd, evs, 8, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == S.sigfd)
				on_signals();
			else if (evs[i].data.fd == S.timerfd)
				on_tick();
		}
		/* Also runs on timeouts: MHD expires idle connections then. */
		if (http_run() < 0)
			log_debug("http_run reported an error");
	}
	log_info("stopped");
	return 0;
}

void server_fini(void)
{
	if (S.inited_http)
		http_fini();
	S.inited_http = false;
	if (S.listen_fd >= 0)
		close(S.listen_fd);
	S.listen_fd = -1;
	if (S.tcp_fd >= 0)
		close(S.tcp_fd);
	S.tcp_fd = -1;
	if (S.sock_path != NULL) {
		struct stat st;
		/* Only the file we created: a replacement made by someone else stays. */
		if (lstat(S.sock_path, &st) == 0 && S.sock_dev == st.st_dev &&
		    S.sock_ino == st.st_ino && S_ISSOCK(st.st_mode))
			unlink(S.sock_path);
		free(S.sock_path);
		S.sock_path = NULL;
	}
	if (S.timerfd >= 0)
		close(S.timerfd);
	if (S.sigfd >= 0)
		close(S.sigfd);
	if (S.epfd >= 0)
		close(S.epfd);
	S.timerfd = S.sigfd = S.epfd = -1;
	if (S.inited_repo)
		repo_fini();
	if (S.inited_metrics)
		metrics_fini();
	if (S.inited_sysd)
		sysd_fini();
	S.inited_repo = S.inited_metrics = S.inited_sysd = false;
	S.rolled_back = false;
	S.stopping = false;
	conf_free(S.conf);
	S.conf = NULL;
	free(S.config_path);
	S.config_path = NULL;
	if (S.blocked)
		sigprocmask(SIG_SETMASK, &S.oldmask, NULL);
	S.blocked = false;
}
