/* batcher.h — a bounded queue of inference jobs and the worker pool that drains it in dynamic
 * batches (Triton's vocabulary: max batch size, max queue delay, bounded queue, queue timeout).
 *
 * A job is one request: n images already preprocessed into pixels, and room for the logits. Workers
 * take the oldest job plus as many following whole jobs as fit in max_batch images; when fewer than
 * max_batch images are queued, the worker lets the oldest wait up to batch_wait_us for company.
 * A job larger than max_batch runs alone in max_batch-sized chunks. A job whose client has gone by
 * the time a worker takes it is dropped there (batch_job.abandoned). When a forward pass shared by several
 * jobs fails, each job is rerun alone, so only the job whose own pass fails ends BATCH_FAILED. Each worker owns the state the
 * forward function needs (e.g. a deit_state), so workers share nothing but the queue.
 *
 * The forward function is injected (the engine in the server, a fake in the unit test).
 * Thread-safe: submit from any thread. Every job handed to batcher_submit successfully gets exactly
 * one call of its done() callback, from a batcher thread (or from batcher_stop's caller), outside the
 * batcher's lock; after done() starts, the batcher never touches the job again.
 */
#ifndef DEIT_SERVER_BATCHER_H
#define DEIT_SERVER_BATCHER_H

#include <stddef.h>

#include "metrics.h"

typedef enum {
    BATCH_OK = 0,
    BATCH_FULL = 1,            /* submit: queue has no room for the job's images (HTTP 503) */
    BATCH_STOPPING = 2,        /* submit: batcher shutting down (HTTP 503) */
    BATCH_TIMEOUT = 3,         /* done: waited longer than timeout_s for a worker (HTTP 504) */
    BATCH_SHUTDOWN = 4,        /* done: dropped by batcher_stop without drain (HTTP 503) */
    BATCH_FAILED = 5,          /* done: the forward function failed (HTTP 500) */
    BATCH_NONFINITE = 6,       /* done: the pass ran, but gave NaN or infinite logits (HTTP 500) */
    BATCH_EXPIRED = 7,         /* done: waited longer than the job's own timeout_s for a worker (HTTP 504) */
    BATCH_ABANDONED = 8        /* done: not run, nobody waited for it any more (job->abandoned; HTTP 499) */
} batch_status;

typedef struct batch_job batch_job;

struct batch_job {
    /* filled by the submitter */
    int n;                     /* images, >= 1 */
    const float *pixels;       /* [n][in_floats] */
    float *cls, *dist;         /* [n][n_classes] outputs */
    float *explain;            /* [n][explain_floats] explanations asked for (?explain=1), or NULL */
    void (*done)(batch_job *job); /* completion; job->status says how it ended */
    void *user;                /* for the submitter */
    double timeout_s;          /* this job's own longest wait in the queue (Triton's "timeout" parameter,
                                * a gRPC deadline), binding when shorter than the batcher's; <= 0: none */
    /* 1 when nobody waits for the answer any more (the client cancelled, or closed its connection);
     * may be NULL. Asked by the worker that takes the job, just before its pass, outside the lock:
     * such a job ends BATCH_ABANDONED without running, so a queue filled by clients that gave up
     * costs no forward passes. */
    int (*abandoned)(const batch_job *job);
    /* filled by the batcher */
    int status;                /* batch_status */
    double t_submit, t_start, t_end; /* monotonic seconds (batcher_now) */
    int batch_images;          /* images in the (first) forward pass that ran this job */
    double deadline;           /* private */
    batch_job *next;           /* private: queue link */
};

/* forward: runs `batch` images; returns 0 on success, BATCH_NONFINITE when the logits it computed
 * are not all finite, anything else on failure. state comes from state_new. explain: NULL
 * when no image of the pass asked for an explanation, else [batch] pointers, each NULL or the
 * image's explain_floats outputs (inside its job's own buffer). */
typedef int (*batch_forward_fn)(void *state, const float *pixels, int batch, float *cls, float *dist,
                                float *const *explain);
typedef void *(*batch_state_new_fn)(void *ctx, int max_batch);
typedef void (*batch_state_free_fn)(void *state);
/* Called before each pass with wide = 1 when this worker has the machine to itself (no other
 * worker busy, nothing left queued) and 0 otherwise: the state may then run on the idle workers'
 * cores too (engine.c), and a loaded server keeps one narrow pass per worker. */
typedef void (*batch_state_width_fn)(void *state, int wide);

typedef struct {
    int workers;               /* worker threads, >= 1 */
    int max_batch;             /* images per forward pass, >= 1 */
    int batch_wait_us;         /* how long the oldest job waits for company; 0 = never */
    int queue_cap;             /* most images queued (not yet taken by a worker) */
    double timeout_s;          /* longest wait in the queue before BATCH_TIMEOUT; <= 0: none */
    size_t in_floats;          /* floats per input image */
    int n_classes;             /* logits per image */
    batch_forward_fn forward;
    batch_state_new_fn state_new;
    batch_state_free_fn state_free;
    void *ctx;                 /* passed to state_new */
    metrics *metrics;          /* queue depth, queue/inference durations, batch sizes; may be NULL */
    size_t explain_floats;     /* floats of one image's explanation in batch_job.explain */
    batch_state_width_fn state_width; /* may be NULL (last: positional initialisers stay valid) */
} batcher_params;

typedef struct batcher batcher;

/* Starts the workers (each creates its state first) and the timeout reaper. NULL on failure with a
 * message in err. */
batcher *batcher_start(const batcher_params *p, char *err, size_t errlen);

/* Queues a job (job->n <= queue_cap). Returns BATCH_OK, or BATCH_FULL / BATCH_STOPPING at once
 * without calling done(). */
int batcher_submit(batcher *b, batch_job *job);

/* Images queued and not yet taken by a worker. */
int batcher_queued(batcher *b);

/* Workers in a pass now, counting one that has completed its jobs and not yet looked for more. */
int batcher_busy(batcher *b);

/* Stops the batcher. drain != 0: queued jobs still run; drain == 0: queued jobs end with
 * BATCH_SHUTDOWN. Jobs already running always finish. Returns when every thread has exited; later
 * submits answer BATCH_STOPPING, so the batcher stays valid until batcher_free. Idempotent. */
void batcher_stop(batcher *b, int drain);

/* Frees a stopped (or never-stopped: it is stopped with drain first) batcher. NULL is a no-op. */
void batcher_free(batcher *b);

/* Monotonic clock in seconds. */
double batcher_now(void);

#endif
