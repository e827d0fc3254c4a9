/* check_util.c: tests for util: safe whole-file reads of every kind of file, sha256, names. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

/* Seconds a test may take before SIGALRM kills it: a read that blocks must fail, not hang. */
#define SAFETY_SECONDS 20

static char *dir;
static char err[1024];

static void setup(void)
{
	dir = tu_mkdtemp();
	err[0] = '\0';
	alarm(SAFETY_SECONDS);
}

static void teardown(void)
{
	alarm(0);
	tu_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* dir/name, malloc'd. */
static char *in_dir(const char *name)
{
	return tu_xasprintf("%s/%s", dir, name);
}

/* Reads path with util_read_file; asserts that nothing comes back on failure. */
static int read_it(const char *path, size_t max, unsigned flags, char **buf, size_t *len)
{
	int rc;

	*buf = (char *)1;
	*len = 12345;
	err[0] = '\0';
	rc = util_read_file(path, max, flags, buf, len, err, sizeof err);
	if (rc < 0) {
		ck_assert_ptr_null(*buf);
		ck_assert_uint_eq(*len, 0);
	}
	return rc;
}

/* Asserts a refusal: rc, and a reason naming the path and containing what. */
static void assert_refused(const char *path, unsigned flags, int want_rc, const char *what)
{
	char *buf;
	size_t len;
	int rc = read_it(path, 1 << 20, flags, &buf, &len);

	ck_assert_msg(rc == want_rc, "%s: rc %d (%s), expected %d", path, rc, err, want_rc);
	ck_assert_msg(strstr(err, path) != NULL, "the reason does not name %s: %s", path, err);
	ck_assert_msg(strstr(err, what) != NULL, "the reason for %s lacks \"%s\": %s", path, what,
	              err);
}

START_TEST(test_regular_files)
{
	char *path = tu_write_file(dir, "f.json", "{\"a\": 1}\n"), *empty;
	char *buf;
	size_t len;

	ck_assert_int_eq(read_it(path, 1 << 20, 0, &buf, &len), 0);
	ck_assert_uint_eq(len, 9);
	ck_assert_str_eq(buf, "{\"a\": 1}\n");
	free(buf);
	/* With NOFOLLOW a plain file reads the same. */
	ck_assert_int_eq(read_it(path, 1 << 20, UTIL_NOFOLLOW, &buf, &len), 0);
	ck_assert_uint_eq(len, 9);
	free(buf);

	empty = tu_write_file(dir, "empty", "");
	ck_assert_int_eq(read_it(empty, 1 << 20, 0, &buf, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(buf, "");
	free(buf);
	/* A bound of 0 still admits the empty file. */
	ck_assert_int_eq(read_it(empty, 0, 0, &buf, &len), 0);
	free(buf);
	free(empty);
	free(path);
}
END_TEST

START_TEST(test_size_bound)
{
	char *path = tu_write_file(dir, "ten", "0123456789");
	char *buf;
	size_t len;

	/* Exactly at the bound is fine; one byte under it is not. */
	ck_assert_int_eq(read_it(path, 10, 0, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "0123456789");
	free(buf);
	ck_assert_int_eq(read_it(path, 9, 0, &buf, &len), -EFBIG);
	ck_assert_msg(strstr(err, path) && strstr(err, "limit of 9 bytes"), "%s", err);
	free(path);
}
END_TEST

START_TEST(test_missing)
{
	char *path = in_dir("absent.json");

	assert_refused(path, 0, -ENOENT, strerror(ENOENT));
	free(path);
}
END_TEST

START_TEST(test_fifo)
{
	char *path = in_dir("pipe");
	struct stat st;
	int fd;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* No writer: opening it for reading without O_NONBLOCK would block for ever. */
	assert_refused(path, 0, -EINVAL, "is a FIFO");
	assert_refused(path, UTIL_NOFOLLOW, -EINVAL, "is a FIFO");
	fd = util_open_regular(path, 0, &st, err, sizeof err);
	ck_assert_int_eq(fd, -EINVAL);
	ck_assert(S_ISFIFO(st.st_mode));
	free(path);
}
END_TEST

START_TEST(test_socket)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = in_dir("sock");
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(s, 0);
	ck_assert_uint_lt(strlen(path), sizeof sa.sun_path);
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	/* open() would say ENXIO; the reason says what the path is instead. */
	assert_refused(path, 0, -EINVAL, "is a socket");
	close(s);
	free(path);
}
END_TEST

START_TEST(test_directory)
{
	assert_refused(dir, 0, -EISDIR, "is a directory");
	assert_refused(dir, UTIL_NOFOLLOW, -EISDIR, "is a directory");
}
END_TEST

START_TEST(test_devices)
{
	/* Both stream for ever: a read to EOF would never end, or fill memory to the bound. */
	assert_refused("/dev/zero", 0, -EINVAL, "is a character device");
	assert_refused("/dev/urandom", 0, -EINVAL, "is a character device");
	assert_refused("/dev/null", 0, -EINVAL, "is a character device");
}
END_TEST

START_TEST(test_symlinks)
{
	char *target = tu_write_file(dir, "target", "payload");
	char *link = in_dir("link"), *dev = in_dir("dev"), *dangling = in_dir("dangling");
	char *buf;
	size_t len;

	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(symlink("/dev/zero", dev), 0);
	ck_assert_int_eq(symlink("absent", dangling), 0);
	/* Followed by default... */
	ck_assert_int_eq(read_it(link, 100, 0, &buf, &len), 0);
	ck_assert_str_eq(buf, "payload");
	free(buf);
	/* ...refused with NOFOLLOW, whatever it points at. */
	assert_refused(link, UTIL_NOFOLLOW, -ELOOP, "is a symbolic link");
	assert_refused(dev, UTIL_NOFOLLOW, -ELOOP, "is a symbolic link");
	assert_refused(dangling, UTIL_NOFOLLOW, -ELOOP, "is a symbolic link");
	/* A link to a device is judged by what it points at. */
	assert_refused(dev, 0, -EINVAL, "is a character device");
	assert_refused(dangling, 0, -ENOENT, strerror(ENOENT));
	free(target);
	free(link);
	free(dev);
	free(dangling);
}
END_TEST

/* util_read_fd on a pipe (inferctl's stdin): read to EOF, and bounded. */
START_TEST(test_read_fd_pipe)
{
	static const char text[] = "from a pipe";
	char big[100000];
	int p[2];
	char *buf;
	size_t len;
	pid_t pid;
	int st;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], text, strlen(text)), (int)strlen(text));
	close(p[1]);
	ck_assert_int_eq(util_read_fd(p[0], NULL, 100, &buf, &len, err, sizeof err), 0);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_str_eq(buf, text);
	free(buf);
	close(p[0]);

	/* More than the bound through a pipe (no size to check first): -EFBIG, named. */
	memset(big, 'x', sizeof big);
	ck_assert_int_eq(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		_exit(write(p[1], big, sizeof big) == (ssize_t)sizeof big ? 0 : 1);
	}
	close(p[1]);
	ck_assert_int_eq(util_read_fd(p[0], "stdin", 70000, &buf, &len, err, sizeof err), -EFBIG);
	ck_assert_ptr_null(buf);
	ck_assert_msg(strstr(err, "stdin is larger than the limit of 70000 bytes"), "%s", err);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}
