/* metrics.h — Prometheus counters, gauges and histograms for the server, updated lock-free with
 * C11 atomics from any thread and rendered as text exposition format for GET /metrics. */
#ifndef DEIT_SERVER_METRICS_H
#define DEIT_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

typedef enum {
    EP_PREDICT,                /* /v1/predict */
    EP_TORCHSERVE,             /* /predictions/{model} */
    EP_V2_INFER,               /* /v2/models/{name}/infer */
    EP_V2_META,                /* other /v2 endpoints */
    EP_HEALTH,                 /* /healthz, /readyz, /ping */
    EP_MODELS,                 /* /v1/models */
    EP_METRICS,                /* /metrics */
    EP_GRPC_INFER,             /* gRPC ModelInfer */
    EP_GRPC_META,              /* other gRPC calls (live, ready, metadata, health) */
    EP_OTHER,                  /* anything else (404s) */
    EP_COUNT
} metrics_endpoint;

#define METRICS_N_CODES 18     /* status codes counted separately; others go to "other" */
#define METRICS_MAX_BUCKETS 16

typedef struct {
    int n;                                  /* finite bucket bounds in use */
    double bounds[METRICS_MAX_BUCKETS];     /* upper bounds, ascending (+Inf is implicit) */
    atomic_ulong counts[METRICS_MAX_BUCKETS + 1]; /* per bucket (not cumulative); last is +Inf */
    atomic_ulong sum_micro;                 /* sum of observations x 1e6 (integers stay atomic) */
} metrics_hist;

/* The served model as the deit_model_info series labels it. */
typedef struct {
    const char *name, *version, *precision, *isa;
} metrics_model;

typedef struct {
    _Atomic(const metrics_model *) model; /* NULL until the model is loaded */
    atomic_ulong requests[EP_COUNT][METRICS_N_CODES + 1];
    metrics_hist request_s, queue_s, inference_s, batch_size;
    atomic_long queue_depth;   /* images waiting for a worker */
    atomic_ulong images;       /* images that went through inference */
    atomic_ulong slow_closed;  /* connections closed for sending their request too slowly */
    atomic_long parked;        /* requests waiting, body unread, for room in a full queue (admission.h) */
} metrics;

void metrics_init(metrics *m);

/* Publishes the loaded model's labels (info must outlive m): deit_model_info{model, version,
 * precision, isa} 1 from then on. */
void metrics_set_model(metrics *m, const metrics_model *info);

void metrics_request(metrics *m, metrics_endpoint ep, int status, double seconds);
void metrics_observe(metrics_hist *h, double v);

/* Renders the exposition text into a malloc'd buffer (*len bytes); NULL on allocation failure. */
char *metrics_render(metrics *m, size_t *len);

#endif
