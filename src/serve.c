/* serve.c: the served set's owner: config in force, startup build, reload, load, rollback. */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "repo.h"
#include "state.h"
#include "sysd.h"

static struct {
	struct conf *conf;
	char *config_path;    /* reread on reload; NULL = built-in default */
	char *socket_path;    /* the file made for --socket, NULL otherwise */
	bool socket_override; /* --socket given: the config's path is not ours to follow */
	bool rolled_back;     /* serving the last-known-good set because rollback.json exists */
	bool stopping;        /* reloads are refused */
	bool inited_repo;
	atomic_uint events; /* SERVE_EV_* for the loop (atomic: a loader thread may raise them) */
	struct reload_job *job; /* a reload on the loader thread, until serve_reload_finish() */
} V;

/*
 * A reload in two halves: the build (config, last-known-good, every model parsed,
 * validated and golden-checked) runs on a loader thread, which only reads V; the swap
 * (publish, the config in force) runs on the loop thread, which alone writes V. While a
 * job exists every other change is refused, so the loader's reads of V stay valid.
 */
struct reload_job {
	pthread_t thread;
	void (*done)(void *cls);
	void *cls;
	char trigger[64];
	enum { JOB_CONF, JOB_LKG, JOB_BUILD, JOB_OK } stage; /* where it stopped */
	int rc;
	bool pinned;
	struct conf *nc;
	struct repo_set *set;
	char err[8192];
};

static void report_conf_errors(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		char buf[1024], line[24];
		const struct log_field f[] = {
		    {"CONFIG_FILE", errs->v[i].file ? errs->v[i].file : ""}, {"CONFIG_LINE", line}};
		snprintf(line, sizeof line, "%d", errs->v[i].line);
		log_fields(LOG_LVL_ERR, f, 2, "%s", conf_error_str(&errs->v[i], buf, sizeof buf));
	}
}

static void report_models(const char *what)
{
	struct repo_set *s = repo_acquire();

	for (size_t i = 0; s && i < s->n; i++) {
		const struct log_field f[] = {{"MODEL", s->v[i].name},
		                              {"MODEL_VERSION", s->v[i].version}};
		log_fields(LOG_LVL_INFO, f, 2, "%s model %s version %s from %s (sha256 %s)", what,
		           s->v[i].name, s->v[i].version, s->v[i].path, s->v[i].sha256);
	}
	repo_release(s);
}

/* RELOADING=1 now; the loop answers READY=1 once the action is over. */
static void begin_change(const char *what)
{
	sysd_notify_reloading(what);
	atomic_fetch_or(&V.events, SERVE_EV_READY);
}

/* "name version: reason" of every refusal of the last build, joined by "; ". */
static void describe_refusals(char *buf, size_t len)
{
	struct repo_index idx = {0};
	size_t off = strlen(buf);

	(void)repo_index_get(&idx);
	for (size_t i = 0; i < idx.n; i++) {
		const struct repo_index_row *v = &idx.v[i];
		int w;

		if (!v->refused || off >= len)
			continue;
		w = snprintf(buf + off, len - off, "%s%s version %s: %s", off ? "; " : "", v->name,
		             v->version, v->reason);
		off = w < 0 ? len : off + (size_t)w;
	}
	repo_index_free(&idx);
}

/* Reads the last-known-good record and checks its snapshots. 0 or -errno with a reason. */
static int read_lkg(const char *state_dir, struct state_lkg *l, char *err, size_t errlen)
{
	int rc = state_lkg_read(state_dir, l, err, errlen);

	if (rc == 0 && (rc = state_lkg_verify(l, err, errlen)) < 0)
		state_lkg_free(l);
	return rc;
}

/* The pins of l (NULL when it has none); NULL with -ENOMEM in *rc when out of memory. */
static struct repo_pin *lkg_pins(const struct state_lkg *l, int *rc)
{
	struct repo_pin *pins;

	*rc = 0;
	if (l == NULL || l->n == 0)
		return NULL;
	pins = calloc(l->n, sizeof *pins);
	if (pins == NULL) {
		*rc = -ENOMEM;
		return NULL;
	}
	state_lkg_pins(l, pins);
	return pins;
}

/*
 * Hands the heap's free memory back to the system. A model build (parsing, validation, the
 * golden check) leaves hundreds of MiB free in glibc's heap, which it keeps otherwise.
 */
