/* hub_http.c — the two exchanges with the hub, over libcurl: a metadata HEAD (relative redirects
 * only) and a resumable, SHA-256-checked GET of one file into its .incomplete blob. */
#include "hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "status.h"

#define HUB_USER_AGENT "deit-server (huggingface_hub-compatible cache)"
#define MAX_RELATIVE_REDIRECTS 5
/* huggingface_hub's http_get retries a dropped transfer 5 times, resuming each time. */
#define MAX_RESUMES 5

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* The handle both exchanges start from: http(s) only (redirects too), no signals (threads), the
 * token only when asked (never to another host: the CDN's URLs are signed). */
static CURL *easy_new(const hub_options *o, int with_token, struct curl_slist **hdrs, char *errbuf)
{
    pthread_once(&curl_once, curl_init);
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, HUB_USER_AGENT);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    *hdrs = NULL;
    if (with_token && o->token[0]) {
        char h[1100];
        snprintf(h, sizeof h, "Authorization: Bearer %s", o->token);
        *hdrs = curl_slist_append(*hdrs, h);
    }
    return c;
}

/* libcurl's timeouts are in ms, and 0 there means "no limit": a limit under half a millisecond must
 * not round to that, so every limit is at least 1 ms (and at most a day, which also keeps the cast
 * defined). */
static long ms(double s)
{
    double t = s * 1000.0 + 0.5;
    return t >= 86400e3 ? 86400000L : t >= 1.0 ? (long)t : 1L;
}

/* Copies a header's value (trimmed) when the line is "name: value". */
static int header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return 0;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= cap)
        vl = 0; /* too long to be a value we trust: read as absent */
    memcpy(out, v, vl);
    out[vl] = '\0';
    return 1;
}

static long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    return *s && !*end && !errno && x >= 0 ? x : -1;
}

typedef struct {
    hub_meta *m;
    char linked_etag[160], etag[160], linked_size[32], length[32];
} head_state;

static size_t on_head_header(char *line, size_t sz, size_t n, void *ud)
{
    head_state *s = ud;
    size_t len = sz * n;
    (void)(header_value(line, len, "X-Repo-Commit", s->m->commit, sizeof s->m->commit) ||
           header_value(line, len, "X-Linked-Etag", s->linked_etag, sizeof s->linked_etag) ||
           header_value(line, len, "ETag", s->etag, sizeof s->etag) ||
           header_value(line, len, "X-Linked-Size", s->linked_size, sizeof s->linked_size) ||
           header_value(line, len, "Content-Length", s->length, sizeof s->length) ||
           header_value(line, len, "Location", s->m->location, sizeof s->m->location) ||
           header_value(line, len, "X-Error-Code", s->m->error_code, sizeof s->m->error_code) ||
           header_value(line, len, "X-Error-Message", s->m->error_message, sizeof s->m->error_message));
    return len;
}

/* "scheme://host[:port]" of url into out. */
static void url_origin(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - url) : strlen(url);
    snprintf(out, cap, "%.*s", (int)n, url);
}

/* The HEAD's progress callback: a stop asked for (SIGTERM) ends a HEAD the hub is slow to answer,
 * which HF_HUB_ETAG_TIMEOUT alone would hold, once per relative redirect. */
static int on_head_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const hub_options *o = ud;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return o->cancelled && o->cancelled(o->ctx);
}

