/* test_query.c — query values (top_k bounds), routing and methods. */
#include "../check.h"
#include "query.h"
#include "route.h"

static void test_query_int(void)
{
    char err[128];
    int v = -1;
    CHECK_INT_EQ(query_int(NULL, 0, "top_k", 5, 1, 10, &v, err, sizeof err), 0);
    CHECK_INT_EQ(v, 5);
    CHECK_INT_EQ(query_int("3", 1, "top_k", 5, 1, 10, &v, err, sizeof err), 0);
    CHECK_INT_EQ(v, 3);
    CHECK_INT_EQ(query_int("10", 2, "top_k", 5, 1, 10, &v, err, sizeof err), 0);
    const char *bad[] = {"0", "11", "", "-1", "+3", " 3", "3 ", "3x", "0x10", "99999999999999999999", "1e2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        CHECK_MSG(query_int(bad[i], strlen(bad[i]), "top_k", 5, 1, 10, &v, err, sizeof err) == -1, "\"%s\"", bad[i]);
        CHECK(v == 42);
    }
    CHECK(strstr(err, "top_k must be an integer from 1 to 10") != NULL);
    /* length bounds the read: "12" cut to "1" */
    CHECK_INT_EQ(query_int("12", 1, "top_k", 5, 1, 10, &v, err, sizeof err), 0);
    CHECK_INT_EQ(v, 1);
}

static void test_routes(void)
{
    route r;
    struct { const char *path; route_kind kind; const char *model; error_shape errors; } cases[] = {
        {"/v1/predict", R_PREDICT, NULL, ERRORS_DEIT},
        {"/predictions/deit", R_TORCHSERVE, "deit", ERRORS_TORCHSERVE},
        {"/predictions/", R_NOT_FOUND, NULL, ERRORS_TORCHSERVE},
        {"/predictions/a/b", R_TORCHSERVE, "a", ERRORS_TORCHSERVE}, /* {model}/{version} (issue 21) */
        {"/predictions/a/b/c", R_NOT_FOUND, NULL, ERRORS_TORCHSERVE},
        {"/predictions/a/", R_NOT_FOUND, NULL, ERRORS_TORCHSERVE},
        {"/predictions//b", R_NOT_FOUND, NULL, ERRORS_TORCHSERVE},
        {"/predictions", R_NOT_FOUND, NULL, ERRORS_TORCHSERVE},
        {"/predictionsx", R_NOT_FOUND, NULL, ERRORS_DEIT},
        {"/v2/", R_V2_SERVER, NULL, ERRORS_V2},
        {"/ping", R_PING, NULL, ERRORS_TORCHSERVE},
        {"/healthz", R_HEALTHZ, NULL, ERRORS_DEIT},
        {"/readyz", R_READYZ, NULL, ERRORS_DEIT},
        {"/v1/models", R_MODELS, NULL, ERRORS_DEIT},
        {"/metrics", R_METRICS, NULL, ERRORS_DEIT},
        {"/v2", R_V2_SERVER, NULL, ERRORS_V2},
        {"/v2/health/live", R_V2_LIVE, NULL, ERRORS_V2},
        {"/v2/health/ready", R_V2_READY, NULL, ERRORS_V2},
        {"/v2/models/m1", R_V2_MODEL, "m1", ERRORS_V2},
        {"/v2/models/m1/ready", R_V2_MODEL_READY, "m1", ERRORS_V2},
        {"/v2/models/m1/config", R_V2_MODEL_CONFIG, "m1", ERRORS_V2},
        {"/v2/models/m1/versions/1/config", R_V2_MODEL_CONFIG, "m1", ERRORS_V2},
        {"/v2/models/m1/config/", R_NOT_FOUND, NULL, ERRORS_V2},
        {"/v2/models/m1/infer", R_V2_INFER, "m1", ERRORS_V2},
        {"/v2/models/m1/versions/1/infer", R_V2_INFER, "m1", ERRORS_V2},
        {"/v2/models/m1/versions//infer", R_NOT_FOUND, NULL, ERRORS_V2},
        {"/v2/models//infer", R_NOT_FOUND, NULL, ERRORS_V2},
        {"/v2/models/m1/explain", R_NOT_FOUND, NULL, ERRORS_V2},
        {"/v2/nothing", R_NOT_FOUND, NULL, ERRORS_V2},
        {"/", R_ROOT, NULL, ERRORS_DEIT},
        {"", R_NOT_FOUND, NULL, ERRORS_DEIT},
        {"/v1/predict/", R_NOT_FOUND, NULL, ERRORS_DEIT},
        {"/healthzz", R_NOT_FOUND, NULL, ERRORS_DEIT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        route_match(cases[i].path, strlen(cases[i].path), &r);
        CHECK_MSG(r.kind == cases[i].kind, "%s: kind %d", cases[i].path, r.kind);
        CHECK_MSG(r.errors == cases[i].errors, "%s: error shape %d", cases[i].path, (int)r.errors);
        if (cases[i].model)
            CHECK_MSG(r.model && r.model_len == strlen(cases[i].model) &&
                      memcmp(r.model, cases[i].model, r.model_len) == 0, "%s: model", cases[i].path);
        else
            CHECK(r.model == NULL);
    }
    route_match("/v2/models/m1/versions/7/ready", 30, &r);
    CHECK(r.kind == R_V2_MODEL_READY && r.version_len == 1 && r.version[0] == '7');
    /* path bounded by len: "/pingpong" cut to "/ping" */
    route_match("/pingpong", 5, &r);
    CHECK_INT_EQ(r.kind, R_PING);

    route_match("/predictions/x", 14, &r);
    CHECK(route_method_allowed(&r, "POST"));
    CHECK(route_method_allowed(&r, "PUT"));
    CHECK(!route_method_allowed(&r, "GET"));
    CHECK_STR_EQ(r.allow, "POST, PUT");
    route_match("/healthz", 8, &r);
    CHECK(route_method_allowed(&r, "GET") && route_method_allowed(&r, "HEAD"));
    CHECK(!route_method_allowed(&r, "POST") && !route_method_allowed(&r, "GE"));
    route_match("/v1/predict", 11, &r);
    CHECK(!route_method_allowed(&r, "GET") && route_method_allowed(&r, "POST"));
}

int main(void)
{
    test_query_int();
    test_routes();
    return check_summary("test_query");
}
