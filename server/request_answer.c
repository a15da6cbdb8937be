/* request_answer.c — the answer half of a request: error and JSON bodies in the endpoint's shape, the
 * inference answer built from a finished job, and the response with its headers (CORS, the web page's
 * security headers, Allow, Retry-After, WWW-Authenticate). */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "batch_answer.h"
#include "explanation.h"
#include "request_internal.h"
#include "response.h"
#include "status_map.h"
#include "web_page.h"

/* Sets a ready-made body as the answer. Takes ownership of body (NULL: empty body). */
void request_set_answer(request *rq, int status, char *body, size_t len, const char *ctype)
{
    free(rq->resp);
    rq->status = status;
    rq->resp = body;
    rq->resp_len = body ? len : 0;
    rq->ctype = ctype;
    rq->ph = PH_DONE;
}

/* Answers with an error in the endpoint's shape (api_error_body). */
void request_set_error(request *rq, int status, const char *fmt, ...)
{
    char msg[API_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    char *body = api_error_body(&rq->rt, status, msg, &len);
    request_set_answer(rq, status, body, len, "application/json");
}

/* A built JSON body, or the one out-of-memory answer (503) when the builder failed. */
static void set_json(request *rq, int status, char *body, size_t len)
{
    if (!body) request_set_error(rq, 503, "out of memory building the response");
    else request_set_answer(rq, status, body, len, "application/json");
}

/* A job that did not end BATCH_OK, answered from the table both front ends share. */
void request_set_batch_error(request *rq, int status)
{
    char msg[API_MSG_MAX];
    int http = batch_answer(status, rq->h->cfg, msg, sizeof msg);
    request_set_error(rq, http, "%s", msg);
}

/* {"explain": {...}} for each image of a ?explain=1 request: resp_predict's extra (it takes the
 * references; the array stays ours, freed with the request). NULL when out of memory. */
static json_t *const *explanations(request *rq)
{
    json_t **x = calloc((size_t)rq->n_images, sizeof *x);
    if (!x) return NULL;
    rq->extra = x;
    const deit_model *m = rq->eng->model;
    int gh, gw, ok = 1;
    deit_grid(m, &gh, &gw);
    size_t E = api_explain_floats(m);
    for (int i = 0; i < rq->n_images; i++) {
        x[i] = json_pack("{s:o}", "explain", api_explain_json(rq->explain + (size_t)i * E, gh, gw,
                                                              deit_model_distilled(m)));
        ok &= x[i] != NULL;
    }
    if (ok) return x;
    for (int i = 0; i < rq->n_images; i++) json_decref(x[i]);
    return NULL;
}

/* Phase 3 after a job: the endpoint's body from the logits (the builders fuse the heads). */
void request_answer_job(request *rq)
{
    const batch_job *j = &rq->job;
    if (j->status != BATCH_OK) {
        request_set_batch_error(rq, j->status);
        return;
    }
    const engine *e = rq->eng;
    int n = rq->n_images;
    size_t len = 0;
    char *body;
    if (rq->rt.kind == R_PREDICT) {
        resp_timing t = {rq->decode_ms, (j->t_start - j->t_submit) * 1e3, (j->t_end - j->t_start) * 1e3,
                         (batcher_now() - rq->t0) * 1e3};
        json_t *const *extra = NULL;
        if (rq->explain && !(extra = explanations(rq))) body = NULL; /* answered 503 below */
        else body = resp_predict(&e->am, rq->cls, rq->dist, n, rq->plan.top_k, &t, extra, &len);
    } else if (rq->rt.kind == R_TORCHSERVE) {
        body = resp_torchserve(&e->am, rq->cls, rq->dist, n, rq->plan.top_k, &len);
    } else {
        const v2_request *v = &rq->im.v2;
        size_t json_len = 0;
        body = resp_v2_infer(&e->am, v->id, v->outputs, v->n_outputs, rq->cls, rq->dist, rq->explain, n, &len,
                             &json_len);
        if (body && json_len < len) { /* binary outputs follow the JSON */
            request_set_answer(rq, 200, body, len, "application/octet-stream");
            rq->infer_header_len = json_len;
            return;
        }
    }
    set_json(rq, 200, body, len);
}

/* Queues the prepared answer (once). */
enum MHD_Result request_respond(request *rq)
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
    if (rq->status != 204) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype ? rq->ctype : "application/json");
    if (rq->plan.allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rq->rt.allow);
    if (api_http_retry_after(rq->status)) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (rq->plan.www_auth) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (rq->infer_header_len) {
        char hl[32];
        snprintf(hl, sizeof hl, "%zu", rq->infer_header_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", hl);
    }
    if (rq->rt.kind == R_ROOT) MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept");
    if (rq->cors.vary_origin) MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
    if (rq->cors.allow_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", rq->cors.allow_origin);
        if (rq->cors.preflight) {
            MHD_add_response_header(r, "Access-Control-Allow-Methods", rq->cors.allow_methods);
            MHD_add_response_header(r, "Access-Control-Allow-Headers", rq->cors.allow_headers);
            MHD_add_response_header(r, "Access-Control-Max-Age", API_CORS_MAX_AGE);
        } else { /* what a page's script may read of the answer besides the simple headers */
            MHD_add_response_header(r, "Access-Control-Expose-Headers",
                                    "Retry-After, WWW-Authenticate, Inference-Header-Content-Length");
        }
    }
    if (rq->page) {
        /* the page runs only its own inline script and style (hashes), talks only to this origin */
        MHD_add_response_header(r, "Content-Security-Policy", web_page_csp);
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    if (atomic_load(&rq->h->readiness) == API_DRAINING)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)rq->status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) rq->responded = 1;
    return ok;
}