int hub_http_head(const hub_options *o, const char *url, hub_meta *m)
{
    char cur[2048], errbuf[CURL_ERROR_SIZE];
    snprintf(cur, sizeof cur, "%s", url);
    for (int hop = 0;; hop++) {
        memset(m, 0, sizeof *m);
        m->size = -1;
        if (o->cancelled && o->cancelled(o->ctx)) {
            snprintf(m->transport, sizeof m->transport, "cancelled");
            return -1;
        }
        head_state s;
        memset(&s, 0, sizeof s);
        s.m = m;
        struct curl_slist *hdrs = NULL;
        CURL *c = easy_new(o, 1, &hdrs, errbuf);
        if (!c) {
            m->no_answer = 1;
            snprintf(m->transport, sizeof m->transport, "cannot create a libcurl handle");
            return -1;
        }
        /* The size of the file itself, not of a compressed rendition of it. */
        hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_URL, cur);
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(o->etag_timeout_s));
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(o->etag_timeout_s));
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_head_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)o);
        CURLcode rc = curl_easy_perform(c);
        m->requests = hop + 1;
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &m->status);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        if (rc == CURLE_ABORTED_BY_CALLBACK) { /* not the hub's doing: no cache fallback either */
            snprintf(m->transport, sizeof m->transport, "cancelled");
            return -1;
        }
        if (rc != CURLE_OK) {
            m->no_answer = 1;
            snprintf(m->transport, sizeof m->transport, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
            return -1;
        }
        const char *etag = s.linked_etag[0] ? s.linked_etag : s.etag;
        if (!etag[0] || hub_etag_normalize(etag, m->etag, sizeof m->etag) != 0)
            m->etag[0] = '\0';
        m->size = parse_size(s.linked_size[0] ? s.linked_size : s.length);
        if (m->status >= 300 && m->status <= 399 && m->location[0]) {
            /* A relative Location (a renamed repo) is followed on the hub itself; an absolute one is
             * the CDN, fetched later by the GET, as huggingface_hub does. */
            if (m->location[0] == '/' && m->location[1] != '/') {
                if (hop >= MAX_RELATIVE_REDIRECTS) {
                    snprintf(m->transport, sizeof m->transport, "more than %d redirects", MAX_RELATIVE_REDIRECTS);
                    m->no_answer = 0;
                    return -1;
                }
                char origin[1024];
                url_origin(cur, origin, sizeof origin);
                if (snprintf(cur, sizeof cur, "%s%s", origin, m->location) >= (int)sizeof cur) {
                    snprintf(m->transport, sizeof m->transport, "redirect target too long (over %zu bytes)",
                             sizeof cur - 1);
                    return -1;
                }
                continue;
            }
            if (!strstr(m->location, "://"))
                m->location[0] = '\0';
            return 0;
        }
        snprintf(m->location, sizeof m->location, "%s", cur);
        m->on_hub = 1;
        return 0;
    }
}

/* ---- download --------------------------------------------------------------------------------- */

typedef struct {
    const hub_options *o;
    CURL *c;
    const char *file;
    int fd;
    EVP_MD_CTX *sha;
    long long have, size;      /* bytes in the .incomplete file; the size it must reach */
    long long received;        /* bytes received by this call (all attempts) */
    int started;               /* the body of this attempt has begun */
    double last_data;          /* monotonic time the last bytes (or the attempt) came */
    int stalled;               /* the progress callback gave up: nothing for download_timeout_s */
    char range[32];            /* this attempt's Content-Range, for a 206 */
    char werr[256];            /* why the write callback stopped the transfer */
    long long error_page;      /* bytes of a non-2xx answer's body so far */
} dl;

#define HUB_MAX_ERROR_PAGE (64 << 10)

static size_t on_dl_header(char *line, size_t sz, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = sz * n;
    header_value(line, len, "Content-Range", d->range, sizeof d->range);
    return len;
}

/* Hashes the bytes already in the file (a resumed download): the digest covers the whole blob. */
static int hash_existing(dl *d)
{
    unsigned char buf[1 << 16];
    long long off = 0;
    while (off < d->have) {
        size_t want = (size_t)(d->have - off < (long long)sizeof buf ? d->have - off : (long long)sizeof buf);
        ssize_t r = pread(d->fd, buf, want, off);
        if (r <= 0)
            return -1;
        EVP_DigestUpdate(d->sha, buf, (size_t)r);
        off += r;
    }
    return 0;
}