static void give_back_memory(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/*
 * Builds a complete set for c aside. With keep, models that fail keep their served
 * version; with lkg, its snapshots are served for the models it names; with fallback
 * (startup only, without keep), a model whose configured files are all refused is served
 * from fallback's snapshot of it. Nothing is published. 0 or -errno with the reasons in err.
 */
static int build_set(const struct conf *c, const struct state_lkg *lkg,
                     const struct state_lkg *fallback, bool keep, const char *only,
                     const char *drop, struct repo_set **out, char *err, size_t errlen)
{
	struct repo_build_opts o = {.only = only, .drop = drop};
	struct repo_set *cur = keep ? repo_acquire() : NULL;
	struct repo_pin *pins, *fpins;
	int rc, frc;

	pins = lkg_pins(lkg, &rc);
	fpins = lkg_pins(fallback, &frc);
	if (rc < 0 || frc < 0) {
		free(pins);
		free(fpins);
		repo_release(cur);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	o.pins = pins;
	o.n_pins = pins != NULL ? lkg->n : 0;
	o.fallback = fpins;
	o.n_fallback = fpins != NULL ? fallback->n : 0;
	o.current = cur;
	rc = repo_build(c, &o, out);
	if (rc < 0) {
		err[0] = '\0';
		describe_refusals(err, errlen);
		if (err[0] == '\0')
			snprintf(err, errlen, "%s", strerror(-rc));
	}
	free(pins);
	free(fpins);
	repo_release(cur);
	if (rc < 0)
		give_back_memory();
	return rc;
}

/* Publishes set and logs what is served; the replaced set's memory goes back too. */
static void publish(struct repo_set *set, const char *what)
{
	repo_publish(set);
	report_models(what);
	give_back_memory();
}

/* Puts a new config that has just been served in force; takes ownership of nc. */
static void adopt_conf(struct conf *nc)
{
	log_set_level(nc->log_level);
	if (!V.socket_override && V.conf->socket_path != NULL && nc->socket_path != NULL &&
	    strcmp(V.conf->socket_path, nc->socket_path) != 0)
		log_warn("reload: a new socket path takes effect after a restart");
	if ((V.conf->listen_tcp == NULL) != (nc->listen_tcp == NULL) ||
	    (nc->listen_tcp != NULL && strcmp(V.conf->listen_tcp, nc->listen_tcp) != 0))
		log_warn("reload: a new listen_tcp takes effect after a restart");
	conf_free(V.conf);
	V.conf = nc;
	atomic_fetch_or(&V.events, SERVE_EV_CONF);
}

/* Reads the config anew (the built-in default when there is no file). 0 or -errno. */
static int reread_conf(struct conf **nc, char *err, size_t errlen)
{
	struct conf_errors errs = {0};
	size_t off = 0;
	int rc;

	if (V.config_path == NULL) {
		rc = conf_default(nc);
		if (rc < 0)
			snprintf(err, errlen, "built-in default: %s", strerror(-rc));
		return rc;
	}
	rc = conf_load(V.config_path, nc, &errs);
	if (rc < 0) {
		/* Every error, each with its line, so one round trip fixes them all. */
		report_conf_errors(&errs);
		err[0] = '\0';
		for (size_t i = 0; i < errs.n && off < errlen; i++) {
			char buf[1024];
			int w = snprintf(err + off, errlen - off, "%s%s", i ? "; " : "",
			                 conf_error_str(&errs.v[i], buf, sizeof buf));
			off = w < 0 ? errlen : off + (size_t)w;
		}
		if (errs.n == 0)
			snprintf(err, errlen, "cannot read %s: %s", V.config_path, strerror(-rc));
		*nc = NULL;
	}
	conf_errors_clear(&errs);
	return rc;
}

/* The loader's half of a reload: everything but the swap. Reads V, writes only j. */
static void reload_build(struct reload_job *j)
{
	const struct log_field f[] = {{"CONFIG_FILE", V.config_path ? V.config_path : ""}};
	struct state_lkg lkg = {0};

	j->stage = JOB_CONF;
	j->rc = reread_conf(&j->nc, j->err, sizeof j->err);
	if (j->rc < 0) {
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: %s has errors; keeping the current configuration and models",
		           V.config_path ? V.config_path : "the built-in default");
		return;
	}
	j->stage = JOB_LKG;
	j->pinned = state_rollback_active(j->nc->state_dir);
	if (j->pinned && (j->rc = read_lkg(j->nc->state_dir, &lkg, j->err, sizeof j->err)) < 0) {
		log_err("reload: a rollback is in force but the last-known-good set is unusable "
		        "(%s); keeping the current models",
		        j->err);
		return;
	}
	j->stage = JOB_BUILD;
	j->rc = build_set(j->nc, j->pinned ? &lkg : NULL, NULL, true, NULL, NULL, &j->set, j->err,
	                  sizeof j->err);
	state_lkg_free(&lkg);
	if (j->rc < 0) {
		log_fields(LOG_LVL_ERR, f, 1,
		           "reload: a model failed to load (%s); keeping the current models",
		           j->err);
		return;
	}
	j->stage = JOB_OK;
}

/* The loop's half: publishes a good build, or words the refusal; frees j. */
static int reload_swap(struct reload_job *j, char *msg, size_t msglen)
{
	int rc = j->rc;

	switch (j->stage) {
	case JOB_CONF:
		snprintf(msg, msglen, "configuration refused, nothing changed: %s", j->err);
		rc = rc == -ENOTRECOVERABLE || rc == -ESHUTDOWN ? -EINVAL : rc;
		break;
	case JOB_LKG:
		snprintf(msg, msglen,
		         "rollback in force but the last-known-good set is unusable, nothing "
		         "changed: %s",
		         j->err);
		rc = -ENOTRECOVERABLE;
		break;
	case JOB_BUILD:
		snprintf(msg, msglen, "a model failed to load, nothing changed: %s", j->err);
		rc = rc == -ENOTRECOVERABLE || rc == -ESHUTDOWN ? -EINVAL : rc;
		break;
	case JOB_OK:
		publish(j->set, j->pinned ? "reloaded (rollback in force):" : "reloaded:");
		adopt_conf(j->nc);
		j->nc = NULL;
		V.rolled_back = j->pinned;
		rc = 0;
		break;
	}
	metrics_reload_done(j->stage == JOB_OK);
	conf_free(j->nc);
	free(j);
	return rc;
}

/* Refuses a change while a reload is being built (the loader reads what it would change). */
static int busy(char *msg, size_t msglen)
{
	if (V.job == NULL)
		return 0;
	snprintf(msg, msglen, "a reload (%s) is in progress; try again when it is done",
	         V.job->trigger);
	return -EBUSY;
}

/* Starts a change: refused while stopping or while a reload is built. */
static int may_change(char *msg, size_t msglen)
{
	if (V.stopping) {
		snprintf(msg, msglen, "the daemon is stopping");
		return -ESHUTDOWN;
	}
	return busy(msg, msglen);
}

static struct reload_job *reload_begin(const char *trigger, char *msg, size_t msglen, int *rc)
{
	const struct log_field f[] = {{"CONFIG_FILE", V.config_path ? V.config_path : ""}};
	struct reload_job *j;

	if ((*rc = may_change(msg, msglen)) < 0)
		return NULL;
	j = calloc(1, sizeof *j);
	if (j == NULL) {
		snprintf(msg, msglen, "out of memory");
		*rc = -ENOMEM;
		return NULL;
	}
	snprintf(j->trigger, sizeof j->trigger, "%s", trigger);
	begin_change("reloading configuration");
	log_fields(LOG_LVL_INFO, f, 1, "reloading %s (%s)",
	           V.config_path ? V.config_path : "the built-in default", trigger);
	return j;
}

/*
 * SIGHUP and POST /v2/admin/reload: reread the config, build and validate everything aside,
 * swap only when all of it is good. While a rollback is in force, the last-known-good
 * snapshots keep being served for the models they name. The message of a refusal goes to
 * msg whole ("configuration refused, nothing changed: ..."); see serve.h for the codes.
 * This one builds on the calling thread; serve_reload_start() on the loader thread.
 */
int serve_reload(const char *trigger, char *msg, size_t msglen)
{
	int rc;
	struct reload_job *j = reload_begin(trigger, msg, msglen, &rc);

	if (j == NULL)
		return rc;
	reload_build(j);
	return reload_swap(j, msg, msglen);
}

static void *loader_main(void *arg)
{
	struct reload_job *j = arg;

	reload_build(j);
	j->done(j->cls);
	return NULL;
}

int serve_reload_start(const char *trigger, void (*done)(void *cls), void *cls, char *msg,
                       size_t msglen)
{
	int rc;
	struct reload_job *j = reload_begin(trigger, msg, msglen, &rc);

	if (j == NULL)
		return rc;
	j->done = done;
	j->cls = cls;
	V.job = j;
	rc = pthread_create(&j->thread, NULL, loader_main, j);
	if (rc != 0) {
		V.job = NULL;
		free(j);
		snprintf(msg, msglen, "cannot start the loader thread: %s", strerror(rc));
		return -rc;
	}
	return 0;
}

bool serve_reload_pending(void)
{
	return V.job != NULL;
}

int serve_reload_finish(char *msg, size_t msglen)
{
	struct reload_job *j = V.job;

	if (j == NULL) {
		snprintf(msg, msglen, "no reload in progress");
		return -ENOENT;
	}
	(void)pthread_join(j->thread, NULL);
	V.job = NULL;
	return reload_swap(j, msg, msglen);
}

int serve_load(const char *name, char *msg, size_t msglen)
{
	struct state_lkg lkg = {0};
	struct repo_set *set = NULL;
	char err[4096] = "";
	int rc;

	if ((rc = busy(msg, msglen)) < 0)
		return rc;
	if (conf_find_model(V.conf, name) == NULL) {
		snprintf(msg, msglen, "model %s is not in the configuration (%s)", name,
		         V.config_path ? V.config_path : "built-in default");
		return -ENOENT;
	}
	begin_change("loading a model");
	if (V.rolled_back && read_lkg(V.conf->state_dir, &lkg, err, sizeof err) < 0) {
		snprintf(msg, msglen,
		         "rollback in force but the last-known-good set is unusable: %s", err);
		return -ENOTRECOVERABLE;
	}
	rc = build_set(V.conf, V.rolled_back ? &lkg : NULL, NULL, true, name, NULL, &set, err,
	               sizeof err);
	state_lkg_free(&lkg);
	if (rc < 0) {
		const struct log_field f[] = {{"MODEL", name}};
		log_fields(LOG_LVL_ERR, f, 1, "repository load of %s refused: %s", name, err);
		snprintf(msg, msglen, "model %s cannot be loaded: %s", name, err);
		return rc == -ENOENT || rc == -ENOTRECOVERABLE ? -EINVAL : rc;
	}
	publish(set, "serving (repository load):");
	return 0;
}

int serve_unload(const char *name, char *msg, size_t msglen)
{
	struct repo_set *cur, *set = NULL;
	bool served;
	char err[4096] = "";
	int rc;

	if ((rc = busy(msg, msglen)) < 0)
		return rc;
	cur = repo_acquire();
	served = repo_find(cur, name, NULL) != NULL;
	repo_release(cur);
	if (!served) {
		snprintf(msg, msglen, "model %s is not served", name);
		return -ENOENT;
	}
	begin_change("unloading a model");
	rc = build_set(V.conf, NULL, NULL, true, NULL, name, &set, err, sizeof err);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot unload %s: %s", name, err);
		return rc == -ENOENT ? -EIO : rc;
	}
	publish(set, "serving (repository unload):");
	{
		const struct log_field f[] = {{"MODEL", name}};
		log_fields(LOG_LVL_NOTICE, f, 1, "model %s unloaded", name);
	}
	return 0;
}

