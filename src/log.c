/* log.c: leveled logging to the journal (structured fields) or to stderr. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sysd.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Read on every call from any thread; written by log_set_level() on reload. */
static atomic_int log_threshold = LOG_LVL_INFO;
static atomic_bool log_to_journal;
static char log_ident[64] = "inferd";

static const struct {
	const char *name;
	int level;
} level_names[] = {
    {"error", LOG_LVL_ERR}, {"warning", LOG_LVL_WARN}, {"notice", LOG_LVL_NOTICE},
    {"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG},  {"err", LOG_LVL_ERR},
    {"warn", LOG_LVL_WARN},
};

void log_init(const char *ident, int level)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_ident, sizeof(log_ident), "%s", ident && *ident ? ident : "inferd");
	pthread_mutex_unlock(&log_lock);
	atomic_store(&log_threshold, level);
	atomic_store(&log_to_journal, sysd_stderr_is_journal());
}

void log_set_level(int level)
{
	atomic_store(&log_threshold, level);
}

int log_level_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i].name) == 0)
			return level_names[i].level;
	return -EINVAL;
}

const char *log_level_name(int level)
{
	/* The first entries are the canonical names. */
	for (size_t i = 0; i < 5; i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return level < LOG_LVL_ERR ? "error" : "debug";
}

void log_fini(void)
{
	pthread_mutex_lock(&log_lock);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	atomic_store(&log_to_journal, false);
}

/* Appends s to a memstream, escaping what would break the one-line format. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	if (quote)
		fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			fputs("\\n", f);
		else if (quote && (c == '"' || c == '\\'))
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	if (quote)
		fputc('"', f);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '"' || *s == '\\' || *s == '=' ||
		    (unsigned char)*s < 0x20)
			return true;
	return false;
}

static void emit_stderr(int level, const struct log_field *fields, size_t n, const char *msg)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(f, "%s[%ld]: %s: ", log_ident, (long)getpid(), log_level_name(level));
	pthread_mutex_unlock(&log_lock);
	put_escaped(f, msg, false);
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].key || !fields[i].value)
			continue;
		fprintf(f, " %s=", fields[i].key);
		put_escaped(f, fields[i].value, needs_quotes(fields[i].value));
	}
	fputc('\n', f);
	if (fclose(f) == 0 && line) {
		/* One write per line keeps lines from different threads whole. */
		pthread_mutex_lock(&log_lock);
		fwrite(line, 1, len, stderr);
		fflush(stderr);
		pthread_mutex_unlock(&log_lock);
	}
	free(line);
}

static int emit_journal(int level, const struct log_field *fields, size_t n, const char *msg)
{
	char prio[24], ident[96];
	char *message = NULL;
	char **kv = calloc(n ? n : 1, sizeof(*kv));
	struct iovec *iov = calloc(n + 3, sizeof(*iov));
	size_t k = 0;
	int r = -ENOMEM;

	if (!kv || !iov || asprintf(&message, "MESSAGE=%s", msg) < 0) {
		message = NULL;
		goto out;
	}
	snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
	pthread_mutex_lock(&log_lock);
	snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
	pthread_mutex_unlock(&log_lock);
	iov[k++] = (struct iovec){message, strlen(message)};
	iov[k++] = (struct iovec){prio, strlen(prio)};
	iov[k++] = (struct iovec){ident, strlen(ident)};
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].key || !fields[i].value)
			continue;
		if (asprintf(&kv[i], "%s=%s", fields[i].key, fields[i].value) < 0) {
			kv[i] = NULL;
			goto out;
		}
		iov[k++] = (struct iovec){kv[i], strlen(kv[i])};
	}
	r = sysd_journal_sendv(iov, k);
out:
	if (kv)
		for (size_t i = 0; i < n; i++)
			free(kv[i]);
	free(kv);
	free(iov);
	free(message);
	return r;
}

void log_fields(int level, const struct log_field *fields, size_t n, const char *fmt, ...)
{
	char small[1024];
	char *msg = small;
	va_list ap;
	int len;

	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > atomic_load(&log_threshold))
		return;
	if (!fields)
		n = 0;
	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(small)) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		if (!msg)
			msg = small; /* keep the truncated text rather than nothing */
	}
	/* If the journal refuses, the message still has to go somewhere. */
	if (!atomic_load(&log_to_journal) || emit_journal(level, fields, n, msg) < 0)
		emit_stderr(level, fields, n, msg);
	if (msg != small)
		free(msg);
}
