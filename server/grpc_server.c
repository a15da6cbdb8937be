/* grpc_server.c — the gRPC front end's lifecycle, routing, the small RPCs (live, ready, metadata,
 * health) and how every call is answered, counted and logged; ModelInfer is in grpc_infer.c. */
#include "grpc_front.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "grpc_codec.h"
#include "status_map.h"
#include "tls.h"

/* Longest "authorization" metadata value looked at (gRPC itself caps all metadata at 16 KiB). */
#define MAX_AUTH_BYTES 16384
/* Calls open at once on one connection: grpc-go's default and many servers'. */
#define MAX_STREAMS 100
/* How long gfe_stop lets calls still open finish before cancelling them. */
#define STOP_GRACE_S 1.0

#define SVC "/inference.GRPCInferenceService/"
#define HEALTH_CHECK "/grpc.health.v1.Health/Check"

static const char *code_name(int code)
{
    switch (code) {
    case RPC_OK: return "OK";
    case RPC_CANCELLED: return "CANCELLED";
    case RPC_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case RPC_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case RPC_NOT_FOUND: return "NOT_FOUND";
    case RPC_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case RPC_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case RPC_INTERNAL: return "INTERNAL";
    case RPC_UNAVAILABLE: return "UNAVAILABLE";
    case RPC_UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
    }
}

/* Access log: the HTTP log's line (log.h) with method "GRPC", the gRPC method as path, the HTTP
 * status REST gives for the same outcome, and the gRPC status as how the call ended. */
static void access_log(const gfe_call *ci, int code, int http_status, double ms, size_t out)
{
    char end[40];
    snprintf(end, sizeof end, "grpc:%s", code_name(code));
    log_access_rec r = {"GRPC", ci->method, http_status, ci->n_images, ms, ci->bytes_in, out, end};
    log_access(ci->g->log, &r);
}

void gfe_answer(const gfe_call *ci, int code, int http_status, const char *message, const uint8_t *resp,
                size_t len)
{
    gfe_server *g = ci->g;
    double secs = batcher_now() - ci->t0;
    /* counted and logged before the answer leaves: a client that reads /metrics right after its
     * answer sees its call */
    metrics_request(g->metrics, ci->ep, http_status, secs);
    access_log(ci, code, http_status, secs * 1e3, code == RPC_OK ? len : 0);
    rpc_call_finish(ci->call, code, message, resp, len);
    atomic_fetch_sub(&g->inflight, 1);
}

void gfe_fail_code(const gfe_call *ci, int code, int http_status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gfe_answer(ci, code, http_status, msg, NULL, 0);
}

void gfe_fail(const gfe_call *ci, int http_status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gfe_answer(ci, api_grpc_of_http(http_status), http_status, msg, NULL, 0);
}

/* Answers with a freshly encoded message (NULL: out of memory) of *len bytes, and frees it. (len is
 * read here, after the encoder that sets it has run: argument evaluation order is unspecified.) */
static void answer_msg(const gfe_call *ci, uint8_t *msg, const size_t *lenp)
{
    size_t len = *lenp;
    if (!msg) {
        gfe_fail(ci, 503, "out of memory building the response");
        return;
    }
    gfe_answer(ci, RPC_OK, 200, NULL, msg, len);
    free(msg);
}

const gfe_engine *gfe_engine_get(gfe_server *g)
{
    return atomic_load_explicit(&g->engine_set, memory_order_acquire) ? &g->eng : NULL;
}

int gfe_authorized(const gfe_server *g, const rpc_call *call)
{
    const char *key = g->cfg->api_key;
    if (!key || !*key) return 1;
    size_t len = 0;
    const char *got = rpc_call_metadata(call, "authorization", &len);
    if (!got || len > MAX_AUTH_BYTES) return 0;
    char *value = strndup(got, len); /* metadata values are not NUL-terminated */
    int ok = value && strlen(value) == len && api_authorized(key, value);
    free(value);
    return ok;
}

int gfe_model_check(const gfe_engine *e, const char *name, const char *version, char *msg, size_t msglen)
{
    /* the route REST would have matched for /v2/models/{name}[/versions/{version}]/infer */
    route rt = {.kind = R_V2_INFER, .model = name, .model_len = strlen(name), .version = *version ? version : NULL,
                .version_len = strlen(version), .errors = ERRORS_V2, .allow = "POST"};
    return api_model_check(&rt, &e->am, msg, msglen);
}

static int ready(gfe_server *g)
{
    return gfe_engine_get(g) && !atomic_load(&g->draining);
}

