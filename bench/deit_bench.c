/* deit_bench.c — engine benchmark: median forward-pass latency and throughput for one batch size. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deit.h"
#include "hub.h"
#include "cli_args.h"
#include "cli_model.h"
#include "status.h"
#include "text.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Timed runs at most: --iters beyond it is refused, not silently cut. */
#define MAX_RUNS 100000

/* One forward pass, explained or not. A non-finite logit is still a pass timed (its numbers are not
 * printed); any other failure means nothing was computed, and no time can stand for it. */
static int run_pass(const deit_model *m, deit_state *s, const float *px, int batch, float *logits, float *dist,
                    deit_explain *ex)
{
    int rc = ex ? deit_forward_explain(m, s, px, batch, logits, dist, ex) : deit_forward(m, s, px, batch, logits, dist);
    if (rc == DEIT_OK || rc == DEIT_ENONFINITE)
        return 0;
    fprintf(stderr, "deit-bench: the forward pass failed: %s%s\n", deit_status_name(rc),
            rc == DEIT_ETOOBIG && ex ? " (one image's explanation needs more memory than the explain limit)" : "");
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: deit-bench [--model MODEL] [--batch B] [--threads T] [--iters N] [--warmup W]\n"
               "                  [--min-seconds S] [--max-model-mb N] [--explain]\n"
               "                  [--precision f32|bf16|int8] [--json]\n"
               "MODEL: a directory, a .safetensors file, hf://ORG/NAME[@REV] (or hf-hub:ORG/NAME,\n"
               "ORG/NAME, a timm name such as deit_base_patch16_224), or\n"
               "builtin:fashion-deit (default: $DEIT_MODEL, else the built-in model). A hub model is\n"
               "fetched into the Hugging Face cache first; load_ms counts only the load from disk.\n"
               "--precision (default $DEIT_PRECISION, else f32): the matrix products' precision.\n"
               "Numbers are whole: --batch 1..1024, --threads 1..64, --iters 1..100000,\n"
               "--warmup 0..100000, --min-seconds 0..3600. A failed forward pass exits 2.\n"
               "Times deit_forward on batches of B preprocessed inputs (deterministic pseudo-random\n"
               "pixels) and reports the median and p90 batch latency, ms/image and images/s.\n"
               "--explain: every image also gets its rollout maps and token cosine\n"
               "(deit_forward_explain), to measure what ?explain=1 costs.\n");
}

