/* test_parity.c — golden test: every fixture model × image through the real pipeline (decode,
 * resize, crop, normalise, forward) against the float64 timm/transformers references.
 *
 * Small models come from tests/fixtures (always present); the full-size DeiT-tiny and the dropped
 * reference keys (pixel_values among them) are read from $DEIT_SHARED_FIXTURES (default
 * ../shared/fixtures) when present. The DeiT III fixture (layer scale, no_embed_class) has its
 * logits in tests/fixtures/refs-deit3.safetensors (tools/make_random_deit3.py), computed from the
 * crops of refs-small.safetensors, which check its input as for the other timm models. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fixture_io.h"
#include "../check.h"
#include "deit.h"
#include "state.h"
#include "model_internal.h"
#include "preprocess.h"
#include "safetensors.h"

typedef struct {
    const char *model;         /* directory name under models/ */
    const char *crop_key;      /* refs crop/<crop_key>/<image>; NULL: input checked against
                                  <model>/<image>/pixel_values instead (transformers) */
    double logit_tol;
    int full_size;             /* lives only in the shared fixtures */
    const char *refs_of;       /* the model whose references apply (NULL: this one), for a model
                                  derived from a fixture at run time */
} model_case;

static const model_case CASES[] = {
    {"timm-deit-reduced", "timm224_crop0.9_bicubic_center", 1e-4, 0, NULL},
    {"timm-deit-reduced-f16", "timm224_crop0.9_bicubic_center", 1e-4, 0, NULL},
    {"timm-deit-reduced-bf16", "timm224_crop0.9_bicubic_center", 1e-4, 0, NULL},
    {"timm-deit-nodist-reduced", "timm224_crop0.9_bicubic_center", 1e-4, 0, NULL},
    {"timm-deit-reduced-384", "timm384_crop1.0_bicubic_center", 1e-4, 0, NULL},
    {"hf-deit-reduced", NULL, 1e-4, 0, NULL},
    {"timm-deit-tiny-distilled", "timm224_crop0.9_bicubic_center", 5e-4, 1, NULL},
};

/* Top-k indices of a float64 reference tensor, in the same order deit_topk uses. */
static void ref_topk(const st_tensor *t, int k, int *idx)
{
    float *f = malloc(t->numel * sizeof(float));
    double *d = malloc(t->numel * sizeof(double));
    st_to_f64(t, d);
    for (size_t i = 0; i < t->numel; i++)
        f[i] = (float)d[i];
    deit_topk(f, (int)t->numel, k, idx);
    free(f);
    free(d);
}

static int n_images_checked;
/* Where crop/<transform>/<image> is looked up when the case's own refs lack it (refs-deit3 holds
 * logits only; its inputs are refs-small's crops). */
static const st_file *crops_from;

/* An image's logits alone and inside a batch / split across threads. The own kernels give the
 * same bits (every row's arithmetic is the same wherever it runs). OpenBLAS does not promise that:
 * which micro-kernel and accumulator a row gets depends on its place among the call's rows
 * (measured on its Haswell, SkylakeX, Zen and Prescott kernels), so on that backend the copies
 * must agree to float rounding (1e-5 relative to the largest logit) instead. */
static int same_logits(const deit_model *m, const float *a, const float *b, int n)
{
    if (gemm_isa_packs(m->isa))
        return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
    double big = 0, diff = 0;
    for (int i = 0; i < n; i++) {
        big = fmax(big, fabs(b[i]));
        diff = fmax(diff, fabs((double)a[i] - b[i]));
    }
    return diff <= 1e-5 * fmax(big, 1.0);
}

static void check_trace(const char *model, deit_state *s, const st_file *refs, double tol)
{
    char key[512];
    const char *names[64];
    char blocks[62][16];
    int n = 0;
    names[n++] = "patch_embed";
    for (int i = 0; i < 62; i++) {
        snprintf(blocks[i], sizeof blocks[i], "block%d", i);
        names[n++] = blocks[i];
    }
    names[n++] = "final_norm";
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s/astronaut.png/trace/%s", model, names[i]);
        const st_tensor *t = st_find(refs, key);
        if (!t)
            continue;
        int rows, cols;
        const float *v = deit_state_trace_get(s, names[i], &rows, &cols);
        CHECK_MSG(v && (size_t)rows * cols == t->numel, "%s: trace shape", key);
        if (!v || (size_t)rows * cols != t->numel)
            continue;
        double md = max_diff_f64(t, v, rows * cols);
        CHECK_MSG(md <= tol, "%s: max diff %.3g > %.3g", key, md, tol);
    }
}

/* Runs every image that has a reference for mc->model. refs holds the logits (and crops);
 * shared, if not NULL, is the full shared refs file, the only one with pixel_values. */