/* A small request's decoder said no (rc: -1 or GCODEC_ETOOBIG): answers why. */
static void small_refused(const gfe_call *ci, int rc, size_t len, const char *what)
{
    if (rc == GCODEC_ETOOBIG) /* REST's 413 for a body over its limit: RESOURCE_EXHAUSTED */
        gfe_fail(ci, 413, "%s of %zu bytes is over the %d KiB this method accepts", what, len, GCODEC_SMALL_MAX / 1024);
    else
        gfe_fail(ci, 400, "request is not a valid %s message", what);
}

/* ModelReady and ModelMetadata: which model, then the answer. */
static void model_call(const gfe_call *ci, const uint8_t *req, size_t len, int metadata)
{
    gfe_server *g = ci->g;
    char *name, *version;
    int rc = gcodec_decode_model_ref(req, len, &name, &version);
    if (rc) {
        small_refused(ci, rc, len, metadata ? "ModelMetadataRequest" : "ModelReadyRequest");
        return;
    }
    const gfe_engine *e = gfe_engine_get(g);
    size_t n = 0;
    char msg[API_MSG_MAX];
    int st;
    if (!e) {
        if (metadata) gfe_fail(ci, 503, "model is still loading");
        else answer_msg(ci, gcodec_encode_flag(GCODEC_FLAG_MODEL_READY, 0, &n), &n);
    } else if ((st = gfe_model_check(e, name, version, msg, sizeof msg))) {
        gfe_fail(ci, st, "%s", msg);
    } else if (metadata) {
        answer_msg(ci, gcodec_encode_model_metadata(&e->am, &n), &n);
    } else {
        answer_msg(ci, gcodec_encode_flag(GCODEC_FLAG_MODEL_READY, !atomic_load(&g->draining), &n), &n);
    }
    free(name);
    free(version);
}

static void health_check(const gfe_call *ci, const uint8_t *req, size_t len)
{
    char *service;
    int rc = gcodec_decode_health(req, len, &service);
    if (rc) {
        small_refused(ci, rc, len, "HealthCheckRequest");
        return;
    }
    /* "" is the server as a whole (what Kubernetes asks); the one service we serve is the other name */
    if (*service && strcmp(service, "inference.GRPCInferenceService") != 0) {
        gfe_fail(ci, 404, "unknown service \"%.200s\"", service);
    } else {
        size_t n = 0;
        answer_msg(ci, gcodec_encode_health(ready(ci->g), &n), &n);
    }
    free(service);
}

typedef enum { M_LIVE, M_READY, M_MODEL_READY, M_SERVER_META, M_MODEL_META, M_INFER, M_HEALTH } method_kind;

static const struct {
    const char *path;
    method_kind kind;
    metrics_endpoint ep;
} METHODS[] = {
    {SVC "ModelInfer", M_INFER, EP_GRPC_INFER},
    {SVC "ServerLive", M_LIVE, EP_GRPC_META},
    {SVC "ServerReady", M_READY, EP_GRPC_META},
    {SVC "ModelReady", M_MODEL_READY, EP_GRPC_META},
    {SVC "ServerMetadata", M_SERVER_META, EP_GRPC_META},
    {SVC "ModelMetadata", M_MODEL_META, EP_GRPC_META},
    {HEALTH_CHECK, M_HEALTH, EP_HEALTH},
};

/* A call starts (its headers arrived). Its tag says whether it began while the server was already
 * draining (then it gets UNAVAILABLE; calls begun before SIGTERM complete). It is not in flight yet:
 * a client could hold it open without its message and so hold every drain for the whole grace;
 * it is counted from its message (handle) and, until then, ended by --read-timeout-s or gfe_stop. */
static int on_start(void *ctx)
{
    gfe_server *g = ctx;
    return atomic_load(&g->draining);
}

/* Sets ci's method and metrics endpoint from the method's route; returns its kind, or -1 (then ci
 * keeps "(unknown method)" and EP_OTHER). */
static int route_of(const char *method, gfe_call *ci)
{
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strcmp(method, METHODS[i].path) == 0) {
            ci->method = METHODS[i].path;
            ci->ep = METHODS[i].ep;
            return (int)METHODS[i].kind;
        }
    return -1;
}

/* The transport's report of a call that ended without its message (already answered, if at all):
 * counted and logged as gfe_answer does. A cancelled call is HTTP_CLIENT_CLOSED, not a client error:
 * the client left or its deadline passed before it sent the request, which it may well do. (Once
 * the message is read, a deadline that passes is the server's time: grpc_infer.c counts it 504.) */
