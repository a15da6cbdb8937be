/* main.c — deit-server: reads the configuration, starts listening, loads the model, starts the
 * workers, and drains gracefully on SIGTERM/SIGINT. The only place that exits. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batcher.h"
#include "server_config.h"
#include "deit.h"
#include "engine.h"
#include "explanation.h"
#include "grpc_server.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "text.h"

/* Self-pipe: the signal handler only writes a byte; main() reads it. Works whichever thread (ours,
 * MHD's, OpenBLAS's) the signal lands on. Written once before the handler is installed. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(signal_pipe[1], &b, 1) < 0) { /* nothing to do: a byte is already pending */ }
    errno = saved;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A hub download's events go to the server's log (one line per file, the cache fallback). */
static void on_hub_log(void *ctx, hub_log_level level, const char *msg)
{
    log_event(ctx, "%s%s", level == HUB_LOG_WARN ? "warning: " : "", msg);
}

/* SIGTERM during a download stops it: the signal's byte waits in the pipe (not read here). */
static int on_hub_cancelled(void *ctx)
{
    (void)ctx;
    struct pollfd pfd = {signal_pipe[0], POLLIN, 0};
    return poll(&pfd, 1, 0) > 0;
}

/* The ready line's words for the model's heads. */
static const char *heads_phrase(const deit_model *m)
{
    const char *second = deit_model_second_token(m);
    return !second ? "no distillation head" : strcmp(second, "class") == 0 ? "two class tokens" : "distilled";
}

