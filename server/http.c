/* http.c — libmicrohttpd front end: routing, bounded uploads, decoding in the HTTP threads, and
 * suspend/resume around the batcher so no thread waits for inference. */
#define _GNU_SOURCE /* accept4 */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "multipart.h"
#include "prediction.h"
#include "query.h"
#include "read_deadline.h"
#include "response.h"
#include "route.h"
#include "v2.h"

#define SERVER_VERSION DEIT_SERVER_VERSION
/* MHD's per-connection pool: request line, headers and its read buffer. Headers beyond it get 431. */
#define CONN_MEMORY_LIMIT (128 * 1024)
/* A multipart part's own header block; larger is a malformed request. */
#define MAX_PART_HEADER_BYTES 8192
/* Form fields allowed beside the images before a multipart body counts as hostile. */
#define EXTRA_FORM_PARTS 8
/* Largest PEM file --tls-cert/--tls-key may name: a long chain is a few tens of KiB. */
#define MAX_TLS_FILE_BYTES (1024 * 1024)
/* Slowest upload rate a request body may keep up after --read-timeout-s (Apache mod_reqtimeout's
 * default MinRate): 32 MiB at this rate would still take 18 hours, so only a trickle is cut. */
#define MIN_UPLOAD_BYTES_PER_S 500.0
#define DEFAULT_TOP_K 5
#define TORCHSERVE_TOP_K 5

/* What inference needs; written once by http_set_engine before `engine_set` is published. */
typedef struct {
    const deit_model *model;
    const deit_config *cfg;
    const char *name;          /* what clients call the model (main.c: --model-name, else the directory's) */
    batcher *batcher;
    size_t in_floats;
    resp_model rm;
} engine;

struct http_server {
    const server_config *cfg;
    metrics *metrics;
    struct MHD_Daemon *d;
    read_deadlines *rd;        /* closes connections that send their request too slowly */
    int port;
    size_t max_body;           /* bytes */
    engine eng;
    atomic_int engine_set;     /* release/acquire: eng is readable once this is 1 */
    atomic_int draining;       /* SIGTERM received: readiness 503, Connection: close */
    atomic_int inflight;       /* requests between the first handler call and completion */
    MHD_socket listen_fd;      /* from MHD_quiesce_daemon; closed after MHD_stop_daemon */
    char *tls_cert, *tls_key;  /* PEM text, NUL-terminated, kept until MHD_stop_daemon; NULL: plain HTTP */
    size_t tls_key_len;        /* to wipe the key at exit */
    int log_json;
};

/* The three phases of a request (style.md): headers seen -> body arriving -> answer. PH_QUEUED is the
 * answer phase's wait: the connection is suspended until a worker finishes the job. */
typedef enum { PH_BODY, PH_QUEUED, PH_DONE } phase;

typedef struct {
    http_server *h;
    const engine *eng;         /* NULL until the engine is set */
    struct MHD_Connection *conn;
    route rt;
    metrics_endpoint ep;
    char method[16];
    char path[256];
    double t0;
    phase ph;
    /* upload */
    uint8_t *body;
    size_t len, cap;
    size_t dropped;            /* bytes discarded after the body went over the limit */
    int over_limit;
    int multipart;
    char boundary[MP_MAX_BOUNDARY + 1];
    size_t boundary_len;
    /* the answer */
    int status;
    char *resp;
    size_t resp_len;
    const char *ctype;
    int retry_after, www_auth, allow;
    int responded;             /* MHD_queue_response succeeded */
    int resume_pending;        /* suspended, then refused by the batcher: answer after the resume */
    /* inference */
    int n_images, top_k;
    float *pixels, *cls, *dist;
    double decode_ms;
    batch_job job;
    atomic_int job_done;       /* set by the worker before it resumes the connection */
    v2_request v2;
} request;

static double now_s(void) { return batcher_now(); }

static metrics_endpoint endpoint_of(route_kind k)
{
    switch (k) {
    case R_PREDICT: return EP_PREDICT;
    case R_TORCHSERVE: return EP_TORCHSERVE;
    case R_V2_INFER: return EP_V2_INFER;
    case R_V2_LIVE: case R_V2_READY: case R_V2_SERVER: case R_V2_MODEL: case R_V2_MODEL_READY: return EP_V2_META;
    case R_PING: case R_HEALTHZ: case R_READYZ: return EP_HEALTH;
    case R_MODELS: return EP_MODELS;
    case R_METRICS: return EP_METRICS;
    default: return EP_OTHER;
    }
}

