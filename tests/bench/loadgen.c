/* loadgen.c: closed-loop HTTP/1.1 keep-alive load generator over a Unix socket (epoll). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES 65536

struct opts {
	const char *sock_path;
	unsigned conns;
	unsigned threads;
	double duration_s;
	double warmup_s;
	double timeout_s;
	bool verbose;
	const char *req;
	size_t req_len;
};

enum conn_state { C_IDLE, C_SENDING, C_RECEIVING };

struct conn {
	int fd;
	enum conn_state state;
	size_t sent;
	char *buf;
	size_t cap, len;
	size_t hdr_len; /* 0 until the header block has been seen */
	int status;
	bool chunked, close_after;
	size_t body_len; /* Content-Length when not chunked */
	uint64_t t_start;
	bool want_out; /* EPOLLOUT currently registered */
};

/* Latencies in nanoseconds, appended during the measured window only. */
struct lat {
	uint64_t *v;
	size_t n, cap;
};

struct worker {
	const struct opts *o;
	unsigned first, count; /* this worker's connections */
	uint64_t t_measure, t_end, t_hard;
	struct lat lat;
	uint64_t ok, non2xx, closed, timeouts, conn_fail, proto_err, bytes_in;
	int err; /* fatal error (negative errno), or 0 */
	bool printed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int lat_push(struct lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 65536;
		uint64_t *nv = realloc(l->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = ns;
	return 0;
}

/* Connects blocking (with a send timeout so a full backlog cannot hang us), then non-blocking. */
static int conn_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Case-insensitive search for a header line "name:" inside the header block. */
static const char *find_header(const char *hdr, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = hdr, *end = hdr + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/* Parses the status line and the headers we need. Returns 0, or -EPROTO. */
static int parse_headers(struct conn *c)
{
	const char *b = c->buf, *h, *end = c->buf + c->hdr_len;

	if (c->hdr_len < 12 || strncmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ' ||
	    !isdigit((unsigned char)b[9]) || !isdigit((unsigned char)b[10]) ||
	    !isdigit((unsigned char)b[11]))
		return -EPROTO;
	c->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	c->chunked = false;
	c->close_after = b[7] == '0';
	c->body_len = 0;
	h = find_header(b, c->hdr_len, "Transfer-Encoding");
	if (h && (size_t)(end - h) >= 7 && strncasecmp(h, "chunked", 7) == 0)
		c->chunked = true;
	h = find_header(b, c->hdr_len, "Content-Length");
	if (!c->chunked) {
		char *e;
		unsigned long long v;

		if (!h) {
			/* 1xx/204/304 have no body; others need a length. */
			if (c->status == 204 || c->status == 304 || c->status / 100 == 1)
				return 0;
			return -EPROTO;
		}
		errno = 0;
		v = strtoull(h, &e, 10);
		if (errno || e == h)
			return -EPROTO;
		c->body_len = (size_t)v;
	}
	h = find_header(b, c->hdr_len, "Connection");
	if (h && (size_t)(end - h) >= 5 && strncasecmp(h, "close", 5) == 0)
		c->close_after = true;
	return 0;
}

/*
 * Checks whether a chunked body starting at c->buf + c->hdr_len is complete.
 * Returns the total response length when complete, 0 when more bytes are needed, or -EPROTO.
 */
static long chunked_total(const struct conn *c)
{
	size_t p = c->hdr_len;

	for (;;) {
		const char *line = c->buf + p, *eol;
		char *e;
		unsigned long sz;

		if (p >= c->len)
			return 0;
		eol = memmem(line, c->len - p, "\r\n", 2);
		if (!eol)
			return 0;
		errno = 0;
		sz = strtoul(line, &e, 16);
		if (errno || e == line)
			return -EPROTO;
		p = (size_t)(eol - c->buf) + 2;
		if (sz == 0) {
			/* Trailers (none expected) end with an empty line. */
			for (;;) {
				const char *t = memmem(c->buf + p, c->len - p, "\r\n", 2);

				if (!t)
					return 0;
				if (t == c->buf + p)
					return (long)(p + 2);
				p = (size_t)(t - c->buf) + 2;
			}
		}
		p += sz + 2;
		if (p > c->len)
			return 0;
	}
}

static void conn_drop(struct conn *c, int epfd)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = C_IDLE;
	c->want_out = false;
}

static int set_out(struct conn *c, int epfd, bool want, uint64_t idx)
{
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u64 = idx};

	if (c->want_out == want)
		return 0;
	c->want_out = want;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Sends as much of the request as the socket takes. Returns 0 or a negative errno. */
static int conn_send(struct worker *w, struct conn *c, int epfd, uint64_t idx)
{
	const struct opts *o = w->o;

	while (c->sent < o->req_len) {
		ssize_t n = send(c->fd, o->req + c->sent, o->req_len - c->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return set_out(c, epfd, true, idx);
			return -errno;
		}
		c->sent += (size_t)n;
	}
	c->state = C_RECEIVING;
	return set_out(c, epfd, false, idx);
}

/* Opens the connection if needed and starts a new request on it. */
static int conn_start(struct worker *w, struct conn *c, int epfd, uint64_t idx)
{
	if (c->fd < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = idx};
		int fd = conn_open(w->o->sock_path);

		if (fd < 0) {
			w->conn_fail++;
			return fd;
		}
		c->fd = fd;
		c->want_out = false;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = -errno;

			close(fd);
			c->fd = -1;
			return e;
		}
	}
	c->state = C_SENDING;
	c->sent = 0;
	c->len = 0;
	c->hdr_len = 0;
	c->t_start = now_ns();
	return conn_send(w, c, epfd, idx);
}

