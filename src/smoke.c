/* smoke.c: the post-deploy smoke test: readiness, refusals, golden outputs, latency, verdict. */
#include "smoke.h"

#include <errno.h>
#include <float.h>
#include <grp.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "conf.h"
#include "golden.h"
#include "jsonx.h"
#include "num.h"
#include "util.h"

/* Generous: our own answers are shallow, but a proxy's error page need not be. */
#define SMOKE_JSON_DEPTH 64
/* Readiness polling backoff, in milliseconds. */
#define SMOKE_BACKOFF_FIRST_MS          10.0
#define SMOKE_BACKOFF_MAX_MS            500.0
#define SMOKE_DEFAULT_REQUEST_TIMEOUT_S 10.0

/* What the run learns about one configured model. */
struct model_state {
	const struct conf_model *cm;
	char path[512]; /* "/v2/models/NAME/versions/V", or "/v2/models/NAME" until known */
	bool meta_ok;
	long num_feature;   /* from the metadata, 0 when unknown */
	const char *golden; /* the golden set checked: the configured one or golden_found */
	char *golden_found; /* golden.json beside a repository version, malloc'd */
	bool have_golden;
	struct golden g;
};

/* One prepared latency request. */
struct lat_req {
	const char *path; /* points into a model_state */
	char *body;
	size_t len;
};

static const char *const trigger_names[SMOKE_TRIGGER_COUNT] = {
    "not_ready",   "output_mismatch", "http_error",    "p99_latency",
    "set_changed", "model_refused",   "client_access",
};

static const char *const on_failure_names[] = {
    [SMOKE_ON_FAILURE_ROLLBACK] = "rollback",
    [SMOKE_ON_FAILURE_FAIL] = "fail",
    [SMOKE_ON_FAILURE_WARN] = "warn",
};

const char *smoke_trigger_name(unsigned trigger)
{
	for (unsigned i = 0; i < SMOKE_TRIGGER_COUNT; i++)
		if (trigger == 1u << i)
			return trigger_names[i];
	return "?";
}

void smoke_opts_init(struct smoke_opts *o, const struct conf *c)
{
	o->ready_timeout_s = c->smoke.timeout;
	o->request_timeout_s = SMOKE_DEFAULT_REQUEST_TIMEOUT_S;
	o->requests = c->smoke.requests;
	o->p99_ms = c->smoke.p99_ms;
	o->mark_good = false;
	o->client_access_socket = NULL;
	o->resolve_models = NULL;
	o->resolve_arg = NULL;
	o->note_no_golden = false;
	/* conf.c accepts only the three names; an absent one means the documented default. */
	if (!c->smoke.on_failure || smoke_on_failure_parse(c->smoke.on_failure, &o->on_failure) < 0)
		o->on_failure = SMOKE_ON_FAILURE_ROLLBACK;
}

int smoke_on_failure_parse(const char *s, enum smoke_on_failure *out)
{
	for (size_t i = 0; i < sizeof(on_failure_names) / sizeof(on_failure_names[0]); i++)
		if (strcmp(s, on_failure_names[i]) == 0) {
			*out = (enum smoke_on_failure)i;
			return 0;
		}
	return -EINVAL;
}

const char *smoke_on_failure_name(enum smoke_on_failure p)
{
	if ((size_t)p < sizeof(on_failure_names) / sizeof(on_failure_names[0]))
		return on_failure_names[p];
	return "?";
}

static double now_ms(void)
{
	return (double)util_monotonic_ns() / 1e6;
}

