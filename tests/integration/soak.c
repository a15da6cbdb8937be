/* soak.c — soak test (issue 7): measures the server's maximum throughput briefly, then holds ~80% of it for
 * DEIT_SOAK_SECONDS (default 300, as in `make test`) and checks that no request failed and that the idle
 * RSS grew less than 5% between the end of the warm-up and the end. Release server only: a sanitizer's quarantine
 * makes RSS meaningless. Loopback only.
 *
 * Environment: DEIT_SERVER_BIN, DEIT_TEST_MODEL, DEIT_TEST_IMAGES, DEIT_TEST_LOGS (as tests/integration/checks.h),
 * DEIT_SOAK_SECONDS, DEIT_SOAK_LOAD (fraction of the measured maximum, default 0.8). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../check.h"
#include "harness.h"

#define N_IMAGES 6
static const char *IMAGE_NAMES[N_IMAGES] = {"chelsea_q60_420.jpg", "horse.png", "rocket.jpg", "chelsea_palette.gif",
                                            "camera.png", "chelsea_progressive.jpg"};
static blob IMGS[N_IMAGES];
static server S;

#define MEASURE_CLIENTS 8
#define MEASURE_S 10.0
/* Paced clients: at most this many requests in flight, so the queue can never fill (no 503 by design), and
 * never more than during the measurement, whose working set the warm-up then already holds: RSS compares
 * like with like even when a busy machine makes the server fall behind. */
#define PACED_CLIENTS MEASURE_CLIENTS

typedef struct {
    int id;
    double t_start, t_end;     /* send between these */
    double interval;           /* 0: closed loop; else this thread's schedule step (s) */
    int ok, failed;
    double *lat;               /* latencies of ok requests */
    size_t n_lat, cap_lat;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    CURL *c = curl_easy_init();
    const char *h[] = {"Content-Type: application/octet-stream", NULL};
    /* staggered start so the paced threads do not fire together */
    double next = w->t_start + (w->interval > 0 ? w->interval * w->id / PACED_CLIENTS : 0);
    for (int k = 0;; k++) {
        double now = now_s();
        if (w->interval > 0) {
            if (next >= w->t_end) break;
            if (next > now) sleep_ms((int)((next - now) * 1e3));
            /* behind schedule: send at once, and drop the missed slots instead of bursting to catch up */
            next = (next > now ? next : now) + w->interval;
        } else if (now >= w->t_end) {
            break;
        }
        const blob *img = &IMGS[(w->id + k) % N_IMAGES];
        resp r = request(c, "POST", url_of(&S, "/v1/predict?top_k=1"), h, img->data, img->len, 60);
        if (r.rc == CURLE_OK && r.status == 200 && strstr(r.body, "\"predictions\"")) {
            w->ok++;
            if (w->n_lat == w->cap_lat) {
                w->cap_lat = w->cap_lat ? 2 * w->cap_lat : 1024;
                w->lat = realloc(w->lat, w->cap_lat * sizeof *w->lat);
            }
            w->lat[w->n_lat++] = r.secs;
        } else {
            w->failed++;
            if (w->failed <= 5)
                fprintf(stderr, "soak: request failed: curl %s, HTTP %ld %.200s\n", curl_easy_strerror(r.rc), r.status,
                        r.body);
        }
        resp_free(&r);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs n workers from now for secs; interval 0 = closed loop. Returns ok count; sums failures into *failed
 * and leaves all latencies (sorted) in *lat. */
static int run_workers(int n, double secs, double interval, int *failed, double **lat, size_t *n_lat,
                       long *rss_samples, double *rss_times, int *n_rss, int max_rss)
{
    worker *w = calloc((size_t)n, sizeof *w);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.id = i, .t_start = t0, .t_end = t0 + secs, .interval = interval};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    /* RSS once a second while the load runs */
    if (rss_samples) {
        *n_rss = 0;
        while (now_s() < t0 + secs && *n_rss < max_rss) {
            sleep_ms(1000);
            rss_times[*n_rss] = now_s() - t0;
            rss_samples[(*n_rss)++] = rss_kb(S.pid);
        }
    }
    int ok = 0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        *failed += w[i].failed;
        total += w[i].n_lat;
    }
    *lat = malloc((total + 1) * sizeof **lat);
    *n_lat = 0;
    for (int i = 0; i < n; i++) {
        if (w[i].n_lat) memcpy(*lat + *n_lat, w[i].lat, w[i].n_lat * sizeof **lat);
        *n_lat += w[i].n_lat;
        free(w[i].lat);
    }
    qsort(*lat, *n_lat, sizeof **lat, cmp_double);
    free(w);
    free(th);
    return ok;
}

