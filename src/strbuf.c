/* strbuf.c: a growable byte buffer for building responses, with JSON string escaping. */
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>

bool strbuf_reserve(struct strbuf *b, size_t more)
{
	size_t need, ncap;
	char *np;

	if (b->oom)
		return false;
	if (__builtin_add_overflow(b->len, more, &need) || need == SIZE_MAX) {
		b->oom = true;
		return false;
	}
	if (need + 1 <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need + 1)
		ncap = ncap > SIZE_MAX / 2 ? need + 1 : ncap * 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

void strbuf_size(struct strbuf *b, size_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_put(b, tmp + i, sizeof(tmp) - i);
}

/* Length of the valid UTF-8 sequence at s (0 when invalid or truncated). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

/*
 * Runs of bytes that need no escape are copied at once; each other byte becomes its short
 * escape, \u00XX for other control characters, or \ufffd for a byte that starts no valid
 * UTF-8 sequence.
 */
void strbuf_json_string(struct strbuf *b, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run = 0;

	strbuf_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = s[i];
		size_t l;
		char esc[8];
		const char *rep = NULL;
		size_t replen = 0;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80) {
			l = utf8_len(s + i, n - i);
			if (l) {
				i += l;
				run += l;
				continue;
			}
		}
		strbuf_put(b, (const char *)s + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			rep = "\\\"";
			break;
		case '\\':
			rep = "\\\\";
			break;
		case '\n':
			rep = "\\n";
			break;
		case '\r':
			rep = "\\r";
			break;
		case '\t':
			rep = "\\t";
			break;
		case '\b':
			rep = "\\b";
			break;
		case '\f':
			rep = "\\f";
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				rep = esc;
				replen = 6;
			} else {
				rep = "\\ufffd";
			}
			break;
		}
		strbuf_put(b, rep, replen ? replen : strlen(rep));
		i++;
	}
	strbuf_put(b, (const char *)s + i - run, run);
	strbuf_put(b, "\"", 1);
}
