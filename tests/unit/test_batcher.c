/* test_batcher.c — the job queue and dynamic batching workers, with a fake forward function:
 * batching, chunking of large jobs, full queue, queue timeout, stop with and without drain,
 * concurrent submitters, forward failure (and its isolation to the failing job of a shared batch),
 * the wide/narrow hint to a worker's state, jobs whose client has gone. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../check.h"
#include "batcher.h"
#include "metrics.h"

#define F 3   /* floats per image */
#define K 2   /* classes */

/* An image whose first float is POISON makes every forward pass that contains it fail. */
#define POISON (-1000.0f)

/* Fake forward: cls[i] = {x0, x0 + 1}, dist[i] = {-x0, x1}; it can be held at a gate. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_closed, in_forward;
static atomic_int forwards, fail_next, bad_state; /* CHECK is not thread-safe: record, check later */

static int fake_forward(void *state, const float *x, int batch, float *cls, float *dist,
                        float *const *explain)
{
    if (state != (void *)&gate_mu) atomic_store(&bad_state, 1);
    pthread_mutex_lock(&gate_mu);
    in_forward++;
    pthread_cond_broadcast(&gate_cv);
    while (gate_closed) pthread_cond_wait(&gate_cv, &gate_mu);
    in_forward--;
    pthread_mutex_unlock(&gate_mu);
    atomic_fetch_add(&forwards, 1);
    int fail = atomic_exchange(&fail_next, 0); /* 1: an engine error; 2: logits not all finite */
    if (fail) return fail == 2 ? BATCH_NONFINITE : -1;
    for (int i = 0; i < batch; i++)
        if (x[i * F] == POISON) return -1;
    for (int i = 0; i < batch; i++) {
        cls[i * K] = x[i * F];
        cls[i * K + 1] = x[i * F] + 1;
        dist[i * K] = -x[i * F];
        dist[i * K + 1] = x[i * F + 1];
        /* explanation of an image that asked: {x0, 3 * x0} */
        if (explain && explain[i]) {
            explain[i][0] = x[i * F];
            explain[i][1] = 3 * x[i * F];
        }
    }
    return 0;
}

static void *fake_state_new(void *ctx, int max_batch) { (void)max_batch; return ctx; }
static void fake_state_free(void *s) { (void)s; }

