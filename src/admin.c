/* admin.c: the repository and admin endpoints' actions, answered as JSON, and who may call them. */
#include "admin.h"

#include <elf.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <libgen.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <nettle/version.h>

#include "conf.h"
#include "repo.h"
#include "serve.h"
#include "sock.h"
#include "state.h"

static json_t *error_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_json(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* Error text may quote file contents: keep it valid UTF-8 for jansson. */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return json_pack("{s:s}", "error", buf);
}

/* 507 when the disk is full, 500 for any other failure to write the state directory. */
static int storage_status(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT ? 507 : 500;
}

static json_t *serving_json(const struct repo_set *s)
{
	json_t *a = json_array();

	for (size_t i = 0; a && s && i < s->n; i++)
		json_array_append_new(a,
		                      json_pack("{s:s, s:s, s:s}", "name", s->v[i].name, "version",
		                                s->v[i].version, "sha256", s->v[i].sha256));
	return a;
}

/* One index row as the model-repository extension shows it. */
static json_t *index_row_json(const struct repo_index_row *v)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b}", "name", v->name, "version", v->version,
	                 "state", v->ready ? "READY" : "UNAVAILABLE", "reason", v->reason,
	                 "refused", v->refused);
}

/* The rows of the last build's index: all, only READY ones, or only refused ones. */
static json_t *index_json(bool ready_only, bool refused_only)
{
	struct repo_index idx = {0};
	json_t *out;

	if (repo_index_get(&idx) < 0)
		return NULL;
	out = json_array();
	for (size_t i = 0; out != NULL && i < idx.n; i++) {
		if ((ready_only && !idx.v[i].ready) || (refused_only && !idx.v[i].refused))
			continue;
		json_array_append_new(out, index_row_json(&idx.v[i]));
	}
	repo_index_free(&idx);
	return out;
}

int admin_repo_index(const struct admin_req *rq, json_t **out)
{
	bool ready_only = false;

	if (rq->len > 0) {
		json_error_t je;
		json_t *body = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je), *rd, *v;
		const char *k;

		if (body == NULL) {
			*out = error_json("request body: line %d column %d: %s", je.line, je.column,
			                  je.text);
			return 400;
		}
		if (!json_is_object(body)) {
			json_decref(body);
			*out = error_json("request body must be a JSON object: {\"ready\": bool}");
			return 400;
		}
		json_object_foreach(body, k, v)
		{
			if (strcmp(k, "ready") != 0) {
				*out = error_json("request body: unknown key \"%.64s\"", k);
				json_decref(body);
				return 400;
			}
		}
		rd = json_object_get(body, "ready");
		if (rd != NULL && !json_is_boolean(rd)) {
			json_decref(body);
			*out = error_json("request body: \"ready\" must be true or false");
			return 400;
		}
		ready_only = json_is_true(rd);
		json_decref(body);
	}
	*out = index_json(ready_only, false);
	if (*out == NULL) {
		*out = error_json("the repository index is unavailable");
		return 500;
	}
	return 200;
}

/* The answer to a reload that went through: what is served now and what was refused. */
static int reload_done(json_t **out)
{
	struct repo_set *set = repo_acquire();

	*out = json_pack("{s:o, s:o, s:b}", "models", serving_json(set), "refused",
	                 index_json(false, true), "rolled_back", serve_rolled_back());
	repo_release(set);
	return 200;
}

/* The status of a refused reload (serve.h's codes). */
static int reload_status(int rc)
{
	if (rc == -ESHUTDOWN)
		return 503;
	if (rc == -EBUSY)
		return 409;
	return rc == -ENOTRECOVERABLE ? 500 : 400;
}

int admin_reload_start(void (*done)(void *cls), void *cls, json_t **out)
{
	char err[8192];
	int rc = serve_reload_start("POST /v2/admin/reload", done, cls, err, sizeof err);

	*out = NULL;
	if (rc < 0) {
		*out = error_json("%s", err);
		return reload_status(rc);
	}
	return 0;
}

int admin_reload_finish(json_t **out)
{
	char err[8192];
	int rc = serve_reload_finish(err, sizeof err);

	if (rc < 0) {
		*out = error_json("%s", err);
		return reload_status(rc);
	}
	return reload_done(out);
}

