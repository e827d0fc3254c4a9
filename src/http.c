/* http.c: libmicrohttpd in epoll mode, strict routing, the Open Inference Protocol routes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <jansson.h>
#include <microhttpd.h>

#include "admin.h"
#include "conf.h"
#include "http.h"
#include "infer.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "outputs.h"
#include "repo.h"
#include "sock.h"
#include "mstats.h"
#include "triton.h"
#include "zbody.h"
#include "util.h"

/*
 * MHD's per-connection memory pool holds the request line and headers (parsed in place),
 * a list entry per header field, and the read and write buffers. It is sized so that a head
 * one byte over max_header_bytes, with up to max_headers + 1 fields, still reaches our JSON
 * 431: max_header_bytes, HTTP_POOL_PER_FIELD per field, and HTTP_POOL_SLACK for the answer.
 * Heads beyond that MHD refuses itself (431, its own page). No larger: libmicrohttpd 0.9.75
 * zeroes the pool between the requests of a connection, and at the 64 KiB used before, that
 * memset was the largest single cost of a one-row infer request (docs/performance.md).
 */
#define HTTP_POOL_SLACK     (2 * 1024)
#define HTTP_POOL_PER_FIELD 96
/* MHD's own connection cap, above any max_connections: on_accept enforces the real one. */
#define HTTP_MHD_CONN_LIMIT 65537u
/*
 * Connections on the Unix socket beyond max_connections that only admin-capable peers
 * (uid 0, the daemon's uid, socket.admin_group) may take: root's inferctl ready and
 * reload, and systemd's checks, get in while clients hold every ordinary slot.
 */
#define HTTP_ADMIN_RESERVE 4
/* File descriptors kept for everything but client connections (models, logs, state). */
#define HTTP_FD_RESERVE 64
/* Predict/margin outputs up to this many floats live on the stack. */
#define HTTP_STACK_FLOATS 1024
/*
 * A request whose body was larger than this gives the heap's free memory back when it
 * completes: parsing it may have taken many times its size, which glibc keeps otherwise.
 */
#define HTTP_TRIM_BYTES (1024 * 1024)
/* A body buffer larger than this is not kept for the connection's next request. */
#define HTTP_KEEP_BODY_BYTES (256 * 1024)
/* Most path segments any route has: v2 models NAME versions V infer. */
#define HTTP_MAX_SEGS 6
/* Responses at least this long are gzip-encoded for clients that accept it. */
#define HTTP_GZIP_MIN 1024

struct req;

/* Methods a route accepts (a bit each). */
enum {
	M_GET = 1u << 0,
	M_HEAD = 1u << 1,
	M_POST = 1u << 2,
	M_DELETE = 1u << 3,
};

/*
 * One row of the routing table: everything the front end decides about a path before the
 * body is read. The first row whose shape matches the path wins; see route_path().
 */
struct route {
	/*
	 * Segments separated by '/': literals, "{name}" (a model name) and "{version}" (a
	 * model version), both checked against [A-Za-z0-9_.-]{1,64}; a last "**" matches any
	 * further segments (a row without handler then answers 404, after its checks).
	 */
	const char *pattern;
	unsigned methods;         /* M_*: anything else is a 405 with Allow */
	const char *what;         /* named in the 405 message ("on infer"), or NULL */
	bool admin;               /* peer credentials and admin_peer_allowed() required */
	bool audit;               /* who called it is worth a journal line of its own */
	bool needs_set;           /* holds the served set from the head to the completion */
	bool needs_model;         /* and finds the path's model in it (404 or 503 otherwise) */
	enum metrics_endpoint ep; /* the metrics label */
	enum MHD_Result (*handler)(struct MHD_Connection *c, struct req *r);
	admin_fn *act; /* the admin action behind do_admin() */
};

/* One request; it lives inside its connection since HTTP/1.1 runs one at a time. */
struct req {
	uint64_t start;                 /* CLOCK_MONOTONIC ns: when the request line came in */
	const struct route *route;      /* NULL until routed, and when no route matched */
	const struct repo_entry *entry; /* the path's model, for needs_model routes */
	enum metrics_endpoint ep;
	bool head_only;       /* HEAD: MHD drops the body for us */
	bool discard;         /* an error is pending: read and drop the body */
	bool too_big;         /* the body went over max_body_bytes */
	unsigned err_status;  /* pending error status, 0 = none */
	const char *allow;    /* Allow header for a pending 405 */
	char err[160];        /* pending error message */
	char name[65];        /* model name from the path */
	char version[65];     /* model version from the path, "" = highest */
	char path[48];        /* the start of the path, for the admin log line */
	bool is_delete;       /* DELETE (rollback --clear) */
	bool close;           /* answer with Connection: close (the framing is in doubt) */
	bool reloading;       /* a reload is built for this request (the connection suspended) */
	char method[8];       /* for the admin log line */
	struct repo_set *set; /* held from the first call to completion */
	char *body;           /* the upload, NUL-terminated */
	size_t len, cap;
	uint64_t seen; /* upload bytes seen, kept or not */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool have_cred;
	bool gzip_ok;        /* Accept-Encoding takes gzip */
	struct zbody *zin;   /* decoding a gzip or deflate body, else NULL */
	uint64_t t_dispatch; /* infer timings for the statistics extension */
	uint64_t t_decoded;
	uint64_t t_predicted;
	uint64_t rows;
};

/* One libmicrohttpd daemon: the Unix socket's, or the TCP listener's. */
struct listener {
	struct MHD_Daemon *d;
	bool tcp;
};

struct conn {
	struct req req;
	bool have_cred;
	bool tcp;       /* no peer credentials: admin routes are refused */
	bool active;    /* a request line has arrived and its answer is not sent yet */
	bool cut;       /* shut down by http_expire(); MHD closes it */
	int fd;         /* for shutdown() only: MHD owns and closes it */
	uint64_t since; /* CLOCK_MONOTONIC ns: request start, else when it went idle */
	uint64_t busy;  /* during a stop: when last seen with a request or unread bytes */
	char peer[64];  /* for log lines */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct conn *prev, *next;
};

/* Limits that a reload may change; read only from the loop thread. */
struct http_limits {
	size_t max_body_bytes;
	size_t max_rows;
	unsigned max_json_depth;
	unsigned connection_timeout;
	unsigned max_connections;
	size_t max_header_bytes;
	unsigned max_headers;
	unsigned request_timeout;
};

static struct listener listeners[2]; /* [0] the Unix socket, [1] TCP (d NULL when off) */
static struct http_limits lim;
static unsigned start_timeout;
static size_t pool_header_bytes; /* the max_header_bytes MHD's pool was sized for */
static size_t pool_fields;       /* and the max_headers */
static unsigned fd_conn_limit;   /* connections the fd limit allows */
static struct conn *conns;       /* every open connection, for http_expire() */
/* Open connections not yet cut, per listener ([0] Unix, [1] TCP): separate budgets. */
static unsigned n_live[2];
static bool quiesced;
static uint64_t quiesce_ns;          /* when http_quiesce() ran */
static int listen_fds[2] = {-1, -1}; /* ours, for the last accepts at quiesce */
static unsigned in_flight;           /* requests between their first call and their completion */
static char *meta_body[2];           /* by listener: the extensions each one serves */
static size_t meta_body_len[2];
/* The reload being built on the loader thread and its suspended request (one at a time). */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Connection *reload_conn; /* suspended until the build is over */
static bool reload_built;

static const char live_body[] = "{\"live\":true}";
static const char ctype_json[] = "application/json";
static const char ctype_binary[] = "application/octet-stream";
/* The binary tensor data extension's framing: the JSON's length inside the body. */
static const char hdr_ihcl[] = "Inference-Header-Content-Length";
static const char ctype_metrics[] = "text/plain; version=0.0.4; charset=utf-8";

static void limits_from_conf(const struct conf *c)
{
	lim.max_body_bytes = (size_t)c->max_body_bytes;
	lim.max_rows = (size_t)c->max_rows;
	lim.max_json_depth = (unsigned)c->max_json_depth;
	lim.connection_timeout = (unsigned)c->connection_timeout;
	lim.max_connections = (unsigned)c->max_connections;
	lim.max_header_bytes = (size_t)c->max_header_bytes;
	lim.max_headers = (unsigned)c->max_headers;
	lim.request_timeout = (unsigned)c->request_timeout;
}

/* The connection a request belongs to: req is the first member of struct conn. */
static struct conn *conn_of(struct req *r)
{
	return (struct conn *)(void *)r;
}

/* Replaces a body by its gzip encoding (freeing the old one when it was ours). 0 or -errno. */
static int http_gzip_body(void **body, size_t *len, enum MHD_ResponseMemoryMode *mode)
{
	void *z;
	size_t zlen;

	if (zbody_gzip(*body, *len, &z, &zlen) < 0)
		return -ENOMEM;
	if (*mode == MHD_RESPMEM_MUST_FREE)
		free(*body);
	*body = z;
	*len = zlen;
	*mode = MHD_RESPMEM_MUST_FREE;
	return 0;
}

