/* batcher.c — bounded job queue, dynamic batching workers and the queue-timeout reaper. */
#include "batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mono_cond.h"

typedef struct {
    batcher *b;
    int index;
    pthread_t thread;
    int started;
    void *state;               /* from state_new, owned by this worker */
    float *x, *cls, *dist;     /* gather buffers for batches made of several jobs */
    float **ex;                /* [max_batch] per-image explanation outputs of the pass */
} worker;

struct batcher {
    batcher_params p;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;    /* queue changed or stopping: wakes workers */
    pthread_cond_t reap_cv;    /* queue got a first job or stopping: wakes the reaper */
    batch_job *head, *tail;    /* FIFO of jobs not yet taken */
    int queued;                /* images in the FIFO */
    int stopping;              /* no new jobs; threads exit once the FIFO is empty */
    int init_failed;           /* a worker could not create its state */
    int init_done;             /* workers that finished creating their state */
    pthread_cond_t init_cv;
    pthread_t reaper;
    int reaper_started;
    int joined;                /* shut_down already joined the threads */
    int busy;                  /* workers running jobs */
    worker *w;
};

double batcher_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct timespec abs_time(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    if (ts.tv_nsec < 0) ts.tv_nsec = 0;
    return ts;
}

static void set_depth(batcher *b)
{
    if (b->p.metrics) atomic_store_explicit(&b->p.metrics->queue_depth, b->queued, memory_order_relaxed);
}

/* Points w->ex[at..at+n) at images off..off+n-1 of the job's explanation outputs (NULL when the
 * job asked for none); returns whether it asked. */
static int point_explain(worker *w, int at, const batch_job *job, int off, int n)
{
    size_t E = w->b->p.explain_floats;
    for (int i = 0; i < n; i++)
        w->ex[at + i] = job->explain ? job->explain + (size_t)(off + i) * E : NULL;
    return job->explain != NULL;
}

/* Runs one job straight from and into its own buffers, in chunks of max_batch. */
static void run_alone(worker *w, batch_job *job)
{
    const batcher_params *p = &w->b->p;
    const size_t F = p->in_floats, K = (size_t)p->n_classes;
    for (int off = 0; off < job->n; off += p->max_batch) {
        int nb = job->n - off < p->max_batch ? job->n - off : p->max_batch;
        double ts = batcher_now();
        int explain = point_explain(w, 0, job, off, nb);
        int rc = p->forward(w->state, job->pixels + (size_t)off * F, nb, job->cls + (size_t)off * K,
                            job->dist + (size_t)off * K, explain ? w->ex : NULL);
        if (rc && job->status != BATCH_FAILED)
            job->status = rc == BATCH_NONFINITE ? BATCH_NONFINITE : BATCH_FAILED;
        if (p->metrics) {
            metrics_observe(&p->metrics->inference_s, batcher_now() - ts);
            metrics_observe(&p->metrics->batch_size, nb);
        }
    }
}

