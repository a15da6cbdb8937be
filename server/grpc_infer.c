/* grpc_infer.c — gRPC ModelInfer: the REST v2 infer path (same checks, decoding, queue and fusion)
 * with gRPC status codes; images are decoded on threads of their own (the decoders) and the call is
 * answered from the batcher's completion, so no thread waits. */
#include "grpc_front.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_answer.h"
#include "endpoint.h"
#include "explanation.h"
#include "grpc_codec.h"
#include "status_map.h"
#include "v2_outputs.h"

/* One ModelInfer from its checks to its answer: what the decoders and then the batcher's completion
 * need. */
typedef struct infer_call {
    gfe_call ci;
    const gfe_engine *e;
    int n;
    float *pixels, *cls, *dist;
    float *explain;            /* [n][api_explain_floats] when an explanation output is asked, else NULL */
    v2_output outs[V2_OUT_COUNT];
    int n_outs;
    char *id;                  /* request id to echo, or NULL */
    size_t bytes;              /* the request message's size, while it waits for a decoder */
    double deadline;           /* the client's, in batcher_now() seconds; HUGE_VAL when none */
    double timeout_s;          /* the request's "timeout" parameter in seconds; 0: none */
    gcodec_infer_request r;    /* the decoded message, whose images wait for a decoder; then empty */
    struct infer_call *next;   /* in the decoders' queue */
    batch_job job;
} infer_call;

/* The decoders: a few threads that decode ModelInfer's images, so gRPC's callback threads (a few,
 * shared by every call) only move bytes. Decoded on those, two large requests kept a Health/Check
 * (the readiness probe) waiting for seconds, and other calls' messages unread. Bounded: n threads
 * (--http-threads, as REST's decoding), the images waiting for them count against --queue
 * with those waiting for a worker, and the messages they wait in hold at most max_bytes: counted
 * in images alone, 256 one-image calls of --max-body-mb each could hold 8 GiB here. */
struct gfe_decoders {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    infer_call *head, *tail;   /* FIFO */
    int images;                /* images of the calls in it */
    size_t bytes, max_bytes;   /* their messages' bytes, and the most they may hold */
    int stop;                  /* gfe_decoders_stop: answer what waits, then exit */
    int n;
    pthread_t threads[];
};

static void infer_free(infer_call *c)
{
    gcodec_infer_request_free(&c->r);
    free(c->pixels);
    free(c->cls);
    free(c->dist);
    free(c->explain);
    free(c->id);
    free(c);
}

/* Answers with the requested outputs, the logits fused as REST fuses them. */
static void answer_probs(infer_call *c)
{
    const gfe_engine *e = c->e;
    size_t len = 0;
    uint8_t *msg = gcodec_encode_infer(&e->am, c->id, c->outs, c->n_outs, c->cls, c->dist, c->explain, c->n, &len);
    if (!msg) {
        gfe_fail(&c->ci, 503, "out of memory building the response");
        return;
    }
    gfe_answer(&c->ci, RPC_OK, 200, NULL, msg, len);
    free(msg);
}

/* The answer, to nobody, for a call that was cancelled: 504 for a deadline (it passed after the
 * message was read: the server's time, as the other 504s here), 503 while stopping, else 499.
 * on_unread counts an expired call 499 instead: its deadline passed before the client sent its
 * message. */
static void answer_cancelled(infer_call *c, const char *when)
{
    if (batcher_now() > c->deadline)
        gfe_fail_code(&c->ci, RPC_DEADLINE_EXCEEDED, 504, "the client's deadline passed %s", when);
    else if (atomic_load(&c->ci.g->stopping))
        gfe_fail_code(&c->ci, RPC_UNAVAILABLE, 503, "server is shutting down");
    else
        gfe_fail_code(&c->ci, RPC_CANCELLED, HTTP_CLIENT_CLOSED, "the call was cancelled %s", when);
}

/* batch_job.abandoned: a call cancelled while it was queued is not run. grpc++ keeps a callback
 * call's cancellation current, so a worker may ask. */
static int call_cancelled(const batch_job *job)
{
    const infer_call *c = job->user;
    return rpc_call_cancelled(c->ci.call);
}

/* The batcher's completion (a worker thread, or batcher_stop's caller). */
static void job_done(batch_job *job)
{
    infer_call *c = job->user;
    if (job->status == BATCH_ABANDONED) {
        answer_cancelled(c, "while the request was queued");
    } else if (job->status == BATCH_EXPIRED && batcher_now() >= c->deadline) {
        gfe_fail(&c->ci, 504, "the client's deadline passed while the request was queued");
    } else if (job->status != BATCH_OK) {
        char msg[API_MSG_MAX];
        int http = batch_answer(job->status, c->ci.g->cfg, msg, sizeof msg);
        gfe_fail(&c->ci, http, "%s", msg);
    } else if (batcher_now() > c->deadline) {
        gfe_fail(&c->ci, 504, "the client's deadline passed while the request was queued");
    } else {
        answer_probs(c);
    }
    infer_free(c);
}

