/* request.c — the per-request state machine behind libmicrohttpd: headers -> body -> answer, with the
 * protocol decisions taken by api/endpoint.h; images are decoded here in the HTTP thread and the
 * connection is suspended while a worker runs them, so no thread waits for inference. */
#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "accept.h"
#include "batch_answer.h"
#include "explanation.h"
#include "request_head.h"
#include "request_internal.h"
#include "web_page.h"

#define SERVER_VERSION DEIT_SERVER_VERSION /* server_config.h: REST and gRPC report one version */
/* A body the server will not use (an early error, or over --max-body-mb) is still read and dropped,
 * up to this many times the body limit in all, so a client that writes its whole body before reading
 * (Python http.client, requests, Node) receives the answer instead of a reset; beyond it the
 * connection is closed (nginx's lingering close, bounded by bytes here and by the read deadline). */
#define DISCARD_FACTOR 4

static metrics_endpoint endpoint_of(route_kind k)
{
    switch (k) {
    case R_PREDICT: return EP_PREDICT;
    case R_TORCHSERVE: return EP_TORCHSERVE;
    case R_V2_INFER: return EP_V2_INFER;
    case R_V2_LIVE: case R_V2_READY: case R_V2_SERVER: case R_V2_MODEL: case R_V2_MODEL_READY:
    case R_V2_MODEL_CONFIG: return EP_V2_META;
    case R_PING: case R_HEALTHZ: case R_READYZ: return EP_HEALTH;
    case R_MODELS: return EP_MODELS;
    case R_METRICS: return EP_METRICS;
    default: return EP_OTHER;
    }
}

/* The server as the endpoint functions see it at this moment. */
static api_server view(const request *rq)
{
    const http_server *h = rq->h;
    return (api_server){(api_readiness)atomic_load(&h->readiness), rq->eng ? &rq->eng->am : NULL,
                        h->cfg->api_key, h->max_body, h->cfg->max_body_mb, (size_t)h->cfg->max_images,
                        SERVER_VERSION, h->cfg->exif_transpose};
}

static const char *header(const request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* Phase 1: route and every decision the headers allow (api_plan_request), so hopeless requests are
 * answered without using their body. Leaves rq->ph = PH_BODY when a body is to be read. */
static void begin(request *rq, const char *url, const char *method)
{
    http_server *h = rq->h;
    route_match(url, strlen(url), &rq->rt);
    rq->ep = endpoint_of(rq->rt.kind);
    const char *origin = header(rq, "Origin");
    api_cors_decide(h->cfg->cors_origin, origin, method, header(rq, "Access-Control-Request-Method"),
                    header(rq, "Access-Control-Request-Headers"), &rq->rt, &rq->cors);
    if (rq->cors.preflight) { /* before the API key: a browser sends none with a preflight */
        if (rq->cors.status == 204) request_set_answer(rq, 204, NULL, 0, NULL);
        else request_set_error(rq, rq->cors.status, "origin %.200s may not call this server from a browser (--cors-origin)", origin);
        return;
    }
    if (atomic_load_explicit(&h->engine_set, memory_order_acquire)) rq->eng = &h->eng;
    api_server sv = view(rq);
    api_head hd = {method, url, header(rq, MHD_HTTP_HEADER_AUTHORIZATION), header(rq, MHD_HTTP_HEADER_CONTENT_TYPE),
                   header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH), header(rq, MHD_HTTP_HEADER_CONTENT_ENCODING),
                   header(rq, "Inference-Header-Content-Length"),
                   MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "top_k"),
                   MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "explain"),
                   MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "exif_transpose")};
    api_plan_request(&rq->rt, &hd, &sv, &rq->plan);
    if (rq->plan.status) {
        request_set_error(rq, rq->plan.status, "%s", rq->plan.msg);
        return;
    }
    if (rq->plan.body != API_BODY_NONE) {
        rq->ph = PH_BODY;
        return;
    }
    if (rq->rt.kind == R_ROOT && api_accepts_html(header(rq, MHD_HTTP_HEADER_ACCEPT))) {
        char *page = malloc(web_page_html_len);
        if (!page) request_set_error(rq, 503, "out of memory");
        else {
            memcpy(page, web_page_html, web_page_html_len);
            request_set_answer(rq, 200, page, web_page_html_len, "text/html; charset=utf-8");
            rq->page = 1;
        }
        return;
    }
    if (rq->rt.kind == R_METRICS) {
        size_t len = 0;
        char *body = metrics_render(h->metrics, &len);
        if (!body) request_set_error(rq, 503, "out of memory");
        else request_set_answer(rq, 200, body, len, "text/plain; version=0.0.4; charset=utf-8");
        return;
    }
    api_answer a;
    if (api_answer_get(&rq->rt, &sv, &a)) request_set_error(rq, 503, "out of memory");
    else request_set_answer(rq, a.status, a.body, a.len, a.ctype);
}

