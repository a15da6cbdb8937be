/* http.c — the libmicrohttpd daemon's lifecycle: listen (optionally with TLS), publish the engine,
 * drain on SIGTERM, stop. Requests themselves are handled in request.c. */
#define _GNU_SOURCE /* accept4 */
#include "http.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

/* MHD's per-connection pool: request line, headers and its read buffer. Headers beyond it get 431. */
#define CONN_MEMORY_LIMIT (128 * 1024)
/* Slowest upload rate a request body may keep up after --read-timeout-s (Apache mod_reqtimeout's
 * default MinRate): 32 MiB at this rate would still take 18 hours, so only a trickle is cut. */
#define MIN_UPLOAD_BYTES_PER_S 500.0

static void free_server(http_server *h)
{
    read_deadlines_free(h->rd);
    tls_free(&h->tls);
    free(h);
}

/* libmicrohttpd's own messages (requests it answers itself, sockets it drops) go through our log:
 * as JSON objects under --log-format json, where its plain stderr lines broke the stream, and
 * escaped in text, since some quote the request's path. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const http_server *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    log_event(&h->log, "libmicrohttpd: %s", msg);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* libmicrohttpd's percent-decoding of the path and query, in place, but for %00 and %2F, which
 * stay as they are: decoded, "/v1/predict%00junk" ended at the NUL and was served as /v1/predict,
 * and "%2F" made a slash that routing took as a separator ("/predictions/m%2F1" was version 1).
 * Kept encoded, such paths match no route (404). Returns the new length. */
static size_t unescape_path(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex_digit(r[1])) >= 0 && (lo = hex_digit(r[2])) >= 0) {
            char c = (char)(hi << 4 | lo);
            if (c != '\0' && c != '/') {
                *w++ = c;
                r += 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

http_server *http_start(const server_config *cfg, metrics *m, char *err, size_t errlen)
{
    http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->metrics = m;
    h->max_body = (size_t)cfg->max_body_mb << 20;
    h->listen_fd = MHD_INVALID_SOCKET;
    log_init(&h->log, cfg->log_format, 2);
    atomic_init(&h->engine_set, 0);
    atomic_init(&h->readiness, API_STARTING);
    atomic_init(&h->inflight, 0);
    atomic_init(&h->giving_up, 0);
    if (tls_load(&h->tls, cfg->tls_cert, cfg->tls_key, err, errlen)) {
        free_server(h);
        return NULL;
    }
    h->rd = read_deadlines_start(cfg->read_timeout_s, MIN_UPLOAD_BYTES_PER_S, &m->slow_closed);
    if (!h->rd) {
        snprintf(err, errlen, "out of memory or threads for the read-deadline watchdog");
        free_server(h);
        return NULL;
    }

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "--host %s: %s", cfg->host, gai_strerror(gai));
        free_server(h);
        return NULL;
    }
    /* poll(), not epoll: with epoll, MHD_quiesce_daemon (our drain) races the worker threads' own
     * removal of the listen socket from their epoll sets and MHD_PANICs (abort) when it loses;
     * seen once in a fresh-container test run on SIGTERM. With poll() quiesce only signals the
     * workers. poll() costs O(connections) per wake-up: nothing at the default --max-connections 512. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    /* An IPv6 address is bound dual-stack, as Linux binds an IPv6 socket by default and the gRPC port
     * on the same --host is: with MHD_USE_IPv6 alone, MHD sets IPV6_V6ONLY, and --host :: refused every
     * IPv4 client while gRPC took them, the image's HEALTHCHECK (127.0.0.1) among them. A specific
     * IPv6 address is unaffected. */
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_DUAL_STACK;
    /* TLS options go through MHD_OPTION_ARRAY so one call serves both modes (an empty array: none) */
    struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL},
                                         {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
    if (h->tls.cert) {
        flags |= MHD_USE_TLS;
        tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls.cert};
        tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls.key};
        /* TLS 1.2 and 1.3 only, as the gRPC port: GnuTLS's default also offers 1.0 and 1.1 */
        tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (void *)"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL"};
    }
    h->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, http_handler, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, /* first: it covers the options after it */
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_path, NULL,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->conn_timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
                            MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
                            MHD_OPTION_NOTIFY_CONNECTION, read_deadlines_notify, h->rd,
                            MHD_OPTION_ARRAY, tls_opts,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(err, errlen, h->tls.cert ? "could not listen on %s:%d with TLS (port in use, no permission, or "
                                            "--tls-cert/--tls-key not a valid certificate and matching key)"
                                          : "could not listen on %s:%d (port in use, or no permission)",
                 cfg->host, cfg->port);
        free_server(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : cfg->port;
    return h;
}