int admin_reload(const struct admin_req *rq, json_t **out)
{
	char err[8192];
	int rc;

	(void)rq;
	rc = serve_reload("POST /v2/admin/reload", err, sizeof err);
	if (rc < 0) {
		*out = error_json("%s", err);
		return reload_status(rc);
	}
	return reload_done(out);
}

int admin_repo_load(const struct admin_req *rq, json_t **out)
{
	char err[8192];
	int rc = serve_load(rq->name, err, sizeof err);

	if (rc < 0) {
		*out = error_json("%s", err);
		return rc == -ENOENT ? 404 : rc == -ENOTRECOVERABLE ? 500 : 400;
	}
	*out = json_object();
	return 200;
}

int admin_repo_unload(const struct admin_req *rq, json_t **out)
{
	char err[8192];
	int rc = serve_unload(rq->name, err, sizeof err);

	if (rc < 0) {
		*out = error_json("%s", err);
		return rc == -ENOENT ? 404 : 500;
	}
	*out = json_object();
	return 200;
}

/*
 * Parses the mark-good body strictly into claims (pointing into *doc, which the caller
 * frees). 0, or -EINVAL with the reason in err.
 */
static int parse_claim(const char *body, size_t len, json_t **doc, struct serve_claim **claims,
                       size_t *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je), *models, *m;
	const char *k;
	json_t *v;
	size_t i;

	*doc = j;
	*claims = NULL;
	*n = 0;
	if (j == NULL) {
		snprintf(err, errlen, "request body: line %d column %d: %s", je.line, je.column,
		         je.text);
		return -EINVAL;
	}
	models = json_object_get(j, "models");
	if (!json_is_object(j) || !json_is_array(models)) {
		snprintf(err, errlen,
		         "request body must be {\"models\": [{\"name\", \"version\", "
		         "\"sha256\"}, ...]}");
		return -EINVAL;
	}
	json_object_foreach(j, k, v)
	{
		if (strcmp(k, "models") != 0) {
			snprintf(err, errlen, "request body: unknown key \"%.64s\"", k);
			return -EINVAL;
		}
	}
	*claims = calloc(json_array_size(models) + 1, sizeof **claims);
	if (*claims == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_array_foreach(models, i, m)
	{
		struct serve_claim *c = &(*claims)[i];

		c->name = json_string_value(json_object_get(m, "name"));
		c->version = json_string_value(json_object_get(m, "version"));
		c->sha256 = json_string_value(json_object_get(m, "sha256"));
		if (!json_is_object(m) || c->name == NULL || c->version == NULL ||
		    c->sha256 == NULL || json_object_size(m) != 3) {
			snprintf(err, errlen,
			         "models[%zu] must be {\"name\", \"version\", \"sha256\"} "
			         "strings and nothing else",
			         i);
			return -EINVAL;
		}
	}
	*n = json_array_size(models);
	return 0;
}

int admin_mark_good(const struct admin_req *rq, json_t **out)
{
	struct serve_claim *claims;
	char err[8192], *rec = NULL;
	json_t *doc;
	size_t n;
	int rc;

	rc = parse_claim(rq->body, rq->len, &doc, &claims, &n, err, sizeof err);
	if (rc < 0) {
		free(claims);
		json_decref(doc);
		*out = error_json("%s", err);
		return rc == -ENOMEM ? 500 : 400;
	}
	rc = serve_mark_good(claims, n, &rec, err, sizeof err);
	free(claims);
	json_decref(doc);
	if (rc < 0) {
		*out = error_json("%s", err);
		return rc == -ESTALE ? 409 : storage_status(rc);
	}
	*out = json_loads(rec, 0, NULL);
	free(rec);
	return 200;
}

/* What a rollback changes: {"name", "from", "to"} for each model whose bytes differ. */
static json_t *changes_json(const struct repo_set *old, const struct repo_set *nw)
{
	json_t *a = json_array();

	for (size_t i = 0; a && nw && i < nw->n; i++) {
		const struct repo_entry *e = &nw->v[i], *o = NULL;
		for (size_t k = 0; old && k < old->n && o == NULL; k++)
			if (strcmp(old->v[k].name, e->name) == 0)
				o = &old->v[k];
		if (o != NULL && strcmp(o->version, e->version) == 0 &&
		    strcmp(o->sha256, e->sha256) == 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:s?, s:s}", "name", e->name,
		                                   "from", o ? o->version : NULL, "to", e->version,
		                                   "from_sha256", o ? o->sha256 : NULL, "to_sha256",
		                                   e->sha256));
	}
	return a;
}

