/* check_num.c: num's parsing and printing against glibc's correctly rounded strtod/strtof. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

/*
 * Built twice: check_num with the library's num.o, check_num_portable with num.c compiled
 * with NUM_NO_INT128 (the fallback for architectures without 128-bit integers). The
 * references are glibc's strtod/strtof (correctly rounded) and printf's %.*g.
 */

/*
 * A check without check's per-assertion bookkeeping (ck_assert_msg marks its place
 * through a pipe on every call, a system call per value here): a failure still aborts
 * the test with the message.
 */
#define expect(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg(__VA_ARGS__);                                                 \
	} while (0)

/*
 * How many random cases a sweep runs: all of them, or a fiftieth under the valgrind stage
 * (INFERD_WRAPPER set, as make check-valgrind does), where each case costs ~50 times more.
 * The hand-written edge cases always run in full; the full sweeps run in every other stage.
 */
static int sweep(int n)
{
	const char *w = getenv("INFERD_WRAPPER");

	return w && *w ? n / 50 : n;
}

static uint64_t rng_state;

/* xorshift64*: a fixed sequence, so a failure repeats. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* What num_parse_double must give for s: strtod's value, or -ERANGE where it overflows. */
static void check_double(const char *s)
{
	char *end;
	double want, got = 0;
	int r, want_r;

	errno = 0;
	want = strtod(s, &end);
	expect(*end == '\0', "test input %s is not a number", s);
	want_r = isinf(want) && errno == ERANGE ? -ERANGE : 0;
	r = num_parse_double(s, strlen(s), &got);
	expect(r == want_r, "%s: returned %d, expected %d", s, r, want_r);
	if (r == 0)
		expect(dbits(got) == dbits(want), "%s: got %a, strtod gives %a", s, got, want);
}

/* What num_parse_float must give for s: strtof's value, or -ERANGE where it overflows. */
static void check_float(const char *s)
{
	char *end;
	float want, got = 0;
	int r, want_r;

	errno = 0;
	want = strtof(s, &end);
	expect(*end == '\0', "test input %s is not a number", s);
	want_r = isinf(want) && errno == ERANGE ? -ERANGE : 0;
	r = num_parse_float(s, strlen(s), &got);
	expect(r == want_r, "%s: returned %d, expected %d", s, r, want_r);
	if (r == 0)
		expect(fbits(got) == fbits(want), "%s: got %a, strtof gives %a", s, (double)got,
		       (double)want);
}

static void check_both(const char *s)
{
	check_double(s);
	check_float(s);
}

static const char *const edge_inputs[] = {
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0e0",
    "-0e-400",
    "0.000000000000000000000000000000e999",
    "1",
    "-1",
    "0.1",
    "0.2",
    "0.3",
    "1e-1",
    "9007199254740993",
    "9007199254740992.5",
    "123456789012345678",
    "1234567890123456789",
    "12345678901234567890",
    "123456789012345678901234567890",
    "0.1234567890123456789012345678901234567890",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1e22",
    "1e23",
    "12e30",
    "9007199254740991e22",
    "9007199254740993e22",
    "1e-22",
    "1e-27",
    "123e-27",
    "4.9406564584124654e-324",
    "2.4703282292062327e-324",
    "2.4703282292062328e-324",
    "2.4703282292062327e-325",
    "5e-324",
    "1e-400",
    "2.2250738585072011e-308",
    "2.2250738585072014e-308",
    "2.2250738585072012e-308",
    "1.7976931348623157e308",
    "1.7976931348623158e308",
    "1.7976931348623159e308",
    "1e309",
    "-1e309",
    "1e100000000",
    "1e-100000000",
    "3.4028234663852886e38",
    "3.4028235e38",
    "3.4028235677973366e38",
    "3.40282357e38",
    "3.5e38",
    "-3.5e38",
    "1.17549435e-38",
    "1.1754942e-38",
    "1.4e-45",
    "1.401298464324817e-45",
    "7.006492321624085e-46",
    "7.006492321624086e-46",
    "7.0064923216240854e-46",
    "1e-46",
    "0.5",
    "2.5",
    "16777217",
    "16777216.5",
    "16777217.000000000000000000000001",
    "33554433",
    "1.00000005960464477539062500",
    "1.000000059604644775390625000001",
    "1.0000000596046447753906249999",
    "0.000000000000000000000000000000000000000001",
    "7.038531e-26",
    "6.1734E+12",
    "4.35",
    "1E+5",
    "1e+0",
    "2.9802322387695312e-8",
    "2.98023223876953125e-8",
    "1.0000000000000000000000000000000000000000000000000001",
};

