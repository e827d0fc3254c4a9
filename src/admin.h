/* admin.h: the repository and admin endpoints' actions, answered as JSON, and who may call them. */
#ifndef INFERD_ADMIN_H
#define INFERD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct json_t;

/* What an admin action gets from its request: the routing table fills it. */
struct admin_req {
	const char *name; /* the model name of the path, "" when the route has none */
	const char *body; /* the request body (NUL-terminated), NULL when empty */
	size_t len;
	bool is_delete; /* DELETE rather than POST (rollback --clear) */
};

/*
 * Every action has this shape so that the routing table can name it: it runs on the
 * thread that changes the served set, returns the HTTP status to answer and sets *out to
 * the JSON body (a new reference; NULL only when out of memory). Errors are
 * {"error": "..."}. The peer has been authorized with admin_peer_allowed() already.
 */
typedef int admin_fn(const struct admin_req *rq, struct json_t **out);

/* POST /v2/repository/index, body empty or {"ready": bool}: the last build's index rows. */
admin_fn admin_repo_index;
/* POST /v2/repository/models/{name}/load: rebuilds one configured model. */
admin_fn admin_repo_load;
/* POST /v2/repository/models/{name}/unload: serves a set without the model. */
admin_fn admin_repo_unload;
/* POST /v2/admin/reload: SIGHUP's work, synchronously: {"models", "refused", "rolled_back"}. */
admin_fn admin_reload;
/*
 * admin_reload() in two halves, so that the HTTP thread serves on while the models load:
 * starts the build on the loader thread (0, done(cls) to follow on that thread), or
 * answers at once (the status, *out the error: 409 while another reload is built).
 */
int admin_reload_start(void (*done)(void *cls), void *cls, struct json_t **out);
/* The second half, on the HTTP thread once done() was called: admin_reload()'s answer. */
int admin_reload_finish(struct json_t **out);
/*
 * POST /v2/admin/mark-good {"models": [{"name", "version", "sha256"}]}: records the served
 * set as last known good when it is exactly that set; 409 when it differs, 507 when the
 * state directory is full.
 */
admin_fn admin_mark_good;
/* POST /v2/admin/rollback serves the last-known-good set; DELETE clears it and reloads. */
admin_fn admin_rollback;
/* GET /v2/admin/state: {"config_file", "config_sha256", "serving", "last_known_good", ...}. */
admin_fn admin_state;
/*
 * GET /v2/admin/fingerprint: the daemon's part of the environment fingerprint:
 * {"inferd": {"version", "build_id"}, "libraries": {...runtime versions...},
 * "config": {"file", "sha256", "effective"}, "models": [{"name", "version", "sha256"}]}.
 */
admin_fn admin_fingerprint;

/*
 * True when a peer may use the admin endpoints: uid 0, the daemon's own uid, or a member of
 * socket.admin_group. Otherwise false with the reason in why.
 */
bool admin_peer_allowed(uid_t uid, gid_t gid, char *why, size_t whylen);

#endif