static int restart_file(dl *d)
{
    d->have = 0;
    return ftruncate(d->fd, 0) == 0 && EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_dl_body(char *p, size_t sz, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = sz * n;
    d->last_data = mono_s();
    long code = 0;
    curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        /* an error page: the status says what went wrong, and its body is not waited for beyond a
         * page's worth (an endless one would hold the load until SIGTERM) */
        d->error_page += (long long)len;
        if (d->error_page <= HUB_MAX_ERROR_PAGE)
            return len;
        snprintf(d->werr, sizeof d->werr, "download answered HTTP %ld with an error page of more than %d KiB", code,
                 HUB_MAX_ERROR_PAGE >> 10);
        return 0;
    }
    if (!d->started) {
        d->started = 1;
        if (code == 200 && d->have > 0 && restart_file(d) != 0) { /* the server ignored the Range */
            snprintf(d->werr, sizeof d->werr, "cannot truncate: %s", strerror(errno));
            return 0;
        }
        if (code == 206) {
            long long start = -1;
            if (sscanf(d->range, "bytes %lld-", &start) != 1 || start != d->have) {
                snprintf(d->werr, sizeof d->werr, "the server resumed at \"%s\", not at byte %lld", d->range,
                         d->have);
                return 0;
            }
        }
    }
    if ((long long)len > d->size - d->have) {
        /* Not the file the HEAD described (a proxy's page, say): what this answer wrote is dropped
         * too, or a later resume would append the true tail to it and a file of the right size,
         * checked by its size alone when its etag is no SHA-256, would enter the cache for good. */
        snprintf(d->werr, sizeof d->werr, "the server sent more than the %lld bytes it announced", d->size);
        if (restart_file(d) != 0)
            snprintf(d->werr, sizeof d->werr, "cannot truncate: %s", strerror(errno));
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = pwrite(d->fd, p + off, len - off, d->have + (long long)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(d->werr, sizeof d->werr, "write failed: %s", strerror(errno));
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(d->sha, p, len);
    d->have += (long long)len;
    d->received += (long long)len;
    return len;
}

static int on_dl_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    dl *d = ud;
    (void)dltotal, (void)ultotal, (void)ulnow;
    if (d->o->cancelled && d->o->cancelled(d->o->ctx))
        return 1;
    /* A redirect's body is read and dropped by libcurl itself, never reaching on_dl_body: counted
     * here, it is held to an error page's bound (an endless one was read for as long as it came). */
    long code = 0;
    curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code <= 399 && dlnow > HUB_MAX_ERROR_PAGE) {
        snprintf(d->werr, sizeof d->werr, "a redirect came with a body of more than %d KiB", HUB_MAX_ERROR_PAGE >> 10);
        return 1;
    }
    /* HF_HUB_DOWNLOAD_TIMEOUT is a read timeout (as in requests): nothing received for that long.
     * libcurl calls this at least once a second, so the check is that precise. Through ms(), so it is
     * the limit the connect timeout gets too. */
    if (mono_s() - d->last_data > ms(d->o->download_timeout_s) / 1000.0) {
        d->stalled = 1;
        return 1;
    }
    if (d->o->progress)
        d->o->progress(d->o->ctx, d->file, d->have, d->size);
    return 0;
}