/* Phase 2: appends an upload chunk, enforcing the body limit as bytes arrive. A body over the limit is
 * dropped (answered 413 at its end); one that goes on past DISCARD_FACTOR x the limit loses its
 * connection. */
static int consume(request *rq, const char *data, size_t n)
{
    size_t limit = rq->h->max_body;
    if (rq->over_limit) {
        rq->dropped += n;
        return rq->dropped / DISCARD_FACTOR <= limit;
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

/* The request is in the queue (or will never be): the waiting room may admit the next one. */
static void drop_ticket(request *rq)
{
    if (!rq->ticket) return;
    rq->ticket = 0;
    admission_leave(rq->h->adm);
}

static void start_job(request *rq);
static void submit_job(request *rq);

/* End of phase 2: split the body into images, decode every one here in the HTTP thread (so workers
 * only run forward passes), then suspend the connection and queue the job (start_job). */
static void finish_upload(request *rq)
{
    http_server *h = rq->h;
    if (rq->over_limit) {
        request_set_error(rq, 413, "request body is over the limit of %zu bytes (--max-body-mb %d)", h->max_body,
                  h->cfg->max_body_mb);
        return;
    }
    api_server sv = view(rq);
    char msg[API_MSG_MAX];
    int st = api_collect_images(&rq->plan, &sv, rq->body, rq->len, &rq->im, msg, sizeof msg);
    if (st) {
        request_set_error(rq, st, "%s", msg);
        return;
    }
    rq->n_images = (int)rq->im.n;
    start_job(rq);
}

/* Parks the request until the queue has room or its wait is over (suspending its connection unless
 * `suspended` says it is already); 0 when parked, -1 when it must be refused now (and was not
 * suspended here). */
static int park(request *rq, int suspended)
{
    http_server *h = rq->h;
    if (!h->adm) return -1;
    double now = batcher_now();
    if (rq->park_until == 0) rq->park_until = now + h->cfg->queue_wait_ms / 1e3;
    if (now >= rq->park_until) return -1;
    drop_ticket(rq); /* not on its way to the queue while parked */
    rq->ph = PH_PARKED;
    atomic_store(&rq->park, PARK_WAITING);
    /* suspend first: the room may resume it at once */
    if (!suspended) MHD_suspend_connection(rq->conn);
    if (admission_park(h->adm, rq, rq->park_until) == 0) return 0;
    MHD_resume_connection(rq->conn);
    atomic_store(&rq->park, PARK_REFUSED); /* refused on the next call */
    return 0;
}

/* Has the client on socket fd closed the connection? A peek, which leaves the bytes for
 * libmicrohttpd: end of stream or an error means nobody is left to read the answer; pipelined
 * bytes, or none yet, mean the client still waits. A client that only half-closed after its request
 * counts as gone, as nginx counts it (499): an HTTP/1.1 client that still wants its answer keeps
 * its side open. */
static int socket_closed(int fd)
{
    if (fd < 0) return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* The connection's socket, looked up in the HTTP thread while the connection is active; -1 when
 * libmicrohttpd does not say. */
static int connection_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Decodes the images and queues the job, or parks the request while the queue is full. */
static void start_job(request *rq)
{
    http_server *h = rq->h;
    const engine *e = rq->eng;
    size_t F = e->in_floats, K = (size_t)e->n_classes, n = rq->im.n;
    char msg[API_MSG_MAX];
    int st;
    /* the socket socket_closed peeks at, during the decode below and while queued (client_closed);
     * looked up here, in the HTTP thread with the connection active */
    rq->fd = connection_fd(rq->conn);
    /* Before the expensive part: when the queue cannot take these images now, decoding them would only
     * delay the answer (and every other upload waiting for this HTTP thread): wait for room with the
     * body read, or answer 503. The check races with the workers, so the submit below still decides. */
    rq->body_parked = 1;
    if (rq->pixels) { /* decoded before a submit that found the queue full */
        submit_job(rq);
        return;
    }
    if (batcher_queued(e->batcher) + rq->n_images > h->cfg->queue) {
        if (park(rq, 0)) request_set_batch_error(rq, BATCH_FULL);
        return;
    }
    rq->pixels = malloc(n * F * sizeof(float));
    rq->cls = malloc(n * K * sizeof(float));
    rq->dist = malloc(n * K * sizeof(float));
    /* ?explain=1, or a v2 request naming an explanation output (rq->im.v2 is empty for the others) */
    int explain = rq->plan.explain || v2_wants_explain(&rq->im.v2);
    if (explain) rq->explain = malloc(n * api_explain_floats(e->model) * sizeof(float));
    if (!rq->pixels || !rq->cls || !rq->dist || (explain && !rq->explain)) {
        request_set_error(rq, 503, "out of memory for %zu images", n);
        return;
    }
    double t = batcher_now();
    /* A client that gives up on a long decode (many large images) stops it at the next image, as
     * a cancelled gRPC call does: the HTTP thread is free for the next upload at once. */
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&h->giving_up)) {
            request_set_error(rq, 503, "server is shutting down: --grace-s ran out while the images were decoded");
            return;
        }
        if (i > 0 && socket_closed(rq->fd)) {
            rq->client_gone = 1; /* the handler closes the connection; logged 499 */
            return;
        }
        char err[256];
        int rc = deit_preprocess_with(e->model, rq->im.data[i], rq->im.lens[i],
                                      (size_t)h->cfg->max_pixels, rq->plan.exif_transpose,
                                      rq->pixels + i * F, err, sizeof err);
        if (rc != DEIT_OK) {
            st = api_decode_error(rc, err, i, n, msg, sizeof msg);
            request_set_error(rq, st, "%s", msg);
            return;
        }
    }
    rq->decode_ms = (batcher_now() - t) * 1e3;
    submit_job(rq);
}

