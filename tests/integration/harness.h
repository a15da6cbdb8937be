/* harness.h — server process, libcurl and raw-socket helpers shared by the integration tests and the soak
 * (static inline, header-only: each test binary is one translation unit). */
#ifndef DEIT_TEST_HARNESS_H
#define DEIT_TEST_HARNESS_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Error body shapes a test expects: the server's own {"error": {code, message}}, KServe v2's
 * {"error": "…"}, TorchServe's {code, type, message} (/predictions, /ping) */
#define SHAPE_DEIT 0
#define SHAPE_V2 1
#define SHAPE_TORCHSERVE 2

static const char *H_SERVER_BIN, *H_MODEL, *H_IMAGES, *H_LOGS;
/* CA file for https:// URLs (the TLS test's self-signed certificate); NULL: none. */
static const char *H_CACERT;

static inline const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static inline void harness_init(void)
{
    H_SERVER_BIN = env_or("DEIT_SERVER_BIN", "build/deit-server");
    H_MODEL = env_or("DEIT_TEST_MODEL", "tests/fixtures/models/timm-deit-reduced");
    H_IMAGES = env_or("DEIT_TEST_IMAGES", "tests/fixtures/images");
    H_LOGS = env_or("DEIT_TEST_LOGS", "build/test-logs");
    mkdir(H_LOGS, 0755);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Sanitized servers run several times slower and use far more memory: timing bounds are multiplied by
 * this factor and RSS bounds apply to the release server only. */
static inline int sanitized_server(void)
{
    const char *s = getenv("DEIT_TEST_SANITIZER");
    if (s && *s) return 1;
    return strstr(H_SERVER_BIN, "asan") || strstr(H_SERVER_BIN, "tsan");
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- files ------------------------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
} blob;

static inline blob read_file(const char *path)
{
    blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.data = malloc((size_t)n + 1);
    b.len = fread(b.data, 1, (size_t)n, f);
    b.data[b.len] = 0;
    fclose(f);
    return b;
}

static inline int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static inline blob image(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", H_IMAGES, name);
    blob b = read_file(p);
    if (!b.data) fprintf(stderr, "cannot read %s\n", p);
    return b;
}

/* ---- server process ---------------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int port;
    char base[64];
    char log[512];
} server;

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) {
        close(fd);
        return -1;
    }
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static inline size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static inline void curl_common(CURL *c, const char *url)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (H_CACERT && strncmp(url, "https:", 6) == 0) curl_easy_setopt(c, CURLOPT_CAINFO, H_CACERT);
}

static inline long get_status(const char *url)
{
    CURL *c = curl_easy_init();
    curl_common(c, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

/* Forks the server with `extra` flags (NULL-terminated) and `env` ("NAME=value", NULL-terminated,
 * may be NULL); stderr goes to <logs>/<binary>-<tag>.log. Does not wait. */
static inline void server_spawn(server *s, const char *tag, const char *model, const char *const *extra,
                         const char *const *env, const char *scheme)
{
    s->port = free_port();
    snprintf(s->base, sizeof s->base, "%s://%s:%d", scheme, strcmp(scheme, "https") == 0 ? "localhost" : "127.0.0.1",
             s->port);
    char bin[256];
    snprintf(bin, sizeof bin, "%s", H_SERVER_BIN);
    for (char *p = bin; *p; p++)
        if (*p == '/' || *p == '.') *p = '_';
    snprintf(s->log, sizeof s->log, "%s/%s-%s.log", H_LOGS, bin, tag);
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[64] = {H_SERVER_BIN, "--model", model, "--host", "127.0.0.1", "--port", port};
    int n = 7;
    for (int i = 0; extra && extra[i] && n < 62; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        execv(H_SERVER_BIN, (char *const *)argv);
        _exit(127);
    }
}

/* Spawns the server on `model` and waits up to 120 s for /readyz. */
static inline int server_start_model(server *s, const char *tag, const char *model, const char *const *extra,
                                     const char *const *env, const char *scheme)
{
    server_spawn(s, tag, model, extra, env, scheme);
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", s->base);
    for (double t0 = now_s(); now_s() - t0 < 120;) {
        if (get_status(url) == 200) return 0;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            fprintf(stderr, "server exited early (see %s)\n", s->log);
            s->pid = -1;
            return -1;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "server not ready after 120 s (see %s)\n", s->log);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
    return -1;
}

/* Spawns the server on the test model (DEIT_TEST_MODEL) and waits up to 120 s for /readyz. */
static inline int server_start_env(server *s, const char *tag, const char *const *extra, const char *const *env,
                                   const char *scheme)
{
    return server_start_model(s, tag, H_MODEL, extra, env, scheme);
}

static inline int server_start(server *s, const char *tag, const char *const *extra)
{
    return server_start_env(s, tag, extra, NULL, "http");
}

/* Sends SIGTERM and waits up to 120 s; returns the exit status, or -1 (killed, or did not exit). */
static inline int server_stop(server *s)
{
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int st = 0;
    for (double t0 = now_s(); now_s() - t0 < 120; sleep_ms(20))
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = -1;
            if (WIFEXITED(st)) return WEXITSTATUS(st);
            fprintf(stderr, "server killed by signal %d\n", WTERMSIG(st));
            return -1;
        }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = -1;
    return -1;
}

