/* batch_answer.c — the batcher's status table (see batch_answer.h). */
#include "batch_answer.h"

#include <stdio.h>

#include "batcher.h"

int batch_answer(int status, const server_config *c, char *msg, size_t cap)
{
    switch (status) {
    case BATCH_FULL:
        snprintf(msg, cap, "server busy: queue is full (%d images, --queue)", c->queue);
        return 503;
    case BATCH_TIMEOUT:
        snprintf(msg, cap, "request timed out after %d s waiting for a worker (--request-timeout-s)",
                 c->request_timeout_s);
        return 504;
    case BATCH_EXPIRED:
        snprintf(msg, cap, "the request's own timeout (its \"timeout\" parameter or deadline) passed while it "
                           "waited for a worker");
        return 504;
    case BATCH_ABANDONED:
        /* nginx's code for a client that closed the connection before the answer: nobody reads it,
         * but the access log and the metrics say what happened */
        snprintf(msg, cap, "the client went away while the request was queued; it was not run");
        return HTTP_CLIENT_CLOSED;
    case BATCH_STOPPING:
    case BATCH_SHUTDOWN:
        snprintf(msg, cap, "server is shutting down");
        return 503;
    case BATCH_NONFINITE:
        /* the weights were checked finite at load: this input drives them past float32's range */
        snprintf(msg, cap, "the model produced non-finite logits (NaN or infinity) for this input: its "
                           "weights overflow float32 here");
        return 500;
    default:
        snprintf(msg, cap, "inference failed");
        return 500;
    }
}