static void queue_full(const gfe_call *ci)
{
    /* REST's 503, but gRPC has the closer code: the server is up, this resource is not */
    char msg[API_MSG_MAX];
    int http = batch_answer(BATCH_FULL, ci->g->cfg, msg, sizeof msg);
    gfe_fail_code(ci, RPC_RESOURCE_EXHAUSTED, http, "%s", msg);
}

/* Decodes every image into c->pixels, on a decoder (not a gRPC thread), so workers only run forward
 * passes (as REST decodes in its HTTP threads). Between images it stops for a call that was
 * cancelled (the rest would be thrown away) or a drain out of time (the rest would hold the exit).
 * 0, or -1 after answering the call. */
static int decode_images(infer_call *c, const v2_request *r)
{
    const server_config *cfg = c->ci.g->cfg;
    size_t F = c->e->in_floats;
    for (size_t i = 0; i < r->n_images; i++) {
        if (i > 0 && rpc_call_cancelled(c->ci.call)) {
            answer_cancelled(c, "while its images were decoded");
            return -1;
        }
        if (atomic_load(&c->ci.g->giving_up)) {
            gfe_fail_code(&c->ci, RPC_UNAVAILABLE, 503,
                          "server is shutting down: --grace-s ran out while the images were decoded");
            return -1;
        }
        char err[256];
        /* --exif-transpose as REST's default (gRPC has no query string to override it with) */
        int rc = deit_preprocess_with(c->e->model, r->images[i].data, r->images[i].len, (size_t)cfg->max_pixels,
                                      cfg->exif_transpose, c->pixels + i * F, err, sizeof err);
        if (rc == DEIT_OK) continue;
        char msg[API_MSG_MAX];
        int http = api_decode_error(rc, err, i, r->n_images, msg, sizeof msg);
        gfe_fail(&c->ci, http, "%s", msg);
        return -1;
    }
    return 0;
}

/* Everything before the images are decoded: checks in REST's order (the API key was checked by the
 * caller, before inflating), the message decoded and the buffers allocated, on the gRPC thread. NULL
 * after answering the call. */
static infer_call *prepare(const gfe_call *ci, const uint8_t *req, size_t len)
{
    gfe_server *g = ci->g;
    const gfe_engine *e = gfe_engine_get(g);
    if (!e) {
        gfe_fail(ci, 503, "model is still loading");
        return NULL;
    }
    if (rpc_call_tag(ci->call)) { /* began after SIGTERM; calls begun before it complete */
        gfe_fail(ci, 503, "server is shutting down");
        return NULL;
    }
    double left = rpc_call_time_left(ci->call);
    if (left <= 0) {
        gfe_fail(ci, 504, "the client's deadline passed before the request was read");
        return NULL;
    }
    char err[API_MSG_MAX];
    gcodec_infer_request r;
    int rc = gcodec_decode_infer(req, len, (size_t)g->cfg->max_images, &r, err, sizeof err);
    if (rc) {
        gfe_fail(ci, api_http_of_v2(rc), "%s", err);
        return NULL;
    }
    if ((rc = gfe_model_check(e, r.model_name, r.model_version, err, sizeof err)) ||
        (rc = api_v2_outputs_check(&e->am, &r.req, err, sizeof err))) {
        gfe_fail(ci, rc, "%s", err);
        gcodec_infer_request_free(&r);
        return NULL;
    }
    size_t n = r.req.n_images, K = (size_t)e->am.n_classes;
    int explain = v2_wants_explain(&r.req);
    /* shed load before decoding when the queue clearly cannot take these images (as REST) */
    if (batcher_queued(e->batcher) + (int)n > g->cfg->queue) {
        queue_full(ci);
        gcodec_infer_request_free(&r);
        return NULL;
    }
    infer_call *c = calloc(1, sizeof *c);
    if (c) {
        c->r = r; /* taken over: the images stay in it until decoded */
        memset(&r, 0, sizeof r);
        c->ci = *ci;
        c->ci.n_images = (int)n;
        c->e = e;
        c->n = (int)n;
        c->n_outs = c->r.req.n_outputs;
        memcpy(c->outs, c->r.req.outputs, sizeof c->outs);
        c->id = c->r.req.id; /* taken over */
        c->r.req.id = NULL;
        c->bytes = len;
        c->deadline = isfinite(left) && left < 1e9 ? batcher_now() + left : HUGE_VAL;
        c->timeout_s = c->r.req.timeout_s;
        c->pixels = malloc(n * e->in_floats * sizeof(float));
        c->cls = malloc(n * K * sizeof(float));
        c->dist = malloc(n * K * sizeof(float));
        if (explain) c->explain = malloc(n * api_explain_floats(e->model) * sizeof(float));
    }
    if (!c || !c->pixels || !c->cls || !c->dist || (explain && !c->explain)) {
        gfe_fail(ci, 503, "out of memory for %zu images", n);
        if (c) infer_free(c);
        gcodec_infer_request_free(&r);
        return NULL;
    }
    return c;
}

/* 1 when the call was cancelled (its client reset the stream or gave up, its deadline passed, or the
 * server is stopping), after answering it, to nobody, instead of decoding or running it: the work
 * would be thrown away, and a client that sends and resets could otherwise keep the decoders and
 * workers busy for free (answer_cancelled says how). */
