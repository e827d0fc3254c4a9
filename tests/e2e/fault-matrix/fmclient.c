/* fmclient.c: the fault matrix's client: one single-row infer per new connection, logged. */
/*
 * Usage: fmclient SOCKET MODEL ROWS OUT STOPFILE [INTERVAL_MS [TIMEOUT_MS [MAX_S]]]
 *
 * ROWS holds one request row per line: "EXPECTED<TAB>JSON-ARRAY" (the golden set's input
 * row and XGBoost's predict for it). Every INTERVAL_MS (default 10) a request starts on a
 * new connection, as a short-lived client would open one (so socket permission and
 * presence count, not only the daemon's answers). Each request appends one line to OUT:
 *
 *   START_NS STATUS LATENCY_US VERDICT
 *
 * START_NS is CLOCK_REALTIME (the host and the container share it). STATUS is the HTTP
 * status, or a negative errno from socket/connect, or -1000 (timeout), -1001 (closed
 * without a complete answer). VERDICT is o (200 and the value within tolerance of
 * XGBoost's), w (200 but a wrong value), p (200 but no value found), e (anything else).
 * FMCLIENT_TOL sets the tolerance (default 1e-6, the golden set's).
 * It stops when STOPFILE exists or after MAX_S seconds (default 600). Only libc is used,
 * so it runs when the daemon's libraries are gone.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS   256
#define ST_TIMEOUT (-1000)
#define ST_CLOSED  (-1001)

struct row {
	double expected;
	char *json;
};

static long long now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int load_rows(const char *path, struct row *rows, size_t *n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f)
		return -errno;
	*n = 0;
	while (*n < MAX_ROWS && (len = getline(&line, &cap, f)) > 0) {
		char *tab = strchr(line, '\t'), *end;
		if (!tab)
			continue;
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		rows[*n].expected = strtod(line, &end);
		if (end != tab)
			continue;
		rows[*n].json = strdup(tab + 1);
		if (!rows[*n].json)
			break;
		(*n)++;
	}
	free(line);
	fclose(f);
	return *n > 0 ? 0 : -EINVAL;
}

/* Waits for fd to be ready for ev until deadline (CLOCK_MONOTONIC ns): 0, or ST_TIMEOUT. */
static int wait_fd(int fd, short ev, long long deadline)
{
	for (;;) {
		long long left = (deadline - now_ns(CLOCK_MONOTONIC)) / 1000000;
		struct pollfd p = {.fd = fd, .events = ev};
		int r;
		if (left <= 0)
			return ST_TIMEOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * One request. Returns the HTTP status (or a negative code, see above) and, for a 200,
 * the first value of the answer's "data" array in *value (*have_value set).
 */
static int one_request(const char *sock_path, const char *model, const char *row_json,
                       int timeout_ms, double *value, int *have_value)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char body[4096], req[8192], resp[16384];
	long long deadline = now_ns(CLOCK_MONOTONIC) + (long long)timeout_ms * 1000000LL;
	size_t got = 0, sent = 0, reqlen;
	int fd, blen, rc, status = ST_CLOSED;
	char *p;

	*have_value = 0;
	blen = snprintf(body, sizeof(body),
	                "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[1,30],"
	                "\"data\":%s}],\"outputs\":[{\"name\":\"predict\"}]}",
	                row_json);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -EINVAL;
	rc = snprintf(req, sizeof(req),
	              "POST /v2/models/%s/infer HTTP/1.1\r\nHost: localhost\r\n"
	              "Content-Type: application/json\r\nContent-Length: %d\r\n"
	              "Connection: close\r\n\r\n%s",
	              model, blen, body);
	if (rc < 0 || (size_t)rc >= sizeof(req))
		return -EINVAL;
	reqlen = (size_t)rc;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A Unix socket with a full backlog answers EAGAIN: wait for room, bounded. */
		if (errno != EAGAIN && errno != EINPROGRESS) {
			rc = -errno;
			close(fd);
			return rc;
		}
		for (;;) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc < 0) {
				close(fd);
				return rc;
			}
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
			    errno == EISCONN)
				break;
			if (errno != EAGAIN && errno != EINPROGRESS && errno != EALREADY) {
				rc = -errno;
				close(fd);
				return rc;
			}
		}
	}
	while (sent < reqlen) {
		ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (w > 0) {
			sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			close(fd);
			return ST_CLOSED;
		}
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	for (;;) {
		ssize_t r;
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
		if (r > 0) {
			got += (size_t)r;
			if (got < sizeof(resp) - 1)
				continue;
		} else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			continue;
		}
		break; /* EOF (Connection: close), error, or buffer full */
	}
	close(fd);
	resp[got] = '\0';
	if (got > 12 && strncmp(resp, "HTTP/1.", 7) == 0)
		status = atoi(resp + 9);
	if (status != 200)
		return status > 0 ? status : ST_CLOSED;
	p = strstr(resp, "\r\n\r\n");
	p = p ? strstr(p, "\"data\"") : NULL;
	p = p ? strchr(p, '[') : NULL;
	if (p) {
		char *end;
		*value = strtod(p + 1, &end);
		*have_value = end != p + 1;
	}
	return status;
}