void http_set_engine(http_server *h, const deit_model *model, batcher *b, const char *name)
{
    engine *e = &h->eng;
    e->model = model;
    e->batcher = b;
    e->in_floats = deit_input_floats(model);
    api_model_of(model, name, h->cfg->model_version, &e->am);
    e->n_classes = e->am.n_classes;
    if (h->cfg->queue_wait_ms > 0)
        h->adm = admission_start(b, h->cfg->queue, h->cfg->http_threads, h->cfg->max_connections, http_unpark,
                                 &h->metrics->parked);
    atomic_store_explicit(&h->engine_set, 1, memory_order_release);
    int starting = API_STARTING, downloading = API_DOWNLOADING;
    /* a drain already begun stays */
    if (!atomic_compare_exchange_strong(&h->readiness, &starting, API_READY))
        atomic_compare_exchange_strong(&h->readiness, &downloading, API_READY);
}

void http_set_downloading(http_server *h, int on)
{
    int from = on ? API_STARTING : API_DOWNLOADING;
    atomic_compare_exchange_strong(&h->readiness, &from, on ? API_DOWNLOADING : API_STARTING);
}

int http_port(const http_server *h) { return h->port; }

int http_tls(const http_server *h) { return h->tls.cert != NULL; }

void http_drain(http_server *h)
{
    if (atomic_exchange(&h->readiness, API_DRAINING) == API_DRAINING) return;
    h->listen_fd = MHD_quiesce_daemon(h->d);
    /* MHD no longer accepts, but the kernel would keep completing handshakes into the backlog and
     * reset them at exit. shutdown() stops listening now (new clients are refused at connect) while
     * the descriptor stays open, as MHD requires, until MHD_stop_daemon. */
    if (h->listen_fd != MHD_INVALID_SOCKET) {
        /* Connections the kernel completed but MHD had not accepted yet may already carry a request
         * (a proxy writes it right after connect); shutdown() would reset them. Adopt them first. */
        for (int i = 0; i < 4096; i++) {
            struct sockaddr_storage sa;
            socklen_t sl = sizeof sa;
            int fd = accept4(h->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            /* MHD closes the socket itself when it refuses it (at its connection limit): closing it
             * again here could close a descriptor another thread has just been given the number of */
            (void)MHD_add_connection(h->d, fd, (struct sockaddr *)&sa, sl);
        }
        shutdown(h->listen_fd, SHUT_RDWR);
    }
}

int http_inflight(const http_server *h) { return atomic_load(&h->inflight); }

void http_give_up(http_server *h)
{
    if (h) atomic_store(&h->giving_up, 1);
}

void http_stop(http_server *h)
{
    if (!h) return;
    http_give_up(h); /* MHD_stop_daemon waits for the HTTP threads, decoding ones included */
    read_deadlines_stop(h->rd); /* before MHD closes the connections the watchdog looks at */
    admission_stop(h->adm);     /* parked requests resumed (refused) while MHD still runs */
    MHD_stop_daemon(h->d);
    admission_free(h->adm);
    if (h->listen_fd != MHD_INVALID_SOCKET) close(h->listen_fd);
    free_server(h);
}
