/* metrics.c — Prometheus exposition of the server's atomic counters and histograms. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int CODES[METRICS_N_CODES] = {200, 204, 400, 401, 403, 404, 405, 408, 411, 413, 414, 415, 431, 499,
                                              500, 501, 503, 504};
static const char *const EP_NAMES[EP_COUNT] = {"predict", "torchserve", "v2_infer", "v2_metadata",
                                               "health", "models", "metrics", "grpc_infer",
                                               "grpc_metadata", "other"};

static void hist_init(metrics_hist *h, const double *b, int n)
{
    h->n = n;
    for (int i = 0; i < n; i++) h->bounds[i] = b[i];
    for (int i = 0; i <= METRICS_MAX_BUCKETS; i++) atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum_micro, 0);
}

void metrics_init(metrics *m)
{
    static const double secs[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    static const double sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    for (int e = 0; e < EP_COUNT; e++)
        for (int c = 0; c <= METRICS_N_CODES; c++) atomic_init(&m->requests[e][c], 0);
    hist_init(&m->request_s, secs, 14);
    hist_init(&m->queue_s, secs, 14);
    hist_init(&m->inference_s, secs, 14);
    hist_init(&m->batch_size, sizes, 9);
    atomic_init(&m->queue_depth, 0);
    atomic_init(&m->images, 0);
    atomic_init(&m->slow_closed, 0);
    atomic_init(&m->parked, 0);
}

void metrics_observe(metrics_hist *h, double v)
{
    int i = 0;
    while (i < h->n && v > h->bounds[i]) i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    if (v > 0) atomic_fetch_add_explicit(&h->sum_micro, (unsigned long)(v * 1e6 + 0.5), memory_order_relaxed);
}

void metrics_request(metrics *m, metrics_endpoint ep, int status, double seconds)
{
    int c = METRICS_N_CODES;
    for (int i = 0; i < METRICS_N_CODES; i++)
        if (CODES[i] == status) c = i;
    if ((unsigned)ep >= EP_COUNT) ep = EP_OTHER;
    atomic_fetch_add_explicit(&m->requests[ep][c], 1, memory_order_relaxed);
    metrics_observe(&m->request_s, seconds);
}

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...)
{
    if (s->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0) { s->oom = 1; return; }
        if ((size_t)n < s->cap - s->len) { s->len += (size_t)n; return; }
        size_t cap = s->cap * 2 + (size_t)n;
        char *b = realloc(s->buf, cap);
        if (!b) { s->oom = 1; return; }
        s->buf = b;
        s->cap = cap;
    }
}

static void render_hist(sbuf *s, const char *name, const char *help, metrics_hist *h)
{
    sb_printf(s, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        sb_printf(s, "%s_bucket{le=\"%g\"} %lu\n", name, h->bounds[i], cum);
    }
    cum += atomic_load_explicit(&h->counts[h->n], memory_order_relaxed);
    sb_printf(s, "%s_bucket{le=\"+Inf\"} %lu\n", name, cum);
    sb_printf(s, "%s_sum %.6f\n%s_count %lu\n", name,
              (double)atomic_load_explicit(&h->sum_micro, memory_order_relaxed) / 1e6, name, cum);
}

void metrics_set_model(metrics *m, const metrics_model *info)
{
    atomic_store_explicit(&m->model, info, memory_order_release);
}

/* A label value with \, " and newline escaped as the exposition format wants, into out[cap]. */
static const char *label_value(const char *v, char *out, size_t cap)
{
    size_t o = 0;
    for (; v && *v && o + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') out[o++] = '\\';
        if (*v == '\n') { out[o++] = '\\'; out[o++] = 'n'; continue; }
        out[o++] = *v;
    }
    out[o] = '\0';
    return out;
}

char *metrics_render(metrics *m, size_t *len)
{
    sbuf s = {malloc(8192), 0, 8192, 0};
    if (!s.buf) return NULL;
    const metrics_model *mm = atomic_load_explicit(&m->model, memory_order_acquire);
    if (mm) {
        char n[300], v[160], p[32], i[32];
        sb_printf(&s, "# HELP deit_model_info The served model: its name, version, numeric precision and "
                      "GEMM kernel set.\n# TYPE deit_model_info gauge\n"
                      "deit_model_info{model=\"%s\",version=\"%s\",precision=\"%s\",isa=\"%s\"} 1\n",
                  label_value(mm->name, n, sizeof n), label_value(mm->version, v, sizeof v),
                  label_value(mm->precision, p, sizeof p), label_value(mm->isa, i, sizeof i));
    }
    sb_printf(&s, "# HELP deit_requests_total HTTP requests answered, by endpoint and status code.\n"
                  "# TYPE deit_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (int c = 0; c <= METRICS_N_CODES; c++) {
            unsigned long v = atomic_load_explicit(&m->requests[e][c], memory_order_relaxed);
            if (!v) continue;
            if (c < METRICS_N_CODES)
                sb_printf(&s, "deit_requests_total{endpoint=\"%s\",code=\"%d\"} %lu\n", EP_NAMES[e], CODES[c], v);
            else
                sb_printf(&s, "deit_requests_total{endpoint=\"%s\",code=\"other\"} %lu\n", EP_NAMES[e], v);
        }
    render_hist(&s, "deit_request_duration_seconds", "Time from request start to response.", &m->request_s);
    render_hist(&s, "deit_queue_duration_seconds", "Time a request waited in the queue for a worker.", &m->queue_s);
    render_hist(&s, "deit_inference_duration_seconds", "Time of one batched forward pass.", &m->inference_s);
    render_hist(&s, "deit_batch_size", "Images per forward pass.", &m->batch_size);
    sb_printf(&s, "# HELP deit_queue_depth Images waiting for a worker.\n# TYPE deit_queue_depth gauge\n"
                  "deit_queue_depth %ld\n", atomic_load_explicit(&m->queue_depth, memory_order_relaxed));
    sb_printf(&s, "# HELP deit_images_total Images classified (not those of a failed forward pass).\n"
                  "# TYPE deit_images_total counter\ndeit_images_total %lu\n",
              atomic_load_explicit(&m->images, memory_order_relaxed));
    sb_printf(&s, "# HELP deit_slow_connections_closed_total Connections closed for not sending their request "
                  "within --read-timeout-s.\n# TYPE deit_slow_connections_closed_total counter\n"
                  "deit_slow_connections_closed_total %lu\n",
              atomic_load_explicit(&m->slow_closed, memory_order_relaxed));
    sb_printf(&s, "# HELP deit_requests_parked Requests waiting, body unread, for room in the full queue "
                  "(--queue-wait-ms).\n# TYPE deit_requests_parked gauge\ndeit_requests_parked %ld\n",
              atomic_load_explicit(&m->parked, memory_order_relaxed));
    if (s.oom) { free(s.buf); return NULL; }
    *len = s.len;
    return s.buf;
}