/* Appends a difference to buf ("; "-separated). */
static void diff_add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diff_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t off = strlen(buf);
	va_list ap;

	if (off + 3 >= len)
		return;
	if (off > 0) {
		memcpy(buf + off, "; ", 3);
		off += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
}

/* Compares a claim with s both ways; every difference goes to err ("" when equal). */
static void compare_claim(const struct serve_claim *claims, size_t n, const struct repo_set *s,
                          char *err, size_t errlen)
{
	err[0] = '\0';
	/* Both directions: every claimed model is served as claimed, nothing else is served. */
	for (size_t i = 0; i < n; i++) {
		const struct serve_claim *m = &claims[i];
		const struct repo_entry *e = repo_find(s, m->name, m->version);
		const struct repo_entry *any = repo_find(s, m->name, NULL);

		if (e == NULL && any == NULL)
			diff_add(err, errlen, "%.64s is not served", m->name);
		else if (e == NULL)
			diff_add(err, errlen, "%.64s is served at version %s, not %.64s", m->name,
			         any->version, m->version);
		else if (strcmp(e->sha256, m->sha256) != 0)
			diff_add(err, errlen,
			         "%.64s version %s is served with sha256 %.12s, not %.12s", m->name,
			         m->version, e->sha256, m->sha256);
	}
	for (size_t k = 0; s && k < s->n; k++) {
		bool claimed = false;

		for (size_t i = 0; i < n; i++)
			if (strcmp(claims[i].name, s->v[k].name) == 0 &&
			    strcmp(claims[i].version, s->v[k].version) == 0)
				claimed = true;
		if (!claimed)
			diff_add(err, errlen, "%s version %s is served but not in the request",
			         s->v[k].name, s->v[k].version);
	}
	if (n != (s ? s->n : 0) && err[0] == '\0')
		diff_add(err, errlen, "the request lists a model twice");
}

