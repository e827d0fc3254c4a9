/* jsonx.c: jansson parsing with a nesting-depth bound and XGBoost's NaN/Infinity tokens. */
#include "jsonx.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Each rewritten token gains two quote characters. */
#define JSONX_GROWTH 2

/*
 * Line and column of byte offset pos, counted the way jansson counts them (lines from 1,
 * columns in UTF-8 characters, the character at pos included), so that our own errors and
 * jansson's read alike.
 */
static void locate(const char *buf, size_t len, size_t pos, int *line, int *col)
{
	int l = 1, c = 0;

	if (pos >= len)
		pos = len ? len - 1 : 0;
	for (size_t i = 0; i < len && i <= pos; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == '\n') {
			l++;
			c = 0;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static bool is_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.';
}

/* Length of the non-finite token at buf[i] (0 when there is none). */
static size_t nonfinite_token(const char *buf, size_t len, size_t i)
{
	static const struct {
		const char *s;
		size_t n;
	} toks[] = {{"NaN", 3}, {"Infinity", 8}, {"-Infinity", 9}};

	for (size_t t = 0; t < sizeof(toks) / sizeof(toks[0]); t++) {
		size_t n = toks[t].n;
		if (len - i >= n && memcmp(buf + i, toks[t].s, n) == 0 &&
		    (i + n == len || !is_word_char(buf[i + n])))
			return n;
	}
	return 0;
}

/* Containers tracked without allocating; deeper documents use the heap. */
#define JSONX_STACK_LEVELS 1024

/*
 * A walk over the text outside strings, yielding the non-finite tokens that stand as array
 * elements. XGBoost writes them only there, and tensor data is arrays; anywhere else (a
 * key, an object member such as an infer request's "id", the top level) a bare token
 * stays a syntax error, so it can never pass for a string the client sent.
 */
struct walker {
	const char *buf;
	size_t len;
	size_t i;
	size_t depth;
	unsigned max_depth;
	char prev;                /* last significant byte outside strings, 0 at the start */
	unsigned char *is_object; /* one byte per open container */
	unsigned *members;        /* an open object's members after the first, per container */
	unsigned char local[JSONX_STACK_LEVELS];
	unsigned local_members[JSONX_STACK_LEVELS];
};

static int walker_init(struct walker *w, const char *buf, size_t len, unsigned max_depth)
{
	w->buf = buf;
	w->len = len;
	w->i = 0;
	w->depth = 0;
	w->max_depth = max_depth;
	w->prev = 0;
	w->is_object = w->local;
	w->members = w->local_members;
	if (max_depth > JSONX_STACK_LEVELS) {
		w->is_object = malloc(max_depth);
		w->members = malloc(max_depth * sizeof *w->members);
		if (!w->is_object || !w->members) {
			free(w->is_object);
			free(w->members);
			return -ENOMEM;
		}
	}
	return 0;
}

static void walker_fini(struct walker *w)
{
	if (w->is_object != w->local) {
		free(w->is_object);
		free(w->members);
	}
}

static bool value_position(const struct walker *w)
{
	switch (w->prev) {
	case '[':
		return true;
	case ',':
		return w->depth > 0 && !w->is_object[w->depth - 1];
	default:
		return false;
	}
}

/*
 * Advances to the next non-finite token in value position: returns 1 with its offset and
 * length, 0 at the end of the text, -EINVAL (nesting too deep, at *at) or -E2BIG (an
 * object with more than JSONX_MAX_MEMBERS members, at *at).
 */
static int walker_next(struct walker *w, size_t *at, size_t *toklen)
{
	const char *buf = w->buf;
	size_t len = w->len, i = w->i;

	while (i < len) {
		char ch = buf[i];
		switch (ch) {
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			i++;
			continue;
		case '"':
			/* Skip the string; a backslash always escapes the next byte. */
			i++;
			while (i < len) {
				const char *q = memchr(buf + i, '"', len - i);
				size_t end = q ? (size_t)(q - buf) : len;
				const char *b = memchr(buf + i, '\\', end - i);
				if (b) {
					i = (size_t)(b - buf) + 2;
					continue;
				}
				i = q ? end + 1 : len;
				break;
			}
			if (i > len)
				i = len;
			w->prev = '"';
			continue;
		case '[':
		case '{':
			if (w->depth >= w->max_depth) {
				*at = i;
				w->i = i;
				return -EINVAL;
			}
			w->members[w->depth] = 0;
			w->is_object[w->depth++] = ch == '{';
			break;
		case ',':
			if (w->depth && w->is_object[w->depth - 1] &&
			    ++w->members[w->depth - 1] >= JSONX_MAX_MEMBERS) {
				*at = i;
				w->i = i;
				return -E2BIG;
			}
			break;
		case ']':
		case '}':
			/* Unbalanced closers are jansson's to report. */
			if (w->depth)
				w->depth--;
			break;
		case 'N':
		case 'I':
		case '-': {
			size_t t = value_position(w) ? nonfinite_token(buf, len, i) : 0;
			if (t) {
				*at = i;
				*toklen = t;
				w->i = i + t;
				w->prev = 'N';
				return 1;
			}
			break;
		}
		default:
			break;
		}
		w->prev = ch;
		i++;
	}
	w->i = len;
	return 0;
}

/* Copies buf into a new buffer with every non-finite token quoted. */
static char *quote_tokens(const char *buf, size_t len, unsigned max_depth, size_t ntokens,
                          size_t *outlen)
{
	size_t extra, newlen, from = 0, o = 0, at, t;
	struct walker w;
	char *out;
	int r;

	if (__builtin_mul_overflow(ntokens, (size_t)JSONX_GROWTH, &extra) ||
	    __builtin_add_overflow(len, extra, &newlen))
		return NULL;
	out = malloc(newlen ? newlen : 1);
	if (!out)
		return NULL;
	if (walker_init(&w, buf, len, max_depth) < 0) {
		free(out);
		return NULL;
	}
	while ((r = walker_next(&w, &at, &t)) == 1 && ntokens--) {
		memcpy(out + o, buf + from, at - from);
		o += at - from;
		out[o++] = '"';
		memcpy(out + o, buf + at, t);
		o += t;
		out[o++] = '"';
		from = at + t;
	}
	walker_fini(&w);
	/* The first walk counted these same tokens; anything else would be our bug. */
	if (r != 0 || o + (len - from) != newlen) {
		free(out);
		return NULL;
	}
	memcpy(out + o, buf + from, len - from);
	*outlen = newlen;
	return out;
}

/* Maps a byte offset in the rewritten text back to the original text. */
static size_t unmap_position(const char *orig, size_t len, unsigned max_depth, size_t newpos)
{
	size_t shift = 0, at, t;
	struct walker w;

	if (walker_init(&w, orig, len, max_depth) < 0)
		return newpos;
	while (walker_next(&w, &at, &t) == 1) {
		size_t newat = at + shift;
		if (newat >= newpos)
			break;
		if (newpos <= newat + t + JSONX_GROWTH) {
			/* Inside a quoted token: point at the token itself. */
			shift = newpos - at;
			break;
		}
		shift += JSONX_GROWTH;
	}
	walker_fini(&w);
	return newpos >= shift ? newpos - shift : 0;
}

int jsonx_parse(const char *buf, size_t len, unsigned max_depth, int allow_nonfinite, json_t **out,
                char *err, size_t errlen)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;
	json_error_t jerr;
	size_t ntokens = 0, plen = len, at = 0, t = 0;
	const char *pbuf;
	char *copy = NULL;
	struct walker w;
	json_t *root;
	int line, col, r;

	*out = NULL;
	if (!buf && len)
		return -EINVAL;
	if (!buf)
		buf = "";
	pbuf = buf;
	if (walker_init(&w, buf, len, max_depth) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while ((r = walker_next(&w, &at, &t)) == 1) {
		if (!allow_nonfinite)
			break;
		ntokens++;
	}
	walker_fini(&w);
	if (r != 0) {
		locate(buf, len, at, &line, &col);
		if (r == -E2BIG)
			snprintf(err, errlen,
			         "an object with more than %u members at line %d column %d (the "
			         "limit of members in one JSON object)",
			         JSONX_MAX_MEMBERS, line, col);
		else if (r < 0)
			snprintf(err, errlen, "nesting deeper than %u at line %d column %d",
			         max_depth, line, col);
		else
			snprintf(err, errlen, "line %d column %d: %.*s is not a JSON number", line,
			         col, (int)t, buf + at);
		return -EINVAL;
	}
	if (ntokens) {
		copy = quote_tokens(buf, len, max_depth, ntokens, &plen);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		pbuf = copy;
	}
	root = json_loadb(pbuf, plen, flags, &jerr);
	if (!root) {
		line = jerr.line;
		col = jerr.column;
		if (copy && jerr.position > 0) {
			size_t pos = unmap_position(buf, len, max_depth, (size_t)jerr.position);
			/* jansson's position counts the bytes consumed; locate() wants the last. */
			locate(buf, len, pos ? pos - 1 : 0, &line, &col);
		}
		if (line < 1)
			line = 1;
		if (col < 0)
			col = 0;
		snprintf(err, errlen, "line %d column %d: %s", line, col, jerr.text);
		free(copy);
		return -EINVAL;
	}
	free(copy);
	*out = root;
	return 0;
}

int jsonx_number(const json_t *v, double *out)
{
	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		*out = json_real_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strcmp(s, JSONX_NAN) == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, JSONX_INF) == 0) {
			*out = INFINITY;
			return 0;
		}
		if (strcmp(s, JSONX_NEG_INF) == 0) {
			*out = -INFINITY;
			return 0;
		}
	}
	return -EINVAL;
}

int jsonx_load_file(const char *path, size_t max_bytes, unsigned max_depth, int allow_nonfinite,
                    json_t **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = util_read_file(path, max_bytes, 0, &buf, &len, err, errlen);
	if (r < 0)
		return r;
	r = jsonx_parse(buf, len, max_depth, allow_nonfinite, out, err, errlen);
	free(buf);
	return r;
}