START_TEST(parse_edges)
{
	for (size_t i = 0; i < sizeof(edge_inputs) / sizeof(edge_inputs[0]); i++)
		check_both(edge_inputs[i]);
}
END_TEST

/* Not JSON numbers (though strtod reads some of them): -EINVAL, nothing stored. */
START_TEST(parse_rejects)
{
	static const char *const bad[] = {
	    "",    "-",   "+1", "01", "-01", "1.",  ".5",    "1e",   "1e+",      "1.5e-", "0x10",
	    "inf", "nan", "1 ", " 1", "1,5", "--1", "1.2.3", "1e5.", "Infinity", "1f",    "00.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d = 42;
		float f = 42;
		expect(num_parse_double(bad[i], strlen(bad[i]), &d) == -EINVAL, "%s", bad[i]);
		expect(num_parse_float(bad[i], strlen(bad[i]), &f) == -EINVAL, "%s", bad[i]);
	}
}
END_TEST

/* Integers keep every digit: uint64 and int64 extremes are exact, beyond them is not. */
START_TEST(scan_integers)
{
	struct num_dec d;
	const char *s;

	s = "18446744073709551615";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + strlen(s));
	ck_assert(d.is_int && !d.neg && d.e10 == 0 && d.w == UINT64_MAX);
	s = "-9223372036854775808";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + strlen(s));
	ck_assert(d.is_int && d.neg && d.e10 == 0 && d.w == 9223372036854775808ull);
	s = "18446744073709551616";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + strlen(s));
	ck_assert(d.is_int && d.e10 != 0);
	s = "99999999999999999999";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + strlen(s));
	ck_assert(d.is_int && d.e10 != 0);
	s = "1.5]";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + 3);
	ck_assert(!d.is_int && d.w == 15 && d.e10 == -1);
	s = "-0,";
	ck_assert_ptr_eq(num_scan(s, s + strlen(s), &d), s + 2);
	ck_assert(d.is_int && d.neg && d.w == 0);
}
END_TEST

/* Random digit strings of 1 to 40 significant digits with exponents across the range. */
START_TEST(parse_random)
{
	char s[128];

	rng_state = 0x9E3779B97F4A7C15ull + (uint64_t)_i;
	for (int it = 0; it < sweep(100000); it++) {
		int nd = 1 + (int)(rnd() % (it % 4 == 0 ? 40 : 20)), n = 0, point;
		int e = (int)(rnd() % 700) - 350;

		if (rnd() & 1)
			s[n++] = '-';
		point = (int)(rnd() % (unsigned)(nd + 1));
		for (int i = 0; i < nd; i++) {
			if (i == point && i > 0)
				s[n++] = '.';
			s[n++] = (char)('0' + (i == 0 ? 1 + rnd() % 9 : rnd() % 10));
		}
		/* Floats live in a narrower range: half the inputs stay near it. */
		if (it & 1)
			e = e % 50;
		n += snprintf(s + n, sizeof(s) - (size_t)n, "e%d", e);
		check_both(s);
	}
}
END_TEST

/*
 * p's last digit one up (then back) and one down: just above and just below a tie, which
 * must round away from it.
 */
static void nudged(char *s, void (*check)(const char *))
{
	size_t n = strcspn(s, "e");

	check(s);
	if (s[n - 1] < '9') {
		s[n - 1]++;
		check(s);
		s[n - 1]--;
	}
	if (s[n - 1] > '0') {
		s[n - 1]--;
		check(s);
		s[n - 1]++;
	}
}

/*
 * Halfway cases. A midpoint of two neighbouring floats (or doubles) is exact in a long
 * double where that is wider than double (amd64, arm64), and its decimal expansion is exact
 * in 81 digits when its binary exponent is moderate: those are true ties (ties to even).
 * Across the whole range the 81-digit text is within a hair of the tie.
 */
START_TEST(parse_halfway)
{
	char s[160];

	if (LDBL_MANT_DIG <= DBL_MANT_DIG)
		return;
	rng_state = 0xD1B54A32D192ED03ull;
	for (int it = 0; it < sweep(40000); it++) {
		bool exact = it & 1;
		uint32_t u = (uint32_t)rnd() & 0x7f7fffffu;
		uint64_t v = rnd() & 0x7fefffffffffffffull;
		float f, g;
		double d, h;

		if (exact) {
			u = (u & 0x807fffffu) | (uint32_t)(127 - 20 + rnd() % 120) << 23;
			v = (v & 0x800fffffffffffffull) | (1023 - 20 + rnd() % 220) << 52;
		}
		memcpy(&f, &u, sizeof(f));
		memcpy(&d, &v, sizeof(d));
		g = nextafterf(f, INFINITY);
		h = nextafter(d, INFINITY);
		snprintf(s, sizeof(s), "%.80Le", ((long double)f + (long double)g) / 2);
		if (exact)
			expect(strtold(s, NULL) == ((long double)f + (long double)g) / 2,
			       "%s is not exact", s);
		nudged(s, check_float);
		snprintf(s, sizeof(s), "%.80Le", ((long double)d + (long double)h) / 2);
		if (exact)
			expect(strtold(s, NULL) == ((long double)d + (long double)h) / 2,
			       "%s is not exact", s);
		nudged(s, check_double);
	}
}
END_TEST

