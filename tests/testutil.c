/* testutil.c: helpers shared by the Check suites: temp dirs, a real inferd, raw HTTP. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tu_die(const char *what)
{
	fprintf(stderr, "testutil: %s: %s\n", what, strerror(errno));
	abort();
}

static void *tu_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		tu_die("malloc");
	return p;
}

static char *tu_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		tu_die("strdup");
	return p;
}

char *tu_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		tu_die("vasprintf");
	va_end(ap);
	return s;
}

static long long tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tu_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	/* Socket paths must fit in sun_path, so fall back to /tmp for a very long TMPDIR. */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = "/tmp";
	path = tu_xasprintf("%s/inferd-test-XXXXXX", tmp);
	if (!mkdtemp(path))
		tu_die("mkdtemp");
	return path;
}

static int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "testutil: remove %s: %s\n", path, strerror(errno));
	return 0;
}

void tu_rmtree(const char *path)
{
	if (!path)
		return;
	nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_write_file(const char *dir, const char *name, const char *text)
{
	char *path = tu_xasprintf("%s/%s", dir, name);
	size_t len = strlen(text);
	FILE *f = fopen(path, "w");

	if (!f)
		tu_die(path);
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
		tu_die(path);
	return path;
}

/* Replaces every occurrence of key in s (which it frees) by value. */
static char *tu_subst(char *s, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), count = 0;
	const char *p;
	char *out, *o;

	for (p = strstr(s, key); p; p = strstr(p + klen, key))
		count++;
	if (!count)
		return s;
	out = tu_xmalloc(strlen(s) + count * vlen + 1);
	o = out;
	for (p = s;;) {
		const char *hit = strstr(p, key);
		size_t n = hit ? (size_t)(hit - p) : strlen(p);

		memcpy(o, p, n);
		o += n;
		if (!hit)
			break;
		memcpy(o, value, vlen);
		o += vlen;
		p = hit + klen;
	}
	*o = '\0';
	free(s);
	return out;
}

bool tu_wrapped(void)
{
	const char *w = getenv("INFERD_WRAPPER");
	const char *e = getenv("INFERD_EMULATOR");

	return (w && *w) || (e && *e);
}

/* Builds argv: the words of INFERD_WRAPPER, then inferd and its options. */
static char **tu_argv(const char *config, char **words)
{
	const char *w = getenv("INFERD_WRAPPER");
	size_t n = 0, cap = 8;
	char **argv = tu_xmalloc(cap * sizeof(*argv));
	char *save = NULL, *tok;

	*words = tu_xstrdup(w ? w : "");
	for (tok = strtok_r(*words, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		if (n + 5 >= cap) {
			cap *= 2;
			argv = realloc(argv, cap * sizeof(*argv));
			if (!argv)
				tu_die("realloc");
		}
		argv[n++] = tok;
	}
	argv[n++] = (char *)TOP_BUILDDIR "/src/inferd";
	argv[n++] = (char *)"--foreground";
	argv[n++] = (char *)"--config";
	argv[n++] = (char *)config;
	argv[n] = NULL;
	return argv;
}

static void tu_print_log(const struct tu_daemon *d)
{
	char *path = tu_xasprintf("%s/inferd.log", d->dir);
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;

	fprintf(stderr, "---- %s ----\n", path);
	if (f) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(f);
	}
	fprintf(stderr, "---- end of log ----\n");
	free(path);
}

/* Waits for pid for up to ms; SIGKILLs it after that. Returns the wait status. */
static int tu_reap(pid_t pid, long ms)
{
	long long deadline = tu_now_ms() + ms;
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (tu_now_ms() >= deadline) {
			fprintf(stderr, "testutil: inferd %d did not exit; killing it\n", (int)pid);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		tu_sleep_ms(20);
	}
}

static void tu_daemon_clear(struct tu_daemon *d)
{
	if (d->dir)
		tu_rmtree(d->dir);
	free(d->dir);
	free(d->socket);
	free(d->config);
	memset(d, 0, sizeof(*d));
}

