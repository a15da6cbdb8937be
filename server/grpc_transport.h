/* grpc_transport.h — the gRPC transport behind a C interface: a grpc++ server (HTTP/2, TLS, message
 * size limits, deadlines) with one generic callback service that hands every call's single request
 * message to a C handler as bytes, and lets the handler finish the call later from any thread.
 *
 * The only C++ in the product (grpc_transport.cc): the gRPC core's C API is not public, so C
 * projects reach gRPC through one such translation unit. Messages stay bytes here; grpc_codec.c
 * (protobuf-c) gives them meaning and grpc_service.c decides the answers.
 */
#ifndef DEIT_SERVER_GRPC_TRANSPORT_H
#define DEIT_SERVER_GRPC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes (the protocol's numbers, as grpc::StatusCode has them). */
enum {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
    RPC_UNAUTHENTICATED = 16
};

typedef struct rpc_transport rpc_transport;
typedef struct rpc_call rpc_call; /* one RPC; valid until rpc_call_finish returns */

/* Called when a call starts (its headers arrived), before its message is read; what it returns is kept
 * with the call (rpc_call_tag), e.g. whether it began before a drain. */
typedef int (*rpc_on_start)(void *ctx);

/* Called when a call starts, after on_start and before its message is read: 0 lets the message be
 * read; otherwise the hook has answered the call (rpc_call_finish) and its message is never read.
 * A client that may not make the call (no API key) then cannot make the server hold its message,
 * up to the receive limit per call, for as long as it takes to send. */
typedef int (*rpc_admit)(void *ctx, rpc_call *call, const char *method);

/* Called once per call whose message arrived, on a gRPC thread, with the method
 * ("/package.Service/Method") and the request message (req[len], valid only during the call; req NULL
 * when it could not be read whole, e.g. out of memory). The handler must eventually call
 * rpc_call_finish exactly once, before returning or later from any thread. */
typedef void (*rpc_handler)(void *ctx, rpc_call *call, const char *method, const uint8_t *req, size_t len);

/* Why a call ended without its message reaching the handler. */
typedef enum {
    RPC_UNREAD_NONE,           /* the client half-closed without a message: answered INVALID_ARGUMENT */
    RPC_UNREAD_CANCELLED,      /* cancelled before it arrived: by the client, its deadline, or shutdown */
    RPC_UNREAD_TIMEOUT         /* not there within read_timeout_s: answered DEADLINE_EXCEEDED */
} rpc_unread;

/* Called instead of the handler for such a call, once it is over (nothing to answer; rpc_call_finish
 * must not be called, the other rpc_call_* may), secs after its start. */
typedef void (*rpc_on_unread)(void *ctx, rpc_call *call, const char *method, rpc_unread why, double secs);

typedef struct {
    const char *host;          /* address to bind (IPv4 or IPv6 literal, or a name) */
    int port;                  /* 0: any free port */
    size_t max_recv;           /* largest request message (bigger: RESOURCE_EXHAUSTED from gRPC itself) */
    int max_streams;           /* calls open at once on one connection (HTTP/2 SETTINGS); more wait */
    double idle_s;             /* a connection without calls for this long is closed (GOAWAY); 0: never */
    double read_timeout_s;     /* a call's message must arrive within this of its start; 0: no limit */
    const char *tls_cert_pem;  /* PEM text; NULL: plaintext */
    const char *tls_key_pem;
    rpc_on_start on_start;
    rpc_admit admit;           /* NULL: every call reads its message */
    rpc_handler handler;
    rpc_on_unread on_unread;
    void *ctx;
} rpc_transport_params;

/* Binds and starts serving. NULL with a message on failure; *bound_port is the port listened on. */
rpc_transport *rpc_transport_start(const rpc_transport_params *p, int *bound_port, char *err, size_t errlen);

/* Starts shutting down, from another thread: GOAWAY on every connection and the port closed, so no
 * new call starts; calls already begun go on, those still open grace_s from now are cancelled.
 * Returns at once. NULL: no-op. */
void rpc_transport_drain(rpc_transport *t, double grace_s);

/* 1 once the call was cancelled (by the client, its deadline, or shutdown): its answer would go
 * nowhere. Any thread, until rpc_call_finish. */
int rpc_call_cancelled(const rpc_call *c);

/* Stops (draining first if rpc_transport_drain was not called): calls still open grace_s from now
 * are cancelled, whatever the drain's deadline; returns when every call is done. NULL: no-op. */
void rpc_transport_stop(rpc_transport *t, double grace_s);

/* The value of request metadata `key` (lowercase), not NUL-terminated: *len bytes; NULL if absent. */
const char *rpc_call_metadata(const rpc_call *c, const char *key, size_t *len);

/* Seconds left until the client's deadline (negative once passed); a huge value when none was set. */
double rpc_call_time_left(const rpc_call *c);

/* How the call's request message came compressed: the coding named by its grpc-encoding, when the
 * message's compressed flag is set. gRPC leaves such a message as it came (see grpc_transport.cc):
 * the handler inflates it, with its own bounds. Valid from the handler's call on. */
typedef enum { RPC_ENC_IDENTITY, RPC_ENC_GZIP, RPC_ENC_DEFLATE } rpc_encoding;
rpc_encoding rpc_call_encoding(const rpc_call *c);

/* What on_start returned for this call. */
int rpc_call_tag(const rpc_call *c);

/* The client's address, e.g. "ipv4:127.0.0.1:51234". */
const char *rpc_call_peer(const rpc_call *c);

/* Answers the call: code RPC_OK sends resp[len] (copied) as the response message; any other code
 * sends the status with message (resp ignored). The call must not be used afterwards. */
void rpc_call_finish(rpc_call *c, int code, const char *message, const uint8_t *resp, size_t len);

#ifdef __cplusplus
}
#endif

#endif
