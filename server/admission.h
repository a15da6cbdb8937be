/* admission.h — the waiting room in front of a full queue. A request whose headers arrive while the
 * batcher's queue is full is parked: its connection is suspended with its body still unread in the
 * socket, which costs no CPU and no server memory, until the queue has room (admitted, oldest first) or
 * its time is up (refused: the caller answers 503 with Retry-After). A request admitted that finds the
 * queue full again after its upload parks once more, body in memory, within the same time. Answering 503 at once to
 * closed-loop clients instead turns every refused request straight into the next one, and reading and
 * answering thousands of them per second took the cores from the workers (issue 21: goodput 0.43x).
 *
 * Admitted requests hold a ticket until they are in the queue (admission_leave), so a burst of parked
 * requests is not admitted all at once into room that only one of them will find.
 * Thread-safe: enter/leave from the HTTP threads; wake() runs on the room's own thread. */
#ifndef DEIT_SERVER_ADMISSION_H
#define DEIT_SERVER_ADMISSION_H

#include <stdatomic.h>

#include "batcher.h"

typedef struct admission admission;

/* Called once per parked item, outside the room's lock: admitted 1 (go on) or 0 (refuse). It must
 * resume the item's connection; the room never touches the item again. */
typedef void (*admission_wake_fn)(void *item, int admitted);

/* Starts the room's thread. queue_cap: the batcher's queue size in images; slack: admitted requests
 * allowed on their way beyond it (those decoding while the queue drains: the HTTP threads);
 * max_parked: most requests parked at once (the connection limit); parked_gauge (may be NULL) follows
 * the number parked. NULL when out of memory or threads. */
admission *admission_start(batcher *b, int queue_cap, int slack, int max_parked, admission_wake_fn wake,
                           atomic_long *parked_gauge);

/* 1: room now (nothing parked, queue not full): go on with a ticket (admission_leave it later);
 * 0: no room, park the request. */
int admission_try(admission *a);

/* Parks item until `until` (batcher_now() clock) at the latest; its connection is already suspended,
 * so that wake() may resume it at once. 0, and wake() follows exactly once (with a ticket when
 * admitted); -1 when the room is stopping or full: refuse now. */
int admission_park(admission *a, void *item, double until);

/* Returns an admitted request's ticket: it is in the queue now, or failed before. */
void admission_leave(admission *a);

/* Requests parked now. */
int admission_parked(admission *a);

/* Refuses everything parked (wake(item, 0)) and stops the thread; later enters return -1. Then free.
 * NULL is a no-op for both. */
void admission_stop(admission *a);
void admission_free(admission *a);

#endif
