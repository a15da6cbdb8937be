/* admission.c — the waiting room in front of a full queue; see admission.h. */
#include "admission.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "mono_cond.h"

/* How often the room looks for queue room while requests are parked: the workers do not signal it,
 * and a forward pass takes milliseconds, so 1 ms keeps them fed without a busy loop. */
#define POLL_NS 1000000L

typedef struct {
    void *item;
    double until;              /* refused at this time if not admitted before */
} parked;

struct admission {
    batcher *b;
    int cap, slack;
    admission_wake_fn wake;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    parked *ring;              /* FIFO of parked items, cap_parked slots */
    size_t head, n, cap_parked;
    int tickets;               /* admitted, not yet in the queue */
    int stopping;
    pthread_t thread;
    atomic_long *gauge;        /* metrics: requests parked now */
};

/* 1 when one more request fits: images queued plus requests admitted and still on their way (at most
 * `slack` of those beyond the queue: they upload and decode while the queue drains) < cap + slack. */
static int room(admission *a)
{
    return batcher_queued(a->b) + a->tickets < a->cap + a->slack;
}

static void *room_thread(void *arg)
{
    admission *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        if (a->n == 0) {
            pthread_cond_wait(&a->cond, &a->lock);
            continue;
        }
        double now = batcher_now();
        /* oldest first: admit while there is room, refuse what has waited too long (the head's time is
         * the earliest but for requests parked a second time, which may be refused a little late) */
        while (a->n > 0) {
            parked *p = &a->ring[a->head];
            int admit = room(a);
            if (!admit && now < p->until) break;
            void *item = p->item;
            a->head = (a->head + 1) % a->cap_parked;
            a->n--;
            if (a->gauge) atomic_fetch_sub(a->gauge, 1);
            if (admit) a->tickets++;
            pthread_mutex_unlock(&a->lock);
            a->wake(item, admit);
            pthread_mutex_lock(&a->lock);
        }
        struct timespec ts = mono_after_ns(POLL_NS);
        pthread_cond_timedwait(&a->cond, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

admission *admission_start(batcher *b, int queue_cap, int slack, int max_parked, admission_wake_fn wake,
                           atomic_long *parked_gauge)
{
    admission *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cap_parked = max_parked > 0 ? (size_t)max_parked : 1;
    a->ring = malloc(a->cap_parked * sizeof *a->ring);
    a->b = b;
    a->cap = queue_cap;
    a->slack = slack;
    a->wake = wake;
    a->gauge = parked_gauge;
    pthread_mutex_init(&a->lock, NULL);
    int cond_ok = a->ring && mono_cond_init(&a->cond) == 0;
    if (!cond_ok || pthread_create(&a->thread, NULL, room_thread, a)) {
        pthread_mutex_destroy(&a->lock);
        if (cond_ok) pthread_cond_destroy(&a->cond);
        free(a->ring);
        free(a);
        return NULL;
    }
    return a;
}

int admission_try(admission *a)
{
    pthread_mutex_lock(&a->lock);
    int ok = !a->stopping && a->n == 0 && room(a);
    if (ok) a->tickets++;
    pthread_mutex_unlock(&a->lock);
    return ok;
}

int admission_park(admission *a, void *item, double until)
{
    pthread_mutex_lock(&a->lock);
    int rc = -1;
    if (!a->stopping && a->n < a->cap_parked) {
        a->ring[(a->head + a->n) % a->cap_parked] = (parked){item, until};
        if (a->n++ == 0) pthread_cond_signal(&a->cond);
        if (a->gauge) atomic_fetch_add(a->gauge, 1);
        rc = 0;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void admission_leave(admission *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->tickets > 0) a->tickets--;
    pthread_mutex_unlock(&a->lock);
}

int admission_parked(admission *a)
{
    pthread_mutex_lock(&a->lock);
    int n = (int)a->n;
    pthread_mutex_unlock(&a->lock);
    return n;
}

void admission_stop(admission *a)
{
    if (!a) return;
    pthread_mutex_lock(&a->lock);
    if (a->stopping) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    a->stopping = 1;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    /* the thread is gone: refuse what is still parked, from here */
    while (a->n > 0) {
        void *item = a->ring[a->head].item;
        a->head = (a->head + 1) % a->cap_parked;
        a->n--;
        if (a->gauge) atomic_fetch_sub(a->gauge, 1);
        a->wake(item, 0);
    }
}

void admission_free(admission *a)
{
    if (!a) return;
    admission_stop(a);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a->ring);
    free(a);
}
