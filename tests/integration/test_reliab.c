/* test_reliab.c — reliability and security over HTTP (issue 7): overload against a small queue, SIGTERM
 * under overload, slowloris clients and idle timeouts, decompression bombs and absurd images, faults at
 * start (missing/corrupt model) and per request, TLS and the API key, the queue timeout (504). Loopback
 * only, bounded in time.
 *
 * Environment: as test_server.c (DEIT_SERVER_BIN, DEIT_TEST_MODEL, DEIT_TEST_IMAGES, DEIT_TEST_LOGS);
 * DEIT_TEST_QUICK=1 (the ThreadSanitizer run: overload and SIGTERM only, fewer requests);
 * DEIT_TEST_SANITIZER=1 (or a server path containing asan/tsan): timing bounds x4 (tsan x8), no RSS bounds. */
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <jpeglib.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zlib.h>

#include "../check.h"
#include "harness.h"

static int QUICK;
static double SLACK = 1.0;     /* timing bounds are multiplied by this (sanitized servers are slower) */
static int CHECK_RSS = 1;      /* RSS bounds only mean something for the release server */
static long MODEL_KB;          /* size of model.safetensors, for the RSS bound */
#define RSS_HEADROOM_KB (200L * 1024) /* the bound: model size + 200 MB */

/* ---- RSS sampling ---------------------------------------------------------------------------- */

/* A thread that samples the server's VmRSS every 20 ms and keeps the peak. */
typedef struct {
    pid_t pid;
    atomic_int stop;
    atomic_long peak_kb;
    pthread_t th;
} rss_watch;

static void *rss_main(void *arg)
{
    rss_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        long kb = rss_kb(w->pid);
        if (kb > atomic_load(&w->peak_kb)) atomic_store(&w->peak_kb, kb);
        sleep_ms(20);
    }
    return NULL;
}

static void rss_start(rss_watch *w, pid_t pid)
{
    w->pid = pid;
    atomic_init(&w->stop, 0);
    atomic_init(&w->peak_kb, rss_kb(pid));
    pthread_create(&w->th, NULL, rss_main, w);
}

static long rss_stop(rss_watch *w)
{
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    return atomic_load(&w->peak_kb);
}

static void check_rss(const char *what, long peak_kb)
{
    fprintf(stderr, "info: %s: server peak RSS %.1f MB (model %.1f MB)\n", what, peak_kb / 1024.0, MODEL_KB / 1024.0);
    if (CHECK_RSS)
        CHECK_MSG(peak_kb > 0 && peak_kb < MODEL_KB + RSS_HEADROOM_KB, "%s: peak RSS %ld KiB over model + 200 MB",
                  what, peak_kb);
}

static void check_stopped_clean(server *s)
{
    int rc = server_stop(s);
    CHECK_MSG(rc == 0, "server exit status %d (log %s)", rc, s->log);
    CHECK_MSG(log_count(s, "Sanitizer") == 0, "sanitizer report in %s", s->log);
}

/* ---- overload ---------------------------------------------------------------------------------- */

#define OVL_CLIENTS 64
#define OVL_TIMEOUT_S 10 /* --request-timeout-s of the overload server */

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
 * request is 200 or an immediate 503 with Retry-After, nothing waits for the request timeout, memory
 * stays bounded. Then a second wave is cut by SIGTERM: every request the server accepted is answered. */
