/* jscan.c: skipping and skeleton-reading JSON text in place, without building values. */
#include "jscan.h"

#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const char *jscan_string(const char *p, const char *end, bool *escaped)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			*escaped = true;
			p++;
		}
	}
	return NULL;
}

/*
 * A scalar ends at a delimiter (',', ']', '}' or whitespace) and is returned there; a
 * string or container past its last byte. Where the text is not JSON, the real parser
 * fails on the same bytes later.
 */
const char *jscan_value(const char *p, const char *end)
{
	size_t depth = 0;
	bool escaped = false;

	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = jscan_string(p, end, &escaped);
			if (!p || !depth)
				return p;
			continue;
		}
		if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			if (!depth)
				return p;
			if (--depth == 0)
				return p + 1;
		} else if (!depth && (c == ',' || jscan_is_ws(c))) {
			return p;
		}
		p++;
	}
	return NULL;
}

const char *jscan_plain_string(const char *p, const char *end, struct jscan_str *out)
{
	const char *q = ++p;

	while (q < end && *q != '"') {
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
			return NULL;
		q++;
	}
	if (q >= end)
		return NULL;
	out->p = p;
	out->n = (size_t)(q - p);
	return q + 1;
}

const char *jscan_small_int(const char *p, const char *end, bool *neg, uint64_t *v)
{
	const char *d;

	*neg = p < end && *p == '-';
	if (*neg)
		p++;
	d = p;
	*v = 0;
	while (p < end && is_digit(*p) && p - d < 18)
		*v = *v * 10 + (uint64_t)(*p++ - '0');
	if (p == d || (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E')) ||
	    (*d == '0' && p - d > 1))
		return NULL;
	return p;
}

const char *jscan_scalar(const char *p, const char *end)
{
	static const char *const words[] = {"true", "false", "null"};
	struct jscan_str s;
	uint64_t v;
	bool neg;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return jscan_plain_string(p, end, &s);
	if (*p == '-' || is_digit(*p))
		return jscan_small_int(p, end, &neg, &v);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i]);
		if ((size_t)(end - p) >= n && memcmp(p, words[i], n) == 0)
			return p + n;
	}
	return NULL;
}

bool jscan_str_is(const struct jscan_str *s, const char *lit)
{
	return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

/* Keys seen in one object: false when k repeats one of them (or there are too many). */
static bool note_key(struct jscan_str *seen, size_t *n, const struct jscan_str *k)
{
	for (size_t i = 0; i < *n; i++)
		if (seen[i].n == k->n && memcmp(seen[i].p, k->p, k->n) == 0)
			return false;
	if (*n == JSCAN_MAX_KEYS)
		return false;
	seen[(*n)++] = *k;
	return true;
}

const char *jscan_object(const char *p, const char *end, jscan_member_fn *member, void *ctx)
{
	struct jscan_str seen[JSCAN_MAX_KEYS], key;
	size_t nseen = 0;

	p = jscan_ws(p + 1, end);
	if (p >= end || *p != '"')
		return NULL;
	for (;;) {
		if (p >= end || *p != '"' || !(p = jscan_plain_string(p, end, &key)) ||
		    !note_key(seen, &nseen, &key))
			return NULL;
		p = jscan_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = member(&key, jscan_ws(p + 1, end), end, ctx);
		if (!p)
			return NULL;
		p = jscan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = jscan_ws(p + 1, end);
	}
}
