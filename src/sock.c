/* sock.c: the Unix listening socket: safe creation, stale-file handling, ownership. */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Looks up a group by name. 0, -ENOENT when unknown, or another -errno. */
static int lookup_group(const char *name, gid_t *gid, struct group *gr, char **buf)
{
	long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 1024;
	struct group *res = NULL;

	*buf = NULL;
	for (;;) {
		char *nb = realloc(*buf, size);
		int r;

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		r = getgrnam_r(name, gr, *buf, size, &res);
		if (r == ERANGE && size < (1u << 24)) {
			size *= 2;
			continue;
		}
		if (r != 0)
			return -r;
		if (!res)
			return -ENOENT;
		if (gid)
			*gid = gr->gr_gid;
		return 0;
	}
}

/* Creates the parent directory of path when it is missing (one level only). */
static int ensure_parent(const char *path, char *err, size_t errlen)
{
	char *dir = strdup(path);
	char *slash;
	struct stat st;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir); /* relative in the cwd, or directly under / */
		return 0;
	}
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			r = -ENOTDIR;
			snprintf(err, errlen, "%s is not a directory", dir);
		}
	} else if (errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot access %s: %s", dir, strerror(errno));
	} else if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
	}
	free(dir);
	return r;
}

/*
 * Decides what to do with an existing path: 0 when it is free to bind (a stale socket
 * has been removed), else a negative errno with the reason.
 */
static int clear_path(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int probe, r;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, errlen, "cannot access %s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it",
		         path);
		return -EEXIST;
	}
	/* Only a connect() tells a live server from a leftover file. Non-blocking, so a
	 * full backlog (EAGAIN) reads as "alive" instead of hanging here. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	r = connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
	close(probe);
	if (r == 0 || r == -EAGAIN || r == -EINPROGRESS) {
		snprintf(err, errlen, "%s is in use by a running server", path);
		return -EADDRINUSE;
	}
	if (r == -ENOENT)
		return 0; /* vanished meanwhile */
	if (r != -ECONNREFUSED) {
		snprintf(err, errlen, "cannot probe %s: %s", path, strerror(-r));
		return r;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return r;
	}
	return 0;
}