static void tu_exec_child(const struct tu_daemon *d, pid_t parent)
{
	char *logpath = tu_xasprintf("%s/inferd.log", d->dir);
	char *words;
	char **argv = tu_argv(d->config, &words);
	int fd;

	/* A test killed by its timeout must not leave a daemon behind. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(126);
	setpgid(0, 0);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(126);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	/* Whatever systemd context the test runs in is not the daemon's. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("JOURNAL_STREAM");
	execvp(argv[0], argv);
	fprintf(stderr, "testutil: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int tu_daemon_start(struct tu_daemon *d, const char *config_text)
{
	long wait_ms = tu_wrapped() ? 60000 : 10000;
	long long deadline;
	char *text;
	pid_t parent = getpid();

	memset(d, 0, sizeof(*d));
	d->dir = tu_mkdtemp();
	d->socket = tu_xasprintf("%s/inferd.sock", d->dir);
	text = tu_xstrdup(config_text);
	text = tu_subst(text, "@SOCKET@", d->socket);
	text = tu_subst(text, "@MODEL@", TU_BUNDLED_MODEL);
	text = tu_subst(text, "@GOLDEN@", TU_BUNDLED_GOLDEN);
	d->config = tu_write_file(d->dir, "inferd.conf", text);
	free(text);

	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		perror("testutil: fork");
		tu_daemon_clear(d);
		return -1;
	}
	if (d->pid == 0)
		tu_exec_child(d, parent);

	deadline = tu_now_ms() + wait_ms;
	for (;;) {
		static const char probe[] = "GET /v2/health/ready HTTP/1.1\r\nHost: localhost\r\n"
		                            "Connection: close\r\n\r\n";
		long long left = deadline - tu_now_ms();
		int status;
		char *body = NULL;
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid) {
			fprintf(stderr,
			        "testutil: inferd exited before becoming ready (status %d)\n",
			        status);
			tu_print_log(d);
			tu_daemon_clear(d);
			return -1;
		}
		/* Each probe is bounded too, so a wedged daemon cannot stretch the wait. */
		if (tu_raw_request(d->socket, probe, sizeof(probe) - 1,
		                   left < 2000 ? (left > 0 ? (int)left : 1) : 2000, &body) == 200) {
			free(body);
			return 0;
		}
		free(body);
		if (tu_now_ms() >= deadline)
			break;
		tu_sleep_ms(50);
	}
	fprintf(stderr, "testutil: inferd not ready after %ld ms\n", wait_ms);
	kill(d->pid, SIGTERM);
	tu_reap(d->pid, 10000);
	tu_print_log(d);
	tu_daemon_clear(d);
	return -1;
}

int tu_daemon_stop(struct tu_daemon *d)
{
	int status;

	if (d->pid <= 0) {
		tu_daemon_clear(d);
		return -1;
	}
	kill(d->pid, SIGTERM);
	status = tu_reap(d->pid, tu_wrapped() ? 120000 : 30000);
	if (status != 0)
		tu_print_log(d);
	tu_daemon_clear(d);
	return status;
}

/* What has been understood of the response so far. */
struct tu_resp {
	int status;
	size_t body_off; /* start of the final response's body, 0 until headers are in */
	long long clen;  /* Content-Length, -1 when absent */
	bool chunked;
	bool no_body; /* HEAD, 204, 304 */
};

/* Finds the header name (case-insensitive) between hdr and end; returns its value. */
static const char *tu_header(const char *hdr, const char *end, const char *name)
{
	size_t nlen = strlen(name);
	const char *line = strstr(hdr, "\r\n");

	while (line && line + 2 < end) {
		line += 2;
		if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
		line = strstr(line, "\r\n");
	}
	return NULL;
}

/* Parses headers once they are complete, skipping interim 1xx responses. */
static void tu_parse_head(const struct tu_buf *b, struct tu_resp *r, bool head_req)
{
	size_t start = 0;

	while (r->body_off == 0) {
		const char *h = b->p + start;
		const char *end = strstr(h, "\r\n\r\n");
		const char *v;
		int st;

		if (!end || sscanf(h, "HTTP/%*d.%*d %3d", &st) != 1)
			return;
		if (st >= 100 && st < 200) {
			start = (size_t)(end + 4 - b->p);
			continue;
		}
		r->status = st;
		r->body_off = (size_t)(end + 4 - b->p);
		r->clen = -1;
		v = tu_header(h, end + 2, "Content-Length");
		if (v)
			r->clen = strtoll(v, NULL, 10);
		v = tu_header(h, end + 2, "Transfer-Encoding");
		r->chunked = v && strncasecmp(v, "chunked", 7) == 0;
		r->no_body = head_req || st == 204 || st == 304;
	}
}

/*
 * Decodes a chunked body from in into out. Returns true when the last chunk and the
 * trailer have arrived.
 */