/* Sets a ready-made body as the answer. Takes ownership of body (may be NULL: empty body). */
static void set_answer(request *rq, int status, char *body, size_t len, const char *ctype)
{
    free(rq->resp);
    rq->status = status;
    rq->resp = body;
    rq->resp_len = body ? len : 0;
    rq->ctype = ctype;
    rq->ph = PH_DONE;
}

/* Answers with an error in the endpoint's shape: {"error": "…"} for v2, {"error": {code, message}}
 * otherwise. */
static void set_error(request *rq, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(request *rq, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = rq->rt.v2 ? resp_v2_error(msg, &len) : resp_error(status, msg, &len);
    set_answer(rq, status, body, len, "application/json");
}

static void set_json(request *rq, int status, char *body, size_t len)
{
    if (!body) {
        set_error(rq, 500, "out of memory building the response");
        return;
    }
    set_answer(rq, status, body, len, "application/json");
}

static void set_text(request *rq, int status, const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(n + 1);
    if (b) memcpy(b, text, n + 1);
    set_answer(rq, status, b, n, "application/json");
}

static int model_name_matches(const request *rq)
{
    const char *name = rq->eng->name;
    if (rq->rt.version && !(rq->rt.version_len == 1 && rq->rt.version[0] == '1')) return 0;
    return strlen(name) == rq->rt.model_len && memcmp(name, rq->rt.model, rq->rt.model_len) == 0;
}

/* Constant-time comparison of the Authorization header with "Bearer <key>". */
static int authorized(const request *rq)
{
    const char *key = rq->h->cfg->api_key;
    if (!key || !*key) return 1;
    const char *got = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!got || strncasecmp(got, "Bearer ", 7) != 0) return 0;
    got += 7;
    size_t gl = strlen(got), kl = strlen(key);
    unsigned char diff = (unsigned char)(gl != kl);
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)(key[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

static void answer_health(request *rq)
{
    http_server *h = rq->h;
    int ready = rq->eng && !atomic_load(&h->draining);
    switch (rq->rt.kind) {
    case R_HEALTHZ: set_text(rq, 200, "{\"status\":\"ok\"}\n"); break;
    case R_READYZ:
        if (ready) set_text(rq, 200, "{\"status\":\"ready\"}\n");
        else set_text(rq, 503, atomic_load(&h->draining) ? "{\"status\":\"draining\"}\n"
                                                          : "{\"status\":\"starting\"}\n");
        break;
    case R_PING:
        set_text(rq, ready ? 200 : 503, ready ? "{\"status\":\"Healthy\"}\n" : "{\"status\":\"Unhealthy\"}\n");
        break;
    case R_V2_LIVE: set_answer(rq, 200, NULL, 0, "application/json"); break;
    case R_V2_READY: set_answer(rq, ready ? 200 : 503, NULL, 0, "application/json"); break;
    default: break;
    }
}

/* Phase 1 for an inference endpoint: everything decidable from the headers. */
static void begin_inference(request *rq)
{
    http_server *h = rq->h;
    if (!authorized(rq)) {
        rq->www_auth = 1;
        set_error(rq, 401, "missing or wrong API key: send 'Authorization: Bearer <key>'");
        return;
    }
    if (!rq->eng) {
        set_error(rq, 503, "model is still loading");
        rq->retry_after = 1;
        return;
    }
    if (rq->rt.kind != R_PREDICT && !model_name_matches(rq)) {
        set_error(rq, 404, "unknown model \"%.*s\" (this server serves \"%s\")", (int)rq->rt.model_len,
                  rq->rt.model, rq->eng->name);
        return;
    }
    const char *cl = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end == '\0' && n > h->max_body) {
            set_error(rq, 413, "request body of %llu bytes is over the limit of %zu bytes (--max-body-mb %d)",
                      n, h->max_body, h->cfg->max_body_mb);
            return;
        }
    }
    const char *ct = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t ctl = ct ? strlen(ct) : 0;
    if (rq->rt.kind == R_PREDICT || rq->rt.kind == R_TORCHSERVE) {
        if (mp_media_type_is(ct, ctl, "multipart/form-data")) {
            if (mp_boundary(ct, ctl, rq->boundary, &rq->boundary_len) != MP_OK) {
                set_error(rq, 400, "multipart/form-data without a valid boundary parameter");
                return;
            }
            rq->multipart = 1;
        } else if (rq->rt.kind == R_PREDICT && ct && !mp_media_type_is(ct, ctl, "image/") &&
                   !mp_media_type_is(ct, ctl, "application/octet-stream") &&
                   /* what `curl --data-binary @x.jpg` sends when no -H is given */
                   !mp_media_type_is(ct, ctl, "application/x-www-form-urlencoded")) {
            set_error(rq, 415, "unsupported Content-Type \"%.100s\": send an image (image/*, "
                      "application/octet-stream) or multipart/form-data", ct);
            return;
        }
        /* TorchServe accepts any raw body; the decoder decides. */
    } else if (rq->rt.kind == R_V2_INFER) {
        if (ct && !mp_media_type_is(ct, ctl, "application/json") &&
            !mp_media_type_is(ct, ctl, "application/octet-stream") &&
            !mp_media_type_is(ct, ctl, "application/vnd.sagemaker-triton.binary+json")) {
            set_error(rq, 415, "unsupported Content-Type \"%.100s\": send application/json "
                      "(or application/octet-stream with Inference-Header-Content-Length)", ct);
            return;
        }
    }
    if (rq->rt.kind == R_PREDICT) {
        char err[128];
        const char *k = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "top_k");
        int max_k = rq->eng->rm.n_classes < API_MAX_TOP_K ? rq->eng->rm.n_classes : API_MAX_TOP_K;
        if (query_int(k, k ? strlen(k) : 0, "top_k", DEFAULT_TOP_K < max_k ? DEFAULT_TOP_K : max_k, 1, max_k,
                      &rq->top_k, err, sizeof err)) {
            set_error(rq, 400, "%s", err);
            return;
        }
    } else {
        rq->top_k = TORCHSERVE_TOP_K < rq->eng->rm.n_classes ? TORCHSERVE_TOP_K : rq->eng->rm.n_classes;
    }
    rq->ph = PH_BODY;
}

