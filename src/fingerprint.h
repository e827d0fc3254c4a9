/* fingerprint.h: an installation's environment manifest, and the differences between two. */
#ifndef INFERD_FINGERPRINT_H
#define INFERD_FINGERPRINT_H

#include <jansson.h>
#include <stddef.h>

/* The Debian package whose version the manifest records. */
#define FINGERPRINT_PACKAGE "inferd"

/* Manifests are small; anything this large is not one. */
#define FINGERPRINT_MAX_MANIFEST_BYTES ((size_t)64 << 20)

/*
 * Where the client's facts come from. Every field may be NULL: the defaults are what
 * inferctl uses; the tests point them at hand-written files and commands.
 */
struct fingerprint_sources {
	const char *inferctl_version; /* NULL: PACKAGE_VERSION */
	const char *libcurl_version;  /* the runtime one; NULL: recorded as null */
	/* os-release(5) file; NULL: /etc/os-release, else /usr/lib/os-release */
	const char *os_release;
	/*
	 * A command (argv, run without a shell) printing "STATUS VERSION" for the package, as
	 * dpkg-query -W -f='${db:Status-Status} ${Version}' does. NULL: that dpkg-query.
	 */
	const char *const *pkg_query;
};

/*
 * Reads an os-release(5) file into {"id", "version_id", "version_codename",
 * "pretty_name"}, each a string or null when the file does not set it. Quoted values are
 * unquoted as the shell would. 0 and *out, or -errno when the file cannot be read.
 */
int fingerprint_os_release(const char *path, json_t **out);

/* {"sysname", "release", "machine"} from uname(2). 0 and *out, or -errno. */
int fingerprint_kernel(json_t **out);

/*
 * Runs argv[0] (looked up in PATH) with argv, no shell, stdin and stderr on /dev/null, and
 * captures up to max bytes of its standard output (more is read and dropped). 0 and a
 * malloc'd NUL-terminated *out when it exits 0; -ENOENT when it cannot be started (or
 * exits 127, "not found"), -EIO when it fails or dies, -ENOMEM.
 */
int fingerprint_run_capture(const char *const argv[], size_t max, char **out);

/*
 * The package's version from a "STATUS VERSION" query (see struct fingerprint_sources): a string
 * when the package is on the system (installed, or being configured), null when it is not
 * (unknown, removed with its config files left, or the query cannot run). 0 and *out, or
 * -ENOMEM.
 */
int fingerprint_package_version(const char *const argv[], json_t **out);

/*
 * Assembles a manifest: every member of the daemon's part (GET /v2/admin/fingerprint, or
 * NULL when it could not be had, then daemon_error is recorded as "error"), and the
 * client's: "inferctl" {"version", "libcurl"}, "os" (fingerprint_os_release, null when
 * unreadable), "kernel" (fingerprint_kernel) and "package" {"name", "version",
 * "architecture"}. "models" is
 * sorted by name so that two manifests print in the same order. No timestamps: the same
 * installation always gives the same manifest. 0 and *out, or -ENOMEM / -errno.
 */
int fingerprint_manifest(const json_t *daemon, const char *daemon_error,
                         const struct fingerprint_sources *src, json_t **out);

/* The differences found by fingerprint_diff(), one malloc'd line each. */
struct fingerprint_lines {
	char **v;
	size_t n, cap;
};

/*
 * Compares manifest a with b recursively and appends one line per difference to out, in
 * the order of sorted keys:
 *   PATH: A -> B     a value that differs (or whose type differs), both as compact JSON
 *   - PATH           a member or element of a that b lacks
 *   + PATH           a member or element of b that a lacks
 * PATH is keys joined by '.', array elements as [NAME] when every element of both arrays
 * is an object with a distinct string "name" (so that reordering is no difference), else
 * as [INDEX]. Keys that could be misread ('.', brackets, quotes, blanks, empty) are written
 * as ["KEY"] in JSON quoting, names the same way inside the brackets.
 * A path equal to one of ignore, or below it (followed by '.' or '['), is skipped.
 * 0 (out->n is the count of differences), or -ENOMEM.
 */
int fingerprint_diff(const json_t *a, const json_t *b, const char *const *ignore, size_t n_ignore,
                     struct fingerprint_lines *out);

/* Frees the lines and empties the list. */
void fingerprint_lines_free(struct fingerprint_lines *l);

/*
 * Reads a manifest file (a JSON object, at most FINGERPRINT_MAX_MANIFEST_BYTES). 0 and *out, or
 * -errno with the reason in err: unreadable, not JSON, not an object (-EINVAL).
 */
int fingerprint_load(const char *path, json_t **out, char *err, size_t errlen);

#endif
