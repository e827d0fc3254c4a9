/* metrics.h: request counters and latency histograms, rendered as Prometheus text. */
#ifndef INFERD_METRICS_H
#define INFERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct repo_set;

/* The endpoints we count separately (label endpoint="..."). */
enum metrics_endpoint {
	METRICS_EP_LIVE,
	METRICS_EP_READY,
	METRICS_EP_SERVER_META,
	METRICS_EP_MODEL_META,
	METRICS_EP_MODEL_READY,
	METRICS_EP_INFER,
	METRICS_EP_METRICS,
	METRICS_EP_REPOSITORY,
	METRICS_EP_MODEL_CONFIG,
	METRICS_EP_STATS,
	METRICS_EP_MODEL_LIST,
	METRICS_EP_OTHER,
	METRICS_EP_COUNT
};

/* Zeroes every counter and records the start time. */
int metrics_init(void);
void metrics_fini(void);

/* Counts one finished request. Thread-safe, lock-free. */
void metrics_observe(enum metrics_endpoint ep, unsigned status, uint64_t latency_ns);
/* Counts rows predicted (for inferd_rows_total). */
void metrics_add_rows(uint64_t rows);

/* A configuration reload ended (inferd_reloads_total, inferd_config_last_reload_successful). */
void metrics_reload_done(bool ok);
/* A rollback to the last known good set was done (inferd_rollbacks_total). */
void metrics_rollback_done(void);

/* Totals for the status line. */
uint64_t metrics_requests_total(void);
/* Approximate latency quantile q (0..1) over all infer requests, in nanoseconds. */
uint64_t metrics_infer_quantile_ns(double q);

/*
 * Renders the Prometheus text exposition: inferd_requests_total{endpoint,code},
 * inferd_request_duration_seconds histogram{endpoint}, inferd_rows_total,
 * inferd_model_info{model,version,sha256,objective,booster} 1 for each model in s,
 * inferd_start_time_seconds, inferd_build_info{version}; per served model version (mstats.h)
 * inferd_model_requests_total{model,version,result}, inferd_model_rows_total and the
 * inferd_model_request_duration_seconds histogram; inferd_reloads_total{result},
 * inferd_rollbacks_total, inferd_config_last_reload_successful, inferd_model_refused
 * {model,version}; and the process_* metrics of the Prometheus convention (procstat.h).
 * Returns 0 and a malloc'd body, or -ENOMEM.
 */
int metrics_render(const struct repo_set *s, char **out, size_t *outlen);

#endif