/* Counts an answered infer request in the model's statistics (mstats). */
static void http_count_infer(const struct req *r, unsigned status, uint64_t now)
{
	struct mstats_times t = {.total_ns = now - r->start};
	bool ok = status == MHD_HTTP_OK && r->t_predicted != 0;
	/* Refused before the model was looked up (a bad encoding, too big): still its failure. */
	const struct repo_entry *e =
	    r->entry ? r->entry : repo_find(r->set, r->name, r->version[0] ? r->version : NULL);

	if (e == NULL)
		return;

	if (ok) {
		t.input_ns = r->t_decoded - r->t_dispatch;
		t.infer_ns = r->t_predicted - r->t_decoded;
		t.output_ns = now - r->t_predicted;
	}
	mstats_record(e->name, e->version, ok, &t, r->rows);
}

/*
 * The one response helper: queues status with body (taken over per mode), records the
 * request in the metrics.
 */
static enum MHD_Result respond(struct MHD_Connection *c, struct req *r, unsigned status,
                               const char *ctype, void *body, size_t len,
                               enum MHD_ResponseMemoryMode mode, const char *hname,
                               const char *hval)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	uint64_t now;
	bool gz = false;

	if (r->gzip_ok && hname == NULL && len >= HTTP_GZIP_MIN &&
	    http_gzip_body(&body, &len, &mode) == 0)
		gz = true;
	resp = MHD_create_response_from_buffer(len, body, mode);
	if (resp == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	/* While stopping, keep-alive clients are told to go once they have their answer. */
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    (hname != NULL && MHD_add_response_header(resp, hname, hval) != MHD_YES) ||
	    (gz &&
	     (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") != MHD_YES ||
	      MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding") != MHD_YES)) ||
	    ((quiesced || r->close) &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	/* One clock read serves the latency and the answer's own request_timeout. */
	now = util_monotonic_ns();
	metrics_observe(r->ep, status, now - r->start);
	if (r->ep == METRICS_EP_INFER && r->set != NULL)
		http_count_infer(r, status, now);
	/* The answer gets a request_timeout of its own to be read by a slow client. */
	conn_of(r)->since = now;
	return ret;
}

/* Answers a JSON object built by the caller (stolen). */
static enum MHD_Result respond_json(struct MHD_Connection *c, struct req *r, unsigned status,
                                    json_t *obj, const char *hname, const char *hval)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	if (s == NULL) {
		static const char oom[] = "{\"error\":\"out of memory\"}";
		return respond(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, ctype_json, (void *)oom,
		               sizeof oom - 1, MHD_RESPMEM_PERSISTENT, NULL, NULL);
	}
	return respond(c, r, status, ctype_json, s, strlen(s), MHD_RESPMEM_MUST_FREE, hname, hval);
}

/* Error text may quote client bytes: keep it printable ASCII so it is valid JSON text. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* The error idiom: {"error": msg} with status, logged at debug only (clients cause these). */
static enum MHD_Result fail_msg(struct MHD_Connection *c, struct req *r, unsigned status,
                                const char *allow, const char *msg)
{
	char buf[320];

	snprintf(buf, sizeof buf, "%s", msg);
	sanitize(buf);
	log_debug("http %u: %s", status, buf);
	return respond_json(c, r, status, json_pack("{s:s}", "error", buf),
	                    allow ? MHD_HTTP_HEADER_ALLOW : NULL, allow);
}

/* Records an error to answer once the request is complete (keeps the connection alive). */
static void set_error(struct req *r, unsigned status, const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(struct req *r, unsigned status, const char *allow, const char *fmt, ...)
{
	va_list ap;

	if (r->err_status != 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	r->err_status = status;
	r->allow = allow;
	r->discard = true;
}

/* Finds the model of the path in the held set; leaves a 404 or 503 pending otherwise. */
static const struct repo_entry *find_entry(struct req *r)
{
	const struct repo_entry *e;

	if (r->set == NULL) {
		set_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "no models loaded yet");
		return NULL;
	}
	e = repo_find(r->set, r->name, r->version[0] ? r->version : NULL);
	if (e != NULL)
		return e;
	if (r->version[0] && repo_find(r->set, r->name, NULL) != NULL)
		set_error(r, MHD_HTTP_NOT_FOUND, NULL, "model %s has no version %s", r->name,
		          r->version);
	else
		set_error(r, MHD_HTTP_NOT_FOUND, NULL, "unknown model: %s", r->name);
	return NULL;
}

/* A list of n strings as JSON, or null when the model has none. */
static json_t *strings_or_null(const char *const *v, size_t n)
{
	json_t *a;

	if (!v)
		return json_null();
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i] ? v[i] : ""));
	return a;
}

/* The outputs e serves, as metadata tensors: name, datatype and shape [-1, dims...]. */
static json_t *meta_outputs(const struct repo_entry *e, const struct model_info *mi)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < CONF_N_OUTPUTS; i++) {
		size_t ndims, dims[2];
		bool int32;
		json_t *shape;

		if (!(e->outputs & (1u << i)))
			continue;
		outputs_shape(mi, e->tree_limit, 1u << i, &ndims, dims, &int32);
		shape = json_pack("[i]", -1);
		for (size_t d = 0; shape && d < ndims; d++)
			json_array_append_new(shape, json_integer((json_int_t)dims[d]));
		json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", conf_output_names[i],
		                                   "datatype", int32 ? "INT32" : "FP32", "shape",
		                                   shape));
	}
	return a;
}

/*
 * GET /v2/models/{name}[/versions/{version}]: the OIP metadata, with the served outputs
 * and their shapes, and in parameters what describes the model (objective, booster, tree
 * counts, early stopping and the trees served, base_score, classes, feature names/types).
 */
static enum MHD_Result do_model_meta(struct MHD_Connection *c, struct req *r)
{
	const struct repo_entry *e = r->entry;
	const struct model_info *mi = model_get_info(e->model);
	json_t *versions = json_array();
	json_t *obj, *params, *classes = json_null();

	for (size_t i = 0; versions && i < r->set->n; i++)
		if (strcmp(r->set->v[i].name, e->name) == 0)
			json_array_append_new(versions, json_string(r->set->v[i].version));
	if (mi->classifier) {
		classes = json_array();
		for (size_t i = 0; classes && i < mi->num_classes; i++)
			json_array_append_new(classes,
			                      json_real(mi->classes ? mi->classes[i] : (double)i));
	}
	params = json_pack(
	    "{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:f, s:o, s:I, s:s, s:I, s:o, s:o, s:b, s:o}",
	    "objective", mi->objective ? mi->objective : "", "booster",
	    mi->booster ? mi->booster : "", "num_trees", (json_int_t)mi->num_trees, "num_feature",
	    (json_int_t)mi->num_feature, "sha256", e->sha256, "xgboost_version",
	    mi->xgboost_version ? mi->xgboost_version : "", "num_class",
	    (json_int_t)(mi->num_group > 1 ? mi->num_group : 0), "base_score", mi->base_score,
	    "best_iteration",
	    mi->best_iteration >= 0 ? json_integer((json_int_t)mi->best_iteration) : json_null(),
	    "best_tree_limit", (json_int_t)mi->best_tree_limit, "trees",
	    e->trees == CONF_TREES_BEST ? "best" : "all", "trees_used",
	    (json_int_t)outputs_trees(mi, e->tree_limit), "feature_names",
	    strings_or_null(mi->feature_names, mi->num_feature), "feature_types",
	    strings_or_null(mi->feature_types, mi->num_feature), "classifier", mi->classifier,
	    "classes", classes);
	obj = json_pack("{s:s, s:o, s:s, s:[{s:s, s:s, s:[iI]}], s:o, s:o}", "name", e->name,
	                "versions", versions, "platform", "xgboost_json", "inputs", "name", "input",
	                "datatype", "FP32", "shape", -1, (json_int_t)e->num_feature, "outputs",
	                meta_outputs(e, mi), "parameters", params);
	return respond_json(c, r, MHD_HTTP_OK, obj, NULL, NULL);
}

static enum MHD_Result count_ihcl(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, hdr_ihcl) == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

/*
 * Reads Inference-Header-Content-Length: *framed false when absent, else its value in
 * *json_len. Leaves a message in err (and returns -EINVAL) when it is not one byte count.
 */
static int header_length(struct MHD_Connection *c, bool *framed, size_t *json_len, char *err,
                         size_t errlen)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, hdr_ihcl);
	unsigned n = 0;
	uint64_t x = 0;

	*framed = v != NULL;
	*json_len = 0;
	if (v == NULL)
		return 0;
	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_ihcl, &n);
	if (n > 1) {
		snprintf(err, errlen, "%s given %u times", hdr_ihcl, n);
		return -EINVAL;
	}
	/* Digits only: no sign, no spaces inside, no hex, nothing strtoull would forgive. */
	for (const char *p = v;; p++) {
		if (*p == '\0' && p != v)
			break;
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - 9) / 10) {
			snprintf(err, errlen, "%s: \"%.32s\" is not a byte count", hdr_ihcl, v);
			return -EINVAL;
		}
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x > SIZE_MAX) {
		snprintf(err, errlen, "%s: %" PRIu64 " exceeds the body length", hdr_ihcl, x);
		return -EINVAL;
	}
	*json_len = (size_t)x;
	return 0;
}

