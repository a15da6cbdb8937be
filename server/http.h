/* http.h — the HTTP front end: a libmicrohttpd daemon, routing, the per-request state machine that
 * bounds uploads, decodes images, queues them to the batcher and answers when the workers are done.
 *
 * Lifecycle (main.c): http_start (listening; /healthz answers, /readyz 503) -> http_set_engine once
 * the model is loaded and the workers are up (/readyz 200) -> on SIGTERM http_drain (/readyz 503, no
 * new connections) -> wait for http_inflight() == 0 -> batcher_stop -> http_stop.
 * http_set_engine, http_drain, http_inflight may be called from any thread.
 */
#ifndef DEIT_SERVER_HTTP_H
#define DEIT_SERVER_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "batcher.h"
#include "server_config.h"
#include "deit.h"
#include "metrics.h"

typedef struct http_server http_server;

/* Binds and starts serving. cfg and m must outlive the server. NULL on failure (message in err). */
http_server *http_start(const server_config *cfg, metrics *m, char *err, size_t errlen);

/* Publishes the loaded model and running batcher; inference endpoints and readiness turn on. name is
 * what clients call the model (URLs, responses); it must outlive the server. */
void http_set_engine(http_server *h, const deit_model *model, batcher *b, const char *name);

/* While on, /readyz answers 503 {"status":"downloading"} (the model is being fetched from the hub)
 * instead of "starting". Any thread. */
void http_set_downloading(http_server *h, int on);

/* The bound TCP port (useful with --port 0). */
int http_port(const http_server *h);

/* 1 when serving HTTPS (--tls-cert/--tls-key). */
int http_tls(const http_server *h);

/* Starts draining: readiness answers 503, the listening socket stops accepting, and responses ask
 * keep-alive clients to close. Requests already accepted are still answered. */
void http_drain(http_server *h);

/* Requests received and not yet completed (answered and sent, or aborted). */
int http_inflight(const http_server *h);

/* The drain's grace period is over: a request still decoding its images stops at the next one and is
 * answered 503, so a large upload cannot hold the exit past --grace-s by its whole decode. */
void http_give_up(http_server *h);

/* Stops the daemon (closes every connection) and frees the server. No request may be waiting on the
 * batcher any more: stop the batcher first. */
void http_stop(http_server *h);

#endif