static void sleep_ms(long t)
{
    struct timespec ts = {t / 1000, (t % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int transient(CURLcode rc)
{
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_HTTP2_STREAM || rc == CURLE_HTTP2;
}

/* Runs the transfer, resuming after drops. 0, or a DEIT_E* status with a message. */
static int fetch(dl *d, const char *url, int send_token, int *requests, char *err, size_t errlen)
{
    char errbuf[CURL_ERROR_SIZE];
    for (int attempt = 0;; attempt++) {
        if (d->have == d->size)
            return DEIT_OK; /* a previous run left the whole file: only the check remains */
        struct curl_slist *hdrs = NULL;
        CURL *c = easy_new(d->o, send_token, &hdrs, errbuf);
        if (!c)
            return deit_fail(err, errlen, DEIT_ENOMEM, "cannot create a libcurl handle");
        d->c = c;
        d->started = 0;
        d->range[0] = '\0';
        d->werr[0] = '\0';
        d->error_page = 0;
        char range[32];
        snprintf(range, sizeof range, "%lld-", d->have);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        if (d->have > 0)
            curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(d->o->download_timeout_s));
        d->last_data = mono_s();
        d->stalled = 0;
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_dl_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_dl_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_dl_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
        CURLcode rc = curl_easy_perform(c);
        long code = 0, redirects = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        *requests += 1 + (int)redirects;
        if (rc == CURLE_OK && code >= 200 && code <= 299)
            return d->have == d->size ? DEIT_OK
                                      : deit_fail(err, errlen, DEIT_EIO, "%s: the server sent %lld of %lld bytes",
                                                  d->file, d->have, d->size);
        if (rc == CURLE_OK)
            return deit_fail(err, errlen, DEIT_EIO, "%s: download answered HTTP %ld", d->file, code);
        if (rc == CURLE_ABORTED_BY_CALLBACK && d->stalled)
            snprintf(errbuf, sizeof errbuf, "nothing received for %g s (HF_HUB_DOWNLOAD_TIMEOUT)",
                     d->o->download_timeout_s);
        else if (rc == CURLE_ABORTED_BY_CALLBACK && !d->werr[0])
            return deit_fail(err, errlen, DEIT_EIO, "%s: download cancelled (%lld bytes kept for resuming)",
                             d->file, d->have);
        if (d->werr[0])
            return deit_fail(err, errlen, DEIT_EIO, "%s: %s", d->file, d->werr);
        if ((!transient(rc) && !d->stalled) || attempt >= MAX_RESUMES)
            return deit_fail(err, errlen, DEIT_EIO, "%s: download failed after %d attempts at byte %lld of %lld: %s",
                             d->file, attempt + 1, d->have, d->size, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        if (d->o->log) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: transfer dropped at byte %lld of %lld (%s); resuming", d->file, d->have,
                     d->size, errbuf[0] ? errbuf : curl_easy_strerror(rc));
            d->o->log(d->o->ctx, HUB_LOG_WARN, msg);
        }
        sleep_ms(100L * (attempt + 1));
    }
}

int hub_http_download(const hub_options *o, const char *url, int send_token, const char *incomplete,
                      const char *file, long long size, const char *sha256, long long *fetched,
                      int *requests, char *err, size_t errlen)
{
    dl d;
    memset(&d, 0, sizeof d);
    d.o = o;
    d.file = file;
    d.size = size;
    /* A partial download is extended in place, so it must be ours: not a link to some other file. */
    d.fd = hub_open_regular(incomplete, O_RDWR | O_CREAT, err, errlen);
    if (d.fd < 0)
        return DEIT_EIO;
    d.sha = EVP_MD_CTX_new();
    int rc = DEIT_OK;
    struct stat st;
    if (!d.sha || EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL) != 1 || fstat(d.fd, &st) != 0) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "%s: cannot start SHA-256", file);
        goto out;
    }
    d.have = st.st_size;
    /* What a previous run left is kept and extended (Range), unless it cannot be a prefix of the file. */
    if (d.have > size ? restart_file(&d) != 0 : hash_existing(&d) != 0) {
        rc = deit_fail(err, errlen, DEIT_EIO, "%s: cannot read back: %s", incomplete, strerror(errno));
        goto out;
    }
    rc = fetch(&d, url, send_token, requests, err, errlen);
    if (rc == DEIT_OK && sha256) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        EVP_DigestFinal_ex(d.sha, md, &mdlen);
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        if (strcmp(hex, sha256) != 0) {
            /* A corrupt blob is never kept, not even for resuming: the next attempt starts over. */
            unlink(incomplete);
            rc = deit_fail(err, errlen, DEIT_EINVAL,
                           "%s: SHA-256 mismatch: the hub says %s, the %lld bytes received hash to %s "
                           "(nothing was kept; try again, or check a proxy between you and the hub)",
                           file, sha256, size, hex);
        }
    }
out:
    if (fetched)
        *fetched += d.received;
    EVP_MD_CTX_free(d.sha);
    if (close(d.fd) != 0 && rc == DEIT_OK)
        rc = deit_fail(err, errlen, DEIT_EIO, "%s: %s", incomplete, strerror(errno));
    return rc;
}
