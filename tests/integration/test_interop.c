/* test_interop.c — what clients other than curl see (issue 21): error answers decided from the headers
 * reach clients that write their whole body before reading (raw sockets and Python's http.client, every
 * early status, bodies from 10 KB to 3x the limit, 100 of 100 answered); no request can forge or split
 * an access-log record (JSON and text); Open Inference Protocol conformance (/v2/, health bodies,
 * unknown versions, extensions, platform, gzip/deflate request bodies); TorchServe model versions.
 *
 * Environment as test_server.c; DEIT_TEST_QUICK=1 (TSan run) does 10 trials per case instead of 100. */
#define _GNU_SOURCE /* strcasestr */
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../check.h"
#include "harness.h"

#define TIMEOUT_S 60L
#define MAX_BODY_MB 1
#define LIMIT ((size_t)MAX_BODY_MB << 20)
#define KEY "k3y"

static int QUICK;
static const char *MODEL_NAME;

/* Stops the server: exit status 0 and no sanitizer report in its log. */
static void stop_clean(server *s)
{
    int rc = server_stop(s);
    CHECK_MSG(rc == 0, "server exit status %d (log %s)", rc, s->log);
    CHECK_MSG(log_count(s, "Sanitizer") == 0, "sanitizer report in %s", s->log);
}

/* --host :: is every address, IPv4 included, as for the gRPC port: it was bound IPv6-only (MHD's
 * IPV6_V6ONLY), so IPv4 clients, the image's HEALTHCHECK on 127.0.0.1 and IPv4 probes were refused. */
static void test_host_any(void)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a6, sizeof a6) == 0;
    if (probe >= 0) close(probe);
    if (!have_v6) {
        fprintf(stderr, "info: no IPv6 loopback here: --host :: not tested\n");
        return;
    }
    server s;
    const char *extra[] = {"--host", "::", NULL}; /* after the harness's --host 127.0.0.1: the last wins */
    server_spawn(&s, "host-any", H_MODEL, extra, NULL, "http");
    char v6[96], v4[96];
    snprintf(v6, sizeof v6, "http://[::1]:%d/readyz", s.port);
    snprintf(v4, sizeof v4, "http://127.0.0.1:%d/readyz", s.port);
    int ready = 0;
    for (double t0 = now_s(); !ready && now_s() - t0 < 60; sleep_ms(50)) ready = get_status(v6) == 200;
    CHECK_MSG(ready, "--host ::, [::1] not ready (log %s)", s.log);
    CHECK_MSG(get_status(v4) == 200, "--host ::, 127.0.0.1 refused (log %s)", s.log);
    stop_clean(&s);
}

/* ---- a client that writes everything, then reads ------------------------------------------------ */

typedef struct {
    int status;                /* 0: no answer (reset, closed, timeout) */
    char body[4096];
    int send_failed;           /* the server stopped reading before the body was written */
} raw_answer;

/* Sends head (with "Content-Length: body_len" added) and body_len bytes of 'x' in one go, as
 * http.client does, and only then reads the answer: status line, headers, Content-Length body. */
static raw_answer body_first(const server *s, const char *head, size_t body_len)
{
    raw_answer a;
    memset(&a, 0, sizeof a);
    int fd = raw_connect(s, 30);
    if (fd < 0) return a;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char h[1024];
    int hl = snprintf(h, sizeof h, "%sContent-Length: %zu\r\n\r\n", head, body_len);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    size_t sent = 0;
    if (send(fd, h, (size_t)hl, MSG_NOSIGNAL) != hl) a.send_failed = 1;
    while (!a.send_failed && sent < body_len) {
        size_t n = body_len - sent < sizeof chunk ? body_len - sent : sizeof chunk;
        ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
        if (w <= 0) a.send_failed = 1;
        else sent += (size_t)w;
    }
    char buf[8192];
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t want = cl ? (size_t)atol(cl + 17) : 0;
        if (got - (size_t)(end + 4 - buf) >= want || got >= sizeof buf - 1) break;
    }
    close(fd);
    buf[got] = 0;
    if (got > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0) a.status = atoi(buf + 9);
    char *end = strstr(buf, "\r\n\r\n");
    if (end) snprintf(a.body, sizeof a.body, "%s", end + 4);
    return a;
}

/* The error body's shape: {"error": "…"} (v2) or {"error": {"code", "message"}}. */
static int error_shape_ok(const char *body, int status, int v2)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    int ok = v2 == SHAPE_TORCHSERVE ? json_integer_value(json_object_get(j, "code")) == status &&
                                          json_is_string(json_object_get(j, "type")) &&
                                          json_is_string(json_object_get(j, "message"))
             : v2 ? json_is_string(e)
                  : json_integer_value(json_object_get(e, "code")) == status && json_is_string(json_object_get(e, "message"));
    json_decref(j);
    return ok;
}

typedef struct {
    const char *what;
    const char *head;          /* request line and headers, each ending in CRLF */
    int status, v2;
    size_t max_body;           /* largest body tried */
} early_case;

#define PNG "Content-Type: image/png\r\n"
#define AUTH "Authorization: Bearer " KEY "\r\n"

