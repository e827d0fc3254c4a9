/* testutil.h: helpers shared by the Check suites: temp dirs, a real inferd, raw HTTP. */
#ifndef INFERD_TESTUTIL_H
#define INFERD_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Path of the bundled model and golden set in the source tree. */
#define TU_BUNDLED_MODEL  TOP_SRCDIR "/src/models/breast-cancer/1/model.json"
#define TU_BUNDLED_GOLDEN TOP_SRCDIR "/src/models/breast-cancer/1/golden.json"

/* Creates a fresh temporary directory; returns a malloc'd path. Aborts on failure. */
char *tu_mkdtemp(void);
/* Removes a directory tree made by tu_mkdtemp(). */
void tu_rmtree(const char *path);
/* Writes text to dir/name; returns the malloc'd full path. Aborts on failure. */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* A running inferd child process. */
struct tu_daemon {
	pid_t pid;
	char *dir;    /* its temp dir: config, socket */
	char *socket; /* dir/inferd.sock */
	char *config; /* dir/inferd.conf */
};

/*
 * Starts TOP_BUILDDIR/src/inferd --foreground --config dir/inferd.conf, where the config is
 * config_text with every "@SOCKET@" replaced by the socket path and "@MODEL@" by the
 * bundled model path, "@GOLDEN@" by its golden set. Honours INFERD_WRAPPER (e.g. valgrind).
 * Waits up to 10 s for /v2/health/ready to answer 200. Returns 0 or -1.
 */
int tu_daemon_start(struct tu_daemon *d, const char *config_text);
/* Sends SIGTERM, waits, and returns the exit status (as from waitpid), removing the dir. */
int tu_daemon_stop(struct tu_daemon *d);

/*
 * Sends raw bytes on a new connection to socket, reads until the peer closes or
 * one full response (by Content-Length) has arrived, or timeout_ms passes.
 * Returns the HTTP status (0 when none was read) and a malloc'd body in *body (may be NULL).
 */
int tu_raw_request(const char *socket, const char *raw, size_t rawlen, int timeout_ms, char **body);
/* Convenience: a full HTTP/1.1 request with method, path and optional JSON body. */
int tu_http(const char *socket, const char *method, const char *path, const char *json,
            char **body);

/* asprintf() that aborts when out of memory (tests have no way to recover). */
char *tu_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when the daemon runs under a wrapper (INFERD_WRAPPER, e.g. valgrind) or an emulator
 * (INFERD_EMULATOR, qemu-user): slower, and its RSS is not the daemon's alone. */
bool tu_wrapped(void);
/* Open file descriptors of process pid (/proc/PID/fd), or -1 when unreadable. */
int tu_fd_count(pid_t pid);
/* Sleeps ms milliseconds, resuming after signals. */
void tu_sleep_ms(long ms);

/* A growing byte buffer, always NUL-terminated; start from {0}, free(p) when done. */
struct tu_buf {
	char *p;
	size_t len, cap;
};
/* Appends n bytes of p. Aborts when out of memory. */
void tu_buf_add(struct tu_buf *b, const void *p, size_t n);
/* Appends formatted text. */
void tu_buf_printf(struct tu_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the n low bytes of v little-endian, whatever the host's byte order. */
void tu_buf_le(struct tu_buf *b, uint64_t v, size_t n);

#endif
