/* route.h — maps a request path to an endpoint and the methods it allows (no HTTP library needed). */
#ifndef DEIT_API_ROUTE_H
#define DEIT_API_ROUTE_H

#include <stddef.h>

typedef enum {
    R_NOT_FOUND,
    R_PREDICT,                 /* POST /v1/predict */
    R_TORCHSERVE,              /* POST|PUT /predictions/{model}[/{version}] */
    R_PING,                    /* GET /ping (TorchServe) */
    R_HEALTHZ,                 /* GET /healthz */
    R_READYZ,                  /* GET /readyz */
    R_MODELS,                  /* GET /v1/models */
    R_METRICS,                 /* GET /metrics */
    R_V2_LIVE,                 /* GET /v2/health/live */
    R_V2_READY,                /* GET /v2/health/ready */
    R_V2_SERVER,               /* GET /v2 or /v2/ */
    R_V2_MODEL,                /* GET /v2/models/{name}[/versions/{v}] */
    R_V2_MODEL_READY,          /* GET /v2/models/{name}[/versions/{v}]/ready */
    R_V2_MODEL_CONFIG,         /* GET /v2/models/{name}[/versions/{v}]/config (Triton's extension) */
    R_V2_INFER,                /* POST /v2/models/{name}[/versions/{v}]/infer */
    R_ROOT                     /* GET /: the web page (Accept: text/html) or a JSON index */
} route_kind;

/* The shape of a route's error bodies: each API family answers errors as its own clients parse them. */
typedef enum {
    ERRORS_DEIT,               /* {"error": {"code", "message"}} (this server's own API) */
    ERRORS_V2,                 /* KServe v2: {"error": "…"} */
    ERRORS_TORCHSERVE          /* TorchServe: {"code", "type", "message"} */
} error_shape;

typedef struct {
    route_kind kind;
    const char *model;         /* {name} segment inside the path, or NULL */
    size_t model_len;
    const char *version;       /* {v} segment, or NULL */
    size_t version_len;
    error_shape errors;
    const char *allow;         /* methods for the Allow header, e.g. "GET, HEAD" */
} route;

/* Matches path[len] (without query string). Unknown paths give R_NOT_FOUND, with the error shape of
 * the family they fall under (ERRORS_V2 for /v2/..., ERRORS_TORCHSERVE for /predictions/...). */
void route_match(const char *path, size_t len, route *out);

/* 1 when method (e.g. "GET") is allowed for the route. */
int route_method_allowed(const route *r, const char *method);

#endif
