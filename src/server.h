/* server.h: the daemon: event loop, signals, reload, readiness and the status line. */
#ifndef INFERD_SERVER_H
#define INFERD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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
/* Runs until SIGTERM/SIGINT; SIGHUP reloads. Returns 0 on a clean stop. */
int server_run(void);
/* Frees everything and removes the socket we created. */
void server_fini(void);

/*
 * The admin and repository actions behind /v2/admin/... and /v2/repository/.... Each runs
 * on the event loop's thread, returns the HTTP status to answer and sets *out to the JSON
 * body (a new reference; NULL only when out of memory). Errors are {"error": "..."}.
 * Every action that changes the served set notifies RELOADING=1 and then READY=1, and
 * publishes only a completely validated set.
 */
struct json_t;
/* SIGHUP's work, synchronously: {"models": [{"name", "version", "sha256"}], "refused"}. */
int server_admin_reload(struct json_t **out);
/* Rebuilds one configured model (repository extension load). */
int server_repo_load(const char *name, struct json_t **out);
/* Serves a set without name (repository extension unload). */
int server_repo_unload(const char *name, struct json_t **out);
/*
 * Records the served set as last known good when it is exactly the set in the request body
 * {"models": [{"name", "version", "sha256"}]}: 409 when it differs, 507 when the state
 * directory is full.
 */
int server_mark_good(const char *body, size_t len, struct json_t **out);
/* Serves the last-known-good set and keeps it across restarts (rollback.json). */
int server_rollback(struct json_t **out);
/* Clears rollback.json and reloads from the configuration. */
int server_rollback_clear(struct json_t **out);
/* {"config_file", "config_sha256", "serving", "last_known_good", "rolled_back", "fallback"}. */
int server_admin_state(struct json_t **out);
/*
 * The daemon's part of the environment fingerprint: {"inferd": {"version", "build_id"},
 * "libraries": {...runtime versions...}, "config": {"file", "sha256", "effective"},
 * "models": [{"name", "version", "sha256"}]}.
 */
int server_admin_fingerprint(struct json_t **out);
/*
 * True when a peer may use the admin endpoints: uid 0, the daemon's own uid, or a member of
 * socket.admin_group. Otherwise false with the reason in why.
 */
bool server_peer_is_admin(uid_t uid, gid_t gid, char *why, size_t whylen);

#endif