static void run_case(const model_case *mc, const char *models_dir, const char *images_dir,
                     const st_file *refs, const st_file *shared)
{
    char path[1024], err[1024], key[512];
    const char *ref = mc->refs_of ? mc->refs_of : mc->model; /* the references' key prefix */
    snprintf(path, sizeof path, "%s/%s", models_dir, mc->model);
    deit_model *m = NULL;
    int rc = deit_model_open(path, &m, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
    if (rc != DEIT_OK)
        return;
    const deit_config *c = deit_model_config(m);
    int K = c->n_classes;
    printf("parity %-26s on %s\n", mc->model, deit_model_isa(m));
    CHECK_MSG((mc->crop_key == NULL) == (c->naming.layout == LAYOUT_TRANSFORMERS),
              "%s: transformers models, and only they, are checked against pixel_values", mc->model);
    deit_state *s = new_state(m, 1, 1);
    /* a two-thread team over a batch of 3 splits its rows inside image 1 (and inside image 0 at
     * batch 1); every row's arithmetic is the same wherever it runs, so results must be identical */
    deit_state *s2 = new_state(m, 3, 2);
    CHECK(s2 && deit_state_threads(s2) == 2);
    size_t nin = deit_input_floats(m);
    float *px3 = malloc(3 * nin * sizeof(float)), *out3 = malloc(6 * (size_t)K * sizeof(float));
    float *px = malloc(deit_input_floats(m) * sizeof(float));
    float *cls = malloc((size_t)K * sizeof(float)), *dist = malloc((size_t)K * sizeof(float));
    float *fused = malloc((size_t)K * sizeof(float));
    DIR *d = opendir(images_dir);
    struct dirent *e;
    int cases = 0, inputs_checked = 0;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(key, sizeof key, "%s/%s/cls_logits", ref, e->d_name);
        const st_tensor *rc_cls = st_find(refs, key);
        if (!rc_cls)
            continue; /* no reference for this pair (the 384 model has three images) */
        snprintf(path, sizeof path, "%s/%s", images_dir, e->d_name);
        size_t len = 0;
        unsigned char *bytes = slurp(path, &len);
        deit_image crop = {0};
        rc = bytes ? preprocess_encoded(&c->pre, bytes, len, 40000000, px, &crop, err, sizeof err)
                   : DEIT_EIO;
        free(bytes);
        CHECK_MSG(rc == DEIT_OK, "%s: preprocess: %s", path, err);
        if (rc != DEIT_OK)
            continue;

        /* The model's input must be exactly what the reference logits were computed from. For
         * timm that is the crop/<transform> fixture (Pillow resize) normalised. For transformers
         * it is pixel_values from the library's default fast processor, which resizes with
         * torchvision's uint8 kernel: about 0.25% of its bytes are one level off the crop
         * fixture, which the slow (Pillow) processor made. So a transformers model's crop is not
         * compared with that fixture here (test_preprocess checks the Pillow resampler still
         * reproduces it); its normalised input is compared with pixel_values, float for float. */
        if (mc->crop_key) {
            snprintf(key, sizeof key, "crop/%s/%s", mc->crop_key, e->d_name);
            const st_tensor *rcrop = st_find(refs, key);
            if (!rcrop && crops_from)
                rcrop = st_find(crops_from, key);
            if (rcrop) {
                size_t n = (size_t)crop.width * crop.height * crop.channels, differ = 0;
                int same_shape = rcrop->numel == n && rcrop->dtype == ST_U8;
                for (size_t i = 0; same_shape && i < n; i++)
                    differ += crop.pixels[i] != rcrop->data[i];
                CHECK_MSG(same_shape && differ == 0, "%s: %zu crop bytes differ", key, differ);
            }
        } else if (shared) {
            snprintf(key, sizeof key, "%s/%s/pixel_values", ref, e->d_name);
            const st_tensor *rpx = st_find(shared, key);
            size_t n = deit_input_floats(m), differ = 0;
            int same_shape = rpx && rpx->numel == n && rpx->dtype == ST_F32;
            CHECK_MSG(same_shape, "%s: missing or not F32[%zu]", key, n);
            float *want = same_shape ? malloc(n * sizeof(float)) : NULL;
            if (want) {
                st_to_f32(rpx, want);
                for (size_t i = 0; i < n; i++)
                    differ += memcmp(&px[i], &want[i], sizeof(float)) != 0;
                CHECK_MSG(differ == 0, "%s: %zu input floats differ", key, differ);
                inputs_checked++;
            }
            free(want);
        }
        image_free(&crop);

        int trace = strcmp(e->d_name, "astronaut.png") == 0;
        deit_state_trace(s, trace);
        CHECK_INT_EQ(deit_forward(m, s, px, 1, cls, dist), DEIT_OK);
        if (trace)
            check_trace(ref, s, refs, mc->logit_tol);
        if (s2) {
            for (int i = 0; i < 3; i++)
                memcpy(px3 + i * nin, px, nin * sizeof(float));
            CHECK_INT_EQ(deit_forward(m, s2, px3, 3, out3, out3 + 3 * K), DEIT_OK);
            int same = 1;
            for (int i = 0; i < 3; i++)
                same &= same_logits(m, out3 + i * K, cls, K) && same_logits(m, out3 + (3 + i) * K, dist, K);
            CHECK_MSG(same, "%s/%s: 2 threads x batch 3 differ from 1 thread x batch 1", mc->model,
                      e->d_name);
            deit_state_trace(s2, trace);
            CHECK_INT_EQ(deit_forward(m, s2, px, 1, out3, out3 + 3 * K), DEIT_OK);
            CHECK_MSG(same_logits(m, out3, cls, K), "%s/%s: 2 threads, batch 1", mc->model, e->d_name);
            if (trace)
                check_trace(ref, s2, refs, mc->logit_tol);
        }

        double md = max_diff_f64(rc_cls, cls, K);
        CHECK_MSG(md <= mc->logit_tol, "%s/%s: cls_logits max diff %.3g", mc->model, e->d_name, md);
        if (c->distilled) {
            snprintf(key, sizeof key, "%s/%s/dist_logits", ref, e->d_name);
            md = max_diff_f64(st_find(refs, key), dist, K);
            CHECK_MSG(md <= mc->logit_tol, "%s/%s: dist_logits max diff %.3g", mc->model, e->d_name, md);
            snprintf(key, sizeof key, "%s/%s/fused_probs", ref, e->d_name);
            const st_tensor *rf = st_find(refs, key);
            deit_fuse(cls, dist, K, 1, NULL, NULL, fused);
            md = max_diff_f64(rf, fused, K);
            CHECK_MSG(md <= 1e-5, "%s/%s: fused_probs max diff %.3g", mc->model, e->d_name, md);
            if (rf) {
                int a[5], b[5], k = K < 5 ? K : 5;
                ref_topk(rf, k, a);
                deit_topk(fused, K, k, b);
                CHECK_MSG(memcmp(a, b, (size_t)k * sizeof(int)) == 0, "%s/%s: fused top-5 order",
                          mc->model, e->d_name);
            }
        } else {
            int a[5], b[5], k = K < 5 ? K : 5;
            ref_topk(rc_cls, k, a);
            deit_topk(cls, K, k, b);
            CHECK_MSG(memcmp(a, b, (size_t)k * sizeof(int)) == 0, "%s/%s: top-5 order", mc->model,
                      e->d_name);
        }
        cases++;
        n_images_checked++;
    }
    if (d)
        closedir(d);
    CHECK_MSG(cases > 0, "%s: no reference images found", mc->model);
    printf("parity %-26s %2d images\n", mc->model, cases);
    if (!mc->crop_key)
        printf("parity %-26s %2d inputs equal to pixel_values%s\n", mc->model, inputs_checked,
               shared ? "" : " (shared refs absent: input NOT checked)");
    free(px);
    free(cls);
    free(dist);
    free(fused);
    free(px3);
    free(out3);
    deit_state_free(s2);
    deit_state_free(s);
    deit_model_free(m);
}

