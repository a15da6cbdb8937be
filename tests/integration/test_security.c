/* test_security.c — TLS (a self-signed certificate, bad key and certificate files) and the API key
 * (401 with WWW-Authenticate, probes stay open, the JSON access log). Not in the TSan run. */
#include "checks.h"

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
    check_stopped(&s);
    H_CACERT = NULL;
    free(img.data);

    /* bad TLS settings stop the start with a reason: a missing file, a FIFO (which once held the
     * start until a writer came), cert and key swapped, only one */
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/key.fifo", dir);
    unlink(fifo);
    CHECK_MSG(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    struct { const char *what; const char *a[5]; const char *reason; int code; } bad[] = {
        {"missing cert", {"--tls-cert", "/nonexistent.pem", "--tls-key", key, NULL}, "cannot open", 1},
        {"FIFO key", {"--tls-cert", cert, "--tls-key", fifo, NULL}, "key.fifo: not a regular file", 1},
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
    CHECK_MSG(log_count_wait(&s, "\"path\":\"/v1/predict\",\"status\":401", 2, 5 * SLACK) == 2, "json access log in %s",
              s.log);
    check_stopped_clean(&s);
}

int main(void)
{
    test_init("test_security");
    if (QUICK) /* the ThreadSanitizer run has no security tests */
        return check_summary("test_security");
    if (load_references()) {
        fprintf(stderr, "cannot run %s for reference predictions\n", PREDICT_BIN);
        CHECK(0);
        return check_summary("test_security");
    }
    test_tls();
    test_auth();
    for (int i = 0; i < N_REF; i++) {
        json_decref(REF[i]);
        free(REF_BLOB[i].data);
    }
    curl_global_cleanup();
    return check_summary("test_security");
}