static void test_overload(void)
{
    server s;
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", OVL_TIMEOUT_S);
    const char *extra[] = {"--queue", "8", "--max-images", "8", "--workers", "1", "--max-batch", "1",
                           "--http-threads", "4", "--request-timeout-s", tmo, "--grace-s", "60", NULL};
    if (server_start(&s, "overload", extra)) {
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
    /* release: the single worker is the bottleneck, so the queue must have overflowed; a sanitized
     * server may be decode-bound instead (OpenBLAS is not instrumented) */
    if (!sanitized_server()) CHECK_MSG(t.busy > 0, "64 clients never filled a queue of 8");
    CHECK_MSG(t.max_busy_s < 2.0 * SLACK, "a 503 took %.2f s", t.max_busy_s);
    CHECK_MSG(t.max_s < OVL_TIMEOUT_S * SLACK, "a request took %.2f s (--request-timeout-s %d)", t.max_s,
              OVL_TIMEOUT_S);
    check_rss("overload", peak);
    CHECK_MSG(get_status(url_of(&s, "/readyz")) == 200, "not ready after the overload");

    /* second wave, SIGTERM once 100 requests are answered */
    int before = log_count(&s, "POST /v1/predict ");
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

/* ---- queue timeout ------------------------------------------------------------------------------ */

#define QT_CLIENTS 16
#define QT_TIMEOUT_S 1
#define QT_WORK_S 4.0          /* worker time queued at once, four request timeouts: margin for noise */
#define QT_MODEL "models/fashion-deit" /* 28x28 grey input: 3 KB per queued image */
#define QT_IMAGE "examples/9_ankle-boot.png"

typedef struct {
    const server *s;
    const blob *img;
    int n_images;
    resp r;
} qt_client;

static resp qt_post(const server *s, const blob *img, int n)
{
    blob *files = malloc((size_t)n * sizeof *files);
    for (int i = 0; i < n; i++) files[i] = *img;
    resp r = post_files(NULL, url_of(s, "/v1/predict?top_k=1"), "image", files, NULL, n, 120);
    free(files);
    return r;
}

static void *qt_main(void *arg)
{
    qt_client *cl = arg;
    cl->r = qt_post(cl->s, cl->img, cl->n_images);
    return NULL;
}

/* The worker's seconds per image, from timing_ms.inference of one n-image request; 0 on failure. */
static double qt_seconds_per_image(const server *s, const blob *img, int n)
{
    resp r = qt_post(s, img, n);
    json_t *j = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    double ms = json_number_value(json_object_get(json_object_get(j, "timing_ms"), "inference"));
    json_decref(j);
    resp_free(&r);
    return ms > 0 ? ms / 1e3 / n : 0;
}

/* One worker and about QT_WORK_S seconds of its work queued at once, sized from a calibration request
 * so that the test means the same on a fast machine and under the sanitizers: the requests the worker
 * reaches within --request-timeout-s are answered 200, every later one 504 at its deadline (not when
 * the worker would have reached it), and the server goes on serving. */
static void test_queue_timeout(void)
{
    server s;
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", QT_TIMEOUT_S);
    const char *extra[] = {"--workers", "1", "--threads", "1", "--max-batch", "8", "--request-timeout-s", tmo,
                           "--queue", "100000", "--max-images", "4096", NULL};
    if (server_start_model(&s, "queue-timeout", QT_MODEL, extra, NULL, "http")) {
        CHECK(0);
        return;
    }
    blob img = read_file(QT_IMAGE);
    CHECK_MSG(img.len > 0, "cannot read %s", QT_IMAGE);
    /* the fastest of three after a warm-up: a noisy moment must not shrink the queued work */
    qt_seconds_per_image(&s, &img, 64);
    double per_image = 0;
    for (int i = 0; i < 3; i++) {
        double t = qt_seconds_per_image(&s, &img, 64);
        if (t > 0 && (per_image == 0 || t < per_image)) per_image = t;
    }
    CHECK_MSG(per_image > 0, "calibration request failed");
    int per = per_image > 0 ? (int)(QT_WORK_S / per_image / QT_CLIENTS) + 1 : 64;
    if (per > 4096) per = 4096;

    static qt_client cl[QT_CLIENTS];
    pthread_t th[QT_CLIENTS];
    for (int i = 0; i < QT_CLIENTS; i++) {
        cl[i] = (qt_client){.s = &s, .img = &img, .n_images = per};
        pthread_create(&th[i], NULL, qt_main, &cl[i]);
    }
    int ok = 0, timed_out = 0, other = 0, bad_504 = 0;
    double max_ok_s = 0, max_504_s = 0;
    for (int i = 0; i < QT_CLIENTS; i++) {
        pthread_join(th[i], NULL);
        resp *r = &cl[i].r;
        if (r->rc == CURLE_OK && r->status == 200) {
            ok++;
            if (r->secs > max_ok_s) max_ok_s = r->secs;
        } else if (r->rc == CURLE_OK && r->status == 504) {
            timed_out++;
            if (r->secs > max_504_s) max_504_s = r->secs;
            if (!r->body || !strstr(r->body, "\"code\":504") || !strstr(r->body, "--request-timeout-s")) bad_504++;
        } else {
            other++;
            fprintf(stderr, "queue timeout: curl %s, HTTP %ld %.200s\n", curl_easy_strerror(r->rc), r->status,
                    r->body ? r->body : "");
        }
        resp_free(r);
    }
    fprintf(stderr, "info: queue timeout %d s: %d requests x %d images (%.2f ms per image, %.1f s of work): "
                    "%d answered 200 (slowest %.2f s), %d answered 504 (slowest %.2f s), %d other\n",
            QT_TIMEOUT_S, QT_CLIENTS, per, per_image * 1e3, per_image * per * QT_CLIENTS, ok, max_ok_s, timed_out,
            max_504_s, other);
    CHECK_INT_EQ(other, 0);
    CHECK_MSG(ok > 0, "no request was served before the timeout");
    CHECK_MSG(timed_out > 0, "no request timed out with %.1f s of work queued", per_image * per * QT_CLIENTS);
    CHECK_INT_EQ(bad_504, 0); /* a JSON error naming the flag */
    /* a 504 comes at the deadline: upload and decode, the timeout, a margin */
    CHECK_MSG(max_504_s < QT_TIMEOUT_S + 1.5 * SLACK, "a 504 took %.2f s (--request-timeout-s %d)", max_504_s,
              QT_TIMEOUT_S);
    /* a 200 started within the timeout, then ran its own images */
    CHECK_MSG(max_ok_s < QT_TIMEOUT_S + per * per_image + 1.5 * SLACK, "a 200 took %.2f s", max_ok_s);
    resp m = request(NULL, "GET", url_of(&s, "/metrics"), NULL, NULL, 0, 10);
    CHECK_INT_EQ(metric_sample(m.body, "deit_requests_total{endpoint=\"predict\",code=\"504\"}"), timed_out);
    resp_free(&m);
    /* the reaped work is gone: the next request is served at once */
    resp r = qt_post(&s, &img, 1);
    CHECK_INT_EQ(r.status, 200);
    CHECK_MSG(r.secs < 1.0 * SLACK, "the request after the timeouts took %.2f s", r.secs);
    resp_free(&r);
    free(img.data);
    check_stopped_clean(&s);
}

/* ---- slow clients ------------------------------------------------------------------------------- */

#define SLOW_CONNS 200
#define SLOW_CONN_TIMEOUT_S 2

/* Whether the server closed fd: recv returns 0 or an error other than "no data yet". */
static int peer_closed(int fd)
{
    char buf[512];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k == 0) return 1;
        if (k < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK);
        /* data (e.g. an error response): keep reading until the close */
    }
}

