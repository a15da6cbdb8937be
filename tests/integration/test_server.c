/* test_server.c — black-box tests of deit-server over HTTP with libcurl: every endpoint, predictions
 * equal to deit-predict's, hostile requests, API key, 32 concurrent clients, a full queue, and a
 * graceful drain on SIGTERM. Starts the server binary itself (fork/exec) on a free port.
 *
 * Environment: DEIT_SERVER_BIN (default build/deit-server; the ASan/TSan builds run the same tests),
 * DEIT_PREDICT_BIN (build/deit-predict), DEIT_TEST_MODEL (tests/fixtures/models/timm-deit-reduced),
 * DEIT_TEST_IMAGES (tests/fixtures/images), DEIT_TEST_LOGS (build/test-logs: one stderr log per server),
 * DEIT_TEST_QUICK=1 (the ThreadSanitizer run: endpoints, predictions, concurrency and drain only). */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../check.h"
#include "harness.h"

static const char *PREDICT_BIN, *MODEL_NAME;
static int QUICK;

#define TIMEOUT_S 120L   /* bound on each HTTP exchange */
#define RCV_TIMEOUT_S 15 /* raw sockets: how long raw_read_all waits for the server to answer or close */

/* Stricter than test_reliab's: these servers must also log their clean stop line. */
static void check_stopped_clean(server *s)
{
    int rc = server_stop(s);
    CHECK_MSG(rc == 0, "server exit status %d (log %s)", rc, s->log);
    CHECK_MSG(log_count(s, "Sanitizer") == 0, "sanitizer report in %s", s->log);
    CHECK_MSG(log_count(s, "stopped") == 1, "no clean stop line in %s", s->log);
}

static json_t *body_json(const resp *r)
{
    return json_loadb(r->body, r->len, 0, NULL);
}

/* Status and, for errors, the shape of the error body. */
static void expect_error(const resp *r, long status, int v2, const char *what)
{
    CHECK_MSG(r->rc == CURLE_OK, "%s: curl error %s", what, curl_easy_strerror(r->rc));
    CHECK_MSG(r->status == status, "%s: status %ld, expected %ld (%s)", what, r->status, status, r->body);
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    if (v2) {
        CHECK_MSG(json_is_string(e), "%s: v2 error must be a string: %s", what, r->body);
    } else {
        CHECK_MSG(json_integer_value(json_object_get(e, "code")) == status &&
                  json_is_string(json_object_get(e, "message")), "%s: error body %s", what, r->body);
    }
    json_decref(j);
}

/* ---- reference predictions from deit-predict --------------------------------------------------- */

#define N_REF 6
static const char *REF_IMAGES[N_REF] = {"chelsea.png", "rocket.jpg", "horse.png", "camera.png",
                                        "chelsea_palette.gif", "tiny_7x5.png"};
static json_t *REF[N_REF];     /* deit-predict's line per image, top-k = all classes */
static blob REF_BLOB[N_REF];

static int load_references(void)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "%s --model %s --top-k 1000 --threads 1", PREDICT_BIN, H_MODEL);
    for (int i = 0; i < N_REF; i++) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/%s", H_IMAGES, REF_IMAGES[i]);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[1 << 16];
    int i = 0;
    while (i < N_REF && fgets(line, sizeof line, p)) REF[i++] = json_loads(line, 0, NULL);
    int rc = pclose(p);
    for (int k = 0; k < N_REF; k++) REF_BLOB[k] = image(REF_IMAGES[k]);
    return (i == N_REF && rc == 0) ? 0 : -1;
}

/* Score of class `index` in a deit-predict head list (all classes listed). */
static double ref_score(int img, const char *head, json_int_t index)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(REF[img], head), i, e)
        if (json_integer_value(json_object_get(e, "index")) == index) return json_real_value(json_object_get(e, "score"));
    return -1;
}

static json_int_t ref_top(int img, const char *head)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(REF[img], head), 0), "index"));
}

/* Batched BLAS changes the last float bits; labels, order and scores must otherwise agree. */
#define SCORE_TOL 2e-5

