/* test_endpoint.c — the endpoint decisions without a server: the status tables (every code), every
 * answer api_plan_request gives from a request head, media types, API key, model and version
 * matching, and the metadata / health answers in each readiness state. */
#include <jansson.h>
#include <stdint.h>

#include "../check.h"
#include "endpoint.h"
#include "response.h"
#include "status.h"
#include "status_map.h"

static const char *LABELS[4] = {"cat", "dog", "bird", "fish"};
static const api_model M = {"toy", "deit_toy", "F32", 224, 224, 3, 16, 64, 3, 2, 4, 1, LABELS, NULL, 0.25, {DEIT_RESIZE_SHORTEST_SIDE, 248, 0, 0},
                            "f32", "avx512", "distillation", 4 * 3 * 198 * 198};

static api_server server_view(api_readiness st, const api_model *m, const char *key)
{
    return (api_server){st, m, key, 1000, 1, 8, "9.9", 0};
}

static void test_status_tables(void)
{
    CHECK_INT_EQ(api_http_of_deit(DEIT_OK), 200);
    CHECK_INT_EQ(api_http_of_deit(DEIT_EINVAL), 400);
    CHECK_INT_EQ(api_http_of_deit(DEIT_ETOOBIG), 413);
    CHECK_INT_EQ(api_http_of_deit(DEIT_EUNSUPPORTED), 415);
    CHECK_INT_EQ(api_http_of_deit(DEIT_ENOMEM), 503);
    CHECK_INT_EQ(api_http_of_deit(DEIT_EIO), 500);
    CHECK_INT_EQ(api_http_of_deit(-99), 500);
    CHECK_INT_EQ(api_http_of_mp(MP_OK), 200);
    CHECK_INT_EQ(api_http_of_mp(MP_EINVAL), 400);
    CHECK_INT_EQ(api_http_of_mp(MP_ETOOMANY), 413);
    CHECK_INT_EQ(api_http_of_mp(MP_ETOOBIG), 413);
    CHECK_INT_EQ(api_http_of_mp(-99), 500);
    CHECK_INT_EQ(api_http_of_v2(V2_OK), 200);
    CHECK_INT_EQ(api_http_of_v2(V2_EINVAL), 400);
    CHECK_INT_EQ(api_http_of_v2(V2_ETOOMANY), 413);
    CHECK_INT_EQ(api_http_of_v2(V2_ENOMEM), 503); /* out of memory: one answer everywhere */
    CHECK_INT_EQ(api_http_of_v2(-99), 500);
    static const int grpc[][2] = {{200, 0}, {400, 3}, {401, 16}, {404, 5}, {405, 12}, {413, 8}, {415, 3},
                                  {500, 13}, {503, 14}, {504, 4}, {418, 13}};
    for (size_t i = 0; i < sizeof grpc / sizeof grpc[0]; i++)
        CHECK_MSG(api_grpc_of_http(grpc[i][0]) == grpc[i][1], "HTTP %d -> gRPC %d, want %d", grpc[i][0],
                  api_grpc_of_http(grpc[i][0]), grpc[i][1]);
    CHECK(api_http_retry_after(503));
    CHECK(!api_http_retry_after(500) && !api_http_retry_after(413) && !api_http_retry_after(200));
}

/* Plans path/method with the given headers; returns the status. */
static int plan(const char *path, const char *method, const api_head *extra, const api_server *sv, api_plan *p)
{
    route rt;
    route_match(path, strlen(path), &rt);
    api_head hd = extra ? *extra : (api_head){0};
    hd.method = method;
    hd.path = path;
    api_plan_request(&rt, &hd, sv, p);
    return p->status;
}