int serve_mark_good(const struct serve_claim *claims, size_t n, char **rec, char *msg,
                    size_t msglen)
{
	struct repo_set *s;
	char err[4096];
	int rc;

	*rec = NULL;
	if ((rc = busy(msg, msglen)) < 0)
		return rc;
	s = repo_acquire();
	compare_claim(claims, n, s, err, sizeof err);
	if (err[0] != '\0') {
		repo_release(s);
		log_warn("mark-good refused: the served set changed since the smoke test: %s", err);
		snprintf(msg, msglen, "the served set changed since the smoke test: %s", err);
		return -ESTALE;
	}
	rc = state_mark_good(V.conf->state_dir, V.config_path, V.conf->sha256, s, rec, err,
	                     sizeof err);
	repo_release(s);
	if (rc < 0) {
		log_err("cannot record the last known good set: %s", err);
		snprintf(msg, msglen,
		         "cannot record the last known good set (the previous record is "
		         "unchanged): %s",
		         err);
		/* -ESTALE is the claim's: a snapshot that changed on disk is a storage failure. */
		return rc == -ESTALE ? -EIO : rc;
	}
	log_notice("recorded the served set as last known good in %s/%s", V.conf->state_dir,
	           STATE_LKG_FILE);
	return 0;
}

/*
 * Serves the last-known-good set: verify the record, build its snapshots aside, write
 * rollback.json first (a rollback that would not survive a restart is not done), then
 * publish. See serve.h for the codes; only a missing record is -ENOENT.
 */
