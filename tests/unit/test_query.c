/* test_query.c — query values (top_k bounds), routing and methods, and the flag/env configuration. */
#include "../check.h"
#include "server_config.h"
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
    struct { const char *path; route_kind kind; const char *model; int v2; } cases[] = {
        {"/v1/predict", R_PREDICT, NULL, 0},
        {"/predictions/deit", R_TORCHSERVE, "deit", 0},
        {"/predictions/", R_NOT_FOUND, NULL, 0},
        {"/predictions/a/b", R_TORCHSERVE, "a", 0}, /* {model}/{version} (issue 21) */
        {"/predictions/a/b/c", R_NOT_FOUND, NULL, 0},
        {"/predictions/a/", R_NOT_FOUND, NULL, 0},
        {"/predictions//b", R_NOT_FOUND, NULL, 0},
        {"/v2/", R_V2_SERVER, NULL, 1},
        {"/ping", R_PING, NULL, 0},
        {"/healthz", R_HEALTHZ, NULL, 0},
        {"/readyz", R_READYZ, NULL, 0},
        {"/v1/models", R_MODELS, NULL, 0},
        {"/metrics", R_METRICS, NULL, 0},
        {"/v2", R_V2_SERVER, NULL, 1},
        {"/v2/health/live", R_V2_LIVE, NULL, 1},
        {"/v2/health/ready", R_V2_READY, NULL, 1},
        {"/v2/models/m1", R_V2_MODEL, "m1", 1},
        {"/v2/models/m1/ready", R_V2_MODEL_READY, "m1", 1},
        {"/v2/models/m1/infer", R_V2_INFER, "m1", 1},
        {"/v2/models/m1/versions/1/infer", R_V2_INFER, "m1", 1},
        {"/v2/models/m1/versions//infer", R_NOT_FOUND, NULL, 1},
        {"/v2/models//infer", R_NOT_FOUND, NULL, 1},
        {"/v2/models/m1/explain", R_NOT_FOUND, NULL, 1},
        {"/v2/nothing", R_NOT_FOUND, NULL, 1},
        {"/", R_ROOT, NULL, 0},
        {"", R_NOT_FOUND, NULL, 0},
        {"/v1/predict/", R_NOT_FOUND, NULL, 0},
        {"/healthzz", R_NOT_FOUND, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        route_match(cases[i].path, strlen(cases[i].path), &r);
        CHECK_MSG(r.kind == cases[i].kind, "%s: kind %d", cases[i].path, r.kind);
        CHECK_MSG(r.v2 == cases[i].v2, "%s: v2 %d", cases[i].path, r.v2);
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

static void test_config(void)
{
    server_config c;
    char err[256];
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_WORKERS");
    server_config_defaults(&c);
    CHECK_INT_EQ(c.port, 8080);
    CHECK_INT_EQ(c.workers, 2);
    CHECK_INT_EQ(c.threads, 1);
    CHECK_STR_EQ(c.host, "0.0.0.0");
    CHECK_STR_EQ(c.log_format, "text");
    CHECK_INT_EQ(c.max_pixels, 40000000L);
    /* no --model: the built-in model; an empty one is refused */
    CHECK_STR_EQ(c.model, "builtin:fashion-deit");
    CHECK_INT_EQ(c.max_model_mb, 4096);
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.model = "";
    CHECK(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "model"));
    server_config_defaults(&c);

    setenv("DEIT_PORT", "9000", 1);
    setenv("DEIT_WORKERS", "3", 1);
    setenv("DEIT_MODEL", "env-model", 1);
    char *argv1[] = {"deit-server", "--port", "9100", "--max-batch=6", "--api-key", "k", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 6, argv1, err, sizeof err), 0);
    CHECK_INT_EQ(c.port, 9100);     /* flag beats environment */
    CHECK_INT_EQ(c.workers, 3);     /* environment beats default */
    CHECK_INT_EQ(c.max_batch, 6);     /* default is 4 */
    CHECK_STR_EQ(c.api_key, "k");
    CHECK_STR_EQ(c.model, "env-model");
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    server_config_defaults(&c);
    setenv("DEIT_PORT", "http", 1);
    char *argv0[] = {"deit-server", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 1, argv0, err, sizeof err), -1);
    CHECK(strstr(err, "DEIT_PORT") != NULL);
    unsetenv("DEIT_PORT");
    unsetenv("DEIT_WORKERS");
    unsetenv("DEIT_MODEL");

    char *bad1[] = {"deit-server", "--nope", "1", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad1, err, sizeof err), -1);
    CHECK(strstr(err, "unknown flag --nope") != NULL);
    char *bad2[] = {"deit-server", "--port", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 2, bad2, err, sizeof err), -1);
    char *bad3[] = {"deit-server", "--workers", "0", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad3, err, sizeof err), -1);
    char *bad4[] = {"deit-server", "--port", "65536", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 3, bad4, err, sizeof err), -1);
    char *help[] = {"deit-server", "--help", NULL};
    CHECK_INT_EQ(server_config_parse(&c, 2, help, err, sizeof err), 1);

    server_config_defaults(&c);
    c.model = "m";
    c.log_format = "xml";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    c.log_format = "json";
    c.max_images = 10;
    c.queue = 5;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    CHECK(strstr(err, "--max-images") != NULL);
    /* --cors-origin: origins as a browser sends them, or "*" alone */
    c.max_images = 5;
    c.cors_origin = "http://localhost:3000,https://app.example";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.cors_origin = "https://app.example/";
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), -1);
    CHECK(strstr(err, "--cors-origin") != NULL);
    c.cors_origin = "";

    /* HTTP and gRPC on one port: refused before either listens, naming both flags; port 0 (any
     * free one) twice is fine */
    server_config_defaults(&c);
    c.model = "m";
    c.port = c.grpc_port = 8090;
    CHECK(server_config_validate(&c, err, sizeof err) == -1 &&
          strstr(err, "--grpc-port (8090) must differ from --port"));
    c.port = c.grpc_port = 0;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);
    c.grpc_port = 8081;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    /* --model-name ends up in URL paths and JSON: only a safe character set is accepted */
    server_config_defaults(&c);
    c.model = "m";
    const char *good_names[] = {"deit-tiny", "DeiT_small.v2", "a"};
    for (size_t i = 0; i < sizeof good_names / sizeof *good_names; i++) {
        c.model_name = good_names[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == 0, "name \"%s\" refused", good_names[i]);
    }
    char long_name[129];
    memset(long_name, 'n', 128);
    long_name[128] = '\0';
    const char *bad_names[] = {"a/b", "..", ".hidden", "with space", "q?x=1", "caf\xc3\xa9", "x%2F", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        c.model_name = bad_names[i];
        CHECK_MSG(server_config_validate(&c, err, sizeof err) == -1 && strstr(err, "--model-name"),
                  "name \"%s\" accepted", bad_names[i]);
    }
    long_name[127] = '\0';
    c.model_name = long_name;
    CHECK_INT_EQ(server_config_validate(&c, err, sizeof err), 0);

    /* --help lists every flag with its environment variable */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    server_config_usage(f, "deit-server");
    fclose(f);
    const char *must[] = {"--model", "DEIT_MODEL", "--model-name", "DEIT_MODEL_NAME", "--port", "DEIT_PORT",
                          "--api-key", "DEIT_API_KEY", "--batch-wait-us", "--grace-s", "--log-format", "(default: 8080)"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) CHECK_MSG(strstr(buf, must[i]) != NULL, "%s", must[i]);
    free(buf);
}

int main(void)
{
    test_query_int();
    test_routes();
    test_config();
    return check_summary("test_query");
}