static void test_plan_errors(void)
{
    api_server sv = server_view(API_READY, &M, NULL);
    api_plan p;
    CHECK_INT_EQ(plan("/nope", "GET", NULL, &sv, &p), 404);
    CHECK(strstr(p.msg, "/nope") != NULL);
    CHECK_INT_EQ(plan("/v1/predict", "GET", NULL, &sv, &p), 405);
    CHECK(p.allow && strstr(p.msg, "POST") != NULL);
    CHECK_INT_EQ(plan("/healthz", "POST", NULL, &sv, &p), 405);

    /* GET endpoints go on to api_answer_get */
    CHECK_INT_EQ(plan("/healthz", "GET", NULL, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_NONE);
    CHECK_INT_EQ(plan("/metrics", "GET", NULL, &sv, &p), 0);

    /* API key: 401 with WWW-Authenticate, before anything else about the request */
    api_server locked = server_view(API_STARTING, NULL, "s3cret");
    CHECK_INT_EQ(plan("/v1/predict", "POST", NULL, &locked, &p), 401);
    CHECK(p.www_auth);
    api_head wrong = {.authorization = "Bearer nope"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &wrong, &locked, &p), 401);
    api_head right = {.authorization = "bearer s3cret"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &right, &locked, &p), 503); /* then: still loading */
    CHECK(strstr(p.msg, "loading") != NULL);
    CHECK(api_authorized(NULL, NULL) && api_authorized("", "x"));
    CHECK(!api_authorized("k", "Bearer kk") && !api_authorized("kk", "Bearer k") && api_authorized("k", "Bearer k"));

    /* unknown model, unknown version */
    CHECK_INT_EQ(plan("/v2/models/other/infer", "POST", NULL, &sv, &p), 404);
    CHECK(strstr(p.msg, "unknown model \"other\"") != NULL);
    CHECK_INT_EQ(plan("/v2/models/toy/versions/2/infer", "POST", NULL, &sv, &p), 404);
    CHECK(strstr(p.msg, "no version \"2\"") != NULL);
    CHECK_INT_EQ(plan("/predictions/toy/2", "POST", NULL, &sv, &p), 404);
    CHECK(strstr(p.msg, "no version") != NULL);
    CHECK_INT_EQ(plan("/predictions/toy/1.0", "POST", NULL, &sv, &p), 0);
    CHECK_INT_EQ(plan("/predictions/toy/1", "PUT", NULL, &sv, &p), 0);
    CHECK_INT_EQ(plan("/v2/models/toy/versions/1/infer", "POST", NULL, &sv, &p), 0);

    /* body over the limit by Content-Length; garbage Content-Length is left to the body reader */
    api_head big = {.content_length = "1001"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &big, &sv, &p), 413);
    CHECK(strstr(p.msg, "--max-body-mb 1") != NULL);
    api_head fits = {.content_length = "1000"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &fits, &sv, &p), 0);

    /* media types */
    api_head txt = {.content_type = "text/plain"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &txt, &sv, &p), 415);
    /* v2: what fetch() (text/plain;charset=UTF-8) and `curl -d` send with a JSON string are JSON */
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &txt, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_V2);
    api_head fetched = {.content_type = "text/plain;charset=UTF-8"}, curl_d = {.content_type =
                                                                                  "application/x-www-form-urlencoded"};
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &fetched, &sv, &p), 0);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &curl_d, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_V2);
    api_head jpeg = {.content_type = "image/jpeg"};
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &jpeg, &sv, &p), 415);
    CHECK_MSG(strstr(p.msg, "send application/json") != NULL, "%s", p.msg);
    CHECK_INT_EQ(plan("/predictions/toy", "POST", &txt, &sv, &p), 0); /* TorchServe: any body */
    api_head js = {.content_type = "application/json"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &js, &sv, &p), 415);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &js, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_V2);
    CHECK_INT_EQ(p.v2_header_len, -1);
    api_head png = {.content_type = "image/png"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &png, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_RAW);
    CHECK_INT_EQ(p.top_k, 4); /* default 5, clamped to the 4 classes */
    api_head nob = {.content_type = "multipart/form-data"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &nob, &sv, &p), 400);
    CHECK_INT_EQ(plan("/predictions/toy", "POST", &nob, &sv, &p), 400);
    api_head mp = {.content_type = "multipart/form-data; boundary=\"ab c\""};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &mp, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_MULTIPART);
    CHECK_STR_EQ(p.boundary, "ab c");
    const char *const *t = api_media_types(R_PREDICT);
    CHECK(t && strcmp(t[0], "image/") == 0);
    CHECK(api_media_types(R_TORCHSERVE) == NULL);
    CHECK(api_media_types(R_V2_INFER) && strcmp(api_media_types(R_V2_INFER)[0], "application/json") == 0);

    /* Content-Encoding */
    api_head gz = {.content_encoding = "gzip"}, df = {.content_encoding = "Deflate"}, br = {.content_encoding = "br"};
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &gz, &sv, &p), 0);
    CHECK_INT_EQ(p.encoding, API_ENC_GZIP);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &df, &sv, &p), 0);
    CHECK_INT_EQ(p.encoding, API_ENC_DEFLATE);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &br, &sv, &p), 415);
    CHECK(strstr(p.msg, "\"br\"") != NULL);

    /* top_k and the v2 header length */
    api_head k0 = {.top_k = "0"}, k2 = {.top_k = "2"}, kx = {.top_k = "2x"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &k0, &sv, &p), 400);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &kx, &sv, &p), 400);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &k2, &sv, &p), 0);
    CHECK_INT_EQ(p.top_k, 2);
    api_head hl = {.inference_header_length = "12"}, hlx = {.inference_header_length = "-1"};
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &hl, &sv, &p), 0);
    CHECK_INT_EQ(p.v2_header_len, 12);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &hlx, &sv, &p), 400);
    /* SageMaker's form: the json-header-size parameter of its media type (the header wins) */
    api_head sm = {.content_type = "application/vnd.sagemaker-triton.binary+json;json-header-size=77"},
             smx = {.content_type = "application/vnd.sagemaker-triton.binary+json; json-header-size=x"},
             smh = {.content_type = "application/vnd.sagemaker-triton.binary+json;json-header-size=77",
                    .inference_header_length = "12"},
             jsp = {.content_type = "application/json;json-header-size=77"};
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &sm, &sv, &p), 0);
    CHECK_INT_EQ(p.v2_header_len, 77);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &smx, &sv, &p), 400);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &smh, &sv, &p), 0);
    CHECK_INT_EQ(p.v2_header_len, 12);
    CHECK_INT_EQ(plan("/v2/models/toy/infer", "POST", &jsp, &sv, &p), 0);
    CHECK_INT_EQ(p.v2_header_len, -1);
}

