/* checks.h — what the integration-test binaries share on top of harness.h: one setup (test_init),
 * the server-stopped checks, error-body checks, deit-predict's reference predictions, a pool of
 * predicting clients and the RSS watch. Header-only (static inline): each test binary is one
 * translation unit and uses a part of it.
 *
 * Environment (every test_*.c): DEIT_SERVER_BIN (default build/deit-server; the ASan/TSan builds run
 * the same tests), DEIT_PREDICT_BIN (build/deit-predict), DEIT_TEST_MODEL
 * (tests/fixtures/models/timm-deit-reduced), DEIT_TEST_IMAGES (tests/fixtures/images), DEIT_TEST_LOGS
 * (build/test-logs: one stderr log per server), DEIT_TEST_QUICK=1 (the ThreadSanitizer run: each
 * binary says what it keeps), DEIT_TEST_SANITIZER=1 (or a server path containing asan/tsan): timing
 * bounds x4 (tsan x8), no RSS bounds. */
#ifndef DEIT_TEST_CHECKS_H
#define DEIT_TEST_CHECKS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../check.h"
#include "harness.h"

#define TIMEOUT_S 120L   /* bound on each HTTP exchange */
#define RCV_TIMEOUT_S 15 /* raw sockets: how long raw_read_all waits for the server to answer or close */
#define RSS_HEADROOM_KB (200L * 1024) /* the bound: model size + 200 MB */

static const char *PREDICT_BIN, *MODEL_NAME;
static int QUICK;
static double SLACK = 1.0;     /* timing bounds are multiplied by this (sanitized servers are slower) */
static int CHECK_RSS = 1;      /* RSS bounds only mean something for the release server */
static long MODEL_KB;          /* size of model.safetensors, for the RSS bound */

/* Size of dir/model.safetensors in KiB (0 when missing), for the RSS bound. */
static inline long model_kb(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    struct stat stt;
    return stat(p, &stt) == 0 ? (long)(stt.st_size / 1024) : 0;
}

/* The common start of every test binary's main(): harness, environment, the banner line. */
static inline void test_init(const char *name)
{
    harness_init();
    PREDICT_BIN = env_or("DEIT_PREDICT_BIN", "build/deit-predict");
    QUICK = atoi(env_or("DEIT_TEST_QUICK", "0"));
    MODEL_NAME = strrchr(H_MODEL, '/') ? strrchr(H_MODEL, '/') + 1 : H_MODEL;
    if (sanitized_server()) {
        /* ThreadSanitizer slows the decoding in the HTTP threads most, and 503s wait behind it */
        SLACK = strstr(H_SERVER_BIN, "tsan") ? 8.0 : 4.0;
        CHECK_RSS = 0;
    }
    MODEL_KB = model_kb(H_MODEL);
    fprintf(stderr, "%s: %s (logs in %s)%s\n", name, H_SERVER_BIN, H_LOGS, QUICK ? " quick" : "");
}

/* The ThreadSanitizer run (QUICK) leaves out the binaries whose checks are about timing, limits or
 * hostile input rather than threads: say so, instead of a bare "0 passed". */
static inline int skip_under_tsan(const char *name, const char *what)
{
    fprintf(stderr, "%s: skipped in the ThreadSanitizer run (%s: the release and ASan/UBSan runs check them)\n",
            name, what);
    return check_summary(name);
}

/* ---- stopping a server ------------------------------------------------------------------------- */

/* SIGTERM, then: exit status 0 and no sanitizer report in the log. */
static inline void check_stopped(server *s)
{
    int rc = server_stop(s);
    CHECK_MSG(rc == 0, "server exit status %d (log %s)", rc, s->log);
    CHECK_MSG(log_count(s, "Sanitizer") == 0, "sanitizer report in %s", s->log);
}

/* check_stopped, and the server also logged its clean stop line (exactly once). */
static inline void check_stopped_clean(server *s)
{
    check_stopped(s);
    CHECK_MSG(log_count(s, "stopped") == 1, "no clean stop line in %s", s->log);
}

/* ---- answers ------------------------------------------------------------------------------------ */

static inline json_t *body_json(const resp *r)
{
    return json_loadb(r->body, r->len, 0, NULL);
}