/* Writes dir/name from `len` bytes. */
static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* dir/hf-deit-cls: the hf-deit-reduced fixture as transformers' DeiTForImageClassification saves
 * it. That class has the same DeiTModel (distillation token included) and one 'classifier' on
 * token 0, so with cls_classifier renamed and the distillation head dropped, transformers' answer
 * is exactly the fixture's cls_logits. Only the header is rewritten; the data section stays, the
 * dropped head's bytes a gap no tensor points into. Returns 0 or -1. */
static int make_hf_one_head(const char *dir)
{
    char src[256], out[1024];
    size_t len = 0;
    snprintf(out, sizeof out, "%s/hf-deit-cls", dir);
    unsigned char *b = slurp("tests/fixtures/models/hf-deit-reduced/model.safetensors", &len);
    uint64_t hlen = 0;
    for (int i = 0; b && len >= 8 && i < 8; i++)
        hlen |= (uint64_t)b[i] << (8 * i);
    json_t *h = b && len >= 8 && hlen <= len - 8 ? json_loadb((const char *)b + 8, hlen, 0, NULL) : NULL;
    int rc = h && mkdir(out, 0700) == 0 ? 0 : -1;
    if (rc == 0) {
        json_object_set(h, "classifier.weight", json_object_get(h, "cls_classifier.weight"));
        json_object_set(h, "classifier.bias", json_object_get(h, "cls_classifier.bias"));
        json_object_del(h, "cls_classifier.weight");
        json_object_del(h, "cls_classifier.bias");
        json_object_del(h, "distillation_classifier.weight");
        json_object_del(h, "distillation_classifier.bias");
        char *text = json_dumps(h, JSON_COMPACT);
        size_t tl = text ? strlen(text) : 0, n = 8 + tl + (len - 8 - hlen);
        unsigned char *o = text ? malloc(n) : NULL;
        if (o) {
            for (int i = 0; i < 8; i++)
                o[i] = (unsigned char)((uint64_t)tl >> (8 * i));
            memcpy(o + 8, text, tl);
            memcpy(o + 8 + tl, b + 8 + hlen, len - 8 - hlen);
        }
        rc = o ? write_file(out, "model.safetensors", o, n) : -1;
        free(o);
        free(text);
    }
    json_decref(h);
    free(b);
    for (int i = 0; rc == 0 && i < 2; i++) {
        const char *name = i ? "preprocessor_config.json" : "config.json";
        snprintf(src, sizeof src, "tests/fixtures/models/hf-deit-reduced/%s", name);
        json_t *j = json_load_file(src, 0, NULL);
        if (j && !i)
            json_object_set_new(j, "architectures", json_pack("[s]", "DeiTForImageClassification"));
        char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;
        rc = text ? write_file(out, name, text, strlen(text)) : -1;
        free(text);
        json_decref(j);
    }
    return rc;
}

