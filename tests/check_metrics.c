/* check_metrics.c: tests for the counters, histograms, quantiles and Prometheus text. */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "jsonx.h"
#include "metrics.h"
#include "model.h"
#include "mstats.h"
#include "repo.h"
#include "testutil.h"

static char *render(const struct repo_set *s)
{
	char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(metrics_render(s, &out, &len), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert(len > 0 && out[len - 1] == '\n');
	return out;
}

/* True when text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

#define ck_assert_line(text, line) ck_assert_msg(has_line(text, line), "missing line: %s", line)

/* The value of the sample whose name and labels are exactly series; -1 when absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; (p = strstr(p, series)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

START_TEST(counters_exact)
{
	char *t;

	ck_assert_int_eq(metrics_init(), 0);
	metrics_observe(METRICS_EP_INFER, 200, 5000);
	metrics_observe(METRICS_EP_INFER, 200, 20000);
	metrics_observe(METRICS_EP_INFER, 200, 2000000);
	metrics_observe(METRICS_EP_INFER, 400, 30000);
	metrics_observe(METRICS_EP_LIVE, 200, 1000);
	metrics_observe(METRICS_EP_LIVE, 200, 1000);
	metrics_observe(METRICS_EP_OTHER, 418, 1000);
	metrics_observe(METRICS_EP_METRICS, 503, 1000);
	metrics_observe(METRICS_EP_MODEL_META, 404, 1000);
	metrics_observe(METRICS_EP_REPOSITORY, 403, 1000);
	metrics_observe(METRICS_EP_READY, 302, 1000);
	metrics_observe(METRICS_EP_INFER, 409, 1000);
	metrics_observe(METRICS_EP_INFER, 431, 1000);
	metrics_observe(METRICS_EP_INFER, 507, 1000);
	metrics_observe(METRICS_EP_INFER, 408, 1000);
	metrics_observe(METRICS_EP_OTHER, 999, 1000);
	metrics_add_rows(10);
	metrics_add_rows(32);
	ck_assert_uint_eq(metrics_requests_total(), 16);
	t = render(NULL);
	ck_assert_line(t, "# TYPE inferd_requests_total counter");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"200\"} 3");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"400\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"500\"} 0");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"live\",code=\"200\"} 2");
	/* Every status code is counted as itself; only codes outside 100..599 are "other". */
	ck_assert_line(t, "inferd_requests_total{endpoint=\"other\",code=\"418\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"other\",code=\"other\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"409\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"431\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"507\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"408\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"infer\",code=\"other\"} 0");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"metrics\",code=\"503\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"model_metadata\",code=\"404\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"repository\",code=\"403\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"ready\",code=\"302\"} 1");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"ready\",code=\"200\"} 0");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"server_metadata\",code=\"405\"} 0");
	ck_assert_line(t, "inferd_requests_total{endpoint=\"model_ready\",code=\"413\"} 0");
	ck_assert_line(t, "# TYPE inferd_rows_total counter");
	ck_assert_line(t, "inferd_rows_total 42");
	free(t);
}
END_TEST