/* batch_job.abandoned for a queued request: has its client closed the connection? (socket_closed
 * on the suspended socket, which MHD leaves alone until the resume) */
static int client_closed(const batch_job *job)
{
    const request *rq = job->user;
    return socket_closed(rq->fd);
}

/* Queues the decoded job, connection suspended until a worker is done; a full queue parks it again. */
static void submit_job(request *rq)
{
    const engine *e = rq->eng;
    batch_job *j = &rq->job;
    memset(j, 0, sizeof *j);
    j->n = rq->n_images;
    j->pixels = rq->pixels;
    j->cls = rq->cls;
    j->dist = rq->dist;
    j->explain = rq->explain;
    j->done = job_done;
    j->user = rq;
    j->timeout_s = rq->im.v2.timeout_s; /* v2's "timeout" parameter; 0 for every other request */
    j->abandoned = client_closed; /* on rq->fd, set by start_job */
    rq->ph = PH_QUEUED;
    /* suspend before the job becomes visible to a worker: resume must never precede suspend */
    MHD_suspend_connection(rq->conn);
    int rc = batcher_submit(e->batcher, j);
    drop_ticket(rq);
    if (rc == BATCH_FULL && park(rq, 1) == 0) return; /* another request took the room: wait, decoded */
    if (rc != BATCH_OK) {
        request_set_batch_error(rq, rc);
        rq->resume_pending = 1;
        MHD_resume_connection(rq->conn); /* answered on the next handler call */
    }
}