int main(int argc, char **argv)
{
    /* unset: the built-in model; set but empty is refused below, as the server refuses it */
    const char *model_path = getenv("DEIT_MODEL");
    if (!model_path)
        model_path = HUB_DEFAULT_MODEL;
    long max_model_mb = 4096;
    int batch = 1, threads = 2, iters = 30, warmup = 3, as_json = 0, explain = 0;
    double min_seconds = 2.0;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'}, {"iters", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'}, {"min-seconds", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"max-model-mb", required_argument, NULL, 'M'}, {"explain", no_argument, NULL, 'e'},
        {"precision", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    const char *precision = getenv("DEIT_PRECISION");
    int ch;
    while ((ch = getopt_long(argc, argv, "m:b:t:n:w:s:jhM:eP:", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': model_path = optarg; break;
        case 'b': if (cli_int_arg("deit-bench", "--batch", optarg, 1, 1024, &batch)) return 2; break;
        case 't': if (cli_int_arg("deit-bench", "--threads", optarg, 1, 64, &threads)) return 2; break;
        case 'n': if (cli_int_arg("deit-bench", "--iters", optarg, 1, MAX_RUNS, &iters)) return 2; break;
        case 'w': if (cli_int_arg("deit-bench", "--warmup", optarg, 0, MAX_RUNS, &warmup)) return 2; break;
        case 's': if (cli_double_arg("deit-bench", "--min-seconds", optarg, 0, 3600, &min_seconds)) return 2; break;
        case 'j': as_json = 1; break;
        case 'P': precision = optarg; break;
        case 'M': if (cli_long_arg("deit-bench", "--max-model-mb", optarg, 1, 1L << 20, &max_model_mb)) return 2; break;
        case 'e': explain = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }

    deit_params p = deit_default_params();
    p.threads = threads;
    p.max_batch = batch;
    if (!*model_path) {
        fprintf(stderr, "deit-bench: no model: --model or DEIT_MODEL is empty (name a model, or leave both "
                        "unset for the built-in one)\n");
        return 2;
    }
    if (precision && deit_precision_parse(precision, &p.precision) != 0) {
        fprintf(stderr, "deit-bench: --precision must be f32, bf16 or int8\n");
        return 2;
    }

    deit_set_blas_threads(1); /* the engine's own team does the threading */
    model_source src;
    if (cli_model_resolve("deit-bench", model_path, max_model_mb, &src) != 0)
        return 2;
    char err[1024];
    double t0 = now_ms();
    deit_model *m;
    if (deit_model_open_with(src.path, &p, &m, err, sizeof err) != DEIT_OK) {
        fprintf(stderr, "deit-bench: cannot load model: %s\n", err);
        return 2;
    }
    double load_ms = now_ms() - t0;
    int K = deit_model_classes(m);
    const char *name = src.name[0] ? src.name : deit_model_name(m);
    size_t nin = deit_input_floats(m);
    deit_state *s = deit_state_new_with(m, &p);
    float *px = malloc((size_t)batch * nin * sizeof(float));
    float *logits = malloc(2 * (size_t)batch * K * sizeof(float));
    if (!s || !px || !logits) {
        fprintf(stderr, "deit-bench: out of memory\n");
        return 2;
    }
    unsigned r = 12345;
    for (size_t i = 0; i < (size_t)batch * nin; i++) {
        r = r * 1103515245u + 12345u;
        px[i] = (float)((r >> 8) & 0xffff) / 65535.0f * 4.0f - 2.0f;
    }
    float *dist = logits + (size_t)batch * K;
    /* --explain: maps for every image of the batch (the explained pass allocates its capture once) */
    int gh, gw;
    deit_grid(m, &gh, &gw);
    deit_explain *ex = explain ? calloc((size_t)batch, sizeof *ex) : NULL;
    float *maps = explain ? malloc(2 * (size_t)batch * gh * gw * sizeof(float)) : NULL;
    if (explain && (!ex || !maps)) {
        fprintf(stderr, "deit-bench: out of memory\n");
        return 2;
    }
    for (int i = 0; explain && i < batch; i++) {
        ex[i].class_map = maps + 2 * (size_t)i * gh * gw;
        ex[i].distill_map = ex[i].class_map + (size_t)gh * gw;
    }
    for (int i = 0; i < warmup; i++)
        if (run_pass(m, s, px, batch, logits, dist, ex))
            return 2;

    /* at least `iters` timed runs and at least min_seconds of them */
    size_t cap = 1024, n = 0;
    double *ms = malloc(cap * sizeof(double)), total = 0;
    while (ms && (n < (size_t)iters || total < min_seconds * 1e3) && n < MAX_RUNS) {
        double a = now_ms();
        if (run_pass(m, s, px, batch, logits, dist, ex))
            return 2;
        double d = now_ms() - a;
        if (n == cap) {
            double *grown = realloc(ms, (cap *= 2) * sizeof(double));
            if (!grown)
                break;
            ms = grown;
        }
        ms[n++] = d;
        total += d;
    }
    if (!ms || n == 0) {
        fprintf(stderr, "deit-bench: out of memory\n");
        return 2;
    }
    qsort(ms, n, sizeof(double), cmp_double);
    double med = ms[n / 2], p90 = ms[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
    if (as_json) {
        /* jansson, not printf: the model name is a path or hub id and may hold any character; JSON
         * strings are UTF-8 only, so a name in another encoding gets U+FFFD for each bad byte */
        char *uname = api_utf8_dup(name);
        json_t *o = !uname ? NULL : json_pack("{s:s, s:s, s:i, s:i, s:b, s:i, s:f, s:f, s:f, s:f, s:f}", "model", uname,
                              "precision", deit_precision_name(p.precision), "batch", batch, "threads", threads,
                              "explain", explain, "runs", (int)n, "load_ms", load_ms, "batch_ms_median", med,
                              "batch_ms_p90", p90, "ms_per_image", med / batch, "images_per_s", batch * 1e3 / med);
        char *js = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
        free(uname);
        json_decref(o);
        if (!js) {
            fprintf(stderr, "deit-bench: out of memory\n");
            return 2;
        }
        puts(js);
        free(js);
    }
    else
        printf("model %s  precision %s  batch %d  threads %d%s  runs %zu  load %.1f ms\n"
               "batch latency median %.3f ms  p90 %.3f ms  |  %.3f ms/image  %.2f images/s\n",
               name, deit_precision_name(p.precision), batch, threads, explain ? "  explain" : "", n,
               load_ms, med, p90, med / batch, batch * 1e3 / med);
    free(ms);
    free(ex);
    free(maps);
    free(px);
    free(logits);
    deit_state_free(s);
    deit_model_free(m);
    return cli_stdout_ok("deit-bench") ? 0 : 2;
}