int main(int argc, char **argv)
{
	static struct row rows[MAX_ROWS];
	size_t nrows = 0, i = 0;
	int interval_ms, timeout_ms;
	long long stop_at, next;
	const char *tol_env = getenv("FMCLIENT_TOL");
	double tol = tol_env ? strtod(tol_env, NULL) : 1e-6;
	FILE *out;

	if (argc < 6) {
		fprintf(stderr, "usage: fmclient SOCKET MODEL ROWS OUT STOPFILE [INTERVAL_MS "
		                "[TIMEOUT_MS [MAX_S]]]\n");
		return 2;
	}
	interval_ms = argc > 6 ? atoi(argv[6]) : 10;
	timeout_ms = argc > 7 ? atoi(argv[7]) : 2000;
	stop_at = now_ns(CLOCK_MONOTONIC) + (argc > 8 ? atoll(argv[8]) : 600) * 1000000000LL;
	if (interval_ms < 1 || timeout_ms < 1 || load_rows(argv[3], rows, &nrows) < 0) {
		fprintf(stderr, "fmclient: bad arguments or no rows in %s\n", argv[3]);
		return 2;
	}
	out = fopen(argv[4], "a");
	if (!out) {
		perror(argv[4]);
		return 1;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	next = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) < stop_at && access(argv[5], F_OK) != 0) {
		long long t_wall = now_ns(CLOCK_REALTIME), t0 = now_ns(CLOCK_MONOTONIC), wait;
		double v = 0;
		int have = 0, st;
		char verdict;

		st = one_request(argv[1], argv[2], rows[i].json, timeout_ms, &v, &have);
		if (st != 200)
			verdict = 'e';
		else if (!have)
			verdict = 'p';
		else
			verdict = fabs(v - rows[i].expected) <= tol ? 'o' : 'w';
		fprintf(out, "%lld %d %lld %c\n", t_wall, st, (now_ns(CLOCK_MONOTONIC) - t0) / 1000,
		        verdict);
		i = (i + 1) % nrows;
		next += (long long)interval_ms * 1000000LL;
		wait = next - now_ns(CLOCK_MONOTONIC);
		if (wait > 0) {
			struct timespec ts = {.tv_sec = wait / 1000000000LL,
			                      .tv_nsec = wait % 1000000000LL};
			nanosleep(&ts, NULL);
		} else {
			next = now_ns(CLOCK_MONOTONIC); /* late: no burst to catch up */
		}
	}
	fclose(out);
	for (i = 0; i < nrows; i++)
		free(rows[i].json);
	return 0;
}
