/* v2.h — Open Inference Protocol (KServe v2) infer requests: one BYTES input of encoded images,
 * given either as base64 strings in the JSON body or through the binary-data extension (JSON header
 * of Inference-Header-Content-Length bytes, then raw tensors; each BYTES element a 4-byte
 * little-endian length followed by that many bytes), and the requested outputs: the probabilities
 * (class_probs, distill_probs, fused_probs, each optionally with parameters.classification = k) and
 * the explanation (class_rollout, distill_rollout, token_cosine: ?explain=1's maps and cosine as
 * tensors, computed only for a request that names one).
 *
 * Thread-safe; no global state. The request owns what it allocates (free with v2_request_free);
 * image blobs point either into the caller's body (binary data) or into the request's own arena
 * (decoded base64), so the body must outlive the request.
 */
#ifndef DEIT_API_V2_H
#define DEIT_API_V2_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    V2_OK = 0,
    V2_EINVAL = -1,            /* malformed request (HTTP 400) */
    V2_ETOOMANY = -2,          /* more images than allowed per request, or a JSON body with more
                                * values than a request needs (HTTP 413) */
    V2_ENOMEM = -3             /* allocation failed (HTTP 503, as every out-of-memory answer) */
} v2_status;

typedef enum {
    V2_OUT_CLASS, V2_OUT_DISTILL, V2_OUT_FUSED,                         /* probabilities, [batch, classes] */
    V2_OUT_CLASS_ROLLOUT, V2_OUT_DISTILL_ROLLOUT, V2_OUT_TOKEN_COSINE,  /* the explanation */
    V2_OUT_COUNT
} v2_output_kind;

/* Kinds below this are the probability outputs: what a request naming none gets, and the only ones
 * "classification" applies to. */
#define V2_OUT_PROBS V2_OUT_CLASS_ROLLOUT

/* Output names as they appear on the wire, indexed by v2_output_kind. */
extern const char *const v2_output_names[V2_OUT_COUNT];

typedef struct {
    v2_output_kind kind;
    int classification;        /* 0: FP32 probabilities [batch, classes]; k > 0: top-k BYTES [batch, k] */
    int binary;                /* REST: 1 = raw bytes after the JSON (binary-data extension), 0 = JSON data */
} v2_output;

typedef struct {
    const uint8_t *data;
    size_t len;
} v2_blob;

typedef struct {
    char *id;                  /* request "id" to echo back; NULL when absent */
    char *input_name;          /* name of the BYTES input */
    size_t n_images;
    v2_blob *images;           /* [n_images], in row-major order of the input tensor */
    uint8_t *arena;            /* decoded base64 bytes the blobs may point into */
    int n_outputs;             /* outputs requested; the three probability outputs when none given */
    v2_output outputs[V2_OUT_COUNT];
    double timeout_s;          /* the request's "timeout" parameter (Triton's: microseconds) in seconds;
                                * 0 when absent or 0 (none) */
} v2_request;

/* Parses body[len]. header_len < 0: the whole body is JSON; otherwise the first header_len bytes are
 * the JSON header and the rest is binary data (Inference-Header-Content-Length). At most max_images
 * images (V2_ETOOMANY beyond). On failure *out is left empty (safe to v2_request_free) and err holds
 * a message for the client. */
int v2_parse_request(const uint8_t *body, size_t len, long long header_len, size_t max_images,
                     v2_request *out, char *err, size_t errlen);

void v2_request_free(v2_request *r);

/* The checks both transports share (REST's JSON above, gRPC's protobuf in server/grpc_codec.c), so a
 * fault gets the same message whichever way it arrives. Each returns V2_OK or a v2_status with err. */

#define V2_MAX_DIMS 4                  /* dimensions of the input tensor */
#define V2_MAX_CLASSIFICATION 100000   /* largest "classification" k accepted (clamped to the classes) */

/* The request's "timeout" parameter, Triton's: microseconds the request may wait in the queue, 0 for
 * no limit of its own; a value that is not an integer (is_integer 0) or is negative is V2_EINVAL.
 * Sets r->timeout_s (longer than a day: none). */
int v2_set_timeout_us(v2_request *r, int is_integer, long long us, char *err, size_t errlen);

/* The one BYTES input: n_inputs must be 1; records name (copied) after checking datatype. */
int v2_set_input(v2_request *r, size_t n_inputs, const char *name, const char *datatype, char *err, size_t errlen);

/* The input's shape dims[n_dims]: 1 to V2_MAX_DIMS non-negative sizes whose product (the images, at
 * most max_images: V2_ETOOMANY) is at least 1. Allocates r->images and sets r->n_images. */
int v2_set_shape(v2_request *r, const long long *dims, size_t n_dims, size_t max_images, char *err,
                 size_t errlen);

/* Splits bin[len], r->n_images BYTES elements each a 4-byte little-endian length followed by the
 * bytes, into r->images (pointing into bin). Any other element count or an overrun is V2_EINVAL. */
int v2_split_bytes(const uint8_t *bin, size_t len, v2_request *r, char *err, size_t errlen);

/* Requests the output called name (NULL: an error), once each; has_classification: top-k BYTES with
 * k = classification (1..V2_MAX_CLASSIFICATION), for a probability output only. Whether the model
 * offers it is the caller's check (api_v2_outputs_check). */
int v2_add_output(v2_request *r, const char *name, int has_classification, long long classification, char *err,
                  size_t errlen);

/* Requests the three probability outputs (what a request naming none gets). */
void v2_all_outputs(v2_request *r);

/* 1 when r names an explanation output: its images must keep their attention (batch_job.explain). */
int v2_wants_explain(const v2_request *r);

/* RFC 4648 base64: the standard or the URL-safe alphabet (as protobuf's JSON mapping takes bytes),
 * padding optional, ASCII whitespace (MIME line breaks) skipped; any other character, data after the
 * padding or a length no encoder makes is refused. Writes at most 3 * (len / 4) + 2 bytes to out and
 * returns how many, or -1. */
long long v2_base64_decode(const char *in, size_t len, uint8_t *out);

#endif
