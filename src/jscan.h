/* jscan.h: skipping and skeleton-reading JSON text in place, without building values. */
#ifndef INFERD_JSCAN_H
#define INFERD_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * These helpers read JSON text where a full parse (jansson, jsonx) would cost more than the
 * work: finding one member of a large request, or reading a small request's few strings.
 * They are deliberately partial: each returns the position after what it read, or NULL
 * for anything it does not recognise, and the caller then falls back to a real parser,
 * which validates the text and words the errors. None of them allocates.
 */

/* JSON whitespace. Inline: called around every value of a bulk tensor. */
static inline bool jscan_is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Past the whitespace at p (at most end). */
static inline const char *jscan_ws(const char *p, const char *end)
{
	while (p < end && jscan_is_ws(*p))
		p++;
	return p;
}

/*
 * p at a quote: returns past the closing quote, or NULL when the string never ends. Sets
 * *escaped when the string holds a backslash (its text then differs from its bytes).
 */
const char *jscan_string(const char *p, const char *end, bool *escaped);

/*
 * Skips one value at p, tracking strings and nesting only (the text is not validated).
 * Returns past it, or NULL when the text ends first.
 */
const char *jscan_value(const char *p, const char *end);

/* A string's text in place: n bytes at p. */
struct jscan_str {
	const char *p;
	size_t n;
};

/*
 * p at a quote: a string of printable ASCII without escapes (so its bytes are its text),
 * returned past its closing quote; NULL for any other string.
 */
const char *jscan_plain_string(const char *p, const char *end, struct jscan_str *out);

/*
 * A JSON integer of at most 18 digits (so any 64-bit parser reads it exactly), without
 * fraction or exponent: *neg and the magnitude *v. NULL for anything else.
 */
const char *jscan_small_int(const char *p, const char *end, bool *neg, uint64_t *v);

/* A plain scalar: a plain string, small integer, true, false or null. NULL otherwise. */
const char *jscan_scalar(const char *p, const char *end);

/* Whether the string's text is the NUL-terminated lit. */
bool jscan_str_is(const struct jscan_str *s, const char *lit);

/*
 * Reads one member's value at p (key already read); returns past the value or NULL to
 * give up. ctx is the caller's.
 */
typedef const char *jscan_member_fn(const struct jscan_str *key, const char *p, const char *end,
                                    void *ctx);

/* Most keys one jscan_object() call checks for duplicates; more make it give up. */
#define JSCAN_MAX_KEYS 12

/*
 * p at '{': reads a non-empty object whose keys are plain strings, each unique (a repeated
 * key is ambiguous: parsers differ on which one wins), through member() for the values.
 * Returns past the '}', or NULL.
 */
const char *jscan_object(const char *p, const char *end, jscan_member_fn *member, void *ctx);

#endif