/* One server prediction object against deit-predict's for image img. Returns mismatches. */
static int compare_prediction(json_t *pred, int img, int top_k)
{
    int bad = 0;
    const char *heads[3] = {"class_head", "distill_head", "fused"};
    for (int h = 0; h < 3; h++) {
        json_t *list = json_object_get(pred, heads[h]);
        if ((int)json_array_size(list) != top_k) bad++;
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            json_int_t idx = json_integer_value(json_object_get(e, "index"));
            double s = json_real_value(json_object_get(e, "score"));
            if (fabs(s - ref_score(img, heads[h], idx)) > SCORE_TOL) bad++;
            if (i == 0 && idx != ref_top(img, heads[h])) bad++;
            if (!json_is_string(json_object_get(e, "label"))) bad++;
        }
    }
    if (json_is_true(json_object_get(pred, "heads_agree")) != json_is_true(json_object_get(REF[img], "heads_agree")))
        bad++;
    return bad;
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_endpoints(const server *s)
{
    CURL *c = curl_easy_init(); /* one keep-alive connection for all of these */
    resp r = request(c, "GET", url_of(s, "/healthz"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "\"ok\"") != NULL);
    CHECK(has_header(&r, "Content-Type", "application/json"));
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/readyz"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/ping"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "Healthy") != NULL);
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/v2/health/live"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/v2/health/ready"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);

    r = request(c, "GET", url_of(s, "/v2"), NULL, NULL, 0, TIMEOUT_S);
    json_t *j = body_json(&r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "deit-server");
    CHECK(json_is_array(json_object_get(j, "extensions")));
    json_decref(j);
    resp_free(&r);

    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s", MODEL_NAME);
    r = request(c, "GET", url_of(s, path), NULL, NULL, 0, TIMEOUT_S);
    j = body_json(&r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), MODEL_NAME);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(j, "inputs"), 0), "datatype")), "BYTES");
    CHECK_INT_EQ(json_array_size(json_object_get(j, "outputs")), 3);
    json_decref(j);
    resp_free(&r);
    snprintf(path, sizeof path, "/v2/models/%s/ready", MODEL_NAME);
    r = request(c, "GET", url_of(s, path), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/v2/models/no-such-model"), NULL, NULL, 0, TIMEOUT_S);
    expect_error(&r, 404, 1, "v2 unknown model");
    resp_free(&r);

    r = request(c, "GET", url_of(s, "/v1/models"), NULL, NULL, 0, TIMEOUT_S);
    j = body_json(&r);
    json_t *m = json_array_get(json_object_get(j, "models"), 0);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(m, "name")), MODEL_NAME);
    CHECK_INT_EQ(json_integer_value(json_object_get(m, "classes")), 10);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(m, "input"), "height")), 224);
    CHECK(json_is_string(json_object_get(m, "architecture")) && json_is_string(json_object_get(m, "dtype")));
    CHECK_INT_EQ(json_array_size(json_object_get(m, "prediction_heads")), 2);
    json_decref(j);
    resp_free(&r);

    r = request(c, "GET", url_of(s, "/nope"), NULL, NULL, 0, TIMEOUT_S);
    expect_error(&r, 404, 0, "unknown path");
    resp_free(&r);
    r = request(c, "GET", url_of(s, "/v1/predict"), NULL, NULL, 0, TIMEOUT_S);
    expect_error(&r, 405, 0, "GET /v1/predict");
    CHECK(has_header(&r, "Allow", "POST"));
    resp_free(&r);
    r = request(c, "DELETE", url_of(s, "/predictions/x"), NULL, NULL, 0, TIMEOUT_S);
    expect_error(&r, 405, 0, "DELETE /predictions");
    CHECK(has_header(&r, "Allow", "POST, PUT"));
    resp_free(&r);
    r = request(c, "POST", url_of(s, "/healthz"), NULL, "x", 1, TIMEOUT_S);
    expect_error(&r, 405, 0, "POST /healthz");
    resp_free(&r);

    /* metrics after some traffic */
    r = request(c, "GET", url_of(s, "/metrics"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    CHECK(has_header(&r, "Content-Type", "text/plain"));
    const char *names[] = {"deit_requests_total{endpoint=\"health\",code=\"200\"}", "deit_request_duration_seconds_bucket",
                           "deit_queue_duration_seconds_bucket", "deit_inference_duration_seconds_bucket",
                           "deit_batch_size_bucket", "deit_queue_depth ", "deit_images_total ",
                           "deit_requests_total{endpoint=\"other\",code=\"404\"}"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_MSG(strstr(r.body, names[i]) != NULL, "metrics lack %s", names[i]);
    resp_free(&r);
    curl_easy_cleanup(c);
}

static void test_predictions(const server *s)
{
    CURL *c = curl_easy_init();
    /* raw bodies, each image alone, top_k = 3 */
    for (int i = 0; i < N_REF; i++) {
        const char *h[] = {"Content-Type: application/octet-stream", NULL};
        resp r = request(c, "POST", url_of(s, "/v1/predict?top_k=3"), h, REF_BLOB[i].data, REF_BLOB[i].len, TIMEOUT_S);
        json_t *j = body_json(&r);
        CHECK_MSG(r.status == 200, "%s: %ld %s", REF_IMAGES[i], r.status, r.body);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "model")), MODEL_NAME);
        json_t *preds = json_object_get(j, "predictions");
        CHECK_INT_EQ(json_array_size(preds), 1);
        CHECK_MSG(compare_prediction(json_array_get(preds, 0), i, 3) == 0, "%s differs from deit-predict: %s",
                  REF_IMAGES[i], r.body);
        json_t *t = json_object_get(j, "timing_ms");
        CHECK(json_is_number(json_object_get(t, "decode")) && json_is_number(json_object_get(t, "queue")) &&
              json_is_number(json_object_get(t, "inference")) && json_is_number(json_object_get(t, "total")));
        json_decref(j);
        resp_free(&r);
    }
    /* multipart: all reference images in one request, answered in upload order */
    resp r = post_files(c, url_of(s, "/v1/predict?top_k=10"), "image", REF_BLOB, REF_IMAGES, N_REF, TIMEOUT_S);
    json_t *j = body_json(&r);
    CHECK_MSG(r.status == 200, "multipart: %ld %s", r.status, r.body);
    json_t *preds = json_object_get(j, "predictions");
    CHECK_INT_EQ(json_array_size(preds), N_REF);
    for (int i = 0; i < N_REF; i++)
        CHECK_MSG(compare_prediction(json_array_get(preds, (size_t)i), i, 10) == 0, "multipart image %d differs", i);
    json_decref(j);
    resp_free(&r);

    /* top_k bounds */
    const char *bad_k[] = {"/v1/predict?top_k=0", "/v1/predict?top_k=11", "/v1/predict?top_k=abc",
                           "/v1/predict?top_k=-1"};
    for (size_t i = 0; i < sizeof bad_k / sizeof bad_k[0]; i++) {
        const char *h[] = {"Content-Type: image/png", NULL};
        r = request(c, "POST", url_of(s, bad_k[i]), h, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
        expect_error(&r, 400, 0, bad_k[i]);
        resp_free(&r);
    }

    /* TorchServe: curl -T (PUT) and -F data=@ */
    char path[256];
    snprintf(path, sizeof path, "/predictions/%s", MODEL_NAME);
    for (int mode = 0; mode < 2; mode++) {
        if (mode == 0) r = request(c, "PUT", url_of(s, path), NULL, REF_BLOB[1].data, REF_BLOB[1].len, TIMEOUT_S);
        else r = post_files(c, url_of(s, path), "data", &REF_BLOB[1], &REF_IMAGES[1], 1, TIMEOUT_S);
        j = body_json(&r);
        CHECK_MSG(r.status == 200 && json_is_object(j), "torchserve mode %d: %ld %s", mode, r.status, r.body);
        CHECK_INT_EQ(json_object_size(j), 5);
        /* each label maps to deit-predict's fused probability of that class */
        json_t *fused = json_object_get(REF[1], "fused");
        int matched = 0;
        for (size_t k = 0; k < 5; k++) {
            json_t *e = json_array_get(fused, k);
            json_t *v = json_object_get(j, json_string_value(json_object_get(e, "label")));
            if (v && fabs(json_real_value(v) - json_real_value(json_object_get(e, "score"))) <= SCORE_TOL) matched++;
        }
        CHECK_INT_EQ(matched, 5);
        json_decref(j);
        resp_free(&r);
    }
    r = request(c, "PUT", url_of(s, "/predictions/other-model"), NULL, REF_BLOB[1].data, REF_BLOB[1].len, TIMEOUT_S);
    expect_error(&r, 404, 0, "torchserve unknown model");
    resp_free(&r);

    /* v2 JSON with base64 BYTES: two images, classification + FP32 outputs */
    size_t cap = REF_BLOB[0].len * 2 + REF_BLOB[1].len * 2 + 1024;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "{\"id\":\"t-1\",\"inputs\":[{\"name\":\"image\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[");
    for (int i = 0; i < 2; i++) {
        static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *d = (const unsigned char *)REF_BLOB[i].data;
        size_t L = REF_BLOB[i].len;
        req[n++] = '"';
        for (size_t k = 0; k < L; k += 3) {
            unsigned v = (unsigned)d[k] << 16 | (k + 1 < L ? (unsigned)d[k + 1] << 8 : 0) | (k + 2 < L ? d[k + 2] : 0);
            req[n++] = A[v >> 18 & 63];
            req[n++] = A[v >> 12 & 63];
            req[n++] = k + 1 < L ? A[v >> 6 & 63] : '=';
            req[n++] = k + 2 < L ? A[v & 63] : '=';
        }
        req[n++] = '"';
        if (i == 0) req[n++] = ',';
    }
    n += snprintf(req + n, cap - (size_t)n, "]}],\"outputs\":[{\"name\":\"fused_probs\",\"parameters\":{\"classification\":2}},"
                                           "{\"name\":\"class_probs\"}]}");
    snprintf(path, sizeof path, "/v2/models/%s/infer", MODEL_NAME);
    const char *hj[] = {"Content-Type: application/json", NULL};
    r = request(c, "POST", url_of(s, path), hj, req, (size_t)n, TIMEOUT_S);
    free(req);
    j = body_json(&r);
    CHECK_MSG(r.status == 200, "v2 json: %ld %s", r.status, r.body);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "id")), "t-1");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "model_name")), MODEL_NAME);
    json_t *o0 = json_array_get(json_object_get(j, "outputs"), 0), *o1 = json_array_get(json_object_get(j, "outputs"), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(o0, "datatype")), "BYTES");
    CHECK_INT_EQ(json_array_size(json_object_get(o0, "data")), 4);
    for (int i = 0; i < 2; i++) {
        const char *cls = json_string_value(json_array_get(json_object_get(o0, "data"), (size_t)(2 * i)));
        char want[64];
        snprintf(want, sizeof want, ":%lld:", (long long)ref_top(i, "fused"));
        CHECK_MSG(cls && strstr(cls, want), "v2 classification %s lacks %s", cls ? cls : "(null)", want);
    }
    CHECK_STR_EQ(json_string_value(json_object_get(o1, "name")), "class_probs");
    CHECK_INT_EQ(json_integer_value(json_array_get(json_object_get(o1, "shape"), 0)), 2);
    CHECK_INT_EQ(json_integer_value(json_array_get(json_object_get(o1, "shape"), 1)), 10);
    int v2bad = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 10; k++)
            if (fabs(json_real_value(json_array_get(json_object_get(o1, "data"), (size_t)(i * 10 + k))) -
                     ref_score(i, "class_head", k)) > SCORE_TOL) v2bad++;
    CHECK_INT_EQ(v2bad, 0);
    json_decref(j);
    resp_free(&r);

    /* v2 binary-data extension: one image */
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "{\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\","
                                       "\"parameters\":{\"binary_data_size\":%zu}}]}", REF_BLOB[2].len + 4);
    size_t blen = (size_t)hl + 4 + REF_BLOB[2].len;
    char *bin = malloc(blen);
    memcpy(bin, hdr, (size_t)hl);
    uint32_t L = (uint32_t)REF_BLOB[2].len;
    unsigned char le[4] = {(unsigned char)L, (unsigned char)(L >> 8), (unsigned char)(L >> 16), (unsigned char)(L >> 24)};
    memcpy(bin + hl, le, 4);
    memcpy(bin + hl + 4, REF_BLOB[2].data, REF_BLOB[2].len);
    char hcl[64];
    snprintf(hcl, sizeof hcl, "Inference-Header-Content-Length: %d", hl);
    const char *hb[] = {"Content-Type: application/octet-stream", hcl, NULL};
    r = request(c, "POST", url_of(s, path), hb, bin, blen, TIMEOUT_S);
    j = body_json(&r);
    CHECK_MSG(r.status == 200, "v2 binary: %ld %s", r.status, r.body);
    CHECK_INT_EQ(json_array_size(json_object_get(j, "outputs")), 3);
    json_t *fused = NULL;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(j, "outputs"), i, o)
        if (strcmp(json_string_value(json_object_get(o, "name")), "fused_probs") == 0) fused = o;
    CHECK(fused != NULL);
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(fused, "data"), (size_t)ref_top(2, "fused"))),
               ref_score(2, "fused", ref_top(2, "fused")), SCORE_TOL);
    json_decref(j);
    resp_free(&r);
    /* truncated binary data */
    r = request(c, "POST", url_of(s, path), hb, bin, blen - 10, TIMEOUT_S);
    expect_error(&r, 400, 1, "v2 truncated binary");
    resp_free(&r);
    free(bin);
    curl_easy_cleanup(c);
}