END_TEST

START_TEST(test_open_regular)
{
	char *path = tu_write_file(dir, "r", "abc"), *absent = in_dir("absent");
	struct stat st;
	char b[8];
	int fd = util_open_regular(path, UTIL_NOFOLLOW, &st, err, sizeof err);

	ck_assert_int_ge(fd, 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 3);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(read(fd, b, sizeof b), 3);
	close(fd);
	/* A path that cannot be examined leaves no kind behind. */
	ck_assert_int_eq(util_open_regular(absent, 0, &st, err, sizeof err), -ENOENT);
	ck_assert_uint_eq(st.st_mode, 0);
	ck_assert_str_eq(util_file_kind(S_IFSOCK), "a socket");
	ck_assert_str_eq(util_file_kind(S_IFBLK), "a block device");
	free(path);
	free(absent);
}
END_TEST

START_TEST(test_sha256_known_vectors)
{
	char out[UTIL_SHA256_HEX_LEN + 1];
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	/* FIPS 180-2 test vectors. */
	util_sha256_hex("", 0, out);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	util_sha256_hex("abc", 3, out);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	util_sha256_hex(two_blocks, strlen(two_blocks), out);
	ck_assert_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_names)
{
	char name[UTIL_NAME_MAX + 2];

	ck_assert(util_valid_name("breast-cancer"));
	ck_assert(util_valid_name("a"));
	ck_assert(util_valid_name("A_z.0-9"));
	ck_assert(util_valid_name("..."));
	ck_assert(util_valid_name(".hidden"));
	memset(name, 'n', UTIL_NAME_MAX);
	name[UTIL_NAME_MAX] = '\0';
	ck_assert(util_valid_name(name));
	name[UTIL_NAME_MAX] = 'n';
	name[UTIL_NAME_MAX + 1] = '\0';
	ck_assert(!util_valid_name(name));
	ck_assert(!util_valid_name(""));
	ck_assert(!util_valid_name(NULL));
	ck_assert(!util_valid_name("."));
	ck_assert(!util_valid_name(".."));
	ck_assert(!util_valid_name("a/b"));
	ck_assert(!util_valid_name("a b"));
	ck_assert(!util_valid_name("caf\xc3\xa9"));
	ck_assert(!util_valid_name("x%2e"));
	/* Counted: a URL segment is not NUL-terminated. */
	ck_assert(util_valid_name_n("bc/infer", 2));
	ck_assert(!util_valid_name_n("bc/infer", 3));
	ck_assert(!util_valid_name_n("../x", 2));
	ck_assert(!util_valid_name_n("abc", 0));
}
END_TEST

