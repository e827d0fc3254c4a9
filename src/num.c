/* num.c: exact decimal-to-binary parsing and shortest round-trip printing of floats. */
#include "num.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The exact fast paths need 128-bit integers (every 64-bit Debian architecture has them).
 * NUM_NO_INT128 builds the fallback even where they exist, so that the tests exercise it.
 */
#if defined(__SIZEOF_INT128__) && !defined(NUM_NO_INT128)
#define NUM_HAVE_U128 1
typedef unsigned __int128 u128;
#endif

/* Clinger's fast path needs each double operation rounded once (not x87's extended mode). */
#if FLT_EVAL_METHOD == 0
#define NUM_HAVE_CLINGER 1
#endif

/* Token spellings longer than this are copied to the heap for strtod(). */
#define NUM_TOKEN_STACK 128

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

const uint64_t num_pow10_u64[20] = {1ull,
                                    10ull,
                                    100ull,
                                    1000ull,
                                    10000ull,
                                    100000ull,
                                    1000000ull,
                                    10000000ull,
                                    100000000ull,
                                    1000000000ull,
                                    10000000000ull,
                                    100000000000ull,
                                    1000000000000ull,
                                    10000000000000ull,
                                    100000000000000ull,
                                    1000000000000000ull,
                                    10000000000000000ull,
                                    100000000000000000ull,
                                    1000000000000000000ull,
                                    10000000000000000000ull};

