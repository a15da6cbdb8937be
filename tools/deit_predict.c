/* deit_predict.c — offline CLI: classify image files with a DeiT checkpoint, one JSON line each. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deit.h"
#include "hub.h"
#include "cli_args.h"
#include "cli_model.h"
#include "prediction.h"
#include "explanation.h"
#include "regular_file.h"
#include "text.h"

/* Image files larger than this are refused before reading: 8 bytes for each pixel --max-pixels allows
 * (16-bit RGBA uncompressed, the largest a decoded format spends) and 1 MiB of headers and metadata,
 * but never under 64 MiB. A fixed 64 MiB refused a 25 Mpx PPM that --max-pixels allowed. */
static size_t max_image_file_bytes(long long max_pixels)
{
    unsigned long long b = 8ull * (unsigned long long)max_pixels + (1ull << 20);
    if (b < (64ull << 20))
        b = 64ull << 20;
    return b > SIZE_MAX ? SIZE_MAX : (size_t)b;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: deit-predict [--model MODEL] [options] IMAGE...\n"
            "  --model MODEL       model directory (config.json + model.safetensors), .safetensors file,\n"
            "                      hf://ORG/NAME[@REVISION] (or hf-hub:ORG/NAME, ORG/NAME, a timm name\n"
            "                      such as deit_base_patch16_224) from the Hugging Face Hub cache,\n"
            "                      or builtin:fashion-deit (default: $DEIT_MODEL, else the built-in model)\n"
            "  --max-model-mb N    refuse hub models whose files add up to more (default 4096)\n"
            "  --top-k K           predictions per head (default 5)\n"
            "  --logits            also print class_logits and distill_logits (all classes)\n"
            "  --exif-transpose    turn each image by its EXIF Orientation first (Pillow's\n"
            "                      ImageOps.exif_transpose; timm does not)\n"
            "  --explain           also print \"explain\": attention-rollout maps and token_cosine\n"
            "  --threads N         threads sharing each forward pass (default 2)\n"
            "  --precision P       f32 (default), bf16 or int8 matrix products ($DEIT_PRECISION)\n"
            "  --max-pixels N      refuse images with more pixels (default 40000000)\n"
            "Prints one JSON object per image per line; a bad image prints {\"image\", \"error\"}\n"
            "and makes the exit status 1; a model that cannot be fetched or loaded, or output\n"
            "that cannot be written (a full disk), exits 2.\n"
            "Hub downloads honour HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN, HF_HUB_OFFLINE,\n"
            "HF_HUB_ETAG_TIMEOUT and HF_HUB_DOWNLOAD_TIMEOUT, like huggingface_hub.\n");
}


static void print_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