static void run_early_cases(const server *s, const early_case *cases, size_t n_cases)
{
    const size_t sizes[] = {10 * 1024, 100 * 1024, LIMIT - 1, LIMIT + 1, 2 * LIMIT, 3 * LIMIT};
    int trials = QUICK ? 10 : 100;
    for (size_t c = 0; c < n_cases; c++) {
        int answered = 0, right = 0;
        double t0 = now_s();
        size_t n_sizes = 0;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
            if (sizes[k] <= cases[c].max_body) n_sizes++;
        for (int t = 0; t < trials; t++) {
            size_t len = sizes[(size_t)t % n_sizes];
            raw_answer a = body_first(s, cases[c].head, len);
            if (a.status) answered++;
            if (a.status == cases[c].status && error_shape_ok(a.body, cases[c].status, cases[c].v2)) right++;
            else if (right + 3 > t) /* print the first few misses only */
                fprintf(stderr, "%s, %zu-byte body: status %d%s %.200s\n", cases[c].what, len, a.status,
                        a.send_failed ? " (send failed)" : "", a.body);
        }
        fprintf(stderr, "info: body first, %s: %d/%d answered %d (%.1f s)\n", cases[c].what, right, trials,
                cases[c].status, now_s() - t0);
        CHECK_MSG(right == trials && answered == trials, "%s: %d of %d answered right", cases[c].what, right, trials);
    }
}

static void test_early_errors(void)
{
    server s;
    const char *extra[] = {"--max-body-mb", "1", "--api-key", KEY, "--read-timeout-s", "10", NULL};
    if (server_start(&s, "interop-early", extra)) {
        CHECK(0);
        return;
    }
    char v2_unknown[256], ts_unknown[256], ts_version[256];
    snprintf(v2_unknown, sizeof v2_unknown, "POST /v2/models/nope/infer HTTP/1.1\r\nHost: x\r\n" AUTH
             "Content-Type: application/json\r\n");
    snprintf(ts_unknown, sizeof ts_unknown, "POST /predictions/nope HTTP/1.1\r\nHost: x\r\n" AUTH);
    snprintf(ts_version, sizeof ts_version, "POST /predictions/%s/7 HTTP/1.1\r\nHost: x\r\n" AUTH, MODEL_NAME);
    const early_case cases[] = {
        {"404 unknown path", "POST /nope HTTP/1.1\r\nHost: x\r\n" PNG, 404, 0, 3 * LIMIT},
        {"404 unknown model (v2)", v2_unknown, 404, 1, 3 * LIMIT},
        {"404 unknown model (TorchServe)", ts_unknown, 404, SHAPE_TORCHSERVE, 3 * LIMIT},
        {"404 unknown version (TorchServe)", ts_version, 404, SHAPE_TORCHSERVE, 3 * LIMIT},
        {"405 PUT /v1/predict", "PUT /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH PNG, 405, 0, 3 * LIMIT},
        {"401 no API key", "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" PNG, 401, 0, 3 * LIMIT},
        {"415 text/plain", "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: text/plain\r\n", 415, 0,
         LIMIT - 1},
        {"415 Content-Encoding br", "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH PNG "Content-Encoding: br\r\n",
         415, 0, LIMIT - 1},
        {"400 top_k=0", "POST /v1/predict?top_k=0 HTTP/1.1\r\nHost: x\r\n" AUTH PNG, 400, 0, LIMIT - 1},
        {"400 multipart without boundary",
         "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Type: multipart/form-data\r\n", 400, 0, LIMIT - 1},
    };
    run_early_cases(&s, cases, sizeof cases / sizeof cases[0]);
    /* 413: every size over the limit, by Content-Length, up to 3x */
    const size_t over[] = {LIMIT + 1, 2 * LIMIT, 3 * LIMIT};
    int trials = QUICK ? 10 : 100, right = 0;
    for (int t = 0; t < trials; t++) {
        raw_answer a = body_first(&s, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH PNG, over[t % 3]);
        if (a.status == 413 && error_shape_ok(a.body, 413, 0) && strstr(a.body, "--max-body-mb")) right++;
    }
    fprintf(stderr, "info: body first, 413 over the limit: %d/%d answered\n", right, trials);
    CHECK_INT_EQ(right, trials);
    /* far beyond what is worth reading (over 4x the limit): answered 413 at once and closed, no
     * hang. The close with the body unread resets the connection, which may discard the answer
     * before this client reads it (status 0); what arrives must be the 413. */
    double t0 = now_s();
    raw_answer a = body_first(&s, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" AUTH PNG, 6 * LIMIT);
    fprintf(stderr, "info: 6x-limit body: status %d after %.2f s\n", a.status, now_s() - t0);
    CHECK(now_s() - t0 < 20);
    CHECK_MSG(a.status == 0 || (a.status == 413 && error_shape_ok(a.body, 413, 0)),
              "6x-limit body answered %d: %.200s", a.status, a.body);

    /* Python's http.client (and requests, built on it) sends the body before reading */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/integration/body_first.py %s %s %d %s", s.base, MODEL_NAME,
             QUICK ? 5 : 20, KEY);
    FILE *p = popen(cmd, "r");
    char line[512];
    int py_ok = 0, py_bad = 0;
    while (p && fgets(line, sizeof line, p)) {
        if (strncmp(line, "ok ", 3) == 0) py_ok += atoi(line + 3);
        else if (strncmp(line, "bad ", 4) == 0) {
            py_bad++;
            fprintf(stderr, "http.client: %s", line);
        }
    }
    int prc = p ? pclose(p) : -1;
    fprintf(stderr, "info: python http.client, body first: %d answered right, %d wrong\n", py_ok, py_bad);
    CHECK_INT_EQ(prc, 0);
    CHECK(py_ok > 0);
    CHECK_INT_EQ(py_bad, 0);
    CHECK_MSG(get_status(url_of(&s, "/healthz")) == 200, "server alive after the body-first clients");
    stop_clean(&s);
}

/* 503 while there is no model yet: a hub model whose endpoint takes the connection and never
 * answers (HF_HUB_ETAG_TIMEOUT 60) keeps the server fetching it, listening and answering; closing
 * the endpoint then fails the fetch, and with nothing cached the server exits 1. (A FIFO as the
 * model file held the load itself until the loader learnt to refuse special files at once.) */
static void test_loading(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 16) ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
        CHECK(0);
        if (lfd >= 0) close(lfd);
        return;
    }
    char ep[64], cache[600];
    snprintf(ep, sizeof ep, "HF_ENDPOINT=http://127.0.0.1:%d", ntohs(addr.sin_port));
    snprintf(cache, sizeof cache, "HF_HUB_CACHE=%s/interop-loading-cache", H_LOGS);
    const char *const env[] = {ep, cache, "HF_HUB_OFFLINE=0", "HF_HUB_ETAG_TIMEOUT=60", NULL};
    server s;
    server_spawn(&s, "interop-loading", "hf://test-org/never-answered", (const char *const[]){"--max-body-mb", "1", NULL},
                 env, "http");
    int up = 0;
    for (double t0 = now_s(); !up && now_s() - t0 < 30; sleep_ms(20)) up = get_status(url_of(&s, "/healthz")) == 200;
    CHECK(up);
    CHECK_INT_EQ(get_status(url_of(&s, "/readyz")), 503);
    int trials = QUICK ? 10 : 100, right = 0;
    const size_t sizes[] = {10 * 1024, LIMIT / 2, 2 * LIMIT, 3 * LIMIT};
    for (int t = 0; t < trials; t++) {
        raw_answer a = body_first(&s, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n" PNG, sizes[t % 4]);
        if (a.status == 503 && error_shape_ok(a.body, 503, 0) && strstr(a.body, "loading")) right++;
    }
    fprintf(stderr, "info: body first, 503 while loading: %d/%d answered\n", right, trials);
    CHECK_INT_EQ(right, trials);
    close(lfd); /* resets the connection the server is waiting on */
    int st = 0, gone = 0;
    for (double t0 = now_s(); now_s() - t0 < 30 && !(gone = waitpid(s.pid, &st, WNOHANG) == s.pid);) sleep_ms(20);
    CHECK_MSG(gone && WIFEXITED(st) && WEXITSTATUS(st) == 1, "server without a model should exit 1 (see %s)", s.log);
    if (!gone) {
        kill(s.pid, SIGKILL);
        waitpid(s.pid, NULL, 0);
    }
    s.pid = -1;
}