/*
 * The outputs a request gets (want: the ones it names, else every one the model serves)
 * with their per-row shapes in outs[] (data still unset) and the values they take in
 * *total. Leaves a 400 message when the request names an output the model does not serve
 * (naming the key that enables it), or when one output would hold more than
 * max(max_rows, max_body_bytes / 2) values: one per row, or as many as an input tensor
 * could. A model with many classes (up to 65536, see model.c) then cannot turn an allowed
 * batch into gigabytes of response. The arithmetic cannot overflow.
 */
static int plan_outputs(const struct repo_entry *e, const struct infer_request *in, unsigned *want,
                        struct infer_output *outs, size_t *n_outs, size_t *total, char *err,
                        size_t errlen)
{
	const struct model_info *mi = model_get_info(e->model);
	size_t cap = lim.max_body_bytes / 2 > lim.max_rows ? lim.max_body_bytes / 2 : lim.max_rows;
	unsigned w = in->want ? in->want : e->outputs;

	*n_outs = 0;
	*total = 0;
	for (unsigned i = 0; i < CONF_N_OUTPUTS; i++) {
		unsigned bit = 1u << i;
		struct infer_output *o;
		size_t width, values;

		if (!(w & bit))
			continue;
		if (!(e->outputs & bit)) {
			if (outputs_available(mi) & bit)
				snprintf(err, errlen,
				         "outputs: \"%s\" is not enabled for model %s: list it in "
				         "the model's outputs key (outputs = [ ..., \"%s\" ]) in "
				         "inferd.conf",
				         conf_output_names[i], e->name, conf_output_names[i]);
			else
				snprintf(err, errlen,
				         "outputs: \"%s\" is not an output of model %s (%s)",
				         conf_output_names[i], e->name,
				         bit == CONF_OUT_LEAF ? "gblinear has no leaves"
				                              : "not a scikit-learn classifier");
			return -EINVAL;
		}
		o = &outs[(*n_outs)++];
		memset(o, 0, sizeof(*o));
		o->name = conf_output_names[i];
		o->nrows = in->nrows;
		o->binary = (in->want ? in->binary & bit : in->binary_all) != 0;
		width = outputs_shape(mi, e->tree_limit, bit, &o->ndims, o->dims, &o->int32);
		o->width = width;
		if (__builtin_mul_overflow(in->nrows, width, &values) || values > cap) {
			snprintf(err, errlen,
			         "inputs[0].shape[0]: %zu rows of %zu %s values each exceed the "
			         "limit of %zu values per output (max_rows or max_body_bytes / 2); "
			         "send fewer rows",
			         in->nrows, width, o->name, cap);
			return -EFBIG;
		}
		if (__builtin_add_overflow(*total, values, total) ||
		    *total > SIZE_MAX / sizeof(float)) {
			snprintf(err, errlen,
			         "inputs[0].shape[0]: %zu rows: the outputs do not fit in memory",
			         in->nrows);
			return -EFBIG;
		}
	}
	*want = w;
	return 0;
}

/*
 * POST .../infer: decodes the request (JSON, or binary tensors after the JSON), repacks
 * the rows when the served width differs from the model's, bounds the output, predicts
 * and encodes. Outputs of up to HTTP_STACK_FLOATS floats stay on the stack: this is the
 * hot path, and most requests are small.
 */
static enum MHD_Result do_infer(struct MHD_Connection *c, struct req *r)
{
	const struct repo_entry *e = r->entry;
	const struct model_info *mi = model_get_info(e->model);
	struct infer_request in = {0};
	struct infer_limits il;
	struct infer_output outs[CONF_N_OUTPUTS];
	struct outputs_model om = {e->model, e->tree_limit, e->shap ? e->shap->forest : NULL};
	void *dst[CONF_N_OUTPUTS] = {0};
	float stackbuf[HTTP_STACK_FLOATS];
	float *buf = stackbuf, *rows, *repacked = NULL;
	size_t n_outs = 0, need, nf = e->num_feature;
	unsigned want = 0;
	char err[256], *out = NULL, ihcl[24];
	size_t outlen = 0, json_len = 0;
	bool framed;
	enum MHD_Result ret;
	int rc;

	il.max_rows = lim.max_rows;
	il.max_elements = lim.max_body_bytes / 2; /* an element takes two bytes at least */
	if (nf != 0 && lim.max_rows <= il.max_elements / nf)
		il.max_elements = lim.max_rows * nf;
	il.max_depth = lim.max_json_depth;
	il.feature_names = nf == mi->num_feature ? mi->feature_names : NULL;
	rc = header_length(c, &framed, &json_len, err, sizeof err);
	if (rc < 0)
		return fail_msg(c, r, MHD_HTTP_BAD_REQUEST, NULL, err);
	if (framed)
		rc = infer_decode_binary(r->body ? r->body : "", r->len, json_len, nf, &il, &in,
		                         err, sizeof err);
	else
		rc = infer_decode(r->body ? r->body : "", r->len, nf, &il, &in, err, sizeof err);
	if (rc == -ENOMEM) {
		infer_request_free(&in);
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	}
	if (rc < 0) {
		infer_request_free(&in);
		return fail_msg(c, r, MHD_HTTP_BAD_REQUEST, NULL, err);
	}
	r->t_decoded = util_monotonic_ns();
	rows = in.data;
	if (mi->num_feature != nf) {
		/* A pinned width differs from the model's: pad with missing or drop columns. */
		size_t mf = mi->num_feature, keep = mf < nf ? mf : nf;
		repacked = malloc((in.nrows ? in.nrows : 1) * (mf ? mf : 1) * sizeof(float));
		if (repacked == NULL) {
			infer_request_free(&in);
			return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			                "out of memory");
		}
		for (size_t i = 0; i < in.nrows; i++)
			for (size_t j = 0; j < mf; j++)
				repacked[i * mf + j] = j < keep ? in.data[i * nf + j] : NAN;
		rows = repacked;
	}
	rc = plan_outputs(e, &in, &want, outs, &n_outs, &need, err, sizeof err);
	if (rc < 0) {
		free(repacked);
		infer_request_free(&in);
		return fail_msg(c, r, MHD_HTTP_BAD_REQUEST, NULL, err);
	}
	if (need > HTTP_STACK_FLOATS) {
		buf = malloc(need * sizeof(float));
		if (buf == NULL) {
			free(repacked);
			infer_request_free(&in);
			return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
			                "out of memory");
		}
	}
	need = 0;
	for (size_t i = 0; i < n_outs; i++) {
		for (unsigned k = 0; k < CONF_N_OUTPUTS; k++)
			if (outs[i].name == conf_output_names[k])
				dst[k] = buf + need;
		outs[i].data = buf + need;
		need += outs[i].nrows * outs[i].width;
	}
	rc = outputs_compute(&om, rows, in.nrows, want, dst);
	if (rc < 0) {
		if (buf != stackbuf)
			free(buf);
		free(repacked);
		infer_request_free(&in);
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
		                rc == -ENOMEM ? "out of memory"
		                              : "the model cannot give an output");
	}
	r->t_predicted = util_monotonic_ns();
	r->rows = in.nrows;
	rc =
	    infer_encode_binary(e->name, e->version, in.id, outs, n_outs, &out, &outlen, &json_len);
	if (buf != stackbuf)
		free(buf);
	free(repacked);
	metrics_add_rows(in.nrows);
	infer_request_free(&in);
	if (rc < 0)
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	if (json_len == outlen)
		return respond(c, r, MHD_HTTP_OK, ctype_json, out, outlen, MHD_RESPMEM_MUST_FREE,
		               NULL, NULL);
	/* Binary outputs follow the JSON: the header says where the JSON ends. */
	snprintf(ihcl, sizeof ihcl, "%zu", json_len);
	ret = respond(c, r, MHD_HTTP_OK, ctype_binary, out, outlen, MHD_RESPMEM_MUST_FREE, hdr_ihcl,
	              ihcl);
	return ret;
}

static enum MHD_Result do_metrics(struct MHD_Connection *c, struct req *r)
{
	char *out = NULL;
	size_t len = 0;

	if (metrics_render(r->set, &out, &len) < 0)
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	return respond(c, r, MHD_HTTP_OK, ctype_metrics, out, len, MHD_RESPMEM_MUST_FREE, NULL,
	               NULL);
}

/* The admin and repository routes; the peer was authorized in begin(). */
/* Answers an admin action's result, with a journal line of its own for audited routes. */
static enum MHD_Result answer_admin(struct MHD_Connection *c, struct req *r, int st, json_t *out)
{
	if (r->route->audit) {
		/* Who changed what is worth a journal line of its own. */
		char uid[24];
		const struct log_field f[] = {{"PEER_UID", uid}};
		snprintf(uid, sizeof uid, "%u", (unsigned)r->uid);
		log_fields(LOG_LVL_INFO, f, 1, "%s %s by uid %s (pid %d): %d", r->method, r->path,
		           uid, (int)r->pid, st);
	}
	return respond_json(c, r, (unsigned)st, out, NULL, NULL);
}

/* On the loader thread: the build is over; the suspended request may go on. */
static void reload_done_cb(void *cls)
{
	(void)cls;
	pthread_mutex_lock(&reload_lock);
	reload_built = true;
	if (reload_conn != NULL) {
		MHD_resume_connection(reload_conn);
		reload_conn = NULL;
	}
	pthread_mutex_unlock(&reload_lock);
}

/*
 * POST /v2/admin/reload without stopping the HTTP thread: the first call starts the build
 * on the loader thread and suspends the connection; the loader resumes it when done, MHD
 * calls us again, and the swap and the answer happen here, on the HTTP thread.
 */
