/* test_hostile.c — hostile requests over HTTP: truncated and garbage bodies, wrong media types,
 * malformed multipart, too many parts or images, over-limit bodies and pixel counts, bad KServe v2
 * requests, a garbage request line and slow clients; each gets its clear 4xx and the server keeps
 * serving. Not in the TSan run (DEIT_TEST_QUICK=1). */
#include "checks.h"

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
    /* %00 and %2F stay encoded in the path: they once became a NUL that ended the path at
     * /v1/predict, and a slash that routing split on (model "m%2F1" served as version 1) */
    static const char *const odd_fmt[] = {"/v1/predict%%00junk%.0s", "/predictions/%.64s%%2F1",
                                          "/v2/models/%.64s%%2Fversions%%2F1/infer"};
    for (int i = 0; i < 3; i++) {
        char odd[160];
        snprintf(odd, sizeof odd, odd_fmt[i], MODEL_NAME);
        r = request(c, "POST", url_of(s, odd), png, chelsea.data, chelsea.len, TIMEOUT_S);
        CHECK_MSG(r.status == 404, "%s: want 404, got %ld", odd, r.status);
        resp_free(&r);
    }
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
    /* text/plain (fetch()'s label for a string body) is read as JSON: the FP32 input's own 400 */
    r = request(c, "POST", url_of(s, path), txt, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 400, 1, "v2 text/plain");
    CHECK_MSG(r.body && strstr(r.body, "must have datatype BYTES"), "v2 text/plain: not read as JSON: %s", r.body);
    resp_free(&r);
    const char *jpeg[] = {"Content-Type: image/jpeg", NULL};
    r = request(c, "POST", url_of(s, path), jpeg, fp32, sizeof fp32 - 1, TIMEOUT_S);
    expect_error(&r, 415, 1, "v2 image/jpeg");
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

    /* an absolute-form target (RFC 9112 3.2.2), as a client that takes us for a proxy sends it */
    fd = raw_connect(s, RCV_TIMEOUT_S);
    CHECK(fd >= 0);
    const char absolute[] = "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    CHECK(send(fd, absolute, sizeof absolute - 1, MSG_NOSIGNAL) > 0);
    got = raw_read_all(fd, buf, sizeof buf);
    CHECK_MSG(got > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "absolute-form target: %.60s", buf);
    close(fd);

    /* bodies that cannot be framed without guessing (RFC 9112 6.1, 6.3): 400 at once, connection
     * closed, nothing after the headers read. Two Content-Lengths once let the bytes a proxy framed
     * by the second one run as a request of their own; "identity" made the read go on until the
     * client closed. */
    static const char *const unframed[] = {
        "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 43\r\n\r\n"
        "helloGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello",
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nhello",
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40000000\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof unframed / sizeof unframed[0]; i++) {
        fd = raw_connect(s, RCV_TIMEOUT_S);
        CHECK(fd >= 0);
        CHECK(send(fd, unframed[i], strlen(unframed[i]), MSG_NOSIGNAL) > 0);
        got = raw_read_all(fd, buf, sizeof buf - 1);
        buf[got > 0 ? got : 0] = '\0';
        CHECK_MSG(got > 0 && strncmp(buf, "HTTP/1.1 400", 12) == 0 && strstr(buf, "Connection: close") &&
                      !strstr(buf + 12, "HTTP/1.1"), /* one answer: the smuggled request never ran */
                  "unframed body %zu: want one 400 and a close, got %.200s", i, buf);
        close(fd);
    }

    /* a body without framing headers (HTTP/1.0 has no chunked): 411 naming what is missing, one
     * answer, the connection closed (its bytes were once read as nothing, answered "empty body",
     * or as a next request); Content-Length: 0 is an empty body (400), and HTTP/1.0 with
     * Content-Length is served */
    static const struct { const char *head; const char *want; } lengths[] = {
        {"POST /v1/predict HTTP/1.0\r\nContent-Type: image/png\r\n\r\n", "HTTP/1.1 411"},
        {"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\r\n", "HTTP/1.1 411"},
        {"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 400"},
    };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        fd = raw_connect(s, RCV_TIMEOUT_S);
        CHECK(fd >= 0);
        CHECK(send(fd, lengths[i].head, strlen(lengths[i].head), MSG_NOSIGNAL) > 0);
        int is411 = strstr(lengths[i].want, "411") != NULL;
        if (is411) CHECK(send(fd, "\x89PNG\r\n", 6, MSG_NOSIGNAL) > 0); /* bytes the head did not announce */
        if (!is411) shutdown(fd, SHUT_WR); /* the 400 keeps the connection: end it from here */
        got = raw_read_all(fd, buf, sizeof buf - 1);
        buf[got > 0 ? got : 0] = '\0';
        CHECK_MSG(got > 0 && strncmp(buf, lengths[i].want, 12) == 0 && !strstr(buf + 12, "HTTP/1.1"),
                  "body framing %zu: want one %s, got %.200s", i, lengths[i].want, buf);
        if (is411) CHECK_MSG(strstr(buf, "Connection: close") && strstr(buf, "needs a body: send it with Content-Length"),
                             "411 %zu: closes and says what is missing: %.300s", i, buf);
        close(fd);
    }
    blob tiny = image("tiny_7x5.png");
    char h10[256];
    int hn = snprintf(h10, sizeof h10, "POST /v1/predict HTTP/1.0\r\nContent-Type: image/png\r\nContent-Length: %zu\r\n\r\n", tiny.len);
    fd = raw_connect(s, RCV_TIMEOUT_S);
    CHECK(fd >= 0 && tiny.data);
    CHECK(send(fd, h10, (size_t)hn, MSG_NOSIGNAL) > 0 && send(fd, tiny.data, tiny.len, MSG_NOSIGNAL) > 0);
    got = raw_read_all(fd, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = '\0';
    CHECK_MSG(got > 0 && strstr(buf, " 200 ") && strstr(buf, "\"predictions\""), "HTTP/1.0 POST with Content-Length: %.200s", buf);
    close(fd);
    free(tiny.data);
    resp m = request(NULL, "GET", url_of(s, "/metrics"), NULL, NULL, 0, 30);
    CHECK_MSG(m.body && strstr(m.body, "deit_requests_total{endpoint=\"predict\",code=\"411\"} 2\n"),
              "metrics: the two 411s counted as such");
    resp_free(&m);

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

int main(void)
{
    test_init("test_hostile");
    if (QUICK)
        return skip_under_tsan("test_hostile", "hostile clients");
    if (load_references()) {
        fprintf(stderr, "cannot run %s for reference predictions\n", PREDICT_BIN);
        CHECK(0);
        return check_summary("test_hostile");
    }
    server s;
    /* a 2 s idle timeout for the slow-client tests */
    const char *extra[] = {"--max-body-mb", "2", "--conn-timeout-s", "2", "--max-images", "8", NULL};
    if (server_start(&s, "hostile", extra) == 0) {
        test_hostile(&s);
        check_stopped_clean(&s);
    } else {
        CHECK(0);
    }
    for (int i = 0; i < N_REF; i++) {
        json_decref(REF[i]);
        free(REF_BLOB[i].data);
    }
    curl_global_cleanup();
    return check_summary("test_hostile");
}
