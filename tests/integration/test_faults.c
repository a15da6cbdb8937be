/* test_faults.c — faults at start (missing or corrupt model files: a non-zero exit with the reason,
 * never a 200 from /readyz) and per request. Not in the TSan run. */
#include "checks.h"

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

    /* A model's default name is its directory's, and it goes into every JSON answer and /metrics,
     * which carry UTF-8 only: a Latin-1 directory name, or a UTF-8 one longer than the engine's 127
     * bytes (70 x U+00E9, cut inside a character), answered every request 503 "out of memory" behind
     * a 200 /readyz. Refused at start, pointing at --model-name; served under a --model-name. */
    char latin1[600], long_utf8[800];
    snprintf(latin1, sizeof latin1, "%s/caf\xe9", H_LOGS);
    int o = snprintf(long_utf8, sizeof long_utf8, "%s/", H_LOGS);
    for (int i = 0; i < 70; i++) o += snprintf(long_utf8 + o, sizeof long_utf8 - (size_t)o, "\xc3\xa9");
    CHECK(model_copy(latin1, "", NULL, 0) == 0 && model_copy(long_utf8, "", NULL, 0) == 0);
    expect_start_failure("latin-1 directory name", latin1, "not valid UTF-8; name it with --model-name");
    expect_start_failure("long directory name", long_utf8, "not valid UTF-8; name it with --model-name");
    const char *renamed[] = {"--model-name", "cafe", NULL};
    server named;
    if (server_start_model(&named, "latin1-renamed", latin1, renamed, NULL, "http") == 0) {
        blob img = image("chelsea.png");
        const char *png[] = {"Content-Type: image/png", NULL};
        resp r = request(NULL, "POST", url_of(&named, "/v1/predict"), png, img.data, img.len, 60);
        CHECK_MSG(r.status == 200 && r.body && strstr(r.body, "\"model\":\"cafe\""), "--model-name cafe: %ld %s",
                  r.status, r.body);
        resp_free(&r);
        free(img.data);
        check_stopped(&named);
    } else {
        CHECK(0);
    }

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
    check_stopped(&s);
}

int main(void)
{
    test_init("test_faults");
    if (QUICK)
        return skip_under_tsan("test_faults", "faults at start and per request");
    test_faults();
    curl_global_cleanup();
    return check_summary("test_faults");
}
