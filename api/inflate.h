/* inflate.h — a compressed request inflated with bounds: an HTTP body under its Content-Encoding,
 * a gRPC message under its grpc-encoding. Both protocols name the same two codings (gzip, and
 * deflate as the zlib format), and a bomb is the same threat in each, so one function serves both.
 * Thread-safe: no shared state.
 */
#ifndef DEIT_API_INFLATE_H
#define DEIT_API_INFLATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { API_ENC_IDENTITY, API_ENC_GZIP, API_ENC_DEFLATE } api_encoding;

/* Most bytes one encoded byte may inflate to: real JSON, protobuf and images compress 2-20x; a
 * bomb 1000x or more. */
#define API_INFLATE_RATIO 1000

/* What is inflated, for the messages: "body" and "Content-Encoding", or "message" and "grpc-encoding". */
typedef struct {
    const char *what;
    const char *header;
} api_inflate_names;

/* Inflates in[len] (gzip: one member or several in a row; deflate: the zlib format, or raw deflate
 * as some HTTP clients send it) into a new buffer (*out, free() it) of at most `limit` bytes and
 * API_INFLATE_RATIO x len. Returns 0, or an HTTP status with a message: 400 (corrupt, or data after
 * the stream), 413 (over a bound) or 503 (out of memory). API_ENC_IDENTITY is a caller's error: 500. */
int api_inflate(api_encoding enc, const uint8_t *in, size_t len, size_t limit, const api_inflate_names *names,
                uint8_t **out, size_t *out_len, char *msg, size_t msglen);

#endif