/* Occurrences of needle in the server's log. */
static inline int log_count(const server *s, const char *needle)
{
    blob b = read_file(s->log);
    int n = 0;
    for (const char *p = b.data; p && (p = strstr(p, needle)); p++) n++;
    free(b.data);
    return n;
}

/* log_count, polled until it reaches `want` or `secs` have passed. The server writes an access line
 * once the answer has gone out, so a client can hold its answer before the line is in the log: a
 * count taken while the server runs waits for it. */
static inline int log_count_wait(const server *s, const char *needle, int want, double secs)
{
    int n = log_count(s, needle);
    for (double t0 = now_s(); n < want && now_s() - t0 < secs; n = log_count(s, needle)) sleep_ms(20);
    return n;
}

/* A "Name:  N kB" field of /proc/<pid>/status in KiB (field includes the colon), -1 if unreadable. */
static inline long proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t n = strlen(field);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0) kb = atol(line + n);
    fclose(f);
    return kb;
}

/* Resident set size of a process in KiB (VmRSS), -1 if it cannot be read. */
static inline long rss_kb(pid_t pid) { return proc_status_kb(pid, "VmRSS:"); }

static inline char *url_of(const server *s, const char *path)
{
    static __thread char buf[4][512];
    static __thread int k;
    char *u = buf[k++ % 4];
    snprintf(u, 512, "%s%s", s->base, path);
    return u;
}

/* ---- HTTP client ------------------------------------------------------------------------------- */

typedef struct {
    long status;
    CURLcode rc;
    char *body;
    size_t len;
    char *hdrs;
    size_t hlen;
    double secs;               /* wall time of the whole exchange */
} resp;

static inline size_t grow(char **buf, size_t *len, const char *p, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);
    if (!b) return 0;
    memcpy(b + *len, p, n);
    *len += n;
    b[*len] = 0;
    *buf = b;
    return n;
}

static inline size_t on_body(char *p, size_t s, size_t n, void *u)
{
    resp *r = u;
    return grow(&r->body, &r->len, p, s * n);
}

static inline size_t on_header(char *p, size_t s, size_t n, void *u)
{
    resp *r = u;
    return grow(&r->hdrs, &r->hlen, p, s * n);
}

static inline void resp_free(resp *r)
{
    free(r->body);
    free(r->hdrs);
    memset(r, 0, sizeof *r);
}

/* Case-insensitive header lookup in the raw header block: 1 when "Name: value-prefix" is present. */
static inline int has_header(const resp *r, const char *name, const char *value_prefix)
{
    size_t nl = strlen(name);
    for (const char *p = r->hdrs; p && *p;) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            if (!value_prefix || strncasecmp(v, value_prefix, strlen(value_prefix)) == 0) return 1;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return 0;
}

/* A PUT body read from memory by libcurl. */
typedef struct {
    const char *data;
    size_t len, off;
} upload;

static inline size_t on_read(char *buf, size_t s, size_t n, void *u)
{
    upload *up = u;
    size_t k = up->len - up->off < s * n ? up->len - up->off : s * n;
    memcpy(buf, up->data + up->off, k);
    up->off += k;
    return k;
}