static void gate(int closed)
{
    pthread_mutex_lock(&gate_mu);
    gate_closed = closed;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void wait_in_forward(int n)
{
    pthread_mutex_lock(&gate_mu);
    while (in_forward < n) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

/* A job with its buffers and a completion flag. */
typedef struct {
    batch_job job;
    float x[16 * F], cls[16 * K], dist[16 * K];
    atomic_int done_calls;
} tjob;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done_count;

static void on_done(batch_job *j)
{
    tjob *t = j->user;
    atomic_fetch_add(&t->done_calls, 1);
    pthread_mutex_lock(&done_mu);
    done_count++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static void wait_done(int n)
{
    pthread_mutex_lock(&done_mu);
    while (done_count < n) pthread_cond_wait(&done_cv, &done_mu);
    pthread_mutex_unlock(&done_mu);
}

/* A worker completes its jobs before it counts itself idle again; tests that depend on who is
 * busy wait for that too. */
static void wait_idle(batcher *b)
{
    const struct timespec ms = {0, 1000000};
    while (batcher_busy(b) > 0) nanosleep(&ms, NULL);
}

static void reset_done(void)
{
    pthread_mutex_lock(&done_mu);
    done_count = 0;
    pthread_mutex_unlock(&done_mu);
}

static void init_job(tjob *t, int n, float base)
{
    memset(t, 0, sizeof *t);
    t->job.n = n;
    for (int i = 0; i < n; i++) {
        t->x[i * F] = base + (float)i;
        t->x[i * F + 1] = 2 * (base + (float)i);
    }
    t->job.pixels = t->x;
    t->job.cls = t->cls;
    t->job.dist = t->dist;
    t->job.done = on_done;
    t->job.user = t;
}

static int outputs_ok(const tjob *t)
{
    for (int i = 0; i < t->job.n; i++) {
        float x0 = t->x[i * F], x1 = t->x[i * F + 1];
        if (t->cls[i * K] != x0 || t->cls[i * K + 1] != x0 + 1 || t->dist[i * K] != -x0 || t->dist[i * K + 1] != x1)
            return 0;
    }
    return 1;
}

static batcher *start(int workers, int max_batch, int wait_us, int cap, double timeout, metrics *m)
{
    batcher_params p = {workers, max_batch, wait_us, cap, timeout, F, K, fake_forward, fake_state_new,
                        fake_state_free, &gate_mu, m, 0, NULL};
    char err[128];
    batcher *b = batcher_start(&p, err, sizeof err);
    CHECK_MSG(b != NULL, "%s", err);
    return b;
}

static void test_batches_and_chunks(void)
{
    metrics m;
    metrics_init(&m);
    reset_done();
    batcher *b = start(1, 4, 0, 64, 0, &m);
    /* hold the worker on a first job so the next four queue up and go as one batch */
    static tjob first, t[4], big;
    init_job(&first, 1, 100);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &first.job), BATCH_OK);
    wait_in_forward(1);
    for (int i = 0; i < 4; i++) {
        init_job(&t[i], 1, (float)(10 * i));
        CHECK_INT_EQ(batcher_submit(b, &t[i].job), BATCH_OK);
    }
    CHECK_INT_EQ(batcher_queued(b), 4);
    CHECK_INT_EQ(atomic_load(&m.queue_depth), 4);
    gate(0);
    wait_done(5);
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(t[i].job.status, BATCH_OK);
        CHECK_INT_EQ(t[i].job.batch_images, 4);
        CHECK(outputs_ok(&t[i]));
        CHECK_INT_EQ(atomic_load(&t[i].done_calls), 1);
        CHECK(t[i].job.t_submit <= t[i].job.t_start && t[i].job.t_start <= t[i].job.t_end);
    }
    /* a 10-image job with max_batch 4 runs as 4 + 4 + 2 */
    int before = atomic_load(&forwards);
    init_job(&big, 10, 1000);
    CHECK_INT_EQ(batcher_submit(b, &big.job), BATCH_OK);
    wait_done(6);
    CHECK_INT_EQ(atomic_load(&forwards) - before, 3);
    CHECK(outputs_ok(&big));
    CHECK_INT_EQ(big.job.batch_images, 4);
    CHECK_INT_EQ(atomic_load(&m.images), 15);
    CHECK_INT_EQ(atomic_load(&m.queue_depth), 0);
    /* batch-size histogram: one pass of 1, one of 4, two of 4 (chunks), one of 2 */
    unsigned long passes = 0;
    for (int i = 0; i <= m.batch_size.n; i++) passes += atomic_load(&m.batch_size.counts[i]);
    CHECK_INT_EQ(passes, 5);
    batcher_stop(b, 1);
    batcher_free(b);
}

/* Explanations go to the jobs that asked, image by image, through shared batches and chunks. */
static void test_explain_routing(void)
{
    reset_done();
    batcher_params p = {1, 4, 0, 64, 0, F, K, fake_forward, fake_state_new, fake_state_free, &gate_mu, NULL, 2, NULL};
    char err[128];
    batcher *b = batcher_start(&p, err, sizeof err);
    CHECK_MSG(b != NULL, "%s", err);
    if (!b) return;
    static tjob first, asks, plain, big;
    static float ex_asks[2 * 2], ex_big[6 * 2];
    init_job(&first, 1, 100);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &first.job), BATCH_OK);
    wait_in_forward(1);
    /* a job that asks (2 images) and one that does not (2 images) share the next pass */
    init_job(&asks, 2, 5);
    asks.job.explain = ex_asks;
    init_job(&plain, 2, 50);
    CHECK_INT_EQ(batcher_submit(b, &asks.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &plain.job), BATCH_OK);
    gate(0);
    wait_done(3);
    CHECK_INT_EQ(asks.job.batch_images, 4);
    CHECK(outputs_ok(&asks) && outputs_ok(&plain));
    CHECK(ex_asks[0] == 5 && ex_asks[1] == 15 && ex_asks[2] == 6 && ex_asks[3] == 18);
    /* a 6-image job runs as 4 + 2: the second chunk's explanations land at images 4 and 5 */
    init_job(&big, 6, 20);
    big.job.explain = ex_big;
    CHECK_INT_EQ(batcher_submit(b, &big.job), BATCH_OK);
    wait_done(4);
    int ok = 1;
    for (int i = 0; i < 6; i++)
        ok &= ex_big[2 * i] == 20 + i && ex_big[2 * i + 1] == 3 * (20 + i);
    CHECK_MSG(ok, "explanations of a chunked job misplaced");
    batcher_stop(b, 1);
    batcher_free(b);
}