static bool tu_dechunk(const char *in, size_t len, struct tu_buf *out)
{
	size_t pos = 0;

	out->len = 0;
	for (;;) {
		const char *eol = memmem(in + pos, len - pos, "\r\n", 2);
		char *endp;
		unsigned long long n;

		if (!eol)
			return false;
		n = strtoull(in + pos, &endp, 16);
		if (endp == in + pos)
			return false;
		pos = (size_t)(eol - in) + 2;
		if (n == 0) {
			if (len - pos >= 2 && memcmp(in + pos, "\r\n", 2) == 0)
				return true;
			return memmem(in + pos, len - pos, "\r\n\r\n", 4) != NULL;
		}
		if (n > len - pos || len - pos - n < 2)
			return false;
		tu_buf_add(out, in + pos, n);
		pos += n + 2;
	}
}

/* True when one full response is in b. */
static bool tu_complete(const struct tu_buf *b, const struct tu_resp *r)
{
	struct tu_buf tmp = {0};
	bool done;

	if (!r->body_off)
		return false;
	if (r->no_body)
		return true;
	if (r->chunked) {
		done = tu_dechunk(b->p + r->body_off, b->len - r->body_off, &tmp);
		free(tmp.p);
		return done;
	}
	if (r->clen >= 0)
		return b->len - r->body_off >= (size_t)r->clen;
	return false;
}

static int tu_connect(const char *socket_path, long long deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		/* A full backlog is transient; anything else means nobody is there. */
		if ((errno != EAGAIN && errno != EINTR) || tu_now_ms() >= deadline)
			break;
		tu_sleep_ms(5);
	}
	close(fd);
	return -1;
}

int tu_raw_request(const char *socket_path, const char *raw, size_t rawlen, int timeout_ms,
                   char **body)
{
	long long deadline = tu_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct tu_buf in = {0};
	struct tu_resp r = {0};
	bool head_req = rawlen >= 5 && memcmp(raw, "HEAD ", 5) == 0;
	bool eof = false, sending = true;
	size_t sent = 0;
	int fd;

	if (body)
		*body = NULL;
	fd = tu_connect(socket_path, deadline);
	if (fd < 0)
		return 0;
	/* Read while sending: the server may answer (413) before taking the whole request. */
	while (!eof && !tu_complete(&in, &r)) {
		long long left = deadline - tu_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr;

		if (left <= 0)
			break;
		if (sending && sent < rawlen)
			pfd.events |= POLLOUT;
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (pfd.revents & POLLOUT) {
			ssize_t n = send(fd, raw + sent, rawlen - sent, MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				sending = false; /* EPIPE/ECONNRESET: read what came back */
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			char chunk[16384];
			ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

			if (n > 0) {
				tu_buf_add(&in, chunk, (size_t)n);
				tu_parse_head(&in, &r, head_req);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = true;
			}
		}
	}
	close(fd);

	if (in.p && r.body_off == 0)
		tu_parse_head(&in, &r, head_req);
	if (body && r.body_off && !r.no_body) {
		struct tu_buf out = {0};
		size_t avail = in.len - r.body_off;

		if (r.chunked) {
			tu_dechunk(in.p + r.body_off, avail, &out);
		} else {
			if (r.clen >= 0 && (size_t)r.clen < avail)
				avail = (size_t)r.clen;
			tu_buf_add(&out, in.p + r.body_off, avail);
		}
		if (!out.p)
			out.p = tu_xstrdup("");
		*body = out.p;
	}
	free(in.p);
	return r.status;
}

int tu_http(const char *socket_path, const char *method, const char *path, const char *json,
            char **body)
{
	int timeout = tu_wrapped() ? 60000 : 10000;
	char *req;
	int st;

	if (json)
		req =
		    tu_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		                 method, path, strlen(json), json);
	else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
		req = tu_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
		                   "Content-Length: 0\r\n\r\n",
		                   method, path);
	else
		req = tu_xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		                   method, path);
	st = tu_raw_request(socket_path, req, strlen(req), timeout, body);
	free(req);
	return st;
}

int tu_fd_count(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void tu_buf_add(struct tu_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			tu_die("realloc");
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tu_buf_printf(struct tu_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	tu_buf_add(b, s, (size_t)n);
	free(s);
}

void tu_buf_le(struct tu_buf *b, uint64_t v, size_t n)
{
	unsigned char t[8];

	for (size_t i = 0; i < n && i < sizeof t; i++)
		t[i] = (unsigned char)(v >> (8 * i));
	tu_buf_add(b, t, n < sizeof t ? n : sizeof t);
}