/* 200 slowloris connections (partial headers, one byte a second) do not stop a normal client from
 * being served within 1 s; once they stop sending they are closed after --conn-timeout-s. */
static void test_slowloris(void)
{
    server s;
    char ct[16];
    snprintf(ct, sizeof ct, "%d", SLOW_CONN_TIMEOUT_S);
    const char *extra[] = {"--conn-timeout-s", ct, NULL};
    if (server_start(&s, "slowloris", extra)) {
        CHECK(0);
        return;
    }
    static int fds[SLOW_CONNS + 1];
    int opened = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        fds[i] = raw_connect(&s, 1);
        if (fds[i] < 0) break;
        const char head[] = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        if (send(fds[i], head, sizeof head - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof head - 1)) break;
        opened++;
    }
    CHECK_INT_EQ(opened, SLOW_CONNS);
    /* plus one idle keep-alive connection that has completed a request */
    int idle = raw_connect(&s, 5);
    const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[1024];
    CHECK(idle >= 0 && send(idle, get, sizeof get - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof get - 1));
    ssize_t got = idle >= 0 ? recv(idle, buf, sizeof buf - 1, 0) : -1;
    CHECK_MSG(got > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "keep-alive request on the idle connection");

    blob img = image("chelsea.png");
    const char *h[] = {"Content-Type: image/png", NULL};
    double worst = 0, trickle_until = now_s() + 3 * SLOW_CONN_TIMEOUT_S, last_byte = now_s();
    int served = 0, closed_early = 0;
    /* trickle a byte a second on every slow connection (so the idle timeout never fires) while a
     * normal client keeps asking for predictions on a fresh connection each time */
    while (now_s() < trickle_until) {
        if (now_s() - last_byte >= 1.0) {
            for (int i = 0; i < opened; i++)
                if (send(fds[i], "a", 1, MSG_NOSIGNAL) != 1) closed_early++;
            last_byte = now_s();
        }
        resp r = request(NULL, "POST", url_of(&s, "/v1/predict?top_k=1"), h, img.data, img.len, 30);
        if (r.rc == CURLE_OK && r.status == 200) served++;
        else fprintf(stderr, "slowloris: normal client got curl %s, HTTP %ld\n", curl_easy_strerror(r.rc), r.status);
        if (r.secs > worst) worst = r.secs;
        resp_free(&r);
        sleep_ms(200);
    }
    fprintf(stderr, "info: slowloris: %d connections trickling for %d s; normal client served %d times, "
                    "slowest %.3f s; %d trickle sends failed\n",
            opened, 3 * SLOW_CONN_TIMEOUT_S, served, worst, closed_early);
    CHECK(served >= 5);
    CHECK_MSG(worst < 1.0 * SLACK, "a normal request took %.2f s beside %d slow clients", worst, opened);
    CHECK_INT_EQ(closed_early, 0); /* trickling keeps a connection open: the timeout is per silence */

    /* now silent: every slow connection and the idle keep-alive one is closed after the timeout. No
     * lower bound: libmicrohttpd's idle clock is coarse (closes were seen from 0.4 s after our last byte
     * under ASan); that silence, not activity, closes them is shown by the trickle phase above. */
    fds[opened] = idle;
    int n = opened + (idle >= 0), open_n = n;
    double t_last = last_byte, first_close = -1, last_close = -1;
    static char is_closed[SLOW_CONNS + 1];
    memset(is_closed, 0, sizeof is_closed);
    while (open_n > 0 && now_s() - t_last < SLOW_CONN_TIMEOUT_S + 10 * SLACK) {
        for (int i = 0; i < n; i++) {
            if (is_closed[i] || !peer_closed(fds[i])) continue;
            is_closed[i] = 1;
            open_n--;
            double at = now_s() - t_last;
            if (first_close < 0) first_close = at;
            last_close = at;

        }
        sleep_ms(50);
    }
    for (int i = 0; i < n; i++) close(fds[i]);
    fprintf(stderr, "info: slowloris: %d of %d connections closed %.1f..%.1f s after their last byte "
                    "(--conn-timeout-s %d)\n",
            n - open_n, n, first_close, last_close, SLOW_CONN_TIMEOUT_S);
    CHECK_MSG(open_n == 0, "%d connections still open %.0f s after going silent", open_n,
              SLOW_CONN_TIMEOUT_S + 10 * SLACK);
    CHECK(get_status(url_of(&s, "/healthz")) == 200);
    free(img.data);
    check_stopped_clean(&s);
}