/* Subnormals and the underflow boundary: shortest and 17-digit spellings of tiny values. */
START_TEST(parse_subnormals)
{
	char s[64];

	rng_state = 0xA0761D6478BD642Full;
	for (int it = 0; it < sweep(20000); it++) {
		uint64_t u = rnd() & 0x001fffffffffffffull; /* subnormal or the smallest normals */
		uint32_t v = (uint32_t)rnd() & 0x00ffffffu;
		double d;
		float f;

		memcpy(&d, &u, sizeof(d));
		memcpy(&f, &v, sizeof(f));
		snprintf(s, sizeof(s), "%.17e", d);
		check_double(s);
		snprintf(s, sizeof(s), "%.*e", (int)(rnd() % 17), d);
		check_double(s);
		snprintf(s, sizeof(s), "%.9e", (double)f);
		check_float(s);
		snprintf(s, sizeof(s), "%.*e", (int)(rnd() % 9), (double)f);
		check_float(s);
	}
}
END_TEST

/* Significant digits of a printed number (sign, point and exponent left out). */
static int sig_digits(const char *s)
{
	int n = 0, lead = 1, trail = 0;

	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (*s == '0' && lead)
			continue;
		lead = 0;
		n++;
		trail = *s == '0' ? trail + 1 : 0;
	}
	return n - trail;
}

/* The fewest %.*g digits that read back as f: the reference length. */
static int ref_digits_float(float f)
{
	char s[64];

	for (int p = 1; p <= 9; p++) {
		snprintf(s, sizeof(s), "%.*g", p, (double)f);
		if (fbits(strtof(s, NULL)) == fbits(f))
			return p;
	}
	return 99;
}

static int ref_digits_double(double d)
{
	char s[64];

	for (int p = 1; p <= 17; p++) {
		snprintf(s, sizeof(s), "%.*g", p, d);
		if (dbits(strtod(s, NULL)) == dbits(d))
			return p;
	}
	return 99;
}

/*
 * One printed float: valid JSON, reads back to the same bits, and as short as the
 * reference (shorter only at a power of two, where the interval below is half the one
 * above and the nearest p-digit decimal can miss it while another fits).
 */
static void check_format_float(float f)
{
	char out[NUM_FMT_MAX];
	int n, nd, ref;
	double back;

	if (!isfinite(f))
		return;
	n = num_format_float(f, out);
	expect(n == (int)strlen(out), "%s: length %d", out, n);
	expect(num_parse_double(out, (size_t)n, &back) == 0, "%a printed as %s, not JSON",
	       (double)f, out);
	expect(fbits(strtof(out, NULL)) == fbits(f), "%a printed as %s", (double)f, out);
	if (f == 0)
		return;
	nd = sig_digits(out);
	ref = ref_digits_float(f);
	expect(nd == ref || (nd < ref && (fbits(f) & 0x7fffffu) == 0),
	       "%a printed as %s: %d digits, %%.*g needs %d", (double)f, out, nd, ref);
}

static void check_format_double(double d)
{
	char out[NUM_FMT_MAX];
	int n, nd, ref;
	double back;

	if (!isfinite(d))
		return;
	n = num_format_double(d, out);
	expect(n == (int)strlen(out), "%s: length %d", out, n);
	expect(num_parse_double(out, (size_t)n, &back) == 0, "%a printed as %s, not JSON", d, out);
	expect(dbits(strtod(out, NULL)) == dbits(d), "%a printed as %s", d, out);
	if (d == 0)
		return;
	nd = sig_digits(out);
	ref = ref_digits_double(d);
	expect(nd == ref || (nd < ref && (dbits(d) & 0xfffffffffffffull) == 0),
	       "%a printed as %s: %d digits, %%.*g needs %d", d, out, nd, ref);
}

/* Random bit patterns of every finite class, and values computed as a model would. */
START_TEST(format_random)
{
	rng_state = 0x2545F4914F6CDD1Dull + (uint64_t)_i;
	for (int it = 0; it < sweep(50000); it++) {
		uint32_t u = (uint32_t)rnd();
		uint64_t v = rnd();
		float f;
		double d;

		memcpy(&f, &u, sizeof(f));
		memcpy(&d, &v, sizeof(d));
		if (isfinite(f))
			check_format_float(f);
		if (isfinite(d))
			check_format_double(d);
		check_format_float(1.0f / (1.0f + expf(-(float)(int32_t)u / 1e8f)));
		check_format_double((double)(int64_t)v / 1e6);
	}
}
END_TEST