/* 1 when the request announces a body (POST/PUT, or any Content-Length > 0 / chunked upload). */
static int expects_body(struct MHD_Connection *conn, const char *method)
{
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) return 1;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return te || (cl && strcmp(cl, "0") != 0);
}

/* An early answer to a request with a body: answered at once (and the connection closed by MHD) only
 * when the client has not sent the body yet (it waits for 100-continue) or announced more than we
 * would ever read; otherwise the body is read and dropped first (PH_DISCARD). */
static int answer_before_body(const request *rq)
{
    const char *ex = header(rq, MHD_HTTP_HEADER_EXPECT);
    if (ex && strcasecmp(ex, "100-continue") == 0) return 1;
    const char *cl = header(rq, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return 0;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return *end == '\0' && n / DISCARD_FACTOR > rq->h->max_body;
}

enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
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
        rq->t0 = batcher_now();
        atomic_init(&rq->job_done, 0);
        atomic_init(&rq->park, PARK_WAITING);
        snprintf(rq->method, sizeof rq->method, "%s", method);
        snprintf(rq->path, sizeof rq->path, "%s", url);
        begin(rq, request_origin_form(url), method);
        const char *bad_framing = request_framing_problem(conn);
        if (bad_framing) {
            request_set_error(rq, 400, "%s", bad_framing);
            return request_respond(rq); /* in this first call: the body is never read, the connection closed */
        }
        if (rq->ph == PH_BODY && request_body_unframed(conn)) {
            /* An endpoint that needs a body, asked without one framed: an HTTP/1.0 client (no
             * chunked there) that left out Content-Length, or a hand-written request. Its bytes, if
             * it sent any, would be read as a next request: 411 says what is missing, and the
             * connection is closed. */
            request_set_error(rq, 411, "this endpoint needs a body: send it with Content-Length (or Transfer-Encoding: chunked)");
            return request_respond(rq);
        }
        int body = expects_body(conn, method);
        read_deadlines_headers(h->rd, conn, body);
        /* MHD closes the connection after a response queued in this first call: only for a body we
         * will not read. Every other answer waits for the next call and keeps the connection. */
        if (rq->ph == PH_BODY && h->adm && !admission_try(h->adm)) {
            /* the queue is full: wait for room with the body unread */
            read_deadlines_request_read(h->rd, conn); /* we, not the client, hold the body back */
            if (park(rq, 0) == 0) return MHD_YES;
            read_deadlines_headers(h->rd, conn, 1);
            request_set_batch_error(rq, BATCH_FULL);
        }
        if (rq->ph == PH_BODY && h->adm) rq->ticket = 1;
        if (rq->ph == PH_DONE && body) {
            if (answer_before_body(rq)) return request_respond(rq);
            rq->ph = PH_DISCARD;
        }
        return MHD_YES;
    }
    if (rq->ph == PH_PARKED) {
        /* Resumed by the waiting room: admitted (read the body now) or refused (503, body dropped).
         * Suspended during the headers call, the connection is still at that step, so libmicrohttpd
         * repeats the headers call (no data) and then reads the body as for any request. */
        park_state ps = (park_state)atomic_load_explicit(&rq->park, memory_order_acquire);
        if (ps == PARK_WAITING) return MHD_YES;
        if (rq->body_parked) {
            /* parked after the upload: the connection is at its last upload call, repeated now */
            if (ps == PARK_ADMITTED) {
                start_job(rq); /* with the ticket http_unpark gave it */
            } else {
                request_set_batch_error(rq, BATCH_FULL);
            }
            if (rq->client_gone) return MHD_NO;
            return rq->ph == PH_DONE && !rq->resume_pending ? request_respond(rq) : MHD_YES;
        }
        read_deadlines_headers(h->rd, conn, 1); /* the body is owed again from now */
        if (ps == PARK_ADMITTED) {
            rq->ph = PH_BODY; /* with the ticket http_unpark gave it */
        } else {
            request_set_batch_error(rq, BATCH_FULL);
            if (answer_before_body(rq)) return request_respond(rq);
            rq->ph = PH_DISCARD;
        }
        if (*upload_data_size == 0) return MHD_YES;
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
        if (rq->client_gone) return MHD_NO; /* nobody to answer: libmicrohttpd closes the connection */
        return rq->ph == PH_DONE && !rq->resume_pending ? request_respond(rq) : MHD_YES;
    case PH_QUEUED:
        /* phase 3: resumed by the worker */
        if (!atomic_load_explicit(&rq->job_done, memory_order_acquire)) return MHD_YES;
        request_answer_job(rq);
        return request_respond(rq);
    case PH_DISCARD:
    case PH_DONE:
    default:
        if (*upload_data_size) { /* a body we do not want: drop it, within the bound */
            read_deadlines_body(h->rd, conn, *upload_data_size);
            rq->dropped += *upload_data_size;
            *upload_data_size = 0;
            return rq->dropped / DISCARD_FACTOR <= h->max_body ? MHD_YES : MHD_NO;
        }
        read_deadlines_request_read(h->rd, conn);
        rq->resume_pending = 0;
        return request_respond(rq);
    }
}

