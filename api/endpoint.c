/* endpoint.c — decisions from the request head, and the metadata and health answers; see endpoint.h. */
#include "endpoint.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prediction.h"
#include "query.h"
#include "response.h"

#define DEFAULT_TOP_K 5
#define TORCHSERVE_TOP_K 5
/* Largest Inference-Header-Content-Length taken as a number (far above any body limit). */
#define MAX_V2_HEADER_LEN 999999999

static const char *const PREDICT_TYPES[] = {
    "image/", "application/octet-stream", "multipart/form-data",
    /* what `curl --data-binary @x.jpg` sends when no -H is given */
    "application/x-www-form-urlencoded", NULL};
/* SageMaker's Triton containers: the v2 binary extension, the JSON header's length a parameter */
#define SAGEMAKER_BINARY "application/vnd.sagemaker-triton.binary+json"
/* The body is JSON unless Inference-Header-Content-Length says where its binary part starts, as
 * Triton reads it. text/plain is what fetch() labels a string body, and form-urlencoded what
 * `curl -d @request.json` sends: both are JSON here, not a reason to refuse it. */
static const char *const V2_TYPES[] = {
    "application/json", "application/octet-stream", SAGEMAKER_BINARY, "text/plain",
    "application/x-www-form-urlencoded", NULL};

const char *const *api_media_types(route_kind kind)
{
    switch (kind) {
    case R_PREDICT: return PREDICT_TYPES;
    case R_V2_INFER: return V2_TYPES;
    default: return NULL;
    }
}

static int fail(api_plan *p, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(api_plan *p, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
    p->status = status;
    return status;
}

int api_authorized(const char *key, const char *got)
{
    if (!key || !*key) return 1;
    if (!got || strncasecmp(got, "Bearer ", 7) != 0) return 0;
    got += 7;
    size_t gl = strlen(got), kl = strlen(key);
    unsigned char diff = (unsigned char)(gl != kl);
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)(key[i] ^ (i < gl ? got[i] : 0));
    return diff == 0;
}

int api_version_matches(const char *served, const char *v, size_t vl)
{
    size_t sl = strlen(served);
    if (vl == sl) return memcmp(served, v, vl) == 0;
    if (vl == sl + 2) return memcmp(served, v, sl) == 0 && memcmp(v + sl, ".0", 2) == 0;
    if (sl == vl + 2) return memcmp(served, v, vl) == 0 && memcmp(served + vl, ".0", 2) == 0;
    return 0;
}

int api_model_check(const route *rt, const api_model *m, char *msg, size_t msglen)
{
    if (strlen(m->name) != rt->model_len || memcmp(m->name, rt->model, rt->model_len) != 0) {
        snprintf(msg, msglen, "unknown model \"%.*s\" (this server serves \"%s\")", (int)rt->model_len,
                 rt->model, m->name);
        return 404;
    }
    if (rt->version && !api_version_matches(api_model_version(m), rt->version, rt->version_len)) {
        snprintf(msg, msglen, "model \"%s\" has no version \"%.*s\" (this server serves version %s)", m->name,
                 (int)rt->version_len, rt->version, api_model_version(m));
        return 404;
    }
    return 0;
}

static int type_listed(const char *const *types, const char *ct)
{
    for (; *types; types++)
        if (mp_media_type_is(ct, strlen(ct), *types)) return 1;
    return 0;
}