START_TEST(format_edges)
{
	static const float fe[] = {FLT_MAX,        -FLT_MAX,     FLT_MIN,  -FLT_MIN,    1.4e-45f,
	                           0.1f,           0.5f,         1.0f / 3, 16777216.0f, 16777215.0f,
	                           1e-7f,          1e21f,        1e22f,    123456.0f,   1234567.0f,
	                           9.999999e-5f,   1e-4f,        2.0f,     1024.0f,     8388608.0f,
	                           1.1754942e-38f, 5.877472e-39f};
	static const double de[] = {DBL_MAX,  DBL_MIN,
	                            4.9e-324, 0.1,
	                            1.0 / 3,  9007199254740993.0,
	                            1e22,     1e23,
	                            5e-324,   2.2250738585072009e-308,
	                            1e300,    1e-300};

	for (size_t i = 0; i < sizeof(fe) / sizeof(fe[0]); i++) {
		check_format_float(fe[i]);
		check_format_float(-fe[i]);
		check_format_float(nextafterf(fe[i], 0));
		check_format_float(nextafterf(fe[i], INFINITY));
	}
	for (size_t i = 0; i < sizeof(de) / sizeof(de[0]); i++) {
		check_format_double(de[i]);
		check_format_double(-de[i]);
		check_format_double(nextafter(de[i], 0));
	}
	/* Every power of two, and its neighbours: where the rounding interval is lopsided. */
	for (int e = -149; e <= 127; e++) {
		float f = ldexpf(1.0f, e);
		check_format_float(f);
		check_format_float(nextafterf(f, 0));
		check_format_float(nextafterf(f, INFINITY));
	}
	for (int e = -1074; e <= 1023; e += 7)
		check_format_double(ldexp(1.0, e));
}
END_TEST

/* Spellings derived by hand: the shorter of plain and exponent notation, no '+'. */
START_TEST(format_spelling)
{
	static const struct {
		float f;
		const char *want;
	} fw[] = {
	    {0.0f, "0"},
	    {-0.0f, "-0"},
	    {1.0f, "1"},
	    {-2.5f, "-2.5"},
	    {0.1f, "0.1"},
	    {100.0f, "100"},
	    {123456.0f, "123456"},
	    {1e-7f, "1e-7"},
	    {0.001f, "1e-3"},
	    {0.01f, "0.01"},
	    {1e21f, "1e21"},
	    {FLT_MAX, "3.4028235e38"},
	    {1.4e-45f, "1e-45"},
	    {FLT_MIN, "1.1754944e-38"},
	    {16777216.0f, "16777216"},
	    {0.3f, "0.3"},
	    {1.5e10f, "1.5e10"},
	};
	char out[NUM_FMT_MAX];

	for (size_t i = 0; i < sizeof(fw) / sizeof(fw[0]); i++) {
		num_format_float(fw[i].f, out);
		ck_assert_str_eq(out, fw[i].want);
	}
	num_format_float(NAN, out);
	ck_assert_str_eq(out, "nan");
	num_format_float(-INFINITY, out);
	ck_assert_str_eq(out, "-inf");
	num_format_double(0.1, out);
	ck_assert_str_eq(out, "0.1");
	num_format_double(1e300, out);
	ck_assert_str_eq(out, "1e300");
	num_format_double(DBL_MAX, out);
	ck_assert_str_eq(out, "1.7976931348623157e308");
	num_format_double(5e-324, out);
	ck_assert_str_eq(out, "5e-324");
	num_format_double(0.7509765625, out);
	ck_assert_str_eq(out, "0.7509765625");
	num_format_double(INFINITY, out);
	ck_assert_str_eq(out, "inf");
}
END_TEST

static Suite *num_suite(void)
{
	Suite *s = suite_create("num");
	TCase *p = tcase_create("parse"), *f = tcase_create("format");

	tcase_set_timeout(p, 120);
	tcase_set_timeout(f, 120);
	tcase_add_test(p, parse_edges);
	tcase_add_test(p, parse_rejects);
	tcase_add_test(p, scan_integers);
	tcase_add_loop_test(p, parse_random, 0, 2);
	tcase_add_test(p, parse_halfway);
	tcase_add_test(p, parse_subnormals);
	tcase_add_loop_test(f, format_random, 0, 2);
	tcase_add_test(f, format_edges);
	tcase_add_test(f, format_spelling);
	suite_add_tcase(s, p);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(num_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
