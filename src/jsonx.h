/* jsonx.h: jansson parsing with a nesting-depth bound and XGBoost's NaN/Infinity tokens. */
#ifndef INFERD_JSONX_H
#define INFERD_JSONX_H

#include <jansson.h>
#include <stddef.h>

/* Strings that stand for the non-standard number tokens after jsonx_parse(). */
#define JSONX_NAN     "NaN"
#define JSONX_INF     "Infinity"
#define JSONX_NEG_INF "-Infinity"

/*
 * The most members one JSON object may have: more is refused before jansson builds its
 * hash table, which for a million keys cost seconds of the only HTTP thread. No request,
 * model or state file has objects anywhere near this (tensor data and trees are arrays).
 */
#define JSONX_MAX_MEMBERS 4096u

/*
 * Parses len bytes of JSON. Bare NaN, Infinity and -Infinity tokens standing as array
 * elements (where XGBoost writes them) become the strings above when allow_nonfinite is
 * set; elsewhere, or without allow_nonfinite, they are a syntax error. Nesting deeper than
 * max_depth, and an object of more than JSONX_MAX_MEMBERS members, are refused before
 * jansson sees them. Returns 0 and *out, or -EINVAL with a message in err
 * ("line L column C: ...").
 */
int jsonx_parse(const char *buf, size_t len, unsigned max_depth, int allow_nonfinite, json_t **out,
                char *err, size_t errlen);

/*
 * Reads a number element: a JSON integer or real, or one of the strings above.
 * Returns 0 and *out, or -EINVAL when v is neither.
 */
int jsonx_number(const json_t *v, double *out);

/*
 * Reads a whole regular file (at most max_bytes; util_read_file(): a FIFO, socket, device
 * or directory is refused at once) and parses it as jsonx_parse() does. -EFBIG if larger.
 */
int jsonx_load_file(const char *path, size_t max_bytes, unsigned max_depth, int allow_nonfinite,
                    json_t **out, char *err, size_t errlen);

#endif