/* Content-Type and Content-Encoding of an inference request. */
static int plan_body(const api_head *hd, api_plan *p)
{
    const char *ct = hd->content_type;
    size_t ctl = ct ? strlen(ct) : 0;
    if (p->kind == R_V2_INFER) {
        if (ct && !type_listed(V2_TYPES, ct))
            return fail(p, 415, "unsupported Content-Type \"%.100s\": send application/json "
                        "(or application/octet-stream with Inference-Header-Content-Length)", ct);
        p->body = API_BODY_V2;
    } else if (mp_media_type_is(ct, ctl, "multipart/form-data")) {
        if (mp_boundary(ct, ctl, p->boundary, &p->boundary_len) != MP_OK)
            return fail(p, 400, "multipart/form-data without a valid boundary parameter");
        p->body = API_BODY_MULTIPART;
    } else {
        /* TorchServe accepts any raw body; the decoder decides. */
        if (p->kind == R_PREDICT && ct && !type_listed(PREDICT_TYPES, ct))
            return fail(p, 415, "unsupported Content-Type \"%.100s\": send an image (image/*, "
                        "application/octet-stream) or multipart/form-data", ct);
        p->body = API_BODY_RAW;
    }
    const char *ce = hd->content_encoding;
    size_t cel = ce ? strlen(ce) : 0;
    if (!ce || mp_media_type_is(ce, cel, "identity")) p->encoding = API_ENC_IDENTITY;
    else if (mp_media_type_is(ce, cel, "gzip") || mp_media_type_is(ce, cel, "x-gzip")) p->encoding = API_ENC_GZIP;
    else if (mp_media_type_is(ce, cel, "deflate")) p->encoding = API_ENC_DEFLATE;
    else
        return fail(p, 415, "unsupported Content-Encoding \"%.100s\": send the body as it is (identity), "
                    "gzip or deflate", ce);
    return 0;
}

void api_plan_request(const route *rt, const api_head *hd, const api_server *srv, api_plan *p)
{
    memset(p, 0, sizeof *p);
    p->kind = rt->kind;
    p->v2_header_len = -1;
    const char *method = hd->method ? hd->method : "", *path = hd->path ? hd->path : "";
    if (rt->kind == R_NOT_FOUND) {
        fail(p, 404, "no such endpoint: %.64s %.200s", method, path);
        return;
    }
    if (!route_method_allowed(rt, method)) {
        p->allow = 1;
        fail(p, 405, "method %.64s not allowed on %.200s (allowed: %s)", method, path, rt->allow);
        return;
    }
    if (rt->kind != R_PREDICT && rt->kind != R_TORCHSERVE && rt->kind != R_V2_INFER) return; /* a GET */
    if (!api_authorized(srv->api_key, hd->authorization)) {
        p->www_auth = 1;
        fail(p, 401, "missing or wrong API key: send 'Authorization: Bearer <key>'");
        return;
    }
    if (!srv->model) {
        fail(p, 503, "model is still loading");
        return;
    }
    if (rt->kind != R_PREDICT && (p->status = api_model_check(rt, srv->model, p->msg, sizeof p->msg))) return;
    if (hd->content_length) {
        char *end;
        unsigned long long n = strtoull(hd->content_length, &end, 10);
        if (*end == '\0' && n > srv->max_body) {
            fail(p, 413, "request body of %llu bytes is over the limit of %zu bytes (--max-body-mb %d)", n,
                 srv->max_body, srv->max_body_mb);
            return;
        }
    }
    if (plan_body(hd, p)) return;
    int K = srv->model->n_classes;
    if (rt->kind == R_PREDICT) {
        int max_k = K < API_MAX_TOP_K ? K : API_MAX_TOP_K;
        char err[128];
        if (query_int(hd->top_k, hd->top_k ? strlen(hd->top_k) : 0, "top_k", DEFAULT_TOP_K < max_k ? DEFAULT_TOP_K : max_k,
                      1, max_k, &p->top_k, err, sizeof err) ||
            query_int(hd->explain, hd->explain ? strlen(hd->explain) : 0, "explain", 0, 0, 1, &p->explain, err,
                      sizeof err)) {
            fail(p, 400, "%s", err);
            return;
        }
        char why[160];
        if (p->explain && api_explain_refused(srv->model, why, sizeof why)) {
            fail(p, 400, "explain is not available for this model: %s", why);
            return;
        }
    } else {
        p->top_k = TORCHSERVE_TOP_K < K ? TORCHSERVE_TOP_K : K;
    }
    {
        char err[128];
        if (query_int(hd->exif_transpose, hd->exif_transpose ? strlen(hd->exif_transpose) : 0,
                      "exif_transpose", srv->exif_transpose != 0, 0, 1, &p->exif_transpose, err,
                      sizeof err)) {
            fail(p, 400, "%s", err);
            return;
        }
    }
    /* the JSON header's length: Triton's Inference-Header-Content-Length, or SageMaker's form of
     * the same, the json-header-size parameter of its binary+json media type */
    const char *hv = hd->inference_header_length, *what = "Inference-Header-Content-Length", *pv;
    size_t hvl = hv ? strlen(hv) : 0, pvl;
    const char *ct = hd->content_type;
    if (!hv && ct && mp_media_type_is(ct, strlen(ct), SAGEMAKER_BINARY) &&
        mp_media_param(ct, strlen(ct), "json-header-size", &pv, &pvl) == 1) {
        hv = pv;
        hvl = pvl;
        what = "json-header-size";
    }
    if (rt->kind == R_V2_INFER && hv) {
        int v;
        char err[128];
        if (query_int(hv, hvl, what, 0, 0, MAX_V2_HEADER_LEN, &v, err, sizeof err)) {
            fail(p, 400, "%s", err);
            return;
        }
        p->v2_header_len = v;
    }
}