int admin_rollback(const struct admin_req *rq, json_t **out)
{
	struct serve_rollback rb;
	char err[8192];
	int rc;

	if (rq->is_delete) {
		rc = serve_rollback_clear(err, sizeof err);
		if (rc < 0) {
			*out = error_json("%s", err);
			return reload_status(rc);
		}
		return reload_done(out);
	}
	rc = serve_rollback(&rb, err, sizeof err);
	if (rc < 0) {
		*out = error_json("%s", err);
		return rc == -ENOENT ? 409 : storage_status(rc);
	}
	*out = json_pack("{s:o, s:o, s:s}", "changed", changes_json(rb.before, rb.after), "serving",
	                 serving_json(rb.after), "last_known_good_time", rb.lkg_time);
	repo_release(rb.before);
	repo_release(rb.after);
	return 200;
}

static json_t *lkg_json(const struct state_lkg *l)
{
	json_t *models = json_array();

	for (size_t i = 0; models && i < l->n; i++)
		json_array_append_new(
		    models,
		    json_pack("{s:s, s:s, s:s, s:s?, s:s}", "name", l->models[i].name, "version",
		              l->models[i].version, "sha256", l->models[i].sha256, "golden_sha256",
		              l->models[i].golden_sha256, "snapshot", l->models[i].snapshot));
	return json_pack("{s:s, s:s?, s:s, s:o}", "time", l->time, "config_file", l->config_file,
	                 "config_sha256", l->config_sha256, "models", models);
}

/*
 * The models served from their last-known-good snapshot because the configured files were
 * refused at startup: [{"name", "version", "reason"}], the reason naming each refusal.
 */
static json_t *fallback_json(const struct repo_set *s)
{
	struct repo_index idx = {0};
	bool have_idx = false;
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && s != NULL && i < s->n; i++) {
		char why[2048];
		size_t off, base;
		int w;

		if (!s->v[i].fallback)
			continue;
		if (!have_idx) {
			(void)repo_index_get(&idx);
			have_idx = true;
		}
		w = snprintf(why, sizeof why, "configured version refused");
		off = base = w < 0 ? 0 : (size_t)w;
		for (size_t k = 0; k < idx.n; k++) {
			const struct repo_index_row *v = &idx.v[k];

			if (!v->refused || strcmp(v->name, s->v[i].name) != 0 || off >= sizeof why)
				continue;
			w = snprintf(why + off, sizeof why - off, "%sversion %s: %s",
			             off > base ? "; " : ": ", v->version, v->reason);
			off = w < 0 ? sizeof why : off + (size_t)w;
		}
		/* Cut short, a multi-byte character may be split: keep it valid UTF-8. */
		for (char *p = why; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", s->v[i].name,
		                                   "version", s->v[i].version, "reason", why));
	}
	repo_index_free(&idx);
	return a;
}

int admin_state(const struct admin_req *rq, json_t **out)
{
	const struct conf *c = serve_conf();
	struct state_lkg lkg = {0};
	struct repo_set *s = repo_acquire();
	char err[1024];
	int rc = state_lkg_read(c->state_dir, &lkg, err, sizeof err);

	(void)rq;
	*out = json_pack("{s:s?, s:s, s:s, s:o, s:o, s:b, s:o}", "config_file", serve_config_path(),
	                 "config_sha256", c->sha256, "state_dir", c->state_dir, "serving",
	                 serving_json(s), "last_known_good", rc == 0 ? lkg_json(&lkg) : json_null(),
	                 "rolled_back", serve_rolled_back(), "fallback", fallback_json(s));
	/* A corrupt record is shown as such, never as if it were absent. */
	if (*out != NULL && rc < 0 && rc != -ENOENT)
		json_object_set_new(*out, "last_known_good_error", json_string(err));
	state_lkg_free(&lkg);
	repo_release(s);
	return 200;
}

/* --- fingerprint --- */

struct note_scan {
	char hex[2 * 64 + 1]; /* "" until found */
};