/* The width hint: wide only for a worker alone on the server with nothing queued. */
static pthread_mutex_t width_mu = PTHREAD_MUTEX_INITIALIZER;
static int widths[8], n_widths;

static void record_width(void *state, int wide)
{
    if (state != (void *)&gate_mu) atomic_store(&bad_state, 1);
    pthread_mutex_lock(&width_mu);
    if (n_widths < 8) widths[n_widths++] = wide;
    pthread_mutex_unlock(&width_mu);
}

static void test_width(void)
{
    reset_done();
    batcher_params p = {2, 1, 0, 64, 0, F, K, fake_forward, fake_state_new, fake_state_free, &gate_mu, NULL, 0,
                        record_width};
    char err[128];
    batcher *b = batcher_start(&p, err, sizeof err);
    CHECK_MSG(b != NULL, "%s", err);
    if (!b) return;
    static tjob lone, first, second, third;
    init_job(&lone, 1, 1);
    CHECK_INT_EQ(batcher_submit(b, &lone.job), BATCH_OK);
    wait_done(1);
    /* lone's worker completes the job before it counts itself idle: wait for that, or first would
     * find it still busy and run narrow */
    wait_idle(b);
    /* one worker held in its pass: the next job goes to the other worker, which is not alone */
    gate(1);
    init_job(&first, 1, 2);
    CHECK_INT_EQ(batcher_submit(b, &first.job), BATCH_OK);
    wait_in_forward(1);
    init_job(&second, 1, 3);
    CHECK_INT_EQ(batcher_submit(b, &second.job), BATCH_OK);
    wait_in_forward(2);
    /* both busy: a third job waits in the queue, and is taken narrow-or-wide by whoever is free */
    init_job(&third, 1, 4);
    CHECK_INT_EQ(batcher_submit(b, &third.job), BATCH_OK);
    gate(0);
    wait_done(4);
    CHECK(outputs_ok(&lone) && outputs_ok(&first) && outputs_ok(&second) && outputs_ok(&third));
    batcher_stop(b, 1);
    batcher_free(b);
    pthread_mutex_lock(&width_mu);
    CHECK_INT_EQ(n_widths, 4);
    CHECK_INT_EQ(widths[0], 1); /* alone on an idle server */
    CHECK_INT_EQ(widths[1], 1); /* alone again */
    CHECK_INT_EQ(widths[2], 0); /* the other worker is busy */
    pthread_mutex_unlock(&width_mu);
}

static void test_wait_for_company(void)
{
    reset_done();
    /* a long wait: two jobs submitted back to back share one pass */
    batcher *b = start(1, 2, 2000000, 64, 0, NULL);
    static tjob a, c;
    init_job(&a, 1, 1);
    init_job(&c, 1, 2);
    CHECK_INT_EQ(batcher_submit(b, &a.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &c.job), BATCH_OK);
    wait_done(2);
    CHECK_INT_EQ(a.job.batch_images, 2);
    CHECK(outputs_ok(&a) && outputs_ok(&c));
    /* stopping ends the wait at once: a lone job runs without its 2 s of company */
    static tjob lone;
    init_job(&lone, 1, 3);
    CHECK_INT_EQ(batcher_submit(b, &lone.job), BATCH_OK);
    batcher_stop(b, 1);
    CHECK_INT_EQ(lone.job.status, BATCH_OK);
    CHECK_INT_EQ(atomic_load(&lone.done_calls), 1);
    CHECK(lone.job.t_start - lone.job.t_submit < 1.5);
    batcher_free(b);
}

