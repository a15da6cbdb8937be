/* endpoint.h — every protocol decision of the API as pure functions: what each endpoint accepts, what
 * the headers alone already decide (404, 405, 401, 503 while loading, 413, 415, 400), how a body
 * becomes a list of encoded images (raw, multipart, KServe v2 JSON or binary, TorchServe), and the
 * answers of the metadata and health endpoints.
 *
 * Bytes and header values in, (HTTP status, message, result) out; no HTTP library inside, so the
 * libmicrohttpd glue (server/) and a gRPC front end call the same code (api_grpc_of_http in
 * status_map.h turns the status into a gRPC code). Thread-safe: no global state.
 *
 * Usage (one request):
 *   route rt; route_match(path, len, &rt);
 *   api_plan p; api_plan_request(&rt, &head, &srv, &p);
 *   if (p.status)                  -> answer p.status / p.msg (api_error_body), after discarding any body
 *   else if (p.body == API_BODY_NONE) -> api_answer_get(&rt, &srv, &ans)   (metadata, health)
 *   else read the body (up to srv.max_body), then
 *        api_images im; st = api_collect_images(&p, &srv, body, len, &im, msg, sizeof msg);
 *        ... decode im.data[i] / im.lens[i] ..., api_images_free(&im);
 */
#ifndef DEIT_API_ENDPOINT_H
#define DEIT_API_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "inflate.h"
#include "model_info.h"
#include "multipart.h"
#include "route.h"
#include "v2.h"

/* Where the server is in its life; readiness endpoints answer from it. */
typedef enum {
    API_STARTING,              /* listening, model not loaded yet: readiness 503 "starting" */
    API_DOWNLOADING,           /* fetching the model from the hub (hub.h): readiness 503 "downloading" */
    API_READY,                 /* serving */
    API_DRAINING               /* SIGTERM received: readiness 503 "draining", requests still answered */
} api_readiness;

/* The server's side of every decision. Pointers are borrowed. */
typedef struct {
    api_readiness state;
    const api_model *model;    /* NULL until loaded; inference and model endpoints answer 503 then */
    const char *api_key;       /* Bearer key the inference endpoints require; NULL or "" = open */
    size_t max_body;           /* request body limit in bytes (also the limit after inflating) */
    int max_body_mb;           /* the same as given by --max-body-mb, for messages */
    size_t max_images;         /* images per request */
    const char *server_version;/* GET /v2 "version" */
    int exif_transpose;        /* --exif-transpose: the default of ?exif_transpose */
} api_server;

/* What the request's head says; NULL for an absent header or parameter. */
typedef struct {
    const char *method;
    const char *path;                    /* for messages */
    const char *authorization;
    const char *content_type;
    const char *content_length;
    const char *content_encoding;
    const char *inference_header_length; /* KServe v2 binary extension: JSON header bytes */
    const char *top_k;                   /* query parameter of /v1/predict */
    const char *explain;                 /* query parameter of /v1/predict: "1" asks for explanations */
    const char *exif_transpose;          /* query parameter of the inference endpoints: 0 or 1 */
} api_head;

typedef enum { API_BODY_NONE, API_BODY_RAW, API_BODY_MULTIPART, API_BODY_V2 } api_body_kind;

/* Longest error message an endpoint function writes. */
#define API_MSG_MAX 512

/* The decision taken from the head. status == 0: read the body (unless body == API_BODY_NONE, a
 * GET endpoint: answer it with api_answer_get); otherwise answer status with msg. */
typedef struct {
    int status;
    char msg[API_MSG_MAX];
    int www_auth;              /* 401: the answer carries WWW-Authenticate: Bearer */
    int allow;                 /* 405: the answer carries Allow: <route.allow> */
    api_body_kind body;
    api_encoding encoding;     /* Content-Encoding of the body */
    char boundary[MP_MAX_BOUNDARY + 1]; /* API_BODY_MULTIPART */
    size_t boundary_len;
    long long v2_header_len;   /* API_BODY_V2: JSON header bytes, -1 = the whole body is JSON */
    int top_k;                 /* predictions per head (/v1/predict, TorchServe) */
    int explain;               /* /v1/predict?explain=1: rollout maps and token_cosine per image */
    int exif_transpose;        /* ?exif_transpose=1 (default --exif-transpose): images turned by their
                                  EXIF Orientation first, as Pillow's ImageOps.exif_transpose */
    route_kind kind;
} api_plan;

/* Decides everything the head allows, in this order: unknown path 404, method 405, (inference
 * endpoints:) API key 401, model loading 503, unknown model or version 404, Content-Length over the
 * limit 413, media type 415 / multipart boundary 400, Content-Encoding 415, top_k 400, explain 400,
 * exif_transpose 400, Inference-Header-Content-Length 400. */
void api_plan_request(const route *rt, const api_head *hd, const api_server *srv, api_plan *out);

/* The media types an endpoint accepts, NULL-terminated; a type ending in '/' takes any subtype.
 * NULL: any body (TorchServe lets the decoder decide). */
const char *const *api_media_types(route_kind kind);

/* 1 when authorization is "Bearer <api_key>" (compared in constant time), or no key is set. */
int api_authorized(const char *api_key, const char *authorization);

/* 0 when rt names the served model (and version, if the path has one); otherwise 404 with a message
 * saying whether the model or only the version is unknown. */
int api_model_check(const route *rt, const api_model *m, char *msg, size_t msglen);

/* 1 when a requested version names the served one: equal, or equal once a trailing ".0" is added
 * (TorchServe writes "1.0" for version 1). */
int api_version_matches(const char *served, const char *v, size_t vlen);

/* A ready answer: status, body (malloc'd, free()), its length and Content-Type. */
typedef struct {
    int status;
    char *body;
    size_t len;
    const char *ctype;
} api_answer;

/* Answers the metadata and health endpoints (/healthz, /readyz, /ping, /v1/models, /v2, /v2/health/{live,ready},
 * /v2/models/{m}[/ready]). Returns 0, or -1 when out of memory (nothing to free then). */
int api_answer_get(const route *rt, const api_server *srv, api_answer *out);

/* The error body in the route's shape: {"error": msg} under /v2, TorchServe's {code, type, message}
 * under /predictions and /ping, {"error": {code, message}} elsewhere. NULL when out of memory. */
char *api_error_body(const route *rt, int status, const char *msg, size_t *len);

/* A body split into encoded images. data/lens point into the caller's body, into `inflated`, or into
 * the v2 request's arena: valid while both the body and this struct live. */
typedef struct {
    size_t n;
    const uint8_t **data;
    size_t *lens;
    v2_request v2;             /* API_BODY_V2: id, requested outputs */
    uint8_t *inflated;         /* the body after Content-Encoding; NULL for identity */
} api_images;

/* Splits body[len] as the plan says: inflates it (gzip/deflate, at most srv->max_body bytes and 1000x
 * the encoded size), then raw (one image), multipart (parts with a filename or a non-text type) or v2
 * (JSON base64 or binary). Returns 0, or an HTTP status (400, 413, 415, 503) with a message; *out is
 * safe to api_images_free either way. */
int api_collect_images(const api_plan *p, const api_server *srv, const uint8_t *body, size_t len,
                       api_images *out, char *msg, size_t msglen);

void api_images_free(api_images *im);

/* The HTTP status and message for image i (0-based) of n that deit_preprocess refused with rc and
 * err ("image 2: …" when n > 1). */
int api_decode_error(int rc, const char *err, size_t i, size_t n, char *msg, size_t msglen);

#endif
