/* deit_eval.c — evaluation client: sends Fashion-MNIST test images to a running deit-server over
 * HTTP (concurrently, libcurl multi) and prints the accuracy of the class head, the distillation
 * head and their fusion, plus throughput: the paper's table measured through the serving path. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

#include "cli_args.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#define MAX_CONCURRENCY 256
#define MAX_LIMIT 10000000 /* images; a test set holds fewer, and --limit is clipped to it */
#define MAX_RESPONSE_BYTES (1u << 20)

typedef struct {
    int n, rows, cols;
    uint8_t *pixels;           /* [n][rows][cols] */
    uint8_t *labels;           /* [n] */
} dataset;

/* Reads a gzipped IDX file whole (bounded at 64 MB). */
static uint8_t *read_gz(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = malloc(cap);
    int r;
    while (buf && (r = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) {
            if (cap >= (64u << 20)) {
                free(buf);
                buf = NULL;
                break;
            }
            uint8_t *g = realloc(buf, cap *= 2);
            if (!g) {
                free(buf);
                buf = NULL;
            }
            buf = g;
        }
    }
    gzclose(f);
    *len = n;
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Loads t10k images and labels from dir. Returns 0 or -1 with a message on stderr. */
static int load_dataset(const char *dir, dataset *d)
{
    char ip[1024], lp[1024];
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
    size_t il, ll;
    uint8_t *img = read_gz(ip, &il), *lab = read_gz(lp, &ll);
    if (!img || !lab || il < 16 || ll < 8 || be32(img) != 0x803 || be32(lab) != 0x801) {
        fprintf(stderr, "deit-eval: cannot read IDX files %s, %s\n", ip, lp);
        free(img);
        free(lab);
        return -1;
    }
    d->n = (int)be32(img + 4);
    d->rows = (int)be32(img + 8);
    d->cols = (int)be32(img + 12);
    if (d->n <= 0 || d->rows <= 0 || d->cols <= 0 || d->rows > 1024 || d->cols > 1024 ||
        (size_t)d->n * d->rows * d->cols + 16 > il || be32(lab + 4) != (uint32_t)d->n ||
        (size_t)d->n + 8 > ll) {
        fprintf(stderr, "deit-eval: inconsistent IDX headers\n");
        free(img);
        free(lab);
        return -1;
    }
    d->pixels = malloc((size_t)d->n * d->rows * d->cols);
    d->labels = malloc((size_t)d->n);
    memcpy(d->pixels, img + 16, (size_t)d->n * d->rows * d->cols);
    memcpy(d->labels, lab + 8, (size_t)d->n);
    free(img);
    free(lab);
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buffer;

static void png_sink(void *ctx, void *data, int size)
{
    buffer *b = ctx;
    if (size <= 0)
        return;
    if (b->len + (size_t)size > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)size;
        uint8_t *g = realloc(b->data, cap);
        if (!g)
            return;
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, (size_t)size);
    b->len += (size_t)size;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
    buffer *b = ctx;
    size_t n = size * nmemb;
    if (b->len + n > MAX_RESPONSE_BYTES)
        return 0;
    png_sink(b, ptr, (int)n);
    return n;
}

typedef struct {
    CURL *easy;
    int index;                 /* image being evaluated, -1 when idle */
    buffer png, body;
} slot;

typedef struct {
    int done, errors, correct[3];
    int answered[3];           /* answers carrying each head: a one-head server sends no distill_head */
    int *fused;                /* [limit] fused top-1 per image (-1: no answer) */
    int n_cos;                 /* answers carrying explain.token_cosine (URL with explain=1) */
    double sum_cos, min_cos, max_cos;
} tally;

/* Top-1 index of predictions[0].<head>, or -1. */
static int top1(json_t *root, const char *head)
{
    json_t *p = json_array_get(json_object_get(root, "predictions"), 0);
    json_t *first = json_array_get(json_object_get(p, head), 0);
    json_t *idx = json_object_get(first, "index");
    return json_is_integer(idx) ? (int)json_integer_value(idx) : -1;
}

static void start(slot *s, const dataset *d, int i, const char *url, struct curl_slist *hdrs)
{
    s->index = i;
    s->png.len = s->body.len = 0;
    stbi_write_png_to_func(png_sink, &s->png, d->cols, d->rows, 1,
                           d->pixels + (size_t)i * d->rows * d->cols, d->cols);
    curl_easy_reset(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)s->png.data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->png.len);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->body);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
}