static void test_full_timeout_shutdown(void)
{
    reset_done();
    batcher *b = start(1, 1, 0, 3, 0.05, NULL);
    static tjob hold, q[2], extra;
    init_job(&hold, 1, 0);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1);
    init_job(&q[0], 2, 0);
    init_job(&q[1], 1, 0);
    CHECK_INT_EQ(batcher_submit(b, &q[0].job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &q[1].job), BATCH_OK);
    init_job(&extra, 1, 0);
    CHECK_INT_EQ(batcher_submit(b, &extra.job), BATCH_FULL); /* 3 of 3 images queued */
    CHECK_INT_EQ(atomic_load(&extra.done_calls), 0);
    /* the worker is stuck: both queued jobs time out after 50 ms */
    wait_done(2);
    CHECK_INT_EQ(q[0].job.status, BATCH_TIMEOUT);
    CHECK_INT_EQ(q[1].job.status, BATCH_TIMEOUT);
    CHECK_INT_EQ(batcher_queued(b), 0);
    CHECK_INT_EQ(batcher_submit(b, &extra.job), BATCH_OK); /* room again */
    gate(0);
    wait_done(4);
    CHECK_INT_EQ(hold.job.status, BATCH_OK);
    CHECK_INT_EQ(extra.job.status, BATCH_OK);
    batcher_stop(b, 1);
    batcher_free(b);

}

static void *stop_main(void *arg)
{
    batcher_stop(arg, 0);
    return NULL;
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    const struct timespec ms50 = {0, 50000000};
    nanosleep(&ms50, NULL);
    gate(0);
    return NULL;
}

/* A draining stop with a job still queued returns once the workers have run it, not at that job's
 * deadline: the reaper, asleep until the queue head's deadline, is not woken when the workers empty
 * the queue (it waited out --request-timeout-s, 30 s here, before the fix). */
static void test_drain_does_not_wait_for_deadlines(void)
{
    reset_done();
    batcher *b = start(1, 1, 0, 8, 30.0, NULL);
    static tjob hold, queued;
    init_job(&hold, 1, 0);
    init_job(&queued, 1, 1);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1);
    CHECK_INT_EQ(batcher_submit(b, &queued.job), BATCH_OK);
    pthread_t opener;
    pthread_create(&opener, NULL, open_gate_later, NULL);
    double t0 = batcher_now();
    batcher_stop(b, 1);
    double took = batcher_now() - t0;
    pthread_join(opener, NULL);
    CHECK_INT_EQ(queued.job.status, BATCH_OK);
    CHECK_MSG(took < 10.0, "a draining stop took %.1f s: it waited for the queued job's 30 s deadline", took);
    batcher_free(b);
}

static void test_stop_drops_queued(void)
{
    reset_done();
    batcher *b = start(1, 1, 0, 8, 0, NULL);
    static tjob hold, q[3];
    init_job(&hold, 1, 5);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1);
    for (int i = 0; i < 3; i++) {
        init_job(&q[i], 1, 0);
        CHECK_INT_EQ(batcher_submit(b, &q[i].job), BATCH_OK);
    }
    /* stop(0) from another thread while the worker is held; the queued jobs are dropped at once */
    pthread_t t;
    pthread_create(&t, NULL, stop_main, b);
    wait_done(3);
    for (int i = 0; i < 3; i++) CHECK_INT_EQ(q[i].job.status, BATCH_SHUTDOWN);
    CHECK_INT_EQ(atomic_load(&hold.done_calls), 0); /* still running */
    gate(0);
    pthread_join(t, NULL);
    CHECK_INT_EQ(hold.job.status, BATCH_OK);
    static tjob late;
    init_job(&late, 1, 0);
    CHECK_INT_EQ(batcher_submit(b, &late.job), BATCH_STOPPING);
    batcher_stop(b, 1); /* idempotent */
    batcher_free(b);
}

/* A forward pass that fails (fail_next 1: an engine error) or computes logits that are not all
 * finite (fail_next 2) ends its job BATCH_FAILED / BATCH_NONFINITE (answered 500, naming which). */
static void check_failed_pass(int fail, int want)
{
    reset_done();
    batcher *b = start(1, 4, 0, 8, 0, NULL);
    static tjob t;
    init_job(&t, 2, 1);
    atomic_store(&fail_next, fail);
    CHECK_INT_EQ(batcher_submit(b, &t.job), BATCH_OK);
    wait_done(1);
    CHECK_INT_EQ(t.job.status, want);
    batcher_stop(b, 1);
    batcher_free(b);
}

static void test_failure(void)
{
    check_failed_pass(1, BATCH_FAILED);
    check_failed_pass(2, BATCH_NONFINITE);
}

/* A poisoned job batched with two good ones: the shared pass fails, the retry job by job fails only
 * the poisoned one. */