static void sleep_ms(double ms)
{
	struct timespec ts;

	if (!(ms > 0))
		return;
	ts.tv_sec = (time_t)(ms / 1e3);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Shortest decimal that reads back as v, so mismatches show what was really compared. */
static const char *fmt_num(double v, char *buf, size_t len)
{
	char tmp[NUM_FMT_MAX];

	num_format_double(v, tmp);
	snprintf(buf, len, "%s", tmp);
	return buf;
}

__attribute__((format(printf, 6, 7))) static int add_check(struct smoke_result *r, const char *name,
                                                           unsigned trigger, double ms,
                                                           struct smoke_check **out,
                                                           const char *fmt, ...)
{
	struct smoke_check *v, *ck;
	va_list ap;
	int n;

	v = realloc(r->checks, (r->n_checks + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->checks = v;
	ck = &v[r->n_checks];
	memset(ck, 0, sizeof(*ck));
	ck->name = strdup(name);
	va_start(ap, fmt);
	n = vasprintf(&ck->detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		ck->detail = NULL;
	if (!ck->name || !ck->detail) {
		free(ck->name);
		free(ck->detail);
		return -ENOMEM;
	}
	ck->ok = trigger == 0;
	ck->trigger = trigger;
	ck->ms = ms;
	r->triggers |= trigger;
	r->n_checks++;
	if (out)
		*out = ck;
	return 0;
}

/* Describes a failed exchange: transport error text, or the status and server's reason. */
static void describe(int rc, const struct client_response *resp, const char *cerr, char *buf,
                     size_t len)
{
	if (rc < 0)
		snprintf(buf, len, "%s", cerr);
	else
		client_describe_error(resp, buf, len);
}

static bool is_2xx(long status)
{
	return status >= 200 && status < 300;
}

/* Phase 1: poll readiness with exponential backoff until 200 or the deadline. */
static int check_ready(struct client *cl, const struct smoke_opts *o, struct smoke_result *r,
                       bool *ready)
{
	double t0 = now_ms(), deadline = t0 + o->ready_timeout_s * 1e3;
	double delay = SMOKE_BACKOFF_FIRST_MS;
	char last[512] = "no answer", cerr[512];
	struct client_response resp;
	int rc;

	*ready = false;
	for (;;) {
		double left_s = (deadline - now_ms()) / 1e3;
		double to = o->request_timeout_s < left_s ? o->request_timeout_s : left_s;

		/* A slow answer must not carry us far past the deadline. */
		client_set_timeout(cl, to > 0.01 ? to : 0.01);
		rc = client_request(cl, "GET", "/v2/health/ready", NULL, 0, &resp, cerr,
		                    sizeof(cerr));
		if (rc == 0 && resp.status == 200) {
			*ready = true;
			break;
		}
		describe(rc, &resp, cerr, last, sizeof(last));
		left_s = (deadline - now_ms()) / 1e3;
		if (left_s <= 0)
			break;
		sleep_ms(delay < left_s * 1e3 ? delay : left_s * 1e3);
		delay = delay * 2 < SMOKE_BACKOFF_MAX_MS ? delay * 2 : SMOKE_BACKOFF_MAX_MS;
	}
	client_set_timeout(cl, o->request_timeout_s);
	if (*ready)
		return add_check(r, "ready", 0, now_ms() - t0, NULL, "in %.0f ms", now_ms() - t0);
	return add_check(r, "ready", SMOKE_NOT_READY, now_ms() - t0, NULL,
	                 "not ready after %g s: %s", o->ready_timeout_s, last);
}

/*
 * Phase 1b: the repository index. A version the daemon refused is a deploy that did not do
 * what it meant to, even while an older version (or the last known good one) serves.
 */
static int check_refused(struct client *cl, struct smoke_result *r)
{
	double t0 = now_ms();
	struct client_response resp;
	char cerr[512], why[600], jerr[256];
	const char *path = "/v2/repository/index";
	json_t *idx = NULL, *row;
	char *text = NULL;
	size_t len = 0, i, n = 0, rows;
	FILE *f;
	int rc;

	rc = client_request(cl, "POST", path, NULL, 0, &resp, cerr, sizeof(cerr));
	if (rc == 0 && resp.status == 403)
		return add_check(r, "refused", 0, now_ms() - t0, NULL,
		                 "skipped: POST %s answered 403 (not an admin: run as root or a "
		                 "member of the admin group to check for refused models)",
		                 path);
	if (rc < 0 || !is_2xx(resp.status)) {
		describe(rc, &resp, cerr, why, sizeof(why));
		return add_check(r, "refused", SMOKE_HTTP_ERROR, now_ms() - t0, NULL, "POST %s: %s",
		                 path, why);
	}
	if (jsonx_parse(resp.body, resp.len, SMOKE_JSON_DEPTH, 1, &idx, jerr, sizeof(jerr)) < 0 ||
	    !json_is_array(idx)) {
		json_decref(idx);
		return add_check(r, "refused", SMOKE_HTTP_ERROR, now_ms() - t0, NULL,
		                 "POST %s: HTTP %ld with an answer that is not a JSON array", path,
		                 resp.status);
	}
	rows = json_array_size(idx);
	f = open_memstream(&text, &len);
	if (!f) {
		json_decref(idx);
		return -ENOMEM;
	}
	json_array_foreach(idx, i, row)
	{
		const char *name = json_string_value(json_object_get(row, "name"));
		const char *version = json_string_value(json_object_get(row, "version"));
		const char *reason = json_string_value(json_object_get(row, "reason"));

		if (!json_is_true(json_object_get(row, "refused")))
			continue;
		fprintf(f, "%s%s v%s refused: %s", n++ ? "; " : "", name ? name : "?",
		        version ? version : "?", reason && *reason ? reason : "(no reason given)");
	}
	json_decref(idx);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	if (n)
		rc = add_check(r, "refused", SMOKE_MODEL_REFUSED, now_ms() - t0, NULL, "%s", text);
	else
		rc = add_check(r, "refused", 0, now_ms() - t0, NULL,
		               "no refused version among %zu in the repository index", rows);
	free(text);
	return rc;
}

/* Reads parameters.num_feature, else the input shape's second dimension. */
static long meta_num_feature(json_t *meta)
{
	json_t *v = json_object_get(json_object_get(meta, "parameters"), "num_feature");
	json_t *inputs, *shape;

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (long)json_integer_value(v);
	inputs = json_object_get(meta, "inputs");
	shape = json_object_get(json_array_get(inputs, 0), "shape");
	v = json_array_get(shape, json_array_size(shape) - 1);
	if (json_array_size(shape) >= 2 && json_is_integer(v) && json_integer_value(v) > 0)
		return (long)json_integer_value(v);
	return 0;
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/*
 * The version a "latest" model is served at: the highest of the metadata's "versions"
 * (the daemon serves one per name; the highest is what "latest" means if it ever lists
 * more). NULL when it names none.
 */
static const char *served_version(json_t *meta)
{
	json_t *versions = json_object_get(meta, "versions"), *v;
	const char *best = NULL;
	size_t i;

	json_array_foreach(versions, i, v)
	{
		const char *s = json_string_value(v);

		if (!s || !all_digits(s) || strlen(s) > 10)
			continue;
		/* Equal-length digit strings compare like their numbers (no leading zeros). */
		if (!best || strlen(s) > strlen(best) ||
		    (strlen(s) == strlen(best) && strcmp(s, best) > 0))
			best = s;
	}
	return best;
}

/* Phase 2: each configured model's metadata (version served, sha256, input width). */
static int check_metadata(struct client *cl, struct model_state *ms, struct smoke_model *sm,
                          struct smoke_result *r)
{
	double t0 = now_ms();
	struct client_response resp;
	char cerr[512], why[600], jerr[256];
	const char *sha, *objective;
	json_t *meta = NULL;
	int rc;

	rc = client_request(cl, "GET", ms->path, NULL, 0, &resp, cerr, sizeof(cerr));
	if (rc < 0 || !is_2xx(resp.status)) {
		describe(rc, &resp, cerr, why, sizeof(why));
		return add_check(r, "metadata", SMOKE_HTTP_ERROR, now_ms() - t0, NULL, "GET %s: %s",
		                 ms->path, why);
	}
	if (jsonx_parse(resp.body, resp.len, SMOKE_JSON_DEPTH, 1, &meta, jerr, sizeof(jerr)) < 0 ||
	    !json_is_object(meta)) {
		json_decref(meta);
		return add_check(r, "metadata", SMOKE_HTTP_ERROR, now_ms() - t0, NULL,
		                 "GET %s: HTTP %ld with an answer that is not a JSON object",
		                 ms->path, resp.status);
	}
	if (!all_digits(sm->version)) {
		const char *v = served_version(meta);
		char *copy;
		int n;

		if (!v) {
			json_decref(meta);
			return add_check(r, "metadata", SMOKE_HTTP_ERROR, now_ms() - t0, NULL,
			                 "GET %s: the metadata names no served version", ms->path);
		}
		/* From now on every request names the version observed here. */
		n = snprintf(ms->path, sizeof(ms->path), "/v2/models/%s/versions/%s", ms->cm->name,
		             v);
		copy = strdup(v);
		if (n < 0 || (size_t)n >= sizeof(ms->path) || !copy) {
			free(copy);
			json_decref(meta);
			return -ENOMEM;
		}
		free(sm->version);
		sm->version = copy;
	}
	sha = json_string_value(json_object_get(json_object_get(meta, "parameters"), "sha256"));
	if (sha) {
		sm->sha256 = strdup(sha);
		if (!sm->sha256) {
			json_decref(meta);
			return -ENOMEM;
		}
	}
	objective =
	    json_string_value(json_object_get(json_object_get(meta, "parameters"), "objective"));
	ms->num_feature = meta_num_feature(meta);
	ms->meta_ok = true;
	rc = add_check(r, "metadata", 0, now_ms() - t0, NULL,
	               "%s v%s: %ld features, %s, sha256 %.12s", ms->cm->name, sm->version,
	               ms->num_feature, objective ? objective : "?", sha ? sha : "(none)");
	json_decref(meta);
	return rc;
}

/* An FP32 [n, F] request for rows [a, a + n) of g, asking for predict. */
static char *rows_body(const struct golden *g, size_t a, size_t n, size_t *len)
{
	return client_fp32_request(g->inputs + a * g->ncols, n, g->ncols, "predict", len);
}

/* Rounds to float32 when representable (beyond that, the cast would be undefined). */
static double as_fp32(double v)
{
	return fabs(v) <= FLT_MAX ? (double)(float)v : v;
}

/* Finds outputs[name == "predict"].data in an infer answer. */
static json_t *predict_data(json_t *answer)
{
	json_t *outputs = json_object_get(answer, "outputs"), *o;
	size_t i;

	json_array_foreach(outputs, i, o)
	{
		const char *name = json_string_value(json_object_get(o, "name"));

		if (name && strcmp(name, "predict") == 0)
			return json_object_get(o, "data");
	}
	return NULL;
}

/* Phase 3: sends one model's golden inputs and compares predict within tolerance. */
static int check_golden(struct client *cl, const struct conf *c, struct model_state *ms,
                        struct smoke_model *sm, struct smoke_result *r)
{
	const struct conf_model *cm = ms->cm;
	const struct golden *g = &ms->g;
	double t0 = now_ms(), tol, max_diff = 0;
	size_t chunk, a, mismatches = 0;
	char path[600], cerr[512], why[600], jerr[256];
	char first[512] = "";
	int rc;

	tol = golden_tolerance(cm->tolerance, g);
	snprintf(path, sizeof(path), "%s/infer", ms->path);
	/* Stay within the daemon's rows-per-request limit, which shares this config. */
	chunk = c->max_rows > 0 ? (size_t)c->max_rows : g->nrows;
	if (chunk == 0)
		chunk = 1;
	for (a = 0; a < g->nrows; a += chunk) {
		size_t n = g->nrows - a < chunk ? g->nrows - a : chunk;
		size_t want = n * g->predict_width, i;
		struct client_response resp;
		json_t *answer = NULL, *data, *v;
		size_t blen;
		char *body = rows_body(g, a, n, &blen);

		if (!body)
			return -ENOMEM;
		rc = client_request(cl, "POST", path, body, blen, &resp, cerr, sizeof(cerr));
		free(body);
		if (rc < 0 || !is_2xx(resp.status)) {
			describe(rc, &resp, cerr, why, sizeof(why));
			return add_check(r, "golden", SMOKE_HTTP_ERROR, now_ms() - t0, NULL,
			                 "POST %s: %s", path, why);
		}
		if (jsonx_parse(resp.body, resp.len, SMOKE_JSON_DEPTH, 1, &answer, jerr,
		                sizeof(jerr)) < 0) {
			return add_check(r, "golden", SMOKE_OUTPUT_MISMATCH, now_ms() - t0, NULL,
			                 "%s v%s: answer is not JSON: %s", cm->name, sm->version,
			                 jerr);
		}
		data = predict_data(answer);
		if (json_array_size(data) != want) {
			rc = add_check(
			    r, "golden", SMOKE_OUTPUT_MISMATCH, now_ms() - t0, NULL,
			    "%s v%s: predict has %zu values for rows %zu..%zu, expected %zu",
			    cm->name, sm->version, json_array_size(data), a, a + n - 1, want);
			json_decref(answer);
			return rc;
		}
		json_array_foreach(data, i, v)
		{
			double got, exp = g->predict[a * g->predict_width + i], diff;
			size_t row = a + i / g->predict_width, col = i % g->predict_width;
			char gs[32], es[32], cs[32] = "";

			if (jsonx_number(v, &got) < 0)
				got = NAN;
			if (isnan(got) && isnan(exp))
				continue;
			/* Outputs are FP32 on the wire: compare at that precision. */
			diff = fabs(as_fp32(got) - as_fp32(exp));
			if (golden_match(as_fp32(got), as_fp32(exp), tol)) {
				if (diff > max_diff)
					max_diff = diff;
				continue;
			}
			if (mismatches++ > 0)
				continue;
			if (g->predict_width > 1)
				snprintf(cs, sizeof(cs), " col %zu", col);
			snprintf(first, sizeof(first),
			         "%s v%s row %zu%s: got %s expected %s (tol %g)", cm->name,
			         sm->version, row, cs, fmt_num(got, gs, sizeof(gs)),
			         fmt_num(exp, es, sizeof(es)), tol);
		}
		json_decref(answer);
	}
	if (mismatches > 1)
		return add_check(r, "golden", SMOKE_OUTPUT_MISMATCH, now_ms() - t0, NULL,
		                 "%s (and %zu more)", first, mismatches - 1);
	if (mismatches)
		return add_check(r, "golden", SMOKE_OUTPUT_MISMATCH, now_ms() - t0, NULL, "%s",
		                 first);
	sm->golden_ok = true;
	return add_check(r, "golden", 0, now_ms() - t0, NULL,
	                 "%s v%s %zu rows within tol %g (max diff %g)", cm->name, sm->version,
	                 g->nrows, tol, max_diff);
}

/* A single all-missing row: what to time when no model has a golden set. */
static char *null_row_body(long num_feature, size_t *len)
{
	float *row = malloc((size_t)num_feature * sizeof(*row));
	char *body;

	if (!row)
		return NULL;
	for (long i = 0; i < num_feature; i++)
		row[i] = NAN;
	body = client_fp32_request(row, 1, (size_t)num_feature, NULL, len);
	free(row);
	return body;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* Nearest-rank quantile of sorted samples. */
static double quantile(const double *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	return sorted[(rank < n ? rank : n) - 1];
}

/* Prepares the latency requests: golden rows of every model in turn, cycled later. */
static int latency_pool(struct model_state *ms, size_t nm, long requests, struct lat_req **out,
                        size_t *nout)
{
	size_t total = 0, cap, n = 0, i, row;
	struct lat_req *pool;

	for (i = 0; i < nm; i++)
		if (ms[i].have_golden && ms[i].meta_ok)
			total += ms[i].g.nrows;
	cap = total ? total : nm;
	if (cap > (size_t)requests)
		cap = (size_t)requests;
	*out = NULL;
	*nout = 0;
	if (cap == 0)
		return 0;
	pool = calloc(cap, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	for (i = 0; i < nm && n < cap; i++) {
		if (total) {
			if (!ms[i].have_golden || !ms[i].meta_ok)
				continue;
			for (row = 0; row < ms[i].g.nrows && n < cap; row++, n++) {
				pool[n].path = ms[i].path;
				pool[n].body = rows_body(&ms[i].g, row, 1, &pool[n].len);
				if (!pool[n].body)
					goto nomem;
			}
		} else if (ms[i].meta_ok && ms[i].num_feature > 0) {
			pool[n].path = ms[i].path;
			pool[n].body = null_row_body(ms[i].num_feature, &pool[n].len);
			if (!pool[n++].body)
				goto nomem;
		}
	}
	*out = pool;
	*nout = n;
	return 0;
nomem:
	for (i = 0; i < cap; i++)
		free(pool[i].body);
	free(pool);
	return -ENOMEM;
}

/* Phase 4: timed single-row requests on the one keep-alive connection. */
static int check_latency(struct client *cl, const struct smoke_opts *o, struct model_state *ms,
                         size_t nm, struct smoke_result *r)
{
	struct lat_req *pool = NULL;
	size_t npool = 0, i;
	double *samples = NULL, t0 = now_ms();
	long conn0, done = 0;
	char path[600], why[600] = "";
	int rc;

	rc = latency_pool(ms, nm, o->requests, &pool, &npool);
	if (rc < 0)
		return rc;
	if (npool == 0) {
		rc = add_check(r, "latency", 0, 0, NULL, "skipped: no model to query");
		goto out;
	}
	samples = malloc((size_t)o->requests * sizeof(*samples));
	if (!samples) {
		rc = -ENOMEM;
		goto out;
	}
	conn0 = client_connections(cl);
	for (long k = 0; k < o->requests; k++) {
		const struct lat_req *q = &pool[(size_t)k % npool];
		struct client_response resp;
		char cerr[512];
		double a;

		/* Paths are formatted outside the timed span: only the exchange is measured. */
		snprintf(path, sizeof(path), "%s/infer", q->path);
		a = now_ms();
		rc = client_request(cl, "POST", path, q->body, q->len, &resp, cerr, sizeof(cerr));
		samples[k] = now_ms() - a;
		if (rc < 0 || !is_2xx(resp.status)) {
			describe(rc, &resp, cerr, why, sizeof(why));
			break;
		}
		done++;
	}
	r->connections = client_connections(cl) - conn0;
	r->requests = done;
	qsort(samples, (size_t)done, sizeof(*samples), cmp_double);
	r->p50_ms = quantile(samples, (size_t)done, 0.50);
	r->p99_ms = quantile(samples, (size_t)done, 0.99);
	if (done < o->requests)
		rc = add_check(r, "latency", SMOKE_HTTP_ERROR, now_ms() - t0, NULL,
		               "POST %s (request %ld): %s", path, done + 1, why);
	else
		rc = add_check(r, "latency", r->p99_ms > o->p99_ms ? SMOKE_P99_LATENCY : 0,
		               now_ms() - t0, NULL,
		               "%ld requests p50 %.3f ms p99 %.3f ms (limit %g ms)", done,
		               r->p50_ms, r->p99_ms, o->p99_ms);
out:
	free(samples);
	for (i = 0; i < npool; i++)
		free(pool[i].body);
	free(pool);
	return rc;
}

/*
 * Chooses the golden set of a model served at version: the configured one, else for a
 * repository model the golden.json beside that version in the first root that has a
 * directory for the model (the one the daemon looks up), when it exists. 0 or -ENOMEM.
 */
static int find_golden(const struct conf *c, const struct conf_model *cm, const char *version,
                       struct model_state *ms)
{
	struct stat st;
	char *dir = NULL, *file = NULL;

	ms->golden = cm->golden;
	if (cm->golden || cm->path)
		return 0;
	for (size_t k = 0; k < c->n_repository; k++) {
		bool found;

		if (asprintf(&dir, "%s/%s", c->repository[k], cm->name) < 0)
			return -ENOMEM;
		found = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
		if (found && asprintf(&file, "%s/%s/golden.json", dir, version) < 0) {
			free(dir);
			return -ENOMEM;
		}
		free(dir);
		if (!found)
			continue;
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
			ms->golden_found = file;
			ms->golden = file;
		} else {
			free(file);
		}
		break;
	}
	return 0;
}

/* Exit codes of the client access child other than 0 and connect()'s errno. */
#define CA_EXIT_SETGROUPS 250
#define CA_EXIT_SETGID    251
#define CA_EXIT_SETUID    252
#define CA_EXIT_SOCKET    253

/* "0660 root:inferd" for the socket at path, from st. */
static void describe_owner(const struct stat *st, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[32], g[32];

	if (pw)
		snprintf(u, sizeof(u), "%s", pw->pw_name);
	else
		snprintf(u, sizeof(u), "%lu", (unsigned long)st->st_uid);
	if (gr)
		snprintf(g, sizeof(g), "%s", gr->gr_name);
	else
		snprintf(g, sizeof(g), "%lu", (unsigned long)st->st_gid);
	snprintf(buf, len, "mode %04o, owner %s:%s", (unsigned)(st->st_mode & 07777), u, g);
}

int smoke_check_client_access(const char *socket_path, struct smoke_result *r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct passwd *nobody;
	struct stat st;
	char owner[128];
	uid_t uid;
	pid_t pid;
	int status, code;

	if (geteuid() != 0)
		return add_check(
		    r, "client-access", 0, 0, NULL,
		    "not root: this run's own connection was an unprivileged client's");
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return add_check(r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL,
		                 "socket path too long: %s", socket_path);
	if (stat(socket_path, &st) < 0)
		return add_check(r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL, "%s: %s",
		                 socket_path, strerror(errno));
	describe_owner(&st, owner, sizeof(owner));
	strcpy(sa.sun_path, socket_path);
	/* Resolved before the fork: the child makes system calls only. */
	nobody = getpwnam("nobody");
	uid = nobody ? nobody->pw_uid : 65534;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return add_check(r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL,
		                 "cannot fork the unprivileged client: %s", strerror(errno));
	if (pid == 0) {
		int fd;

		/* The child's status is its only report: it never returns into the caller. */
		if (setgroups(0, NULL) < 0)
			_exit(CA_EXIT_SETGROUPS);
		if (setgid(st.st_gid) < 0)
			_exit(CA_EXIT_SETGID);
		if (setuid(uid) < 0)
			_exit(CA_EXIT_SETUID);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			_exit(CA_EXIT_SOCKET);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(errno > 0 && errno < CA_EXIT_SETGROUPS ? errno : EIO);
		close(fd);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return add_check(r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL,
			                 "cannot wait for the unprivileged client: %s",
			                 strerror(errno));
	code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code == 0)
		return add_check(
		    r, "client-access", 0, 0, NULL,
		    "a client with only the socket's group (uid %lu, gid %lu) connects "
		    "to %s (%s)",
		    (unsigned long)uid, (unsigned long)st.st_gid, socket_path, owner);
	if (code > 0 && code < CA_EXIT_SETGROUPS)
		/* A model rollback cannot change a socket: say what to fix instead. */
		return add_check(
		    r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL,
		    "a client with only the socket's group (uid %lu, gid %lu) is refused: "
		    "connect(%s): %s; the socket has %s; a rollback cannot fix this "
		    "(it restores models, not the socket's SocketMode=/SocketGroup=)",
		    (unsigned long)uid, (unsigned long)st.st_gid, socket_path, strerror(code),
		    owner);
	return add_check(r, "client-access", SMOKE_CLIENT_ACCESS, 0, NULL,
	                 "the unprivileged client could not run (%s)",
	                 code == CA_EXIT_SETGROUPS ? "setgroups failed"
	                 : code == CA_EXIT_SETGID  ? "setgid failed"
	                 : code == CA_EXIT_SETUID  ? "setuid failed"
	                 : code == CA_EXIT_SOCKET  ? "socket failed"
	                                           : "killed");
}

/* Prepares the per-model state and the result's model list for c's models. 0 or -errno. */
static int setup_models(const struct conf *c, struct model_state **out, struct smoke_result *r,
                        char *err, size_t errlen)
{
	size_t nm = c->n_models;
	struct model_state *ms = calloc(nm ? nm : 1, sizeof(*ms));

	*out = ms;
	r->models = calloc(nm ? nm : 1, sizeof(*r->models));
	if (!ms || !r->models)
		return -ENOMEM;
	for (size_t i = 0; i < nm; i++) {
		const struct conf_model *cm = &c->models[i];
		int n;

		/* "latest" is not a version the daemon routes: its metadata tells which one. */
		if (all_digits(cm->version))
			n = snprintf(ms[i].path, sizeof(ms[i].path), "/v2/models/%s/versions/%s",
			             cm->name, cm->version);
		else
			n = snprintf(ms[i].path, sizeof(ms[i].path), "/v2/models/%s", cm->name);

		if (n < 0 || (size_t)n >= sizeof(ms[i].path)) {
			snprintf(err, errlen, "model name too long: %s", cm->name);
			return -EINVAL;
		}
		ms[i].cm = cm;
		r->models[i].name = strdup(cm->name);
		r->models[i].version = strdup(cm->version);
		r->n_models++;
		if (!r->models[i].name || !r->models[i].version)
			return -ENOMEM;
	}
	return 0;
}

int smoke_run(struct client *cl, const struct conf *c, const struct smoke_opts *o,
              struct smoke_result *r, char *err, size_t errlen)
{
	struct model_state *ms = NULL;
	size_t i, nm = 0;
	bool ready;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!(o->ready_timeout_s > 0) || !(o->request_timeout_s > 0) || o->requests < 1 ||
	    !(o->p99_ms > 0)) {
		snprintf(err, errlen, "smoke thresholds must be positive");
		return -EINVAL;
	}
	/* Configured models are known (and reported) even when the daemon never gets ready. */
	if (!o->resolve_models) {
		rc = setup_models(c, &ms, r, err, errlen);
		nm = r->n_models;
		if (rc < 0)
			goto out;
	}

	rc = check_ready(cl, o, r, &ready);
	if (rc < 0)
		goto out;
	/* Independent of readiness: under systemd the socket accepts before the daemon is up. */
	if (o->client_access_socket) {
		rc = smoke_check_client_access(o->client_access_socket, r);
		if (rc < 0)
			goto out;
	}
	if (!ready)
		goto out; /* nothing else can pass without a ready daemon */
	if (o->resolve_models) {
		/* Only a ready daemon can say what it serves. */
		char why[512] = "";

		if (o->resolve_models(o->resolve_arg, &c, why, sizeof(why)) < 0) {
			rc = add_check(r, "models", SMOKE_HTTP_ERROR, 0, NULL,
			               "cannot list the served models: %s", why);
			goto out;
		}
		rc = setup_models(c, &ms, r, err, errlen);
		nm = r->n_models;
		if (rc < 0)
			goto out;
	}
	rc = check_refused(cl, r);
	if (rc < 0)
		goto out;

	for (i = 0; i < nm; i++) {
		rc = check_metadata(cl, &ms[i], &r->models[i], r);
		if (rc < 0)
			goto out;
	}
	for (i = 0; i < nm; i++) {
		char gerr[512];

		if (!ms[i].meta_ok)
			continue;
		rc = find_golden(c, ms[i].cm, r->models[i].version, &ms[i]);
		if (rc < 0)
			goto out;
		if (!ms[i].golden) {
			if (o->note_no_golden &&
			    (rc = add_check(r, "golden", 0, 0, NULL,
			                    "%s v%s: skipped: no golden set known for this version",
			                    ms[i].cm->name, r->models[i].version)) < 0)
				goto out;
			continue;
		}
		/* An unreadable golden set leaves outputs unverified: fail safe, as a mismatch. */
		if (golden_load(ms[i].golden, &ms[i].g, gerr, sizeof(gerr)) < 0) {
			rc = add_check(r, "golden", SMOKE_OUTPUT_MISMATCH, 0, NULL,
			               "%s v%s: cannot load golden set %s: %s", ms[i].cm->name,
			               r->models[i].version, ms[i].golden, gerr);
			if (rc < 0)
				goto out;
			continue;
		}
		ms[i].have_golden = true;
		rc = check_golden(cl, c, &ms[i], &r->models[i], r);
		if (rc < 0)
			goto out;
	}
	rc = check_latency(cl, o, ms, nm, r);
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (i = 0; ms && i < nm; i++) {
		if (ms[i].have_golden)
			golden_free(&ms[i].g);
		free(ms[i].golden_found);
	}
	free(ms);
	return rc;
}

int smoke_result_add(struct smoke_result *r, const char *name, unsigned trigger, const char *detail)
{
	return add_check(r, name, trigger, 0, NULL, "%s", detail);
}

void smoke_result_free(struct smoke_result *r)
{
	size_t i;

	for (i = 0; i < r->n_checks; i++) {
		free(r->checks[i].name);
		free(r->checks[i].detail);
	}
	for (i = 0; i < r->n_models; i++) {
		free(r->models[i].name);
		free(r->models[i].version);
		free(r->models[i].sha256);
	}
	free(r->checks);
	free(r->models);
	memset(r, 0, sizeof(*r));
}

void smoke_print_text(const struct smoke_result *r, const struct smoke_opts *o, FILE *f)
{
	const char *sep = "";

	(void)o;
	for (size_t i = 0; i < r->n_checks; i++)
		fprintf(f, "%-4s %-14s %s\n", r->checks[i].ok ? "ok" : "FAIL", r->checks[i].name,
		        r->checks[i].detail);
	if (!r->triggers) {
		fprintf(f, "smoke: PASS\n");
		return;
	}
	fprintf(f, "smoke: FAIL (triggers: ");
	for (unsigned i = 0; i < SMOKE_TRIGGER_COUNT; i++)
		if (r->triggers & (1u << i)) {
			fprintf(f, "%s%s", sep, trigger_names[i]);
			sep = ", ";
		}
	fprintf(f, ")\n");
}

/* Appends v to array a, dropping the reference; -ENOMEM when v or the append failed. */
static int push(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) < 0 ? -ENOMEM : 0;
}

json_t *smoke_result_json(const struct smoke_result *r, const struct smoke_opts *o)
{
	json_t *root, *triggers = json_array(), *checks = json_array(), *models = json_array();
	int rc = 0;

	for (unsigned i = 0; i < SMOKE_TRIGGER_COUNT; i++)
		if (r->triggers & (1u << i))
			rc |= push(triggers, json_string(trigger_names[i]));
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct smoke_check *ck = &r->checks[i];
		json_t *j = json_pack("{s:s, s:b, s:s, s:f}", "name", ck->name, "ok", ck->ok,
		                      "detail", ck->detail, "ms", ck->ms);

		if (j && ck->trigger &&
		    json_object_set_new(j, "trigger", json_string(smoke_trigger_name(ck->trigger))))
			rc = -ENOMEM;
		rc |= push(checks, j);
	}
	for (size_t i = 0; i < r->n_models; i++) {
		const struct smoke_model *m = &r->models[i];
		json_t *j = json_pack("{s:s, s:s, s:b}", "name", m->name, "version", m->version,
		                      "golden_ok", m->golden_ok);

		if (j && m->sha256 && json_object_set_new(j, "sha256", json_string(m->sha256)))
			rc = -ENOMEM;
		rc |= push(models, j);
	}
	root = json_pack("{s:s, s:o, s:o, s:{s:f, s:f, s:I, s:f, s:I}, s:o}", "verdict",
	                 r->triggers ? "fail" : "pass", "triggers", triggers, "checks", checks,
	                 "latency", "p50_ms", r->p50_ms, "p99_ms", r->p99_ms, "requests",
	                 (json_int_t)r->requests, "limit_ms", o->p99_ms, "connections",
	                 (json_int_t)r->connections, "models", models);
	if (!root || rc) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int smoke_print_json(const struct smoke_result *r, const struct smoke_opts *o, FILE *f)
{
	json_t *root = smoke_result_json(r, o);
	int rc = 0;

	if (!root)
		return -ENOMEM;
	/* Six significant digits: microseconds matter, float noise does not. */
	if (json_dumpf(root, f, JSON_REAL_PRECISION(6)) < 0)
		rc = -EIO;
	fputc('\n', f);
	json_decref(root);
	return rc;
}