int main(int argc, char **argv)
{
    server_config cfg;
    char err[1024];
    server_config_defaults(&cfg);
    int rc = server_config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc == 1) {
        server_config_usage(stdout, argv[0]);
        return 0;
    }
    if (rc < 0 || server_config_validate(&cfg, err, sizeof err)) {
        fprintf(stderr, "deit-server: %s\n", err);
        return 2;
    }

    if (pipe(signal_pipe)) {
        perror("deit-server: pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

#ifdef __GLIBC__
    /* Request buffers (bodies, decoded images, 600 KB input tensors) come and go with every request.
     * Fixed thresholds (not glibc's moving ones, under which RSS drifted with the history of the
     * load, +-10% between idle moments in the soak test): buffers up to 4 MB come from the arenas,
     * and an arena keeps up to 8 MB free at its top instead of handing it back. Mapping and
     * unmapping each buffer per request (the 128 KB threshold before) cost a page fault per 4 KB
     * touched and a TLB shootdown per unmap: measured on the 2-vCPU VM, DeiT-tiny, 500x375 JPEG,
     * the HTTP thread's decode took 6.5 ms instead of 1.7, one client's p50 was 19.2 ms instead of
     * 13.9 and 8 clients got 72 images/s instead of 93. Larger images still map and unmap. The soak
     * test's idle RSS stays flat (+1.9% over 60 s at 80% load). */
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
    /* One arena for every thread: the idle malloc_trim below trims the main arena's top but never a
     * thread arena's, which only free() shrinks, and only past the 8 MB threshold. With an arena per
     * HTTP thread, each kept the high-water mark of the requests that thread ever held at once: the
     * idle RSS stepped up whenever a busy moment set a new one (the soak test saw +6.9%, one arena
     * 1.6 -> 4.6 MB, in a CI run). One arena costs a lock per allocation, a few per request:
     * bench/server_load.sh at 8 clients, DeiT-tiny, 2 vCPUs, interleaved A/B: 146.4 and 144.3
     * images/s with arenas, 144.5 and 143.9 with one (within noise); bench/memory.sh, 16 clients for
     * 70 s: idle RSS 3.0 MB above its level before the load with arenas, 1.0 MB with one. */
    mallopt(M_ARENA_MAX, 1);
#endif
    /* Each worker's thread team does the threading; where the engine's GEMM is OpenBLAS (CPUs
     * without AVX2, arm64) every call runs on the calling team thread, so OpenBLAS gets one thread
     * and never competes with the teams for the cores. */
    deit_set_blas_threads(1);
    server_log lg;
    log_init(&lg, cfg.log_format, 2);
    static metrics mx; /* lives for the whole process; every field is atomic */
    metrics_init(&mx);

    /* Listen first so /healthz answers (and /readyz says 503) while the model loads. */
    http_server *h = http_start(&cfg, &mx, err, sizeof err);
    if (!h) {
        fprintf(stderr, "deit-server: %s\n", err);
        return 1;
    }
    log_event(&lg, "listening on %s:%d", cfg.host, http_port(h));
    if (http_tls(h)) log_event(&lg, "TLS on: certificate %s", cfg.tls_cert);
    gfe_server *g = NULL; /* --grpc-port: the same server over gRPC */
    if (cfg.grpc_port >= 0) {
        if (!(g = gfe_start(&cfg, &mx, &lg, err, sizeof err))) {
            log_event(&lg, "%s", err);
            http_stop(h);
            return 1;
        }
        log_event(&lg, "gRPC listening on %s:%d%s", cfg.host, gfe_port(g), http_tls(h) ? " (TLS)" : "");
    }

    /* A hub model is fetched into the cache first; meanwhile /readyz says "downloading". */
    hub_options ho;
    hub_options_from_env(&ho);
    ho.max_bytes = (long long)cfg.max_model_mb << 20;
    ho.log = on_hub_log;
    ho.cancelled = on_hub_cancelled;
    ho.ctx = &lg;
    model_source src;
    http_set_downloading(h, model_source_classify(cfg.model) == MODEL_SOURCE_HUB);
    int src_rc = model_source_resolve(cfg.model, &ho, &src, err, sizeof err);
    http_set_downloading(h, 0);
    if (src_rc != DEIT_OK) {
        int stopping = on_hub_cancelled(NULL);
        log_event(&lg, stopping ? "stopped during the model download: %s" : "cannot load model: %s", err);
        gfe_stop(g);
        http_stop(h);
        return stopping ? 0 : 1;
    }
    if (src.kind == MODEL_SOURCE_HUB)
        log_event(&lg, "model %s@%s is commit %s in %s (%lld bytes downloaded, %d requests%s)", src.repo,
                   src.revision, src.commit, src.path, src.downloaded, src.requests,
                   src.cache_only ? ", from the cache" : "");
    deit_model *model = NULL;
    deit_params mp = deit_default_params();
    deit_precision_parse(cfg.precision, &mp.precision); /* checked by server_config_validate */
    if (deit_model_open_with(src.path, &mp, &model, err, sizeof err) != DEIT_OK) {
        log_event(&lg, "cannot load model: %s", err);
        gfe_stop(g);
        http_stop(h);
        return 1;
    }
    const char *name = *cfg.model_name ? cfg.model_name : *src.name ? src.name : deit_model_name(model);
    /* The name goes into every JSON answer and into /metrics, which carry UTF-8 only: jansson will not
     * build a string of other bytes, so a directory named in Latin-1, or one whose name the engine cut
     * at 127 bytes inside a character, left every answer 503 "out of memory" behind a 200 /readyz and
     * a /metrics Prometheus rejects. (--model-name and hub names are ASCII, checked where given.) */
    if (!api_utf8_valid(name, strlen(name))) {
        log_event(&lg, "cannot load model: its name %s (the directory's name, cut at 127 bytes) is not valid "
                       "UTF-8; name it with --model-name", name);
        gfe_stop(g);
        http_stop(h);
        deit_model_free(model);
        return 1;
    }
    /* an idle server lends every worker's cores to the one request it has (engine.h) */
    int wide = cfg.lend_idle ? cfg.workers * cfg.threads : cfg.threads;
    engine_spec spec = {model, cfg.threads, wide > 64 ? 64 : wide};
    batcher_params bp = {
        .workers = cfg.workers, .max_batch = cfg.max_batch, .batch_wait_us = cfg.batch_wait_us,
        .queue_cap = cfg.queue, .timeout_s = cfg.request_timeout_s, .in_floats = deit_input_floats(model),
        .n_classes = deit_model_classes(model), .forward = engine_forward, .state_new = engine_state_new,
        .state_free = engine_state_free, .ctx = &spec, .metrics = &mx,
        .explain_floats = api_explain_floats(model), .state_width = engine_state_width,
    };
    batcher *b = batcher_start(&bp, err, sizeof err);
    if (!b) {
        log_event(&lg, "%s", err);
        gfe_stop(g);
        http_stop(h);
        batcher_free(b);
        deit_model_free(model);
        return 1;
    }
    static metrics_model labels; /* read by /metrics for the rest of the process */
    labels = (metrics_model){name, cfg.model_version, deit_precision_name(deit_model_precision(model)),
                             deit_model_isa(model)};
    metrics_set_model(&mx, &labels);
    http_set_engine(h, model, b, name);
    gfe_set_engine(g, model, b, name);
    log_event(&lg, "ready: model %s version %s (%s, %d classes, %s), precision %s on %s kernels, %d workers x "
               "%d engine threads (%d when alone), max batch %d, batch wait %d us, queue %d", name,
               cfg.model_version, deit_model_architecture(model), deit_model_classes(model),
               heads_phrase(model),
               deit_precision_name(deit_model_precision(model)), deit_model_isa(model), cfg.workers,
               cfg.threads, spec.wide_threads, cfg.max_batch, cfg.batch_wait_us, cfg.queue);

    /* Wait for a signal; meanwhile, once a second, hand memory freed by finished requests back to the
     * kernel when none is in flight, so the idle RSS does not keep the high-water mark of the busiest
     * moment (glibc keeps freed arena memory resident). */
    unsigned char sig = 0;
    unsigned long trimmed_at = 0;
    for (;;) {
        struct pollfd pfd = {signal_pipe[0], POLLIN, 0};
        int n = poll(&pfd, 1, 1000);
        if (n > 0 && read(signal_pipe[0], &sig, 1) == 1) break;
        if (n < 0 && errno != EINTR) break;
#ifdef __GLIBC__
        unsigned long done = atomic_load_explicit(&mx.images, memory_order_relaxed);
        if (n == 0 && done != trimmed_at && http_inflight(h) + gfe_inflight(g) == 0) {
            malloc_trim(0);
            trimmed_at = done;
        }
#endif
    }
    log_event(&lg, "signal %d: draining (grace %d s, %d requests in flight)", sig, cfg.grace_s,
              http_inflight(h) + gfe_inflight(g));

    /* Drain: stop accepting, let accepted requests finish, then stop the workers. The whole shutdown
     * ends within --grace-s of the signal, timed on the clock: counting 10 ms sleeps let a busy machine
     * stretch it (with the cores busy, --grace-s 10 exited after 14.6 s and 30 after 38.7), and what
     * follows a drain that runs out came on top: up to 2 s answering the queued requests 503, then
     * gfe_stop's last second for gRPC calls. With preStop's 5 s before SIGTERM that passed Kubernetes'
     * terminationGracePeriodSeconds of 40 (deploy/k8s), so the drain now ends that tail early (at most
     * half the grace). */
    double t0 = batcher_now();
    double grpc_tail = g ? 1.0 : 0.0, tail = 2.0 + grpc_tail;
    if (tail > cfg.grace_s / 2.0) tail = cfg.grace_s / 2.0;
    double drain_end = t0 + cfg.grace_s - tail;
    double answer_end = t0 + cfg.grace_s - grpc_tail;
    if (answer_end < drain_end) answer_end = drain_end;
    http_drain(h);
    gfe_drain(g);
    int forced = 0;
    /* Keep-alive connections that were idle at SIGTERM may still bring one request each (answered
     * with Connection: close): stop only after 500 ms with nothing in flight. */
    double quiet_since = -1;
    for (;;) {
        double now = batcher_now();
        if (http_inflight(h) + gfe_inflight(g) > 0) quiet_since = -1;
        else if (quiet_since < 0) quiet_since = now;
        if ((quiet_since >= 0 && now - quiet_since >= 0.5) || now >= drain_end) break;
        sleep_ms(10);
    }
    if (http_inflight(h) + gfe_inflight(g) > 0) {
        forced = 1;
        log_event(&lg, "grace period over with %d requests in flight: answering the queued ones 503",
                   http_inflight(h) + gfe_inflight(g));
        http_give_up(h); /* uploads still decoding stop at their next image */
        gfe_give_up(g);
        batcher_stop(b, 0);
        while (http_inflight(h) + gfe_inflight(g) > 0 && batcher_now() < answer_end) sleep_ms(10);
    } else {
        batcher_stop(b, 1);
    }
    gfe_stop(g);
    http_stop(h);
    batcher_free(b);
    deit_model_free(model);
    log_event(&lg, forced ? "stopped (forced)" : "stopped");
    return forced ? 1 : 0;
}
