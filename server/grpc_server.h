/* grpc_server.h — the KServe v2 gRPC front end (inference.GRPCInferenceService and
 * grpc.health.v1.Health/Check): the same model, batcher, limits, API key, metrics, access log, TLS
 * and drain as the HTTP front end (http.h), over gRPC.
 *
 * Lifecycle (main.c), mirroring http.h: gfe_start (listening; health NOT_SERVING) ->
 * gfe_set_engine once the model is loaded and the workers are up (SERVING) -> on SIGTERM
 * gfe_drain (GOAWAY: no new calls) -> wait for gfe_inflight() == 0 ->
 * batcher_stop -> gfe_stop. Every function accepts NULL (gRPC off) and then does nothing.
 */
#ifndef DEIT_SERVER_GRPC_SERVER_H
#define DEIT_SERVER_GRPC_SERVER_H

#include <stddef.h>

#include "batcher.h"
#include "deit.h"
#include "log.h"
#include "metrics.h"
#include "server_config.h"

typedef struct gfe_server gfe_server;

/* Binds cfg->grpc_port (0: any free port) and starts serving; access lines go to lg. cfg, m and lg
 * must outlive the server. NULL with a message in err on failure. */
gfe_server *gfe_start(const server_config *cfg, metrics *m, const server_log *lg, char *err, size_t errlen);

/* Publishes the loaded model and running batcher (see http_set_engine). */
void gfe_set_engine(gfe_server *g, const deit_model *model, batcher *b, const char *name);

/* The bound TCP port. */
int gfe_port(const gfe_server *g);

/* Starts draining: GOAWAY on every connection and the port closed (new calls fail UNAVAILABLE in
 * the client, or go to another server), health NOT_SERVING and new ModelInfer calls UNAVAILABLE for
 * calls racing the GOAWAY; calls already begun are answered, those still open after --grace-s are
 * cancelled. */
void gfe_drain(gfe_server *g);

/* Calls whose request message arrived and that are not yet answered. */
int gfe_inflight(const gfe_server *g);

/* The drain's grace period is over: a ModelInfer call still decoding its images stops at the next
 * one and is answered UNAVAILABLE, so a large message cannot hold the exit past --grace-s. */
void gfe_give_up(gfe_server *g);

/* Stops and frees the server; calls still open after a second (e.g. still without their message)
 * are cancelled, whatever the drain's grace. No call may be waiting on the batcher any more: stop
 * the batcher first. */
void gfe_stop(gfe_server *g);

#endif