static enum MHD_Result do_reload(struct MHD_Connection *c, struct req *r)
{
	json_t *out = NULL;
	bool built;
	int st;

	if (!r->reloading) {
		pthread_mutex_lock(&reload_lock);
		reload_built = false;
		pthread_mutex_unlock(&reload_lock);
		st = admin_reload_start(reload_done_cb, NULL, &out);
		if (st != 0)
			return answer_admin(c, r, st, out);
		r->reloading = true;
		pthread_mutex_lock(&reload_lock);
		built = reload_built;
		if (!built) {
			MHD_suspend_connection(c);
			reload_conn = c;
		}
		pthread_mutex_unlock(&reload_lock);
		if (!built)
			return MHD_YES;
	}
	r->reloading = false;
	st = admin_reload_finish(&out);
	return answer_admin(c, r, st, out);
}

static enum MHD_Result do_admin(struct MHD_Connection *c, struct req *r)
{
	struct admin_req rq = {
	    .name = r->name, .body = r->body, .len = r->len, .is_delete = r->is_delete};
	json_t *out = NULL;
	int st;

	if (r->route->act == admin_reload)
		return do_reload(c, r);
	st = r->route->act(&rq, &out);
	return answer_admin(c, r, st, out);
}

static enum MHD_Result do_live(struct MHD_Connection *c, struct req *r)
{
	return respond(c, r, MHD_HTTP_OK, ctype_json, (void *)live_body, sizeof live_body - 1,
	               MHD_RESPMEM_PERSISTENT, NULL, NULL);
}

static enum MHD_Result do_ready(struct MHD_Connection *c, struct req *r)
{
	if (r->set == NULL || r->set->n == 0)
		return respond_json(
		    c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    json_pack("{s:b, s:s}", "ready", 0, "error",
		              r->set ? "no models are served" : "no models loaded yet"),
		    NULL, NULL);
	return respond_json(c, r, MHD_HTTP_OK, json_pack("{s:b}", "ready", 1), NULL, NULL);
}

static enum MHD_Result do_server_meta(struct MHD_Connection *c, struct req *r)
{
	size_t l = conn_of(r)->tcp ? 1 : 0;

	return respond(c, r, MHD_HTTP_OK, ctype_json, meta_body[l], meta_body_len[l],
	               MHD_RESPMEM_PERSISTENT, NULL, NULL);
}

/* GET /v2/models: the served model names (triton.c). */
static enum MHD_Result do_model_list(struct MHD_Connection *c, struct req *r)
{
	json_t *out = NULL;

	if (triton_model_list(r->set, &out) < 0)
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	return respond_json(c, r, MHD_HTTP_OK, out, NULL, NULL);
}

/* GET .../config: Triton's model configuration extension (triton.c). */
static enum MHD_Result do_model_config(struct MHD_Connection *c, struct req *r)
{
	json_t *out = NULL;

	if (triton_config(r->set, r->entry, lim.max_rows, &out) < 0)
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	return respond_json(c, r, MHD_HTTP_OK, out, NULL, NULL);
}

/* GET /v2/models[/{name}[/versions/{v}]]/stats: Triton's statistics extension (triton.c). */
static enum MHD_Result do_stats(struct MHD_Connection *c, struct req *r)
{
	json_t *out = NULL;
	int rc;

	if (r->set == NULL)
		return fail_msg(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "no models loaded yet");
	rc = triton_stats(r->set, r->name[0] ? r->name : NULL, r->version, &out);
	if (rc == -ENOENT)
		return fail_msg(c, r, MHD_HTTP_NOT_FOUND, NULL, "unknown model");
	if (rc < 0)
		return fail_msg(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	return respond_json(c, r, MHD_HTTP_OK, out, NULL, NULL);
}

static enum MHD_Result do_model_ready(struct MHD_Connection *c, struct req *r)
{
	return respond_json(c, r, MHD_HTTP_OK,
	                    json_pack("{s:s, s:s, s:b}", "name", r->entry->name, "version",
	                              r->entry->version, "ready", 1),
	                    NULL, NULL);
}

/*
 * The routing table: every route, its methods, who may call it, its metrics label and its
 * handler. Order matters only for the catch-all rows ("**"), which come after the routes
 * they stand behind: they make a bad name or version under /v2/models a 400, and anything
 * else there a 404. The model routes come first because infer is the hot path. A new
 * endpoint is one row here (and its handler).
 */
static const struct route routes[] = {
    {.pattern = "/v2/models/stats",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .ep = METRICS_EP_STATS,
     .handler = do_stats},
    {.pattern = "/v2/models/{name}",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_META,
     .handler = do_model_meta},
    {.pattern = "/v2/models/{name}/versions/{version}",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_META,
     .handler = do_model_meta},
    {.pattern = "/v2/models/{name}/ready",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_READY,
     .handler = do_model_ready},
    {.pattern = "/v2/models/{name}/versions/{version}/ready",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_READY,
     .handler = do_model_ready},
    {.pattern = "/v2/models/{name}/infer",
     .methods = M_POST,
     .what = "infer",
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_INFER,
     .handler = do_infer},
    {.pattern = "/v2/models/{name}/versions/{version}/infer",
     .methods = M_POST,
     .what = "infer",
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_INFER,
     .handler = do_infer},
    {.pattern = "/v2/models",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .ep = METRICS_EP_MODEL_LIST,
     .handler = do_model_list},
    {.pattern = "/v2/models/{name}/config",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_CONFIG,
     .handler = do_model_config},
    {.pattern = "/v2/models/{name}/versions/{version}/config",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_MODEL_CONFIG,
     .handler = do_model_config},
    {.pattern = "/v2/models/{name}/stats",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_STATS,
     .handler = do_stats},
    {.pattern = "/v2/models/{name}/versions/{version}/stats",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .needs_model = true,
     .ep = METRICS_EP_STATS,
     .handler = do_stats},
    {.pattern = "/metrics",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .ep = METRICS_EP_METRICS,
     .handler = do_metrics},
    {.pattern = "/v2",
     .methods = M_GET | M_HEAD,
     .ep = METRICS_EP_SERVER_META,
     .handler = do_server_meta},
    {.pattern = "/v2/health/live",
     .methods = M_GET | M_HEAD,
     .ep = METRICS_EP_LIVE,
     .handler = do_live},
    {.pattern = "/v2/health/ready",
     .methods = M_GET | M_HEAD,
     .needs_set = true,
     .ep = METRICS_EP_READY,
     .handler = do_ready},
    {.pattern = "/v2/repository/index",
     .methods = M_POST,
     .what = "this endpoint",
     .admin = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_repo_index},
    {.pattern = "/v2/repository/models/{name}/load",
     .methods = M_POST,
     .what = "this endpoint",
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_repo_load},
    {.pattern = "/v2/repository/models/{name}/unload",
     .methods = M_POST,
     .what = "this endpoint",
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_repo_unload},
    {.pattern = "/v2/admin/reload",
     .methods = M_POST,
     .what = "this endpoint",
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_reload},
    {.pattern = "/v2/admin/mark-good",
     .methods = M_POST,
     .what = "this endpoint",
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_mark_good},
    {.pattern = "/v2/admin/rollback",
     .methods = M_POST | M_DELETE,
     .what = "rollback",
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_rollback},
    {.pattern = "/v2/admin/state",
     .methods = M_GET | M_HEAD,
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_state},
    {.pattern = "/v2/admin/fingerprint",
     .methods = M_GET | M_HEAD,
     .admin = true,
     .audit = true,
     .ep = METRICS_EP_REPOSITORY,
     .handler = do_admin,
     .act = admin_fingerprint},
    {.pattern = "/v2/models/{name}/versions/{version}/**", .methods = 0, .ep = METRICS_EP_OTHER},
    {.pattern = "/v2/models/{name}/**", .methods = 0, .ep = METRICS_EP_OTHER},
};

struct seg {
	const char *p;
	size_t n;
};

/* The pattern's next segment from *pat on (advancing it); false at the pattern's end. */
static bool next_pattern_seg(const char **pat, struct seg *out)
{
	const char *s, *e;

	if (**pat != '/')
		return false;
	s = *pat + 1;
	e = strchr(s, '/');
	out->p = s;
	out->n = e ? (size_t)(e - s) : strlen(s);
	*pat = s + out->n;
	return true;
}

static bool seg_eq(const struct seg *a, const struct seg *b)
{
	return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static bool seg_is(const struct seg *s, const char *lit)
{
	return s->n == strlen(lit) && memcmp(s->p, lit, s->n) == 0;
}

enum seg_kind { SEG_LITERAL, SEG_NAME, SEG_VERSION };

/* A route's pattern split once by compile_routes(): matching then scans no strings. */
struct route_shape {
	struct seg seg[HTTP_MAX_SEGS];
	enum seg_kind kind[HTTP_MAX_SEGS];
	size_t n;
	bool tail; /* ends in "**": any further segments match */
};

static struct route_shape shapes[sizeof routes / sizeof routes[0]];
static bool routes_compiled;

/* Splits every pattern of the table into shapes[] (once; the table is constant). */
static void compile_routes(void)
{
	for (size_t k = 0; k < sizeof routes / sizeof routes[0] && !routes_compiled; k++) {
		const char *pat = routes[k].pattern;
		struct route_shape *sh = &shapes[k];
		struct seg ps;

		while (sh->n < HTTP_MAX_SEGS && next_pattern_seg(&pat, &ps)) {
			if (seg_is(&ps, "**")) {
				sh->tail = true;
				break;
			}
			sh->kind[sh->n] = seg_is(&ps, "{name}")      ? SEG_NAME
			                  : seg_is(&ps, "{version}") ? SEG_VERSION
			                                             : SEG_LITERAL;
			sh->seg[sh->n++] = ps;
		}
	}
	routes_compiled = true;
}

/* True when the n segments sg have the shape sh: its length, its literals. */
static bool shape_matches(const struct route_shape *sh, const struct seg *sg, size_t n)
{
	if (sh->tail ? n < sh->n : n != sh->n)
		return false;
	for (size_t i = 0; i < sh->n; i++)
		if (sh->kind[i] == SEG_LITERAL && !seg_eq(&sh->seg[i], &sg[i]))
			return false;
	return true;
}

/* Copies the path's {name} and {version} into r; a bad one leaves a 400 pending. */
static void take_placeholders(struct req *r, const struct route_shape *sh, const struct seg *sg)
{
	for (size_t i = 0; i < sh->n; i++) {
		bool version = sh->kind[i] == SEG_VERSION;
		char *dst = version ? r->version : r->name;

		if (sh->kind[i] == SEG_LITERAL)
			continue;
		if (!util_valid_name_n(sg[i].p, sg[i].n)) {
			set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "invalid model %s: must match %s",
			          version ? "version" : "name", "[A-Za-z0-9_.-]{1,64}");
			return;
		}
		memcpy(dst, sg[i].p, sg[i].n);
		dst[sg[i].n] = '\0';
	}
}

/*
 * Splits the path into segments (refusing bytes, empty, '.' and '..' segments with a 400)
 * and finds its row in the routing table; on failure leaves a 400 or 404 pending in r.
 */
static void route_path(struct req *r, const char *url)
{
	struct seg sg[HTTP_MAX_SEGS];
	size_t n = 0;
	const char *p = url;

	r->route = NULL;
	r->ep = METRICS_EP_OTHER;
	if (*p != '/') {
		set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "invalid path: must start with '/'");
		return;
	}
	for (const char *q = p; *q; q++) {
		unsigned char ch = (unsigned char)*q;
		if (ch < 0x21 || ch >= 0x7f || ch == '%' || ch == '\\') {
			set_error(r, MHD_HTTP_BAD_REQUEST, NULL,
			          "invalid path: byte 0x%02x at offset %zu is not allowed", ch,
			          (size_t)(q - url));
			return;
		}
	}
	while (*p == '/') {
		const char *s = p + 1, *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		/* "/v2/" is "/v2" (KServe clients ask for server metadata with the slash). */
		if (len == 0 && n == 1 && p[1] == '\0' && seg_is(&sg[0], "v2"))
			break;
		if (len == 0) {
			set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "invalid path: empty segment");
			return;
		}
		if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
			set_error(r, MHD_HTTP_BAD_REQUEST, NULL,
			          "invalid path: '.' and '..' segments are not allowed");
			return;
		}
		if (n == HTTP_MAX_SEGS) {
			set_error(r, MHD_HTTP_NOT_FOUND, NULL, "no such route: %.100s", url);
			return;
		}
		sg[n].p = s;
		sg[n].n = len;
		n++;
		p = s + len;
	}
	for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
		if (!shape_matches(&shapes[k], sg, n))
			continue;
		take_placeholders(r, &shapes[k], sg);
		if (r->err_status != 0)
			return;
		if (routes[k].handler == NULL)
			break;
		r->route = &routes[k];
		r->ep = routes[k].ep;
		return;
	}
	set_error(r, MHD_HTTP_NOT_FOUND, NULL, "no such route: %.100s", url);
}