/* Records one finished exchange; the latency counts only inside the measured window. */
static void record(struct worker *w, struct conn *c, uint64_t t, bool good, bool closed)
{
	if (c->t_start < w->t_measure || t > w->t_end)
		return;
	if (closed)
		w->closed++;
	else if (!good)
		w->non2xx++;
	else
		w->ok++;
	if (!closed && lat_push(&w->lat, t - c->t_start) < 0)
		w->err = -ENOMEM;
}

/*
 * Reads what is there; when a full response is in, records it and returns 1.
 * Returns 0 when more bytes are needed, or a negative errno (connection unusable).
 */
static int conn_recv(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap * 2;
			char *nb = realloc(c->buf, ncap);

			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = ncap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		w->bytes_in += (uint64_t)n;
		c->len += (size_t)n;
		if (!c->hdr_len) {
			const char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);

			if (!e) {
				if (c->len > MAX_HEADER_BYTES)
					return -EPROTO;
				continue;
			}
			c->hdr_len = (size_t)(e - c->buf) + 4;
			if (parse_headers(c) < 0)
				return -EPROTO;
		}
		{
			size_t total;

			if (c->chunked) {
				long t = chunked_total(c);

				if (t < 0)
					return -EPROTO;
				if (t == 0)
					continue;
				total = (size_t)t;
			} else {
				total = c->hdr_len + c->body_len;
				if (c->len < total)
					continue;
			}
			/* No pipelining: extra bytes mean the framing is wrong. */
			if (c->len != total)
				return -EPROTO;
		}
		return 1;
	}
}

