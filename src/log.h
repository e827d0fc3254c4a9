/* log.h: leveled logging to the journal (structured fields) or to stderr. */
#ifndef INFERD_LOG_H
#define INFERD_LOG_H

#include <stddef.h>

/* Syslog-compatible priorities, so journal PRIORITY= needs no mapping. */
enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* One structured journal field, e.g. { "MODEL", "breast-cancer" }. */
struct log_field {
	const char *key;
	const char *value;
};

/* Picks the sink: the journal when JOURNAL_STREAM names our stderr, else stderr. */
void log_init(const char *ident, int level);
/* Changes the threshold (config reload). */
void log_set_level(int level);
/* Parses "error|warning|notice|info|debug"; returns the level or -EINVAL. */
int log_level_from_name(const char *name);
/* Returns the canonical name of a level. */
const char *log_level_name(int level);
/* Flushes and detaches the sink. */
void log_fini(void);

/* Logs a message with optional structured fields (fields may be NULL when n is 0). */
void log_fields(int level, const struct log_field *fields, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_err(...)    log_fields(LOG_LVL_ERR, NULL, 0, __VA_ARGS__)
#define log_warn(...)   log_fields(LOG_LVL_WARN, NULL, 0, __VA_ARGS__)
#define log_notice(...) log_fields(LOG_LVL_NOTICE, NULL, 0, __VA_ARGS__)
#define log_info(...)   log_fields(LOG_LVL_INFO, NULL, 0, __VA_ARGS__)
#define log_debug(...)  log_fields(LOG_LVL_DEBUG, NULL, 0, __VA_ARGS__)

#endif