static void on_unread(void *ctx, rpc_call *call, const char *method, rpc_unread why, double secs)
{
    gfe_server *g = ctx;
    gfe_call ci = {g, call, "(unknown method)", EP_OTHER, 0, 0, 0};
    route_of(method, &ci);
    int code = RPC_INVALID_ARGUMENT, http = 400;
    if (why == RPC_UNREAD_CANCELLED && atomic_load(&g->stopping)) {
        code = RPC_UNAVAILABLE; /* cancelled by gfe_stop, not by the client */
        http = 503;
    } else if (why == RPC_UNREAD_TIMEOUT) {
        code = RPC_DEADLINE_EXCEEDED;
        http = 408; /* REST closes such a connection; 408 is HTTP's word for it */
    } else if (why == RPC_UNREAD_CANCELLED) {
        code = rpc_call_time_left(call) <= 0 ? RPC_DEADLINE_EXCEEDED : RPC_CANCELLED;
        http = HTTP_CLIENT_CLOSED;
    }
    metrics_request(g->metrics, ci.ep, http, secs);
    access_log(&ci, code, http, secs * 1e3, 0);
}

/* One call's message, plain, to its method. */
static void dispatch(const gfe_call *ci, int kind, const char *method, const uint8_t *req, size_t len)
{
    size_t n = 0;
    char what[40];
    int rc;
    switch (kind) {
    case M_INFER: gfe_model_infer(ci, req, len); return;
    case M_MODEL_READY: model_call(ci, req, len, 0); return;
    case M_MODEL_META: model_call(ci, req, len, 1); return;
    case M_HEALTH: health_check(ci, req, len); return;
    case M_LIVE: case M_READY: case M_SERVER_META:
        if ((rc = gcodec_decode_empty(req, len))) {
            snprintf(what, sizeof what, "%sRequest", strrchr(ci->method, '/') + 1);
            small_refused(ci, rc, len, what);
            return;
        }
        if (kind == M_LIVE) answer_msg(ci, gcodec_encode_flag(GCODEC_FLAG_LIVE, 1, &n), &n);
        else if (kind == M_READY) answer_msg(ci, gcodec_encode_flag(GCODEC_FLAG_READY, ready(ci->g), &n), &n);
        else answer_msg(ci, gcodec_encode_server_metadata(DEIT_SERVER_VERSION, &n), &n);
        return;
    default:
        gfe_fail_code(ci, RPC_UNIMPLEMENTED, 404, "no such method: %.200s", method);
        return;
    }
}

/* A compressed message inflated into *plain (the caller frees it), bounded as its method bounds a
 * message sent plain: ModelInfer by --max-body-mb (gRPC's receive limit), the small calls by
 * GCODEC_SMALL_MAX; and, as REST bounds a body, by API_INFLATE_RATIO x its size. 0, or -1 after
 * answering (RESOURCE_EXHAUSTED over a bound, INVALID_ARGUMENT for a corrupt stream). */
static int inflate_message(const gfe_call *ci, int kind, const uint8_t *req, size_t len, uint8_t **plain,
                           size_t *plain_len)
{
    static const api_inflate_names names = {"message", "grpc-encoding"};
    api_encoding enc = rpc_call_encoding(ci->call) == RPC_ENC_GZIP ? API_ENC_GZIP : API_ENC_DEFLATE;
    size_t limit = kind == M_INFER ? (size_t)ci->g->cfg->max_body_mb << 20 : GCODEC_SMALL_MAX;
    char msg[API_MSG_MAX];
    int st = api_inflate(enc, req, len, limit, &names, plain, plain_len, msg, sizeof msg);
    if (st) gfe_fail(ci, st, "%s", msg);
    return st ? -1 : 0;
}

/* The transport's admit hook, before a call's message is read: ModelInfer without the API key is
 * answered at once (as REST answers 401 from the headers, before the body). Checked after the
 * message, a keyless client could make the server hold up to --max-body-mb per call, 100 calls a
 * connection, for as long as it took to send them. */
static int admit(void *ctx, rpc_call *call, const char *method)
{
    gfe_server *g = ctx;
    gfe_call ci = {g, call, "(unknown method)", EP_OTHER, 0, 0, 0};
    if (route_of(method, &ci) != M_INFER || gfe_authorized(g, call)) return 0;
    atomic_fetch_add(&g->inflight, 1); /* until gfe_answer */
    ci.t0 = batcher_now();
    gfe_fail(&ci, 401, "missing or wrong API key: send 'authorization: Bearer <key>' metadata");
    return 1;
}

