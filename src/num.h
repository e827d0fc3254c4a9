/* num.h: exact decimal-to-binary parsing and shortest round-trip printing of floats. */
#ifndef INFERD_NUM_H
#define INFERD_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

/*
 * A decimal number as scanned: (neg ? -1 : 1) * w * 10^e10. w keeps the leading 19
 * significant digits; later digits are dropped (counted into e10 when they are integer
 * digits) and inexact says whether one of them was not 0. is_int: no fraction and no
 * exponent (JSON's integer spelling); such a number with up to 20 digits that fits in
 * 64 bits is held exactly (e10 == 0), so every uint64_t and int64_t survives.
 */
struct num_dec {
	uint64_t w;
	long e10;
	bool neg, inexact, is_int;
};

/*
 * Everything below up to num_dec_double() is inline: a bulk tensor parses each of its
 * numbers through it, and a call per number costs a tenth of the parse.
 */
static inline bool num_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 10^k for k <= 19 (the largest below 2^64), and k <= 22 (every one exact in a double). */
extern const uint64_t num_pow10_u64[20];
extern const double num_pow10_double[23];

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NUM_ONES 0x0101010101010101ull

/*
 * The value of 8 digit bytes (first digit lowest) minus '0' each: pairs, then fours, then
 * all eight, each step a multiply-add of neighbouring lanes that cannot carry over.
 */
static inline uint64_t num_eight_digits(uint64_t x)
{
	x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
	x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
	return (x * 10000 + (x >> 32)) & 0xffffffffull;
}
#endif

/*
 * Appends the run of digits at p to *w while w stays below 10^19; digits past that are
 * dropped (counted in *dropped, *inexact when one is not 0). *run is the run's length.
 */
static inline const char *num_digit_run(const char *p, const char *end, uint64_t *w, size_t *run,
                                        size_t *dropped, bool *inexact)
{
	const char *s = p;
	uint64_t v = *w;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Eight bytes at a time; a lane is a digit when its high nibble is 3 before and after +6.
	 */
	while (end - p >= 8) {
		uint64_t x, nondigit;
		unsigned n;

		memcpy(&x, p, sizeof(x));
		nondigit = ((x & 0xf0 * NUM_ONES) ^ 0x30 * NUM_ONES) |
		           (((x + 6 * NUM_ONES) & 0xf0 * NUM_ONES) ^ 0x30 * NUM_ONES);
		if (!nondigit) {
			if (v >= num_pow10_u64[11])
				break;
			v = v * num_pow10_u64[8] + num_eight_digits(x - 0x30 * NUM_ONES);
			p += 8;
			continue;
		}
		/* A carry can only corrupt lanes after the first non-digit, which we ignore. */
		n = (unsigned)__builtin_ctzll(nondigit) / 8;
		if (n == 0 || v >= num_pow10_u64[19 - n])
			break;
		v = v * num_pow10_u64[n] + num_eight_digits((x - 0x30 * NUM_ONES) << (8 * (8 - n)));
		*w = v;
		*run = (size_t)(p + n - s);
		return p + n;
	}
#endif
	for (; p < end && num_is_digit(*p); p++) {
		if (v < num_pow10_u64[18]) {
			v = v * 10 + (uint64_t)(*p - '0');
		} else {
			(*dropped)++;
			*inexact |= *p != '0';
		}
	}
	*w = v;
	*run = (size_t)(p - s);
	return p;
}

/*
 * Scans a JSON number (RFC 8259 grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) at p, before
 * end, into d. Returns the position after it, or NULL when p does not start one. The
 * caller decides what may follow. Separate from the conversion so that a parser can tell
 * integers from reals (JSON parsers keep integers as integers) before choosing one.

 * Integers of 20 digits that fit in 64 bits take their dropped last digit back.
 */