/* More slow senders than --max-connections: with --read-timeout-s every trickling connection is cut
 * at its deadline although it is never idle (headers and body alike), so the slots come back and a
 * normal client is served; a fast upload, and a keep-alive connection that keeps sending complete
 * requests, are not cut. */
#define RT_S 2          /* --read-timeout-s */
#define RT_MAX_CONNS 32 /* --max-connections */
#define RT_SLOW 48      /* trickling connections: more than the server takes */

static void test_read_timeout(void)
{
    server s;
    char rt[16], mc[16];
    snprintf(rt, sizeof rt, "%d", RT_S);
    snprintf(mc, sizeof mc, "%d", RT_MAX_CONNS);
    const char *extra[] = {"--read-timeout-s", rt, "--max-connections", mc, "--conn-timeout-s", "60", NULL};
    if (server_start(&s, "read-timeout", extra)) {
        CHECK(0);
        return;
    }
    /* slow headers on RT_SLOW connections, slow bodies (1 byte of 100000 at a time) on 4 more */
    int fds[RT_SLOW + 4], n = 0;
    for (int i = 0; i < RT_SLOW + 4; i++) {
        int fd = raw_connect(&s, 1);
        if (fd < 0) break;
        char head[160];
        int len = i < RT_SLOW ? snprintf(head, sizeof head, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                              : snprintf(head, sizeof head, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n"
                                                            "Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n");
        if (send(fd, head, (size_t)len, MSG_NOSIGNAL) != len) {
            close(fd);
            break;
        }
        fds[n++] = fd;
    }
    CHECK_INT_EQ(n, RT_SLOW + 4);
    static char cut[RT_SLOW + 4];
    memset(cut, 0, sizeof cut);
    double t0 = now_s(), worst = 0;
    int n_cut = 0, served = 0, sends = 0;
    blob img = image("chelsea.png");
    const char *h[] = {"Content-Type: image/png", NULL};
    /* keep trickling (a byte every 0.5 s: never idle) while a normal client asks for predictions; a
     * connection the server has not accepted yet sits in the backlog and is cut once accepted */
    while (now_s() - t0 < 4 * RT_S + 4 * SLACK && n_cut < n) {
        for (int i = 0; i < n; i++) {
            if (cut[i]) continue;
            if (peer_closed(fds[i])) {
                cut[i] = 1;
                n_cut++;
            } else if (send(fds[i], "a", 1, MSG_NOSIGNAL) == 1) {
                sends++;
            }
        }
        resp r = request(NULL, "POST", url_of(&s, "/v1/predict?top_k=1"), h, img.data, img.len, 30);
        if (r.rc == CURLE_OK && r.status == 200) served++;
        if (r.secs > worst) worst = r.secs;
        resp_free(&r);
        sleep_ms(500);
    }
    double took = now_s() - t0;
    fprintf(stderr, "info: read timeout %d s: %d of %d trickling connections cut within %.1f s (%d bytes "
                    "trickled); normal client served %d times, slowest %.2f s\n",
            RT_S, n_cut, n, took, sends, served, worst);
    CHECK_MSG(n_cut == n, "%d of %d trickling connections still open after %.1f s", n - n_cut, n, took);
    CHECK(served >= 1);
    /* the worst case: every slot held by a slow sender when the request came, freed at its deadline */
    CHECK_MSG(worst < (RT_S + 2) * SLACK, "a normal request took %.2f s behind the slow senders", worst);
    for (int i = 0; i < n; i++) close(fds[i]);

    /* a legitimate slow-ish upload (3 chunks over 3 s, far above 500 bytes/s) is not cut */
    int fd = raw_connect(&s, 30);
    char head[200];
    int hl = snprintf(head, sizeof head, "POST /v1/predict?top_k=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         "Content-Type: image/png\r\nContent-Length: %zu\r\n\r\n", img.len);
    int sent_ok = fd >= 0 && send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl;
    size_t third = img.len / 3;
    for (int k = 0; k < 3 && sent_ok; k++) {
        sleep_ms(1000);
        size_t off = (size_t)k * third, len = k == 2 ? img.len - off : third;
        sent_ok = send(fd, img.data + off, len, MSG_NOSIGNAL) == (ssize_t)len;
    }
    char buf[64] = {0};
    ssize_t got = sent_ok ? recv(fd, buf, sizeof buf - 1, MSG_WAITALL) : -1;
    CHECK_MSG(got > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "an upload spread over 3 s was cut (got %zd)", got);
    if (fd >= 0) close(fd);

    /* a keep-alive connection sending complete requests for longer than the deadline stays open */
    CURL *ka = curl_easy_init();
    int ka_ok = 0;
    long conns = 0;
    for (double t1 = now_s(); now_s() - t1 < RT_S + 1.5;) {
        resp r = request(ka, "GET", url_of(&s, "/healthz"), NULL, NULL, 0, 10);
        ka_ok += r.rc == CURLE_OK && r.status == 200;
        resp_free(&r);
        sleep_ms(300);
    }
    curl_easy_getinfo(ka, CURLINFO_NUM_CONNECTS, &conns); /* new connections made by the last request */
    curl_easy_cleanup(ka);
    CHECK(ka_ok >= 5);
    CHECK_MSG(conns == 0, "the keep-alive connection was dropped between complete requests");

    resp m = request(NULL, "GET", url_of(&s, "/metrics"), NULL, NULL, 0, 10);
    long counted = metric_sample(m.body, "deit_slow_connections_closed_total");
    CHECK_MSG(counted >= n, "deit_slow_connections_closed_total %ld, expected >= %d", counted, n);
    resp_free(&m);
    free(img.data);
    check_stopped_clean(&s);
}

/* ---- decompression bombs and absurd images -------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Appends a PNG chunk (length, type, data, CRC) at out+*n. */
static void png_chunk(uint8_t *out, size_t *n, const char *type, const uint8_t *data, uint32_t len)
{
    put_be32(out + *n, len);
    memcpy(out + *n + 4, type, 4);
    if (len) memcpy(out + *n + 8, data, len);
    uLong crc = crc32(0, (const Bytef *)out + *n + 4, len + 4);
    put_be32(out + *n + 8 + len, (uint32_t)crc);
    *n += 12 + len;
}

/* A w x h PNG of constant pixels (colour type 0 grey or 2 RGB), deflated at level 9: a large image
 * whose file is tiny, i.e. a decompression bomb when w*h is large. */
static blob make_png(uint32_t w, uint32_t h, int rgb, uint8_t value)
{
    size_t row = 1 + (size_t)w * (rgb ? 3 : 1), raw_len = row * h;
    uint8_t *raw = malloc(raw_len);
    for (size_t y = 0; y < h; y++) {
        raw[y * row] = 0; /* filter: none */
        memset(raw + y * row + 1, value, row - 1);
    }
    uLongf zlen = compressBound(raw_len);
    uint8_t *z = malloc(zlen);
    compress2(z, &zlen, raw, raw_len, 9);
    free(raw);
    blob b = {malloc(zlen + 64), 0};
    uint8_t *o = (uint8_t *)b.data;
    memcpy(o, "\x89PNG\r\n\x1a\n", 8);
    b.len = 8;
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = rgb ? 2 : 0;
    png_chunk(o, &b.len, "IHDR", ihdr, 13);
    png_chunk(o, &b.len, "IDAT", z, (uint32_t)zlen);
    png_chunk(o, &b.len, "IEND", NULL, 0);
    free(z);
    return b;
}

/* A w x h JPEG of a gradient (libjpeg), progressive when asked. */
static blob make_jpeg(int w, int h, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    uint8_t *row = malloc((size_t)w * 3);
    for (int i = 0; i < w * 3; i++) row[i] = (uint8_t)(i * 5);
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    blob b = {malloc(outlen), outlen};
    memcpy(b.data, out, outlen);
    free(out);
    return b;
}

/* Rewrites the SOF dimensions of a baseline JPEG: the header then claims w x h. */
static void jpeg_set_dims(blob *b, unsigned w, unsigned h)
{
    uint8_t *d = (uint8_t *)b->data;
    for (size_t i = 2; i + 9 < b->len; i++)
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC2)) {
            d[i + 5] = (uint8_t)(h >> 8); d[i + 6] = (uint8_t)h;
            d[i + 7] = (uint8_t)(w >> 8); d[i + 8] = (uint8_t)w;
            return;
        }
}

