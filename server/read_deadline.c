/* read_deadline.c — per-connection deadlines for receiving a request, enforced by a watchdog thread. */
#include "read_deadline.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "mono_cond.h"

/* How often the watchdog looks: deadlines are kept to within this. */
#define SWEEP_MS 200

typedef enum { OWES_HEADERS, OWES_BODY, OWES_NOTHING } debt;

typedef struct conn_entry {
    struct conn_entry *prev, *next;
    MHD_socket fd;
    debt owes;
    double since;              /* when the current debt started */
    double body_bytes;         /* received so far, for OWES_BODY */
    int cut;                   /* shut down already: MHD will close it */
} conn_entry;

struct read_deadlines {
    double timeout_s, min_rate;
    /* Guards the list and every entry. MHD calls the CLOSED notification before it closes the socket,
     * and removal takes this lock, so a descriptor the watchdog finds in the list is still this
     * connection's: shutdown() can never hit a reused descriptor. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    conn_entry head;           /* sentinel of a circular list */
    int stopping, started;
    pthread_t thread;
    atomic_ulong *closed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double deadline_of(const read_deadlines *d, const conn_entry *e)
{
    if (e->owes == OWES_HEADERS) return e->since + d->timeout_s;
    return e->since + d->timeout_s + e->body_bytes / d->min_rate;
}

static void *watchdog(void *arg)
{
    read_deadlines *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        double now = now_s();
        for (conn_entry *e = d->head.next; e != &d->head; e = e->next) {
            if (e->cut || e->owes == OWES_NOTHING || now < deadline_of(d, e)) continue;
            /* shutdown, not close: the descriptor stays MHD's until it closes it itself */
            shutdown(e->fd, SHUT_RDWR);
            e->cut = 1;
            if (d->closed) atomic_fetch_add(d->closed, 1);
        }
        struct timespec until = mono_after_ns(SWEEP_MS * 1000000L);
        pthread_cond_timedwait(&d->wake, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

read_deadlines *read_deadlines_start(double timeout_s, double min_rate, atomic_ulong *closed)
{
    read_deadlines *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->timeout_s = timeout_s;
    d->min_rate = min_rate > 0 ? min_rate : 1;
    d->head.next = d->head.prev = &d->head;
    d->closed = closed;
    pthread_mutex_init(&d->lock, NULL);
    if (mono_cond_init(&d->wake)) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    if (pthread_create(&d->thread, NULL, watchdog, d)) {
        read_deadlines_free(d);
        return NULL;
    }
    d->started = 1;
    return d;
}

void read_deadlines_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode code)
{
    read_deadlines *d = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_entry *e = ci ? calloc(1, sizeof *e) : NULL;
        *socket_context = e;
        if (!e) return; /* untracked: only the idle timeout applies to it */
        e->fd = ci->connect_fd;
        e->owes = OWES_HEADERS;
        e->since = now_s();
        pthread_mutex_lock(&d->lock);
        e->next = d->head.next;
        e->prev = &d->head;
        d->head.next->prev = e;
        d->head.next = e;
        pthread_mutex_unlock(&d->lock);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_entry *e = *socket_context;
        if (!e) return;
        pthread_mutex_lock(&d->lock);
        e->prev->next = e->next;
        e->next->prev = e->prev;
        pthread_mutex_unlock(&d->lock);
        free(e);
        *socket_context = NULL;
    }
}

static conn_entry *entry_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Moves the connection's entry to a new debt starting now. */
static void owe(read_deadlines *d, struct MHD_Connection *conn, debt what)
{
    conn_entry *e = d ? entry_of(conn) : NULL;
    if (!e) return;
    pthread_mutex_lock(&d->lock);
    e->owes = what;
    e->since = now_s();
    e->body_bytes = 0;
    pthread_mutex_unlock(&d->lock);
}

void read_deadlines_headers(read_deadlines *d, struct MHD_Connection *conn, int body)
{
    owe(d, conn, body ? OWES_BODY : OWES_NOTHING);
}

void read_deadlines_body(read_deadlines *d, struct MHD_Connection *conn, size_t n)
{
    conn_entry *e = d ? entry_of(conn) : NULL;
    if (!e) return;
    pthread_mutex_lock(&d->lock);
    e->body_bytes += (double)n;
    pthread_mutex_unlock(&d->lock);
}

void read_deadlines_request_read(read_deadlines *d, struct MHD_Connection *conn)
{
    owe(d, conn, OWES_NOTHING);
}

void read_deadlines_response_done(read_deadlines *d, struct MHD_Connection *conn)
{
    owe(d, conn, OWES_HEADERS);
}

void read_deadlines_stop(read_deadlines *d)
{
    if (!d || !d->started) return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->started = 0;
}

void read_deadlines_free(read_deadlines *d)
{
    if (!d) return;
    read_deadlines_stop(d);
    /* MHD_stop_daemon reported every connection closed, so the list is empty; free stragglers anyway */
    for (conn_entry *e = d->head.next, *next; e != &d->head; e = next) {
        next = e->next;
        free(e);
    }
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    free(d);
}
