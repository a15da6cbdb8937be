/* request_internal.h — one HTTP request's state, shared by its state machine (request.c) and the
 * building of its answer (request_answer.c); nothing else includes it. */
#ifndef DEIT_SERVER_REQUEST_INTERNAL_H
#define DEIT_SERVER_REQUEST_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cors.h"
#include "http_internal.h"

/* Bytes of the method and path kept for the access log. */
#define LOG_METHOD_BYTES 32
#define LOG_PATH_BYTES 512

/* The three phases of a request (style.md): headers seen -> body arriving -> answer. PH_PARKED waits,
 * suspended with its body unread, for room in a full queue (admission.h); PH_DISCARD reads and drops
 * the body of a request already answered from its headers; PH_QUEUED is the answer phase's wait: the
 * connection is suspended until a worker finishes the job. */
typedef enum { PH_PARKED, PH_BODY, PH_DISCARD, PH_QUEUED, PH_DONE } phase;
typedef enum { PARK_WAITING, PARK_ADMITTED, PARK_REFUSED } park_state;

typedef struct {
    http_server *h;
    const engine *eng;         /* NULL until the engine is set */
    struct MHD_Connection *conn;
    int fd;                    /* the connection's socket, peeked at while the images decode and while queued (set by start_job); -1: unknown */
    route rt;
    api_plan plan;
    metrics_endpoint ep;
    char method[LOG_METHOD_BYTES];
    char path[LOG_PATH_BYTES];
    double t0;
    phase ph;
    /* upload */
    uint8_t *body;
    size_t len, cap;
    size_t dropped;            /* bytes read and discarded */
    int over_limit;
    /* the answer */
    int status;
    char *resp;
    size_t resp_len;
    const char *ctype;
    size_t infer_header_len;   /* v2 binary-data answer: its JSON's length (Inference-Header-Content-Length); 0: none */
    int responded;             /* MHD_queue_response succeeded */
    int ticket;                /* admitted by the waiting room and not in the queue yet */
    int body_parked;           /* parked after its body was read (the queue filled meanwhile) */
    double park_until;         /* when waiting for room ends (set at the first park) */
    atomic_int park;           /* park_state, set by the room's thread before it resumes */
    int resume_pending;        /* suspended, then refused by the batcher: answer after the resume */
    int page;                  /* the answer is the web page: its security headers go with it */
    int client_gone;           /* its client closed the connection while the images decoded: no answer, 499 */
    api_cors cors;             /* what the answer tells a browser about other origins (--cors-origin) */
    /* inference */
    api_images im;             /* the body's images (and the v2 request: id, outputs) */
    int n_images;
    float *pixels, *cls, *dist;
    float *explain;            /* [n][api_explain_floats] when ?explain=1, else NULL */
    json_t **extra;            /* their JSON, handed to resp_predict (the array is ours to free) */
    double decode_ms;
    batch_job job;
    atomic_int job_done;       /* set by the worker before it resumes the connection */
} request;

/* The answer (request_answer.c). Each set_* leaves rq->ph = PH_DONE with the body to send. */
/* Sets a ready-made body as the answer. Takes ownership of body (NULL: empty body). */
void request_set_answer(request *rq, int status, char *body, size_t len, const char *ctype);
/* Answers with an error in the endpoint's shape (api_error_body). */
void request_set_error(request *rq, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A job that did not end BATCH_OK, answered from the table both front ends share. */
void request_set_batch_error(request *rq, int status);
/* Phase 3 after a job: the endpoint's body from the logits (the builders fuse the heads). */
void request_answer_job(request *rq);
/* Queues the prepared answer with its headers (once). */
enum MHD_Result request_respond(request *rq);

#endif