/* ---- the access log ------------------------------------------------------------------------------ */

static const char *const HOSTILE_PATHS[] = {
    "/x%22,%22status%22:200,%22injected%22:%22y", /* quotes: a forged key */
    "/a%0A%7B%22status%22:200%7D",                /* LF: a second record */
    "/a%0D%0Afake%20200%20images=1",              /* CRLF and spaces: a forged text line */
    "/back%5C%5C%22slash",                        /* backslashes before a quote */
    "/nul%00after",                               /* NUL */
    "/bad%FF%FEutf8%C0%AF",                        /* invalid UTF-8, an overlong '/' */
    "/v1/predict%0A",                             /* a real path with a newline after it */
};

/* Sends every hostile path (GET, and a POST with a hostile Content-Type) and a weird method; returns
 * the number of requests sent. */
static int send_hostile(const server *s)
{
    int n = 0;
    CURL *c = curl_easy_init();
    for (size_t i = 0; i < sizeof HOSTILE_PATHS / sizeof HOSTILE_PATHS[0]; i++) {
        resp r = request(c, "GET", url_of(s, HOSTILE_PATHS[i]), NULL, NULL, 0, TIMEOUT_S);
        CHECK_MSG(r.status == 404 || r.status == 405 || r.status == 400, "%s: status %ld", HOSTILE_PATHS[i], r.status);
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        CHECK_MSG(j != NULL, "%s: error body is not JSON: %s", HOSTILE_PATHS[i], r.body);
        json_decref(j);
        resp_free(&r);
        n++;
    }
    const char *hct[] = {"Content-Type: te\"xt/\\pl\xff\xfe\x01ain", NULL};
    resp r = request(c, "POST", url_of(s, "/v1/predict"), hct, "abc", 3, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 415);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    CHECK_MSG(msg && strstr(msg, "te\"xt/\\pl\xef\xbf\xbd"), "415 message keeps the header readable: %s", r.body);
    json_decref(j);
    resp_free(&r);
    n++;
    r = request(c, "DELETE", url_of(s, "/v1/predict"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 405);
    resp_free(&r);
    n++;
    curl_easy_cleanup(c);
    return n;
}

static void test_log_json(void)
{
    server s;
    const char *extra[] = {"--log-format", "json", NULL};
    if (server_start(&s, "interop-log-json", extra)) {
        CHECK(0);
        return;
    }
    int sent = send_hostile(&s);
    /* requests libmicrohttpd answers itself (a header line without a colon: 400; a 200 KB header:
     * 431): its messages about them are JSON events too, not plain lines in the stream */
    static char big[256 * 1024];
    snprintf(big, sizeof big, "GET /healthz HTTP/1.1\r\nHost: x\r\nX: %0200000d\r\n\r\n", 0);
    const char *const own[] = {"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", big};
    for (int i = 0; i < 2; i++) {
        char ans[256];
        int fd = raw_connect(&s, 10);
        CHECK(fd >= 0 && send(fd, own[i], strlen(own[i]), MSG_NOSIGNAL) > 0);
        long got = fd >= 0 ? raw_read_all(fd, ans, sizeof ans) : -1;
        CHECK_MSG(got > 0 && strncmp(ans, i ? "HTTP/1.1 431" : "HTTP/1.1 400", 12) == 0, "own answer %d: %.60s", i,
                  got > 0 ? ans : "");
        if (fd >= 0) close(fd);
    }
    stop_clean(&s);
    blob b = read_file(s.log);
    int access = 0, events = 0, bad = 0, mhd_events = 0;
    static const char *const KEYS[] = {"ts", "method", "path", "status", "images", "ms", "bytes_in", "bytes_out",
                                       "end"};
    for (char *line = b.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
        if (!j) {
            bad++;
            fprintf(stderr, "not a JSON line: %.200s\n", line);
        } else if (json_object_get(j, "event")) {
            events++;
            CHECK_INT_EQ(json_object_size(j), 1);
            mhd_events += strncmp(json_string_value(json_object_get(j, "event")), "libmicrohttpd: ", 15) == 0;
        } else if (json_string_value(json_object_get(j, "path")) &&
                   strcmp(json_string_value(json_object_get(j, "path")), "/readyz") == 0) {
            /* the harness's readiness probes */
        } else {
            access++;
            CHECK_MSG(json_object_size(j) == 9, "access record with %zu keys: %.300s", json_object_size(j), line);
            for (size_t k = 0; k < 9; k++) CHECK_MSG(json_object_get(j, KEYS[k]) != NULL, "no %s in %.300s", KEYS[k], line);
            CHECK(json_object_get(j, "injected") == NULL);
            int st = (int)json_integer_value(json_object_get(j, "status"));
            CHECK_MSG(st == 404 || st == 405 || st == 415 || st == 400, "status %d in %.300s", st, line);
            const char *path = json_string_value(json_object_get(j, "path"));
            if (path && strstr(path, "injected")) CHECK_INT_EQ(st, 404); /* the real status, not the forged 200 */
        }
        json_decref(j);
    }
    free(b.data);
    fprintf(stderr, "info: json log: %d access records for %d requests, %d events, %d bad lines\n", access, sent,
            events, bad);
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(access, sent);
    CHECK(events >= 3);
    CHECK_MSG(mhd_events >= 2, "libmicrohttpd's own answers: %d events", mhd_events);
}

static void test_log_text(void)
{
    server s;
    if (server_start(&s, "interop-log-text", NULL)) {
        CHECK(0);
        return;
    }
    int sent = send_hostile(&s);
    stop_clean(&s);
    blob b = read_file(s.log);
    int access = 0, events = 0, bad = 0;
    for (char *line = b.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (strncmp(line, "deit-server: ", 13) == 0) {
            events++;
            continue;
        }
        /* ts method path status images=N ms=X in=N out=N end=E: exactly 9 space-separated fields */
        int fields = 1, ctl = 0;
        for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
            if (*p == ' ') fields++;
            if (*p < 0x20 || *p == 0x7f || *p == '"' || *p >= 0x80) ctl++;
        }
        char method[64], path[4096];
        int status = -1;
        if (fields != 9 || ctl || sscanf(line, "%*s %63s %4095s %d images=", method, path, &status) != 3) {
            bad++;
            fprintf(stderr, "bad text access line: %.300s\n", line);
        } else if (strcmp(path, "/readyz") != 0) { /* not the harness's readiness probes */
            access++;
            CHECK_MSG(status == 404 || status == 405 || status == 415, "status %d: %.300s", status, line);
        }
    }
    free(b.data);
    fprintf(stderr, "info: text log: %d access lines for %d requests, %d events, %d bad lines\n", access, sent,
            events, bad);
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(access, sent);
    CHECK_MSG(log_count(&s, "/x\\x22,\\x22status\\x22:200") == 1, "escaped quotes in the text log %s", s.log);
    CHECK_MSG(log_count(&s, "/a\\x0d\\x0afake\\x20200") == 1, "escaped CRLF and spaces in the text log %s", s.log);
}