static void test_versions(void)
{
    CHECK(api_version_matches("1", "1", 1));
    CHECK(api_version_matches("1", "1.0", 3));
    CHECK(api_version_matches("1.0", "1", 1));
    CHECK(!api_version_matches("1", "1.", 2));
    CHECK(!api_version_matches("1", "10", 2));
    CHECK(!api_version_matches("1", "2", 1));
    CHECK(!api_version_matches("2024-01", "1", 1));
    api_model v = M;
    v.version = "2024-01";
    route rt;
    const char *path = "/v2/models/toy/versions/2024-01";
    route_match(path, strlen(path), &rt);
    char msg[256];
    CHECK_INT_EQ(api_model_check(&rt, &v, msg, sizeof msg), 0);
    CHECK_INT_EQ(api_model_check(&rt, &M, msg, sizeof msg), 404);
    CHECK(strstr(msg, "serves version 1") != NULL);
}

/* Answers path with GET and parses the JSON body (NULL when not JSON). */
static json_t *get(const char *path, const api_server *sv, int *status)
{
    route rt;
    route_match(path, strlen(path), &rt);
    api_answer a;
    if (api_answer_get(&rt, sv, &a)) return NULL;
    *status = a.status;
    CHECK_STR_EQ(a.ctype, "application/json");
    CHECK_INT_EQ(a.len, strlen(a.body));
    json_t *j = json_loadb(a.body, a.len, 0, NULL);
    free(a.body);
    return j;
}