/* Phase 1: route, method, and every check the headers allow, so hopeless requests are answered
 * before their body is read. Leaves rq->ph = PH_BODY when a body is to be read, PH_DONE otherwise. */
static void begin(request *rq, const char *url, const char *method)
{
    http_server *h = rq->h;
    route_match(url, strlen(url), &rq->rt);
    rq->ep = endpoint_of(rq->rt.kind);
    if (atomic_load_explicit(&h->engine_set, memory_order_acquire)) rq->eng = &h->eng;
    if (rq->rt.kind == R_NOT_FOUND) {
        set_error(rq, 404, "no such endpoint: %.64s %.200s", method, url);
        return;
    }
    if (!route_method_allowed(&rq->rt, method)) {
        rq->allow = 1;
        set_error(rq, 405, "method %.64s not allowed on %.200s (allowed: %s)", method, url, rq->rt.allow);
        return;
    }
    switch (rq->rt.kind) {
    case R_HEALTHZ: case R_READYZ: case R_PING: case R_V2_LIVE: case R_V2_READY:
        answer_health(rq);
        return;
    case R_METRICS: {
        size_t len = 0;
        char *body = metrics_render(h->metrics, &len);
        if (!body) set_error(rq, 500, "out of memory");
        else set_answer(rq, 200, body, len, "text/plain; version=0.0.4; charset=utf-8");
        return;
    }
    case R_V2_SERVER: {
        size_t len = 0;
        char *body = resp_v2_server(SERVER_VERSION, &len);
        set_json(rq, 200, body, len);
        return;
    }
    default: break;
    }
    if (!rq->eng) {
        rq->retry_after = 1;
        set_error(rq, 503, "model is still loading");
        return;
    }
    size_t len = 0;
    char *body;
    switch (rq->rt.kind) {
    case R_MODELS:
        body = resp_models(&rq->eng->rm, &len);
        set_json(rq, 200, body, len);
        return;
    case R_V2_MODEL:
    case R_V2_MODEL_READY:
        if (!model_name_matches(rq)) {
            set_error(rq, 404, "unknown model \"%.*s\" (this server serves \"%s\")", (int)rq->rt.model_len,
                      rq->rt.model, rq->eng->name);
        } else if (rq->rt.kind == R_V2_MODEL) {
            body = resp_v2_model(&rq->eng->rm, &len);
            set_json(rq, 200, body, len);
        } else {
            set_answer(rq, atomic_load(&h->draining) ? 503 : 200, NULL, 0, "application/json");
        }
        return;
    default: break;
    }
    begin_inference(rq);
}