/* Reads until the peer closes (or RCV_TIMEOUT_S pass). Returns bytes read, -1 on timeout. */
static long raw_read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k == 0) break;
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
            break; /* reset counts as closed */
        }
        n += (size_t)k;
        if (n >= cap - 1) break;
    }
    buf[n] = 0;
    return (long)n;
}

static void check_alive(const server *s, const char *after)
{
    CHECK_MSG(get_status(url_of(s, "/healthz")) == 200, "/healthz not answering after %s", after);
}

static void test_hostile(const server *s)
{
    CURL *c = curl_easy_init();
    const char *png[] = {"Content-Type: image/png", NULL};
    const char *oct[] = {"Content-Type: application/octet-stream", NULL};
    blob chelsea = REF_BLOB[0];
    resp r;

    r = request(c, "POST", url_of(s, "/v1/predict"), png, chelsea.data, 100, TIMEOUT_S);
    expect_error(&r, 400, 0, "truncated PNG");
    resp_free(&r);
    r = request(c, "POST", url_of(s, "/v1/predict"), oct, REF_BLOB[1].data, 3000, TIMEOUT_S);
    expect_error(&r, 400, 0, "truncated JPEG");
    resp_free(&r);
    char garbage[1000];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (char)((x = x * 1103515245u + 12345u) >> 16);
    garbage[0] = 'G';
    r = request(c, "POST", url_of(s, "/v1/predict"), oct, garbage, sizeof garbage, TIMEOUT_S);
    expect_error(&r, 415, 0, "garbage body");
    resp_free(&r);
    r = request(c, "POST", url_of(s, "/v1/predict"), oct, "x", 1, TIMEOUT_S);
    expect_error(&r, 400, 0, "1-byte body");
    resp_free(&r);
    r = request(c, "POST", url_of(s, "/v1/predict"), oct, "", 0, TIMEOUT_S);
    expect_error(&r, 400, 0, "empty body");
    resp_free(&r);
    const char *txt[] = {"Content-Type: text/plain", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), txt, chelsea.data, chelsea.len, TIMEOUT_S);
    expect_error(&r, 415, 0, "text/plain");
    resp_free(&r);
    const char *js[] = {"Content-Type: application/json", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), js, "{}", 2, TIMEOUT_S);
    expect_error(&r, 415, 0, "application/json on /v1/predict");
    resp_free(&r);
    const char *mp_nob[] = {"Content-Type: multipart/form-data", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), mp_nob, "--x\r\n\r\nabc\r\n--x--", 18, TIMEOUT_S);
    expect_error(&r, 400, 0, "multipart without boundary");
    resp_free(&r);
    const char *mp[] = {"Content-Type: multipart/form-data; boundary=XX", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), mp, garbage, sizeof garbage, TIMEOUT_S);
    expect_error(&r, 400, 0, "multipart garbage");
    resp_free(&r);
    const char trunc_mp[] = "--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n\x89PNG";
    r = request(c, "POST", url_of(s, "/v1/predict"), mp, trunc_mp, sizeof trunc_mp - 1, TIMEOUT_S);
    expect_error(&r, 400, 0, "truncated multipart");
    resp_free(&r);

    /* 1000 parts: refused by count (--max-images 8) */
    size_t cap = 1000 * 80 + 16, len = 0;
    char *body = malloc(cap);
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(body + len, cap - len, "--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"%d\"\r\n\r\nx\r\n", i);
    len += (size_t)snprintf(body + len, cap - len, "--XX--\r\n");
    double t0 = now_s();
    r = request(c, "POST", url_of(s, "/v1/predict"), mp, body, len, TIMEOUT_S);
    expect_error(&r, 413, 0, "1000 multipart parts");
    CHECK(strstr(r.body, "--max-images") != NULL);
    fprintf(stderr, "info: 1000-part request refused in %.1f ms\n", (now_s() - t0) * 1e3);
    resp_free(&r);
    free(body);
    /* 9 real images: over --max-images 8 */
    blob nine[9];
    const char *names[9];
    for (int i = 0; i < 9; i++) { nine[i] = REF_BLOB[5]; names[i] = "tiny.png"; }
    r = post_files(c, url_of(s, "/v1/predict"), "image", nine, names, 9, TIMEOUT_S);
    expect_error(&r, 413, 0, "9 images");
    resp_free(&r);
    /* one bad image among good ones names it */
    blob mix[3] = {REF_BLOB[0], {garbage, 100}, REF_BLOB[1]};
    const char *mixn[3] = {"a.png", "b.bin", "c.jpg"};
    r = post_files(c, url_of(s, "/v1/predict"), "image", mix, mixn, 3, TIMEOUT_S);
    expect_error(&r, 415, 0, "bad image in a batch");
    CHECK(strstr(r.body, "image 2") != NULL);
    resp_free(&r);

    /* over the body limit (--max-body-mb 2): by Content-Length (answered from the headers, so a
     * client that waits for 100-continue, as curl does for large bodies, never sends the body), and
     * chunked (read and dropped up to twice the limit, then answered) */
    size_t big = 3u << 20;
    char *zeros = calloc(1, big);
    const char *png_expect[] = {"Content-Type: image/png", "Expect: 100-continue", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), png_expect, zeros, big, TIMEOUT_S);
    expect_error(&r, 413, 0, "over-limit Content-Length");
    CHECK(strstr(r.body, "--max-body-mb") != NULL);
    resp_free(&r);
    const char *chunked[] = {"Content-Type: image/png", "Transfer-Encoding: chunked", NULL};
    r = request(c, "POST", url_of(s, "/v1/predict"), chunked, zeros, big, TIMEOUT_S);
    expect_error(&r, 413, 0, "over-limit chunked");
    resp_free(&r);
    free(zeros);
    check_alive(s, "over-limit bodies");

    /* a PNG whose header claims 100000 x 100000 pixels */
    static const unsigned char huge_png[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0x00, 0x01, 0x86, 0xa0, 0x00, 0x01, 0x86, 0xa0, 8, 2, 0, 0, 0, 0x1d, 0x8c, 0xbd, 0x48,
        0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    r = request(c, "POST", url_of(s, "/v1/predict"), png, huge_png, sizeof huge_png, TIMEOUT_S);
    expect_error(&r, 413, 0, "100000x100000 PNG");
    resp_free(&r);

    /* v2 hostile: garbage JSON, FP32 input, wrong model */
    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s/infer", MODEL_NAME);
    const char *hj[] = {"Content-Type: application/json", NULL};
    r = request(c, "POST", url_of(s, path), hj, "{\"inputs\": [", 12, TIMEOUT_S);
    expect_error(&r, 400, 1, "v2 truncated JSON");
    resp_free(&r);
    const char fp32[] = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}";
    r = request(c, "POST", url_of(s, path), hj, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 400, 1, "v2 FP32 input");
    resp_free(&r);
    r = request(c, "POST", url_of(s, "/v2/models/other/infer"), hj, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 404, 1, "v2 unknown model infer");
    resp_free(&r);
    const char *badhl[] = {"Content-Type: application/octet-stream", "Inference-Header-Content-Length: 99999", NULL};
    r = request(c, "POST", url_of(s, path), badhl, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 400, 1, "v2 header length beyond body");
    resp_free(&r);
    r = request(c, "POST", url_of(s, path), txt, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 415, 1, "v2 text/plain");
    resp_free(&r);
    curl_easy_cleanup(c);

    /* a garbage request line */
    char buf[4096];
    int fd = raw_connect(s, RCV_TIMEOUT_S);
    CHECK(fd >= 0);
    const char junk[] = "\x16\x03\x01 GARBAGE\r\n\r\n";
    CHECK(send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL) > 0);
    long got = raw_read_all(fd, buf, sizeof buf);
    CHECK_MSG(got > 0 && strncmp(buf, "HTTP/1.1 4", 10) == 0, "garbage request line answered: %.40s", buf);
    close(fd);

    /* slow clients: one stops mid-body, one mid-headers; the server keeps serving and drops them at
     * --conn-timeout-s (2 s) */
    int slow_body = raw_connect(s, RCV_TIMEOUT_S), slow_head = raw_connect(s, RCV_TIMEOUT_S);
    CHECK(slow_body >= 0 && slow_head >= 0);
    const char head[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG\r\n";
    CHECK(send(slow_body, head, sizeof head - 1, MSG_NOSIGNAL) > 0);
    CHECK(send(slow_head, "POST /v1/predict HTTP/1.1\r\nHost:", 32, MSG_NOSIGNAL) > 0);
    check_alive(s, "slow clients connected");
    t0 = now_s();
    got = raw_read_all(slow_body, buf, sizeof buf);
    CHECK_MSG(got >= 0, "slow client mid-body not dropped within 15 s");
    got = raw_read_all(slow_head, buf, sizeof buf);
    CHECK_MSG(got >= 0, "slow client mid-headers not dropped within 15 s");
    fprintf(stderr, "info: slow clients dropped after %.1f s\n", now_s() - t0);
    close(slow_body);
    close(slow_head);
    check_alive(s, "hostile requests");
}