void http_unpark(void *item, int admitted)
{
    request *rq = item;
    struct MHD_Connection *conn = rq->conn;
    /* The room counted a ticket for an admitted request: it is the request's from now, so that
     * http_completed returns it even when the client is gone and the handler never runs again
     * (the resumed connection finds its socket closed). Claimed by the handler instead, every such
     * close leaked one, and a few left the server refusing everything as "queue is full". */
    rq->ticket = admitted;
    atomic_store_explicit(&rq->park, admitted ? PARK_ADMITTED : PARK_REFUSED, memory_order_release);
    MHD_resume_connection(conn); /* the request must not be touched after this */
}

/* Completion: the only place a request's state is freed (style.md). */
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *h = cls;
    read_deadlines_response_done(h->rd, conn); /* a keep-alive connection now owes the next request */
    request *rq = *con_cls;
    if (!rq) return;
    double secs = batcher_now() - rq->t0;
    int status = rq->responded ? rq->status : 0;
    /* A job dropped because its client had gone: MHD finds the socket closed on the resume and ends
     * the connection without calling the handler again, so the request's 499 is set here, for the
     * log and the metrics, as nginx counts it. */
    if (!status && atomic_load_explicit(&rq->job_done, memory_order_acquire) && rq->job.status == BATCH_ABANDONED)
        status = HTTP_CLIENT_CLOSED;
    if (!status && rq->client_gone) status = HTTP_CLIENT_CLOSED; /* left while its images decoded */
    metrics_request(h->metrics, rq->ep, status, secs);
    static const char *const TOE[] = {"ok", "error", "timeout", "shutdown", "read_error", "client_abort"};
    /* bytes out are the body's, as nginx's $body_bytes_sent: none for HEAD, whose headers
     * announce the GET body's length but send no body */
    int head = strcmp(rq->method, "HEAD") == 0;
    log_access_rec rec = {rq->method, rq->path, status, rq->n_images, secs * 1e3,
                          rq->over_limit ? rq->dropped : rq->len + rq->dropped, head ? 0 : rq->resp_len,
                          (unsigned)toe < 6 ? TOE[toe] : "other"};
    log_access(&h->log, &rec);
    drop_ticket(rq);
    api_images_free(&rq->im);
    free(rq->body);
    free(rq->resp);
    free(rq->pixels);
    free(rq->cls);
    free(rq->dist);
    free(rq->explain);
    free(rq->extra);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}