/* ---- Open Inference Protocol and TorchServe --------------------------------------------------- */

static json_t *get_json(CURL *c, const server *s, const char *path, long *status)
{
    resp r = request(c, "GET", url_of(s, path), NULL, NULL, 0, TIMEOUT_S);
    *status = r.status;
    CHECK_MSG(has_header(&r, "Content-Type", "application/json"), "%s: Content-Type", path);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    CHECK_MSG(j != NULL, "%s: body is not JSON: \"%s\"", path, r.body);
    resp_free(&r);
    return j;
}

/* A v2 JSON infer body for one image (base64). */
static char *v2_body(const blob *img, size_t *len)
{
    size_t b64 = 4 * ((img->len + 2) / 3);
    char *s = malloc(b64 + 256);
    int n = sprintf(s, "{\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"");
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)img->data;
    size_t o = (size_t)n;
    for (size_t i = 0; i < img->len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < img->len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < img->len ? p[i + 2] : 0);
        s[o++] = A[v >> 18 & 63];
        s[o++] = A[v >> 12 & 63];
        s[o++] = i + 1 < img->len ? A[v >> 6 & 63] : '=';
        s[o++] = i + 2 < img->len ? A[v & 63] : '=';
    }
    o += (size_t)sprintf(s + o, "\"]}],\"outputs\":[{\"name\":\"fused_probs\",\"parameters\":{\"classification\":1}}]}");
    *len = o;
    return s;
}