/* --model-name: the name in every URL and response is the given one, and the directory's name is no
 * longer an alias (a KServe InferenceService addresses the model by its own name). */
static void test_model_name(void)
{
    server s;
    const char *extra[] = {"--model-name", "renamed-deit.v1", NULL};
    if (server_start(&s, "model-name", extra)) {
        CHECK(0);
        return;
    }
    CHECK_INT_EQ(get_status(url_of(&s, "/v2/models/renamed-deit.v1/ready")), 200);
    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s/ready", MODEL_NAME);
    CHECK_INT_EQ(get_status(url_of(&s, path)), 404);

    resp r = request(NULL, "GET", url_of(&s, "/v1/models"), NULL, NULL, 0, TIMEOUT_S);
    json_t *j = body_json(&r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(j, "models"), 0), "name")),
                 "renamed-deit.v1");
    json_decref(j);
    resp_free(&r);

    const char *png[] = {"Content-Type: image/png", NULL};
    r = request(NULL, "POST", url_of(&s, "/v1/predict"), png, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
    j = body_json(&r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "model")), "renamed-deit.v1");
    json_decref(j);
    resp_free(&r);

    r = request(NULL, "POST", url_of(&s, "/predictions/renamed-deit.v1"), png, REF_BLOB[0].data, REF_BLOB[0].len,
                TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    snprintf(path, sizeof path, "/predictions/%s", MODEL_NAME);
    r = request(NULL, "POST", url_of(&s, path), png, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
    expect_error(&r, 404, 0, "old name after --model-name");
    CHECK(r.body && strstr(r.body, "renamed-deit.v1"));
    resp_free(&r);
    check_stopped_clean(&s);
}

static void test_auth(void)
{
    server s;
    const char *extra[] = {"--api-key", "s3cret", "--log-format", "json", NULL};
    if (server_start(&s, "auth", extra)) {
        CHECK(0);
        return;
    }
    const char *png[] = {"Content-Type: image/png", NULL};
    const char *wrong[] = {"Content-Type: image/png", "Authorization: Bearer nope", NULL};
    const char *right[] = {"Content-Type: image/png", "Authorization: Bearer s3cret", NULL};
    resp r = request(NULL, "POST", url_of(&s, "/v1/predict"), png, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
    expect_error(&r, 401, 0, "no key");
    CHECK(has_header(&r, "WWW-Authenticate", "Bearer"));
    resp_free(&r);
    r = request(NULL, "POST", url_of(&s, "/v1/predict"), wrong, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
    expect_error(&r, 401, 0, "wrong key");
    resp_free(&r);
    r = request(NULL, "POST", url_of(&s, "/v1/predict"), right, REF_BLOB[0].data, REF_BLOB[0].len, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    CHECK_INT_EQ(get_status(url_of(&s, "/healthz")), 200); /* probes stay open */
    CHECK_INT_EQ(get_status(url_of(&s, "/metrics")), 200);
    CHECK_MSG(log_count(&s, "\"path\":\"/v1/predict\",\"status\":401") == 2, "json access log in %s", s.log);
    check_stopped_clean(&s);
}

/* ---- concurrency --------------------------------------------------------------------------------- */

typedef struct {
    const server *s;
    int id, n;
    int ok, bad, busy, busy_without_retry;
} client;

static void *client_main(void *arg)
{
    client *cl = arg;
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    for (int i = 0; i < cl->n; i++) {
        int img = (cl->id + i) % 3;
        resp r = request(c, "POST", url_of(cl->s, "/v1/predict?top_k=1"), h, REF_BLOB[img].data, REF_BLOB[img].len,
                         TIMEOUT_S);
        if (r.status == 200) {
            json_t *j = body_json(&r);
            json_t *p = json_array_get(json_object_get(j, "predictions"), 0);
            if (compare_prediction(p, img, 1) == 0) cl->ok++;
            else cl->bad++;
            json_decref(j);
        } else if (r.status == 503) {
            cl->busy++;
            if (!has_header(&r, "Retry-After", NULL)) cl->busy_without_retry++;
        } else {
            cl->bad++;
        }
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void run_clients(const server *s, int n_clients, int per_client, client *cl)
{
    pthread_t th[64];
    for (int i = 0; i < n_clients; i++) {
        cl[i] = (client){s, i, per_client, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < n_clients; i++) pthread_join(th[i], NULL);
}

static void test_concurrent(const server *s, int n_clients, int per_client)
{
    client cl[64];
    double t0 = now_s();
    run_clients(s, n_clients, per_client, cl);
    int ok = 0, bad = 0, busy = 0;
    for (int i = 0; i < n_clients; i++) {
        ok += cl[i].ok;
        bad += cl[i].bad;
        busy += cl[i].busy;
    }
    fprintf(stderr, "info: %d clients x %d requests: %d ok in %.2f s\n", n_clients, per_client, ok, now_s() - t0);
    CHECK_INT_EQ(ok, n_clients * per_client);
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(busy, 0);
    /* the batcher did batch: some forward pass took more than one image */
    resp r = request(NULL, "GET", url_of(s, "/metrics"), NULL, NULL, 0, TIMEOUT_S);
    long le1 = metric_sample(r.body, "deit_batch_size_bucket{le=\"1\"}");
    long count = metric_sample(r.body, "deit_batch_size_count");
    fprintf(stderr, "info: forward passes %ld, of which single-image %ld\n", count, le1);
    CHECK(count > 0 && le1 >= 0 && le1 <= count);
    resp_free(&r);
}

static void test_queue_full(void)
{
    server s;
    const char *extra[] = {"--workers", "1", "--max-batch", "1", "--queue", "1", "--max-images", "1",
                           "--batch-wait-us", "0", "--http-threads", "4", NULL};
    if (server_start(&s, "queue", extra)) {
        CHECK(0);
        return;
    }
    client cl[32];
    run_clients(&s, 32, 4, cl);
    int ok = 0, bad = 0, busy = 0, noretry = 0;
    for (int i = 0; i < 32; i++) {
        ok += cl[i].ok;
        bad += cl[i].bad;
        busy += cl[i].busy;
        noretry += cl[i].busy_without_retry;
    }
    fprintf(stderr, "info: queue of 1: %d ok, %d answered 503\n", ok, busy);
    CHECK_INT_EQ(ok + busy, 32 * 4); /* nothing but 200 or an immediate 503 */
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(noretry, 0);
    CHECK(ok > 0);
    check_stopped_clean(&s);
}

/* ---- SIGTERM ----------------------------------------------------------------------------------- */

typedef struct {
    const server *s;
    atomic_int *done;
    int ok, refused, other;
} drain_client;

static void *drain_main(void *arg)
{
    drain_client *d = arg;
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: image/png", NULL};
    for (int i = 0; i < 400; i++) {
        resp r = request(c, "POST", url_of(d->s, "/v1/predict?top_k=1"), h, REF_BLOB[0].data, REF_BLOB[0].len,
                         TIMEOUT_S);
        if (r.rc == CURLE_OK && r.status == 200) {
            d->ok++;
            atomic_fetch_add(d->done, 1);
        } else if (r.rc == CURLE_COULDNT_CONNECT) {
            d->refused++; /* not accepted: the server stopped listening */
            resp_free(&r);
            break;
        } else {
            d->other++;
            fprintf(stderr, "drain: request lost: curl %s, HTTP %ld %s\n", curl_easy_strerror(r.rc), r.status, r.body);
        }
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void test_sigterm(void)
{
    server s;
    const char *extra[] = {"--grace-s", "60", NULL};
    if (server_start(&s, "drain", extra)) {
        CHECK(0);
        return;
    }
    /* 1. a request in the middle of its upload holds the drain open; readiness turns 503 meanwhile */
    int fd = raw_connect(&s, RCV_TIMEOUT_S);
    char head[256];
    int hl = snprintf(head, sizeof head, "POST /v1/predict?top_k=1 HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                         "Content-Length: %zu\r\n\r\n", REF_BLOB[0].len);
    CHECK(send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl);
    CHECK(send(fd, REF_BLOB[0].data, 1000, MSG_NOSIGNAL) == 1000);
    CURL *keep = curl_easy_init();
    resp r = request(keep, "GET", url_of(&s, "/readyz"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 200);
    resp_free(&r);
    sleep_ms(200);
    kill(s.pid, SIGTERM);
    sleep_ms(300);
    r = request(keep, "GET", url_of(&s, "/readyz"), NULL, NULL, 0, TIMEOUT_S); /* on the kept-alive connection */
    CHECK_MSG(r.status == 503 && strstr(r.body, "draining"), "readyz while draining: %ld %s", r.status, r.body);
    CHECK(has_header(&r, "Connection", "close"));
    resp_free(&r);
    curl_easy_cleanup(keep);
    CHECK_INT_EQ(get_status(url_of(&s, "/healthz")), 0); /* new connections are refused */
    int st;
    CHECK(waitpid(s.pid, &st, WNOHANG) == 0);              /* still waiting for our upload */
    CHECK(send(fd, REF_BLOB[0].data + 1000, REF_BLOB[0].len - 1000, MSG_NOSIGNAL) == (ssize_t)(REF_BLOB[0].len - 1000));
    char buf[8192];
    long got = raw_read_all(fd, buf, sizeof buf);
    CHECK_MSG(got > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "\"predictions\""),
              "in-flight upload answered during drain: %.60s", buf);
    close(fd);
    check_stopped_clean(&s);

    /* 2. SIGTERM under load: every request is answered 200 or refused at connect, none is lost */
    if (server_start(&s, "drain-load", extra)) {
        CHECK(0);
        return;
    }
    atomic_int done;
    atomic_init(&done, 0);
    drain_client d[16];
    pthread_t th[16];
    for (int i = 0; i < 16; i++) {
        d[i] = (drain_client){&s, &done, 0, 0, 0};
        pthread_create(&th[i], NULL, drain_main, &d[i]);
    }
    while (atomic_load(&done) < 40) sleep_ms(5);
    kill(s.pid, SIGTERM);
    int ok = 0, refused = 0, other = 0;
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        ok += d[i].ok;
        refused += d[i].refused;
        other += d[i].other;
    }
    fprintf(stderr, "info: SIGTERM under load: %d answered, %d refused at connect, %d lost\n", ok, refused, other);
    CHECK_INT_EQ(other, 0);
    CHECK(ok >= 40);
    CHECK_INT_EQ(refused, 16);
    check_stopped_clean(&s);
    /* every request the server accepted was answered: its access log agrees with the clients */
    CHECK_INT_EQ(log_count(&s, "POST /v1/predict 200"), ok);
    CHECK_INT_EQ(log_count(&s, "POST /v1/predict "), ok);
}

int main(void)
{
    harness_init();
    PREDICT_BIN = env_or("DEIT_PREDICT_BIN", "build/deit-predict");
    QUICK = atoi(env_or("DEIT_TEST_QUICK", "0"));
    MODEL_NAME = strrchr(H_MODEL, '/') ? strrchr(H_MODEL, '/') + 1 : H_MODEL;
    fprintf(stderr, "test_server: %s (logs in %s)\n", H_SERVER_BIN, H_LOGS);

    if (load_references()) {
        fprintf(stderr, "cannot run %s for reference predictions\n", PREDICT_BIN);
        CHECK(0);
        return check_summary("test_server");
    }
    server s;
    /* a 2 s idle timeout for the slow-client tests; the TSan run (no hostile tests) decodes so slowly
     * that a connection waiting behind a decode in the same HTTP thread could look idle that long */
    const char *extra[] = {"--max-body-mb", "2", "--conn-timeout-s", QUICK ? "120" : "2", "--max-images", "8", NULL};
    if (server_start(&s, "main", extra) == 0) {
        test_endpoints(&s);
        test_predictions(&s);
        if (!QUICK) test_hostile(&s);
        test_concurrent(&s, 32, QUICK ? 5 : 20);
        check_alive(&s, "the concurrent clients");
        check_stopped_clean(&s);
        CHECK(log_count(&s, "POST /v1/predict 200") >= 32 * (QUICK ? 5 : 20));
    } else {
        CHECK(0);
    }
    if (!QUICK) {
        test_auth();
        test_model_name();
        test_queue_full();
    }
    test_sigterm();
    for (int i = 0; i < N_REF; i++) {
        json_decref(REF[i]);
        free(REF_BLOB[i].data);
    }
    curl_global_cleanup();
    return check_summary("test_server");
}