/* Collects the response into r, bounded by timeout_s for the whole exchange, and times it. */
static inline void resp_perform(CURL *c, resp *r, struct curl_slist *h, long timeout_s)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    double t0 = now_s();
    r->rc = curl_easy_perform(c);
    r->secs = now_s() - t0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (!r->body) r->body = calloc(1, 1);
}

/* An HTTP exchange: method "PUT" uploads body like `curl -T`; other methods send it as POST fields
 * (body NULL: none). headers: NULL-terminated "Name: value" list; without an Expect header of its
 * own, none is sent (no 100-continue round trip). c may be NULL (a fresh handle) or reused (keep-alive). */
static inline resp request(CURL *c, const char *method, const char *url, const char *const *headers, const void *body,
                           size_t len, long timeout_s)
{
    resp r;
    memset(&r, 0, sizeof r);
    int own = c == NULL;
    if (own) c = curl_easy_init();
    else curl_easy_reset(c);
    struct curl_slist *h = NULL;
    int expect = 0;
    for (int i = 0; headers && headers[i]; i++) {
        h = curl_slist_append(h, headers[i]);
        if (strncasecmp(headers[i], "Expect:", 7) == 0) expect = 1;
    }
    if (!expect) h = curl_slist_append(h, "Expect:");
    upload up = {body, len, 0};
    curl_common(c, url);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    } else if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        /* NOBODY, not a custom method: libcurl would wait for the Content-Length bytes a HEAD
         * answer announces and never sends, until the server drops the idle connection */
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    resp_perform(c, &r, h, timeout_s);
    curl_slist_free_all(h);
    if (own) curl_easy_cleanup(c);
    return r;
}

/* multipart/form-data POST with one file field per blob, all named `field`; file names from
 * names[i], or "upload.bin" for every part when names is NULL. */
static inline resp post_files(CURL *c, const char *url, const char *field, const blob *files,
                              const char *const *names, int n, long timeout_s)
{
    resp r;
    memset(&r, 0, sizeof r);
    int own = c == NULL;
    if (own) c = curl_easy_init();
    else curl_easy_reset(c);
    curl_mime *mime = curl_mime_init(c);
    for (int i = 0; i < n; i++) {
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_name(p, field);
        curl_mime_data(p, files[i].data, files[i].len);
        curl_mime_filename(p, names ? names[i] : "upload.bin");
    }
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    curl_common(c, url);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    resp_perform(c, &r, h, timeout_s);
    curl_mime_free(mime);
    curl_slist_free_all(h);
    if (own) curl_easy_cleanup(c);
    return r;
}

/* The value of the sample "<series> <value>" in a /metrics body (series with its labels, exactly as
 * the server prints them), or -1 when absent. Matches at a line start only, so a "# HELP <name> ..."
 * line is never taken for the sample. */
static inline long metric_sample(const char *body, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = body; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') return strtol(p + n + 1, NULL, 10);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

/* One sample of the server's /metrics now (-1 when absent or /metrics did not answer). */
static inline long metric_get(const server *s, const char *series)
{
    resp m = request(NULL, "GET", url_of(s, "/metrics"), NULL, NULL, 0, 10);
    long v = m.status == 200 ? metric_sample(m.body, series) : -1;
    resp_free(&m);
    return v;
}

/* metric_get, polled until it reaches `want` or `secs` have passed, as log_count_wait polls the
 * log. The server counts a request when it completes, after the answer has gone out, as it writes
 * its access line: a client can hold its answer before the count moves. */
static inline long metric_wait(const server *s, const char *series, long want, double secs)
{
    long v = metric_get(s, series);
    for (double t0 = now_s(); v < want && now_s() - t0 < secs; v = metric_get(s, series)) sleep_ms(20);
    return v;
}

/* ---- raw sockets ------------------------------------------------------------------------------- */

/* A plain TCP connection to the server's port (receive timeout rcv_s seconds), or -1. */
static inline int raw_connect(const server *s, int rcv_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    struct timeval tv = {rcv_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads until the peer closes (or the socket's receive timeout passes). Returns bytes read, -1 on timeout. */
static inline long raw_read_all(int fd, char *buf, size_t cap)
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

#endif