char *api_error_body(const route *rt, int status, const char *msg, size_t *len)
{
    switch (rt->errors) {
    case ERRORS_V2: return resp_v2_error(msg, len);
    case ERRORS_TORCHSERVE: return resp_torchserve_error(status, msg, len);
    default: return resp_error(status, msg, len);
    }
}

/* Sets a constant JSON body. */
static int constant(api_answer *a, int status, const char *json)
{
    size_t n = strlen(json);
    a->status = status;
    a->ctype = "application/json";
    a->len = n;
    a->body = malloc(n + 1);
    if (!a->body) return -1;
    memcpy(a->body, json, n + 1);
    return 0;
}

/* Takes a builder's result; its length was written to a->len by the builder itself (the argument
 * order of a call is unspecified, so the length is never passed beside the call that sets it). */
static int built(api_answer *a, int status, char *body)
{
    a->status = status;
    a->ctype = "application/json";
    a->body = body;
    if (!body) a->len = 0;
    return body ? 0 : -1;
}

static int error_answer(api_answer *a, const route *rt, int status, const char *msg)
{
    return built(a, status, api_error_body(rt, status, msg, &a->len));
}

static const char *state_name(api_readiness s)
{
    switch (s) {
    case API_READY: return "ready";
    case API_DOWNLOADING: return "downloading";
    case API_DRAINING: return "draining";
    default: return "starting";
    }
}

int api_answer_get(const route *rt, const api_server *srv, api_answer *a)
{
    memset(a, 0, sizeof *a);
    int ready = srv->state == API_READY && srv->model;
    char buf[96];
    switch (rt->kind) {
    case R_HEALTHZ: return constant(a, 200, "{\"status\":\"ok\"}\n");
    case R_V2_LIVE: return constant(a, 200, "{\"live\":true}\n");
    case R_READYZ:
        snprintf(buf, sizeof buf, "{\"status\":\"%s\"}\n", state_name(srv->state));
        return constant(a, ready ? 200 : 503, buf);
    case R_PING:
        return constant(a, ready ? 200 : 503, ready ? "{\"status\":\"Healthy\"}\n" : "{\"status\":\"Unhealthy\"}\n");
    case R_V2_READY:
        return constant(a, ready ? 200 : 503, ready ? "{\"ready\":true}\n" : "{\"ready\":false}\n");
    case R_V2_SERVER: return built(a, 200, resp_v2_server(srv->server_version, &a->len));
    case R_ROOT:
        return built(a, 200, resp_root(srv->server_version, srv->model, srv->api_key && *srv->api_key, &a->len));
    default: break;
    }
    if (!srv->model) return error_answer(a, rt, 503, "model is still loading");
    char msg[API_MSG_MAX];
    switch (rt->kind) {
    case R_MODELS: return built(a, 200, resp_models(srv->model, &a->len));
    case R_V2_MODEL:
        if (api_model_check(rt, srv->model, msg, sizeof msg)) return error_answer(a, rt, 404, msg);
        return built(a, 200, resp_v2_model(srv->model, &a->len));
    case R_V2_MODEL_CONFIG:
        if (api_model_check(rt, srv->model, msg, sizeof msg)) return error_answer(a, rt, 404, msg);
        return built(a, 200, resp_v2_model_config(srv->model, &a->len));
    case R_V2_MODEL_READY:
        if (api_model_check(rt, srv->model, msg, sizeof msg)) return error_answer(a, rt, 404, msg);
        return constant(a, ready ? 200 : 503, ready ? "{\"ready\":true}\n" : "{\"ready\":false}\n");
    default:
        return error_answer(a, rt, 404, "no such endpoint");
    }
}
