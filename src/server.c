/* server.c: the event loop: signals, reload, graceful stop, watchdog and the status line. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
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

#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "repo.h"
#include "server.h"
#include "sock.h"
#include "sysd.h"

/* The status line lists models up to this length, then "...". */
#define STATUS_MAX 1024

static struct {
	struct conf *conf;
	char *config_path; /* reread on SIGHUP; NULL = built-in default */
	int listen_fd;
	char *sock_path; /* set only when we created the socket file */
	dev_t sock_dev;
	ino_t sock_ino;
	int epfd, sigfd, timerfd;
	bool inited_sysd, inited_metrics, inited_repo, inited_http, blocked;
	sigset_t oldmask;
	bool socket_override; /* --socket given: the config's path is not ours to follow */
	bool stopping;
	uint64_t stop_deadline_ns;
	uint64_t last_status_ns;
} S = {.listen_fd = -1, .epfd = -1, .sigfd = -1, .timerfd = -1};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* "serving 1 model: breast-cancer v1 (sha256:1a2b3c4d); 0 req, p99 0 ms" */
static void status_line(char *buf, size_t len)
{
	struct repo_set *s = repo_acquire();
	size_t n = s ? s->n : 0, off;
	int w;

	w = snprintf(buf, len, "serving %zu model%s:", n, n == 1 ? "" : "s");
	off = w < 0 ? 0 : (size_t)w;
	for (size_t i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s %s v%s (sha256:%.8s)", i ? "," : "",
		             s->v[i].name, s->v[i].version, s->v[i].sha256);
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

int server_init(const struct server_opts *o, struct conf *c)
{
	struct repo_set *set = NULL;
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

	if ((rc = open_socket(o, c)) < 0)
		return rc;
	if ((rc = repo_build(c, &set)) < 0) {
		log_err("a model failed to load; not starting");
		return rc;
	}
	repo_publish(set);
	log_models("serving");

	if ((rc = http_init(c, S.listen_fd)) < 0)
		return rc;
	S.inited_http = true;

	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (S.epfd < 0)
		return -errno;
	S.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (S.sigfd < 0)
		return -errno;
	if ((rc = epoll_add(S.sigfd)) < 0 || (rc = epoll_add(http_get_fd())) < 0 ||
	    (rc = start_timer()) < 0) {
		log_err("event loop setup: %s", strerror(-rc));
		return rc;
	}

	/* READY only now: the socket listens and every model has loaded. */
	notify_ready();
	S.last_status_ns = now_ns();
	return 0;
}

/* SIGHUP: build everything new aside; swap only when all of it is good. */
static void reload(void)
{
	struct conf *nc = NULL;
	struct conf_errors errs = {0};
	struct repo_set *set = NULL;
	const struct log_field f[] = {{"CONFIG_FILE", S.config_path ? S.config_path : ""}};
	int rc;

	sysd_notify_reloading("reloading configuration");
	if (S.config_path == NULL) {
		log_notice("reload: running on the built-in default configuration; nothing to "
		           "reread");
		notify_ready();
		return;
	}
	log_fields(LOG_LVL_INFO, f, 1, "reloading %s", S.config_path);
	rc = conf_load(S.config_path, &nc, &errs);
	if (rc < 0) {
		log_conf_errors(&errs);
		conf_errors_clear(&errs);
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: %s has errors; keeping the current configuration and models",
		           S.config_path);
		notify_ready();
		return;
	}
	conf_errors_clear(&errs);
	rc = repo_build(nc, &set);
	if (rc < 0) {
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: a model failed to load (%s); keeping the current models",
		           strerror(-rc));
		conf_free(nc);
		notify_ready();
		return;
	}
	repo_publish(set);
	http_reconfigure(nc);
	log_set_level(nc->log_level);
	if (!S.socket_override && S.conf->socket_path != NULL && nc->socket_path != NULL &&
	    strcmp(S.conf->socket_path, nc->socket_path) != 0)
		log_warn("reload: a new socket path takes effect after a restart");
	conf_free(S.conf);
	S.conf = nc;
	log_models("reloaded:");
	notify_ready();
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
	http_quiesce();
}

static void on_signals(void)
{
	struct signalfd_siginfo si;

	while (read(S.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			if (!S.stopping)
				reload();
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
			if (http_connections() == 0 || http_requests_in_flight() == 0)
				break;
			if (t >= S.stop_deadline_ns) {
				log_notice("shutdown_grace over; dropping %u request%s in flight",
				           http_requests_in_flight(),
				           http_requests_in_flight() == 1 ? "" : "s");
				break;
			}
			if (timeout < 0 || (uint64_t)timeout > (S.stop_deadline_ns - t) / 1000000u)
				timeout = (int)((S.stop_deadline_ns - t) / 1000000u) + 1;
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
	conf_free(S.conf);
	S.conf = NULL;
	free(S.config_path);
	S.config_path = NULL;
	if (S.blocked)
		sigprocmask(SIG_SETMASK, &S.oldmask, NULL);
	S.blocked = false;
}