/* Checks the method against the route's; leaves a 405 with Allow pending when it is wrong. */
static void check_method(struct req *r, const char *method)
{
	static const struct {
		unsigned bit;
		const char *name;
	} known[] = {{M_GET, MHD_HTTP_METHOD_GET},
	             {M_HEAD, MHD_HTTP_METHOD_HEAD},
	             {M_POST, MHD_HTTP_METHOD_POST},
	             {M_DELETE, MHD_HTTP_METHOD_DELETE}};
	/* The Allow values and the advice, by the methods a route accepts. */
	static const struct {
		unsigned methods;
		const char *allow;
		const char *use;
	} allows[] = {{M_GET | M_HEAD, "GET, HEAD", "GET or HEAD"},
	              {M_POST, "POST", "POST"},
	              {M_POST | M_DELETE, "POST, DELETE", "POST or DELETE"}};
	unsigned bit = 0;

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(method, known[i].name) == 0)
			bit = known[i].bit;
	r->head_only = bit == M_HEAD;
	if (bit & r->route->methods)
		return;
	for (size_t i = 0; i < sizeof allows / sizeof allows[0]; i++) {
		if (allows[i].methods != r->route->methods)
			continue;
		if (r->route->what)
			set_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, allows[i].allow,
			          "method %.16s not allowed on %s: use %s", method, r->route->what,
			          allows[i].use);
		else
			set_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, allows[i].allow,
			          "method %.16s not allowed: use %s", method, allows[i].use);
		return;
	}
	set_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "method %.16s not allowed", method);
}

/* The final call: the whole request is in; answer it. */
static enum MHD_Result dispatch(struct MHD_Connection *c, struct req *r)
{
	if (r->too_big) {
		snprintf(r->err, sizeof r->err, "request body exceeds max_body_bytes (%zu)",
		         lim.max_body_bytes);
		return fail_msg(c, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL, r->err);
	}
	/* No body at all is no stream to finish (a GET that names an encoding). */
	if (r->zin != NULL && r->seen > 0 && r->err_status == 0 &&
	    zbody_finish(r->zin, r->err, sizeof r->err) < 0)
		return fail_msg(c, r, MHD_HTTP_BAD_REQUEST, NULL, r->err);
	if (r->err_status != 0)
		return fail_msg(c, r, r->err_status, r->allow, r->err);
	r->t_dispatch = util_monotonic_ns();
	if (r->route == NULL)
		return fail_msg(c, r, MHD_HTTP_NOT_FOUND, NULL, "no such route");
	if (r->route->needs_model) {
		r->entry = find_entry(r);
		if (r->entry == NULL)
			return fail_msg(c, r, r->err_status, NULL, r->err);
	}
	return r->route->handler(c, r);
}

/* Decodes gzip/deflate upload bytes onto the body, its decoded size bounded too (zbody.c). */
static enum MHD_Result take_encoded(struct req *r, const char *data, size_t n)
{
	char err[160];
	int rc = zbody_inflate(r->zin, data, n, &r->body, &r->len, &r->cap, lim.max_body_bytes, err,
	                       sizeof err);

	if (rc == -EFBIG) {
		/* The rest is dropped: a bomb costs max_body_bytes, however far it inflates. */
		r->too_big = true;
		r->discard = true;
	} else if (rc == -ENOMEM) {
		set_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
	} else if (rc < 0) {
		set_error(r, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
	}
	return MHD_YES;
}

/* Keeps upload bytes (or drops them when an error is pending), bounded by max_body_bytes. */
static enum MHD_Result take_upload(struct req *r, const char *data, size_t n)
{
	r->seen += n;
	if (r->seen > lim.max_body_bytes) {
		/* Only chunked bodies get here (Content-Length was checked up front). MHD lets
		 * us answer only once the body is in: drop a bounded amount, then hang up. */
		size_t grace = lim.max_body_bytes < (1u << 20) ? lim.max_body_bytes : (1u << 20);
		r->too_big = true;
		r->discard = true;
		return r->seen - lim.max_body_bytes > grace ? MHD_NO : MHD_YES;
	}
	if (r->discard)
		return MHD_YES;
	if (r->zin != NULL)
		return take_encoded(r, data, n);
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *nb;
		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			set_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
			return MHD_YES;
		}
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return MHD_YES;
}

/* What scan_header() found in the request's header fields. */
struct head_scan {
	unsigned content_length;    /* Content-Length fields */
	unsigned transfer_encoding; /* Transfer-Encoding fields */
	const char *te;             /* the first one's value */
	size_t te_len;
	bool host;
	char bad[96]; /* the first malformed field, "" when none */
};