static void finish(slot *s, const dataset *d, long status, tally *t)
{
    t->done++;
    json_t *root = status == 200 ? json_loadb((const char *)s->body.data, s->body.len, 0, NULL) : NULL;
    if (!root) {
        t->errors++;
        return;
    }
    static const char *const heads[3] = {"class_head", "distill_head", "fused"};
    int top[3];
    for (int h = 0; h < 3; h++) {
        top[h] = top1(root, heads[h]);
        t->answered[h] += top[h] >= 0;
        t->correct[h] += top[h] == d->labels[s->index];
    }
    t->fused[s->index] = top[2];
    json_t *c = json_object_get(json_object_get(json_array_get(json_object_get(root, "predictions"), 0),
                                                "explain"), "token_cosine");
    if (json_is_number(c)) {
        double v = json_number_value(c);
        t->min_cos = t->n_cos == 0 || v < t->min_cos ? v : t->min_cos;
        t->max_cos = t->n_cos == 0 || v > t->max_cos ? v : t->max_cos;
        t->sum_cos += v;
        t->n_cos++;
    }
    json_decref(root);
}

/* The server's precision and kernel set from GET <url's origin>/v1/models into prec / isa
 * ("unknown" when it cannot be read): the report names what it measured. */
static void server_model(const char *url, const char *auth, char *prec, char *isa, size_t cap)
{
    snprintf(prec, cap, "unknown");
    snprintf(isa, cap, "unknown");
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t origin = p ? (size_t)(p - url) : strlen(url);
    char murl[1024];
    if (origin + sizeof "/v1/models" > sizeof murl)
        return;
    memcpy(murl, url, origin);
    memcpy(murl + origin, "/v1/models", sizeof "/v1/models");
    CURL *c = curl_easy_init();
    buffer body = {0};
    struct curl_slist *hdrs = *auth ? curl_slist_append(NULL, auth) : NULL;
    long status = 0;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, murl);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(hdrs);
    json_t *root = status == 200 ? json_loadb((const char *)body.data, body.len, 0, NULL) : NULL;
    json_t *m = json_array_get(json_object_get(root, "models"), 0);
    const char *v = json_string_value(json_object_get(m, "precision"));
    if (v)
        snprintf(prec, cap, "%s", v);
    v = json_string_value(json_object_get(m, "isa"));
    if (v)
        snprintf(isa, cap, "%s", v);
    json_decref(root);
    free(body.data);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(int done, int total, double elapsed)
{
    int width = 40, fill = total ? (int)((long long)done * width / total) : width;
    fprintf(stderr, "\r[%.*s%*s] %5d/%d  %6.1f img/s", fill, "========================================",
            width - fill, "", done, total, elapsed > 0 ? done / elapsed : 0.0);
}

