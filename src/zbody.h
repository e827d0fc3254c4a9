/* zbody.h: Content-Encoding for HTTP bodies: bounded streaming gunzip/inflate, and gzip. */
#ifndef INFERD_ZBODY_H
#define INFERD_ZBODY_H

#include <stdbool.h>
#include <stddef.h>

/* The request encodings we decode (RFC 9110 8.4.1): gzip and deflate (zlib format). */
enum zbody_kind { ZBODY_IDENTITY, ZBODY_GZIP, ZBODY_DEFLATE };

struct zbody;

/*
 * Reads a Content-Encoding value: 0 with *kind, or -ENOTSUP for anything but one of
 * identity, gzip, x-gzip or deflate (the caller answers 415). NULL is identity.
 */
int zbody_parse_encoding(const char *value, enum zbody_kind *kind);
/* A decoder for one body of kind (gzip or deflate). 0 or -ENOMEM. */
int zbody_new(enum zbody_kind kind, struct zbody **out);
void zbody_free(struct zbody *z);
/*
 * Inflates n more bytes of the encoded body onto *buf (length *len, capacity *cap, kept
 * NUL-terminated, grown with realloc), never holding more than limit decoded bytes: a body
 * that decodes to more is -EFBIG as soon as it passes limit (a small bomb costs no more
 * than limit). -EINVAL when the data is not valid (err says why), -ENOMEM.
 */
int zbody_inflate(struct zbody *z, const char *in, size_t n, char **buf, size_t *len, size_t *cap,
                  size_t limit, char *err, size_t errlen);
/* The body ended: 0 when the encoded stream was complete, else -EINVAL (truncated). */
int zbody_finish(const struct zbody *z, char *err, size_t errlen);

/* True when an Accept-Encoding value accepts gzip (gzip or *, with a q above 0). */
bool zbody_accepts_gzip(const char *accept_encoding);
/* gzip-encodes len bytes into a new malloc'd *out of *outlen bytes. 0 or -ENOMEM. */
int zbody_gzip(const void *in, size_t len, void **out, size_t *outlen);

#endif
