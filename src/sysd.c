/* sysd.c: every libsystemd call inferd makes; each is harmless when systemd is absent. */
#include "sysd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "util.h"

/* Read once by sysd_init(): the environment is not supposed to change under us. */
static bool notify_on;
static uint64_t watchdog_usec;

int sysd_init(void)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	uint64_t usec = 0;

	notify_on = ns && *ns;
	watchdog_usec = 0;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if present, is us. */
	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_usec = usec;
	return 0;
}

void sysd_fini(void)
{
	notify_on = false;
	watchdog_usec = 0;
}

/* Sends "head" and, when status is given, "\nSTATUS=status". */
static void notify2(const char *head, const char *status)
{
	char *msg = NULL;

	if (!notify_on)
		return;
	if (!status) {
		sd_notify(0, head);
		return;
	}
	if (asprintf(&msg, "%s\nSTATUS=%s", head, status) < 0)
		return;
	sd_notify(0, msg);
	free(msg);
}

void sysd_notify_ready(const char *status)
{
	notify2("READY=1", status);
}

void sysd_notify_status(const char *status)
{
	char *msg = NULL;

	if (!notify_on || !status || asprintf(&msg, "STATUS=%s", status) < 0)
		return;
	sd_notify(0, msg);
	free(msg);
}

void sysd_notify_reloading(const char *status)
{
	char head[96];

	/* systemd (Type=notify-reload) matches the reload to our clock by MONOTONIC_USEC. */
	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)(util_monotonic_ns() / 1000));
	notify2(head, status);
}

void sysd_notify_stopping(const char *status)
{
	notify2("STOPPING=1", status);
}

void sysd_notify_watchdog(void)
{
	notify2("WATCHDOG=1", NULL);
}

uint64_t sysd_watchdog_usec(void)
{
	return watchdog_usec;
}

int sysd_listen_fd(void)
{
	int n = sd_listen_fds(1);
	int r;

	if (n < 0)
		return n;
	if (n == 0)
		return -ENOENT;
	if (n > 1)
		return -E2BIG;
	r = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
	if (r < 0)
		return r;
	if (r == 0)
		return -EINVAL;
	return SD_LISTEN_FDS_START;
}

bool sysd_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int sysd_journal_sendv(const struct iovec *iov, size_t n)
{
	if (n == 0 || n > 1024)
		return -EINVAL;
	return sd_journal_sendv(iov, (int)n);
}
