/* ubjson.h: a bounded UBJSON (Universal Binary JSON) decoder into jansson values. */
#ifndef INFERD_UBJSON_H
#define INFERD_UBJSON_H

#include <jansson.h>
#include <stddef.h>

/*
 * True when buf looks like a UBJSON document rather than JSON text: a '{' followed at once
 * by a UBJSON key-length marker (i U I l L) or an optimized-container marker ($ #). JSON
 * text has '"', '}' or whitespace there, so the two never agree. XGBoost's save_model()
 * to a ".ubj" name writes '{' 'L' <8-byte length> <key> ...
 */
int ubjson_sniff(const void *buf, size_t len);

/*
 * Decodes the whole of buf (len bytes) as one UBJSON value, as XGBoost 1.7+ writes it:
 * objects, arrays, strong-typed optimized arrays ('$' type '#' count) of numbers, counted
 * containers ('#' count), strings, integers (i U I l L), float32 'd' and float64 'D',
 * T F Z. Numbers are big-endian. Nesting deeper than max_depth, counts or lengths that
 * the remaining bytes cannot hold, bytes left after the value, invalid UTF-8 and duplicate
 * keys are refused; so are the high-precision 'H' and the no-op 'N' markers and typed
 * containers of non-numbers. Returns 0 and *out (one reference), or -EINVAL with a
 * reason ("at byte N: ...") in err; -ENOMEM when out of memory.
 */
int ubjson_parse(const void *buf, size_t len, unsigned max_depth, json_t **out, char *err,
                 size_t errlen);

#endif
