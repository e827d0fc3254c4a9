/* server.c: the event loop: signals, graceful stop, watchdog and the status line. */
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
#include "serve.h"
#include "server.h"
#include "sock.h"
#include "sysd.h"
#include "util.h"

/* The status line lists models up to this length, then "...". */
#define STATUS_MAX 1024
/*
 * A stop waits this long after SIGTERM (or after a connection's last answer) for requests
 * that clients wrote right after connect() but that have not arrived yet.
 */
#define STOP_QUIET_NS 50000000u
#define STOP_POLL_MS  10

static struct {
	int listen_fd;
	int tcp_fd;      /* listen_tcp, -1 when off */
	char *sock_path; /* set only when we created the socket file */
	dev_t sock_dev;
	ino_t sock_ino;
	int epfd, sigfd, timerfd;
	bool inited_sysd, inited_metrics, inited_serve, inited_http, blocked;
	sigset_t oldmask;
	struct conf *conf; /* the config until serve_init() takes it */
	bool stopping;
	uint64_t stop_deadline_ns;
	uint64_t last_status_ns;
} S = {.listen_fd = -1, .tcp_fd = -1, .epfd = -1, .sigfd = -1, .timerfd = -1};

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
	             serve_rolled_back() ? "rolled back to last known good; " : "", n,
	             n == 1 ? "" : "s");
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

/*
 * Brings the daemon up in dependency order: signals blocked first, then systemd, metrics,
 * the sockets, the served set's owner and its first set, HTTP and the event loop. READY=1 is
 * sent last, once every model has loaded and the socket listens.
 */
int server_init(const struct server_opts *o, struct conf *c)
{
	struct serve_opts so = {.config_path = o->config_path,
	                        .socket_override = o->socket_path != NULL};
	sigset_t mask;
	int rc;

	S.conf = c; /* until the served set's owner takes it */
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
	if ((rc = open_socket(o, c)) < 0 || (rc = open_tcp(c)) < 0)
		return rc;
	/* --socket overrides the config: the fingerprint shows the file actually served. */
	if (so.socket_override)
		so.socket_path = S.sock_path;
	S.conf = NULL;
	rc = serve_init(&so, c);
	S.inited_serve = true;
	if (rc < 0)
		return rc;
	if ((rc = serve_start()) < 0)
		return rc;

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
	(void)serve_take_events();

	/* READY only now: the socket listens and every model has loaded. */
	notify_ready();
	S.last_status_ns = util_monotonic_ns();
	return 0;
}

/*
 * What the served set's owner did since the last look: a new config's limits go to HTTP
 * from here (the loop, not the reload, owns HTTP), and an action that sent RELOADING=1 is
 * answered with READY=1 and the new status line.
 */
static void apply_serve_events(void)
{
	unsigned ev = serve_take_events();

	if (ev & SERVE_EV_CONF)
		http_reconfigure(serve_conf());
	if (ev & SERVE_EV_READY)
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
	S.stop_deadline_ns =
	    util_monotonic_ns() + (uint64_t)serve_conf()->shutdown_grace * 1000000000u;
	serve_stop();
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
			char err[8192];

			/* The outcome is logged; the events below answer READY=1. */
			if (!S.stopping)
				(void)serve_reload("SIGHUP", err, sizeof err);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			begin_stop((int)si.ssi_signo);
		}
	}
}

static void on_tick(void)
{
	uint64_t exp, t = util_monotonic_ns();

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

/*
 * The event loop: waits on signals, the timer and MHD's epoll fds, runs MHD after every
 * wakeup and applies what the served set's owner did. After SIGTERM it waits, bounded by
 * shutdown_grace, until the requests in flight are answered and the connections quiet.
 */
int server_run(void)
{
	struct epoll_event evs[8];

	for (;;) {
		int timeout = http_get_timeout_ms();
		int n;

		if (S.stopping) {
			uint64_t t = util_monotonic_ns();
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
		/* After signals and requests alike: a reload may have happened in either. */
		apply_serve_events();
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
	if (S.inited_serve)
		serve_fini();
	if (S.inited_metrics)
		metrics_fini();
	if (S.inited_sysd)
		sysd_fini();
	S.inited_serve = S.inited_metrics = S.inited_sysd = false;
	S.stopping = false;
	conf_free(S.conf);
	S.conf = NULL;
	if (S.blocked)
		sigprocmask(SIG_SETMASK, &S.oldmask, NULL);
	S.blocked = false;
}