static int client_gone(infer_call *c, const char *when)
{
    if (!rpc_call_cancelled(c->ci.call)) return 0;
    answer_cancelled(c, when);
    infer_free(c);
    return 1;
}

/* On a decoder: the images into pixels, then to the batcher. Answers the call, now or from the
 * batcher's completion. */
static void decode_and_submit(infer_call *c)
{
    if (batcher_now() > c->deadline) { /* no decoding for a client that has given up */
        gfe_fail(&c->ci, 504, "the client's deadline passed while the request waited for a decoder");
        infer_free(c);
        return;
    }
    if (client_gone(c, "while the request waited for a decoder")) return;
    int rc = decode_images(c, &c->r.req);
    gcodec_infer_request_free(&c->r); /* the message's bytes are no longer needed */
    if (rc) {
        infer_free(c);
        return;
    }
    if (batcher_now() > c->deadline) {
        gfe_fail(&c->ci, 504, "the client's deadline passed while the images were decoded");
        infer_free(c);
        return;
    }
    if (client_gone(c, "while its images were decoded")) return;
    batch_job *j = &c->job;
    j->n = c->n;
    j->pixels = c->pixels;
    j->cls = c->cls;
    j->dist = c->dist;
    j->explain = c->explain;
    j->done = job_done;
    j->abandoned = call_cancelled;
    j->user = c;
    /* the queue keeps it no longer than its "timeout" parameter or the client's deadline allow:
     * past the deadline nobody waits for the answer */
    j->timeout_s = c->timeout_s;
    double left = c->deadline - batcher_now();
    if (c->deadline < HUGE_VAL && (j->timeout_s <= 0 || left < j->timeout_s)) j->timeout_s = left > 1e-6 ? left : 1e-6;
    /* from here on the completion may run (and free c) at any moment */
    rc = batcher_submit(c->e->batcher, j);
    if (rc == BATCH_OK) return;
    if (rc == BATCH_FULL) queue_full(&c->ci);
    else gfe_fail(&c->ci, 503, "server is shutting down");
    infer_free(c);
}

static void *decoder_main(void *arg)
{
    gfe_decoders *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->head && !d->stop) pthread_cond_wait(&d->cv, &d->mu);
        infer_call *c = d->head;
        if (!c) break; /* stopping, nothing left */
        d->head = c->next;
        if (!d->head) d->tail = NULL;
        d->images -= c->n;
        d->bytes -= c->bytes;
        int stopping = d->stop;
        pthread_mutex_unlock(&d->mu);
        if (stopping) { /* the batcher is stopped by now: no decoding for nothing */
            gfe_fail(&c->ci, 503, "server is shutting down");
            infer_free(c);
        } else {
            decode_and_submit(c);
        }
        pthread_mutex_lock(&d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

void gfe_model_infer(const gfe_call *ci, const uint8_t *req, size_t len)
{
    infer_call *c = prepare(ci, req, len);
    if (!c) return;
    gfe_decoders *d = ci->g->dec;
    pthread_mutex_lock(&d->mu);
    /* what waits for a decoder is queued work too: --queue holds for both (prepare checked the
     * batcher's part alone) */
    int full = batcher_queued(c->e->batcher) + d->images + c->n > ci->g->cfg->queue;
    size_t waiting = d->bytes;
    int heavy = !full && d->head && d->bytes + c->bytes > d->max_bytes;
    if (!full && !heavy && !d->stop) {
        c->next = NULL;
        if (d->tail) d->tail->next = c;
        else d->head = c;
        d->tail = c;
        d->images += c->n;
        d->bytes += c->bytes;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
        return;
    }
    pthread_mutex_unlock(&d->mu);
    if (full) queue_full(&c->ci);
    else if (heavy)
        gfe_fail_code(&c->ci, RPC_RESOURCE_EXHAUSTED, 503,
                      "server busy: %zu MiB of requests already wait for a decoder (at most %d x --max-body-mb)",
                      waiting >> 20, DECODE_QUEUE_BODIES);
    else gfe_fail(&c->ci, 503, "server is shutting down");
    infer_free(c);
}

gfe_decoders *gfe_decoders_start(int n, size_t max_bytes)
{
    gfe_decoders *d = calloc(1, sizeof *d + (size_t)n * sizeof d->threads[0]);
    if (!d) return NULL;
    d->max_bytes = max_bytes;
    if (pthread_mutex_init(&d->mu, NULL)) {
        free(d);
        return NULL;
    }
    if (pthread_cond_init(&d->cv, NULL)) {
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    for (; d->n < n; d->n++)
        if (pthread_create(&d->threads[d->n], NULL, decoder_main, d)) break;
    if (d->n == 0) {
        gfe_decoders_free(d);
        return NULL;
    }
    return d; /* fewer threads than asked, when the system has no more: slower, still correct */
}

void gfe_decoders_stop(gfe_decoders *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->stop = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->n; i++) pthread_join(d->threads[i], NULL);
    d->n = 0;
}

void gfe_decoders_free(gfe_decoders *d)
{
    if (!d) return;
    gfe_decoders_stop(d);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
