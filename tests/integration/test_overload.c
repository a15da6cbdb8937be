/* test_overload.c — more work than the server takes: 64 clients against a queue of 8 (200 or a
 * 503 with Retry-After, bounded memory, then a wave cut by SIGTERM where every accepted
 * request is answered), and a queue of 1 under 32 clients. DEIT_TEST_QUICK=1 (TSan): the first only,
 * with fewer requests. */
#include "checks.h"

/* ---- overload ---------------------------------------------------------------------------------- */

#define OVL_CLIENTS 64
#define OVL_TIMEOUT_S 10 /* --request-timeout-s of the overload server, times SLACK */

typedef struct {
    const server *s;
    const blob *img;
    int n;                     /* requests to send; 0: until refused (SIGTERM wave) */
    int multi;                 /* send multipart requests of 4 copies of img */
    atomic_int *answered;      /* shared progress counter */
    int ok, busy, busy_no_retry, timeout, other, refused, reset;
    double max_busy_s, max_s;
} ovl_client;

static void *ovl_main(void *arg)
{
    ovl_client *cl = arg;
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    for (int i = 0; cl->n == 0 ? i < 500 : i < cl->n; i++) {
        /* odd clients send 4 images at once: half the queue per request, so it overflows even when
         * inference is fast next to decoding */
        blob four[4] = {*cl->img, *cl->img, *cl->img, *cl->img};
        const char *url = url_of(cl->s, "/v1/predict?top_k=1");
        resp r = cl->multi ? post_files(c, url, "image", four, NULL, 4, 60)
                           : request(c, "POST", url, h, cl->img->data, cl->img->len, 60);
        if (r.secs > cl->max_s) cl->max_s = r.secs;
        if (r.rc == CURLE_OK && r.status == 200 && strstr(r.body, "\"predictions\"")) {
            cl->ok++;
        } else if (r.rc == CURLE_OK && r.status == 503) {
            cl->busy++;
            if (!has_header(&r, "Retry-After", NULL)) cl->busy_no_retry++;
            if (r.secs > cl->max_busy_s) cl->max_busy_s = r.secs;
        } else if (r.rc == CURLE_OK && r.status == 504) {
            cl->timeout++;
        } else if (r.rc == CURLE_COULDNT_CONNECT && cl->n == 0) {
            cl->refused++; /* the draining server stopped listening: not accepted, so not lost */
            resp_free(&r);
            break;
        } else if ((r.rc == CURLE_RECV_ERROR || r.rc == CURLE_SEND_ERROR || r.rc == CURLE_GOT_NOTHING) &&
                   cl->n == 0) {
            cl->reset++; /* reset in the listen backlog at drain: never reached the server (log check below) */
            resp_free(&r);
            break;
        } else {
            cl->other++;
            fprintf(stderr, "overload: curl %s, HTTP %ld %.200s\n", curl_easy_strerror(r.rc), r.status, r.body);
        }
        if (r.rc == CURLE_OK) atomic_fetch_add(cl->answered, 1);
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

typedef struct {
    int ok, busy, busy_no_retry, timeout, other, refused, reset;
    double max_busy_s, max_s;
} ovl_total;

static ovl_total ovl_run(const server *s, const blob *imgs, int n_imgs, int per_client, int sigterm_after)
{
    static ovl_client cl[OVL_CLIENTS];
    pthread_t th[OVL_CLIENTS];
    atomic_int answered;
    atomic_init(&answered, 0);
    for (int i = 0; i < OVL_CLIENTS; i++) {
        cl[i] = (ovl_client){.s = s, .img = &imgs[(i / 2) % n_imgs], .n = per_client, .multi = i % 2,
                             .answered = &answered};
        pthread_create(&th[i], NULL, ovl_main, &cl[i]);
    }
    if (sigterm_after > 0) {
        for (double t0 = now_s(); atomic_load(&answered) < sigterm_after && now_s() - t0 < 120;) sleep_ms(5);
        kill(s->pid, SIGTERM);
    }
    ovl_total t = {0};
    for (int i = 0; i < OVL_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        t.ok += cl[i].ok;
        t.busy += cl[i].busy;
        t.busy_no_retry += cl[i].busy_no_retry;
        t.timeout += cl[i].timeout;
        t.other += cl[i].other;
        t.refused += cl[i].refused;
        t.reset += cl[i].reset;
        if (cl[i].max_busy_s > t.max_busy_s) t.max_busy_s = cl[i].max_busy_s;
        if (cl[i].max_s > t.max_s) t.max_s = cl[i].max_s;
    }
    return t;
}

/* 64 clients against --queue 8 with one single-image worker, so the queue really overflows: every
 * request is 200 or a 503 with Retry-After once its --queue-wait-ms is over, nothing waits for the
 * request timeout, memory stays bounded. Then a second wave is cut by SIGTERM: every request the
 * server accepted is answered. The server runs DeiT-tiny (DEIT_TEST_BIG_MODEL), not the reduced
 * test model: a forward pass of the reduced model is faster than decoding the upload, so the worker
 * kept up with four HTTP threads and the queue overflowed once in 384 requests, or never (a CI run). */
static void test_overload(void)
{
    server s;
    char tmo[16];
    int timeout_s = (int)(OVL_TIMEOUT_S * SLACK);
    snprintf(tmo, sizeof tmo, "%d", timeout_s);
    const char *extra[] = {"--queue", "8", "--max-images", "8", "--workers", "1", "--max-batch", "1",
                           "--http-threads", "4", "--request-timeout-s", tmo, "--grace-s", "60", NULL};
    const char *big = env_or("DEIT_TEST_BIG_MODEL", "../shared/fixtures/models/timm-deit-tiny-distilled");
    if (model_kb(big) == 0) {
        CHECK_MSG(0, "overload: no model.safetensors in %s (it comes with ../shared/fixtures)", big);
        return;
    }
    if (server_start_model(&s, "overload", big, extra, NULL, "http")) {
        CHECK(0);
        return;
    }
    blob imgs[2] = {image("tiny_7x5.png"), image("chelsea_q60_420.jpg")};
    int per = QUICK ? 2 : 6;
    rss_watch w;
    rss_start(&w, s.pid);
    double t0 = now_s();
    ovl_total t = ovl_run(&s, imgs, 2, per, 0);
    double el = now_s() - t0;
    long peak = rss_stop(&w);
    fprintf(stderr, "info: overload: %d clients x %d requests, queue 8: %d ok, %d answered 503 (slowest 503 %.3f s), "
                    "%d 504, %d other; slowest request %.2f s; %.1f s\n",
            OVL_CLIENTS, per, t.ok, t.busy, t.max_busy_s, t.timeout, t.other, t.max_s, el);
    CHECK_INT_EQ(t.ok + t.busy, OVL_CLIENTS * per); /* nothing but 200 or 503 */
    CHECK_INT_EQ(t.other + t.timeout, 0);
    CHECK_INT_EQ(t.busy_no_retry, 0);
    CHECK(t.ok > 0);
    /* the single worker is the bottleneck, so the queue must have overflowed */
    CHECK_MSG(t.busy > 0, "64 clients never filled a queue of 8");
    CHECK_MSG(t.max_busy_s < 2.0 * SLACK, "a 503 took %.2f s", t.max_busy_s);
    CHECK_MSG(t.max_s < timeout_s, "a request took %.2f s (--request-timeout-s %d)", t.max_s, timeout_s);
    check_rss_of("overload", peak, model_kb(big));
    CHECK_MSG(get_status(url_of(&s, "/readyz")) == 200, "not ready after the overload");

    /* second wave, SIGTERM once 100 requests are answered */
    /* an access line is written once its answer has gone out, so the first wave's last lines may
     * still be coming: wait for all of them (every request of the first wave was answered) */
    int before = log_count_wait(&s, "POST /v1/predict ", t.ok + t.busy, 10 * SLACK);
    t = ovl_run(&s, imgs, 2, 0, 100);
    int rc = server_stop(&s); /* already signalled: waits for the exit */
    int logged = log_count(&s, "POST /v1/predict ") - before;
    fprintf(stderr, "info: SIGTERM under overload: %d ok, %d 503, %d refused at connect, %d reset before "
                    "accept, %d lost; server logged %d; exit %d\n",
            t.ok, t.busy, t.refused, t.reset, t.other + t.timeout, logged, rc);
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(t.other + t.timeout, 0);
    CHECK_INT_EQ(t.busy_no_retry, 0);
    CHECK_INT_EQ(t.refused + t.reset, OVL_CLIENTS); /* every client ended at the closed door */
    CHECK_INT_EQ(logged, t.ok + t.busy);             /* the server answered exactly what it accepted */
    CHECK_MSG(log_count(&s, "Sanitizer") == 0, "sanitizer report in %s", s.log);
    free(imgs[0].data);
    free(imgs[1].data);
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

int main(void)
{
    test_init("test_overload");
    if (load_references()) {
        fprintf(stderr, "cannot run %s for reference predictions\n", PREDICT_BIN);
        CHECK(0);
        return check_summary("test_overload");
    }
    test_overload();
    if (!QUICK)
        test_queue_full();
    for (int i = 0; i < N_REF; i++) {
        json_decref(REF[i]);
        free(REF_BLOB[i].data);
    }
    curl_global_cleanup();
    return check_summary("test_overload");
}