static void test_answers(void)
{
    api_server ready = server_view(API_READY, &M, NULL), starting = server_view(API_STARTING, NULL, NULL),
               draining = server_view(API_DRAINING, &M, NULL);
    int st = 0;
    json_t *j = get("/v2/health/live", &starting, &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "live")));
    json_decref(j);
    j = get("/v2/health/ready", &ready, &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    j = get("/v2/health/ready", &draining, &st);
    CHECK_INT_EQ(st, 503);
    CHECK(json_is_false(json_object_get(j, "ready")));
    json_decref(j);
    j = get("/readyz", &starting, &st);
    CHECK_INT_EQ(st, 503);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "starting");
    json_decref(j);
    j = get("/readyz", &draining, &st);
    CHECK_INT_EQ(st, 503);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "draining");
    json_decref(j);
    api_server downloading = server_view(API_DOWNLOADING, NULL, NULL);
    j = get("/readyz", &downloading, &st);
    CHECK_INT_EQ(st, 503);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "downloading");
    json_decref(j);
    j = get("/v2/health/ready", &downloading, &st);
    CHECK_INT_EQ(st, 503);
    json_decref(j);
    j = get("/ping", &ready, &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "status")), "Healthy");
    json_decref(j);
    j = get("/healthz", &draining, &st);
    CHECK_INT_EQ(st, 200);
    json_decref(j);

    /* OIP: /v2 and /v2/ are one endpoint; extensions list what is implemented */
    for (int slash = 0; slash < 2; slash++) {
        j = get(slash ? "/v2/" : "/v2", &ready, &st);
        CHECK_INT_EQ(st, 200);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "version")), "9.9");
        json_t *ext = json_object_get(j, "extensions");
        CHECK_INT_EQ(json_array_size(ext), 3);
        CHECK_STR_EQ(json_string_value(json_array_get(ext, 0)), "binary_tensor_data");
        CHECK_STR_EQ(json_string_value(json_array_get(ext, 1)), "classification");
        CHECK_STR_EQ(json_string_value(json_array_get(ext, 2)), "model_configuration");
        json_decref(j);
    }
    /* Triton's model configuration: ModelConfig as Triton's JSON has it (proto names, enum names,
     * dims as numbers), saying what the metadata says */
    for (int versioned = 0; versioned < 2; versioned++) {
        j = get(versioned ? "/v2/models/toy/versions/1/config" : "/v2/models/toy/config", &ready, &st);
        CHECK_INT_EQ(st, 200);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "toy");
        CHECK_STR_EQ(json_string_value(json_object_get(j, "platform")), "deit_safetensors");
        CHECK(json_integer_value(json_object_get(j, "max_batch_size")) == 0 && json_is_integer(json_object_get(j, "max_batch_size")));
        json_t *in = json_array_get(json_object_get(j, "input"), 0), *outs = json_object_get(j, "output");
        CHECK_INT_EQ(json_array_size(json_object_get(j, "input")), 1);
        CHECK_STR_EQ(json_string_value(json_object_get(in, "name")), "image");
        CHECK_STR_EQ(json_string_value(json_object_get(in, "data_type")), "TYPE_STRING");
        CHECK_STR_EQ(json_string_value(json_object_get(in, "format")), "FORMAT_NONE");
        CHECK(json_is_false(json_object_get(in, "optional")) && json_is_false(json_object_get(in, "is_shape_tensor")));
        json_t *dims = json_object_get(in, "dims");
        CHECK(json_array_size(dims) == 1 && json_is_integer(json_array_get(dims, 0)) &&
              json_integer_value(json_array_get(dims, 0)) == -1);
        /* the probabilities [-1, classes], then the explanation: maps over the 14x14 patch grid
         * (224 / 16) and the token cosine */
        CHECK_INT_EQ(json_array_size(outs), 6);
        const char *want[6] = {"class_probs", "distill_probs", "fused_probs", "class_rollout", "distill_rollout",
                               "token_cosine"};
        const long long want_dims[6][3] = {{-1, 4}, {-1, 4}, {-1, 4}, {-1, 14, 14}, {-1, 14, 14}, {-1}};
        const size_t want_nd[6] = {2, 2, 2, 3, 3, 1};
        for (size_t k = 0; k < 6; k++) {
            json_t *o = json_array_get(outs, k), *od = json_object_get(o, "dims");
            CHECK_STR_EQ(json_string_value(json_object_get(o, "name")), want[k]);
            CHECK_STR_EQ(json_string_value(json_object_get(o, "data_type")), "TYPE_FP32");
            CHECK_INT_EQ(json_array_size(od), want_nd[k]);
            for (size_t d = 0; d < want_nd[k]; d++)
                CHECK_MSG(json_integer_value(json_array_get(od, d)) == want_dims[k][d], "%s dims[%zu]", want[k], d);
        }
        CHECK(json_object_get(j, "dynamic_batching") == NULL && json_object_get(j, "sequence_batching") == NULL);
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(json_object_get(j, "parameters"), "precision"),
                                                       "string_value")),
                     "f32");
        json_decref(j);
    }
    j = get("/v2/models/other/config", &ready, &st);
    CHECK_INT_EQ(st, 404);
    CHECK(json_is_string(json_object_get(j, "error")));
    json_decref(j);
    j = get("/v2/models/toy/config", &starting, &st);
    CHECK_INT_EQ(st, 503);
    json_decref(j);
    j = get("/v2/models/toy", &ready, &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "platform")), "deit_safetensors");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), "1");
    json_decref(j);
    j = get("/v2/models/toy/versions/7/ready", &ready, &st);
    CHECK_INT_EQ(st, 404);
    CHECK(strstr(json_string_value(json_object_get(j, "error")), "no version \"7\"") != NULL);
    json_decref(j);
    j = get("/v2/models/toy/ready", &ready, &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    j = get("/v2/models/toy/ready", &draining, &st);
    CHECK_INT_EQ(st, 503);
    json_decref(j);
    j = get("/v2/models/toy", &starting, &st);
    CHECK_INT_EQ(st, 503);
    CHECK(json_is_string(json_object_get(j, "error"))); /* v2 shape */
    json_decref(j);
    j = get("/v1/models", &starting, &st);
    CHECK_INT_EQ(st, 503);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(j, "error"), "code")), 503);
    json_decref(j);
    j = get("/v1/models", &ready, &st);
    CHECK_INT_EQ(st, 200);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_array_get(json_object_get(j, "models"), 0), "classes")), 4);
    json_decref(j);
}

