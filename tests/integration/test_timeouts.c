/* test_timeouts.c — the server's clocks: the queue timeout (504 at the deadline), slowloris clients
 * and the idle timeout, and the read timeout that cuts trickling senders. Not in the TSan run. */
#include "checks.h"

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
    /* an ASan server once read 11 for 12: the last 504 was out, its count not yet in */
    CHECK_INT_EQ(metric_wait(&s, "deit_requests_total{endpoint=\"predict\",code=\"504\"}", timed_out, 5 * SLACK),
                 timed_out);
    /* the reaped work is gone: the next request is served at once */
    resp r = qt_post(&s, &img, 1);
    CHECK_INT_EQ(r.status, 200);
    CHECK_MSG(r.secs < 1.0 * SLACK, "the request after the timeouts took %.2f s", r.secs);
    resp_free(&r);
    free(img.data);
    check_stopped(&s);
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

/* Sends a byte every 500 ms on each of fds[n] until stop is set: the slow connections' trickle, in
 * its own thread so the silence between bytes stays far under --conn-timeout-s whatever the normal
 * client's requests take. */
typedef struct {
    const int *fds;
    int n;
    atomic_int stop;
    int failed;       /* sends that failed: a connection closed while it was trickling */
    double last_byte; /* when the last round was sent */
} trickle;

static void *trickle_main(void *arg)
{
    trickle *t = arg;
    while (!atomic_load(&t->stop)) {
        for (int i = 0; i < t->n; i++)
            if (send(t->fds[i], "a", 1, MSG_NOSIGNAL) != 1) t->failed++;
        t->last_byte = now_s();
        sleep_ms(500);
    }
    return NULL;
}

/* 200 slowloris connections (partial headers, a byte every 500 ms) do not stop a normal client from
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
    double worst = 0, trickle_until = now_s() + 3 * SLOW_CONN_TIMEOUT_S;
    int served = 0;
    /* trickle on every slow connection (so the idle timeout never fires) while a normal client keeps
     * asking for predictions on a fresh connection each time */
    static trickle tr;
    tr = (trickle){.fds = fds, .n = opened, .last_byte = now_s()};
    atomic_init(&tr.stop, 0);
    pthread_t tth;
    pthread_create(&tth, NULL, trickle_main, &tr);
    while (now_s() < trickle_until) {
        resp r = request(NULL, "POST", url_of(&s, "/v1/predict?top_k=1"), h, img.data, img.len, 30);
        if (r.rc == CURLE_OK && r.status == 200) served++;
        else fprintf(stderr, "slowloris: normal client got curl %s, HTTP %ld\n", curl_easy_strerror(r.rc), r.status);
        if (r.secs > worst) worst = r.secs;
        resp_free(&r);
        sleep_ms(200);
    }
    atomic_store(&tr.stop, 1);
    pthread_join(tth, NULL);
    int closed_early = tr.failed;
    double last_byte = tr.last_byte;
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
    check_stopped(&s);
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
    int ka_ok = 0, ka_sent = 0;
    long reconnects = 0;
    for (double t1 = now_s(); now_s() - t1 < RT_S + 1.5;) {
        resp r = request(ka, "GET", url_of(&s, "/healthz"), NULL, NULL, 0, 10);
        ka_ok += r.rc == CURLE_OK && r.status == 200;
        resp_free(&r);
        /* CURLINFO_NUM_CONNECTS: connections the last transfer had to open; after the first
         * request, any at all means the server cut the previous one */
        long conns = 0;
        curl_easy_getinfo(ka, CURLINFO_NUM_CONNECTS, &conns);
        if (ka_sent++ > 0) reconnects += conns;
        sleep_ms(300);
    }
    curl_easy_cleanup(ka);
    CHECK(ka_ok >= 5 && ka_ok == ka_sent);
    CHECK_MSG(reconnects == 0, "the keep-alive connection was dropped %ld time(s) between complete requests",
              reconnects);

    long counted = metric_wait(&s, "deit_slow_connections_closed_total", n, 5 * SLACK);
    CHECK_MSG(counted >= n, "deit_slow_connections_closed_total %ld, expected >= %d", counted, n);
    free(img.data);
    check_stopped(&s);
}

int main(void)
{
    test_init("test_timeouts");
    if (QUICK)
        return skip_under_tsan("test_timeouts", "the server's clocks");
    test_queue_timeout();
    test_slowloris();
    test_read_timeout();
    curl_global_cleanup();
    return check_summary("test_timeouts");
}
