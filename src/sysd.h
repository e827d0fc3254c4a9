/* sysd.h: every systemd call inferd makes; each is harmless when systemd is absent. */
#ifndef INFERD_SYSD_H
#define INFERD_SYSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Reads NOTIFY_SOCKET / WATCHDOG_USEC once. */
int sysd_init(void);
void sysd_fini(void);

/* READY=1 plus STATUS=. */
void sysd_notify_ready(const char *status);
/* STATUS= only. */
void sysd_notify_status(const char *status);
/* RELOADING=1 with MONOTONIC_USEC=, plus STATUS=. */
void sysd_notify_reloading(const char *status);
/* STOPPING=1 plus STATUS=. */
void sysd_notify_stopping(const char *status);
/* WATCHDOG=1. */
void sysd_notify_watchdog(void);
/* The watchdog interval in microseconds, 0 when not enabled for us. */
uint64_t sysd_watchdog_usec(void);

/*
 * Returns the single socket systemd passed us (LISTEN_FDS), -ENOENT when not activated,
 * or another negative errno when more than one or a wrong kind of fd was passed.
 */
int sysd_listen_fd(void);

/* True when stderr is connected to the journal (JOURNAL_STREAM matches). */
bool sysd_stderr_is_journal(void);
/* Sends one journal entry of n "KEY=value" iovecs. 0 or -errno. */
int sysd_journal_sendv(const struct iovec *iov, size_t n);

#endif