static void test_failure_isolated(void)
{
    reset_done();
    metrics m;
    metrics_init(&m);
    batcher *b = start(1, 8, 0, 16, 0, &m);
    static tjob hold, good1, bad, good2;
    init_job(&hold, 1, 0);
    init_job(&good1, 2, 10);
    init_job(&bad, 1, POISON);
    init_job(&good2, 3, 20);
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1); /* the worker is busy: the next three queue up and go as one batch */
    CHECK_INT_EQ(batcher_submit(b, &good1.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &bad.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &good2.job), BATCH_OK);
    int before = atomic_load(&forwards);
    gate(0);
    wait_done(4);
    CHECK_INT_EQ(hold.job.status, BATCH_OK);
    CHECK_INT_EQ(good1.job.status, BATCH_OK);
    CHECK_INT_EQ(bad.job.status, BATCH_FAILED);
    CHECK_INT_EQ(good2.job.status, BATCH_OK);
    CHECK(outputs_ok(&good1) && outputs_ok(&good2));
    CHECK_INT_EQ(good1.job.batch_images, 6); /* they did share a pass first */
    CHECK_INT_EQ(atomic_load(&forwards) - before, 1 + 1 + 3); /* hold, the shared pass, three retries */
    CHECK_INT_EQ(atomic_load(&m.images), 1 + 2 + 3); /* classified: the poisoned image is not */
    batcher_stop(b, 1);
    batcher_free(b);
}

#define SUBMITTERS 4
#define PER_THREAD 200
static tjob cjobs[SUBMITTERS][PER_THREAD];
static batcher *cb;

static void *submitter(void *arg)
{
    int s = (int)(long)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        tjob *t = &cjobs[s][i];
        init_job(t, 1 + (i % 3), (float)(s * 10000 + i * 4));
        while (batcher_submit(cb, &t->job) == BATCH_FULL) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void test_concurrent(void)
{
    reset_done();
    metrics m;
    metrics_init(&m);
    cb = start(2, 4, 100, 16, 0, &m);
    pthread_t th[SUBMITTERS];
    for (long s = 0; s < SUBMITTERS; s++) pthread_create(&th[s], NULL, submitter, (void *)s);
    for (int s = 0; s < SUBMITTERS; s++) pthread_join(th[s], NULL);
    wait_done(SUBMITTERS * PER_THREAD);
    int ok = 1, once = 1;
    unsigned long images = 0;
    for (int s = 0; s < SUBMITTERS; s++)
        for (int i = 0; i < PER_THREAD; i++) {
            if (cjobs[s][i].job.status != BATCH_OK || !outputs_ok(&cjobs[s][i])) ok = 0;
            if (atomic_load(&cjobs[s][i].done_calls) != 1) once = 0;
            images += (unsigned long)cjobs[s][i].job.n;
        }
    CHECK(ok);
    CHECK(once);
    CHECK_INT_EQ(atomic_load(&m.images), images);
    batcher_stop(cb, 1);
    batcher_free(cb);
}

/* A job's own timeout (Triton's "timeout" parameter, a gRPC deadline): binding when shorter than the
 * batcher's, and a later job can expire before an earlier one, which stays queued and then runs. */
static void test_own_timeout(void)
{
    reset_done();
    batcher *b = start(1, 1, 0, 8, 30, NULL);
    static tjob hold, patient, hasty, lax;
    init_job(&hold, 1, 0);
    init_job(&patient, 1, 1);  /* the batcher's 30 s only */
    init_job(&hasty, 1, 2);
    hasty.job.timeout_s = 0.05;
    init_job(&lax, 1, 3);
    lax.job.timeout_s = 60;    /* longer than the batcher's: the batcher's binds */
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1);
    double t0 = batcher_now();
    CHECK_INT_EQ(batcher_submit(b, &patient.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &hasty.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &lax.job), BATCH_OK);
    wait_done(1); /* the worker is stuck: only the hasty job can end, behind the patient one */
    CHECK_INT_EQ(hasty.job.status, BATCH_EXPIRED);
    CHECK_MSG(batcher_now() - t0 >= 0.05 && batcher_now() - t0 < 10, "expired after %.3f s", batcher_now() - t0);
    CHECK_INT_EQ(atomic_load(&patient.done_calls), 0);
    CHECK_INT_EQ(atomic_load(&lax.done_calls), 0);
    CHECK_INT_EQ(batcher_queued(b), 2);
    CHECK_MSG(lax.job.deadline - lax.job.t_submit < 31, "lax deadline %.1f s", lax.job.deadline - lax.job.t_submit);
    gate(0);
    wait_done(4);
    CHECK_INT_EQ(hold.job.status, BATCH_OK);
    CHECK_INT_EQ(patient.job.status, BATCH_OK);
    CHECK_INT_EQ(lax.job.status, BATCH_OK);
    CHECK(outputs_ok(&patient) && outputs_ok(&lax));
    batcher_stop(b, 1);
    batcher_free(b);
}

