/* check_state.c: unit tests of the state directory: atomic writes, LKG record, snapshots. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "repo.h"
#include "state.h"
#include "testutil.h"

/* The whole file as a string (NULL when it cannot be read). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return strdup("");
	}
	return text;
}

static char *slurp_at(const char *dir, const char *name)
{
	char *p = tu_xasprintf("%s/%s", dir, name), *t = slurp(p);
	free(p);
	return t;
}

static bool exists_at(const char *dir, const char *name)
{
	char *p = tu_xasprintf("%s/%s", dir, name);
	bool e = access(p, F_OK) == 0;
	free(p);
	return e;
}

/* sha256 by coreutils, an implementation independent of the one under test. */
static void sha256sum(const char *path, char out[65])
{
	char *cmd = tu_xasprintf("sha256sum '%s'", path);
	FILE *p = popen(cmd, "r");

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%64s", out), 1);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_uint_eq(strlen(out), 64);
	free(cmd);
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return st.st_ino;
}

/* --- atomic writes --- */

START_TEST(test_atomic_replace)
{
	char *dir = tu_mkdtemp(), *text, err[256];
	struct stat st;

	ck_assert_int_eq(state_write_atomic(dir, "f.json", "first", 5, err, sizeof err), 0);
	text = slurp_at(dir, "f.json");
	ck_assert_str_eq(text, "first");
	free(text);
	ck_assert_int_eq(state_write_atomic(dir, "f.json", "second, longer", 14, err, sizeof err),
	                 0);
	text = slurp_at(dir, "f.json");
	ck_assert_str_eq(text, "second, longer");
	free(text);
	/* Shorter again: O_TRUNC, no tail of the longer content. */
	ck_assert_int_eq(state_write_atomic(dir, "f.json", "3", 1, err, sizeof err), 0);
	text = slurp_at(dir, "f.json");
	ck_assert_str_eq(text, "3");
	free(text);
	ck_assert(!exists_at(dir, "f.json.tmp"));
	text = tu_xasprintf("%s/f.json", dir);
	ck_assert_int_eq(stat(text, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	free(text);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A symlink planted as the temp name must not redirect the write outside the directory. */
START_TEST(test_atomic_symlink_temp)
{
	char *dir = tu_mkdtemp(), *victim_dir = tu_mkdtemp(), *victim, *link, *text, err[256];

	victim = tu_write_file(victim_dir, "victim", "untouched");
	link = tu_xasprintf("%s/f.json.tmp", dir);
	ck_assert_int_eq(symlink(victim, link), 0);
	ck_assert_int_lt(state_write_atomic(dir, "f.json", "x", 1, err, sizeof err), 0);
	text = slurp(victim);
	ck_assert_str_eq(text, "untouched");
	free(text);
	free(link);
	free(victim);
	tu_rmtree(dir);
	tu_rmtree(victim_dir);
	free(dir);
	free(victim_dir);
}
END_TEST

static const char rec_a[] = "{\"record\": \"A\"}";
static const char rec_b[] = "{\"record\": \"B, which is longer than A\"}";

/* A writer killed between write and rename leaves a half temp file: the record survives. */
START_TEST(test_cut_off_write_keeps_record)
{
	char *dir = tu_mkdtemp(), *text, *tmp, err[256];
	pid_t pid;
	int status;

	ck_assert_int_eq(
	    state_write_atomic(dir, STATE_LKG_FILE, rec_a, strlen(rec_a), err, sizeof err), 0);
	tmp = tu_xasprintf("%s/%s.tmp", dir, STATE_LKG_FILE);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* What state_write_atomic does, cut off half way: no rename ever happens. */
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640);
		if (fd < 0 || write(fd, rec_b, strlen(rec_b) / 2) < 0)
			_exit(1);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(exists_at(dir, STATE_LKG_FILE ".tmp"));
	text = slurp_at(dir, STATE_LKG_FILE);
	ck_assert_str_eq(text, rec_a);
	free(text);
	/* The next write starts its temp file afresh and completes. */
	ck_assert_int_eq(
	    state_write_atomic(dir, STATE_LKG_FILE, rec_b, strlen(rec_b), err, sizeof err), 0);
	text = slurp_at(dir, STATE_LKG_FILE);
	ck_assert_str_eq(text, rec_b);
	free(text);
	ck_assert(!exists_at(dir, STATE_LKG_FILE ".tmp"));
	free(tmp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_write_into_a_file_fails)
{
	char *dir = tu_mkdtemp(), *file, *text, err[256];
	int rc;

	file = tu_write_file(dir, "not-a-dir", "content");
	rc = state_write_atomic(file, STATE_LKG_FILE, rec_a, strlen(rec_a), err, sizeof err);
	ck_assert_int_eq(rc, -ENOTDIR);
	ck_assert_msg(strstr(err, "not-a-dir") != NULL, "error does not name the path: %s", err);
	text = slurp(file);
	ck_assert_str_eq(text, "content");
	free(text);
	/* state_mkdir refuses it as well, naming it. */
	ck_assert_int_eq(state_mkdir(file, err, sizeof err), -ENOTDIR);
	free(file);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * A directory we may not write into: chmod 0500 for an ordinary user; root ignores modes,
 * so as root the directory is made immutable (FS_IMMUTABLE_FL), which binds root too.
 * Returns false (and says why) when neither is possible here.
 */
static bool make_unwritable(const char *dir, bool on)
{
	int fd, flags;
	bool ok;

	if (geteuid() != 0)
		return chmod(dir, on ? 0500 : 0700) == 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return false;
	ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	close(fd);
	return ok;
}

static bool unwritable_dir_possible(char *why, size_t len)
{
	char *dir = tu_mkdtemp();
	bool ok = make_unwritable(dir, true);

	if (!ok)
		snprintf(why, len, "cannot make a directory unwritable here (%s as uid %u)",
		         geteuid() == 0 ? "FS_IOC_SETFLAGS immutable" : "chmod", geteuid());
	make_unwritable(dir, false);
	tu_rmtree(dir);
	free(dir);
	return ok;
}

START_TEST(test_unwritable_dir_keeps_record)
{
	char *dir = tu_mkdtemp(), *text, err[256];
	int rc;

	ck_assert_int_eq(
	    state_write_atomic(dir, STATE_LKG_FILE, rec_a, strlen(rec_a), err, sizeof err), 0);
	ck_assert(make_unwritable(dir, true));
	rc = state_write_atomic(dir, STATE_LKG_FILE, rec_b, strlen(rec_b), err, sizeof err);
	make_unwritable(dir, false);
	ck_assert_msg(rc == -EACCES || rc == -EPERM, "rc %d (%s)", rc, err);
	ck_assert_msg(strstr(err, dir) != NULL, "error does not name the directory: %s", err);
	text = slurp_at(dir, STATE_LKG_FILE);
	ck_assert_str_eq(text, rec_a);
	free(text);
	ck_assert(!exists_at(dir, STATE_LKG_FILE ".tmp"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * A full and a read-only filesystem, for real: a small tmpfs in a private mount namespace
 * (in a child, so the test process's mounts never change). Exit codes: 0 ok, 77 no mount
 * namespace here, other: the failed step.
 */
static int full_and_readonly_child(const char *dir)
{
	char err[256], *text, *filler, *big;
	size_t n = 256 * 1024;
	int fd, rc;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("inferd-test", dir, "tmpfs", 0, "size=128k,mode=0700") < 0)
		return 77;
	if (state_write_atomic(dir, STATE_LKG_FILE, rec_a, strlen(rec_a), err, sizeof err) < 0)
		return 10;
	/* Fill what is left of the filesystem. */
	filler = tu_xasprintf("%s/filler", dir);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	big = calloc(1, n);
	if (fd < 0 || big == NULL)
		return 11;
	while (write(fd, big, 4096) > 0)
		;
	close(fd);
	/* A record larger than any space left. */
	memset(big, ' ', n - 1);
	big[0] = '{';
	big[n - 2] = '}';
	rc = state_write_atomic(dir, STATE_LKG_FILE, big, n - 1, err, sizeof err);
	if (rc != -ENOSPC) {
		fprintf(stderr, "full fs: rc %d (%s)\n", rc, err);
		return 12;
	}
	text = slurp_at(dir, STATE_LKG_FILE);
	if (text == NULL || strcmp(text, rec_a) != 0 || exists_at(dir, STATE_LKG_FILE ".tmp"))
		return 13;
	free(text);
	unlink(filler);
	/* Read-only: the same directory remounted. */
	if (mount("none", dir, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return 14;
	rc = state_write_atomic(dir, STATE_LKG_FILE, rec_b, strlen(rec_b), err, sizeof err);
	if (rc != -EROFS) {
		fprintf(stderr, "read-only fs: rc %d (%s)\n", rc, err);
		return 15;
	}
	text = slurp_at(dir, STATE_LKG_FILE);
	if (text == NULL || strcmp(text, rec_a) != 0)
		return 16;
	free(text);
	free(big);
	free(filler);
	umount(dir);
	return 0;
}

static int run_full_and_readonly(void)
{
	char *dir = tu_mkdtemp();
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(full_and_readonly_child(dir));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	tu_rmtree(dir);
	free(dir);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_full_and_readonly_fs)
{
	int rc = run_full_and_readonly();
	ck_assert_msg(rc == 0, "full/read-only filesystem step %d failed", rc);
}
END_TEST

/* --- snapshots and the record --- */

/* A served set of one entry, as repo_build would make it (no model is needed here). */
struct fake {
	struct repo_set set;
	struct repo_entry e;
	char *dir; /* where its files live */
};

static void fake_init(struct fake *f, const char *name, const char *version)
{
	char *text;

	memset(f, 0, sizeof *f);
	f->dir = tu_mkdtemp();
	/* Copies, so that a test may change them. */
	text = slurp(TU_BUNDLED_MODEL);
	ck_assert_ptr_nonnull(text);
	f->e.path = tu_write_file(f->dir, "model.json", text);
	free(text);
	text = slurp(TU_BUNDLED_GOLDEN);
	ck_assert_ptr_nonnull(text);
	f->e.golden = tu_write_file(f->dir, "golden.json", text);
	free(text);
	f->e.name = strdup(name);
	f->e.version = strdup(version);
	sha256sum(f->e.path, f->e.sha256);
	f->set.v = &f->e;
	f->set.n = 1;
}

static void fake_free(struct fake *f)
{
	free(f->e.path);
	free(f->e.golden);
	free(f->e.name);
	free(f->e.version);
	tu_rmtree(f->dir);
	free(f->dir);
}

static bool same_file_contents(const char *a, const char *b)
{
	char *x = slurp(a), *y = slurp(b);
	bool same = x && y && strcmp(x, y) == 0;
	free(x);
	free(y);
	return same;
}

START_TEST(test_snapshot_skip_if_identical)
{
	struct fake f;
	char *state = tu_mkdtemp(), *snap, *golden, err[256];
	ino_t ino, gino;
	FILE *fp;

	fake_init(&f, "m", "3");
	ck_assert_msg(state_snapshot(state, &f.set, err, sizeof err) == 0, "%s", err);
	snap = tu_xasprintf("%s/lkg/m/3/model.json", state);
	golden = tu_xasprintf("%s/lkg/m/3/golden.json", state);
	ck_assert(same_file_contents(snap, f.e.path));
	ck_assert(same_file_contents(golden, f.e.golden));
	ino = inode_of(snap);
	gino = inode_of(golden);
	/* Identical copies are left alone: an atomic rewrite would give new inodes. */
	ck_assert_msg(state_snapshot(state, &f.set, err, sizeof err) == 0, "%s", err);
	ck_assert(inode_of(snap) == ino);
	ck_assert(inode_of(golden) == gino);
	/* A damaged copy is not identical: it is replaced. */
	fp = fopen(snap, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("{}", fp);
	fclose(fp);
	ck_assert_msg(state_snapshot(state, &f.set, err, sizeof err) == 0, "%s", err);
	ck_assert(same_file_contents(snap, f.e.path));
	ck_assert(inode_of(golden) == gino);
	free(snap);
	free(golden);
	tu_rmtree(state);
	free(state);
	fake_free(&f);
}
END_TEST

/* The bytes served are what a snapshot holds: a file changed since loading is refused. */
START_TEST(test_snapshot_refuses_changed_file)
{
	struct fake f;
	char *state = tu_mkdtemp(), err[256];

	fake_init(&f, "m", "1");
	free(tu_write_file(f.dir, "model.json", "{\"changed\": true}"));
	ck_assert_int_eq(state_snapshot(state, &f.set, err, sizeof err), -ESTALE);
	ck_assert_msg(strstr(err, "changed since it was loaded") != NULL, "%s", err);
	ck_assert(!exists_at(state, "lkg/m/1/model.json"));
	tu_rmtree(state);
	free(state);
	fake_free(&f);
}
END_TEST

/* Names become directories: "..", or a '/', must never lead out of the state directory. */
START_TEST(test_snapshot_refuses_bad_names)
{
	static const char *const bad[][2] = {{"..", "1"}, {"m", ".."}, {"a/b", "1"}, {"m", "1/2"}};
	char err[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct fake f;
		char *state = tu_mkdtemp(), *sub = tu_xasprintf("%s/sub", state);

		fake_init(&f, bad[i][0], bad[i][1]);
		ck_assert_int_eq(state_mkdir(sub, err, sizeof err), 0);
		ck_assert_int_eq(state_snapshot(sub, &f.set, err, sizeof err), -EINVAL);
		ck_assert(!exists_at(sub, "lkg"));
		ck_assert(!exists_at(state, "lkg"));
		free(sub);
		tu_rmtree(state);
		free(state);
		fake_free(&f);
	}
}
END_TEST

START_TEST(test_mark_good_and_read_back)
{
	struct fake f;
	struct state_lkg l;
	struct repo_pin pin;
	char *state = tu_mkdtemp(), *sub = tu_xasprintf("%s/deep/state", state), *json = NULL;
	char err[256], gsha[65], *want;
	FILE *fp;

	fake_init(&f, "breast-cancer", "2");
	/* The state directory is created, parents included. */
	ck_assert_msg(
	    state_mark_good(sub, "/etc/inferd.conf", "", &f.set, &json, err, sizeof err) == 0, "%s",
	    err);
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(strstr(json, f.e.sha256));
	free(json);
	ck_assert_msg(state_lkg_read(sub, &l, err, sizeof err) == 0, "%s", err);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.models[0].name, "breast-cancer");
	ck_assert_str_eq(l.models[0].version, "2");
	ck_assert_str_eq(l.models[0].sha256, f.e.sha256);
	sha256sum(f.e.golden, gsha);
	ck_assert_str_eq(l.models[0].golden_sha256, gsha);
	ck_assert_str_eq(l.config_file, "/etc/inferd.conf");
	want = tu_xasprintf("%s/lkg/breast-cancer/2/model.json", sub);
	ck_assert_str_eq(l.models[0].model_path, want);
	free(want);
	ck_assert_int_eq(l.time[4], '-');
	ck_assert_msg(state_lkg_verify(&l, err, sizeof err) == 0, "%s", err);
	state_lkg_pins(&l, &pin);
	ck_assert_str_eq(pin.name, "breast-cancer");
	ck_assert_str_eq(pin.path, l.models[0].model_path);
	ck_assert_str_eq(pin.golden, l.models[0].golden_path);
	ck_assert_str_eq(pin.sha256, f.e.sha256);
	ck_assert(same_file_contents(pin.path, TU_BUNDLED_MODEL));
	/* A snapshot damaged after the fact is detected, not trusted. */
	fp = fopen(l.models[0].golden_path, "a");
	ck_assert_ptr_nonnull(fp);
	fputs(" ", fp);
	fclose(fp);
	ck_assert_int_eq(state_lkg_verify(&l, err, sizeof err), -EBADMSG);
	ck_assert_msg(strstr(err, "golden.json") != NULL, "%s", err);
	state_lkg_free(&l);
	free(sub);
	tu_rmtree(state);
	free(state);
	fake_free(&f);
}
END_TEST

START_TEST(test_mark_good_failure_keeps_record)
{
	struct fake f;
	char *state = tu_mkdtemp(), *before, *after, err[256];

	fake_init(&f, "m", "1");
	ck_assert_msg(state_mark_good(state, NULL, "", &f.set, NULL, err, sizeof err) == 0, "%s",
	              err);
	before = slurp_at(state, STATE_LKG_FILE);
	ck_assert_ptr_nonnull(before);
	/* The next candidate's file changed under it: refused, the record stays as it was. */
	free(f.e.version);
	f.e.version = strdup("2");
	free(tu_write_file(f.dir, "model.json", "{}"));
	ck_assert_int_eq(state_mark_good(state, NULL, "", &f.set, NULL, err, sizeof err), -ESTALE);
	after = slurp_at(state, STATE_LKG_FILE);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	tu_rmtree(state);
	free(state);
	fake_free(&f);
}
END_TEST

static const char *const corrupt_records[] = {
    "",
    "{\"time\": \"2024-01-01T00:00:00Z\", \"config_file\": null, \"config_sha256\": \"\", "
    "\"models\": [",
    "[]",
    "{\"time\": \"t\", \"config_file\": null, \"config_sha256\": \"\", \"models\": []}",
    "{\"time\": \"t\", \"config_file\": null, \"config_sha256\": \"\", \"models\": [], "
    "\"extra\": 1}",
    "{\"time\": \"t\", \"config_file\": 5, \"config_sha256\": \"\", \"models\": [%s]}",
    "{\"time\": \"t\", \"config_file\": null, \"config_sha256\": \"xyz\", \"models\": [%s]}",
    "{\"config_file\": null, \"config_sha256\": \"\", \"models\": [%s]}",
    "{\"time\": \"t\", \"config_file\": null, \"config_sha256\": \"\", \"models\": [%s, %s]}",
    "{\"time\": \"t\", \"time\": \"u\", \"config_file\": null, \"config_sha256\": \"\", "
    "\"models\": [%s]}",
};

/* Model elements: the first one is valid; the others each have one defect. */
static char *model_elem(const char *state, int defect)
{
	static const char sha[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	switch (defect) {
	case 0:
		return tu_xasprintf("{\"name\": \"m\", \"version\": \"1\", \"sha256\": \"%s\", "
		                    "\"golden_sha256\": null, \"snapshot\": \"%s/lkg/m/1\"}",
		                    sha, state);
	case 1: /* the snapshot points elsewhere */
		return tu_xasprintf("{\"name\": \"m\", \"version\": \"1\", \"sha256\": \"%s\", "
		                    "\"snapshot\": \"/etc\"}",
		                    sha);
	case 2: /* a name that climbs out */
		return tu_xasprintf("{\"name\": \"..\", \"version\": \"1\", \"sha256\": \"%s\", "
		                    "\"snapshot\": \"%s/lkg/../1\"}",
		                    sha, state);
	case 3: /* upper-case, short sha */
		return tu_xasprintf("{\"name\": \"m\", \"version\": \"1\", \"sha256\": \"ABC\", "
		                    "\"snapshot\": \"%s/lkg/m/1\"}",
		                    state);
	case 4: /* version is a number */
		return tu_xasprintf("{\"name\": \"m\", \"version\": 1, \"sha256\": \"%s\", "
		                    "\"snapshot\": \"%s/lkg/m/1\"}",
		                    sha, state);
	default: /* unknown key */
		return tu_xasprintf("{\"name\": \"m\", \"version\": \"1\", \"sha256\": \"%s\", "
		                    "\"path\": \"/x\", \"snapshot\": \"%s/lkg/m/1\"}",
		                    sha, state);
	}
}

START_TEST(test_corrupt_records)
{
	char *state = tu_mkdtemp(), err[512];
	struct state_lkg l;
	char *good = model_elem(state, 0);

	ck_assert_int_eq(state_lkg_read(state, &l, err, sizeof err), -ENOENT);
	/* The valid template, to show the defects below are what is refused. */
	{
		char *text =
		    tu_xasprintf("{\"time\": \"t\", \"config_file\": null, \"config_sha256\": "
		                 "\"\", \"models\": [%s]}",
		                 good);
		free(tu_write_file(state, STATE_LKG_FILE, text));
		ck_assert_msg(state_lkg_read(state, &l, err, sizeof err) == 0, "%s", err);
		ck_assert_ptr_null(l.models[0].golden_path);
		ck_assert_ptr_null(l.config_file);
		state_lkg_free(&l);
		free(text);
	}
	for (size_t i = 0; i < sizeof corrupt_records / sizeof corrupt_records[0]; i++) {
		char *text = tu_xasprintf(corrupt_records[i], good, good);
		free(tu_write_file(state, STATE_LKG_FILE, text));
		ck_assert_msg(state_lkg_read(state, &l, err, sizeof err) == -EBADMSG,
		              "record %zu accepted: %s", i, text);
		ck_assert_msg(strstr(err, "corrupt") != NULL, "record %zu: %s", i, err);
		free(text);
	}
	for (int defect = 1; defect <= 5; defect++) {
		char *m = model_elem(state, defect);
		char *text =
		    tu_xasprintf("{\"time\": \"t\", \"config_file\": null, \"config_sha256\": "
		                 "\"\", \"models\": [%s]}",
		                 m);
		free(tu_write_file(state, STATE_LKG_FILE, text));
		ck_assert_msg(state_lkg_read(state, &l, err, sizeof err) == -EBADMSG,
		              "model defect %d accepted: %s", defect, text);
		free(text);
		free(m);
	}
	free(good);
	tu_rmtree(state);
	free(state);
}
END_TEST

START_TEST(test_rollback_flag)
{
	char *state = tu_mkdtemp(), *sub = tu_xasprintf("%s/s", state), *text, err[256];

	ck_assert(!state_rollback_active(sub));
	ck_assert_int_eq(state_rollback_clear(sub, err, sizeof err), 0);
	ck_assert_int_eq(state_rollback_set(sub, "{\"a\": 1}", err, sizeof err), 0);
	ck_assert(state_rollback_active(sub));
	text = slurp_at(sub, STATE_ROLLBACK_FILE);
	ck_assert_str_eq(text, "{\"a\": 1}");
	free(text);
	ck_assert_int_eq(state_rollback_clear(sub, err, sizeof err), 0);
	ck_assert(!state_rollback_active(sub));
	ck_assert(!exists_at(sub, STATE_ROLLBACK_FILE));
	free(sub);
	tu_rmtree(state);
	free(state);
}
END_TEST

/* Probes in a child whether a private mount namespace with a tmpfs is possible here. */
static bool mount_ns_possible(char *why, size_t len)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS) == 0 &&
		              mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == 0 &&
		              mount("probe", "/tmp", "tmpfs", MS_RDONLY, "size=4k") == 0
		          ? 0
		          : 77);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(why, len,
		         "no private mount namespace with tmpfs here (needs CAP_SYS_ADMIN): the "
		         "ENOSPC and EROFS cases cannot be made for real");
		return false;
	}
	return true;
}

int main(void)
{
	Suite *s;
	TCase *t;
	SRunner *sr;
	char why_ro[256], why_ns[256];
	/* Probed before anything is allocated: the probes fork, and valgrind checks children. */
	bool ro = unwritable_dir_possible(why_ro, sizeof why_ro);
	bool ns = mount_ns_possible(why_ns, sizeof why_ns);
	int failed, skipped = 0;

	s = suite_create("state");
	t = tcase_create("state");
	tcase_add_test(t, test_atomic_replace);
	tcase_add_test(t, test_atomic_symlink_temp);
	tcase_add_test(t, test_cut_off_write_keeps_record);
	tcase_add_test(t, test_write_into_a_file_fails);
	if (ro) {
		tcase_add_test(t, test_unwritable_dir_keeps_record);
	} else {
		printf("SKIP test_unwritable_dir_keeps_record: %s\n", why_ro);
		skipped++;
	}
	if (ns) {
		tcase_add_test(t, test_full_and_readonly_fs);
	} else {
		printf("SKIP test_full_and_readonly_fs: %s\n", why_ns);
		skipped++;
	}
	tcase_add_test(t, test_snapshot_skip_if_identical);
	tcase_add_test(t, test_snapshot_refuses_changed_file);
	tcase_add_test(t, test_snapshot_refuses_bad_names);
	tcase_add_test(t, test_mark_good_and_read_back);
	tcase_add_test(t, test_mark_good_failure_keeps_record);
	tcase_add_test(t, test_corrupt_records);
	tcase_add_test(t, test_rollback_flag);
	suite_add_tcase(s, t);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	/* Everything that ran passed; a case this machine cannot run makes it a SKIP. */
	return skipped ? 77 : EXIT_SUCCESS;
}
