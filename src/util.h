/* util.h: small helpers every module shares: safe whole-file reads, sha256 hex, names, time. */
#ifndef INFERD_UTIL_H
#define INFERD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

/* The longest model name (and state-directory component): the API's {1,64}. */
#define UTIL_NAME_MAX 64
/* sha256 as lowercase hex, without the terminating NUL. */
#define UTIL_SHA256_HEX_LEN 64

/* util_open_regular / util_read_file flag: refuse a symbolic link as the last component. */
#define UTIL_NOFOLLOW 0x1u

/*
 * What a file of this mode is, for an error message: "a FIFO", "a directory", "a socket",
 * "a character device"... Callers that word their own refusal (conf's @include) use it.
 */
const char *util_file_kind(mode_t mode);

/*
 * Opens path for reading only if it is a regular file, so that nothing the daemon reads
 * (a model, a golden set, the config, a state file) can block it or stream without end:
 * the path is stat()ed first and anything else (a FIFO, a socket, a directory, a device)
 * is refused without being opened; then it is opened O_RDONLY | O_NONBLOCK | O_CLOEXEC
 * (| O_NOFOLLOW with UTIL_NOFOLLOW) and fstat()ed again, in case it was swapped meanwhile.
 * Returns the fd, with *st its fstat(); or a negative errno with a reason naming path in
 * err: -EISDIR for a directory, -EINVAL for any other non-regular file, -ELOOP for a
 * symbolic link under UTIL_NOFOLLOW, open()'s or stat()'s errno otherwise. On failure
 * st->st_mode is the kind found, or 0 when the path could not be examined at all.
 */
int util_open_regular(const char *path, unsigned flags, struct stat *st, char *err, size_t errlen);

/*
 * Reads fd to its end into a malloc'd, NUL-terminated buffer (*len excludes the NUL),
 * refusing more than max bytes with -EFBIG ("PATH is larger than the limit of MAX bytes").
 * path only names the file in err. A regular file's size sizes the buffer and is checked
 * before reading; any other fd (inferctl's stdin) is read until EOF, which may block.
 * Returns 0, or a negative errno with a reason in err; *buf is NULL on failure.
 */
int util_read_fd(int fd, const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen);

/*
 * The one way the daemon reads a whole file: util_open_regular() then util_read_fd().
 * Returns 0 with *buf (NUL-terminated, free() it) and *len, or a negative errno with a
 * reason naming path in err (the errnos of both functions).
 */
int util_read_file(const char *path, size_t max, unsigned flags, char **buf, size_t *len, char *err,
                   size_t errlen);

/* sha256 of n bytes as lowercase hex: how models, configs and snapshots are identified. */
void util_sha256_hex(const void *p, size_t n, char out[UTIL_SHA256_HEX_LEN + 1]);

/*
 * The model-name rule, which also makes a safe URL segment and directory name:
 * [A-Za-z0-9_.-]{1,UTIL_NAME_MAX}, but not "." or "..". NULL is not a name.
 */
bool util_valid_name(const char *s);
/* As util_valid_name(), for n bytes that need not be NUL-terminated (a URL segment). */
bool util_valid_name_n(const char *s, size_t n);

/* CLOCK_MONOTONIC in nanoseconds: deadlines and durations that wall-clock steps cannot skew. */
uint64_t util_monotonic_ns(void);

/*
 * Formats a reason into err (when err and errlen allow) and returns rc, so that a failure
 * is one statement: return util_fail(err, errlen, -EINVAL, "bad %s", what);
 */
int util_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