/* The transport's handler: one call whose message arrived, on a gRPC thread. */
static void handle(void *ctx, rpc_call *call, const char *method, const uint8_t *req, size_t len)
{
    gfe_server *g = ctx;
    atomic_fetch_add(&g->inflight, 1); /* until gfe_answer */
    gfe_call ci = {g, call, "(unknown method)", EP_OTHER, batcher_now(), len, 0};
    int kind = route_of(method, &ci);
    if (!req) {
        gfe_fail(&ci, 503, "out of memory reading the request message");
        return;
    }
    /* ModelInfer, the one method behind --api-key, had its key checked by admit, before its message */
    if (kind < 0 || rpc_call_encoding(call) == RPC_ENC_IDENTITY) {
        dispatch(&ci, kind, method, req, len);
        return;
    }
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (inflate_message(&ci, kind, req, len, &plain, &plain_len) == 0) dispatch(&ci, kind, method, plain, plain_len);
    free(plain);
}

gfe_server *gfe_start(const server_config *cfg, metrics *m, const server_log *lg, char *err, size_t errlen)
{
    gfe_server *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    g->metrics = m;
    g->log = lg;
    atomic_init(&g->engine_set, 0);
    atomic_init(&g->draining, 0);
    atomic_init(&g->inflight, 0);
    atomic_init(&g->stopping, 0);
    atomic_init(&g->giving_up, 0);
    if (!(g->dec = gfe_decoders_start(cfg->http_threads, DECODE_QUEUE_BODIES * ((size_t)cfg->max_body_mb << 20)))) {
        snprintf(err, errlen, "gRPC: out of memory or threads for the image decoders");
        free(g);
        return NULL;
    }
    tls_files tls = {0};
    if (tls_load(&tls, cfg->tls_cert, cfg->tls_key, err, errlen)) {
        gfe_decoders_free(g->dec);
        free(g);
        return NULL;
    }
    rpc_transport_params p = {.host = cfg->host,
                              .port = cfg->grpc_port,
                              .max_recv = (size_t)cfg->max_body_mb << 20,
                              .max_streams = MAX_STREAMS,
                              .idle_s = cfg->conn_timeout_s,
                              .read_timeout_s = cfg->read_timeout_s,
                              .tls_cert_pem = tls.cert,
                              .tls_key_pem = tls.key,
                              .on_start = on_start,
                              .admit = admit,
                              .handler = handle,
                              .on_unread = on_unread,
                              .ctx = g};
    g->t = rpc_transport_start(&p, &g->port, err, errlen);
    tls_free(&tls); /* gRPC keeps its own copies of the PEM text */
    if (!g->t) {
        gfe_decoders_free(g->dec);
        free(g);
        return NULL;
    }
    return g;
}

void gfe_set_engine(gfe_server *g, const deit_model *model, batcher *b, const char *name)
{
    if (!g) return;
    gfe_engine *e = &g->eng;
    e->model = model;
    e->batcher = b;
    e->in_floats = deit_input_floats(model);
    api_model_of(model, name, g->cfg->model_version, &e->am);
    atomic_store_explicit(&g->engine_set, 1, memory_order_release);
}

int gfe_port(const gfe_server *g) { return g ? g->port : -1; }

void gfe_drain(gfe_server *g)
{
    if (!g) return;
    atomic_store(&g->draining, 1);
    /* GOAWAY now, as REST stops accepting: clients start new calls elsewhere (another replica) and
     * the port closes; calls already begun complete, and those still open after --grace-s are
     * cancelled by gRPC (main waits as long for the ones in flight). */
    rpc_transport_drain(g->t, g->cfg->grace_s);
}

int gfe_inflight(const gfe_server *g) { return g ? atomic_load(&g->inflight) : 0; }

void gfe_give_up(gfe_server *g)
{
    if (g) atomic_store(&g->giving_up, 1);
}

void gfe_stop(gfe_server *g)
{
    if (!g) return;
    atomic_store(&g->stopping, 1);
    gfe_give_up(g); /* the decoders are joined next */
    gfe_decoders_stop(g->dec); /* first: the calls waiting there are answered, so gRPC need not wait */
    /* a call whose message arrives while the transport stops still reaches gfe_model_infer, which
     * answers 503 under the decoders' lock: they are freed only once no call can come */
    rpc_transport_stop(g->t, STOP_GRACE_S);
    gfe_decoders_free(g->dec);
    free(g);
}