/* Status and, for errors, the shape of the error body. */
static inline void expect_error(const resp *r, long status, int v2, const char *what)
{
    CHECK_MSG(r->rc == CURLE_OK, "%s: curl error %s", what, curl_easy_strerror(r->rc));
    CHECK_MSG(r->status == status, "%s: status %ld, expected %ld (%s)", what, r->status, status, r->body);
    json_t *j = body_json(r);
    json_t *e = json_object_get(j, "error");
    if (v2 == SHAPE_TORCHSERVE) {
        CHECK_MSG(json_integer_value(json_object_get(j, "code")) == status && json_object_size(j) == 3 &&
                      json_is_string(json_object_get(j, "type")) && json_is_string(json_object_get(j, "message")),
                  "%s: TorchServe error body %s", what, r->body);
    } else if (v2) {
        CHECK_MSG(json_is_string(e), "%s: v2 error must be a string: %s", what, r->body);
    } else {
        CHECK_MSG(json_integer_value(json_object_get(e, "code")) == status &&
                  json_is_string(json_object_get(e, "message")), "%s: error body %s", what, r->body);
    }
    json_decref(j);
}


static inline void check_alive(const server *s, const char *after)
{
    CHECK_MSG(get_status(url_of(s, "/healthz")) == 200, "/healthz not answering after %s", after);
}

/* ---- reference predictions from deit-predict --------------------------------------------------- */

#define N_REF 6
static const char *REF_IMAGES[N_REF] = {"chelsea.png", "rocket.jpg", "horse.png", "camera.png",
                                        "chelsea_palette.gif", "tiny_7x5.png"};
static json_t *REF[N_REF];     /* deit-predict's line per image, top-k = all classes */
static blob REF_BLOB[N_REF];

static inline int load_references(void)
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
static inline double ref_score(int img, const char *head, json_int_t index)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(REF[img], head), i, e)
        if (json_integer_value(json_object_get(e, "index")) == index) return json_real_value(json_object_get(e, "score"));
    return -1;
}

static inline json_int_t ref_top(int img, const char *head)
{
    return json_integer_value(json_object_get(json_array_get(json_object_get(REF[img], head), 0), "index"));
}

/* Batched BLAS changes the last float bits; labels, order and scores must otherwise agree. */
#define SCORE_TOL 2e-5

/* One server prediction object against deit-predict's for image img. Returns mismatches. */
static inline int compare_prediction(json_t *pred, int img, int top_k)
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

/* ---- predicting clients ----------------------------------------------------------------------------- */

typedef struct {
    const server *s;
    int id, n;
    int ok, bad, busy, busy_without_retry;
} client;

static inline void *client_main(void *arg)
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

static inline void run_clients(const server *s, int n_clients, int per_client, client *cl)
{
    pthread_t th[64];
    for (int i = 0; i < n_clients; i++) {
        cl[i] = (client){s, i, per_client, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < n_clients; i++) pthread_join(th[i], NULL);
}

/* ---- RSS sampling ---------------------------------------------------------------------------- */

/* A thread that samples the server's VmRSS every 20 ms and keeps the peak. */
typedef struct {
    pid_t pid;
    atomic_int stop;
    atomic_long peak_kb;
    pthread_t th;
} rss_watch;

static inline void *rss_main(void *arg)
{
    rss_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        long kb = rss_kb(w->pid);
        if (kb > atomic_load(&w->peak_kb)) atomic_store(&w->peak_kb, kb);
        sleep_ms(20);
    }
    return NULL;
}

static inline void rss_start(rss_watch *w, pid_t pid)
{
    w->pid = pid;
    atomic_init(&w->stop, 0);
    atomic_init(&w->peak_kb, rss_kb(pid));
    pthread_create(&w->th, NULL, rss_main, w);
}

static inline long rss_stop(rss_watch *w)
{
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    return atomic_load(&w->peak_kb);
}

/* The memory bound, for a server on a model of `model_kb` KiB. */
static inline void check_rss_of(const char *what, long peak_kb, long model_kb)
{
    fprintf(stderr, "info: %s: server peak RSS %.1f MB (model %.1f MB)\n", what, peak_kb / 1024.0, model_kb / 1024.0);
    if (CHECK_RSS)
        CHECK_MSG(peak_kb > 0 && peak_kb < model_kb + RSS_HEADROOM_KB, "%s: peak RSS %ld KiB over model + 200 MB",
                  what, peak_kb);
}

static inline void check_rss(const char *what, long peak_kb)
{
    check_rss_of(what, peak_kb, MODEL_KB);
}

#endif