/* Runs the jobs list (linked through next, total images `total`) and completes them. */
static void run_jobs(worker *w, batch_job *jobs, int total)
{
    batcher *b = w->b;
    const batcher_params *p = &b->p;
    const size_t F = p->in_floats, K = (size_t)p->n_classes;
    double t0 = batcher_now();
    int first_batch = total < p->max_batch ? total : p->max_batch;
    for (batch_job *j = jobs; j; j = j->next) {
        j->t_start = t0;
        j->batch_images = first_batch;
        j->status = BATCH_OK;
        if (p->metrics) metrics_observe(&p->metrics->queue_s, t0 - j->t_submit);
    }
    if (!jobs->next) {
        run_alone(w, jobs);
    } else {
        /* several jobs (together <= max_batch images): gather, one forward, scatter */
        int nb = 0, explain = 0;
        for (batch_job *j = jobs; j; j = j->next) {
            memcpy(w->x + (size_t)nb * F, j->pixels, (size_t)j->n * F * sizeof(float));
            explain |= point_explain(w, nb, j, 0, j->n);
            nb += j->n;
        }
        double ts = batcher_now();
        int rc = p->forward(w->state, w->x, nb, w->cls, w->dist, explain ? w->ex : NULL);
        if (p->metrics) {
            metrics_observe(&p->metrics->inference_s, batcher_now() - ts);
            metrics_observe(&p->metrics->batch_size, nb);
        }
        int off = 0;
        for (batch_job *j = jobs; j; j = j->next) {
            /* a failed shared pass is retried job by job, so one bad request cannot fail the others
             * that happened to share its batch */
            if (rc) run_alone(w, j);
            else {
                memcpy(j->cls, w->cls + (size_t)off * K, (size_t)j->n * K * sizeof(float));
                memcpy(j->dist, w->dist + (size_t)off * K, (size_t)j->n * K * sizeof(float));
            }
            off += j->n;
        }
    }
    if (p->metrics) {
        /* classified images only: a job whose pass failed answers an error, not a prediction */
        unsigned long done = 0;
        for (batch_job *j = jobs; j; j = j->next)
            if (j->status == BATCH_OK) done += (unsigned long)j->n;
        atomic_fetch_add_explicit(&p->metrics->images, done, memory_order_relaxed);
    }
    double t1 = batcher_now();
    while (jobs) {
        batch_job *next = jobs->next;
        jobs->t_end = t1;
        jobs->next = NULL;
        jobs->done(jobs); /* last touch: the job may be freed or resumed from here on */
        jobs = next;
    }
}

/* Ends the taken jobs that nobody waits for any more (job->abandoned) without running them, and
 * returns the others in order, `total` reduced by the images dropped. */