static void test_error_bodies(void)
{
    route v1, v2;
    route_match("/v1/predict", 11, &v1);
    route_match("/v2/x", 5, &v2);
    size_t len = 0;
    /* client bytes in a message: invalid UTF-8 is replaced, quotes and newlines escaped by jansson */
    char *b = api_error_body(&v1, 404, "no such endpoint: GET /a\"b\n\xff", &len);
    json_t *j = json_loads(b, 0, NULL);
    CHECK_INT_EQ(len, strlen(b));
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                 "no such endpoint: GET /a\"b\n\xef\xbf\xbd");
    json_decref(j);
    free(b);
    b = api_error_body(&v2, 400, "bad", &len);
    CHECK_STR_EQ(b, "{\"error\":\"bad\"}\n");
    free(b);

    /* TorchServe's paths answer as TorchServe: {"code", "type", "message"}, also where the path
     * matches no endpoint or the method is wrong */
    const char *ts_paths[] = {"/predictions/toy", "/predictions/toy/2", "/predictions", "/predictions/a/b/c", "/ping"};
    for (size_t i = 0; i < sizeof ts_paths / sizeof *ts_paths; i++) {
        route ts;
        route_match(ts_paths[i], strlen(ts_paths[i]), &ts);
        b = api_error_body(&ts, 503, "server is starting", &len);
        CHECK_MSG(b && strcmp(b, "{\"code\":503,\"type\":\"ServiceUnavailableException\",\"message\":"
                                 "\"server is starting\"}\n") == 0, "%s: %s", ts_paths[i], b);
        free(b);
    }
    route other;
    route_match("/predictionsx", 13, &other); /* not a TorchServe path: the server's own shape */
    b = api_error_body(&other, 404, "no", &len);
    CHECK_STR_EQ(b, "{\"error\":{\"code\":404,\"message\":\"no\"}}\n");
    free(b);
    CHECK_STR_EQ(resp_torchserve_type(404), "ModelNotFoundException");
    CHECK_STR_EQ(resp_torchserve_type(413), "PayloadTooLargeException");
    CHECK_STR_EQ(resp_torchserve_type(418), "BadRequestException");
    CHECK_STR_EQ(resp_torchserve_type(599), "InternalServerException");
}

