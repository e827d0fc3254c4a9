/* strbuf.h: a growable byte buffer for building responses, with JSON string escaping. */
#ifndef INFERD_STRBUF_H
#define INFERD_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/*
 * A growing output buffer; zero-initialise it. The first failed allocation sticks (oom),
 * every later append is dropped, and the writer checks once at the end instead of after
 * each append. p stays NUL-terminable: there is always room for one more byte.
 */
struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Makes room for more bytes (and a NUL) after len; false (and oom set) when it cannot. */
bool strbuf_reserve(struct strbuf *b, size_t more);

/* Appends n bytes. Inline: called for every value of a response. */
static inline void strbuf_put(struct strbuf *b, const char *s, size_t n)
{
	if (n < b->cap - b->len && !b->oom) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
		return;
	}
	if (!strbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Appends a NUL-terminated string. Inline: the length of a literal is then a constant. */
static inline void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_put(b, s, strlen(s));
}

/* Appends v in decimal, without snprintf (every answer has a shape; snprintf costs more). */
void strbuf_size(struct strbuf *b, size_t v);

/*
 * Appends str as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD, so the output
 * is valid JSON whatever a client sent (ids and names are echoed back).
 */
void strbuf_json_string(struct strbuf *b, const char *str);

#endif