/* Phase 2: appends an upload chunk, enforcing the body limit as bytes arrive. A body over the limit is
 * dropped (answered 413 at the end); one that keeps going past twice the limit loses its connection. */
static int consume(request *rq, const char *data, size_t n)
{
    size_t limit = rq->h->max_body;
    if (rq->over_limit) {
        rq->dropped += n;
        return rq->dropped / 2 <= limit;
    }
    if (n > limit - rq->len) {
        rq->over_limit = 1;
        rq->dropped = rq->len + n;
        free(rq->body);
        rq->body = NULL;
        rq->len = rq->cap = 0;
        return 1;
    }
    if (rq->len + n > rq->cap) {
        size_t cap = rq->cap ? rq->cap : 64 * 1024;
        while (cap < rq->len + n) cap *= 2;
        if (cap > limit) cap = limit;
        uint8_t *b = realloc(rq->body, cap);
        if (!b) return 0;
        rq->body = b;
        rq->cap = cap;
    }
    memcpy(rq->body + rq->len, data, n);
    rq->len += n;
    return 1;
}

/* The worker's completion: publish, then resume; the request must not be touched after resuming. */
static void job_done(batch_job *job)
{
    request *rq = job->user;
    struct MHD_Connection *conn = rq->conn;
    atomic_store_explicit(&rq->job_done, 1, memory_order_release);
    MHD_resume_connection(conn);
}

static int status_of_decode(int rc)
{
    switch (rc) {
    case DEIT_ETOOBIG: return 413;
    case DEIT_EUNSUPPORTED: return 415;
    case DEIT_ENOMEM: return 503;
    default: return 400;
    }
}

/* Splits the body into encoded images: blobs[] point into rq->body or rq->v2. */
static int collect_images(request *rq, const uint8_t ***data, size_t **lens)
{
    http_server *h = rq->h;
    size_t max_images = (size_t)h->cfg->max_images;
    char err[256];
    *data = NULL;
    *lens = NULL;
    if (rq->rt.kind == R_V2_INFER) {
        long long hl = -1;
        const char *hv = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Inference-Header-Content-Length");
        if (hv) {
            int v;
            if (query_int(hv, strlen(hv), "Inference-Header-Content-Length", 0, 0, 999999999, &v, err, sizeof err)) {
                set_error(rq, 400, "%s", err);
                return -1;
            }
            hl = v;
        }
        int rc = v2_parse_request(rq->body ? rq->body : (const uint8_t *)"", rq->len, hl, max_images, &rq->v2,
                                  err, sizeof err);
        if (rc) {
            set_error(rq, rc == V2_ETOOMANY ? 413 : rc == V2_ENOMEM ? 500 : 400, "%s", err);
            return -1;
        }
        rq->n_images = (int)rq->v2.n_images;
        *data = malloc(rq->v2.n_images * sizeof **data);
        *lens = malloc(rq->v2.n_images * sizeof **lens);
        if (!*data || !*lens) { set_error(rq, 500, "out of memory"); return -1; }
        for (size_t i = 0; i < rq->v2.n_images; i++) {
            (*data)[i] = rq->v2.images[i].data;
            (*lens)[i] = rq->v2.images[i].len;
        }
        return 0;
    }
    if (!rq->multipart) {
        if (rq->len == 0) {
            set_error(rq, 400, "empty body: send the image bytes (or multipart/form-data)");
            return -1;
        }
        *data = malloc(sizeof **data);
        *lens = malloc(sizeof **lens);
        if (!*data || !*lens) { set_error(rq, 500, "out of memory"); return -1; }
        (*data)[0] = rq->body;
        (*lens)[0] = rq->len;
        rq->n_images = 1;
        return 0;
    }
    mp_limits lim = {max_images + EXTRA_FORM_PARTS, MAX_PART_HEADER_BYTES, h->max_body};
    mp_part *parts = malloc(lim.max_parts * sizeof *parts);
    if (!parts) { set_error(rq, 500, "out of memory"); return -1; }
    size_t np = 0;
    int rc = mp_parse(rq->body ? rq->body : (const uint8_t *)"", rq->len, rq->boundary, rq->boundary_len, &lim,
                      parts, lim.max_parts, &np, err, sizeof err);
    if (rc != MP_OK) {
        free(parts);
        if (rc == MP_ETOOMANY)
            set_error(rq, 413, "too many multipart parts (at most %zu images per request, --max-images)", max_images);
        else
            set_error(rq, rc == MP_ETOOBIG ? 413 : 400, "%s", err);
        return -1;
    }
    /* images: parts with a filename or a non-text content type; plain form fields are ignored */
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        int text = !parts[i].content_type || mp_media_type_is(parts[i].content_type, parts[i].content_type_len,
                                                              "text/");
        if (parts[i].filename || !text) parts[n++] = parts[i];
    }
    if (n == 0) {
        free(parts);
        set_error(rq, 400, "multipart body has no file part (send the image with -F image=@file)");
        return -1;
    }
    if (n > max_images) {
        free(parts);
        set_error(rq, 413, "%zu images in one request is over the limit of %zu (--max-images)", n, max_images);
        return -1;
    }
    *data = malloc(n * sizeof **data);
    *lens = malloc(n * sizeof **lens);
    if (!*data || !*lens) { free(parts); set_error(rq, 500, "out of memory"); return -1; }
    for (size_t i = 0; i < n; i++) {
        (*data)[i] = parts[i].data;
        (*lens)[i] = parts[i].len;
    }
    free(parts);
    rq->n_images = (int)n;
    return 0;
}