int main(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:8080/v1/predict?top_k=1";
    const char *data_dir = "/usr/share/datasets/fashion-mnist";
    const char *api_key = getenv("DEIT_API_KEY");
    const char *pred_path = NULL;
    int limit = 10000, conc = 8, as_json = 0;
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},   {"data", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'}, {"concurrency", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},        {"predictions", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "u:d:n:c:jp:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'd': data_dir = optarg; break;
        /* checked whole and in range (atoi read "5abc" as 5 and 4294967298 as 2) */
        case 'n':
            if (cli_int_arg("deit-eval", "--limit", optarg, 1, MAX_LIMIT, &limit)) return 2;
            break;
        case 'c':
            if (cli_int_arg("deit-eval", "--concurrency", optarg, 1, MAX_CONCURRENCY, &conc)) return 2;
            break;
        case 'j': as_json = 1; break;
        case 'p': pred_path = optarg; break;
        default:
            fprintf(ch == 'h' ? stdout : stderr,
                    "usage: deit-eval [--url URL] [--data DIR] [--limit N] [--concurrency C] [--json]\n"
                    "                 [--predictions FILE]\n"
                    "  POSTs Fashion-MNIST test images (t10k-*.gz in DIR, default %s) as PNG to URL\n"
                    "  (default %s) and prints per-head accuracy, throughput and the server's\n"
                    "  precision (GET /v1/models); with explain=1 in the URL, also the mean\n"
                    "  token_cosine of the answers. --predictions writes each image's fused top-1\n"
                    "  (-1: no answer) and its true label, a line per image in test-set order, to\n"
                    "  compare two servers or two models image by image.\n",
                    data_dir, url);
            return ch == 'h' ? 0 : 2;
        }
    }
    /* the tool takes no operands: "deit-eval 100" meant --limit 100, not the whole test set */
    if (optind < argc) {
        fprintf(stderr, "deit-eval: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    dataset d;
    if (load_dataset(data_dir, &d) != 0)
        return 2;
    if (limit > d.n)
        limit = d.n;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: image/png");
    char auth[512];
    if (api_key && *api_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", api_key);
        hdrs = curl_slist_append(hdrs, auth);
    }
    char prec[32], isa[32];
    server_model(url, api_key && *api_key ? auth : "", prec, isa, sizeof prec);
    slot *slots = calloc((size_t)conc, sizeof *slots);
    tally t = {0};
    t.fused = malloc((size_t)limit * sizeof *t.fused);
    if (!slots || !t.fused) {
        fprintf(stderr, "deit-eval: out of memory\n");
        return 2;
    }
    for (int i = 0; i < limit; i++)
        t.fused[i] = -1;
    int next = 0, active = 0, tty = isatty(2);
    double t0 = now_s(), last = 0;
    for (int i = 0; i < conc && next < limit; i++) {
        slots[i].easy = curl_easy_init();
        start(&slots[i], &d, next++, url, hdrs);
        curl_multi_add_handle(multi, slots[i].easy);
        active++;
    }
    while (active > 0) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot *s;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, s->easy);
            finish(s, &d, msg->data.result == CURLE_OK ? status : 0, &t);
            active--;
            if (next < limit) {
                start(s, &d, next++, url, hdrs);
                curl_multi_add_handle(multi, s->easy);
                active++;
            }
        }
        double now = now_s();
        if (tty && now - last > 0.1) {
            progress(t.done, limit, now - t0);
            last = now;
        }
        if (active > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    double elapsed = now_s() - t0;
    if (tty) {
        progress(t.done, limit, elapsed);
        fputc('\n', stderr);
    }
    double acc[3];
    for (int h = 0; h < 3; h++)
        acc[h] = 100.0 * t.correct[h] / limit;
    int rc = 0;
    if (pred_path) {
        FILE *f = fopen(pred_path, "w");
        for (int i = 0; f && i < limit; i++)
            fprintf(f, "%d %d\n", t.fused[i], d.labels[i]);
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "deit-eval: cannot write %s\n", pred_path);
            rc = 1;
        }
    }
    /* throughput of the answered images: failed requests (a closed port answers at once) are no work */
    double per_s = (limit - t.errors) / elapsed;
    if (as_json) {
        /* two decimals, as the text report: rounded before packing */
        /* distill_head is null when no answer had a second head (a one-head model), not 0% */
        json_t *o = json_pack("{s:i, s:i, s:s, s:s, s:f, s:o, s:f, s:f, s:f}", "images", limit, "errors",
                              t.errors, "precision", prec, "isa", isa, "class_head",
                              round(acc[0] * 100) / 100, "distill_head",
                              t.answered[1] ? json_real(round(acc[1] * 100) / 100) : json_null(),
                              "fused", round(acc[2] * 100) / 100, "seconds", round(elapsed * 100) / 100,
                              "images_per_s", round(per_s * 10) / 10);
        if (o && t.n_cos > 0 &&
            json_object_set_new(o, "token_cosine",
                                json_pack("{s:i, s:f, s:f, s:f}", "images", t.n_cos, "mean",
                                          round(t.sum_cos / t.n_cos * 1e4) / 1e4, "min",
                                          round(t.min_cos * 1e4) / 1e4, "max", round(t.max_cos * 1e4) / 1e4)))
            rc = 1;
        if (!o || json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10)) != 0)
            rc = 1;
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("images %d (errors %d) over HTTP at concurrency %d, server precision %s on %s kernels\n"
               "| head | top-1 accuracy |\n|---|---|\n| class head | %.2f%% |\n",
               limit, t.errors, conc, prec, isa, acc[0]);
        if (t.answered[1])
            printf("| distillation head | %.2f%% |\n| fused (mean of softmaxes) | %.2f%% |\n", acc[1], acc[2]);
        else if (t.errors < limit)
            printf("(one head: the server answers no distillation head)\n");
        printf("%.1f images/s answered (%.2f s)\n", per_s, elapsed);
        if (t.n_cos > 0)
            printf("token_cosine over %d images: mean %.4f (min %.4f, max %.4f)\n", t.n_cos,
                   t.sum_cos / t.n_cos, t.min_cos, t.max_cos);
    }
    if (!cli_stdout_ok("deit-eval"))
        rc = 1;
    for (int i = 0; i < conc; i++) {
        if (slots[i].easy)
            curl_easy_cleanup(slots[i].easy);
        free(slots[i].png.data);
        free(slots[i].body.data);
    }
    free(slots);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(d.pixels);
    free(d.labels);
    free(t.fused);
    return t.errors ? 1 : rc;
}