START_TEST(test_monotonic)
{
	uint64_t a = util_monotonic_ns(), b;
	struct timespec ts;

	tu_sleep_ms(20);
	b = util_monotonic_ns();
	/* The same clock the kernel measures: 20 ms of sleep shows as at least 20 ms. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ck_assert_uint_ge(b - a, 20000000u);
	ck_assert_uint_le(b, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}
END_TEST

START_TEST(test_fail)
{
	char small[6];

	ck_assert_int_eq(util_fail(err, sizeof err, -EINVAL, "bad %s %d", "x", 7), -EINVAL);
	ck_assert_str_eq(err, "bad x 7");
	/* Truncated to the buffer, NUL-terminated; no buffer at all is fine. */
	ck_assert_int_eq(util_fail(small, sizeof small, -EFBIG, "%s", "0123456789"), -EFBIG);
	ck_assert_str_eq(small, "01234");
	ck_assert_int_eq(util_fail(NULL, 0, -ENOMEM, "ignored"), -ENOMEM);
	ck_assert_int_eq(util_fail(small, 0, 0, "ignored"), 0);
	ck_assert_str_eq(small, "01234");
}
END_TEST

static Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *files = tcase_create("files"), *misc = tcase_create("misc");

	tcase_add_checked_fixture(files, setup, teardown);
	tcase_add_test(files, test_regular_files);
	tcase_add_test(files, test_size_bound);
	tcase_add_test(files, test_missing);
	tcase_add_test(files, test_fifo);
	tcase_add_test(files, test_socket);
	tcase_add_test(files, test_directory);
	tcase_add_test(files, test_devices);
	tcase_add_test(files, test_symlinks);
	tcase_add_test(files, test_read_fd_pipe);
	tcase_add_test(files, test_open_regular);
	suite_add_tcase(s, files);
	tcase_add_test(misc, test_sha256_known_vectors);
	tcase_add_test(misc, test_names);
	tcase_add_test(misc, test_monotonic);
	tcase_add_test(misc, test_fail);
	suite_add_tcase(s, misc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