static void queue_full(request *rq)
{
    rq->retry_after = 1;
    set_error(rq, 503, "server busy: queue is full (%d images, --queue)", rq->h->cfg->queue);
}

/* End of phase 2: parse the body, decode every image here in the HTTP thread (so workers only run
 * forward passes), then suspend the connection and queue the job. */
static void finish_upload(request *rq)
{
    http_server *h = rq->h;
    if (rq->over_limit) {
        set_error(rq, 413, "request body is over the limit of %zu bytes (--max-body-mb %d)", h->max_body,
                  h->cfg->max_body_mb);
        return;
    }
    const uint8_t **data;
    size_t *lens;
    if (collect_images(rq, &data, &lens)) {
        free(data);
        free(lens);
        return;
    }
    const engine *e = rq->eng;
    size_t F = e->in_floats, K = (size_t)e->cfg->n_classes, n = (size_t)rq->n_images;
    /* Shed load before the expensive part: when the queue cannot take these images now, decoding them
     * would only delay this 503 (and every other upload waiting for this HTTP thread). The check races
     * with the workers, so the submit below still decides; this only saves work when it is clear. */
    if (batcher_queued(e->batcher) + rq->n_images > h->cfg->queue) {
        free(data);
        free(lens);
        queue_full(rq);
        return;
    }
    rq->pixels = malloc(n * F * sizeof(float));
    rq->cls = malloc(n * K * sizeof(float));
    rq->dist = malloc(n * K * sizeof(float));
    if (!rq->pixels || !rq->cls || !rq->dist) {
        free(data);
        free(lens);
        rq->retry_after = 1;
        set_error(rq, 503, "out of memory for %zu images", n);
        return;
    }
    double t = now_s();
    for (size_t i = 0; i < n; i++) {
        char err[256];
        int rc = deit_preprocess(e->model, data[i], lens[i], (size_t)h->cfg->max_pixels, rq->pixels + i * F, err,
                                 sizeof err);
        if (rc != DEIT_OK) {
            int st = status_of_decode(rc);
            if (n == 1) set_error(rq, st, "%s", err);
            else set_error(rq, st, "image %zu: %s", i + 1, err);
            free(data);
            free(lens);
            return;
        }
    }
    rq->decode_ms = (now_s() - t) * 1e3;
    free(data);
    free(lens);

    batch_job *j = &rq->job;
    memset(j, 0, sizeof *j);
    j->n = rq->n_images;
    j->pixels = rq->pixels;
    j->cls = rq->cls;
    j->dist = rq->dist;
    j->done = job_done;
    j->user = rq;
    rq->ph = PH_QUEUED;
    /* suspend before the job becomes visible to a worker: resume must never precede suspend */
    MHD_suspend_connection(rq->conn);
    int rc = batcher_submit(e->batcher, j);
    if (rc != BATCH_OK) {
        if (rc == BATCH_FULL) {
            queue_full(rq);
        } else {
            rq->retry_after = 1;
            set_error(rq, 503, "server is shutting down");
        }
        rq->resume_pending = 1;
        MHD_resume_connection(rq->conn); /* answered on the next handler call */
    }
}