/* Copies the server's /proc/<pid>/smaps into the logs directory, so a failed growth check can be traced
 * to the mapping that grew (heap arenas, thread stacks, libraries). */
static void save_smaps(const char *tag)
{
    char src[64], dst[1024], buf[8192];
    snprintf(src, sizeof src, "/proc/%d/smaps", (int)S.pid);
    snprintf(dst, sizeof dst, "%s/soak-smaps-%s.txt", H_LOGS, tag);
    FILE *in = fopen(src, "r"), *out = in ? fopen(dst, "w") : NULL;
    size_t n;
    while (out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (out) fclose(out);
    if (in) fclose(in);
}

/* The server's RSS with no request in flight: 2.5 s after the load stopped (the server trims freed heap
 * memory within about 1 s of going idle), the median of 5 readings. */
static long idle_rss(void)
{
    long r[5];
    sleep_ms(2500);
    for (int i = 0; i < 5; i++) {
        r[i] = rss_kb(S.pid);
        sleep_ms(100);
    }
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && r[j - 1] > r[j]; j--) {
            long t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    return r[2];
}

int main(void)
{
    harness_init();
    double secs = atof(env_or("DEIT_SOAK_SECONDS", "300"));
    double load = atof(env_or("DEIT_SOAK_LOAD", "0.8"));
    if (secs < 30) secs = 30; /* a warm-up window and an end window of 10 s each need room */
    fprintf(stderr, "soak: %s, %.0f s at %.0f%% of the measured maximum (logs in %s)\n", H_SERVER_BIN, secs,
            load * 100, H_LOGS);
    for (int i = 0; i < N_IMAGES; i++) {
        IMGS[i] = image(IMAGE_NAMES[i]);
        if (!IMGS[i].data) {
            CHECK(0);
            return check_summary("soak");
        }
    }
    if (server_start(&S, "soak", NULL)) {
        CHECK(0);
        return check_summary("soak");
    }

    /* 1. maximum: closed-loop clients, more than the cores, for MEASURE_S */
    int failed = 0;
    double *lat;
    size_t n_lat;
    int ok = run_workers(MEASURE_CLIENTS, MEASURE_S, 0, &failed, &lat, &n_lat, NULL, NULL, NULL, 0);
    double max_rate = ok / MEASURE_S;
    fprintf(stderr, "soak: maximum %.1f req/s (%d clients, %.0f s; p50 %.0f ms, p99 %.0f ms)\n", max_rate,
            MEASURE_CLIENTS, MEASURE_S, n_lat ? lat[n_lat / 2] * 1e3 : 0, n_lat ? lat[n_lat * 99 / 100] * 1e3 : 0);
    free(lat);
    CHECK_INT_EQ(failed, 0);
    CHECK(max_rate > 0);
    if (max_rate <= 0) {
        server_stop(&S);
        return check_summary("soak");
    }

    /* 2. paced at load x maximum: a warm-up (the first fifth, at least 20 s: arenas, caches and the
     * batcher's buffers settle), a pause to read the idle RSS, the rest of the time, the idle RSS again.
     * Idle readings, because under load RSS swings by the working set of the requests in flight (up to
     * ~2 MB each), which says nothing about growth. */
    double rate = load * max_rate, interval = PACED_CLIENTS / rate;
    double warm = secs / 5 > 20 ? secs / 5 : 20;
    int max_rss = (int)secs + 16;
    long *rss = calloc((size_t)max_rss, sizeof *rss);
    double *rt = calloc((size_t)max_rss, sizeof *rt);
    int n1 = 0, n2 = 0, failed1 = 0, failed2 = 0;
    double t0 = now_s();
    int ok1 = run_workers(PACED_CLIENTS, warm, interval, &failed1, &lat, &n_lat, rss, rt, &n1, max_rss);
    double el1 = now_s() - t0;
    free(lat);
    long base = idle_rss();
    /* anonymous (heap, buffers) vs file-backed (binary, libraries) memory: a leak grows the first */
    long base_anon = proc_status_kb(S.pid, "RssAnon:"), base_file = proc_status_kb(S.pid, "RssFile:");
    save_smaps("base");
    t0 = now_s();
    int ok2 = run_workers(PACED_CLIENTS, secs - warm, interval, &failed2, &lat, &n_lat, rss + n1, rt + n1, &n2,
                          max_rss - n1);
    double el2 = now_s() - t0;
    long end = idle_rss();
    long end_anon = proc_status_kb(S.pid, "RssAnon:"), end_file = proc_status_kb(S.pid, "RssFile:");
    save_smaps("end");
    long peak = 0;
    for (int i = 0; i < n1 + n2; i++)
        if (rss[i] > peak) peak = rss[i];
    double growth = base > 0 ? (double)(end - base) / (double)base : 1;
    ok = ok1 + ok2;
    failed = failed1 + failed2;
    fprintf(stderr, "soak: target %.1f req/s, achieved %.1f req/s: %d ok, %d failed in %.0f s; after the warm-up: "
                    "latency p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
            rate, ok / (el1 + el2), ok, failed, el1 + el2, n_lat ? lat[n_lat / 2] * 1e3 : 0,
            n_lat ? lat[n_lat * 99 / 100] * 1e3 : 0, n_lat ? lat[n_lat - 1] * 1e3 : 0);
    fprintf(stderr, "soak: idle RSS after the warm-up (%.0f s) %.1f MB, at the end %.1f MB (%+.2f%%); peak under "
                    "load %.1f MB\n", warm, base / 1024.0, end / 1024.0, growth * 100, peak / 1024.0);
    fprintf(stderr, "soak: of which anonymous %.1f -> %.1f MB, file-backed %.1f -> %.1f MB\n", base_anon / 1024.0,
            end_anon / 1024.0, base_file / 1024.0, end_file / 1024.0);
    fprintf(stderr, "soak: RSS under load (MB) every 10 s:");
    for (int i = 9; i < n1 + n2; i += 10) fprintf(stderr, " %.1f", rss[i] / 1024.0);
    fprintf(stderr, "\n");
    CHECK_INT_EQ(failed, 0);
    CHECK(ok > 0);
    CHECK_MSG(base > 0 && end > 0, "RSS not read");
    CHECK_MSG(growth < 0.05, "RSS grew %.2f%% (%ld -> %ld KiB)", growth * 100, base, end);
    /* a loaded shared machine may not keep up with the target, but the server must not stall */
    CHECK_MSG(ok / (el1 + el2) > 0.3 * rate, "achieved %.1f req/s of %.1f", ok / (el1 + el2), rate);
    free(lat);
    free(rss);
    free(rt);

    int rc = server_stop(&S);
    CHECK_MSG(rc == 0, "server exit status %d (log %s)", rc, S.log);
    CHECK_MSG(log_count(&S, "POST /v1/predict 200") >= ok, "access log has fewer answers than the clients got");
    for (int i = 0; i < N_IMAGES; i++) free(IMGS[i].data);
    curl_global_cleanup();
    return check_summary("soak");
}