/* A progressive JPEG whose last scan is repeated until the file holds `scans` scans. */
static blob make_scan_bomb(int scans)
{
    blob j = make_jpeg(64, 64, 1);
    size_t last = 0, have = 0;
    for (size_t i = 0; i + 1 < j.len; i++)
        if ((uint8_t)j.data[i] == 0xFF && (uint8_t)j.data[i + 1] == 0xDA) { last = i; have++; }
    size_t scan = j.len - 2 - last, reps = (size_t)scans > have ? (size_t)scans - have + 1 : 1;
    size_t n = last + reps * scan + 2;
    blob b = {malloc(n), n};
    memcpy(b.data, j.data, last);
    for (size_t r = 0; r < reps; r++) memcpy(b.data + last + r * scan, j.data + last, scan);
    b.data[n - 2] = (char)0xFF;
    b.data[n - 1] = (char)0xD9;
    free(j.data);
    return b;
}

/* A GIF with a screen of sw x sh and `frames` frames of fw x fh (each one LZW-coded pixel, so frames
 * larger than one pixel are truncated data). */
static blob make_gif(unsigned sw, unsigned sh, unsigned fw, unsigned fh, int frames)
{
    static const uint8_t frame_data[] = {0x02, 0x02, 0x44, 0x01, 0x00};
    size_t n = 13 + 6 + (size_t)frames * (10 + sizeof frame_data) + 1;
    blob b = {malloc(n), 0};
    uint8_t *o = (uint8_t *)b.data;
    memcpy(o, "GIF89a", 6);
    o[6] = (uint8_t)sw; o[7] = (uint8_t)(sw >> 8); o[8] = (uint8_t)sh; o[9] = (uint8_t)(sh >> 8);
    o[10] = 0x80; o[11] = 0; o[12] = 0;                    /* global colour table of 2 entries */
    memcpy(o + 13, "\xff\x40\x00\x00\x00\x00", 6);
    size_t k = 19;
    for (int f = 0; f < frames; f++) {
        uint8_t desc[10] = {0x2C, 0, 0, 0, 0, (uint8_t)fw, (uint8_t)(fw >> 8), (uint8_t)fh, (uint8_t)(fh >> 8), 0};
        memcpy(o + k, desc, 10);
        memcpy(o + k + 10, frame_data, sizeof frame_data);
        k += 10 + sizeof frame_data;
    }
    o[k++] = 0x3B;
    b.len = k;
    return b;
}

