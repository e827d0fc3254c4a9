/* serve.h: the served set's owner: config in force, startup build, reload, load, rollback. */
#ifndef INFERD_SERVE_H
#define INFERD_SERVE_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct repo_set;

/*
 * Every change to the served set goes through here, on one thread (the event loop's
 * today; a loader thread's later). Readers (request handlers, on any thread) take the set
 * with repo_acquire() and never see a half-built one. Nothing here formats JSON: results
 * are sets, index rows (repo.h) and messages, and the HTTP edge (admin.c) renders them.
 * Every action that changes the served set notifies RELOADING=1 and leaves a SERVE_EV_READY
 * event for the loop, which answers READY=1 with its status line.
 */

/* Options from the command line that the served set must know about. */
struct serve_opts {
	const char *config_path; /* reread on reload; NULL: the built-in default */
	bool socket_override;    /* --socket given: the config's path is not ours to follow */
	const char *socket_path; /* the socket file made for --socket (fingerprint), or NULL */
};

/* Events for the loop, collected by serve_take_events(). */
#define SERVE_EV_READY 1u /* RELOADING=1 was sent: answer READY=1 with a fresh status */
#define SERVE_EV_CONF  2u /* a new config is in force: hand its limits to HTTP */

/* Takes ownership of c (also on failure) and starts the repository empty. 0 or -errno. */
int serve_init(const struct serve_opts *o, struct conf *c);
/*
 * Builds and publishes the first set: the last-known-good one while rollback.json is in
 * force, else the configuration's, a refused model falling back to its last-known-good
 * snapshot. 0 or -errno (the reasons are logged).
 */
int serve_start(void);
/* Drops the served set and the config. */
void serve_fini(void);

/* The config in force (NULL before serve_init()). Valid until the next reload. */
const struct conf *serve_conf(void);
/* The config file reread on reload; NULL for the built-in default. */
const char *serve_config_path(void);
/* The socket file --socket made us serve (shown by the fingerprint), or NULL. */
const char *serve_socket_path(void);
/* True while the last-known-good set is served because rollback.json is in force. */
bool serve_rolled_back(void);
/* The SERVE_EV_* bits raised since the last call, cleared. */
unsigned serve_take_events(void);
/* A stop began: reloads are refused from now on (-ESHUTDOWN). */
void serve_stop(void);

/*
 * Rereads the config, builds and validates everything aside and swaps only when all of it
 * is good; trigger names the cause in the log. While a rollback is in force its snapshots
 * keep serving. 0, or -errno with the whole message in err: -ESHUTDOWN while stopping,
 * -ENOTRECOVERABLE when the last-known-good set in force is unusable, any other when the
 * config or a model was refused (nothing changed).
 */
int serve_reload(const char *trigger, char *err, size_t errlen);
/*
 * serve_reload() with the build on a loader thread, so that serving goes on: 0 when it
 * started (done(cls) is then called on the loader thread once the build is over; the loop
 * thread must then call serve_reload_finish()), or serve_reload()'s refusals, and -EBUSY
 * while another reload is built. Until serve_reload_finish(), every change is -EBUSY.
 */
int serve_reload_start(const char *trigger, void (*done)(void *cls), void *cls, char *err,
                       size_t errlen);
/* Whether a reload started by serve_reload_start() awaits serve_reload_finish(). */
bool serve_reload_pending(void);
/* The loop's half of serve_reload_start(): waits for the build, swaps; serve_reload()'s codes. */
int serve_reload_finish(char *err, size_t errlen);
/*
 * Rebuilds one configured model (repository load). 0, or -errno with the message in err:
 * -ENOENT when name is not configured, -ENOTRECOVERABLE as for serve_reload(), any other
 * when the model was refused.
 */
int serve_load(const char *name, char *err, size_t errlen);
/* Serves the set without name (repository unload). -ENOENT when it is not served. */
int serve_unload(const char *name, char *err, size_t errlen);

/* One model of a mark-good claim: what the smoke test saw served. */
struct serve_claim {
	const char *name;
	const char *version;
	const char *sha256;
};

/*
 * Records the served set as last known good when it is exactly claims[0..n). *rec gets
 * the record's text (malloc'd). -ESTALE with every difference in err when the set differs;
 * any other -errno is the state directory's (-ENOSPC, -EDQUOT: full).
 */
int serve_mark_good(const struct serve_claim *claims, size_t n, char **rec, char *err,
                    size_t errlen);

/* What a rollback did: the sets before and after (references: release both). */
struct serve_rollback {
	struct repo_set *before;
	struct repo_set *after;
	char lkg_time[64]; /* when the last-known-good record was made */
};

/*
 * Serves the last-known-good set and keeps it across restarts (rollback.json). -ENOENT
 * when nothing was marked good; -ENOSPC/-EDQUOT when the flag cannot be written for want
 * of space; any other -errno for an unusable record or a failed write. err says why.
 */
int serve_rollback(struct serve_rollback *out, char *err, size_t errlen);
/* Clears rollback.json, then serve_reload() (same codes; clearing fails: -ENOTRECOVERABLE). */
int serve_rollback_clear(char *err, size_t errlen);

#endif