/* Issue 15: ?explain=1 in the plan, GET / as a JSON index, learned_token_cosine and the crop
 * geometry in /v1/models. */
static void test_explain_and_root(void)
{
    api_server sv = server_view(API_READY, &M, NULL);
    api_plan p;
    CHECK_INT_EQ(plan("/v1/predict", "POST", NULL, &sv, &p), 0);
    CHECK_INT_EQ(p.explain, 0);
    api_head e1 = {.explain = "1"}, e0 = {.explain = "0"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &e1, &sv, &p), 0);
    CHECK_INT_EQ(p.explain, 1);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &e0, &sv, &p), 0);
    CHECK_INT_EQ(p.explain, 0);
    const char *bad[] = {"2", "true", "", "-1", "1x", "9999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        api_head eb = {.explain = bad[i]};
        CHECK_INT_EQ(plan("/v1/predict", "POST", &eb, &sv, &p), 400);
        CHECK(strstr(p.msg, "explain") != NULL);
    }
    /* a model whose attention capture is over the engine's limit predicts but does not explain */
    api_model huge = M;
    huge.explain_bytes = DEIT_MAX_EXPLAIN_PASS_BYTES + 1;
    api_server sh = server_view(API_READY, &huge, NULL);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &e0, &sh, &p), 0);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &e1, &sh, &p), 400);
    CHECK_MSG(strstr(p.msg, "explain is not available for this model") && strstr(p.msg, "over the limit of 1024 MiB"),
              "%s", p.msg);
    huge.explain_bytes = DEIT_MAX_EXPLAIN_PASS_BYTES;
    CHECK_INT_EQ(plan("/v1/predict", "POST", &e1, &sh, &p), 0);

    /* GET / (and HEAD): no body; answered with the JSON index, also while loading */
    CHECK_INT_EQ(plan("/", "GET", NULL, &sv, &p), 0);
    CHECK_INT_EQ(p.body, API_BODY_NONE);
    CHECK_INT_EQ(plan("/", "HEAD", NULL, &sv, &p), 0);
    CHECK_INT_EQ(plan("/", "POST", NULL, &sv, &p), 405);
    int st = 0;
    json_t *j = get("/", &sv, &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "deit-server");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "model")), "toy");
    CHECK(json_is_false(json_object_get(j, "api_key_required")));
    CHECK(json_array_size(json_object_get(j, "endpoints")) > 3);
    json_decref(j);
    api_server keyed = server_view(API_STARTING, NULL, "k");
    j = get("/", &keyed, &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_null(json_object_get(j, "model")) && json_is_true(json_object_get(j, "api_key_required")));
    json_decref(j);

    /* /v1/models: learned_token_cosine (null without a distillation token) and how the crop is made */
    j = get("/v1/models", &sv, &st);
    json_t *m = json_array_get(json_object_get(j, "models"), 0), *in = json_object_get(m, "input");
    CHECK_NEAR(json_number_value(json_object_get(m, "learned_token_cosine")), 0.25, 1e-12);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(in, "resize"), "mode")), "shortest_side");
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(in, "resize"), "size")), 248);
    CHECK(json_is_true(json_object_get(m, "explain")));
    json_decref(j);
    huge.explain_bytes = DEIT_MAX_EXPLAIN_PASS_BYTES + 1; /* the page reads this to ask for predictions only */
    api_server svh = server_view(API_READY, &huge, NULL);
    j = get("/v1/models", &svh, &st);
    CHECK(json_is_false(json_object_get(json_array_get(json_object_get(j, "models"), 0), "explain")));
    json_decref(j);
    api_model one = M;
    one.distilled = 0;
    one.learned_token_cosine = NAN;
    one.resize = (deit_resize){DEIT_RESIZE_EXACT, 0, 256, 200};
    api_server sv1 = server_view(API_READY, &one, NULL);
    j = get("/v1/models", &sv1, &st);
    m = json_array_get(json_object_get(j, "models"), 0);
    in = json_object_get(m, "input");
    CHECK(json_is_null(json_object_get(m, "learned_token_cosine")));
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(in, "resize"), "mode")), "exact");
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(in, "resize"), "height")), 200);
    CHECK(json_is_null(json_object_get(m, "second_token")) && json_is_false(json_object_get(m, "distilled")));
    CHECK_INT_EQ(json_array_size(json_object_get(m, "prediction_heads")), 1);
    json_decref(j);
    /* timm's non-square inputs: aspect kept, covering width x height */
    one.resize = (deit_resize){DEIT_RESIZE_KEEP_RATIO, 0, 284, 177};
    j = get("/v1/models", &sv1, &st);
    in = json_object_get(json_array_get(json_object_get(j, "models"), 0), "input");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(in, "resize"), "mode")), "keep_ratio");
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(in, "resize"), "width")), 284);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(in, "resize"), "height")), 177);
    json_decref(j);
    /* no resize (transformers' do_resize false): the crop is cut from the image as it is */
    one.resize = (deit_resize){DEIT_RESIZE_NONE, 0, 0, 0};
    j = get("/v1/models", &sv1, &st);
    in = json_object_get(json_array_get(json_object_get(j, "models"), 0), "input");
    CHECK(json_is_null(json_object_get(in, "resize")));
    json_decref(j);

    /* the heads' names and the second token's role: distillation (M) or a second class token */
    const char *want[2][3] = {{"distillation", "distillation", "true"}, {"class", "class_2", "false"}};
    for (int k = 0; k < 2; k++) {
        api_model two = M;
        two.second_token = want[k][0];
        api_server sv2 = server_view(API_READY, &two, NULL);
        j = get("/v1/models", &sv2, &st);
        m = json_array_get(json_object_get(j, "models"), 0);
        json_t *heads = json_object_get(m, "prediction_heads");
        CHECK_INT_EQ(json_array_size(heads), 2);
        CHECK_STR_EQ(json_string_value(json_array_get(heads, 0)), "class");
        CHECK_STR_EQ(json_string_value(json_array_get(heads, 1)), want[k][1]);
        CHECK_STR_EQ(json_string_value(json_object_get(m, "second_token")), want[k][0]);
        CHECK_INT_EQ(json_is_true(json_object_get(m, "distilled")), strcmp(want[k][2], "true") == 0);
        json_decref(j);
    }
}