/* Phase 3 after a job: fuse the logits and build the endpoint's body. */
static void answer_job(request *rq)
{
    http_server *h = rq->h;
    const batch_job *j = &rq->job;
    if (j->status == BATCH_TIMEOUT) {
        set_error(rq, 504, "request timed out after %d s waiting for a worker (--request-timeout-s)",
                  h->cfg->request_timeout_s);
        return;
    }
    if (j->status == BATCH_SHUTDOWN) {
        set_error(rq, 503, "server is shutting down");
        return;
    }
    if (j->status != BATCH_OK) {
        set_error(rq, 500, "inference failed");
        return;
    }
    const engine *e = rq->eng;
    size_t K = (size_t)e->cfg->n_classes, n = (size_t)rq->n_images, len = 0;
    char *body = NULL;
    if (rq->rt.kind == R_PREDICT) {
        /* fused from the logits inside api_prediction_json, exactly as deit-predict does */
        resp_timing t = {rq->decode_ms, (j->t_start - j->t_submit) * 1e3, (j->t_end - j->t_start) * 1e3,
                         (now_s() - rq->t0) * 1e3};
        body = resp_predict(e->cfg, e->name, rq->cls, rq->dist, (int)n, rq->top_k, &t, &len);
        set_json(rq, 200, body, len);
        return;
    }
    float *p = malloc(3 * n * K * sizeof(float));
    if (!p) {
        set_error(rq, 500, "out of memory");
        return;
    }
    float *pc = p, *pd = p + n * K, *pf = p + 2 * n * K;
    for (size_t i = 0; i < n; i++)
        deit_fuse(rq->cls + i * K, rq->dist + i * K, (int)K, e->cfg->distilled, pc + i * K, pd + i * K, pf + i * K);
    if (rq->rt.kind == R_TORCHSERVE) {
        body = resp_torchserve(&e->rm, pf, (int)n, rq->top_k, &len);
    } else {
        const float *const probs[V2_OUT_COUNT] = {pc, pd, pf};
        body = resp_v2_infer(&e->rm, rq->v2.id, rq->v2.outputs, rq->v2.n_outputs, probs, (int)n, &len);
    }
    free(p);
    set_json(rq, 200, body, len);
}

/* Queues the prepared answer (once). */
static enum MHD_Result respond(request *rq)
{
    if (rq->responded) return MHD_YES;
    struct MHD_Response *r;
    if (rq->resp) {
        r = MHD_create_response_from_buffer(rq->resp_len, rq->resp, MHD_RESPMEM_MUST_FREE);
        if (r) rq->resp = NULL; /* owned by the response now */
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype ? rq->ctype : "application/json");
    if (rq->allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rq->rt.allow);
    if (rq->retry_after) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (rq->www_auth) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&rq->h->draining)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)rq->status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) rq->responded = 1;
    return ok;
}