static inline const char *num_scan(const char *p, const char *end, struct num_dec *d)
{
	size_t run, dropped = 0;

	d->w = 0;
	d->e10 = 0;
	d->neg = d->inexact = false;
	d->is_int = true;
	if (p < end && *p == '-') {
		d->neg = true;
		p++;
	}
	if (p >= end)
		return NULL;
	if (*p == '0') {
		if (++p < end && num_is_digit(*p))
			return NULL;
	} else if (num_is_digit(*p)) {
		p = num_digit_run(p, end, &d->w, &run, &dropped, &d->inexact);
		/* Dropped integer digits still scale the value. */
		d->e10 = (long)dropped;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		d->is_int = false;
		if (++p >= end || !num_is_digit(*p))
			return NULL;
		dropped = 0;
		p = num_digit_run(p, end, &d->w, &run, &dropped, &d->inexact);
		d->e10 -= (long)(run - dropped);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		long x = 0;
		d->is_int = false;
		if (++p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p >= end || !num_is_digit(*p))
			return NULL;
		do {
			if (x < 100000)
				x = x * 10 + (*p - '0');
		} while (++p < end && num_is_digit(*p));
		d->e10 += eneg ? -x : x;
	}
	if (d->is_int && d->e10 == 1 && d->w >= num_pow10_u64[18]) {
		/* Twenty digits: w holds the first 19 and p[-1] is the last. */
		uint64_t v;
		if (!__builtin_mul_overflow(d->w, 10u, &v) &&
		    !__builtin_add_overflow(v, (uint64_t)(p[-1] - '0'), &v)) {
			d->w = v;
			d->e10 = 0;
			d->inexact = false;
		}
	}
	return p;
}

/* num_dec_double()'s out-of-line part: not for callers. */
int num_dec_double_slow(const struct num_dec *d, const char *s, size_t n, double *out);

/*
 * The double nearest the scanned number, correctly rounded (ties to even), without
 * strtod() where exact integer arithmetic decides it and with strtod() on the text
 * [s, s + n) (the scanned token) otherwise. Returns 0, or -ERANGE when the magnitude
 * overflows (JSON parsers refuse such numbers), -EINVAL when the text is not a number,
 * -ENOMEM. Underflow gives the nearest subnormal or zero, as strtod().
 */
static inline int num_dec_double(const struct num_dec *d, const char *s, size_t n, double *out)
{
#if FLT_EVAL_METHOD == 0
	/* Clinger's fast path, most numbers people write: both operands exact, one rounding. */
	if (d->w <= (1ull << 53) && !d->inexact && d->w && d->e10 >= -22 && d->e10 <= 22) {
		double v = d->e10 >= 0 ? (double)d->w * num_pow10_double[d->e10]
		                       : (double)d->w / num_pow10_double[-d->e10];
		*out = d->neg ? -v : v;
		return 0;
	}
#endif
	return num_dec_double_slow(d, s, n, out);
}

/*
 * As num_dec_double() for float32: the float nearest the number itself, rounded once
 * (not through a double, which can round twice). -ERANGE on overflow of float32.
 */
int num_dec_float(const struct num_dec *d, const char *s, size_t n, float *out);

/*
 * Parses all of [s, s + n) as a JSON number into the nearest double / float, as above.
 * For callers that hold a whole token: configuration, command lines, tests.
 */
int num_parse_double(const char *s, size_t n, double *out);
int num_parse_float(const char *s, size_t n, float *out);

/* Room for any num_format_*() output and its NUL. */
#define NUM_FMT_MAX 32

/*
 * Writes the fewest significant digits that read back (by a correctly rounding parser)
 * as exactly f, in plain notation or with an exponent ("1e-7", "3.4028235e38"),
 * whichever is shorter; "-0" keeps zero's sign. Non-finite values are written as printf's
 * %g writes them ("nan", "inf", "-inf"): JSON writers must handle them first. Returns the
 * length. Used for every float the daemon prints, so that a client sees what was computed.
 */
int num_format_float(float f, char out[NUM_FMT_MAX]);

/* num_format_float() for doubles: at most 17 significant digits. */
int num_format_double(double v, char out[NUM_FMT_MAX]);

#endif