static char *squeeze(const char *src, size_t len, int bits, size_t *out_len)
{
    uLong cap = compressBound(len) + 64;
    char *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void test_oip(void)
{
    server s;
    if (server_start(&s, "interop-oip", NULL)) {
        CHECK(0);
        return;
    }
    CURL *c = curl_easy_init();
    long st;
    json_t *a = get_json(c, &s, "/v2", &st), *b = get_json(c, &s, "/v2/", &st);
    CHECK_INT_EQ(st, 200);
    CHECK_MSG(json_equal(a, b), "GET /v2/ differs from GET /v2");
    json_t *ext = json_object_get(a, "extensions");
    int bin = 0, cls = 0;
    for (size_t i = 0; i < json_array_size(ext); i++) {
        const char *e = json_string_value(json_array_get(ext, i));
        bin |= e && strcmp(e, "binary_tensor_data") == 0;
        cls |= e && strcmp(e, "classification") == 0;
    }
    CHECK(bin && cls);
    json_decref(a);
    json_decref(b);
    json_t *j = get_json(c, &s, "/v2/health/live", &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "live")));
    json_decref(j);
    j = get_json(c, &s, "/v2/health/ready", &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s/ready", MODEL_NAME);
    j = get_json(c, &s, path, &st);
    CHECK_INT_EQ(st, 200);
    CHECK(json_is_true(json_object_get(j, "ready")));
    json_decref(j);
    snprintf(path, sizeof path, "/v2/models/%s/versions/2/ready", MODEL_NAME);
    j = get_json(c, &s, path, &st);
    CHECK_INT_EQ(st, 404);
    const char *e = json_string_value(json_object_get(j, "error"));
    CHECK_MSG(e && strstr(e, "no version \"2\"") && !strstr(e, "unknown model"), "unknown version says so: %s", e);
    json_decref(j);
    snprintf(path, sizeof path, "/v2/models/%s", MODEL_NAME);
    j = get_json(c, &s, path, &st);
    const char *platform = json_string_value(json_object_get(j, "platform"));
    CHECK_MSG(platform && strchr(platform, '_') && strcmp(platform, "deit_safetensors") == 0, "platform %s", platform);
    json_decref(j);
    /* Triton's model configuration says what the metadata says: names, types, shapes */
    snprintf(path, sizeof path, "/v2/models/%s", MODEL_NAME);
    json_t *meta = get_json(c, &s, path, &st);
    CHECK_INT_EQ(st, 200);
    snprintf(path, sizeof path, "/v2/models/%s/config", MODEL_NAME);
    json_t *conf = get_json(c, &s, path, &st);
    CHECK_INT_EQ(st, 200);
    CHECK_STR_EQ(json_string_value(json_object_get(conf, "name")), MODEL_NAME);
    json_t *mi = json_array_get(json_object_get(meta, "inputs"), 0), *ci = json_array_get(json_object_get(conf, "input"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(ci, "name")), json_string_value(json_object_get(mi, "name")));
    CHECK(json_equal(json_object_get(ci, "dims"), json_object_get(mi, "shape")));
    CHECK_STR_EQ(json_string_value(json_object_get(ci, "data_type")), "TYPE_STRING");
    json_t *mo = json_object_get(meta, "outputs"), *co = json_object_get(conf, "output");
    /* the three probabilities and, for this two-head model, the three explanation outputs */
    CHECK(json_array_size(mo) == 6 && json_array_size(co) == 6);
    for (size_t i = 0; i < json_array_size(mo); i++) {
        json_t *x = json_array_get(mo, i), *y = json_array_get(co, i);
        CHECK_STR_EQ(json_string_value(json_object_get(y, "name")), json_string_value(json_object_get(x, "name")));
        CHECK_MSG(json_equal(json_object_get(y, "dims"), json_object_get(x, "shape")), "output %zu: dims differ from the metadata's shape", i);
        if (i < 3) CHECK_INT_EQ(json_integer_value(json_array_get(json_object_get(y, "dims"), 1)), 10);
    }
    CHECK_INT_EQ(json_integer_value(json_object_get(conf, "max_batch_size")), 0);
    json_decref(meta);
    json_decref(conf);

    /* request bodies with Content-Encoding gzip and deflate: the same answer as plain */
    blob img = image("chelsea.png");
    size_t plain_len, zl;
    char *plain = v2_body(&img, &plain_len);
    snprintf(path, sizeof path, "/v2/models/%s/infer", MODEL_NAME);
    const char *hj[] = {"Content-Type: application/json", NULL};
    resp r0 = request(c, "POST", url_of(&s, path), hj, plain, plain_len, TIMEOUT_S);
    CHECK_INT_EQ(r0.status, 200);
    static const struct { const char *ce; int bits; } enc[] = {{"gzip", 16 + MAX_WBITS}, {"deflate", MAX_WBITS}};
    for (int k = 0; k < 2; k++) {
        char *z = squeeze(plain, plain_len, enc[k].bits, &zl);
        char ceh[64];
        snprintf(ceh, sizeof ceh, "Content-Encoding: %s", enc[k].ce);
        const char *hz[] = {"Content-Type: application/json", ceh, NULL};
        resp r = request(c, "POST", url_of(&s, path), hz, z, zl, TIMEOUT_S);
        CHECK_MSG(r.status == 200, "%s body: %ld %s", enc[k].ce, r.status, r.body);
        json_t *x = json_loadb(r.body, r.len, 0, NULL), *y = json_loadb(r0.body, r0.len, 0, NULL);
        CHECK_MSG(json_equal(json_object_get(x, "outputs"), json_object_get(y, "outputs")), "%s: other outputs",
                  enc[k].ce);
        json_decref(x);
        json_decref(y);
        resp_free(&r);
        free(z);
    }
    resp_free(&r0);
    const char *hbr[] = {"Content-Type: application/json", "Content-Encoding: br", NULL};
    resp r = request(c, "POST", url_of(&s, path), hbr, plain, plain_len, TIMEOUT_S);
    CHECK_INT_EQ(r.status, 415);
    CHECK_MSG(strstr(r.body, "\\\"br\\\"") != NULL, "415 names the encoding: %s", r.body);
    resp_free(&r);
    /* a gzip bomb: 64 MiB of zeros in about 64 KB, over the 32 MiB limit once inflated */
    size_t bomb_plain = 64u << 20;
    char *zeros = calloc(1, bomb_plain);
    char *bomb = squeeze(zeros, bomb_plain, 16 + MAX_WBITS, &zl);
    free(zeros);
    const char *hg[] = {"Content-Type: application/json", "Content-Encoding: gzip", NULL};
    r = request(c, "POST", url_of(&s, path), hg, bomb, zl, TIMEOUT_S);
    CHECK_MSG(r.status == 413, "gzip bomb (%zu bytes): %ld %s", zl, r.status, r.body);
    resp_free(&r);
    free(bomb);

    /* TorchServe: /predictions/{model}/{version}: 1 and 1.0 served, others 404 naming the version */
    const char *png[] = {"Content-Type: image/png", NULL};
    static const struct { const char *v; long status; } versions[] = {{"1", 200}, {"1.0", 200}, {"2", 404}};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "/predictions/%s/%s", MODEL_NAME, versions[k].v);
        r = request(c, "POST", url_of(&s, path), png, img.data, img.len, TIMEOUT_S);
        CHECK_MSG(r.status == versions[k].status, "%s: %ld %s", path, r.status, r.body);
        if (r.status == 404) CHECK_MSG(strstr(r.body, "no version") != NULL, "%s: %s", path, r.body);
        resp_free(&r);
    }
    r = request(c, "POST", url_of(&s, "/predictions/other/1"), png, img.data, img.len, TIMEOUT_S);
    CHECK(r.status == 404 && strstr(r.body, "unknown model"));
    resp_free(&r);
    curl_easy_cleanup(c);
    stop_clean(&s);

    /* --model-version 3: served under 3 and reported in v2 answers */
    const char *extra[] = {"--model-version", "3", NULL};
    if (server_start(&s, "interop-version", extra)) {
        CHECK(0);
    } else {
        c = curl_easy_init();
        snprintf(path, sizeof path, "/predictions/%s/3", MODEL_NAME);
        r = request(c, "POST", url_of(&s, path), png, img.data, img.len, TIMEOUT_S);
        CHECK_INT_EQ(r.status, 200);
        resp_free(&r);
        snprintf(path, sizeof path, "/predictions/%s/1", MODEL_NAME);
        r = request(c, "POST", url_of(&s, path), png, img.data, img.len, TIMEOUT_S);
        CHECK_INT_EQ(r.status, 404);
        resp_free(&r);
        snprintf(path, sizeof path, "/v2/models/%s/versions/3/infer", MODEL_NAME);
        r = request(c, "POST", url_of(&s, path), hj, plain, plain_len, TIMEOUT_S);
        j = json_loadb(r.body, r.len, 0, NULL);
        CHECK_INT_EQ(r.status, 200);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "model_version")), "3");
        json_decref(j);
        resp_free(&r);
        curl_easy_cleanup(c);
        stop_clean(&s);
    }
    free(plain);
    free(img.data);
}