/* 1 when the request announces a body (POST/PUT, or any Content-Length > 0 / chunked upload). */
static int expects_body(struct MHD_Connection *conn, const char *method)
{
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) return 1;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strcmp(cl, "0") != 0);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)version;
    http_server *h = cls;
    request *rq = *con_cls;
    if (!rq) {
        /* phase 1: headers complete */
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        atomic_fetch_add(&h->inflight, 1);
        rq->h = h;
        rq->conn = conn;
        rq->t0 = now_s();
        rq->status = 0;
        atomic_init(&rq->job_done, 0);
        snprintf(rq->method, sizeof rq->method, "%s", method);
        snprintf(rq->path, sizeof rq->path, "%s", url);
        begin(rq, url, method);
        read_deadlines_headers(h->rd, conn, expects_body(conn, method));
        /* MHD closes the connection after a response queued in this first call, so answer here only
         * requests whose body we refuse to read (uploads); the rest answer on the next call and keep
         * their connection alive. */
        if (rq->ph == PH_DONE && expects_body(conn, method)) return respond(rq);
        return MHD_YES;
    }
    switch (rq->ph) {
    case PH_BODY:
        /* phase 2: body chunks, then the end of the upload */
        if (*upload_data_size) {
            read_deadlines_body(h->rd, conn, *upload_data_size);
            int ok = consume(rq, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return ok ? MHD_YES : MHD_NO;
        }
        read_deadlines_request_read(h->rd, conn);
        finish_upload(rq);
        return rq->ph == PH_DONE && !rq->resume_pending ? respond(rq) : MHD_YES;
    case PH_QUEUED:
        /* phase 3: resumed by the worker */
        if (!atomic_load_explicit(&rq->job_done, memory_order_acquire)) return MHD_YES;
        answer_job(rq);
        return respond(rq);
    case PH_DONE:
    default:
        if (*upload_data_size) { /* a body we do not want (e.g. on GET): discard it */
            read_deadlines_body(h->rd, conn, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        read_deadlines_request_read(h->rd, conn);
        rq->resume_pending = 0;
        return respond(rq);
    }
}

/* Access log: one line per request, written with a single stdio call so lines never interleave. */
static void access_log(const request *rq, int status, double ms, enum MHD_RequestTerminationCode toe)
{
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    static const char *const TOE[] = {"ok", "error", "timeout", "shutdown", "read_error", "client_abort"};
    const char *end = (unsigned)toe < 6 ? TOE[toe] : "other";
    size_t in = rq->over_limit ? rq->dropped : rq->len;
    if (rq->h->log_json)
        fprintf(stderr,
                "{\"ts\":\"%s.%03ldZ\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"images\":%d,"
                "\"ms\":%.3f,\"bytes_in\":%zu,\"bytes_out\":%zu,\"end\":\"%s\"}\n",
                ts, now.tv_nsec / 1000000, rq->method, rq->path, status, rq->n_images, ms, in, rq->resp_len, end);
    else
        fprintf(stderr, "%s.%03ldZ %s %s %d images=%d ms=%.3f in=%zu out=%zu end=%s\n", ts, now.tv_nsec / 1000000,
                rq->method, rq->path, status, rq->n_images, ms, in, rq->resp_len, end);
}

/* Completion: the only place a request's state is freed (style.md). */
static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *h = cls;
    read_deadlines_response_done(h->rd, conn); /* a keep-alive connection now owes the next request */
    request *rq = *con_cls;
    if (!rq) return;
    double secs = now_s() - rq->t0;
    int status = rq->responded ? rq->status : 0;
    metrics_request(h->metrics, rq->ep, status, secs);
    access_log(rq, status, secs * 1e3, toe);
    free(rq->body);
    free(rq->resp);
    free(rq->pixels);
    free(rq->cls);
    free(rq->dist);
    v2_request_free(&rq->v2);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

/* Reads a whole PEM file into a NUL-terminated buffer (MHD wants C strings), refusing anything over
 * MAX_TLS_FILE_BYTES so a wrong path (a device, a huge file) cannot stall or exhaust the start. */
static char *read_pem(const char *flag, const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--%s %s: cannot open: %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_TLS_FILE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_TLS_FILE_BYTES + 1, f) : 0;
    int rd_err = ferror(f);
    fclose(f);
    if (buf) buf[n <= MAX_TLS_FILE_BYTES ? n : MAX_TLS_FILE_BYTES] = '\0';
    if (!buf || rd_err || n == 0 || n > MAX_TLS_FILE_BYTES || !strstr(buf, "-----BEGIN ")) {
        snprintf(err, errlen, "--%s %s: %s", flag, path,
                 !buf ? "out of memory" : rd_err ? "read error" : n == 0 ? "empty file"
                 : n > MAX_TLS_FILE_BYTES ? "larger than 1 MiB" : "not a PEM file");
        if (buf) explicit_bzero(buf, MAX_TLS_FILE_BYTES + 1);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void free_server(http_server *h)
{
    read_deadlines_free(h->rd);
    free(h->tls_cert);
    if (h->tls_key) explicit_bzero(h->tls_key, h->tls_key_len); /* no key bytes left in freed memory */
    free(h->tls_key);
    free(h);
}

/* Loads --tls-cert/--tls-key when given. 0 on success (or no TLS), -1 with a message. */
static int load_tls(http_server *h, const server_config *cfg, char *err, size_t errlen)
{
    if (!cfg->tls_cert || !*cfg->tls_cert) return 0;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "--tls-cert: this libmicrohttpd was built without TLS (GnuTLS) support");
        return -1;
    }
    size_t n;
    h->tls_cert = read_pem("tls-cert", cfg->tls_cert, &n, err, errlen);
    if (!h->tls_cert) return -1;
    h->tls_key = read_pem("tls-key", cfg->tls_key, &h->tls_key_len, err, errlen);
    return h->tls_key ? 0 : -1;
}

http_server *http_start(const server_config *cfg, metrics *m, char *err, size_t errlen)
{
    http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->metrics = m;
    h->max_body = (size_t)cfg->max_body_mb << 20;
    h->listen_fd = MHD_INVALID_SOCKET;
    h->log_json = strcmp(cfg->log_format, "json") == 0;
    atomic_init(&h->engine_set, 0);
    atomic_init(&h->draining, 0);
    atomic_init(&h->inflight, 0);
    if (load_tls(h, cfg, err, errlen)) {
        free_server(h);
        return NULL;
    }
    h->rd = read_deadlines_start(cfg->read_timeout_s, MIN_UPLOAD_BYTES_PER_S, &m->slow_closed);
    if (!h->rd) {
        snprintf(err, errlen, "out of memory or threads for the read-deadline watchdog");
        free_server(h);
        return NULL;
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "--host %s: %s", cfg->host, gai_strerror(gai));
        free_server(h);
        return NULL;
    }
    /* poll(), not epoll: with epoll, MHD_quiesce_daemon (our drain) races the worker threads' own
     * removal of the listen socket from their epoll sets and MHD_PANICs (abort) when it loses;
     * seen once in a fresh-container test run on SIGTERM. With poll() quiesce only signals the
     * workers. poll() costs O(connections) per wake-up: nothing at the default --max-connections 512. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* TLS options go through MHD_OPTION_ARRAY so one call serves both modes (an empty array: none) */
    struct MHD_OptionItem tls_opts[3] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL},
                                         {MHD_OPTION_END, 0, NULL}};
    if (h->tls_cert) {
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    }
    h->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, handler, h,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
                            MHD_OPTION_NOTIFY_CONNECTION, read_deadlines_notify, h->rd,
                            MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(err, errlen, h->tls_cert ? "could not listen on %s:%d with TLS (port in use, no permission, or "
                                            "--tls-cert/--tls-key not a valid certificate and matching key)"
                                          : "could not listen on %s:%d (port in use, or no permission)",
                 cfg->host, cfg->port);
        free_server(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    return h;
}

