/* check_sysd.c: systemd glue against a fake NOTIFY_SOCKET and hand-made LISTEN_FDS. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sysd.h"
#include "testutil.h"

static void clear_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("JOURNAL_STREAM");
}

static unsigned long long mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* A datagram socket standing in for systemd's notification socket. */
static int fake_notify_socket(const char *dir, char **path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(asprintf(path, "%s/notify", dir), -1);
	ck_assert_uint_lt(strlen(*path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, *path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Receives one datagram within timeout_ms; returns its length, -1 when none came. */
static ssize_t recv_dgram(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	n = recv(fd, buf, len - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

START_TEST(test_notify_sequence)
{
	char *dir = tu_mkdtemp(), *path = NULL, buf[4096], *p;
	unsigned long long before, after, stamp;
	int fd;

	clear_env();
	fd = fake_notify_socket(dir, &path);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	ck_assert_int_eq(sysd_init(), 0);

	sysd_notify_ready("serving 1 model");
	sysd_notify_status("still serving");
	before = mono_usec();
	sysd_notify_reloading("reloading configuration");
	after = mono_usec();
	sysd_notify_stopping("shutting down");
	sysd_notify_watchdog();

	ck_assert_int_gt(recv_dgram(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_str_eq(buf, "READY=1\nSTATUS=serving 1 model");
	ck_assert_int_gt(recv_dgram(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_str_eq(buf, "STATUS=still serving");

	ck_assert_int_gt(recv_dgram(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_msg(strncmp(buf, "RELOADING=1\n", 12) == 0, "got %s", buf);
	p = strstr(buf, "\nMONOTONIC_USEC=");
	ck_assert_ptr_nonnull(p);
	stamp = strtoull(p + 16, NULL, 10);
	ck_assert_msg(stamp >= before && stamp <= after, "MONOTONIC_USEC %llu not in [%llu, %llu]",
	              stamp, before, after);
	ck_assert_ptr_nonnull(strstr(buf, "\nSTATUS=reloading configuration"));

	ck_assert_int_gt(recv_dgram(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_str_eq(buf, "STOPPING=1\nSTATUS=shutting down");
	ck_assert_int_gt(recv_dgram(fd, buf, sizeof(buf), 2000), 0);
	ck_assert_str_eq(buf, "WATCHDOG=1");
	/* Nothing else was sent. */
	ck_assert_int_eq(recv_dgram(fd, buf, sizeof(buf), 100), -1);

	sysd_fini();
	clear_env();
	close(fd);
	free(path);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_notify_absent_is_noop)
{
	char *dir = tu_mkdtemp(), *path = NULL, buf[256];
	int fd;

	clear_env();
	fd = fake_notify_socket(dir, &path);
	ck_assert_int_eq(sysd_init(), 0);
	ck_assert_uint_eq(sysd_watchdog_usec(), 0);
	/* The environment is read once at init: a socket appearing later is not used. */
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	sysd_notify_ready("x");
	sysd_notify_status("x");
	sysd_notify_reloading("x");
	sysd_notify_stopping(NULL);
	sysd_notify_watchdog();
	ck_assert_int_eq(recv_dgram(fd, buf, sizeof(buf), 200), -1);
	sysd_fini();

	/* Never initialised at all: still harmless. */
	unsetenv("NOTIFY_SOCKET");
	sysd_notify_ready(NULL);
	sysd_notify_watchdog();
	ck_assert_int_eq(recv_dgram(fd, buf, sizeof(buf), 100), -1);

	clear_env();
	close(fd);
	free(path);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_watchdog_usec)
{
	char pid[32];

	clear_env();
	ck_assert_int_eq(sysd_init(), 0);
	ck_assert_uint_eq(sysd_watchdog_usec(), 0);
	sysd_fini();

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "2500000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(sysd_init(), 0);
	ck_assert_uint_eq(sysd_watchdog_usec(), 2500000);
	sysd_fini();

	/* Meant for another process (pid 1 is never a Check test): not ours. */
	setenv("WATCHDOG_PID", "1", 1);
	ck_assert_int_eq(sysd_init(), 0);
	ck_assert_uint_eq(sysd_watchdog_usec(), 0);
	sysd_fini();
	clear_env();
}
END_TEST

START_TEST(test_listen_fd_absent)
{
	clear_env();
	ck_assert_int_eq(sysd_listen_fd(), -ENOENT);
	/* LISTEN_FDS for another process is not ours either. */
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", "1", 1);
	ck_assert_int_eq(sysd_listen_fd(), -ENOENT);
	clear_env();
}
END_TEST

enum fd_kind { FD_UNIX_LISTENING, FD_UNIX_NOT_LISTENING, FD_UDP, FD_TWO_UNIX };

static int make_kind(enum fd_kind kind, const char *dir, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (kind == FD_UDP)
		return socket(AF_INET, SOCK_DGRAM, 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (kind != FD_UNIX_NOT_LISTENING && listen(fd, 4) < 0)
		return -1;
	return fd;
}

/* Leaves the child cleanly, so memcheck (which follows forks) sees no leak. */
static void child_exit(char *dir, int code)
{
	free(dir);
	_exit(code);
}

/*
 * In a child (fd 3 and 4 are rearranged there, which must not disturb Check), passes the
 * given socket(s) as systemd would and returns the child's exit code: 0 when
 * sysd_listen_fd() returned expect and consumed the environment.
 */
static int listen_fd_child(enum fd_kind kind, int expect)
{
	char *dir = tu_mkdtemp();
	pid_t pid;
	int status = -1;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[32];
		int a = make_kind(kind, dir, "a"), b = -1, got;

		if (a < 0)
			child_exit(dir, 10);
		if (kind == FD_TWO_UNIX && (b = make_kind(kind, dir, "b")) < 0)
			child_exit(dir, 11);
		/* Move the sockets out of the way first so dup2 onto 3/4 cannot clobber them. */
		a = fcntl(a, F_DUPFD, 100);
		if (b >= 0)
			b = fcntl(b, F_DUPFD, 101);
		if (a < 0 || dup2(a, 3) != 3 || (b >= 0 && dup2(b, 4) != 4))
			child_exit(dir, 12);
		snprintf(buf, sizeof(buf), "%ld", (long)getpid());
		clear_env();
		setenv("LISTEN_PID", buf, 1);
		setenv("LISTEN_FDS", kind == FD_TWO_UNIX ? "2" : "1", 1);
		got = sysd_listen_fd();
		if (got != expect) {
			fprintf(stderr, "sysd_listen_fd() = %d, expected %d\n", got, expect);
			child_exit(dir, 1);
		}
		if (getenv("LISTEN_FDS") || getenv("LISTEN_PID")) {
			fprintf(stderr, "LISTEN_FDS/LISTEN_PID left in the environment\n");
			child_exit(dir, 2);
		}
		child_exit(dir, 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	tu_rmtree(dir);
	free(dir);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_listen_fd_passed)
{
	ck_assert_int_eq(listen_fd_child(FD_UNIX_LISTENING, 3), 0);
}
END_TEST

START_TEST(test_listen_fd_wrong_kind)
{
	ck_assert_int_eq(listen_fd_child(FD_UDP, -EINVAL), 0);
	ck_assert_int_eq(listen_fd_child(FD_UNIX_NOT_LISTENING, -EINVAL), 0);
	ck_assert_int_eq(listen_fd_child(FD_TWO_UNIX, -E2BIG), 0);
}
END_TEST

START_TEST(test_stderr_is_journal)
{
	struct stat st;
	char buf[128];

	clear_env();
	ck_assert(!sysd_stderr_is_journal());
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", buf, 1);
	ck_assert(sysd_stderr_is_journal());
	snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", buf, 1);
	ck_assert(!sysd_stderr_is_journal());
	setenv("JOURNAL_STREAM", "garbage", 1);
	ck_assert(!sysd_stderr_is_journal());
	clear_env();
}
END_TEST

START_TEST(test_journal_sendv_empty)
{
	ck_assert_int_eq(sysd_journal_sendv(NULL, 0), -EINVAL);
}
END_TEST

static Suite *sysd_suite(void)
{
	Suite *s = suite_create("sysd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_notify_sequence);
	tcase_add_test(tc, test_notify_absent_is_noop);
	tcase_add_test(tc, test_watchdog_usec);
	tcase_add_test(tc, test_listen_fd_absent);
	tcase_add_test(tc, test_listen_fd_passed);
	tcase_add_test(tc, test_listen_fd_wrong_kind);
	tcase_add_test(tc, test_stderr_is_journal);
	tcase_add_test(tc, test_journal_sendv_empty);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sysd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