static void print_first(struct worker *w, const struct conn *c)
{
	if (!w->o->verbose || w->printed)
		return;
	w->printed = true;
	fprintf(stderr, "loadgen: first response (%zu bytes):\n%.*s\n", c->len,
	        (int)(c->len > 2000 ? 2000 : c->len), c->buf);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct conn *cs = calloc(w->count, sizeof(*cs));
	struct epoll_event evs[256];
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	uint64_t timeout_ns = (uint64_t)(w->o->timeout_s * 1e9);
	unsigned i;

	if (!cs || epfd < 0) {
		w->err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < w->count; i++) {
		cs[i].fd = -1;
		cs[i].cap = 65536;
		cs[i].buf = malloc(cs[i].cap);
		if (!cs[i].buf) {
			w->err = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < w->count; i++) {
		int r = conn_start(w, &cs[i], epfd, i);

		if (r < 0) {
			fprintf(stderr, "loadgen: connect %s: %s\n", w->o->sock_path, strerror(-r));
			w->err = r;
			goto out;
		}
	}
	for (;;) {
		uint64_t t = now_ns();
		int n, k, wait_ms;
		bool busy = false;

		if (t >= w->t_hard || w->err)
			break;
		/* Past the end, stop issuing; wait for in-flight exchanges (bounded by t_hard). */
		for (i = 0; i < w->count; i++) {
			if (cs[i].state == C_IDLE)
				continue;
			busy = true;
			if (t - cs[i].t_start > timeout_ns) {
				if (cs[i].t_start >= w->t_measure && cs[i].t_start < w->t_end)
					w->timeouts++;
				conn_drop(&cs[i], epfd);
				if (t < w->t_end && conn_start(w, &cs[i], epfd, i) < 0)
					cs[i].state = C_IDLE;
			}
		}
		if (t >= w->t_end && !busy)
			break;
		wait_ms = 100;
		n = epoll_wait(epfd, evs, 256, wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = -errno;
			break;
		}
		for (k = 0; k < n; k++) {
			struct conn *c = &cs[evs[k].data.u64];
			uint64_t idx = evs[k].data.u64;
			int r = 0;

			if (c->fd < 0 || c->state == C_IDLE)
				continue;
			if (c->state == C_SENDING) {
				if (evs[k].events & (EPOLLERR | EPOLLHUP))
					r = -ECONNRESET;
				else if (evs[k].events & EPOLLOUT)
					r = conn_send(w, c, epfd, idx);
				if (r == 0 && c->state == C_SENDING)
					continue;
			}
			if (r == 0)
				r = conn_recv(w, c);
			if (r == 0)
				continue;
			t = now_ns();
			if (r > 0) {
				record(w, c, t, c->status / 100 == 2, false);
				print_first(w, c);
				if (c->close_after)
					conn_drop(c, epfd);
			} else {
				if (r == -EPROTO) {
					w->proto_err++;
					print_first(w, c);
				}
				record(w, c, t, false, true);
				conn_drop(c, epfd);
			}
			c->state = C_IDLE;
			if (t < w->t_end && conn_start(w, c, epfd, idx) < 0) {
				/* Retried below, after a pause. */
				conn_drop(c, epfd);
			}
		}
		/* Re-open connections that failed to reconnect, while time remains. */
		t = now_ns();
		for (i = 0; i < w->count && t < w->t_end; i++) {
			if (cs[i].state == C_IDLE && conn_start(w, &cs[i], epfd, i) < 0) {
				/* A refusing server must not turn this loop into a spin. */
				struct timespec ms10 = {.tv_nsec = 10000000};

				conn_drop(&cs[i], epfd);
				nanosleep(&ms10, NULL);
			}
		}
	}
	for (i = 0; i < w->count; i++)
		if (cs[i].state != C_IDLE && cs[i].t_start >= w->t_measure &&
		    cs[i].t_start < w->t_end && now_ns() >= w->t_hard)
			w->timeouts++;
out:
	if (cs) {
		for (i = 0; i < w->count; i++) {
			if (cs[i].fd >= 0)
				close(cs[i].fd);
			free(cs[i].buf);
		}
		free(cs);
	}
	if (epfd >= 0)
		close(epfd);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

/* JSON has no NaN: an empty sample prints as null. */
static void fmt_us(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%.2f", v);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return -errno;
	for (;;) {
		size_t r;

		if (cap - n < 65536) {
			char *nb = realloc(b, cap + 65536 + 1);

			if (!nb) {
				free(b);
				fclose(f);
				return -ENOMEM;
			}
			b = nb;
			cap += 65536;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		free(b);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

static int build_request(const char *method, const char *path, const char *body_file,
                         const char *ctype, char **out, size_t *len)
{
	char *body = NULL, *req;
	size_t blen = 0, cap;
	int hl;

	if (body_file) {
		int r = read_file(body_file, &body, &blen);

		if (r < 0)
			return r;
	}
	cap = blen + 512 + strlen(path);
	req = malloc(cap);
	if (!req) {
		free(body);
		return -ENOMEM;
	}
	if (body_file)
		hl = snprintf(req, cap,
		              "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\n"
		              "Content-Length: %zu\r\n\r\n",
		              method, path, ctype, blen);
	else
		hl = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method, path);
	if (hl < 0 || (size_t)hl + blen >= cap) {
		free(body);
		free(req);
		return -EINVAL;
	}
	if (blen)
		memcpy(req + hl, body, blen);
	free(body);
	*out = req;
	*len = (size_t)hl + blen;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: loadgen -U SOCKET (-r RAWFILE | -m METHOD -p PATH [-b BODYFILE] [-T TYPE])\n"
	       "               [-c CONNS] [-t THREADS] [-d SECONDS] [-w WARMUP] [-x TIMEOUT] [-v]\n"
	       "Closed loop: each connection sends the request, waits for the whole response,\n"
	       "and repeats, for WARMUP then SECONDS; prints one JSON object on stdout.\n"
	       "  -r FILE   raw HTTP request bytes, sent as they are\n"
	       "  -m -p -b  build a request (Host: localhost, Content-Length from the body)\n"
	       "  -T TYPE   Content-Type of the body (default application/json)\n"
	       "  -c N      connections (default 1)   -t N  threads (default 1)\n"
	       "  -d S      measured seconds (default 5)   -w S  warm-up seconds (default 1)\n"
	       "  -x S      per-request timeout (default 5)   -v  print the first response\n");
}

static int parse_pos_double(const char *s, double *out)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (errno || e == s || *e || !(v >= 0) || v > 3600)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || e == s || *e || v < 1 || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.conns = 1, .threads = 1, .duration_s = 5, .warmup_s = 1, .timeout_s = 5};
	const char *raw = NULL, *method = NULL, *path = NULL, *body = NULL;
	const char *ctype = "application/json";
	char *req = NULL;
	struct worker *ws;
	pthread_t *tids;
	uint64_t t0, t_measure, t_end;
	struct lat all = {0};
	uint64_t ok = 0, non2xx = 0, closed = 0, timeouts = 0, conn_fail = 0, proto = 0, bytes = 0;
	double secs;
	unsigned i;
	int c, r, rc = 0;

	while ((c = getopt(argc, argv, "U:r:m:p:b:T:c:t:d:w:x:vh")) != -1) {
		switch (c) {
		case 'U':
			o.sock_path = optarg;
			break;
		case 'r':
			raw = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		case 'b':
			body = optarg;
			break;
		case 'T':
			ctype = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, 100000, &o.conns) < 0)
				goto bad;
			break;
		case 't':
			if (parse_uint(optarg, 256, &o.threads) < 0)
				goto bad;
			break;
		case 'd':
			if (parse_pos_double(optarg, &o.duration_s) < 0 || o.duration_s <= 0)
				goto bad;
			break;
		case 'w':
			if (parse_pos_double(optarg, &o.warmup_s) < 0)
				goto bad;
			break;
		case 'x':
			if (parse_pos_double(optarg, &o.timeout_s) < 0 || o.timeout_s <= 0)
				goto bad;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || !o.sock_path || (!raw == !method) || (method && !path))
		goto bad;
	if (raw)
		r = read_file(raw, &req, &o.req_len);
	else
		r = build_request(method, path, body, ctype, &req, &o.req_len);
	if (r < 0) {
		fprintf(stderr, "loadgen: request: %s\n", strerror(-r));
		return 1;
	}
	if (o.req_len == 0) {
		fprintf(stderr, "loadgen: empty request\n");
		free(req);
		return 1;
	}
	o.req = req;
	if (o.threads > o.conns)
		o.threads = o.conns;
	ws = calloc(o.threads, sizeof(*ws));
	tids = calloc(o.threads, sizeof(*tids));
	if (!ws || !tids) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	t0 = now_ns();
	t_measure = t0 + (uint64_t)(o.warmup_s * 1e9);
	t_end = t_measure + (uint64_t)(o.duration_s * 1e9);
	for (i = 0; i < o.threads; i++) {
		ws[i].o = &o;
		ws[i].first = i * o.conns / o.threads;
		ws[i].count = (i + 1) * o.conns / o.threads - ws[i].first;
		ws[i].t_measure = t_measure;
		ws[i].t_end = t_end;
		/* The hard bound: nothing runs longer than the window plus one timeout. */
		ws[i].t_hard = t_end + (uint64_t)(o.timeout_s * 1e9);
		if (pthread_create(&tids[i], NULL, worker_run, &ws[i]) != 0) {
			fprintf(stderr, "loadgen: cannot start thread\n");
			return 1;
		}
	}
	for (i = 0; i < o.threads; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < o.threads; i++) {
		struct worker *w = &ws[i];

		if (w->err) {
			fprintf(stderr, "loadgen: %s\n", strerror(-w->err));
			rc = 1;
		}
		ok += w->ok;
		non2xx += w->non2xx;
		closed += w->closed;
		timeouts += w->timeouts;
		conn_fail += w->conn_fail;
		proto += w->proto_err;
		bytes += w->bytes_in;
		if (w->lat.n) {
			uint64_t *nv = realloc(all.v, (all.n + w->lat.n) * sizeof(*nv));

			if (!nv) {
				fprintf(stderr, "loadgen: out of memory\n");
				return 1;
			}
			all.v = nv;
			memcpy(all.v + all.n, w->lat.v, w->lat.n * sizeof(*nv));
			all.n += w->lat.n;
		}
		free(w->lat.v);
	}
	qsort(all.v, all.n, sizeof(*all.v), cmp_u64);
	secs = (double)(t_end - t_measure) / 1e9;
	{
		double sum = 0;
		size_t k;
		char p50[32], p99[32], p999[32], mean[32], mx[32];

		for (k = 0; k < all.n; k++)
			sum += (double)all.v[k];
		fmt_us(p50, sizeof(p50), pct_us(all.v, all.n, 50));
		fmt_us(p99, sizeof(p99), pct_us(all.v, all.n, 99));
		fmt_us(p999, sizeof(p999), pct_us(all.v, all.n, 99.9));
		fmt_us(mean, sizeof(mean), all.n ? sum / (double)all.n / 1000.0 : NAN);
		fmt_us(mx, sizeof(mx), all.n ? (double)all.v[all.n - 1] / 1000.0 : NAN);
		printf("{\"connections\": %u, \"threads\": %u, \"duration_s\": %.3f, "
		       "\"requests\": %llu, \"ok\": %llu, \"errors\": %llu, \"non2xx\": %llu, "
		       "\"closed\": %llu, \"timeouts\": %llu, \"connect_failures\": %llu, "
		       "\"protocol_errors\": %llu, \"rps\": %.1f, \"p50_us\": %s, \"p99_us\": %s, "
		       "\"p999_us\": %s, \"mean_us\": %s, \"max_us\": %s, \"bytes_in\": %llu}\n",
		       o.conns, o.threads, secs, (unsigned long long)(ok + non2xx),
		       (unsigned long long)ok,
		       (unsigned long long)(non2xx + closed + timeouts + conn_fail),
		       (unsigned long long)non2xx, (unsigned long long)closed,
		       (unsigned long long)timeouts, (unsigned long long)conn_fail,
		       (unsigned long long)proto, (double)ok / secs, p50, p99, p999, mean, mx,
		       (unsigned long long)bytes);
	}
	free(all.v);
	free(ws);
	free(tids);
	free(req);
	if (ok == 0)
		rc = 1;
	return rc;
bad:
	usage(stderr);
	return 2;
}
