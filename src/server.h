/* server.h: the daemon: event loop, signals, graceful stop, readiness and the status line. */
#ifndef INFERD_SERVER_H
#define INFERD_SERVER_H

#include <stdbool.h>

struct conf;

/* Options from the command line that override the config. */
struct server_opts {
	const char *config_path; /* NULL: built-in default */
	const char *socket_path; /* NULL: from the config */
};

/*
 * Loads the models, opens (or adopts, with socket activation) the socket and starts HTTP.
 * Takes ownership of c. 0 or -errno (the reason is logged).
 */
int server_init(const struct server_opts *o, struct conf *c);
/* Runs until SIGTERM/SIGINT; SIGHUP reloads (serve.h). Returns 0 on a clean stop. */
int server_run(void);
/* Frees everything and removes the socket we created. */
void server_fini(void);

#endif