/* RFC 9110 token characters: what a field name may hold (no spaces, no colon). */
static bool is_tchar(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* A field name of key_size bytes equals the literal lit, case aside. */
#define KEY_IS(key, key_size, lit) ((key_size) == sizeof(lit) - 1 && strcasecmp((key), (lit)) == 0)

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
	struct head_scan *hs = cls;

	(void)kind;
	/* The length first: most fields are none of these, and this runs for every field. */
	if (KEY_IS(key, key_size, MHD_HTTP_HEADER_CONTENT_LENGTH))
		hs->content_length++;
	else if (KEY_IS(key, key_size, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		if (hs->transfer_encoding++ == 0) {
			hs->te = value;
			hs->te_len = value != NULL ? value_size : 0;
		}
	} else if (KEY_IS(key, key_size, MHD_HTTP_HEADER_HOST))
		hs->host = true;
	if (hs->bad[0] != '\0')
		return MHD_YES;
	for (size_t i = 0; i < key_size || key_size == 0; i++) {
		if (key_size == 0 || !is_tchar((unsigned char)key[i])) {
			snprintf(hs->bad, sizeof hs->bad, "invalid header field name \"%.32s\"",
			         key);
			return MHD_YES;
		}
	}
	for (size_t i = 0; value != NULL && i < value_size; i++) {
		unsigned char ch = (unsigned char)value[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(hs->bad, sizeof hs->bad,
			         "control byte 0x%02x in the value of header %.32s", ch, key);
			return MHD_YES;
		}
	}
	return MHD_YES;
}

/* snprintf(dst, n, "%s", src) without the formatter: this runs for every request. */
static void copy_cut(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Content-Encoding (decoded, or a 415) and Accept-Encoding (gzip answers) of a request. */
static void take_encodings(struct MHD_Connection *c, struct req *r)
{
	const char *ce =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	const char *ae =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	enum zbody_kind kind;

	r->gzip_ok = ae != NULL && zbody_accepts_gzip(ae);
	if (ce == NULL)
		return;
	if (zbody_parse_encoding(ce, &kind) < 0) {
		set_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
		          "Content-Encoding \"%.32s\" is not supported: use gzip, deflate or "
		          "identity",
		          ce);
		return;
	}
	if (kind != ZBODY_IDENTITY && zbody_new(kind, &r->zin) < 0)
		set_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory");
}

/* A transfer coding RFC 9110 registers (16.7): known, though only chunked is implemented. */
static bool te_known(const char *s, size_t n)
{
	static const char *const known[] = {"chunked",  "compress", "deflate",    "gzip",
	                                    "identity", "trailers", "x-compress", "x-gzip"};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i]) == n && strncasecmp(s, known[i], n) == 0)
			return true;
	return false;
}

/*
 * RFC 9112 6.1 and 6.3 for the one Transfer-Encoding field: 0 when its value is exactly
 * "chunked" (what libmicrohttpd frames by), else the status, with why in err. chunked not
 * final, twice, or spelled with anything around it is 400 (the length cannot be known);
 * chunked after another coding is 501, as we implement none but chunked.
 */
static unsigned te_status(const char *v, size_t n, char *err, size_t errlen)
{
	size_t i = 0, nchunked = 0;
	bool last_chunked = false;
	const char *other = NULL; /* the first coding that is not chunked */
	int other_len = 0;
	int vlen = (int)(n > 48 ? 48 : n);

	if (v == NULL)
		v = "";
	if (n == 7 && strncasecmp(v, "chunked", 7) == 0)
		return 0;
	while (i < n) {
		size_t a, b;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		a = i;
		while (i < n && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t')
			i++;
		b = i;
		while (i < n && v[i] != ',')
			i++;
		if (a == b)
			continue;
		last_chunked = b - a == 7 && strncasecmp(v + a, "chunked", 7) == 0;
		nchunked += last_chunked;
		if (!last_chunked && other == NULL) {
			other = v + a;
			other_len = (int)(b - a > 32 ? 32 : b - a);
		}
	}
	if (last_chunked && nchunked == 1 && other != NULL) {
		snprintf(err, errlen,
		         "Transfer-Encoding: %s transfer coding \"%.*s\" not implemented",
		         te_known(other, (size_t)other_len) ? "the" : "unknown", other_len, other);
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	snprintf(err, errlen,
	         "Transfer-Encoding \"%.*s\" is not exactly chunked as the only and final coding: "
	         "the body's length cannot be known",
	         vlen, v);
	return MHD_HTTP_BAD_REQUEST;
}

/*
 * Refuses heads whose framing or syntax two parsers could read differently (request
 * smuggling): repeated Content-Length or Transfer-Encoding, both together, any
 * Transfer-Encoding but exactly chunked (te_status), malformed field names, control bytes
 * in values, an HTTP version other than 1.0 and 1.1 (505), HTTP/1.1 without Host. Returns
 * the status (0: none); the connection is closed after the answer, so no byte after it is
 * read as another request.
 */
static unsigned head_is_ambiguous(struct MHD_Connection *c, struct req *r, const char *version)
{
	struct head_scan hs = {0};
	unsigned status = MHD_HTTP_BAD_REQUEST;

	(void)MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &hs);
	if (version == NULL || (strcmp(version, MHD_HTTP_VERSION_1_1) != 0 &&
	                        strcmp(version, MHD_HTTP_VERSION_1_0) != 0)) {
		char v[24];
		copy_cut(v, sizeof v, version != NULL ? version : "");
		sanitize(v);
		snprintf(r->err, sizeof r->err,
		         "HTTP version \"%s\" not supported: HTTP/1.1 and HTTP/1.0 are", v);
		status = MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED;
	} else if (hs.bad[0] != '\0')
		snprintf(r->err, sizeof r->err, "%s", hs.bad);
	else if (hs.content_length > 1)
		snprintf(r->err, sizeof r->err, "Content-Length given %u times", hs.content_length);
	else if (hs.transfer_encoding > 1)
		snprintf(r->err, sizeof r->err,
		         "Transfer-Encoding given %u times: ambiguous framing",
		         hs.transfer_encoding);
	else if (hs.content_length > 0 && hs.transfer_encoding)
		snprintf(r->err, sizeof r->err,
		         "both Content-Length and Transfer-Encoding given: ambiguous framing");
	else if (hs.transfer_encoding &&
	         (status = te_status(hs.te, hs.te_len, r->err, sizeof r->err)) != 0)
		;
	else if (!hs.host && strcmp(version, MHD_HTTP_VERSION_1_1) == 0) {
		snprintf(r->err, sizeof r->err, "an HTTP/1.1 request must have a Host header");
		status = MHD_HTTP_BAD_REQUEST;
	} else
		return 0;
	r->close = true;
	return status;
}

/* The first call of a request: headers only. Decides everything that needs no body. */
static enum MHD_Result begin(struct MHD_Connection *c, struct req *r, const char *url,
                             const char *method, const char *version)
{
	const union MHD_ConnectionInfo *ci;
	const char *cl;
	unsigned st;
	int nh;

	/* Bounds on the head first: nothing else is worth deciding about an oversized one. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
	if (ci != NULL && ci->header_size > lim.max_header_bytes) {
		char msg[128];
		snprintf(msg, sizeof msg,
		         "request headers too large: %zu bytes, max_header_bytes is %zu",
		         ci->header_size, lim.max_header_bytes);
		return fail_msg(c, r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, NULL, msg);
	}
	nh = MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
	if (nh > 0 && (unsigned)nh > lim.max_headers) {
		char msg[128];
		snprintf(msg, sizeof msg, "too many request headers: %d, max_headers is %u", nh,
		         lim.max_headers);
		return fail_msg(c, r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, NULL, msg);
	}
	if ((st = head_is_ambiguous(c, r, version)) != 0)
		return fail_msg(c, r, st, NULL, r->err);

	copy_cut(r->path, sizeof r->path, url);
	sanitize(r->path);
	r->is_delete = strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
	copy_cut(r->method, sizeof r->method, method);
	sanitize(r->method);
	route_path(r, url);
	if (r->err_status == 0 && r->route->admin) {
		/* Credentials were read when the connection opened, before any request. */
		char why[200];
		if (conn_of(r)->tcp)
			set_error(r, MHD_HTTP_FORBIDDEN, NULL,
			          "repository and admin endpoints are not available over TCP (no "
			          "peer credentials); use the Unix socket");
		else if (!r->have_cred)
			set_error(r, MHD_HTTP_FORBIDDEN, NULL,
			          "admin endpoint: the peer's credentials could not be read");
		else if (!admin_peer_allowed(r->uid, r->gid, why, sizeof why))
			set_error(r, MHD_HTTP_FORBIDDEN, NULL, "admin endpoint: %s", why);
	}
	if (r->err_status == 0)
		check_method(r, method);
	if (r->err_status == 0 && r->route->needs_set) {
		/* Held until completion: in-flight requests finish on the set they began on. */
		r->set = repo_acquire();
		if (r->route->needs_model)
			(void)find_entry(r);
	}
	if (r->err_status == 0)
		take_encodings(c, r);
	if (lim.connection_timeout != start_timeout)
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, lim.connection_timeout);

	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl && v > lim.max_body_bytes) {
			/* Answering now closes the connection, so the body is never read. */
			char msg[96];
			snprintf(msg, sizeof msg,
			         "request body of %llu bytes exceeds max_body_bytes (%zu)", v,
			         lim.max_body_bytes);
			return fail_msg(c, r, MHD_HTTP_CONTENT_TOO_LARGE, NULL, msg);
		}
	}
	return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;

	(void)cls;
	if (r == NULL) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct conn *cn = ci ? ci->socket_context : NULL;
		char *body;
		size_t cap;

		if (cn == NULL)
			return MHD_NO;
		r = &cn->req;
		body = r->body;
		cap = r->cap;
		memset(r, 0, sizeof *r);
		r->body = body;
		r->cap = cap;
		/* on_uri() read the clock as the request line came in: the request starts there. */
		r->start = cn->active ? cn->since : util_monotonic_ns();
		r->uid = cn->uid;
		r->gid = cn->gid;
		r->pid = cn->pid;
		r->have_cred = cn->have_cred;
		*con_cls = r;
		in_flight++;
		if (cn->have_cred)
			log_debug("%s %s from uid %u gid %u pid %d", method, url, (unsigned)r->uid,
			          (unsigned)r->gid, (int)r->pid);
		/* Never answer here unless refusing the body: MHD would close the connection. */
		return begin(c, r, url, method, version);
	}
	if (*upload_data_size != 0) {
		enum MHD_Result ret = take_upload(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return ret;
	}
	return dispatch(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *cn;

	(void)cls;
	(void)toe;
	/* Idle from now on, whether or not the access handler ever saw the request. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	cn = ci ? ci->socket_context : NULL;
	if (cn != NULL) {
		cn->active = false;
		cn->since = util_monotonic_ns();
	}
	if (r == NULL)
		return;
	if (r->reloading) {
		/* The connection ended before its answer: the reload still completes. */
		json_t *out = NULL;
		r->reloading = false;
		(void)admin_reload_finish(&out);
		json_decref(out);
	}
	in_flight--;
	repo_release(r->set);
	r->set = NULL;
	zbody_free(r->zin);
	r->zin = NULL;
	if (r->cap > HTTP_KEEP_BODY_BYTES) {
		free(r->body);
		r->body = NULL;
		r->cap = 0;
	}
	r->len = 0;
	*con_cls = NULL;
#ifdef __GLIBC__
	if (r->seen > HTTP_TRIM_BYTES)
		(void)malloc_trim(0);
#endif
}

