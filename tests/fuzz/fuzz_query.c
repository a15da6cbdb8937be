/* fuzz_query.c — libFuzzer target: query-string integers, request routing, the Accept header of GET /
 * and the CORS decisions on a request's Origin and preflight headers and on a --cors-origin list
 * (api/query.h, api/route.h, api/accept.h, api/cors.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "cors.h"
#include "query.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const char *p, size_t n, const char *base, size_t len)
{
    if (!p) return;
    if (p < base || n > len || (size_t)(p - base) > len - n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1); /* exact size, no NUL: the parsers take (ptr, len) */
    if (!s) abort();
    memcpy(s, data, size);
    char err[256];
    int v;

    /* top_k as /v1/predict reads it, and Inference-Header-Content-Length as /v2 infer does. */
    if (query_int(s, size, "top_k", 5, 1, 1000, &v, err, sizeof err) == 0 && (v < 1 || v > 1000)) abort();
    if (query_int(s, size, "Inference-Header-Content-Length", 0, 0, 999999999, &v, err, sizeof err) == 0 &&
        (v < 0 || v > 999999999))
        abort();

    /* The path as route_match sees it (the front end passes a NUL-terminated URL; only len counts). */
    route r;
    route_match(s, size, &r);
    check_inside(r.model, r.model_len, s, size);
    check_inside(r.version, r.version_len, s, size);
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) (void)route_method_allowed(&r, methods[i]);
    if (r.kind != R_NOT_FOUND && !r.allow) abort();
    free(s);

    /* Accept header (the server hands a NUL-terminated value): any bytes, bounded read */
    char *z = malloc(size + 1);
    if (!z) abort();
    memcpy(z, data, size);
    z[size] = '\0';
    int html = api_accepts_html(z);
    if (html != 0 && html != 1) abort();

    /* Origin, Access-Control-Request-Headers (hostile) against a list with every kind of entry; then
     * the same bytes as a --cors-origin list (configuration, checked at start) */
    route predict;
    route_match("/v1/predict", 11, &predict);
    api_cors c;
    api_cors_decide("http://[0::1]:8080, https://App.Example, http://b.example:80", z, "OPTIONS", "POST", z,
                    &predict, &c);
    if (c.allow_origin && c.allow_origin != z) abort(); /* echoes the Origin it was given, nothing else */
    if (c.preflight && c.status != 204 && c.status != 403) abort();
    if (c.allow_headers && c.allow_headers != z && strcmp(c.allow_headers, API_CORS_HEADERS) != 0) abort();
    char msg[256];
    if (api_cors_list_check(z, msg, sizeof msg) == 0 && *z) {
        api_cors_decide(z, "http://[::1]:8080", "OPTIONS", "POST", NULL, &predict, &c);
        if (c.allow_origin && strcmp(c.allow_origin, "*") != 0 && strcmp(c.allow_origin, "http://[::1]:8080") != 0)
            abort();
    }
    free(z);
    return 0;
}