int serve_rollback(struct serve_rollback *out, char *msg, size_t msglen)
{
	struct state_lkg lkg = {0};
	struct repo_set *set = NULL;
	char err[4096];
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = busy(msg, msglen)) < 0)
		return rc;
	rc = state_lkg_read(V.conf->state_dir, &lkg, err, sizeof err);
	if (rc == -ENOENT) {
		snprintf(msg, msglen, "%s: mark a set good first", err);
		return -ENOENT;
	}
	if (rc == 0 && (rc = state_lkg_verify(&lkg, err, sizeof err)) < 0)
		state_lkg_free(&lkg);
	if (rc < 0) {
		log_err("rollback refused: %s", err);
		snprintf(msg, msglen, "cannot roll back: %s", err);
		return -ENOTRECOVERABLE;
	}
	begin_change("rolling back to last known good");
	/* No fallback to the served versions: a rollback is all of the record or nothing. */
	rc = build_set(V.conf, &lkg, NULL, false, NULL, NULL, &set, err, sizeof err);
	if (rc < 0) {
		state_lkg_free(&lkg);
		log_err("rollback refused: the last-known-good set does not validate: %s", err);
		snprintf(msg, msglen,
		         "cannot roll back: the last-known-good set does not validate: %s", err);
		return -ENOTRECOVERABLE;
	}
	rc = state_rollback_record(V.conf->state_dir, lkg.time, "POST /v2/admin/rollback", set, err,
	                           sizeof err);
	if (rc < 0) {
		state_lkg_free(&lkg);
		repo_set_free(set);
		log_err("rollback refused: %s", err);
		snprintf(msg, msglen, "cannot roll back (nothing changed): %s", err);
		return rc == -ENOENT ? -EIO : rc;
	}
	snprintf(out->lkg_time, sizeof out->lkg_time, "%s", lkg.time);
	out->before = repo_acquire();
	publish(set, "rolled back:");
	out->after = repo_acquire();
	V.rolled_back = true;
	metrics_rollback_done();
	log_notice("rolled back to the last known good set recorded %s; %s/%s keeps it across "
	           "restarts until cleared",
	           lkg.time, V.conf->state_dir, STATE_ROLLBACK_FILE);
	state_lkg_free(&lkg);
	return 0;
}