START_TEST(histogram_by_hand)
{
	/* 5us, 20us, 30us and 2ms: the cumulative counts per bound, worked out by hand. */
	static const struct {
		const char *le;
		int n;
	} want[] = {{"0.00001", 1}, {"0.000025", 2}, {"0.00005", 3}, {"0.0001", 3}, {"0.00025", 3},
	            {"0.0005", 3},  {"0.001", 3},    {"0.0025", 4},  {"0.005", 4},  {"0.01", 4},
	            {"0.025", 4},   {"0.05", 4},     {"0.1", 4},     {"0.25", 4},   {"0.5", 4},
	            {"1", 4},       {"2.5", 4},      {"3600", 4},    {"+Inf", 4}};
	char line[256], *t;

	ck_assert_int_eq(metrics_init(), 0);
	metrics_observe(METRICS_EP_INFER, 200, 5000);
	metrics_observe(METRICS_EP_INFER, 200, 20000);
	metrics_observe(METRICS_EP_INFER, 400, 30000);
	metrics_observe(METRICS_EP_INFER, 200, 2000000);
	/* A bound is inclusive: exactly 10 us is "le 0.00001"; 2 s fits 2.5 s; 2 h only +Inf. */
	metrics_observe(METRICS_EP_LIVE, 200, 10000);
	metrics_observe(METRICS_EP_LIVE, 200, 2000000000);
	metrics_observe(METRICS_EP_LIVE, 200, 7200000000000ull);
	t = render(NULL);
	ck_assert_line(t, "# TYPE inferd_request_duration_seconds histogram");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line),
		         "inferd_request_duration_seconds_bucket{endpoint=\"infer\",le=\"%s\"} %d",
		         want[i].le, want[i].n);
		ck_assert_line(t, line);
	}
	/* 5000 + 20000 + 30000 + 2000000 ns = 0.002055 s. */
	ck_assert_line(t, "inferd_request_duration_seconds_sum{endpoint=\"infer\"} 0.002055000");
	ck_assert_line(t, "inferd_request_duration_seconds_count{endpoint=\"infer\"} 4");
	ck_assert_line(
	    t, "inferd_request_duration_seconds_bucket{endpoint=\"live\",le=\"0.00001\"} 1");
	ck_assert_line(t, "inferd_request_duration_seconds_bucket{endpoint=\"live\",le=\"1\"} 1");
	ck_assert_line(t, "inferd_request_duration_seconds_bucket{endpoint=\"live\",le=\"2.5\"} 2");
	/* Buckets reach 3600 s, the largest request_timeout (conf.c's range). */
	ck_assert_line(t,
	               "inferd_request_duration_seconds_bucket{endpoint=\"live\",le=\"3600\"} 2");
	ck_assert_line(t,
	               "inferd_request_duration_seconds_bucket{endpoint=\"live\",le=\"+Inf\"} 3");
	ck_assert_line(t, "inferd_request_duration_seconds_sum{endpoint=\"live\"} 7202.000010000");
	ck_assert_line(t, "inferd_request_duration_seconds_count{endpoint=\"live\"} 3");
	ck_assert_line(t, "inferd_request_duration_seconds_count{endpoint=\"other\"} 0");
	free(t);
}
END_TEST

/* Every endpoint's buckets rise monotonically and end at _count. */
START_TEST(histogram_cumulative)
{
	static const char *const eps[] = {
	    "live",    "ready",      "server_metadata", "model_metadata", "model_ready", "infer",
	    "metrics", "repository", "model_config",    "model_stats",    "model_list",  "other"};
	uint64_t seed = 12345;
	char *t;

	ck_assert_int_eq(metrics_init(), 0);
	for (int i = 0; i < 5000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		metrics_observe((enum metrics_endpoint)((seed >> 33) % METRICS_EP_COUNT), 200,
		                (seed >> 20) % 3000000000ull);
	}
	t = render(NULL);
	for (size_t e = 0; e < sizeof(eps) / sizeof(eps[0]); e++) {
		char series[160];
		double prev = 0, count;
		int nbuckets = 0;
		const char *p = t;
		snprintf(series, sizeof(series),
		         "inferd_request_duration_seconds_bucket{endpoint=\"%s\",", eps[e]);
		while ((p = strstr(p, series)) != NULL) {
			const char *sp = strchr(p, ' ');
			double v = strtod(sp + 1, NULL);
			ck_assert(v >= prev);
			prev = v;
			nbuckets++;
			p = sp;
		}
		/* 24 bounds from 10 us to 3600 s, and +Inf. */
		ck_assert_int_eq(nbuckets, 25);
		snprintf(series, sizeof(series),
		         "inferd_request_duration_seconds_count{endpoint=\"%s\"}", eps[e]);
		count = sample(t, series);
		ck_assert(count == prev);
		snprintf(series, sizeof(series),
		         "inferd_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"}",
		         eps[e]);
		ck_assert(sample(t, series) == count);
	}
	ck_assert_uint_eq(metrics_requests_total(), 5000);
	free(t);
}
END_TEST

