/* grpc_codec.h — KServe v2 gRPC messages (protobuf, via protobuf-c) to and from the server's own
 * structures: decodes a ModelInferRequest into the v2_request REST builds, through the same checks
 * (api/v2.h) so a fault gets the same message, and encodes every response the gRPC front end sends.
 *
 * Pure functions: no I/O, no global state, thread-safe. Every input buffer is untrusted (any bytes,
 * any length); decoding fails with a message, never reads outside it. Encoders return a malloc'd
 * buffer of *len bytes (at least one byte is allocated, so an empty message is not NULL), or NULL
 * when out of memory.
 */
#ifndef DEIT_SERVER_GRPC_CODEC_H
#define DEIT_SERVER_GRPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "model_info.h"
#include "v2.h"

/* A decoded ModelInferRequest. req's image blobs point into msg, so free both together. */
typedef struct {
    char *model_name;          /* "" when the client sent none */
    char *model_version;       /* "" when the client sent none */
    v2_request req;            /* id (NULL when empty), input name, images, outputs */
    void *msg;                 /* the unpacked protobuf message (private) */
} gcodec_infer_request;

/* Memory unpacking a ModelInferRequest may take: GCODEC_INFER_MEM_PER_BYTE bytes per message byte plus
 * GCODEC_INFER_MEM_SLACK. A real request is mostly image bytes, copied once (about 1 byte per byte);
 * protobuf-c spends 10 to 40 bytes on each tiny field (an empty repeated entry, an unknown field), so
 * a message of nothing but those would otherwise cost tens of times its size before any check. */
#define GCODEC_INFER_MEM_PER_BYTE 2
#define GCODEC_INFER_MEM_SLACK (64 * 1024)

/* Decodes buf[len]. Returns V2_OK, V2_EINVAL (not a ModelInferRequest, or an invalid tensor),
 * V2_ETOOMANY (more than max_images images, or a message whose unpacking needs more memory than
 * GCODEC_INFER_MEM_* allow) or V2_ENOMEM, with a message for the client in err.
 * On failure *out is left empty (safe to free). */
int gcodec_decode_infer(const uint8_t *buf, size_t len, size_t max_images, gcodec_infer_request *out, char *err,
                      size_t errlen);
void gcodec_infer_request_free(gcodec_infer_request *r);

/* The largest message the small requests below accept (they hold a name or two). protobuf-c keeps
 * every unknown field, each costing several times its bytes, so a message of up to --max-body-mb
 * would be unpacked into gigabytes by anyone (these calls need no API key). */
#define GCODEC_SMALL_MAX (64 * 1024)
/* What the small decoders return for a message over GCODEC_SMALL_MAX, without looking at it. */
#define GCODEC_ETOOBIG (-2)

/* ModelReadyRequest / ModelMetadataRequest (fields 1 name, 2 version): malloc'd copies in *name and
 * *version ("" when absent). 0 on success, -1 on garbage or no memory, GCODEC_ETOOBIG (both then NULL). */
int gcodec_decode_model_ref(const uint8_t *buf, size_t len, char **name, char **version);

/* A request without fields (ServerLive, ServerReady, ServerMetadata): 0 when buf is a valid protobuf
 * message (unknown fields are skipped, as protobuf does), -1 on garbage, GCODEC_ETOOBIG. */
int gcodec_decode_empty(const uint8_t *buf, size_t len);

/* grpc.health.v1.HealthCheckRequest: the service name (malloc'd, "" for the whole server); 0, -1 on
 * garbage or no memory, GCODEC_ETOOBIG. */
int gcodec_decode_health(const uint8_t *buf, size_t len, char **service);

/* Response messages whose only field is `bool` 1 (ServerLive's live, ServerReady's and ModelReady's
 * ready). */
typedef enum { GCODEC_FLAG_LIVE, GCODEC_FLAG_READY, GCODEC_FLAG_MODEL_READY } gcodec_flag;
uint8_t *gcodec_encode_flag(gcodec_flag kind, int value, size_t *len);

/* ServerMetadataResponse: name, version and extensions, as GET /v2 says them. */
uint8_t *gcodec_encode_server_metadata(const char *version, size_t *len);

/* ModelMetadataResponse: what GET /v2/models/{name} says, as a message. */
uint8_t *gcodec_encode_model_metadata(const api_model *m, size_t *len);

/* ModelInferResponse for n_images from their logits ([n][classes]; dist NULL without a distillation
 * head), fused as REST fuses them (resp_fuse_all), and their carried explanations (explain, NULL when
 * no explanation output is asked; api/explanation.h): one tensor per requested output, in order, its
 * data in raw_output_contents (FP32 little-endian, or BYTES [n, k] "score:index:label"
 * length-prefixed elements, as REST's strings; shapes as api/v2_outputs.h says). */
uint8_t *gcodec_encode_infer(const api_model *m, const char *id, const v2_output *outs, int n_outs,
                             const float *cls_logits, const float *dist_logits, const float *explain, int n_images,
                             size_t *len);

/* grpc.health.v1.HealthCheckResponse with SERVING (serving != 0) or NOT_SERVING. */
uint8_t *gcodec_encode_health(int serving, size_t *len);

#endif