static batch_job *drop_abandoned(batch_job *jobs, int *total)
{
    batch_job *keep = NULL, **keep_tail = &keep, *gone = NULL, **gone_tail = &gone;
    for (batch_job *j = jobs, *next; j; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->abandoned && j->abandoned(j)) {
            *total -= j->n;
            *gone_tail = j;
            gone_tail = &j->next;
        } else {
            *keep_tail = j;
            keep_tail = &j->next;
        }
    }
    double now = batcher_now();
    while (gone) {
        batch_job *next = gone->next;
        gone->next = NULL;
        gone->status = BATCH_ABANDONED;
        gone->t_start = gone->t_end = now;
        gone->done(gone); /* last touch */
        gone = next;
    }
    return keep;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    batcher *b = w->b;
    const batcher_params *p = &b->p;
    size_t F = p->in_floats, K = (size_t)p->n_classes, MB = (size_t)p->max_batch;
    w->state = p->state_new ? p->state_new(p->ctx, p->max_batch) : NULL;
    w->x = malloc(MB * F * sizeof(float));
    w->cls = malloc(MB * K * sizeof(float));
    w->dist = malloc(MB * K * sizeof(float));
    w->ex = malloc(MB * sizeof *w->ex);
    int ok = (w->state || !p->state_new) && w->x && w->cls && w->dist && w->ex;
    /* Resident now rather than slice by slice as bigger batches first form (see alloc_floats in
     * model/forward.c): RSS stays flat under load. Written through a volatile pointer so the
     * compiler cannot turn malloc + zeroing into calloc, whose fresh pages stay untouched. */
    if (w->x)
        for (volatile char *c = (volatile char *)w->x; c < (char *)(w->x + MB * F); c += 4096) *c = 0;
    pthread_mutex_lock(&b->mu);
    if (!ok) b->init_failed = 1;
    b->init_done++;
    pthread_cond_broadcast(&b->init_cv);
    while (ok) {
        /* wait for a job, then (maybe) for company */
        while (!b->stopping || b->head) {
            if (!b->head) {
                pthread_cond_wait(&b->work_cv, &b->mu);
                continue;
            }
            if (b->queued >= p->max_batch || p->batch_wait_us <= 0 || b->stopping) break;
            double dl = b->head->t_submit + p->batch_wait_us * 1e-6;
            if (batcher_now() >= dl) break;
            struct timespec ts = abs_time(dl);
            pthread_cond_timedwait(&b->work_cv, &b->mu, &ts);
        }
        if (!b->head) break; /* stopping and nothing left */
        /* take the oldest job and whole followers that fit */
        batch_job *jobs = b->head, *last = b->head;
        int total = jobs->n;
        while (last->next && total + last->next->n <= p->max_batch) {
            last = last->next;
            total += last->n;
        }
        b->head = last->next;
        if (!b->head) b->tail = NULL;
        last->next = NULL;
        b->queued -= total;
        set_depth(b);
        int wide = ++b->busy == 1 && !b->head;
        pthread_mutex_unlock(&b->mu);
        jobs = drop_abandoned(jobs, &total);
        if (jobs) {
            if (p->state_width) p->state_width(w->state, wide);
            run_jobs(w, jobs, total);
        }
        pthread_mutex_lock(&b->mu);
        b->busy--;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* 1 when the job's own timeout is shorter than the batcher's, and so sets its deadline. */
static int own_timeout_binds(const batcher *b, const batch_job *j)
{
    return j->timeout_s > 0 && (b->p.timeout_s <= 0 || j->timeout_s < b->p.timeout_s);
}

/* Completes queued jobs whose deadline passed: BATCH_TIMEOUT, or BATCH_EXPIRED when the job's own
 * timeout was the shorter. A job's own timeout lets a later job expire before an earlier one, so the
 * whole queue is scanned (at most --queue jobs). */
static void *reaper_main(void *arg)
{
    batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stopping || b->head) {
        double now = batcher_now(), until = now + 1.0;
        batch_job *expired = NULL, **tailp = &expired, *prev = NULL;
        for (batch_job *j = b->head, *next; j; j = next) {
            next = j->next;
            if (j->deadline > now) {
                if (j->deadline < until) until = j->deadline;
                prev = j;
                continue;
            }
            if (prev) prev->next = next;
            else b->head = next;
            if (b->tail == j) b->tail = prev;
            b->queued -= j->n;
            j->next = NULL;
            *tailp = j;
            tailp = &j->next;
        }
        if (expired) {
            set_depth(b);
            pthread_mutex_unlock(&b->mu);
            while (expired) {
                batch_job *next = expired->next;
                expired->next = NULL;
                expired->status = own_timeout_binds(b, expired) ? BATCH_EXPIRED : BATCH_TIMEOUT;
                expired->t_start = expired->t_end = batcher_now();
                expired->done(expired);
                expired = next;
            }
            pthread_mutex_lock(&b->mu);
            continue;
        }
        /* draining: the workers empty the queue without waking this thread, which must then not
         * sleep on to the old head's deadline (up to --request-timeout-s) before batcher_stop returns */
        if (b->stopping && until > now + 0.01) until = now + 0.01;
        struct timespec ts = abs_time(until);
        pthread_cond_timedwait(&b->reap_cv, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void destroy(batcher *b)
{
    for (int i = 0; i < b->p.workers; i++) {
        worker *w = &b->w[i];
        if (w->state && b->p.state_free) b->p.state_free(w->state);
        free(w->x);
        free(w->cls);
        free(w->dist);
        free(w->ex);
    }
    free(b->w);
    pthread_cond_destroy(&b->work_cv);
    pthread_cond_destroy(&b->reap_cv);
    pthread_cond_destroy(&b->init_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Sets stopping, optionally fails what is queued, and joins every thread that was started. */
static void shut_down(batcher *b, int drain)
{
    if (b->joined) return;
    batch_job *dropped = NULL;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    if (!drain) {
        dropped = b->head;
        b->head = b->tail = NULL;
        b->queued = 0;
        set_depth(b);
    }
    pthread_cond_broadcast(&b->work_cv);
    pthread_cond_broadcast(&b->reap_cv);
    pthread_mutex_unlock(&b->mu);
    while (dropped) {
        batch_job *next = dropped->next;
        dropped->next = NULL;
        dropped->status = BATCH_SHUTDOWN;
        dropped->t_start = dropped->t_end = batcher_now();
        dropped->done(dropped);
        dropped = next;
    }
    for (int i = 0; i < b->p.workers; i++)
        if (b->w[i].started) pthread_join(b->w[i].thread, NULL);
    if (b->reaper_started) pthread_join(b->reaper, NULL);
    b->joined = 1;
}

batcher *batcher_start(const batcher_params *p, char *err, size_t errlen)
{
    if (p->workers < 1 || p->max_batch < 1 || p->queue_cap < 1 || !p->forward || p->n_classes < 1 ||
        p->in_floats < 1) {
        snprintf(err, errlen, "batcher: invalid parameters");
        return NULL;
    }
    batcher *b = calloc(1, sizeof *b);
    if (!b) { snprintf(err, errlen, "batcher: out of memory"); return NULL; }
    b->p = *p;
    b->w = calloc((size_t)p->workers, sizeof *b->w);
    pthread_mutex_init(&b->mu, NULL);
    if (!b->w || mono_cond_init(&b->work_cv) || mono_cond_init(&b->reap_cv) || mono_cond_init(&b->init_cv)) {
        snprintf(err, errlen, "batcher: out of memory");
        free(b->w);
        free(b);
        return NULL;
    }
    int started = 0;
    for (int i = 0; i < p->workers; i++) {
        b->w[i].b = b;
        b->w[i].index = i;
        if (pthread_create(&b->w[i].thread, NULL, worker_main, &b->w[i]) == 0) {
            b->w[i].started = 1;
            started++;
        }
    }
    if (pthread_create(&b->reaper, NULL, reaper_main, b) == 0) b->reaper_started = 1;
    pthread_mutex_lock(&b->mu);
    while (b->init_done < started) pthread_cond_wait(&b->init_cv, &b->mu);
    int failed = b->init_failed || started < p->workers || !b->reaper_started;
    pthread_mutex_unlock(&b->mu);
    if (failed) {
        snprintf(err, errlen, "batcher: could not start %d workers (thread or state allocation failed)",
                 p->workers);
        shut_down(b, 0);
        destroy(b);
        return NULL;
    }
    return b;
}

int batcher_submit(batcher *b, batch_job *job)
{
    job->next = NULL;
    job->t_submit = batcher_now();
    job->deadline = job->t_submit + (own_timeout_binds(b, job) ? job->timeout_s
                                     : b->p.timeout_s > 0     ? b->p.timeout_s
                                                              : 1e300);
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        return BATCH_STOPPING;
    }
    if (job->n < 1 || b->queued + job->n > b->p.queue_cap) {
        pthread_mutex_unlock(&b->mu);
        return BATCH_FULL;
    }
    int was_empty = b->head == NULL;
    if (b->tail) b->tail->next = job;
    else b->head = job;
    b->tail = job;
    b->queued += job->n;
    set_depth(b);
    pthread_cond_broadcast(&b->work_cv);
    if (was_empty || job->timeout_s > 0) pthread_cond_signal(&b->reap_cv); /* it may be the first due */
    pthread_mutex_unlock(&b->mu);
    return BATCH_OK;
}

int batcher_queued(batcher *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->queued;
    pthread_mutex_unlock(&b->mu);
    return n;
}

int batcher_busy(batcher *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->busy;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void batcher_stop(batcher *b, int drain)
{
    if (b) shut_down(b, drain);
}

void batcher_free(batcher *b)
{
    if (!b) return;
    shut_down(b, 1);
    destroy(b);
}
