/* test_explain.c — attention rollout maps and token cosines (deit_forward_explain) against the
 * float64 reference of tools/explain_ref.py (tests/fixtures/explain-refs.safetensors), on every
 * fixture model: distilled and not, 224 and 384, timm and transformers layouts, F32 and BF16
 * weights, DeiT III; the full-size DeiT-tiny too when $DEIT_SHARED_FIXTURES has it. Also: explaining changes
 * no logit, images not asked are not explained, batches and thread teams give the same maps. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture_io.h"
#include "../check.h"
#include "deit.h"
#include "model_internal.h"
#include "safetensors.h"
#include "state.h"

#define MAP_TOL 1e-5
#define COS_TOL 1e-5

static const char *const MODELS[] = {
    "timm-deit-reduced", "timm-deit-reduced-bf16", "timm-deit-nodist-reduced",
    "timm-deit-reduced-384", "hf-deit-reduced", "timm-deit-tiny-distilled",
};

static double ref_scalar(const st_file *refs, const char *key)
{
    const st_tensor *t = st_find(refs, key);
    double v = NAN;
    if (t && t->numel == 1)
        st_to_f64(t, &v);
    return v;
}

static int n_maps_checked;
static double worst_map, worst_cos; /* printed, for the record of how close the engine is */

static void run_model(const char *models_dir, const char *name, const char *images_dir, const st_file *refs)
{
    char path[1024], err[512], key[512];
    snprintf(path, sizeof path, "%s/%s", models_dir, name);
    deit_model *m = NULL;
    int rc = deit_model_open(path, &m, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
    if (rc != DEIT_OK)
        return;
    const deit_config *c = deit_model_config(m);
    int gh, gw, K = c->n_classes;
    deit_grid(m, &gh, &gw);
    CHECK_INT_EQ(gh * gw + c->n_prefix, c->n_tokens);
    int G = gh * gw;

    /* learned_token_cosine: a property of the weights */
    snprintf(key, sizeof key, "%s/learned_token_cosine", name);
    double want_ltc = ref_scalar(refs, key), ltc = deit_learned_token_cosine(m);
    if (c->distilled)
        CHECK_MSG(fabs(ltc - want_ltc) <= COS_TOL, "%s: learned_token_cosine %.9f vs %.9f", name, ltc, want_ltc);
    else
        CHECK_MSG(isnan(ltc) && isnan(want_ltc), "%s: one-head model has no learned_token_cosine", name);

    size_t nin = deit_input_floats(m);
    deit_state *s1 = new_state(m, 1, 1), *s3 = new_state(m, 3, 2);
    CHECK(s1 && s3);
    float *px = malloc(3 * nin * sizeof(float));
    float *cls = malloc(3 * (size_t)K * sizeof(float)), *dist = malloc(3 * (size_t)K * sizeof(float));
    float *cls0 = malloc((size_t)K * sizeof(float)), *dist0 = malloc((size_t)K * sizeof(float));
    float *maps = malloc(6 * (size_t)G * sizeof(float)), *maps3 = malloc(6 * (size_t)G * sizeof(float));
    DIR *d = opendir(images_dir);
    struct dirent *e;
    /* the full-size model (12 blocks, 1000 classes) runs three passes per image under ASan: a few
     * images show the same as sixteen, the reduced models cover every image */
    int images = 0, max_images = c->depth > 4 ? 4 : 1000;
    while (s1 && s3 && d && images < max_images && (e = readdir(d))) {
        snprintf(key, sizeof key, "%s/%s/rollout_class", name, e->d_name);
        const st_tensor *rcls = st_find(refs, key);
        if (!rcls)
            continue;
        snprintf(path, sizeof path, "%s/%s", images_dir, e->d_name);
        size_t len = 0;
        unsigned char *bytes = slurp(path, &len);
        rc = bytes ? deit_preprocess(m, bytes, len, 40000000, px, err, sizeof err) : DEIT_EIO;
        free(bytes);
        CHECK_MSG(rc == DEIT_OK, "%s: %s", path, err);
        if (rc != DEIT_OK)
            continue;

        /* plain pass first: the logits an explaining pass must reproduce bit for bit */
        CHECK_INT_EQ(deit_forward(m, s1, px, 1, cls0, dist0), DEIT_OK);
        for (int i = 0; i < 2 * G; i++)
            maps[i] = -1.0f; /* sentinel: a one-head model must leave distill_map untouched */
        deit_explain ex = {maps, maps + G, 0.0};
        CHECK_INT_EQ(deit_forward_explain(m, s1, px, 1, cls, dist, &ex), DEIT_OK);
        CHECK_MSG(memcmp(cls, cls0, (size_t)K * sizeof(float)) == 0 &&
                  memcmp(dist, dist0, (size_t)K * sizeof(float)) == 0,
                  "%s/%s: explaining changed the logits", name, e->d_name);

        double md = max_diff_f64(rcls, maps, G), sum = 0;
        worst_map = md > worst_map ? md : worst_map;
        CHECK_MSG(md <= MAP_TOL, "%s: max diff %.3g", key, md);
        for (int i = 0; i < G; i++)
            sum += maps[i];
        CHECK_NEAR(sum, 1.0, 1e-5);
        snprintf(key, sizeof key, "%s/%s/rollout_distill", name, e->d_name);
        const st_tensor *rdist = st_find(refs, key);
        snprintf(key, sizeof key, "%s/%s/token_cosine", name, e->d_name);
        double want_cos = ref_scalar(refs, key);
        if (c->distilled) {
            md = max_diff_f64(rdist, maps + G, G);
            worst_map = md > worst_map ? md : worst_map;
            double dc = fabs(ex.token_cosine - want_cos);
            worst_cos = dc > worst_cos ? dc : worst_cos;
            CHECK_MSG(md <= MAP_TOL, "%s/%s/rollout_distill: max diff %.3g", name, e->d_name, md);
            CHECK_MSG(fabs(ex.token_cosine - want_cos) <= COS_TOL, "%s/%s: token_cosine %.9f vs %.9f",
                      name, e->d_name, ex.token_cosine, want_cos);
        } else {
            CHECK_MSG(!rdist && isnan(want_cos), "%s: reference has distillation values", name);
            CHECK_MSG(isnan(ex.token_cosine), "%s: one-head token_cosine must be NaN", name);
            int untouched = 1;
            for (int i = 0; i < G; i++)
                untouched &= maps[G + i] == -1.0f;
            CHECK_MSG(untouched, "%s: one-head model wrote a distill map", name);
        }

        /* the same image three times in a batch on a two-thread team (rows split inside images),
         * only images 0 and 2 asked: same maps bit for bit, image 1 left alone */
        memcpy(px + nin, px, nin * sizeof(float));
        memcpy(px + 2 * nin, px, nin * sizeof(float));
        for (int i = 0; i < 6 * G; i++)
            maps3[i] = -2.0f;
        deit_explain ex3[3] = {{maps3, maps3 + G, 0}, {NULL, maps3 + 2 * G, 7.0}, {maps3 + 4 * G, maps3 + 5 * G, 0}};
        CHECK_INT_EQ(deit_forward_explain(m, s3, px, 3, cls, dist, ex3), DEIT_OK);
        int same = memcmp(maps3, maps, (size_t)G * sizeof(float)) == 0 &&
                   memcmp(maps3 + 4 * G, maps, (size_t)G * sizeof(float)) == 0;
        if (c->distilled)
            same &= memcmp(maps3 + G, maps + G, (size_t)G * sizeof(float)) == 0 &&
                    memcmp(maps3 + 5 * G, maps + G, (size_t)G * sizeof(float)) == 0 &&
                    ex3[0].token_cosine == ex.token_cosine && ex3[2].token_cosine == ex.token_cosine;
        CHECK_MSG(same, "%s/%s: batch of 3 on 2 threads gives other maps", name, e->d_name);
        CHECK_MSG(s3->attn == NULL, "%s/%s: the attention capture outlived its pass", name, e->d_name);
        CHECK_MSG(maps3[2 * G] == -2.0f && maps3[3 * G - 1] == -2.0f && ex3[1].token_cosine == 7.0,
                  "%s/%s: an image not asked was explained", name, e->d_name);
        for (int b = 0; b < 3; b++)
            CHECK_MSG(memcmp(cls + (size_t)b * K, cls0, (size_t)K * sizeof(float)) == 0,
                      "%s/%s: batch logits differ", name, e->d_name);

        /* a budget of one explained image per pass: the batch runs as [0] and [1, 2], same answers;
         * under one image's need: refused, nothing written */
        s3->explain_budget = deit_explain_bytes(m);
        s3->attn_peak = 0; /* the unsplit pass above kept two images' */
        CHECK(deit_explain_bytes(m) == sizeof(float) * (size_t)c->depth * c->n_tokens * c->n_tokens);
        for (int i = 0; i < 6 * G; i++)
            maps3[i] = -2.0f;
        memset(cls, 0, 3 * (size_t)K * sizeof(float));
        deit_explain ex4[3] = {{maps3, maps3 + G, 0}, {NULL, maps3 + 2 * G, 7.0}, {maps3 + 4 * G, maps3 + 5 * G, 0}};
        CHECK_INT_EQ(deit_forward_explain(m, s3, px, 3, cls, dist, ex4), DEIT_OK);
        same = memcmp(maps3, maps, (size_t)G * sizeof(float)) == 0 &&
               memcmp(maps3 + 4 * G, maps, (size_t)G * sizeof(float)) == 0 &&
               memcmp(&ex4[2].token_cosine, &ex3[2].token_cosine, sizeof(double)) == 0; /* NaN: one head */
        for (int b = 0; b < 3; b++)
            same &= memcmp(cls + (size_t)b * K, cls0, (size_t)K * sizeof(float)) == 0 &&
                    memcmp(dist + (size_t)b * K, dist0, (size_t)K * sizeof(float)) == 0;
        CHECK_MSG(same && maps3[2 * G] == -2.0f && ex4[1].token_cosine == 7.0,
                  "%s/%s: a batch split by the explain budget gives other answers", name, e->d_name);
        CHECK_MSG(s3->attn_peak == deit_explain_bytes(m), "%s: a pass kept %zu bytes of attention, budget %zu",
                  name, s3->attn_peak, deit_explain_bytes(m));
        if (images == 0) {
            /* the trace stays image 0's when the batch is split: images 1 and 2 made different */
            for (size_t i = nin; i < 3 * nin; i++)
                px[i] = -px[i];
            deit_state_trace(s1, 1);
            deit_state_trace(s3, 1);
            CHECK_INT_EQ(deit_forward(m, s1, px, 1, cls0, dist0), DEIT_OK);
            CHECK_INT_EQ(deit_forward_explain(m, s3, px, 3, cls, dist, ex4), DEIT_OK);
            int rows1 = 0, cols1 = 0, rows3 = 0, cols3 = 0;
            const float *t1 = deit_state_trace_get(s1, "final_norm", &rows1, &cols1);
            const float *t3 = deit_state_trace_get(s3, "final_norm", &rows3, &cols3);
            CHECK_MSG(t1 && t3 && rows1 == rows3 && cols1 == cols3 &&
                          memcmp(t1, t3, (size_t)rows1 * cols1 * sizeof(float)) == 0,
                      "%s: a split batch's trace is not image 0's", name);
            deit_state_trace(s1, 0);
            deit_state_trace(s3, 0);
            for (size_t i = nin; i < 3 * nin; i++)
                px[i] = -px[i];
        }
        s3->explain_budget = deit_explain_bytes(m) - 1;
        maps3[0] = -3.0f;
        CHECK_INT_EQ(deit_forward_explain(m, s3, px, 3, cls, dist, ex4), DEIT_ETOOBIG);
        CHECK(maps3[0] == -3.0f && s3->attn == NULL);
        s3->explain_budget = DEIT_MAX_EXPLAIN_PASS_BYTES;
        images++;
        n_maps_checked++;
    }
    if (d)
        closedir(d);
    CHECK_MSG(images > 0, "%s: no image had reference maps", name);
    printf("%s: %d images, learned_token_cosine %.6f\n", name, images, ltc);
    free(px);
    free(cls);
    free(dist);
    free(cls0);
    free(dist0);
    free(maps);
    free(maps3);
    deit_state_free(s1);
    deit_state_free(s3);
    deit_model_free(m);
}

int main(void)
{
    char err[512], path[2100];
    st_file *refs = NULL;
    int rc = st_open("tests/fixtures/explain-refs.safetensors", &refs, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s", err);
    if (rc != DEIT_OK)
        return check_summary("test_explain");
    const char *shared = shared_fixtures();
    for (size_t i = 0; i < sizeof MODELS / sizeof *MODELS; i++) {
        snprintf(path, sizeof path, "tests/fixtures/models/%s", MODELS[i]);
        if (dir_exists(path)) {
            run_model("tests/fixtures/models", MODELS[i], "tests/fixtures/images", refs);
            continue;
        }
        char models[1024], images[1024];
        snprintf(models, sizeof models, "%s/models", shared);
        snprintf(images, sizeof images, "%s/images", shared);
        snprintf(path, sizeof path, "%s/%s", models, MODELS[i]);
        if (dir_exists(path))
            run_model(models, MODELS[i], images, refs);
        else
            printf("test_explain: %s not found (set DEIT_SHARED_FIXTURES), skipped\n", MODELS[i]);
    }
    /* DeiT III (layer scale folded at load, no position for the class token): its rollout
     * references are with its logits, in refs-deit3.safetensors (tools/make_random_deit3.py) */
    st_file *d3 = NULL;
    rc = st_open("tests/fixtures/refs-deit3.safetensors", &d3, err, sizeof err);
    CHECK_MSG(rc == DEIT_OK, "%s", err);
    if (rc == DEIT_OK)
        run_model("tests/fixtures/models", "timm-deit3-reduced", "tests/fixtures/images", d3);
    st_close(d3);
    CHECK_MSG(n_maps_checked >= 16 * 5 + 3, "only %d images checked", n_maps_checked);
    printf("test_explain: %d model/image pairs, worst map difference %.3g, worst token_cosine difference %.3g\n",
           n_maps_checked, worst_map, worst_cos);

    /* Other precisions (bf16, int8), once built: the capture must run on their forward path too.
     * Their maps stay close to the f32 ones (the probabilities differ by the precision's rounding)
     * and sum to 1; a path that skipped the capture would give all-zero maps. */
    for (int prec = DEIT_PRECISION_BF16; prec <= DEIT_PRECISION_INT8; prec++) {
        deit_params pp = deit_default_params();
        pp.precision = (deit_precision)prec;
        deit_model *mp = NULL, *mf = NULL;
        int rc_p = deit_model_open_with("tests/fixtures/models/timm-deit-reduced", &pp, &mp, err, sizeof err);
        if (rc_p == DEIT_EUNSUPPORTED) {
            printf("test_explain: precision %s not built: skipped\n", deit_precision_name(pp.precision));
            continue;
        }
        CHECK_MSG(rc_p == DEIT_OK, "%s: %s", deit_precision_name(pp.precision), err);
        if (rc_p != DEIT_OK || deit_model_open("tests/fixtures/models/timm-deit-reduced", &mf, err, sizeof err))
            continue;
        size_t len = 0;
        unsigned char *bytes = slurp("tests/fixtures/images/chelsea.png", &len);
        float *px = malloc(deit_input_floats(mf) * sizeof(float)), cls[10], dist[10], maps[4][196];
        CHECK(bytes && px && deit_preprocess(mf, bytes, len, 40000000, px, err, sizeof err) == DEIT_OK);
        deit_state *sp = new_state(mp, 1, 1), *sf = new_state(mf, 1, 1);
        deit_explain ep = {maps[0], maps[1], 0}, ef = {maps[2], maps[3], 0};
        CHECK(sp && sf && deit_forward_explain(mp, sp, px, 1, cls, dist, &ep) == DEIT_OK &&
              deit_forward_explain(mf, sf, px, 1, cls, dist, &ef) == DEIT_OK);
        double sum = 0, md = 0;
        for (int i = 0; i < 196; i++) {
            sum += maps[0][i];
            md = fmax(md, fmax(fabs(maps[0][i] - maps[2][i]), fabs(maps[1][i] - maps[3][i])));
        }
        CHECK_MSG(fabs(sum - 1) < 1e-4 && md < 2e-3, "%s: map sum %.6f, max diff from f32 %.3g",
                  deit_precision_name(pp.precision), sum, md);
        CHECK_NEAR(ep.token_cosine, ef.token_cosine, 2e-2);
        deit_state_free(sp);
        deit_state_free(sf);
        free(px);
        free(bytes);
        deit_model_free(mp);
        deit_model_free(mf);
    }

    /* bad calls are refused, nothing computed */
    deit_model *m = NULL;
    if (deit_model_open("tests/fixtures/models/timm-deit-reduced", &m, err, sizeof err) == DEIT_OK) {
        deit_state *s = new_state(m, 1, 1);
        float px[3 * 224 * 224] = {0}, cls[10];
        float map[196];
        deit_explain ex = {map, NULL, 0};
        CHECK_INT_EQ(deit_forward_explain(m, s, px, 2, cls, NULL, &ex), DEIT_EINVAL);
        CHECK_INT_EQ(deit_forward_explain(m, NULL, px, 1, cls, NULL, &ex), DEIT_EINVAL);
        /* distill_map NULL on a distilled model: class map and cosine only */
        CHECK_INT_EQ(deit_forward_explain(m, s, px, 1, cls, NULL, &ex), DEIT_OK);
        CHECK(isfinite(ex.token_cosine) && fabs(ex.token_cosine) <= 1.0 + 1e-12);
        double sum = 0;
        for (int i = 0; i < 196; i++)
            sum += map[i];
        CHECK_NEAR(sum, 1.0, 1e-5);
        deit_state_free(s);
        deit_model_free(m);
    }
    st_close(refs);
    return check_summary("test_explain");
}