/* The transformers one-head model: two prefix tokens in the forward pass, one head on token 0,
 * against transformers' answer (the fixture's cls_logits), every image. */
static void test_hf_one_head(const st_file *refs, const st_file *shared)
{
    static const model_case mc = {"hf-deit-cls", NULL, 1e-4, 0, "hf-deit-reduced"};
    char dir[] = "/tmp/test_parity_XXXXXX", path[1024], err[1024];
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT_EQ(make_hf_one_head(dir), 0);
    snprintf(path, sizeof path, "%s/hf-deit-cls", dir);
    deit_model *m = NULL;
    int rc = deit_model_open(path, &m, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
    if (rc == DEIT_OK) {
        const deit_config *c = deit_model_config(m);
        CHECK(deit_model_distilled(m) == 0 && deit_model_second_token(m) == NULL);
        CHECK(c->n_prefix == 2 && c->n_tokens == 198 && m->w.dist_token != NULL);
        CHECK_STR_EQ(deit_model_architecture(m), "DeiTForImageClassification");
        deit_model_free(m);
        run_case(&mc, dir, "tests/fixtures/images", refs, shared);
    }
    static const char *const files[] = {"model.safetensors", "config.json", "preprocessor_config.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/hf-deit-cls/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/hf-deit-cls", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    char err[1024], path[1024];
    st_file *small = NULL, *full = NULL;
    int rc = st_open("tests/fixtures/refs-small.safetensors", &small, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s", err);
    if (rc != DEIT_OK)
        return check_summary("test_parity");

    const char *shared = shared_fixtures();
    snprintf(path, sizeof path, "%s/refs.safetensors", shared);
    char models[1024], images[1024];
    snprintf(models, sizeof models, "%s/models", shared);
    snprintf(images, sizeof images, "%s/images", shared);
    struct stat st;
    if (stat(path, &st) == 0) {
        rc = st_open(path, &full, err, sizeof err);
        CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
    }

    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        if (!CASES[i].full_size)
            run_case(&CASES[i], "tests/fixtures/models", "tests/fixtures/images", small, full);
    test_hf_one_head(small, full);
    /* DeiT III: layer scale folded at load, position rows for the patches only */
    static const model_case deit3 = {"timm-deit3-reduced", "timm224_crop0.9_bicubic_center", 1e-4, 0, NULL};
    st_file *d3 = NULL;
    rc = st_open("tests/fixtures/refs-deit3.safetensors", &d3, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s", err);
    if (rc == DEIT_OK) {
        crops_from = small;
        run_case(&deit3, "tests/fixtures/models", "tests/fixtures/images", d3, full);
        crops_from = NULL;
    }
    st_close(d3);

    if (full && dir_exists(models)) {
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
            if (CASES[i].full_size)
                run_case(&CASES[i], models, images, full, full);
    } else {
        printf("parity: full-size fixtures not found at %s: full-size model NOT checked\n", shared);
    }
    st_close(small);
    st_close(full);
    printf("parity: %d model/image pairs checked\n", n_images_checked);
    return check_summary("test_parity");
}
