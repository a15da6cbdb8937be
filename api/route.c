/* route.c — the endpoint table: exact paths first, then the /predictions and /v2/models patterns. */
#include "route.h"

#include <string.h>

#define GET_ONLY "GET, HEAD"

static int eq(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static int starts(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

/* Length of the path segment at p (up to '/' or the end). */
static size_t seg(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != '/') i++;
    return i;
}

void route_match(const char *path, size_t len, route *out)
{
    memset(out, 0, sizeof *out);
    out->kind = R_NOT_FOUND;
    static const struct { const char *path; route_kind kind; const char *allow; error_shape errors; } EXACT[] = {
        {"/v1/predict", R_PREDICT, "POST", ERRORS_DEIT},
        {"/ping", R_PING, GET_ONLY, ERRORS_TORCHSERVE},
        {"/healthz", R_HEALTHZ, GET_ONLY, ERRORS_DEIT},
        {"/readyz", R_READYZ, GET_ONLY, ERRORS_DEIT},
        {"/v1/models", R_MODELS, GET_ONLY, ERRORS_DEIT},
        {"/metrics", R_METRICS, GET_ONLY, ERRORS_DEIT},
        {"/v2/health/live", R_V2_LIVE, GET_ONLY, ERRORS_V2},
        {"/v2/health/ready", R_V2_READY, GET_ONLY, ERRORS_V2},
        /* the OIP's OpenAPI document writes the server metadata path with a trailing slash */
        {"/v2", R_V2_SERVER, GET_ONLY, ERRORS_V2},
        {"/v2/", R_V2_SERVER, GET_ONLY, ERRORS_V2},
        {"/", R_ROOT, GET_ONLY, ERRORS_DEIT},
    };
    for (size_t i = 0; i < sizeof EXACT / sizeof EXACT[0]; i++)
        if (eq(path, len, EXACT[i].path)) {
            out->kind = EXACT[i].kind;
            out->allow = EXACT[i].allow;
            out->errors = EXACT[i].errors;
            return;
        }
    if (starts(path, len, "/predictions") && (len == 12 || path[12] == '/'))
        out->errors = ERRORS_TORCHSERVE; /* TorchServe's paths answer errors as TorchServe does */
    if (starts(path, len, "/predictions/")) {
        /* /predictions/{model} or /predictions/{model}/{version} */
        const char *m = path + 13;
        size_t rest = len - 13, ml = seg(m, rest), vl = ml < rest ? seg(m + ml + 1, rest - ml - 1) : 0;
        if (ml == 0 || (ml < rest && (vl == 0 || ml + 1 + vl != rest))) return;
        out->kind = R_TORCHSERVE;
        out->model = m;
        out->model_len = ml;
        if (vl) {
            out->version = m + ml + 1;
            out->version_len = vl;
        }
        out->allow = "POST, PUT";
        return;
    }
    if (starts(path, len, "/v2/")) out->errors = ERRORS_V2;
    if (!starts(path, len, "/v2/models/")) return;
    const char *p = path + 11;
    size_t n = len - 11, ml = seg(p, n);
    if (ml == 0) return;
    out->model = p;
    out->model_len = ml;
    p += ml;
    n -= ml;
    if (starts(p, n, "/versions/")) {
        size_t vl = seg(p + 10, n - 10);
        if (vl == 0) {
            out->model = NULL;
            return;
        }
        out->version = p + 10;
        out->version_len = vl;
        p += 10 + vl;
        n -= 10 + vl;
    }
    if (n == 0) {
        out->kind = R_V2_MODEL;
        out->allow = GET_ONLY;
    } else if (eq(p, n, "/ready")) {
        out->kind = R_V2_MODEL_READY;
        out->allow = GET_ONLY;
    } else if (eq(p, n, "/config")) {
        out->kind = R_V2_MODEL_CONFIG;
        out->allow = GET_ONLY;
    } else if (eq(p, n, "/infer")) {
        out->kind = R_V2_INFER;
        out->allow = "POST";
    }
    if (out->kind == R_NOT_FOUND) out->model = out->version = NULL;
}

int route_method_allowed(const route *r, const char *method)
{
    if (!r->allow || !method) return 0;
    size_t ml = strlen(method);
    const char *a = r->allow;
    while (*a) {
        size_t l = 0;
        while (a[l] && a[l] != ',') l++;
        if (l == ml && memcmp(a, method, l) == 0) return 1;
        a += l;
        while (*a == ',' || *a == ' ') a++;
    }
    return 0;
}