static const char *dtype_name(st_dtype t)
{
    switch (t) {
    case ST_F32: return "F32";
    case ST_F16: return "F16";
    case ST_BF16: return "BF16";
    default: return "other";
    }
}

void http_set_engine(http_server *h, const deit_model *model, batcher *b, const char *name)
{
    engine *e = &h->eng;
    const deit_config *c = deit_model_config(model);
    e->model = model;
    e->cfg = c;
    e->name = name;
    e->batcher = b;
    e->in_floats = deit_input_floats(model);
    e->rm = (resp_model){e->name, c->architecture, dtype_name(c->dtype), c->image_h, c->image_w, c->in_chans,
                         c->patch, c->dim, c->depth, c->heads, c->n_classes, c->distilled,
                         (const char *const *)c->labels};
    atomic_store_explicit(&h->engine_set, 1, memory_order_release);
}

int http_port(const http_server *h) { return h->port; }

int http_tls(const http_server *h) { return h->tls_cert != NULL; }

void http_drain(http_server *h)
{
    if (atomic_exchange(&h->draining, 1)) return;
    h->listen_fd = MHD_quiesce_daemon(h->d);
    /* MHD no longer accepts, but the kernel would keep completing handshakes into the backlog and
     * reset them at exit. shutdown() stops listening now (new clients are refused at connect) while
     * the descriptor stays open, as MHD requires, until MHD_stop_daemon. */
    if (h->listen_fd != MHD_INVALID_SOCKET) {
        /* Connections the kernel completed but MHD had not accepted yet may already carry a request
         * (a proxy writes it right after connect); shutdown() would reset them. Adopt them first. */
        for (int i = 0; i < 4096; i++) {
            struct sockaddr_storage sa;
            socklen_t sl = sizeof sa;
            int fd = accept4(h->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            if (MHD_add_connection(h->d, fd, (struct sockaddr *)&sa, sl) != MHD_YES) close(fd);
        }
        shutdown(h->listen_fd, SHUT_RDWR);
    }
}

int http_inflight(const http_server *h) { return atomic_load(&h->inflight); }

void http_stop(http_server *h)
{
    if (!h) return;
    read_deadlines_stop(h->rd); /* before MHD closes the connections the watchdog looks at */
    MHD_stop_daemon(h->d);
    if (h->listen_fd != MHD_INVALID_SOCKET) close(h->listen_fd);
    free_server(h);
}
