/* state.h: the daemon's state directory: last-known-good record, snapshots, rollback flag. */
#ifndef INFERD_STATE_H
#define INFERD_STATE_H

#include <stdbool.h>
#include <stddef.h>

struct repo_set;
struct repo_pin;

/* File names inside the state directory. */
#define STATE_LKG_FILE      "last-known-good.json"
#define STATE_ROLLBACK_FILE "rollback.json"
#define STATE_SNAPSHOT_DIR  "lkg"

/* One model of the last-known-good record; paths are derived from state_dir, not read. */
struct state_model {
	char *name;
	char *version;
	char *sha256;        /* of the model file, 64 lowercase hex digits */
	char *golden_sha256; /* of its golden set, NULL when it had none */
	char *snapshot;      /* <state_dir>/lkg/<name>/<version> */
	char *model_path;    /* snapshot/model.json */
	char *golden_path;   /* snapshot/golden.json, NULL when golden_sha256 is NULL */
};

/* The last-known-good record as read back. */
struct state_lkg {
	char *time;          /* UTC, RFC 3339 */
	char *config_file;   /* NULL for the built-in default */
	char *config_sha256; /* may be "" */
	struct state_model *models;
	size_t n;
};

/*
 * Replaces dir/name with len bytes of data so that a reader sees either the old file or
 * the new one, never a mix: writes dir/name.tmp (0640), fsyncs it, renames it over name
 * and fsyncs dir. On any error the temp file is removed, the old file stays intact, and a
 * negative errno (-ENOSPC, -EROFS, -EACCES, ...) is returned with a reason in err.
 */
int state_write_atomic(const char *dir, const char *name, const void *data, size_t len, char *err,
                       size_t errlen);

/* Creates dir and its missing parents (mode 0750). 0 or -errno with a reason. */
int state_mkdir(const char *dir, char *err, size_t errlen);

/*
 * Copies every model of s (its file, and its golden set when it has one) to
 * <state_dir>/lkg/<name>/<version>/{model.json,golden.json}, each atomically, skipping a
 * file whose copy there already has the same sha256. The model file must still hash to the
 * sha256 it was loaded with (so the snapshot holds the bytes actually served): -ESTALE
 * otherwise. Writes nothing outside state_dir. 0 or -errno with a reason in err.
 */
int state_snapshot(const char *state_dir, const struct repo_set *s, char *err, size_t errlen);

/*
 * Snapshots s and then writes the record <state_dir>/last-known-good.json atomically (so
 * the record never names a snapshot that is not on disk): {"time", "config_file",
 * "config_sha256", "models": [{"name", "version", "sha256", "golden_sha256", "snapshot"}]}
 * (config_file may be NULL). On success *json (when json is not NULL) gets the record text
 * (malloc'd). On failure the previous record is untouched. 0 or -errno with a reason.
 */
int state_mark_good(const char *state_dir, const char *config_file, const char *config_sha256,
                    const struct repo_set *s, char **json, char *err, size_t errlen);

/*
 * Reads and strictly validates <state_dir>/last-known-good.json. -ENOENT when there is
 * none; -EBADMSG (with the reason) when it is corrupt or malformed; other -errno when it
 * cannot be read. On success fills *out (free with state_lkg_free()).
 */
int state_lkg_read(const char *state_dir, struct state_lkg *out, char *err, size_t errlen);

/* Frees what state_lkg_read() filled; a zeroed struct is fine. */
void state_lkg_free(struct state_lkg *l);

/*
 * Checks that every snapshot of l is on disk with the recorded sha256 (model file and
 * golden set). 0, or -ENOENT / -EBADMSG with the first problem in err.
 */
int state_lkg_verify(const struct state_lkg *l, char *err, size_t errlen);

/*
 * Fills pins[0..l->n) with the snapshot files of l (the strings point into l, which must
 * outlive the pins). pins must have room for l->n entries.
 */
void state_lkg_pins(const struct state_lkg *l, struct repo_pin *pins);

/* Writes <state_dir>/rollback.json (atomically) with json. 0 or -errno with a reason. */
int state_rollback_set(const char *state_dir, const char *json, char *err, size_t errlen);
/*
 * Writes rollback.json for a rollback to the last-known-good record made at lkg_time:
 * {"last_known_good_time", "reason", "models": [{"name", "version", "sha256"}]} for the
 * set s it serves. 0 or -errno (-ENOMEM: out of memory) with a reason.
 */
int state_rollback_record(const char *state_dir, const char *lkg_time, const char *reason,
                          const struct repo_set *s, char *err, size_t errlen);
/* Removes <state_dir>/rollback.json and syncs the directory; absent is fine. 0 or -errno. */
int state_rollback_clear(const char *state_dir, char *err, size_t errlen);
/* True when <state_dir>/rollback.json exists. */
bool state_rollback_active(const char *state_dir);

#endif