int sock_listen_unix(const char *path, unsigned mode, const char *group, int backlog, char *err,
                     size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct group gr;
	char *grbuf = NULL;
	gid_t gid = (gid_t)-1;
	mode_t old_mask;
	int fd, r;

	if (errlen)
		err[0] = '\0';
	if (!path || !*path) {
		snprintf(err, errlen, "empty socket path");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		/* (The precision only bounds the output for 32-bit -Wformat-truncation.) */
		snprintf(err, errlen, "socket path %.1024s is too long (%zu bytes, at most %zu)",
		         path, strlen(path), sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (mode > 0777) {
		snprintf(err, errlen, "socket mode %04o is out of range 0000..0777", mode);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);

	/* Resolve the group first so that a typo creates nothing. */
	if (group) {
		r = lookup_group(group, &gid, &gr, &grbuf);
		free(grbuf);
		if (r == -ENOENT) {
			snprintf(err, errlen, "unknown group %s", group);
			return r;
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot look up group %s: %s", group, strerror(-r));
			return r;
		}
	}

	r = ensure_parent(path, err, errlen);
	if (r < 0)
		return r;
	r = clear_path(path, &sa, err, errlen);
	if (r < 0)
		return r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	/* Born with at most the owner bits of mode: nobody else may connect before the group
	 * and mode are final. umask is process-wide, but this runs on the main thread
	 * before (or between) anything that creates files. */
	old_mask = umask(0777 & ~(mode & 0700));
	r = bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	umask(old_mask);
	if (r < 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if (group && chown(path, (uid_t)-1, gid) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot give %s to group %s: %s", path, group,
		         strerror(errno));
		goto fail;
	}
	if (chmod(path, (mode_t)mode) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot chmod %s to %04o: %s", path, mode, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	unlink(path);
	close(fd);
	return r;
}

int sock_parse_inet(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port, *hend;
	struct sockaddr_storage tmp;
	unsigned long p = 0;
	size_t hlen;
	bool v6;

	if (!s)
		return -EINVAL;
	v6 = s[0] == '[';
	if (v6) {
		hend = strchr(s, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		port = hend + 2;
		s++;
	} else {
		/* A bare IPv6 address has several ':'; it must be bracketed. */
		hend = strchr(s, ':');
		if (!hend || strchr(hend + 1, ':'))
			return -EINVAL;
		port = hend + 1;
	}
	hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	/* Digits only, no sign or spaces strtoul would take, and no leading zero. */
	if (port[0] < '1' || port[0] > '9' || strlen(port) > 5 ||
	    port[strspn(port, "0123456789")] != '\0')
		return -EINVAL;
	for (const char *q = port; *q; q++)
		p = p * 10 + (unsigned long)(*q - '0');
	if (p < 1 || p > 65535)
		return -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&tmp;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		if (len)
			*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&tmp;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		if (len)
			*len = sizeof(*a);
	}
	if (sa)
		*sa = tmp;
	return 0;
}

int sock_listen_tcp(const char *addr, int backlog, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	int fd, r, one = 1;

	if (errlen)
		err[0] = '\0';
	if (sock_parse_inet(addr, &sa, &salen) < 0) {
		snprintf(err, errlen,
		         "\"%s\" is not ADDR:PORT (a numeric IPv4 address or [IPv6], port 1 .. "
		         "65535)",
		         addr ? addr : "");
		return -EINVAL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return r;
	}
	/* A restart must not wait for the previous run's TIME_WAIT connections. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		r = -errno;
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		close(fd);
		return r;
	}
	if (bind(fd, (const struct sockaddr *)&sa, salen) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot bind %s: %s", addr, strerror(errno));
		close(fd);
		return r;
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

const char *sock_format_inet(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (!buf || len == 0)
		return buf;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(a->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
	} else {
		snprintf(buf, len, "unknown address");
	}
	return buf;
}

int sock_check_unix_listener(int fd)
{
	int domain = 0, type = 0, acc = 0;
	socklen_t len;

	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	len = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0)
		return -errno;
	if (domain != AF_UNIX || type != SOCK_STREAM || !acc)
		return -EINVAL;
	return 0;
}

int sock_peer_cred(int fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred))
		return -EINVAL;
	if (uid)
		*uid = cred.uid;
	if (gid)
		*gid = cred.gid;
	if (pid)
		*pid = cred.pid;
	return 0;
}

/* True when user name (primary group base) is in target per the group database. */
static bool user_has_group(const char *name, gid_t base, gid_t target)
{
	int n = 64;
	gid_t *groups = NULL;
	bool found = false;

	for (int tries = 0; tries < 8; tries++) {
		gid_t *ng = realloc(groups, (size_t)n * sizeof(*groups));
		int want = n;

		if (!ng)
			break;
		groups = ng;
		if (getgrouplist(name, base, groups, &want) >= 0) {
			for (int i = 0; i < want; i++)
				if (groups[i] == target)
					found = true;
			break;
		}
		n = want > n ? want : n * 2;
	}
	free(groups);
	return found;
}

int sock_uid_in_group(uid_t uid, gid_t gid, const char *group)
{
	struct group gr;
	struct passwd pw, *pwres = NULL;
	char *grbuf = NULL, *pwbuf = NULL;
	gid_t target;
	long hint;
	size_t size;
	int in = 0;

	if (uid == 0)
		return 1;
	if (!group || lookup_group(group, &target, &gr, &grbuf) < 0)
		goto out;
	if (gid == target) {
		in = 1;
		goto out;
	}
	hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size = hint > 0 ? (size_t)hint : 1024;
	for (;;) {
		char *nb = realloc(pwbuf, size);
		int r;

		if (!nb)
			goto out;
		pwbuf = nb;
		r = getpwuid_r(uid, &pw, pwbuf, size, &pwres);
		if (r == ERANGE && size < (1u << 24)) {
			size *= 2;
			continue;
		}
		if (r != 0 || !pwres)
			goto out;
		break;
	}
	if (pw.pw_gid == target) {
		in = 1;
		goto out;
	}
	for (char **m = gr.gr_mem; m && *m; m++)
		if (strcmp(*m, pw.pw_name) == 0) {
			in = 1;
			goto out;
		}
	in = user_has_group(pw.pw_name, pw.pw_gid, target);
out:
	free(grbuf);
	free(pwbuf);
	return in;
}
