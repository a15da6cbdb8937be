/* cors.h — Cross-Origin Resource Sharing (the Fetch standard's CORS protocol): whether a page from
 * another origin (a web app on https://app.example, a dev server on http://localhost:3000) may call
 * this server from a browser, and the headers that tell the browser so. Off unless --cors-origin
 * names origins, as TorchServe's cors_allowed_origin is. Pure functions; no HTTP library inside.
 */
#ifndef DEIT_API_CORS_H
#define DEIT_API_CORS_H

#include <stddef.h>

#include "route.h"

/* The request headers a preflight is told it may send when it names none we can echo: the ones
 * this server reads. */
#define API_CORS_HEADERS "Authorization, Content-Type, Content-Encoding, Inference-Header-Content-Length"
/* How long (s) a browser may cache a preflight's answer. */
#define API_CORS_MAX_AGE "600"

typedef struct {
    int preflight;             /* 1: an OPTIONS preflight, answered here (status) and nothing else */
    int status;                /* preflight: 204 allowed, 403 origin not allowed */
    const char *allow_origin;  /* Access-Control-Allow-Origin: "*" or the request's Origin; NULL: none */
    int vary_origin;           /* the answer depends on Origin (a list, not "*"): send Vary: Origin */
    const char *allow_methods; /* preflight: Access-Control-Allow-Methods (the route's methods) */
    const char *allow_headers; /* preflight: Access-Control-Allow-Headers */
} api_cors;

/* 0 when list is a valid --cors-origin: "" (off), "*" (any origin), or origins separated by commas,
 * each scheme://host[:port] with scheme http or https and nothing after the host or port (what a
 * browser sends as Origin). -1 with a message otherwise, and for an entry no browser's Origin could
 * match (a port with leading zeros or over 65535, an IPv4 host such as 127.1 or 127.0.0.01). */
int api_cors_list_check(const char *list, char *msg, size_t msglen);

/* What to do with a request under list (checked by api_cors_list_check): origin is its Origin header,
 * method its method, request_method and request_headers its Access-Control-Request-Method and
 * -Headers (NULL when absent); rt its route. With list "" every request gets nothing (all zero);
 * so does a preflight for no endpoint (answered 404 as any such request). A request without Origin
 * gets what caches need (Fetch): Vary: Origin under a list, Access-Control-Allow-Origin "*" under
 * "*". request_headers is echoed when it is a plain list of header names (a browser asks only for
 * what the page sets), else API_CORS_HEADERS is offered. The strings point into list, rt or the
 * arguments. */
void api_cors_decide(const char *list, const char *origin, const char *method, const char *request_method,
                     const char *request_headers, const route *rt, api_cors *out);

#endif
