/* status_map.h — one table per status enum: engine (DEIT_*), multipart (MP_*) and KServe v2 (V2_*)
 * codes to the HTTP status a client sees, and HTTP status to the gRPC code a second front end sends.
 *
 * Out of memory is one answer everywhere: 503 (with Retry-After), because it is a passing condition
 * of this server under load, not a fault of the request. Thread-safe: constant tables only.
 */
#ifndef DEIT_API_STATUS_MAP_H
#define DEIT_API_STATUS_MAP_H

/* The HTTP status of a failed engine call (deit_preprocess, deit_forward): DEIT_EINVAL 400,
 * DEIT_ETOOBIG 413, DEIT_EUNSUPPORTED 415, DEIT_ENOMEM 503, DEIT_EIO 500; an unknown code 500. */
int api_http_of_deit(int deit_status);

/* MP_EINVAL 400, MP_ETOOMANY 413, MP_ETOOBIG 413; unknown 500. */
int api_http_of_mp(int mp_status);

/* V2_EINVAL 400, V2_ETOOMANY 413, V2_ENOMEM 503; unknown 500. */
int api_http_of_v2(int v2_status);

/* The gRPC status code (google.rpc.Code) for an HTTP status, as the KServe v2 gRPC front end and
 * grpc-gateway map them: 400 INVALID_ARGUMENT(3), 401 UNAUTHENTICATED(16), 404 NOT_FOUND(5),
 * 413 RESOURCE_EXHAUSTED(8), 415 INVALID_ARGUMENT(3), 503 UNAVAILABLE(14), 504 DEADLINE_EXCEEDED(4),
 * 2xx OK(0), anything else INTERNAL(13). */
int api_grpc_of_http(int http_status);

/* 1 when an answer with this status should carry Retry-After (the condition passes: 503). */
int api_http_retry_after(int http_status);

#endif