const double num_pow10_double[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if defined(NUM_HAVE_U128) && defined(NUM_HAVE_CLINGER)
/* 5^k for k <= 27, the largest below 2^63. */
static const uint64_t pow5_table[] = {1u,
                                      5u,
                                      25u,
                                      125u,
                                      625u,
                                      3125u,
                                      15625u,
                                      78125u,
                                      390625u,
                                      1953125u,
                                      9765625u,
                                      48828125u,
                                      244140625u,
                                      1220703125u,
                                      6103515625ull,
                                      30517578125ull,
                                      152587890625ull,
                                      762939453125ull,
                                      3814697265625ull,
                                      19073486328125ull,
                                      95367431640625ull,
                                      476837158203125ull,
                                      2384185791015625ull,
                                      11920928955078125ull,
                                      59604644775390625ull,
                                      298023223876953125ull,
                                      1490116119384765625ull,
                                      7450580596923828125ull};

static unsigned bit_length(u128 x)
{
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;

	if (hi)
		return 128u - (unsigned)__builtin_clzll(hi);
	return lo ? 64u - (unsigned)__builtin_clzll(lo) : 0;
}

/*
 * The double nearest w / 10^k (w > 0, 1 <= k <= 27), decided exactly: a guess within an
 * ulp or two is checked against the midpoints to its neighbours in 128-bit integers and
 * stepped until the quotient lies strictly between them. Returns false (for strtod) on a
 * tie, at a power of two, or when the integers would not fit.
 */
static bool nearest_quotient(uint64_t w, unsigned k, double *out)
{
	const uint64_t p5 = pow5_table[k];
	double d =
	    k <= 22 ? (double)w / num_pow10_double[k] : (double)w / 1e22 / num_pow10_double[k - 22];

	for (int step = 0; step < 4; step++) {
		uint64_t bits, m;
		int e, t;
		u128 v = w, lo, hi;

		memcpy(&bits, &d, sizeof(bits));
		if ((bits >> 52) == 0 || (bits >> 52) >= 0x7ff || (bits & 0xfffffffffffffull) == 0)
			return false;
		m = (bits & 0xfffffffffffffull) | (1ull << 52);
		e = (int)(bits >> 52) - 1075; /* d = m * 2^e */
		/*
		 * The midpoints are (2m -+ 1) * 2^(e-1); against w * 2^-k * 5^-k that is
		 * w * 2^t against (2m -+ 1) * 5^k with t = 1 - e - k.
		 */
		t = 1 - e - (int)k;
		lo = (u128)(2 * m - 1) * p5;
		hi = lo + 2 * (u128)p5;
		if (t >= 0) {
			/* w < 2^64, so shifts below 64 always fit. */
			if (t >= 64 && bit_length(v) + (unsigned)t > 127)
				return false;
			v <<= t;
		} else {
			if (bit_length(hi) + (unsigned)-t > 127)
				return false;
			lo <<= -t;
			hi <<= -t;
		}
		if (v == lo || v == hi)
			return false;
		if (v > lo && v < hi) {
			*out = d;
			return true;
		}
		bits = v < lo ? bits - 1 : bits + 1;
		memcpy(&d, &bits, sizeof(d));
	}
	return false;
}
#endif

/*
 * w * 10^e10 (w > 0) correctly rounded when one exact operation gives it (Clinger's fast
 * path: w and the power of ten are both exact doubles, so one IEEE rounding is the right
 * one), or by nearest_quotient(). Returns false for strtod.
 */
static bool exact_decimal(uint64_t w, long e10, double *out)
{
#ifdef NUM_HAVE_CLINGER
	if (w <= (1ull << 53)) {
		if (e10 >= 0 && e10 <= 22) {
			*out = (double)w * num_pow10_double[e10];
			return true;
		}
		if (e10 < 0 && e10 >= -22) {
			*out = (double)w / num_pow10_double[-e10];
			return true;
		}
		/* 12e30 is 12e8 * 1e22, with 12e8 still an exact integer. */
		if (e10 > 22 && e10 <= 22 + 15) {
			uint64_t scale = (uint64_t)num_pow10_double[e10 - 22];
			if (w <= (1ull << 53) / scale) {
				*out = (double)(w * scale) * 1e22;
				return true;
			}
		}
	}
#ifdef NUM_HAVE_U128
	if (e10 < 0 && e10 >= -27)
		return nearest_quotient(w, (unsigned)-e10, out);
#endif
#else
	(void)w;
	(void)e10;
	(void)out;
#endif
	return false;
}

/*
 * strtod() or strtof() (as_float) on a NUL-terminated copy of the token. 0, -ERANGE on
 * overflow, -EINVAL when the text is not all one number (a locale with another decimal
 * point stops at the '.'), -ENOMEM.
 */
static int token_strto(const char *s, size_t n, bool as_float, double *dout, float *fout)
{
	char stack[NUM_TOKEN_STACK + 1], *tmp = stack, *e;
	bool huge;
	int r = 0;

	if (n > NUM_TOKEN_STACK) {
		tmp = malloc(n + 1);
		if (!tmp)
			return -ENOMEM;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	if (as_float) {
		*fout = strtof(tmp, &e);
		huge = isinf(*fout);
	} else {
		*dout = strtod(tmp, &e);
		huge = isinf(*dout);
	}
	if (n == 0 || e != tmp + n)
		r = -EINVAL;
	else if (huge && errno == ERANGE)
		r = -ERANGE;
	if (tmp != stack)
		free(tmp);
	return r;
}

int num_dec_double_slow(const struct num_dec *d, const char *s, size_t n, double *out)
{
	double v;

	if (d->w == 0) {
		*out = d->neg ? -0.0 : 0.0;
		return 0;
	}
	if (!d->inexact && d->e10 >= -1000 && d->e10 <= 1000 && exact_decimal(d->w, d->e10, &v)) {
		*out = d->neg ? -v : v;
		return 0;
	}
	return token_strto(s, n, false, out, NULL);
}

/*
 * Rounding the exact value to double and then to float rounds twice; the two agree unless
 * the double lands exactly on a midpoint between two floats (then the first rounding may
 * have decided the tie). So the float from an exact double is kept unless the double is
 * such a midpoint, or at the top of the range; those go to strtof().
 */
int num_dec_float(const struct num_dec *d, const char *s, size_t n, float *out)
{
	double v;

	if (d->w == 0) {
		*out = d->neg ? -0.0f : 0.0f;
		return 0;
	}
	if (!d->inexact && d->e10 >= -1000 && d->e10 <= 1000 && exact_decimal(d->w, d->e10, &v) &&
	    v < FLT_MAX) {
		float f = (float)v;
		if ((double)f != v) {
			float g = nextafterf(f, (double)f < v ? INFINITY : 0.0f);
			if (((double)f + (double)g) / 2 == v)
				goto slow;
		}
		*out = d->neg ? -f : f;
		return 0;
	}
slow:
	return token_strto(s, n, true, NULL, out);
}

int num_parse_double(const char *s, size_t n, double *out)
{
	struct num_dec d;

	if (num_scan(s, s + n, &d) != s + n)
		return -EINVAL;
	return num_dec_double(&d, s, n, out);
}

int num_parse_float(const char *s, size_t n, float *out)
{
	struct num_dec d;

	if (num_scan(s, s + n, &d) != s + n)
		return -EINVAL;
	return num_dec_float(&d, s, n, out);
}

#ifdef NUM_HAVE_U128

/* 10^n for n <= 38, exactly. */
static u128 pow10_128(unsigned n)
{
	u128 r = 1;

	while (n--)
		r *= 10;
	return r;
}

/* Bits needed for 10^n (rounded up), to keep products inside 127 bits. */
static unsigned pow10_bits(unsigned n)
{
	return (n * 3322u + 999u) / 1000u + 1;
}

/*
 * X * 2^a / 10^k as a fraction num/den, or false when it would not fit in 127 bits (then
 * the caller takes the slow path). X < 2^26.
 */
static bool scaled(uint64_t x, int a, int k, u128 *num, u128 *den)
{
	unsigned nb = 26, db = 1;

	nb += a > 0 ? (unsigned)a : 0;
	nb += k < 0 ? pow10_bits((unsigned)-k) : 0;
	db += a < 0 ? (unsigned)-a : 0;
	db += k > 0 ? pow10_bits((unsigned)k) : 0;
	if (nb > 126 || db > 126)
		return false;
	*num = (u128)x;
	*den = 1;
	if (a > 0)
		*num <<= a;
	else
		*den <<= -a;
	if (k < 0)
		*num *= pow10_128((unsigned)-k);
	else
		*den *= pow10_128((unsigned)k);
	return true;
}

/*
 * The integers c with lo < c * 10^k < hi (<= when inclusive), where lo and hi are the
 * rounding interval of the float in units of 2^a. Returns false when out of range.
 */
static bool candidates(uint64_t lo, uint64_t hi, int a, int k, bool inclusive, uint64_t *cmin,
                       uint64_t *cmax)
{
	u128 num, den, q;

	if (!scaled(lo, a, k, &num, &den))
		return false;
	q = num / den;
	/* Smallest c above lo (or at it, when inclusive and exact). */
	*cmin = (uint64_t)((num % den == 0 && inclusive) ? q : q + 1);
	if (!scaled(hi, a, k, &num, &den))
		return false;
	q = num / den;
	*cmax = (uint64_t)((num % den == 0 && !inclusive) ? q - 1 : q);
	return q < ((u128)1 << 63);
}

/*
 * Shortest digits for a positive finite float, exactly, in integer arithmetic: the largest
 * decimal exponent k whose multiples fall inside the float's rounding interval gives the
 * fewest digits; among those, the one nearest the value. Returns false outside the range
 * our 128-bit fractions cover (tiny or huge values), for the slow path.
 */
static bool shortest_exact(float f, uint64_t *digits, int *exp10)
{
	uint32_t bits;
	uint64_t m, cmin, cmax, c;
	int e, a, klo, khi, kbest;
	bool inclusive;
	u128 num, den, q, r;

	memcpy(&bits, &f, sizeof(bits));
	if ((bits >> 23) == 0)
		return false; /* subnormals: rare, and their exponents are out of our range */
	m = (bits & 0x7fffffu) | 0x800000u;
	e = (int)(bits >> 23) - 150;
	a = e - 2;
	inclusive = (m & 1) == 0; /* ties round to even: the bounds belong to an even m */
	/* The decimal exponent of f, within one; 9 digits always suffice below it. */
	khi = (int)floor(log10((double)f)) + 2;
	klo = khi - 11;
	/* Bisect for the largest k with a candidate; klo always has one. */
	if (!candidates(4 * m - ((bits & 0x7fffffu) == 0 && (bits >> 23) > 1 ? 1 : 2), 4 * m + 2, a,
	                klo, inclusive, &cmin, &cmax) ||
	    cmin > cmax)
		return false;
	kbest = klo;
	while (klo < khi) {
		int k = klo + (khi - klo + 1) / 2;
		uint64_t lo2, hi2;
		if (!candidates(4 * m - ((bits & 0x7fffffu) == 0 && (bits >> 23) > 1 ? 1 : 2),
		                4 * m + 2, a, k, inclusive, &lo2, &hi2))
			return false;
		if (lo2 <= hi2) {
			klo = k;
			kbest = k;
			cmin = lo2;
			cmax = hi2;
		} else {
			khi = k - 1;
		}
	}
	/* The candidate nearest the value itself, ties to even. */
	if (!scaled(4 * m, a, kbest, &num, &den))
		return false;
	q = num / den;
	r = num % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	c = q < cmin ? cmin : q > cmax ? cmax : (uint64_t)q;
	while (c % 10 == 0) {
		c /= 10;
		kbest++;
	}
	*digits = c;
	*exp10 = kbest;
	return true;
}

#endif

/* Prints v with p significant digits; true when it reads back as v (as a float when as_float). */
static bool try_digits(double v, bool as_float, int p, char out[NUM_FMT_MAX])
{
	snprintf(out, NUM_FMT_MAX, "%.*e", p, v);
	return as_float ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v;
}

/*
 * Shortest digits of a positive finite v through printf: the correctly rounded p-digit
 * decimal reads back for every p from some point on (round-tripping is monotonic in p), so
 * the smallest such p is found by probing maxp - 1 and maxp - 2 first (what computed
 * values need) and bisecting below. The %e text is taken apart into digits * 10^exp10.
 */
static void shortest_printf(double v, bool as_float, int maxp, uint64_t *digits, int *exp10)
{
	char buf[NUM_FMT_MAX], tmp[NUM_FMT_MAX];
	int lo = 0, hi = maxp - 3, nd = 0, e2;
	uint64_t c = 0;
	const char *s;

	/*
	 * At a power of two the interval below is half the one above, and p digits can miss
	 * it where fewer fit: there, the first p that reads back is searched from 1 up.
	 */
	if (frexp(v, &e2) == 0.5) {
		for (hi = 0; hi < maxp - 1 && !try_digits(v, as_float, hi, buf); hi++)
			;
		if (hi == maxp - 1)
			snprintf(buf, sizeof(buf), "%.*e", maxp - 1, v);
	} else if (!try_digits(v, as_float, maxp - 2, buf)) {
		/* %.*e takes the digits after the point: p is one less than the digit count. */
		snprintf(buf, sizeof(buf), "%.*e", maxp - 1, v);
	} else if (try_digits(v, as_float, hi, tmp)) {
		memcpy(buf, tmp, sizeof(buf));
		/* Invariant: hi reads back (held in buf); below lo does not. */
		while (lo < hi) {
			int p = lo + (hi - lo) / 2;
			if (try_digits(v, as_float, p, tmp)) {
				hi = p;
				memcpy(buf, tmp, sizeof(buf));
			} else {
				lo = p + 1;
			}
		}
	}
	for (s = buf; *s != 'e'; s++) {
		if (is_digit(*s)) {
			c = c * 10 + (uint64_t)(*s - '0');
			nd++;
		}
	}
	*exp10 = atoi(s + 1) - (nd - 1);
	while (c % 10 == 0 && c) {
		c /= 10;
		(*exp10)++;
	}
	*digits = c;
}

/*
 * Writes digits * 10^k in plain or exponent notation, whichever is shorter (plain on a
 * tie), as JavaScript and Python's repr do, without a '+' or leading zeros in exponents.
 */
static int write_decimal(bool neg, uint64_t digits, int k, char out[NUM_FMT_MAX])
{
	char d[24];
	int nd = 0, o = 0, x, plain, sci;

	do {
		d[nd++] = (char)('0' + digits % 10);
		digits /= 10;
	} while (digits);
	/* d holds the digits in reverse; x is the exponent of the leading digit. */
	x = k + nd - 1;
	plain = x < 0 ? 1 - x + nd : (nd > x + 1 ? nd + 1 : x + 1);
	sci = nd + (nd > 1) + 2 + (x < 0) + (abs(x) >= 10) + (abs(x) >= 100);
	if (neg)
		out[o++] = '-';
	if (plain <= sci && x < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (int i = -1; i > x; i--)
			out[o++] = '0';
		for (int i = nd - 1; i >= 0; i--)
			out[o++] = d[i];
	} else if (plain <= sci) {
		for (int i = nd - 1; i >= 0; i--) {
			out[o++] = d[i];
			if (nd - 1 - i == x && i > 0)
				out[o++] = '.';
		}
		for (int i = nd - 1; i < x; i++)
			out[o++] = '0';
	} else {
		out[o++] = d[nd - 1];
		if (nd > 1) {
			out[o++] = '.';
			for (int i = nd - 2; i >= 0; i--)
				out[o++] = d[i];
		}
		o += snprintf(out + o, (size_t)(NUM_FMT_MAX - o), "e%d", x);
	}
	out[o] = '\0';
	return o;
}

/* The spellings shared by both printers for what has no digits. */
static int format_special(double v, char out[NUM_FMT_MAX])
{
	const char *s = isnan(v)   ? "nan"
	                : isinf(v) ? (v < 0 ? "-inf" : "inf")
	                           : (signbit(v) ? "-0" : "0");
	size_t n = strlen(s);

	memcpy(out, s, n + 1);
	return (int)n;
}

int num_format_float(float f, char out[NUM_FMT_MAX])
{
	uint64_t digits;
	int k;

	if (!isfinite(f) || f == 0)
		return format_special(f, out);
#ifdef NUM_HAVE_U128
	if (!shortest_exact(fabsf(f), &digits, &k))
#endif
		shortest_printf(fabs((double)f), true, 9, &digits, &k);
	return write_decimal(f < 0, digits, k, out);
}

int num_format_double(double v, char out[NUM_FMT_MAX])
{
	uint64_t digits;
	int k;

	if (!isfinite(v) || v == 0)
		return format_special(v, out);
	shortest_printf(fabs(v), false, 17, &digits, &k);
	return write_decimal(v < 0, digits, k, out);
}
