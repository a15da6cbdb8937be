/* test_explain_http.c — issue 15 over HTTP with libcurl: ?explain=1 (raw and multipart) returns the
 * same rollout maps and token_cosine as deit-predict --explain (which test_explain and test_cli hold
 * to the float64 reference), nothing changes without it, bad values are 400; GET /v1/models has
 * learned_token_cosine; GET / answers JSON clients with JSON and browsers with the page and its CSP;
 * KServe v2's class_rollout / distill_rollout / token_cosine outputs carry the same numbers. Env as test_server (DEIT_SERVER_BIN, DEIT_PREDICT_BIN, DEIT_TEST_MODEL). */
#include <jansson.h>

#include "../check.h"
#include "harness.h"

#define TIMEOUT_S 120
#define N_IMG 3
#define MAP_TOL 1e-6
static const char *IMAGES[N_IMG] = {"chelsea.png", "rocket.jpg", "coffee.png"};
static json_t *REF[N_IMG];     /* deit-predict --explain's line per image */
static blob BLOB[N_IMG];

static int load_references(void)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "%s --model %s --explain --threads 1",
                     env_or("DEIT_PREDICT_BIN", "build/deit-predict"), H_MODEL);
    for (int i = 0; i < N_IMG; i++) n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/%s", H_IMAGES, IMAGES[i]);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    static char line[1 << 20];
    int i = 0;
    while (i < N_IMG && fgets(line, sizeof line, p)) REF[i++] = json_loads(line, 0, NULL);
    int rc = pclose(p);
    for (int k = 0; k < N_IMG; k++) BLOB[k] = image(IMAGES[k]);
    return i == N_IMG && rc == 0 && REF[N_IMG - 1] ? 0 : -1;
}

/* Largest difference between two JSON number arrays (1e30 when shapes differ). */
static double max_diff(json_t *a, json_t *b)
{
    if (!json_is_array(a) || !json_is_array(b) || json_array_size(a) != json_array_size(b) || !json_array_size(a))
        return 1e30;
    double md = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        double d = fabs(json_number_value(json_array_get(a, i)) - json_number_value(json_array_get(b, i)));
        md = d > md ? d : md;
    }
    return md;
}

/* A server prediction's explain object against deit-predict's for image i. */
static void check_explain(json_t *pred, int i, const char *what)
{
    json_t *ex = json_object_get(pred, "explain"), *want = json_object_get(REF[i], "explain");
    CHECK_MSG(json_is_object(ex), "%s %s: no explain object", what, IMAGES[i]);
    CHECK_MSG(json_is_object(want), "deit-predict --explain %s: no explain object", IMAGES[i]);
    if (!json_is_object(ex) || !json_is_object(want)) return;
    json_t *grid = json_object_get(ex, "grid");
    CHECK_MSG(json_equal(grid, json_object_get(want, "grid")), "%s %s: grid", what, IMAGES[i]);
    json_t *r = json_object_get(ex, "rollout"), *rw = json_object_get(want, "rollout");
    size_t G = (size_t)(json_integer_value(json_array_get(grid, 0)) * json_integer_value(json_array_get(grid, 1)));
    CHECK_INT_EQ(json_array_size(json_object_get(r, "class_token")), G);
    CHECK_MSG(max_diff(json_object_get(r, "class_token"), json_object_get(rw, "class_token")) <= MAP_TOL,
              "%s %s: class_token map differs from deit-predict", what, IMAGES[i]);
    if (json_is_null(json_object_get(rw, "distill_token"))) {
        CHECK(json_is_null(json_object_get(r, "distill_token")) && json_is_null(json_object_get(ex, "token_cosine")));
    } else {
        CHECK_MSG(max_diff(json_object_get(r, "distill_token"), json_object_get(rw, "distill_token")) <= MAP_TOL,
                  "%s %s: distill_token map differs", what, IMAGES[i]);
        CHECK_NEAR(json_number_value(json_object_get(ex, "token_cosine")),
                   json_number_value(json_object_get(want, "token_cosine")), MAP_TOL);
    }
}

static json_t *body_json(const resp *r) { return json_loadb(r->body, r->len, 0, NULL); }

/* POST /v2/models/{name}/infer of all N_IMG images (binary-data extension) asking for `outputs` (a JSON
 * array's contents). */