/* batch_job.abandoned: the client of a job is gone once its user flag says so. */
static atomic_int gone_asked;
static int flagged_gone(const batch_job *j)
{
    const tjob *t = j->user;
    atomic_fetch_add(&gone_asked, 1);
    return t->x[F - 1] != 0; /* the third float of its first image marks it gone */
}

/* A job whose client is gone by the time a worker takes it ends BATCH_ABANDONED without a pass;
 * the jobs it was taken with still share theirs, and only their images count. */
static void test_abandoned(void)
{
    reset_done();
    metrics m;
    metrics_init(&m);
    batcher *b = start(1, 8, 0, 16, 0, &m);
    static tjob hold, stay1, gone, stay2, alone;
    init_job(&hold, 1, 0);
    init_job(&stay1, 2, 10);
    init_job(&gone, 3, 20);
    init_job(&stay2, 1, 30);
    init_job(&alone, 2, 40);
    tjob *asked[] = {&stay1, &gone, &stay2, &alone};
    for (int i = 0; i < 4; i++) asked[i]->job.abandoned = flagged_gone;
    gate(1);
    CHECK_INT_EQ(batcher_submit(b, &hold.job), BATCH_OK);
    wait_in_forward(1); /* the worker is busy: the next three queue up and are taken together */
    CHECK_INT_EQ(batcher_submit(b, &stay1.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &gone.job), BATCH_OK);
    CHECK_INT_EQ(batcher_submit(b, &stay2.job), BATCH_OK);
    gone.x[F - 1] = 1; /* its client leaves while it is queued */
    int before = atomic_load(&forwards);
    gate(0);
    wait_done(4);
    CHECK_INT_EQ(gone.job.status, BATCH_ABANDONED);
    CHECK_INT_EQ(atomic_load(&gone.done_calls), 1);
    CHECK_INT_EQ(gone.cls[0], 0); /* never run */
    CHECK_INT_EQ(stay1.job.status, BATCH_OK);
    CHECK_INT_EQ(stay2.job.status, BATCH_OK);
    CHECK(outputs_ok(&stay1) && outputs_ok(&stay2));
    CHECK_INT_EQ(stay1.job.batch_images, 3); /* one pass of the two that stayed */
    CHECK_INT_EQ(atomic_load(&forwards) - before, 2);
    CHECK_INT_EQ(atomic_load(&m.images), 1 + 2 + 1);
    CHECK_INT_EQ(atomic_load(&gone_asked), 3);
    /* a lone job that is gone: no pass at all, and the worker goes on */
    alone.x[F - 1] = 1;
    CHECK_INT_EQ(batcher_submit(b, &alone.job), BATCH_OK);
    wait_done(5);
    CHECK_INT_EQ(alone.job.status, BATCH_ABANDONED);
    CHECK_INT_EQ(atomic_load(&forwards) - before, 2);
    wait_idle(b);
    static tjob after;
    init_job(&after, 1, 50);
    CHECK_INT_EQ(batcher_submit(b, &after.job), BATCH_OK);
    wait_done(6);
    CHECK_INT_EQ(after.job.status, BATCH_OK);
    batcher_stop(b, 1);
    batcher_free(b);
}

int main(void)
{
    test_drain_does_not_wait_for_deadlines();
    test_batches_and_chunks();
    test_wait_for_company();
    test_explain_routing();
    test_width();
    test_full_timeout_shutdown();
    test_own_timeout();
    test_stop_drops_queued();
    test_failure();
    test_failure_isolated();
    test_abandoned();
    test_concurrent();
    CHECK_INT_EQ(atomic_load(&bad_state), 0); /* every forward got its worker's state */
    return check_summary("test_batcher");
}
