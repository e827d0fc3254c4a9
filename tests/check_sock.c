/* check_sock.c: Unix socket creation, stale-file handling, peer credentials, groups. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	dir = NULL;
}

static char *path_in(const char *name)
{
	char *p = NULL;

	ck_assert_int_ne(asprintf(&p, "%s/%s", dir, name), -1);
	return p;
}

/* Returns 0 when a client can connect to path, else -errno. */
static int try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	close(fd);
	return r;
}

START_TEST(test_fresh_path)
{
	char *p = path_in("s.sock"), err[256] = "";
	struct stat st;
	int fd = sock_listen_unix(p, 0660, NULL, 8, err, sizeof(err));

	ck_assert_msg(fd >= 0, "sock_listen_unix: %d %s", fd, err);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(sock_check_unix_listener(fd), 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(try_connect(p), 0);
	close(fd);
	free(p);
}
END_TEST

/* The mode must be exact whatever the process umask is. */
static void check_mode(unsigned mode, mode_t mask)
{
	char *p = path_in("m.sock"), err[256] = "";
	mode_t old = umask(mask);
	struct stat st;
	int fd = sock_listen_unix(p, mode, NULL, 8, err, sizeof(err));

	umask(old);
	ck_assert_msg(fd >= 0, "sock_listen_unix: %d %s", fd, err);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == mode, "mode %04o, wanted %04o (umask %03o)",
	              (unsigned)(st.st_mode & 07777), mode, (unsigned)mask);
	close(fd);
	unlink(p);
	free(p);
}