typedef struct {
    const char *what;
    blob b;
    long status;               /* expected */
    double bound_s;            /* answered within (x SLACK) */
    const char *needle;        /* in the error message, or NULL */
} bomb;

static void test_bombs(void)
{
    server s;
    const char *extra[] = {"--max-body-mb", "8", NULL};
    if (server_start(&s, "bombs", extra)) {
        CHECK(0);
        return;
    }
    blob huge_png = make_png(1, 1, 1, 0); /* then patch IHDR to 100000 x 100000 (CRC left stale: header only) */
    put_be32((uint8_t *)huge_png.data + 16, 100000);
    put_be32((uint8_t *)huge_png.data + 20, 100000);
    blob huge_jpeg = make_jpeg(16, 16, 0);
    jpeg_set_dims(&huge_jpeg, 65000, 65000); /* JPEG's maximum is 65535 a side */
    bomb cases[] = {
        {"PNG header 100000x100000", huge_png, 413, 1.0, "pixels"},
        {"JPEG header 65000x65000", huge_jpeg, 413, 1.0, "pixels"},
        {"PNG bomb 7000x7000 (49 Mpx) in a few KB", make_png(7000, 7000, 0, 0), 413, 1.0, "pixels"},
        {"GIF screen 65535x65535", make_gif(65535, 65535, 1, 1, 1), 413, 1.0, "pixels"},
        {"GIF 16x16 screen, 60000x60000 frame", make_gif(16, 16, 60000, 60000, 1), 400, 1.0, NULL},
        {"GIF 1x1 with 5000 frames", make_gif(1, 1, 1, 1, 5000), 200, 2.0, NULL},
        {"JPEG progressive with 5000 scans", make_scan_bomb(5000), 413, 2.0, "scans"},
        {"PNG 1x1", make_png(1, 1, 1, 200), 200, 2.0, NULL},
        {"JPEG 1x1", make_jpeg(1, 1, 0), 200, 2.0, NULL},
        {"GIF 1x1", make_gif(1, 1, 1, 1, 1), 200, 2.0, NULL},
        {"PNG bomb 4000x4000 (16 Mpx, under --max-pixels) in a few KB", make_png(4000, 4000, 0, 0), 200, 10.0, NULL},
        {"PNG 1x40000000 strip (over stb's 2^24 a side)", make_png(1, 40000000, 0, 0), 400, 2.0, NULL},
        {"PNG 1x16000000 strip (resize target overflows int)", make_png(1, 16000000, 0, 0), 413, 10.0, "aspect ratio"},
        {"PNG 1x20000 strip (3.7 GB once resized to 248 wide)", make_png(1, 20000, 1, 0), 413, 1.0, "aspect ratio"},
        {"PNG 20000x1 strip", make_png(20000, 1, 1, 0), 413, 1.0, "aspect ratio"},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    rss_watch w;
    rss_start(&w, s.pid);
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    for (int i = 0; i < n; i++) {
        bomb *k = &cases[i];
        resp r = request(c, "POST", url_of(&s, "/v1/predict"), h, k->b.data, k->b.len, 120);
        fprintf(stderr, "info: bomb: %-60s %7zu bytes -> %ld in %.3f s %.120s\n", k->what, k->b.len, r.status, r.secs,
                r.status == 200 ? "" : r.body);
        CHECK_MSG(r.rc == CURLE_OK && r.status == k->status, "%s: curl %s, HTTP %ld (expected %ld) %s", k->what,
                  curl_easy_strerror(r.rc), r.status, k->status, r.body);
        CHECK_MSG(r.secs < k->bound_s * SLACK, "%s: took %.2f s", k->what, r.secs);
        if (k->needle) CHECK_MSG(strstr(r.body, k->needle) != NULL, "%s: message %s", k->what, r.body);
        resp_free(&r);
        free(k->b.data);
    }
    curl_easy_cleanup(c);
    check_rss("bombs", rss_stop(&w));
    CHECK(get_status(url_of(&s, "/readyz")) == 200);
    check_stopped_clean(&s);
}

/* ---- faults ------------------------------------------------------------------------------------ */

/* Runs the server on a model that cannot load: it must exit non-zero with the reason on stderr, and
 * /readyz must never have said 200 meanwhile. */
static void expect_start_failure(const char *what, const char *model, const char *reason)
{
    server s;
    char tag[64];
    snprintf(tag, sizeof tag, "fault-%s", what);
    for (char *p = tag; *p; p++)
        if (*p == ' ' || *p == '/') *p = '_';
    server_spawn(&s, tag, model, NULL, NULL, "http");
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", s.base);
    int ready = 0, polls = 0, st = 0, exited = 0;
    double t0 = now_s();
    while (now_s() - t0 < 60) {
        if (waitpid(s.pid, &st, WNOHANG) == s.pid) { exited = 1; break; }
        if (get_status(url) == 200) ready++;
        polls++;
        sleep_ms(5);
    }
    if (!exited) {
        kill(s.pid, SIGKILL);
        waitpid(s.pid, &st, 0);
    }
    int code = exited && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    blob log = read_file(s.log);
    fprintf(stderr, "info: fault %s: exit %d after %.2f s, /readyz polled %d times (200: %d)\n", what, code,
            now_s() - t0, polls, ready);
    CHECK_MSG(exited, "%s: still running after 60 s", what);
    CHECK_MSG(code > 0, "%s: exit status %d", what, code);
    CHECK_MSG(ready == 0, "%s: /readyz said 200 %d times", what, ready);
    CHECK_MSG(log.data && strstr(log.data, "cannot load model") && strstr(log.data, reason),
              "%s: reason \"%s\" not in %s", what, reason, s.log);
    CHECK_MSG(!log.data || !strstr(log.data, "Sanitizer"), "%s: sanitizer report in %s", what, s.log);
    free(log.data);
}

/* Copies the fixture model into dir, then replaces `file` with `data` (NULL: leaves it out). */
static int model_copy(const char *dir, const char *file, const void *data, size_t len)
{
    mkdir(dir, 0755);
    const char *files[] = {"config.json", "data_config.resolved.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s/%s", H_MODEL, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        unlink(dst);
        if (strcmp(files[i], file) == 0) {
            if (data && write_file(dst, data, len)) return -1;
            continue;
        }
        blob b = read_file(src);
        if (!b.data) continue; /* a fixture without that file */
        int rc = write_file(dst, b.data, b.len);
        free(b.data);
        if (rc) return -1;
    }
    return 0;
}

static void test_faults(void)
{
    char dir[600];
    expect_start_failure("missing model", "/nonexistent/deit-model", "nonexistent");

    char st_path[512];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", H_MODEL);
    blob st = read_file(st_path);
    CHECK(st.data != NULL && st.len > 4096);
    snprintf(dir, sizeof dir, "%s/fault-model", H_LOGS);

    /* model.safetensors cut in half, its header's length field absurd, its header garbage; no weights
     * file at all; config.json garbage */
    CHECK(model_copy(dir, "model.safetensors", st.data, st.len / 2) == 0);
    expect_start_failure("truncated weights", dir, "safetensors");
    blob bad = {malloc(st.len), st.len};
    memcpy(bad.data, st.data, st.len);
    memset(bad.data, 0xFF, 8);
    CHECK(model_copy(dir, "model.safetensors", bad.data, bad.len) == 0);
    expect_start_failure("absurd header length", dir, "safetensors");
    memcpy(bad.data, st.data, st.len);
    memset(bad.data + 8, '!', 64);
    CHECK(model_copy(dir, "model.safetensors", bad.data, bad.len) == 0);
    expect_start_failure("garbage header", dir, "safetensors");
    CHECK(model_copy(dir, "model.safetensors", NULL, 0) == 0);
    expect_start_failure("no weights file", dir, "model.safetensors");
    CHECK(model_copy(dir, "config.json", "{\"architecture\": ", 17) == 0);
    expect_start_failure("garbage config.json", dir, "config.json");
    free(bad.data);
    free(st.data);

    /* a bad image in a batch fails that request only (the whole request, naming the part); the next
     * request, on the same connection, is served */
    server s;
    if (server_start(&s, "fault-request", NULL)) {
        CHECK(0);
        return;
    }
    blob good = image("chelsea.png");
    blob parts[3] = {good, {good.data, 200}, good}; /* the second is a truncated PNG */
    CURL *c = curl_easy_init();
    resp r = post_files(c, url_of(&s, "/v1/predict"), "image", parts, NULL, 3, 60);
    fprintf(stderr, "info: multipart good+truncated+good -> %ld %s", r.status, r.body);
    CHECK_MSG(r.status == 400 && strstr(r.body, "image 2"), "bad part: %ld %s", r.status, r.body);
    resp_free(&r);
    r = post_files(c, url_of(&s, "/v1/predict"), "image", parts, NULL, 1, 60);
    CHECK_MSG(r.status == 200 && strstr(r.body, "\"predictions\""), "after the bad part: %ld %s", r.status, r.body);
    resp_free(&r);
    curl_easy_cleanup(c);
    free(good.data);
    check_stopped_clean(&s);
}

/* ---- TLS and API key ------------------------------------------------------------------------------ */

static void test_tls(void)
{
    char dir[600], cert[700], key[700], cmd[2048];
    snprintf(dir, sizeof dir, "%s/tls", H_LOGS);
    mkdir(dir, 0755);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
                              "-addext subjectAltName=DNS:localhost -keyout %s -out %s 2>/dev/null", key, cert);
    if (system(cmd) != 0) {
        CHECK_MSG(0, "openssl could not make a self-signed certificate (is openssl installed?)");
        return;
    }
    /* certificate from flags, key from the environment; an API key on top */
    server s;
    char env_key[800];
    snprintf(env_key, sizeof env_key, "DEIT_TLS_KEY=%s", key);
    const char *env[] = {env_key, NULL};
    const char *extra[] = {"--tls-cert", cert, "--api-key", "k3y-\xc3\xa9-long-enough", NULL};
    H_CACERT = cert;
    if (server_start_env(&s, "tls", extra, env, "https")) {
        CHECK(0);
        H_CACERT = NULL;
        return;
    }
    CHECK(log_count(&s, "TLS on") == 1);
    blob img = image("chelsea.png");
    const char *auth[] = {"Content-Type: image/png", "Authorization: Bearer k3y-\xc3\xa9-long-enough", NULL};
    resp r = request(NULL, "POST", url_of(&s, "/v1/predict?top_k=1"), auth, img.data, img.len, 60);
    CHECK_MSG(r.rc == CURLE_OK && r.status == 200 && strstr(r.body, "\"predictions\""), "https predict: %s %ld %s",
              curl_easy_strerror(r.rc), r.status, r.body);
    resp_free(&r);
    /* wrong keys: shorter, longer, one byte off at the end, other case, no scheme */
    const char *wrong[] = {"Authorization: Bearer k3y-\xc3\xa9-long-enoug", "Authorization: Bearer k3y-\xc3\xa9-long-enough!",
                           "Authorization: Bearer k3y-\xc3\xa9-long-enougH", "Authorization: Bearer K3Y-\xc3\xa9-LONG-ENOUGH",
                           "Authorization: k3y-\xc3\xa9-long-enough", "Authorization: Bearer ", NULL};
    for (int i = 0; wrong[i]; i++) {
        const char *hh[] = {"Content-Type: image/png", wrong[i], NULL};
        r = request(NULL, "POST", url_of(&s, "/v1/predict"), hh, img.data, img.len, 60);
        CHECK_MSG(r.status == 401, "%s: %ld", wrong[i], r.status);
        resp_free(&r);
    }
    /* plain HTTP to the TLS port fails; https without the CA fails verification */
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/healthz", s.port);
    r = request(NULL, "GET", plain, NULL, NULL, 0, 10);
    fprintf(stderr, "info: tls: plain http to the TLS port -> curl %s, HTTP %ld\n", curl_easy_strerror(r.rc), r.status);
    CHECK_MSG(r.status != 200, "plain HTTP answered %ld on the TLS port", r.status);
    resp_free(&r);
    H_CACERT = NULL;
    r = request(NULL, "GET", url_of(&s, "/healthz"), NULL, NULL, 0, 10);
    CHECK_MSG(r.rc == CURLE_PEER_FAILED_VERIFICATION, "https without the CA: %s", curl_easy_strerror(r.rc));
    resp_free(&r);
    H_CACERT = cert;
    CHECK_INT_EQ(get_status(url_of(&s, "/healthz")), 200); /* still serving after the bad handshakes */
    check_stopped_clean(&s);
    H_CACERT = NULL;
    free(img.data);

    /* bad TLS settings stop the start with a reason: a missing file, cert and key swapped, only one */
    struct { const char *what; const char *a[5]; const char *reason; int code; } bad[] = {
        {"missing cert", {"--tls-cert", "/nonexistent.pem", "--tls-key", key, NULL}, "cannot open", 1},
        {"swapped", {"--tls-cert", key, "--tls-key", cert, NULL}, "with TLS", 1},
        {"cert only", {"--tls-cert", cert, NULL, NULL, NULL}, "go together", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        server_spawn(&s, "tls-bad", H_MODEL, bad[i].a, NULL, "https");
        int st = 0;
        double t0 = now_s();
        while (waitpid(s.pid, &st, WNOHANG) != s.pid && now_s() - t0 < 30) sleep_ms(20);
        if (now_s() - t0 >= 30) {
            kill(s.pid, SIGKILL);
            waitpid(s.pid, &st, 0);
        }
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        CHECK_MSG(code == bad[i].code && log_count(&s, bad[i].reason) >= 1, "tls %s: exit %d, reason \"%s\" in %s",
                  bad[i].what, code, bad[i].reason, s.log);
    }
}

int main(void)
{
    harness_init();
    QUICK = atoi(env_or("DEIT_TEST_QUICK", "0"));
    if (sanitized_server()) {
        /* ThreadSanitizer slows the decoding in the HTTP threads most, and 503s wait behind it */
        SLACK = strstr(H_SERVER_BIN, "tsan") ? 8.0 : 4.0;
        CHECK_RSS = 0;
    }
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors", H_MODEL);
    struct stat stt;
    MODEL_KB = stat(p, &stt) == 0 ? (long)(stt.st_size / 1024) : 0;
    fprintf(stderr, "test_reliab: %s (logs in %s)%s\n", H_SERVER_BIN, H_LOGS, QUICK ? " quick" : "");

    test_overload();
    if (!QUICK) {
        test_queue_timeout();
        test_slowloris();
        test_read_timeout();
        test_bombs();
        test_faults();
        test_tls();
    }
    curl_global_cleanup();
    return check_summary("test_reliab");
}