static resp v2_infer(CURL *c, const server *s, const char *name, const char *outputs)
{
    size_t elen = 0;
    for (int i = 0; i < N_IMG; i++) elen += 4 + BLOB[i].len;
    char hdr[1024];
    int hl = snprintf(hdr, sizeof hdr, "{\"inputs\":[{\"name\":\"image\",\"shape\":[%d],\"datatype\":\"BYTES\","
                      "\"parameters\":{\"binary_data_size\":%zu}}],\"outputs\":[%s]}", N_IMG, elen, outputs);
    char *b = malloc((size_t)hl + elen), path[256], hcl[64];
    memcpy(b, hdr, (size_t)hl);
    size_t at = (size_t)hl;
    for (int i = 0; i < N_IMG; i++) {
        uint32_t L = (uint32_t)BLOB[i].len;
        unsigned char le[4] = {(unsigned char)L, (unsigned char)(L >> 8), (unsigned char)(L >> 16), (unsigned char)(L >> 24)};
        memcpy(b + at, le, 4);
        memcpy(b + at + 4, BLOB[i].data, BLOB[i].len);
        at += 4 + BLOB[i].len;
    }
    snprintf(path, sizeof path, "/v2/models/%s/infer", name);
    snprintf(hcl, sizeof hcl, "Inference-Header-Content-Length: %d", hl);
    const char *hb[] = {"Content-Type: application/octet-stream", hcl, NULL};
    resp r = request(c, "POST", url_of(s, path), hb, b, at, TIMEOUT_S);
    free(b);
    return r;
}

/* The explanation as v2 outputs: class_rollout (JSON), distill_rollout (binary data) and token_cosine
 * for the three images in one request hold what ?explain=1 gives each image, as [3, gh, gw] and [3];
 * a one-head model (served by s1 as name1) offers class_rollout only. */
static void check_v2_explain(CURL *c, const server *s, const server *s1, const char *name1)
{
    const char *name = strrchr(H_MODEL, '/') ? strrchr(H_MODEL, '/') + 1 : H_MODEL;
    resp r = v2_infer(c, s, name,
                      "{\"name\":\"class_rollout\"},{\"name\":\"distill_rollout\",\"parameters\":{\"binary_data\":true}},"
                      "{\"name\":\"token_cosine\"}");
    CHECK_MSG(r.status == 200 && has_header(&r, "Content-Type", "application/octet-stream"), "v2 explain: %ld %s",
              r.status, r.body);
    long hlen = -1;
    for (const char *p = r.hdrs; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncasecmp(p, "Inference-Header-Content-Length:", 32) == 0) hlen = strtol(p + 32, NULL, 10);
    json_t *j = hlen > 0 && (size_t)hlen <= r.len ? json_loadb(r.body, (size_t)hlen, 0, NULL) : NULL;
    json_t *o = json_object_get(j, "outputs");
    json_t *grid = json_object_get(json_object_get(REF[0], "explain"), "grid");
    long long gh = json_integer_value(json_array_get(grid, 0)), gw = json_integer_value(json_array_get(grid, 1));
    size_t G = (size_t)(gh * gw);
    CHECK_MSG(json_array_size(o) == 3 && G > 0, "v2 explain outputs: %s", r.body);
    json_t *shape3 = json_pack("[i, I, I]", N_IMG, gh, gw), *shape1 = json_pack("[i]", N_IMG);
    json_t *cr = json_array_get(o, 0), *dr = json_array_get(o, 1), *tc = json_array_get(o, 2);
    CHECK(json_equal(json_object_get(cr, "shape"), shape3) && json_equal(json_object_get(dr, "shape"), shape3));
    CHECK(json_equal(json_object_get(tc, "shape"), shape1));
    CHECK_INT_EQ(json_array_size(json_object_get(cr, "data")), N_IMG * G);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(dr, "parameters"), "binary_data_size")),
                 (long long)(N_IMG * G * sizeof(float)));
    int ok = json_array_size(json_object_get(cr, "data")) == N_IMG * G && hlen > 0 &&
             r.len == (size_t)hlen + N_IMG * G * sizeof(float);
    for (int i = 0; ok && i < N_IMG; i++) {
        json_t *ex = json_object_get(REF[i], "explain"), *ro = json_object_get(ex, "rollout");
        double dc = 0, dd = 0;
        for (size_t k = 0; k < G; k++) {
            float v;
            memcpy(&v, r.body + hlen + ((size_t)i * G + k) * sizeof v, sizeof v);
            dc = fmax(dc, fabs(json_number_value(json_array_get(json_object_get(cr, "data"), (size_t)i * G + k)) -
                               json_number_value(json_array_get(json_object_get(ro, "class_token"), k))));
            dd = fmax(dd, fabs((double)v - json_number_value(json_array_get(json_object_get(ro, "distill_token"), k))));
        }
        CHECK_MSG(dc <= MAP_TOL && dd <= MAP_TOL, "v2 %s: class_rollout off by %g, distill_rollout by %g", IMAGES[i],
                  dc, dd);
        CHECK_NEAR(json_number_value(json_array_get(json_object_get(tc, "data"), (size_t)i)),
                   json_number_value(json_object_get(ex, "token_cosine")), MAP_TOL);
    }
    json_decref(shape3);
    json_decref(shape1);
    json_decref(j);
    resp_free(&r);

    /* without them nothing is explained: the three probability outputs only */
    r = v2_infer(c, s, name, "");
    j = body_json(&r);
    CHECK_MSG(r.status == 200 && json_array_size(json_object_get(j, "outputs")) == 3 && !strstr(r.body, "rollout"),
              "v2 without outputs: %ld %s", r.status, r.body);
    json_decref(j);
    resp_free(&r);
    r = v2_infer(c, s, name, "{\"name\":\"token_cosine\",\"parameters\":{\"classification\":1}}");
    CHECK_MSG(r.status == 400 && strstr(r.body, "classification"), "classification on token_cosine: %ld %s", r.status,
              r.body);
    resp_free(&r);

    /* one head: class_rollout yes, the second token's outputs 400 naming why; metadata agrees */
    r = v2_infer(c, s1, name1, "{\"name\":\"class_rollout\"}");
    j = body_json(&r);
    json_t *d0 = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
    CHECK_MSG(r.status == 200 && json_array_size(d0) == N_IMG * G, "one head, class_rollout: %ld %.200s", r.status,
              r.body);
    json_decref(j);
    resp_free(&r);
    const char *second[] = {"{\"name\":\"distill_rollout\"}", "{\"name\":\"fused_probs\"},{\"name\":\"token_cosine\"}"};
    for (int k = 0; k < 2; k++) {
        r = v2_infer(c, s1, name1, second[k]);
        j = body_json(&r);
        const char *msg = json_string_value(json_object_get(j, "error"));
        CHECK_MSG(r.status == 400 && msg && strstr(msg, "is not available for this model: the model has no second token"),
                  "one head, %s: %ld %s", second[k], r.status, r.body);
        json_decref(j);
        resp_free(&r);
    }
    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s", name1);
    r = request(c, "GET", url_of(s1, path), NULL, NULL, 0, TIMEOUT_S);
    j = body_json(&r);
    o = json_object_get(j, "outputs");
    const char *fourth = json_string_value(json_object_get(json_array_get(o, 3), "name"));
    CHECK_MSG(json_array_size(o) == 4 && fourth && strcmp(fourth, "class_rollout") == 0, "one-head metadata: %s",
              r.body);
    json_decref(j);
    resp_free(&r);
}