START_TEST(test_mode_exact)
{
	check_mode(0600, 022);
	check_mode(0660, 022);
	check_mode(0660, 077);
	check_mode(0666, 0);
	check_mode(0600, 0);
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
	char *p = path_in("stale.sock"), err[256] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int old = socket(AF_UNIX, SOCK_STREAM, 0), fd;

	/* A bound socket whose owner is gone: the file stays, connect() is refused. */
	ck_assert_int_ge(old, 0);
	strcpy(sa.sun_path, p);
	ck_assert_int_eq(bind(old, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(old);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(try_connect(p), -ECONNREFUSED);

	fd = sock_listen_unix(p, 0600, NULL, 8, err, sizeof(err));
	ck_assert_msg(fd >= 0, "sock_listen_unix: %d %s", fd, err);
	ck_assert_int_eq(try_connect(p), 0);
	close(fd);
	free(p);
}
END_TEST

START_TEST(test_live_socket_refused)
{
	char *p = path_in("live.sock"), err[256] = "";
	int fd1, fd2;

	fd1 = sock_listen_unix(p, 0600, NULL, 8, err, sizeof(err));
	ck_assert_msg(fd1 >= 0, "sock_listen_unix: %d %s", fd1, err);
	err[0] = '\0';
	fd2 = sock_listen_unix(p, 0600, NULL, 8, err, sizeof(err));
	ck_assert_int_eq(fd2, -EADDRINUSE);
	ck_assert_msg(strstr(err, "in use") && strstr(err, p), "err: %s", err);
	/* The running server still owns its socket. */
	ck_assert_int_eq(try_connect(p), 0);
	close(fd1);
	free(p);
}
END_TEST

START_TEST(test_regular_file_refused)
{
	char *p = tu_write_file(dir, "precious", "do not delete\n"), err[256] = "", buf[64];
	FILE *f;
	size_t n;
	int fd = sock_listen_unix(p, 0600, NULL, 8, err, sizeof(err));

	ck_assert_int_eq(fd, -EEXIST);
	ck_assert_msg(strstr(err, "not a socket"), "err: %s", err);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_str_eq(buf, "do not delete\n");
	free(p);
}
END_TEST

START_TEST(test_missing_parent_created)
{
	char *p = path_in("run/inferd.sock"), *sub = path_in("run"), err[256] = "";
	char *deep = path_in("a/b/inferd.sock");
	mode_t old = umask(022);
	struct stat st;
	int fd = sock_listen_unix(p, 0660, NULL, 8, err, sizeof(err));

	ck_assert_msg(fd >= 0, "sock_listen_unix: %d %s", fd, err);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_int_eq(try_connect(p), 0);
	close(fd);

	/* Only one level is created: a missing grandparent is an error. */
	fd = sock_listen_unix(deep, 0660, NULL, 8, err, sizeof(err));
	umask(old);
	ck_assert_int_eq(fd, -ENOENT);
	ck_assert_str_ne(err, "");
	free(p);
	free(sub);
	free(deep);
}
END_TEST

START_TEST(test_path_too_long)
{
	struct sockaddr_un sa;
	char name[sizeof(sa.sun_path) + 8], *p, err[256] = "";
	struct stat st;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	p = path_in(name);
	ck_assert_int_eq(sock_listen_unix(p, 0600, NULL, 8, err, sizeof(err)), -ENAMETOOLONG);
	ck_assert_str_ne(err, "");
	ck_assert_int_eq(lstat(p, &st), -1);
	free(p);
	ck_assert_int_eq(sock_listen_unix("", 0600, NULL, 8, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(test_group_applied)
{
	char *p = path_in("g.sock"), err[256] = "";
	struct group *gr = getgrgid(getgid());
	struct stat st;
	int fd;

	if (!gr) {
		fprintf(stderr, "SKIP test_group_applied: our gid has no group entry\n");
		free(p);
		return;
	}
	fd = sock_listen_unix(p, 0660, gr->gr_name, 8, err, sizeof(err));
	ck_assert_msg(fd >= 0, "sock_listen_unix: %d %s", fd, err);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_gid, getgid());
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	close(fd);
	free(p);
}
END_TEST

START_TEST(test_unknown_group_refused)
{
	char *p = path_in("u.sock"), err[256] = "";
	struct stat st;

	ck_assert_int_eq(sock_listen_unix(p, 0660, "inferd-no-such-group-zz9", 8, err, sizeof(err)),
	                 -ENOENT);
	ck_assert_msg(strstr(err, "inferd-no-such-group-zz9"), "err: %s", err);
	ck_assert_int_eq(lstat(p, &st), -1);
	free(p);
}
END_TEST

START_TEST(test_check_listener)
{
	int sv[2], udp, pfd[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(sock_check_unix_listener(sv[0]), -EINVAL);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(udp, 0);
	ck_assert_int_eq(sock_check_unix_listener(udp), -EINVAL);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(sock_check_unix_listener(pfd[0]), -ENOTSOCK);
	close(sv[0]);
	close(sv[1]);
	close(udp);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

START_TEST(test_peer_cred)
{
	int sv[2];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	pid_t pid = -1;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(sock_peer_cred(sv[0], &uid, &gid, &pid), 0);
	ck_assert_uint_eq(uid, getuid());
	ck_assert_uint_eq(gid, getgid());
	ck_assert_int_eq(pid, getpid());
	close(sv[0]);
	close(sv[1]);
	ck_assert_int_lt(sock_peer_cred(-1, &uid, &gid, &pid), 0);
}
END_TEST

START_TEST(test_uid_in_group)
{
	struct passwd *pw;
	struct group *gr;

	/* root is always allowed, even for a group that does not exist. */
	ck_assert_int_eq(sock_uid_in_group(0, 0, "inferd-no-such-group-zz9"), 1);
	/* A non-root uid is never in a group that does not exist. */
	ck_assert_int_eq(sock_uid_in_group(65534, 65534, "inferd-no-such-group-zz9"), 0);
	ck_assert_int_eq(sock_uid_in_group(65534, 65534, NULL), 0);

	/* The peer's own gid names the group. */
	gr = getgrgid(0);
	if (gr) {
		char *name = strdup(gr->gr_name);

		ck_assert_int_eq(sock_uid_in_group(65534, 0, name), 1);
		ck_assert_int_eq(sock_uid_in_group(4242424, 4242424, name), 0);
		free(name);
	}
	/* Primary group from the passwd database, with an unrelated peer gid. */
	pw = getpwuid(65534);
	if (pw) {
		uid_t uid = pw->pw_uid;

		gr = getgrgid(pw->pw_gid);
		if (gr) {
			char *name = strdup(gr->gr_name);

			ck_assert_int_eq(sock_uid_in_group(uid, 4242424, name), 1);
			free(name);
		}
	}
	/* Supplementary membership: any listed member of any group in the database. */
	setgrent();
	while ((gr = getgrent())) {
		if (gr->gr_mem && gr->gr_mem[0] && (pw = getpwnam(gr->gr_mem[0])) &&
		    pw->pw_uid != 0) {
			uid_t uid = pw->pw_uid;
			char *name = strdup(gr->gr_name);

			endgrent();
			ck_assert_int_eq(sock_uid_in_group(uid, 4242424, name), 1);
			free(name);
			return;
		}
	}
	endgrent();
	fprintf(stderr, "note: no group with a non-root listed member; membership path untested\n");
}
END_TEST

START_TEST(test_parse_inet)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;
	socklen_t len = 0;
	char buf[64];
	static const char *const bad[] = {NULL,
	                                  "",
	                                  "127.0.0.1",
	                                  "127.0.0.1:",
	                                  "127.0.0.1:0",
	                                  "127.0.0.1:65536",
	                                  "127.0.0.1:99999",
	                                  "127.0.0.1:-1",
	                                  "127.0.0.1:0080",
	                                  "127.0.0.1:8 ",
	                                  "localhost:80",
	                                  "::1:80",
	                                  "[::1]",
	                                  "[::1]:",
	                                  "[::1]80",
	                                  "[]:80",
	                                  "[1.2.3.4]:80",
	                                  "1.2.3:80",
	                                  "256.1.1.1:80",
	                                  "[::1:80"};

	ck_assert_int_eq(sock_parse_inet("127.0.0.1:8080", &ss, &len), 0);
	ck_assert_int_eq(a4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(a4->sin_port), 8080);
	ck_assert_uint_eq(ntohl(a4->sin_addr.s_addr), 0x7f000001u);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(sock_format_inet((struct sockaddr *)&ss, buf, sizeof buf),
	                 "127.0.0.1:8080");

	ck_assert_int_eq(sock_parse_inet("[::1]:65535", &ss, &len), 0);
	ck_assert_int_eq(a6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(a6->sin6_port), 65535);
	ck_assert_int_eq(memcmp(&a6->sin6_addr, &loop6, sizeof loop6), 0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(sock_format_inet((struct sockaddr *)&ss, buf, sizeof buf), "[::1]:65535");

	ck_assert_int_eq(sock_parse_inet("0.0.0.0:1", NULL, NULL), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(sock_parse_inet(bad[i], &ss, &len) == -EINVAL, "accepted \"%s\"",
		              bad[i] ? bad[i] : "(null)");
	ck_assert_str_eq(sock_format_inet(NULL, buf, sizeof buf), "unknown address");
}
END_TEST

START_TEST(test_listen_tcp)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	char err[256], addr[64];
	int fd, fd2, c, fl;

	/* Find a free loopback port, then listen on it by name. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

	fd = sock_listen_tcp(addr, 8, err, sizeof err);
	ck_assert_msg(fd >= 0, "sock_listen_tcp(%s): %d %s", addr, fd, err);
	fl = fcntl(fd, F_GETFL);
	ck_assert(fl >= 0 && (fl & O_NONBLOCK));
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
	close(c);
	/* The same port twice: EADDRINUSE, with the address in the reason. */
	fd2 = sock_listen_tcp(addr, 8, err, sizeof err);
	ck_assert_int_eq(fd2, -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, addr));
	close(fd);

	ck_assert_int_eq(sock_listen_tcp("localhost:80", 8, err, sizeof err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "ADDR:PORT"));
	/* An address this host does not have. */
	ck_assert_int_eq(sock_listen_tcp("192.0.2.1:9", 8, err, sizeof err), -EADDRNOTAVAIL);
	ck_assert_ptr_nonnull(strstr(err, "192.0.2.1:9"));
}
END_TEST

static Suite *sock_suite(void)
{
	Suite *s = suite_create("sock");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fresh_path);
	tcase_add_test(tc, test_mode_exact);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_live_socket_refused);
	tcase_add_test(tc, test_regular_file_refused);
	tcase_add_test(tc, test_missing_parent_created);
	tcase_add_test(tc, test_path_too_long);
	tcase_add_test(tc, test_group_applied);
	tcase_add_test(tc, test_unknown_group_refused);
	tcase_add_test(tc, test_check_listener);
	tcase_add_test(tc, test_peer_cred);
	tcase_add_test(tc, test_uid_in_group);
	tcase_add_test(tc, test_parse_inet);
	tcase_add_test(tc, test_listen_tcp);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