int main(int argc, char **argv)
{
    /* unset: the built-in model; set but empty is refused below, as the server refuses it */
    const char *model_path = getenv("DEIT_MODEL");
    if (!model_path)
        model_path = HUB_DEFAULT_MODEL;
    long max_model_mb = 4096;
    int top_k = 5, with_logits = 0, threads = 2, explain = 0, exif_transpose = 0;
    long long max_pixels = 40000000;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},   {"top-k", required_argument, NULL, 'k'},
        {"logits", no_argument, NULL, 'l'},        {"exif-transpose", no_argument, NULL, 'X'},        {"threads", required_argument, NULL, 't'},
        {"max-pixels", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"max-model-mb", required_argument, NULL, 'M'}, {"explain", no_argument, NULL, 'e'},
        {"precision", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    const char *precision = getenv("DEIT_PRECISION");
    int ch;
    while ((ch = getopt_long(argc, argv, "m:k:lt:p:hM:eXP:", opts, NULL)) != -1) {
        long v = 0;
        switch (ch) {
        case 'm': model_path = optarg; break;
        case 'k':
            if (cli_int_arg("deit-predict", "--top-k", optarg, 1, API_MAX_TOP_K, &top_k)) return 2;
            break;
        case 'l': with_logits = 1; break;
        case 'X': exif_transpose = 1; break;
        case 'e': explain = 1; break;
        case 't':
            if (cli_int_arg("deit-predict", "--threads", optarg, 1, 64, &threads)) return 2;
            break;
        case 'p':
            /* the server's --max-pixels bounds (server_config.c) */
            if (cli_long_arg("deit-predict", "--max-pixels", optarg, 1, 1000000000L, &v)) return 2;
            max_pixels = v;
            break;
        case 'P': precision = optarg; break;
        case 'M':
            if (cli_long_arg("deit-predict", "--max-model-mb", optarg, 1, 1L << 20, &max_model_mb)) return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    deit_params params = deit_default_params();
    params.threads = threads;
    if (!*model_path) {
        fprintf(stderr, "deit-predict: no model: --model or DEIT_MODEL is empty (name a model, or leave both "
                        "unset for the built-in one)\n");
        return 2;
    }
    if (precision && deit_precision_parse(precision, &params.precision) != 0) {
        fprintf(stderr, "deit-predict: --precision must be f32, bf16 or int8\n");
        return 2;
    }

    deit_set_blas_threads(1); /* the state's own team does the threading */
    model_source src;
    if (cli_model_resolve("deit-predict", model_path, max_model_mb, &src) != 0)
        return 2;
    char err[1024];
    deit_model *m = NULL;
    if (deit_model_open_with(src.path, &params, &m, err, sizeof err) != DEIT_OK) {
        fprintf(stderr, "deit-predict: cannot load model: %s\n", err);
        return 2;
    }
    api_model am;
    api_model_of(m, deit_model_name(m), NULL, &am);
    char refusal[160];
    if (explain && api_explain_refused(&am, refusal, sizeof refusal)) {
        fprintf(stderr, "deit-predict: --explain is not available for this model: %s\n", refusal);
        deit_model_free(m);
        return 2;
    }
    int K = deit_model_classes(m);
    deit_state *s = deit_state_new_with(m, &params);
    float *px = malloc(deit_input_floats(m) * sizeof(float));
    float *logits = malloc(2 * (size_t)K * sizeof(float));
    float *rec = explain ? malloc(api_explain_floats(m) * sizeof(float)) : NULL;
    int grid_h, grid_w;
    deit_grid(m, &grid_h, &grid_w);
    if (!s || !px || !logits || (explain && !rec)) {
        fprintf(stderr, "deit-predict: out of memory\n");
        return 2;
    }

    int failures = 0;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        /* the "image" field: the path as given when it is UTF-8, else with U+FFFD for each byte that
         * starts no character. JSON strings are UTF-8 only (jansson builds no other), and a file named
         * in another encoding must still get its line, in argument order: its good line lost the
         * "image" key and its error line was never printed. */
        char *image = api_utf8_dup(path);
        char *buf = NULL;
        size_t len = 0;
        /* a regular file only: a FIFO named on the command line must not hang the run */
        int rc = read_regular_file(path, max_image_file_bytes(max_pixels), &buf, &len, err, sizeof err);
        if (rc == DEIT_OK)
            rc = deit_preprocess_with(m, (const uint8_t *)buf, len, (size_t)max_pixels, exif_transpose, px, err, sizeof err);
        free(buf);
        if (rc == DEIT_OK) {
            rc = api_forward_explained(m, s, px, 1, logits, logits + K, explain ? &rec : NULL);
            if (rc == DEIT_ENONFINITE)
                snprintf(err, sizeof err, "the forward pass produced non-finite logits (NaN or infinity)");
            else if (rc != DEIT_OK)
                snprintf(err, sizeof err, "the forward pass failed (%s)", deit_status_name(rc));
        }
        json_t *o = NULL;
        const char *why = "out of memory building the prediction";
        if (rc == DEIT_OK) {
            json_t *p = api_prediction_json(&am, logits, logits + K, top_k, with_logits);
            o = p ? json_object() : NULL;
            if (o) {
                json_object_set_new(o, "image", json_string(image ? image : "?"));
                json_object_update(o, p);
            }
            json_decref(p);
            if (o && explain && json_object_set_new(o, "explain", api_explain_json(rec, grid_h, grid_w,
                                                                                   am.distilled)) != 0) {
                json_decref(o);
                o = NULL;
            }
        }
        if (rc != DEIT_OK || !o) {
            failures++;
            json_decref(o);
            o = json_pack("{s:s, s:s}", "image", image ? image : "?", "error", rc == DEIT_OK ? why : err);
        }
        print_json_line(o);
        free(image);
    }
    int written = cli_stdout_ok("deit-predict");
    free(px);
    free(logits);
    free(rec);
    deit_state_free(s);
    deit_model_free(m);
    return !written ? 2 : failures ? 1 : 0;
}
