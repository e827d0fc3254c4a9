/* http.h: the HTTP/1.1 front end (libmicrohttpd, epoll) and the Open Inference Protocol routes. */
#ifndef INFERD_HTTP_H
#define INFERD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;

/*
 * Starts libmicrohttpd on the Unix listening socket unix_fd and, when tcp_fd >= 0, on the
 * TCP listener tcp_fd (neither is closed by us), with the limits of c. Requests over TCP
 * have no peer credentials: repository and admin routes answer 403 there. Both run in
 * epoll mode; the caller drives them from its event loop. 0 or -errno.
 */
int http_init(const struct conf *c, int unix_fd, int tcp_fd);
/* The fd to watch for readability (the Unix listener's MHD epoll fd). */
int http_get_fd(void);
/* The same for the TCP listener; -EBADF when there is none. */
int http_get_tcp_fd(void);
/* Milliseconds until http_run() must be called even without events; -1 for none. */
int http_get_timeout_ms(void);
/* Runs libmicrohttpd once (every listener): accepts, reads, answers. */
int http_run(void);
/*
 * Stops accepting new connections (SIGTERM); in-flight ones go on. Connections already
 * waiting in a listen backlog are taken in first: their clients believe they are connected.
 */
void http_quiesce(void);
/*
 * After http_quiesce(): true once no request is in progress, no connection has unread
 * bytes (a request begun but not parsed yet), and every connection has been so for at
 * least quiet_ns since the stop began or since its last request, so that a request written
 * right after connect() is still read. Idle keep-alive connections then may be closed.
 * now_ns is CLOCK_MONOTONIC.
 */
bool http_drained(uint64_t now_ns, uint64_t quiet_ns);
/* Number of open connections (to know when a graceful stop is done). */
unsigned http_connections(void);
/*
 * Number of requests begun and not yet fully answered. Idle keep-alive connections do not
 * count: a graceful stop waits for these only.
 */
unsigned http_requests_in_flight(void);
/*
 * Disconnects (shutdown()) every connection whose request has been incomplete for longer
 * than request_timeout, or that has gone without a complete request line for
 * connection_timeout + request_timeout. Called from the periodic timer.
 */
void http_expire(void);
/* Applies the limits of a new config to new connections (the loop calls it after a reload). */
void http_reconfigure(const struct conf *c);
/* Stops and frees everything. */
void http_fini(void);

#endif