/* Called once the request line is in: the request's clock starts. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *cn = ci ? ci->socket_context : NULL;

	(void)cls;
	(void)uri;
	if (cn != NULL) {
		cn->active = true;
		cn->since = util_monotonic_ns();
	}
	/* NULL keeps *con_cls NULL on the access handler's first call. */
	return NULL;
}

static void admit_or_refuse(struct conn *cn);

/*
 * MHD's connection start and end: a struct conn per connection, with the peer's
 * credentials read once (admin routes authorize on them), linked for http_expire() and
 * http_drained(); freed with the connection, releasing a set a request still held.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	const struct listener *l = cls;
	struct conn *cn;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci;

		cn = calloc(1, sizeof *cn);
		*socket_context = cn;
		if (cn == NULL)
			return;
		cn->tcp = l->tcp;
		cn->since = util_monotonic_ns();
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		cn->fd = ci ? ci->connect_fd : -1;
		if (cn->tcp) {
			ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			sock_format_inet(ci ? ci->client_addr : NULL, cn->peer, sizeof cn->peer);
		} else if (cn->fd >= 0 &&
		           sock_peer_cred(cn->fd, &cn->uid, &cn->gid, &cn->pid) == 0) {
			/* Fetched once per connection: admin routes will authorize on these. */
			cn->have_cred = true;
			snprintf(cn->peer, sizeof cn->peer, "uid %u pid %d", (unsigned)cn->uid,
			         (int)cn->pid);
		} else {
			snprintf(cn->peer, sizeof cn->peer, "an unknown peer");
		}
		cn->next = conns;
		if (conns != NULL)
			conns->prev = cn;
		conns = cn;
		n_live[cn->tcp]++;
		admit_or_refuse(cn);
		return;
	}
	cn = *socket_context;
	if (cn != NULL) {
		if (cn->prev != NULL)
			cn->prev->next = cn->next;
		else
			conns = cn->next;
		if (cn->next != NULL)
			cn->next->prev = cn->prev;
		if (!cn->cut)
			n_live[cn->tcp]--;
		repo_release(cn->req.set);
		zbody_free(cn->req.zin);
		free(cn->req.body);
		free(cn);
	}
	*socket_context = NULL;
}

/*
 * A listener's budget: max_connections each for the Unix socket and TCP (TCP clients never
 * take the Unix socket's slots), unless the fd limit is lower. The Unix socket has
 * HTTP_ADMIN_RESERVE more, for admin-capable peers only.
 */
static unsigned conn_limit(void)
{
	unsigned n = listeners[1].d != NULL ? 2 : 1, fit;

	fit = fd_conn_limit > HTTP_ADMIN_RESERVE ? (fd_conn_limit - HTTP_ADMIN_RESERVE) / n : 1;
	if (fit == 0)
		fit = 1;
	return lim.max_connections < fit ? lim.max_connections : fit;
}

/* Shuts a connection down: MHD then reads EOF, closes it and frees it. */
static void conn_cut(struct conn *cn)
{
	if (cn->cut)
		return;
	(void)shutdown(cn->fd, SHUT_RDWR);
	cn->cut = true;
	n_live[cn->tcp]--;
}

/* Once a second is enough to see a flood in the journal. */
static bool limit_due(uint64_t *last)
{
	uint64_t t = util_monotonic_ns();

	if (t - *last < 1000000000u)
		return false;
	*last = t;
	return true;
}

/*
 * Makes room on a full listener: cuts its longest-idle keep-alive connection (no request
 * begun, no unread bytes: nothing is lost but an idle slot; clients reopen such
 * connections as a matter of course), other than keep. False when every one is busy.
 */
static bool evict_idle(bool tcp, const struct conn *keep)
{
	static uint64_t last_log;
	struct conn *best = NULL;

	for (struct conn *cn = conns; cn != NULL; cn = cn->next) {
		int unread = 0;

		if (cn == keep || cn->tcp != tcp || cn->cut || cn->active || cn->fd < 0 ||
		    (best != NULL && cn->since >= best->since))
			continue;
		if (ioctl(cn->fd, FIONREAD, &unread) == 0 && unread > 0)
			continue;
		best = cn;
	}
	if (best == NULL)
		return false;
	if (limit_due(&last_log))
		log_info("%s connections full: closing %s%s, idle %.1f s, for a new one",
		         tcp ? "TCP" : "Unix socket", tcp ? "tcp " : "", best->peer,
		         (double)(util_monotonic_ns() - best->since) / 1e9);
	conn_cut(best);
	return true;
}

/*
 * Admits a connection while its listener is under its budget (the Unix socket's reserve
 * included: credentials are not known yet; admit_or_refuse() holds ordinary peers to the
 * budget), else makes room by evict_idle(). Beyond that, MHD closes the accepted socket at
 * once: the client sees EOF instead of waiting in the listen backlog, and no fd is held.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	static uint64_t last_log;
	const struct listener *l = cls;
	unsigned cap = conn_limit() + (l->tcp ? 0 : HTTP_ADMIN_RESERVE);

	(void)addr;
	(void)addrlen;
	if (n_live[l->tcp] < cap || evict_idle(l->tcp, NULL))
		return MHD_YES;
	if (limit_due(&last_log))
		log_notice("refusing %s connections: max_connections (%u%s) reached, none idle",
		           l->tcp ? "TCP" : "Unix socket", conn_limit(),
		           l->tcp ? "" : " and the admin reserve");
	return MHD_NO;
}

/*
 * A new Unix socket connection past the ordinary budget keeps its slot only if its peer
 * may use the admin reserve, or if an idle connection can make room; otherwise it gets a
 * 503 with inferd's JSON error and is closed.
 */
static void admit_or_refuse(struct conn *cn)
{
	static const char busy[] =
	    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\nContent-Length: 111\r\n\r\n"
	    "{\"error\":\"max_connections reached on the Unix socket: the rest are reserved for "
	    "admin peers, and none is idle\"}";
	static uint64_t last_log;
	char why[200];

	if (cn->tcp || n_live[0] <= conn_limit())
		return;
	if (cn->have_cred && admin_peer_allowed(cn->uid, cn->gid, why, sizeof why))
		return;
	if (evict_idle(false, cn))
		return;
	if (limit_due(&last_log))
		log_notice("refusing %s: max_connections (%u) reached on the Unix socket, the "
		           "admin reserve is for admin peers",
		           cn->peer, conn_limit());
	(void)send(cn->fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	conn_cut(cn);
}

void http_expire(void)
{
	uint64_t t = util_monotonic_ns();
	uint64_t req_ns = (uint64_t)lim.request_timeout * 1000000000u;
	/* Silent idle connections are MHD's to close after connection_timeout; one still
	 * open well after that has been trickling bytes without finishing a request line. */
	uint64_t idle_ns = ((uint64_t)lim.connection_timeout + lim.request_timeout) * 1000000000u;

	for (struct conn *cn = conns; cn != NULL; cn = cn->next) {
		uint64_t age = t - cn->since;

		/* A suspended reload is the loader's: it is answered when the build is over. */
		if (cn->cut || cn->fd < 0 || cn->req.reloading ||
		    age <= (cn->active ? req_ns : idle_ns))
			continue;
		conn_cut(cn);
		if (cn->active)
			log_info("request_timeout (%u s): disconnecting %s%s: request not complete "
			         "after %.1f s",
			         lim.request_timeout, cn->tcp ? "tcp " : "", cn->peer,
			         (double)age / 1e9);
		else
			log_info("request_timeout: disconnecting %s%s: no complete request line "
			         "after %.1f s",
			         cn->tcp ? "tcp " : "", cn->peer, (double)age / 1e9);
	}
}

/*
 * Decodes %HH escapes, but leaves the path untouched when an escape is malformed or would
 * produce a control byte, '/', '%' or a non-ASCII byte, so that the router sees the raw '%'
 * and refuses the path instead of acting on a truncated or re-split one.
 */
static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	size_t len = strlen(s), o = 0;

	(void)cls;
	(void)c;
	for (size_t i = 0; i < len; i++) {
		int hi, lo, v;

		if (s[i] != '%')
			continue;
		if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
			return len;
		v = hi * 16 + lo;
		if (v < 0x20 || v >= 0x7f || v == '/' || v == '%')
			return len;
		i += 2;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return o;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_notice("libmicrohttpd: %s", buf);
}

/*
 * Connections need an fd each: raises the soft RLIMIT_NOFILE toward what max_connections
 * needs, as far as the hard limit allows, and caps connections at what fits, so that
 * accept() never fails for want of descriptors (MHD would then stop accepting).
 */
static void fit_fd_limit(unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + HTTP_FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		fd_conn_limit = want;
		return;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit nl = rl;

		nl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl = nl;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		fd_conn_limit = want;
		return;
	}
	fd_conn_limit = rl.rlim_cur > 2 * HTTP_FD_RESERVE
	                    ? (unsigned)(rl.rlim_cur - HTTP_FD_RESERVE)
	                    : (unsigned)(rl.rlim_cur / 2);
	log_warn("max_connections %u needs %llu file descriptors but the limit is %llu: at most "
	         "%u connections (raise LimitNOFILE=)",
	         want, (unsigned long long)need, (unsigned long long)rl.rlim_cur, fd_conn_limit);
}