START_TEST(quantiles)
{
	uint64_t q;

	ck_assert_int_eq(metrics_init(), 0);
	ck_assert_uint_eq(metrics_infer_quantile_ns(0.99), 0);
	for (int i = 0; i < 1000; i++)
		metrics_observe(METRICS_EP_INFER, 200, 100000);
	/* Other endpoints do not count towards infer latency. */
	for (int i = 0; i < 1000; i++)
		metrics_observe(METRICS_EP_LIVE, 200, 900000000);
	/* 100000 lies in [1.5 * 2^16, 1.75 * 2^16) = [98304, 114688): quarter-octave buckets. */
	q = metrics_infer_quantile_ns(0.99);
	ck_assert_uint_ge(q, 98304);
	ck_assert_uint_lt(q, 114688);
	q = metrics_infer_quantile_ns(0.5);
	ck_assert_uint_ge(q, 98304);
	ck_assert_uint_lt(q, 114688);
	/* Add 10 slow ones at 10 ms, in [1.0 * 2^23, 1.25 * 2^23) = [8388608, 10485760). */
	for (int i = 0; i < 10; i++)
		metrics_observe(METRICS_EP_INFER, 200, 10000000);
	/* 1010 observations: rank 1000 (p99) is still fast, rank 1001 onwards slow. */
	q = metrics_infer_quantile_ns(0.99);
	ck_assert_uint_ge(q, 98304);
	ck_assert_uint_lt(q, 114688);
	q = metrics_infer_quantile_ns(0.995);
	ck_assert_uint_ge(q, 8388608);
	ck_assert_uint_lt(q, 10485760);
	q = metrics_infer_quantile_ns(1.0);
	ck_assert_uint_ge(q, 8388608);
	ck_assert_uint_lt(q, 10485760);
	q = metrics_infer_quantile_ns(0.0);
	ck_assert_uint_ge(q, 98304);
	ck_assert_uint_lt(q, 114688);
}
END_TEST

START_TEST(quantile_extremes)
{
	uint64_t q;

	ck_assert_int_eq(metrics_init(), 0);
	metrics_observe(METRICS_EP_INFER, 200, 0);
	ck_assert_uint_eq(metrics_infer_quantile_ns(0.5), 0);
	ck_assert_int_eq(metrics_init(), 0);
	metrics_observe(METRICS_EP_INFER, 200, UINT64_MAX);
	q = metrics_infer_quantile_ns(0.5);
	/* The top quarter-octave: [1.75 * 2^63, 2^64). */
	ck_assert_uint_ge(q, (uint64_t)7 << 61);
	ck_assert_uint_ge(metrics_infer_quantile_ns(2.0), (uint64_t)7 << 61);
}
END_TEST

enum { PER_THREAD = 200000 };

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_observe(METRICS_EP_INFER, 200, 1000);
		metrics_add_rows(3);
	}
	return NULL;
}

START_TEST(concurrent_observes)
{
	pthread_t a, b;
	char line[160], *t;

	ck_assert_int_eq(metrics_init(), 0);
	ck_assert_int_eq(pthread_create(&a, NULL, hammer, NULL), 0);
	ck_assert_int_eq(pthread_create(&b, NULL, hammer, NULL), 0);
	ck_assert_int_eq(pthread_join(a, NULL), 0);
	ck_assert_int_eq(pthread_join(b, NULL), 0);
	ck_assert_uint_eq(metrics_requests_total(), 2 * PER_THREAD);
	t = render(NULL);
	snprintf(line, sizeof(line), "inferd_requests_total{endpoint=\"infer\",code=\"200\"} %d",
	         2 * PER_THREAD);
	ck_assert_line(t, line);
	snprintf(line, sizeof(line), "inferd_request_duration_seconds_count{endpoint=\"infer\"} %d",
	         2 * PER_THREAD);
	ck_assert_line(t, line);
	/* 400000 observations of 1 us each: 0.4 s. */
	ck_assert_line(t, "inferd_request_duration_seconds_sum{endpoint=\"infer\"} 0.400000000");
	snprintf(line, sizeof(line), "inferd_rows_total %d", 3 * 2 * PER_THREAD);
	ck_assert_line(t, line);
	free(t);
}
END_TEST

START_TEST(info_series)
{
	char *t, line[512];
	struct timespec before, after;
	double start;

	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &before), 0);
	ck_assert_int_eq(metrics_init(), 0);
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &after), 0);
	t = render(NULL);
	ck_assert_line(t, "# TYPE inferd_build_info gauge");
	snprintf(line, sizeof(line), "inferd_build_info{version=\"%s\"} 1", PACKAGE_VERSION);
	ck_assert_line(t, line);
	ck_assert_line(t, "# TYPE inferd_start_time_seconds gauge");
	ck_assert_line(t, "# TYPE inferd_model_info gauge");
	/* No models: the family is declared but has no samples. */
	ck_assert_ptr_null(strstr(t, "inferd_model_info{"));
	start = sample(t, "inferd_start_time_seconds");
	ck_assert(start >= (double)before.tv_sec && start <= (double)after.tv_sec + 1);
	/* Every family has HELP and TYPE. */
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_requests_total "));
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_request_duration_seconds "));
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_rows_total "));
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_model_info "));
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_start_time_seconds "));
	ck_assert_ptr_nonnull(strstr(t, "# HELP inferd_build_info "));
	free(t);
}
END_TEST