int main(void)
{
    harness_init();
    if (load_references()) {
        fprintf(stderr, "cannot run deit-predict --explain for references\n");
        CHECK(0);
        return check_summary("test_explain_http");
    }
    server s;
    if (server_start(&s, "explain", NULL) != 0) {
        CHECK(0);
        return check_summary("test_explain_http");
    }
    CURL *c = curl_easy_init();
    const char *png[] = {"Content-Type: application/octet-stream", NULL};

    /* raw bodies, one image each */
    for (int i = 0; i < N_IMG; i++) {
        resp r = request(c, "POST", url_of(&s, "/v1/predict?explain=1&top_k=2"), png, BLOB[i].data, BLOB[i].len,
                         TIMEOUT_S);
        json_t *j = body_json(&r);
        CHECK_MSG(r.status == 200, "%s: %ld %s", IMAGES[i], r.status, r.body);
        check_explain(json_array_get(json_object_get(j, "predictions"), 0), i, "raw");
        json_decref(j);
        resp_free(&r);
    }
    /* multipart, all at once: one explain per prediction, in upload order */
    resp r = post_files(c, url_of(&s, "/v1/predict?explain=1"), "image", BLOB, IMAGES, N_IMG, TIMEOUT_S);
    json_t *j = body_json(&r);
    CHECK_MSG(r.status == 200, "multipart: %ld %s", r.status, r.body);
    CHECK_INT_EQ(json_array_size(json_object_get(j, "predictions")), N_IMG);
    for (int i = 0; i < N_IMG; i++) check_explain(json_array_get(json_object_get(j, "predictions"), (size_t)i), i, "multipart");
    json_decref(j);
    resp_free(&r);

    /* without explain=1 (absent, or 0) the answer has no explain key */
    for (int k = 0; k < 2; k++) {
        r = request(c, "POST", url_of(&s, k ? "/v1/predict?explain=0" : "/v1/predict"), png, BLOB[0].data,
                    BLOB[0].len, TIMEOUT_S);
        CHECK_MSG(r.status == 200 && r.body && !strstr(r.body, "explain"), "no explain asked: %s", r.body);
        resp_free(&r);
    }
    const char *bad[] = {"/v1/predict?explain=2", "/v1/predict?explain=yes", "/v1/predict?explain=-1",
                         "/v1/predict?explain=", "/v1/predict?explain=00000000001"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        r = request(c, "POST", url_of(&s, bad[k]), png, BLOB[0].data, BLOB[0].len, TIMEOUT_S);
        CHECK_MSG(r.status == 400 && r.body && strstr(r.body, "explain"), "%s: %ld %s", bad[k], r.status, r.body);
        resp_free(&r);
    }

    /* /v1/models: learned_token_cosine (the reference value of the default test model) */
    r = request(c, "GET", url_of(&s, "/v1/models"), NULL, NULL, 0, TIMEOUT_S);
    j = body_json(&r);
    json_t *m = json_array_get(json_object_get(j, "models"), 0), *ltc = json_object_get(m, "learned_token_cosine");
    CHECK_MSG(json_is_number(ltc) || json_is_null(ltc), "learned_token_cosine: %s", r.body);
    if (strstr(H_MODEL, "timm-deit-reduced") && !strstr(H_MODEL, "384"))
        CHECK_NEAR(json_number_value(ltc), 0.1352928640138402, 1e-6); /* tools/explain_ref.py */
    json_decref(j);
    resp_free(&r);

    /* GET /: JSON for JSON clients (no Accept, a wildcard, application/json), the page for browsers */
    const char *accept_json[][2] = {{NULL, NULL}, {"Accept: */*", NULL}, {"Accept: application/json", NULL}};
    for (int k = 0; k < 3; k++) {
        r = request(c, "GET", url_of(&s, "/"), accept_json[k][0] ? accept_json[k] : NULL, NULL, 0, TIMEOUT_S);
        j = body_json(&r);
        CHECK_MSG(r.status == 200 && has_header(&r, "Content-Type", "application/json") &&
                  json_is_false(json_object_get(j, "api_key_required")) && has_header(&r, "Vary", "Accept"),
                  "GET / as JSON client %d: %ld %s", k, r.status, r.body);
        json_decref(j);
        resp_free(&r);
    }
    const char *browser[] = {"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", NULL};
    r = request(c, "GET", url_of(&s, "/"), browser, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.status == 200 && has_header(&r, "Content-Type", "text/html") && r.body &&
              strstr(r.body, "<!doctype html>") && strstr(r.body, "v1/predict?explain=1"),
              "GET / as a browser: %ld", r.status);
    CHECK(has_header(&r, "Content-Security-Policy", "default-src 'none'; script-src 'sha256-"));
    CHECK(has_header(&r, "X-Content-Type-Options", "nosniff") && has_header(&r, "Vary", "Accept"));
    resp_free(&r);
    r = request(c, "HEAD", url_of(&s, "/"), browser, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.rc == CURLE_OK && r.status == 200 && has_header(&r, "Content-Type", "text/html") && r.len == 0,
              "HEAD / as a browser: curl %d, %ld, %zu body bytes", (int)r.rc, r.status, r.len);
    resp_free(&r);
    r = request(c, "POST", url_of(&s, "/"), browser, "x", 1, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 405);
    resp_free(&r);

    /* the same explanation through KServe v2, beside a one-head model's server */
    server s1;
    if (server_start_model(&s1, "explain-1head", "tests/fixtures/models/timm-deit-nodist-reduced", NULL, NULL,
                           "http") == 0) {
        check_v2_explain(c, &s, &s1, "timm-deit-nodist-reduced");
        CHECK_INT_EQ(server_stop(&s1), 0);
    } else {
        CHECK_MSG(0, "one-head server did not start");
    }

    curl_easy_cleanup(c);
    CHECK_INT_EQ(server_stop(&s), 0);
    /* the access log counts body bytes sent, as nginx does: none for HEAD, the page's for GET */
    blob lg = read_file(s.log);
    const char *head = lg.data ? strstr(lg.data, " HEAD / 200 ") : NULL;
    const char *eol = head ? strchr(head, '\n') : NULL;
    const char *out0 = head ? strstr(head, " out=0 end=ok") : NULL;
    CHECK_MSG(out0 && eol && out0 < eol, "HEAD / access line: %.120s", head ? head : "(none)");
    free(lg.data);
    for (int i = 0; i < N_IMG; i++) {
        json_decref(REF[i]);
        free(BLOB[i].data);
    }
    curl_global_cleanup();
    return check_summary("test_explain_http");
}