/* Finds NT_GNU_BUILD_ID in the PT_NOTE segments of the first object: the executable. */
static int scan_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
	struct note_scan *ns = data;

	(void)size;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
		size_t left = ph->p_memsz, align = ph->p_align == 8 ? 8 : 4;

		if (ph->p_type != PT_NOTE)
			continue;
		while (left >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			size_t name = (nh->n_namesz + align - 1) & ~(align - 1);
			size_t desc = (nh->n_descsz + align - 1) & ~(align - 1);
			size_t whole = sizeof(*nh) + name + desc;

			if (name > left || desc > left || whole > left)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0 && nh->n_descsz > 0 &&
			    nh->n_descsz <= 64) {
				const unsigned char *d = p + sizeof(*nh) + name;
				for (size_t k = 0; k < nh->n_descsz; k++)
					snprintf(ns->hex + 2 * k, 3, "%02x", d[k]);
				return 1;
			}
			p += whole;
			left -= whole;
		}
	}
	return 1; /* only the first object is the executable */
}

struct so_scan {
	const char *prefix; /* "libconfig.so." */
	char name[NAME_MAX + 1];
};

/* The file a loaded library resolves to, e.g. libconfig.so.9 -> libconfig.so.9.2.0. */
static int scan_so(struct dl_phdr_info *info, size_t size, void *data)
{
	struct so_scan *ss = data;
	const char *base;
	char *real;

	(void)size;
	if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0')
		return 0;
	base = strrchr(info->dlpi_name, '/');
	base = base ? base + 1 : info->dlpi_name;
	if (strncmp(base, ss->prefix, strlen(ss->prefix)) != 0)
		return 0;
	real = realpath(info->dlpi_name, NULL);
	snprintf(ss->name, sizeof ss->name, "%s", real ? basename(real) : base);
	free(real);
	return 1;
}

static json_t *so_version(const char *prefix)
{
	struct so_scan ss = {.prefix = prefix};

	dl_iterate_phdr(scan_so, &ss);
	return json_string(ss.name[0] ? ss.name : "unknown");
}

int admin_fingerprint(const struct admin_req *rq, json_t **out)
{
	const struct conf *c = serve_conf();
	struct note_scan ns = {""};
	struct repo_set *s = repo_acquire();
	char nettle[32];
	json_t *eff = conf_effective_json(c);

	(void)rq;
	dl_iterate_phdr(scan_build_id, &ns);
	snprintf(nettle, sizeof nettle, "%d.%d", nettle_version_major(), nettle_version_minor());
	/* --socket overrides the config: show the path actually served. */
	if (eff != NULL && serve_socket_path() != NULL)
		json_object_set_new(json_object_get(eff, "socket"), "path",
		                    json_string(serve_socket_path()));
	*out = json_pack(
	    "{s:{s:s, s:s}, s:{s:s, s:s, s:o, s:o, s:s, s:s}, s:{s:s?, s:s, s:o?}, "
	    "s:o}",
	    "inferd", "version", PACKAGE_VERSION, "build_id", ns.hex[0] ? ns.hex : "unknown",
	    "libraries", "libmicrohttpd", MHD_get_version(), "jansson", jansson_version_str(),
	    "libconfig", so_version("libconfig.so."), "libsystemd", so_version("libsystemd.so."),
	    "nettle", nettle, "libc", gnu_get_libc_version(), "config", "file", serve_config_path(),
	    "sha256", c->sha256, "effective", eff, "models", serving_json(s));
	repo_release(s);
	return 200;
}

bool admin_peer_allowed(uid_t uid, gid_t gid, char *why, size_t whylen)
{
	const struct conf *c = serve_conf();
	const char *group = c ? c->admin_group : NULL;

	if (uid == 0 || uid == geteuid())
		return true;
	if (group != NULL && sock_uid_in_group(uid, gid, group) == 1)
		return true;
	if (group != NULL)
		snprintf(why, whylen,
		         "peer uid %u is not allowed: needs uid 0 or group %s (or the daemon's uid "
		         "%u)",
		         (unsigned)uid, group, (unsigned)geteuid());
	else
		snprintf(why, whylen,
		         "peer uid %u is not allowed: needs uid 0 or the daemon's uid %u "
		         "(socket.admin_group is not set)",
		         (unsigned)uid, (unsigned)geteuid());
	return false;
}