/* Issue 14: ?exif_transpose in the plan, its default from --exif-transpose. */
static void test_exif_transpose(void)
{
    api_server sv = server_view(API_READY, &M, NULL);
    api_plan p;
    CHECK_INT_EQ(plan("/v1/predict", "POST", NULL, &sv, &p), 0);
    CHECK_INT_EQ(p.exif_transpose, 0);  /* timm does not transpose */
    api_head x1 = {.exif_transpose = "1"}, x0 = {.exif_transpose = "0"};
    CHECK_INT_EQ(plan("/v1/predict", "POST", &x1, &sv, &p), 0);
    CHECK_INT_EQ(p.exif_transpose, 1);
    sv.exif_transpose = 1;
    CHECK_INT_EQ(plan("/v1/predict", "POST", NULL, &sv, &p), 0);
    CHECK_INT_EQ(p.exif_transpose, 1);
    CHECK_INT_EQ(plan("/v1/predict", "POST", &x0, &sv, &p), 0);
    CHECK_INT_EQ(p.exif_transpose, 0);
    const char *bad[] = {"2", "yes", "", "-1", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        api_head xb = {.exif_transpose = bad[i]};
        CHECK_INT_EQ(plan("/v1/predict", "POST", &xb, &sv, &p), 400);
        CHECK(strstr(p.msg, "exif_transpose") != NULL);
    }
}

int main(void)
{
    test_status_tables();
    test_exif_transpose();
    test_explain_and_root();
    test_plan_errors();
    test_versions();
    test_answers();
    test_error_bodies();
    return check_summary("test_endpoint");
}
