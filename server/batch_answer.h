/* batch_answer.h — what a client is told about a batcher job that did not end BATCH_OK: one table
 * for REST and gRPC, so both front ends give the same status and the same words. */
#ifndef DEIT_SERVER_BATCH_ANSWER_H
#define DEIT_SERVER_BATCH_ANSWER_H

#include <stddef.h>

#include "server_config.h"

/* The status counted and logged for a request whose client went away before its answer (a gRPC
 * call cancelled, or whose deadline passed, before its message arrived; a connection closed while
 * its request was queued): nginx's "client closed request", neither the client's fault nor ours. */
#define HTTP_CLIENT_CLOSED 499

/* Writes the message for batch status `status` (BATCH_FULL, BATCH_TIMEOUT, ...) into msg[cap] and
 * returns its HTTP status; the limits it names come from c. */
int batch_answer(int status, const server_config *c, char *msg, size_t cap);

#endif
