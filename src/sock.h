/* sock.h: the Unix listening socket: safe creation, stale-file handling, ownership. */
#ifndef INFERD_SOCK_H
#define INFERD_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * Creates and listens on a Unix stream socket at path with mode (e.g. 0660) and group
 * (NULL: unchanged). Creates the parent directory (0755) if it is missing.
 * An existing socket file is replaced only when nothing accepts on it (-EADDRINUSE
 * otherwise); an existing path that is not a socket is refused (-EEXIST).
 * Returns the fd, or a negative errno with a reason in err.
 */
int sock_listen_unix(const char *path, unsigned mode, const char *group, int backlog, char *err,
                     size_t errlen);

/*
 * Parses "A.B.C.D:PORT" or "[IPv6]:PORT": numeric addresses only (no name lookup), port
 * 1 .. 65535. Fills sa and len when they are not NULL. 0 or -EINVAL.
 */
int sock_parse_inet(const char *s, struct sockaddr_storage *sa, socklen_t *len);

/*
 * Creates a non-blocking TCP listener on addr (as for sock_parse_inet(); an IPv6 address
 * listens on IPv6 only) with SO_REUSEADDR. Returns the fd, or a negative errno with a
 * reason in err.
 */
int sock_listen_tcp(const char *addr, int backlog, char *err, size_t errlen);

/* Formats an AF_INET/AF_INET6 address as "A.B.C.D:PORT" or "[IPv6]:PORT" into buf. */
const char *sock_format_inet(const struct sockaddr *sa, char *buf, size_t len);

/* Checks that fd is a listening AF_UNIX stream socket (for socket activation). 0 or -errno. */
int sock_check_unix_listener(int fd);

/* Reads the peer's uid/gid/pid of a connected Unix socket (SO_PEERCRED). 0 or -errno. */
int sock_peer_cred(int fd, uid_t *uid, gid_t *gid, pid_t *pid);

/* Returns 1 when uid is 0 or a member of group name (primary or supplementary), else 0. */
int sock_uid_in_group(uid_t uid, gid_t gid, const char *group);

#endif
