/* sock.h: the Unix listening socket: safe creation, stale-file handling, ownership. */
#ifndef INFERD_SOCK_H
#define INFERD_SOCK_H

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

/* Checks that fd is a listening AF_UNIX stream socket (for socket activation). 0 or -errno. */
int sock_check_unix_listener(int fd);

/* Reads the peer's uid/gid/pid of a connected Unix socket (SO_PEERCRED). 0 or -errno. */
int sock_peer_cred(int fd, uid_t *uid, gid_t *gid, pid_t *pid);

/* Returns 1 when uid is 0 or a member of group name (primary or supplementary), else 0. */
int sock_uid_in_group(uid_t uid, gid_t gid, const char *group);

#endif