START_TEST(model_info)
{
	const struct model_limits ml = {0};
	struct model *m = NULL;
	struct repo_entry e[2];
	struct repo_set s = {.v = e, .n = 2};
	char err[512], *t, line[1024];
	const char *objective, *booster;
	json_t *doc;
	int r;

	r = model_load_file(TU_BUNDLED_MODEL, &ml, &m, err, sizeof(err));
	ck_assert_msg(r == 0, "bundled model: %s", err);
	/* What the info should say, read from the file itself. */
	ck_assert_int_eq(jsonx_load_file(TU_BUNDLED_MODEL, 1 << 28, 64, 1, &doc, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(json_unpack(doc, "{s:{s:{s:s}, s:{s:s}}}", "learner", "objective", "name",
	                             &objective, "gradient_booster", "name", &booster),
	                 0);
	memset(e, 0, sizeof(e));
	e[0].name = "breast-cancer";
	e[0].version = "1";
	memset(e[0].sha256, 'a', 64);
	e[0].model = m;
	/* Label values are escaped: backslash, quote and newline. */
	e[1].name = "odd";
	e[1].version = "2\"\\\n";
	memset(e[1].sha256, '0', 64);
	e[1].model = m;
	ck_assert_int_eq(metrics_init(), 0);
	t = render(&s);
	snprintf(line, sizeof(line),
	         "inferd_model_info{model=\"breast-cancer\",version=\"1\",sha256=\"%.64s\","
	         "objective=\"%s\",booster=\"%s\"} 1",
	         e[0].sha256, objective, booster);
	ck_assert_line(t, line);
	snprintf(line, sizeof(line),
	         "inferd_model_info{model=\"odd\",version=\"2\\\"\\\\\\n\",sha256=\"%.64s\","
	         "objective=\"%s\",booster=\"%s\"} 1",
	         e[1].sha256, objective, booster);
	ck_assert_line(t, line);
	free(t);
	json_decref(doc);
	model_unref(m);
}
END_TEST

/* Per-model series: only for the served models, with counts and rows as recorded. */
START_TEST(model_traffic)
{
	struct repo_entry e[1];
	struct repo_set s = {.v = e, .n = 1};
	struct mstats_times ok = {
	    .total_ns = 3000000, .input_ns = 1, .infer_ns = 2, .output_ns = 3};
	struct mstats_times bad = {.total_ns = 4000000000ull};
	struct mstats_snap st;
	char *t;

	ck_assert_int_eq(metrics_init(), 0);
	memset(e, 0, sizeof(e));
	e[0].name = "m";
	e[0].version = "7";
	mstats_record("m", "7", true, &ok, 5);
	mstats_record("m", "7", true, &ok, 2);
	mstats_record("m", "7", false, &bad, 0);
	/* A model not served (an old version, say) is counted but never rendered. */
	mstats_record("gone", "1", true, &ok, 9);
	mstats_get("m", "7", &st);
	ck_assert_uint_eq(st.success, 2);
	ck_assert_uint_eq(st.fail, 1);
	ck_assert_uint_eq(st.success_ns, 6000000);
	ck_assert_uint_eq(st.fail_ns, 4000000000ull);
	ck_assert_uint_eq(st.input_ns, 2);
	ck_assert_uint_eq(st.infer_ns, 4);
	ck_assert_uint_eq(st.output_ns, 6);
	ck_assert_uint_eq(st.inference_count, 7);
	ck_assert_uint_eq(st.execution_count, 2);
	ck_assert(st.last_ms > 1600000000000ull);
	t = render(&s);
	ck_assert_line(
	    t, "inferd_model_requests_total{model=\"m\",version=\"7\",result=\"success\"} 2");
	ck_assert_line(
	    t, "inferd_model_requests_total{model=\"m\",version=\"7\",result=\"failure\"} 1");
	ck_assert_line(t, "inferd_model_rows_total{model=\"m\",version=\"7\"} 7");
	/* 3 ms twice: le 0.005 holds 2; 4 s: le 5 holds all 3. */
	ck_assert_line(t, "inferd_model_request_duration_seconds_bucket{model=\"m\",version=\"7\","
	                  "le=\"0.0025\"} 0");
	ck_assert_line(t, "inferd_model_request_duration_seconds_bucket{model=\"m\",version=\"7\","
	                  "le=\"0.005\"} 2");
	ck_assert_line(t, "inferd_model_request_duration_seconds_bucket{model=\"m\",version=\"7\","
	                  "le=\"2.5\"} 2");
	ck_assert_line(t, "inferd_model_request_duration_seconds_bucket{model=\"m\",version=\"7\","
	                  "le=\"5\"} 3");
	ck_assert_line(t, "inferd_model_request_duration_seconds_sum{model=\"m\",version=\"7\"} "
	                  "4.006000000");
	ck_assert_line(t,
	               "inferd_model_request_duration_seconds_count{model=\"m\",version=\"7\"} 3");
	ck_assert_ptr_null(strstr(t, "model=\"gone\""));
	free(t);
}
END_TEST

START_TEST(reload_series)
{
	char *t;

	ck_assert_int_eq(metrics_init(), 0);
	t = render(NULL);
	ck_assert_line(t, "# TYPE inferd_reloads_total counter");
	ck_assert_line(t, "inferd_reloads_total{result=\"success\"} 0");
	ck_assert_line(t, "inferd_config_last_reload_successful 1");
	ck_assert_line(t, "inferd_rollbacks_total 0");
	ck_assert_line(t, "# TYPE inferd_model_refused gauge");
	free(t);
	metrics_reload_done(true);
	metrics_reload_done(false);
	metrics_rollback_done();
	t = render(NULL);
	ck_assert_line(t, "inferd_reloads_total{result=\"success\"} 1");
	ck_assert_line(t, "inferd_reloads_total{result=\"failure\"} 1");
	ck_assert_line(t, "inferd_config_last_reload_successful 0");
	ck_assert_line(t, "inferd_rollbacks_total 1");
	free(t);
	metrics_reload_done(true);
	t = render(NULL);
	ck_assert_line(t, "inferd_config_last_reload_successful 1");
	free(t);
}
END_TEST

/* The process_* series: values checked against what the kernel says by other means. */
START_TEST(process_series)
{
	struct rlimit rl;
	char *t, line[128];
	double rss, start, fds;
	time_t now = time(NULL);

	ck_assert_int_eq(metrics_init(), 0);
	t = render(NULL);
	ck_assert_line(t, "# TYPE process_cpu_seconds_total counter");
	ck_assert_line(t, "# TYPE process_resident_memory_bytes gauge");
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	snprintf(line, sizeof line, "process_max_fds %llu", (unsigned long long)rl.rlim_cur);
	ck_assert_line(t, line);
	rss = sample(t, "process_resident_memory_bytes");
	if (getenv("INFERD_EMULATOR") && *getenv("INFERD_EMULATOR")) {
		/* qemu-user fakes /proc/self/stat and leaves its rss field 0. */
		printf("process_series: resident memory not checked under %s\n",
		       getenv("INFERD_EMULATOR"));
		ck_assert(rss >= 0);
	} else {
		ck_assert(rss > 1024 * 1024);
	}
	start = sample(t, "process_start_time_seconds");
	/* Started in the last hour, not in the future (a second of slack for btime rounding). */
	ck_assert(start <= (double)now + 1 && start > (double)now - 3600);
	fds = sample(t, "process_open_fds");
	/* stdin, stdout, stderr at least; and fewer than the limit. */
	ck_assert(fds >= 3 && fds < (double)rl.rlim_cur);
	ck_assert(sample(t, "process_cpu_seconds_total") >= 0);
	free(t);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, counters_exact);
	tcase_add_test(tc, histogram_by_hand);
	tcase_add_test(tc, histogram_cumulative);
	tcase_add_test(tc, quantiles);
	tcase_add_test(tc, quantile_extremes);
	tcase_add_test(tc, concurrent_observes);
	tcase_add_test(tc, info_series);
	tcase_add_test(tc, model_info);
	tcase_add_test(tc, model_traffic);
	tcase_add_test(tc, reload_series);
	tcase_add_test(tc, process_series);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	metrics_fini();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
