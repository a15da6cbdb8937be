/* grpc_front.h — private to the gRPC front end (grpc_server.c, grpc_infer.c): the server's state and
 * how a call is answered, counted and logged. */
#ifndef DEIT_SERVER_GRPC_FRONT_H
#define DEIT_SERVER_GRPC_FRONT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_answer.h"
#include "batcher.h"
#include "deit.h"
#include "grpc_server.h"
#include "grpc_transport.h"
#include "log.h"
#include "metrics.h"
#include "model_info.h"
#include "server_config.h"

/* The ModelInfer messages waiting for a decoder hold at most this many --max-body-mb (128 MiB by
 * default); a call beyond is answered RESOURCE_EXHAUSTED, as one beyond --queue. */
#define DECODE_QUEUE_BODIES 4

/* What inference needs; written once by gfe_set_engine before engine_set is published. */
typedef struct {
    const deit_model *model;
    batcher *batcher;
    size_t in_floats;
    api_model am;              /* what the API says about it (am.name: what clients call it) */
} gfe_engine;

typedef struct gfe_decoders gfe_decoders;

struct gfe_server {
    const server_config *cfg;
    metrics *metrics;
    const server_log *log;
    rpc_transport *t;
    gfe_decoders *dec;         /* where ModelInfer's images are decoded (grpc_infer.c) */
    int port;
    gfe_engine eng;
    atomic_int engine_set;     /* release/acquire: eng is readable once this is 1 */
    atomic_int draining;       /* SIGTERM received: NOT_SERVING, new inference UNAVAILABLE */
    atomic_int stopping;       /* gfe_stop: calls cancelled from now on were cancelled by us */
    atomic_int giving_up;      /* gfe_give_up: calls still decoding stop at their next image */
    atomic_int inflight;       /* calls between their message's arrival and their answer */
};

/* One call's bookkeeping, from the handler's start to its answer. */
typedef struct {
    gfe_server *g;
    rpc_call *call;
    const char *method;        /* "/package.Service/Method" (a static string: the route's) */
    metrics_endpoint ep;
    double t0;                 /* batcher_now() at the start */
    size_t bytes_in;
    int n_images;
} gfe_call;

/* The engine, or NULL while the model loads. */
const gfe_engine *gfe_engine_get(gfe_server *g);

/* Answers the call (code RPC_OK: resp[len] is the response message; otherwise message is the
 * status text), counts it in the metrics under http_status (what REST answers for the same
 * outcome) and writes the access log line. The call is gone afterwards. */
void gfe_answer(const gfe_call *ci, int code, int http_status, const char *message, const uint8_t *resp,
                size_t len);

/* gfe_answer with a printf-style message, for a failure REST answers with http_status; the gRPC code
 * is the shared table's (api_grpc_of_http). */
void gfe_fail(const gfe_call *ci, int http_status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same with an explicit gRPC code (where gRPC has a closer one than the table's, e.g. a full
 * queue is RESOURCE_EXHAUSTED, not UNAVAILABLE). */
void gfe_fail_code(const gfe_call *ci, int code, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 when the call's "authorization" metadata is "Bearer <--api-key>" (or no key is configured). */
int gfe_authorized(const gfe_server *g, const rpc_call *call);

/* 0 when name/version ("" = any) address the served model; otherwise 404 and REST's message. */
int gfe_model_check(const gfe_engine *e, const char *name, const char *version, char *msg, size_t msglen);

/* ModelInfer (grpc_infer.c), the API key already checked: checks the call and its message here, then hands the images to the
 * decoders; answered from there or, once queued, from the batcher's completion. */
void gfe_model_infer(const gfe_call *ci, const uint8_t *req, size_t len);

/* The decoders (grpc_infer.c): n threads; the messages waiting for them hold at most max_bytes
 * (one message always fits). NULL when out of memory or threads. */
gfe_decoders *gfe_decoders_start(int n, size_t max_bytes);
/* Answers the calls still waiting UNAVAILABLE (call after batcher_stop: nothing more is decoded) and
 * joins the threads; calls that come later are answered UNAVAILABLE at once. NULL: no-op. */
void gfe_decoders_stop(gfe_decoders *d);
/* Stops (if not yet) and frees: only once no call can reach gfe_model_infer any more. NULL: no-op. */
void gfe_decoders_free(gfe_decoders *d);

#endif