int serve_rollback_clear(char *msg, size_t msglen)
{
	char err[1024];
	int rc;

	if ((rc = may_change(msg, msglen)) < 0)
		return rc;
	rc = state_rollback_clear(V.conf->state_dir, err, sizeof err);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot clear the rollback: %s", err);
		return -ENOTRECOVERABLE;
	}
	log_notice("rollback cleared; serving from the configuration again");
	V.rolled_back = false;
	return serve_reload("DELETE /v2/admin/rollback", msg, msglen);
}

/* rollback.json exists: serve the last-known-good set; if it is unusable, say so loudly. */
static void start_rolled_back(const struct conf *c, struct repo_set **set)
{
	struct state_lkg lkg = {0};
	char err[4096];

	if (read_lkg(c->state_dir, &lkg, err, sizeof err) == 0 &&
	    build_set(c, &lkg, NULL, false, NULL, NULL, set, err, sizeof err) == 0) {
		V.rolled_back = true;
		log_notice("rolled back to last known good: %s/%s is in force, serving the set "
		           "recorded %s (clear it with inferctl rollback --clear)",
		           c->state_dir, STATE_ROLLBACK_FILE, lkg.time);
	} else {
		*set = NULL;
		log_err("%s/%s asks for the last known good set, but it is unusable (%s); serving "
		        "the configuration instead",
		        c->state_dir, STATE_ROLLBACK_FILE, err);
	}
	state_lkg_free(&lkg);
}

/*
 * The last-known-good record that startup may fall back to for a model whose configured
 * files are refused: a restart must not stop serving what was serving before. True with
 * *l filled when it is there and every snapshot verifies.
 */
static bool startup_fallback(const struct conf *c, struct state_lkg *l)
{
	char err[1024] = "";
	int rc = read_lkg(c->state_dir, l, err, sizeof err);

	if (rc == 0)
		return true;
	if (rc == -ENOENT)
		log_info("no last known good record in %s: a model that fails to load fails the "
		         "start",
		         c->state_dir);
	else
		log_warn("the last known good record is unusable (%s): no fallback at startup, a "
		         "model that fails to load fails the start",
		         err);
	return false;
}

int serve_init(const struct serve_opts *o, struct conf *c)
{
	int rc;

	V.conf = c;
	V.socket_override = o->socket_override;
	if ((o->config_path != NULL && (V.config_path = strdup(o->config_path)) == NULL) ||
	    (o->socket_path != NULL && (V.socket_path = strdup(o->socket_path)) == NULL))
		return -ENOMEM;
	if ((rc = repo_init()) < 0) {
		log_err("model repository: %s", strerror(-rc));
		return rc;
	}
	V.inited_repo = true;
	return 0;
}

int serve_start(void)
{
	const struct conf *c = V.conf;
	struct repo_set *set = NULL;
	char err[4096];
	int rc;

	/* Only the leaf: parents missing means a setup problem that mkdir -p would hide. */
	if (mkdir(c->state_dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot create the state directory %s: %s; marking a set good will try "
		         "again",
		         c->state_dir, strerror(errno));
	if (state_rollback_active(c->state_dir))
		start_rolled_back(c, &set);
	if (set == NULL) {
		struct state_lkg lkg = {0};
		bool have_lkg = startup_fallback(c, &lkg);

		rc = build_set(c, NULL, have_lkg ? &lkg : NULL, false, NULL, NULL, &set, err,
		               sizeof err);
		state_lkg_free(&lkg);
		if (rc < 0) {
			log_err("a model failed to load (%s); not starting", err);
			return rc;
		}
	}
	publish(set, "serving");
	return 0;
}

void serve_fini(void)
{
	char msg[64];

	/* A build still running finishes first: it reads what is freed below. */
	if (V.job != NULL)
		(void)serve_reload_finish(msg, sizeof msg);
	if (V.inited_repo)
		repo_fini();
	conf_free(V.conf);
	free(V.config_path);
	free(V.socket_path);
	memset(&V, 0, sizeof V);
}

const struct conf *serve_conf(void)
{
	return V.conf;
}

const char *serve_config_path(void)
{
	return V.config_path;
}

const char *serve_socket_path(void)
{
	return V.socket_path;
}

bool serve_rolled_back(void)
{
	return V.rolled_back;
}

unsigned serve_take_events(void)
{
	return atomic_exchange(&V.events, 0u);
}

void serve_stop(void)
{
	V.stopping = true;
}