static int set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static struct MHD_Daemon *start_one(struct listener *l, int fd)
{
	return MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
	        (l->tcp ? 0 : MHD_ALLOW_SUSPEND_RESUME),
	    0, on_accept, l, on_access, l, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
	    HTTP_MHD_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, lim.connection_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    pool_header_bytes + pool_fields * HTTP_POOL_PER_FIELD + HTTP_POOL_SLACK,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, l, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL, MHD_OPTION_END);
}

static void free_meta(void)
{
	for (size_t i = 0; i < 2; i++) {
		free(meta_body[i]);
		meta_body[i] = NULL;
	}
}

static void stop_all(void)
{
	for (size_t i = 0; i < 2; i++) {
		if (listeners[i].d != NULL) {
			/* Detach the listener first: MHD_stop_daemon would close it otherwise. */
			(void)MHD_quiesce_daemon(listeners[i].d);
			MHD_stop_daemon(listeners[i].d);
			listeners[i].d = NULL;
		}
	}
}

/*
 * Fixes what a reload cannot change (MHD's pool size, the fd budget), renders the server
 * metadata once, and starts one MHD daemon per listener in epoll mode; see http.h.
 */
int http_init(const struct conf *c, int unix_fd, int tcp_fd)
{
	json_t *meta;
	int rc;

	compile_routes();
	limits_from_conf(c);
	start_timeout = lim.connection_timeout;
	pool_header_bytes = lim.max_header_bytes;
	pool_fields = lim.max_headers;
	fit_fd_limit(lim.max_connections * (tcp_fd >= 0 ? 2u : 1u) + HTTP_ADMIN_RESERVE);
	quiesced = false;
	listen_fds[0] = unix_fd;
	listen_fds[1] = tcp_fd;
	/* Over TCP the repository and admin routes answer 403: not listed there. */
	for (size_t i = 0; i < 2; i++) {
		meta = json_pack("{s:s, s:s, s:[sss]}", "name", "inferd", "version",
		                 PACKAGE_VERSION, "extensions", "binary_tensor_data",
		                 "model_configuration", "statistics");
		if (meta != NULL && i == 0 &&
		    (json_array_append_new(json_object_get(meta, "extensions"),
		                           json_string("model_repository")) < 0 ||
		     json_array_append_new(json_object_get(meta, "extensions"),
		                           json_string("inferd_admin")) < 0)) {
			json_decref(meta);
			meta = NULL;
		}
		meta_body[i] = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
		json_decref(meta);
		if (meta_body[i] == NULL) {
			free_meta();
			return -ENOMEM;
		}
		meta_body_len[i] = strlen(meta_body[i]);
	}

	/* MHD accepts in a loop until EAGAIN; a blocking listener would stall the loop. */
	if ((rc = set_nonblocking(unix_fd)) < 0 ||
	    (tcp_fd >= 0 && (rc = set_nonblocking(tcp_fd)) < 0)) {
		log_err("cannot make a listening socket non-blocking: %s", strerror(-rc));
		free_meta();
		return rc;
	}
	listeners[0].tcp = false;
	listeners[1].tcp = true;
	listeners[0].d = start_one(&listeners[0], unix_fd);
	if (listeners[0].d == NULL) {
		log_err("cannot start libmicrohttpd on the listening socket");
		goto fail;
	}
	if (tcp_fd >= 0 && (listeners[1].d = start_one(&listeners[1], tcp_fd)) == NULL) {
		log_err("cannot start libmicrohttpd on the TCP listener");
		goto fail;
	}
	return 0;
fail:
	stop_all();
	free_meta();
	return -EIO;
}

static int epoll_fd_of(const struct listener *l)
{
	const union MHD_DaemonInfo *di;

	if (l->d == NULL)
		return -EBADF;
	di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
	return di ? di->epoll_fd : -EBADF;
}

int http_get_fd(void)
{
	return epoll_fd_of(&listeners[0]);
}

int http_get_tcp_fd(void)
{
	return epoll_fd_of(&listeners[1]);
}

int http_get_timeout_ms(void)
{
	int best = -1;

	for (size_t i = 0; i < 2; i++) {
		MHD_UNSIGNED_LONG_LONG t;
		int ms;

		if (listeners[i].d == NULL || MHD_get_timeout(listeners[i].d, &t) != MHD_YES)
			continue;
		ms = t > INT_MAX ? INT_MAX : (int)t;
		if (best < 0 || ms < best)
			best = ms;
	}
	return best;
}

int http_run(void)
{
	int rc = 0;

	if (listeners[0].d == NULL)
		return -EBADF;
	for (size_t i = 0; i < 2; i++)
		if (listeners[i].d != NULL && MHD_run(listeners[i].d) != MHD_YES)
			rc = -EIO;
	return rc;
}

/*
 * Hands MHD every connection still waiting in l's listen backlog. Their clients saw
 * connect() succeed before the stop and may already have written a request: closing the
 * listener on exit would reset them, so they are served like any other open connection.
 */
static void accept_backlog(const struct listener *l, int fd)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof sa;
		int cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		/* MHD closes cfd itself when it refuses it (on_accept's limit applies). */
		(void)MHD_add_connection(l->d, cfd, (struct sockaddr *)&sa, len);
	}
}

void http_quiesce(void)
{
	if (quiesced)
		return;
	quiesce_ns = util_monotonic_ns();
	/* The listening fds stay ours (the caller closes them); MHD just forgets them. */
	for (size_t i = 0; i < 2; i++) {
		if (listeners[i].d == NULL)
			continue;
		if (listen_fds[i] >= 0)
			accept_backlog(&listeners[i], listen_fds[i]);
		(void)MHD_quiesce_daemon(listeners[i].d);
	}
	quiesced = true;
}

bool http_drained(uint64_t now_ns, uint64_t quiet_ns)
{
	bool drained = in_flight == 0;

	for (struct conn *cn = conns; cn != NULL; cn = cn->next) {
		int unread = 0;
		uint64_t last = quiesce_ns;

		/* Cut by request_timeout: MHD is closing it, nothing will be answered. */
		if (cn->cut || cn->fd < 0)
			continue;
		/* Bytes MHD has not read yet are a request begun: exiting would reset it. */
		if (cn->active || (ioctl(cn->fd, FIONREAD, &unread) == 0 && unread > 0))
			cn->busy = now_ns;
		if (cn->busy > last)
			last = cn->busy;
		if (cn->since > last)
			last = cn->since;
		if (cn->active || now_ns < last || now_ns - last < quiet_ns)
			drained = false;
	}
	return drained;
}

unsigned http_connections(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < 2; i++) {
		const union MHD_DaemonInfo *di =
		    listeners[i].d
		        ? MHD_get_daemon_info(listeners[i].d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
		        : NULL;
		n += di ? di->num_connections : 0;
	}
	return n;
}

unsigned http_requests_in_flight(void)
{
	return in_flight;
}

void http_reconfigure(const struct conf *c)
{
	unsigned want;

	limits_from_conf(c);
	want = lim.max_connections * (listeners[1].d != NULL ? 2u : 1u) + HTTP_ADMIN_RESERVE;
	if (want > fd_conn_limit)
		fit_fd_limit(want);
	if (lim.max_header_bytes > pool_header_bytes) {
		log_warn("max_header_bytes above %zu takes effect after a restart",
		         pool_header_bytes);
		lim.max_header_bytes = pool_header_bytes;
	}
}

void http_fini(void)
{
	/* MHD cannot stop with a suspended connection: a reload being built ends first. */
	for (;;) {
		bool waiting;
		pthread_mutex_lock(&reload_lock);
		waiting = reload_conn != NULL;
		pthread_mutex_unlock(&reload_lock);
		if (!waiting)
			break;
		(void)usleep(10000);
	}
	stop_all();
	free_meta();
	quiesced = false;
	in_flight = 0;
	listen_fds[0] = listen_fds[1] = -1;
}