/* ---- the waiting room before a full queue ----------------------------------------------------- */

#define PARK_CLIENTS 8
#define PARK_EACH 3

typedef struct {
    const server *s;
    const blob *img;
    int ok, busy, busy_no_retry, other;
} park_client;

static void *park_main(void *arg)
{
    park_client *p = arg;
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: image/png", NULL};
    for (int i = 0; i < PARK_EACH; i++) {
        resp r = request(c, "POST", url_of(p->s, "/v1/predict?top_k=1"), h, p->img->data, p->img->len, TIMEOUT_S);
        if (r.status == 200) p->ok++;
        else if (r.status == 503 && has_header(&r, "Retry-After", "1")) p->busy++;
        else if (r.status == 503) p->busy_no_retry++;
        else p->other++;
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* 8 clients against one worker and a queue of 1 image: with a long --queue-wait-ms every request waits
 * for room and is answered 200; with --queue-wait-ms 0 the full queue may refuse some at once (how
 * many is timing: test_full_queue_refuses_at_once holds the queue full to check that). Either way
 * every answer is 200 or 503 with Retry-After. */
static void test_parking(void)
{
    blob img = image("chelsea.png");
    static const char *const waits[] = {"30000", "0"};
    for (int w = 0; w < 2; w++) {
        server s;
        const char *extra[] = {"--workers", "1", "--max-batch", "1", "--queue", "1", "--max-images", "1",
                               "--http-threads", "2", "--queue-wait-ms", waits[w], NULL};
        if (server_start(&s, w ? "interop-nopark" : "interop-park", extra)) {
            CHECK(0);
            continue;
        }
        park_client cl[PARK_CLIENTS];
        pthread_t th[PARK_CLIENTS];
        for (int i = 0; i < PARK_CLIENTS; i++) {
            cl[i] = (park_client){&s, &img, 0, 0, 0, 0};
            pthread_create(&th[i], NULL, park_main, &cl[i]);
        }
        int ok = 0, busy = 0, bad = 0;
        for (int i = 0; i < PARK_CLIENTS; i++) {
            pthread_join(th[i], NULL);
            ok += cl[i].ok;
            busy += cl[i].busy;
            bad += cl[i].busy_no_retry + cl[i].other;
        }
        resp r = request(NULL, "GET", url_of(&s, "/metrics"), NULL, NULL, 0, TIMEOUT_S);
        long parked = metric_sample(r.body, "deit_requests_parked");
        resp_free(&r);
        fprintf(stderr, "info: queue of 1, --queue-wait-ms %s: %d ok, %d answered 503, %d other\n", waits[w], ok,
                busy, bad);
        CHECK_INT_EQ(bad, 0);
        CHECK_INT_EQ(ok + busy, PARK_CLIENTS * PARK_EACH);
        CHECK_INT_EQ(parked, 0); /* nobody left waiting */
        if (w == 0) CHECK_MSG(ok == PARK_CLIENTS * PARK_EACH, "parked requests refused: %d of %d ok", ok,
                              PARK_CLIENTS * PARK_EACH);
        stop_clean(&s);
    }
    free(img.data);
}

typedef struct {
    const server *s;
    const blob *img;
    resp r;
} upload_one;

static void *upload_one_main(void *arg)
{
    upload_one *u = arg;
    const char *h[] = {"Content-Type: image/png", NULL};
    u->r = request(NULL, "POST", url_of(u->s, "/v1/predict?top_k=1"), h, u->img->data, u->img->len, TIMEOUT_S);
    return NULL;
}

/* With --queue-wait-ms 0 a full queue refuses at once. Whether 8 clients fill a queue of 1 depends on
 * timing, so the queue is held full here: a lone image waits 2 s for company (--batch-wait-us) in
 * a queue of 1, and a second request meanwhile is answered 503 with Retry-After without waiting;
 * the first is answered 200 once its wait is over. */
static void test_full_queue_refuses_at_once(void)
{
    blob img = image("chelsea.png");
    server s;
    const char *extra[] = {"--workers", "1", "--max-batch", "2", "--batch-wait-us", "2000000", "--queue", "1",
                           "--max-images", "1", "--queue-wait-ms", "0", NULL};
    if (server_start(&s, "interop-full-queue", extra)) {
        CHECK(0);
        free(img.data);
        return;
    }
    double slack = sanitized_server() ? 4.0 : 1.0; /* sanitized servers are slower (this file has no checks.h) */
    upload_one first = {&s, &img, {0}};
    pthread_t th;
    pthread_create(&th, NULL, upload_one_main, &first);
    CHECK_MSG(metric_wait(&s, "deit_queue_depth", 1, 10 * slack) == 1, "the first image never queued");
    const char *h[] = {"Content-Type: image/png", NULL};
    resp r = request(NULL, "POST", url_of(&s, "/v1/predict?top_k=1"), h, img.data, img.len, TIMEOUT_S);
    fprintf(stderr, "info: full queue, --queue-wait-ms 0: %ld after %.3f s\n", r.status, r.secs);
    CHECK_MSG(r.status == 503 && has_header(&r, "Retry-After", "1") && strstr(r.body, "queue is full"),
              "a request to a full queue: %ld %s", r.status, r.body);
    CHECK_MSG(r.secs < 1.0 * slack, "the 503 took %.2f s (--queue-wait-ms 0)", r.secs);
    resp_free(&r);
    pthread_join(th, NULL);
    CHECK_MSG(first.r.status == 200, "the queued request: %ld %s", first.r.status, first.r.body);
    resp_free(&first.r);
    stop_clean(&s);
    free(img.data);
}

/* A request parked for room whose client leaves before it is admitted must not keep the ticket the
 * room counts for it when it is admitted: each such close once leaked one, and two leaks left an
 * idle server answering every upload 503 "queue is full" for ever (queue 1 + 1 HTTP thread: room
 * for two uploads). Three rounds of: two uploads that send only their headers (they hold the room),
 * a third parked behind them that closes, the two holders close; then a normal upload gets 200. */
static void test_parked_client_leaves(void)
{
    blob img = image("chelsea.png");
    server s;
    const char *extra[] = {"--workers", "1", "--max-batch", "1", "--queue", "1", "--max-images", "1",
                           "--http-threads", "1", "--queue-wait-ms", "5000", NULL};
    if (server_start(&s, "interop-parked-leaves", extra)) {
        CHECK(0);
        free(img.data);
        return;
    }
    char hdr[256];
    snprintf(hdr, sizeof hdr, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
             "Content-Length: %zu\r\n\r\n", img.len);
    const char *png[] = {"Content-Type: image/png", NULL};
    for (int round = 0; round < 3; round++) {
        int holders[2], parked;
        for (int i = 0; i < 2; i++) {
            holders[i] = raw_connect(&s, 5);
            CHECK(holders[i] >= 0 && write(holders[i], hdr, strlen(hdr)) == (ssize_t)strlen(hdr));
        }
        sleep_ms(300);
        parked = raw_connect(&s, 5);
        CHECK(parked >= 0 && write(parked, hdr, strlen(hdr)) == (ssize_t)strlen(hdr));
        sleep_ms(300);
        close(parked); /* a plain FIN, as a client's timeout sends */
        sleep_ms(200);
        for (int i = 0; i < 2; i++) close(holders[i]);
        sleep_ms(500);
        resp r = request(NULL, "POST", url_of(&s, "/v1/predict"), png, img.data, img.len, TIMEOUT_S);
        CHECK_MSG(r.status == 200, "round %d: a lone upload after parked clients left got %ld: %.120s", round + 1,
                  r.status, r.body ? r.body : "");
        resp_free(&r);
    }
    stop_clean(&s);
    free(img.data);
}

/* CORS (--cors-origin): a listed origin's preflight is answered 204 before the API key (a browser
 * sends none with it), with the route's methods and the asked headers; another origin's is 403; the
 * answers themselves carry Access-Control-Allow-Origin (errors too, so a page can read them) only
 * for a listed origin, and Vary: Origin on every answer, those without an Origin header too. */
static void test_cors(void)
{
    server s;
    const char *extra[] = {"--api-key", KEY, "--cors-origin", "http://localhost:3000, https://app.example", NULL};
    if (server_start(&s, "interop-cors", extra)) {
        CHECK(0);
        return;
    }
    CURL *c = curl_easy_init();
    const char *pre[] = {"Origin: https://app.example", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: authorization, content-type", NULL};
    resp r = request(c, "OPTIONS", url_of(&s, "/v1/predict"), pre, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.status == 204, "preflight of a listed origin: %ld %s", r.status, r.body);
    CHECK(has_header(&r, "Access-Control-Allow-Origin", "https://app.example"));
    CHECK(has_header(&r, "Access-Control-Allow-Methods", "POST"));
    CHECK(has_header(&r, "Access-Control-Allow-Headers", "authorization, content-type"));
    CHECK(has_header(&r, "Access-Control-Max-Age", "600"));
    CHECK(has_header(&r, "Vary", "Origin"));
    CHECK(!has_header(&r, "Content-Type", NULL));
    resp_free(&r);
    const char *pre_other[] = {"Origin: http://localhost:3001", "Access-Control-Request-Method: POST", NULL};
    r = request(c, "OPTIONS", url_of(&s, "/v2/models/x/infer"), pre_other, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.status == 403 && strstr(r.body, "may not call this server from a browser") &&
                  !has_header(&r, "Access-Control-Allow-Origin", NULL),
              "preflight of another origin: %ld %s", r.status, r.body);
    resp_free(&r);
    /* the request itself, from the listed origin: served, readable by the page */
    blob img = image("tiny_7x5.png");
    const char *post[] = {"Origin: http://localhost:3000", "Content-Type: image/png", "Authorization: Bearer " KEY, NULL};
    r = request(c, "POST", url_of(&s, "/v1/predict"), post, img.data, img.len, TIMEOUT_S);
    CHECK_MSG(r.status == 200, "POST from a listed origin: %ld %s", r.status, r.body);
    CHECK(has_header(&r, "Access-Control-Allow-Origin", "http://localhost:3000"));
    CHECK(has_header(&r, "Access-Control-Expose-Headers", "Retry-After"));
    resp_free(&r);
    /* its error answers too (401 without the key), so the page can show why */
    const char *nokey[] = {"Origin: http://localhost:3000", "Content-Type: image/png", NULL};
    r = request(c, "POST", url_of(&s, "/v1/predict"), nokey, img.data, img.len, TIMEOUT_S);
    CHECK(r.status == 401 && has_header(&r, "Access-Control-Allow-Origin", "http://localhost:3000"));
    resp_free(&r);
    /* no Origin (curl, a navigation): no Allow-Origin, but Vary: Origin all the same, so that no
     * cache hands this answer (without CORS headers) to a page's fetch (Fetch, "CORS protocol and
     * HTTP caches"); GET answers are the ones caches keep */
    const char *plain[] = {"Content-Type: image/png", "Authorization: Bearer " KEY, NULL};
    r = request(c, "POST", url_of(&s, "/v1/predict"), plain, img.data, img.len, TIMEOUT_S);
    CHECK(r.status == 200 && !has_header(&r, "Access-Control-Allow-Origin", NULL) && has_header(&r, "Vary", "Origin"));
    resp_free(&r);
    char meta[300];
    snprintf(meta, sizeof meta, "/v2/models/%s", MODEL_NAME);
    r = request(c, "GET", url_of(&s, meta), NULL, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.status == 200 && !has_header(&r, "Access-Control-Allow-Origin", NULL) && has_header(&r, "Vary", "Origin"),
              "GET model metadata without Origin: %ld, Vary: Origin %d", r.status, has_header(&r, "Vary", "Origin"));
    resp_free(&r);
    /* OPTIONS that is no preflight stays 405 with Allow */
    r = request(c, "OPTIONS", url_of(&s, "/v1/predict"), NULL, NULL, 0, TIMEOUT_S);
    CHECK(r.status == 405 && has_header(&r, "Allow", "POST"));
    resp_free(&r);
    /* the preflights are counted under their own codes, not "other" */
    r = request(c, "GET", url_of(&s, "/metrics"), NULL, NULL, 0, TIMEOUT_S);
    CHECK_MSG(r.body && strstr(r.body, "deit_requests_total{endpoint=\"predict\",code=\"204\"} 1\n") &&
                  strstr(r.body, "deit_requests_total{endpoint=\"v2_infer\",code=\"403\"} 1\n"),
              "metrics: preflights counted 204 and 403");
    resp_free(&r);
    free(img.data);
    curl_easy_cleanup(c);
    stop_clean(&s);
}

int main(void)
{
    harness_init();
    QUICK = atoi(env_or("DEIT_TEST_QUICK", "0"));
    const char *slash = strrchr(H_MODEL, '/');
    MODEL_NAME = slash ? slash + 1 : H_MODEL;
    fprintf(stderr, "test_interop: %s (logs in %s)%s\n", H_SERVER_BIN, H_LOGS, QUICK ? " quick" : "");
    test_host_any();
    test_early_errors();
    test_loading();
    test_log_json();
    test_log_text();
    test_oip();
    test_cors();
    test_parking();
    test_full_queue_refuses_at_once();
    test_parked_client_leaves();
    return check_summary("test_interop");
}
